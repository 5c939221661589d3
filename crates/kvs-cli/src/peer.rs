//! `kvs-signaling master --webrtc` and `viewer --webrtc`: real peer connections set up
//! through the signaling session, with every signaling and peer event as a JSON line.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use kvs_client::{ClientOptions, SignalingClient};
use kvs_webrtc::core::peers::CloseReason;
use kvs_webrtc::master::Master;
use kvs_webrtc::video::VideoSpec;
use kvs_webrtc::viewer::Viewer;
use kvs_webrtc::{PeerEvent, PeerOptions};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::pipe::{emit, event_line};

/// Peer-connection options of `master` and `viewer`.
#[derive(Args, Debug, Clone)]
pub struct WebrtcArgs {
    /// Set up real WebRTC peer connections through signaling instead of acting as a pipe:
    /// the master answers up to 10 viewers, echoes data-channel messages and sends H.264;
    /// the viewer opens a data channel, sends each stdin line and prints each reply.
    #[arg(long)]
    pub webrtc: bool,
    /// Use relay candidates only (TURN), as `iceTransportPolicy: "relay"` does.
    #[arg(long, requires = "webrtc")]
    pub relay: bool,
    /// The STUN server, e.g. stun:stun.example.com:3478. Default: the region's KVS STUN server,
    /// or the first TURN server's host and port for a custom endpoint.
    #[arg(long, requires = "webrtc")]
    pub stun_url: Option<String>,
    /// Master: send this H.264 Annex-B file (looped) instead of the generated test pattern.
    #[arg(long, requires = "webrtc")]
    pub video: Option<PathBuf>,
    /// Master: frames per second of the video.
    #[arg(long, default_value_t = 30, requires = "webrtc")]
    pub fps: u32,
    /// No video: the master answers video offers with the data channel only; the viewer
    /// offers a data channel only (as the KVS JS SDK often does).
    #[arg(long, requires = "webrtc", conflicts_with = "video")]
    pub no_video: bool,
    /// Viewer: offer receive-only video without a data channel (stdin lines are refused).
    #[arg(long, requires = "webrtc", conflicts_with = "no_video")]
    pub no_data_channel: bool,
    /// Viewer: give up when the master has not answered the offer within this many seconds.
    #[arg(long, default_value_t = 15, requires = "webrtc")]
    pub answer_timeout: u64,
    /// Viewer: append the received video to this file (H.264 Annex-B).
    #[arg(long, requires = "webrtc")]
    pub save: Option<PathBuf>,
}

impl WebrtcArgs {
    pub fn peer_options(&self, region: &str, endpoint: &str) -> PeerOptions {
        let mut peer = PeerOptions::new(region, endpoint);
        peer.relay_only = self.relay;
        peer.stun_url = self.stun_url.clone();
        peer.answer_timeout = Duration::from_secs(self.answer_timeout.max(1));
        peer.offer_video = !self.no_video;
        peer.offer_data_channel = !self.no_data_channel;
        peer
    }

    pub fn video(&self) -> Option<VideoSpec> {
        if self.no_video {
            return None;
        }
        Some(match &self.video {
            Some(path) => VideoSpec::File {
                path: path.clone(),
                fps: self.fps,
            },
            None => VideoSpec::Pattern {
                width: 320,
                height: 240,
                fps: self.fps,
            },
        })
    }
}

