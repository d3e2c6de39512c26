//! A test kit for components: run one component in a real network with a configuration and
//! inputs per inport, and get what came out of every outport, in order, with the network's
//! report. The inputs are the component's only input: its inports end right after them, so
//! a component that emits at end of stream (an `Aggregate`, your own) has done so when
//! [`run`] returns.
//!
//! ```
//! use reflow_actors::testing;
//! use reflow_network::Message;
//! use serde_json::json;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let inputs = vec![("in", Message::from(json!({"amount": 50}))), ("in", Message::from(json!({"amount": 500})))];
//! let outcome = testing::run("Filter", json!({"when": "fact.amount >= 100"}), inputs).await;
//! assert!(outcome.report.is_success());
//! assert_eq!(outcome.json("out"), [json!({"amount": 500})]);
//! # });
//! ```
//!
//! A component of your own is run the same way from your registry ([`run_in`]), and
//! [`config_error_in`] gives the error it reports for a bad configuration. These functions
//! panic with the reason when the component cannot be built: they are for tests.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use reflow_network::{
    Actor, ActorResult, BuildError, Context, Message, Network, Ports, Registry, Report,
};
use serde_json::Value;

/// What a run produced.
#[derive(Debug)]
pub struct Outcome {
    /// Messages per outport, in arrival order (every outport has an entry).
    pub outputs: BTreeMap<String, Vec<Message>>,
    /// How the network ended: the component's failure, if it failed, is here.
    pub report: Report,
}

impl Outcome {
    /// Messages that came out of `port` (none for an unknown port).
    pub fn port(&self, port: &str) -> &[Message] {
        self.outputs.get(port).map_or(&[], Vec::as_slice)
    }

    /// Messages of `port` as JSON, for readable assertions.
    pub fn json(&self, port: &str) -> Vec<Value> {
        self.port(port).iter().map(Message::to_json).collect()
    }
}

/// Records what arrives.
struct Sink(Arc<Mutex<Vec<Message>>>);

impl Actor for Sink {
    async fn on_message(&mut self, _: &str, msg: Message, _: &mut Context) -> ActorResult {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(msg);
        Ok(())
    }
}

/// Runs the built-in `component` configured by `config`, with `inputs` `(inport, message)`
/// delivered in order, until the network completes.
pub async fn run(component: &str, config: Value, inputs: Vec<(&str, Message)>) -> Outcome {
    run_in(crate::registry(), component, config, inputs).await
}

/// [`run`] for a component of `registry` (yours, registered beside the built-ins).
pub async fn run_in(
    registry: impl Into<Arc<Registry>>,
    component: &str,
    config: Value,
    inputs: Vec<(&str, Message)>,
) -> Outcome {
    let registry = registry.into();
    let (_, ports) = match registry.build(component, &config) {
        Ok(built) => built,
        Err(err) => panic!("{component} rejected {config}: {err}"),
    };
    let mut net = Network::new(registry);
    expect(
        net.add_node("subject", component, config),
        "add the component",
    );
    let mut outputs = BTreeMap::new();
    for port in &ports.outports {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = format!("sink_{port}");
        let sink_ports = Ports::new(["in"], Vec::<String>::new());
        expect(
            net.add_actor(&sink, Sink(seen.clone()), sink_ports),
            "add a sink",
        );
        let wired = net.add_connection(("subject", port.as_str()), (sink.as_str(), "in"));
        expect(wired, "connect an outport");
        outputs.insert(port.clone(), seen);
    }
    for (port, msg) in inputs {
        expect(net.add_initial(("subject", port), msg), "feed an inport");
    }
    let report = expect(net.start(), "start").wait().await;
    let outputs = outputs
        .into_iter()
        .map(|(port, seen)| {
            let seen = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
            (port, seen)
        })
        .collect();
    Outcome { outputs, report }
}

/// The configuration error the built-in `component` reports for `config`.
pub fn config_error(component: &str, config: Value) -> String {
    config_error_in(&crate::registry(), component, config)
}

/// [`config_error`] for a component of `registry`; panics if it accepts `config`.
pub fn config_error_in(registry: &Registry, component: &str, config: Value) -> String {
    match registry.build(component, &config) {
        Ok(_) => panic!("{component} accepted {config}"),
        Err(BuildError::Config(err)) => err.to_string(),
        Err(other) => panic!("{component}: {other}"),
    }
}

/// JSON values as messages.
pub fn msgs(values: impl IntoIterator<Item = Value>) -> Vec<Message> {
    values.into_iter().map(Message::from).collect()
}

/// The value, or a panic naming what failed.
fn expect<T, E: std::fmt::Display>(result: Result<T, E>, doing: &str) -> T {
    match result {
        Ok(value) => value,
        Err(err) => panic!("cannot {doing}: {err}"),
    }
}
