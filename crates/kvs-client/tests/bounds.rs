//! What the client bounds: a credentials provider that never answers, an HTTP answer far
//! larger than any KVS answer, and an application that stops reading its events.

mod common;

use std::sync::Arc;
use std::time::Duration;

use kvs_client::{
    ChannelRole, Error, Event, Master, ProvideCredentials, ProvideFuture, SignalingClient, State,
    Viewer, ViewerId,
};
use kvs_service::{EXAMPLE_SECRET_ACCESS_KEY, ServiceConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

async fn closed_with(events: &mut kvs_client::Events) -> Option<Error> {
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match events.recv().await.expect("a Closed event ends the stream") {
                Event::Closed(err) => return err,
                _ => continue,
            }
        }
    })
    .await
    .expect("the session ended within 30 s")
}

#[derive(Debug)]
struct NeverAnswers;

impl ProvideCredentials for NeverAnswers {
    fn provide_credentials<'a>(&'a self) -> ProvideFuture<'a>
    where
        Self: 'a,
    {
        ProvideFuture::new(std::future::pending())
    }
}

#[tokio::test]
async fn a_credentials_provider_that_hangs_times_out() {
    let svc = kvs_service::start(ServiceConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..ServiceConfig::default()
    })
    .await
    .unwrap();
    let mut options = common::options(&svc, "hang", ChannelRole::Master, "", "unused");
    options.credentials = Arc::new(NeverAnswers);
    options.config.call_timeout = Duration::from_millis(300);
    let (_client, mut events) = SignalingClient::<Master>::start(options).unwrap();
    let err = closed_with(&mut events).await.expect("ended with an error");
    assert!(
        matches!(&err, Error::Credentials(m) if m.contains("no answer within")),
        "{err}"
    );
}

#[tokio::test]
async fn an_answer_larger_than_the_cap_is_refused_without_buffering_it() {
    // Answers every request with 8 MiB of zeros, announced up front.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let size = 8 << 20;
                let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {size}\r\n\r\n");
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![0u8; 64 * 1024];
                for _ in 0..size / chunk.len() {
                    if socket.write_all(&chunk).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let svc = kvs_service::start(ServiceConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..ServiceConfig::default()
    })
    .await
    .unwrap();
    let mut options = common::options(
        &svc,
        "huge",
        ChannelRole::Master,
        "",
        EXAMPLE_SECRET_ACCESS_KEY,
    );
    options.config.endpoint = format!("http://{addr}");
    options.config.retry.max_retries = Some(0);
    let (_client, mut events) = SignalingClient::<Master>::start(options).unwrap();
    let err = closed_with(&mut events).await.expect("ended with an error");
    assert!(
        err.to_string().contains("larger than 1048576 bytes"),
        "{err}"
    );
}

