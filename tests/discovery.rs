//! Discovery: the HTTP registry, its command and instances that find each other through it.
//! One test binary for several files (they are modules here): each integration-test binary
//! links the whole runtime, so one per file filled the disk and the link time of CI.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

#[path = "cli_discovery.rs"]
mod cli_discovery;
#[path = "discovery_instances.rs"]
mod discovery_instances;
#[path = "discovery_limits.rs"]
mod discovery_limits;
#[path = "discovery_registry.rs"]
mod discovery_registry;
