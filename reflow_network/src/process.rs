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
    pub(crate) inports: Vec<Arc<str>>,
    pub(crate) inbox: mpsc::Receiver<Packet>,
    pub(crate) initials: Vec<Packet>,
    pub(crate) ctx: Context,
    /// A source (no incoming connection) stops as soon as shutdown is signalled; other
    /// processes drain their inputs.
    pub(crate) is_source: bool,
    pub(crate) phase: watch::Receiver<Phase>,
    pub(crate) activity: Arc<Activity>,
}

async fn run_actor<A: Actor>(mut actor: A, io: ProcessIo) -> ActorResult {
    let ProcessIo {
        inports,
        mut inbox,
        initials,
        mut ctx,
        is_source,
        mut phase,
        activity,
    } = io;
    let mut io = LoopIo {
        inports: &inports,
        inbox: &mut inbox,
        activity: &activity,
    };
    let driven = drive(&mut actor, &mut ctx, initials, &mut io);
    let result = if is_source {
        tokio::select! {
            r = driven => r,
            () = reached(&mut phase, Phase::Stopping) => Ok(()),
        }
    } else {
        driven.await
    };
    let stop = actor.on_stop(&mut ctx).await;
    ctx.close_outports();
    match result.and(stop) {
        Err(err) if err.is_disconnected() => {
            tracing::debug!(process = ctx.process_name(), "stopped: {err}");
            Ok(())
        }
        other => other,
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
    activity: &'a Activity,
}

enum Wake {
    Batch(usize),
    Timer,
}

async fn drive<A: Actor>(
    actor: &mut A,
    ctx: &mut Context,
    initials: Vec<Packet>,
    io: &mut LoopIo<'_>,
) -> ActorResult {
    actor.on_start(ctx).await?;
    for packet in initials {
        if ctx.is_stopped() {
            return Ok(());
        }
        handle(actor, ctx, io.inports, packet).await?;
    }
    let mut buf = Vec::with_capacity(BATCH);
    let mut open = true;
    while !ctx.is_stopped() {
        let wake = match (open, ctx.timer()) {
            (false, None) => break,
            (true, None) => Wake::Batch(recv(io, &mut buf).await),
            (open, Some(at)) => recv_or_timer(io, &mut buf, open, at).await,
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
                handle_batch(actor, ctx, io.inports, &mut buf).await?;
            }
        }
    }
    Ok(())
}

async fn handle_batch<A: Actor>(
    actor: &mut A,
    ctx: &mut Context,
    inports: &[Arc<str>],
    buf: &mut Vec<Packet>,
) -> ActorResult {
    let mut packets = buf.drain(..);
    for packet in packets.by_ref() {
        handle(actor, ctx, inports, packet).await?;
        if ctx.is_stopped() {
            break;
        }
    }
    Ok(())
}

/// One packet: a message for the actor, or the end of a remote session's stream, which
/// only the tap needs to see.
async fn handle<A: Actor>(
    actor: &mut A,
    ctx: &mut Context,
    inports: &[Arc<str>],
    packet: Packet,
) -> ActorResult {
    let Some(msg) = packet.msg else {
        ctx.end_origin(packet.origin).await;
        return Ok(());
    };
    let port = port_name(inports, packet.port);
    if packet.origin == 0 {
        return actor.on_message(port, msg, ctx).await;
    }
    ctx.set_origin(packet.origin);
    let result = actor.on_message(port, msg, ctx).await;
    ctx.set_origin(0);
    result
}

/// Receives a batch; while the inbox is empty the process counts as parked for idle
/// detection.
async fn recv(io: &mut LoopIo<'_>, buf: &mut Vec<Packet>) -> usize {
    if !io.inbox.is_empty() {
        return io.inbox.recv_many(buf, BATCH).await;
    }
    let _parked = io.activity.park();
    io.inbox.recv_many(buf, BATCH).await
}

async fn recv_or_timer(
    io: &mut LoopIo<'_>,
    buf: &mut Vec<Packet>,
    open: bool,
    at: Instant,
) -> Wake {
    // The timer goes first, so that a steady stream of input cannot starve it.
    tokio::select! {
        biased;
        () = tokio::time::sleep_until(at) => Wake::Timer,
        n = io.inbox.recv_many(buf, BATCH), if open => Wake::Batch(n),
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

/// The names of `ports`' inports, as a process loop holds them.
pub(crate) fn inport_names(ports: &Ports) -> Vec<Arc<str>> {
    ports
        .inports
        .iter()
        .map(|p| Arc::from(p.as_str()))
        .collect()
}

fn port_name(inports: &[Arc<str>], ix: u16) -> &str {
    inports.get(usize::from(ix)).map_or("", |p| p)
}
