//! Ways in and out of a running network for a bridge: injectors tagged with an origin,
//! taps that see every output with its origin and each origin's end, output handles.
#![allow(clippy::unwrap_used)]

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::Record;
use reflow::{
    Actor, ActorResult, Context, Message, Network, Ports, Registry, Tapped, TryOutputError,
};
use serde_json::json;

#[tokio::test]
async fn outputs_come_back_tagged_with_the_origin_that_caused_them() {
    let mut net = Network::new(reflow::actors::registry());
    let local = Record::default();
    net.add_node("echo", "Forward", json!(null)).unwrap();
    net.add_actor("local", local.clone(), Record::ports())
        .unwrap();
    net.add_connection(("echo", "out"), ("local", "in"))
        .unwrap();
    net.export("echo").unwrap();
    let mut tap = net.tap("echo").unwrap();
    let mut running = net.start().unwrap();
    let injector = running.injector("echo").unwrap();
    assert_eq!(injector.inports(), ["in"]);

    injector.send("in", 7, Message::from("a")).await.unwrap();
    injector.send("in", 9, Message::from("b")).await.unwrap();
    injector.end(7).await.unwrap();
    injector.send("in", 9, Message::from("c")).await.unwrap();
    injector.end(9).await.unwrap();
    let err = injector.send("nope", 9, Message::Flow).await.unwrap_err();
    assert!(err.to_string().contains("has no inport `nope`"), "{err}");

    let out: Arc<str> = Arc::from("out");
    let mut seen = Vec::new();
    for _ in 0..5 {
        seen.push(tap.recv().await.unwrap());
    }
    assert_eq!(
        seen,
        [
            Tapped {
                port: out.clone(),
                origin: 7,
                msg: Some(Message::from("a"))
            },
            Tapped {
                port: out.clone(),
                origin: 9,
                msg: Some(Message::from("b"))
            },
            Tapped {
                port: Arc::from(""),
                origin: 7,
                msg: None
            },
            Tapped {
                port: out.clone(),
                origin: 9,
                msg: Some(Message::from("c"))
            },
            Tapped {
                port: Arc::from(""),
                origin: 9,
                msg: None
            },
        ]
    );
    assert_eq!(
        local.values(),
        [Message::from("a"), Message::from("b"), Message::from("c")]
    );

    // The exported process lives while an injector does; shutdown drops the network's own.
    drop(injector);
    running.request_shutdown();
    let report = running.shutdown(Duration::from_secs(10)).await;
    assert!(report.is_success(), "{report:?}");
    assert_eq!(report.finished.len(), 2);
}

/// Emits through an output handle from a task it spawns, and finishes once the task has.
#[derive(Default)]
struct FromTask(Option<tokio::task::JoinHandle<ActorResult>>);

impl Actor for FromTask {
    async fn on_start(&mut self, ctx: &mut Context) -> ActorResult {
        let outputs = ctx.outputs();
        self.0 = Some(tokio::spawn(async move {
            for i in 0..3 {
                outputs.send("out", Message::Integer(i)).await?;
            }
            Ok(())
        }));
        Ok(())
    }

    async fn on_message(&mut self, _: &str, _: Message, _: &mut Context) -> ActorResult {
        Ok(())
    }

    async fn on_end(&mut self, _ctx: &mut Context) -> ActorResult {
        match self.0.take() {
            Some(task) => task.await.unwrap(),
            None => Ok(()),
        }
    }
}

#[tokio::test]
async fn an_output_handle_sends_from_a_task_and_end_of_stream_waits_for_it() {
    let mut net = Network::new(Registry::new());
    let sink = Record::default();
    net.add_actor(
        "source",
        FromTask::default(),
        Ports::new(Vec::<String>::new(), ["out"]),
    )
    .unwrap();
    net.add_actor("sink", sink.clone(), Record::ports())
        .unwrap();
    net.add_connection(("source", "out"), ("sink", "in"))
        .unwrap();
    assert!(net.start().unwrap().wait().await.is_success());
    assert_eq!(sink.integers(), [0, 1, 2]);
    assert!(*sink.ended.lock());
}

/// Holds its inputs until `open` is notified, then records them.
struct Gated {
    record: Record,
    open: Arc<tokio::sync::Notify>,
}

impl Actor for Gated {
    async fn on_start(&mut self, _ctx: &mut Context) -> ActorResult {
        self.open.notified().await;
        Ok(())
    }

    async fn on_message(&mut self, port: &str, msg: Message, ctx: &mut Context) -> ActorResult {
        self.record.on_message(port, msg, ctx).await
    }
}

/// Tries its output handle against a gated receiver with an inbox of one: the first
/// message fits everywhere, the second is handed back whole (the open receiver does not get
/// it either), an unknown port hands the message back with the error; then opens the gate
/// and sends the second message the waiting way.
struct TrySender(Arc<tokio::sync::Notify>);

