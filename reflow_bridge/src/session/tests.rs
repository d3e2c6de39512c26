use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::proof::{Prover, Transcript};
use super::*;
use crate::protocol::{self, Frame, Nonce, RefuseReason, PROTOCOL_VERSION};

const LIMITS: Limits = Limits {
    max_message: 1 << 20,
    max_payload: 64 << 20,
};
const CLIENT_NONCE: Nonce = [1; 32];
const SERVER_NONCE: Nonce = [2; 32];
const SECRET: &str = "correct horse battery staple";

fn ident(instance: &str) -> Identity {
    Identity::new("net", instance, format!("{instance}-incarnation"))
}

fn token(secret: &str) -> Option<Token> {
    Token::new(secret)
}

fn client(token: Option<Token>) -> (ClientHandshake, Frame) {
    ClientHandshake::new(ident("a"), LIMITS, token, CLIENT_NONCE)
}

fn server(token: Option<Token>) -> ServerHandshake {
    ServerHandshake::new(ident("b"), LIMITS, token, SERVER_NONCE)
}

fn admit_none(who: &Identity) -> Result<(), RefuseReason> {
    panic!("admission asked about {who:?}")
}

/// What both sides ended with, what crossed the wire, and whom the policy was asked about.
#[derive(Debug)]
struct Outcome {
    client: Result<Peer, HandshakeError>,
    server: Result<Peer, HandshakeError>,
    wire: Vec<Frame>,
    asked: Vec<Identity>,
}

/// Runs a handshake the way the link code will: send what each step says, and on an error
/// send its refusal, if any, to the other side.
fn run(
    client_side: (ClientHandshake, Frame),
    mut server: ServerHandshake,
    policy: Result<(), RefuseReason>,
) -> Outcome {
    let (mut client, hello) = client_side;
    let (mut client_result, mut server_result) = (None, None);
    let (mut wire, mut asked) = (vec![], vec![]);
    let mut next = Some((true, hello));
    while let Some((to_server, frame)) = next.take() {
        wire.push(frame.clone());
        next = if to_server {
            let step = server.on_frame(frame, |who| {
                asked.push(who.clone());
                policy
            });
            settle(step, &mut server_result).map(|f| (false, f))
        } else {
            settle(client.on_frame(frame), &mut client_result).map(|f| (true, f))
        };
    }
    Outcome {
        client: client_result.expect("the client finished"),
        server: server_result.expect("the server finished"),
        wire,
        asked,
    }
}

fn settle(
    step: Result<Step, HandshakeError>,
    result: &mut Option<Result<Peer, HandshakeError>>,
) -> Option<Frame> {
    match step {
        Ok(Step::Send(frame)) => Some(frame),
        Ok(Step::Done { send, peer }) => {
            *result = Some(Ok(peer));
            send
        }
        Err(error) => {
            let refusal = error.refusal();
            *result = Some(Err(error));
            refusal
        }
    }
}

#[test]
fn happy_path() {
    let out = run(client(token(SECRET)), server(token(SECRET)), Ok(()));
    let expected = |who| Peer {
        identity: ident(who),
        limits: LIMITS,
    };
    assert_eq!(out.client, Ok(expected("b")));
    assert_eq!(out.server, Ok(expected("a")));
    assert_eq!(out.asked, [ident("a")]);
    let kinds: Vec<_> = out.wire.iter().map(Frame::kind).collect();
    assert_eq!(kinds, ["hello", "challenge", "response", "welcome"]);
}

#[test]
fn the_token_never_crosses_the_wire() {
    let out = run(client(token(SECRET)), server(token(SECRET)), Ok(()));
    let bytes = protocol::encode(&out.wire).unwrap();
    let secret = SECRET.as_bytes();
    assert!(!bytes.windows(secret.len()).any(|w| w == secret));
}

