use std::collections::{HashMap, HashSet};

use super::*;

/// One parsed sample: metric name, label pairs, value.
type Sample = (String, Vec<(String, String)>, f64);

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Parses `{k="v",...}` (after the name) into pairs and the rest of the line.
fn parse_labels(s: &str) -> (Vec<(String, String)>, &str) {
    let Some(mut rest) = s.strip_prefix('{') else {
        return (Vec::new(), s);
    };
    let mut labels = Vec::new();
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            return (labels, after);
        }
        let (key, after) = rest.split_once("=\"").expect("label key");
        assert!(is_metric_name(key), "label name {key:?}");
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next().expect("unterminated label value") {
                (_, '\\') => match chars.next().expect("dangling escape").1 {
                    'n' => value.push('\n'),
                    c @ ('\\' | '"') => value.push(c),
                    c => panic!("bad escape \\{c}"),
                },
                (i, '"') => break i + 1,
                (_, c) => value.push(c),
            }
        };
        labels.push((key.to_string(), value));
        rest = after[end..].strip_prefix(',').unwrap_or(&after[end..]);
    }
}

/// Checks the text against the exposition format and returns its samples.
fn parse(text: &str) -> Vec<Sample> {
    assert!(text.ends_with('\n'), "the last line ends with a newline");
    let mut types: HashMap<String, String> = HashMap::new();
    let mut helped = HashSet::new();
    let mut series = HashSet::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("help text");
            assert!(
                !help.is_empty() && helped.insert(name.to_string()),
                "{line}"
            );
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("type");
            assert!(matches!(kind, "counter" | "gauge"), "{line}");
            assert!(helped.contains(name), "HELP before TYPE: {line}");
            assert!(types.insert(name.into(), kind.into()).is_none(), "{line}");
        } else {
            let end = line.find(['{', ' ']).expect("a value");
            let name = &line[..end];
            assert!(
                is_metric_name(name) && name.starts_with("reflow_bridge_"),
                "{line}"
            );
            let kind = types
                .get(name)
                .unwrap_or_else(|| panic!("no TYPE for {line}"));
            assert_eq!(kind == "counter", name.ends_with("_total"), "{line}");
            let (labels, rest) = parse_labels(&line[end..]);
            let value = rest.strip_prefix(' ').expect("space before value");
            let value: f64 = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().unwrap_or_else(|_| panic!("value in {line}")),
            };
            assert!(
                series.insert((name.to_string(), labels.clone())),
                "dup {line}"
            );
            samples.push((name.to_string(), labels, value));
        }
    }
    samples
}

fn value(samples: &[Sample], name: &str, label: Option<(&str, &str)>) -> f64 {
    let labels: Vec<_> = label
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into_iter()
        .collect();
    samples
        .iter()
        .find(|(n, l, _)| n == name && *l == labels)
        .unwrap_or_else(|| panic!("no sample {name} {labels:?}"))
        .2
}

#[test]
fn fresh_metrics_render_every_family_at_zero() {
    let text = Metrics::new().render_prometheus(&Gauges::default());
    let samples = parse(&text);
    assert!(text.contains("# TYPE reflow_bridge_links_established_total counter\n"));
    assert!(text.contains("reflow_bridge_handshake_failures_total{reason=\"auth_failed\"} 0\n"));
    assert!(text.contains("# TYPE reflow_bridge_link_queue_depth gauge\n"));
    // 21 plain counters, 7 + 8 + 5 + 3 labelled ones, 4 unlabelled gauges, no queue depths.
    assert_eq!(samples.len(), 48);
    assert!(samples.iter().all(|s| s.2 == 0.0));
}

