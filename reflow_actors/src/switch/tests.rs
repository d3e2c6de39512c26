use crate::testing::{config_error, msgs, run};
use reflow_network::Component;
use serde_json::json;

use super::Switch;

fn config() -> serde_json::Value {
    json!({
        "cases": [
            {"port": "urgent", "when": "fact.priority >= 8"},
            {"port": "normal", "when": "fact.priority >= 3"}
        ],
        "default": "low"
    })
}

#[test]
fn outports_come_from_the_config() {
    let switch = Switch::from_config(&config()).unwrap();
    let ports = reflow_network::Actor::ports(&switch).unwrap();
    assert_eq!(ports.inports, ["in"]);
    assert_eq!(ports.outports, ["urgent", "normal", "low", "error"]);
    let plain = Switch::from_config(&json!({"cases": [{"port": "a", "when": "true"}]})).unwrap();
    let ports = reflow_network::Actor::ports(&plain).unwrap();
    assert_eq!(ports.outports, ["a", "default", "error"]);
}

#[tokio::test]
async fn the_first_matching_case_wins() {
    let facts = [
        json!({"id": 1, "priority": 9}),
        json!({"id": 2, "priority": 5}),
        json!({"id": 3, "priority": 1}),
        json!({"id": 4, "priority": 8}),
        json!({"id": 5}),
    ];
    let inputs = msgs(facts.clone()).into_iter().map(|m| ("in", m)).collect();
    let outcome = run("Switch", config(), inputs).await;
    assert!(outcome.report.is_success());
    assert_eq!(outcome.json("urgent"), [facts[0].clone(), facts[3].clone()]);
    assert_eq!(outcome.json("normal"), [facts[1].clone()]);
    assert_eq!(outcome.json("low"), [facts[2].clone()]);
    assert_eq!(
        outcome.json("error"),
        [json!({
            "fact": facts[4].clone(),
            "error": "cases[0].when: `fact.priority >= 8` failed: No such key: priority",
            "process": "subject"
        })]
    );
}

#[test]
fn rejects_bad_config() {
    let dup = json!({"cases": [{"port": "a", "when": "true"}, {"port": "a", "when": "false"}]});
    assert_eq!(
        config_error("Switch", dup),
        "`cases[1].port`: outport `a` is already used (`error` is reserved)"
    );
    let clash = json!({"cases": [{"port": "a", "when": "true"}], "default": "a"});
    assert_eq!(
        config_error("Switch", clash),
        "`default`: outport `a` is already used (`error` is reserved)"
    );
    let reserved = json!({"cases": [{"port": "error", "when": "true"}]});
    assert!(config_error("Switch", reserved).contains("`error` is reserved"));
    let empty = json!({"cases": [{"port": "", "when": "true"}]});
    assert_eq!(
        config_error("Switch", empty),
        "`cases[0].port` must not be empty"
    );
    assert_eq!(
        config_error("Switch", json!({"cases": []})),
        "`cases` must list at least one case"
    );
    let bad = json!({"cases": [{"port": "a", "when": "true"}, {"port": "b", "when": "fact.x >"}]});
    let err = config_error("Switch", bad);
    assert!(
        err.starts_with("`cases[1].when`: `fact.x >` does not compile: line 1"),
        "{err}"
    );
    let missing = json!({"cases": [{"port": "a"}]});
    assert_eq!(config_error("Switch", missing), "missing field `when`");
}
