//! `reflow run` with a bridge: serve exported nodes, link to peers, use `actor@network`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context as _};
use clap::Args;
use reflow_bridge::{BridgeEvent, DistributedConfig, DistributedNetwork, TlsConfig, TlsIdentity};
use reflow_network::{Graph, NetworkConfig};

use super::interrupt::{stop_signal, Signal, Stop};
use super::run::{exit_code, log_events, Printed, RunArgs};

/// How long `--connect` keeps retrying a peer that is not up yet.
const CONNECT_PATIENCE: Duration = Duration::from_secs(15);

/// Bridge flags of `reflow run`.
#[derive(Debug, Args)]
pub(crate) struct BridgeArgs {
    /// Serve links, /health, /status and /metrics on this address (e.g. 127.0.0.1:7400);
    /// the instance then runs until Ctrl-C. Without it the instance only dials out and
    /// exits when its graph completes.
    #[arg(long, value_name = "ADDR")]
    bind: Option<SocketAddr>,
    /// The network this instance belongs to; peers use its exported nodes as `NODE@ID`.
    #[arg(long, value_name = "ID")]
    network_id: Option<String>,
    /// This instance's unique id (default: a fresh UUID).
    #[arg(long, value_name = "ID")]
    instance_id: Option<String>,
    /// Link to the instance at HOST:PORT, or at wss://HOST:PORT over TLS (needs --tls-ca)
    /// (repeatable); retried for 15 s while it starts. With several instances of one
    /// network, a graph's NODE@NETWORK uses them all, by the node's "route" metadata:
    /// round_robin (default), least_loaded, key (with "key": a CEL expression) or broadcast.
    #[arg(long = "connect", value_name = "HOST:PORT")]
    connect: Vec<String>,
    /// Register with the discovery registry at this URL (http://HOST:PORT, or https://HOST:PORT
    /// trusting --tls-ca; repeatable for
    /// redundancy: one being down is logged, not fatal) and link to the instances it lists.
    #[arg(long = "discovery", value_name = "URL")]
    discovery: Vec<String>,
    /// Seconds between two rounds of renewing this instance's record and listing the
    /// registry for new instances (its records live three times as long).
    #[arg(long, value_name = "SECONDS", default_value_t = 10, requires = "discovery",
          value_parser = clap::value_parser!(u64).range(1..=100))]
    discovery_interval: u64,
    /// Read the registry's writer token from this environment variable (when the registry
    /// was started with one).
    #[arg(long, value_name = "VAR", requires = "discovery")]
    discovery_token_env: Option<String>,
    /// The address peers should dial, as announced through discovery (default: the --bind
    /// address; give it when binding 0.0.0.0 or behind NAT).
    #[arg(long, value_name = "ADDR", requires = "discovery")]
    advertise: Option<String>,
    /// Find peers with mDNS: advertise this instance as _reflow._tcp.local. and link to the
    /// instances advertised there. Needs --bind (what it advertises is where peers dial).
    /// Multicasts on every interface of the LAN; peers still pass the authenticated
    /// handshake.
    #[arg(long, requires = "bind")]
    mdns: bool,
    /// Read the shared link token from this environment variable.
    #[arg(long, value_name = "VAR", conflicts_with = "token_file")]
    token_env: Option<String>,
    /// Read the shared link token from this file (trailing newline ignored).
    #[arg(long, value_name = "PATH")]
    token_file: Option<PathBuf>,
    /// Make this graph node usable by peers as NODE@ID (repeatable). Every client session
    /// gets a fresh instance of the node, built from its component and configuration, so a
    /// client gets exactly what the node would give it in its own graph.
    #[arg(long = "export", value_name = "NODE")]
    export: Vec<String>,
    /// Make this graph node usable by peers with one instance shared by every client
    /// session (repeatable): for nodes meant to share state across clients. Outputs go to
    /// the session that caused them; the node's end-of-stream output reaches nobody.
    #[arg(long = "export-shared", value_name = "NODE")]
    export_shared: Vec<String>,
    /// The largest message that may cross a link either way, in bytes (default 64 MiB; the
    /// smaller of the two sides' values applies). A larger one is handled by its remote
    /// node's failure_mode: `fail` fails the run, `skip` drops it and the run exits 1
    /// saying how many were skipped.
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u32).range(1024..))]
    max_message_size: Option<u32>,
    /// Serve over TLS only, with this PEM certificate chain (own certificate first); peers
    /// then dial wss://HOST:PORT, and /health, /status, /metrics are HTTPS. Needs --tls-key.
    #[arg(long, value_name = "FILE", requires_all = ["tls_key", "bind"])]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Trust the CA certificates in this PEM file when dialling wss://HOST:PORT or an
    /// https:// registry: a peer's certificate must be signed by one of them and name HOST.
    /// Needs --connect or --discovery.
    #[arg(long, value_name = "FILE")]
    tls_ca: Option<PathBuf>,
}

