//! One peer connection's task: it owns the webrtc-rs peer connection, applies what the
//! controlling loop tells it ([`Command`]), sends its SDP and candidates over signaling,
//! turns the stack's reports into [`PeerEvent`]s, and tells the loop what the table needs
//! ([`Back`]). It ends on [`Command::Close`] or when its setup fails, and always closes the
//! peer connection, so its sockets, DTLS and SCTP state are freed when it returns.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use kvs_client::SignalingSession;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use webrtc::data_channel::{DataChannel, DataChannelEvent, RTCDataChannelState};
use webrtc::media_stream::MediaStreamTrack;
use webrtc::media_stream::Track;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    PeerConnection, RTCIceCandidateInit, RTCIceConnectionState, RTCPeerConnectionState,
    RTCSessionDescription,
};
use webrtc::rtp_transceiver::RtpSender;

use crate::core::frames::{FrameAssembler, FrameLimits};
use crate::core::ice_failure::{IceAttempt, diagnose};
use crate::core::ice_servers::IcePlan;
use crate::core::offer::{SdpError, Serve, read_offer};
use crate::core::peers::{CloseReason, Generation, IceState};
use crate::events::{CandidateKind, PeerEvent};
use crate::stack::{self, H264_FMTP, PeerOptions, Report};
use crate::video::{VideoSpec, h264_codec};

/// The label of the data channel a viewer opens (the one the KVS SDKs use).
pub const DATA_CHANNEL_LABEL: &str = "kvsDataChannel";

/// From the controlling loop to a peer task.
#[derive(Debug)]
pub(crate) enum Command {
    /// The peer's answer (viewer side).
    RemoteDescription(Vec<u8>),
    /// A remote candidate, after the remote description.
    AddCandidate(Vec<u8>),
    /// A data-channel message to send (viewer side).
    Send(Vec<u8>),
    /// Ask the master for a key frame (viewer side).
    KeyFrame,
    /// Close the peer connection.
    Close(CloseReason),
}

/// From a peer task to the controlling loop.
#[derive(Debug)]
pub(crate) enum Back {
    RemoteDescriptionSet(String, Generation),
    Ice(String, Generation, IceState),
    /// The task ended on its own (setup failed, or the peer connection closed).
    Ended(String, Generation),
}

/// How the peer connection starts.
pub(crate) enum Setup {
    /// Master: answer this offer; send video if asked for and offered; echo data.
    Answer {
        offer: Vec<u8>,
        video: Option<VideoSpec>,
    },
    /// Viewer: make the offer (data channel and receive-only video).
    Offer,
}

/// What every peer task shares.
pub(crate) struct Context<S: SignalingSession> {
    pub session: S,
    pub to: S::Peer,
    pub name: String,
    pub generation: Generation,
    pub options: PeerOptions,
    pub plan: IcePlan,
    pub events: mpsc::Sender<PeerEvent>,
    pub back: mpsc::UnboundedSender<Back>,
    /// Peer connections alive (built and not yet closed), across tasks.
    pub live: Arc<AtomicUsize>,
    /// Say how many are alive when this one ends (the master's count).
    pub count_peers: bool,
}

struct Live<'a> {
    pc: Arc<dyn PeerConnection>,
    live: &'a AtomicUsize,
}

impl<S: SignalingSession> Context<S> {
    async fn emit(&self, event: PeerEvent) {
        let _ = self.events.send(event).await;
    }

    fn back(&self, back: Back) {
        let _ = self.back.send(back);
    }
}

