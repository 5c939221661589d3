//! Real peer connections set up through the real local service over loopback TLS: the
//! signaling clients, the service, its TURN server and webrtc-rs, all real.

use std::sync::Arc;
use std::time::Duration;

use kvs_client::{
    ChannelRef, ChannelRole, ClientConfig, ClientOptions, Credentials, Master as MasterRole,
    SignalingClient, StaticProvider, TlsOptions, Viewer as ViewerRole,
};
use kvs_webrtc::master::Master;
use kvs_webrtc::viewer::Viewer;
use kvs_webrtc::{CandidateKind, PeerEvent, PeerOptions};
use tokio::sync::mpsc;

/// Long enough for any step on a loaded 2-core machine; a hang fails instead of blocking CI.
const STEP: Duration = Duration::from_secs(30);

struct Local {
    service: kvs_service::ServiceHandle,
}

impl Local {
    async fn start() -> Self {
        let service = kvs_service::start(kvs_service::ServiceConfig {
            listen: ([127, 0, 0, 1], 0).into(),
            ..Default::default()
        })
        .await
        .expect("service starts");
        Self { service }
    }

    fn options(&self, channel: &str, role: ChannelRole, client_id: &str) -> ClientOptions {
        let config = ClientConfig::builder(ChannelRef::Name(channel.into()), "us-west-2", role)
            .endpoint(self.service.endpoint())
            .client_id(client_id)
            .build();
        let keys = Credentials::new(
            kvs_service::EXAMPLE_ACCESS_KEY_ID,
            kvs_service::EXAMPLE_SECRET_ACCESS_KEY,
            None,
            None,
        );
        let mut options = ClientOptions::new(config, Arc::new(StaticProvider::new(keys)));
        options.tls = TlsOptions {
            extra_ca_pem: self.service.ca_pem().unwrap_or_default().into(),
        };
        options
    }

    fn peer_options(&self) -> PeerOptions {
        PeerOptions::new("us-west-2", self.service.endpoint())
    }

    async fn master(
        &self,
        channel: &str,
        options: PeerOptions,
        video: Option<kvs_webrtc::video::VideoSpec>,
    ) -> (Master, mpsc::Receiver<PeerEvent>) {
        let (session, events) =
            SignalingClient::<MasterRole>::start(self.options(channel, ChannelRole::Master, ""))
                .unwrap();
        session.connected().await.expect("master connects");
        Master::start(session, events, options, video)
    }

    fn viewer(
        &self,
        channel: &str,
        id: &str,
        options: PeerOptions,
    ) -> (Viewer, mpsc::Receiver<PeerEvent>) {
        let (session, events) =
            SignalingClient::<ViewerRole>::start(self.options(channel, ChannelRole::Viewer, id))
                .unwrap();
        Viewer::start(session, events, options)
    }
}

/// Waits for the first event `pick` accepts, failing on a closed or failed peer connection.
async fn until<T>(
    events: &mut mpsc::Receiver<PeerEvent>,
    mut pick: impl FnMut(&PeerEvent) -> Option<T>,
) -> T {
    tokio::time::timeout(STEP, async {
        loop {
            let event = events.recv().await.expect("events continue");
            if let Some(found) = pick(&event) {
                return found;
            }
            match &event {
                PeerEvent::IceFailed { failure, .. } => panic!("{failure}"),
                PeerEvent::SdpFailed { error, .. } => panic!("{error}"),
                PeerEvent::StackError { error, .. } => panic!("{error}"),
                PeerEvent::Closed { reason, .. } => panic!("closed: {reason}"),
                _ => {}
            }
        }
    })
    .await
    .expect("the event comes in time")
}

async fn round_trip(local: &Local, channel: &str, relay: bool) {
    let mut options = local.peer_options();
    options.relay_only = relay;
    let (master, _master_events) = local.master(channel, options.clone(), None).await;
    let (viewer, mut events) = local.viewer(channel, "viewer-1", options);
    let pair = until(&mut events, |e| match e {
        PeerEvent::Connected { pair, .. } => Some(pair.clone()),
        _ => None,
    })
    .await
    .expect("the selected pair is reported");
    until(&mut events, |e| {
        matches!(e, PeerEvent::DataChannelOpen { .. }).then_some(())
    })
    .await;
    viewer.send("hello over WebRTC");
    let echoed = until(&mut events, |e| match e {
        PeerEvent::Data { data, .. } => Some(data.clone()),
        _ => None,
    })
    .await;
    assert_eq!(echoed, b"hello over WebRTC");
    if relay {
        assert!(pair.is_relayed(), "{pair}");
        assert_eq!(pair.local, CandidateKind::Relay, "{pair}");
    } else {
        assert!(!pair.is_relayed(), "{pair}");
        assert_eq!(pair.local, CandidateKind::Host, "{pair}");
    }
    assert_eq!(master.live_peers(), 1);
    viewer.stop().await;
    master.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_data_channel_round_trip_over_a_host_pair() {
    let local = Local::start().await;
    round_trip(&local, "direct", false).await;
    local.service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relayed_data_channel_round_trip_through_the_services_turn_server() {
    let local = Local::start().await;
    round_trip(&local, "relayed", true).await;
    local.service.shutdown().await;
}
