//! The component registry: component name to factory, with the declared ports and a
//! description. Every process gets a fresh actor from its factory.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::actor::{Component, ComponentInfo, Ports};
use crate::error::{ConfigError, Error};
use crate::process::BoxedActor;

type Factory = Arc<dyn Fn(&Value) -> Result<BoxedActor, ConfigError> + Send + Sync>;

struct Entry {
    info: ComponentInfo,
    factory: Factory,
}

/// Components known to a network, by name.
///
/// ```
/// use reflow_network::{Actor, ActorResult, Component, ComponentInfo, ConfigError, Context, Message, Ports, Registry};
/// use serde_json::Value;
///
/// struct Shout;
///
/// impl Actor for Shout {
///     async fn on_message(&mut self, _port: &str, msg: Message, ctx: &mut Context) -> ActorResult {
///         let text = msg.as_str().unwrap_or_default().to_uppercase();
///         ctx.send("out", Message::from(text)).await
///     }
/// }
///
/// impl Component for Shout {
///     fn info() -> ComponentInfo {
///         ComponentInfo::new("Shout", "Upper-cases strings.", Ports::new(["in"], ["out"]))
///     }
///     fn from_config(_config: &Value) -> Result<Self, ConfigError> {
///         Ok(Shout)
///     }
/// }
///
/// let mut registry = Registry::new();
/// registry.register::<Shout>();
/// assert_eq!(registry.info("Shout").unwrap().ports.outports, ["out"]);
/// ```
#[derive(Default, Clone)]
pub struct Registry {
    components: BTreeMap<String, Arc<Entry>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.components.keys()).finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a component type under the name from its [`Component::info`].
    pub fn register<C: Component>(&mut self) -> &mut Self {
        self.register_fn(C::info(), |config| {
            C::from_config(config).map(BoxedActor::new)
        })
    }

    /// Registers a component from its description and a factory. A later registration of
    /// the same name replaces the earlier one.
    pub fn register_fn<F>(&mut self, info: ComponentInfo, factory: F) -> &mut Self
    where
        F: Fn(&Value) -> Result<BoxedActor, ConfigError> + Send + Sync + 'static,
    {
        let entry = Entry {
            info,
            factory: Arc::new(factory),
        };
        self.components
            .insert(entry.info.name.clone(), Arc::new(entry));
        self
    }

    /// The description of a component.
    pub fn info(&self, name: &str) -> Option<&ComponentInfo> {
        self.components.get(name).map(|e| &e.info)
    }

    /// Every registered component, ordered by name.
    pub fn components(&self) -> impl Iterator<Item = &ComponentInfo> {
        self.components.values().map(|e| &e.info)
    }

    /// Builds a fresh actor of component `name` from `config`, with its ports.
    pub fn build(&self, name: &str, config: &Value) -> Result<(BoxedActor, Ports), BuildError> {
        let entry = self
            .components
            .get(name)
            .ok_or_else(|| BuildError::Unknown(self.nearest(name)))?;
        let actor = (entry.factory)(config).map_err(BuildError::Config)?;
        let ports = actor.ports().unwrap_or_else(|| entry.info.ports.clone());
        Ok((actor, ports))
    }

    /// The registered name closest to `name`, when one is close enough to be a likely typo.
    pub fn nearest(&self, name: &str) -> Option<String> {
        let lower = name.to_lowercase();
        self.components
            .keys()
            .map(|k| (strsim::levenshtein(&lower, &k.to_lowercase()), k))
            .filter(|(d, k)| *d <= (k.len() / 3).max(2))
            .min_by_key(|(d, _)| *d)
            .map(|(_, k)| k.clone())
    }

    pub(crate) fn unknown(&self, name: &str) -> Error {
        Error::UnknownComponent {
            name: name.to_string(),
            nearest: self.nearest(name),
        }
    }
}

/// Why [`Registry::build`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// No such component; carries the nearest registered name.
    #[error("unknown component")]
    Unknown(Option<String>),
    /// The component rejected the configuration.
    #[error(transparent)]
    Config(ConfigError),
}

#[cfg(test)]
mod tests;
