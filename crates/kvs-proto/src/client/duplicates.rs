//! Repeats of a peer message already delivered. A sender whose connection died re-sends
//! what no pong confirmed, so the service may relay a message twice; the second copy is
//! dropped when it is identical (same sender, type and payload) to one delivered within the
//! message TTL.

use std::collections::{HashSet, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::{Duration, Instant};

use super::ReceivedMessage;

/// The most messages remembered; the oldest is forgotten first.
const MAX_REMEMBERED: usize = 1024;

/// Fingerprints of recently delivered messages: in delivery order, and as a set for the
/// lookup every received message needs.
#[derive(Debug, Default)]
pub(crate) struct RecentlyDelivered {
    seen: VecDeque<(Instant, u64)>,
    set: HashSet<u64>,
}

impl RecentlyDelivered {
    /// True if `msg` repeats one delivered less than `ttl` before `now`; otherwise remembers it.
    pub(crate) fn is_repeat(&mut self, now: Instant, ttl: Duration, msg: &ReceivedMessage) -> bool {
        while let Some(&(at, old)) = self.seen.front() {
            if now.saturating_duration_since(at) < ttl && self.seen.len() < MAX_REMEMBERED {
                break;
            }
            self.seen.pop_front();
            self.set.remove(&old);
        }
        let mut hasher = DefaultHasher::new();
        (&msg.sender_client_id, msg.message_type, &msg.payload).hash(&mut hasher);
        let fingerprint = hasher.finish();
        if !self.set.insert(fingerprint) {
            return true;
        }
        self.seen.push_back((now, fingerprint));
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::MessageType;

    fn msg(from: &str, payload: &[u8]) -> ReceivedMessage {
        ReceivedMessage {
            message_type: MessageType::IceCandidate,
            sender_client_id: Some(from.into()),
            payload: payload.to_vec(),
        }
    }

    #[allow(clippy::disallowed_methods)] // any instant will do as the origin of virtual time
    fn origin() -> Instant {
        Instant::now()
    }

    #[test]
    fn repeats_within_the_ttl_are_caught_and_nothing_else() {
        let t0 = origin();
        let ttl = Duration::from_secs(60);
        let mut d = RecentlyDelivered::default();
        assert!(!d.is_repeat(t0, ttl, &msg("v1", b"a")));
        assert!(d.is_repeat(t0 + Duration::from_secs(59), ttl, &msg("v1", b"a")));
        assert!(!d.is_repeat(t0, ttl, &msg("v2", b"a")), "another sender");
        assert!(!d.is_repeat(t0, ttl, &msg("v1", b"b")), "another payload");
        assert!(
            !d.is_repeat(t0 + ttl, ttl, &msg("v1", b"a")),
            "after the TTL it is new again"
        );
        for i in 0..2 * MAX_REMEMBERED {
            d.is_repeat(t0 + ttl, ttl, &msg("v3", &i.to_le_bytes()));
        }
        assert_eq!(
            (d.seen.len(), d.set.len()),
            (MAX_REMEMBERED, MAX_REMEMBERED)
        );
    }
}
