//! Outgoing messages: checked and encoded on the caller's task, then sent at once or queued
//! (while not connected, or beyond the service's send rates) and sent in order.

use super::*;

/// A message for a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// SDP_OFFER, SDP_ANSWER or ICE_CANDIDATE.
    pub action: Action,
    /// Master only: the viewer to deliver to.
    pub recipient_client_id: Option<String>,
    /// Echoed in a STATUS_RESPONSE if delivery fails.
    pub correlation_id: Option<String>,
    /// The raw payload (usually JSON); the client base64-encodes it.
    pub payload: Vec<u8>,
}

/// A message checked against the service's rules and encoded as its wire frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedMessage {
    pub(super) action: Action,
    pub(super) frame: String,
}

impl PreparedMessage {
    /// The JSON frame that will be sent.
    pub fn as_str(&self) -> &str {
        &self.frame
    }
}

impl OutgoingMessage {
    /// Checks the message against the service's rules for a client of `role` and encodes it.
    /// Needs no session state, so callers can do this work on their own task.
    pub fn prepare(self, role: ChannelRole) -> Result<PreparedMessage, SendError> {
        let recipient = match (role, self.recipient_client_id) {
            (ChannelRole::Master, None) => return Err(SendError::MissingRecipient),
            (ChannelRole::Viewer, Some(_)) => return Err(SendError::RecipientNotAllowed),
            (_, r) => r,
        };
        if recipient.as_deref().is_some_and(|r| !wire::is_valid_id(r)) {
            return Err(SendError::InvalidId("recipientClientId"));
        }
        if self
            .correlation_id
            .as_deref()
            .is_some_and(|c| !wire::is_valid_id(c))
        {
            return Err(SendError::InvalidId("correlationId"));
        }
        if self.payload.is_empty() {
            return Err(SendError::EmptyPayload);
        }
        let message_payload = wire::encode_payload(&self.payload);
        if message_payload.len() > wire::MAX_PAYLOAD_LEN {
            return Err(SendError::PayloadTooLarge {
                len: message_payload.len(),
            });
        }
        let frame = ClientFrame {
            action: self.action,
            recipient_client_id: recipient,
            message_payload,
            correlation_id: self.correlation_id,
        };
        Ok(PreparedMessage {
            action: frame.action,
            frame: frame.to_json(),
        })
    }
}

impl Client {
    /// Sends a message to a peer, or queues it while the client is (re)connecting; queued
    /// messages go out in order right after CONNECTED unless older than the message TTL.
    /// Fails without queueing anything when the message breaks a service rule, the queue is
    /// full, or the session has ended.
    pub fn send(&mut self, now: Instant, msg: OutgoingMessage) -> Result<(), SendError> {
        let prepared = msg.prepare(self.config.role)?;
        self.send_prepared(now, prepared)
    }

    /// [`send`](Self::send) for a message already checked by [`OutgoingMessage::prepare`].
    pub fn send_prepared(&mut self, now: Instant, msg: PreparedMessage) -> Result<(), SendError> {
        if self.closed {
            return Err(SendError::NotConnected(State::Disconnected));
        }
        let connected = self.state == State::Connected;
        if connected && self.queue.is_empty() && self.admit(now, msg.action) {
            self.transmit(now, msg);
            return Ok(());
        }
        if self.queue.len() >= self.config.send_queue_limit {
            return Err(SendError::QueueFull {
                limit: self.config.send_queue_limit,
            });
        }
        self.queue.push_back((now, msg));
        if connected {
            self.flush_queue(now);
        }
        Ok(())
    }

    /// A new connection starts with the full send rates, as the service counts per connection.
    pub(super) fn new_send_rates(&mut self) {
        self.sdp_rate = Cell::default();
        self.ice_rate = Cell::default();
    }

    /// Takes one message of `action` out of this connection's send rate, if it allows one now.
    pub(super) fn admit(&mut self, now: Instant, action: Action) -> bool {
        let Some(limits) = self.config.send_rate else {
            return true;
        };
        match action {
            Action::IceCandidate => self.ice_rate.admit(now, limits.ice_per_connection),
            Action::SdpOffer | Action::SdpAnswer => {
                self.sdp_rate.admit(now, limits.sdp_per_connection)
            }
        }
    }

    /// When the send rate will allow a message of `action`.
    pub(super) fn rate_ready_at(&self, action: Action) -> Option<Instant> {
        let limits = self.config.send_rate?;
        match action {
            Action::IceCandidate => self.ice_rate.ready_at(limits.ice_per_connection),
            Action::SdpOffer | Action::SdpAnswer => {
                self.sdp_rate.ready_at(limits.sdp_per_connection)
            }
        }
    }

    /// Writes a frame and counts it; an answer closes the offer→answer clock of a master.
    /// The frame is kept until a pong confirms it (at most `send_queue_limit` frames: past
    /// that the oldest counts as delivered, and a ping goes out early to confirm the rest).
    pub(super) fn transmit(&mut self, now: Instant, msg: PreparedMessage) {
        self.metrics.messages_sent += 1;
        match (msg.action, self.config.role) {
            (Action::SdpOffer, ChannelRole::Viewer) => self.offer_at = Some(now),
            (Action::SdpAnswer, ChannelRole::Master) => self.close_offer_clock(now),
            _ => {}
        }
        self.outputs.push_back(Output::WsSend(msg.frame.clone()));
        let limit = self.config.send_queue_limit.max(1);
        if self.unacked.len() >= limit {
            self.unacked.pop_front();
            self.ping_covers = self.ping_covers.saturating_sub(1);
        }
        self.unacked.push_back((now, msg));
        if self.unacked.len() > limit / 2 {
            self.ping(now);
        }
    }

    pub(super) fn close_offer_clock(&mut self, now: Instant) {
        if let Some(at) = self.offer_at.take() {
            self.metrics.offer_to_answer_ms =
                Some(now.saturating_duration_since(at).as_millis() as u64);
        }
    }

    /// Messages waiting for the connection.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    pub(super) fn message_ttl(&self) -> Duration {
        self.config
            .message_ttl
            .or(self.session.message_ttl)
            .unwrap_or(Duration::from_secs(60))
    }

    /// Sends what was queued, in order, as fast as the send rate allows, dropping (and
    /// reporting) expired messages; arms the pacing timer for the rest.
    pub(super) fn flush_queue(&mut self, now: Instant) {
        let ttl = self.message_ttl();
        self.set_timer(Timer::Pace, None);
        while let Some((queued_at, msg)) = self.queue.front() {
            let age = now.saturating_duration_since(*queued_at);
            let action = msg.action;
            if age > ttl {
                self.queue.pop_front();
                self.emit(Event::Error(Error::MessageExpired {
                    age_secs: age.as_secs(),
                    ttl_secs: ttl.as_secs(),
                }));
            } else if self.admit(now, action) {
                if let Some((_, msg)) = self.queue.pop_front() {
                    self.transmit(now, msg);
                }
            } else {
                self.set_timer(Timer::Pace, self.rate_ready_at(action));
                break;
            }
        }
    }
}