/// A handshake that must fail, and how each side must see it.
struct Refusal {
    name: &'static str,
    client_secret: Option<&'static str>,
    server_secret: Option<&'static str>,
    policy: Result<(), RefuseReason>,
    /// The error the side that refuses detects; the other side sees it as `Refused`.
    error: HandshakeError,
    /// Whether the client is the side that refuses.
    client_refuses: bool,
}

/// Every way a complete exchange can be refused.
fn refusals() -> Vec<Refusal> {
    use HandshakeError::*;
    let no_token = "this instance has no token configured";
    vec![
        Refusal {
            name: "wrong token: the client detects the server's proof",
            client_secret: Some("one"),
            server_secret: Some("two"),
            policy: Ok(()),
            error: AuthenticationFailed(
                "the server's proof does not match our token (the two sides have different tokens)"
                    .into(),
            ),
            client_refuses: true,
        },
        Refusal {
            name: "client without a token",
            client_secret: None,
            server_secret: Some(SECRET),
            policy: Ok(()),
            error: MissingToken,
            client_refuses: false,
        },
        Refusal {
            name: "server without a token refuses everyone",
            client_secret: Some(SECRET),
            server_secret: None,
            policy: Ok(()),
            error: AuthenticationFailed(no_token.into()),
            client_refuses: false,
        },
        Refusal {
            name: "neither has a token",
            client_secret: None,
            server_secret: None,
            policy: Ok(()),
            error: AuthenticationFailed(no_token.into()),
            client_refuses: false,
        },
        Refusal {
            name: "duplicate instance refused by the admission hook",
            client_secret: Some(SECRET),
            server_secret: Some(SECRET),
            policy: Err(RefuseReason::DuplicateInstance),
            error: DuplicateInstance("a".into()),
            client_refuses: false,
        },
        Refusal {
            name: "too many connections",
            client_secret: Some(SECRET),
            server_secret: Some(SECRET),
            policy: Err(RefuseReason::TooManyConnections),
            error: TooManyConnections,
            client_refuses: false,
        },
    ]
}

#[test]
fn refusals_table() {
    for case in refusals() {
        let name = case.name;
        let out = run(
            client(case.client_secret.and_then(Token::new)),
            server(case.server_secret.and_then(Token::new)),
            case.policy,
        );
        let Some(Frame::Refuse { reason, detail }) = case.error.refusal() else {
            panic!("{name}: no refusal")
        };
        assert_eq!(out.wire.last(), case.error.refusal().as_ref(), "{name}");
        let seen = HandshakeError::Refused { reason, detail };
        let (refuser, refused) = if case.client_refuses {
            (out.client, out.server)
        } else {
            (out.server, out.client)
        };
        assert_eq!(refuser, Err(case.error), "{name}");
        assert_eq!(refused, Err(seen), "{name}");
        // Only a client that proved the token is ever submitted to the policy.
        assert_eq!(out.asked.len(), usize::from(case.policy.is_err()), "{name}");
    }
}

/// A server that has answered a valid Hello from client "a", with the Challenge it sent.
fn challenged(secret: &str) -> (ServerHandshake, Frame) {
    let mut server = server(token(secret));
    let (_, hello) = client(token(secret));
    let Ok(Step::Send(challenge)) = server.on_frame(hello, admit_none) else {
        panic!("no challenge")
    };
    (server, challenge)
}

#[test]
fn the_server_detects_a_wrong_client_proof() {
    for proof in [vec![0; 32], vec![], vec![0; 31], vec![0; 64]] {
        let (mut server, _) = challenged(SECRET);
        let response = Frame::Response { proof: Some(proof) };
        let error = server.on_frame(response, admit_none).unwrap_err();
        let message =
            "the client's proof does not match our token (the two sides have different tokens)";
        assert_eq!(error, HandshakeError::AuthenticationFailed(message.into()));
        assert_eq!(
            error.refusal(),
            Some(Frame::Refuse {
                reason: RefuseReason::AuthenticationFailed,
                detail: message.into()
            })
        );
        assert_eq!(error.close_code(), 1008);
    }
}

