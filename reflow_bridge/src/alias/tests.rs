use proptest::prelude::*;

use super::*;

fn remote(actor: &str, network: &str) -> NameOwner {
    NameOwner::Remote {
        actor: actor.into(),
        network: network.into(),
    }
}

fn manual(name: &str) -> AliasStrategy {
    AliasStrategy::ManualAlias(name.into())
}

#[test]
fn the_default_strategy_is_auto_alias() {
    assert_eq!(AliasStrategy::default(), AliasStrategy::AutoAlias);
}

#[test]
fn a_free_name_is_kept_under_every_strategy() {
    let mut reg = AliasRegistry::new();
    reg.reserve_local("source").unwrap();
    assert_eq!(
        reg.register("a", "n", &AliasStrategy::AutoAlias).unwrap(),
        "a"
    );
    assert_eq!(reg.register("b", "n", &AliasStrategy::Fail).unwrap(), "b");
    let entries = reg.entries();
    assert_eq!(entries.len(), 2);
    assert!(entries.iter().all(|e| !e.is_aliased()));
}

#[test]
fn auto_alias_prefixes_the_network_then_counts_from_two() {
    let mut reg = AliasRegistry::new();
    reg.reserve_local("a").unwrap();
    reg.reserve_local("n_a").unwrap();
    reg.reserve_local("n_a_3").unwrap();
    let auto = AliasStrategy::AutoAlias;
    assert_eq!(reg.register("a", "n", &auto).unwrap(), "n_a_2");
    // Another network's `a` clashes with the local `a` and gets its own prefix.
    assert_eq!(reg.register("a", "m", &auto).unwrap(), "m_a");
    assert_eq!(reg.owner("n_a_2"), Some(&remote("a", "n")));
    let entries = reg.entries();
    let names: Vec<_> = entries.iter().map(|e| e.local_name.as_str()).collect();
    assert_eq!(names, ["m_a", "n_a_2"]);
    assert!(entries.iter().all(AliasEntry::is_aliased));
}

#[test]
fn a_remote_actor_clashes_with_another_remote_actor_of_the_same_name() {
    let mut reg = AliasRegistry::new();
    let auto = AliasStrategy::AutoAlias;
    assert_eq!(reg.register("a", "n", &auto).unwrap(), "a");
    assert_eq!(reg.register("a", "m", &auto).unwrap(), "m_a");
    let err = reg.register("a", "k", &AliasStrategy::Fail).unwrap_err();
    assert_eq!(
        err,
        AliasError::Conflict {
            name: "a".into(),
            taken_by: remote("a", "n")
        }
    );
    assert_eq!(
        err.to_string(),
        r#"name "a" is already taken by remote actor a@n"#
    );
}

#[test]
fn fail_names_the_local_process_that_holds_the_name() {
    let mut reg = AliasRegistry::new();
    reg.reserve_local("a").unwrap();
    let err = reg.register("a", "n", &AliasStrategy::Fail).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"name "a" is already taken by a local process"#
    );
    assert_eq!(reg.lookup("a", "n"), None);
    assert!(reg.entries().is_empty());
}

#[test]
fn a_manual_alias_is_used_even_when_the_actor_name_is_free() {
    let mut reg = AliasRegistry::new();
    assert_eq!(
        reg.register("a", "n", &manual("remote_a")).unwrap(),
        "remote_a"
    );
    assert_eq!(reg.lookup("a", "n"), Some("remote_a"));
    reg.reserve_local("taken").unwrap();
    let err = reg.register("b", "n", &manual("taken")).unwrap_err();
    assert!(matches!(
        err,
        AliasError::Conflict {
            taken_by: NameOwner::Local,
            ..
        }
    ));
}

