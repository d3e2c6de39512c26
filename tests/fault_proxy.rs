//! The fault-injection relay of the test helpers, mode by mode, against an echo server on
//! 127.0.0.1: what a client sees through it, and that nothing is lost or reordered where the
//! mode promises so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;

use common::fault::FaultProxy;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::{timeout, Instant};

/// Failure bound for what must happen: never reached when the test passes.
const BOUND: Duration = Duration::from_secs(10);
/// How long a read must stay unanswered to count as silence.
const SILENCE: Duration = Duration::from_millis(200);

type Seen = mpsc::UnboundedReceiver<Vec<u8>>;

/// An echo server on 127.0.0.1:0 that reports every chunk it receives; an empty report marks
/// the end of a connection.
async fn echo_server() -> (SocketAddr, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (seen, reports) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(echo(stream, seen.clone()));
        }
    });
    (addr, reports)
}

async fn echo(mut stream: TcpStream, seen: mpsc::UnboundedSender<Vec<u8>>) {
    stream.set_nodelay(true).unwrap();
    let mut buf = vec![0; 64 * 1024];
    while let Ok(n @ 1..) = stream.read(&mut buf).await {
        let _ = seen.send(buf[..n].to_vec());
        if stream.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = seen.send(Vec::new());
}

/// A proxy in front of a fresh echo server.
async fn setup() -> (FaultProxy, Seen) {
    let (upstream, seen) = echo_server().await;
    (FaultProxy::start(upstream).await, seen)
}

async fn connect(proxy: &FaultProxy) -> TcpStream {
    let stream = TcpStream::connect(proxy.addr()).await.unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// Bytes whose value depends on their position, so that a loss or a swap shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

async fn read_exactly(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut got = vec![0; n];
    timeout(BOUND, stream.read_exact(&mut got))
        .await
        .expect("the bytes arrived in time")
        .unwrap();
    got
}

async fn round_trip(stream: &mut TcpStream, bytes: &[u8]) {
    stream.write_all(bytes).await.unwrap();
    assert_eq!(read_exactly(stream, bytes.len()).await, bytes);
}

/// Writes `data` and closes the sending half while reading everything echoed back.
async fn echo_all(stream: &mut TcpStream, data: &[u8]) -> Vec<u8> {
    let (mut read, mut write) = stream.split();
    let send = async {
        for piece in data.chunks(1024) {
            write.write_all(piece).await.unwrap();
        }
        write.shutdown().await.unwrap();
    };
    let mut got = Vec::new();
    let receive = read.read_to_end(&mut got);
    let (_, received) = timeout(BOUND, async { tokio::join!(send, receive) })
        .await
        .expect("the echo completed in time");
    received.unwrap();
    got
}

/// Nothing at all arrives: no byte, no end of stream, no error.
async fn assert_silent(stream: &mut TcpStream) {
    let mut buf = [0; 64];
    let read = timeout(SILENCE, stream.read(&mut buf)).await;
    assert!(read.is_err(), "expected silence, got {read:?}");
}

/// Reads until the connection ends by a reset or an end of stream; returns what came first.
async fn read_until_ended(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0; 4096];
    loop {
        let read = timeout(BOUND, stream.read(&mut buf));
        match read.await.expect("the connection ended in time") {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return got,
            Err(e) => panic!("expected a reset or an end of stream, got {e}"),
        }
    }
}

/// What the server received on its next connection, once `n` bytes or its end arrived.
async fn server_received(seen: &mut Seen, n: usize) -> Vec<u8> {
    let mut got = Vec::new();
    while got.len() < n {
        let chunk = timeout(BOUND, seen.recv()).await.unwrap().unwrap();
        if chunk.is_empty() {
            break;
        }
        got.extend(chunk);
    }
    got
}

#[tokio::test]
async fn pass_relays_both_ways_in_order_and_counts_the_bytes() {
    let (proxy, _seen) = setup().await;
    let mut client = connect(&proxy).await;
    let data = pattern(256 * 1024);
    assert_eq!(echo_all(&mut client, &data).await, data);
    let stats = proxy.stats();
    assert_eq!(
        (stats.accepted, stats.to_server, stats.to_client),
        (1, 256 * 1024, 256 * 1024)
    );
    let closed = timeout(BOUND, proxy.wait_stats(|s| s.open == 0)).await;
    assert!(closed.is_ok(), "the relay closed after both ends did");
}

#[tokio::test]
async fn a_stall_blocks_the_sender_and_pass_delivers_everything_in_order() {
    let (proxy, _seen) = setup().await;
    let mut client = connect(&proxy).await;
    round_trip(&mut client, b"hello").await;
    proxy.stall();

    // Fill the kernel buffers until a write no longer completes.
    let data = pattern(64 << 20);
    let mut written = 0;
    while let Ok(wrote) = timeout(SILENCE, client.write(&data[written..])).await {
        written += wrote.unwrap();
        assert!(
            written < data.len(),
            "the stalled proxy never blocked the sender"
        );
    }
    assert_silent(&mut client).await;
    assert_eq!(proxy.stats().to_server, 5, "nothing went through the stall");

    proxy.pass();
    assert!(read_exactly(&mut client, written).await == data[..written]);
}

#[tokio::test]
async fn a_stall_towards_the_client_holds_only_that_way_also_for_new_connections() {
    let (proxy, mut seen) = setup().await;
    proxy.to_client().stall();
    let mut client = connect(&proxy).await;
    client.write_all(b"ping").await.unwrap();
    assert_eq!(server_received(&mut seen, 4).await, b"ping");
    assert_silent(&mut client).await;
    proxy.pass();
    assert_eq!(read_exactly(&mut client, 4).await, b"ping");
}

#[tokio::test]
async fn a_blackhole_discards_silently_and_the_link_lives_on() {
    let (proxy, _seen) = setup().await;
    let mut client = connect(&proxy).await;
    round_trip(&mut client, b"hello").await;
    proxy.blackhole();
    client.write_all(b"lost").await.unwrap();
    timeout(BOUND, proxy.wait_stats(|s| s.discarded == 4))
        .await
        .unwrap();
    assert_silent(&mut client).await;

    // A connection opened during the partition falls into it too.
    let mut late = connect(&proxy).await;
    late.write_all(b"late").await.unwrap();
    timeout(BOUND, proxy.wait_stats(|s| s.discarded == 8))
        .await
        .unwrap();
    assert_silent(&mut late).await;

    proxy.pass();
    round_trip(&mut client, b"found").await;
    round_trip(&mut late, b"again").await;
    assert_eq!(proxy.stats().to_server, 15);
}

#[tokio::test]
async fn reset_ends_every_open_connection_at_once_and_new_ones_pass() {
    let (proxy, _seen) = setup().await;
    let mut first = connect(&proxy).await;
    let mut second = connect(&proxy).await;
    round_trip(&mut first, b"one").await;
    round_trip(&mut second, b"two").await;
    proxy.reset();
    assert!(read_until_ended(&mut first).await.is_empty());
    assert!(read_until_ended(&mut second).await.is_empty());
    timeout(BOUND, proxy.wait_stats(|s| s.open == 0))
        .await
        .unwrap();

    let mut third = connect(&proxy).await;
    round_trip(&mut third, b"three").await;
    assert_eq!(proxy.stats().accepted, 3);
}

#[tokio::test]
async fn cut_after_towards_the_client_delivers_exactly_n_bytes_then_ends() {
    let (proxy, _seen) = setup().await;
    let mut client = connect(&proxy).await;
    round_trip(&mut client, b"hello").await;
    proxy.to_client().cut_after(1000);
    let data = pattern(4000);
    client.write_all(&data).await.unwrap();
    assert!(read_until_ended(&mut client).await == data[..1000]);
    assert_eq!(proxy.stats().to_client, 1005);
}

#[tokio::test]
async fn cut_after_towards_the_server_delivers_exactly_n_bytes_then_ends() {
    let (proxy, mut seen) = setup().await;
    proxy.to_server().cut_after(3);
    let mut client = connect(&proxy).await;
    client.write_all(b"abcdef").await.unwrap();
    assert_eq!(server_received(&mut seen, usize::MAX).await, b"abc");
    let echoed = read_until_ended(&mut client).await;
    assert!(b"abc".starts_with(&echoed), "{echoed:?}");
}

#[tokio::test]
async fn delay_holds_every_chunk_and_keeps_order() {
    let (proxy, _seen) = setup().await;
    proxy.delay(Duration::from_millis(50));
    let mut client = connect(&proxy).await;
    let data = pattern(64 * 1024);
    let start = Instant::now();
    assert_eq!(echo_all(&mut client, &data).await, data);
    // At least one delay each way; no upper bound on a shared machine.
    assert!(start.elapsed() >= Duration::from_millis(100));
}

#[tokio::test]
async fn throttle_limits_the_rate_and_delivers_every_byte_in_order() {
    let (proxy, _seen) = setup().await;
    proxy.to_server().throttle(10 * 1024);
    let mut client = connect(&proxy).await;
    let data = pattern(20 * 1024);
    let start = Instant::now();
    assert_eq!(echo_all(&mut client, &data).await, data);
    // 20 KiB at 10 KiB/s takes 2 s; a loose lower bound only.
    assert!(start.elapsed() >= Duration::from_secs(1));
}