impl BridgeArgs {
    pub(crate) fn is_distributed(&self) -> bool {
        self.bind.is_some()
            || self.network_id.is_some()
            || !self.connect.is_empty()
            || !self.export.is_empty()
            || !self.export_shared.is_empty()
            || !self.discovery.is_empty()
            || self.mdns
    }

    fn token(&self) -> anyhow::Result<String> {
        let token = match (&self.token_env, &self.token_file) {
            (Some(var), _) => std::env::var(var).with_context(|| format!("environment variable {var} is not set"))?,
            (None, Some(path)) => std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the token file {}", path.display()))?
                .trim_end_matches(['\n', '\r'])
                .to_string(),
            (None, None) => bail!("links are authenticated: give the shared token with --token-env VAR or --token-file PATH"),
        };
        if token.is_empty() {
            bail!("the token is empty");
        }
        Ok(token)
    }

    /// Refuses a `--connect` or `--discovery` value that no retry could make work, before
    /// anything is dialled.
    fn check_addresses(&self) -> anyhow::Result<()> {
        if self.tls_ca.is_some() && self.connect.is_empty() && self.discovery.is_empty() {
            bail!(
                "--tls-ca is for dialling: give it with --connect wss://… or --discovery https://…"
            );
        }
        for peer in &self.connect {
            reflow_bridge::check_peer_address(peer).with_context(|| format!("--connect {peer}"))?;
        }
        for url in &self.discovery {
            reflow_bridge::check_registry_url(url).with_context(|| format!("--discovery {url}"))?;
        }
        Ok(())
    }

    fn tls(&self) -> TlsConfig {
        let identity = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(TlsIdentity::new(cert, key)),
            _ => None,
        };
        TlsConfig {
            identity,
            ca: self.tls_ca.clone(),
        }
    }

    fn config(&self, local: NetworkConfig) -> anyhow::Result<DistributedConfig> {
        let Some(network_id) = self.network_id.clone() else {
            bail!("--network-id is required with --bind, --connect, --discovery or --export");
        };
        self.check_addresses()?;
        let mut config = DistributedConfig::new(network_id);
        config.instance_id = self.instance_id.clone().unwrap_or_default();
        config.bind = self.bind;
        config.auth_token = Some(self.token()?);
        config.tls = self.tls();
        config.discovery_endpoints = self.discovery.clone();
        config.discovery_interval = Duration::from_secs(self.discovery_interval);
        config.advertise = self.advertise.clone();
        config.mdns = self.mdns;
        if let Some(max) = self.max_message_size {
            config.max_message_size = max as usize;
        }
        if let Some(var) = &self.discovery_token_env {
            let token = std::env::var(var)
                .with_context(|| format!("environment variable {var} is not set"))?;
            config.discovery_token = Some(token);
        }
        config.shutdown_deadline = local.shutdown_deadline;
        config.local = local;
        Ok(config)
    }
}

pub(crate) async fn run(
    args: &RunArgs,
    graph: &Graph,
    local: NetworkConfig,
) -> anyhow::Result<ExitCode> {
    let mut stop = stop_signal()?;
    let config = args.bridge.config(local)?;
    let mut dn = DistributedNetwork::new(config, reflow_actors::registry())?;
    tokio::spawn(log_peers(dn.bridge_events()));
    // Linking and resolving may take seconds (retries, waiting for exports): a signal stops it.
    let prepared = tokio::select! {
        prepared = prepare(args, graph, &mut dn) => prepared,
        signal = &mut stop => {
            eprintln!("{} before the graph started: shutting down", signal.name());
            dn.shutdown().await;
            return Ok(signal.exit_code());
        }
    };
    if let Some(code) = prepared? {
        return Ok(code);
    }
    let printed = Printed::default();
    if let Some(events) = dn.events() {
        tokio::spawn(log_events(events, printed.clone()));
    }
    dn.start().await?;
    let interrupted = run_until_done(&mut dn, args.bridge.bind.is_some(), stop).await;
    let skipped = dn.skipped();
    let report = dn.shutdown().await;
    let code = exit_code(&report, &printed);
    let code = match interrupted {
        Some(signal) if report.is_success() => signal.exit_code(),
        _ => code,
    };
    Ok(with_skips(code, &skipped))
}

/// Waits until a client's graph completes, or a signal stops it first (returned: the run did
/// not complete). A server runs until a signal, which is its normal end.
async fn run_until_done(
    dn: &mut DistributedNetwork,
    serving: bool,
    mut stop: Stop,
) -> Option<Signal> {
    if serving {
        let signal = stop.await;
        eprintln!("{}: shutting down", signal.name());
        return None;
    }
    tokio::select! {
        _ = dn.wait() => None,
        signal = &mut stop => {
            eprintln!("{}: shutting down", signal.name());
            Some(signal)
        }
    }
}

