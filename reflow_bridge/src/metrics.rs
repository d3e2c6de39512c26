//! The bridge's counters, shared by every link and the HTTP surface, and their rendering as
//! Prometheus text for `GET /metrics`.
//!
//! Counters only ever grow and use relaxed atomics: each is an independent tally, read for
//! reporting, never used to order anything else.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};

#[cfg(test)]
mod tests;

/// A monotonically increasing tally.
#[derive(Debug, Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    /// Adds one.
    pub(crate) fn inc(&self) {
        self.add(1);
    }

    /// Adds `n`.
    pub(crate) fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// The current value.
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Why a handshake was refused, the `reason` label of `handshake_failures_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HandshakeFailure {
    /// The peer's proof did not match the shared token.
    AuthFailed,
    /// The peer presented no token while one is required.
    MissingToken,
    /// The peer speaks another protocol version.
    VersionMismatch,
    /// An instance with the same id is already linked.
    DuplicateInstance,
    /// The connection limit was reached.
    TooManyConnections,
    /// The peer broke the handshake protocol (wrong frame, bad field, timeout).
    Protocol,
    /// The TLS handshake failed or timed out: a plaintext client, an untrusted certificate.
    Tls,
}

impl HandshakeFailure {
    /// Every reason, in rendering order.
    pub(crate) const ALL: [Self; 7] = [
        Self::AuthFailed,
        Self::MissingToken,
        Self::VersionMismatch,
        Self::DuplicateInstance,
        Self::TooManyConnections,
        Self::Protocol,
        Self::Tls,
    ];

    /// The label value.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::AuthFailed => "auth_failed",
            Self::MissingToken => "missing_token",
            Self::VersionMismatch => "version_mismatch",
            Self::DuplicateInstance => "duplicate_instance",
            Self::TooManyConnections => "too_many_connections",
            Self::Protocol => "protocol",
            Self::Tls => "tls",
        }
    }
}

/// Why an incoming frame was rejected, the `reason` label of `rejected_frames_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FrameRejection {
    /// Larger than the configured maximum.
    Oversized,
    /// Could not be decoded.
    Malformed,
    /// Decoded, but of a kind this version does not know.
    UnknownKind,
    /// Arrived before the handshake completed.
    BeforeAuth,
    /// A data frame whose sequence number is not the next one.
    OutOfOrder,
    /// Data for an actor this instance does not export, or a port it does not have.
    UnknownTarget,
    /// A control frame that has no place after the handshake.
    Unexpected,
    /// A sequenced frame beyond the receive window the peer was given.
    WindowExceeded,
}

impl FrameRejection {
    /// Every reason, in rendering order.
    pub(crate) const ALL: [Self; 8] = [
        Self::Oversized,
        Self::Malformed,
        Self::UnknownKind,
        Self::BeforeAuth,
        Self::OutOfOrder,
        Self::UnknownTarget,
        Self::Unexpected,
        Self::WindowExceeded,
    ];

    /// The label value.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Oversized => "oversized",
            Self::Malformed => "malformed",
            Self::UnknownKind => "unknown_kind",
            Self::BeforeAuth => "before_auth",
            Self::OutOfOrder => "out_of_order",
            Self::UnknownTarget => "unknown_target",
            Self::Unexpected => "unexpected",
            Self::WindowExceeded => "window_exceeded",
        }
    }
}

/// What a proxy in `skip` mode gave up on, the `reason` label of `proxy_skipped_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SkipReason {
    /// A message (or the end of the input) that the link did not take within the timeout
    /// was dropped.
    SendTimeout,
    /// Nothing came back within the timeout after the input ended; the proxy finished.
    ReplyTimeout,
    /// The remote actor stopped with an error; the proxy finished.
    RemoteError,
    /// A message or a reply over the maximum message size did not cross the link.
    TooLarge,
    /// A message found the circuit breaker of every instance open, and was dropped.
    BreakerOpen,
}

impl SkipReason {
    /// Every reason, in rendering order.
    pub(crate) const ALL: [Self; 5] = [
        Self::SendTimeout,
        Self::ReplyTimeout,
        Self::RemoteError,
        Self::TooLarge,
        Self::BreakerOpen,
    ];

    /// The label value.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::SendTimeout => "send_timeout",
            Self::ReplyTimeout => "reply_timeout",
            Self::RemoteError => "remote_error",
            Self::TooLarge => "too_large",
            Self::BreakerOpen => "breaker_open",
        }
    }
}

