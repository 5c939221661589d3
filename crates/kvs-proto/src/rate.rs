//! The service's data-plane quotas, and a rate limiter to enforce them (the service) or keep
//! within them (the client), on caller-supplied time.
//!
//! Each limiter is a GCRA (generic cell rate algorithm) cell: one timestamp, so a limiter per
//! connection costs 16 bytes. A limit of `n` per second lets a burst of `n` through, then one
//! every `1/n` s.

use std::time::{Duration, Instant};

/// The data-plane quotas of KVS (kvswebrtc-limits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// ConnectAsMaster plus ConnectAsViewer, per channel per second (KVS: 3).
    pub connects_per_channel: u32,
    /// SDP offers and answers per connection per second (KVS: 5).
    pub sdp_per_connection: u32,
    /// ICE candidates per connection per second (KVS: 20).
    pub ice_per_connection: u32,
    /// SendAlexaOfferToMaster per channel per second (KVS: 5).
    pub alexa_offers_per_channel: u32,
}

impl Limits {
    /// The real service's values.
    pub const KVS: Self = Self {
        connects_per_channel: 3,
        sdp_per_connection: 5,
        ice_per_connection: 20,
        alexa_offers_per_channel: 5,
    };
}

/// One rate limiter: `per_sec` events per second, bursts of up to `per_sec`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cell {
    /// When the next event would be on schedule ("theoretical arrival time"); `None` until
    /// the first event.
    tat: Option<Instant>,
}

impl Cell {
    /// Admits one event at `now` if the rate allows, and counts it.
    pub fn admit(&mut self, now: Instant, per_sec: u32) -> bool {
        if self.ready_at(per_sec).is_some_and(|at| at > now) {
            return false;
        }
        let interval = interval(per_sec);
        self.tat = Some(self.tat.map_or(now, |t| t.max(now)) + interval);
        true
    }

    /// The earliest time the next event would be admitted (`None`: any time).
    pub fn ready_at(&self, per_sec: u32) -> Option<Instant> {
        let interval = interval(per_sec);
        let tolerance = interval * (per_sec.max(1) - 1);
        self.tat
            .map(|tat| tat.checked_sub(tolerance).unwrap_or(tat))
    }
}

fn interval(per_sec: u32) -> Duration {
    Duration::from_secs(1) / per_sec.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::disallowed_methods)] // a starting point only; the tests move time themselves
    fn t0() -> Instant {
        Instant::now()
    }

    #[test]
    fn a_burst_of_the_rate_then_one_per_interval() {
        let now = t0();
        let mut cell = Cell::default();
        let admitted = (0..30).filter(|_| cell.admit(now, 20)).count();
        assert_eq!(admitted, 20);
        assert!(!cell.admit(now + Duration::from_millis(49), 20));
        assert_eq!(cell.ready_at(20), Some(now + Duration::from_millis(50)));
        assert!(cell.admit(now + Duration::from_millis(50), 20));
        assert!(!cell.admit(now + Duration::from_millis(51), 20));
    }

    #[test]
    fn a_steady_rate_at_the_limit_is_never_refused() {
        let now = t0();
        let mut cell = Cell::default();
        for i in 0..1000 {
            assert!(
                cell.admit(now + Duration::from_millis(200 * i), 5),
                "event {i}"
            );
        }
    }

    #[test]
    fn a_quiet_second_refills_the_burst() {
        let now = t0();
        let mut cell = Cell::default();
        assert_eq!((0..5).filter(|_| cell.admit(now, 3)).count(), 3);
        let later = now + Duration::from_secs(1);
        assert_eq!((0..5).filter(|_| cell.admit(later, 3)).count(), 3);
    }
}
