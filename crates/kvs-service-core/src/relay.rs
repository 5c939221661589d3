//! Data-plane routing: who is connected to which channel, and where each client frame goes.
//! Pure logic on caller-supplied time; the server owns the sockets and hands frames in and out.
//!
//! Messages for a peer that is offline are held until the channel's MessageTtlSeconds and
//! delivered when it connects; a newer undelivered SDP from the same sender replaces the older
//! one. "Offline" means the master, or a viewer client id that left this channel (or sent an
//! Alexa offer) less than the message TTL ago; a message for any other client id is refused
//! at once. Nothing a peer sends grows without bound: departed viewer ids and held messages
//! expire with the TTL ([`Relay::sweep`] frees them), a channel remembers at most
//! [`MAX_DEPARTED_VIEWERS`] departed ids (the oldest is forgotten first) and holds at most
//! [`MAX_HELD_PER_PEER`] messages per recipient.
//!
//! With [`Limits`], the quotas of the real service apply: connects per channel, SDP and ICE
//! messages per connection, Alexa offers per channel.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use kvs_proto::api::ChannelRole;
use kvs_proto::wire::{Action, ClientFrame, FrameError, MessageType, ServiceFrame, StatusResponse};

use crate::channels::AlexaOffer;
use kvs_proto::rate::{Cell, Limits};

/// Identifies one WebSocket connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// The most viewers a channel accepts at once.
pub const MAX_VIEWERS: usize = 10;
/// The most messages held for one offline peer; older ones make room.
pub const MAX_HELD_PER_PEER: usize = 256;
/// The most departed viewer ids a channel remembers; the one that left first makes room.
pub const MAX_DEPARTED_VIEWERS: usize = 1024;

#[derive(Debug)]
struct Conn<O> {
    channel_arn: String,
    role: ChannelRole,
    client_id: Option<String>,
    sdp_rate: Cell,
    ice_rate: Cell,
    /// Where the driver writes this connection's frames; dropped when the connection leaves
    /// the table (disconnected, replaced, or its channel deleted).
    outbox: O,
}

/// A message waiting for its offline recipient.
#[derive(Debug)]
struct Held {
    expires: Instant,
    sender: Option<String>,
    kind: MessageType,
    frame: String,
}

/// Who a held message is for: `None` is the master.
type Recipient = Option<String>;

#[derive(Debug, Default)]
struct Peers {
    master: Option<ConnId>,
    viewers: HashMap<String, ConnId>,
    /// Viewer ids not connected now that may still be addressed, until the given time.
    departed: HashMap<String, Instant>,
    connect_rate: Cell,
    alexa_rate: Cell,
    ttl: Duration,
    held: HashMap<Recipient, VecDeque<Held>>,
}

impl Peers {
    /// True for a connected viewer and for one that left less than the TTL ago.
    fn knows_viewer(&self, client_id: &str, now: Instant) -> bool {
        self.viewers.contains_key(client_id)
            || self
                .departed
                .get(client_id)
                .is_some_and(|until| *until > now)
    }

    /// Remembers `client_id` as addressable until `until`, within [`MAX_DEPARTED_VIEWERS`].
    fn depart(&mut self, client_id: String, until: Instant) {
        if self.departed.len() >= MAX_DEPARTED_VIEWERS
            && !self.departed.contains_key(&client_id)
            && let Some(first) = self
                .departed
                .iter()
                .min_by_key(|(_, until)| **until)
                .map(|(id, _)| id.clone())
        {
            self.departed.remove(&first);
            self.held.remove(&Some(first));
        }
        self.departed.insert(client_id, until);
    }

    /// Drops what expired by `now`: departed ids and held messages.
    fn sweep(&mut self, now: Instant) {
        self.departed.retain(|_, until| *until > now);
        for queue in self.held.values_mut() {
            queue.retain(|h| h.expires > now);
        }
        self.held.retain(|_, queue| !queue.is_empty());
        // Nobody may address a viewer id that is gone, so nothing held for it can be released.
        let (viewers, departed) = (&self.viewers, &self.departed);
        self.held.retain(|to, _| match to {
            None => true,
            Some(id) => viewers.contains_key(id) || departed.contains_key(id),
        });
    }

    fn hold(&mut self, to: Recipient, held: Held) {
        let queue = self.held.entry(to).or_default();
        let is_sdp = matches!(held.kind, MessageType::SdpOffer | MessageType::SdpAnswer);
        if is_sdp
            && let Some(older) = queue
                .iter_mut()
                .find(|h| h.kind == held.kind && h.sender == held.sender)
        {
            *older = held;
            return;
        }
        if queue.len() == MAX_HELD_PER_PEER {
            queue.pop_front();
        }
        queue.push_back(held);
    }

