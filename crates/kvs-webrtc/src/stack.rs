//! webrtc-rs peer connections as our masters and viewers need them: the ICE servers of the
//! plan, the relay-only policy, H.264 as browsers offer it, the bind address, and the
//! stack's callbacks turned into [`Report`]s on a channel, so one task per peer connection
//! handles them in order.
//!
//! The callbacks only push onto an unbounded channel and return: the stack's driver must
//! never wait for us (webrtc-rs runs them on its driver). What they push is bounded by the
//! stack itself: a handful of state changes, one candidate per local address and server, and
//! the data channels and tracks the peer opens (at most [`MAX_DATA_CHANNELS`] kept).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use std::collections::VecDeque;

use rtc::interceptor::{Attribute, Interceptor, Packet, Slot, StreamInfo, TaggedPacket};
use rtc::peer_connection::transport::RTCDtlsRole;
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::sansio::Protocol;
use tokio::sync::mpsc;
use webrtc::data_channel::DataChannel;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceCandidateInit, RTCIceCandidateType, RTCIceConnectionState,
    RTCIceServer, RTCIceTransportPolicy, RTCPeerConnectionIceEvent, RTCPeerConnectionState,
    RTCStatsReportEntry, Registry, SettingEngineBuilder, StatsSelector,
    register_default_interceptors,
};

use crate::core::ice_servers::IcePlan;
use crate::core::peers::PeersConfig;
use crate::events::{CandidateKind, SelectedPair};

/// Data channels a peer may open on one peer connection; later ones are closed at once.
pub const MAX_DATA_CHANNELS: usize = 4;

/// The H.264 formats we register: constrained baseline and baseline, packetization mode 1,
/// as browsers offer them.
pub(crate) const H264_FMTP: [&str; 2] = [
    "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
    "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f",
];

/// ICE's pacing between connectivity checks (RFC 8445's default Ta).
const ICE_CHECK_INTERVAL: Duration = Duration::from_millis(50);
/// Checks per candidate pair: 1.4 s of them, as webrtc-rs's defaults (7 × 200 ms) allow.
const ICE_CHECKS_PER_PAIR: u16 = 28;

/// How peer connections are set up.
#[derive(Debug, Clone)]
pub struct PeerOptions {
    /// The AWS region (for the regional STUN server of the real service).
    pub region: String,
    /// The signaling control-plane endpoint (`https://...`); a custom one means the STUN
    /// server is the first TURN server's host and port.
    pub endpoint: String,
    /// A STUN URL that overrides the default (`--stun-url`).
    pub stun_url: Option<String>,
    /// Gather and use relay candidates only (`--relay`).
    pub relay_only: bool,
    /// The local address to bind; `None` picks loopback for a loopback endpoint and every
    /// interface otherwise.
    pub bind: Option<IpAddr>,
    /// ICE's disconnected timeout (no answer to consent checks for this long).
    pub ice_disconnected: Duration,
    /// ICE's failed timeout (disconnected for this much longer).
    pub ice_failed: Duration,
    /// ICE's keep-alive (consent) interval.
    pub ice_keepalive: Duration,
    /// The master's table limits.
    pub peers: PeersConfig,
    /// How long a viewer waits for the master's answer before it gives up.
    pub answer_timeout: Duration,
    /// A viewer offers a data channel (default true).
    pub offer_data_channel: bool,
    /// A viewer offers to receive H.264 video (default true).
    pub offer_video: bool,
}

impl PeerOptions {
    /// Defaults for a session against `endpoint` in `region`: ICE timeouts as in browsers
    /// (5 s disconnected, 25 s more to failed, 2 s keep-alives).
    pub fn new(region: impl Into<String>, endpoint: impl Into<String>) -> Self {
        Self {
            region: region.into(),
            endpoint: endpoint.into(),
            stun_url: None,
            relay_only: false,
            bind: None,
            ice_disconnected: Duration::from_secs(5),
            ice_failed: Duration::from_secs(25),
            ice_keepalive: Duration::from_secs(2),
            peers: PeersConfig::default(),
            answer_timeout: Duration::from_secs(15),
            offer_data_channel: true,
            offer_video: true,
        }
    }

    /// The plan for these options and the service's TURN servers.
    pub fn plan(&self, servers: &[kvs_proto::api::IceServer]) -> IcePlan {
        crate::core::ice_servers::plan(
            &self.region,
            &self.endpoint,
            servers,
            self.stun_url.as_deref(),
        )
    }

    fn bind_address(&self) -> IpAddr {
        self.bind.unwrap_or_else(|| {
            let loopback = url_host(&self.endpoint)
                .and_then(|h| {
                    h.parse::<IpAddr>()
                        .ok()
                        .or((h == "localhost").then_some(IpAddr::V4(Ipv4Addr::LOCALHOST)))
                })
                .is_some_and(|ip| ip.is_loopback());
            if loopback {
                IpAddr::V4(Ipv4Addr::LOCALHOST)
            } else {
                IpAddr::V4(Ipv4Addr::UNSPECIFIED)
            }
        })
    }
}

fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next()?;
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?,
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    Some(host)
}

/// Application-most on the read walk (past the jitter buffer's 13,000), so every interceptor
/// that reads RTCP has seen it first; it emits nothing, so nothing else pins it.
const KEY_FRAME_REQUESTS_SLOT: usize = 14_000;

/// True for a request for a key frame: a Picture Loss Indication or a Full Intra Request.
pub(crate) fn is_key_frame_request(packet: &dyn rtc::rtcp::Packet) -> bool {
    let any = packet.as_any();
    any.is::<PictureLossIndication>() || any.is::<FullIntraRequest>()
}

/// Marks inbound RTCP that asks for a key frame for delivery to the application (webrtc-rs
/// stops inbound RTCP at the end of the interceptor chain unless something marks it), so the
/// master's video task sees it as the track's `OnRtcpPacket` event. Everything passes through
/// unchanged otherwise.
#[derive(Default)]
struct KeyFrameRequests {
    reads: VecDeque<TaggedPacket>,
    writes: VecDeque<TaggedPacket>,
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for KeyFrameRequests {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = webrtc::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtcp(packets) = &msg.message.packet
            && packets.iter().any(|p| is_key_frame_request(p.as_ref()))
        {
            msg.message.add(Attribute::DeliverToApplication);
        }
        self.reads.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.reads.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.writes.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.writes.pop_front()
    }
}

impl Interceptor for KeyFrameRequests {
    fn bind_local_stream(&mut self, _: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _: &StreamInfo) {}
}

/// What the stack reported about one peer connection.
#[derive(Clone)]
pub(crate) enum Report {
    /// A local candidate was gathered (its JSON for signaling, and its type).
    LocalCandidate(RTCIceCandidateInit, CandidateKind),
    /// ICE's connection state.
    Ice(RTCIceConnectionState),
    /// The peer connection's state (ICE and DTLS together).
    State(RTCPeerConnectionState),
    /// The peer opened a data channel.
    DataChannel(Arc<dyn DataChannel>),
    /// The peer sends a track.
    Track(Arc<dyn TrackRemote>),
}

struct Handler {
    reports: mpsc::UnboundedSender<Report>,
    data_channels: AtomicUsize,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        let kind = candidate_kind(event.candidate.typ);
        if let Ok(init) = event.candidate.to_json() {
            let _ = self.reports.send(Report::LocalCandidate(init, kind));
        }
    }

    async fn on_ice_connection_state_change(&self, state: RTCIceConnectionState) {
        let _ = self.reports.send(Report::Ice(state));
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let _ = self.reports.send(Report::State(state));
    }

    async fn on_data_channel(&self, channel: Arc<dyn DataChannel>) {
        if self.data_channels.fetch_add(1, Ordering::Relaxed) < MAX_DATA_CHANNELS {
            let _ = self.reports.send(Report::DataChannel(channel));
        } else {
            tracing::warn!(
                "the peer opened more than {MAX_DATA_CHANNELS} data channels; closing the extra one"
            );
            let _ = channel.close().await;
        }
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let _ = self.reports.send(Report::Track(track));
    }
}

fn candidate_kind(typ: RTCIceCandidateType) -> CandidateKind {
    match typ {
        RTCIceCandidateType::Host => CandidateKind::Host,
        RTCIceCandidateType::Srflx => CandidateKind::Srflx,
        RTCIceCandidateType::Prflx => CandidateKind::Prflx,
        RTCIceCandidateType::Relay => CandidateKind::Relay,
        _ => CandidateKind::Unknown,
    }
}

/// A peer connection and the channel its reports come on.
pub(crate) struct Built {
    pub pc: Arc<dyn PeerConnection>,
    pub reports: mpsc::UnboundedReceiver<Report>,
}

