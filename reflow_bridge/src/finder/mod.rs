//! The discovery client: registers this instance (its address and exported actors) with
//! every registry endpoint, renews on a schedule, lists the instances there and dials the
//! ones it has no link to. Discovery only proposes addresses: every peer still passes the
//! authenticated handshake. One endpoint down is logged, not fatal; departures come from
//! the links (a peer that leaves deregisters and its link closes), never from the list.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::Method;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::discovery::{ActorRecord, InstanceList, InstanceRecord};
use crate::hub::Hub;
use crate::BridgeError;
use dialer::Dialer;
use http::{encode, Client, Endpoint};
use tls::TlsClient;

mod dialer;
mod http;

pub use http::check_registry_url;
pub(crate) mod mdns;
mod tls;

/// Entries asked for per page of a registry's list (the registry may give fewer).
const PAGE_LIMIT: usize = 1_000;

/// Most pages read from one registry in one round, so that a registry whose list never
/// ends cannot keep the client listing forever.
const MAX_PAGES: usize = 1_000;

/// How long an instance that could not be linked is left alone before the next attempt.
const RETRY_AFTER: Duration = Duration::from_secs(60);

/// A running discovery client.
#[derive(Debug)]
pub(crate) struct Finder {
    task: JoinHandle<()>,
    refresh: Arc<Notify>,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    hub: Arc<Hub>,
    endpoints: Vec<Endpoint>,
    client: Client,
    /// The address peers dial, when this instance serves links.
    advertise: Option<String>,
    dialer: Arc<Dialer>,
}

impl Finder {
    /// Parses the endpoints, loads the CA for `https://` ones, checks that this instance's
    /// id can be registered when it will register, and starts the client.
    pub(crate) fn start(
        hub: Arc<Hub>,
        urls: &[String],
        advertise: Option<String>,
    ) -> Result<Self, BridgeError> {
        let endpoints = urls
            .iter()
            .map(|url| Endpoint::parse(url).map_err(BridgeError::Config))
            .collect::<Result<Vec<_>, _>>()?;
        if advertise.is_some() {
            crate::discovery::check_instance_id(&hub.me.instance_id).map_err(|err| {
                BridgeError::Config(format!(
                    "this instance cannot register for discovery: {err}"
                ))
            })?;
        }
        let client = Client {
            tls: tls_client(&hub, &endpoints)?,
            token: hub.config.discovery_token.clone(),
        };
        let dialer = Dialer::new(hub.clone(), advertise.is_some(), RETRY_AFTER, "discovery");
        let shared = Arc::new(Shared {
            hub,
            endpoints,
            client,
            advertise,
            dialer,
        });
        let refresh = Arc::new(Notify::new());
        let task = tokio::spawn(run(shared.clone(), refresh.clone()));
        Ok(Finder {
            task,
            refresh,
            shared,
        })
    }

    /// Registers again and lists now (after exports changed), not at the next interval.
    pub(crate) fn refresh(&self) {
        self.refresh.notify_one();
    }