    /// The unexpired messages held for `to`, oldest first.
    fn release(&mut self, to: &Recipient, now: Instant) -> Vec<String> {
        self.held
            .remove(to)
            .unwrap_or_default()
            .into_iter()
            .filter(|h| h.expires > now)
            .map(|h| h.frame)
            .collect()
    }
}

/// Where a client frame ends up. `W` is the relay's Alexa waiter type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routed<W = ()> {
    /// Send `frame` to connection `to`.
    Deliver {
        /// The recipient connection.
        to: ConnId,
        /// The service frame to send.
        frame: String,
        /// Send it this much later instead of now: an injected fault, which the service core
        /// sets ([`crate::ServiceCore::route`]); the relay alone always says `None`.
        delay: Option<Duration>,
    },
    /// The recipient is offline; the frame waits for it (up to the channel's message TTL).
    Held,
    /// Undeliverable; send this STATUS_RESPONSE back to the sender.
    Reply(String),
    /// Undeliverable and no correlation id to answer to; log `reason`.
    Dropped {
        /// Why.
        reason: String,
    },
    /// The master's answer to an offer from SendAlexaOfferToMaster: the offer no longer
    /// waits, and its `waiter` (the HTTP request) gets `payload`.
    AlexaAnswer {
        /// The channel.
        channel_arn: String,
        /// The Alexa sender it answers.
        client_id: String,
        /// The base64 SDP answer.
        payload: String,
        /// What the offer was waiting with.
        waiter: W,
    },
}

/// Where an Alexa offer went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlexaRouted {
    /// Send `frame` to the master's connection `to`.
    Deliver {
        /// The master's connection.
        to: ConnId,
        /// The SDP_OFFER frame.
        frame: String,
    },
    /// The master is offline; the offer is held for it.
    Held,
    /// Over the channel's rate of Alexa offers.
    RateExceeded,
}

/// Why a connection was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectError {
    /// Ten viewers are already connected.
    TooManyViewers,
    /// Over the channel's connect rate.
    RateExceeded,
}

/// A connection the relay accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    /// Its id.
    pub id: ConnId,
    /// The older connection it replaced (same master role, or same viewer client id).
    pub replaced: Option<ConnId>,
    /// Frames held for it while it was offline, to send first.
    pub held: Vec<String>,
}

/// The routing table of every channel's live connections, and the one place the driver's
/// handles live: each connection's outbox `O` (a channel sender in the service, `()` in
/// simulations), handed back for delivery and dropped when the connection leaves, and each
/// waiting Alexa offer's waiter `W` (what completes its HTTP request), handed back with the
/// master's answer and dropped when the offer is given up or its channel deleted.
#[derive(Debug)]
pub struct Relay<O = (), W = ()> {
    conns: HashMap<ConnId, Conn<O>>,
    channels: HashMap<String, Peers>,
    /// Alexa offers waiting for the master's answer, by channel, then sender client id.
    alexa_waiting: HashMap<String, HashMap<String, W>>,
    next_id: u64,
    limits: Option<Limits>,
}

impl<O, W> Default for Relay<O, W> {
    fn default() -> Self {
        Self {
            conns: HashMap::new(),
            channels: HashMap::new(),
            alexa_waiting: HashMap::new(),
            next_id: 0,
            limits: None,
        }
    }
}

impl Relay {
    /// An empty table with no rate limits and no driver handles (simulations, tests).
    pub fn new() -> Self {
        Self::default()
    }
}

impl<O, W> Relay<O, W> {
    /// An empty table that enforces `limits`.
    pub fn with_limits(limits: Option<Limits>) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// The outbox of a live connection.
    pub fn outbox(&self, id: ConnId) -> Option<&O> {
        self.conns.get(&id).map(|c| &c.outbox)
    }

