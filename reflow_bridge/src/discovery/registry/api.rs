//! The registry's HTTP handlers. Every failure is a JSON body `{"error": "..."}` that says
//! what was wrong and where, with a 4xx or 5xx status.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use parking_lot::Mutex;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::records::{InstanceList, InstanceRecord};
use super::store::{Filter, PageSpec, Store};
use super::RegistryConfig;

/// What the handlers share.
#[derive(Clone)]
pub(crate) struct ApiState {
    store: Arc<Mutex<Store>>,
    /// SHA-256 of the writer token, so that checking a presented one compares two
    /// fixed-length digests in constant time.
    token_digest: Option<[u8; 32]>,
    /// The TTL and page limits.
    config: Arc<RegistryConfig>,
}

impl ApiState {
    pub(crate) fn new(config: &RegistryConfig) -> ApiState {
        ApiState {
            store: Arc::new(Mutex::new(Store::new(config.max_entries))),
            token_digest: config.token.as_deref().map(digest),
            config: Arc::new(config.clone()),
        }
    }

    /// The TTL granted for `asked`: the default when absent, else clamped to the bounds
    /// (which `RegistryConfig::check` keeps in order).
    fn granted_ttl(&self, asked: Option<u64>) -> Duration {
        let config = &self.config;
        asked
            .map_or(config.default_ttl, Duration::from_secs)
            .clamp(config.min_ttl, config.max_ttl)
    }
}

/// An error response: a status and a JSON body naming the problem.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(json!({ "error": self.message }));
        if self.status == StatusCode::UNAUTHORIZED {
            return (self.status, [(header::WWW_AUTHENTICATE, "Bearer")], body).into_response();
        }
        (self.status, body).into_response()
    }
}

/// The routes, with the body limit and the per-request deadline.
pub(crate) fn router(config: &RegistryConfig) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/v1/instances", get(list).post(register))
        .route("/v1/instances/{instance_id}", delete(deregister))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(ApiState::new(config))
        .layer(axum::extract::DefaultBodyLimit::max(config.max_body_bytes))
        .layer(middleware::from_fn_with_state(
            config.request_timeout,
            deadline,
        ))
}

/// Fails a request that takes longer than `timeout`, reading its body included.
async fn deadline(State(timeout): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!("the request took longer than {} ms", timeout.as_millis()),
        )
        .into_response(),
    }
}

/// `GET /health`: 200 with the number of live entries.
async fn health(State(state): State<ApiState>) -> Response {
    let entries = state.store.lock().len(Instant::now());
    Json(json!({ "status": "ok", "entries": entries })).into_response()
}

/// `POST /v1/instances`: registers or renews an instance; 200 with the TTL granted.
async fn register(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Result<Json<InstanceRecord>, JsonRejection>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers)?;
    let Json(record) = body.map_err(|rejection| {
        // A body that parses but has the wrong shape is a 400 like any other bad body.
        let status = match rejection.status() {
            StatusCode::UNPROCESSABLE_ENTITY => StatusCode::BAD_REQUEST,
            status => status,
        };
        ApiError::new(
            status,
            format!("body of POST /v1/instances: {}", rejection.body_text()),
        )
    })?;
    record.validate().map_err(|problem| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("body of POST /v1/instances: {problem}"),
        )
    })?;
    let ttl = state.granted_ttl(record.ttl_secs);
    let instance_id = record.instance_id.clone();
    state
        .store
        .lock()
        .upsert(record, ttl, Instant::now())
        .map_err(|full| {
            ApiError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                format!(
                    "the registry is full ({} instances): `{instance_id}` is not registered",
                    full.max_entries
                ),
            )
        })?;
    tracing::debug!(%instance_id, ?ttl, "discovery: instance registered");
    Ok(Json(json!({ "ttl_secs": ttl.as_secs() })).into_response())
}

/// `DELETE /v1/instances/{instance_id}`: 204, or 404 when unknown.
async fn deregister(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(instance_id): Path<String>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers)?;
    if state.store.lock().remove(&instance_id, Instant::now()) {
        tracing::debug!(%instance_id, "discovery: instance deregistered");
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no instance `{instance_id}` is registered"),
        ))
    }
}

/// The query string of `GET /v1/instances`.
#[derive(Debug, Deserialize)]
struct ListQuery {
    network_id: Option<String>,
    actor: Option<String>,
    /// `KEY:VALUE`.
    meta: Option<String>,
    /// Most entries on the page.
    limit: Option<usize>,
    /// The previous page's `next`.
    after: Option<String>,
}

/// `GET /v1/instances`: one page of the live instances matching the query.
async fn list(
    State(state): State<ApiState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<InstanceList>, ApiError> {
    let Query(query) = query.map_err(|rejection| {
        ApiError::new(
            rejection.status(),
            format!("query of GET /v1/instances: {}", rejection.body_text()),
        )
    })?;
    let page = page_spec(&state.config, query.limit, query.after)?;
    let filter = Filter {
        network_id: query.network_id,
        actor: query.actor,
        meta: query.meta.map(parse_meta).transpose()?,
    };
    Ok(Json(state.store.lock().page(
        &filter,
        &page,
        Instant::now(),
    )))
}

/// The page asked for: `limit` defaults to the configured page size and is lowered to the
/// largest one; zero is refused.
fn page_spec(
    config: &RegistryConfig,
    limit: Option<usize>,
    after: Option<String>,
) -> Result<PageSpec, ApiError> {
    let limit = limit.unwrap_or(config.default_page_size);
    if limit == 0 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "query of GET /v1/instances: `limit` must be 1 to {}, got 0",
                config.max_page_size
            ),
        ));
    }
    Ok(PageSpec {
        after,
        limit: limit.min(config.max_page_size),
        max_bytes: config.max_page_bytes,
    })
}

/// `KEY:VALUE` of the `meta` filter.
fn parse_meta(meta: String) -> Result<(String, String), ApiError> {
    match meta.split_once(':') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("query of GET /v1/instances: `meta` must be KEY:VALUE, got `{meta}`"),
        )),
    }
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no route for {method} {}", uri.path()),
    )
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not allowed on {}", uri.path()),
    )
}

/// Checks the writer token, when one is configured.
fn authorize(state: &ApiState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = &state.token_digest else {
        return Ok(());
    };
    let presented = bearer_token(headers).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "writes need the header `Authorization: Bearer TOKEN`",
        )
    })?;
    if constant_time_eq(&digest(presented), expected) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "the bearer token in `Authorization` is not the registry's writer token",
        ))
    }
}

/// The token of an `Authorization: Bearer TOKEN` header. The scheme is matched without
/// regard to case and may be followed by several spaces (RFC 7235).
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_start_matches(' '))
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
