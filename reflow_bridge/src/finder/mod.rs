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
use dialer::Dialer;
use http::{request, Endpoint};

mod dialer;
mod http;
pub(crate) mod mdns;

/// How long one registry request may take.
const REQUEST_DEADLINE: Duration = Duration::from_secs(5);

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
    /// The address peers dial, when this instance serves links.
    advertise: Option<String>,
    dialer: Arc<Dialer>,
}

impl Finder {
    /// Parses the endpoints and starts the client.
    pub(crate) fn start(
        hub: Arc<Hub>,
        urls: &[String],
        advertise: Option<String>,
    ) -> Result<Self, crate::BridgeError> {
        let endpoints = urls
            .iter()
            .map(|url| Endpoint::parse(url).map_err(crate::BridgeError::Config))
            .collect::<Result<Vec<_>, _>>()?;
        let dialer = Dialer::new(hub.clone(), advertise.is_some(), RETRY_AFTER, "discovery");
        let shared = Arc::new(Shared {
            hub,
            endpoints,
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
        let path = format!("/v1/instances/{}", self.shared.hub.me.instance_id);
        for endpoint in &self.shared.endpoints {
            let token = self.shared.hub.config.discovery_token.as_deref();
            let answer = request(
                endpoint,
                Method::DELETE,
                &path,
                None,
                token,
                REQUEST_DEADLINE,
            );
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
        match list(endpoint).await {
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
    let token = shared.hub.config.discovery_token.as_deref();
    let (status, answer) = request(
        endpoint,
        Method::POST,
        "/v1/instances",
        Some(body),
        token,
        REQUEST_DEADLINE,
    )
    .await?;
    if status / 100 != 2 {
        return Err(format!(
            "{endpoint}: {status} {}",
            String::from_utf8_lossy(&answer)
        ));
    }
    Ok(())
}

async fn list(endpoint: &Endpoint) -> Result<Vec<InstanceRecord>, String> {
    let path = "/v1/instances";
    let (status, answer) =
        request(endpoint, Method::GET, path, None, None, REQUEST_DEADLINE).await?;
    if status != 200 {
        return Err(format!(
            "{endpoint}: {status} {}",
            String::from_utf8_lossy(&answer)
        ));
    }
    let list: InstanceList = serde_json::from_slice(&answer)
        .map_err(|e| format!("{endpoint}: unreadable instance list: {e}"))?;
    Ok(list.instances.into_iter().map(|l| l.record).collect())
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