#[test]
fn a_server_proof_replayed_as_the_client_proof_is_refused() {
    let (mut server, challenge) = challenged(SECRET);
    let Frame::Challenge { proof, .. } = challenge else {
        panic!("{challenge:?}")
    };
    let response = Frame::Response { proof: Some(proof) };
    let error = server.on_frame(response, admit_none).unwrap_err();
    assert!(matches!(error, HandshakeError::AuthenticationFailed(_)));
}

#[test]
fn a_client_proof_reflected_as_the_server_proof_is_refused() {
    // A fake server that holds no token but could obtain a client-labelled proof for these
    // very nonces and identities (say, from another connection) still cannot pass.
    let secret = token(SECRET).unwrap();
    let transcript = Transcript {
        client_nonce: &CLIENT_NONCE,
        server_nonce: &SERVER_NONCE,
        client: &ident("a"),
        server: &ident("b"),
    };
    let reflected = secret.prove(Prover::Client, &transcript);
    let (mut client, _) = client(token(SECRET));
    let error = client
        .on_frame(challenge_from("b", SERVER_NONCE, reflected))
        .unwrap_err();
    assert!(matches!(error, HandshakeError::AuthenticationFailed(_)));
    // The genuine server proof for the same transcript passes.
    let genuine = secret.prove(Prover::Server, &transcript);
    let (mut client, _) = self::client(token(SECRET));
    let step = client.on_frame(challenge_from("b", SERVER_NONCE, genuine));
    assert!(matches!(
        step,
        Ok(Step::Send(Frame::Response { proof: Some(_) }))
    ));
}

fn challenge_from(instance: &str, nonce: Nonce, proof: Vec<u8>) -> Frame {
    let who = ident(instance);
    Frame::Challenge {
        version: PROTOCOL_VERSION,
        network_id: who.network_id,
        instance_id: who.instance_id,
        incarnation: who.incarnation,
        nonce,
        proof,
        max_message: LIMITS.max_message,
        max_payload: LIMITS.max_payload,
    }
}

#[test]
fn a_proof_captured_from_another_connection_is_refused() {
    // A genuine exchange, recorded.
    let out = run(client(token(SECRET)), server(token(SECRET)), Ok(()));
    let captured_response = out.wire[2].clone();
    let captured_challenge = out.wire[1].clone();

    // Replayed to a server that picked another nonce.
    let mut other = ServerHandshake::new(ident("b"), LIMITS, token(SECRET), [3; 32]);
    let (_, hello) = client(token(SECRET));
    assert!(matches!(
        other.on_frame(hello, admit_none),
        Ok(Step::Send(_))
    ));
    let error = other.on_frame(captured_response, admit_none).unwrap_err();
    assert!(matches!(error, HandshakeError::AuthenticationFailed(_)));

    // Replayed to a client that picked another nonce.
    let (mut other, _) = ClientHandshake::new(ident("a"), LIMITS, token(SECRET), [4; 32]);
    let error = other.on_frame(captured_challenge).unwrap_err();
    assert!(matches!(error, HandshakeError::AuthenticationFailed(_)));
}

#[test]
fn a_proof_is_bound_to_both_identities() {
    let secret = token(SECRET).unwrap();
    let proof = |client: &Identity, server: &Identity| {
        let transcript = Transcript {
            client_nonce: &CLIENT_NONCE,
            server_nonce: &SERVER_NONCE,
            client,
            server,
        };
        secret.prove(Prover::Server, &transcript)
    };
    let base = proof(&ident("a"), &ident("b"));
    assert_ne!(base, proof(&ident("b"), &ident("a")));
    assert_ne!(base, proof(&ident("a"), &ident("c")));
    assert_ne!(
        base,
        proof(&Identity::new("net", "a", "other"), &ident("b"))
    );
    // Length prefixes keep field boundaries apart.
    let split = |net: &str, id: &str| proof(&Identity::new(net, id, "i"), &ident("b"));
    assert_ne!(split("ab", "c"), split("a", "bc"));
}

