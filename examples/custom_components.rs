//! Two components of your own, as docs/writing-components.md builds them: `Discount`
//! (stateless, a `percent` setting, a `rejected` port) and `RunningTotal` (stateful, emits
//! at end of stream). They are registered beside the built-ins, tested with the test kit
//! (`cargo test --example custom_components`), run in a JSON graph, then served by one
//! instance and used as `Discount@rules` from another: the remote output equals the local.
//!
//! Run with `cargo run --example custom_components`.
#![allow(missing_docs)]

use reflow::actors::config;
use reflow::bridge::{DistributedConfig, DistributedNetwork};
use reflow::{
    Actor, ActorResult, Component, ComponentInfo, ConfigError, Context, Graph, Message, Network,
    NetworkConfig, Ports, Registry,
};
use serde::Deserialize;
use serde_json::{json, Value};

// --- A stateless component: Discount ---------------------------------------------------

/// Takes `percent` off the `amount` of each order on `in`; an order without a numeric
/// `amount` goes to `rejected`, unchanged.
pub struct Discount {
    percent: f64,
}

/// Discount's settings, from the process metadata (`{"percent": 10}`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DiscountSettings {
    percent: f64,
}

impl Actor for Discount {
    async fn on_message(&mut self, _port: &str, msg: Message, ctx: &mut Context) -> ActorResult {
        let Some(amount) = msg.get("amount").and_then(Message::as_f64) else {
            return ctx.send("rejected", msg).await;
        };
        let discounted = amount * (100.0 - self.percent) / 100.0;
        let id = msg.get("id").cloned().unwrap_or_default();
        let order = Message::object([("id", id), ("amount", Message::Float(discounted))]);
        ctx.send("out", order).await
    }
}

impl Component for Discount {
    fn info() -> ComponentInfo {
        ComponentInfo::new(
            "Discount",
            "Takes `percent` off each order's `amount`; orders without one go to `rejected`.",
            Ports::new(["in"], ["out", "rejected"]),
        )
    }

    fn from_config(settings: &Value) -> Result<Self, ConfigError> {
        let DiscountSettings { percent } = config::parse(settings)?;
        if !(0.0..=100.0).contains(&percent) {
            return Err(ConfigError::new(format!(
                "`percent` must be between 0 and 100, not {percent}"
            )));
        }
        Ok(Discount { percent })
    }
}

// --- A stateful component: RunningTotal --------------------------------------------------

/// Adds up the `amount` of every order on `in` and sends `{"orders": n, "total": t}` once
/// the input has ended.
#[derive(Default)]
pub struct RunningTotal {
    orders: u64,
    total: f64,
}

impl Actor for RunningTotal {
    async fn on_message(&mut self, _port: &str, msg: Message, _ctx: &mut Context) -> ActorResult {
        self.orders += 1;
        self.total += msg.get("amount").and_then(Message::as_f64).unwrap_or(0.0);
        Ok(())
    }

    async fn on_end(&mut self, ctx: &mut Context) -> ActorResult {
        let orders = i64::try_from(self.orders).unwrap_or(i64::MAX);
        let summary = Message::object([
            ("orders", Message::Integer(orders)),
            ("total", Message::Float(self.total)),
        ]);
        ctx.send("out", summary).await
    }
}

impl Component for RunningTotal {
    fn info() -> ComponentInfo {
        ComponentInfo::new(
            "RunningTotal",
            "Sends the number of orders and the sum of their `amount` at end of stream.",
            Ports::new(["in"], ["out"]),
        )
    }

    fn from_config(settings: &Value) -> Result<Self, ConfigError> {
        config::none(settings)?;
        Ok(RunningTotal::default())
    }
}

// --- Registration beside the built-ins ----------------------------------------------------

/// The built-in components and ours.
pub fn registry() -> Registry {
    let mut registry = reflow::actors::registry();
    registry.register::<Discount>().register::<RunningTotal>();
    registry
}

// --- Use in a graph ----------------------------------------------------------------------

