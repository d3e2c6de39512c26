//! Socket I/O: serving HTTP and links, dialling peers, and the per-link task.

mod accept;
mod connection;
mod dial;
mod handshake;
mod tls;
mod wire;

pub(crate) use accept::{serve, Server};
pub(crate) use connection::{Exit, LinkHandle, LinkId};
pub(crate) use dial::dial;
pub(crate) use tls::Tls;
