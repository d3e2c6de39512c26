use crate::testing::{config_error, run};
use reflow_network::{Error, Message, Network};
use serde_json::json;

fn input(port: &'static str, value: serde_json::Value) -> (&'static str, Message) {
    (port, Message::from(value))
}

#[tokio::test]
async fn pairs_in_fifo_order_and_reports_leftovers_at_end() {
    let inputs = vec![
        input("a", json!(1)),
        input("a", json!(2)),
        input("b", json!("x")),
        input("a", json!(3)),
        input("b", json!("y")),
        input("a", json!(4)),
    ];
    let outcome = run("Join", json!({"ports": ["a", "b"]}), inputs).await;
    assert!(outcome.report.is_success());
    assert_eq!(
        outcome.json("out"),
        [json!({"a": 1, "b": "x"}), json!({"a": 2, "b": "y"})]
    );
    let unpaired = |v| json!({"error": "unpaired at end of stream", "port": "a", "value": v});
    assert_eq!(outcome.json("error"), [unpaired(3), unpaired(4)]);
}

#[tokio::test]
async fn waits_for_every_port() {
    let inputs = vec![
        input("left", json!(1)),
        input("mid", json!(2)),
        input("left", json!(10)),
        input("right", json!(3)),
    ];
    let config = json!({"ports": ["left", "mid", "right"]});
    let outcome = run("Join", config, inputs).await;
    assert_eq!(
        outcome.json("out"),
        [json!({"left": 1, "mid": 2, "right": 3})]
    );
    assert_eq!(outcome.json("error")[0]["value"], json!(10));
}

#[tokio::test]
async fn refuses_messages_over_max_pending() {
    let inputs = vec![
        input("a", json!(1)),
        input("a", json!(2)),
        input("a", json!(3)),
        input("b", json!(1)),
    ];
    let outcome = run(
        "Join",
        json!({"ports": ["a", "b"], "max_pending": 2}),
        inputs,
    )
    .await;
    assert!(outcome.report.is_success());
    assert_eq!(outcome.json("out"), [json!({"a": 1, "b": 1})]);
    assert_eq!(
        outcome.json("error"),
        [
            json!({"error": "port `a` already holds 2 unpaired messages", "port": "a", "value": 3}),
            json!({"error": "unpaired at end of stream", "port": "a", "value": 2}),
        ]
    );
}

#[test]
fn inports_come_from_config() {
    let registry = crate::registry();
    let (_, ports) = registry
        .build("Join", &json!({"ports": ["user", "order"], "x": 1}))
        .unwrap();
    assert_eq!(ports.inports, ["user", "order"]);
    assert_eq!(ports.outports, ["out", "error"]);
    let mut net = Network::new(registry);
    net.add_node("join", "Join", json!({"ports": ["user", "order"]}))
        .unwrap();
    let err = net.add_initial(("join", "in"), 1).unwrap_err();
    assert!(matches!(err, Error::UnknownPort { .. }), "{err}");
}

#[test]
fn rejects_bad_config() {
    assert_eq!(config_error("Join", json!(null)), "missing field `ports`");
    assert_eq!(
        config_error("Join", json!({"ports": ["a"]})),
        "`ports` needs at least 2 inport names, got 1"
    );
    assert_eq!(
        config_error("Join", json!({"ports": ["a", "b", "a"]})),
        "port `a` is listed twice"
    );
    assert_eq!(
        config_error("Join", json!({"ports": ["a", "Left"]})),
        "port name `Left` must be lower-case letters, digits or `_`, starting with a letter"
    );
    assert!(config_error("Join", json!({"ports": ["a", ""]})).starts_with("port name ``"));
    assert_eq!(
        config_error("Join", json!({"ports": ["a", "b"], "max_pending": 0})),
        "`max_pending` must be at least 1"
    );
    assert!(config_error("Join", json!({"ports": "a,b"})).contains("expected a sequence"));
}