#[test]
fn a_client_without_token_never_accepts_a_welcome() {
    let (mut client, _) = client(None);
    let step = client.on_frame(challenge_from("b", SERVER_NONCE, vec![0; 32]));
    assert_eq!(step, Ok(Step::Send(Frame::Response { proof: None })));
    let error = client.on_frame(Frame::Welcome).unwrap_err();
    assert!(matches!(error, HandshakeError::AuthenticationFailed(d) if d.contains("no token")));
}

#[test]
fn version_mismatch_both_ways() {
    let mut server = server(token(SECRET));
    let (_, mut hello) = client(token(SECRET));
    if let Frame::Hello { version, .. } = &mut hello {
        *version = 5;
    }
    let error = server.on_frame(hello, admit_none).unwrap_err();
    assert_eq!(
        error,
        HandshakeError::VersionMismatch { ours: 4, theirs: 5 }
    );
    assert!(matches!(
        error.refusal(),
        Some(Frame::Refuse { reason: RefuseReason::VersionMismatch, detail }) if detail.contains("speaks 4, the peer 5")
    ));
    assert_eq!(error.close_code(), 1002);

    let (mut client, _) = client(token(SECRET));
    let (_, mut challenge) = challenged(SECRET);
    if let Frame::Challenge { version, .. } = &mut challenge {
        *version = 7;
    }
    let error = client.on_frame(challenge).unwrap_err();
    assert_eq!(
        error,
        HandshakeError::VersionMismatch { ours: 4, theirs: 7 }
    );
}

#[test]
fn malformed_claims_are_protocol_errors() {
    let long = "x".repeat(MAX_ID_LEN + 1);
    let cases = [
        (Identity::new("", "a", "i"), 4096, "empty network id"),
        (Identity::new("n", "", "i"), 4096, "empty instance id"),
        (Identity::new("n", "a", ""), 4096, "empty incarnation"),
        (
            Identity::new("n", long.as_str(), "i"),
            4096,
            "instance id longer",
        ),
        (ident("a"), 1023, "below the minimum 1024"),
    ];
    for (who, max_message, needle) in cases {
        let limits = Limits {
            max_message,
            max_payload: LIMITS.max_payload,
        };
        let (_, hello) = ClientHandshake::new(who, limits, token(SECRET), CLIENT_NONCE);
        let error = server(token(SECRET))
            .on_frame(hello, admit_none)
            .unwrap_err();
        assert!(
            matches!(&error, HandshakeError::Protocol(d) if d.contains(needle)),
            "{needle}: {error:?}"
        );
    }
    let at_limits = Identity::new("n", "x".repeat(MAX_ID_LEN), "i");
    let limits = Limits::MIN_MAX_MESSAGE;
    let (_, hello) = ClientHandshake::new(
        at_limits,
        Limits {
            max_message: limits,
            max_payload: LIMITS.max_payload,
        },
        None,
        [0; 32],
    );
    let step = server(token(SECRET)).on_frame(hello, admit_none);
    assert!(matches!(step, Ok(Step::Send(Frame::Challenge { .. }))));
}

#[test]
fn an_instance_that_dials_itself_is_refused_before_any_proof() {
    let (_, hello) = ClientHandshake::new(ident("b"), LIMITS, token(SECRET), CLIENT_NONCE);
    let error = server(token(SECRET))
        .on_frame(hello, admit_none)
        .unwrap_err();
    assert_eq!(error, HandshakeError::DuplicateInstance("b".into()));
    let (mut client, _) = client(token(SECRET));
    let error = client
        .on_frame(challenge_from("a", SERVER_NONCE, vec![]))
        .unwrap_err();
    assert_eq!(error, HandshakeError::DuplicateInstance("a".into()));
}