#[test]
fn registering_twice_returns_the_same_name() {
    let mut reg = AliasRegistry::new();
    reg.reserve_local("a").unwrap();
    let first = reg.register("a", "n", &AliasStrategy::AutoAlias).unwrap();
    assert_eq!(first, "n_a");
    for strategy in [AliasStrategy::AutoAlias, AliasStrategy::Fail, manual("n_a")] {
        assert_eq!(reg.register("a", "n", &strategy).unwrap(), first);
    }
    assert_eq!(reg.entries().len(), 1);
    let err = reg.register("a", "n", &manual("other")).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"remote actor a@n is already registered as "n_a""#
    );
}

#[test]
fn release_frees_the_name_for_the_next_registration() {
    let mut reg = AliasRegistry::new();
    reg.register("a", "n", &AliasStrategy::AutoAlias).unwrap();
    assert_eq!(reg.release("a"), Some(remote("a", "n")));
    assert_eq!(reg.release("a"), None);
    assert_eq!(reg.lookup("a", "n"), None);
    reg.reserve_local("a").unwrap();
    assert_eq!(reg.release("a"), Some(NameOwner::Local));
    assert_eq!(reg.register("a", "m", &AliasStrategy::Fail).unwrap(), "a");
}

#[test]
fn a_local_name_held_by_a_remote_actor_is_refused() {
    let mut reg = AliasRegistry::new();
    reg.register("a", "n", &AliasStrategy::AutoAlias).unwrap();
    reg.reserve_local("b").unwrap();
    reg.reserve_local("b").unwrap();
    let err = reg.reserve_local("a").unwrap_err();
    assert_eq!(
        err,
        AliasError::Conflict {
            name: "a".into(),
            taken_by: remote("a", "n")
        }
    );
}

#[test]
fn invalid_names_are_rejected_and_change_nothing() {
    let mut reg = AliasRegistry::new();
    let auto = AliasStrategy::AutoAlias;
    for (actor, network, strategy) in [
        ("", "n", auto.clone()),
        ("a", "", auto.clone()),
        ("a@n", "n", auto.clone()),
        ("a", "n@m", auto.clone()),
        ("a", "n", manual("")),
        ("a", "n", manual("x@y")),
    ] {
        let err = reg.register(actor, network, &strategy).unwrap_err();
        assert!(matches!(err, AliasError::InvalidName { .. }), "{err}");
    }
    assert!(reg.reserve_local("").is_err());
    assert_eq!(
        reg.reserve_local("p@q").unwrap_err().to_string(),
        r#"invalid name "p@q": a name cannot contain '@'"#
    );
    assert!(reg.entries().is_empty());
    assert_eq!(reg.owner(""), None);
}

/// The registry as the specification states it: a flat list searched linearly.
#[derive(Default)]
struct Model {
    names: Vec<(String, NameOwner)>,
}

impl Model {
    fn owner(&self, name: &str) -> Option<&NameOwner> {
        self.names.iter().find(|(n, _)| n == name).map(|(_, o)| o)
    }

    fn reserve_local(&mut self, name: &str) -> Result<(), AliasError> {
        check(name)?;
        match self.owner(name) {
            None => self.names.push((name.into(), NameOwner::Local)),
            Some(NameOwner::Local) => {}
            Some(o) => return Err(conflict(name, o)),
        }
        Ok(())
    }

    fn register(&mut self, a: &str, n: &str, s: &AliasStrategy) -> Result<String, AliasError> {
        check(a)?;
        check(n)?;
        if let AliasStrategy::ManualAlias(m) = s {
            check(m)?;
        }
        let me = remote(a, n);
        if let Some((name, _)) = self.names.iter().find(|(_, o)| *o == me) {
            return match s {
                AliasStrategy::ManualAlias(m) if m != name => Err(AliasError::AlreadyRegistered {
                    actor: a.into(),
                    network: n.into(),
                    local_name: name.clone(),
                }),
                _ => Ok(name.clone()),
            };
        }
        let name = match s {
            AliasStrategy::ManualAlias(m) => self.free_or_conflict(m)?,
            AliasStrategy::Fail => self.free_or_conflict(a)?,
            AliasStrategy::AutoAlias => std::iter::once(a.to_string())
                .chain(std::iter::once(format!("{n}_{a}")))
                .chain((2..).map(|i| format!("{n}_{a}_{i}")))
                .find(|c| self.owner(c).is_none())
                .unwrap(),
        };
        self.names.push((name.clone(), me));
        Ok(name)
    }

