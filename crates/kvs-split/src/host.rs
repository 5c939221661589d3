//! The main processor's side of split mode: a [`SignalingSession`] whose signaling runs on the
//! network coprocessor, so peer-connection code (the `kvs-webrtc` master included) is the
//! same in split and direct mode. The host holds no AWS credentials: it gets the viewers'
//! messages, the signaling state, the ICE servers (one by one, STUN first, so gathering can
//! start at once) and the time from the coprocessor over the link.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use futures_util::Stream;
use kvs_client::{
    ChannelRole, Error, Event, IceServer, MessageType, Peer, ReceivedMessage, SendError,
    SessionError, SignalingSession, State, ViewerId,
};
use kvs_link::message::{Message, SignalingKind};
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use crate::driver::{LinkEvent, LinkHandle, SendFailed};
use crate::transport::Io;

/// What the host learned from the coprocessor.
#[derive(Debug, Default)]
struct Learned {
    stun: Option<String>,
    turn: Vec<IceServer>,
    /// The coprocessor's clock minus ours, half the round trip included.
    clock_offset: Option<Duration>,
    clock_ahead: bool,
    time_asked_at: Option<(u32, SystemTime)>,
}

/// The host's signaling session (a master's); clone it freely.
#[derive(Debug, Clone)]
pub struct Host {
    link: LinkHandle,
    state: watch::Receiver<State>,
    learned: Arc<Mutex<Learned>>,
}

/// The host's events, in order; the stream ends after [`Event::Closed`].
#[derive(Debug)]
pub struct HostEvents(mpsc::Receiver<Event>);

impl Stream for HostEvents {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.0.poll_recv(cx)
    }
}

impl Host {
    /// Runs the host's end of the link on `io`. It says READY as soon as the link is up (the
    /// application is running and holds the event stream), then asks for the ICE servers and
    /// the time.
    pub fn start(io: impl Io, config: kvs_link::Config) -> (Self, HostEvents) {
        let config = kvs_link::Config {
            // Answers and candidates for a coprocessor that restarted belong to a signaling
            // session that no longer exists.
            resend_after_peer_reboot: false,
            ..config
        };
        let (link, link_events) = LinkHandle::start(io, config);
        let (state_tx, state) = watch::channel(State::New);
        let (events_tx, events) = mpsc::channel(256);
        let learned = Arc::new(Mutex::new(Learned::default()));
        tokio::spawn(run(
            link.clone(),
            link_events,
            state_tx,
            events_tx,
            learned.clone(),
        ));
        (
            Self {
                link,
                state,
                learned,
            },
            HostEvents(events),
        )
    }

    /// The STUN server the coprocessor named (index 0), once known.
    pub fn stun(&self) -> Option<String> {
        lock(&self.learned).stun.clone()
    }

    /// How far the coprocessor's clock is ahead of ours (negative: behind), once asked.
    pub fn clock_offset(&self) -> Option<(Duration, bool)> {
        let l = lock(&self.learned);
        l.clock_offset.map(|d| (d, l.clock_ahead))
    }

    async fn send(
        &self,
        kind: SignalingKind,
        to: &ViewerId,
        payload: Vec<u8>,
    ) -> Result<(), SendError> {
        if payload.is_empty() {
            return Err(SendError::EmptyPayload);
        }
        let message = Message::Signaling {
            kind,
            peer_client_id: to.recipient_client_id().unwrap_or_default().to_owned(),
            correlation_id: String::new(),
            payload,
        };
        self.link.send(&message).await.map_err(|e| match e {
            SendFailed::QueueFull => SendError::QueueFull { limit: 0 },
            SendFailed::TooLarge => SendError::PayloadTooLarge { len: 65_536 },
            _ => SendError::NotConnected(*self.state.borrow()),
        })
    }
}

fn lock(m: &Mutex<Learned>) -> std::sync::MutexGuard<'_, Learned> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl SignalingSession for Host {
    type Peer = ViewerId;
    type Events = HostEvents;

    fn role(&self) -> ChannelRole {
        ChannelRole::Master
    }

    fn state(&self) -> State {
        *self.state.borrow()
    }

    fn ice_servers(&self) -> Vec<IceServer> {
        lock(&self.learned).turn.clone()
    }

    async fn connected(&self) -> Result<(), SessionError> {
        let mut state = self.state.clone();
        state
            .wait_for(|s| *s == State::Connected)
            .await
            .map(|_| ())
            .map_err(|_| SessionError::Closed)
    }

    async fn send_offer(&self, to: &ViewerId, sdp: Vec<u8>) -> Result<(), SendError> {
        self.send(SignalingKind::Offer, to, sdp).await
    }

    async fn send_answer(&self, to: &ViewerId, sdp: Vec<u8>) -> Result<(), SendError> {
        self.send(SignalingKind::Answer, to, sdp).await
    }

    async fn send_ice_candidate(&self, to: &ViewerId, candidate: Vec<u8>) -> Result<(), SendError> {
        self.send(SignalingKind::Candidate, to, candidate).await
    }
}

