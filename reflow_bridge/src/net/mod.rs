//! Socket I/O: serving HTTP and links, dialling peers, and the links themselves: sessions
//! with a peer that survive reconnects, each run by one driver task.

mod accept;
mod backoff;
mod connection;
mod deliver;
mod dial;
mod handshake;
pub(crate) mod link;
mod parts;
mod reader;
mod redial;
mod replay;
mod resume;
mod tls;
mod wire;
mod writer;

pub(crate) use accept::{serve, Server};
pub(crate) use connection::Exit;
pub(crate) use dial::dial;
pub(crate) use link::{Connection, LinkHandle, LinkId};
pub(crate) use resume::{keep_existing, Decision};
pub(crate) use tls::Tls;
