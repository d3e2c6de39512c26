//! The handshake as two pure state machines. The client sends `Hello`, the server answers
//! `Challenge` with its proof, the client checks it and answers `Response` with its own, the
//! server checks that and answers `Welcome`. Either side answers anything else with `Refuse`.

use std::mem;

use crate::protocol::{Frame, Nonce, RefuseReason, PROTOCOL_VERSION};

use super::proof::{Prover, Token, Transcript};
use super::{HandshakeError, Identity, Limits, Peer};

/// What the caller does after feeding a frame to a handshake.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Step {
    /// Send this frame and feed the next one that arrives.
    Send(Frame),
    /// The peer is authenticated: send `send` if any, then the link is up with `peer`.
    Done {
        /// The last handshake frame, if this side has one to send.
        send: Option<Frame>,
        /// Who is at the other end, and what it accepts.
        peer: Peer,
    },
}

/// The dialing side of a handshake.
///
/// On error, send `error.refusal()` when it is `Some`, then close with `error.close_code()`.
#[derive(Debug)]
pub(crate) struct ClientHandshake {
    me: Identity,
    token: Option<Token>,
    nonce: Nonce,
    state: ClientState,
}

/// Where a client handshake stands.
#[derive(Debug)]
enum ClientState {
    /// `Hello` sent.
    AwaitChallenge,
    /// `Response` sent to this server.
    AwaitWelcome(Peer),
    /// Done or failed: no frame is accepted any more.
    Finished,
}

impl ClientHandshake {
    /// Starts a handshake; returns the `Hello` to send first. `nonce` must be fresh
    /// (`fresh_nonce()`); a client without a token can only be refused.
    pub(crate) fn new(
        me: Identity,
        limits: Limits,
        token: Option<Token>,
        nonce: Nonce,
    ) -> (Self, Frame) {
        let hello = Frame::Hello {
            version: PROTOCOL_VERSION,
            network_id: me.network_id.clone(),
            instance_id: me.instance_id.clone(),
            incarnation: me.incarnation.clone(),
            nonce,
            max_message: limits.max_message,
            max_payload: limits.max_payload,
        };
        let handshake = ClientHandshake {
            me,
            token,
            nonce,
            state: ClientState::AwaitChallenge,
        };
        (handshake, hello)
    }

    /// Feeds the next frame from the server.
    pub(crate) fn on_frame(&mut self, frame: Frame) -> Result<Step, HandshakeError> {
        match (mem::replace(&mut self.state, ClientState::Finished), frame) {
            (ClientState::Finished, frame) => Err(after_finish(&frame)),
            (_, Frame::Refuse { reason, detail }) => {
                Err(HandshakeError::Refused { reason, detail })
            }
            (
                ClientState::AwaitChallenge,
                Frame::Challenge {
                    version,
                    network_id,
                    instance_id,
                    incarnation,
                    nonce,
                    proof,
                    max_message,
                    max_payload,
                },
            ) => {
                let limits = Limits {
                    max_message,
                    max_payload,
                };
                let server = peer(network_id, instance_id, incarnation, limits);
                self.on_challenge(version, server, &nonce, &proof)
            }
            (ClientState::AwaitWelcome(server), Frame::Welcome) => self.on_welcome(server),
            (_, frame) => Err(unexpected(&frame)),
        }
    }

    /// Checks the server and its proof, and answers with our own.
    fn on_challenge(
        &mut self,
        version: u16,
        server: Peer,
        server_nonce: &Nonce,
        proof: &[u8],
    ) -> Result<Step, HandshakeError> {
        check_peer(version, &server, &self.me)?;
        let Some(token) = &self.token else {
            // Without a token we cannot check the server either; it will refuse us anyway.
            self.state = ClientState::AwaitWelcome(server);
            return Ok(Step::Send(Frame::Response { proof: None }));
        };
        let transcript = Transcript {
            client_nonce: &self.nonce,
            server_nonce,
            client: &self.me,
            server: &server.identity,
        };
        if !token.verify(Prover::Server, &transcript, proof) {
            return Err(HandshakeError::AuthenticationFailed(
                "the server's proof does not match our token (the two sides have different tokens)"
                    .into(),
            ));
        }
        let response = Frame::Response {
            proof: Some(token.prove(Prover::Client, &transcript)),
        };
        self.state = ClientState::AwaitWelcome(server);
        Ok(Step::Send(response))
    }

    /// Accepts the `Welcome` of a server whose proof we verified.
    fn on_welcome(&self, server: Peer) -> Result<Step, HandshakeError> {
        if self.token.is_none() {
            // A conforming server never welcomes a client without a proof.
            return Err(HandshakeError::AuthenticationFailed(
                "this instance has no token configured, so the server cannot be authenticated"
                    .into(),
            ));
        }
        Ok(Step::Done {
            send: None,
            peer: server,
        })
    }
}

/// The accepting side of a handshake.
///
/// On error, send `error.refusal()` when it is `Some`, then close with `error.close_code()`.
#[derive(Debug)]
pub(crate) struct ServerHandshake {
    me: Identity,
    limits: Limits,
    token: Option<Token>,
    nonce: Nonce,
    state: ServerState,
}

/// Where a server handshake stands.
#[derive(Debug)]
enum ServerState {
    /// Nothing received yet.
    AwaitHello,
    /// `Challenge` sent to this client.
    AwaitResponse {
        /// The client as its `Hello` claimed, not yet authenticated.
        client: Peer,
        /// The nonce from its `Hello`.
        client_nonce: Nonce,
    },
    /// Done or failed: no frame is accepted any more.
    Finished,
}