async fn run(
    link: LinkHandle,
    mut link_events: mpsc::Receiver<LinkEvent>,
    state: watch::Sender<State>,
    events: mpsc::Sender<Event>,
    learned: Arc<Mutex<Learned>>,
) {
    let mut time_id = 0u32;
    let emit = |event: Event| {
        let events = events.clone();
        async move { events.send(event).await.is_ok() }
    };
    while let Some(event) = link_events.recv().await {
        let out = match event {
            LinkEvent::Up { peer_session } => {
                info!(peer_session, "the coprocessor is reachable; READY");
                time_id = time_id.wrapping_add(1);
                lock(&learned).time_asked_at = Some((time_id, SystemTime::now()));
                for m in [
                    Message::Ready,
                    Message::IceServerRequest { index: 0 },
                    Message::TimeRequest { id: time_id },
                ] {
                    let _ = link.send(&m).await;
                }
                continue;
            }
            LinkEvent::Down => {
                warn!("nothing from the coprocessor for the link timeout");
                continue;
            }
            LinkEvent::PeerRebooted { discarded, .. } => {
                *lock(&learned) = Learned::default();
                state.send_replace(State::Disconnected);
                let _ = emit(Event::StateChanged(State::Disconnected)).await;
                Event::Error(Error::Transport {
                    during: State::Connected,
                    message: format!(
                        "the network coprocessor restarted; it re-creates the signaling session \
                         ({discarded} message(s) for the old one dropped)"
                    ),
                })
            }
            LinkEvent::Unreadable(e) => {
                warn!(error = ?e, "an unreadable message from the coprocessor (another version?)");
                continue;
            }
            LinkEvent::Closed(why) => {
                let during = *state.borrow();
                let _ = emit(Event::Closed(Some(Error::Transport {
                    during,
                    message: format!("the link to the coprocessor ended: {why}"),
                })))
                .await;
                return;
            }
            LinkEvent::Message(m) => match m {
                Message::Signaling {
                    kind,
                    peer_client_id,
                    payload,
                    ..
                } => Event::Message(ReceivedMessage {
                    message_type: match kind {
                        SignalingKind::Offer => MessageType::SdpOffer,
                        SignalingKind::Answer => MessageType::SdpAnswer,
                        SignalingKind::Candidate => MessageType::IceCandidate,
                    },
                    sender_client_id: (!peer_client_id.is_empty()).then_some(peer_client_id),
                    payload,
                }),
                Message::ReadyQuery => {
                    let _ = link.send(&Message::Ready).await;
                    continue;
                }
                Message::SignalingState { state: name } => match State::from_name(&name) {
                    Some(s) => {
                        state.send_replace(s);
                        if s == State::Connected {
                            // The TURN servers are known (or new) once signaling connects.
                            let _ = link.send(&Message::IceServerRequest { index: 0 }).await;
                        }
                        Event::StateChanged(s)
                    }
                    None => continue,
                },
                Message::IceServerResponse {
                    index,
                    server,
                    more,
                } => {
                    let turn = {
                        let mut l = lock(&learned);
                        match (index, server) {
                            (0, server) => {
                                // A new round: the list is rebuilt from index 1.
                                l.stun = server.and_then(|s| s.uris.into_iter().next());
                                l.turn.clear();
                            }
                            (i, Some(s)) => {
                                let server = IceServer {
                                    uris: s.uris,
                                    username: s.username,
                                    password: s.credential,
                                    ttl: s.ttl_secs,
                                };
                                // Indexes may be answered twice (two rounds crossing): keep
                                // one entry per index.
                                let at = usize::from(i) - 1;
                                if let Some(slot) = l.turn.get_mut(at) {
                                    *slot = server;
                                } else if at == l.turn.len() {
                                    l.turn.push(server);
                                }
                            }
                            (_, None) => {}
                        }
                        l.turn.clone()
                    };
                    if more {
                        let next = Message::IceServerRequest {
                            index: index.saturating_add(1),
                        };
                        let _ = link.send(&next).await;
                    }
                    Event::IceServers(turn)
                }
                Message::TimeResponse { id, unix_millis } => {
                    let mut l = lock(&learned);
                    if let Some((asked, at)) = l.time_asked_at
                        && asked == id
                    {
                        let now = SystemTime::now();
                        let rtt = now.duration_since(at).unwrap_or_default();
                        let theirs =
                            SystemTime::UNIX_EPOCH + Duration::from_millis(unix_millis) + rtt / 2;
                        let (offset, ahead) = match theirs.duration_since(now) {
                            Ok(d) => (d, true),
                            Err(e) => (e.duration(), false),
                        };
                        l.clock_offset = Some(offset);
                        l.clock_ahead = ahead;
                        info!(
                            offset_ms = offset.as_millis() as u64,
                            ahead, "time from the coprocessor"
                        );
                    }
                    continue;
                }
                Message::Status { code, text } if code != 0 => Event::Error(Error::Transport {
                    during: *state.borrow(),
                    message: format!("the coprocessor reports {code}: {text}"),
                }),
                other => {
                    info!(message = ?other, "from the coprocessor");
                    continue;
                }
            },
        };
        if !emit(out).await {
            return;
        }
    }
}