    fn free_or_conflict(&self, name: &str) -> Result<String, AliasError> {
        match self.owner(name) {
            Some(o) => Err(conflict(name, o)),
            None => Ok(name.into()),
        }
    }

    fn release(&mut self, name: &str) -> Option<NameOwner> {
        let i = self.names.iter().position(|(n, _)| n == name)?;
        Some(self.names.remove(i).1)
    }

    fn entries(&self) -> Vec<AliasEntry> {
        let mut out: Vec<_> = self
            .names
            .iter()
            .filter_map(|(name, o)| match o {
                NameOwner::Local => None,
                NameOwner::Remote { actor, network } => Some(AliasEntry {
                    local_name: name.clone(),
                    actor: actor.clone(),
                    network: network.clone(),
                }),
            })
            .collect();
        out.sort();
        out
    }
}

fn check(name: &str) -> Result<(), AliasError> {
    if name.is_empty() || name.contains('@') {
        return Err(AliasError::InvalidName {
            name: name.into(),
            reason: "",
        });
    }
    Ok(())
}

/// Errors compare equal when they agree on everything but the human-readable reason.
fn normalise<T>(r: Result<T, AliasError>) -> Result<T, AliasError> {
    r.map_err(|e| match e {
        AliasError::InvalidName { name, .. } => AliasError::InvalidName { name, reason: "" },
        other => other,
    })
}

#[derive(Debug, Clone)]
enum Op {
    Local(String),
    Register(String, String, AliasStrategy),
    Release(String),
}

/// Few, overlapping names, so that clashes and alias chains are common.
fn name() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "a", "b", "n_a", "n_a_2", "n_a_3", "m_a", "n_b", "m_b_2", "", "a@n",
    ])
    .prop_map(String::from)
}

fn op() -> impl Strategy<Value = Op> {
    let network = prop::sample::select(vec!["n", "m", "n@", ""]).prop_map(String::from);
    let strategy = prop_oneof![
        3 => Just(AliasStrategy::AutoAlias),
        1 => Just(AliasStrategy::Fail),
        1 => name().prop_map(AliasStrategy::ManualAlias),
    ];
    prop_oneof![
        2 => name().prop_map(Op::Local),
        5 => (name(), network, strategy).prop_map(|(a, n, s)| Op::Register(a, n, s)),
        2 => name().prop_map(Op::Release),
    ]
}

proptest! {
    #[test]
    fn the_registry_behaves_like_the_naive_model(ops in prop::collection::vec(op(), 0..60)) {
        let mut reg = AliasRegistry::new();
        let mut model = Model::default();
        for op in &ops {
            match op {
                Op::Local(n) => {
                    prop_assert_eq!(normalise(reg.reserve_local(n)), normalise(model.reserve_local(n)));
                }
                Op::Register(a, n, s) => {
                    let got = normalise(reg.register(a, n, s));
                    prop_assert_eq!(&got, &normalise(model.register(a, n, s)), "{:?}", op);
                    if let Ok(name) = got {
                        prop_assert_eq!(reg.lookup(a, n), Some(name.as_str()));
                    }
                }
                Op::Release(n) => prop_assert_eq!(reg.release(n), model.release(n)),
            }
            prop_assert_eq!(reg.entries(), model.entries());
            prop_assert_eq!(reg.names.len(), model.names.len());
            for (name, owner) in &model.names {
                prop_assert_eq!(reg.owner(name), Some(owner));
            }
        }
    }
}