/// Runs one peer connection until it is closed.
pub(crate) async fn run<S: SignalingSession>(
    ctx: Context<S>,
    setup: Setup,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let mut tasks = JoinSet::new();
    let mut attempt = first_attempt(&ctx.plan, ctx.options.relay_only);
    let skipped: Vec<(String, String)> = ctx
        .plan
        .skipped
        .iter()
        .map(|s| (s.uri.clone(), s.reason.to_string()))
        .collect();
    for (uri, reason) in &skipped {
        tracing::info!(peer = %ctx.name, %uri, "TURN entry skipped: {reason}");
    }
    ctx.emit(PeerEvent::IceServers {
        peer: ctx.name.clone(),
        stun: ctx.plan.stun.clone(),
        turn: ctx.plan.turn.iter().flat_map(|t| t.uris.clone()).collect(),
        skipped,
    })
    .await;
    let reason = match start(&ctx, setup, &mut tasks).await {
        Ok(started) => {
            let live = started.live;
            let reason = serve(
                &ctx,
                &live.pc,
                started.serving,
                &mut commands,
                &mut tasks,
                &mut attempt,
            )
            .await;
            tasks.abort_all();
            let _ = live.pc.close().await;
            drop(live);
            reason
        }
        Err(reason) => reason,
    };
    tasks.shutdown().await;
    ctx.back(Back::Ended(ctx.name.clone(), ctx.generation));
    ctx.emit(PeerEvent::Closed {
        peer: ctx.name.clone(),
        reason,
    })
    .await;
    if ctx.count_peers {
        ctx.emit(PeerEvent::PeerCount(ctx.live.load(Ordering::SeqCst)))
            .await;
    }
}

/// What ICE starts with: the TURN URIs offered and usable, nothing gathered yet.
fn first_attempt(plan: &IcePlan, relay_only: bool) -> IceAttempt {
    let usable: usize = plan.turn.iter().map(|t| t.uris.len()).sum();
    IceAttempt {
        turn_offered: (usable + plan.skipped.len()) as u32,
        turn_usable: usable as u32,
        relay_only,
        ..IceAttempt::default()
    }
}

impl Drop for Live<'_> {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A video track to start once connected.
struct PendingVideo {
    track: Arc<TrackLocalStaticSample>,
    sender: Arc<dyn RtpSender>,
    spec: VideoSpec,
}

/// A built peer connection and what serving it needs.
struct Started<'a> {
    live: Live<'a>,
    serving: Serving,
}

/// The stack's reports, the video to start once connected, the viewer's own data channel,
/// and whether we made the offer (and so wait for an answer).
struct Serving {
    reports: mpsc::UnboundedReceiver<Report>,
    video: Option<PendingVideo>,
    channel: Option<Arc<dyn DataChannel>>,
    offerer: bool,
}

