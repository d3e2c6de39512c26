//! TLS for links (`wss://`): the PEM files of [`TlsConfig`] loaded into rustls configurations
//! (ring provider), the dialling side's connect, and a listener that serves TLS only.
//!
//! Both failure modes a user meets are turned into errors that say what happened: a
//! plaintext dial of a TLS-only server, and a server certificate the configured CA does not
//! vouch for. Either way no link is made.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{CertificateError, ClientConfig, RootCertStore, ServerConfig};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio_rustls::server::TlsStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tokio_tungstenite::tungstenite;

use super::wire::{from_tungstenite, WireSink, WireStream};
use crate::config::{TlsConfig, TlsIdentity};
use crate::error::{BridgeError, TransportError};
use crate::hub::Hub;
use crate::metrics::{HandshakeFailure, Metrics};

#[cfg(test)]
mod tests;

/// How long a TLS handshake may take, either side, once the TCP connection is up.
const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);
/// TLS handshakes run at once; further connections wait in the kernel's accept backlog.
const MAX_HANDSHAKES: usize = 128;
/// Connections through their handshake but not yet taken by the HTTP server.
const READY_BACKLOG: usize = 32;

/// The loaded TLS settings of a bridge.
#[derive(Debug, Default)]
pub(crate) struct Tls {
    /// What the server presents; `Some` means the bridge's port serves TLS only.
    pub(crate) server: Option<Arc<ServerConfig>>,
    client: Option<Client>,
}

/// What dialling `wss://` trusts, and the file it came from, for errors.
#[derive(Debug)]
struct Client {
    config: Arc<ClientConfig>,
    ca: PathBuf,
}

impl Tls {
    /// Reads and checks the files named by `config`; the error names the file at fault.
    pub(crate) fn load(config: &TlsConfig) -> Result<Self, BridgeError> {
        let server = config.identity.as_ref().map(server_config).transpose()?;
        let client = config.ca.as_deref().map(Client::load).transpose()?;
        Ok(Tls { server, client })
    }
}

impl Client {
    fn load(ca: &Path) -> Result<Self, BridgeError> {
        Ok(Client {
            config: client_config(ca)?,
            ca: ca.to_path_buf(),
        })
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn server_config(identity: &TlsIdentity) -> Result<Arc<ServerConfig>, BridgeError> {
    let chain = certificates(&identity.cert_chain, "certificate chain")?;
    let key = PrivateKeyDer::from_pem_file(&identity.key)
        .map_err(|err| pem_error(&identity.key, "key file", "private key", err))?;
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|err| BridgeError::Config(format!("TLS: {err}")))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|err| {
            BridgeError::Config(format!(
                "the TLS key {} does not go with the certificate {}: {err}",
                identity.key.display(),
                identity.cert_chain.display()
            ))
        })?;
    Ok(Arc::new(config))
}

