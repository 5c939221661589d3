//! One viewer's way from start to video, timed: signaling CONNECTED, ICE connected, DTLS
//! (the peer connection connected), the data channel open, a message round trip and the
//! first H.264 frame. The demo prints it; the benchmark repeats it.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use kvs_client::{Event, SignalingClient, State};
use kvs_proto::api::ChannelRole;
use kvs_service::ServiceHandle;
use kvs_webrtc::viewer::Viewer;
use kvs_webrtc::{PeerEvent, PeerOptions, SelectedPair};

/// Times since the viewer started.
#[derive(Debug, Clone)]
pub struct Phases {
    /// Signaling CONNECTED.
    pub signaling: Duration,
    /// ICE connected.
    pub ice: Duration,
    /// DTLS done: the peer connection is connected.
    pub dtls: Duration,
    /// The data channel is open (SCTP).
    pub data_channel: Duration,
    /// The first data-channel byte back from the master (the echo of ours).
    pub first_byte: Duration,
    /// The first whole video frame.
    pub first_frame: Duration,
    /// The pair ICE selected.
    pub pair: Option<SelectedPair>,
}

impl Phases {
    /// Each phase's name and time, in order.
    pub fn rows(&self) -> [(&'static str, Duration); 6] {
        [
            ("signaling CONNECTED", self.signaling),
            ("ICE connected", self.ice),
            ("DTLS connected", self.dtls),
            ("data channel open", self.data_channel),
            ("first data-channel byte", self.first_byte),
            ("first video frame", self.first_frame),
        ]
    }
}

/// A running master: its peer connections, its signaling session and its events.
pub type RunningMaster = (
    kvs_webrtc::master::Master,
    SignalingClient<kvs_client::Master>,
    tokio::sync::mpsc::Receiver<PeerEvent>,
);

/// A master on `svc`'s `channel` sending the test pattern (relay-only with `relay`), signing
/// with `credentials` or else the example keys; its signaling starts at once, and its events
/// tell when it is CONNECTED.
pub fn master(
    svc: &ServiceHandle,
    channel: &str,
    relay: bool,
    credentials: Option<std::sync::Arc<dyn kvs_client::ProvideCredentials>>,
) -> anyhow::Result<RunningMaster> {
    let mut options = crate::local::options(svc, channel, ChannelRole::Master, "");
    if let Some(credentials) = credentials {
        options.credentials = credentials;
    }
    let (session, signaling) = SignalingClient::<kvs_client::Master>::start(options)?;
    let (master, events) = kvs_webrtc::master::Master::start(
        session.clone(),
        signaling,
        peer_options(svc, relay),
        Some(kvs_webrtc::video::VideoSpec::default()),
    );
    Ok((master, session, events))
}

/// Peer options for the in-process service.
pub fn peer_options(svc: &ServiceHandle, relay: bool) -> PeerOptions {
    let mut options = PeerOptions::new(crate::LOCAL_REGION, svc.endpoint());
    options.relay_only = relay;
    options
}

/// Runs one viewer on `channel` until its first video frame; `say` is told each step.
pub async fn viewer_session(
    svc: &ServiceHandle,
    channel: &str,
    client_id: &str,
    relay: bool,
    mut say: impl FnMut(&PeerEvent, Duration),
) -> anyhow::Result<Phases> {
    let start = Instant::now();
    let options = crate::local::options(svc, channel, ChannelRole::Viewer, client_id);
    let (session, signaling) = SignalingClient::<kvs_client::Viewer>::start(options)?;
    let (viewer, mut events) = Viewer::start(session.clone(), signaling, peer_options(svc, relay));
    let mut at: [Option<Duration>; 6] = [None; 6];
    let mut pair = None;
    let result = loop {
        let Some(event) = events.recv().await else {
            break Err(anyhow!("the viewer stopped before its first video frame"));
        };
        let now = start.elapsed();
        say(&event, now);
        let slot = match &event {
            PeerEvent::Signaling(Event::StateChanged(State::Connected)) => Some(0),
            PeerEvent::IceState { state, .. } if state == "connected" => Some(1),
            PeerEvent::Connected { pair: p, .. } => {
                pair = p.clone();
                Some(2)
            }
            PeerEvent::DataChannelOpen { .. } => {
                viewer.send("ping");
                Some(3)
            }
            PeerEvent::Data { .. } => Some(4),
            PeerEvent::VideoFrame { .. } => Some(5),
            PeerEvent::IceFailed { failure, .. } => break Err(anyhow!("{failure}")),
            PeerEvent::SdpFailed { error, .. } => break Err(anyhow!("{error}")),
            PeerEvent::StackError { error, .. } => break Err(anyhow!("WebRTC error: {error}")),
            PeerEvent::NoAnswer { waited, .. } => {
                break Err(anyhow!(crate::peer::no_answer(*waited)));
            }
            PeerEvent::Closed { reason, .. } => {
                break Err(anyhow!("the peer connection closed: {reason}"));
            }
            PeerEvent::Signaling(Event::Closed(Some(e))) => {
                break Err(anyhow!("signaling ended: {e}"));
            }
            _ => None,
        };
        if let Some(slot) = slot {
            at[slot].get_or_insert(now);
        }
        if let [Some(s), Some(i), Some(d), Some(c), Some(b), Some(f)] = at {
            break Ok(Phases {
                signaling: s,
                ice: i,
                dtls: d,
                data_channel: c,
                first_byte: b,
                first_frame: f,
                pair: pair.clone(),
            });
        }
    };
    viewer.stop().await;
    session.close().await;
    let phases = result?;
    if relay && !phases.pair.as_ref().is_some_and(SelectedPair::is_relayed) {
        bail!(
            "relay-only was asked for, but the selected pair is not a relay pair: {:?}",
            phases.pair
        );
    }
    Ok(phases)
}
