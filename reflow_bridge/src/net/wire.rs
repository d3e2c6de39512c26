//! One view of a WebSocket for the rest of the bridge, whichever library carries it:
//! binary messages in and out, and a close with its code. Tests can drive it with channels.

use std::pin::Pin;

use futures::{Sink, SinkExt, Stream, StreamExt};

use crate::error::TransportError;

/// A WebSocket message as the bridge sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Wire {
    /// A binary message: one envelope of frames.
    Binary(Vec<u8>),
    /// A close, with its code and reason.
    Close(u16, String),
    /// A text message: the bridge speaks binary only.
    Text,
    /// Anything else (text, ping, pong): ignored, but seen by the reader.
    Other,
}

/// Sending half of a link's socket.
pub(crate) type WireSink = Pin<Box<dyn Sink<Wire, Error = TransportError> + Send>>;
/// Receiving half of a link's socket.
pub(crate) type WireStream = Pin<Box<dyn Stream<Item = Result<Wire, TransportError>> + Send>>;

/// The client side: a tokio-tungstenite stream.
pub(crate) fn from_tungstenite<S>(
    socket: tokio_tungstenite::WebSocketStream<S>,
) -> (WireSink, WireStream)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
    use tokio_tungstenite::tungstenite::protocol::CloseFrame;
    use tokio_tungstenite::tungstenite::Message;
    let (sink, stream) = socket.split();
    let sink = sink.sink_map_err(TransportError::from).with(|wire: Wire| {
        futures::future::ready(Ok::<_, TransportError>(match wire {
            Wire::Binary(bytes) => Message::Binary(bytes.into()),
            Wire::Close(code, reason) => Message::Close(Some(CloseFrame {
                code: CloseCode::from(code),
                reason: bounded_reason(reason).into(),
            })),
            Wire::Text | Wire::Other => Message::Pong(Vec::new().into()),
        }))
    });
    let stream = stream.map(|item| {
        item.map(|msg| match msg {
            Message::Binary(bytes) => Wire::Binary(bytes.into()),
            Message::Text(_) => Wire::Text,
            Message::Close(frame) => {
                close_of(frame.map(|f| (u16::from(f.code), f.reason.to_string())))
            }
            _ => Wire::Other,
        })
        .map_err(TransportError::from)
    });
    (Box::pin(sink), Box::pin(stream))
}

/// The server side: an axum WebSocket.
pub(crate) fn from_axum(socket: axum::extract::ws::WebSocket) -> (WireSink, WireStream) {
    use axum::extract::ws::{CloseFrame, Message};
    let (sink, stream) = socket.split();
    let sink = sink.sink_map_err(TransportError::from).with(|wire: Wire| {
        futures::future::ready(Ok::<_, TransportError>(match wire {
            Wire::Binary(bytes) => Message::Binary(bytes.into()),
            Wire::Close(code, reason) => Message::Close(Some(CloseFrame {
                code,
                reason: bounded_reason(reason).into(),
            })),
            Wire::Text | Wire::Other => Message::Pong(Vec::new().into()),
        }))
    });
    let stream = stream.map(|item| {
        item.map(|msg| match msg {
            Message::Binary(bytes) => Wire::Binary(bytes.into()),
            Message::Text(_) => Wire::Text,
            Message::Close(frame) => close_of(frame.map(|f| (f.code, f.reason.to_string()))),
            _ => Wire::Other,
        })
        .map_err(TransportError::from)
    });
    (Box::pin(sink), Box::pin(stream))
}

/// The longest close reason a WebSocket close frame can carry (125 bytes less the code).
const MAX_CLOSE_REASON: usize = 123;

/// `reason` cut to fit a close frame, at a character boundary: a longer one would make the
/// close frame itself a protocol violation, and the peer would never see the code.
fn bounded_reason(mut reason: String) -> String {
    if reason.len() > MAX_CLOSE_REASON {
        let mut end = MAX_CLOSE_REASON;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
    }
    reason
}

fn close_of(frame: Option<(u16, String)>) -> Wire {
    let (code, reason) = frame.unwrap_or((1005, String::new()));
    Wire::Close(code, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_reasons_are_cut_to_fit_a_close_frame_at_a_char_boundary() {
        assert_eq!(bounded_reason("short".into()), "short");
        let long = "é".repeat(100);
        let cut = bounded_reason(long);
        assert_eq!(cut.len(), 122);
        assert!(cut.chars().all(|c| c == 'é'));
        assert_eq!(bounded_reason("a".repeat(200)).len(), MAX_CLOSE_REASON);
    }
}