impl Actor for TrySender {
    async fn on_start(&mut self, ctx: &mut Context) -> ActorResult {
        let outputs = ctx.outputs();
        outputs.try_send("out", Message::Integer(0)).unwrap();
        match outputs.try_send("out", Message::Integer(1)) {
            Err(TryOutputError::Full(msg)) => assert_eq!(msg, Message::Integer(1)),
            other => panic!("expected Full, got {other:?}"),
        }
        match outputs.try_send("nope", Message::Integer(2)) {
            Err(TryOutputError::Failed(err, msg)) => {
                assert!(err.to_string().contains("no outport `nope`"), "{err}");
                assert_eq!(msg, Message::Integer(2));
            }
            other => panic!("expected Failed, got {other:?}"),
        }
        self.0.notify_one();
        outputs.send("out", Message::Integer(1)).await
    }

    async fn on_message(&mut self, _: &str, _: Message, _: &mut Context) -> ActorResult {
        Ok(())
    }
}

#[tokio::test]
async fn an_output_handle_tries_every_receiver_and_sends_to_all_or_none() {
    let config = reflow::NetworkConfig {
        capacity: 1,
        ..reflow::NetworkConfig::default()
    };
    let mut net = Network::with_config(Registry::new(), config);
    let open = Arc::new(tokio::sync::Notify::new());
    let (free, held) = (Record::default(), Record::default());
    let gated = Gated {
        record: held.clone(),
        open: open.clone(),
    };
    let out = Ports::new(Vec::<String>::new(), ["out"]);
    net.add_actor("source", TrySender(open), out).unwrap();
    net.add_actor("free", free.clone(), Record::ports())
        .unwrap();
    net.add_actor("held", gated, Record::ports()).unwrap();
    net.add_connection(("source", "out"), ("free", "in"))
        .unwrap();
    net.add_connection(("source", "out"), ("held", "in"))
        .unwrap();
    let report = net.start().unwrap().wait().await;
    assert!(report.is_success(), "{report:?}");
    assert_eq!(free.integers(), [0, 1]);
    assert_eq!(held.integers(), [0, 1]);
}

/// A tap that keeps every copy, for instance tests.
#[derive(Default)]
struct Keep(parking_lot::Mutex<Vec<Tapped>>);

impl reflow::Tap for Keep {
    fn tapped(
        &self,
        tapped: Tapped,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        self.0.lock().push(tapped);
        Box::pin(std::future::ready(()))
    }
}

fn outputs(keep: &Keep) -> Vec<Message> {
    keep.0.lock().iter().filter_map(|t| t.msg.clone()).collect()
}

#[tokio::test]
async fn each_instance_of_an_exported_process_has_its_own_state_and_end() {
    let mut net = Network::new(reflow::actors::registry());
    net.add_node("batch", "Batch", json!({ "size": 2 }))
        .unwrap();
    net.export("batch").unwrap();
    let running = net.start().unwrap();
    let instances = running.instances("batch").unwrap();
    assert_eq!(instances.process(), "batch");
    let (first, second) = (Arc::new(Keep::default()), Arc::new(Keep::default()));
    let a = instances.spawn(first.clone()).unwrap();
    let b = instances.spawn(second.clone()).unwrap();
    for i in 1..=3 {
        a.injector.send("in", 0, Message::Integer(i)).await.unwrap();
    }
    b.injector
        .send("in", 0, Message::Integer(10))
        .await
        .unwrap();
    drop(a.injector);
    drop(b.injector);
    a.task.await.unwrap().unwrap();
    b.task.await.unwrap().unwrap();
    let batch = |v: &[i64]| Message::from(serde_json::json!(v));
    // The remainder of each comes at its own end; nothing of one reaches the other.
    assert_eq!(outputs(&first), [batch(&[1, 2]), batch(&[3])]);
    assert_eq!(outputs(&second), [batch(&[10])]);
}

#[tokio::test]
async fn a_process_added_as_an_instance_has_no_recipe_for_more() {
    let mut net = Network::new(Registry::new());
    net.add_actor("local", Record::default(), Record::ports())
        .unwrap();
    net.export("local").unwrap();
    let running = net.start().unwrap();
    assert!(running.instances("local").is_none());
    assert!(running.instances("missing").is_none());
}

/// Panics on its first message.
struct Boom;

impl Actor for Boom {
    async fn on_message(&mut self, _: &str, _: Message, _: &mut Context) -> ActorResult {
        panic!("boom")
    }
}

#[tokio::test]
async fn a_panicking_instance_ends_with_the_panic_as_its_error() {
    let mut registry = Registry::new();
    let info = reflow::ComponentInfo::new("Boom", "panics", Ports::new(["in"], ["out"]));
    registry.register_fn(info, |_| Ok(reflow::BoxedActor::new(Boom)));
    let mut net = Network::new(registry);
    net.add_node("boom", "Boom", json!(null)).unwrap();
    net.export("boom").unwrap();
    let running = net.start().unwrap();
    let instance = running
        .instances("boom")
        .unwrap()
        .spawn(Arc::new(Keep::default()))
        .unwrap();
    instance
        .injector
        .send("in", 0, Message::Flow)
        .await
        .unwrap();
    let error = instance.task.await.unwrap().unwrap_err();
    assert_eq!(error.to_string(), "panicked: boom");
}
