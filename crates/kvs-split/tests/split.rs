//! Split mode end to end over a real pseudo-terminal pair paced at 921,600 baud, with the
//! real local service and a real viewer: the host sleeps (is not running) until the
//! coprocessor's wake hook starts it, then receives everything held, in order, and its answer
//! reaches the viewer.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use kvs_client::{
    ChannelRole, ClientConfig, ClientOptions, Credentials, Event, Master, MessageType,
    SignalingClient, SignalingSession, TlsOptions, ToMaster, Viewer, ViewerId,
};
use kvs_proto::client::ChannelRef;
use kvs_split::coprocessor::{CoprocessorEvent, CoprocessorOptions, WakeHook};
use kvs_split::{Host, Impairments, LinkConfig, Paced};

const BAUD: u32 = 921_600;

fn options(svc: &kvs_service::ServiceHandle, role: ChannelRole, client_id: &str) -> ClientOptions {
    let mut config = ClientConfig::new(ChannelRef::Name("split".into()), "us-west-2", role);
    config.endpoint = svc.endpoint().to_owned();
    config.client_id = client_id.to_owned();
    let creds = Credentials::new(
        kvs_service::EXAMPLE_ACCESS_KEY_ID,
        kvs_service::EXAMPLE_SECRET_ACCESS_KEY,
        None,
        None,
        "test",
    );
    let mut options = ClientOptions::new(config, Arc::new(creds));
    options.tls = TlsOptions {
        extra_ca_pem: svc.ca_pem().unwrap().as_bytes().to_vec(),
    };
    options
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sleeping_host_is_woken_by_an_offer_and_gets_thirty_held_messages_in_order() {
    let svc = kvs_service::start(kvs_service::ServiceConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        limits: None,
        ..Default::default()
    })
    .await
    .unwrap();
    let (co_io, host_io) = kvs_split::transport::pty_pair().unwrap();
    let wake = Arc::new(tokio::sync::Notify::new());
    let woken = wake.clone();
    let co_options = CoprocessorOptions::new(
        WakeHook::Callback(Arc::new(move || woken.notify_one())),
        "us-west-2",
        svc.endpoint(),
    );
    let (session, signaling) =
        SignalingClient::<Master>::start(options(&svc, ChannelRole::Master, "")).unwrap();
    session.connected().await.unwrap();
    let (co_events_tx, mut co_events) = tokio::sync::mpsc::channel(256);
    let co_io = Paced::new(co_io, BAUD, Impairments::default(), 1);
    tokio::spawn(kvs_split::coprocessor::run(
        session.clone(),
        signaling,
        co_io,
        co_options,
        co_events_tx,
    ));

    // The viewer offers and trickles 29 candidates while the host is not running.
    let (viewer, mut viewer_events) =
        SignalingClient::<Viewer>::start(options(&svc, ChannelRole::Viewer, "v1")).unwrap();
    viewer.connected().await.unwrap();
    viewer
        .send_offer(&ToMaster, r#"{"type":"offer","sdp":"v=0"}"#)
        .await
        .unwrap();
    for n in 0..29 {
        viewer
            .send_ice_candidate(&ToMaster, format!(r#"{{"candidate":"candidate:{n}"}}"#))
            .await
            .unwrap();
    }
    tokio::time::timeout(Duration::from_secs(10), wake.notified())
        .await
        .expect("the offer fired the wake hook");
    let mut held = 0;
    while held < 30 {
        match tokio::time::timeout(Duration::from_secs(10), co_events.recv()).await {
            Ok(Some(CoprocessorEvent::Held { held: n, .. })) => held = n,
            Ok(Some(_)) => {}
            _ => panic!("only {held} messages held"),
        }
    }

    // The host starts now, as a woken main processor would.
    let (host, mut host_events) = Host::start(
        Paced::new(host_io, BAUD, Impairments::default(), 2),
        LinkConfig::default(),
    );
    host.connected().await.unwrap();
    let mut got = Vec::new();
    while got.len() < 30 {
        let event = tokio::time::timeout(Duration::from_secs(20), host_events.next())
            .await
            .expect("the held messages arrive")
            .expect("the host runs");
        if let Event::Message(m) = event {
            assert_eq!(m.sender_client_id.as_deref(), Some("v1"));
            got.push(m);
        }
    }
    assert_eq!(got[0].message_type, MessageType::SdpOffer);
    for (n, m) in got[1..].iter().enumerate() {
        assert_eq!(m.message_type, MessageType::IceCandidate);
        assert_eq!(
            m.payload,
            format!(r#"{{"candidate":"candidate:{n}"}}"#).into_bytes(),
            "in order"
        );
    }
    // The host answers through the coprocessor; the viewer gets it.
    host.send_answer(
        &ViewerId::new("v1").unwrap(),
        br#"{"type":"answer","sdp":"v=0"}"#.to_vec(),
    )
    .await
    .unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some(Event::Message(m)) = viewer_events.recv().await
                && m.message_type == MessageType::SdpAnswer
            {
                return m;
            }
        }
    })
    .await
    .expect("the answer reaches the viewer");
    assert_eq!(answer.payload, br#"{"type":"answer","sdp":"v=0"}"#);
    // The host learned the ICE servers (STUN first, then the service's two TURN servers).
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(host.stun().is_some_and(|s| s.starts_with("stun:")));
    assert_eq!(host.ice_servers().len(), 2);
    assert!(host.clock_offset().is_some());
    viewer.close().await;
    session.close().await;
}
