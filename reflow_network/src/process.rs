//! The loop the runtime runs for every process: start, IIPs, batched receives, timers,
//! end-of-stream, stop. It is generic over the actor type, so no message pays for a boxed
//! future; only the whole loop is boxed once per process.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::activity::Activity;
use crate::actor::{Actor, ActorResult, Ports};
use crate::context::Context;
use crate::edge::Packet;

/// How many queued messages a process takes per wake-up.
const BATCH: usize = 256;

type LoopFuture = Pin<Box<dyn Future<Output = ActorResult> + Send>>;

/// Object-safe face of an actor, so a network can hold actors of many types.
trait Process: Send {
    fn ports(&self) -> Option<Ports>;
    fn run(self: Box<Self>, io: ProcessIo) -> LoopFuture;
}

impl<A: Actor> Process for A {
    fn ports(&self) -> Option<Ports> {
        Actor::ports(self)
    }

    fn run(self: Box<Self>, io: ProcessIo) -> LoopFuture {
        Box::pin(run_actor(*self, io))
    }
}

/// An actor of any type, ready to become a process.
pub struct BoxedActor(Box<dyn Process>);

impl BoxedActor {
    /// Boxes an actor.
    pub fn new(actor: impl Actor) -> Self {
        BoxedActor(Box::new(actor))
    }

    /// The ports the instance declares itself, if its component's ports depend on config.
    pub fn ports(&self) -> Option<Ports> {
        self.0.ports()
    }

    pub(crate) fn run(self, io: ProcessIo) -> LoopFuture {
        self.0.run(io)
    }
}

impl std::fmt::Debug for BoxedActor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BoxedActor")
    }
}

/// Everything a process loop owns.
pub(crate) struct ProcessIo {
    /// Shared by the processes that have the same inports (see `inport_names`).
    pub(crate) inports: Arc<[Arc<str>]>,
    pub(crate) inbox: mpsc::Receiver<Packet>,
    /// The IIPs, handled as the first batch; then the buffer of each batch taken from the
    /// inbox. Empty until needed: `recv_many` grows it as batches come (to `BATCH` at
    /// most), so a process that stays idle holds no room for a batch.
    pub(crate) initials: Vec<Packet>,
    pub(crate) ctx: Context,
    /// A source (no incoming connection) stops as soon as shutdown is signalled; other
    /// processes drain their inputs.
    pub(crate) is_source: bool,
    pub(crate) phase: watch::Receiver<Phase>,
    pub(crate) activity: Arc<Activity>,
}

// The loop future is allocated once per process and sized for its largest state, so every
// byte of it is paid by idle processes too. Hence plain `fn`s returning `async move` blocks
// here and in `drive` and `handle_batch`: an `async fn` copies its arguments into locals
// at the start, and its future then holds both (written as `async fn`, these three made
// the loop of a `Forward` 1,392 bytes instead of 1,120).
#[allow(clippy::manual_async_fn, reason = "see the note above")]
fn run_actor<A: Actor>(
    mut actor: A,
    mut io: ProcessIo,
) -> impl Future<Output = ActorResult> + Send {
    async move {
        let result = run_loop(&mut actor, &mut io).await;
        let stop = actor.on_stop(&mut io.ctx).await;
        io.ctx.close_outports();
        match result.and(stop) {
            Err(err) if err.is_disconnected() => {
                tracing::debug!(process = io.ctx.process_name(), "stopped: {err}");
                Ok(())
            }
            other => other,
        }
    }
}

/// Runs the actor until its inputs end or it stops; a source also stops at shutdown.
async fn run_loop<A: Actor>(actor: &mut A, io: &mut ProcessIo) -> ActorResult {
    let lio = LoopIo {
        inports: &io.inports,
        inbox: &mut io.inbox,
        batch: &mut io.initials,
        activity: &io.activity,
    };
    if !io.is_source {
        return drive(actor, &mut io.ctx, lio).await;
    }
    // Boxed, so that the shutdown watch beside it adds nothing to the other processes'
    // loops; a network has few sources.
    tokio::select! {
        r = Box::pin(drive(actor, &mut io.ctx, lio)) => r,
        () = reached(&mut io.phase, Phase::Stopping) => Ok(()),
    }
}

/// Where a network is in its life; processes and the supervisor watch it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Phase {
    Running,
    /// Sources stop; everything else drains.
    Stopping,
    /// The deadline passed: whatever still runs is aborted.
    Abort,
}

