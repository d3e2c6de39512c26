//! Socket I/O: serving HTTP and links, dialling peers, and the links themselves: sessions
//! with a peer that survive reconnects, each run by one driver task.

mod accept;
mod backoff;
mod connection;
mod deliver;
mod dial;
mod exit;
mod handle;
mod handshake;
mod link;
mod parts;
mod reader;
mod redial;
mod replay;
mod resume;
mod state;
mod tls;
mod wire;
mod writer;

pub(crate) use accept::{serve, Server};
pub use dial::check_peer_address;
pub(crate) use dial::dial;
pub(crate) use exit::Exit;
pub(crate) use handle::{Connection, LinkHandle};
pub(crate) use link::spawn as spawn_link;
pub(crate) use redial::spawn as redial;
pub(crate) use resume::{keep_existing, Decision};
pub(crate) use state::LinkId;
pub(crate) use tls::{client_config as tls_client_config, Tls};
