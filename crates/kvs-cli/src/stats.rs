//! Percentiles of measured durations: one definition (nearest rank) for every benchmark.

use std::time::Duration;

/// The `p`-th percentile (0–100) of `v` by nearest rank: the smallest sample that at least
/// `p` % of the samples do not exceed. Sorts `v`; zero when there are no samples.
pub fn percentile(v: &mut [Duration], p: u8) -> Duration {
    v.sort_unstable();
    let rank = (v.len() * usize::from(p.min(100))).div_ceil(100).max(1);
    v.get(rank - 1).copied().unwrap_or_default()
}

/// The median (the 50th percentile) of `v`; sorts it.
pub fn median(v: &mut [Duration]) -> Duration {
    percentile(v, 50)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn nearest_rank() {
        let mut v = ms(&[5, 1, 4, 2, 3]);
        assert_eq!(median(&mut v), Duration::from_millis(3));
        assert_eq!(percentile(&mut v, 0), Duration::from_millis(1));
        assert_eq!(percentile(&mut v, 99), Duration::from_millis(5));
        assert_eq!(percentile(&mut v, 100), Duration::from_millis(5));
        let mut hundred: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&mut hundred, 99), Duration::from_millis(99));
        assert_eq!(median(&mut ms(&[1, 2, 3, 4])), Duration::from_millis(2));
        assert_eq!(median(&mut []), Duration::ZERO);
    }
}
