//! What a master or viewer reports about its peer connections.

use std::fmt;

use crate::core::ice_failure::IceFailure;
use crate::core::offer::SdpError;
use crate::core::peers::{CloseReason, Refused};

/// An ICE candidate's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CandidateKind {
    /// A local address.
    Host,
    /// An address seen by a STUN server.
    Srflx,
    /// Learned from a connectivity check.
    Prflx,
    /// An address allocated on a TURN server.
    Relay,
    /// Not reported.
    Unknown,
}

impl fmt::Display for CandidateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Host => "host",
            Self::Srflx => "srflx",
            Self::Prflx => "prflx",
            Self::Relay => "relay",
            Self::Unknown => "unknown",
        })
    }
}

/// The candidate pair ICE selected.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SelectedPair {
    /// Our side's type.
    pub local: CandidateKind,
    /// Our side's address.
    pub local_address: String,
    /// The peer's type.
    pub remote: CandidateKind,
    /// The peer's address.
    pub remote_address: String,
}

impl SelectedPair {
    /// Either side is a relay: the media goes through a TURN server.
    pub fn is_relayed(&self) -> bool {
        self.local == CandidateKind::Relay || self.remote == CandidateKind::Relay
    }
}

impl fmt::Display for SelectedPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} <-> {} {}",
            self.local, self.local_address, self.remote, self.remote_address
        )
    }
}

/// Something that happened to a peer connection. `peer` is the viewer's client id on a
/// master and `"master"` on a viewer.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum PeerEvent {
    /// A peer connection was created (the master got an offer; the viewer sent one).
    Opened {
        /// Whose.
        peer: String,
        /// Data channel and video, as negotiated.
        data_channel: bool,
        /// H.264 video is part of it.
        video: bool,
    },
    /// The ICE servers a peer connection was given: the STUN server, the TURN URIs the stack
    /// can use, and the ones it skips with the reason.
    IceServers {
        /// Whose.
        peer: String,
        /// The STUN URL, if any.
        stun: Option<String>,
        /// Usable TURN URIs (credentials are not part of events).
        turn: Vec<String>,
        /// Skipped URIs and why.
        skipped: Vec<(String, String)>,
    },
    /// ICE's connection state changed (`checking`, `connected`, `disconnected`, `failed`...).
    IceState {
        /// Whose.
        peer: String,
        /// The W3C name of the state.
        state: String,
    },
    /// ICE and DTLS are up (the peer connection is `connected`), over this pair.
    Connected {
        /// Whose.
        peer: String,
        /// The selected candidate pair, when the stack reports it.
        pair: Option<SelectedPair>,
    },
    /// The data channel is open (SCTP is up).
    DataChannelOpen {
        /// Whose.
        peer: String,
        /// Its label.
        label: String,
    },
    /// A data-channel message arrived.
    Data {
        /// From whom.
        peer: String,
        /// Its bytes.
        data: Vec<u8>,
    },
    /// A video frame arrived whole.
    VideoFrame {
        /// From whom.
        peer: String,
        /// The access unit, Annex-B with 4-byte start codes.
        data: Vec<u8>,
        /// It holds an IDR slice.
        key: bool,
    },
    /// A video frame was lost (a packet missing or malformed), or came before the first key
    /// frame and cannot be decoded.
    VideoFrameLost {
        /// From whom.
        peer: String,
    },
    /// ICE failed; the cause and what to check.
    IceFailed {
        /// Whose.
        peer: String,
        /// The diagnosis.
        failure: IceFailure,
    },
    /// The offer could not be answered (or the answer not applied).
    SdpFailed {
        /// Whose.
        peer: String,
        /// What was offered and what is supported.
        error: SdpError,
    },
    /// The viewer's offer got no answer within [`PeerOptions::answer_timeout`](crate::PeerOptions).
    NoAnswer {
        /// Whom the offer went to.
        peer: String,
        /// How long the viewer waited.
        waited: std::time::Duration,
    },
    /// The WebRTC stack refused something: the operation and its error.
    StackError {
        /// Whose.
        peer: String,
        /// What failed, in words.
        error: String,
    },
    /// A peer connection was closed and its resources freed.
    Closed {
        /// Whose.
        peer: String,
        /// Why.
        reason: CloseReason,
    },
    /// The master's count of live peer connections changed.
    PeerCount(usize),
    /// An offer was not taken (the master already serves its limit of viewers).
    Refused {
        /// The viewer.
        peer: String,
        /// Why.
        reason: Refused,
    },
    /// The signaling session reported something (state, message, retry, error).
    Signaling(kvs_proto::client::Event),
}
