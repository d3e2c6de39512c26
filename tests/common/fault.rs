//! A deterministic fault-injection TCP relay for the tests: clients dial the proxy, the proxy
//! dials the real server, and a cloneable handle switches at run time what happens to the
//! bytes in between (stall, blackhole, reset, cut, delay, throttle). No root, no randomness.
#![allow(clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

/// Largest chunk read at once.
const CHUNK: usize = 16 * 1024;
const TO_SERVER: usize = 0;
const TO_CLIENT: usize = 1;

/// What a direction does with each chunk it reads from now on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Relay as is.
    Pass,
    /// Stop reading: bytes pile up in kernel buffers until the sender blocks. Nothing is lost
    /// when another mode follows.
    Stall,
    /// Read and discard: a silent partition, with no TCP error. What is read is lost for good;
    /// an end of stream is held (TCP would retransmit it) until the mode changes.
    Blackhole,
    /// Relay this many more bytes (counted per connection and per direction from the switch),
    /// then reset the connection.
    CutAfter(u64),
    /// Hold each chunk this long before relaying it. Chunks are not pipelined, so this also
    /// caps the rate at one chunk per delay.
    Delay(Duration),
    /// Relay at most this many bytes per second.
    Throttle(u64),
}

/// Which way a fault applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Client to server.
    ToServer,
    /// Server to client.
    ToClient,
    /// Both ways, each with its own state (a `CutAfter` budget each).
    Both,
}

impl Direction {
    fn indices(self) -> &'static [usize] {
        match self {
            Direction::ToServer => &[TO_SERVER],
            Direction::ToClient => &[TO_CLIENT],
            Direction::Both => &[TO_SERVER, TO_CLIENT],
        }
    }
}

/// What the proxy has done so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connections accepted since the start.
    pub accepted: u64,
    /// Connections open now.
    pub open: usize,
    /// Bytes written to the server.
    pub to_server: u64,
    /// Bytes written to the client.
    pub to_client: u64,
    /// Bytes read and thrown away by `Blackhole`, both ways.
    pub discarded: u64,
}

/// A mode and the number of the switch that set it, so that a `CutAfter` budget restarts at
/// every switch, even to the same mode.
#[derive(Clone, Copy)]
struct Setting {
    mode: Mode,
    seq: u64,
}

struct Shared {
    modes: [watch::Sender<Setting>; 2],
    resets: watch::Sender<u64>,
    stats: watch::Sender<Stats>,
}

/// Aborts the accept loop, and with it every connection, when the last handle goes.
struct AcceptTask(JoinHandle<()>);

impl Drop for AcceptTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The relay and a handle on it: clones switch the same proxy, which runs until the last
/// clone is dropped. Mode switches apply to the current and future connections, from the
/// next chunk each reads.
#[derive(Clone)]
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    scope: Direction,
    _accept: Arc<AcceptTask>,
}

impl FaultProxy {
    /// Listens on 127.0.0.1:0 and relays every connection to `upstream`.
    pub async fn start(upstream: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fault proxy");
        let addr = listener.local_addr().expect("fault proxy address");
        let initial = Setting {
            mode: Mode::Pass,
            seq: 0,
        };
        let shared = Arc::new(Shared {
            modes: [watch::Sender::new(initial), watch::Sender::new(initial)],
            resets: watch::Sender::new(0),
            stats: watch::Sender::new(Stats::default()),
        });
        let accept = tokio::spawn(accept_loop(listener, upstream, shared.clone()));
        FaultProxy {
            addr,
            shared,
            scope: Direction::Both,
            _accept: Arc::new(AcceptTask(accept)),
        }
    }

    /// The address clients dial.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A handle whose modes apply to client-to-server bytes only.
    pub fn to_server(&self) -> FaultProxy {
        self.scoped(Direction::ToServer)
    }

    /// A handle whose modes apply to server-to-client bytes only.
    pub fn to_client(&self) -> FaultProxy {
        self.scoped(Direction::ToClient)
    }

    fn scoped(&self, scope: Direction) -> FaultProxy {
        FaultProxy {
            scope,
            ..self.clone()
        }
    }

