use std::time::Duration;

use serde_json::json;

use super::*;

fn parse(metadata: Value) -> Result<ProxyOptions, String> {
    ProxyOptions::from_metadata(&metadata).map_err(|e| e.to_string())
}

#[test]
fn no_metadata_means_the_defaults() {
    let defaults = ProxyOptions {
        timeout: Duration::from_secs(30),
        failure_mode: FailureMode::Fail,
        retries: 3,
        retry_backoff: Duration::from_millis(100),
        breaker_failures: 5,
        breaker_cooldown: Duration::from_secs(10),
    };
    assert_eq!(parse(Value::Null).unwrap(), defaults);
    assert_eq!(parse(json!({})).unwrap(), defaults);
    // Layout keys and nulls leave everything as it is.
    let layout = json!({"x": 10, "y": 20, "timeout_ms": null, "failure_mode": null});
    assert_eq!(parse(layout).unwrap(), defaults);
}

#[test]
fn every_key_is_read() {
    let options = parse(json!({
        "timeout_ms": 5000,
        "failure_mode": "retry",
        "retries": 7,
        "retry_backoff_ms": 0,
        "breaker_failures": 0,
        "breaker_cooldown_ms": 250,
    }))
    .unwrap();
    assert_eq!(
        options,
        ProxyOptions {
            timeout: Duration::from_secs(5),
            failure_mode: FailureMode::Retry,
            retries: 7,
            retry_backoff: Duration::ZERO,
            breaker_failures: 0,
            breaker_cooldown: Duration::from_millis(250),
        }
    );
    for (text, mode) in [("fail", FailureMode::Fail), ("skip", FailureMode::Skip)] {
        let options = parse(json!({ "failure_mode": text })).unwrap();
        assert_eq!(options.failure_mode, mode);
    }
}

#[test]
fn bad_values_are_refused_with_the_key_and_the_value() {
    let cases = [
        (
            json!({"failure_mode": "explode"}),
            "`failure_mode` must be \"fail\", \"skip\" or \"retry\", not \"explode\"",
        ),
        (json!({"failure_mode": 3}), "`failure_mode` must be"),
        (json!({"failure_mode": "Fail"}), "not \"Fail\""),
        (
            json!({"timeout_ms": "5s"}),
            "`timeout_ms` must be a whole number of at least 1, not \"5s\"",
        ),
        (
            json!({"timeout_ms": 0}),
            "`timeout_ms` must be a whole number of at least 1, not 0",
        ),
        (json!({"timeout_ms": -5}), "not -5"),
        (json!({"timeout_ms": 1.5}), "not 1.5"),
        (
            json!({"retries": true}),
            "`retries` must be a whole number of at least 0, not true",
        ),
        (
            json!({"retries": 4_294_967_296_u64}),
            "`retries` is too large: 4294967296",
        ),
        (
            json!({"retry_backoff_ms": [100]}),
            "`retry_backoff_ms` must be a whole number",
        ),
        (json!([1, 2]), "must be an object, not [1,2]"),
        (json!("retry"), "must be an object"),
    ];
    for (metadata, needle) in cases {
        let error = parse(metadata.clone()).unwrap_err();
        assert!(error.contains(needle), "{metadata}: {error}");
    }
}

#[test]
fn backoff_doubles_from_the_base_and_is_capped() {
    let options = ProxyOptions {
        retry_backoff: Duration::from_millis(100),
        ..ProxyOptions::default()
    };
    let pauses: Vec<u64> = (1..=5)
        .map(|n| options.backoff(n).as_millis() as u64)
        .collect();
    assert_eq!(pauses, [100, 200, 400, 800, 1600]);
    assert_eq!(
        options.backoff(11),
        Duration::from_millis(102_400).min(MAX_BACKOFF)
    );
    assert_eq!(options.backoff(u32::MAX), MAX_BACKOFF);

    let zero = ProxyOptions {
        retry_backoff: Duration::ZERO,
        ..ProxyOptions::default()
    };
    assert_eq!(zero.backoff(40), Duration::ZERO);

    // A base longer than the cap is kept as it is, never doubled past it.
    let long = ProxyOptions {
        retry_backoff: Duration::from_secs(90),
        ..ProxyOptions::default()
    };
    assert_eq!(long.backoff(1), Duration::from_secs(90));
    assert_eq!(long.backoff(3), Duration::from_secs(90));
}