/// A client in each state, and the frames that state accepts without a protocol error.
fn client_states() -> Vec<(&'static str, ClientHandshake, &'static [&'static str])> {
    let fresh = client(token(SECRET)).0;
    let mut waiting = client(token(SECRET)).0;
    let (_, challenge) = challenged(SECRET);
    assert!(matches!(waiting.on_frame(challenge), Ok(Step::Send(_))));
    let mut done = client(token(SECRET)).0;
    let (_, challenge) = challenged(SECRET);
    assert!(done.on_frame(challenge).is_ok());
    assert!(matches!(
        done.on_frame(Frame::Welcome),
        Ok(Step::Done { .. })
    ));
    vec![
        ("awaiting challenge", fresh, &["challenge", "refuse"]),
        ("awaiting welcome", waiting, &["welcome", "refuse"]),
        ("finished", done, &[]),
    ]
}

/// A server in each state, and the frames that state accepts without a protocol error.
fn server_states() -> Vec<(&'static str, ServerHandshake, &'static [&'static str])> {
    let (waiting, _) = challenged(SECRET);
    let (mut failed, _) = challenged(SECRET);
    let response = Frame::Response { proof: None };
    assert!(failed.on_frame(response, admit_none).is_err());
    vec![
        (
            "awaiting hello",
            server(token(SECRET)),
            &["hello", "refuse"],
        ),
        ("awaiting response", waiting, &["response", "refuse"]),
        ("finished", failed, &[]),
    ]
}

fn assert_out_of_order(state: &str, frame: &Frame, result: Result<Step, HandshakeError>) {
    let error = result.unwrap_err();
    let during = format!("unexpected {} during handshake", frame.kind());
    let after = format!("unexpected {} fed to a finished handshake", frame.kind());
    let expected = if state == "finished" { after } else { during };
    assert_eq!(error, HandshakeError::Protocol(expected.clone()), "{state}");
    let refusal = Frame::Refuse {
        reason: RefuseReason::Protocol,
        detail: expected,
    };
    assert_eq!(error.refusal(), Some(refusal), "{state}");
    assert_eq!(error.close_code(), 1002);
}

#[test]
fn every_out_of_order_frame_in_every_client_state() {
    let mut checked = 0;
    for frame in protocol::tests::samples() {
        for (state, mut client, allowed) in client_states() {
            if allowed.contains(&frame.kind()) {
                continue;
            }
            assert_out_of_order(state, &frame, client.on_frame(frame.clone()));
            // An error is final: even the right frame is refused afterwards.
            let after = client.on_frame(Frame::Welcome).unwrap_err();
            assert!(matches!(after, HandshakeError::Protocol(_)), "{state}");
            checked += 1;
        }
    }
    assert_eq!(checked, 19 * 3 - 4);
}

#[test]
fn every_out_of_order_frame_in_every_server_state() {
    let mut checked = 0;
    for frame in protocol::tests::samples() {
        for (state, mut server, allowed) in server_states() {
            if allowed.contains(&frame.kind()) {
                continue;
            }
            assert_out_of_order(state, &frame, server.on_frame(frame.clone(), admit_none));
            let (_, hello) = client(token(SECRET));
            let after = server.on_frame(hello, admit_none).unwrap_err();
            assert!(matches!(after, HandshakeError::Protocol(_)), "{state}");
            checked += 1;
        }
    }
    assert_eq!(checked, 19 * 3 - 4);
}

#[test]
fn a_refusal_is_reported_in_every_open_state() {
    let refuse = || Frame::Refuse {
        reason: RefuseReason::TooManyConnections,
        detail: "full".into(),
    };
    let expected = HandshakeError::Refused {
        reason: RefuseReason::TooManyConnections,
        detail: "full".into(),
    };
    for (state, mut client, allowed) in client_states() {
        if allowed.contains(&"refuse") {
            assert_eq!(client.on_frame(refuse()), Err(expected.clone()), "{state}");
        }
    }
    for (state, mut server, allowed) in server_states() {
        if allowed.contains(&"refuse") {
            let result = server.on_frame(refuse(), admit_none);
            assert_eq!(result, Err(expected.clone()), "{state}");
        }
    }
    assert_eq!(expected.refusal(), None);
    assert_eq!(expected.close_code(), 1000);
    assert_eq!(expected.reason(), RefuseReason::TooManyConnections);
}

#[test]
fn admission_reasons_map_to_errors() {
    let who = ident("a");
    let cases = [
        (
            RefuseReason::DuplicateInstance,
            HandshakeError::DuplicateInstance("a".into()),
        ),
        (
            RefuseReason::TooManyConnections,
            HandshakeError::TooManyConnections,
        ),
        (RefuseReason::MissingToken, HandshakeError::MissingToken),
    ];
    for (reason, expected) in cases {
        assert_eq!(HandshakeError::admission(reason, &who), expected);
        assert_eq!(expected.reason(), reason);
        assert_eq!(expected.close_code(), 1008);
    }
    let other = HandshakeError::admission(RefuseReason::Protocol, &who);
    assert!(matches!(other, HandshakeError::Protocol(_)));
    let auth = HandshakeError::admission(RefuseReason::AuthenticationFailed, &who);
    assert_eq!(auth.reason(), RefuseReason::AuthenticationFailed);
}

#[test]
fn admission_is_asked_once_and_only_after_the_proof() {
    let mut asked = Vec::new();
    let mut server = server(token(SECRET));
    let (mut client, hello) = client(token(SECRET));
    let step = server.on_frame(hello, |who| {
        asked.push(who.clone());
        Ok(())
    });
    let Ok(Step::Send(challenge)) = step else {
        panic!("no challenge: {step:?}")
    };
    assert!(asked.is_empty(), "asked before the proof");
    let Ok(Step::Send(response)) = client.on_frame(challenge) else {
        panic!("no response")
    };
    let step = server.on_frame(response, |who| {
        asked.push(who.clone());
        Ok(())
    });
    assert!(matches!(
        step,
        Ok(Step::Done {
            send: Some(Frame::Welcome),
            ..
        })
    ));
    assert_eq!(asked, [ident("a")]);
}

#[test]
fn tokens() {
    assert!(Token::new("").is_none());
    assert!(Token::new(Vec::<u8>::new()).is_none());
    let token = Token::new(SECRET).unwrap();
    assert_eq!(format!("{token:?}"), "Token(<redacted>)");
    let (client, _) = client(Some(token));
    assert!(!format!("{client:?}").contains("horse"));
}

#[test]
fn token_keys_match_hmac_of_the_raw_secret() {
    let transcript = Transcript {
        client_nonce: &CLIENT_NONCE,
        server_nonce: &SERVER_NONCE,
        client: &ident("a"),
        server: &ident("b"),
    };
    for len in [1, 31, 63, 64, 65, 200] {
        let secret: Vec<u8> = (0..len).map(|i| i as u8 ^ 0x5a).collect();
        let ours = Token::new(&secret)
            .unwrap()
            .prove(Prover::Client, &transcript);
        let mut mac = Hmac::<Sha256>::new_from_slice(&secret).unwrap();
        mac.update(b"reflow-client-proof-v1");
        mac.update(&CLIENT_NONCE);
        mac.update(&SERVER_NONCE);
        for who in [ident("a"), ident("b")] {
            for id in [who.network_id, who.instance_id, who.incarnation] {
                mac.update(&(id.len() as u64).to_be_bytes());
                mac.update(id.as_bytes());
            }
        }
        assert_eq!(
            ours,
            mac.finalize().into_bytes().to_vec(),
            "key of {len} bytes"
        );
    }
}

#[test]
fn nonces_are_fresh() {
    assert_ne!(fresh_nonce(), fresh_nonce());
    assert_ne!(fresh_nonce(), [0; 32]);
}
