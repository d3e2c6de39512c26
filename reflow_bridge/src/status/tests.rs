use serde_json::json;

use super::*;
use crate::alias::{AliasRegistry, AliasStrategy};

#[test]
fn status_serialises_to_the_documented_shape() {
    let mut aliases = AliasRegistry::new();
    aliases.reserve_local("printer").unwrap();
    aliases
        .register("printer", "beta", &AliasStrategy::AutoAlias)
        .unwrap();
    aliases
        .register("counter", "beta", &AliasStrategy::AutoAlias)
        .unwrap();
    let status = Status {
        network_id: "alpha".into(),
        instance_id: "i-1".into(),
        incarnation: "inc-7".into(),
        uptime_secs: 42,
        links: vec![LinkStatus {
            peer_network: "beta".into(),
            peer_instance: "i-2".into(),
            address: "127.0.0.1:9000".into(),
            state: LinkState::Up,
            dialed_by_us: true,
            latency_ms: Some(0.5),
            messages_in: 3,
            messages_out: 4,
            queue_depth: 1,
            unacked: 2,
            resumes: 1,
            replayed: 5,
        }],
        exported: vec![ExportStatus {
            name: "sink".into(),
            inports: vec!["in".into()],
            outports: vec![],
        }],
        remote_actors: aliases.entries().into_iter().map(Into::into).collect(),
        messages_lost: 3,
    };
    let expected = json!({
        "network_id": "alpha",
        "instance_id": "i-1",
        "incarnation": "inc-7",
        "uptime_secs": 42,
        "links": [{
            "peer_network": "beta", "peer_instance": "i-2", "address": "127.0.0.1:9000",
            "state": "up", "dialed_by_us": true, "latency_ms": 0.5,
            "messages_in": 3, "messages_out": 4, "queue_depth": 1,
            "unacked": 2, "resumes": 1, "replayed": 5
        }],
        "exported": [{"name": "sink", "inports": ["in"], "outports": []}],
        "remote_actors": [
            {"local_name": "beta_printer", "actor": "printer", "network": "beta", "aliased": true},
            {"local_name": "counter", "actor": "counter", "network": "beta", "aliased": false}
        ],
        "messages_lost": 3
    });
    assert_eq!(serde_json::to_value(&status).unwrap(), expected);
}

#[test]
fn link_states_are_lowercase_and_missing_latency_is_null() {
    let states: Vec<_> = [LinkState::Connecting, LinkState::Up, LinkState::Down]
        .iter()
        .map(|s| serde_json::to_value(s).unwrap())
        .collect();
    assert_eq!(states, [json!("connecting"), json!("up"), json!("down")]);
    let link = LinkStatus {
        peer_network: "n".into(),
        peer_instance: "i".into(),
        address: "a".into(),
        state: LinkState::Connecting,
        dialed_by_us: false,
        latency_ms: None,
        messages_in: 0,
        messages_out: 0,
        queue_depth: 0,
        unacked: 0,
        resumes: 0,
        replayed: 0,
    };
    assert_eq!(
        serde_json::to_value(&link).unwrap()["latency_ms"],
        json!(null)
    );
}