impl ServerHandshake {
    /// Waits for a client's `Hello`. `nonce` must be fresh (`fresh_nonce()`). A server
    /// without a token refuses every client: there is no unauthenticated mode.
    pub(crate) fn new(me: Identity, limits: Limits, token: Option<Token>, nonce: Nonce) -> Self {
        ServerHandshake {
            me,
            limits,
            token,
            nonce,
            state: ServerState::AwaitHello,
        }
    }

    /// Feeds the next frame from the client. `admit` is the caller's policy (duplicate
    /// instance, too many connections); it is asked once, only about a client that has
    /// proven the token, right before `Done`, so it may also reserve the client's slot.
    pub(crate) fn on_frame(
        &mut self,
        frame: Frame,
        admit: impl FnOnce(&Identity) -> Result<(), RefuseReason>,
    ) -> Result<Step, HandshakeError> {
        match (mem::replace(&mut self.state, ServerState::Finished), frame) {
            (ServerState::Finished, frame) => Err(after_finish(&frame)),
            (_, Frame::Refuse { reason, detail }) => {
                Err(HandshakeError::Refused { reason, detail })
            }
            (
                ServerState::AwaitHello,
                Frame::Hello {
                    version,
                    network_id,
                    instance_id,
                    incarnation,
                    nonce,
                    max_message,
                    max_payload,
                },
            ) => {
                let limits = Limits {
                    max_message,
                    max_payload,
                };
                let client = peer(network_id, instance_id, incarnation, limits);
                self.on_hello(version, client, nonce)
            }
            (
                ServerState::AwaitResponse {
                    client,
                    client_nonce,
                },
                Frame::Response { proof },
            ) => self.on_response(client, &client_nonce, proof.as_deref(), admit),
            (_, frame) => Err(unexpected(&frame)),
        }
    }

    /// Checks the client and answers with our nonce and proof.
    fn on_hello(
        &mut self,
        version: u16,
        client: Peer,
        client_nonce: Nonce,
    ) -> Result<Step, HandshakeError> {
        check_peer(version, &client, &self.me)?;
        let token = self.token.as_ref().ok_or_else(|| {
            HandshakeError::AuthenticationFailed("this instance has no token configured".into())
        })?;
        let transcript = Transcript {
            client_nonce: &client_nonce,
            server_nonce: &self.nonce,
            client: &client.identity,
            server: &self.me,
        };
        let challenge = Frame::Challenge {
            version: PROTOCOL_VERSION,
            network_id: self.me.network_id.clone(),
            instance_id: self.me.instance_id.clone(),
            incarnation: self.me.incarnation.clone(),
            nonce: self.nonce,
            proof: token.prove(Prover::Server, &transcript),
            max_message: self.limits.max_message,
            max_payload: self.limits.max_payload,
        };
        self.state = ServerState::AwaitResponse {
            client,
            client_nonce,
        };
        Ok(Step::Send(challenge))
    }

    /// Verifies the client's proof, then asks the admission policy.
    fn on_response(
        &self,
        client: Peer,
        client_nonce: &Nonce,
        proof: Option<&[u8]>,
        admit: impl FnOnce(&Identity) -> Result<(), RefuseReason>,
    ) -> Result<Step, HandshakeError> {
        let proof = proof.ok_or(HandshakeError::MissingToken)?;
        // A server without a token never gets here: it refused the Hello.
        let verified = self.token.as_ref().is_some_and(|token| {
            let transcript = Transcript {
                client_nonce,
                server_nonce: &self.nonce,
                client: &client.identity,
                server: &self.me,
            };
            token.verify(Prover::Client, &transcript, proof)
        });
        if !verified {
            return Err(HandshakeError::AuthenticationFailed(
                "the client's proof does not match our token (the two sides have different tokens)"
                    .into(),
            ));
        }
        admit(&client.identity).map_err(|r| HandshakeError::admission(r, &client.identity))?;
        Ok(Step::Done {
            send: Some(Frame::Welcome),
            peer: client,
        })
    }
}

/// A peer from the fields of `Hello` or `Challenge`.
fn peer(network_id: String, instance_id: String, incarnation: String, limits: Limits) -> Peer {
    Peer {
        identity: Identity {
            network_id,
            instance_id,
            incarnation,
        },
        limits,
    }
}

/// The checks both sides make on what the other claims, before any proof.
fn check_peer(version: u16, peer: &Peer, me: &Identity) -> Result<(), HandshakeError> {
    if version != PROTOCOL_VERSION {
        return Err(HandshakeError::version(version));
    }
    peer.identity.check().map_err(HandshakeError::Protocol)?;
    if peer.limits.max_message < Limits::MIN_MAX_MESSAGE {
        return Err(HandshakeError::Protocol(format!(
            "max_message {} is below the minimum {}",
            peer.limits.max_message,
            Limits::MIN_MAX_MESSAGE
        )));
    }
    if peer.identity.instance_id == me.instance_id {
        return Err(HandshakeError::DuplicateInstance(me.instance_id.clone()));
    }
    Ok(())
}

/// The error for a frame the current state does not accept.
fn unexpected(frame: &Frame) -> HandshakeError {
    HandshakeError::Protocol(format!("unexpected {} during handshake", frame.kind()))
}

/// The error for a frame fed after the handshake ended.
fn after_finish(frame: &Frame) -> HandshakeError {
    HandshakeError::Protocol(format!(
        "unexpected {} fed to a finished handshake",
        frame.kind()
    ))
}