/// Says what remote nodes in `skip` mode gave up on: a run that skipped anything did not
/// deliver everything, so it exits 1 (when it would otherwise have succeeded).
fn with_skips(code: ExitCode, skipped: &[(&str, u64)]) -> ExitCode {
    if skipped.is_empty() {
        return code;
    }
    let total: u64 = skipped.iter().map(|(_, n)| n).sum();
    let detail: Vec<String> = skipped
        .iter()
        .map(|(why, n)| format!("{why}: {n}"))
        .collect();
    eprintln!(
        "error: remote nodes in skip mode skipped {total} message(s) or replies ({})",
        detail.join(", ")
    );
    if code == ExitCode::SUCCESS {
        ExitCode::FAILURE
    } else {
        code
    }
}

/// Reports links going up and down on stderr.
async fn log_peers(mut events: tokio::sync::broadcast::Receiver<BridgeEvent>) {
    loop {
        match events.recv().await {
            Ok(BridgeEvent::PeerUp {
                network_id,
                instance_id,
            }) => {
                eprintln!("reflow: peer `{network_id}` (instance {instance_id}) up");
            }
            Ok(BridgeEvent::PeerDown {
                network_id,
                instance_id,
                reason,
            }) => {
                eprintln!("reflow: peer `{network_id}` (instance {instance_id}) down: {reason}");
            }
            Ok(BridgeEvent::LinkResumed {
                network_id,
                instance_id,
                replayed,
            }) => {
                eprintln!(
                    "reflow: peer `{network_id}` (instance {instance_id}) resumed, {replayed} messages sent again"
                );
            }
            Ok(BridgeEvent::MessagesLost {
                network_id,
                instance_id,
                count,
                reason,
            }) => {
                eprintln!(
                    "reflow: {count} messages to peer `{network_id}` (instance {instance_id}) lost: {reason}"
                );
            }
            Ok(BridgeEvent::MessagesResent {
                process,
                instance_id,
                count,
                duplicates,
            }) => {
                let s = if count == 1 { "" } else { "s" };
                eprintln!(
                    "reflow: process `{process}`: instance {instance_id} lost; {count} message{s} sent again to the other instances, {duplicates} duplicated in the output"
                );
            }
            Ok(BridgeEvent::BreakerChanged {
                process,
                instance_id,
                state,
            }) => {
                eprintln!("reflow: process `{process}`: circuit breaker of instance {instance_id} {state}");
            }
            Ok(_) => {}
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(missed = n, "peer event log lagged");
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
        }
    }
}

/// Everything before the graph starts: listen (and say where), link to `--connect` peers,
/// start discovery, add the graph (resolving its remote nodes) and the exports. `Some`
/// exit code when the graph cannot run.
async fn prepare(
    args: &RunArgs,
    graph: &Graph,
    dn: &mut DistributedNetwork,
) -> anyhow::Result<Option<ExitCode>> {
    let bridge = &args.bridge;
    if let Some(addr) = dn.listen().await? {
        // Over TLS the address is given as peers dial it.
        let scheme = if bridge.tls_cert.is_some() {
            "wss://"
        } else {
            ""
        };
        eprintln!(
            "reflow: network `{}` (instance {}) listening on {scheme}{addr}",
            dn.network_id(),
            dn.instance_id()
        );
    }
    for peer in &bridge.connect {
        let info = connect_patiently(dn, peer).await?;
        eprintln!(
            "reflow: linked to network `{}` (instance {}) at {peer}",
            info.network_id, info.instance_id
        );
    }
    if !bridge.discovery.is_empty() {
        dn.start_discovery().await?;
        eprintln!(
            "reflow: discovering peers through {}",
            bridge.discovery.join(", ")
        );
    }
    if bridge.mdns {
        dn.start_discovery().await?;
        eprintln!("reflow: discovering peers with mDNS (_reflow._tcp.local.)");
    }
    if let Err(err) = dn.add_graph(graph).await {
        eprintln!("{}: {}", args.graph.display(), err.to_string().trim_end());
        return Ok(Some(ExitCode::from(2)));
    }
    for node in &bridge.export {
        dn.export(node, serde_json::Value::Null)
            .with_context(|| format!("cannot export `{node}`"))?;
    }
    for node in &bridge.export_shared {
        dn.export_shared(node, serde_json::Value::Null)
            .with_context(|| format!("cannot export `{node}`"))?;
    }
    Ok(None)
}

/// Dials `peer`, retrying while it is not reachable yet; an authentication, TLS or protocol
/// refusal is final.
async fn connect_patiently(
    dn: &DistributedNetwork,
    peer: &str,
) -> anyhow::Result<reflow_bridge::PeerInfo> {
    dn.connect_with_retry(peer, CONNECT_PATIENCE)
        .await
        .with_context(|| format!("cannot link to {peer}"))
}
