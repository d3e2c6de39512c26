//! Rule nodes in a running graph: the example graph through the CLI, and a chain built with
//! the library whose error outport collects what the rules could not evaluate.
#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::sync::Arc;

use parking_lot::Mutex;
use reflow::{Actor, ActorResult, Context, Message, Network, Ports};
use serde_json::json;

#[test]
fn the_rules_graph_totals_big_orders_per_country() {
    let out = Command::new(env!("CARGO_BIN_EXE_reflow"))
        .args(["run", "graphs/rules.json"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        table,
        json!({
            "DE": {"group": "DE", "count": 3, "sum": 144, "min": 37, "max": 59, "avg": 48.0},
            "FR": {"group": "FR", "count": 2, "sum": 55, "min": 22, "max": 33, "avg": 27.5},
            "US": {"group": "US", "count": 3, "sum": 255, "min": 74, "max": 96, "avg": 85.0}
        })
    );
}

struct Collect(Arc<Mutex<Vec<Message>>>);

impl Actor for Collect {
    async fn on_message(&mut self, _: &str, msg: Message, _: &mut Context) -> ActorResult {
        self.0.lock().push(msg);
        Ok(())
    }
}

#[tokio::test]
async fn a_chain_of_rules_passes_matches_on_and_reports_failures() {
    let mut net = Network::new(reflow::actors::registry());
    net.add_node("paid", "Filter", json!({"when": "fact.status == 'paid'"}))
        .unwrap();
    net.add_node(
        "big",
        "Rule",
        json!({"when": "fact.amount > 100", "emit": {"id": "fact.id", "next": "fact.id + 1"}}),
    )
    .unwrap();
    let (matched, errors) = (
        Arc::new(Mutex::new(Vec::new())),
        Arc::new(Mutex::new(Vec::new())),
    );
    let sink = || Ports::new(["in"], Vec::<String>::new());
    net.add_actor("matched", Collect(matched.clone()), sink())
        .unwrap();
    net.add_actor("errors", Collect(errors.clone()), sink())
        .unwrap();
    net.add_connection(("paid", "out"), ("big", "in")).unwrap();
    net.add_connection(("big", "matched"), ("matched", "in"))
        .unwrap();
    net.add_connection(("paid", "error"), ("errors", "in"))
        .unwrap();
    net.add_connection(("big", "error"), ("errors", "in"))
        .unwrap();
    for fact in [
        json!({"id": 1, "status": "paid", "amount": 500}),
        json!({"id": 2, "status": "open", "amount": 900}),
        json!({"id": 3, "amount": 900}),
        json!({"id": 4, "status": "paid", "amount": "lots"}),
        json!({"id": 5, "status": "paid", "amount": 50}),
    ] {
        net.add_initial(("paid", "in"), Message::from(fact))
            .unwrap();
    }
    let report = net.start().unwrap().wait().await;
    assert!(report.is_success(), "{report:?}");
    let matched: Vec<_> = matched.lock().iter().map(Message::to_json).collect();
    assert_eq!(matched, [json!({"id": 1, "next": 2})]);
    let mut errors: Vec<_> = errors.lock().iter().map(Message::to_json).collect();
    errors.sort_by_key(|e| e["fact"]["id"].as_i64());
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(errors[0]["process"], "paid");
    assert_eq!(
        errors[0]["error"],
        "when: `fact.status == 'paid'` failed: No such key: status"
    );
    assert_eq!(errors[1]["process"], "big");
    assert_eq!(errors[1]["fact"]["id"], 4);
}
