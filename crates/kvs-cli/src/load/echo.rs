//! The floor: a bare tokio-tungstenite echo server on the same TLS stack as the service
//! (tokio-rustls with the service's own certificate setup, the same WebSocket buffer
//! settings), run as `kvs-signaling load-echo-server` in a child process.

use std::net::SocketAddr;

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

/// Serves until killed; prints `endpoint:` and `ca:` first.
pub async fn serve() -> anyhow::Result<()> {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = listener.local_addr()?;
    let hosts = ["127.0.0.1".to_owned(), "localhost".to_owned()];
    let identity = kvs_service::tls_identity(None, &hosts)?;
    let ca = std::env::temp_dir().join(format!("kvs-load-echo-{}-ca.pem", std::process::id()));
    std::fs::write(&ca, &identity.ca_pem).context("writing the floor's CA")?;
    println!("endpoint: wss://{addr}");
    println!("ca: {}", ca.display());
    let acceptor = tokio_rustls::TlsAcceptor::from(identity.server_config);
    loop {
        let (tcp, _) = listener.accept().await?;
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let config = kvs_service::ws_config();
            let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(tls, Some(config)).await
            else {
                return;
            };
            while let Some(Ok(msg)) = ws.next().await {
                if let Message::Text(_) = msg
                    && ws.send(msg).await.is_err()
                {
                    break;
                }
            }
        });
    }
}