    /// Switches this handle's directions to `mode`.
    pub fn set(&self, mode: Mode) {
        for &i in self.scope.indices() {
            self.shared.modes[i].send_modify(|s| {
                s.mode = mode;
                s.seq += 1;
            });
        }
    }

    /// Relays normally (and resumes a stall).
    pub fn pass(&self) {
        self.set(Mode::Pass);
    }

    /// Stops reading; see [`Mode::Stall`].
    pub fn stall(&self) {
        self.set(Mode::Stall);
    }

    /// Reads and discards; see [`Mode::Blackhole`].
    pub fn blackhole(&self) {
        self.set(Mode::Blackhole);
    }

    /// Relays `n` more bytes, then resets; see [`Mode::CutAfter`].
    pub fn cut_after(&self, n: u64) {
        self.set(Mode::CutAfter(n));
    }

    /// Holds each chunk for `by`; see [`Mode::Delay`].
    pub fn delay(&self, by: Duration) {
        self.set(Mode::Delay(by));
    }

    /// Limits the rate to `bytes_per_sec`; see [`Mode::Throttle`].
    pub fn throttle(&self, bytes_per_sec: u64) {
        self.set(Mode::Throttle(bytes_per_sec));
    }

    /// Closes every connection accepted so far with RST, both ways whatever the handle's
    /// direction; later connections are relayed. A connection still waiting in the listen
    /// backlog counts as a later one: see traffic (or `wait_stats`) pass first.
    pub fn reset(&self) {
        self.shared
            .resets
            .send_modify(|generation| *generation += 1);
    }

    /// The counters now.
    pub fn stats(&self) -> Stats {
        *self.shared.stats.borrow()
    }

    /// Connections open now.
    pub fn connections(&self) -> usize {
        self.stats().open
    }

    /// Waits until `until` holds for the counters (checked now and at every change).
    pub async fn wait_stats(&self, until: impl Fn(&Stats) -> bool) -> Stats {
        let mut stats = self.shared.stats.subscribe();
        let found = *stats
            .wait_for(|s| until(s))
            .await
            .expect("the proxy keeps its counters");
        found
    }
}

/// Counts a connection open from its accept until its task ends, aborted or not.
struct OpenGuard(Arc<Shared>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.stats.send_modify(|s| s.open -= 1);
    }
}

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        while connections.try_join_next().is_some() {}
        // Subscribed before being counted: a connection anyone can observe is one that a
        // later reset() reaches.
        let resets = shared.resets.subscribe();
        shared.stats.send_modify(|s| {
            s.accepted += 1;
            s.open += 1;
        });
        let open = OpenGuard(shared.clone());
        connections.spawn(connection(client, upstream, resets, open));
    }
}

async fn connection(
    mut client: TcpStream,
    upstream: SocketAddr,
    mut resets: watch::Receiver<u64>,
    open: OpenGuard,
) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        abort(&client);
        return;
    };
    // Without it a small exchange or a close waits ~45 ms for delayed ACKs.
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let aborted = tokio::select! {
        _ = resets.changed() => true,
        relayed = relay(&mut client, &mut server, &open.0) => relayed.is_err(),
    };
    if aborted {
        abort(&client);
        abort(&server);
    }
}

/// Makes the coming drop send RST instead of FIN.
fn abort(stream: &TcpStream) {
    // A zero linger never blocks; `set_zero_linger` would need tokio 1.50, the workspace asks
    // for 1.40.
    #[allow(deprecated)]
    let _ = stream.set_linger(Some(Duration::ZERO));
}

/// The connection has to end with a reset: a cut, or an I/O error on either side.
struct Abort;

async fn relay(
    client: &mut TcpStream,
    server: &mut TcpStream,
    shared: &Shared,
) -> Result<(), Abort> {
    let (client_read, client_write) = client.split();
    let (server_read, server_write) = server.split();
    let up = Pump::new(client_read, server_write, shared, TO_SERVER).run();
    let down = Pump::new(server_read, client_write, shared, TO_CLIENT).run();
    tokio::try_join!(up, down).map(|_| ())
}