/// A rustls client that trusts the certificates of the PEM file `ca` (the errors name it).
pub(crate) fn client_config(ca: &Path) -> Result<Arc<ClientConfig>, BridgeError> {
    let mut roots = RootCertStore::empty();
    for cert in certificates(ca, "CA file")? {
        roots.add(cert).map_err(|err| {
            BridgeError::Config(format!(
                "the TLS CA file {} is not usable: {err}",
                ca.display()
            ))
        })?;
    }
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|err| BridgeError::Config(format!("TLS: {err}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Every certificate of the PEM file at `path`; at least one.
fn certificates(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, BridgeError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|err| pem_error(path, what, "certificate", err))?;
    if certs.is_empty() {
        return Err(pem_error(
            path,
            what,
            "certificate",
            pem::Error::NoItemsFound,
        ));
    }
    Ok(certs)
}

/// An error reading the `what` at `path`, a PEM file that should hold `item`s.
fn pem_error(path: &Path, what: &str, item: &str, err: pem::Error) -> BridgeError {
    let path = path.display();
    BridgeError::Config(match err {
        pem::Error::Io(err) => format!("cannot read the TLS {what} {path}: {err}"),
        pem::Error::NoItemsFound => format!("the TLS {what} {path} holds no PEM {item}"),
        err => format!("the TLS {what} {path} is not valid PEM: {err}"),
    })
}

/// Opens the WebSocket of a link to `url` at `host` (`HOST:PORT`), with TCP_NODELAY: over
/// TLS for `wss://`, verifying the server's certificate for `HOST`; in plaintext otherwise.
pub(crate) async fn connect(
    hub: &Hub,
    url: &str,
    host: &str,
) -> Result<(WireSink, WireStream), BridgeError> {
    let ws_config = Some(ws_config(hub.max_message_bytes()));
    if !url.starts_with("wss://") {
        let tcp = tcp_connect(host).await?;
        let (socket, _) = tokio_tungstenite::client_async_with_config(url, tcp, ws_config)
            .await
            .map_err(|err| plaintext_upgrade_failed(url, host, err))?;
        return Ok(from_tungstenite(socket));
    }
    let Some(client) = &hub.tls.client else {
        return Err(BridgeError::Config(format!(
            "dialling wss://{host} needs the CA that signs the server's certificate \
             (`tls.ca`, --tls-ca FILE)"
        )));
    };
    let name = server_name(host)?;
    let tcp = tcp_connect(host).await?;
    let handshake = TlsConnector::from(client.config.clone()).connect(name, tcp);
    let tls = match tokio::time::timeout(HANDSHAKE_DEADLINE, handshake).await {
        Ok(done) => done.map_err(|err| client_handshake_failed(host, &client.ca, &err))?,
        Err(_) => {
            return Err(BridgeError::Tls {
                address: host.to_string(),
                reason: format!("the TLS handshake did not complete within {HANDSHAKE_DEADLINE:?}"),
            })
        }
    };
    let (socket, _) = tokio_tungstenite::client_async_with_config(url, tls, ws_config)
        .await
        .map_err(|err| upgrade_failed(url, &err))?;
    Ok(from_tungstenite(socket))
}

async fn tcp_connect(host: &str) -> Result<TcpStream, BridgeError> {
    let tcp = TcpStream::connect(host)
        .await
        .map_err(|source| BridgeError::Io {
            context: format!("cannot connect to {host}"),
            source,
        })?;
    let _ = tcp.set_nodelay(true);
    Ok(tcp)
}

fn ws_config(max_message_bytes: usize) -> tungstenite::protocol::WebSocketConfig {
    let mut config = tungstenite::protocol::WebSocketConfig::default();
    config.max_message_size = Some(max_message_bytes);
    config.max_frame_size = Some(max_message_bytes);
    config.read_buffer_size = crate::http::READ_BUFFER_SIZE;
    config
}

/// The name the server's certificate must be valid for: the host of `HOST:PORT`, a DNS
/// name or an IP address (`[v6]:PORT` too).
fn server_name(host: &str) -> Result<ServerName<'static>, BridgeError> {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    ServerName::try_from(name.to_string()).map_err(|err| {
        BridgeError::Config(format!("`{name}` is not a host name TLS can verify: {err}"))
    })
}

/// A plaintext upgrade answered by something that is not HTTP: a TLS server answers the
/// request with an alert record, which is what this looks like from here.
fn plaintext_upgrade_failed(url: &str, host: &str, err: tungstenite::Error) -> BridgeError {
    use tungstenite::error::ProtocolError;
    match err {
        tungstenite::Error::Protocol(ProtocolError::HttparseError(err)) => BridgeError::Tls {
            address: host.to_string(),
            reason: format!(
                "the server did not answer the plaintext upgrade in HTTP ({err}): it may \
                 require TLS, dial wss://{host}"
            ),
        },
        err => upgrade_failed(url, &err),
    }
}

/// Why the TLS handshake with the server at `host` failed, in the user's terms.
fn client_handshake_failed(host: &str, ca: &Path, err: &io::Error) -> BridgeError {
    let reason = match rustls_error(err) {
        Some(rustls::Error::InvalidCertificate(cert)) => {
            format!("certificate not trusted: {}", untrusted(cert, ca))
        }
        Some(err @ rustls::Error::InvalidMessage(_)) => format!(
            "the server did not answer in TLS ({err}): it may serve plaintext, dial ws://{host}"
        ),
        Some(err) => format!("the TLS handshake failed: {err}"),
        None => format!("the TLS handshake failed: {err}"),
    };
    BridgeError::Tls {
        address: host.to_string(),
        reason,
    }
}

