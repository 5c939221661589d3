//! What split mode says over the link: signaling messages between the coprocessor (which
//! holds the signaling connection and the credentials) and the host (which does the media),
//! readiness, wake requests, ICE servers by index, time, signaling state and status. Each
//! message is a type byte and length-prefixed fields (little-endian); decoding rejects
//! anything malformed or trailing.

use alloc::string::String;
use alloc::vec::Vec;

/// The kind of a relayed signaling message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalingKind {
    /// An SDP offer.
    Offer = 0,
    /// An SDP answer.
    Answer = 1,
    /// A trickled ICE candidate.
    Candidate = 2,
}

/// One ICE server, as the host configures its peer connections with it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IceServer {
    /// `stun:` / `turn:` / `turns:` URIs.
    pub uris: Vec<String>,
    /// TURN user name (empty for STUN).
    pub username: String,
    /// TURN password (empty for STUN).
    pub credential: String,
    /// Seconds the credentials stay valid (0 for STUN).
    pub ttl_secs: u32,
}

/// A split-mode message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A signaling message to or from a peer.
    Signaling {
        /// Offer, answer or candidate.
        kind: SignalingKind,
        /// The viewer's client id (empty for the master).
        peer_client_id: String,
        /// The correlation id (empty when none).
        correlation_id: String,
        /// The decoded payload (the browser's JSON).
        payload: Vec<u8>,
    },
    /// Host → coprocessor: the host is ready for messages.
    Ready,
    /// Coprocessor → host: is the host ready?
    ReadyQuery,
    /// Host → coprocessor: ask for a wake (the coprocessor wakes the host through its hook;
    /// sent by a host that wants to stay up, e.g. to keep the link warm).
    WakeRequest,
    /// Host → coprocessor: the ICE server at `index` (0: STUN, then each TURN server).
    IceServerRequest {
        /// The index asked for.
        index: u8,
    },
    /// Coprocessor → host: the ICE server at `index`, and whether there are more.
    IceServerResponse {
        /// The index answered.
        index: u8,
        /// The server (`None`: no server at that index).
        server: Option<IceServer>,
        /// More servers follow at higher indexes.
        more: bool,
    },
    /// Host → coprocessor: what time is it? (`id` pairs the answer).
    TimeRequest {
        /// Echoed in the response.
        id: u32,
    },
    /// Coprocessor → host: the wall clock.
    TimeResponse {
        /// The request's id.
        id: u32,
        /// Milliseconds since the Unix epoch.
        unix_millis: u64,
    },
    /// Coprocessor → host: the signaling client's state changed (e.g. `CONNECTED`).
    SignalingState {
        /// The state's name, as the client prints it.
        state: String,
    },
    /// Either way: a status or an error, with a code and words.
    Status {
        /// 0 for information; otherwise an error code.
        code: u16,
        /// What happened.
        text: String,
    },
}

/// Why bytes are not a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageError {
    /// The type byte is not one of ours.
    UnknownType(u8),
    /// A field runs past the end.
    Truncated,
    /// Bytes are left after the last field.
    Trailing,
    /// A text field is not UTF-8, or an enum value is unknown.
    Invalid,
}

const SIGNALING: u8 = 1;
const READY: u8 = 2;
const READY_QUERY: u8 = 3;
const WAKE_REQUEST: u8 = 4;
const ICE_REQUEST: u8 = 5;
const ICE_RESPONSE: u8 = 6;
const TIME_REQUEST: u8 = 7;
const TIME_RESPONSE: u8 = 8;
const SIGNALING_STATE: u8 = 9;
const STATUS: u8 = 10;

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    /// Text fields are at most 65,535 bytes (longer ones are cut at a character boundary).
    fn text(&mut self, s: &str) {
        let mut end = s.len().min(usize::from(u16::MAX));
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        let cut = s.get(..end).unwrap_or_default();
        self.u16(cut.len() as u16);
        self.0.extend_from_slice(cut.as_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.u32(b.len() as u32);
        self.0.extend_from_slice(b);
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], MessageError> {
        if self.0.len() < n {
            return Err(MessageError::Truncated);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], MessageError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
    fn u8(&mut self) -> Result<u8, MessageError> {
        Ok(self.array::<1>()?[0])
    }
    fn u16(&mut self) -> Result<u16, MessageError> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    fn u32(&mut self) -> Result<u32, MessageError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, MessageError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn bool(&mut self) -> Result<bool, MessageError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(MessageError::Invalid),
        }
    }
    fn text(&mut self) -> Result<String, MessageError> {
        let n = usize::from(self.u16()?);
        let bytes = self.take(n)?;
        core::str::from_utf8(bytes)
            .map(String::from)
            .map_err(|_| MessageError::Invalid)
    }
    fn bytes(&mut self) -> Result<Vec<u8>, MessageError> {
        let n = self.u32()? as usize;
        Ok(self.take(n)?.to_vec())
    }
}

