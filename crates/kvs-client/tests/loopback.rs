//! The real client against the real local service over loopback TLS.

mod common;

use std::time::Duration;

use kvs_client::{
    Action, ClientOptions, ErrorCode, Events, Master, Role, SignalingClient, TlsOptions, ToMaster,
    Viewer, ViewerId,
};
use kvs_proto::api::ChannelRole;
use kvs_proto::client::{Error, Event, ReceivedMessage, State};
use kvs_proto::wire::MessageType;
use kvs_service::{EXAMPLE_SECRET_ACCESS_KEY, ServiceConfig, ServiceHandle};

async fn service() -> ServiceHandle {
    let config = ServiceConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..ServiceConfig::default()
    };
    kvs_service::start(config).await.unwrap()
}

fn options(svc: &ServiceHandle, role: ChannelRole, client_id: &str, secret: &str) -> ClientOptions {
    common::options(svc, "loopback", role, client_id, secret)
}

/// Waits (bounded, so a bug fails the test instead of hanging it) for the first event `f` accepts.
async fn wait_for<T>(events: &mut Events, mut f: impl FnMut(&Event) -> Option<T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let event = events.recv().await.expect("session ended early");
            if let Some(found) = f(&event) {
                return found;
            }
        }
    })
    .await
    .expect("event did not arrive")
}

async fn connected<R: Role>(options: ClientOptions) -> (SignalingClient<R>, Events) {
    let (client, events) = SignalingClient::<R>::start(options).unwrap();
    tokio::time::timeout(Duration::from_secs(30), client.connected())
        .await
        .expect("connected within 30 s")
        .expect("connected, not closed");
    (client, events)
}

fn message(events_item: &Event) -> Option<ReceivedMessage> {
    match events_item {
        Event::Message(m) => Some(m.clone()),
        _ => None,
    }
}

