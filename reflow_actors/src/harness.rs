//! Test helpers for the timing and file components: inputs scripted over (virtual) time by
//! an upstream process, outputs stamped with when they arrived, and throw-away directories.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use reflow_network::{Actor, ActorResult, Context, Message, Network, NetworkConfig, Ports, Report};
use serde_json::Value;
use tokio::time::Instant;

/// What a scripted run produced: each output with the milliseconds since the start.
pub(crate) struct Timed {
    pub(crate) outputs: BTreeMap<String, Vec<(u64, Message)>>,
    pub(crate) report: Report,
    /// Milliseconds from the start until the network completed.
    pub(crate) elapsed_ms: u64,
    /// When each scripted send returned: later than scripted when the subject held back.
    pub(crate) sent_ms: Vec<u64>,
}

impl Timed {
    /// `(ms, message as JSON)` for every message that came out of `port`.
    pub(crate) fn stamped(&self, port: &str) -> Vec<(u64, Value)> {
        self.outputs
            .get(port)
            .map(|seen| seen.iter().map(|(t, m)| (*t, m.to_json())).collect())
            .unwrap_or_default()
    }

    /// The messages of `port` as JSON, without times.
    pub(crate) fn json(&self, port: &str) -> Vec<Value> {
        self.stamped(port).into_iter().map(|(_, v)| v).collect()
    }

    /// The arrival times on `port`, in milliseconds.
    pub(crate) fn times(&self, port: &str) -> Vec<u64> {
        self.stamped(port).into_iter().map(|(t, _)| t).collect()
    }
}

/// One scripted input: at `ms` after the start, send `msg` to the subject's inport `port`.
pub(crate) fn at(ms: u64, port: &str, msg: impl Into<Message>) -> (u64, String, Message) {
    (ms, port.to_string(), msg.into())
}

fn elapsed_ms(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_millis()).unwrap()
}

/// A source that plays a script into the subject, then finishes (ending its inputs).
struct Feeder {
    start: Instant,
    script: Vec<(u64, String, Message)>,
    sent: Arc<Mutex<Vec<u64>>>,
}

impl Actor for Feeder {
    async fn on_start(&mut self, ctx: &mut Context) -> ActorResult {
        for (ms, port, msg) in std::mem::take(&mut self.script) {
            tokio::time::sleep_until(self.start + Duration::from_millis(ms)).await;
            ctx.send(&port, msg).await?;
            self.sent.lock().push(elapsed_ms(self.start));
        }
        Ok(())
    }

    async fn on_message(&mut self, _: &str, _: Message, _: &mut Context) -> ActorResult {
        Ok(())
    }
}

/// What a [`StampSink`] saw: each message with the milliseconds since the start.
pub(crate) type Seen = Arc<Mutex<Vec<(u64, Message)>>>;

/// A sink that records each message with when it arrived.
pub(crate) struct StampSink {
    start: Instant,
    seen: Seen,
}

impl StampSink {
    /// A sink measuring from `start`, and what it will see.
    pub(crate) fn new(start: Instant) -> (Self, Seen) {
        let seen = Seen::default();
        (
            StampSink {
                start,
                seen: seen.clone(),
            },
            seen,
        )
    }
}

impl Actor for StampSink {
    async fn on_message(&mut self, _: &str, msg: Message, _: &mut Context) -> ActorResult {
        self.seen.lock().push((elapsed_ms(self.start), msg));
        Ok(())
    }
}

/// Runs `component` fed by a script of `(ms, inport, message)` from an upstream process
/// connected to every inport, until the network completes.
pub(crate) async fn run_script(
    component: &str,
    config: Value,
    script: Vec<(u64, String, Message)>,
) -> Timed {
    run_script_with(component, config, script, NetworkConfig::default()).await
}

/// Like [`run_script`], with explicit network settings (a small capacity shows backpressure).
pub(crate) async fn run_script_with(
    component: &str,
    config: Value,
    script: Vec<(u64, String, Message)>,
    settings: NetworkConfig,
) -> Timed {
    let registry = crate::registry();
    let (_, ports) = registry.build(component, &config).unwrap();
    let start = Instant::now();
    let mut net = Network::with_config(registry, settings);
    net.add_node("subject", component, config).unwrap();
    let sent = Arc::default();
    let feeder = Feeder {
        start,
        script,
        sent: Arc::clone(&sent),
    };
    let feeder_ports = Ports::new(Vec::<String>::new(), ports.inports.clone());
    net.add_actor("feeder", feeder, feeder_ports).unwrap();
    for port in &ports.inports {
        net.add_connection(("feeder", port.as_str()), ("subject", port.as_str()))
            .unwrap();
    }
    let mut outputs = BTreeMap::new();
    for port in &ports.outports {
        let (actor, seen) = StampSink::new(start);
        let sink = format!("sink_{port}");
        net.add_actor(&sink, actor, Ports::new(["in"], Vec::<String>::new()))
            .unwrap();
        net.add_connection(("subject", port.as_str()), (sink.as_str(), "in"))
            .unwrap();
        outputs.insert(port.clone(), seen);
    }
    let report = net.start().unwrap().wait().await;
    let outputs = outputs
        .into_iter()
        .map(|(port, seen)| (port, seen.lock().clone()))
        .collect();
    let sent_ms = sent.lock().clone();
    Timed {
        outputs,
        report,
        elapsed_ms: elapsed_ms(start),
        sent_ms,
    }
}

/// A directory under the system temp dir, unique to this test, removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("reflow-actors-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// A path inside the directory.
    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
