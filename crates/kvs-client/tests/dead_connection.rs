//! A connection that dies without a word: a TCP proxy between a viewer and the service stops
//! forwarding in both directions but keeps both sockets open (a half-open connection, a NAT
//! that forgot the mapping). The viewer notices by the missing pong, reconnects, and sends
//! again what no pong confirmed; the master receives every message exactly once.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kvs_client::{Events, Master, SignalingClient, ToMaster, Viewer};
use kvs_proto::api::ChannelRole;
use kvs_proto::client::{CachedEndpoints, Error, Event, State};
use kvs_proto::wire::MessageType;
use kvs_service::{EXAMPLE_SECRET_ACCESS_KEY, ServiceConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A proxy whose existing connections can be silenced all at once; later ones work.
#[derive(Clone, Default)]
struct SilentProxy {
    connections: Arc<Mutex<Vec<Arc<AtomicBool>>>>,
}

impl SilentProxy {
    async fn start(&self, upstream: SocketAddr) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = self.connections.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let silent = Arc::new(AtomicBool::new(false));
                connections.lock().unwrap().push(silent.clone());
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    tokio::join!(pipe(cr, sw, silent.clone()), pipe(sr, cw, silent));
                });
            }
        });
        addr
    }

    /// Every connection open now stops forwarding; the sockets stay open.
    fn silence_existing(&self) {
        for silent in self.connections.lock().unwrap().iter() {
            silent.store(true, Ordering::SeqCst);
        }
    }
}

/// Copies bytes until either side closes; once `silent`, reads and discards them.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    silent: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) if !silent.load(Ordering::SeqCst) => {
                if to.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
            Ok(_) => {} // swallowed
        }
    }
}

async fn next_event(events: &mut Events) -> Event {
    tokio::time::timeout(Duration::from_secs(30), events.recv())
        .await
        .expect("an event within 30 s")
        .expect("the session is still running")
}

async fn until_connected(events: &mut Events) -> Vec<Event> {
    let mut seen = Vec::new();
    loop {
        let event = next_event(events).await;
        if let Event::Closed(err) = &event {
            panic!("closed: {err:?}");
        }
        let done = matches!(event, Event::StateChanged(State::Connected));
        seen.push(event);
        if done {
            return seen;
        }
    }
}

const OFFER: &str = r#"{"type":"offer","sdp":"v=0\r\n"}"#;

fn candidate(n: usize) -> String {
    format!(r#"{{"candidate":"candidate:{n} 1 udp 2122260223 10.0.0.{n} 5000 typ host"}}"#)
}

#[tokio::test]
async fn a_silent_connection_is_noticed_by_its_pong_and_nothing_is_lost_or_doubled() {
    let svc = kvs_service::start(ServiceConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        limits: None,
        turn: None,
        ..ServiceConfig::default()
    })
    .await
    .unwrap();
    let mut master_options = common::options(
        &svc,
        "silent",
        ChannelRole::Master,
        "",
        EXAMPLE_SECRET_ACCESS_KEY,
    );
    master_options.config.send_rate = None;
    let (master, mut master_events) = SignalingClient::<Master>::start(master_options).unwrap();
    let arn = until_connected(&mut master_events)
        .await
        .into_iter()
        .find_map(|e| match e {
            Event::EndpointsResolved(entry) => Some(entry.channel_arn),
            _ => None,
        })
        .expect("the master resolved the channel");

    // The viewer reaches the service only through the proxy: its endpoints point there.
    let proxy = SilentProxy::default();
    let through = proxy.start(svc.local_addr()).await;
    let mut options = common::options(
        &svc,
        "silent",
        ChannelRole::Viewer,
        "viewer-1",
        EXAMPLE_SECRET_ACCESS_KEY,
    );
    options.config.endpoint = format!("https://{through}");
    options.config.cached_endpoints = Some(CachedEndpoints {
        channel_arn: arn,
        wss_endpoint: format!("wss://{through}/v"),
        https_endpoint: format!("https://{through}"),
        message_ttl_seconds: Some(60),
        fetched_at: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    });
    options.config.send_rate = None;
    options.config.ping_interval = Duration::from_millis(500);
    options.config.pong_timeout = Duration::from_millis(500);
    let (viewer, mut viewer_events) = SignalingClient::<Viewer>::start(options).unwrap();
    until_connected(&mut viewer_events).await;

    // The offer first: the master holds a viewer's candidates until its SDP.
    viewer.send_offer(&ToMaster, OFFER).await.unwrap();
    loop {
        if let Event::Message(m) = next_event(&mut master_events).await {
            assert_eq!(m.payload, OFFER.as_bytes());
            break;
        }
    }
    for n in 0..3 {
        viewer
            .send_ice_candidate(&ToMaster, candidate(n))
            .await
            .unwrap();
    }
    proxy.silence_existing();
    for n in 3..6 {
        viewer
            .send_ice_candidate(&ToMaster, candidate(n))
            .await
            .unwrap();
    }

    let reconnect = until_connected(&mut viewer_events).await;
    let cause = reconnect.iter().find_map(|e| match e {
        Event::Retrying { cause, .. } => Some(cause.clone()),
        _ => None,
    });
    assert!(
        matches!(cause, Some(Error::PongTimeout { .. })),
        "the loss is reported as a missing pong: {reconnect:?}"
    );
    assert!(cause.unwrap().is_connection_lost());

    let mut received = Vec::new();
    while received.len() < 6 {
        if let Event::Message(m) = next_event(&mut master_events).await {
            assert_eq!(m.message_type, MessageType::IceCandidate);
            assert_eq!(m.sender_client_id.as_deref(), Some("viewer-1"));
            received.push(String::from_utf8(m.payload).unwrap());
        }
    }
    let expected: Vec<String> = (0..6).map(candidate).collect();
    assert_eq!(received, expected, "every candidate once, in order");

    // A marker sent after the reconnect is the next message: nothing came twice before it.
    viewer
        .send_ice_candidate(&ToMaster, candidate(99))
        .await
        .unwrap();
    loop {
        if let Event::Message(m) = next_event(&mut master_events).await {
            assert_eq!(m.payload, candidate(99).as_bytes(), "a repeat got through");
            break;
        }
    }
    viewer.close().await;
    master.close().await;
}
