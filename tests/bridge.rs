//! The NetworkBridge: links, proxies, sessions, TLS, hostile input and faults, over real sockets.
//! One test binary for several files (they are modules here): each integration-test binary
//! links the whole runtime, so one per file filled the disk and the link time of CI.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

#[path = "bridge_differential.rs"]
mod bridge_differential;
#[path = "bridge_failover.rs"]
mod bridge_failover;
#[path = "bridge_faults.rs"]
mod bridge_faults;
#[path = "bridge_hostile.rs"]
mod bridge_hostile;
#[path = "bridge_isolation.rs"]
mod bridge_isolation;
#[path = "bridge_links.rs"]
mod bridge_links;
#[path = "bridge_proxy.rs"]
mod bridge_proxy;
#[path = "bridge_proxy_modes.rs"]
mod bridge_proxy_modes;
#[path = "bridge_remote_failures.rs"]
mod bridge_remote_failures;
#[path = "bridge_routing.rs"]
mod bridge_routing;
#[path = "bridge_session_flow.rs"]
mod bridge_session_flow;
#[path = "bridge_sessions.rs"]
mod bridge_sessions;
#[path = "bridge_tls.rs"]
mod bridge_tls;
#[path = "cli_distributed.rs"]
mod cli_distributed;
#[path = "cli_harness.rs"]
mod cli_harness;
#[path = "cli_signals.rs"]
mod cli_signals;
#[path = "fault_proxy.rs"]
mod fault_proxy;
