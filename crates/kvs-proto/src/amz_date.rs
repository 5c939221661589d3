//! The `YYYYMMDDTHHMMSSZ` timestamps of SigV4, converted without a calendar crate.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Formats a time as SigV4's basic ISO-8601 form, e.g. `20191201T000000Z`.
pub fn format(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Parses SigV4's `YYYYMMDDTHHMMSSZ`; `None` for anything else, including impossible dates.
pub fn parse(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = &s[r];
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, se) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 59
    {
        return None;
    }
    let days = days_from_civil(y as i64, mo, d);
    let secs = u64::try_from(days).ok()? * 86_400 + u64::from(h * 3600 + mi * 60 + se);
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        2 if (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's days-from-civil algorithm (proleptic Gregorian calendar).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_dates() {
        let t = parse("20191201T000000Z").unwrap();
        assert_eq!(
            t.duration_since(UNIX_EPOCH).unwrap().as_secs(),
            1_575_158_400
        );
        assert_eq!(format(t), "20191201T000000Z");
        assert_eq!(format(UNIX_EPOCH), "19700101T000000Z");
        assert!(parse("20190230T000000Z").is_none());
        assert!(parse("2019-12-01T00:00:00Z").is_none());
        assert!(parse("20191201T246000Z").is_none());
        assert!(parse("+0191201T000000Z").is_none());
    }

    proptest! {
        #[test]
        fn round_trips(secs in 0u64..253_402_300_799) {
            let t = UNIX_EPOCH + Duration::from_secs(secs);
            prop_assert_eq!(parse(&format(t)), Some(t));
        }

        #[test]
        fn never_panics(s in "\\PC{0,20}") {
            let _ = parse(&s);
        }
    }
}
