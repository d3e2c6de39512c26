use super::*;
use crate::{Actor, ActorResult, Context, Message};
use serde_json::json;

struct Probe;

impl Actor for Probe {
    async fn on_message(&mut self, _: &str, _: Message, _: &mut Context) -> ActorResult {
        Ok(())
    }
}

fn registry() -> Registry {
    let mut registry = Registry::new();
    registry.register_fn(
        ComponentInfo::new("Forward", "passes messages on", Ports::new(["in"], ["out"])),
        |config| match config.get("fail") {
            Some(_) => Err(ConfigError::new("`fail` is not allowed")),
            None => Ok(BoxedActor::new(Probe)),
        },
    );
    registry
}

#[test]
fn nearest_name_is_suggested_for_typos() {
    let registry = registry();
    assert_eq!(registry.nearest("Foward").as_deref(), Some("Forward"));
    assert_eq!(registry.nearest("forward").as_deref(), Some("Forward"));
    assert_eq!(registry.nearest("Completely"), None);
}

#[test]
fn build_reports_unknown_and_config_errors() {
    let registry = registry();
    assert!(matches!(
        registry.build("Fwd", &json!({})),
        Err(BuildError::Unknown(_))
    ));
    let err = registry.build("Forward", &json!({"fail": 1})).err();
    assert_eq!(
        err,
        Some(BuildError::Config(ConfigError::new(
            "`fail` is not allowed"
        )))
    );
    let (_, ports) = registry.build("Forward", &json!(null)).unwrap();
    assert_eq!(ports, Ports::new(["in"], ["out"]));
}