/// One direction of one connection.
struct Pump<'a> {
    from: ReadHalf<'a>,
    to: WriteHalf<'a>,
    setting: watch::Receiver<Setting>,
    stats: &'a watch::Sender<Stats>,
    direction: usize,
    /// The switch a `CutAfter` budget belongs to, and what is left of it.
    budget: Option<(u64, u64)>,
    /// When the throttled link is free again.
    free_at: Instant,
}

impl<'a> Pump<'a> {
    fn new(from: ReadHalf<'a>, to: WriteHalf<'a>, shared: &'a Shared, direction: usize) -> Self {
        Pump {
            from,
            to,
            setting: shared.modes[direction].subscribe(),
            stats: &shared.stats,
            direction,
            budget: None,
            free_at: Instant::now(),
        }
    }

    async fn run(mut self) -> Result<(), Abort> {
        let mut buf = vec![0; CHUNK];
        loop {
            let Some(n) = self.read(&mut buf).await? else {
                continue;
            };
            if n == 0 {
                return self.end().await;
            }
            // The mode in force once the chunk is read decides its fate.
            let setting = self.settle().await;
            self.forward(setting, &buf[..n]).await?;
        }
    }

    /// The current setting, once it is no longer a stall.
    async fn settle(&mut self) -> Setting {
        loop {
            let setting = *self.setting.borrow_and_update();
            if setting.mode != Mode::Stall {
                return setting;
            }
            if self.setting.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Reads the next chunk, or `None` when the mode changes first (the read is dropped
    /// before it took anything, so a new stall stops reading at once).
    async fn read(&mut self, buf: &mut [u8]) -> Result<Option<usize>, Abort> {
        let limit = match self.settle().await.mode {
            // A tenth of a second's worth at a time, so that a switch takes effect soon.
            Mode::Throttle(rate) => usize::try_from(rate / 10).unwrap_or(CHUNK).clamp(1, CHUNK),
            _ => CHUNK,
        };
        tokio::select! {
            read = self.from.read(&mut buf[..limit]) => read.map(Some).map_err(|_| Abort),
            _ = self.setting.changed() => Ok(None),
        }
    }

    /// Forwards the end of stream once no stall or blackhole holds it.
    async fn end(&mut self) -> Result<(), Abort> {
        let held = |s: &Setting| matches!(s.mode, Mode::Stall | Mode::Blackhole);
        if self.setting.wait_for(|s| !held(s)).await.is_err() {
            std::future::pending::<()>().await;
        }
        self.to.shutdown().await.map_err(|_| Abort)
    }

    async fn forward(&mut self, setting: Setting, chunk: &[u8]) -> Result<(), Abort> {
        match setting.mode {
            Mode::Pass | Mode::Stall => self.write(chunk).await,
            Mode::Blackhole => {
                self.stats
                    .send_modify(|s| s.discarded += chunk.len() as u64);
                Ok(())
            }
            Mode::CutAfter(n) => self.cut(setting.seq, n, chunk).await,
            Mode::Delay(by) => {
                tokio::time::sleep(by).await;
                self.write(chunk).await
            }
            Mode::Throttle(rate) => {
                let cost = Duration::from_secs_f64(chunk.len() as f64 / rate.max(1) as f64);
                self.free_at = self.free_at.max(Instant::now()) + cost;
                tokio::time::sleep_until(self.free_at).await;
                self.write(chunk).await
            }
        }
    }

    /// Relays what is left of the budget of switch `seq` (`n` when it is new), and resets
    /// once it is spent.
    async fn cut(&mut self, seq: u64, n: u64, chunk: &[u8]) -> Result<(), Abort> {
        let left = match self.budget {
            Some((budget_seq, left)) if budget_seq == seq => left,
            _ => n,
        };
        let take = left.min(chunk.len() as u64);
        self.write(&chunk[..take as usize]).await?;
        self.budget = Some((seq, left - take));
        if left == take {
            return Err(Abort);
        }
        Ok(())
    }

    async fn write(&mut self, chunk: &[u8]) -> Result<(), Abort> {
        self.to.write_all(chunk).await.map_err(|_| Abort)?;
        let len = chunk.len() as u64;
        self.stats.send_modify(|s| match self.direction {
            TO_SERVER => s.to_server += len,
            _ => s.to_client += len,
        });
        Ok(())
    }
}
