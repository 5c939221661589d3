//! The loop between a signaling session and its peer tasks, the same for both roles: SDP
//! and candidates from signaling go through the [`Peers`] table (which owns, holds and tears
//! down), its [`Action`]s become peer tasks and [`Command`]s, and what the tasks report
//! ([`Back`]) goes back into the table. Timers come from [`Peers::poll_timeout`].

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Instant;

use futures_util::StreamExt;
use kvs_client::{MessageType, Peer, SignalingSession};
use kvs_proto::client::Event;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::core::peers::{Action, CloseReason, Generation, Peers};
use crate::events::PeerEvent;
use crate::link::{self, Back, Command, Context, Setup};
use crate::stack::PeerOptions;
use crate::video::VideoSpec;

/// Which side of the session this loop runs.
pub(crate) enum Side {
    /// Answers viewers' offers.
    Master { video: Option<VideoSpec> },
    /// Offers to the master.
    Viewer,
}

/// What a viewer's application asks of its peer connection.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// A data-channel message.
    Data(Vec<u8>),
    /// A key frame (a Picture Loss Indication to the master).
    KeyFrame,
}

/// The name a viewer gives its one peer: the master.
pub const MASTER: &str = "master";

pub(crate) struct Control<S: SignalingSession> {
    pub session: S,
    pub options: PeerOptions,
    pub side: Side,
    pub events: mpsc::Sender<PeerEvent>,
    pub live: Arc<AtomicUsize>,
}

struct Running<S: SignalingSession> {
    control: Control<S>,
    peers: Peers,
    links: HashMap<String, (Generation, mpsc::UnboundedSender<Command>)>,
    addressees: HashMap<String, S::Peer>,
    back_tx: mpsc::UnboundedSender<Back>,
    tasks: JoinSet<()>,
}

