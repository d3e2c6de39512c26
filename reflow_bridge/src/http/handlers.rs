//! One handler per route of the HTTP surface.

use std::net::SocketAddr;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::HttpState;

/// Content type of the Prometheus text exposition format.
pub(super) const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The `/health` body: the process is serving, and which one it is.
#[derive(Serialize)]
struct Health<'a> {
    status: &'static str,
    network_id: &'a str,
    instance_id: &'a str,
}

/// `GET /health`: 200 with the instance's ids, without consulting links or sessions.
pub(super) async fn health(State(state): State<HttpState>) -> Response {
    Json(Health {
        status: "ok",
        network_id: &state.network_id,
        instance_id: &state.instance_id,
    })
    .into_response()
}

/// `GET /status`: the status document as JSON.
pub(super) async fn status(State(state): State<HttpState>) -> Response {
    Json((state.status)()).into_response()
}

/// `GET /metrics`: counters and gauges as Prometheus text.
pub(super) async fn metrics(State(state): State<HttpState>) -> Response {
    let gauges = (state.gauges)();
    let body = state.metrics.render_prometheus(&gauges);
    ([(header::CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE)], body).into_response()
}

/// `GET /ws`: upgrades with the configured limits and hands the socket and the peer's
/// address to the bridge's handler. A request without upgrade headers is refused by the
/// extractor before this runs.
pub(super) async fn upgrade(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let limits = state.ws_limits;
    let handler = state.ws_handler.clone();
    upgrade
        .max_message_size(limits.max_message_size)
        .max_frame_size(limits.max_message_size)
        .write_buffer_size(limits.write_buffer_size)
        .read_buffer_size(limits.read_buffer_size)
        .max_write_buffer_size(limits.max_write_buffer_size())
        .on_failed_upgrade(move |err| tracing::debug!(%peer, %err, "websocket upgrade failed"))
        .on_upgrade(move |socket| handler(socket, peer))
}

/// Any other path: a plain-text 404, counted.
pub(super) async fn not_found(State(state): State<HttpState>, uri: Uri) -> Response {
    state.metrics.http_requests_not_found.inc();
    tracing::debug!(path = uri.path(), "http request for an unknown path");
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}
