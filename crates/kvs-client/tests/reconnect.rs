//! The real client rides out a restart of the real service on the same port.

mod common;

use std::time::Duration;

use kvs_client::{ClientOptions, Events, Master, SignalingClient, ToMaster, Viewer};
use kvs_proto::api::ChannelRole;
use kvs_proto::client::{Event, State};
use kvs_proto::wire::MessageType;
use kvs_service::{EXAMPLE_SECRET_ACCESS_KEY, ServiceConfig, ServiceHandle};

fn options(svc: &ServiceHandle, role: ChannelRole, client_id: &str) -> ClientOptions {
    common::options(svc, "restart", role, client_id, EXAMPLE_SECRET_ACCESS_KEY)
}

async fn next_event<T>(events: &mut Events, mut f: impl FnMut(Event) -> Option<T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let event = events.recv().await.expect("session ended early");
            if let Event::Closed(err) = &event {
                panic!("closed: {err:?}");
            }
            if let Some(found) = f(event) {
                return found;
            }
        }
    })
    .await
    .expect("event did not arrive")
}

async fn start(
    config: ServiceConfig,
) -> (
    SignalingClient<Master>,
    Events,
    SignalingClient<Viewer>,
    Events,
    ServiceHandle,
) {
    let svc = kvs_service::start(config).await.unwrap();
    let (master, mut master_events) =
        SignalingClient::<Master>::start(options(&svc, ChannelRole::Master, "")).unwrap();
    next_event(&mut master_events, |e| {
        matches!(e, Event::StateChanged(State::Connected)).then_some(())
    })
    .await;
    let (viewer, mut viewer_events) =
        SignalingClient::<Viewer>::start(options(&svc, ChannelRole::Viewer, "v1")).unwrap();
    next_event(&mut viewer_events, |e| {
        matches!(e, Event::StateChanged(State::Connected)).then_some(())
    })
    .await;
    (master, master_events, viewer, viewer_events, svc)
}

#[tokio::test]
async fn after_a_restart_every_queued_message_arrives_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServiceConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        state_dir: Some(dir.path().to_owned()), // the same CA after the restart
        ..ServiceConfig::default()
    };
    let (_master, mut master_events, viewer, mut viewer_events, svc) = start(config.clone()).await;
    let addr = svc.local_addr();
    svc.shutdown().await;

    next_event(&mut viewer_events, |e| {
        matches!(e, Event::Retrying { .. }).then_some(())
    })
    .await;
    assert_ne!(viewer.state(), State::Connected);
    // Candidates follow their offer (the master's client holds candidates that come first).
    let offer = r#"{"type":"offer","sdp":"v=0"}"#;
    viewer
        .send_offer(&ToMaster, offer)
        .await
        .expect("queued while the service is down");
    for n in 0..20 {
        viewer
            .send_ice_candidate(&ToMaster, format!("{{\"n\":{n}}}"))
            .await
            .expect("queued while the service is down");
    }

    let _svc = kvs_service::start(ServiceConfig {
        listen: addr,
        ..config
    })
    .await
    .unwrap();
    next_event(&mut viewer_events, |e| {
        matches!(e, Event::StateChanged(State::Connected)).then_some(())
    })
    .await;
    let got = next_event(&mut master_events, |e| match e {
        Event::Message(m) => Some(m),
        _ => None,
    })
    .await;
    assert_eq!(
        (got.message_type, got.payload.as_slice()),
        (MessageType::SdpOffer, offer.as_bytes())
    );
    for n in 0..20 {
        let got = next_event(&mut master_events, |e| match e {
            Event::Message(m) => Some(m),
            _ => None,
        })
        .await;
        assert_eq!(got.message_type, MessageType::IceCandidate);
        assert_eq!(
            got.payload,
            format!("{{\"n\":{n}}}").into_bytes(),
            "in order"
        );
    }
    // Exactly once: the next message the master sees is one sent after the queue drained.
    viewer
        .send_ice_candidate(&ToMaster, r#"{"after":true}"#)
        .await
        .unwrap();
    let next = next_event(&mut master_events, |e| match e {
        Event::Message(m) => Some(m),
        _ => None,
    })
    .await;
    assert_eq!(next.payload, br#"{"after":true}"#);
}

fn quick_limits() -> ServiceConfig {
    ServiceConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..ServiceConfig::default()
    }
}

