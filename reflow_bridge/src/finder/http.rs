//! A minimal HTTP/1.1 client for the discovery registry: one request per connection over
//! hyper, in plaintext (`http://`) or over TLS (`https://`), JSON in and out, a deadline on
//! the whole exchange.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

use super::tls::TlsClient;
use crate::error::BridgeError;

/// Largest registry answer read, in bytes.
const MAX_ANSWER: usize = 16 << 20;

/// How long one registry request may take, connecting and the TLS handshake included.
const DEADLINE: Duration = Duration::from_secs(5);

/// Checks that `url` is a discovery registry address: `http://HOST:PORT` or
/// `https://HOST:PORT`, optionally with a path (`HOST:PORT` alone means http).
pub fn check_registry_url(url: &str) -> Result<(), BridgeError> {
    Endpoint::parse(url).map(drop).map_err(BridgeError::Config)
}

/// A registry endpoint: `http://host:port` or `https://host:port`, with an optional path
/// prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    tls: bool,
    host: String,
    prefix: String,
}

impl Endpoint {
    /// Parses `http://host:port[/prefix]` or `https://...`; `host:port` alone means http.
    /// Another scheme, or no port from 1 to 65535, is refused saying what is expected.
    pub(crate) fn parse(url: &str) -> Result<Self, String> {
        let (tls, rest) = match url.split_once("://") {
            Some(("https", rest)) => (true, rest),
            Some(("http", rest)) => (false, rest),
            Some(_) => {
                return Err(format!(
                    "{url}: a registry URL starts with http:// or https://"
                ))
            }
            None => (false, url),
        };
        let (host, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let port = host
            .rsplit_once(':')
            .map(|(name, port)| (name, port.parse::<u16>()));
        if !matches!(port, Some((name, Ok(port))) if !name.is_empty() && port > 0) {
            return Err(format!(
                "{url}: expected http://HOST:PORT or https://HOST:PORT (the port is required)"
            ));
        }
        Ok(Endpoint {
            tls,
            host: host.to_string(),
            prefix: prefix.trim_end_matches('/').to_string(),
        })
    }

    /// Whether it is an `https://` endpoint.
    pub(crate) fn is_tls(&self) -> bool {
        self.tls
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
        let scheme = if self.tls { "https" } else { "http" };
        write!(f, "{scheme}://{}{}", self.host, self.path(""))
    }
}

/// `text` percent-encoded for a path segment or a query value: every byte but the
/// unreserved ones of RFC 3986 (`A-Z a-z 0-9 - . _ ~`) as `%XX`.
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// How this instance talks to registries: the TLS client for `https://` ones and the
/// writer token.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    /// Set when an endpoint is `https://`.
    pub(crate) tls: Option<TlsClient>,
    /// The registry's writer token, sent with `POST` and `DELETE`.
    pub(crate) token: Option<String>,
}

impl Client {
    /// Sends one request and returns the status and body; a transport failure or the
    /// deadline is an error naming the endpoint. Writes carry the token.
    pub(crate) async fn request(
        &self,
        endpoint: &Endpoint,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(u16, Vec<u8>), String> {
        let token = (method != Method::GET)
            .then_some(self.token.as_deref())
            .flatten();
        let request = build(endpoint, method, path, body, token)?;
        tokio::time::timeout(DEADLINE, self.exchange(endpoint, request))
            .await
            .map_err(|_| format!("{endpoint}: no answer within {DEADLINE:?}"))?
            .map_err(|err| format!("{endpoint}: {err}"))
    }

    async fn exchange(
        &self,
        endpoint: &Endpoint,
        request: Request<Full<Bytes>>,
    ) -> Result<(u16, Vec<u8>), String> {
        let tcp = tokio::net::TcpStream::connect(&endpoint.host)
            .await
            .map_err(|e| format!("cannot connect: {e}"))?;
        if !endpoint.tls {
            return send(tcp, request).await;
        }
        let Some(tls) = &self.tls else {
            return Err("https needs the CA that signs the registry's certificate".into());
        };
        send(tls.connect(&endpoint.host, tcp).await?, request).await
    }
}

fn build(
    endpoint: &Endpoint,
    method: Method,
    path: &str,
    body: Option<Vec<u8>>,
    token: Option<&str>,
) -> Result<Request<Full<Bytes>>, String> {
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
    builder
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .map_err(|e| e.to_string())
}

/// One HTTP/1.1 exchange over `io`.
async fn send<IO>(io: IO, request: Request<Full<Bytes>>) -> Result<(u16, Vec<u8>), String>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
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
        assert!(!plain.is_tls());
        let prefixed = Endpoint::parse("http://reg:80/api/").unwrap();
        assert_eq!(prefixed.path("/v1/instances"), "/api/v1/instances");
        let secure = Endpoint::parse("https://reg:443/api").unwrap();
        assert!(secure.is_tls());
        assert_eq!(secure.to_string(), "https://reg:443/api");
        assert!(Endpoint::parse("http://nohost")
            .unwrap_err()
            .contains("HOST:PORT"));
        assert!(Endpoint::parse("https://nohost")
            .unwrap_err()
            .contains("HOST:PORT"));
        assert!(Endpoint::parse("ftp://reg:21")
            .unwrap_err()
            .contains("starts with http:// or https://"));
        for bad in ["http://reg:0", "http://reg:x", "http://:80"] {
            assert!(Endpoint::parse(bad)
                .unwrap_err()
                .contains("the port is required"));
        }
    }

    #[test]
    fn encoding_leaves_only_unreserved_characters() {
        assert_eq!(encode("node-1.eu_west~2"), "node-1.eu_west~2");
        assert_eq!(encode("a:b"), "a%3Ab");
        assert_eq!(encode("a/b c?d#e%f"), "a%2Fb%20c%3Fd%23e%25f");
        assert_eq!(encode("caf\u{e9}"), "caf%C3%A9");
    }
}