    /// Runs `wait`, refreshing after 250 ms and then at pauses that double up to 2 s, until
    /// it completes: for someone waiting on what the registries may know by now.
    pub(crate) async fn refreshing_while<T>(&self, wait: impl Future<Output = T>) -> T {
        tokio::pin!(wait);
        let mut pause = Duration::from_millis(250);
        loop {
            tokio::select! {
                out = &mut wait => return out,
                () = tokio::time::sleep(pause) => {
                    self.refresh();
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    /// Stops renewing and deregisters from every endpoint (best effort).
    pub(crate) async fn stop(self) {
        self.task.abort();
        if self.shared.advertise.is_none() {
            return;
        }
        let path = format!("/v1/instances/{}", encode(&self.shared.hub.me.instance_id));
        for endpoint in &self.shared.endpoints {
            let answer = self
                .shared
                .client
                .request(endpoint, Method::DELETE, &path, None);
            if let Err(err) = answer.await {
                tracing::debug!("deregistering: {err}");
            }
        }
    }
}

async fn run(shared: Arc<Shared>, refresh: Arc<Notify>) {
    let every = shared
        .hub
        .config
        .discovery_interval
        .max(Duration::from_millis(10));
    loop {
        round(&shared).await;
        shared.hub.metrics.discovery_rounds.inc();
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = refresh.notified() => {}
        }
    }
}

/// One round: register with every endpoint, list them all, dial what is new.
async fn round(shared: &Arc<Shared>) {
    if let Some(address) = &shared.advertise {
        let record = record(&shared.hub, address);
        for endpoint in &shared.endpoints {
            if let Err(err) = register(shared, endpoint, &record).await {
                tracing::warn!("discovery: cannot register: {err}");
            }
        }
    }
    let mut seen = HashMap::new();
    for endpoint in &shared.endpoints {
        match list(&shared.client, endpoint).await {
            Ok(instances) => {
                for instance in instances {
                    seen.entry(instance.instance_id.clone()).or_insert(instance);
                }
            }
            Err(err) => tracing::warn!("discovery: cannot list: {err}"),
        }
    }
    // A stale entry may share its address with a live one: one dial per address.
    let mut addresses = std::collections::HashSet::new();
    for instance in seen.into_values() {
        if should_dial(shared, &instance) && addresses.insert(instance.address.clone()) {
            shared.dialer.dial(instance.instance_id, instance.address);
        }
    }
}

/// Whether to dial a listed instance: what the dialler says, and not a stale entry of an
/// earlier process at our own address.
fn should_dial(shared: &Shared, instance: &InstanceRecord) -> bool {
    shared.advertise.as_ref() != Some(&instance.address)
        && shared.dialer.should_dial(&instance.instance_id)
}

async fn register(
    shared: &Shared,
    endpoint: &Endpoint,
    record: &InstanceRecord,
) -> Result<(), String> {
    let body = serde_json::to_vec(record).map_err(|e| e.to_string())?;
    let (status, answer) = shared
        .client
        .request(endpoint, Method::POST, "/v1/instances", Some(body))
        .await?;
    if status / 100 != 2 {
        return Err(format!(
            "{endpoint}: {status} {}",
            String::from_utf8_lossy(&answer)
        ));
    }
    Ok(())
}

/// Every instance the registry at `endpoint` lists, following its pages.
async fn list(client: &Client, endpoint: &Endpoint) -> Result<Vec<InstanceRecord>, String> {
    let mut found = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page = list_page(client, endpoint, after.as_deref()).await?;
        found.extend(page.instances.into_iter().map(|l| l.record));
        match page.next {
            None => return Ok(found),
            // Pages are in instance id order: a cursor that does not advance would loop.
            Some(next) if after.as_ref().is_some_and(|after| next <= *after) => {
                return Err(format!(
                    "{endpoint}: the list's `next` went back to `{next}`"
                ))
            }
            next => after = next,
        }
    }
    Err(format!(
        "{endpoint}: the list has more than {MAX_PAGES} pages"
    ))
}

/// The page of the list after `after`.
async fn list_page(
    client: &Client,
    endpoint: &Endpoint,
    after: Option<&str>,
) -> Result<InstanceList, String> {
    let mut path = format!("/v1/instances?limit={PAGE_LIMIT}");
    if let Some(after) = after {
        path.push_str(&format!("&after={}", encode(after)));
    }
    let (status, answer) = client.request(endpoint, Method::GET, &path, None).await?;
    if status != 200 {
        return Err(format!(
            "{endpoint}: {status} {}",
            String::from_utf8_lossy(&answer)
        ));
    }
    serde_json::from_slice(&answer)
        .map_err(|e| format!("{endpoint}: unreadable instance list: {e}"))
}

/// The TLS client for the `https://` endpoints, with the CA of `tls.ca`; none without one.
fn tls_client(hub: &Hub, endpoints: &[Endpoint]) -> Result<Option<TlsClient>, BridgeError> {
    let Some(secure) = endpoints.iter().find(|e| e.is_tls()) else {
        return Ok(None);
    };
    let Some(ca) = hub.config.tls.ca.as_deref() else {
        return Err(BridgeError::Config(format!(
            "the discovery endpoint {secure} needs the CA that signs the registry's \
             certificate (`tls.ca`, --tls-ca FILE), as wss:// does"
        )));
    };
    TlsClient::load(ca).map(Some)
}

fn record(hub: &Hub, address: &str) -> InstanceRecord {
    let actors = hub
        .export_list()
        .into_iter()
        .map(|a| ActorRecord {
            metadata: serde_json::from_str(&a.metadata).unwrap_or(serde_json::Value::Null),
            name: a.name,
            inports: a.inports,
            outports: a.outports,
        })
        .collect();
    // Entries outlive three missed renewals.
    let ttl = (hub.config.discovery_interval * 3).as_secs().max(1);
    InstanceRecord {
        network_id: hub.me.network_id.clone(),
        instance_id: hub.me.instance_id.clone(),
        incarnation: hub.me.incarnation.clone(),
        address: address.to_string(),
        actors,
        ttl_secs: Some(ttl),
    }
}
