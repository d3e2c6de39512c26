//! The discovery registry over real HTTP on 127.0.0.1, with hand-written HTTP/1.1 requests:
//! what a client sees for every route, every bad body and the writer token.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

use reflow_bridge::discovery::{DiscoveryServer, InstanceList, RegistryConfig, RunningRegistry};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Bounds every exchange, so that a regression fails instead of hanging.
const GUARD: Duration = Duration::from_secs(10);

pub(crate) const TOKEN: &str = "s3cret-registry-token";

pub(crate) async fn start(config: RegistryConfig) -> RunningRegistry {
    DiscoveryServer::serve(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// A response: status code, and the body as JSON (`Null` when empty).
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Value,
}

impl Reply {
    pub(crate) fn error(&self) -> &str {
        self.body["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no `error` in the body of a {}: {}", self.status, self.body))
    }
}

/// Sends one request with `headers` (each a full `Name: value`) and reads the response.
pub(crate) async fn send(addr: SocketAddr, head: &str, headers: &[&str], body: &[u8]) -> Reply {
    tokio::time::timeout(GUARD, async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut request = format!("{head} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
        for header in headers {
            request.push_str(header);
            request.push_str("\r\n");
        }
        if !body.is_empty() {
            request.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        stream.write_all(body).await.unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.unwrap();
        parse(&response)
    })
    .await
    .expect("the registry did not answer in time")
}

fn parse(response: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(response);
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
    };
    Reply { status, body }
}

pub(crate) async fn get(addr: SocketAddr, path: &str) -> Reply {
    send(addr, &format!("GET {path}"), &[], b"").await
}

pub(crate) async fn post(addr: SocketAddr, body: &Value, auth: Option<&str>) -> Reply {
    let mut headers = vec!["Content-Type: application/json".to_string()];
    if let Some(token) = auth {
        headers.push(format!("Authorization: Bearer {token}"));
    }
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    let body = serde_json::to_vec(body).unwrap();
    send(addr, "POST /v1/instances", &headers, &body).await
}

pub(crate) async fn delete(addr: SocketAddr, id: &str, auth: Option<&str>) -> Reply {
    let header = auth.map(|t| format!("Authorization: Bearer {t}"));
    let headers: Vec<&str> = header.iter().map(String::as_str).collect();
    send(addr, &format!("DELETE /v1/instances/{id}"), &headers, b"").await
}

pub(crate) async fn list(addr: SocketAddr, query: &str) -> Vec<String> {
    let reply = get(addr, &format!("/v1/instances{query}")).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let list: InstanceList = serde_json::from_value(reply.body).unwrap();
    list.instances
        .into_iter()
        .map(|i| i.record.instance_id)
        .collect()
}

pub(crate) fn record(network: &str, instance: &str, actor: &str, zone: &str) -> Value {
    json!({
        "network_id": network,
        "instance_id": instance,
        "incarnation": "inc-1",
        "address": "127.0.0.1:7400",
        "actors": [{
            "name": actor,
            "inports": ["in"],
            "outports": ["out"],
            "metadata": {"zone": zone, "version": 2}
        }]
    })
}

#[tokio::test]
async fn instances_register_renew_list_with_filters_and_deregister() {
    let registry = start(RegistryConfig::default()).await;
    let addr = registry.local_addr();

    let health = get(addr, "/health").await;
    assert_eq!(
        (health.status, health.body.clone()),
        (200, json!({"status": "ok", "entries": 0}))
    );

    let reply = post(addr, &record("checks", "i-1", "check", "eu"), None).await;
    assert_eq!((reply.status, reply.body), (200, json!({"ttl_secs": 30})));
    let mut long = record("checks", "i-2", "check", "us");
    long["ttl_secs"] = json!(86_400);
    let reply = post(addr, &long, None).await;
    assert_eq!(
        reply.body,
        json!({"ttl_secs": 300}),
        "clamped to the maximum"
    );
    post(addr, &record("orders", "i-3", "emit", "eu"), None).await;

    let reply = get(addr, "/v1/instances?network_id=checks").await;
    let listed: InstanceList = serde_json::from_value(reply.body).unwrap();
    assert_eq!(listed.instances.len(), 2);
    assert_eq!(listed.instances[0].record.address, "127.0.0.1:7400");
    assert_eq!(listed.instances[0].expires_in_secs, 30);
    assert_eq!(listed.instances[1].expires_in_secs, 300);

    assert_eq!(list(addr, "").await, ["i-1", "i-2", "i-3"]);
    assert_eq!(list(addr, "?actor=emit").await, ["i-3"]);
    assert_eq!(list(addr, "?meta=zone:eu").await, ["i-1", "i-3"]);
    assert_eq!(
        list(addr, "?meta=version:2&actor=check").await,
        ["i-1", "i-2"]
    );
    assert_eq!(list(addr, "?network_id=checks&meta=zone:us").await, ["i-2"]);
    assert!(list(addr, "?network_id=nowhere").await.is_empty());

    // A renewal by a restarted process (new incarnation) replaces the entry.
    let mut restarted = record("checks", "i-1", "check", "eu");
    restarted["incarnation"] = json!("inc-2");
    restarted["address"] = json!("127.0.0.1:7500");
    assert_eq!(post(addr, &restarted, None).await.status, 200);
    let reply = get(addr, "/v1/instances?actor=check&meta=zone:eu").await;
    assert_eq!(reply.body["instances"][0]["incarnation"], "inc-2");
    assert_eq!(reply.body["instances"][0]["address"], "127.0.0.1:7500");
    assert_eq!(get(addr, "/health").await.body["entries"], 3);

    assert_eq!(delete(addr, "i-1", None).await.status, 204);
    let reply = delete(addr, "i-1", None).await;
    assert_eq!(reply.status, 404);
    assert!(reply.error().contains("`i-1`"), "{reply:?}");
    assert_eq!(list(addr, "").await, ["i-2", "i-3"]);

    let reply = get(addr, "/v1/instances?meta=zone").await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.error().contains("`meta` must be KEY:VALUE"),
        "{reply:?}"
    );
    registry.stop().await;
}

