use crate::testing::{config_error, msgs, run};
use serde_json::{json, Value};

fn inputs(values: Vec<Value>) -> Vec<(&'static str, reflow_network::Message)> {
    msgs(values).into_iter().map(|m| ("in", m)).collect()
}

fn sales() -> Vec<Value> {
    vec![
        json!({"country": "FR", "amount": 10}),
        json!({"country": "DE", "amount": 5}),
        json!({"country": "FR", "amount": 30}),
    ]
}

#[tokio::test]
async fn final_mode_sends_one_table_when_the_input_ends() {
    let config = json!({"key": "fact.country", "value": "fact.amount"});
    let outcome = run("Aggregate", config, inputs(sales())).await;
    assert!(outcome.report.is_success());
    assert_eq!(
        outcome.json("out"),
        [json!({
            "DE": {"group": "DE", "count": 1, "sum": 5, "min": 5, "max": 5, "avg": 5.0},
            "FR": {"group": "FR", "count": 2, "sum": 40, "min": 10, "max": 30, "avg": 20.0}
        })]
    );
}

#[tokio::test]
async fn updates_mode_sends_the_group_after_each_fact_and_nothing_at_the_end() {
    let config = json!({"key": "fact.country", "value": "fact.amount", "mode": "updates"});
    let outcome = run("Aggregate", config, inputs(sales())).await;
    assert_eq!(
        outcome.json("out"),
        [
            json!({"group": "FR", "count": 1, "sum": 10, "min": 10, "max": 10, "avg": 10.0}),
            json!({"group": "DE", "count": 1, "sum": 5, "min": 5, "max": 5, "avg": 5.0}),
            json!({"group": "FR", "count": 2, "sum": 40, "min": 10, "max": 30, "avg": 20.0}),
        ]
    );
}

#[tokio::test]
async fn without_a_key_everything_is_one_group() {
    let outcome = run(
        "Aggregate",
        json!({"value": "fact.amount"}),
        inputs(sales()),
    )
    .await;
    assert_eq!(
        outcome.json("out"),
        [json!({"group": null, "count": 3, "sum": 45, "min": 5, "max": 30, "avg": 15.0})]
    );
    let empty = run("Aggregate", json!({"value": "fact.amount"}), vec![]).await;
    assert_eq!(
        empty.json("out"),
        [json!({"group": null, "count": 0, "sum": 0, "min": null, "max": null, "avg": null})]
    );
}

#[tokio::test]
async fn without_a_value_facts_are_counted() {
    let facts = vec![
        json!({"n": 1}),
        json!({"n": 2}),
        json!({"n": 1}),
        json!({"n": true}),
    ];
    let outcome = run("Aggregate", json!({"key": "fact.n"}), inputs(facts)).await;
    assert_eq!(
        outcome.json("out"),
        [json!({
            "1": {"group": 1, "count": 2},
            "2": {"group": 2, "count": 1},
            "true": {"group": true, "count": 1}
        })]
    );
}

#[tokio::test]
async fn bad_facts_go_to_the_error_port_and_are_left_out() {
    let mut facts = sales();
    facts.push(json!({"country": "FR"}));
    facts.push(json!({"country": "FR", "amount": "many"}));
    facts.push(json!({"amount": 1}));
    let config = json!({"key": "fact.country", "value": "fact.amount"});
    let outcome = run("Aggregate", config, inputs(facts.clone())).await;
    assert_eq!(outcome.json("out")[0]["FR"]["count"], 2);
    let errors = outcome.json("error");
    let reasons: Vec<&str> = errors
        .iter()
        .map(|e| e["error"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            "value: `fact.amount` failed: No such key: amount",
            "value: `fact.amount` returned \"many\", not a number",
            "key: `fact.country` failed: No such key: country",
        ]
    );
    assert_eq!(errors[1]["fact"], facts[4]);
    assert_eq!(errors[1]["process"], "subject");
}

/// A value that is infinite or NaN (here a division by zero) is an error on `error`, not a
/// fact counted with `null` figures.
#[tokio::test]
async fn a_non_finite_value_is_an_error_and_left_out() {
    let facts = vec![json!({"x": 2.0}), json!({"x": 0.0}), json!({"x": 4.0})];
    let config = json!({"value": "10.0 / fact.x"});
    let outcome = run("Aggregate", config, inputs(facts)).await;
    assert!(outcome.report.is_success(), "{:?}", outcome.report);
    assert_eq!(
        outcome.json("out"),
        [json!({"group": null, "count": 2, "sum": 7.5, "min": 2.5, "max": 5.0, "avg": 3.75})]
    );
    assert_eq!(
        outcome.json("error"),
        [json!({
            "fact": {"x": 0.0},
            "error": "value: `10.0 / fact.x` failed: returned the double inf (infinity and NaN are errors: JSON has no form for them)",
            "process": "subject"
        })]
    );
}

/// A value that would take the sum past the largest double is refused the same way.
#[tokio::test]
async fn a_value_that_would_overflow_the_sum_is_an_error() {
    let facts = vec![json!({"x": 1e308}), json!({"x": 1e308}), json!({"x": 1.0})];
    let config = json!({"value": "fact.x", "mode": "updates"});
    let outcome = run("Aggregate", config, inputs(facts)).await;
    let out = outcome.json("out");
    assert_eq!(out.len(), 2);
    assert_eq!(
        out[1],
        json!({"group": null, "count": 2, "sum": 1e308 + 1.0, "min": 1.0, "max": 1e308, "avg": (1e308 + 1.0) / 2.0})
    );
    let errors = outcome.json("error");
    assert_eq!(errors.len(), 1);
    assert_eq!(
        errors[0]["error"],
        "value: adding 1e+308 would take the sum 1e+308 past the largest double"
    );
}

#[test]
fn rejects_bad_config() {
    let err = config_error("Aggregate", json!({"value": "fact.amount +"}));
    assert!(
        err.starts_with("`value`: `fact.amount +` does not compile"),
        "{err}"
    );
    let err = config_error("Aggregate", json!({"key": "fact.", "value": "1"}));
    assert!(err.starts_with("`key`: `fact.` does not compile"), "{err}");
    let err = config_error("Aggregate", json!({"mode": "sometimes"}));
    assert!(
        err.starts_with("unknown variant `sometimes`, expected `final` or `updates`"),
        "{err}"
    );
}
