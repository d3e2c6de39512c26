//! Runs the handshake state machines over a socket: one frame per WebSocket message, a
//! deadline for the whole exchange, the refusal sent before closing.

use std::time::Duration;

use futures::{SinkExt, StreamExt};

use super::wire::{Wire, WireSink, WireStream};
use crate::error::BridgeError;
use crate::hub::Hub;
use crate::metrics::HandshakeFailure;
use crate::protocol::{self, close, Frame, RefuseReason};
use crate::session::{
    fresh_nonce, ClientHandshake, HandshakeError, Identity, Limits, Peer, ServerHandshake, Step,
};

/// How long a peer has to complete the handshake.
const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);

fn limits(hub: &Hub) -> Limits {
    Limits {
        max_message: u32::try_from(hub.max_message_bytes()).unwrap_or(u32::MAX),
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
            let frame = recv(stream, hub.max_message_bytes()).await?;
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
    Err(BridgeError::Protocol(
        "the handshake did not complete in time".into(),
    ))
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
    tracing::warn!("handshake failed: {err}");
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

pub(super) async fn recv(stream: &mut WireStream, max: usize) -> Result<Frame, BridgeError> {
    loop {
        let bytes = match stream.next().await {
            Some(Ok(Wire::Binary(bytes))) => bytes,
            Some(Ok(Wire::Other)) => continue,
            Some(Ok(Wire::Text)) => {
                return Err(BridgeError::Protocol(
                    "a text message during the handshake".into(),
                ))
            }
            Some(Ok(Wire::Close(code, reason))) => {
                return Err(BridgeError::Refused(format!(
                    "the peer closed ({code}): {reason}"
                )))
            }
            Some(Err(err)) => return Err(BridgeError::WebSocket(err)),
            None => {
                return Err(BridgeError::Refused(
                    "the peer closed the connection".into(),
                ))
            }
        };
        if bytes.len() > max {
            return Err(BridgeError::Protocol(format!(
                "handshake message of {} bytes",
                bytes.len()
            )));
        }
        let mut frames =
            protocol::decode(&bytes).map_err(|e| BridgeError::Protocol(e.to_string()))?;
        if frames.len() != 1 {
            return Err(BridgeError::Protocol(
                "a handshake message carries exactly one frame".into(),
            ));
        }
        if let Some(frame) = frames.pop() {
            return Ok(frame);
        }
    }
}