#[tokio::test]
async fn every_bad_request_gets_a_json_error_naming_the_problem() {
    let config = RegistryConfig {
        max_body_bytes: 1024,
        max_entries: 1,
        ..RegistryConfig::default()
    };
    let registry = start(config).await;
    let addr = registry.local_addr();
    const JSON: &[&str] = &["Content-Type: application/json"];
    let post_raw = |body: &'static [u8], headers: &'static [&'static str]| {
        send(addr, "POST /v1/instances", headers, body)
    };

    let reply = post_raw(b"{\"network_id\": \"n\",\n  oops}", JSON).await;
    assert_eq!(reply.status, 400);
    assert!(reply.error().contains("line 2 column 3"), "{reply:?}");

    let mut missing = record("n", "i", "a", "eu");
    missing.as_object_mut().unwrap().remove("address");
    let reply = post(addr, &missing, None).await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.error().contains("missing field `address`"),
        "{reply:?}"
    );

    let mut wrong_type = record("n", "i", "a", "eu");
    wrong_type["actors"] = json!("check");
    let reply = post(addr, &wrong_type, None).await;
    assert_eq!(reply.status, 400);
    assert!(reply.error().contains("actors: invalid type"), "{reply:?}");

    let mut empty_name = record("n", "i", "a", "eu");
    empty_name["actors"][0]["name"] = json!("");
    let reply = post(addr, &empty_name, None).await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.error().contains("`actors[0].name` is empty"),
        "{reply:?}"
    );

    let mut oversized = record("n", "i", "a", "eu");
    oversized["actors"][0]["metadata"]["pad"] = json!("x".repeat(2000));
    let reply = post(addr, &oversized, None).await;
    assert_eq!(reply.status, 413);
    assert!(reply.error().contains("length limit"), "{reply:?}");

    let reply = post_raw(b"{}", &["Content-Type: text/plain"]).await;
    assert_eq!(reply.status, 415);
    assert!(reply.error().contains("Content-Type"), "{reply:?}");

    assert_eq!(
        post(addr, &record("n", "i-1", "a", "eu"), None)
            .await
            .status,
        200
    );
    let reply = post(addr, &record("n", "i-2", "a", "eu"), None).await;
    assert_eq!(reply.status, 507);
    assert!(reply.error().contains("full (1 instances)"), "{reply:?}");

    let reply = get(addr, "/v2/nothing").await;
    assert_eq!(reply.status, 404);
    assert!(reply.error().contains("GET /v2/nothing"), "{reply:?}");
    let reply = send(addr, "PUT /v1/instances", &[], b"").await;
    assert_eq!(reply.status, 405);
    assert!(reply.error().contains("PUT"), "{reply:?}");
    registry.stop().await;
}

#[tokio::test]
async fn a_request_whose_body_never_comes_times_out_with_408() {
    let config = RegistryConfig {
        request_timeout: Duration::from_millis(200),
        ..RegistryConfig::default()
    };
    let registry = start(config).await;
    let headers = ["Content-Type: application/json", "Content-Length: 100"];
    let reply = send(registry.local_addr(), "POST /v1/instances", &headers, b"").await;
    assert_eq!(reply.status, 408);
    assert!(reply.error().contains("200 ms"), "{reply:?}");
    registry.stop().await;
}

#[tokio::test]
async fn writes_need_the_writer_token_and_reads_do_not() {
    let config = RegistryConfig {
        token: Some(TOKEN.into()),
        ..RegistryConfig::default()
    };
    let registry = start(config).await;
    let addr = registry.local_addr();
    let body = record("n", "i-1", "a", "eu");

    let reply = post(addr, &body, None).await;
    assert_eq!(reply.status, 401);
    assert!(reply.error().contains("Authorization: Bearer"), "{reply:?}");
    let reply = post(addr, &body, Some("not-the-token")).await;
    assert_eq!(reply.status, 401);
    assert!(
        reply.error().contains("not the registry's writer token"),
        "{reply:?}"
    );
    assert!(list(addr, "").await.is_empty(), "nothing was registered");

    assert_eq!(post(addr, &body, Some(TOKEN)).await.status, 200);
    assert_eq!(list(addr, "").await, ["i-1"], "reads are open");
    assert_eq!(delete(addr, "i-1", None).await.status, 401);
    assert_eq!(delete(addr, "i-1", Some("wrong")).await.status, 401);
    assert_eq!(delete(addr, "i-1", Some(TOKEN)).await.status, 204);
    registry.stop().await;
}

#[tokio::test]
async fn a_bad_configuration_is_refused() {
    let config = RegistryConfig {
        default_ttl: Duration::from_secs(600),
        ..RegistryConfig::default()
    };
    let err = DiscoveryServer::serve(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("default TTL"), "{err}");
}
