//! H.264 RTP packets (RFC 6184) back into Annex-B frames: packets of one RTP timestamp are
//! collected until the marker bit, put in sequence order, checked for gaps, and depacketized
//! (webrtc-rs's H.264 depacketizer: single NAL units, STAP-A, FU-A). A frame with a missing
//! packet, a packet of a later frame before the marker, or garbage in a payload is counted
//! as lost, never passed on half-built. Memory is bounded by [`FrameLimits`].

use bytes::Bytes;
use rtc_rtp::codec::h264::H264Packet;
use rtc_rtp::packetizer::Depacketizer;

use super::annexb;

/// Bounds on one frame being assembled.
#[derive(Debug, Clone, Copy)]
pub struct FrameLimits {
    /// Packets in one frame.
    pub max_packets: usize,
    /// Payload bytes in one frame.
    pub max_bytes: usize,
}

impl Default for FrameLimits {
    fn default() -> Self {
        // A 1080p key frame is a few hundred KiB; 4 MiB leaves room without letting a peer
        // that never sets the marker bit grow the buffer forever.
        Self {
            max_packets: 4096,
            max_bytes: 4 << 20,
        }
    }
}

/// A reassembled frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The RTP timestamp (90 kHz).
    pub timestamp: u32,
    /// The access unit in Annex-B, each NAL unit behind a 4-byte start code.
    pub data: Vec<u8>,
    /// It holds an IDR slice.
    pub key: bool,
}

/// Why a frame was not passed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameLost {
    /// A packet is missing (or a later frame began before this one's marker).
    #[error("a packet of the frame never arrived")]
    Incomplete,
    /// The frame is larger than the limits.
    #[error("the frame is larger than the receive limits")]
    TooLarge,
    /// A payload is not valid H.264 RTP.
    #[error("a payload is not valid H.264 RTP")]
    Malformed,
}

/// Collects packets into frames.
#[derive(Debug, Default)]
pub struct FrameAssembler {
    limits: FrameLimits,
    timestamp: Option<u32>,
    packets: Vec<(u16, Bytes)>,
    bytes: usize,
    too_large: bool,
}