async fn start<'a, S: SignalingSession>(
    ctx: &'a Context<S>,
    setup: Setup,
    tasks: &mut JoinSet<()>,
) -> Result<Started<'a>, CloseReason> {
    let failed = |error: String| async move {
        ctx.emit(PeerEvent::StackError {
            peer: ctx.name.clone(),
            error,
        })
        .await;
        CloseReason::Unanswerable
    };
    // Read the offer before building anything: a bad one costs no sockets.
    let serve = match &setup {
        Setup::Answer { offer, .. } => match read_offer(offer).and_then(|o| o.serve()) {
            Ok(serve) => Some(serve),
            Err(error) => {
                ctx.emit(PeerEvent::SdpFailed {
                    peer: ctx.name.clone(),
                    error,
                })
                .await;
                return Err(CloseReason::Unanswerable);
            }
        },
        Setup::Offer => None,
    };
    if ctx.options.relay_only && ctx.plan.turn.is_empty() {
        // webrtc-rs refuses to build such a peer connection; say why ICE cannot work.
        let failure = diagnose(first_attempt(&ctx.plan, true));
        ctx.emit(PeerEvent::IceFailed {
            peer: ctx.name.clone(),
            failure,
        })
        .await;
        return Err(CloseReason::IceFailed);
    }
    let built = match stack::build(&ctx.options, &ctx.plan).await {
        Ok(built) => built,
        Err(e) => return Err(failed(format!("creating the peer connection: {e}")).await),
    };
    let count = ctx.live.fetch_add(1, Ordering::SeqCst) + 1;
    if ctx.count_peers {
        ctx.emit(PeerEvent::PeerCount(count)).await;
    }
    let live = Live {
        pc: built.pc,
        live: &ctx.live,
    };
    let pc = &live.pc;
    let mut video = None;
    let mut own_channel = None;
    let offerer = matches!(setup, Setup::Offer);
    match setup {
        Setup::Answer { offer, video: spec } => {
            let serve = serve.unwrap_or(Serve {
                data_channel: true,
                video: false,
            });
            if serve.video
                && let Some(spec) = spec
            {
                match add_video_track(pc.as_ref()).await {
                    Ok((track, sender)) => {
                        video = Some(PendingVideo {
                            track,
                            sender,
                            spec,
                        })
                    }
                    Err(e) => return Err(failed(format!("adding the video track: {e}")).await),
                }
            }
            ctx.emit(PeerEvent::Opened {
                peer: ctx.name.clone(),
                data_channel: serve.data_channel,
                video: video.is_some(),
            })
            .await;
            if let Err(error) = set_remote(pc.as_ref(), &offer).await {
                ctx.emit(PeerEvent::SdpFailed {
                    peer: ctx.name.clone(),
                    error,
                })
                .await;
                return Err(CloseReason::Unanswerable);
            }
            ctx.back(Back::RemoteDescriptionSet(ctx.name.clone(), ctx.generation));
            let answer = match pc.create_answer(None).await {
                Ok(answer) => answer,
                Err(e) => return Err(failed(format!("creating the answer: {e}")).await),
            };
            if let Err(e) = pc.set_local_description(answer.clone()).await {
                return Err(failed(format!("applying our answer: {e}")).await);
            }
            let json = serde_json::to_vec(&answer).unwrap_or_default();
            if let Err(e) = ctx.session.send_answer(&ctx.to, json).await {
                return Err(failed(format!("sending the answer over signaling: {e}")).await);
            }
        }
        Setup::Offer => {
            let wants = (ctx.options.offer_data_channel, ctx.options.offer_video);
            if wants == (false, false) {
                return Err(
                    failed("the viewer offers neither a data channel nor video".into()).await,
                );
            }
            let channel = match offer_media(pc.as_ref(), &ctx.options).await {
                Ok(channel) => channel,
                Err(e) => return Err(failed(e).await),
            };
            if let Some(channel) = channel {
                tasks.spawn(data_channel(
                    ctx.name.clone(),
                    channel.clone(),
                    false,
                    ctx.events.clone(),
                ));
                own_channel = Some(channel);
            }
            ctx.emit(PeerEvent::Opened {
                peer: ctx.name.clone(),
                data_channel: wants.0,
                video: wants.1,
            })
            .await;
            let offer = match pc.create_offer(None).await {
                Ok(offer) => offer,
                Err(e) => return Err(failed(format!("creating the offer: {e}")).await),
            };
            if let Err(e) = pc.set_local_description(offer.clone()).await {
                return Err(failed(format!("applying our offer: {e}")).await);
            }
            let json = serde_json::to_vec(&offer).unwrap_or_default();
            if let Err(e) = ctx.session.send_offer(&ctx.to, json).await {
                return Err(failed(format!("sending the offer over signaling: {e}")).await);
            }
        }
    }
    Ok(Started {
        live,
        serving: Serving {
            reports: built.reports,
            video,
            channel: own_channel,
            offerer,
        },
    })
}

/// Adds what a viewer offers to `pc`: its data channel (returned) and a receive-only video
/// transceiver, as `options` ask.
pub(crate) async fn offer_media(
    pc: &dyn PeerConnection,
    options: &PeerOptions,
) -> Result<Option<Arc<dyn DataChannel>>, String> {
    let channel = match options.offer_data_channel {
        true => Some(
            pc.create_data_channel(DATA_CHANNEL_LABEL, None)
                .await
                .map_err(|e| format!("creating the data channel: {e}"))?,
        ),
        false => None,
    };
    if options.offer_video {
        let recv_only = RTCRtpTransceiverInit {
            direction: RTCRtpTransceiverDirection::Recvonly,
            ..Default::default()
        };
        pc.add_transceiver_from_kind(RtpCodecKind::Video, Some(recv_only))
            .await
            .map_err(|e| format!("adding the video transceiver: {e}"))?;
    }
    Ok(channel)
}

async fn set_remote(pc: &dyn PeerConnection, payload: &[u8]) -> Result<(), SdpError> {
    let desc: RTCSessionDescription =
        serde_json::from_slice(payload).map_err(|e| SdpError::NotAnOffer(e.to_string()))?;
    pc.set_remote_description(desc)
        .await
        .map_err(|e| SdpError::Malformed(e.to_string()))
}