/// The rustls error tokio-rustls wraps in an I/O error, if that is what failed.
fn rustls_error(err: &io::Error) -> Option<&rustls::Error> {
    err.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

fn untrusted(cert: &CertificateError, ca: &Path) -> String {
    let ca = ca.display();
    match cert {
        CertificateError::UnknownIssuer => {
            format!("the server's certificate is not signed by a CA in {ca}")
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            format!("the server's certificate is not valid for this host ({cert})")
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            format!("the server's certificate has expired ({cert})")
        }
        cert => format!("{cert}"),
    }
}

/// A listener that serves TLS only: it accepts TCP connections, runs each TLS handshake in
/// its own task, and hands the HTTP server the connections that completed one. A failed or
/// stalled handshake is counted (`handshake_failures_total{reason="tls"}`) and logged; it
/// never holds up the others or stops the server.
#[derive(Debug)]
pub(crate) struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local_addr: SocketAddr,
}

impl TlsListener {
    /// Starts accepting on `tcp`, bound to `local_addr`, with `config`; accepting stops
    /// when the listener is dropped.
    pub(crate) fn new(
        tcp: TcpListener,
        local_addr: SocketAddr,
        config: Arc<ServerConfig>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let (tx, ready) = mpsc::channel(READY_BACKLOG);
        tokio::spawn(accept_loop(tcp, TlsAcceptor::from(config), metrics, tx));
        TlsListener { ready, local_addr }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accept loop only ends once this listener is gone.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}

/// Where connections that completed their handshake go, for [`TlsListener`] to hand out.
type Ready = mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>;

async fn accept_loop(tcp: TcpListener, acceptor: TlsAcceptor, metrics: Arc<Metrics>, ready: Ready) {
    let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let permit = tokio::select! {
            permit = handshakes.clone().acquire_owned() => permit,
            () = ready.closed() => return,
        };
        let Ok(permit) = permit else { return };
        let accepted = tokio::select! {
            accepted = tcp.accept() => accepted,
            () = ready.closed() => return,
        };
        match accepted {
            Ok((stream, from)) => {
                let _ = stream.set_nodelay(true);
                let job = handshake(acceptor.clone(), stream, from, metrics.clone());
                tokio::spawn(deliver(job, ready.clone(), permit));
            }
            Err(err) => accept_failed(err).await,
        }
    }
}

/// Runs one handshake and hands the connection over, holding a handshake permit until then
/// so that connections the server is slow to take still count against the limit. Gives up
/// as soon as the server has stopped.
async fn deliver(
    job: impl std::future::Future<Output = Option<(TlsStream<TcpStream>, SocketAddr)>>,
    ready: Ready,
    _permit: OwnedSemaphorePermit,
) {
    let handed_over = async {
        if let Some(accepted) = job.await {
            let _ = ready.send(accepted).await;
        }
    };
    tokio::select! {
        () = handed_over => {}
        () = ready.closed() => {}
    }
}

async fn handshake(
    acceptor: TlsAcceptor,
    stream: TcpStream,
    from: SocketAddr,
    metrics: Arc<Metrics>,
) -> Option<(TlsStream<TcpStream>, SocketAddr)> {
    let reason = match tokio::time::timeout(HANDSHAKE_DEADLINE, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => return Some((tls, from)),
        Ok(Err(err)) => server_handshake_failed(&err),
        Err(_) => format!("not completed within {HANDSHAKE_DEADLINE:?}"),
    };
    metrics.handshake_failed(HandshakeFailure::Tls);
    tracing::warn!(%from, "refused a connection: the TLS handshake failed: {reason}");
    None
}

/// Why the TLS handshake with a client failed, with a guess at the cause where rustls's
/// own words would leave the operator wondering.
fn server_handshake_failed(err: &io::Error) -> String {
    match rustls_error(err) {
        Some(err @ rustls::Error::InvalidMessage(_)) => {
            format!("the client did not speak TLS, plaintext ws:// or http://? ({err})")
        }
        Some(err @ rustls::Error::AlertReceived(_)) => {
            format!("the client ended it, likely distrusting this certificate ({err})")
        }
        _ => err.to_string(),
    }
}

/// An error accepting a TCP connection: one that concerns only that connection is skipped;
/// any other (out of file descriptors, say) pauses accepting for a second rather than spin.
async fn accept_failed(err: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        err.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!("accepting a connection failed: {err}");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// The WebSocket upgrade to `url` failed.
fn upgrade_failed(url: &str, err: &dyn std::fmt::Display) -> BridgeError {
    BridgeError::WebSocket(TransportError::Failed(format!(
        "upgrade to {url} failed: {err}"
    )))
}
