//! Peers that are slow on purpose: silent TCP connections, request heads and bodies that
//! trickle in, and WebSocket readers that stop reading are all cut off, while other clients
//! are served meanwhile. Also: random bytes from many connections do not stop the service.

mod common;

use std::time::Duration;

use common::{channel, control, join, tls};
use futures_util::{SinkExt, StreamExt};
use kvs_service::{EXAMPLE_SECRET_ACCESS_KEY, ServiceConfig, ServiceHandle};
use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::Message;

const TOKEN: &str = "slow-peers";

async fn service() -> ServiceHandle {
    kvs_service::start(ServiceConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        handshake_timeout: Duration::from_secs(1),
        write_timeout: Duration::from_secs(1),
        admin_token: Some(TOKEN.into()),
        limits: None,
        ..ServiceConfig::default()
    })
    .await
    .unwrap()
}

/// Reads until the service hangs up; false if it is still connected after 30 s.
async fn hung_up<S: tokio::io::AsyncRead + Unpin>(mut s: S) -> bool {
    let mut buf = [0u8; 4096];
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

async fn tls_stream(svc: &ServiceHandle) -> tokio_rustls::client::TlsStream<TcpStream> {
    let tcp = TcpStream::connect(svc.local_addr()).await.unwrap();
    let connector = TlsConnector::from(tls(svc));
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    connector.connect(name, tcp).await.unwrap()
}

async fn still_serves(svc: &ServiceHandle) {
    control(svc, EXAMPLE_SECRET_ACCESS_KEY)
        .list_signaling_channels()
        .send()
        .await
        .expect("other clients are served");
}

#[tokio::test]
async fn silent_and_trickling_connections_are_cut_off() {
    let svc = service().await;
    let silent = TcpStream::connect(svc.local_addr()).await.unwrap();
    let mut head = tls_stream(&svc).await;
    head.write_all(b"POST /listSignalingChannels HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut body = tls_stream(&svc).await;
    body.write_all(
        b"POST /listSignalingChannels HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{",
    )
    .await
    .unwrap();
    still_serves(&svc).await;
    assert!(hung_up(silent).await, "no TLS handshake");
    assert!(hung_up(head).await, "request head never finished");
    let mut answer = String::new();
    let _ = body.read_to_string(&mut answer).await;
    assert!(
        answer.starts_with("HTTP/1.1 400") && answer.contains("too slowly"),
        "{answer}"
    );
    still_serves(&svc).await;
}

async fn connections(svc: &ServiceHandle) -> usize {
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured((*tls(svc)).clone())
        .build()
        .unwrap();
    let body = http
        .get(format!("{}/admin/connections", svc.endpoint()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    v["Connections"].as_array().unwrap().len()
}

#[tokio::test]
async fn a_websocket_that_stops_reading_is_closed_and_others_carry_on() {
    let svc = service().await;
    let arn = channel(&svc, "slow-reader").await;
    let mut master = join(&svc, "/m", &arn, None).await;
    let stalled = join(&svc, "/v", &arn, Some("stalled")).await;
    let mut healthy = join(&svc, "/v", &arn, Some("healthy")).await;
    assert_eq!(connections(&svc).await, 3);
    let payload = kvs_proto::wire::encode_payload(&[b'x'; 7000]);
    let frame = format!(
        r#"{{"action":"ICE_CANDIDATE","recipientClientId":"stalled","messagePayload":"{payload}"}}"#
    );
    // About 20 MB for a reader that takes none of it: more than the socket buffers hold.
    for _ in 0..2000 {
        master.send(Message::text(frame.clone())).await.unwrap();
    }
    let gone = tokio::time::timeout(Duration::from_secs(30), async {
        while connections(&svc).await != 2 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(gone.is_ok(), "the stalled reader was closed");
    let hello = r#"{"action":"SDP_OFFER","recipientClientId":"healthy","messagePayload":"e30="}"#;
    master.send(Message::text(hello)).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(10), healthy.next())
        .await
        .expect("the healthy viewer is served")
        .unwrap()
        .unwrap();
    assert!(got.to_text().unwrap().contains("SDP_OFFER"));
    drop(stalled);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_stop_the_service(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..2048), 1..6)) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let svc = service().await;
            // Random bytes before TLS, and random bytes inside TLS.
            let mut raw = TcpStream::connect(svc.local_addr()).await.unwrap();
            let mut inside = tls_stream(&svc).await;
            for chunk in &chunks {
                let _ = raw.write_all(chunk).await;
                let _ = inside.write_all(chunk).await;
            }
            let _ = inside.flush().await;
            still_serves(&svc).await;
            drop((raw, inside));
            svc.shutdown().await;
        });
    }
}
