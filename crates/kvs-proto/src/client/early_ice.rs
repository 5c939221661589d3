//! ICE candidates that arrive before their sender's SDP are held back and released right
//! after it, so the application never sees a candidate it cannot apply yet (JS SDK issues
//! #754, #760, #791; the C SDK leaves this to every application).

use std::collections::VecDeque;

use super::ReceivedMessage;
use crate::wire::MessageType;

/// Most candidates held for one sender; beyond it they are released rather than dropped.
const MAX_PER_SENDER: usize = 64;
/// Most senders with held candidates; the oldest is released first.
const MAX_SENDERS: usize = 16;
/// Most senders remembered as having sent their SDP; the earliest is forgotten first (its
/// later candidates are then held until its next SDP or an overflow releases them).
const MAX_SDP_SENDERS: usize = 64;

/// What [`EarlyIce::admit`] decided.
#[derive(Debug)]
pub(crate) enum Admitted {
    /// Deliver this message now (the common case, without allocating).
    Now(ReceivedMessage),
    /// Held back until its sender's SDP.
    Held,
    /// Deliver these now, in order: an SDP followed by its held candidates, or candidates
    /// released by an overflow.
    Released(Vec<ReceivedMessage>),
}

impl Admitted {
    /// The messages to deliver now, in order.
    pub(crate) fn into_messages(self) -> impl Iterator<Item = ReceivedMessage> {
        let (one, many) = match self {
            Self::Now(msg) => (Some(msg), Vec::new()),
            Self::Held => (None, Vec::new()),
            Self::Released(all) => (None, all),
        };
        one.into_iter().chain(many)
    }
}

/// The buffer. Senders are keyed by client id, the master by the empty string.
#[derive(Debug, Default)]
pub(crate) struct EarlyIce {
    enabled: bool,
    /// Senders whose SDP was seen, earliest first.
    sdp_seen: VecDeque<String>,
    pending: VecDeque<(String, Vec<ReceivedMessage>)>,
}

impl EarlyIce {
    pub(crate) fn new(enabled: bool) -> Self {
        Self {
            enabled,
            ..Self::default()
        }
    }

    /// Takes a received message and says what to hand to the application now.
    pub(crate) fn admit(&mut self, msg: ReceivedMessage) -> Admitted {
        if !self.enabled {
            return Admitted::Now(msg);
        }
        let key = msg.sender_client_id.as_deref().unwrap_or("");
        match msg.message_type {
            MessageType::SdpOffer | MessageType::SdpAnswer => {
                if !self.sdp_seen.iter().any(|k| k == key) {
                    if self.sdp_seen.len() == MAX_SDP_SENDERS {
                        self.sdp_seen.pop_front();
                    }
                    self.sdp_seen.push_back(key.to_owned());
                }
                let held = self.take(key);
                if held.is_empty() {
                    Admitted::Now(msg)
                } else {
                    let mut out = Vec::with_capacity(held.len() + 1);
                    out.push(msg);
                    out.extend(held);
                    Admitted::Released(out)
                }
            }
            MessageType::IceCandidate if !self.sdp_seen.iter().any(|k| k == key) => {
                let key = key.to_owned();
                let released = self.hold(key, msg);
                if released.is_empty() {
                    Admitted::Held
                } else {
                    Admitted::Released(released)
                }
            }
            _ => Admitted::Now(msg),
        }
    }

    fn take(&mut self, key: &str) -> Vec<ReceivedMessage> {
        match self.pending.iter().position(|(k, _)| k == key) {
            Some(i) => self
                .pending
                .remove(i)
                .map(|(_, held)| held)
                .unwrap_or_default(),
            None => Vec::new(),
        }
    }

