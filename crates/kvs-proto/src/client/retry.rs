//! When to try a failed step again: exponential backoff with full jitter.

use std::time::{Duration, Instant};

/// The retry policy. The defaults follow the C SDK's state-machine backoff (100 ms base,
/// 10 s cap, reset after 90 s without a retry) except that, unlike the C SDK, the client never
/// gives up unless `max_retries` says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Ceiling of the first delay; each further retry doubles it.
    pub base: Duration,
    /// The largest ceiling.
    pub cap: Duration,
    /// After this long without a retry, the next failure starts again from `base`.
    pub reset_after: Duration,
    /// Consecutive retries before the client stops; `None` retries forever.
    pub max_retries: Option<u32>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(10),
            reset_after: Duration::from_secs(90),
            max_retries: None,
        }
    }
}

/// SplitMix64: a tiny, seedable generator. For jitter only, never for secrets.
#[derive(Debug, Clone)]
pub(crate) struct Jitter(u64);

impl Jitter {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniformly drawn duration in `[0, ceiling]`, at microsecond resolution.
    pub(crate) fn up_to(&mut self, ceiling: Duration) -> Duration {
        let micros = ceiling.as_micros().min(u128::from(u64::MAX)) as u64;
        Duration::from_micros(self.next_u64() % micros.saturating_add(1))
    }
}

/// The backoff state of one client.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    policy: RetryPolicy,
    attempts: u32,
    last_retry: Option<Instant>,
    jitter: Jitter,
}

impl Backoff {
    pub(crate) fn new(policy: RetryPolicy, seed: u64) -> Self {
        Self {
            policy,
            attempts: 0,
            last_retry: None,
            jitter: Jitter::new(seed),
        }
    }

    /// Retries so far in the current run of failures.
    pub(crate) fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The delay before the next retry and its number, or `None` once retries are used up.
    pub(crate) fn next(&mut self, now: Instant) -> Option<(u32, Duration)> {
        if self
            .last_retry
            .is_some_and(|t| now.saturating_duration_since(t) >= self.policy.reset_after)
        {
            self.attempts = 0;
        }
        if self
            .policy
            .max_retries
            .is_some_and(|max| self.attempts >= max)
        {
            return None;
        }
        let ceiling = self
            .policy
            .base
            .saturating_mul(1u32 << self.attempts.min(20))
            .min(self.policy.cap);
        self.attempts += 1;
        self.last_retry = Some(now);
        Some((self.attempts, self.jitter.up_to(ceiling)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::disallowed_methods)]
    fn origin() -> Instant {
        Instant::now()
    }

    #[test]
    fn delays_stay_under_a_doubling_ceiling_capped_at_ten_seconds() {
        let mut b = Backoff::new(RetryPolicy::default(), 7);
        let t = origin();
        for n in 0..40u32 {
            let (attempt, delay) = b.next(t).unwrap();
            assert_eq!(attempt, n + 1);
            let ceiling =
                Duration::from_millis(100 * (1u64 << n.min(20))).min(Duration::from_secs(10));
            assert!(delay <= ceiling, "retry {attempt}: {delay:?} > {ceiling:?}");
        }
    }

    #[test]
    fn jitter_spreads_clients_and_is_reproducible_from_the_seed() {
        let delays = |seed| {
            let mut b = Backoff::new(RetryPolicy::default(), seed);
            let t = origin();
            (0..10).map(|_| b.next(t).unwrap().1).collect::<Vec<_>>()
        };
        assert_eq!(delays(1), delays(1));
        assert_ne!(delays(1), delays(2));
        let late: Vec<Duration> = delays(3).into_iter().skip(7).collect();
        assert!(late.iter().any(|d| *d > Duration::from_secs(1)), "{late:?}");
    }

    #[test]
    fn ninety_quiet_seconds_reset_the_ceiling_and_a_limit_is_honoured() {
        let policy = RetryPolicy {
            max_retries: Some(3),
            ..RetryPolicy::default()
        };
        let mut b = Backoff::new(policy, 0);
        let t = origin();
        for _ in 0..3 {
            b.next(t).unwrap();
        }
        assert_eq!(b.next(t), None);
        assert_eq!(b.next(t + Duration::from_secs(90)).map(|(n, _)| n), Some(1));
        let (_, delay) = b.next(t + Duration::from_secs(90)).unwrap();
        assert!(delay <= Duration::from_millis(200));
    }
}
