//! Real peer connections set up through the real local service over loopback TLS: the
//! signaling clients, the service, its TURN server and webrtc-rs, all real.

use std::sync::Arc;
use std::time::Duration;

use kvs_client::{
    ChannelRef, ChannelRole, ClientConfig, ClientOptions, Credentials, Master as MasterRole,
    SignalingClient, TlsOptions, Viewer as ViewerRole,
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
            kvs_proto::STATIC_PROVIDER,
        );
        let mut options = ClientOptions::new(config, Arc::new(keys));
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

/// Short ICE timeouts, so a peer that vanishes is noticed within seconds.
fn quick(mut options: PeerOptions) -> PeerOptions {
    // Seconds, not milliseconds: a loaded CI machine must not make a live viewer look gone.
    options.ice_disconnected = Duration::from_secs(3);
    options.ice_failed = Duration::from_secs(4);
    options.ice_keepalive = Duration::from_millis(500);
    options.peers.disconnected_timeout = Duration::from_secs(1);
    options
}

async fn frames(events: &mut mpsc::Receiver<PeerEvent>, n: usize) -> Vec<(Vec<u8>, bool)> {
    let mut got = Vec::new();
    while got.len() < n {
        let first = got.is_empty();
        let frame = until(events, |e| match e {
            PeerEvent::VideoFrame { data, key, .. } => Some((data.clone(), *key)),
            // Before the first whole key frame, the stack may have dropped the stream's first
            // packets; after it, nothing may be lost on loopback.
            PeerEvent::VideoFrameLost { .. } if first => None,
            PeerEvent::VideoFrameLost { .. } => panic!("a frame was lost on loopback"),
            _ => None,
        })
        .await;
        got.push(frame);
    }
    got
}