/// Point-in-time values that the bridge reads when `/metrics` is scraped.
#[derive(Debug, Clone, Default)]
pub(crate) struct Gauges {
    /// Links currently up.
    pub(crate) links_up: u64,
    /// `(peer, depth)`: messages waiting in each link's outbox. `peer` labels the link (for
    /// example `network/instance`); depths given twice for one peer are summed.
    pub(crate) queue_depths: Vec<(String, u64)>,
    /// Remote actors registered in the local graph.
    pub(crate) remote_actors: u64,
    /// Local actors exported to peers.
    pub(crate) exported_actors: u64,
    /// Seconds since the bridge started.
    pub(crate) uptime_secs: f64,
    /// `(process, instance, messages)`: what each remote actor proxy sent to each instance.
    pub(crate) routed: Vec<(String, String, u64)>,
}

/// Every counter the bridge keeps.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    /// Links that completed the handshake.
    pub(crate) links_established: Counter,
    /// Links that went down after being established.
    pub(crate) links_closed: Counter,
    /// Application messages received.
    pub(crate) messages_in: Counter,
    /// Application messages sent.
    pub(crate) messages_out: Counter,
    /// Payload bytes of frames received.
    pub(crate) bytes_in: Counter,
    /// Payload bytes of frames sent.
    pub(crate) bytes_out: Counter,
    /// WebSocket frames received.
    pub(crate) frames_in: Counter,
    /// WebSocket frames sent.
    pub(crate) frames_out: Counter,
    /// TCP connections closed before the handshake because of a limit.
    pub(crate) connections_refused: Counter,
    /// HTTP requests for a path the bridge does not serve.
    pub(crate) http_requests_not_found: Counter,
    /// Lost links resumed on a new connection.
    pub(crate) link_resumes: Counter,
    /// Redials of lost links.
    pub(crate) reconnect_attempts: Counter,
    /// Sequenced frames sent again on resumed connections.
    pub(crate) messages_replayed: Counter,
    /// Replayed frames the receiver already had, dropped.
    pub(crate) duplicates_dropped: Counter,
    /// Sequenced frames that will never be delivered (links given up, unsendable frames).
    pub(crate) messages_lost: Counter,
    /// Proxy sends and reply waits that ran out of time, in every failure mode.
    pub(crate) proxy_timeouts: Counter,
    /// Sends that a proxy in `retry` mode attempted again.
    pub(crate) proxy_retries: Counter,
    /// Messages a proxy sent again to another instance after theirs was lost.
    pub(crate) proxy_resent: Counter,
    /// Of those, the ones some of whose replies had already come back.
    pub(crate) proxy_duplicates: Counter,
    /// Rounds of HTTP discovery done.
    pub(crate) discovery_rounds: Counter,
    /// Circuit breaker transitions, by the state entered (`closed`, `open`, `half_open`).
    breaker_transitions: [Counter; 3],
    /// Remote sessions served here that ended with an error because the exported actor
    /// stopped while they were open.
    pub(crate) served_sessions_failed: Counter,
    handshake_failures: [Counter; HandshakeFailure::ALL.len()],
    rejected_frames: [Counter; FrameRejection::ALL.len()],
    proxy_skipped: [Counter; SkipReason::ALL.len()],
}

impl Metrics {
    /// All counters at zero.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Counts one received frame of `bytes` bytes carrying `messages` messages.
    pub(crate) fn frame_in(&self, bytes: usize, messages: usize) {
        self.frames_in.inc();
        self.bytes_in.add(bytes as u64);
        self.messages_in.add(messages as u64);
    }

    /// Counts one sent frame of `bytes` bytes carrying `messages` messages.
    pub(crate) fn frame_out(&self, bytes: usize, messages: usize) {
        self.frames_out.inc();
        self.bytes_out.add(bytes as u64);
        self.messages_out.add(messages as u64);
    }

    /// Counts a refused handshake.
    pub(crate) fn handshake_failed(&self, reason: HandshakeFailure) {
        self.handshake_failures[reason as usize].inc();
    }

    /// Refused handshakes so far for `reason`.
    pub(crate) fn handshake_failures(&self, reason: HandshakeFailure) -> u64 {
        self.handshake_failures[reason as usize].get()
    }

