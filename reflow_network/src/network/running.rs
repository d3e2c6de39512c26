//! A started network: the supervisor that turns task exits into events and a report, and
//! the handle users wait on or shut down.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::{Id, JoinError, JoinHandle, JoinSet};

use crate::activity::Activity;
use crate::actor::ActorResult;
use crate::edge::Packet;
use crate::events::{Failure, NetworkEvent, Report};
use crate::external::Injector;
use crate::instances::Instances;
use crate::process::{reached, Phase};

/// What the supervisor task owns.
pub(super) struct Supervised {
    pub(super) set: JoinSet<ActorResult>,
    pub(super) names: HashMap<Id, Arc<str>>,
    pub(super) events: broadcast::Sender<NetworkEvent>,
    pub(super) activity: Arc<Activity>,
}

/// The handles a running network keeps for its users.
pub(super) struct Handles {
    pub(super) events: broadcast::Sender<NetworkEvent>,
    pub(super) phase: watch::Sender<Phase>,
    pub(super) inboxes: Vec<(Arc<str>, mpsc::WeakSender<Packet>)>,
    pub(super) injectors: Vec<Injector>,
    pub(super) instances: Vec<Instances>,
}

/// A running network.
#[derive(Debug)]
pub struct RunningNetwork {
    injectors: Vec<Injector>,
    instances: Vec<Instances>,
    events: broadcast::Sender<NetworkEvent>,
    phase: watch::Sender<Phase>,
    supervisor: Option<JoinHandle<Report>>,
    report: Option<Report>,
    inboxes: Vec<(Arc<str>, mpsc::WeakSender<Packet>)>,
}

pub(super) fn spawn(supervised: Supervised, handles: Handles) -> RunningNetwork {
    let supervisor = tokio::spawn(supervise(supervised, handles.phase.subscribe()));
    RunningNetwork {
        injectors: handles.injectors,
        instances: handles.instances,
        events: handles.events,
        phase: handles.phase,
        supervisor: Some(supervisor),
        report: None,
        inboxes: handles.inboxes,
    }
}

impl RunningNetwork {
    /// An injector into the exported process `process` (see [`Network::export`]). The
    /// network drops its own injectors when shutdown is requested, so that exported
    /// processes can drain and finish once their users drop theirs too.
    ///
    /// [`Network::export`]: crate::Network::export
    pub fn injector(&self, process: &str) -> Option<Injector> {
        self.injectors
            .iter()
            .find(|i| i.process() == process)
            .cloned()
    }

    /// What makes fresh instances of the exported process `process`, when it was built
    /// from a component (by [`Network::add_node`] or from a graph); `None` for a process
    /// added as an instance ([`Network::add_actor`]), which has no recipe.
    ///
    /// [`Network::add_node`]: crate::Network::add_node
    /// [`Network::add_actor`]: crate::Network::add_actor
    pub fn instances(&self, process: &str) -> Option<Instances> {
        self.instances
            .iter()
            .find(|i| i.process() == process)
            .cloned()
    }

    /// Subscribes to lifecycle events from now on.
    pub fn events(&self) -> broadcast::Receiver<NetworkEvent> {
        self.events.subscribe()
    }

    /// Messages waiting in the inbox of `process`, or `None` if there is no such process
    /// or it has finished.
    pub fn queue_depth(&self, process: &str) -> Option<usize> {
        let (_, weak) = self.inboxes.iter().find(|(n, _)| &**n == process)?;
        let tx = weak.upgrade()?;
        Some(tx.max_capacity() - tx.capacity())
    }

    /// Waits until every process has finished, then returns how the run went. Calling it
    /// again returns the same report.
    pub async fn wait(&mut self) -> Report {
        if let Some(handle) = self.supervisor.take() {
            self.report = Some(into_report(handle.await));
        }
        self.report.clone().unwrap_or_default()
    }

    /// Asks sources to stop without waiting; the other processes drain their inputs and
    /// finish. Use [`shutdown`](Self::shutdown) to also bound the wait.
    pub fn request_shutdown(&mut self) {
        self.injectors.clear();
        self.phase.send_if_modified(|p| {
            let running = *p == Phase::Running;
            if running {
                *p = Phase::Stopping;
            }
            running
        });
    }

    /// Graceful shutdown: sources stop, in-flight messages drain, processes finish. What is
    /// still running after `deadline` is aborted and listed in [`Report::aborted`].
    pub async fn shutdown(mut self, deadline: Duration) -> Report {
        self.request_shutdown();
        if let Some(mut handle) = self.supervisor.take() {
            let joined = match tokio::time::timeout(deadline, &mut handle).await {
                Ok(joined) => joined,
                Err(_) => {
                    let _ = self.phase.send(Phase::Abort);
                    handle.await
                }
            };
            self.report = Some(into_report(joined));
        }
        self.report.clone().unwrap_or_default()
    }
}

fn into_report(joined: Result<Report, JoinError>) -> Report {
    joined.unwrap_or_else(|err| Report {
        failures: vec![Failure {
            process: "<supervisor>".to_string(),
            error: err.to_string(),
        }],
        ..Report::default()
    })
}

async fn supervise(mut sup: Supervised, mut phase: watch::Receiver<Phase>) -> Report {
    let mut report = Report::default();
    loop {
        tokio::select! {
            joined = sup.set.join_next_with_id() => match joined {
                Some(joined) => record(&mut sup, &mut report, joined),
                None => break,
            },
            () = reached(&mut phase, Phase::Abort) => {
                sup.set.abort_all();
                while let Some(joined) = sup.set.join_next_with_id().await {
                    record(&mut sup, &mut report, joined);
                }
                break;
            }
        }
    }
    let stopped = *phase.borrow_and_update() != Phase::Running;
    let _ = sup.events.send(if stopped {
        NetworkEvent::Stopped
    } else {
        NetworkEvent::Done
    });
    report
}

fn record(sup: &mut Supervised, report: &mut Report, joined: Result<(Id, ActorResult), JoinError>) {
    let id = match &joined {
        Ok((id, _)) => *id,
        Err(err) => err.id(),
    };
    sup.activity.finished();
    let process = sup
        .names
        .remove(&id)
        .map_or_else(String::new, |n| n.to_string());
    let event = match joined {
        Ok((_, Ok(()))) => {
            report.finished.push(process.clone());
            NetworkEvent::ProcessFinished { process }
        }
        Ok((_, Err(err))) => failed(report, process, err.to_string()),
        Err(err) if err.is_cancelled() => {
            report.aborted.push(process);
            return;
        }
        Err(err) => failed(report, process, panic_message(err)),
    };
    let _ = sup.events.send(event);
}

fn failed(report: &mut Report, process: String, error: String) -> NetworkEvent {
    tracing::debug!(%process, %error, "process failed");
    report.failures.push(Failure {
        process: process.clone(),
        error: error.clone(),
    });
    NetworkEvent::ProcessFailed { process, error }
}

fn panic_message(err: JoinError) -> String {
    match err.try_into_panic() {
        Ok(payload) => crate::process::panic_text(&*payload),
        Err(err) => err.to_string(),
    }
}
