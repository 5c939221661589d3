//! One frame on the wire, without allocation: a 16-byte header, the payload and a CRC-32,
//! COBS-encoded and ended by a zero byte, so a receiver finds the next frame after any
//! garbage. The layout is in `docs/SPLIT-LINK.md`.

use crc::{CRC_32_ISO_HDLC, Crc};

/// The protocol version this crate speaks.
pub const VERSION: u8 = 1;
/// Bytes before the payload.
pub const HEADER_LEN: usize = 16;
/// Bytes after it (the CRC).
pub const TRAILER_LEN: usize = 4;
/// The largest payload a frame may carry; the handshake may agree on less.
pub const MAX_PAYLOAD: usize = 1024;
/// The largest frame before COBS.
pub const MAX_FRAME: usize = HEADER_LEN + MAX_PAYLOAD + TRAILER_LEN;
/// The largest frame on the wire: COBS-encoded, between two zero delimiters.
pub const MAX_WIRE_FRAME: usize = cobs::max_encoding_length(MAX_FRAME) + 2;

const CRC: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);

/// What a frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The capability handshake, also sent while the link is down.
    Hello = 1,
    /// A fragment of a message.
    Data = 2,
    /// Acknowledges data (cumulative plus a selective bitmap); doubles as the heartbeat.
    Ack = 3,
}

impl Kind {
    fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(Self::Hello),
            2 => Some(Self::Data),
            3 => Some(Self::Ack),
            _ => None,
        }
    }
}

/// A frame's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// What it is.
    pub kind: Kind,
    /// The sender's session id (random at each start: a change means it rebooted).
    pub src: u32,
    /// The session the sender believes the receiver has (0: unknown, in a first HELLO).
    pub dst: u32,
    /// Data: the frame's sequence number. Ack: the next sequence number expected.
    pub seq: u32,
    /// At most [`MAX_PAYLOAD`] bytes.
    pub payload: &'a [u8],
}

/// Why bytes between two delimiters are not a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// Not valid COBS.
    Cobs,
    /// Shorter than a header and a CRC, or longer than [`MAX_WIRE_FRAME`].
    Length,
    /// The CRC does not match: bit errors on the line.
    Crc,
    /// Another protocol version.
    Version(u8),
    /// An unknown frame kind.
    Kind(u8),
    /// The length field disagrees with the frame's size.
    PayloadLength,
}

/// Why a frame could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge;

impl Frame<'_> {
    /// Writes the frame, COBS-encoded between two zero delimiters (the leading one ends any
    /// garbage or cut-off frame before it, so this frame is not lost with it), into `out`
    /// (at least [`MAX_WIRE_FRAME`] bytes suffice) using `scratch` (at least [`MAX_FRAME`]);
    /// returns the length written.
    pub fn encode(&self, scratch: &mut [u8], out: &mut [u8]) -> Result<usize, TooLarge> {
        let len = self.payload.len();
        if len > MAX_PAYLOAD {
            return Err(TooLarge);
        }
        let total = HEADER_LEN + len + TRAILER_LEN;
        let raw = scratch.get_mut(..total).ok_or(TooLarge)?;
        let (header, rest) = raw.split_at_mut(HEADER_LEN);
        let (body, crc) = rest.split_at_mut(len);
        header.copy_from_slice(&header_bytes(self, len));
        body.copy_from_slice(self.payload);
        let sum = {
            let mut digest = CRC.digest();
            digest.update(header);
            digest.update(body);
            digest.finalize()
        };
        crc.copy_from_slice(&sum.to_le_bytes());
        let (start, body) = out.split_first_mut().ok_or(TooLarge)?;
        *start = 0;
        let n = cobs::try_encode(raw, body).map_err(|_| TooLarge)?;
        let end = body.get_mut(n).ok_or(TooLarge)?;
        *end = 0;
        Ok(n + 2)
    }
}

fn header_bytes(f: &Frame<'_>, len: usize) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    let len = u16::try_from(len).unwrap_or(u16::MAX).to_le_bytes();
    let fields: [&[u8]; 6] = [
        &[VERSION],
        &[f.kind as u8],
        &len,
        &f.src.to_le_bytes(),
        &f.dst.to_le_bytes(),
        &f.seq.to_le_bytes(),
    ];
    let mut at = 0;
    for field in fields {
        if let Some(slot) = h.get_mut(at..at + field.len()) {
            slot.copy_from_slice(field);
        }
        at += field.len();
    }
    h
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    if let Some(src) = b.get(at..at + 4) {
        word.copy_from_slice(src);
    }
    u32::from_le_bytes(word)
}

