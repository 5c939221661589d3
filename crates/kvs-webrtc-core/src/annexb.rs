//! H.264 Annex-B byte streams: NAL units between start codes, grouped into access units (one
//! coded picture with the parameter sets and SEI in front of it), so a file is sent one frame
//! per RTP timestamp and a receiver can compare frames byte for byte.
//!
//! Any byte string is accepted: bytes before the first start code are skipped, and a stream
//! without a start code has no NAL units. Nothing here panics or allocates per byte.

use std::ops::Range;

/// NAL unit types this module cares about (ITU-T H.264 table 7-1).
mod nal_type {
    pub const NON_IDR_SLICE: u8 = 1;
    pub const IDR_SLICE: u8 = 5;
    pub const SEI: u8 = 6;
    pub const SPS: u8 = 7;
    pub const PPS: u8 = 8;
    pub const AUD: u8 = 9;
}

/// One NAL unit: where its start code begins and where its bytes (header first) lie.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Nal {
    start_code: usize,
    body: Range<usize>,
}

/// The NAL units of `data`, in order.
fn nal_units(data: &[u8]) -> Vec<Nal> {
    // Each `00 00 01` starts a NAL; a zero byte in front of it belongs to a 4-byte start code.
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            let code = if i > 0 && data[i - 1] == 0 { i - 1 } else { i };
            starts.push((code, i + 3));
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut nals = Vec::with_capacity(starts.len());
    for (n, &(code, body_start)) in starts.iter().enumerate() {
        let end = starts.get(n + 1).map_or(data.len(), |&(next, _)| next);
        if body_start < end {
            nals.push(Nal {
                start_code: code,
                body: body_start..end,
            });
        }
    }
    nals
}

fn kind(data: &[u8], nal: &Nal) -> u8 {
    data[nal.body.start] & 0x1f
}

fn is_slice(kind: u8) -> bool {
    kind == nal_type::NON_IDR_SLICE || kind == nal_type::IDR_SLICE
}

/// A slice that begins a picture: `first_mb_in_slice` is 0, which in Exp-Golomb is a single
/// 1 bit, the first bit after the NAL header.
fn starts_picture(data: &[u8], nal: &Nal) -> bool {
    data.get(nal.body.start + 1).is_some_and(|b| b & 0x80 != 0)
}

/// The access units of `data`, as byte ranges from the first start code of each to the end of
/// its last NAL unit (so the file's own start codes are kept).
pub fn access_units(data: &[u8]) -> Vec<Range<usize>> {
    let mut units = Vec::new();
    let mut current: Option<Range<usize>> = None;
    let mut has_picture = false;
    for nal in nal_units(data) {
        let k = kind(data, &nal);
        let boundary = has_picture
            && (matches!(
                k,
                nal_type::SEI | nal_type::SPS | nal_type::PPS | nal_type::AUD
            ) || (is_slice(k) && starts_picture(data, &nal)));
        if boundary && let Some(unit) = current.take() {
            units.push(unit);
            has_picture = false;
        }
        has_picture |= is_slice(k);
        match &mut current {
            Some(unit) => unit.end = nal.body.end,
            None => current = Some(nal.start_code..nal.body.end),
        }
    }
    units.extend(current);
    units
}

/// True when the access unit holds an IDR slice: a decoder can start there.
pub fn is_key_frame(unit: &[u8]) -> bool {
    nal_units(unit)
        .iter()
        .any(|nal| kind(unit, nal) == nal_type::IDR_SLICE)
}

/// The access unit with every NAL unit behind a 4-byte start code and access unit delimiters
/// left out: what an RTP receiver rebuilds from it (RFC 6184 carries NAL units without start
/// codes, and packetizers drop delimiters).
pub fn normalized(unit: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(unit.len() + 8);
    for nal in nal_units(unit) {
        if kind(unit, &nal) != nal_type::AUD {
            out.extend_from_slice(&[0, 0, 0, 1]);
            out.extend_from_slice(&unit[nal.body]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SPS: &[u8] = &[0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1f, 0xda];
    const PPS: &[u8] = &[0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80];
    const IDR: &[u8] = &[0, 0, 1, 0x65, 0x88, 0x84, 0x00, 0x33];
    const P1: &[u8] = &[0, 0, 0, 1, 0x41, 0x9a, 0x02, 0x04];
    /// A second slice of the same picture: first_mb_in_slice is not 0.
    const P1_SLICE2: &[u8] = &[0, 0, 0, 1, 0x41, 0x40, 0x02, 0x04];
    const P2: &[u8] = &[0, 0, 0, 1, 0x41, 0x9a, 0x04, 0x08];

    fn stream(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    #[test]
    fn pictures_are_split_with_their_parameter_sets_and_slices() {
        let data = stream(&[SPS, PPS, IDR, P1, P1_SLICE2, P2]);
        let units: Vec<&[u8]> = access_units(&data).into_iter().map(|r| &data[r]).collect();
        assert_eq!(
            units,
            vec![
                stream(&[SPS, PPS, IDR]).as_slice(),
                stream(&[P1, P1_SLICE2]).as_slice(),
                P2
            ]
        );
        assert!(is_key_frame(units[0]));
        assert!(!is_key_frame(units[1]));
        // The 3-byte start code of the IDR slice becomes a 4-byte one.
        assert_eq!(normalized(units[0]), stream(&[SPS, PPS, &[0], IDR]));
        assert_eq!(normalized(units[1]), units[1]);
    }

    #[test]
    fn garbage_has_no_units_and_leading_bytes_are_skipped() {
        assert!(access_units(b"").is_empty());
        assert!(access_units(b"no start code here").is_empty());
        assert!(access_units(&[0, 0, 1]).is_empty());
        let data = stream(&[b"junk", P2]);
        assert_eq!(access_units(&data), vec![4..data.len()]);
    }

    proptest! {
        /// Valid streams cut into frames and put back together give the same bytes; any
        /// perturbation (bytes flipped, cut short) still splits without panicking, into
        /// ranges inside the input, in order.
        #[test]
        fn splitting_is_lossless_and_total(
            frames in proptest::collection::vec(0usize..3, 1..20),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
            cut in any::<usize>(),
        ) {
            let parts: Vec<&[u8]> = frames
                .iter()
                .flat_map(|&f| match f {
                    0 => vec![SPS, PPS, IDR],
                    1 => vec![P1, P1_SLICE2],
                    _ => vec![P2],
                })
                .collect();
            let data = stream(&parts);
            let units = access_units(&data);
            prop_assert_eq!(units.len(), frames.len());
            let joined: Vec<u8> = units.iter().flat_map(|r| data[r.clone()].to_vec()).collect();
            prop_assert_eq!(&joined, &data);

            let mut bad = data.clone();
            for (at, byte) in flips {
                let n = bad.len();
                bad[at % n] = byte;
            }
            bad.truncate(cut % (bad.len() + 1));
            let mut last = 0;
            for r in access_units(&bad) {
                prop_assert!(r.start >= last && r.end <= bad.len() && r.start < r.end);
                last = r.end;
                let _ = is_key_frame(&bad[r.clone()]);
                let _ = normalized(&bad[r]);
            }
        }
    }
}
