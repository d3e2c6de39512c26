use super::*;
use serde_json::json;

#[test]
fn json_round_trip_keeps_every_kind() {
    let value =
        json!({"n": null, "b": true, "i": -3, "f": 1.5, "s": "x", "a": [1, [2]], "o": {"k": "v"}});
    assert_eq!(Message::from(&value).to_json(), value);
}

#[test]
fn large_unsigned_numbers_become_floats() {
    let msg = Message::from(json!(u64::MAX));
    assert!(matches!(msg, Message::Float(_)));
}

#[test]
fn serde_round_trip_includes_bytes_and_errors() {
    let msg = Message::array([
        Message::Bytes(vec![0u8, 255].into()),
        Message::error("boom"),
        Message::object([("k", Message::Float(2.5))]),
    ]);
    let text = serde_json::to_string(&msg).unwrap();
    let back: Message = serde_json::from_str(&text).unwrap();
    assert_eq!(back, msg);
}

#[test]
fn bytes_and_errors_print_as_json() {
    assert_eq!(Message::Bytes(vec![1u8, 2].into()).to_json(), json!([1, 2]));
    assert_eq!(Message::error("bad").to_json(), json!({"error": "bad"}));
    assert_eq!(Message::from("hi").to_string(), "\"hi\"");
}

#[test]
fn clones_share_the_payload() {
    let msg = Message::from(json!({"big": [1, 2, 3]}));
    let copy = msg.clone();
    match (&msg, &copy) {
        (Message::Object(a), Message::Object(b)) => assert!(Arc::ptr_eq(a, b)),
        _ => panic!("expected objects"),
    }
}
