//! Name-conflict strategies: which local name a remote actor gets when its own name is already
//! taken in the local graph. Pure bookkeeping, no I/O; the bridge keeps one [`AliasRegistry`].
//!
//! Resolution is deterministic: the same sequence of operations always yields the same names.
//! A remote actor whose name is free keeps it; on a clash, [`AliasStrategy::AutoAlias`] tries
//! `{network}_{actor}`, then `{network}_{actor}_2`, `{network}_{actor}_3`, and so on.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

#[cfg(test)]
mod tests;

/// What to do when a remote actor's name is already taken locally.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum AliasStrategy {
    /// Keep the actor's name if free, else `{network}_{actor}`, else the first free
    /// `{network}_{actor}_N` for N = 2, 3, ...
    #[default]
    AutoAlias,
    /// Use exactly this local name, whether or not the actor's own name is free; fail if it
    /// is taken.
    ManualAlias(String),
    /// Keep the actor's name, or fail with [`AliasError::Conflict`] if it is taken.
    Fail,
}

/// What holds a local name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NameOwner {
    /// A process of the local graph.
    Local,
    /// The proxy for remote actor `actor` of network `network`.
    Remote {
        /// The actor's name on its own network.
        actor: String,
        /// The network that exports the actor.
        network: String,
    },
}

impl fmt::Display for NameOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameOwner::Local => f.write_str("a local process"),
            NameOwner::Remote { actor, network } => write!(f, "remote actor {actor}@{network}"),
        }
    }
}

/// Why a name could not be reserved or a remote actor registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AliasError {
    /// The name cannot be a process name.
    #[error("invalid name {name:?}: {reason}")]
    InvalidName {
        /// The rejected name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The name is already held by something else.
    #[error("name {name:?} is already taken by {taken_by}")]
    Conflict {
        /// The contested name.
        name: String,
        /// What holds it.
        taken_by: NameOwner,
    },
    /// A manual alias was asked for a remote actor that is already registered under another
    /// name; release that name first to rename it.
    #[error("remote actor {actor}@{network} is already registered as {local_name:?}")]
    AlreadyRegistered {
        /// The actor's name on its own network.
        actor: String,
        /// The network that exports the actor.
        network: String,
        /// The name it already has.
        local_name: String,
    },
}

/// One registered remote actor, as listed by [`AliasRegistry::entries`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AliasEntry {
    /// The name of its proxy in the local graph.
    pub local_name: String,
    /// The actor's name on its own network.
    pub actor: String,
    /// The network that exports the actor.
    pub network: String,
}

impl AliasEntry {
    /// Whether the local name differs from the actor's own name.
    pub fn is_aliased(&self) -> bool {
        self.local_name != self.actor
    }
}

/// The names taken in the local graph, and the local name of every registered remote actor.
///
/// ```
/// use reflow_bridge::alias::{AliasError, AliasRegistry, AliasStrategy};
///
/// let mut names = AliasRegistry::new();
/// names.reserve_local("printer")?;
/// // `printer` is taken locally, so beta's printer is aliased; its counter keeps its name.
/// assert_eq!(names.register("printer", "beta", &AliasStrategy::AutoAlias)?, "beta_printer");
/// assert_eq!(names.register("counter", "beta", &AliasStrategy::Fail)?, "counter");
/// // Registering again gives the same name.
/// assert_eq!(names.register("printer", "beta", &AliasStrategy::AutoAlias)?, "beta_printer");
/// let refused = names.register("printer", "gamma", &AliasStrategy::Fail);
/// assert!(matches!(refused, Err(AliasError::Conflict { .. })));
/// # Ok::<(), AliasError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct AliasRegistry {
    names: BTreeMap<String, NameOwner>,
    remotes: HashMap<(String, String), String>,
}