#[tokio::test]
async fn master_and_viewer_exchange_offer_answer_and_candidates_intact() {
    let svc = service().await;
    let (master, mut master_events) = connected::<Master>(options(
        &svc,
        ChannelRole::Master,
        "",
        EXAMPLE_SECRET_ACCESS_KEY,
    ))
    .await;
    let (viewer, mut viewer_events) = connected::<Viewer>(options(
        &svc,
        ChannelRole::Viewer,
        "viewer-1",
        EXAMPLE_SECRET_ACCESS_KEY,
    ))
    .await;

    let offer = r#"{"type":"offer","sdp":"v=0\r\no=- 4215 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"}"#;
    let candidates: Vec<String> = (0..5)
        .map(|i| format!(r#"{{"candidate":"candidate:{i} 1 udp 2122260223 127.0.0.1 5{i}000 typ host","sdpMid":"0","sdpMLineIndex":0}}"#))
        .collect();
    viewer
        .send_message(&ToMaster, Action::SdpOffer, offer.into(), Some("offer-1"))
        .await
        .unwrap();
    for c in &candidates {
        viewer
            .send_ice_candidate(&ToMaster, c.as_str())
            .await
            .unwrap();
    }

    let got = wait_for(&mut master_events, message).await;
    assert_eq!(got.message_type, MessageType::SdpOffer);
    assert_eq!(got.sender_client_id.as_deref(), Some("viewer-1"));
    assert_eq!(got.payload, offer.as_bytes());
    for c in &candidates {
        let got = wait_for(&mut master_events, message).await;
        assert_eq!(got.message_type, MessageType::IceCandidate);
        assert_eq!(
            got.payload,
            c.as_bytes(),
            "candidates arrive intact and in order"
        );
    }

    let answer = r#"{"type":"answer","sdp":"v=0\r\na=setup:active\r\n"}"#;
    let viewer_1 = ViewerId::new("viewer-1").unwrap();
    master
        .send_message(
            &viewer_1,
            Action::SdpAnswer,
            answer.into(),
            Some("answer-1"),
        )
        .await
        .unwrap();
    master
        .send_ice_candidate(&viewer_1, candidates[0].as_str())
        .await
        .unwrap();
    let got = wait_for(&mut viewer_events, message).await;
    assert_eq!(got.message_type, MessageType::SdpAnswer);
    assert_eq!(
        got.sender_client_id, None,
        "master-to-viewer events carry no sender"
    );
    assert_eq!(got.payload, answer.as_bytes());
    let got = wait_for(&mut viewer_events, message).await;
    assert_eq!(got.message_type, MessageType::IceCandidate);

    // An undeliverable message with a correlation id comes back as STATUS_RESPONSE, and the
    // connection keeps working afterwards.
    master
        .send_message(
            &ViewerId::new("nobody").unwrap(),
            Action::SdpAnswer,
            answer.into(),
            Some("lost-1"),
        )
        .await
        .unwrap();
    let status = wait_for(&mut master_events, |e| match e {
        Event::StatusResponse(s) => Some(s.clone()),
        _ => None,
    })
    .await;
    assert_eq!(status.correlation_id.as_deref(), Some("lost-1"));
    assert_eq!(status.status_code.as_deref(), Some("400"));
    // A new offer (the same one again within the TTL would be dropped as a repeat).
    let renegotiation = offer.replace("4215 2", "4215 3");
    viewer
        .send_offer(&ToMaster, renegotiation.as_str())
        .await
        .unwrap();
    let got = wait_for(&mut master_events, message).await;
    assert_eq!(got.message_type, MessageType::SdpOffer);
    assert_eq!(got.payload, renegotiation.as_bytes());

    viewer.close().await;
    master.close().await;
    assert_eq!(master.state(), State::Disconnected);
}

#[tokio::test]
async fn wrong_secret_ends_with_a_named_auth_error() {
    let svc = service().await;
    let (_client, mut events) =
        SignalingClient::<Master>::start(options(&svc, ChannelRole::Master, "", "wrong-secret"))
            .unwrap();
    let err = wait_for(&mut events, |e| match e {
        Event::Closed(err) => Some(err.clone()),
        _ => None,
    })
    .await
    .expect("closed with an error");
    assert!(err.is_auth(), "{err}");
    assert!(matches!(err, Error::Service { status: 403, .. }), "{err:?}");
    assert_eq!(
        err.code(),
        Some(ErrorCode::InvalidSignature),
        "a typed code"
    );
    assert!(err.to_string().contains("signature rejected"), "{err}");
    assert!(events.recv().await.is_none(), "the session is over");
}

#[tokio::test]
async fn untrusted_certificate_is_a_connection_error_naming_tls() {
    let svc = service().await;
    let mut opts = options(&svc, ChannelRole::Master, "", EXAMPLE_SECRET_ACCESS_KEY);
    opts.tls = TlsOptions::default();
    opts.config.retry.max_retries = Some(0);
    let (_client, mut events) = SignalingClient::<Master>::start(opts).unwrap();
    let err = wait_for(&mut events, |e| match e {
        Event::Closed(err) => Some(err.clone()),
        _ => None,
    })
    .await
    .expect("closed with an error");
    let text = err.to_string();
    assert!(
        text.contains("connection error") && text.to_lowercase().contains("certificate"),
        "{text}"
    );
}

#[tokio::test]
async fn dropping_every_handle_ends_the_session_cleanly() {
    let svc = service().await;
    let (master, mut events) = connected::<Master>(options(
        &svc,
        ChannelRole::Master,
        "",
        EXAMPLE_SECRET_ACCESS_KEY,
    ))
    .await;
    let clone = master.clone();
    drop(master);
    assert_eq!(
        clone.state(),
        State::Connected,
        "a clone keeps the session alive"
    );
    drop(clone);
    let reason = wait_for(&mut events, |e| match e {
        Event::Closed(reason) => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert_eq!(reason, None, "a clean close, not an error");
    assert!(events.recv().await.is_none());
}

#[tokio::test]
async fn delete_channel_removes_it_from_the_service() {
    let svc = service().await;
    let (master, _events) = connected::<Master>(options(
        &svc,
        ChannelRole::Master,
        "",
        EXAMPLE_SECRET_ACCESS_KEY,
    ))
    .await;
    assert!(svc.channel_arn("loopback").is_some());
    master.delete_channel().await.expect("deleted");
    assert_eq!(master.state(), State::Deleted);
    assert!(svc.channel_arn("loopback").is_none());
}

#[tokio::test]
async fn the_endpoint_cache_file_makes_the_second_start_warm() {
    let svc = service().await;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("endpoints.json");
    std::fs::write(&cache, b"corrupt {").unwrap();
    let mut calls = Vec::new();
    for _ in 0..2 {
        let mut opts = options(&svc, ChannelRole::Master, "", EXAMPLE_SECRET_ACCESS_KEY);
        opts.endpoint_cache_file = Some(cache.clone());
        let (client, _events) = connected::<Master>(opts).await;
        let metrics = client.metrics().await;
        calls.push(metrics.api_calls.keys().cloned().collect::<Vec<_>>());
        client.close().await;
        // The cache is written off the driver's task; wait for it to land.
        for _ in 0..100 {
            if std::fs::read_to_string(&cache)
                .unwrap()
                .contains("channelArn")
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    assert!(
        calls[0].contains(&"DescribeSignalingChannel".to_owned()),
        "{calls:?}"
    );
    assert_eq!(calls[1], ["GetIceServerConfig"], "warm start: {calls:?}");
}

#[tokio::test]
async fn the_service_exposes_prometheus_metrics() {
    let svc = service().await;
    let (_master, mut master_events) = connected::<Master>(options(
        &svc,
        ChannelRole::Master,
        "",
        EXAMPLE_SECRET_ACCESS_KEY,
    ))
    .await;
    let (viewer, _viewer_events) = connected::<Viewer>(options(
        &svc,
        ChannelRole::Viewer,
        "viewer-1",
        EXAMPLE_SECRET_ACCESS_KEY,
    ))
    .await;
    viewer.send_offer(&ToMaster, "{}").await.unwrap();
    wait_for(&mut master_events, message).await;
    let tls = svc.client_tls().unwrap();
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured((*tls).clone())
        .build()
        .unwrap();
    let text = http
        .get(format!("{}/metrics", svc.endpoint()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for needle in [
        "kvs_connections{role=\"MASTER\"} 1",
        "kvs_connections{role=\"VIEWER\"} 1",
        "kvs_messages_relayed_total 1",
        "kvs_requests_total{operation=\"CreateSignalingChannel\",result=\"accepted\"} 1",
        "kvs_requests_total{operation=\"DescribeSignalingChannel\",result=\"ResourceNotFoundException\"} 1",
        "kvs_request_duration_seconds_count{operation=\"GetIceServerConfig\"} 2",
    ] {
        assert!(text.contains(needle), "missing {needle} in:\n{text}");
    }
}
