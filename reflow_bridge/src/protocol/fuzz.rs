//! A bounded fuzz of the decoder: valid batches, mutated the way a broken or hostile peer
//! would (bytes flipped, inserted, deleted, cut short, two batches spliced), then decoded.
//! The decoder must never panic, and anything it accepts must be a fixed point of
//! encode-then-decode. `cargo test` runs a few hundred cases; CI sets `REFLOW_FUZZ_CASES`.

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::Config;

use super::tests::frame;
use super::{decode_limited, encode, Frame};

/// Cases run when `REFLOW_FUZZ_CASES` is not set.
const DEFAULT_CASES: u32 = 256;
/// Frames the fuzz lets a batch announce, as the reader does.
const MAX_FRAMES: usize = 4096;

/// The case count: `REFLOW_FUZZ_CASES`, else the default.
fn cases() -> u32 {
    std::env::var("REFLOW_FUZZ_CASES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(DEFAULT_CASES)
}

fn config() -> Config {
    Config {
        cases: cases(),
        // Shrinking a failure of a 100,000-case run should not take longer than the run.
        max_shrink_iters: 2048,
        ..Config::default()
    }
}

/// One change to a byte string.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(Index, u8),
    Insert(Index, u8),
    Delete(Index),
    Truncate(Index),
    /// Keeps the head of this message and appends the tail of the other batch.
    Splice(Index, Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<Index>(), any::<u8>()).prop_map(|(at, b)| Mutation::Flip(at, b)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(at, b)| Mutation::Insert(at, b)),
        2 => any::<Index>().prop_map(Mutation::Delete),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::Splice(a, b)),
    ]
}

/// Applies `mutation` to `bytes`; `other` is the second batch for a splice.
fn apply(bytes: &mut Vec<u8>, mutation: &Mutation, other: &[u8]) {
    let len = bytes.len();
    match *mutation {
        Mutation::Flip(at, b) if len > 0 => bytes[at.index(len)] = b,
        Mutation::Insert(at, b) => bytes.insert(at.index(len + 1), b),
        Mutation::Delete(at) if len > 0 => {
            bytes.remove(at.index(len));
        }
        Mutation::Truncate(at) => bytes.truncate(at.index(len + 1)),
        Mutation::Splice(head, tail) => {
            bytes.truncate(head.index(len + 1));
            bytes.extend_from_slice(&other[tail.index(other.len() + 1)..]);
        }
        _ => {}
    }
}

/// Decodes `bytes`; if they are accepted, encoding the frames and decoding again must give
/// the same bytes once more (compared as bytes, since a float payload may be NaN).
fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    let Ok(frames) = decode_limited(bytes, MAX_FRAMES) else {
        return Ok(());
    };
    let again = encode(&frames).map_err(|e| fail("re-encode", &frames, e))?;
    let back = decode_limited(&again, MAX_FRAMES).map_err(|e| fail("decode again", &frames, e))?;
    prop_assert_eq!(back.len(), frames.len());
    let third = encode(&back).map_err(|e| fail("encode again", &back, e))?;
    prop_assert_eq!(third, again);
    Ok(())
}

fn fail(what: &str, frames: &[Frame], err: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(format!("{what} failed for {frames:?}: {err}"))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn mutated_batches_never_panic_and_accepted_ones_round_trip(
        first in prop::collection::vec(frame(), 1..6),
        second in prop::collection::vec(frame(), 0..4),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let other = encode(&second).unwrap();
        let mut bytes = encode(&first).unwrap();
        for mutation in &mutations {
            apply(&mut bytes, mutation, &other);
        }
        check(&bytes)?;
    }

    #[test]
    fn arbitrary_bytes_behind_a_valid_header_never_panic(
        count in 0u8..8,
        body in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        let mut bytes = vec![2, count];
        bytes.extend(&body);
        check(&bytes)?;
        check(&body)?;
    }
}