    /// Number of live connections.
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    /// True when nobody is connected.
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// Registers a connection to a channel whose messages live `ttl`, with its `outbox`. A
    /// newer master, or a newer viewer with the same client id, takes over: the replaced
    /// connection leaves the table and its outbox is dropped, which tells its driver to hang up.
    pub fn connect(
        &mut self,
        now: Instant,
        channel_arn: &str,
        role: ChannelRole,
        client_id: Option<String>,
        ttl: Duration,
        outbox: O,
    ) -> Result<Joined, ConnectError> {
        let peers = self.channels.entry(channel_arn.to_owned()).or_default();
        if let Some(limits) = self.limits
            && !peers.connect_rate.admit(now, limits.connects_per_channel)
        {
            return Err(ConnectError::RateExceeded);
        }
        peers.ttl = ttl;
        let id = ConnId(self.next_id);
        let (replaced, recipient) = match (role, &client_id) {
            (ChannelRole::Master, _) => (peers.master.replace(id), None),
            (ChannelRole::Viewer, Some(cid)) => {
                if !peers.viewers.contains_key(cid) && peers.viewers.len() >= MAX_VIEWERS {
                    return Err(ConnectError::TooManyViewers);
                }
                peers.departed.remove(cid);
                (peers.viewers.insert(cid.clone(), id), Some(cid.clone()))
            }
            (ChannelRole::Viewer, None) => unreachable!("viewers always carry a client id"),
        };
        let held = peers.release(&recipient, now);
        self.next_id += 1;
        if let Some(old) = replaced {
            self.conns.remove(&old);
        }
        self.conns.insert(
            id,
            Conn {
                channel_arn: channel_arn.to_owned(),
                role,
                client_id,
                sdp_rate: Cell::default(),
                ice_rate: Cell::default(),
                outbox,
            },
        );
        Ok(Joined { id, replaced, held })
    }

    /// The live connection of a channel's master (`client_id` `None`) or of a viewer.
    pub fn find(&self, channel_arn: &str, client_id: Option<&str>) -> Option<ConnId> {
        let peers = self.channels.get(channel_arn)?;
        match client_id {
            None => peers.master,
            Some(id) => peers.viewers.get(id).copied(),
        }
    }

    /// The channel a live connection belongs to.
    pub fn channel_of(&self, id: ConnId) -> Option<&str> {
        self.conns.get(&id).map(|c| c.channel_arn.as_str())
    }

    /// Every live connection: its id, channel, role and client id.
    pub fn connections(&self) -> impl Iterator<Item = (ConnId, &str, ChannelRole, Option<&str>)> {
        self.conns
            .iter()
            .map(|(id, c)| (*id, c.channel_arn.as_str(), c.role, c.client_id.as_deref()))
    }

