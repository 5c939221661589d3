//! How long a WebSocket connection lives, as KVS runs it: closed after a stretch with no
//! incoming traffic, sent GO_AWAY at its maximum age (or when the operator asks) and closed a
//! grace period later, optionally sent RECONNECT_ICE_SERVER once. Pure: the driver reports
//! traffic and wakes at [`Lifetime::poll_timeout`]; the decisions come out of
//! [`Lifetime::handle_timeout`].

use std::time::{Duration, Instant};

/// The lifetimes every connection gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    /// A connection with no incoming traffic (pings count) this long is closed (KVS: 10 min).
    pub idle_timeout: Duration,
    /// A connection this old gets GO_AWAY (KVS: 1 h).
    pub max_connection_duration: Duration,
    /// How long a connection stays after GO_AWAY before it is closed (KVS: 1 min).
    pub go_away_grace: Duration,
    /// Send RECONNECT_ICE_SERVER this long after the connection opened (KVS: never); for
    /// testing clients' ICE refresh.
    pub reconnect_ice_server_after: Option<Duration>,
}

impl Default for Lifetimes {
    /// The real service's lifetimes.
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(600),
            max_connection_duration: Duration::from_secs(3600),
            go_away_grace: Duration::from_secs(60),
            reconnect_ice_server_after: None,
        }
    }
}

/// What a connection's driver must do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifetimeAction {
    /// Send GO_AWAY; the connection is closed after the grace period.
    SendGoAway,
    /// Send RECONNECT_ICE_SERVER.
    SendReconnectIceServer,
    /// Close the connection.
    Close(CloseReason),
}

/// Why a connection's lifetime ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// Nothing came in for the idle timeout.
    Idle,
    /// The grace period after GO_AWAY is over.
    GoAwayGraceOver,
}

/// One connection's lifetime.
#[derive(Debug, Clone)]
pub struct Lifetime {
    lifetimes: Lifetimes,
    opened: Instant,
    last_in: Instant,
    /// Set once GO_AWAY was sent: when the connection is closed.
    close_at: Option<Instant>,
    reconnect_ice_at: Option<Instant>,
}

impl Lifetime {
    /// A connection opened at `now`.
    pub fn new(lifetimes: Lifetimes, now: Instant) -> Self {
        Self {
            lifetimes,
            opened: now,
            last_in: now,
            close_at: None,
            reconnect_ice_at: lifetimes
                .reconnect_ice_server_after
                .and_then(|after| now.checked_add(after)),
        }
    }

    /// Something came in at `now` (a frame or a ping): the idle timer restarts.
    pub fn on_incoming(&mut self, now: Instant) {
        self.last_in = self.last_in.max(now);
    }

    /// GO_AWAY at `now` (the operator's, or the maximum age's): true when it is to be sent,
    /// false when it was sent already (the grace period runs once).
    pub fn go_away(&mut self, now: Instant) -> bool {
        if self.close_at.is_some() {
            return false;
        }
        self.close_at = Some(later(now, self.lifetimes.go_away_grace));
        true
    }

    /// When [`handle_timeout`](Self::handle_timeout) has something to do next.
    pub fn poll_timeout(&self) -> Instant {
        let idle_at = later(self.last_in, self.lifetimes.idle_timeout);
        let end = self.close_at.unwrap_or_else(|| self.go_away_at());
        let next = idle_at.min(end);
        self.reconnect_ice_at.map_or(next, |at| at.min(next))
    }

    /// What is due at `now`, one action per call (call again until `None`).
    pub fn handle_timeout(&mut self, now: Instant) -> Option<LifetimeAction> {
        if now >= later(self.last_in, self.lifetimes.idle_timeout) {
            return Some(LifetimeAction::Close(CloseReason::Idle));
        }
        if self.close_at.is_some_and(|at| now >= at) {
            return Some(LifetimeAction::Close(CloseReason::GoAwayGraceOver));
        }
        if self.reconnect_ice_at.is_some_and(|at| now >= at) {
            self.reconnect_ice_at = None;
            return Some(LifetimeAction::SendReconnectIceServer);
        }
        if now >= self.go_away_at() && self.go_away(now) {
            return Some(LifetimeAction::SendGoAway);
        }
        None
    }