/// The JSON line for a peer event (signaling events as the pipes print them).
pub fn peer_line(event: &PeerEvent) -> Option<Value> {
    Some(match event {
        PeerEvent::Signaling(e) => return event_line(e),
        PeerEvent::Opened {
            peer,
            data_channel,
            video,
        } => {
            json!({"event": "peerOpened", "peer": peer, "dataChannel": data_channel, "video": video})
        }
        PeerEvent::IceServers {
            peer,
            stun,
            turn,
            skipped,
        } => json!({
            "event": "iceServers",
            "peer": peer,
            "stun": stun,
            "turn": turn,
            "skipped": skipped.iter().map(|(uri, reason)| json!({"uri": uri, "reason": reason})).collect::<Vec<_>>(),
        }),
        PeerEvent::IceState { peer, state } => {
            json!({"event": "iceState", "peer": peer, "state": state})
        }
        PeerEvent::Connected { peer, pair } => json!({
            "event": "peerConnected",
            "peer": peer,
            "selectedPair": pair,
            "relayed": pair.as_ref().map(|p| p.is_relayed()),
        }),
        PeerEvent::DataChannelOpen { peer, label } => {
            json!({"event": "dataChannelOpen", "peer": peer, "label": label})
        }
        PeerEvent::Data { peer, data } => json!({
            "event": "data",
            "peer": peer,
            "bytes": data.len(),
            "text": String::from_utf8_lossy(data),
        }),
        PeerEvent::VideoFrame { .. } | PeerEvent::VideoFrameLost { .. } => return None,
        PeerEvent::IceFailed { peer, failure } => json!({
            "event": "error",
            "kind": "ice",
            "peer": peer,
            "cause": format!("{:?}", failure.cause),
            "message": failure.to_string(),
        }),
        PeerEvent::SdpFailed { peer, error } => {
            json!({"event": "error", "kind": "sdp", "peer": peer, "message": error.to_string()})
        }
        PeerEvent::NoAnswer { peer, waited } => json!({
            "event": "error",
            "kind": "noAnswer",
            "peer": peer,
            "message": no_answer(*waited),
        }),
        PeerEvent::StackError { peer, error } => {
            json!({"event": "error", "kind": "webrtc", "peer": peer, "message": error})
        }
        PeerEvent::Refused { peer, reason } => {
            json!({"event": "error", "kind": "refused", "peer": peer, "message": reason.to_string()})
        }
        PeerEvent::Closed { peer, reason } => {
            json!({"event": "peerClosed", "peer": peer, "reason": reason.to_string()})
        }
        PeerEvent::PeerCount(n) => json!({"event": "peers", "live": n}),
        _ => return None,
    })
}

/// What a viewer without an answer should check.
pub fn no_answer(waited: Duration) -> String {
    format!(
        "timeout error: no SDP answer within {} s: check that a master is connected to the channel, that it serves fewer than 10 viewers, and its log for an SDP negotiation error",
        waited.as_secs()
    )
}

/// The master: answers viewers until interrupted or signaling ends.
pub async fn master(options: ClientOptions, args: &WebrtcArgs) -> anyhow::Result<()> {
    let peer_options = args.peer_options(&options.config.region, &options.config.endpoint);
    let video = args.video();
    if let Some(spec) = &video {
        spec.open().context("the video source")?; // a bad file fails now, not per viewer
    }
    let (session, signaling) = SignalingClient::<kvs_client::Master>::start(options)?;
    let result = serve_master(session.clone(), signaling, peer_options, video).await;
    session.close().await;
    result
}

/// Runs the peer-connection master on any signaling session (direct, or split mode's host),
/// printing its events as JSON lines, until interrupted or signaling ends.
pub async fn serve_master<S: kvs_client::SignalingSession<Peer = kvs_client::ViewerId>>(
    session: S,
    signaling: S::Events,
    peer_options: PeerOptions,
    video: Option<VideoSpec>,
) -> anyhow::Result<()> {
    let (master, mut events) = Master::start(session, signaling, peer_options, video);
    let result = loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(event) => {
                    if let PeerEvent::Signaling(kvs_client::Event::Closed(Some(e))) = &event {
                        let _ = peer_line(&event).map(emit);
                        break Err(anyhow::anyhow!("signaling ended: {e}"));
                    }
                    if let Some(line) = peer_line(&event) && emit(line).is_err() {
                        break Ok(());
                    }
                }
                None => break Ok(()),
            },
            _ = tokio::signal::ctrl_c() => break Ok(()),
        }
    };
    master.stop().await;
    result
}

/// Counts of the video a viewer received.
#[derive(Debug, Default)]
struct VideoCount {
    frames: u64,
    key_frames: u64,
    lost: u64,
    bytes: u64,
}

