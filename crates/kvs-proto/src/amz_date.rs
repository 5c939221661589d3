//! The `YYYYMMDDTHHMMSSZ` timestamps of SigV4, and the extended `YYYY-MM-DDTHH:MM:SSZ` form
//! of credential expirations (the AWS IoT credentials provider, the C SDK's credentials
//! file), converted without a calendar crate.

#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::string_slice
    )
)]

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

/// Parses SigV4's `YYYYMMDDTHHMMSSZ`; `None` for anything else, including impossible dates
/// and non-ASCII text (the fields are read as bytes, never sliced as `str`).
pub fn parse(s: &str) -> Option<SystemTime> {
    let bytes: &[u8; 16] = s.as_bytes().try_into().ok()?;
    let [
        y0,
        y1,
        y2,
        y3,
        mo0,
        mo1,
        d0,
        d1,
        b'T',
        h0,
        h1,
        mi0,
        mi1,
        s0,
        s1,
        b'Z',
    ] = *bytes
    else {
        return None;
    };
    let (y, mo, d) = (
        number(&[y0, y1, y2, y3])?,
        number(&[mo0, mo1])?,
        number(&[d0, d1])?,
    );
    let (h, mi, se) = (number(&[h0, h1])?, number(&[mi0, mi1])?, number(&[s0, s1])?);
    if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 59
    {
        return None;
    }
    let days = u64::try_from(days_from_civil(i64::from(y), mo, d)).ok()?;
    let secs = days
        .checked_mul(86_400)?
        .checked_add(u64::from(h).checked_mul(3600)?)?
        .checked_add(u64::from(mi).checked_mul(60)?)?
        .checked_add(u64::from(se))?;
    UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

/// Formats a time as `YYYY-MM-DDTHH:MM:SSZ`, the form of credential expirations.
pub fn format_extended(time: SystemTime) -> String {
    let basic = format(time);
    let b = basic.as_bytes();
    let part = |range: std::ops::Range<usize>| {
        b.get(range)
            .and_then(|p| std::str::from_utf8(p).ok())
            .unwrap_or_default()
    };
    format!(
        "{}-{}-{}T{}:{}:{}Z",
        part(0..4),
        part(4..6),
        part(6..8),
        part(9..11),
        part(11..13),
        part(13..15)
    )
}

/// Parses exactly `YYYY-MM-DDTHH:MM:SSZ` (20 characters, as the C SDK requires of the IoT
/// credentials provider's `expiration`); `None` for anything else.
pub fn parse_extended(s: &str) -> Option<SystemTime> {
    let bytes: &[u8; 20] = s.as_bytes().try_into().ok()?;
    let [
        y0,
        y1,
        y2,
        y3,
        b'-',
        mo0,
        mo1,
        b'-',
        d0,
        d1,
        b'T',
        h0,
        h1,
        b':',
        mi0,
        mi1,
        b':',
        s0,
        s1,
        b'Z',
    ] = *bytes
    else {
        return None;
    };
    let basic = [
        y0, y1, y2, y3, mo0, mo1, d0, d1, b'T', h0, h1, mi0, mi1, s0, s1, b'Z',
    ];
    parse(std::str::from_utf8(&basic).ok()?)
}

/// The value of up to four ASCII decimal digits; `None` if any byte is not one.
fn number(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |acc, &c| {
        let digit = char::from(c).to_digit(10)?;
        acc.checked_mul(10)?.checked_add(digit)
    })
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
// Allowed: `y` comes from four digits (0..=9999) and `m`, `d` are checked, so every
// intermediate stays far inside i64.
#[allow(clippy::arithmetic_side_effects)]
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

// Allowed: `z` is at most u64::MAX / 86400 (about 2.1e14) days, so every intermediate of
// the algorithm stays far inside i64.
#[allow(clippy::arithmetic_side_effects)]
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
    fn the_extended_form_round_trips_and_nothing_else_parses() {
        let t = parse("20191201T081502Z").unwrap();
        assert_eq!(format_extended(t), "2019-12-01T08:15:02Z");
        assert_eq!(parse_extended("2019-12-01T08:15:02Z"), Some(t));
        for bad in [
            "2019-12-01T08:15:02",
            "2019-12-01 08:15:02Z",
            "2019-12-01T08:15:02.000Z",
            "20191201T081502Z",
            "2019-02-30T08:15:02Z",
            "2019-12-01T08:15:0éZ",
        ] {
            assert!(parse_extended(bad).is_none(), "{bad}");
        }
    }

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
        // 16 bytes with `T` at byte 8, but `é` straddles bytes 3 and 4.
        assert!(parse("201\u{e9}123T000000Z").is_none());
        assert!(parse("2019120\u{e9}T00000Z").is_none());
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

        /// A valid timestamp with one character swapped for a multi-byte one of any width:
        /// the length check passes, the parse must still refuse without panicking.
        #[test]
        fn multibyte_characters_are_refused(
            secs in 0u64..253_402_300_799,
            at in 0usize..16,
            c in "[\\u{80}-\\u{10ffff}]",
        ) {
            let valid = format(UNIX_EPOCH + Duration::from_secs(secs));
            let mut perturbed: Vec<char> = valid.chars().collect();
            perturbed[at] = c.chars().next().unwrap();
            let s: String = perturbed.into_iter().collect();
            prop_assert_eq!(parse(&s), None);
            // The same bytes with the character's width taken out of the end.
            let cut = s.len().saturating_sub(c.len() - 1);
            if s.is_char_boundary(cut) {
                prop_assert_eq!(parse(&s[..cut]), None);
            }
        }
    }
}
