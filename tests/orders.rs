//! The orders workflow end to end through the CLI: its summary and its flagged file are
//! checked against figures computed here from the same data.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::{json, Value};

type Class = (&'static str, fn(&Value) -> bool);

const CLASSES: [Class; 3] = [
    ("high_value", |o| o["amount"].as_i64().unwrap() >= 1000),
    ("repeat_customer", |o| {
        o["previous_orders"].as_i64().unwrap() >= 2
    }),
    ("suspicious_country", |o| {
        ["NG", "KP", "RU"].contains(&o["country"].as_str().unwrap())
    }),
];

fn orders(root: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(format!("{root}/graphs/data/orders.jsonl")).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn expected_summary(orders: &[Value]) -> Vec<Value> {
    CLASSES
        .iter()
        .map(|(class, holds)| {
            let amounts: Vec<i64> = orders
                .iter()
                .filter(|o| holds(o))
                .map(|o| o["amount"].as_i64().unwrap())
                .collect();
            let sum: i64 = amounts.iter().sum();
            json!({
                "group": class,
                "count": amounts.len(),
                "sum": sum,
                "min": amounts.iter().min(),
                "max": amounts.iter().max(),
                "avg": sum as f64 / amounts.len() as f64,
            })
        })
        .collect()
}

#[test]
fn orders_graph_prints_one_summary_per_class_and_writes_every_flag() {
    let root = env!("CARGO_MANIFEST_DIR");
    // The graph writes its flags under target/, which WriteLines creates when a build
    // elsewhere (CARGO_TARGET_DIR) did not.
    let out = Command::new(env!("CARGO_BIN_EXE_reflow"))
        .args(["run", "graphs/orders.json"])
        .current_dir(root)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.is_empty(),
        "nothing went to the error ports: {stderr}"
    );

    let orders = orders(root);
    assert_eq!(orders.len(), 300);
    let printed: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(printed, expected_summary(&orders));

    let flagged = std::fs::read_to_string(format!("{root}/target/orders-flagged.jsonl")).unwrap();
    let mut per_class: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for line in flagged.lines() {
        let flag: Value = serde_json::from_str(line).unwrap();
        per_class
            .entry(flag["class"].as_str().unwrap().to_string())
            .or_default()
            .push(flag["id"].as_i64().unwrap());
    }
    for (class, holds) in CLASSES {
        let expected: Vec<i64> = orders
            .iter()
            .filter(|o| holds(o))
            .map(|o| o["id"].as_i64().unwrap())
            .collect();
        assert_eq!(
            per_class[class], expected,
            "{class}: every flagged order once, in order"
        );
    }
}
