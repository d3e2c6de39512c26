//! The shared token and the challenge-response proofs made with it: HMAC-SHA256 over a
//! direction label, both nonces and both identities, so that a proof is bound to one
//! connection attempt and one direction, and the token itself never crosses the wire.

use std::fmt;

use hmac::digest::{Digest, Key};
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;

use super::Identity;
use crate::protocol::Nonce;

type HmacSha256 = Hmac<Sha256>;

/// The label the server's proof starts with.
pub(super) const SERVER_LABEL: &[u8] = b"reflow-server-proof-v1";
/// The label the client's proof starts with.
pub(super) const CLIENT_LABEL: &[u8] = b"reflow-client-proof-v1";

/// A fresh random nonce from the thread's cryptographically secure generator.
pub(crate) fn fresh_nonce() -> Nonce {
    let mut nonce = [0u8; 32];
    rand::rng().fill(&mut nonce);
    nonce
}

/// The secret shared by the instances of a deployment. Only the keyed HMAC state is kept;
/// `Debug` never shows it.
#[derive(Clone)]
pub(crate) struct Token {
    mac: HmacSha256,
}

impl Token {
    /// A token from its secret bytes, or `None` when the secret is empty: an empty secret is
    /// no secret, and counts as no token configured.
    pub(crate) fn new(secret: impl AsRef<[u8]>) -> Option<Self> {
        let secret = secret.as_ref();
        if secret.is_empty() {
            return None;
        }
        Some(Token {
            mac: HmacSha256::new(&block_key(secret)),
        })
    }

    /// The proof that `by` holds this token, for the connection attempt `transcript`.
    pub(super) fn prove(&self, by: Prover, transcript: &Transcript<'_>) -> Vec<u8> {
        self.keyed(by, transcript).finalize().into_bytes().to_vec()
    }

    /// Whether `proof` is the proof `by` would make; compared in constant time.
    pub(super) fn verify(&self, by: Prover, transcript: &Transcript<'_>, proof: &[u8]) -> bool {
        self.keyed(by, transcript).verify_slice(proof).is_ok()
    }

    /// The keyed MAC with the label and transcript fed, ready to finish or verify.
    fn keyed(&self, by: Prover, transcript: &Transcript<'_>) -> HmacSha256 {
        let mut mac = self.mac.clone();
        mac.update(by.label());
        transcript.feed(&mut mac);
        mac
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// HMAC's own key preparation (RFC 2104): a key longer than the hash block is hashed, then
/// the key is padded with zeros to the block size. Done here so that keying cannot fail.
fn block_key(secret: &[u8]) -> Key<HmacSha256> {
    let mut key = Key::<HmacSha256>::default();
    if secret.len() <= key.len() {
        key[..secret.len()].copy_from_slice(secret);
    } else {
        let digest = Sha256::digest(secret);
        key[..digest.len()].copy_from_slice(&digest);
    }
    key
}

/// Which side a proof is made by; each has its own label, so that a proof made by one side
/// is never valid as the other's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Prover {
    /// The accepting side, in `Challenge`.
    Server,
    /// The dialing side, in `Response`.
    Client,
}

impl Prover {
    /// The label that opens this side's proofs.
    fn label(self) -> &'static [u8] {
        match self {
            Prover::Server => SERVER_LABEL,
            Prover::Client => CLIENT_LABEL,
        }
    }
}

/// What a proof is bound to: one connection attempt between two identities.
pub(super) struct Transcript<'a> {
    /// The nonce from `Hello`.
    pub(super) client_nonce: &'a Nonce,
    /// The nonce from `Challenge`.
    pub(super) server_nonce: &'a Nonce,
    /// The client's identity, from `Hello`.
    pub(super) client: &'a Identity,
    /// The server's identity, from `Challenge`.
    pub(super) server: &'a Identity,
}

impl Transcript<'_> {
    /// Feeds the nonces, then each id of the client and of the server, every id preceded by
    /// its length as a big-endian u64 so that no two transcripts encode alike.
    fn feed(&self, mac: &mut HmacSha256) {
        mac.update(self.client_nonce);
        mac.update(self.server_nonce);
        for identity in [self.client, self.server] {
            for id in [
                &identity.network_id,
                &identity.instance_id,
                &identity.incarnation,
            ] {
                mac.update(&(id.len() as u64).to_be_bytes());
                mac.update(id.as_bytes());
            }
        }
    }
}
