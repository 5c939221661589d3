//! The offset between two clocks in signed milliseconds, and a time moved by it: how the
//! client corrects its signatures by the service's clock, and how the doctor measures it.

use std::time::{Duration, SystemTime};

/// `other` minus `ours` in milliseconds (positive: `other` is ahead), saturating.
pub fn offset_ms(other: SystemTime, ours: SystemTime) -> i64 {
    match other.duration_since(ours) {
        Ok(ahead) => i64::try_from(ahead.as_millis()).unwrap_or(i64::MAX),
        Err(behind) => i64::try_from(behind.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

/// `t` moved by `offset_ms`; `t` itself when that leaves the range of `SystemTime`.
pub fn shifted(t: SystemTime, offset_ms: i64) -> SystemTime {
    let by = Duration::from_millis(offset_ms.unsigned_abs());
    let moved = match offset_ms >= 0 {
        true => t.checked_add(by),
        false => t.checked_sub(by),
    };
    moved.unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_round_trip_and_saturate() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        for ms in [0, 1, -1, 600_000, -900_000] {
            assert_eq!(offset_ms(shifted(t, ms), t), ms);
        }
        assert_eq!(
            shifted(t, i64::MIN),
            t - Duration::from_millis(i64::MIN.unsigned_abs())
        );
        assert_eq!(offset_ms(SystemTime::UNIX_EPOCH, t), -1_000_000_000);
    }
}