/// The viewer: sends stdin lines on the data channel and prints what comes back; after end
/// of stdin, waits for the replies (at most `REPLY_WAIT`) and stops.
pub async fn viewer(options: ClientOptions, args: &WebrtcArgs) -> anyhow::Result<()> {
    const REPLY_WAIT: Duration = Duration::from_secs(10);
    let peer_options = args.peer_options(&options.config.region, &options.config.endpoint);
    let mut save = match &args.save {
        Some(path) => Some(
            tokio::fs::File::create(path)
                .await
                .with_context(|| format!("cannot create {}", path.display()))?,
        ),
        None => None,
    };
    let (session, signaling) = SignalingClient::<kvs_client::Viewer>::start(options)?;
    let (viewer, mut events) = Viewer::start(session.clone(), signaling, peer_options);
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    let (mut open, mut stdin_open) = (false, true);
    let (mut waiting, mut sent, mut replies) = (Vec::new(), 0u64, 0u64);
    let mut video = VideoCount::default();
    let mut report = tokio::time::interval(Duration::from_secs(1));
    let give_up = tokio::time::sleep(Duration::MAX);
    tokio::pin!(give_up);
    let result = loop {
        tokio::select! {
            event = events.recv() => {
                let Some(event) = event else { break Ok(()) };
                match &event {
                    PeerEvent::DataChannelOpen { .. } => {
                        open = true;
                        for line in waiting.drain(..) {
                            viewer.send(line);
                            sent += 1;
                        }
                    }
                    PeerEvent::Data { .. } => replies += 1,
                    PeerEvent::VideoFrame { data, key, .. } => {
                        video.frames += 1;
                        video.key_frames += u64::from(*key);
                        video.bytes += data.len() as u64;
                        if let Some(file) = &mut save {
                            file.write_all(data).await.context("writing the saved video")?;
                        }
                    }
                    PeerEvent::VideoFrameLost { .. } => video.lost += 1,
                    _ => {}
                }
                if let Some(line) = peer_line(&event) && emit(line).is_err() {
                    break Ok(());
                }
                match event {
                    PeerEvent::Closed { reason, .. } => {
                        break match reason {
                            CloseReason::Stopped => Ok(()),
                            other => Err(anyhow::anyhow!("the peer connection closed: {other}")),
                        };
                    }
                    PeerEvent::Signaling(kvs_client::Event::Closed(Some(e))) => {
                        break Err(anyhow::anyhow!("signaling ended: {e}"));
                    }
                    _ => {}
                }
                if !stdin_open && replies >= sent && waiting.is_empty() {
                    break Ok(());
                }
            }
            line = stdin.next_line(), if stdin_open => match line {
                Ok(Some(_)) if args.no_data_channel => {
                    let _ = emit(json!({"event": "error", "message": "no data channel to send on (--no-data-channel)"}));
                }
                Ok(Some(line)) if open => {
                    viewer.send(line);
                    sent += 1;
                }
                Ok(Some(line)) => waiting.push(line),
                Ok(None) | Err(_) => {
                    stdin_open = false;
                    give_up.as_mut().reset(tokio::time::Instant::now() + REPLY_WAIT);
                    if args.no_data_channel || (replies >= sent && waiting.is_empty() && open) {
                        break Ok(());
                    }
                }
            },
            _ = report.tick(), if video.frames > 0 => {
                let _ = emit(video_line(&video));
            }
            _ = &mut give_up => break Err(anyhow::anyhow!(
                "timeout error: {} of {} data-channel messages were answered within {} s of the end of stdin",
                replies, sent + waiting.len() as u64, REPLY_WAIT.as_secs()
            )),
            _ = tokio::signal::ctrl_c() => break Ok(()),
        }
    };
    if video.frames > 0 {
        let _ = emit(video_line(&video));
    }
    if let Some(file) = &mut save {
        file.flush().await?;
    }
    viewer.stop().await;
    session.close().await;
    result
}

fn video_line(v: &VideoCount) -> Value {
    json!({"event": "video", "frames": v.frames, "keyFrames": v.key_frames, "lost": v.lost, "bytes": v.bytes})
}