/// Decodes the COBS bytes between two delimiters, in place, and checks the frame.
pub fn decode(encoded: &mut [u8]) -> Result<Frame<'_>, FrameError> {
    if encoded.len() > MAX_WIRE_FRAME {
        return Err(FrameError::Length);
    }
    let n = cobs::decode_in_place(encoded).map_err(|_| FrameError::Cobs)?;
    let raw = encoded.get(..n).ok_or(FrameError::Cobs)?;
    if n < HEADER_LEN + TRAILER_LEN {
        return Err(FrameError::Length);
    }
    let (body, crc) = raw.split_at(n - TRAILER_LEN);
    if CRC.checksum(body) != u32_at(crc, 0) {
        return Err(FrameError::Crc);
    }
    let (header, payload) = body.split_at(HEADER_LEN);
    let [version, kind, len_lo, len_hi, ..] = *header else {
        return Err(FrameError::Length);
    };
    if version != VERSION {
        return Err(FrameError::Version(version));
    }
    let kind = Kind::from_byte(kind).ok_or(FrameError::Kind(kind))?;
    if usize::from(u16::from_le_bytes([len_lo, len_hi])) != payload.len()
        || payload.len() > MAX_PAYLOAD
    {
        return Err(FrameError::PayloadLength);
    }
    Ok(Frame {
        kind,
        src: u32_at(header, 4),
        dst: u32_at(header, 8),
        seq: u32_at(header, 12),
        payload,
    })
}

/// Splits a byte stream at zero delimiters. Bytes beyond [`MAX_WIRE_FRAME`] without a
/// delimiter are garbage: they are skipped up to the next delimiter, so memory stays bounded
/// and the stream resynchronises.
pub struct Deframer {
    buf: [u8; MAX_WIRE_FRAME],
    len: usize,
    overflowed: bool,
}

impl Default for Deframer {
    fn default() -> Self {
        Self {
            buf: [0; MAX_WIRE_FRAME],
            len: 0,
            overflowed: false,
        }
    }
}

impl core::fmt::Debug for Deframer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Deframer")
            .field("buffered", &self.len)
            .field("overflowed", &self.overflowed)
            .finish()
    }
}

impl Deframer {
    /// Feeds received bytes; `on_frame` gets each frame or why the bytes between two
    /// delimiters were not one (an overlong run counts as [`FrameError::Length`]).
    pub fn feed(&mut self, bytes: &[u8], mut on_frame: impl FnMut(Result<Frame<'_>, FrameError>)) {
        for &b in bytes {
            if b != 0 {
                match self.buf.get_mut(self.len) {
                    Some(slot) if !self.overflowed => {
                        *slot = b;
                        self.len += 1;
                    }
                    _ => self.overflowed = true,
                }
                continue;
            }
            let (len, overflowed) = (self.len, self.overflowed);
            self.len = 0;
            self.overflowed = false;
            if overflowed {
                on_frame(Err(FrameError::Length));
            } else if let Some(encoded) = self.buf.get_mut(..len).filter(|e| !e.is_empty()) {
                on_frame(decode(encoded));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(frame: &Frame<'_>) -> ([u8; MAX_WIRE_FRAME], usize) {
        let mut scratch = [0u8; MAX_FRAME];
        let mut out = [0u8; MAX_WIRE_FRAME];
        let n = frame.encode(&mut scratch, &mut out).unwrap();
        (out, n)
    }

    #[test]
    fn frames_round_trip_and_contain_no_zero_but_the_delimiter() {
        let payload = [0u8, 1, 0, 255, 0];
        let frame = Frame {
            kind: Kind::Data,
            src: 0xdead_beef,
            dst: 7,
            seq: 42,
            payload: &payload,
        };
        let (out, n) = wire(&frame);
        assert_eq!((out[0], out[n - 1]), (0, 0));
        assert!(!out[1..n - 1].contains(&0));
        let mut got = None;
        Deframer::default().feed(&out[..n], |f| {
            got = Some(f.map(|f| (f.kind, f.src, f.dst, f.seq, f.payload.to_vec())))
        });
        assert_eq!(
            got,
            Some(Ok((Kind::Data, 0xdead_beef, 7, 42, payload.to_vec())))
        );
    }

    #[test]
    fn garbage_and_bit_errors_are_refused_and_the_next_frame_is_found() {
        let frame = Frame {
            kind: Kind::Ack,
            src: 1,
            dst: 2,
            seq: 3,
            payload: &[9; 10],
        };
        let (out, n) = wire(&frame);
        let mut flipped = out;
        flipped[5] ^= 0x10;
        let mut stream = [0x55u8; 3000].to_vec(); // no delimiter for longer than a frame
        stream.push(0);
        stream.extend_from_slice(&flipped[..n]);
        stream.extend_from_slice(&out[..n]);
        let mut results = [None; 3];
        let mut i = 0;
        Deframer::default().feed(&stream, |f| {
            results[i] = Some(f.map(|f| f.seq));
            i += 1;
        });
        assert_eq!(results[0], Some(Err(FrameError::Length)));
        assert!(matches!(
            results[1],
            Some(Err(FrameError::Crc | FrameError::Cobs))
        ));
        assert_eq!(results[2], Some(Ok(3)));
    }

    #[test]
    fn oversized_payloads_are_not_encoded() {
        let big = [1u8; MAX_PAYLOAD + 1];
        let frame = Frame {
            kind: Kind::Data,
            src: 1,
            dst: 1,
            seq: 0,
            payload: &big,
        };
        let mut scratch = [0u8; MAX_FRAME + 8];
        let mut out = [0u8; MAX_WIRE_FRAME + 8];
        assert_eq!(frame.encode(&mut scratch, &mut out), Err(TooLarge));
    }
}
