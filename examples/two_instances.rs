//! Two reflow instances in one process, joined by the bridge over real sockets on 127.0.0.1.
//!
//! Instance B (network `validation`) serves links and exports `check`, a `Rule` that flags
//! orders of at least 100. Instance A (network `producer`) dials B, registers
//! `check@validation` as a local process and sends it five orders; what the rule emits
//! comes back across the link and is printed here. Then both print their status and shut
//! down.
//!
//! Run with `cargo run --example two_instances`.
#![allow(missing_docs)]

use reflow::bridge::{DistributedConfig, DistributedNetwork};
use reflow::{Actor, ActorResult, Context, Message, Ports};
use serde_json::json;

/// The secret both instances share; a real deployment reads it from the environment.
const TOKEN: &str = "demo-token";

/// Prints what arrives on each inport, labelled with the port.
struct Printer;

impl Printer {
    fn ports() -> Ports {
        Ports::new(["matched", "unmatched"], Vec::<String>::new())
    }
}

impl Actor for Printer {
    async fn on_message(&mut self, port: &str, msg: Message, _ctx: &mut Context) -> ActorResult {
        println!("  A <- {port:<9} {msg}");
        Ok(())
    }
}

fn config(network: &str) -> DistributedConfig {
    let mut config = DistributedConfig::new(network);
    config.auth_token = Some(TOKEN.into());
    config
}

/// B: serves on an ephemeral port and exports the rule `check`.
async fn validator() -> anyhow::Result<DistributedNetwork> {
    let mut config = config("validation");
    config.bind = Some("127.0.0.1:0".parse()?);
    let mut b = DistributedNetwork::new(config, reflow::actors::registry())?;
    b.network_mut()?.add_node(
        "check",
        "Rule",
        json!({
            "when": "fact.amount >= 100",
            "emit": {"id": "fact.id", "amount": "fact.amount", "verdict": "'large'"}
        }),
    )?;
    b.export("check", json!({"version": 1}))?;
    b.start().await?;
    Ok(b)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let b = validator().await?;
    let addr = b.local_addr().map(|a| a.to_string()).unwrap_or_default();
    println!("B: network `validation` listening on {addr}, exporting `check`");

    let mut a = DistributedNetwork::new(config("producer"), reflow::actors::registry())?;
    let peer = a.connect_to_network(&addr).await?;
    println!(
        "A: linked to network `{}` (instance {})",
        peer.network_id, peer.instance_id
    );
    let check = a.register_remote_actor("check", "validation").await?;
    println!("A: `check@validation` is the local process `{check}`");

    let net = a.network_mut()?;
    net.add_node("numbers", "Range", json!({"start": 1, "end": 6}))?;
    net.add_node(
        "orders",
        "Map",
        json!({"expr": {"id": "fact", "amount": "fact * 40"}}),
    )?;
    net.add_actor("print", Printer, Printer::ports())?;
    net.add_connection(("numbers", "out"), ("orders", "in"))?;
    net.add_connection(("orders", "out"), (check.as_str(), "in"))?;
    net.add_connection((check.as_str(), "matched"), ("print", "matched"))?;
    net.add_connection((check.as_str(), "unmatched"), ("print", "unmatched"))?;

    println!("A: sending orders of 40, 80, 120, 160, 200 through `{check}`");
    a.start().await?;
    let report = a.wait().await;
    anyhow::ensure!(report.is_success(), "A failed: {report:?}");
    println!("A: done, every order came back");

    println!("\nA's bridge status (what GET /status serves on an instance that binds):");
    println!("{}", serde_json::to_string_pretty(&a.bridge_status())?);
    println!("\nB's bridge status (GET /status on {addr}):");
    println!("{}", serde_json::to_string_pretty(&b.bridge_status())?);

    a.shutdown().await;
    let report = b.shutdown().await;
    anyhow::ensure!(report.is_success(), "B failed: {report:?}");
    println!("\nboth instances shut down");
    Ok(())
}
