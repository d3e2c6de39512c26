//! Runs the handshake state machines over a socket: one frame per WebSocket message, a
//! deadline for the whole exchange, the refusal sent before closing.

use std::time::Duration;

use futures::{SinkExt, StreamExt};

use super::wire::{Wire, WireSink, WireStream};
use crate::error::{BridgeError, TransportError};
use crate::hub::Hub;
use crate::metrics::{FrameRejection, HandshakeFailure};
use crate::protocol::{self, close, DecodeError, Frame, RefuseReason};
use crate::session::{
    fresh_nonce, ClientHandshake, HandshakeError, Identity, Limits, Peer, ServerHandshake, Step,
};

/// How long a peer has to complete the handshake.
const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);

fn limits(hub: &Hub) -> Limits {
    Limits {
        max_message: u32::try_from(hub.max_message_bytes()).unwrap_or(u32::MAX),
        max_payload: u32::try_from(hub.config.max_message_size).unwrap_or(u32::MAX),
    }
}

/// The dialling side.
pub(super) async fn client(
    hub: &Hub,
    sink: &mut WireSink,
    stream: &mut WireStream,
) -> Result<Peer, BridgeError> {
    let (mut fsm, hello) = ClientHandshake::new(
        hub.me.clone(),
        limits(hub),
        hub.token.clone(),
        fresh_nonce(),
    );
    exchange(hub, sink, stream, Some(hello), |frame| fsm.on_frame(frame)).await
}

/// The accepting side.
pub(super) async fn server(
    hub: &Hub,
    sink: &mut WireSink,
    stream: &mut WireStream,
) -> Result<Peer, BridgeError> {
    let mut fsm = ServerHandshake::new(
        hub.me.clone(),
        limits(hub),
        hub.token.clone(),
        fresh_nonce(),
    );
    let step = |frame| fsm.on_frame(frame, |peer| admit(hub, peer));
    exchange(hub, sink, stream, None, step).await
}

/// Feeds every frame that arrives to a handshake state machine and sends what it says, within
/// the handshake deadline.
async fn exchange(
    hub: &Hub,
    sink: &mut WireSink,
    stream: &mut WireStream,
    first: Option<Frame>,
    mut step: impl FnMut(Frame) -> Result<Step, HandshakeError>,
) -> Result<Peer, BridgeError> {
    let run = async {
        if let Some(frame) = first {
            send(sink, frame).await?;
        }
        loop {
            let frame = match read_frame(stream, hub.max_message_bytes()).await {
                Ok(frame) => frame,
                Err(ReadError::Rejected(rejection)) => {
                    return Err(reject(hub, sink, rejection).await)
                }
                Err(ReadError::Gone(err)) => return Err(err),
            };
            if !frame.is_handshake() {
                // Data, acks and the like are only read once the peer is authenticated.
                hub.metrics.frame_rejected(FrameRejection::BeforeAuth);
            }
            match step(frame) {
                Ok(Step::Send(frame)) => send(sink, frame).await?,
                Ok(Step::Done { send: reply, peer }) => {
                    if let Some(frame) = reply {
                        send(sink, frame).await?;
                    }
                    return Ok(peer);
                }
                Err(err) => return Err(fail(hub, sink, err).await),
            }
        }
    };
    if let Ok(result) = tokio::time::timeout(HANDSHAKE_DEADLINE, run).await {
        return result;
    }
    let _ = sink
        .send(Wire::Close(
            close::POLICY_VIOLATION,
            "handshake timeout".into(),
        ))
        .await;
    hub.metrics.handshake_failed(HandshakeFailure::Protocol);
    Err(BridgeError::Protocol(
        "the handshake did not complete in time".into(),
    ))
}

/// Closes on a message we refuse to read, and counts both the message and the handshake.
async fn reject(hub: &Hub, sink: &mut WireSink, rejection: Rejection) -> BridgeError {
    let Rejection {
        close,
        reason,
        detail,
    } = rejection;
    let _ = sink.send(Wire::Close(close, detail.clone())).await;
    hub.metrics.frame_rejected(reason);
    hub.metrics.handshake_failed(HandshakeFailure::Protocol);
    tracing::debug!("handshake failed: rejected message: {detail}");
    BridgeError::Protocol(detail)
}

/// Refuses ourselves, and a live duplicate (another process with the same instance id);
/// a reconnecting or restarted peer is let in. Only a new peer counts towards the limit.
fn admit(hub: &Hub, peer: &Identity) -> Result<(), RefuseReason> {
    if peer.instance_id == hub.me.instance_id || hub.is_live_duplicate(peer) {
        return Err(RefuseReason::DuplicateInstance);
    }
    let known = hub.session_with(peer).is_some();
    if !known && hub.link_count() >= hub.config.max_connections {
        return Err(RefuseReason::TooManyConnections);
    }
    Ok(())
}

/// Sends the refusal (if any) and the close, counts the failure, and maps the error.
async fn fail(hub: &Hub, sink: &mut WireSink, err: HandshakeError) -> BridgeError {
    if let Some(refusal) = err.refusal() {
        let _ = send(sink, refusal).await;
    }
    let _ = sink
        .send(Wire::Close(err.close_code(), err.to_string()))
        .await;
    hub.metrics.handshake_failed(failure(err.reason()));
    tracing::debug!("handshake failed: {err}");
    into_bridge_error(err)
}