impl Message {
    /// The bytes to hand to [`crate::Link::send`].
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::new());
        match self {
            Self::Signaling {
                kind,
                peer_client_id,
                correlation_id,
                payload,
            } => {
                w.u8(SIGNALING);
                w.u8(*kind as u8);
                w.text(peer_client_id);
                w.text(correlation_id);
                w.bytes(payload);
            }
            Self::Ready => w.u8(READY),
            Self::ReadyQuery => w.u8(READY_QUERY),
            Self::WakeRequest => w.u8(WAKE_REQUEST),
            Self::IceServerRequest { index } => {
                w.u8(ICE_REQUEST);
                w.u8(*index);
            }
            Self::IceServerResponse {
                index,
                server,
                more,
            } => {
                w.u8(ICE_RESPONSE);
                w.u8(*index);
                w.u8(u8::from(*more));
                w.u8(u8::from(server.is_some()));
                if let Some(s) = server {
                    w.u8(s.uris.len().min(usize::from(u8::MAX)) as u8);
                    for uri in s.uris.iter().take(usize::from(u8::MAX)) {
                        w.text(uri);
                    }
                    w.text(&s.username);
                    w.text(&s.credential);
                    w.u32(s.ttl_secs);
                }
            }
            Self::TimeRequest { id } => {
                w.u8(TIME_REQUEST);
                w.u32(*id);
            }
            Self::TimeResponse { id, unix_millis } => {
                w.u8(TIME_RESPONSE);
                w.u32(*id);
                w.u64(*unix_millis);
            }
            Self::SignalingState { state } => {
                w.u8(SIGNALING_STATE);
                w.text(state);
            }
            Self::Status { code, text } => {
                w.u8(STATUS);
                w.u16(*code);
                w.text(text);
            }
        }
        w.0
    }

    /// Reads a message; anything malformed, unknown or trailing is an error.
    pub fn decode(bytes: &[u8]) -> Result<Self, MessageError> {
        let mut r = Reader(bytes);
        let message = match r.u8()? {
            SIGNALING => Self::Signaling {
                kind: match r.u8()? {
                    0 => SignalingKind::Offer,
                    1 => SignalingKind::Answer,
                    2 => SignalingKind::Candidate,
                    _ => return Err(MessageError::Invalid),
                },
                peer_client_id: r.text()?,
                correlation_id: r.text()?,
                payload: r.bytes()?,
            },
            READY => Self::Ready,
            READY_QUERY => Self::ReadyQuery,
            WAKE_REQUEST => Self::WakeRequest,
            ICE_REQUEST => Self::IceServerRequest { index: r.u8()? },
            ICE_RESPONSE => {
                let index = r.u8()?;
                let more = r.bool()?;
                let server = if r.bool()? {
                    let count = r.u8()?;
                    let mut uris = Vec::new();
                    for _ in 0..count {
                        uris.push(r.text()?);
                    }
                    Some(IceServer {
                        uris,
                        username: r.text()?,
                        credential: r.text()?,
                        ttl_secs: r.u32()?,
                    })
                } else {
                    None
                };
                Self::IceServerResponse {
                    index,
                    server,
                    more,
                }
            }
            TIME_REQUEST => Self::TimeRequest { id: r.u32()? },
            TIME_RESPONSE => Self::TimeResponse {
                id: r.u32()?,
                unix_millis: r.u64()?,
            },
            SIGNALING_STATE => Self::SignalingState { state: r.text()? },
            STATUS => Self::Status {
                code: r.u16()?,
                text: r.text()?,
            },
            other => return Err(MessageError::UnknownType(other)),
        };
        if !r.0.is_empty() {
            return Err(MessageError::Trailing);
        }
        Ok(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use proptest::prelude::*;

    fn all() -> Vec<Message> {
        vec![
            Message::Signaling {
                kind: SignalingKind::Offer,
                peer_client_id: "viewer-1".into(),
                correlation_id: "c1".into(),
                payload: br#"{"type":"offer","sdp":"v=0\r\n"}"#.to_vec(),
            },
            Message::Signaling {
                kind: SignalingKind::Candidate,
                peer_client_id: String::new(),
                correlation_id: String::new(),
                payload: Vec::new(),
            },
            Message::Ready,
            Message::ReadyQuery,
            Message::WakeRequest,
            Message::IceServerRequest { index: 2 },
            Message::IceServerResponse {
                index: 1,
                server: Some(IceServer {
                    uris: vec![
                        "turn:1.2.3.4:443?transport=udp".into(),
                        "turns:h:443".into(),
                    ],
                    username: "1700000000:chan".into(),
                    credential: "secret".into(),
                    ttl_secs: 300,
                }),
                more: true,
            },
            Message::IceServerResponse {
                index: 9,
                server: None,
                more: false,
            },
            Message::TimeRequest { id: 7 },
            Message::TimeResponse {
                id: 7,
                unix_millis: 1_765_000_000_123,
            },
            Message::SignalingState {
                state: "CONNECTED".into(),
            },
            Message::Status {
                code: 503,
                text: "signaling is reconnecting".into(),
            },
        ]
    }

    #[test]
    fn every_message_round_trips() {
        for m in all() {
            assert_eq!(Message::decode(&m.encode()), Ok(m));
        }
    }

    #[test]
    fn malformed_messages_are_refused() {
        assert_eq!(Message::decode(&[]), Err(MessageError::Truncated));
        assert_eq!(Message::decode(&[99]), Err(MessageError::UnknownType(99)));
        assert_eq!(Message::decode(&[READY, 0]), Err(MessageError::Trailing));
        assert_eq!(Message::decode(&[SIGNALING, 7]), Err(MessageError::Invalid));
        assert_eq!(
            Message::decode(&[SIGNALING_STATE, 2, 0, 0xff, 0xfe]),
            Err(MessageError::Invalid)
        );
    }

    proptest! {
        /// Valid messages with one byte changed or cut: a message or an error, never a panic,
        /// and a decoded message encodes back to the same bytes.
        #[test]
        fn perturbed_messages_never_panic(which in 0usize..12, at in any::<usize>(), byte in any::<u8>(), cut in any::<bool>()) {
            let mut bytes = all()[which].encode();
            let at = at % bytes.len();
            if cut { bytes.truncate(at) } else { bytes[at] = byte }
            if let Ok(m) = Message::decode(&bytes) {
                prop_assert_eq!(m.encode(), bytes);
            }
        }
    }
}
