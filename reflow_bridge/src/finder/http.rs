//! A minimal HTTP/1.1 client for the discovery registry: one request per connection over
//! hyper, JSON in and out, a deadline on the whole exchange.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;

/// Largest registry answer read, in bytes.
const MAX_ANSWER: usize = 16 << 20;

/// A registry endpoint: `http://host:port` with an optional path prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    host: String,
    prefix: String,
}

impl Endpoint {
    /// Parses `http://host:port[/prefix]`; `host:port` alone means http.
    pub(crate) fn parse(url: &str) -> Result<Self, String> {
        if url.starts_with("https://") {
            return Err(format!(
                "{url}: https registries are not supported yet, use http://"
            ));
        }
        let rest = url.strip_prefix("http://").unwrap_or(url);
        let (host, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if host.is_empty() || !host.contains(':') {
            return Err(format!("{url}: expected http://HOST:PORT"));
        }
        Ok(Endpoint {
            host: host.to_string(),
            prefix: prefix.trim_end_matches('/').to_string(),
        })
    }

    fn path(&self, path: &str) -> String {
        if self.prefix.is_empty() {
            path.to_string()
        } else {
            format!("/{}{path}", self.prefix)
        }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "http://{}{}", self.host, self.path(""))
    }
}

/// Sends one request and returns the status and body; a transport failure or a deadline
/// is an error naming the endpoint.
pub(crate) async fn request(
    endpoint: &Endpoint,
    method: Method,
    path: &str,
    body: Option<Vec<u8>>,
    token: Option<&str>,
    deadline: Duration,
) -> Result<(u16, Vec<u8>), String> {
    let exchange = exchange(endpoint, method, path, body, token);
    tokio::time::timeout(deadline, exchange)
        .await
        .map_err(|_| format!("{endpoint}: no answer within {deadline:?}"))?
        .map_err(|err| format!("{endpoint}: {err}"))
}

async fn exchange(
    endpoint: &Endpoint,
    method: Method,
    path: &str,
    body: Option<Vec<u8>>,
    token: Option<&str>,
) -> Result<(u16, Vec<u8>), String> {
    let tcp = tokio::net::TcpStream::connect(&endpoint.host)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut builder = Request::builder()
        .method(method)
        .uri(endpoint.path(path))
        .header(HOST, endpoint.host.as_str());
    if body.is_some() {
        builder = builder.header(CONTENT_TYPE, "application/json");
    }
    if let Some(token) = token {
        builder = builder.header(AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = builder
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let limited = http_body_util::Limited::new(response.into_body(), MAX_ANSWER);
    let bytes = limited
        .collect()
        .await
        .map_err(|e| format!("reading the answer: {e}"))?
        .to_bytes();
    Ok((status, bytes.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_with_and_without_scheme_and_prefix() {
        let plain = Endpoint::parse("127.0.0.1:7400").unwrap();
        assert_eq!(plain.to_string(), "http://127.0.0.1:7400");
        let prefixed = Endpoint::parse("http://reg:80/api/").unwrap();
        assert_eq!(prefixed.path("/v1/instances"), "/api/v1/instances");
        assert!(Endpoint::parse("https://reg:443")
            .unwrap_err()
            .contains("https"));
        assert!(Endpoint::parse("http://nohost")
            .unwrap_err()
            .contains("HOST:PORT"));
    }
}
