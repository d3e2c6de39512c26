//! Every process gets a fresh actor: two nodes of one component never share state or an
//! inbox.
#![allow(clippy::unwrap_used)]

use crate::common;

use common::{CountAtEnd, Record};
use reflow::{BoxedActor, ComponentInfo, Network, Ports, Registry};
use serde_json::json;

#[tokio::test]
async fn two_nodes_of_one_component_keep_separate_state() {
    let mut registry = reflow::actors::registry();
    registry.register_fn(
        ComponentInfo::new("Count", "counts until end", Ports::new(["in"], ["out"])),
        |_| Ok(BoxedActor::new(CountAtEnd::default())),
    );
    let mut net = Network::new(registry);
    let (a, b) = (Record::default(), Record::default());
    net.add_node("three", "Range", json!({"end": 3})).unwrap();
    net.add_node("five", "Range", json!({"end": 5})).unwrap();
    net.add_node("count_a", "Count", json!(null)).unwrap();
    net.add_node("count_b", "Count", json!(null)).unwrap();
    net.add_actor("a", a.clone(), Record::ports()).unwrap();
    net.add_actor("b", b.clone(), Record::ports()).unwrap();
    net.add_connection(("three", "out"), ("count_a", "in"))
        .unwrap();
    net.add_connection(("five", "out"), ("count_b", "in"))
        .unwrap();
    net.add_connection(("count_a", "out"), ("a", "in")).unwrap();
    net.add_connection(("count_b", "out"), ("b", "in")).unwrap();

    assert!(net.start().unwrap().wait().await.is_success());

    assert_eq!(a.integers(), [3]);
    assert_eq!(b.integers(), [5]);
}

#[test]
fn building_checks_names_and_ports() {
    let mut net = Network::new(Registry::new());
    net.add_actor("sink", Record::default(), Record::ports())
        .unwrap();
    let dup = net
        .add_actor("sink", Record::default(), Record::ports())
        .unwrap_err();
    assert_eq!(dup.to_string(), "duplicate process `sink`");
    let port = net.add_initial(("sink", "nope"), 1).unwrap_err();
    assert_eq!(port.to_string(), "process `sink` has no inport `nope`");
    let missing = net
        .add_connection(("ghost", "out"), ("sink", "in"))
        .unwrap_err();
    assert_eq!(missing.to_string(), "no process named `ghost`");
    let unknown = net.add_node("x", "Foward", json!({})).unwrap_err();
    assert_eq!(unknown.to_string(), "unknown component `Foward`");
    let remote = net
        .add_node("v", "validator@checks", json!({}))
        .unwrap_err();
    assert_eq!(
        remote.to_string(),
        "process `v`: cannot reach `validator@checks`: no bridge is attached to this network"
    );
}
