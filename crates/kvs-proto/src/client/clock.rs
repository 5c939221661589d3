//! The client's view of the service clock: wall time derived from monotonic time, and the
//! skew learned from the service, applied to every signature.

use super::*;

impl Client {
    pub(super) fn wall_time(&self, now: Instant) -> SystemTime {
        self.wall_anchor + now.saturating_duration_since(self.mono_anchor)
    }

    /// The time to sign with: our clock corrected by the estimated skew.
    pub(super) fn signing_time(&self, now: Instant) -> SystemTime {
        crate::skew::shifted(self.wall_time(now), self.skew_ms)
    }

    /// The estimated offset of the service's clock from ours (positive: the service is ahead).
    pub fn clock_skew(&self) -> std::time::Duration {
        Duration::from_millis(self.skew_ms.unsigned_abs())
    }

    /// True when the service's clock is behind ours.
    pub fn clock_skew_is_behind(&self) -> bool {
        self.skew_ms < 0
    }

    /// Learns the service's time; returns true when the estimate moved by more than `min`.
    pub(super) fn observe_service_time(
        &mut self,
        now: Instant,
        service: SystemTime,
        min: Duration,
    ) -> bool {
        let skew_ms = crate::skew::offset_ms(service, self.wall_time(now));
        if (skew_ms - self.skew_ms).unsigned_abs() > min.as_millis() as u64 {
            self.skew_ms = skew_ms;
            self.emit(Event::ClockSkew { skew_ms });
            return true;
        }
        false
    }
}