    /// Forgets a deleted channel: its peers, held messages, rate state, connections (whose
    /// outboxes are dropped) and waiting Alexa offers (whose waiters are dropped). Returns the
    /// connections it had.
    pub fn forget_channel(&mut self, channel_arn: &str) -> Vec<ConnId> {
        self.channels.remove(channel_arn);
        self.alexa_waiting.remove(channel_arn);
        let ids: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.channel_arn == channel_arn)
            .map(|(id, _)| *id)
            .collect();
        for id in &ids {
            self.conns.remove(id);
        }
        ids
    }

    /// Frees what expired by `now` on every channel: departed viewer ids and held messages.
    /// The service calls it periodically on its clock; routing never depends on it having run.
    pub fn sweep(&mut self, now: Instant) {
        for peers in self.channels.values_mut() {
            peers.sweep(now);
        }
    }

    /// Departed viewer ids and held messages across all channels (for tests and metrics).
    pub fn remembered(&self) -> (usize, usize) {
        self.channels.values().fold((0, 0), |(ids, held), p| {
            (
                ids + p.departed.len(),
                held + p.held.values().map(VecDeque::len).sum::<usize>(),
            )
        })
    }

    /// Forgets a connection at `now` (no-op if it was already replaced). A viewer's id stays
    /// addressable for the channel's message TTL.
    pub fn disconnect(&mut self, now: Instant, id: ConnId) {
        let Some(conn) = self.conns.remove(&id) else {
            return;
        };
        if let Some(peers) = self.channels.get_mut(&conn.channel_arn) {
            match (conn.role, conn.client_id) {
                (ChannelRole::Master, _) => {
                    if peers.master == Some(id) {
                        peers.master = None;
                    }
                }
                (ChannelRole::Viewer, Some(cid)) => {
                    if peers.viewers.get(&cid) == Some(&id) {
                        peers.viewers.remove(&cid);
                        let until = now + peers.ttl;
                        peers.depart(cid, until);
                    }
                }
                (ChannelRole::Viewer, None) => {}
            }
        }
    }

    /// Routes one text frame from connection `from`.
    pub fn route(&mut self, now: Instant, from: ConnId, text: &str) -> Routed<W> {
        let Some(sender) = self.conns.get_mut(&from) else {
            return Routed::Dropped {
                reason: "sender is no longer connected".into(),
            };
        };
        let frame = match ClientFrame::parse(text) {
            Ok(frame) => frame,
            Err(e) => {
                return fail(
                    ClientFrame::salvage_correlation_id(text),
                    "InvalidArgumentException",
                    describe_frame_error(&e),
                );
            }
        };
        if let Some(limits) = self.limits {
            let (cell, per_sec, what) = match frame.action {
                Action::IceCandidate => (
                    &mut sender.ice_rate,
                    limits.ice_per_connection,
                    "ICE candidates",
                ),
                _ => (
                    &mut sender.sdp_rate,
                    limits.sdp_per_connection,
                    "SDP messages",
                ),
            };
            if !cell.admit(now, per_sec) {
                return fail(
                    frame.correlation_id,
                    "ClientLimitExceededException",
                    format!("more than {per_sec} {what} per second on this connection"),
                );
            }
        }
        let Some(peers) = self.channels.get_mut(&sender.channel_arn) else {
            return Routed::Dropped {
                reason: "the sender's channel is gone".into(),
            };
        };
        let (recipient, to, sender_client_id) = match sender.role {
            ChannelRole::Master => {
                let Some(recipient) = frame.recipient_client_id.clone() else {
                    return fail(
                        frame.correlation_id,
                        "InvalidArgumentException",
                        "a master must set recipientClientId".into(),
                    );
                };
                if !peers.knows_viewer(&recipient, now) {
                    return fail(
                        frame.correlation_id,
                        "InvalidArgumentException",
                        format!("recipient '{recipient}' is not connected to this channel"),
                    );
                }
                if frame.action == Action::SdpAnswer
                    && let Some(waiter) = take_waiter(
                        &mut self.alexa_waiting,
                        &sender.channel_arn,
                        &recipient,
                        |_| true,
                    )
                {
                    return Routed::AlexaAnswer {
                        channel_arn: sender.channel_arn.clone(),
                        client_id: recipient,
                        payload: frame.message_payload,
                        waiter,
                    };
                }
                let to = peers.viewers.get(&recipient).copied();
                (Some(recipient), to, None)
            }
            ChannelRole::Viewer => (None, peers.master, sender.client_id.clone()),
        };
        let out = ServiceFrame {
            sender_client_id: sender_client_id.clone(),
            message_type: frame.action.message_type(),
            message_payload: Some(frame.message_payload),
            status_response: None,
        }
        .to_json();
        match to {
            Some(to) => Routed::Deliver {
                to,
                frame: out,
                delay: None,
            },
            None => {
                let held = Held {
                    expires: now + peers.ttl,
                    sender: sender_client_id,
                    kind: frame.action.message_type(),
                    frame: out,
                };
                peers.hold(recipient, held);
                Routed::Held
            }
        }
    }
}

impl<O, W> Relay<O, W> {
    /// Delivers an offer from SendAlexaOfferToMaster to the channel's master (or holds it
    /// until the master connects); the master's SDP_ANSWER to `sender_client_id` then comes
    /// out of [`route`](Self::route) as [`Routed::AlexaAnswer`].
    /// `waiter` is kept until the answer comes out of [`route`](Self::route) or the request
    /// gives up ([`alexa_gave_up`](Self::alexa_gave_up)); a newer offer from the same sender
    /// replaces (drops) the older one's.
    pub fn alexa_offer(&mut self, now: Instant, offer: &AlexaOffer, waiter: W) -> AlexaRouted {
        let peers = self.channels.entry(offer.channel_arn.clone()).or_default();
        if let Some(limits) = self.limits
            && !peers.alexa_rate.admit(now, limits.alexa_offers_per_channel)
        {
            return AlexaRouted::RateExceeded;
        }
        if peers.ttl.is_zero() {
            peers.ttl = offer.ttl;
        }
        if !peers.viewers.contains_key(&offer.sender_client_id) {
            peers.depart(offer.sender_client_id.clone(), now + offer.ttl);
        }
        self.alexa_waiting
            .entry(offer.channel_arn.clone())
            .or_default()
            .insert(offer.sender_client_id.clone(), waiter);
        let frame = ServiceFrame {
            sender_client_id: Some(offer.sender_client_id.clone()),
            message_type: MessageType::SdpOffer,
            message_payload: Some(offer.payload.clone()),
            status_response: None,
        }
        .to_json();
        match peers.master {
            Some(to) => AlexaRouted::Deliver { to, frame },
            None => {
                let held = Held {
                    expires: now + offer.ttl,
                    sender: Some(offer.sender_client_id.clone()),
                    kind: MessageType::SdpOffer,
                    frame,
                };
                peers.hold(None, held);
                AlexaRouted::Held
            }
        }
    }