async fn add_video_track(
    pc: &dyn PeerConnection,
) -> webrtc::error::Result<(Arc<TrackLocalStaticSample>, Arc<dyn RtpSender>)> {
    let ssrc = rand_ssrc();
    let track = MediaStreamTrack::new(
        "kvs-signaling".to_owned(),
        "video".to_owned(),
        "video".to_owned(),
        RtpCodecKind::Video,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec: h264_codec(H264_FMTP[0]),
            ..Default::default()
        }],
    );
    let track = Arc::new(TrackLocalStaticSample::new(Instant::now(), track)?);
    let sender = pc.add_track(track.clone() as Arc<dyn TrackLocal>).await?;
    Ok((track, sender))
}

/// A random SSRC: std's hasher keys are seeded from the operating system's randomness.
fn rand_ssrc() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let bits = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    (bits >> 32) as u32 ^ bits as u32
}

async fn serve<S: SignalingSession>(
    ctx: &Context<S>,
    pc: &Arc<dyn PeerConnection>,
    serving: Serving,
    commands: &mut mpsc::UnboundedReceiver<Command>,
    tasks: &mut JoinSet<()>,
    attempt: &mut IceAttempt,
) -> CloseReason {
    let Serving {
        mut reports,
        mut video,
        channel: own_channel,
        offerer,
    } = serving;
    // A viewer waits for the answer this long; KVS says nothing when no master answers.
    let awaiting = tokio::time::sleep(ctx.options.answer_timeout);
    tokio::pin!(awaiting);
    let mut answered = !offerer;
    let mut remote_video: Option<Arc<dyn TrackRemote>> = None;
    // See `nudge`: until its data channel is open, the viewer wakes the stack's driver every
    // few milliseconds, so packets queued while handling an event go out now.
    let mut pump = tokio::time::interval(PUMP_INTERVAL);
    let pump_until = tokio::time::Instant::now() + PUMP_FOR;
    let mut pumping = own_channel.is_some();
    loop {
        tokio::select! {
            _ = pump.tick(), if pumping => {
                if let Some(channel) = &own_channel {
                    let open = matches!(channel.ready_state().await, Ok(RTCDataChannelState::Open));
                    pumping = !open && tokio::time::Instant::now() < pump_until;
                    if pumping {
                        nudge(channel.as_ref()).await;
                    }
                }
            }
            _ = &mut awaiting, if !answered => {
                ctx.emit(PeerEvent::NoAnswer { peer: ctx.name.clone(), waited: ctx.options.answer_timeout }).await;
                return CloseReason::NoAnswer;
            }
            command = commands.recv() => match command {
                None => return CloseReason::Stopped,
                Some(Command::Close(reason)) => return reason,
                Some(Command::RemoteDescription(answer)) => {
                    if let Err(error) = set_remote(pc.as_ref(), &answer).await {
                        ctx.emit(PeerEvent::SdpFailed { peer: ctx.name.clone(), error }).await;
                        return CloseReason::Unanswerable;
                    }
                    answered = true;
                    ctx.back(Back::RemoteDescriptionSet(ctx.name.clone(), ctx.generation));
                }
                Some(Command::AddCandidate(json)) => {
                    let Ok(candidate) = serde_json::from_slice::<RTCIceCandidateInit>(&json) else {
                        tracing::debug!(peer = %ctx.name, "unreadable ICE candidate skipped");
                        continue;
                    };
                    attempt.remote.count(&candidate.candidate);
                    if let Err(e) = pc.add_ice_candidate(candidate).await {
                        tracing::debug!(peer = %ctx.name, "ICE candidate refused: {e}");
                    }
                }
                Some(Command::KeyFrame) => {
                    if let Some(track) = &remote_video
                        && let Some(ssrc) = track.ssrcs().await.first().copied()
                    {
                        request_key_frame(track.as_ref(), ssrc).await;
                    }
                }
                Some(Command::Send(data)) => {
                    match &own_channel {
                        Some(channel) => {
                            let text = String::from_utf8_lossy(&data).into_owned();
                            if let Err(e) = channel.send_text(&text).await {
                                ctx.emit(PeerEvent::StackError { peer: ctx.name.clone(), error: format!("sending on the data channel: {e}") }).await;
                            }
                        }
                        None => ctx.emit(PeerEvent::StackError { peer: ctx.name.clone(), error: "the data channel is not open yet".into() }).await,
                    }
                }
            },
            report = reports.recv() => match report {
                None => return CloseReason::Stopped,
                Some(Report::LocalCandidate(init, kind)) => {
                    match kind {
                        CandidateKind::Host => attempt.local.host += 1,
                        CandidateKind::Srflx => attempt.local.srflx += 1,
                        CandidateKind::Relay => attempt.local.relay += 1,
                        _ => {}
                    }
                    let json = serde_json::to_vec(&init).unwrap_or_default();
                    if let Err(e) = ctx.session.send_ice_candidate(&ctx.to, json).await {
                        tracing::debug!(peer = %ctx.name, "ICE candidate not sent: {e}");
                    }
                }
                Some(Report::Ice(state)) => {
                    ctx.emit(PeerEvent::IceState { peer: ctx.name.clone(), state: state.to_string() }).await;
                    let table = match state {
                        RTCIceConnectionState::Connected | RTCIceConnectionState::Completed => IceState::Connected,
                        RTCIceConnectionState::Disconnected => IceState::Disconnected,
                        RTCIceConnectionState::Failed => IceState::Failed,
                        _ => IceState::Checking,
                    };
                    if table == IceState::Failed {
                        ctx.emit(PeerEvent::IceFailed { peer: ctx.name.clone(), failure: diagnose(*attempt) }).await;
                    }
                    ctx.back(Back::Ice(ctx.name.clone(), ctx.generation, table));
                }
                Some(Report::State(state)) => match state {
                    RTCPeerConnectionState::Connected => {
                        let pair = stack::selected_pair(pc.as_ref()).await;
                        ctx.emit(PeerEvent::Connected { peer: ctx.name.clone(), pair }).await;
                        if let Some(v) = video.take() {
                            tasks.spawn(send_video(ctx.name.clone(), v, ctx.events.clone()));
                        }
                    }
                    RTCPeerConnectionState::Closed => return CloseReason::PeerClosed,
                    _ => {}
                },
                Some(Report::DataChannel(channel)) => {
                    tasks.spawn(data_channel(ctx.name.clone(), channel, true, ctx.events.clone()));
                }
                Some(Report::Track(track)) => {
                    remote_video = Some(track.clone());
                    tasks.spawn(receive_video(ctx.name.clone(), track, ctx.events.clone()));
                }
            },
        }
    }
}