impl AliasRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `name` as a local process. Reserving a local name twice is harmless; a name
    /// held by a remote actor is a [`AliasError::Conflict`].
    pub fn reserve_local(&mut self, name: &str) -> Result<(), AliasError> {
        validate(name)?;
        match self.names.get(name) {
            None => {
                self.names.insert(name.to_owned(), NameOwner::Local);
                Ok(())
            }
            Some(NameOwner::Local) => Ok(()),
            Some(owner) => Err(conflict(name, owner)),
        }
    }

    /// Gives remote actor `actor` of `network` a local name under `strategy` and returns it.
    ///
    /// Idempotent: a pair that is already registered gets its existing name back whatever the
    /// strategy, except a [`AliasStrategy::ManualAlias`] naming a different name, which is
    /// [`AliasError::AlreadyRegistered`]. Nothing changes when an error is returned.
    pub fn register(
        &mut self,
        actor: &str,
        network: &str,
        strategy: &AliasStrategy,
    ) -> Result<String, AliasError> {
        validate(actor)?;
        validate(network)?;
        if let AliasStrategy::ManualAlias(alias) = strategy {
            validate(alias)?;
        }
        if let Some(existing) = self.lookup(actor, network) {
            return match strategy {
                AliasStrategy::ManualAlias(alias) if alias != existing => {
                    Err(AliasError::AlreadyRegistered {
                        actor: actor.to_owned(),
                        network: network.to_owned(),
                        local_name: existing.to_owned(),
                    })
                }
                _ => Ok(existing.to_owned()),
            };
        }
        let name = self.choose(actor, network, strategy)?;
        let owner = NameOwner::Remote {
            actor: actor.to_owned(),
            network: network.to_owned(),
        };
        self.names.insert(name.clone(), owner);
        self.remotes
            .insert((actor.to_owned(), network.to_owned()), name.clone());
        Ok(name)
    }

    /// Frees `local_name`, for when its process or link goes away, and returns what held it.
    pub fn release(&mut self, local_name: &str) -> Option<NameOwner> {
        let owner = self.names.remove(local_name)?;
        if let NameOwner::Remote { actor, network } = &owner {
            self.remotes.remove(&(actor.clone(), network.clone()));
        }
        Some(owner)
    }

    /// The local name of remote actor `actor` of `network`, if registered.
    pub fn lookup(&self, actor: &str, network: &str) -> Option<&str> {
        self.remotes
            .get(&(actor.to_owned(), network.to_owned()))
            .map(String::as_str)
    }

    /// What holds `name`, if anything.
    pub fn owner(&self, name: &str) -> Option<&NameOwner> {
        self.names.get(name)
    }

    /// Every registered remote actor, sorted by local name.
    pub fn entries(&self) -> Vec<AliasEntry> {
        self.names
            .iter()
            .filter_map(|(name, owner)| match owner {
                NameOwner::Local => None,
                NameOwner::Remote { actor, network } => Some(AliasEntry {
                    local_name: name.clone(),
                    actor: actor.clone(),
                    network: network.clone(),
                }),
            })
            .collect()
    }

    /// The name `strategy` picks for an unregistered pair, or why there is none.
    fn choose(
        &self,
        actor: &str,
        network: &str,
        strategy: &AliasStrategy,
    ) -> Result<String, AliasError> {
        let wanted = match strategy {
            AliasStrategy::ManualAlias(alias) => alias.as_str(),
            AliasStrategy::AutoAlias | AliasStrategy::Fail => actor,
        };
        let Some(owner) = self.names.get(wanted) else {
            return Ok(wanted.to_owned());
        };
        if *strategy != AliasStrategy::AutoAlias {
            return Err(conflict(wanted, owner));
        }
        let base = format!("{network}_{actor}");
        if !self.names.contains_key(&base) {
            return Ok(base);
        }
        // Terminates: the registry holds finitely many names.
        let mut n: u64 = 2;
        loop {
            let candidate = format!("{base}_{n}");
            if !self.names.contains_key(&candidate) {
                return Ok(candidate);
            }
            n += 1;
        }
    }
}

/// Checks that `name` can be a process name: non-empty and without `@`, which separates an
/// actor from its network in a component name.
fn validate(name: &str) -> Result<(), AliasError> {
    let reason = if name.is_empty() {
        "a name cannot be empty"
    } else if name.contains('@') {
        "a name cannot contain '@'"
    } else {
        return Ok(());
    };
    Err(AliasError::InvalidName {
        name: name.to_owned(),
        reason,
    })
}

/// The conflict error for `name`, held by `owner`.
fn conflict(name: &str, owner: &NameOwner) -> AliasError {
    AliasError::Conflict {
        name: name.to_owned(),
        taken_by: owner.clone(),
    }
}
