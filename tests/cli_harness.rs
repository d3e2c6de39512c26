//! Real `reflow` processes on 127.0.0.1 for the CLI tests of the bridge: a serving instance,
//! client and local runs bounded by [`PATIENCE`], graphs written as JSON into a scratch
//! directory. Shared by bridge_differential.rs and bridge_isolation.rs.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

/// How long a process or a line the test waits for may take; generous for a loaded
/// machine. Reaching it fails the test, it never paces it.
pub(crate) const PATIENCE: Duration = Duration::from_secs(60);
/// The network id of every serving instance: its exports are `NODE@srv`.
pub(crate) const NETWORK: &str = "srv";
/// The environment variable that holds the shared token of every instance started here.
pub(crate) const TOKEN_VAR: &str = "REFLOW_TEST_TOKEN";

/// `reflow`, run from the repository root (where the fixture paths start).
pub(crate) fn reflow() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reflow"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env(TOKEN_VAR, "differential-token")
        .stdin(Stdio::null());
    cmd
}

/// Proxy metadata with a timeout beyond PATIENCE: a client that waits for its proxy's
/// timeout shows as still running after PATIENCE, not as a timeout error.
pub(crate) fn patient() -> Value {
    json!({"timeout_ms": 2 * PATIENCE.as_millis()})
}

/// `NODE@srv`.
pub(crate) fn remote(node: &str) -> String {
    format!("{node}@{NETWORK}")
}

/// A graph as `reflow run` reads it.
#[derive(Default)]
pub(crate) struct Graph {
    processes: Map<String, Value>,
    connections: Vec<Value>,
}

impl Graph {
    pub(crate) fn process(mut self, name: &str, component: &str, metadata: Value) -> Self {
        let process = json!({"component": component, "metadata": metadata});
        self.processes.insert(name.to_string(), process);
        self
    }

    pub(crate) fn connect(mut self, (src, out): (&str, &str), (tgt, inp): (&str, &str)) -> Self {
        self.connections.push(json!({
            "src": {"process": src, "port": out},
            "tgt": {"process": tgt, "port": inp},
        }));
        self
    }

    fn to_json(&self) -> String {
        let graph = json!({"processes": self.processes, "connections": self.connections});
        serde_json::to_string_pretty(&graph).unwrap()
    }
}