#[test]
fn counters_and_reasons_are_rendered_with_their_values() {
    let m = Metrics::new();
    m.links_established.inc();
    m.links_established.add(11);
    m.links_closed.add(13);
    m.frame_in(100, 5);
    m.frame_in(50, 1);
    m.frame_out(7, 8);
    m.frame_out(2, 1);
    m.frame_out(1, 0);
    m.handshake_failed(HandshakeFailure::AuthFailed);
    m.handshake_failed(HandshakeFailure::TooManyConnections);
    m.handshake_failed(HandshakeFailure::AuthFailed);
    m.frame_rejected(FrameRejection::BeforeAuth);
    m.connections_refused.add(4);
    m.http_requests_not_found.add(11);
    m.proxy_timeouts.add(14);
    m.proxy_retries.add(15);
    m.served_sessions_failed.add(16);
    m.proxy_skipped(SkipReason::ReplyTimeout);
    m.proxy_skipped(SkipReason::SendTimeout);
    m.proxy_skipped(SkipReason::SendTimeout);
    let samples = parse(&m.render_prometheus(&Gauges::default()));
    let v = |name: &str, label| value(&samples, &format!("reflow_bridge_{name}"), label);
    // Distinct values, so that two counters swapped in the rendering would show.
    assert_eq!(v("links_established_total", None), 12.0);
    assert_eq!(v("links_closed_total", None), 13.0);
    assert_eq!(v("frames_in_total", None), 2.0);
    assert_eq!(v("bytes_in_total", None), 150.0);
    assert_eq!(v("messages_in_total", None), 6.0);
    assert_eq!(v("frames_out_total", None), 3.0);
    assert_eq!(v("bytes_out_total", None), 10.0);
    assert_eq!(v("messages_out_total", None), 9.0);
    let hs = "handshake_failures_total";
    assert_eq!(v(hs, Some(("reason", "auth_failed"))), 2.0);
    assert_eq!(v(hs, Some(("reason", "too_many_connections"))), 1.0);
    assert_eq!(v(hs, Some(("reason", "version_mismatch"))), 0.0);
    let rf = "rejected_frames_total";
    assert_eq!(v(rf, Some(("reason", "before_auth"))), 1.0);
    assert_eq!(v(rf, Some(("reason", "oversized"))), 0.0);
    assert_eq!(v("connections_refused_total", None), 4.0);
    assert_eq!(v("http_requests_not_found_total", None), 11.0);
    assert_eq!(v("proxy_timeouts_total", None), 14.0);
    assert_eq!(v("proxy_retries_total", None), 15.0);
    assert_eq!(v("served_sessions_failed_total", None), 16.0);
    let ps = "proxy_skipped_total";
    assert_eq!(v(ps, Some(("reason", "send_timeout"))), 2.0);
    assert_eq!(v(ps, Some(("reason", "reply_timeout"))), 1.0);
    assert_eq!(v(ps, Some(("reason", "remote_error"))), 0.0);
    assert_eq!(m.handshake_failures(HandshakeFailure::AuthFailed), 2);
    assert_eq!(m.rejected_frames(FrameRejection::Malformed), 0);
}

#[test]
fn gauges_are_rendered_with_one_series_per_peer() {
    let gauges = Gauges {
        links_up: 2,
        queue_depths: vec![
            ("beta/i2".into(), 5),
            ("alpha/i1".into(), 3),
            ("beta/i2".into(), 1),
        ],
        remote_actors: 4,
        exported_actors: 6,
        uptime_secs: 12.5,
        routed: vec![("check".into(), "i\"1".into(), 7)],
    };
    let text = Metrics::new().render_prometheus(&gauges);
    let samples = parse(&text);
    let v = |name: &str, label| value(&samples, &format!("reflow_bridge_{name}"), label);
    assert_eq!(v("links_up", None), 2.0);
    assert_eq!(v("link_queue_depth", Some(("peer", "alpha/i1"))), 3.0);
    assert_eq!(v("link_queue_depth", Some(("peer", "beta/i2"))), 6.0);
    assert_eq!(v("remote_actors", None), 4.0);
    assert_eq!(v("exported_actors", None), 6.0);
    assert!(text.contains("reflow_bridge_uptime_seconds 12.5\n"));
    let routed = "reflow_bridge_proxy_routed_total{process=\"check\",instance=\"i\\\"1\"} 7\n";
    assert!(text.contains(routed), "{text}");
    let alpha = text.find("peer=\"alpha/i1\"").unwrap();
    assert!(
        alpha < text.find("peer=\"beta/i2\"").unwrap(),
        "sorted by peer"
    );
}

#[test]
fn label_values_are_escaped() {
    let gauges = Gauges {
        queue_depths: vec![("we\"ird\\peer\nname".into(), 1)],
        ..Gauges::default()
    };
    let text = Metrics::new().render_prometheus(&gauges);
    assert!(text.contains(r#"{peer="we\"ird\\peer\nname"} 1"#), "{text}");
    let samples = parse(&text);
    let peer = Some(("peer", "we\"ird\\peer\nname"));
    assert_eq!(value(&samples, "reflow_bridge_link_queue_depth", peer), 1.0);
}

#[test]
fn special_floats_use_the_exposition_spelling() {
    assert_eq!(Float(f64::INFINITY).to_string(), "+Inf");
    assert_eq!(Float(f64::NEG_INFINITY).to_string(), "-Inf");
    assert_eq!(Float(f64::NAN).to_string(), "NaN");
    assert_eq!(Float(0.25).to_string(), "0.25");
    assert_eq!(Float(3.0).to_string(), "3");
}
