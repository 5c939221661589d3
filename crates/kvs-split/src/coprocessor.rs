//! The network coprocessor's side of split mode: it runs the signaling client (the only
//! holder of AWS credentials), forwards viewers' messages to the host once the host said
//! READY, holds them while the host sleeps (each for its time to live; an SDP offer is never
//! dropped for space), wakes the host through a hook when an offer comes, answers the host's
//! ICE-server and time requests, reports signaling state changes, and sends the host's
//! answers and candidates to the viewers.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use kvs_client::{Event, Master, MessageType, ReceivedMessage, SignalingClient, State, ViewerId};
use kvs_link::message::{IceServer, Message, SignalingKind};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::driver::{LinkEvent, LinkHandle};
use crate::transport::Io;

/// How the coprocessor wakes the host: a GPIO on a board; here a command to run or a
/// callback.
#[derive(Clone)]
pub enum WakeHook {
    /// Do nothing (the host is always on).
    None,
    /// Run this program with these arguments (e.g. start the host process).
    Command(Vec<String>),
    /// Call this.
    Callback(Arc<dyn Fn() + Send + Sync>),
}

impl std::fmt::Debug for WakeHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Command(c) => f.debug_tuple("Command").field(c).finish(),
            Self::Callback(_) => f.write_str("Callback"),
        }
    }
}

impl WakeHook {
    fn fire(&self) {
        match self {
            Self::None => {}
            Self::Command(argv) => {
                let Some((program, args)) = argv.split_first() else {
                    return;
                };
                match std::process::Command::new(program).args(args).spawn() {
                    Ok(child) => info!(pid = child.id(), program, "woke the host"),
                    Err(e) => warn!(program, error = %e, "the wake command failed to start"),
                }
            }
            Self::Callback(f) => f(),
        }
    }
}

/// The coprocessor's settings.
#[derive(Debug, Clone)]
pub struct CoprocessorOptions {
    /// How to wake the host.
    pub wake: WakeHook,
    /// At most this many messages are held for a sleeping host (offers always are).
    pub max_held: usize,
    /// How long a held message lives (the channel's message TTL).
    pub message_ttl: Duration,
    /// The region and the signaling endpoint, for the STUN server handed out at index 0.
    pub region: String,
    /// See `region`.
    pub endpoint: String,
    /// The link's settings.
    pub link: kvs_link::Config,
}

impl CoprocessorOptions {
    /// Waking the host with `wake`, for a session in `region` against `endpoint`: at most 64
    /// messages held for a sleeping host, each for a minute (the channel's default message
    /// TTL), on the default link.
    pub fn new(wake: WakeHook, region: impl Into<String>, endpoint: impl Into<String>) -> Self {
        Self {
            wake,
            max_held: 64,
            message_ttl: Duration::from_secs(60),
            region: region.into(),
            endpoint: endpoint.into(),
            link: kvs_link::Config::default(),
        }
    }
}

/// Something the coprocessor did, for its log and timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoprocessorEvent {
    /// The signaling client's state.
    Signaling(State),
    /// The host said READY; `flushed` held messages went to it.
    HostReady {
        /// How many.
        flushed: usize,
    },
    /// The link to the host went down (the host sleeps or is gone).
    HostAway,
    /// A viewer's message was held for the sleeping host.
    Held {
        /// Its type.
        message_type: MessageType,
        /// Messages now held.
        held: usize,
    },
    /// The wake hook was fired.
    WakeSent,
    /// A held message expired or was dropped for space.
    Dropped {
        /// Its type.
        message_type: MessageType,
        /// Why.
        reason: &'static str,
    },
    /// A message went to the host.
    Forwarded(MessageType),
    /// The host answered or sent a candidate, relayed to a viewer.
    Relayed(MessageType),
    /// The host restarted; what it had not acknowledged is sent again.
    HostRestarted,
    /// The signaling session ended.
    Closed(String),
}

struct Held {
    message: ReceivedMessage,
    expires: Instant,
}

