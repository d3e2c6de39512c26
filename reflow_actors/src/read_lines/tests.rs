use crate::harness::TempDir;
use crate::testing::{config_error, run};
use serde_json::{json, Value};

async fn read(contents: &[u8], json_mode: bool) -> (Vec<Value>, Vec<Value>) {
    read_with(contents, json!({"json": json_mode})).await
}

/// The `out` and `error` messages of a ReadLines over `contents`, configured by `config`
/// plus the file's path.
async fn read_with(contents: &[u8], mut config: Value) -> (Vec<Value>, Vec<Value>) {
    let dir = TempDir::new("read-lines");
    let path = dir.file("input.txt");
    std::fs::write(&path, contents).unwrap();
    config["path"] = json!(path);
    let outcome = run("ReadLines", config, vec![]).await;
    assert!(outcome.report.is_success(), "{:?}", outcome.report);
    (outcome.json("out"), outcome.json("error"))
}

#[tokio::test]
async fn plain_mode_emits_every_line() {
    let (out, errors) = read(b"a\n\nb\r\nlast without newline", false).await;
    assert_eq!(
        out,
        [
            json!("a"),
            json!(""),
            json!("b"),
            json!("last without newline")
        ]
    );
    assert!(errors.is_empty());
}

#[tokio::test]
async fn json_mode_parses_skips_blanks_and_reports_bad_lines() {
    let input = b"{\"a\": 1}\n\n   \nnot json\n[2, 3]\n\"s\"\n";
    let (out, errors) = read(input, true).await;
    assert_eq!(out, [json!({"a": 1}), json!([2, 3]), json!("s")]);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["line"], json!(4));
    assert_eq!(errors[0]["text"], json!("not json"));
    assert!(errors[0]["error"].as_str().unwrap().contains("expected"));
}

#[tokio::test]
async fn invalid_utf8_goes_to_error_and_reading_continues() {
    let (out, errors) = read(b"ok\n\xff\xfe\nafter\n", false).await;
    assert_eq!(out, [json!("ok"), json!("after")]);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["line"], json!(2));
    assert!(errors[0]["error"]
        .as_str()
        .unwrap()
        .starts_with("invalid UTF-8"));
}

#[tokio::test]
async fn a_line_over_max_line_bytes_is_reported_short_and_skipped() {
    let mut input = b"first\n".to_vec();
    input.extend(vec![b'x'; 50_000]);
    input.extend_from_slice(b"\nafter\nlast");
    let (out, errors) = read_with(&input, json!({"max_line_bytes": 1000})).await;
    assert_eq!(out, [json!("first"), json!("after"), json!("last")]);
    assert_eq!(
        errors,
        [json!({
            "line": 2,
            "error": "line of 50000 bytes is longer than `max_line_bytes` (1000); skipped (`text` quotes its first 200 of 50000 bytes)",
            "text": "x".repeat(200),
        })]
    );
}

#[tokio::test]
async fn the_default_limit_is_one_mebibyte() {
    let mut input = vec![b'a'; 1 << 20];
    input.push(b'\n');
    input.extend(vec![b'b'; (1 << 20) + 1]);
    input.extend_from_slice(b"\nc\n");
    let (out, errors) = read(&input, false).await;
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].as_str().map(str::len), Some(1 << 20));
    assert_eq!(out[1], json!("c"));
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["line"], json!(2));
    assert!(
        errors[0]["error"]
            .as_str()
            .unwrap()
            .starts_with("line of 1048577 bytes is longer than `max_line_bytes` (1048576)"),
        "{}",
        errors[0]["error"]
    );
}

#[tokio::test]
async fn a_long_bad_line_is_quoted_by_its_start_only() {
    let long = format!("not json {}", "z".repeat(10_000));
    let input = format!("{long}\n[1]\n");
    let (out, errors) = read(input.as_bytes(), true).await;
    assert_eq!(out, [json!([1])]);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["text"], json!(long[..200]));
    let reason = errors[0]["error"].as_str().unwrap();
    assert!(reason.starts_with("expected"), "{reason}");
    assert!(
        reason.ends_with(" (`text` quotes its first 200 of 10009 bytes)"),
        "{reason}"
    );
    let mut bad = vec![0xff];
    bad.extend(vec![b'q'; 5_000]);
    let (_, errors) = read(&bad, false).await;
    assert_eq!(
        errors[0]["text"],
        json!(format!("\u{fffd}{}", "q".repeat(199)))
    );
    let reason = errors[0]["error"].as_str().unwrap();
    assert!(
        reason.starts_with("invalid UTF-8")
            && reason.ends_with(" (`text` quotes its first 200 of 5001 bytes)"),
        "{reason}"
    );
}

#[test]
fn quotes_stop_at_a_character_boundary() {
    let even = "é".repeat(150);
    assert_eq!(super::quote_len(even.as_bytes()), 200);
    let odd = format!("a{even}");
    assert_eq!(super::quote_len(odd.as_bytes()), 199);
    assert_eq!(super::quote_len(b"short"), 5);
    let mut bad = vec![0xff; 10];
    bad.extend_from_slice(odd.as_bytes());
    assert_eq!(super::quote_len(&bad), 200);
}

#[tokio::test]
async fn empty_file_emits_nothing() {
    let (out, errors) = read(b"", true).await;
    assert!(out.is_empty() && errors.is_empty());
}

#[tokio::test]
async fn missing_file_fails_the_process_with_its_path() {
    let dir = TempDir::new("read-lines-missing");
    let path = dir.file("nope.txt");
    let outcome = run("ReadLines", json!({"path": path}), vec![]).await;
    assert_eq!(outcome.report.failures.len(), 1);
    let error = &outcome.report.failures[0].error;
    assert!(error.starts_with("cannot open `"), "{error}");
    assert!(error.contains("nope.txt"), "{error}");
}

#[test]
fn config_is_checked_without_io() {
    let registry = crate::registry();
    assert!(registry
        .build(
            "ReadLines",
            &json!({"path": "/no/such/file", "x": 1, "y": 2})
        )
        .is_ok());
    assert_eq!(config_error("ReadLines", json!({})), "missing field `path`");
    assert_eq!(
        config_error("ReadLines", json!({"path": ""})),
        "`path` must not be empty"
    );
    assert!(
        config_error("ReadLines", json!({"path": "a", "json": "yes"}))
            .contains("expected a boolean")
    );
    assert_eq!(
        config_error("ReadLines", json!({"path": "a", "max_line_bytes": 0})),
        "`max_line_bytes` must be at least 1"
    );
    assert!(
        config_error("ReadLines", json!({"path": "a", "max_line_bytes": -5}))
            .starts_with("invalid value: integer `-5`"),
        "{}",
        config_error("ReadLines", json!({"path": "a", "max_line_bytes": -5}))
    );
    assert!(
        config_error("ReadLines", json!({"path": "a", "jsonl": true}))
            .starts_with("unknown field `jsonl`")
    );
}