impl FrameAssembler {
    /// An empty assembler.
    pub fn new(limits: FrameLimits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// One RTP packet: a finished frame when it carries the marker bit, and the frame it cut
    /// short if it belongs to a new timestamp.
    pub fn push(
        &mut self,
        sequence: u16,
        timestamp: u32,
        marker: bool,
        payload: Bytes,
    ) -> Vec<Result<Frame, FrameLost>> {
        let mut out = Vec::new();
        if self.timestamp.is_some_and(|t| t != timestamp) {
            self.reset();
            out.push(Err(FrameLost::Incomplete));
        }
        self.timestamp = Some(timestamp);
        self.bytes = self.bytes.saturating_add(payload.len());
        if self.packets.len() >= self.limits.max_packets || self.bytes > self.limits.max_bytes {
            self.too_large = true;
            self.packets.clear();
        } else if !self.too_large {
            self.packets.push((sequence, payload));
        }
        if marker {
            out.push(self.finish(timestamp));
        }
        out
    }

    fn reset(&mut self) {
        self.timestamp = None;
        self.packets.clear();
        self.bytes = 0;
        self.too_large = false;
    }

    fn finish(&mut self, timestamp: u32) -> Result<Frame, FrameLost> {
        let too_large = self.too_large;
        let mut packets = std::mem::take(&mut self.packets);
        self.reset();
        if too_large {
            return Err(FrameLost::TooLarge);
        }
        // Order by distance from the first packet, which survives the 16-bit wrap.
        let first = packets.first().map_or(0, |(s, _)| *s);
        packets.sort_by_key(|(s, _)| s.wrapping_sub(first) as i16);
        let contiguous = packets.windows(2).all(|w| w[1].0 == w[0].0.wrapping_add(1));
        if !contiguous {
            return Err(FrameLost::Incomplete);
        }
        let mut depacketizer = H264Packet::default();
        let mut data = Vec::with_capacity(
            self.limits
                .max_bytes
                .min(packets.iter().map(|p| p.1.len() + 8).sum()),
        );
        for (_, payload) in &packets {
            if !stap_a_is_whole(payload) {
                return Err(FrameLost::Malformed);
            }
            let nal = depacketizer
                .depacketize(payload)
                .map_err(|_| FrameLost::Malformed)?;
            data.extend_from_slice(&nal);
        }
        if data.is_empty() {
            // The marker came in the middle of a fragmented NAL unit.
            return Err(FrameLost::Incomplete);
        }
        Ok(Frame {
            timestamp,
            key: annexb::is_key_frame(&data),
            data,
        })
    }
}

/// An aggregation packet (STAP-A, RFC 6184 §5.7.1) whose every NAL unit has its whole
/// 2-byte size; anything else is true. rtc-rtp 0.21.1's depacketizer indexes past the end of
/// a STAP-A that ends in half a size field, so such a packet never reaches it.
fn stap_a_is_whole(payload: &[u8]) -> bool {
    const STAP_A: u8 = 24;
    if payload.first().is_none_or(|b| b & 0x1f != STAP_A) {
        return true;
    }
    let mut at = 1usize;
    while at < payload.len() {
        let Some(size) = payload.get(at..at + 2) else {
            return false;
        };
        at = at + 2 + usize::from(u16::from_be_bytes([size[0], size[1]]));
    }
    at == payload.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rtc_rtp::codec::h264::H264Payloader;
    use rtc_rtp::packetizer::Payloader;

    /// An access unit: SPS, PPS and an IDR slice long enough to be fragmented.
    fn key_frame(len: usize) -> Vec<u8> {
        let mut f = vec![
            0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1f, 0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80,
        ];
        f.extend_from_slice(&[0, 0, 0, 1, 0x65, 0x88]);
        f.extend((0..len).map(|i| (i % 251) as u8 | 1));
        f
    }

    fn packets(frame: &[u8], mtu: usize) -> Vec<Bytes> {
        H264Payloader::default()
            .payload(mtu, &Bytes::copy_from_slice(frame))
            .unwrap()
    }

    fn feed(
        a: &mut FrameAssembler,
        ts: u32,
        first_seq: u16,
        p: &[Bytes],
    ) -> Vec<Result<Frame, FrameLost>> {
        let n = p.len();
        p.iter()
            .enumerate()
            .flat_map(|(i, payload)| {
                a.push(
                    first_seq.wrapping_add(i as u16),
                    ts,
                    i + 1 == n,
                    payload.clone(),
                )
            })
            .collect()
    }

    #[test]
    fn a_fragmented_key_frame_comes_back_byte_for_byte_across_the_sequence_wrap() {
        let frame = key_frame(5000);
        let p = packets(&frame, 1200);
        assert!(p.len() > 4);
        let mut a = FrameAssembler::default();
        let out = feed(&mut a, 3000, 65533, &p);
        assert_eq!(out.len(), 1);
        let got = out[0].clone().unwrap();
        assert_eq!(got.data, frame);
        assert!(got.key);
        assert_eq!(got.timestamp, 3000);
    }

    #[test]
    fn reordered_packets_are_put_back_and_a_gap_loses_the_frame() {
        let frame = key_frame(3000);
        let mut p: Vec<(u16, Bytes)> = packets(&frame, 1000)
            .into_iter()
            .enumerate()
            .map(|(i, b)| (i as u16, b))
            .collect();
        let n = p.len();
        let mut a = FrameAssembler::default();
        // Swap two middle packets; the marker packet still comes last.
        p.swap(1, 2);
        let out: Vec<_> = p
            .iter()
            .enumerate()
            .flat_map(|(i, (s, b))| a.push(*s, 9, i + 1 == n, b.clone()))
            .collect();
        assert_eq!(out[0].as_ref().unwrap().data, frame);
        // Leave one out.
        let out: Vec<_> = p
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 1)
            .flat_map(|(i, (s, b))| a.push(*s, 10, i + 1 == n, b.clone()))
            .collect();
        assert_eq!(out, vec![Err(FrameLost::Incomplete)]);
    }