    /// Stops waiting for the master's answer to an Alexa offer whose request gave up, if
    /// `is_mine` says the waiter kept is that request's (a newer offer from the same sender
    /// may have replaced it).
    pub fn alexa_gave_up(
        &mut self,
        channel_arn: &str,
        sender_client_id: &str,
        is_mine: impl FnOnce(&W) -> bool,
    ) {
        take_waiter(
            &mut self.alexa_waiting,
            channel_arn,
            sender_client_id,
            is_mine,
        );
    }
}

/// Removes the waiter of `sender`'s Alexa offer on `channel` if `pick` accepts it, and the
/// channel's entry once none is left.
fn take_waiter<W>(
    waiting: &mut HashMap<String, HashMap<String, W>>,
    channel: &str,
    sender: &str,
    pick: impl FnOnce(&W) -> bool,
) -> Option<W> {
    let senders = waiting.get_mut(channel)?;
    let waiter = match senders.get(sender) {
        Some(w) if pick(w) => senders.remove(sender),
        _ => None,
    };
    if senders.is_empty() {
        waiting.remove(channel);
    }
    waiter
}

fn describe_frame_error(e: &FrameError) -> String {
    match e {
        FrameError::InvalidJson(_) | FrameError::NotAnObject => format!("malformed message: {e}"),
        _ => e.to_string(),
    }
}

