//! Opening many WebSocket connections: presigned URLs for the service, plain ones for the
//! floor, spread over several loopback source addresses so that more connections fit than
//! one address's ephemeral ports allow.

use anyhow::Context;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use crate::local::{presigned_wss, signed_post};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Connections per loopback source address (below the 28k ephemeral ports of one address).
const PER_SOURCE: usize = 25_000;

/// The source address for the `i`-th connection: the kernel's choice for the first
/// [`PER_SOURCE`] (connect picks ports per destination, quickly), then 127.0.0.2, 127.0.0.3,
/// ... (bound explicitly, which is slower: the kernel searches for a port free of every
/// destination).
pub fn source(i: usize) -> Option<IpAddr> {
    let k = u8::try_from(1 + i / PER_SOURCE).unwrap_or(u8::MAX);
    (k > 1).then_some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, k)))
}

/// A rustls client config trusting the PEM file `ca`.
pub fn client_tls(ca: &std::path::Path) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let pem = std::fs::read(ca).with_context(|| format!("reading {}", ca.display()))?;
    Ok(kvs_service::client_tls_config(&pem)?)
}

/// Opens a WebSocket to `url`, from `src` when given.
pub async fn open(
    url: &str,
    server: SocketAddr,
    src: Option<IpAddr>,
    tls: &Arc<rustls::ClientConfig>,
) -> anyhow::Result<Ws> {
    let socket = TcpSocket::new_v4()?;
    if let Some(src) = src {
        socket.set_reuseaddr(true)?; // ports in TIME_WAIT from earlier runs may be reused
        socket.bind(SocketAddr::new(src, 0))?;
    }
    let tcp = socket.connect(server).await?;
    tcp.set_nodelay(true)?;
    let (ws, _) = tokio_tungstenite::client_async_tls_with_config(
        url,
        tcp,
        Some(kvs_service::ws_config()),
        Some(Connector::Rustls(tls.clone())),
    )
    .await?;
    Ok(ws)
}

/// The `host:port` of an endpoint URL, as a socket address.
pub fn server_addr(endpoint: &str) -> anyhow::Result<SocketAddr> {
    let host = endpoint
        .split("://")
        .nth(1)
        .context("endpoint has no scheme")?;
    host.trim_end_matches('/')
        .parse()
        .with_context(|| format!("endpoint {endpoint} is not IP:PORT"))
}

/// A presigned WebSocket URL for the master (`client_id` `None`) or a viewer of `arn`.
pub fn presigned(endpoint: &str, arn: &str, client_id: Option<&str>) -> anyhow::Result<String> {
    let host = endpoint
        .split("://")
        .nth(1)
        .context("endpoint has no scheme")?;
    let path = if client_id.is_some() { "/v" } else { "/m" };
    presigned_wss(&format!("wss://{host}{path}"), arn, client_id)
}

/// Creates the channel `name` through the control plane; returns its ARN.
pub async fn create_channel(
    http: &reqwest::Client,
    endpoint: &str,
    name: &str,
) -> anyhow::Result<String> {
    let url = format!("{endpoint}/createSignalingChannel");
    let out = signed_post(http, &url, serde_json::json!({ "ChannelName": name })).await?;
    out["ChannelARN"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("creating channel {name}: no ChannelARN in {out}"))
}
