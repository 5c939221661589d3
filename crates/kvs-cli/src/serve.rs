//! `kvs-signaling serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use kvs_service::{EXAMPLE_ACCESS_KEY_ID, EXAMPLE_SECRET_ACCESS_KEY, ServiceConfig};

/// Options of the local service.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on. Binds loopback unless told otherwise; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:4443")]
    listen: SocketAddr,
    /// Region the service serves; clients must sign for it.
    #[arg(long, default_value = "us-west-2")]
    region: String,
    /// Where the CA certificate and key are kept across restarts.
    /// Default: $XDG_STATE_HOME/kvs-signaling or ~/.local/state/kvs-signaling.
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Access key id to accept (default: AWS's documented example key).
    #[arg(long, requires = "secret_access_key")]
    access_key_id: Option<String>,
    /// Secret key of --access-key-id.
    #[arg(long, requires = "access_key_id", hide_env_values = true)]
    secret_access_key: Option<String>,
    /// Serve plain http:// and ws:// instead of TLS.
    #[arg(long)]
    plain: bool,
    /// Close WebSockets with no incoming traffic for this many seconds (KVS: 600).
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout: u64,
    /// Send GO_AWAY to WebSockets this many seconds old (KVS: 3600).
    #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..))]
    max_connection_duration: u64,
    /// Close a connection this many seconds after its GO_AWAY (KVS: 60).
    #[arg(long, default_value_t = 60)]
    go_away_grace: u64,
    /// Send RECONNECT_ICE_SERVER to each connection this many seconds after it opened, to
    /// exercise clients' ICE refresh (default: never).
    #[arg(long)]
    reconnect_ice_server_after: Option<u64>,
}

fn default_state_dir() -> PathBuf {
    let from_env = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    from_env("XDG_STATE_HOME")
        .or_else(|| from_env("HOME").map(|h| h.join(".local/state")))
        .map(|base| base.join("kvs-signaling"))
        .unwrap_or_else(|| PathBuf::from(".kvs-signaling"))
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let custom_keys = args.access_key_id.zip(args.secret_access_key);
    let credentials = match &custom_keys {
        Some((id, secret)) => vec![(id.clone(), secret.clone())],
        None => vec![(
            EXAMPLE_ACCESS_KEY_ID.into(),
            EXAMPLE_SECRET_ACCESS_KEY.into(),
        )],
    };
    if !args.listen.ip().is_loopback() {
        tracing::warn!(listen = %args.listen, "listening beyond loopback as asked; anyone who can reach it and knows a key can use it");
    }
    let config = ServiceConfig {
        listen: args.listen,
        region: args.region.clone(),
        state_dir: Some(args.state_dir.unwrap_or_else(default_state_dir)),
        credentials,
        tls: !args.plain,
        idle_timeout: Duration::from_secs(args.idle_timeout),
        max_connection_duration: Duration::from_secs(args.max_connection_duration),
        go_away_grace: Duration::from_secs(args.go_away_grace),
        reconnect_ice_server_after: args.reconnect_ice_server_after.map(Duration::from_secs),
        ..ServiceConfig::default()
    };
    let handle = kvs_service::start(config)
        .await
        .context("the service did not start")?;
    println!("endpoint: {}", handle.endpoint());
    match handle.ca_path() {
        Some(path) => println!("ca: {}", path.display()),
        None => println!("ca: none"),
    }
    println!("region: {}", args.region);
    match &custom_keys {
        Some((id, _)) => println!("access key id: {id}"),
        None => {
            println!("access key id: {EXAMPLE_ACCESS_KEY_ID}");
            println!("secret access key: {EXAMPLE_SECRET_ACCESS_KEY}");
        }
    }
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    handle.shutdown().await;
    Ok(())
}