fn failure(reason: RefuseReason) -> HandshakeFailure {
    match reason {
        RefuseReason::VersionMismatch => HandshakeFailure::VersionMismatch,
        RefuseReason::AuthenticationFailed => HandshakeFailure::AuthFailed,
        RefuseReason::MissingToken => HandshakeFailure::MissingToken,
        RefuseReason::DuplicateInstance => HandshakeFailure::DuplicateInstance,
        RefuseReason::TooManyConnections => HandshakeFailure::TooManyConnections,
        RefuseReason::Protocol => HandshakeFailure::Protocol,
    }
}

/// Maps a handshake failure to the caller's typed error, without repeating the kind in the
/// text (the error's own message already names it).
fn into_bridge_error(err: HandshakeError) -> BridgeError {
    match err {
        HandshakeError::AuthenticationFailed(detail) => BridgeError::AuthenticationFailed(detail),
        HandshakeError::MissingToken => BridgeError::MissingToken(
            "the client offered no proof: it has no token configured".into(),
        ),
        HandshakeError::DuplicateInstance(id) => BridgeError::DuplicateInstance(id),
        HandshakeError::TooManyConnections => BridgeError::TooManyConnections,
        HandshakeError::VersionMismatch { ours, theirs } => {
            BridgeError::VersionMismatch { ours, theirs }
        }
        HandshakeError::Refused { reason, detail } => match reason {
            RefuseReason::AuthenticationFailed => BridgeError::AuthenticationFailed(detail),
            RefuseReason::MissingToken => BridgeError::MissingToken(detail),
            RefuseReason::DuplicateInstance => BridgeError::DuplicateInstance(detail),
            RefuseReason::TooManyConnections => BridgeError::TooManyConnections,
            RefuseReason::VersionMismatch => BridgeError::Refused(detail),
            RefuseReason::Protocol => BridgeError::Protocol(detail),
        },
        HandshakeError::Protocol(detail) => BridgeError::Protocol(detail),
    }
}

pub(super) async fn send(sink: &mut WireSink, frame: Frame) -> Result<(), BridgeError> {
    let bytes = protocol::encode(&[frame]).map_err(|e| BridgeError::Protocol(e.to_string()))?;
    sink.send(Wire::Binary(bytes))
        .await
        .map_err(BridgeError::WebSocket)
}

/// Reads the next frame after the handshake (the peer's `Resume`); a message we refuse is
/// reported as a protocol error, which the caller answers.
pub(super) async fn recv(stream: &mut WireStream, max: usize) -> Result<Frame, BridgeError> {
    read_frame(stream, max)
        .await
        .map_err(ReadError::into_bridge_error)
}

/// Why a handshake message could not be read.
#[derive(Debug)]
enum ReadError {
    /// The peer sent something the protocol does not allow: answer with a close.
    Rejected(Rejection),
    /// The peer closed, or the socket failed: there is nobody to answer.
    Gone(BridgeError),
}

/// A refused message: the close code to answer with, and the counter it goes to.
#[derive(Debug)]
struct Rejection {
    close: u16,
    reason: FrameRejection,
    detail: String,
}

impl ReadError {
    fn rejected(close: u16, reason: FrameRejection, detail: String) -> Self {
        ReadError::Rejected(Rejection {
            close,
            reason,
            detail,
        })
    }

    fn into_bridge_error(self) -> BridgeError {
        match self {
            ReadError::Rejected(rejection) => BridgeError::Protocol(rejection.detail),
            ReadError::Gone(err) => err,
        }
    }
}

/// Reads the next binary message and decodes its one frame.
async fn read_frame(stream: &mut WireStream, max: usize) -> Result<Frame, ReadError> {
    loop {
        let bytes = match stream.next().await {
            Some(Ok(Wire::Binary(bytes))) => bytes,
            Some(Ok(Wire::Other)) => continue,
            Some(Ok(Wire::Text)) => {
                return Err(ReadError::rejected(
                    close::UNSUPPORTED_DATA,
                    FrameRejection::Malformed,
                    "a text message during the handshake".into(),
                ))
            }
            Some(Ok(Wire::Close(code, reason))) => {
                return Err(ReadError::Gone(BridgeError::Refused(format!(
                    "the peer closed ({code}): {reason}"
                ))))
            }
            Some(Err(err)) => return Err(read_failure(err)),
            None => {
                return Err(ReadError::Gone(BridgeError::Refused(
                    "the peer closed the connection".into(),
                )))
            }
        };
        return one_frame(&bytes, max);
    }
}

/// Decodes a handshake message, which holds exactly one frame of at most `max` bytes.
fn one_frame(bytes: &[u8], max: usize) -> Result<Frame, ReadError> {
    if bytes.len() > max {
        return Err(oversized(format!(
            "handshake message of {} bytes",
            bytes.len()
        )));
    }
    let mut frames = protocol::decode_limited(bytes, 1).map_err(|err| {
        let reason = match err {
            DecodeError::UnknownKind { .. } => FrameRejection::UnknownKind,
            _ => FrameRejection::Malformed,
        };
        ReadError::rejected(err.close_code(), reason, err.to_string())
    })?;
    match (frames.pop(), frames.is_empty()) {
        (Some(frame), true) => Ok(frame),
        _ => Err(ReadError::rejected(
            close::PROTOCOL_ERROR,
            FrameRejection::Malformed,
            "a handshake message carries exactly one frame".into(),
        )),
    }
}

/// tungstenite reports an over-limit message as a read error and sends no Close; anything
/// else is a broken socket.
fn read_failure(err: TransportError) -> ReadError {
    if let TransportError::TooLong(why) = err {
        return oversized(format!("message too long: {why}"));
    }
    ReadError::Gone(BridgeError::WebSocket(err))
}

fn oversized(detail: String) -> ReadError {
    ReadError::rejected(close::TOO_BIG, FrameRejection::Oversized, detail)
}