/// The least time between two key-frame requests from a viewer.
const KEY_FRAME_REQUEST_GAP: Duration = Duration::from_millis(300);

/// Sends the master a Picture Loss Indication for the stream `media_ssrc`.
async fn request_key_frame(track: &dyn TrackRemote, media_ssrc: u32) {
    let pli = PictureLossIndication {
        sender_ssrc: 0,
        media_ssrc,
    };
    if let Err(e) = track.write_rtcp(vec![Box::new(pli)]).await {
        tracing::debug!("key frame request not sent: {e}");
    }
}

/// How often, and for how long at most, a viewer wakes the stack's driver while its peer
/// connection comes up.
const PUMP_INTERVAL: Duration = Duration::from_millis(5);
const PUMP_FOR: Duration = Duration::from_secs(5);

/// Makes webrtc-rs 0.21.1's driver send what its handlers queued. The driver writes, handles
/// events, reads, then sleeps until its next timer, so a packet queued while handling an
/// event (SCTP's INIT once DTLS is up) waits for that timer. Setting a data channel's
/// threshold to the value it has wakes the driver and changes nothing else. (The DTLS
/// ClientHello needs the timer itself: see `ICE_CHECK_INTERVAL` in `stack`.)
async fn nudge(channel: &dyn DataChannel) {
    if let Ok(threshold) = channel.buffered_amount_low_threshold().await {
        let _ = channel.set_buffered_amount_low_threshold(threshold).await;
    }
}