/// A source process: its component and configuration.
#[derive(Clone)]
pub(crate) struct Source(&'static str, Value);

impl Source {
    pub(crate) fn range(start: i64, end: i64) -> Self {
        Source("Range", json!({"start": start, "end": end}))
    }

    /// Each line of `path` as a string, lines of up to `max` bytes.
    pub(crate) fn long_lines(path: &Path, max: u64) -> Self {
        Source("ReadLines", json!({"path": path, "max_line_bytes": max}))
    }

    /// Each line of `path` parsed as JSON.
    pub(crate) fn json_lines(path: &Path) -> Self {
        Source("ReadLines", json!({"path": path, "json": true}))
    }
}

/// `feeds -> node -> print`: each source into the node's inport beside it, each of
/// `outs` into one `Console`.
pub(crate) fn pipeline(
    feeds: &[(Source, &str)],
    (node, component, metadata): (&str, &str, Value),
    outs: &[&str],
) -> Graph {
    let graph = Graph::default().process(node, component, metadata);
    let mut graph = graph.process("print", "Console", json!({}));
    for (i, (Source(source, config), port)) in feeds.iter().enumerate() {
        let name = format!("source{i}");
        graph = graph
            .process(&name, source, config.clone())
            .connect((&name, "out"), (node, port));
    }
    for out in outs {
        graph = graph.connect((node, out), ("print", "in"));
    }
    graph
}

/// A directory of the test's own under the system's temp dir, removed on drop.
pub(crate) struct Scratch(PathBuf);

impl Scratch {
    pub(crate) fn new(label: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("reflow-{label}-{}-{n}", std::process::id());
        let dir = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    pub(crate) fn file(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    pub(crate) fn graph(&self, name: &str, graph: &Graph) -> PathBuf {
        self.file(&format!("{name}.json"), graph.to_json())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process killed (by its pid) if the test ends before it exits.
pub(crate) struct Guard(pub(crate) Child);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Starts `cmd` with stdout and stderr piped.
pub(crate) fn spawn(cmd: &mut Command) -> Guard {
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn();
    Guard(child.unwrap())
}

/// How a bounded run ended; `status` is `None` when it outlived [`PATIENCE`] and was
/// killed.
pub(crate) struct Finished {
    pub(crate) status: Option<ExitStatus>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Finished {
    pub(crate) fn succeeded(&self) -> bool {
        self.status.is_some_and(|status| status.success())
    }

    /// The exit status, or that it never came, for messages.
    pub(crate) fn exit(&self) -> String {
        match self.status {
            Some(status) => status.to_string(),
            None => format!("still running after {PATIENCE:?}, killed"),
        }
    }
}

/// Reads what is left of the child's stdout and stderr until both close (it exited),
/// killing it if that takes longer than [`PATIENCE`].
pub(crate) fn finish(mut child: Guard) -> Finished {
    let (done, closed) = mpsc::channel();
    let stdout = drain(child.0.stdout.take(), done.clone());
    let stderr = drain(child.0.stderr.take(), done);
    let deadline = Instant::now() + PATIENCE;
    let in_time = (0..2).all(|_| {
        let left = deadline.saturating_duration_since(Instant::now());
        closed.recv_timeout(left).is_ok()
    });
    if !in_time {
        let _ = child.0.kill();
    }
    let status = child.0.wait().unwrap();
    Finished {
        status: in_time.then_some(status),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// Reads `pipe` to its end on a thread, then says so on `done`.
fn drain(pipe: Option<impl Read + Send + 'static>, done: mpsc::Sender<()>) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        let _ = done.send(());
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// `reflow run graph` with no bridge, to completion.
pub(crate) fn local(graph: &Path) -> Finished {
    finish(spawn(reflow().arg("run").arg(graph)))
}

/// `reflow run graph`, a client instance `id` linked to `server`, with more flags.
pub(crate) fn client(server: &Server, id: &str, graph: &Path, flags: &[&str]) -> Command {
    let mut cmd = reflow();
    cmd.arg("run").arg(graph);
    cmd.args(["--network-id", id, "--connect", &server.addr]);
    cmd.args(["--token-env", TOKEN_VAR]).args(flags);
    cmd
}

/// The lines of a pipe, read on a thread.
pub(crate) struct Lines(mpsc::Receiver<String>);

impl Lines {
    pub(crate) fn new(pipe: impl Read + Send + 'static) -> Self {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines(rx)
    }

    /// The next line that contains `needle`, the lines before it being skipped.
    pub(crate) fn wait_for(&self, needle: &str) -> String {
        let mut skipped = Vec::new();
        self.wait_keeping(needle, &mut skipped);
        skipped.pop().unwrap_or_default()
    }

    /// Reads lines into `seen` up to and including the next one that contains `needle`.
    pub(crate) fn wait_keeping(&self, needle: &str, seen: &mut Vec<String>) {
        loop {
            match self.0.recv_timeout(PATIENCE) {
                Ok(line) => {
                    let found = line.contains(needle);
                    seen.push(line);
                    if found {
                        return;
                    }
                }
                Err(err) => panic!("no line with {needle:?} ({err}), only {seen:#?}"),
            }
        }
    }

    /// Every line left, until the pipe closes.
    pub(crate) fn rest(&self) -> Vec<String> {
        let mut rest = Vec::new();
        while let Ok(line) = self.0.recv_timeout(PATIENCE) {
            rest.push(line);
        }
        rest
    }
}

/// Starts the serving `reflow run` of `cmd`; once it says it listens, returns it, its
/// stderr and the address it listens on.
pub(crate) fn listening(cmd: &mut Command) -> (Guard, Lines, String) {
    let spawned = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn();
    let mut child = Guard(spawned.unwrap());
    let stderr = Lines::new(child.0.stderr.take().unwrap());
    let line = stderr.wait_for("listening on ");
    let addr = line.rsplit(' ').next().unwrap().to_string();
    (child, stderr, addr)
}

/// The body of `GET path` on `addr`, over a plain HTTP/1.1 request.
pub(crate) fn http_get(addr: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (_, body) = response.split_once("\r\n\r\n").unwrap();
    body.to_string()
}

/// A `reflow discovery` registry on an ephemeral port, and its URL.
pub(crate) fn registry() -> (Guard, String) {
    let mut cmd = reflow();
    cmd.args(["discovery", "--bind", "127.0.0.1:0"]);
    let (child, stderr, url) = listening(&mut cmd);
    // Keep reading, so that the registry never blocks on a full stderr pipe.
    thread::spawn(move || stderr.rest());
    assert!(url.starts_with("http://"), "{url}");
    (child, url)
}

/// A serving `reflow run` (`--bind 127.0.0.1:0 --network-id srv`), killed on drop.
pub(crate) struct Server {
    child: Guard,
    pub(crate) addr: String,
}

impl Server {
    /// Serves a graph of `nodes` `(name, component, config)`, unconnected, each one
    /// exported, with more flags; returns once it listens.
    pub(crate) fn start(scratch: &Scratch, nodes: &[(&str, &str, Value)], flags: &[&str]) -> Self {
        Self::start_at("127.0.0.1:0", scratch, nodes, flags)
    }

    /// [`start`](Self::start) on the address `bind`.
    pub(crate) fn start_at(
        bind: &str,
        scratch: &Scratch,
        nodes: &[(&str, &str, Value)],
        flags: &[&str],
    ) -> Self {
        let add = |graph: Graph, (name, component, config): &(&str, &str, Value)| {
            graph.process(name, component, config.clone())
        };
        let graph = scratch.graph("server", &nodes.iter().fold(Graph::default(), add));
        let mut cmd = reflow();
        cmd.arg("run").arg(graph);
        cmd.args(["--bind", bind, "--network-id", NETWORK]);
        cmd.args(["--token-env", TOKEN_VAR]).args(flags);
        for (node, _, _) in nodes {
            cmd.args(["--export", node]);
        }
        let (child, stderr, addr) = listening(&mut cmd);
        // Keep reading, so that the server never blocks on a full stderr pipe.
        thread::spawn(move || stderr.rest());
        Server { child, addr }
    }

    /// Sends `signal` (`STOP`, `CONT`, ...) to the server, by its pid.
    pub(crate) fn signal(&self, signal: &str) {
        let pid = self.child.0.id().to_string();
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status();
        assert!(sent.unwrap().success(), "kill -{signal} {pid}");
    }

    /// Kills the server with SIGKILL (by its pid) and waits for it to exit.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.0.kill();
        let _ = self.child.0.wait();
    }

    /// The body of `GET path`, over a plain HTTP/1.1 request.
    pub(crate) fn get(&self, path: &str) -> String {
        http_get(&self.addr, path)
    }

    /// The `/status` entry of the link to the client instance `peer`, if it has one.
    pub(crate) fn link_of(&self, peer: &str) -> Option<Value> {
        let status: Value = serde_json::from_str(&self.get("/status")).unwrap();
        let links = status["links"].as_array().unwrap();
        links
            .iter()
            .find(|link| link["peer_network"] == peer)
            .cloned()
    }

    /// Asks `done` every 50 ms until it says yes; panics after PATIENCE.
    pub(crate) fn wait_until(&self, what: &str, mut done: impl FnMut(&Server) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "{what} did not happen in {PATIENCE:?}"
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

/// How `remote` differs from `local` (a run with the node local), if it does: both
/// must exit 0 with the same stdout.
pub(crate) fn difference(name: &str, local: &Finished, remote: &Finished) -> Option<String> {
    if !local.succeeded() {
        let exit = local.exit();
        return Some(format!(
            "{name}: the LOCAL run failed ({exit}): {}",
            tail(&local.stderr)
        ));
    }
    if remote.succeeded() && remote.stdout == local.stdout {
        return None;
    }
    Some(format!(
        "{name}: remote {} with {} lines (local: {} lines); {}; remote stderr: {}",
        remote.exit(),
        remote.stdout.lines().count(),
        local.stdout.lines().count(),
        first_difference(&local.stdout, &remote.stdout),
        tail(&remote.stderr),
    ))
}

fn first_difference(local: &str, remote: &str) -> String {
    let (mut local, mut remote) = (local.lines(), remote.lines());
    for line in 1.. {
        match (local.next(), remote.next()) {
            (None, None) => return "same stdout".to_string(),
            (a, b) if a == b => {}
            (a, b) => {
                let (a, b) = (short(a.unwrap_or("<none>")), short(b.unwrap_or("<none>")));
                return format!("line {line}: local {a} remote {b}");
            }
        }
    }
    unreachable!()
}

fn short(line: &str) -> String {
    line.chars().take(100).collect()
}

/// The last lines of a stderr, shortened.
pub(crate) fn tail(stderr: &str) -> String {
    let lines: Vec<String> = stderr.lines().rev().take(3).map(short).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
}