    /// Counts a rejected incoming frame.
    pub(crate) fn frame_rejected(&self, reason: FrameRejection) {
        self.rejected_frames[reason as usize].inc();
    }

    /// Rejected frames so far for `reason`.
    pub(crate) fn rejected_frames(&self, reason: FrameRejection) -> u64 {
        self.rejected_frames[reason as usize].get()
    }

    /// Counts a circuit breaker entering `state` (an index of [`BREAKER_STATES`]).
    pub(crate) fn breaker_entered(&self, state: &str) {
        if let Some(i) = BREAKER_STATES.iter().position(|s| *s == state) {
            self.breaker_transitions[i].inc();
        }
    }

    /// Counts something a proxy in `skip` mode gave up on.
    pub(crate) fn proxy_skipped(&self, reason: SkipReason) {
        self.proxy_skipped[reason as usize].inc();
    }

    /// What proxies in `skip` mode gave up on so far, for `reason`.
    pub(crate) fn proxy_skips(&self, reason: SkipReason) -> u64 {
        self.proxy_skipped[reason as usize].get()
    }

    /// The counters and `gauges` in the Prometheus text exposition format, version 0.0.4.
    pub(crate) fn render_prometheus(&self, gauges: &Gauges) -> String {
        let mut out = Exposition::default();
        self.render_counters(&mut out);
        render_gauges(&mut out, gauges);
        out.text
    }

    /// The unlabelled counters, in the order of [`PLAIN_COUNTERS`].
    fn plain_counters(&self) -> [&Counter; PLAIN_COUNTERS.len()] {
        [
            &self.links_established,
            &self.links_closed,
            &self.messages_in,
            &self.messages_out,
            &self.bytes_in,
            &self.bytes_out,
            &self.frames_in,
            &self.frames_out,
            &self.connections_refused,
            &self.http_requests_not_found,
            &self.link_resumes,
            &self.reconnect_attempts,
            &self.messages_replayed,
            &self.duplicates_dropped,
            &self.messages_lost,
            &self.proxy_timeouts,
            &self.proxy_retries,
            &self.served_sessions_failed,
            &self.proxy_resent,
            &self.proxy_duplicates,
            &self.discovery_rounds,
        ]
    }

    /// Appends every counter family.
    fn render_counters(&self, out: &mut Exposition) {
        for ((name, help), counter) in PLAIN_COUNTERS.iter().zip(self.plain_counters()) {
            out.family(name, "counter", help);
            out.sample(name, &[], counter.get());
        }
        let name = "handshake_failures_total";
        out.family(name, "counter", "Refused handshakes, by reason.");
        for reason in HandshakeFailure::ALL {
            let count = self.handshake_failures(reason);
            out.sample(name, &[("reason", reason.label())], count);
        }
        let name = "rejected_frames_total";
        out.family(name, "counter", "Rejected incoming frames, by reason.");
        for reason in FrameRejection::ALL {
            let count = self.rejected_frames(reason);
            out.sample(name, &[("reason", reason.label())], count);
        }
        let name = "proxy_skipped_total";
        out.family(
            name,
            "counter",
            "What proxies in skip mode gave up on, by reason.",
        );
        for reason in SkipReason::ALL {
            let count = self.proxy_skips(reason);
            out.sample(name, &[("reason", reason.label())], count);
        }
        let name = "proxy_breaker_transitions_total";
        out.family(
            name,
            "counter",
            "Circuit breaker transitions of remote actor proxies, by the state entered.",
        );
        for (state, counter) in BREAKER_STATES.iter().zip(&self.breaker_transitions) {
            out.sample(name, &[("state", state)], counter.get());
        }
    }
}

/// The states a circuit breaker enters, in rendering order.
const BREAKER_STATES: [&str; 3] = ["open", "half_open", "closed"];