/// The application stops reading events while the master floods its viewer: the client
/// stops reading the WebSocket instead of buffering without bound, the service cuts the slow
/// reader off, and when the application reads again it gets what the client took in, in
/// order and once, then the reconnect.
#[tokio::test]
async fn a_frozen_reader_pushes_back_instead_of_buffering() {
    let svc = kvs_service::start(ServiceConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        limits: None,
        turn: None,
        write_timeout: Duration::from_secs(1),
        ..ServiceConfig::default()
    })
    .await
    .unwrap();
    let options = |role, id| {
        let mut o = common::options(&svc, "frozen", role, id, EXAMPLE_SECRET_ACCESS_KEY);
        o.config.send_rate = None;
        o
    };
    let (master, mut master_events) =
        SignalingClient::<Master>::start(options(ChannelRole::Master, "")).unwrap();
    master.connected().await.unwrap();
    tokio::spawn(async move { while master_events.recv().await.is_some() {} });
    let (viewer, mut viewer_events) =
        SignalingClient::<Viewer>::start(options(ChannelRole::Viewer, "v1")).unwrap();
    viewer.connected().await.unwrap();

    // 4000 candidates of 7 KB (28 MB): far more than the events queue and the sockets hold.
    let to = ViewerId::new("v1").unwrap();
    master
        .send_answer(&to, r#"{"type":"answer"}"#)
        .await
        .unwrap();
    let filler = "x".repeat(7000);
    const SENT: usize = 4000;
    for n in 0..SENT {
        master
            .send_ice_candidate(&to, format!(r#"{{"n":{n},"pad":"{filler}"}}"#))
            .await
            .unwrap();
    }
    // The service cuts the reader that stopped off after its write timeout (1 s).
    let arn = svc.channel_arn("frozen").unwrap();
    tokio::time::timeout(Duration::from_secs(60), async {
        while svc.is_connected(&arn, Some("v1")) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the service closed the viewer that stopped reading");

    let mut last: Option<usize> = None;
    let mut received = 0;
    let cause = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match viewer_events.recv().await.expect("the session goes on") {
                Event::Message(m) if m.payload.starts_with(b"{\"n\":") => {
                    let text = String::from_utf8(m.payload).unwrap();
                    let n: usize = text[5..text.find(',').unwrap()].parse().unwrap();
                    assert!(last.is_none_or(|l| n > l), "{n} after {last:?}");
                    last = Some(n);
                    received += 1;
                }
                Event::Retrying { cause, .. } => return cause,
                Event::Closed(err) => panic!("closed: {err:?}"),
                _ => {}
            }
        }
    })
    .await
    .expect("the lost connection is reported");
    assert!(cause.is_connection_lost(), "{cause}");
    assert!(
        received < SENT,
        "everything arrived: nothing pushed back ({received})"
    );
    assert!(received > 0, "what the client took in is delivered");
    tokio::time::timeout(Duration::from_secs(30), viewer.connected())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(viewer.state(), State::Connected);
    viewer.close().await;
    master.close().await;
}

/// A WebSocket frame far larger than any signaling message: the first upgraded connection
/// gets, right after the service's 101 answer, the header of a 1 MiB text frame and its
/// payload. The client refuses it at the header (it never buffers the megabyte), counts the
/// connection as lost with the cause, and reconnects through the same path.
#[tokio::test]
async fn a_websocket_frame_larger_than_the_cap_drops_the_connection_not_the_session() {
    let svc = kvs_service::start(ServiceConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        tls: false,
        limits: None,
        turn: None,
        ..ServiceConfig::default()
    })
    .await
    .unwrap();
    let upstream = svc.local_addr();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut first = true;
        while let Ok((client, _)) = listener.accept().await {
            let inject = std::mem::replace(&mut first, false);
            tokio::spawn(relay_injecting(client, upstream, inject));
        }
    });

    let mut options = common::options(
        &svc,
        "bigframe",
        ChannelRole::Master,
        "",
        EXAMPLE_SECRET_ACCESS_KEY,
    );
    let (probe, _) = SignalingClient::<Master>::start(options.clone()).unwrap();
    probe.connected().await.unwrap();
    let arn = probe.channel_arn().unwrap();
    probe.close().await;

    options.config.cached_endpoints = Some(kvs_proto::client::CachedEndpoints {
        channel_arn: arn,
        wss_endpoint: format!("ws://{proxy}/m"),
        https_endpoint: svc.endpoint().to_owned(),
        message_ttl_seconds: Some(60),
        fetched_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    });
    let (master, mut events) = SignalingClient::<Master>::start(options).unwrap();
    let cause = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match events.recv().await.expect("the session goes on") {
                Event::Retrying { cause, .. } => return cause,
                Event::Closed(err) => panic!("closed: {err:?}"),
                _ => {}
            }
        }
    })
    .await
    .expect("the oversized frame is reported");
    assert!(cause.is_connection_lost(), "{cause}");
    let text = cause.to_string();
    assert!(
        text.contains("too long") && text.contains(&kvs_client::MAX_WS_MESSAGE.to_string()),
        "the cause names the cap: {text}"
    );
    tokio::time::timeout(Duration::from_secs(30), master.connected())
        .await
        .expect("reconnected within 30 s")
        .unwrap();
    assert_eq!(master.state(), State::Connected);
    master.close().await;
}

/// Relays `client` to `upstream`; with `inject`, writes a 1 MiB text frame to the client
/// after the upstream's HTTP answer head.
async fn relay_injecting(
    client: tokio::net::TcpStream,
    upstream: std::net::SocketAddr,
    inject: bool,
) {
    let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
        return;
    };
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let up = async move {
        let _ = tokio::io::copy(&mut cr, &mut sw).await;
    };
    let down = async move {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if sr.read_exact(&mut byte).await.is_err() {
                return;
            }
            head.push(byte[0]);
        }
        if cw.write_all(&head).await.is_err() {
            return;
        }
        if inject {
            const SIZE: u64 = 1 << 20;
            let mut frame = vec![0x81, 127];
            frame.extend_from_slice(&SIZE.to_be_bytes());
            frame.resize(frame.len() + SIZE as usize, b'a');
            let _ = cw.write_all(&frame).await;
        }
        let _ = tokio::io::copy(&mut sr, &mut cw).await;
    };
    tokio::join!(up, down);
}