#[tokio::test]
async fn go_away_at_the_maximum_duration_switches_connections_without_a_gap() {
    let config = ServiceConfig {
        max_connection_duration: Duration::from_secs(1),
        go_away_grace: Duration::from_secs(30),
        ..quick_limits()
    };
    let (master, mut master_events, viewer, mut viewer_events, _svc) = start(config).await;
    let mut states = Vec::new();
    next_event(&mut master_events, |e| {
        if let Event::StateChanged(s) = &e {
            states.push(*s);
        }
        matches!(e, Event::GoAway).then_some(())
    })
    .await;
    next_event(&mut master_events, |e| {
        if let Event::StateChanged(s) = &e {
            states.push(*s);
        }
        matches!(e, Event::StateChanged(State::Connected)).then_some(())
    })
    .await;
    assert!(!states.contains(&State::Disconnected), "{states:?}");
    assert_eq!(master.state(), State::Connected);
    next_event(&mut viewer_events, |e| {
        matches!(e, Event::GoAway).then_some(())
    })
    .await;
    viewer
        .send_offer(&ToMaster, r#"{"type":"offer"}"#)
        .await
        .unwrap();
    let got = next_event(&mut master_events, |e| match e {
        Event::Message(m) => Some(m),
        _ => None,
    })
    .await;
    assert_eq!(got.message_type, MessageType::SdpOffer);
}

#[tokio::test]
async fn idle_closes_and_injected_signals_are_handled() {
    let config = ServiceConfig {
        idle_timeout: Duration::from_secs(1),
        ..quick_limits()
    };
    let (master, mut master_events, _viewer, _viewer_events, svc) = start(config).await;
    // The client pings every 10 s, so a 1 s idle limit closes it; it comes back by itself.
    next_event(&mut master_events, |e| {
        matches!(e, Event::Retrying { .. }).then_some(())
    })
    .await;
    next_event(&mut master_events, |e| {
        matches!(e, Event::StateChanged(State::Connected)).then_some(())
    })
    .await;
    assert!(master.metrics().await.reconnects >= 1);
    let arn = svc.channel_arn("restart").expect("the clients created it");
    assert!(svc.reconnect_ice_server(&arn, ChannelRole::Master, None));
    next_event(&mut master_events, |e| {
        matches!(e, Event::ReconnectIceServer).then_some(())
    })
    .await;
    next_event(&mut master_events, |e| {
        matches!(e, Event::IceServers(_)).then_some(())
    })
    .await;
    assert!(svc.go_away(&arn, ChannelRole::Master, None));
    next_event(&mut master_events, |e| {
        matches!(e, Event::GoAway).then_some(())
    })
    .await;
    assert!(!svc.go_away(&arn, ChannelRole::Viewer, Some("nobody")));
}

#[tokio::test]
async fn the_service_can_be_told_to_send_reconnect_ice_server() {
    let config = ServiceConfig {
        reconnect_ice_server_after: Some(Duration::from_millis(200)),
        ..quick_limits()
    };
    let svc = kvs_service::start(config).await.unwrap();
    let (client, mut events) =
        SignalingClient::<Master>::start(options(&svc, ChannelRole::Master, "")).unwrap();
    next_event(&mut events, |e| {
        matches!(e, Event::StateChanged(State::Connected)).then_some(())
    })
    .await;
    next_event(&mut events, |e| {
        matches!(e, Event::ReconnectIceServer).then_some(())
    })
    .await;
    // The refresh happens in the background: new servers arrive, the state never changes.
    let changed = next_event(&mut events, |e| match e {
        Event::IceServers(_) => Some(None),
        Event::StateChanged(s) => Some(Some(s)),
        _ => None,
    })
    .await;
    assert_eq!(changed, None, "no state change before the new ICE servers");
    assert_eq!(client.state(), State::Connected);
    let m = client.metrics().await;
    assert_eq!(
        (m.ice_refreshes, m.ws_connects.count),
        (1, 1),
        "new ICE servers on the same socket"
    );
}