    fn go_away_at(&self) -> Instant {
        later(self.opened, self.lifetimes.max_connection_duration)
    }
}

/// `at + by`, or `at` pushed as far as `Instant` goes (a lifetime too long to represent is
/// as good as never).
fn later(at: Instant, by: Duration) -> Instant {
    at.checked_add(by).unwrap_or_else(|| far_future(at))
}

fn far_future(at: Instant) -> Instant {
    // A century is representable on every platform Rust supports.
    at.checked_add(Duration::from_secs(100 * 365 * 86_400))
        .unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    /// Runs `life` from `from` to `until`, waking at each deadline, and lists what it did when.
    fn run(life: &mut Lifetime, from: Instant, until: Instant) -> Vec<(u64, LifetimeAction)> {
        let mut done = Vec::new();
        let mut now = from;
        while now <= until {
            while let Some(action) = life.handle_timeout(now) {
                done.push(((now - from).as_secs(), action));
                if matches!(action, LifetimeAction::Close(_)) {
                    return done;
                }
            }
            now = life.poll_timeout().max(now + Duration::from_millis(1));
        }
        done
    }

    #[allow(clippy::disallowed_methods)] // the origin of virtual time; nothing reads it again
    fn t0() -> Instant {
        Instant::now()
    }

    #[test]
    fn a_quiet_connection_is_closed_at_the_idle_timeout() {
        let t0 = t0();
        let mut life = Lifetime::new(Lifetimes::default(), t0);
        assert_eq!(life.poll_timeout(), t0 + secs(600));
        assert_eq!(
            run(&mut life, t0, t0 + secs(7200)),
            [(600, LifetimeAction::Close(CloseReason::Idle))]
        );
    }

    #[test]
    fn a_busy_connection_gets_go_away_at_its_maximum_age_then_closes_after_the_grace() {
        let t0 = t0();
        let mut life = Lifetime::new(Lifetimes::default(), t0);
        let mut now = t0;
        let mut done = Vec::new();
        while now < t0 + secs(4000) {
            life.on_incoming(now); // a ping every 5 minutes
            if let Some(a) = life.handle_timeout(now) {
                done.push(((now - t0).as_secs(), a));
                if matches!(a, LifetimeAction::Close(_)) {
                    break;
                }
            }
            now = (now + secs(300)).min(life.poll_timeout());
        }
        assert_eq!(
            done,
            [
                (3600, LifetimeAction::SendGoAway),
                (3660, LifetimeAction::Close(CloseReason::GoAwayGraceOver))
            ]
        );
    }

    #[test]
    fn the_operators_go_away_is_sent_once_and_starts_the_grace() {
        let t0 = t0();
        let mut life = Lifetime::new(Lifetimes::default(), t0);
        assert!(life.go_away(t0 + secs(10)));
        assert!(!life.go_away(t0 + secs(20)), "a second GO_AWAY is not sent");
        assert_eq!(life.poll_timeout(), t0 + secs(70));
        assert_eq!(life.handle_timeout(t0 + secs(69)), None);
        assert_eq!(
            life.handle_timeout(t0 + secs(70)),
            Some(LifetimeAction::Close(CloseReason::GoAwayGraceOver))
        );
    }

    #[test]
    fn reconnect_ice_server_is_sent_once_when_asked_for() {
        let t0 = t0();
        let lifetimes = Lifetimes {
            reconnect_ice_server_after: Some(secs(30)),
            ..Lifetimes::default()
        };
        let mut life = Lifetime::new(lifetimes, t0);
        assert_eq!(
            run(&mut life, t0, t0 + secs(700)),
            [
                (30, LifetimeAction::SendReconnectIceServer),
                (600, LifetimeAction::Close(CloseReason::Idle))
            ]
        );
    }

    #[test]
    fn lifetimes_too_long_to_represent_mean_never() {
        let t0 = t0();
        let forever = Lifetimes {
            idle_timeout: Duration::MAX,
            max_connection_duration: Duration::MAX,
            go_away_grace: Duration::MAX,
            reconnect_ice_server_after: Some(Duration::MAX),
        };
        let mut life = Lifetime::new(forever, t0);
        assert!(life.poll_timeout() > t0 + secs(86_400 * 365));
        assert_eq!(life.handle_timeout(t0 + secs(86_400 * 365)), None);
    }
}