/// Builds a peer connection for `plan` and `options`.
pub(crate) async fn build(options: &PeerOptions, plan: &IcePlan) -> webrtc::error::Result<Built> {
    let mut servers = Vec::new();
    if let Some(stun) = &plan.stun {
        servers.push(RTCIceServer {
            urls: vec![stun.clone()],
            ..Default::default()
        });
    }
    for turn in &plan.turn {
        servers.push(RTCIceServer {
            urls: turn.uris.clone(),
            username: turn.username.clone(),
            credential: turn.password.clone(),
        });
    }
    let mut config = RTCConfigurationBuilder::new().with_ice_servers(servers);
    if options.relay_only {
        config = config.with_ice_transport_policy(RTCIceTransportPolicy::Relay);
    }

    let mut media = MediaEngine::default();
    for (n, fmtp) in H264_FMTP.iter().enumerate() {
        media.register_codec(
            rtc::rtp_transceiver::rtp_sender::RTCRtpCodecParameters {
                rtp_codec: crate::video::h264_codec(fmtp),
                payload_type: 102 + 2 * n as u8,
            },
            rtc::rtp_transceiver::rtp_sender::RtpCodecKind::Video,
        )?;
    }
    let registry = register_default_interceptors(Registry::new(), &mut media)?.with(
        Slot::from(KEY_FRAME_REQUESTS_SLOT),
        KeyFrameRequests::default(),
    );

    let bind = options.bind_address();
    let settings = SettingEngineBuilder::new()
        .with_ice_timeouts(
            Some(options.ice_disconnected),
            Some(options.ice_failed),
            Some(options.ice_keepalive),
        )
        .with_include_loopback_candidate(bind.is_loopback())
        // The controlling agent waits this long after a pair of each type succeeds before
        // nominating it, in case a better pair succeeds too (pion's defaults: 0, 0.5, 1 and
        // 2 s). A peer-reflexive pair is one the peer's own check just proved, usually the
        // peer's host address seen before its candidate arrived over signaling: as good as a
        // host pair, and the 1 s wait was the largest part of our connect time. With
        // relay-only there is nothing better to wait for.
        // Answer `a=setup:passive`, so the offerer (the viewer, ICE's controlling agent) is
        // the DTLS client. The controlling agent is the last to learn that ICE is connected
        // (from the answer to its nominating check), so its ClientHello finds our DTLS
        // server already listening; the other way round, the first flight raced the peer's
        // ICE and was lost, costing a 200 ms retransmission on every connect.
        .with_answering_dtls_role(RTCDtlsRole::Server)
        // ICE's check interval is also how often the stack's driver runs its timers once
        // connected, and webrtc-rs 0.21.1 sends a DTLS flight made while handling an event
        // only when its timers next run: at the default 200 ms, every other connect waited
        // 200 ms for its ClientHello to leave. RFC 8445's default pacing (Ta) is 50 ms; the
        // attempts per pair are raised to keep the default 1.4 s before a pair is given up.
        .with_ice_connection_attempts(Some(ICE_CHECK_INTERVAL), Some(ICE_CHECKS_PER_PAIR))
        .with_host_acceptance_min_wait(Some(Duration::ZERO))
        .with_prflx_acceptance_min_wait(Some(Duration::ZERO))
        .with_srflx_acceptance_min_wait(Some(Duration::from_millis(100)))
        .with_relay_acceptance_min_wait(Some(if options.relay_only {
            Duration::ZERO
        } else {
            Duration::from_millis(500)
        }))
        .build();

    let (tx, reports) = mpsc::unbounded_channel();
    let pc = PeerConnectionBuilder::new()
        .with_configuration(config.build())
        .with_media_engine(media)
        .with_setting_engine(settings)
        .with_interceptor_registry(registry)
        .with_handler(Arc::new(Handler {
            reports: tx,
            data_channels: AtomicUsize::new(0),
        }))
        .with_udp_addrs(vec![SocketAddr::new(bind, 0)])
        .build()
        .await?;
    Ok(Built {
        pc: Arc::new(pc),
        reports,
    })
}

/// The candidate pair ICE selected, from the stack's statistics.
pub(crate) async fn selected_pair(pc: &dyn PeerConnection) -> Option<SelectedPair> {
    let report = pc.get_stats(Instant::now(), StatsSelector::None).await;
    let pair_id = &report.transport()?.selected_candidate_pair_id;
    let Some(RTCStatsReportEntry::IceCandidatePair(pair)) = report.get(pair_id) else {
        return None;
    };
    // rtc 0.21.1 names candidate entries `RTCLocalIceCandidate_<id>` and
    // `RTCRemoteIceCandidate_<id>` but stores the bare `<id>` in the pair; accept both.
    let side = |prefix: &str, id: &str| match report
        .get(id)
        .or_else(|| report.get(&format!("{prefix}{id}")))
    {
        Some(RTCStatsReportEntry::LocalCandidate(c) | RTCStatsReportEntry::RemoteCandidate(c)) => (
            candidate_kind(c.candidate_type),
            format!("{}:{}", c.address.clone().unwrap_or_default(), c.port),
        ),
        _ => (CandidateKind::Unknown, String::new()),
    };
    let (local, local_address) = side("RTCLocalIceCandidate_", &pair.local_candidate_id);
    let (mut remote, remote_address) = side("RTCRemoteIceCandidate_", &pair.remote_candidate_id);
    if remote == CandidateKind::Unknown {
        // Every candidate that came over signaling has an entry; one without was learned
        // from the peer's connectivity check.
        remote = CandidateKind::Prflx;
    }
    Some(SelectedPair {
        local,
        local_address,
        remote,
        remote_address,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loopback_endpoint_binds_loopback_and_any_other_binds_every_interface() {
        let bind = |endpoint: &str| PeerOptions::new("us-west-2", endpoint).bind_address();
        assert_eq!(
            bind("https://127.0.0.1:8443"),
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        );
        assert_eq!(
            bind("https://localhost:8443/"),
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        );
        assert!(bind("https://[::1]:8443").is_loopback());
        assert!(bind("https://kinesisvideo.us-west-2.amazonaws.com").is_unspecified());
        assert!(bind("").is_unspecified());
        let mut o = PeerOptions::new("us-west-2", "https://127.0.0.1:1");
        o.bind = Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(o.bind_address(), IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
    }
}