    fn hold(&mut self, key: String, msg: ReceivedMessage) -> Vec<ReceivedMessage> {
        let mut released = Vec::new();
        match self.pending.iter_mut().find(|(k, _)| *k == key) {
            Some((_, held)) => {
                held.push(msg);
                if held.len() > MAX_PER_SENDER {
                    released = std::mem::take(held);
                }
            }
            None => {
                if self.pending.len() == MAX_SENDERS
                    && let Some((_, oldest)) = self.pending.pop_front()
                {
                    released = oldest;
                }
                self.pending.push_back((key, vec![msg]));
            }
        }
        self.pending.retain(|(_, held)| !held.is_empty());
        released
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl EarlyIce {
        fn admit_all(&mut self, msg: ReceivedMessage) -> Vec<ReceivedMessage> {
            self.admit(msg).into_messages().collect()
        }
    }

    fn msg(kind: MessageType, from: Option<&str>, n: u8) -> ReceivedMessage {
        ReceivedMessage {
            message_type: kind,
            sender_client_id: from.map(str::to_owned),
            payload: vec![n],
        }
    }

    #[test]
    fn candidates_before_the_offer_follow_it_in_order() {
        let mut b = EarlyIce::new(true);
        assert!(
            b.admit_all(msg(MessageType::IceCandidate, Some("v1"), 1))
                .is_empty()
        );
        assert!(
            b.admit_all(msg(MessageType::IceCandidate, Some("v1"), 2))
                .is_empty()
        );
        let other = b.admit_all(msg(MessageType::SdpOffer, Some("v2"), 9));
        assert_eq!(
            other.len(),
            1,
            "another sender's offer releases nothing of v1's"
        );
        let out = b.admit_all(msg(MessageType::SdpOffer, Some("v1"), 0));
        assert_eq!(
            out.iter().map(|m| m.payload[0]).collect::<Vec<_>>(),
            [0, 1, 2]
        );
        assert_eq!(
            b.admit_all(msg(MessageType::IceCandidate, Some("v1"), 3))
                .len(),
            1,
            "after the SDP, candidates pass"
        );
    }

    #[test]
    fn the_master_is_a_sender_too_and_buffering_can_be_off() {
        let mut b = EarlyIce::new(true);
        assert!(
            b.admit_all(msg(MessageType::IceCandidate, None, 1))
                .is_empty()
        );
        assert_eq!(b.admit_all(msg(MessageType::SdpAnswer, None, 0)).len(), 2);
        let mut off = EarlyIce::new(false);
        assert_eq!(
            off.admit_all(msg(MessageType::IceCandidate, None, 1)).len(),
            1
        );
    }

    #[test]
    fn the_senders_remembered_are_capped() {
        let mut b = EarlyIce::new(true);
        for i in 0..10 * MAX_SDP_SENDERS {
            b.admit_all(msg(MessageType::SdpOffer, Some(&format!("v{i}")), 0));
        }
        assert_eq!(b.sdp_seen.len(), MAX_SDP_SENDERS);
        let newest = format!("v{}", 10 * MAX_SDP_SENDERS - 1);
        assert_eq!(
            b.admit_all(msg(MessageType::IceCandidate, Some(&newest), 1))
                .len(),
            1,
            "recent senders' candidates still pass"
        );
        assert!(
            b.admit_all(msg(MessageType::IceCandidate, Some("v0"), 1))
                .is_empty(),
            "a forgotten sender's candidate waits for its next SDP"
        );
    }

    #[test]
    fn overflow_releases_instead_of_dropping() {
        let mut b = EarlyIce::new(true);
        let mut released = 0;
        for i in 0..=MAX_PER_SENDER {
            released += b
                .admit_all(msg(MessageType::IceCandidate, Some("v1"), i as u8))
                .len();
        }
        assert_eq!(released, MAX_PER_SENDER + 1);
        for s in 0..=MAX_SENDERS {
            released += b
                .admit_all(msg(MessageType::IceCandidate, Some(&format!("s{s}")), 0))
                .len();
        }
        assert_eq!(
            released,
            MAX_PER_SENDER + 2,
            "the oldest sender's candidate came out"
        );
    }
}
