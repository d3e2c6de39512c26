//! mDNS discovery (`--mdns`): advertises this instance as `_reflow._tcp.local.` (instance
//! name = instance id, TXT `network_id`, `instance_id`, `version`, `scheme`), browses the
//! same service type and dials the instances it resolves. mDNS has no authentication: it
//! only proposes addresses, and every peer still passes the authenticated handshake.
//! Departures come from the links, never from mDNS (a killed registrant lingers until its
//! record TTL runs out).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use mdns_sd::{IfKind, ServiceDaemon, ServiceEvent, ServiceInfo};
use tokio::task::JoinHandle;

use super::dialer::Dialer;
use crate::hub::Hub;
use crate::protocol::PROTOCOL_VERSION;
use crate::BridgeError;

/// The advertised and browsed service type.
pub(crate) const SERVICE_TYPE: &str = "_reflow._tcp.local.";

/// How long an instance that could not be linked is left alone before the next attempt.
const RETRY_AFTER: Duration = Duration::from_secs(30);

/// How long shutting the daemon down may take.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(2);

/// A running mDNS advertiser and browser.
pub(crate) struct Mdns {
    daemon: ServiceDaemon,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for Mdns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mdns").finish_non_exhaustive()
    }
}

/// What a resolved advertisement proposes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Proposal {
    instance_id: String,
    address: String,
}

impl Mdns {
    /// Starts the daemon, advertises this instance when it serves links on `listening`
    /// (with `scheme` `ws` or `wss`), and browses for the others.
    pub(crate) fn start(
        hub: Arc<Hub>,
        listening: Option<SocketAddr>,
        scheme: &str,
    ) -> Result<Self, BridgeError> {
        let daemon = ServiceDaemon::new().map_err(|e| mdns_error("cannot start the daemon", e))?;
        if listening.is_some_and(|addr| addr.ip().is_loopback()) {
            // Peers can only reach a loopback listener through loopback.
            daemon
                .disable_interface(IfKind::All)
                .and_then(|()| daemon.enable_interface(IfKind::LoopbackV4))
                .map_err(|e| mdns_error("cannot select the loopback interface", e))?;
        }
        if let Some(addr) = listening {
            let info = advertisement(&hub, addr, scheme)?;
            daemon
                .register(info)
                .map_err(|e| mdns_error("cannot advertise", e))?;
        }
        let events = daemon
            .browse(SERVICE_TYPE)
            .map_err(|e| mdns_error("cannot browse", e))?;
        let dialer = Dialer::new(hub, listening.is_some(), RETRY_AFTER, "mdns");
        let task = tokio::spawn(async move {
            while let Ok(event) = events.recv_async().await {
                if let ServiceEvent::ServiceResolved(info) = event {
                    handle(&dialer, &info);
                }
            }
        });
        Ok(Mdns { daemon, task })
    }

    /// Stops browsing and shuts the daemon down (best effort).
    pub(crate) async fn stop(self) {
        self.task.abort();
        match self.daemon.shutdown() {
            Ok(status) => {
                let done = tokio::time::timeout(SHUTDOWN_DEADLINE, status.recv_async());
                if done.await.is_err() {
                    tracing::debug!("mdns: the daemon did not confirm its shutdown");
                }
            }
            Err(err) => tracing::debug!("mdns: shutting down: {err}"),
        }
    }
}

fn mdns_error(step: &str, err: mdns_sd::Error) -> BridgeError {
    BridgeError::Config(format!("mdns: {step}: {err}"))
}

/// The record this instance advertises.
fn advertisement(hub: &Hub, addr: SocketAddr, scheme: &str) -> Result<ServiceInfo, BridgeError> {
    let me = &hub.me;
    let host: String = me
        .instance_id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let properties: HashMap<String, String> = [
        ("network_id", me.network_id.clone()),
        ("instance_id", me.instance_id.clone()),
        ("version", PROTOCOL_VERSION.to_string()),
        ("scheme", scheme.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let ip = if addr.ip().is_unspecified() {
        String::new()
    } else {
        addr.ip().to_string()
    };
    let info = ServiceInfo::new(
        SERVICE_TYPE,
        &me.instance_id,
        &format!("{host}.local."),
        ip.as_str(),
        addr.port(),
        properties,
    )
    .map_err(|e| mdns_error("invalid advertisement", e))?;
    // Bound to every address: advertise the addresses of the interfaces.
    Ok(if addr.ip().is_unspecified() {
        info.enable_addr_auto()
    } else {
        info
    })
}

/// Dials what a resolved advertisement proposes, when it should (repeats are harmless).
fn handle(dialer: &Arc<Dialer>, info: &ServiceInfo) {
    if let Some(Proposal {
        instance_id,
        address,
    }) = proposal(info)
    {
        if dialer.should_dial(&instance_id) {
            dialer.dial(instance_id, address);
        }
    }
}

/// The instance id and address of an advertisement of our protocol version, if it has one.
fn proposal(info: &ServiceInfo) -> Option<Proposal> {
    let version = info.get_property_val_str("version")?;
    if version != PROTOCOL_VERSION.to_string() {
        tracing::debug!(name = info.get_fullname(), version, "mdns: other version");
        return None;
    }
    let instance_id = info.get_property_val_str("instance_id")?.to_string();
    let scheme = match info.get_property_val_str("scheme") {
        Some("wss") => "wss",
        Some("ws") | None => "ws",
        Some(_) => return None,
    };
    let addresses = info.get_addresses();
    // IPv4 first, the smallest for a stable choice.
    let ip = addresses
        .iter()
        .filter(|ip| ip.is_ipv4())
        .min()
        .or_else(|| addresses.iter().min())?;
    let host = match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    };
    let address = format!("{scheme}://{host}:{}", info.get_port());
    Some(Proposal {
        instance_id,
        address,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(properties: &[(&str, &str)], ip: &str) -> ServiceInfo {
        let properties: HashMap<String, String> = properties
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        ServiceInfo::new(SERVICE_TYPE, "peer", "peer.local.", ip, 7000, properties)
            .expect("a valid record")
    }

    #[test]
    fn a_proposal_prefers_ipv4_and_keeps_the_scheme() {
        let version = PROTOCOL_VERSION.to_string();
        let props = [
            ("instance_id", "peer"),
            ("version", version.as_str()),
            ("scheme", "wss"),
        ];
        let found = proposal(&info(&props, "::1,127.0.0.1"));
        assert_eq!(
            found,
            Some(Proposal {
                instance_id: "peer".into(),
                address: "wss://127.0.0.1:7000".into()
            })
        );
        let v6 = proposal(&info(&props, "::1")).map(|p| p.address);
        assert_eq!(v6.as_deref(), Some("wss://[::1]:7000"));
    }

    #[test]
    fn other_versions_schemes_and_incomplete_records_are_ignored() {
        let props = [("instance_id", "peer"), ("version", "999")];
        assert_eq!(proposal(&info(&props, "127.0.0.1")), None);
        let version = PROTOCOL_VERSION.to_string();
        let props = [("instance_id", "peer"), ("version", version.as_str())];
        assert_eq!(proposal(&info(&props, "")), None, "no address");
        let props = [("version", version.as_str())];
        assert_eq!(proposal(&info(&props, "127.0.0.1")), None, "no id");
        let props = [
            ("instance_id", "peer"),
            ("version", version.as_str()),
            ("scheme", "http"),
        ];
        assert_eq!(proposal(&info(&props, "127.0.0.1")), None);
    }
}