/// Four orders (one without an amount) through `discount` into `total`; `discount` is the
/// local component, or `Discount@rules` on another instance.
fn graph(discount: &str) -> Graph {
    let graph = json!({
        "processes": {
            "orders": {"component": "Range", "metadata": {"start": 1, "end": 5}},
            "shape": {"component": "Map", "metadata": {"expr": "fact == 3 ? {'id': fact} : {'id': fact, 'amount': fact * 100}"}},
            "discount": {"component": discount, "metadata": if discount == "Discount" { json!({"percent": 10}) } else { json!({}) }},
            "total": {"component": "RunningTotal"},
            "print": {"component": "Console"}
        },
        "connections": [
            {"src": {"process": "orders", "port": "out"}, "tgt": {"process": "shape", "port": "in"}},
            {"src": {"process": "shape", "port": "out"}, "tgt": {"process": "discount", "port": "in"}},
            {"src": {"process": "discount", "port": "out"}, "tgt": {"process": "total", "port": "in"}},
            {"src": {"process": "discount", "port": "rejected"}, "tgt": {"process": "print", "port": "in"}},
            {"src": {"process": "total", "port": "out"}, "tgt": {"process": "print", "port": "in"}}
        ]
    });
    Graph::from_json_str(&graph.to_string()).unwrap_or_else(|problems| panic!("{problems}"))
}

// --- Export and remote use ---------------------------------------------------------------

const TOKEN: &str = "guide-token";

fn bridge(network: &str) -> DistributedConfig {
    let mut config = DistributedConfig::new(network);
    config.auth_token = Some(TOKEN.into());
    config
}

/// An instance of network `rules` that exports `Discount` (10 %), on an ephemeral port.
async fn rules() -> anyhow::Result<DistributedNetwork> {
    let mut config = bridge("rules");
    config.bind = Some("127.0.0.1:0".parse()?);
    let mut rules = DistributedNetwork::new(config, registry())?;
    rules
        .network_mut()?
        .add_node("Discount", "Discount", json!({"percent": 10}))?;
    rules.export("Discount", Value::Null)?;
    rules.start().await?;
    Ok(rules)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    println!("local: the graph with Discount in this process");
    let local = Network::from_graph(&graph("Discount"), registry(), NetworkConfig::default())?;
    let report = local.start()?.wait().await;
    anyhow::ensure!(report.is_success(), "{report:?}");

    println!("remote: the same graph with Discount@rules, served by another instance");
    let rules = rules().await?;
    let addr = rules
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let mut client = DistributedNetwork::new(bridge("shop"), registry())?;
    client.connect_to_network(&addr).await?;
    client.add_graph(&graph("Discount@rules")).await?;
    client.start().await?;
    let report = client.wait().await;
    anyhow::ensure!(report.is_success(), "{report:?}");
    client.shutdown().await;
    rules.shutdown().await;
    Ok(())
}

// --- A test with the test kit --------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use reflow::testing::{config_error_in, msgs, run_in};

    #[tokio::test]
    async fn discount_takes_its_percent_off_and_rejects_orders_without_an_amount() {
        let inputs = msgs([json!({"id": 1, "amount": 200}), json!({"id": 2})]);
        let inputs = inputs.into_iter().map(|m| ("in", m)).collect();
        let outcome = run_in(registry(), "Discount", json!({"percent": 25}), inputs).await;
        assert!(outcome.report.is_success());
        assert_eq!(outcome.json("out"), [json!({"id": 1, "amount": 150.0})]);
        assert_eq!(outcome.json("rejected"), [json!({"id": 2})]);
    }

    #[tokio::test]
    async fn running_total_sends_its_sum_at_the_end() {
        let inputs = msgs([json!({"amount": 1.5}), json!({"amount": 2})]);
        let inputs = inputs.into_iter().map(|m| ("in", m)).collect();
        let outcome = run_in(registry(), "RunningTotal", Value::Null, inputs).await;
        assert_eq!(outcome.json("out"), [json!({"orders": 2, "total": 3.5})]);
    }

    #[test]
    fn a_bad_percent_is_a_clear_configuration_error() {
        let err = config_error_in(&registry(), "Discount", json!({"percent": 150}));
        assert_eq!(err, "`percent` must be between 0 and 100, not 150");
        let err = config_error_in(&registry(), "Discount", json!({"percnt": 10}));
        assert!(err.contains("unknown field `percnt`"), "{err}");
    }
}