/// Runs the coprocessor until the signaling session ends; its events go to `events`.
pub async fn run(
    session: SignalingClient<Master>,
    mut signaling: kvs_client::Events,
    io: impl Io,
    options: CoprocessorOptions,
    events: mpsc::Sender<CoprocessorEvent>,
) {
    let link_config = kvs_link::Config {
        resend_after_peer_reboot: true,
        ..options.link.clone()
    };
    let (link, mut link_events) = LinkHandle::start(io, link_config);
    let mut host_ready = false;
    let mut held: VecDeque<Held> = VecDeque::new();
    let mut last_wake: Option<Instant> = None;
    let say = |e: CoprocessorEvent| {
        let events = events.clone();
        async move {
            let _ = events.send(e).await;
        }
    };
    let mut sweep = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            event = signaling.next() => {
                let Some(event) = event else { break };
                match event {
                    Event::StateChanged(state) => {
                        say(CoprocessorEvent::Signaling(state)).await;
                        if host_ready {
                            let _ = link.send(&Message::SignalingState { state: state.as_str().into() }).await;
                        }
                    }
                    Event::Message(message) => {
                        let is_offer = message.message_type == MessageType::SdpOffer;
                        if host_ready {
                            forward(&link, &message).await;
                            say(CoprocessorEvent::Forwarded(message.message_type)).await;
                        } else {
                            let message_type = message.message_type;
                            hold(&mut held, message, options.max_held, options.message_ttl, &events).await;
                            say(CoprocessorEvent::Held { message_type, held: held.len() }).await;
                            if is_offer && last_wake.is_none_or(|t| t.elapsed() > Duration::from_secs(2)) {
                                last_wake = Some(Instant::now());
                                options.wake.fire();
                                say(CoprocessorEvent::WakeSent).await;
                                // Harmless if the host is up: it answers READY again.
                                let _ = link.send(&Message::ReadyQuery).await;
                            }
                        }
                    }
                    Event::Closed(e) => {
                        say(CoprocessorEvent::Closed(e.map(|e| e.to_string()).unwrap_or_default())).await;
                        break;
                    }
                    _ => {}
                }
            }
            event = link_events.recv() => {
                let Some(event) = event else { break };
                match event {
                    LinkEvent::Up { .. } => {
                        // A host that is up says READY; ask in case it already did before a
                        // restart of ours.
                        let _ = link.send(&Message::ReadyQuery).await;
                    }
                    LinkEvent::Down => {
                        host_ready = false;
                        say(CoprocessorEvent::HostAway).await;
                    }
                    LinkEvent::PeerRebooted { .. } => {
                        host_ready = false;
                        say(CoprocessorEvent::HostRestarted).await;
                    }
                    LinkEvent::Message(m) => match m {
                        Message::Ready => {
                            let was_ready = std::mem::replace(&mut host_ready, true);
                            let now = Instant::now();
                            let mut flushed = 0;
                            let state = session.state();
                            if !was_ready {
                                let _ = link.send(&Message::SignalingState { state: state.as_str().into() }).await;
                            }
                            while let Some(h) = held.pop_front() {
                                if h.expires > now {
                                    forward(&link, &h.message).await;
                                    flushed += 1;
                                }
                            }
                            say(CoprocessorEvent::HostReady { flushed }).await;
                        }
                        Message::WakeRequest => options.wake.fire(),
                        Message::IceServerRequest { index } => {
                            let answer = ice_server(&session, &options, index);
                            let _ = link.send(&answer).await;
                        }
                        Message::TimeRequest { id } => {
                            let unix_millis = SystemTime::now()
                                .duration_since(SystemTime::UNIX_EPOCH)
                                .map(|d| d.as_millis() as u64)
                                .unwrap_or_default();
                            let _ = link.send(&Message::TimeResponse { id, unix_millis }).await;
                        }
                        Message::Signaling { kind, peer_client_id, payload, .. } => {
                            let Ok(to) = ViewerId::new(peer_client_id) else { continue };
                            let (sent, message_type) = match kind {
                                SignalingKind::Answer => (session.send_answer(&to, payload).await, MessageType::SdpAnswer),
                                SignalingKind::Candidate => (session.send_ice_candidate(&to, payload).await, MessageType::IceCandidate),
                                SignalingKind::Offer => (session.send_offer(&to, payload).await, MessageType::SdpOffer),
                            };
                            match sent {
                                Ok(()) => say(CoprocessorEvent::Relayed(message_type)).await,
                                Err(e) => {
                                    let _ = link.send(&Message::Status { code: 400, text: e.to_string() }).await;
                                }
                            }
                        }
                        other => info!(message = ?other, "from the host"),
                    },
                    LinkEvent::Unreadable(e) => warn!(error = ?e, "an unreadable message from the host"),
                    LinkEvent::Closed(why) => {
                        warn!(cause = %why, "the link to the host ended");
                        break;
                    }
                }
            }
            _ = sweep.tick() => {
                let now = Instant::now();
                while let Some(h) = held.front() {
                    if h.expires > now { break; }
                    let message_type = h.message.message_type;
                    held.pop_front();
                    say(CoprocessorEvent::Dropped { message_type, reason: "expired while the host slept" }).await;
                }
            }
        }
    }
}

