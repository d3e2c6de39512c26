use crate::testing::{config_error, msgs, run};
use serde_json::json;

fn inputs(values: Vec<serde_json::Value>) -> Vec<(&'static str, reflow_network::Message)> {
    msgs(values).into_iter().map(|m| ("in", m)).collect()
}

#[tokio::test]
async fn splits_facts_on_the_condition() {
    let facts = vec![
        json!({"id": 1, "amount": 1500, "country": "FR"}),
        json!({"id": 2, "amount": 20, "country": "FR"}),
        json!({"id": 3, "amount": 3000, "country": "US"}),
    ];
    let outcome = run(
        "Rule",
        json!({"when": "fact.amount >= 1000 && fact.country in ['FR', 'DE']"}),
        inputs(facts.clone()),
    )
    .await;
    assert!(outcome.report.is_success());
    assert_eq!(outcome.json("matched"), [facts[0].clone()]);
    assert_eq!(
        outcome.json("unmatched"),
        [facts[1].clone(), facts[2].clone()]
    );
    assert!(outcome.port("error").is_empty());
}

#[tokio::test]
async fn emit_builds_a_derived_fact() {
    let config = json!({
        "when": "fact.amount >= 1000",
        "emit": {"order": "fact.id + 1000", "tier": "'gold'", "net": "double(fact.amount) * 0.8"},
        "x": 120, "y": 40
    });
    let facts = vec![
        json!({"id": 7, "amount": 1500}),
        json!({"id": 8, "amount": 20}),
    ];
    let outcome = run("Rule", config, inputs(facts.clone())).await;
    assert_eq!(
        outcome.json("matched"),
        [json!({"order": 1007, "tier": "gold", "net": 1200.0})]
    );
    assert_eq!(outcome.json("unmatched"), [facts[1].clone()]);
}

#[tokio::test]
async fn failures_go_to_the_error_port_and_the_rule_carries_on() {
    let config = json!({"when": "fact.amount > 10", "emit": {"twice": "fact.amount * 2.0"}});
    let facts = vec![
        json!({"id": 1}),
        json!({"amount": "ten"}),
        json!({"amount": 11}),
        json!({"amount": 11.5}),
        json!({"amount": 5}),
    ];
    let outcome = run("Rule", config, inputs(facts.clone())).await;
    assert!(outcome.report.is_success());
    assert_eq!(outcome.json("matched"), [json!({"twice": 23.0})]);
    assert_eq!(outcome.json("unmatched"), [facts[4].clone()]);
    let errors = outcome.json("error");
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert_eq!(
        errors[0],
        json!({
            "fact": {"id": 1},
            "error": "when: `fact.amount > 10` failed: No such key: amount",
            "process": "subject"
        })
    );
    let reason = errors[1]["error"].as_str().unwrap();
    assert!(
        reason.starts_with("when: `fact.amount > 10` failed: found no matching overload for '_>_'"),
        "{reason}"
    );
    assert_eq!(errors[2]["fact"], facts[2]);
    let reason = errors[2]["error"].as_str().unwrap();
    assert!(
        reason.starts_with("emit.twice: `fact.amount * 2.0` failed:"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_condition_that_is_not_a_boolean_is_an_error() {
    let outcome = run(
        "Rule",
        json!({"when": "fact.amount"}),
        inputs(vec![json!({"amount": 3})]),
    )
    .await;
    assert!(outcome.port("matched").is_empty() && outcome.port("unmatched").is_empty());
    assert_eq!(
        outcome.json("error")[0]["error"],
        "when: `fact.amount` failed: returned int 3, not a bool"
    );
}

#[test]
fn rejects_bad_config_naming_the_key_and_expression() {
    let err = config_error("Rule", json!({"when": "fact.amount >="}));
    assert!(
        err.starts_with(
            "`when`: `fact.amount >=` does not compile: line 1, column 15: Syntax error"
        ),
        "{err}"
    );
    let err = config_error("Rule", json!({"when": "true", "emit": {"a": "fact.("}}));
    assert!(
        err.starts_with("`emit.a`: `fact.(` does not compile: line 1"),
        "{err}"
    );
    let err = config_error("Rule", json!({"when": "true", "emit": {"a": 3}}));
    assert_eq!(err, "`emit.a` must be a CEL expression in a string, not 3");
    let err = config_error("Rule", json!({"when": "amount > 3"}));
    assert!(err.contains("unknown identifier `amount`"), "{err}");
    assert_eq!(config_error("Rule", json!(null)), "missing field `when`");
    let err = config_error("Rule", json!({"when": "true", "wen": "x"}));
    assert!(err.starts_with("unknown field `wen`"), "{err}");
    let err = config_error("Rule", json!({"when": 3}));
    assert!(
        err.starts_with("invalid type: integer `3`, expected a string"),
        "{err}"
    );
}