/// Resolves once the network has reached `phase`. If the handle that drives the phases is
/// dropped, the network is detached and this never resolves.
pub(crate) async fn reached(phase: &mut watch::Receiver<Phase>, target: Phase) {
    if phase.wait_for(|p| *p >= target).await.is_err() {
        std::future::pending::<()>().await;
    }
}

struct LoopIo<'a> {
    inports: &'a [Arc<str>],
    inbox: &'a mut mpsc::Receiver<Packet>,
    batch: &'a mut Vec<Packet>,
    activity: &'a Activity,
}

enum Wake {
    Batch(usize),
    Timer,
}

/// The life of a process: start, IIPs, then batches and timers until it ends. (A plain
/// `fn`, for the reason given at `run_actor`.)
#[allow(clippy::manual_async_fn, reason = "see the note at `run_actor`")]
fn drive<'a, A: Actor>(
    actor: &'a mut A,
    ctx: &'a mut Context,
    mut io: LoopIo<'a>,
) -> impl Future<Output = ActorResult> + Send + 'a {
    async move {
        actor.on_start(ctx).await?;
        handle_batch(actor, ctx, io.inports, io.batch).await?;
        let mut open = true;
        while !ctx.is_stopped() {
            let wake = match (open, ctx.timer()) {
                (false, None) => break,
                (true, None) => Wake::Batch(recv(&mut io).await),
                (open, Some(at)) => recv_or_timer(&mut io, open, at).await,
            };
            match wake {
                Wake::Timer => {
                    ctx.take_timer();
                    actor.on_timer(ctx).await?;
                }
                Wake::Batch(0) => {
                    open = false;
                    actor.on_end(ctx).await?;
                }
                Wake::Batch(n) => {
                    ctx.taken(n);
                    handle_batch(actor, ctx, io.inports, io.batch).await?;
                }
            }
        }
        Ok(())
    }
}

/// Every packet of `batch`, in order, until the actor stops: a message for the actor, or
/// the end of a remote session's stream, which only the tap needs to see. One function
/// with one call of `on_message`, since each level of futures adds to every process's
/// loop.
#[allow(clippy::manual_async_fn, reason = "see the note at `run_actor`")]
fn handle_batch<'a, A: Actor>(
    actor: &'a mut A,
    ctx: &'a mut Context,
    inports: &'a [Arc<str>],
    batch: &'a mut Vec<Packet>,
) -> impl Future<Output = ActorResult> + Send + 'a {
    async move {
        // By index rather than `drain`, whose state would take room in every process.
        for ix in 0..batch.len() {
            let Some(packet) = batch.get_mut(ix) else {
                break;
            };
            if ctx.is_stopped() {
                break;
            }
            let (port, origin) = (packet.port, packet.origin);
            let Some(msg) = packet.msg.take() else {
                ctx.end_origin(origin).await;
                continue;
            };
            ctx.set_origin(origin);
            let handled = actor.on_message(port_name(inports, port), msg, ctx).await;
            ctx.set_origin(0);
            if let Err(err) = handled {
                batch.clear();
                return Err(err);
            }
            ctx.handled();
        }
        batch.clear();
        Ok(())
    }
}

/// Receives a batch; while the inbox is empty the process counts as parked for idle
/// detection.
async fn recv(io: &mut LoopIo<'_>) -> usize {
    if !io.inbox.is_empty() {
        return io.inbox.recv_many(io.batch, BATCH).await;
    }
    let _parked = io.activity.park();
    io.inbox.recv_many(io.batch, BATCH).await
}

async fn recv_or_timer(io: &mut LoopIo<'_>, open: bool, at: Instant) -> Wake {
    // The timer goes first, so that a steady stream of input cannot starve it.
    tokio::select! {
        biased;
        () = tokio::time::sleep_until(at) => Wake::Timer,
        n = io.inbox.recv_many(io.batch, BATCH), if open => Wake::Batch(n),
    }
}

/// What a panic of a process says: `panicked: ` and its message.
pub(crate) fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown payload".to_string());
    format!("panicked: {text}")
}

/// The names of `ports`' inports, as a process loop holds them. Processes with the same
/// inports can share one list, as a network's do.
pub(crate) fn inport_names(ports: &Ports) -> Arc<[Arc<str>]> {
    ports
        .inports
        .iter()
        .map(|p| Arc::from(p.as_str()))
        .collect()
}

fn port_name(inports: &[Arc<str>], ix: u16) -> &str {
    inports.get(usize::from(ix)).map_or("", |p| p)
}