/// Holds a message for the sleeping host. Full: drop the oldest candidate (first one of a
/// viewer whose offer was superseded), never an offer. A new offer from a viewer supersedes
/// its earlier offer and candidates.
async fn hold(
    held: &mut VecDeque<Held>,
    message: ReceivedMessage,
    max: usize,
    ttl: Duration,
    events: &mpsc::Sender<CoprocessorEvent>,
) {
    if message.message_type == MessageType::SdpOffer {
        let before = held.len();
        held.retain(|h| h.message.sender_client_id != message.sender_client_id);
        for _ in held.len()..before {
            let _ = events
                .send(CoprocessorEvent::Dropped {
                    message_type: MessageType::IceCandidate,
                    reason: "superseded by a newer offer from the same viewer",
                })
                .await;
        }
    }
    while held.len() >= max {
        let Some(i) = held
            .iter()
            .position(|h| h.message.message_type != MessageType::SdpOffer)
        else {
            break; // only offers: keep them all
        };
        if let Some(h) = held.remove(i) {
            let _ = events
                .send(CoprocessorEvent::Dropped {
                    message_type: h.message.message_type,
                    reason: "no room while the host slept",
                })
                .await;
        }
    }
    held.push_back(Held {
        message,
        expires: Instant::now() + ttl,
    });
}

async fn forward(link: &LinkHandle, message: &ReceivedMessage) {
    let kind = match message.message_type {
        MessageType::SdpOffer => SignalingKind::Offer,
        MessageType::SdpAnswer => SignalingKind::Answer,
        _ => SignalingKind::Candidate,
    };
    let m = Message::Signaling {
        kind,
        peer_client_id: message.sender_client_id.clone().unwrap_or_default(),
        correlation_id: String::new(),
        payload: message.payload.clone(),
    };
    if let Err(e) = link.send(&m).await {
        warn!(error = %e, "a message for the host was not queued");
    }
}

/// Index 0: the STUN server; 1..: each TURN server the signaling client knows.
fn ice_server(
    session: &SignalingClient<Master>,
    options: &CoprocessorOptions,
    index: u8,
) -> Message {
    let turn = session.ice_servers();
    let plan = kvs_webrtc_core::ice_servers::plan(&options.region, &options.endpoint, &turn, None);
    let server = match index {
        0 => plan.stun.map(|stun| IceServer {
            uris: vec![stun],
            ..IceServer::default()
        }),
        i => turn.get(usize::from(i) - 1).map(|s| IceServer {
            uris: s.uris.clone(),
            username: s.username.clone(),
            credential: s.password.clone(),
            ttl_secs: s.ttl,
        }),
    };
    Message::IceServerResponse {
        index,
        server,
        more: usize::from(index) < turn.len(),
    }
}
