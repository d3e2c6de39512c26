//! Ways in and out of a running network for a bridge: injectors tagged with an origin,
//! taps that see every output with its origin and each origin's end, output handles.
#![allow(clippy::unwrap_used)]

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::Record;
use reflow::{Actor, ActorResult, Context, Message, Network, Ports, Registry, Tapped};
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