fn fail<W>(correlation_id: Option<String>, error_type: &str, description: String) -> Routed<W> {
    match correlation_id {
        Some(correlation_id) => Routed::Reply(
            ServiceFrame {
                sender_client_id: None,
                message_type: MessageType::StatusResponse,
                message_payload: None,
                status_response: Some(StatusResponse {
                    correlation_id: Some(correlation_id),
                    error_type: Some(error_type.to_owned()),
                    status_code: Some("400".to_owned()),
                    description: Some(description),
                }),
            }
            .to_json(),
        ),
        None => Routed::Dropped {
            reason: description,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ARN: &str = "arn:aws:kinesisvideo:us-west-2:1:channel/c/1";
    const TTL: Duration = Duration::from_secs(60);

    #[allow(clippy::disallowed_methods)]
    fn t0() -> Instant {
        Instant::now()
    }

    fn join_at(r: &mut Relay, now: Instant, role: ChannelRole, client_id: Option<&str>) -> Joined {
        r.connect(now, ARN, role, client_id.map(str::to_owned), TTL, ())
            .unwrap()
    }

    fn pair(now: Instant) -> (Relay, ConnId, ConnId) {
        let mut r = Relay::new();
        let m = join_at(&mut r, now, ChannelRole::Master, None).id;
        let v = join_at(&mut r, now, ChannelRole::Viewer, Some("v1")).id;
        (r, m, v)
    }

    /// The relay is the one place outboxes live: it hands them out for delivery and drops a
    /// connection's outbox when the connection is disconnected, replaced or its channel is
    /// deleted (which is what tells the driver's task to hang up).
    #[test]
    fn outboxes_leave_with_their_connections() {
        use std::rc::Rc;
        let now = t0();
        let mut r: Relay<Rc<&str>> = Relay::with_limits(None);
        let join = |r: &mut Relay<Rc<&str>>, id: Option<&str>, tag: &'static str| {
            let outbox = Rc::new(tag);
            let role = if id.is_some() {
                ChannelRole::Viewer
            } else {
                ChannelRole::Master
            };
            let joined = r
                .connect(now, ARN, role, id.map(str::to_owned), TTL, outbox.clone())
                .unwrap();
            (joined, outbox)
        };
        let (master, master_box) = join(&mut r, None, "master");
        let (old, old_box) = join(&mut r, Some("v1"), "old v1");
        assert_eq!(r.outbox(old.id).map(|o| **o), Some("old v1"));
        let (new, new_box) = join(&mut r, Some("v1"), "new v1");
        assert_eq!(new.replaced, Some(old.id));
        assert_eq!(
            Rc::strong_count(&old_box),
            1,
            "the replaced outbox is dropped"
        );
        assert!(r.outbox(old.id).is_none());
        assert_eq!(r.outbox(new.id).map(|o| **o), Some("new v1"));
        r.disconnect(now, new.id);
        assert_eq!(
            Rc::strong_count(&new_box),
            1,
            "a disconnected outbox is dropped"
        );
        assert_eq!(Rc::strong_count(&master_box), 2);
        assert_eq!(r.forget_channel(ARN), vec![master.id]);
        assert_eq!(
            Rc::strong_count(&master_box),
            1,
            "a deleted channel's outboxes are dropped"
        );
    }

    const OFFER: &str = r#"{"action":"SDP_OFFER","messagePayload":"e30="}"#;

    #[test]
    fn viewer_to_master_carries_sender_and_master_to_viewer_does_not() {
        let now = t0();
        let (mut r, m, v) = pair(now);
        let Routed::Deliver { to, frame, .. } = r.route(now, v, OFFER) else {
            panic!("not delivered")
        };
        assert_eq!(to, m);
        assert_eq!(
            frame,
            r#"{"senderClientId":"v1","messageType":"SDP_OFFER","messagePayload":"e30="}"#
        );
        let answer = r#"{"action":"SDP_ANSWER","RecipientClientId":"v1","MessagePayload":"e30="}"#;
        let Routed::Deliver { to, frame, .. } = r.route(now, m, answer) else {
            panic!("not delivered")
        };
        assert_eq!(to, v);
        assert_eq!(
            frame,
            r#"{"messageType":"SDP_ANSWER","messagePayload":"e30="}"#
        );
    }

    #[test]
    fn failures_answer_with_status_response_only_when_correlated() {
        let now = t0();
        let (mut r, m, _) = pair(now);
        let reply = r.route(now, m, r#"{"action":"ICE_CANDIDATE","recipientClientId":"nobody","messagePayload":"e30=","correlationId":"c7"}"#);
        let Routed::Reply(text) = reply else {
            panic!("{reply:?}")
        };
        let status = ServiceFrame::parse(&text).unwrap().status_response.unwrap();
        assert_eq!(status.correlation_id.as_deref(), Some("c7"));
        assert!(status.description.unwrap().contains("nobody"));
        let uncorrelated =
            r#"{"action":"ICE_CANDIDATE","recipientClientId":"nobody","messagePayload":"e30="}"#;
        assert!(matches!(
            r.route(now, m, uncorrelated),
            Routed::Dropped { .. }
        ));
        assert!(
            matches!(r.route(now, m, r#"{"action":"X","correlationId":"c8"}"#), Routed::Reply(t) if t.contains("c8") && t.contains("unknown action"))
        );
        let big = format!(
            r#"{{"action":"SDP_ANSWER","recipientClientId":"v1","messagePayload":"{}","correlationId":"c9"}}"#,
            "A".repeat(10_001)
        );
        assert!(
            matches!(r.route(now, m, &big), Routed::Reply(t) if t.contains("10000-byte limit"))
        );
        assert!(
            matches!(r.route(now, m, r#"{"action":"SDP_ANSWER","recipientClientId":"v1","messagePayload":"***","correlationId":"c9"}"#), Routed::Reply(t) if t.contains("base64"))
        );
        assert!(matches!(r.route(now, m, r#"{"action":"SDP_ANSWER","recipientClientId":"v1","messagePayload":"bm90IGpzb24=","correlationId":"c9"}"#), Routed::Deliver { .. }), "payloads are opaque beyond base64");
    }

    #[test]
    fn newest_connection_wins_and_the_old_one_leaves_quietly() {
        let now = t0();
        let (mut r, m, v) = pair(now);
        let joined = join_at(&mut r, now, ChannelRole::Master, None);
        assert_eq!(joined.replaced, Some(m));
        r.disconnect(t0(), m); // the replaced socket closing must not evict its successor
        assert!(matches!(r.route(now, v, OFFER), Routed::Deliver { to, .. } if to == joined.id));
    }

    /// A stream of new viewer ids, each joining, being sent a message after it left, and
    /// leaving: what the channel remembers stays bounded and is gone after the TTL.
    #[test]
    fn departed_viewers_and_their_messages_expire_on_virtual_time() {
        let start = t0();
        let mut r = Relay::new();
        let m = join_at(&mut r, start, ChannelRole::Master, None).id;
        for i in 0..3000u64 {
            let now = start + Duration::from_millis(i * 10);
            let id = format!("churn-{i}");
            let v = join_at(&mut r, now, ChannelRole::Viewer, Some(&id)).id;
            r.disconnect(now, v);
            let answer = format!(
                r#"{{"action":"SDP_ANSWER","recipientClientId":"{id}","messagePayload":"e30="}}"#
            );
            assert_eq!(r.route(now, m, &answer), Routed::Held, "{id} left just now");
            let (ids, held) = r.remembered();
            assert!(ids <= MAX_DEPARTED_VIEWERS, "{ids} departed ids remembered");
            assert!(held <= MAX_DEPARTED_VIEWERS, "{held} messages held");
        }
        let last = start + Duration::from_millis(29_990);
        r.sweep(last);
        assert_eq!(
            r.remembered(),
            (MAX_DEPARTED_VIEWERS, MAX_DEPARTED_VIEWERS),
            "all left within the TTL: the cap holds the latest"
        );
        // 80 s in, only those that left after 20 s (ids 2001..=2999) are still addressable.
        r.sweep(start + Duration::from_secs(80));
        assert_eq!(r.remembered(), (999, 999));
        // A minute after the last one left, nothing is left and the ids are unknown again.
        let later = last + TTL + Duration::from_millis(1);
        r.sweep(later);
        assert_eq!(r.remembered(), (0, 0));
        let answer = r#"{"action":"SDP_ANSWER","recipientClientId":"churn-2999","messagePayload":"e30=","correlationId":"c1"}"#;
        assert!(
            matches!(r.route(later, m, answer), Routed::Reply(t) if t.contains("not connected"))
        );
    }

    #[test]
    fn at_most_ten_viewers() {
        let mut r = Relay::new();
        for i in 0..MAX_VIEWERS {
            join_at(&mut r, t0(), ChannelRole::Viewer, Some(&format!("v{i}")));
        }
        let eleventh = r.connect(t0(), ARN, ChannelRole::Viewer, Some("v99".into()), TTL, ());
        assert_eq!(eleventh, Err(ConnectError::TooManyViewers));
        assert!(
            r.connect(t0(), ARN, ChannelRole::Viewer, Some("v3".into()), TTL, ())
                .is_ok(),
            "a reconnecting viewer is not extra"
        );
    }

    #[test]
    fn messages_for_an_offline_master_wait_for_it_in_order() {
        let now = t0();
        let mut r = Relay::new();
        let v = join_at(&mut r, now, ChannelRole::Viewer, Some("v1")).id;
        assert_eq!(r.route(now, v, OFFER), Routed::Held);
        for n in 0..3 {
            let ice = format!(
                r#"{{"action":"ICE_CANDIDATE","messagePayload":"{}"}}"#,
                kvs_proto::wire::encode_payload(&[n])
            );
            assert_eq!(r.route(now, v, &ice), Routed::Held);
        }
        let newer_offer = r#"{"action":"SDP_OFFER","messagePayload":"e30gIA=="}"#;
        assert_eq!(r.route(now, v, newer_offer), Routed::Held);
        let joined = join_at(
            &mut r,
            now + Duration::from_secs(10),
            ChannelRole::Master,
            None,
        );
        assert_eq!(
            joined.held.len(),
            4,
            "the newer offer replaced the older one"
        );
        assert!(joined.held[0].contains("e30gIA=="));
        assert!(joined.held[1].contains(&kvs_proto::wire::encode_payload(&[0])));
        assert!(
            join_at(&mut r, now, ChannelRole::Master, None)
                .held
                .is_empty(),
            "delivered once"
        );
    }

    #[test]
    fn held_messages_expire_after_the_ttl() {
        let now = t0();
        let (mut r, m, v) = pair(now);
        r.disconnect(t0(), v);
        let answer = r#"{"action":"SDP_ANSWER","recipientClientId":"v1","messagePayload":"e30="}"#;
        assert_eq!(
            r.route(now, m, answer),
            Routed::Held,
            "v1 is known, so it is offline, not unknown"
        );
        let late = join_at(
            &mut r,
            now + TTL + Duration::from_secs(1),
            ChannelRole::Viewer,
            Some("v1"),
        );
        assert!(late.held.is_empty());
    }

    #[test]
    fn an_alexa_offer_reaches_the_master_and_its_answer_comes_back() {
        let now = t0();
        let mut r = Relay::new();
        let offer = AlexaOffer {
            channel_arn: ARN.into(),
            ttl: TTL,
            sender_client_id: "alexa".into(),
            payload: "b2ZmZXI=".into(),
        };
        assert_eq!(r.alexa_offer(now, &offer, ()), AlexaRouted::Held);
        let m = join_at(&mut r, now, ChannelRole::Master, None);
        assert_eq!(
            m.held,
            vec![
                r#"{"senderClientId":"alexa","messageType":"SDP_OFFER","messagePayload":"b2ZmZXI="}"#
            ]
        );
        let answer =
            r#"{"action":"SDP_ANSWER","recipientClientId":"alexa","messagePayload":"YW5zd2Vy"}"#;
        assert_eq!(
            r.route(now, m.id, answer),
            Routed::AlexaAnswer {
                channel_arn: ARN.into(),
                client_id: "alexa".into(),
                payload: "YW5zd2Vy".into(),
                waiter: (),
            }
        );
        assert_eq!(
            r.route(now, m.id, answer),
            Routed::Held,
            "answered once; later ones are ordinary"
        );
    }

    /// The relay keeps each waiting Alexa offer's waiter: a newer offer from the same sender
    /// replaces it, a request that gave up removes only its own, a deleted channel drops them.
    #[test]
    fn alexa_waiters_live_in_the_relay() {
        use std::rc::Rc;
        let now = t0();
        let mut r: Relay<(), Rc<u8>> = Relay::with_limits(None);
        let offer = |sender: &str| AlexaOffer {
            channel_arn: ARN.into(),
            ttl: TTL,
            sender_client_id: sender.into(),
            payload: "b2ZmZXI=".into(),
        };
        let (first, second, other) = (Rc::new(1), Rc::new(2), Rc::new(3));
        r.alexa_offer(now, &offer("alexa"), first.clone());
        r.alexa_offer(now, &offer("alexa"), second.clone());
        assert_eq!(
            Rc::strong_count(&first),
            1,
            "the newer offer's waiter replaced it"
        );
        r.alexa_gave_up(ARN, "alexa", |w| **w == 1);
        assert_eq!(
            Rc::strong_count(&second),
            2,
            "the first request leaves the second's alone"
        );
        r.alexa_gave_up(ARN, "alexa", |w| **w == 2);
        assert_eq!(Rc::strong_count(&second), 1);
        r.alexa_offer(now, &offer("other"), other.clone());
        r.forget_channel(ARN);
        assert_eq!(
            Rc::strong_count(&other),
            1,
            "a deleted channel drops its waiters"
        );
        assert!(r.alexa_waiting.is_empty());
    }

    #[test]
    fn quotas_apply_per_connection_and_per_channel() {
        let now = t0();
        let mut r = Relay::with_limits(Some(Limits::KVS));
        let m = join_at(&mut r, now, ChannelRole::Master, None).id;
        let v = join_at(&mut r, now, ChannelRole::Viewer, Some("v1")).id;
        join_at(&mut r, now, ChannelRole::Viewer, Some("v2"));
        assert_eq!(
            r.connect(now, ARN, ChannelRole::Viewer, Some("v3".into()), TTL, ()),
            Err(ConnectError::RateExceeded)
        );
        let ice = r#"{"action":"ICE_CANDIDATE","messagePayload":"e30=","correlationId":"k"}"#;
        let delivered = (0..25)
            .filter(|_| matches!(r.route(now, v, ice), Routed::Deliver { .. }))
            .count();
        assert_eq!(delivered, 20);
        assert!(
            matches!(r.route(now, v, ice), Routed::Reply(t) if t.contains("ClientLimitExceededException"))
        );
        let sdp = (0..8)
            .filter(|_| matches!(r.route(now, v, OFFER), Routed::Deliver { .. }))
            .count();
        assert_eq!(sdp, 5, "SDP has its own, smaller budget");
        let answer = r#"{"action":"SDP_ANSWER","recipientClientId":"v1","messagePayload":"e30="}"#;
        assert!(
            matches!(r.route(now, m, answer), Routed::Deliver { .. }),
            "other connections keep theirs"
        );
        let later = now + Duration::from_secs(1);
        assert!(matches!(r.route(later, v, ice), Routed::Deliver { .. }));
        assert!(
            r.connect(later, ARN, ChannelRole::Viewer, Some("v3".into()), TTL, ())
                .is_ok()
        );
    }

    #[test]
    fn a_deleted_channel_is_forgotten_with_its_connections() {
        let now = t0();
        let (mut r, m, v) = pair(now);
        let mut gone = r.forget_channel(ARN);
        gone.sort();
        assert_eq!(gone, vec![m, v]);
        assert!(r.is_empty());
        assert!(matches!(r.route(now, v, OFFER), Routed::Dropped { .. }));
        let again = join_at(&mut r, now, ChannelRole::Master, None);
        assert!(again.held.is_empty(), "nothing held from before");
    }

    proptest! {
        #[test]
        fn routing_never_panics(text in "\\PC{0,300}") {
            let now = t0();
            let (mut r, m, v) = pair(now);
            let _ = r.route(now, m, &text);
            let _ = r.route(now, v, &text);
        }
    }
}
