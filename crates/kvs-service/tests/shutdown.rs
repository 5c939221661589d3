//! Shutting the service down: WebSockets get a close frame ("going away"), a request in
//! flight is answered, and one that never completes is cut after the grace period, so
//! `shutdown` returns.

mod common;

use std::time::Duration;

use common::{channel, join, service};
use futures_util::StreamExt;
use kvs_service::ServiceConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// Waits until the listener refuses new connections: shutdown has begun.
async fn until_refusing(addr: std::net::SocketAddr) {
    tokio::time::timeout(Duration::from_secs(20), async {
        while TcpStream::connect(addr).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the listener closes");
}

const BODY: &[u8] = br#"{"ChannelName":"x"}"#;

/// A request in flight: its head is sent with `expect: 100-continue`, and the service has
/// answered `100 Continue`, so it is reading the body, which is not sent yet.
async fn request_in_flight(addr: std::net::SocketAddr) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /describeSignalingChannel HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\nexpect: 100-continue\r\ncontent-length: {}\r\n\r\n",
        BODY.len()
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !seen.ends_with(b"\r\n\r\n") {
        tcp.read_exact(&mut byte).await.unwrap();
        seen.push(byte[0]);
    }
    assert!(
        seen.starts_with(b"HTTP/1.1 100"),
        "{}",
        String::from_utf8_lossy(&seen)
    );
    tcp
}

fn plain(grace: Duration) -> ServiceConfig {
    ServiceConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        tls: false,
        turn: None,
        shutdown_grace: grace,
        ..ServiceConfig::default()
    }
}

#[tokio::test]
async fn websockets_get_a_close_frame() {
    let svc = service().await;
    let arn = channel(&svc, "closing").await;
    let mut master = join(&svc, "/m", &arn, None).await;
    let mut viewer = join(&svc, "/v", &arn, Some("v1")).await;
    let done = tokio::spawn(svc.shutdown());
    for ws in [&mut master, &mut viewer] {
        let frame = loop {
            match tokio::time::timeout(Duration::from_secs(20), ws.next())
                .await
                .expect("a frame before the grace period ends")
            {
                Some(Ok(Message::Close(frame))) => break frame,
                Some(Ok(_)) => continue,
                other => panic!("no close frame: {other:?}"),
            }
        };
        let frame = frame.expect("the close frame carries a code");
        assert_eq!(frame.code, CloseCode::Away);
        assert!(frame.reason.contains("shutting down"), "{}", frame.reason);
    }
    tokio::time::timeout(Duration::from_secs(20), done)
        .await
        .expect("shutdown returns once the connections closed")
        .unwrap();
}

#[tokio::test]
async fn a_request_in_flight_is_answered() {
    let svc = kvs_service::start(plain(Duration::from_secs(30)))
        .await
        .unwrap();
    let addr = svc.local_addr();
    let mut tcp = request_in_flight(addr).await;
    let done = tokio::spawn(svc.shutdown());
    until_refusing(addr).await;
    tcp.write_all(BODY).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), tcp.read_to_end(&mut answer))
        .await
        .expect("the connection ends after the answer")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    // Unsigned, so refused: what matters is that it was answered, not cut off.
    assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
    assert!(answer.contains("x-amzn-errortype"), "{answer}");
    tokio::time::timeout(Duration::from_secs(20), done)
        .await
        .expect("shutdown returns")
        .unwrap();
}

#[tokio::test]
async fn a_request_that_never_completes_is_cut_after_the_grace() {
    let svc = kvs_service::start(plain(Duration::from_millis(200)))
        .await
        .unwrap();
    let mut tcp = request_in_flight(svc.local_addr()).await;
    tokio::time::timeout(Duration::from_secs(20), svc.shutdown())
        .await
        .expect("shutdown returns although a request never completes");
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), tcp.read_to_end(&mut rest))
        .await
        .expect("the connection was closed");
    assert!(
        read.is_err() || rest.is_empty(),
        "cut, not answered: {}",
        String::from_utf8_lossy(&rest)
    );
}
