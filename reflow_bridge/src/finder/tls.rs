//! TLS for `https://` registries: the CA file that `wss://` dials trust (`tls.ca`) loaded
//! into a rustls client (ring provider), and the handshake with a registry.

use std::path::{Path, PathBuf};

use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::error::BridgeError;

/// What an `https://` registry's certificate must chain to, and the file it came from.
#[derive(Clone)]
pub(crate) struct TlsClient {
    connector: TlsConnector,
    ca: PathBuf,
}

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsClient").field("ca", &self.ca).finish()
    }
}

impl TlsClient {
    /// Trusts the certificates of the PEM file `ca`, as `wss://` dials do; the error names
    /// the file.
    pub(crate) fn load(ca: &Path) -> Result<Self, BridgeError> {
        let config = crate::net::tls_client_config(ca)?;
        Ok(TlsClient {
            connector: TlsConnector::from(config),
            ca: ca.to_path_buf(),
        })
    }

    /// Runs the TLS handshake over `tcp` with the registry at `host` (`HOST:PORT`), whose
    /// certificate must be valid for `HOST`.
    pub(crate) async fn connect(
        &self,
        host: &str,
        tcp: TcpStream,
    ) -> Result<TlsStream<TcpStream>, String> {
        let name = server_name(host)?;
        self.connector
            .connect(name, tcp)
            .await
            .map_err(|err| self.handshake_failed(&err))
    }

    fn handshake_failed(&self, err: &std::io::Error) -> String {
        let rustls = err
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>());
        match rustls {
            Some(rustls::Error::InvalidCertificate(cert)) => format!(
                "the registry's certificate is not trusted with the CA file {}: {cert}",
                self.ca.display()
            ),
            _ => format!("the TLS handshake failed: {err}"),
        }
    }
}

/// The name the registry's certificate must be valid for: the host of `HOST:PORT`, a DNS
/// name or an IP address (`[v6]:PORT` too).
fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    ServerName::try_from(name.to_string())
        .map_err(|err| format!("`{name}` is not a host name TLS can verify: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_name_is_the_host_without_its_port() {
        for (host, name) in [
            ("reg.example:443", "reg.example"),
            ("127.0.0.1:7300", "127.0.0.1"),
            ("[::1]:7300", "::1"),
        ] {
            assert_eq!(server_name(host), Ok(ServerName::try_from(name).unwrap()));
        }
        assert!(server_name("bad_name!:1")
            .unwrap_err()
            .contains("bad_name!"));
    }

    #[test]
    fn a_missing_or_empty_ca_file_is_named_in_the_error() {
        let err = TlsClient::load(Path::new("/nonexistent/ca.pem")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
        let empty = std::env::temp_dir().join(format!("reflow-finder-ca-{}", std::process::id()));
        std::fs::write(&empty, "no certificate here\n").unwrap();
        let err = TlsClient::load(&empty).unwrap_err().to_string();
        assert!(err.contains("holds no PEM certificate"), "{err}");
        let _ = std::fs::remove_file(&empty);
    }
}