impl<S: SignalingSession> Control<S> {
    /// Runs until the signaling session closes, `stop` turns true, or (viewer) the peer
    /// connection ends. `outgoing` carries what the viewer's application asks for.
    pub async fn run(
        self,
        mut signaling: S::Events,
        mut stop: watch::Receiver<bool>,
        mut outgoing: mpsc::UnboundedReceiver<Outgoing>,
    ) {
        let (back_tx, mut back_rx) = mpsc::unbounded_channel();
        let mut peers_config = self.options.peers;
        if matches!(self.side, Side::Viewer) {
            peers_config.max_peers = 1;
        }
        let mut run = Running {
            peers: Peers::new(peers_config),
            control: self,
            links: HashMap::new(),
            addressees: HashMap::new(),
            back_tx,
            tasks: JoinSet::new(),
        };
        if matches!(run.control.side, Side::Viewer)
            && !run.viewer_start(&mut signaling, &mut stop).await
        {
            return;
        }
        loop {
            let deadline = run.peers.poll_timeout();
            tokio::select! {
                event = signaling.next() => {
                    let Some(event) = event else { break };
                    let closed = matches!(event, Event::Closed(_));
                    run.signaling(&event).await;
                    run.emit(PeerEvent::Signaling(event)).await;
                    if closed {
                        break;
                    }
                }
                Some(back) = back_rx.recv() => {
                    if run.back(back) {
                        break;
                    }
                }
                Some(out) = outgoing.recv() => {
                    if let Some((_, link)) = run.links.get(MASTER) {
                        let _ = link.send(match out {
                            Outgoing::Data(data) => Command::Send(data),
                            Outgoing::KeyFrame => Command::KeyFrame,
                        });
                    }
                }
                _ = sleep_until(deadline) => {
                    let actions = run.peers.handle_timeout(Instant::now());
                    run.execute(actions);
                }
                Some(_) = run.tasks.join_next(), if !run.tasks.is_empty() => {}
                _ = stop.changed() => break,
            }
        }
        let actions = run.peers.close_all();
        run.execute(actions);
        while run.tasks.join_next().await.is_some() {}
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

impl<S: SignalingSession> Running<S> {
    async fn emit(&self, event: PeerEvent) {
        let _ = self.control.events.send(event).await;
    }

    /// The viewer's start: wait for CONNECTED (passing events on), then open the offer.
    async fn viewer_start(
        &mut self,
        signaling: &mut S::Events,
        stop: &mut watch::Receiver<bool>,
    ) -> bool {
        let session = self.control.session.clone();
        let connected = session.connected();
        tokio::pin!(connected);
        loop {
            tokio::select! {
                result = &mut connected => {
                    if result.is_err() {
                        return false;
                    }
                    break;
                }
                event = signaling.next() => {
                    let Some(event) = event else { return false };
                    self.emit(PeerEvent::Signaling(event)).await;
                }
                _ = stop.changed() => return false,
            }
        }
        match self.peers.offer(MASTER, Vec::new()) {
            Ok(actions) => self.execute(actions),
            Err(reason) => {
                self.emit(PeerEvent::Refused {
                    peer: MASTER.into(),
                    reason,
                })
                .await
            }
        }
        true
    }

    async fn signaling(&mut self, event: &Event) {
        let Event::Message(message) = event else {
            return;
        };
        let Some(from) = S::Peer::sender_of(message) else {
            return;
        };
        let name = from.recipient_client_id().unwrap_or(MASTER).to_owned();
        match (&self.control.side, message.message_type) {
            (Side::Master { .. }, MessageType::SdpOffer) => {
                match self.peers.offer(&name, message.payload.clone()) {
                    Ok(actions) => {
                        self.addressees.insert(name, from);
                        self.execute(actions);
                    }
                    Err(reason) => self.emit(PeerEvent::Refused { peer: name, reason }).await,
                }
            }
            (Side::Viewer, MessageType::SdpAnswer) => {
                if let Some((_, link)) = self.links.get(MASTER) {
                    let _ = link.send(Command::RemoteDescription(message.payload.clone()));
                }
            }
            (_, MessageType::IceCandidate) => {
                match self.peers.candidate(&name, message.payload.clone()) {
                    Ok(Some(action)) => self.execute(vec![action]),
                    Ok(None) => {}
                    Err(reason) => tracing::debug!(peer = %name, "candidate not taken: {reason}"),
                }
            }
            _ => tracing::debug!(peer = %name, "unexpected {:?} ignored", message.message_type),
        }
    }

    /// A peer task's report; true when the viewer's peer connection ended.
    fn back(&mut self, back: Back) -> bool {
        match back {
            Back::RemoteDescriptionSet(name, generation) => {
                let actions = self.peers.remote_description_set(&name, generation);
                self.execute(actions);
            }
            Back::Ice(name, generation, state) => {
                let action = self
                    .peers
                    .ice_state(Instant::now(), &name, generation, state);
                self.execute(action.into_iter().collect());
            }
            Back::Ended(name, generation) => {
                let action = self.peers.ended(&name, generation, CloseReason::PeerClosed);
                self.execute(action.into_iter().collect());
                if self.links.get(&name).is_some_and(|(g, _)| *g == generation) {
                    self.links.remove(&name);
                }
                return matches!(self.control.side, Side::Viewer) && self.links.is_empty();
            }
        }
        false
    }

    fn execute(&mut self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Open {
                    viewer,
                    generation,
                    offer,
                } => self.open(viewer, generation, offer),
                Action::AddCandidate {
                    viewer,
                    generation,
                    candidate,
                } => {
                    if let Some((g, link)) = self.links.get(&viewer)
                        && *g == generation
                    {
                        let _ = link.send(Command::AddCandidate(candidate));
                    }
                }
                Action::Close {
                    viewer,
                    generation,
                    reason,
                } => {
                    if self
                        .links
                        .get(&viewer)
                        .is_some_and(|(g, _)| *g == generation)
                        && let Some((_, link)) = self.links.remove(&viewer)
                    {
                        let _ = link.send(Command::Close(reason));
                    }
                }
            }
        }
    }

    fn open(&mut self, name: String, generation: Generation, offer: Vec<u8>) {
        let to = match &self.control.side {
            Side::Master { .. } => self.addressees.remove(&name),
            Side::Viewer => S::Peer::from_recipient(None).ok(),
        };
        let Some(to) = to else { return };
        let setup = match &self.control.side {
            Side::Master { video } => Setup::Answer {
                offer,
                video: video.clone(),
            },
            Side::Viewer => Setup::Offer,
        };
        let (commands, rx) = mpsc::unbounded_channel();
        let ctx = Context {
            session: self.control.session.clone(),
            to,
            name: name.clone(),
            generation,
            plan: self
                .control
                .options
                .plan(&self.control.session.ice_servers()),
            options: self.control.options.clone(),
            events: self.control.events.clone(),
            back: self.back_tx.clone(),
            live: self.control.live.clone(),
            count_peers: matches!(self.control.side, Side::Master { .. }),
        };
        self.links.insert(name, (generation, commands));
        self.tasks.spawn(link::run(ctx, setup, rx));
    }
}
