//! The discovery registry: configuration, the running server, and its parts (`records`, the
//! JSON types; `store`, the entries with their deadlines; `api`, the HTTP handlers).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::error::BridgeError;

mod api;
mod records;
mod store;

pub(crate) use records::check_instance_id;
pub use records::{ActorRecord, InstanceList, InstanceRecord, ListedInstance};

/// How the registry runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryConfig {
    /// When set, `POST` and `DELETE` need `Authorization: Bearer TOKEN`; reads stay open.
    pub token: Option<String>,
    /// TTL of a registration that names none (30 s).
    pub default_ttl: Duration,
    /// Shortest TTL granted, at least a second; a shorter one asked for (`ttl_secs: 0`
    /// included) is raised to it (1 s).
    pub min_ttl: Duration,
    /// Longest TTL granted; a longer one asked for is clamped (300 s).
    pub max_ttl: Duration,
    /// Most instances held at once; registering one more fails with 507 (10 000).
    pub max_entries: usize,
    /// Largest request body; a larger one fails with 413 (64 KiB).
    pub max_body_bytes: usize,
    /// How long one request may take, reading its body included, before a 408 (10 s).
    pub request_timeout: Duration,
    /// Entries on a page of the list when the query names no `limit` (100).
    pub default_page_size: usize,
    /// Most entries on a page of the list; a larger `limit` is lowered to it (1 000).
    pub max_page_size: usize,
    /// Most bytes of entry JSON on a page of the list, whatever the `limit`; a page holds
    /// at least one entry even when that entry alone is larger (1 MiB).
    pub max_page_bytes: usize,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            token: None,
            default_ttl: Duration::from_secs(30),
            min_ttl: Duration::from_secs(1),
            max_ttl: Duration::from_secs(300),
            max_entries: 10_000,
            max_body_bytes: 64 << 10,
            request_timeout: Duration::from_secs(10),
            default_page_size: 100,
            max_page_size: 1_000,
            max_page_bytes: 1 << 20,
        }
    }
}

impl RegistryConfig {
    fn check(&self) -> Result<(), BridgeError> {
        let problem = if self.min_ttl < Duration::from_secs(1) {
            "the registry's minimum TTL is under a second"
        } else if self.default_ttl < self.min_ttl {
            "the registry's default TTL is shorter than its minimum TTL"
        } else if self.default_ttl > self.max_ttl {
            "the registry's default TTL is longer than its maximum TTL"
        } else if self.default_page_size == 0 || self.max_page_bytes == 0 {
            "the registry's default page size or page byte budget is zero"
        } else if self.default_page_size > self.max_page_size {
            "the registry's default page size is larger than its maximum page size"
        } else if self.max_entries == 0 {
            "the registry's max_entries is zero"
        } else if self.request_timeout.is_zero() {
            "the registry's request timeout is zero"
        } else if self.token.as_deref() == Some("") {
            "the registry's writer token is empty"
        } else {
            return Ok(());
        };
        Err(BridgeError::Config(problem.into()))
    }
}

/// The discovery registry's server: an HTTP service where instances register, renew and
/// deregister, and where anyone may list them. Its state is in memory only. (Named apart
/// from [`Registry`](reflow_network::Registry), the registry of components.)
#[derive(Debug)]
pub struct DiscoveryServer;

impl DiscoveryServer {
    /// Binds `bind` (port 0 picks a free one) and serves the registry on a task until
    /// [`RunningRegistry::stop`] or the handle is dropped.
    pub async fn serve(
        config: RegistryConfig,
        bind: SocketAddr,
    ) -> Result<RunningRegistry, BridgeError> {
        config.check()?;
        let listener = TcpListener::bind(bind)
            .await
            .map_err(|source| BridgeError::Io {
                context: format!("cannot bind the discovery registry to {bind}"),
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| BridgeError::Io {
            context: "cannot read the discovery registry's address".into(),
            source,
        })?;
        let router = api::router(&config);
        let (shutdown, stopped) = oneshot::channel::<()>();
        // Dropping the sender also ends the wait, so a dropped handle stops the server.
        let task = tokio::spawn(async move {
            let signal = async move {
                let _ = stopped.await;
            };
            if let Err(err) = crate::http::serve(listener, router, signal).await {
                tracing::warn!(%err, "discovery registry stopped serving");
            }
        });
        tracing::debug!(%local_addr, "discovery registry serving");
        Ok(RunningRegistry {
            local_addr,
            shutdown,
            task,
        })
    }
}

/// A serving registry. Dropping it stops the server too, without waiting.
#[derive(Debug)]
pub struct RunningRegistry {
    local_addr: SocketAddr,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl RunningRegistry {
    /// The address it listens on (the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, lets open requests finish (up to a few seconds) and returns once the
    /// server is down.
    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        let _ = self.task.await;
    }
}