/// An Annex-B file of `n` test-pattern frames (176x144, a key frame every 60) in a fresh
/// directory; returns the directory, the file and its frames as the master reads them.
fn pattern_file(name: &str, n: usize) -> (std::path::PathBuf, std::path::PathBuf, Vec<Vec<u8>>) {
    use kvs_webrtc::video::{AnnexBFile, FrameSource, TestPattern};
    let dir = std::env::temp_dir().join(format!("kvs-webrtc-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("pattern.h264");
    let mut pattern = TestPattern::new(176, 144, 30).unwrap();
    let file: Vec<u8> = (0..n).flat_map(|_| pattern.next_frame().unwrap()).collect();
    std::fs::write(&path, &file).unwrap();
    let sent: Vec<Vec<u8>> = AnnexBFile::open(&path)
        .unwrap()
        .frames()
        .map(<[u8]>::to_vec)
        .collect();
    assert_eq!(sent.len(), n);
    (dir, path, sent)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_annex_b_file_arrives_frame_by_frame_with_identical_bytes() {
    use kvs_webrtc::video::VideoSpec;
    let (dir, path, sent) = pattern_file("file", 40);
    assert_eq!(sent.len(), 40);

    let local = Local::start().await;
    let video = VideoSpec::File {
        path: path.clone(),
        fps: 60,
    };
    let (master, _m) = local
        .master("file", local.peer_options(), Some(video))
        .await;
    let (viewer, mut events) = local.viewer("file", "viewer-1", local.peer_options());
    let got = frames(&mut events, 45).await;
    for (n, (data, key)) in got.iter().enumerate() {
        // The viewer starts at the key frame, frame 0; the file loops: frame 40 is frame 0 again.
        assert_eq!(data, &sent[n % 40], "frame {n}");
        assert_eq!(*key, n % 40 == 0, "frame {n}");
    }
    viewer.stop().await;
    master.stop().await;
    local.service.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_generated_pattern_decodes_into_moving_pictures() {
    let local = Local::start().await;
    let (master, _m) = local
        .master("pattern", local.peer_options(), Some(Default::default()))
        .await;
    let (viewer, mut events) = local.viewer("pattern", "viewer-1", local.peer_options());
    let mut decoded = kvs_webrtc::video::Decoded::new().unwrap();
    let got = frames(&mut events, 20).await;
    assert!(got[0].1, "the first frame is a key frame");
    for (data, _) in &got {
        decoded.push(data);
    }
    assert_eq!(decoded.errors, 0);
    assert!(decoded.pictures >= 19, "{} pictures", decoded.pictures);
    assert_eq!(decoded.changed, decoded.pictures - 1, "every picture moves");
    viewer.stop().await;
    master.stop().await;
    local.service.shutdown().await;
}

/// A viewer on its own runtime, so it can be killed: shutting the runtime down drops its
/// sockets and tasks mid-session, with no goodbye on any layer.
struct Doomed {
    runtime: tokio::runtime::Runtime,
    viewer: Viewer,
}

/// Sends `text` on the data channel and waits for the master's echo of it.
async fn echo(viewer: &Viewer, events: &mut mpsc::Receiver<PeerEvent>, text: &str) {
    viewer.send(text);
    let echoed = until(events, |e| match e {
        PeerEvent::Data { data, .. } => Some(data.clone()),
        _ => None,
    })
    .await;
    assert_eq!(echoed, text.as_bytes());
}

impl Doomed {
    fn start(local: &Local, channel: &str, id: &str) -> (Self, mpsc::Receiver<PeerEvent>) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let options = local.options(channel, ChannelRole::Viewer, id);
        let peer_options = local.peer_options();
        let (viewer, events) = runtime.block_on(async move {
            let (session, signaling) = SignalingClient::<ViewerRole>::start(options).unwrap();
            Viewer::start(session, signaling, peer_options)
        });
        (Self { runtime, viewer }, events)
    }

    /// Every task of the viewer, its signaling client and its peer connection stops where it
    /// is; the handle is left to drop with nothing behind it.
    fn kill(self) {
        self.runtime.shutdown_background();
        drop(self.viewer);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_viewers_are_served_an_eleventh_is_refused_and_a_killed_one_is_freed() {
    let local = Local::start().await;
    let (master, mut master_events) = local.master("ten", quick(local.peer_options()), None).await;
    let mut viewers = Vec::new();
    for n in 0..9 {
        let (viewer, mut events) =
            local.viewer("ten", &format!("viewer-{n}"), local.peer_options());
        until(&mut events, |e| {
            matches!(e, PeerEvent::DataChannelOpen { .. }).then_some(())
        })
        .await;
        echo(&viewer, &mut events, &format!("hello from {n}")).await;
        viewers.push((viewer, events));
    }
    // The tenth runs on a runtime of its own, to be killed later.
    let doomed = tokio::task::block_in_place(|| Doomed::start(&local, "ten", "viewer-doomed"));
    let (doomed, mut doomed_events) = doomed;
    until(&mut doomed_events, |e| {
        matches!(e, PeerEvent::DataChannelOpen { .. }).then_some(())
    })
    .await;
    echo(&doomed.viewer, &mut doomed_events, "hello from the tenth").await;
    until(&mut master_events, |e| {
        matches!(e, PeerEvent::PeerCount(10)).then_some(())
    })
    .await;
    assert_eq!(master.live_peers(), 10);

    // The eleventh: the service refuses it, and its client retries, naming the limit. (A
    // retry may first meet the channel's 3 connects per second, also named.)
    let (eleventh, mut events) = local.viewer("ten", "viewer-eleven", local.peer_options());
    let mut limit_named = 0;
    while limit_named < 2 {
        let cause = tokio::time::timeout(STEP, async {
            loop {
                if let Some(PeerEvent::Signaling(kvs_client::Event::Retrying { cause, .. })) =
                    events.recv().await
                {
                    return cause.to_string();
                }
            }
        })
        .await
        .expect("the eleventh viewer retries");
        assert!(cause.contains("ClientLimitExceededException"), "{cause}");
        if cause.contains("maximum of 10 viewers") {
            limit_named += 1;
        } else {
            assert!(cause.contains("3 connects per second"), "{cause}");
        }
    }
    eleventh.stop().await;

    // Kill one: the master notices through ICE, frees it, and serves the others.
    tokio::task::block_in_place(|| doomed.kill());
    let closed = until(&mut master_events, |e| match e {
        PeerEvent::Closed { peer, reason } => Some((peer.clone(), *reason)),
        _ => None,
    })
    .await;
    assert_eq!(closed.0, "viewer-doomed");
    until(&mut master_events, |e| {
        matches!(e, PeerEvent::PeerCount(9)).then_some(())
    })
    .await;
    assert_eq!(master.live_peers(), 9);
    let (viewer, events) = &mut viewers[0];
    echo(viewer, events, "still there?").await;
    for (viewer, _) in viewers {
        viewer.stop().await;
    }
    master.stop().await;
    local.service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_that_offers_again_with_the_same_client_id_gets_a_fresh_peer_connection() {
    let local = Local::start().await;
    let (master, mut master_events) = local.master("again", local.peer_options(), None).await;
    let (first, mut events) = local.viewer("again", "viewer-1", local.peer_options());
    until(&mut events, |e| {
        matches!(e, PeerEvent::DataChannelOpen { .. }).then_some(())
    })
    .await;
    let (second, mut events) = local.viewer("again", "viewer-1", local.peer_options());
    until(&mut events, |e| {
        matches!(e, PeerEvent::DataChannelOpen { .. }).then_some(())
    })
    .await;
    second.send("second");
    let echoed = until(&mut events, |e| match e {
        PeerEvent::Data { data, .. } => Some(data.clone()),
        _ => None,
    })
    .await;
    assert_eq!(echoed, b"second");
    let replaced = tokio::time::timeout(STEP, async {
        loop {
            if let Some(PeerEvent::Closed { peer, reason }) = master_events.recv().await {
                return (peer, reason);
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(
        replaced,
        (
            "viewer-1".to_owned(),
            kvs_webrtc::core::peers::CloseReason::Replaced
        )
    );
    assert_eq!(master.live_peers(), 1);
    first.stop().await;
    second.stop().await;
    master.stop().await;
    local.service.shutdown().await;
}

/// The next SDP error, past the peer connections it closed.
async fn sdp_error(events: &mut mpsc::Receiver<PeerEvent>) -> String {
    tokio::time::timeout(STEP, async {
        loop {
            if let PeerEvent::SdpFailed { error, .. } =
                events.recv().await.expect("events continue")
            {
                return error.to_string();
            }
        }
    })
    .await
    .expect("an SDP error in time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_with_nothing_the_master_serves_is_an_sdp_error_naming_both_sides() {
    let local = Local::start().await;
    let (master, mut master_events) = local.master("sdp", local.peer_options(), None).await;
    let (viewer, _events) =
        SignalingClient::<ViewerRole>::start(local.options("sdp", ChannelRole::Viewer, "vp8-only"))
            .unwrap();
    viewer.connected().await.unwrap();
    let vp8_only = concat!(
        "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n",
        "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\n",
        "a=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 ",
        "4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF\r\n",
        "a=setup:actpass\r\na=mid:0\r\na=recvonly\r\na=rtpmap:96 VP8/90000\r\n"
    );
    let offer = serde_json::json!({"type": "offer", "sdp": vp8_only}).to_string();
    viewer
        .send_offer(&kvs_client::ToMaster, offer)
        .await
        .unwrap();
    let error = sdp_error(&mut master_events).await;
    assert!(error.contains("SDP negotiation failed"), "{error}");
    assert!(error.contains("VP8"), "names what was offered: {error}");
    assert!(error.contains("H.264"), "names what we support: {error}");

    viewer
        .send_offer(
            &kvs_client::ToMaster,
            r#"{"type":"offer","sdp":"not an sdp"}"#,
        )
        .await
        .unwrap();
    let error = sdp_error(&mut master_events).await;
    assert!(error.contains("malformed SDP offer"), "{error}");
    assert_eq!(
        master.live_peers(),
        0,
        "a refused offer holds no peer connection"
    );
    viewer.close().await;
    master.stop().await;
    local.service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_only_without_a_turn_server_fails_ice_naming_the_cause() {
    let service = kvs_service::start(kvs_service::ServiceConfig {
        listen: ([127, 0, 0, 1], 0).into(),
        turn: None,
        ..Default::default()
    })
    .await
    .unwrap();
    let local = Local { service };
    let mut options = quick(local.peer_options());
    let (master, _m) = local.master("no-turn", options.clone(), None).await;
    options.relay_only = true;
    let (viewer, mut events) = local.viewer("no-turn", "viewer-1", options);
    let failure = tokio::time::timeout(STEP, async {
        loop {
            match events.recv().await.expect("events continue") {
                PeerEvent::IceFailed { failure, .. } => return failure,
                PeerEvent::Connected { pair, .. } => panic!("connected without TURN: {pair:?}"),
                _ => {}
            }
        }
    })
    .await
    .expect("ICE fails in time");
    assert_eq!(
        failure.cause,
        kvs_webrtc::core::ice_failure::IceCause::RelayWithoutTurn
    );
    let text = failure.to_string();
    assert!(text.contains("relay-only"), "{text}");
    assert!(text.contains("TURN server over UDP"), "{text}");
    viewer.stop().await;
    master.stop().await;
    local.service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_whose_offer_gets_no_answer_gives_up_and_says_so() {
    let local = Local::start().await;
    // The channel exists (a master made it) but no master is connected any more.
    let (master, session) = {
        let (session, events) =
            SignalingClient::<MasterRole>::start(local.options("silent", ChannelRole::Master, ""))
                .unwrap();
        session.connected().await.unwrap();
        (events, session)
    };
    session.close().await;
    drop(master);
    let mut options = local.peer_options();
    options.answer_timeout = Duration::from_millis(500);
    let (viewer, mut events) = local.viewer("silent", "viewer-1", options);
    let waited = tokio::time::timeout(STEP, async {
        loop {
            if let PeerEvent::NoAnswer { waited, .. } =
                events.recv().await.expect("events continue")
            {
                return waited;
            }
        }
    })
    .await
    .expect("the viewer gives up in time");
    assert_eq!(waited, Duration::from_millis(500));
    let reason = tokio::time::timeout(STEP, async {
        loop {
            if let PeerEvent::Closed { reason, .. } = events.recv().await.expect("events continue")
            {
                return reason;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(reason, kvs_webrtc::core::peers::CloseReason::NoAnswer);
    viewer.stop().await;
    local.service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_frame_request_from_the_viewer_reaches_the_master_and_restarts_the_picture_group() {
    use kvs_webrtc::video::VideoSpec;
    // 50 frames, a key frame only at frame 0: without a request the next one is 50 frames on.
    let (dir, path, sent) = pattern_file("pli", 50);
    assert_eq!(
        sent.iter()
            .filter(|f| kvs_webrtc::core::annexb::is_key_frame(f))
            .count(),
        1
    );

    let local = Local::start().await;
    let video = VideoSpec::File {
        path: path.clone(),
        fps: 30,
    };
    let (master, _m) = local.master("pli", local.peer_options(), Some(video)).await;
    let (viewer, mut events) = local.viewer("pli", "viewer-1", local.peer_options());
    let first = frames(&mut events, 5).await;
    assert!(first[0].1 && first[1..].iter().all(|(_, key)| !key));
    viewer.request_key_frame();
    let after = frames(&mut events, 30).await;
    let at = after
        .iter()
        .position(|(_, key)| *key)
        .expect("a key frame long before frame 50");
    assert_eq!(after[at].0, sent[0], "the group of pictures starts again");
    assert_eq!(after[at + 1].0, sent[1]);
    viewer.stop().await;
    master.stop().await;
    local.service.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

/// What the master opened for a viewer: (data channel, video).
async fn opened(events: &mut mpsc::Receiver<PeerEvent>, viewer: &str) -> (bool, bool) {
    until(events, |e| match e {
        PeerEvent::Opened {
            peer,
            data_channel,
            video,
        } if peer == viewer => Some((*data_channel, *video)),
        _ => None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_master_serves_a_data_channel_only_video_only_or_both_as_offered() {
    let local = Local::start().await;
    let (master, mut master_events) = local
        .master("shapes", local.peer_options(), Some(Default::default()))
        .await;

    // Data channel only, as the KVS JS SDK often offers: answered, round trip, no video.
    let mut options = local.peer_options();
    options.offer_video = false;
    let (data_only, mut events) = local.viewer("shapes", "data-only", options);
    assert_eq!(opened(&mut master_events, "data-only").await, (true, false));
    until(&mut events, |e| {
        matches!(e, PeerEvent::DataChannelOpen { .. }).then_some(())
    })
    .await;
    echo(&data_only, &mut events, "no video please").await;

    // Receive-only video only: frames arrive without a data channel.
    let mut options = local.peer_options();
    options.offer_data_channel = false;
    let (video_only, mut events) = local.viewer("shapes", "video-only", options);
    assert_eq!(
        opened(&mut master_events, "video-only").await,
        (false, true)
    );
    let got = frames(&mut events, 3).await;
    assert!(got[0].1, "starts on a key frame");

    // Both.
    let (both, mut events) = local.viewer("shapes", "both", local.peer_options());
    assert_eq!(opened(&mut master_events, "both").await, (true, true));
    frames(&mut events, 2).await;
    for viewer in [data_only, video_only, both] {
        viewer.stop().await;
    }
    master.stop().await;
    local.service.shutdown().await;
}