/// Appends every gauge family.
fn render_gauges(out: &mut Exposition, gauges: &Gauges) {
    out.family("links_up", "gauge", "Links currently up.");
    out.sample("links_up", &[], gauges.links_up);
    let name = "link_queue_depth";
    out.family(
        name,
        "gauge",
        "Messages waiting in a link's outbox, by peer.",
    );
    let mut depths: BTreeMap<&str, u64> = BTreeMap::new();
    for (peer, depth) in &gauges.queue_depths {
        *depths.entry(peer).or_default() += depth;
    }
    for (peer, depth) in depths {
        out.sample(name, &[("peer", peer)], depth);
    }
    out.family(
        "remote_actors",
        "gauge",
        "Remote actors registered locally.",
    );
    out.sample("remote_actors", &[], gauges.remote_actors);
    out.family(
        "exported_actors",
        "gauge",
        "Local actors exported to peers.",
    );
    out.sample("exported_actors", &[], gauges.exported_actors);
    out.family(
        "uptime_seconds",
        "gauge",
        "Seconds since the bridge started.",
    );
    out.sample("uptime_seconds", &[], Float(gauges.uptime_secs));
    let name = "proxy_routed_total";
    out.family(
        name,
        "counter",
        "Messages a remote actor proxy sent to an instance, by process and instance.",
    );
    for (process, instance, n) in &gauges.routed {
        out.sample(name, &[("process", process), ("instance", instance)], n);
    }
}

/// Name and help of each unlabelled counter, in the order of `Metrics::plain_counters`.
const PLAIN_COUNTERS: [(&str, &str); 21] = [
    (
        "links_established_total",
        "Links that completed the handshake.",
    ),
    ("links_closed_total", "Established links that went down."),
    ("messages_in_total", "Application messages received."),
    ("messages_out_total", "Application messages sent."),
    ("bytes_in_total", "Payload bytes of frames received."),
    ("bytes_out_total", "Payload bytes of frames sent."),
    ("frames_in_total", "WebSocket frames received."),
    ("frames_out_total", "WebSocket frames sent."),
    (
        "connections_refused_total",
        "Connections closed before the handshake because of a limit.",
    ),
    (
        "http_requests_not_found_total",
        "HTTP requests for an unknown path.",
    ),
    (
        "link_resumes_total",
        "Lost links resumed on a new connection.",
    ),
    ("reconnect_attempts_total", "Redials of lost links."),
    (
        "messages_replayed_total",
        "Sequenced frames sent again on resumed connections.",
    ),
    (
        "duplicates_dropped_total",
        "Replayed frames the receiver already had, dropped.",
    ),
    (
        "messages_lost_total",
        "Sequenced frames that will never be delivered.",
    ),
    (
        "proxy_timeouts_total",
        "Proxy sends and reply waits that timed out.",
    ),
    (
        "proxy_retries_total",
        "Proxy sends attempted again in retry mode.",
    ),
    (
        "served_sessions_failed_total",
        "Remote sessions ended with an error because the exported actor stopped.",
    ),
    (
        "proxy_resent_total",
        "Messages a proxy sent again to another instance after theirs was lost.",
    ),
    (
        "proxy_duplicates_total",
        "Messages sent again whose replies had partly come back: duplicated in the output.",
    ),
    (
        "discovery_rounds_total",
        "Rounds of HTTP discovery done: register, list, link to what is new.",
    ),
];

/// Prefix of every metric name.
const PREFIX: &str = "reflow_bridge_";

/// A text exposition being written.
#[derive(Default)]
struct Exposition {
    text: String,
}

impl Exposition {
    /// Starts family `name` with its `# HELP` and `# TYPE` lines; `help` must be one line
    /// without backslashes.
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        // Writing to a String cannot fail.
        let _ = writeln!(self.text, "# HELP {PREFIX}{name} {help}");
        let _ = writeln!(self.text, "# TYPE {PREFIX}{name} {kind}");
    }

    /// Appends one sample of family `name`, with its labels.
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl fmt::Display) {
        let _ = write!(self.text, "{PREFIX}{name}");
        for (i, (key, val)) in labels.iter().enumerate() {
            let open = if i == 0 { "{" } else { "," };
            let _ = write!(self.text, "{open}{key}=\"{}\"", LabelValue(val));
        }
        if !labels.is_empty() {
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {value}");
    }
}

/// A label value escaped as the format requires: `\\`, `\"` and `\n`.
struct LabelValue<'a>(&'a str);

impl fmt::Display for LabelValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '\\' => f.write_str("\\\\")?,
                '"' => f.write_str("\\\"")?,
                '\n' => f.write_str("\\n")?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// A float written as the format spells it (`+Inf`, `-Inf`, `NaN`).
struct Float(f64);

impl fmt::Display for Float {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            v if v.is_nan() => f.write_str("NaN"),
            v if v == f64::INFINITY => f.write_str("+Inf"),
            v if v == f64::NEG_INFINITY => f.write_str("-Inf"),
            v => write!(f, "{v}"),
        }
    }
}
