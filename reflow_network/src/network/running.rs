//! A started network: the supervisor that turns task exits into events and a report, and
//! the handle users wait on or shut down.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::{AbortHandle, Id, JoinError, JoinHandle, JoinSet};

use crate::activity::Activity;
use crate::actor::ActorResult;
use crate::deadlock;
use crate::edge::Packet;
use crate::events::{Failure, NetworkEvent, Report};
use crate::external::Injector;
use crate::instances::Instances;
use crate::process::{reached, Phase};

/// What the supervisor task owns.
pub(super) struct Supervised {
    pub(super) set: JoinSet<ActorResult>,
    pub(super) names: HashMap<Id, Arc<str>>,
    /// Every process by index, as the activity numbers them.
    pub(super) processes: Vec<(Arc<str>, AbortHandle)>,
    /// Processes aborted because they were deadlocked, with the error to record.
    pub(super) condemned: HashMap<Id, String>,
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
            () = sup.activity.suspected() => end_deadlocks(&mut sup).await,
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
    let condemned = sup.condemned.remove(&id);
    let event = match joined {
        Ok((_, Ok(()))) => {
            report.finished.push(process.clone());
            NetworkEvent::ProcessFinished { process }
        }
        Ok((_, Err(err))) => failed(report, process, err.to_string()),
        Err(err) if err.is_cancelled() => match condemned {
            Some(error) => {
                report.deadlocked.push(process.clone());
                failed(report, process, error)
            }
            None => {
                report.aborted.push(process);
                return;
            }
        },
        Err(err) => failed(report, process, panic_message(err)),
    };
    let _ = sup.events.send(event);
}

/// Confirms the cycles of blocked processes the activity suspects, reports them, and
/// aborts their processes, which are then recorded as failed. Aborting one closes its inbox,
/// which releases the processes blocked on it from outside the cycle.
async fn end_deadlocks(sup: &mut Supervised) {
    let cycles = confirmed_cycles(sup).await;
    if cycles.is_empty() {
        return;
    }
    let named: Vec<Vec<String>> = cycles
        .iter()
        .map(|cycle| cycle.iter().map(|&v| sup.name(v)).collect())
        .collect();
    tracing::debug!(cycles = ?named, "deadlock");
    let _ = sup.events.send(NetworkEvent::Deadlock {
        cycles: named.clone(),
    });
    for (cycle, names) in cycles.iter().zip(&named) {
        for (at, &v) in cycle.iter().enumerate() {
            if let Some((_, handle)) = sup.processes.get(v) {
                sup.condemned.insert(handle.id(), deadlock_error(names, at));
                handle.abort();
            }
        }
    }
}

/// The cycles of blocked processes seen in two reads of the state words, with other tasks
/// run in between (a wake-up in flight would show by then), leaving out those already
/// being ended.
async fn confirmed_cycles(sup: &Supervised) -> Vec<Vec<usize>> {
    let first = sup.activity.snapshot();
    let cycles = deadlock::cycles(&first);
    if cycles.is_empty() {
        return cycles;
    }
    tokio::task::yield_now().await;
    let second = sup.activity.snapshot();
    deadlock::unchanged(cycles, &first, &second)
        .into_iter()
        .filter(|cycle| !cycle.iter().any(|&v| sup.is_condemned(v)))
        .collect()
}

impl Supervised {
    fn name(&self, process: usize) -> String {
        self.processes
            .get(process)
            .map_or_else(String::new, |(name, _)| name.to_string())
    }

    fn is_condemned(&self, process: usize) -> bool {
        self.processes
            .get(process)
            .is_some_and(|(_, handle)| self.condemned.contains_key(&handle.id()))
    }
}

/// The error of the process at `at` in the deadlocked `cycle`.
fn deadlock_error(cycle: &[String], at: usize) -> String {
    let path: Vec<&str> = cycle
        .iter()
        .chain(cycle.first())
        .map(String::as_str)
        .collect();
    let path = path.join(" -> ");
    match cycle.get((at + 1) % cycle.len()) {
        Some(next) if cycle.len() > 1 => format!(
            "deadlock: blocked sending into the full inbox of `{next}`, in a cycle of \
             processes blocked on each other ({path})"
        ),
        _ => format!("deadlock: blocked sending into its own full inbox ({path})"),
    }
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
