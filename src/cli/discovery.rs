//! `reflow discovery`: serve the HTTP registry where instances announce themselves and
//! peers look them up, until Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context as _};
use clap::Args;
use reflow_bridge::discovery::{DiscoveryServer, RegistryConfig};

/// Flags of `reflow discovery`.
#[derive(Debug, Args)]
pub(crate) struct DiscoveryArgs {
    /// Serve the registry on this address (e.g. 0.0.0.0:7300); port 0 picks a free one, and
    /// the address printed is the real one.
    #[arg(long, value_name = "ADDR")]
    bind: SocketAddr,
    /// Require this writer token (read from the environment variable VAR) on POST and
    /// DELETE as `Authorization: Bearer TOKEN`; reads stay open. Without a token anyone
    /// who reaches the registry can register and deregister instances.
    #[arg(long, value_name = "VAR", conflicts_with = "token_file")]
    token_env: Option<String>,
    /// Read the writer token from this file instead (trailing newline ignored).
    #[arg(long, value_name = "PATH")]
    token_file: Option<PathBuf>,
    /// TTL of a registration that asks for none, in seconds (at most 300, the longest TTL
    /// granted).
    #[arg(long, value_name = "N", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=300))]
    ttl_secs: u64,
}

impl DiscoveryArgs {
    fn token(&self) -> anyhow::Result<Option<String>> {
        let token = match (&self.token_env, &self.token_file) {
            (Some(var), _) => std::env::var(var)
                .with_context(|| format!("environment variable {var} is not set"))?,
            (None, Some(path)) => std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the token file {}", path.display()))?
                .trim_end_matches(['\n', '\r'])
                .to_string(),
            (None, None) => return Ok(None),
        };
        if token.is_empty() {
            bail!("the writer token is empty");
        }
        Ok(Some(token))
    }
}

pub(crate) fn run(args: DiscoveryArgs) -> anyhow::Result<ExitCode> {
    let config = RegistryConfig {
        token: args.token()?,
        default_ttl: Duration::from_secs(args.ttl_secs),
        ..RegistryConfig::default()
    };
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(serve(config, args.bind))
}

async fn serve(config: RegistryConfig, bind: SocketAddr) -> anyhow::Result<ExitCode> {
    let open = config.token.is_none();
    let stop = super::interrupt::stop_signal()?;
    let registry = DiscoveryServer::serve(config, bind).await?;
    let addr = registry.local_addr();
    eprintln!("reflow: discovery registry listening on http://{addr}");
    if open {
        eprintln!(
            "reflow: warning: no writer token (--token-env/--token-file): anyone who reaches {addr} can register and deregister instances"
        );
    }
    let signal = stop.await;
    eprintln!(
        "{}: stopping the discovery registry (its entries are in memory and are lost)",
        signal.name()
    );
    registry.stop().await;
    Ok(ExitCode::SUCCESS)
}
