//! Test harness shared by the component tests: runs one component in a real network, feeds
//! it IIPs, and records what comes out of every outport.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::Mutex;
use reflow_network::{Actor, ActorResult, Context, Message, Network, Ports, Report};
use serde_json::Value;

/// What a run produced.
pub(crate) struct Outcome {
    /// Messages per outport, in arrival order (every outport has an entry).
    pub(crate) outputs: BTreeMap<String, Vec<Message>>,
    pub(crate) report: Report,
}

impl Outcome {
    /// Messages that came out of `port`.
    pub(crate) fn port(&self, port: &str) -> &[Message] {
        self.outputs.get(port).map_or(&[], Vec::as_slice)
    }

    /// Messages of `port` as JSON, for readable assertions.
    pub(crate) fn json(&self, port: &str) -> Vec<Value> {
        self.port(port).iter().map(Message::to_json).collect()
    }
}

struct Sink(Arc<Mutex<Vec<Message>>>);

impl Actor for Sink {
    async fn on_message(&mut self, _: &str, msg: Message, _: &mut Context) -> ActorResult {
        self.0.lock().push(msg);
        Ok(())
    }
}

/// Runs `component` configured by `config`, with `inputs` delivered in order as IIPs (so its
/// inputs end right after them), until the network completes.
pub(crate) async fn run(component: &str, config: Value, inputs: Vec<(&str, Message)>) -> Outcome {
    let registry = crate::registry();
    let (_, ports) = match registry.build(component, &config) {
        Ok(built) => built,
        Err(err) => panic!("{component} rejected {config}: {err}"),
    };
    let mut net = Network::new(registry);
    net.add_node("subject", component, config).unwrap();
    let mut outputs = BTreeMap::new();
    for port in &ports.outports {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = format!("sink_{port}");
        net.add_actor(
            &sink,
            Sink(seen.clone()),
            Ports::new(["in"], Vec::<String>::new()),
        )
        .unwrap();
        net.add_connection(("subject", port.as_str()), (sink.as_str(), "in"))
            .unwrap();
        outputs.insert(port.clone(), seen);
    }
    for (port, msg) in inputs {
        net.add_initial(("subject", port), msg).unwrap();
    }
    let report = net.start().unwrap().wait().await;
    let outputs = outputs
        .into_iter()
        .map(|(port, seen)| (port, seen.lock().clone()))
        .collect();
    Outcome { outputs, report }
}

/// Builds `component` from `config` and returns the configuration error text.
pub(crate) fn config_error(component: &str, config: Value) -> String {
    match crate::registry().build(component, &config) {
        Ok(_) => panic!("{component} accepted {config}"),
        Err(err) => match err {
            reflow_network::BuildError::Config(e) => e.to_string(),
            other => panic!("unexpected {other:?}"),
        },
    }
}

/// JSON values as messages.
pub(crate) fn msgs(values: impl IntoIterator<Item = Value>) -> Vec<Message> {
    values.into_iter().map(Message::from).collect()
}