    #[test]
    fn a_new_timestamp_before_the_marker_loses_the_old_frame_and_keeps_the_new() {
        let frame = key_frame(3000);
        let p = packets(&frame, 1000);
        let mut a = FrameAssembler::default();
        assert!(a.push(0, 1, false, p[0].clone()).is_empty());
        let out = feed(&mut a, 2, 1, &p);
        assert_eq!(out[0], Err(FrameLost::Incomplete));
        assert_eq!(out[1].as_ref().unwrap().data, frame);
    }

    #[test]
    fn a_frame_without_a_marker_is_bounded() {
        let mut a = FrameAssembler::new(FrameLimits {
            max_packets: 8,
            max_bytes: 1 << 20,
        });
        for s in 0..1000u16 {
            assert!(
                a.push(s, 7, false, Bytes::from_static(&[0x41, 1, 2]))
                    .is_empty()
            );
        }
        assert!(a.packets.len() <= 8);
        assert_eq!(
            a.push(1000, 7, true, Bytes::from_static(&[0x41, 1, 2])),
            vec![Err(FrameLost::TooLarge)]
        );
        // And the next frame is fine again.
        let out = a.push(1001, 8, true, Bytes::from_static(&[0x41, 1, 2]));
        assert_eq!(out[0].as_ref().unwrap().data, vec![0, 0, 0, 1, 0x41, 1, 2]);
    }

    #[test]
    fn an_aggregation_packet_cut_inside_a_size_field_is_malformed_not_a_panic() {
        // Found by the webrtc_inputs fuzz target: STAP-A, one 1-byte NAL unit, then one byte
        // of the next size field.
        let mut a = FrameAssembler::default();
        let bad = Bytes::from_static(&[0x78, 0x00, 0x01, 0x41, 0x00]);
        assert_eq!(a.push(1, 1, true, bad), vec![Err(FrameLost::Malformed)]);
        let short = Bytes::from_static(&[0x78, 0x00, 0x05, 0x41]);
        assert_eq!(a.push(2, 2, true, short), vec![Err(FrameLost::Malformed)]);
        let good = Bytes::from_static(&[0x78, 0x00, 0x01, 0x41, 0x00, 0x02, 0x41, 0x01]);
        assert_eq!(
            a.push(3, 3, true, good).pop().unwrap().unwrap().data,
            vec![0, 0, 0, 1, 0x41, 0, 0, 0, 1, 0x41, 0x01]
        );
    }

    proptest! {
        /// Valid frames packetized and then perturbed (payload bytes flipped, packets dropped)
        /// never panic, and an unperturbed frame always comes back whole.
        #[test]
        fn perturbed_packets_never_panic(
            len in 1usize..6000,
            flips in proptest::collection::vec((any::<usize>(), any::<usize>(), any::<u8>()), 0..6),
            drop in proptest::option::of(any::<usize>()),
        ) {
            let frame = key_frame(len);
            let mut p = packets(&frame, 500);
            let clean = flips.is_empty() && drop.is_none();
            for (pi, at, byte) in flips {
                let i = pi % p.len();
                let mut v = p[i].to_vec();
                let j = at % v.len();
                v[j] = byte;
                p[i] = Bytes::from(v);
            }
            let n = p.len();
            let mut a = FrameAssembler::default();
            let out: Vec<_> = p.iter().enumerate()
                .filter(|(i, _)| drop.is_none_or(|d| d % n != *i || n == 1))
                .flat_map(|(i, b)| a.push(i as u16, 5, i + 1 == n, b.clone()))
                .collect();
            if clean {
                prop_assert_eq!(out.len(), 1);
                prop_assert_eq!(&out[0].as_ref().unwrap().data, &frame);
            }
        }
    }
}