/// Reports a data channel's events; on the master, echoes every message back.
async fn data_channel(
    peer: String,
    channel: Arc<dyn DataChannel>,
    echo: bool,
    events: mpsc::Sender<PeerEvent>,
) {
    while let Some(event) = channel.poll().await {
        match event {
            DataChannelEvent::OnOpen => {
                let label = channel.label().await.unwrap_or_default();
                let _ = events
                    .send(PeerEvent::DataChannelOpen {
                        peer: peer.clone(),
                        label,
                    })
                    .await;
            }
            DataChannelEvent::OnMessage(message) => {
                if echo {
                    let sent = if message.is_string {
                        channel
                            .send_text(&String::from_utf8_lossy(&message.data))
                            .await
                    } else {
                        channel.send(BytesMut::from(&message.data[..])).await
                    };
                    if let Err(e) = sent {
                        tracing::debug!(%peer, "echo not sent: {e}");
                    }
                }
                let _ = events
                    .send(PeerEvent::Data {
                        peer: peer.clone(),
                        data: message.data.to_vec(),
                    })
                    .await;
            }
            DataChannelEvent::OnClose => break,
            _ => {}
        }
    }
}

/// Sends frames from `video.spec` at its frame rate until the peer connection goes.
async fn send_video(peer: String, video: PendingVideo, events: mpsc::Sender<PeerEvent>) {
    let fail = |error: String| {
        let events = events.clone();
        let peer = peer.clone();
        async move {
            let _ = events.send(PeerEvent::StackError { peer, error }).await;
        }
    };
    let payload_type = match video.sender.get_parameters().await {
        Ok(p) => match p.rtp_parameters.codecs.first() {
            Some(codec) => codec.payload_type,
            None => return fail("no H.264 codec was negotiated for video".into()).await,
        },
        Err(e) => return fail(format!("reading the video sender's codec: {e}")).await,
    };
    let Some(ssrc) = video.track.ssrcs().await.first().copied() else {
        return fail("the video track has no SSRC".into()).await;
    };
    let mut source = match video.spec.open() {
        Ok(source) => source,
        Err(e) => return fail(e.to_string()).await,
    };
    let interval = video.spec.frame_interval();
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            event = video.track.poll() => {
                match event {
                    Some(TrackLocalEvent::OnRtcpPacket(packets))
                        if packets.iter().any(|p| stack::is_key_frame_request(p.as_ref())) =>
                    {
                        tracing::debug!(%peer, "the viewer asked for a key frame");
                        source.request_key_frame();
                    }
                    Some(_) => {}
                    None => return,
                }
                continue;
            }
        }
        let frame = match source.next_frame() {
            Ok(frame) => frame,
            Err(e) => return fail(e.to_string()).await,
        };
        let sample = rtc::media::Sample {
            data: frame.into(),
            duration: interval,
            ..rtc::media::Sample::new(Instant::now())
        };
        if video
            .track
            .sample_writer(ssrc, payload_type)
            .write_sample(&sample)
            .await
            .is_err()
        {
            return;
        }
    }
}

/// Reassembles the H.264 frames of a remote track.
async fn receive_video(peer: String, track: Arc<dyn TrackRemote>, events: mpsc::Sender<PeerEvent>) {
    let mut frames = FrameAssembler::new(FrameLimits::default());
    // Frames before the first key frame cannot be decoded; they are reported lost. (webrtc-rs
    // drops a stream's first packets when they beat its own track set-up, so the first frame
    // the master sent can be missing.)
    let mut decodable = false;
    let mut asked: Option<tokio::time::Instant> = None;
    while let Some(event) = track.poll().await {
        let TrackRemoteEvent::OnRtpPacket(packet) = event else {
            continue;
        };
        let h = &packet.header;
        let ssrc = h.ssrc;
        for result in frames.push(h.sequence_number, h.timestamp, h.marker, packet.payload) {
            decodable |= result.as_ref().is_ok_and(|f| f.key);
            // A frame that cannot be decoded (lost, or before any key frame): ask for a key
            // frame, at most every KEY_FRAME_REQUEST_GAP.
            let stuck = result.is_err() || !decodable;
            if stuck && asked.is_none_or(|at| at.elapsed() >= KEY_FRAME_REQUEST_GAP) {
                asked = Some(tokio::time::Instant::now());
                request_key_frame(track.as_ref(), ssrc).await;
            }
            let event = match result {
                Ok(frame) if decodable => PeerEvent::VideoFrame {
                    peer: peer.clone(),
                    data: frame.data,
                    key: frame.key,
                },
                Ok(_) | Err(_) => PeerEvent::VideoFrameLost { peer: peer.clone() },
            };
            let _ = events.send(event).await;
        }
    }
}
