//! Peer connections set up through KVS signaling, on webrtc-rs (`webrtc` 0.21.1).
//!
//! - [`core`] (the `kvs-webrtc-core` crate) holds the decisions that need no sockets and no
//!   clock, tested without a network: the master's table of viewer peer connections
//!   ([`core::peers`]), the ICE servers a peer connection gets ([`core::ice_servers`]), what a
//!   viewer's offer asks for ([`core::offer`]), why ICE failed ([`core::ice_failure`]), H.264
//!   access units in Annex-B ([`core::annexb`]) and RTP packets back into frames
//!   ([`core::frames`]).
//! - [`master`] answers up to 10 viewers, one peer connection each; [`viewer`] makes the
//!   offer. Both run on anything that implements
//!   [`SignalingSession`](kvs_client::SignalingSession), report [`PeerEvent`]s, echo or send
//!   data-channel messages and carry H.264 video ([`video`]).

mod control;
pub use kvs_webrtc_core as core;
mod events;
mod link;
pub mod master;
mod stack;
pub mod video;
pub mod viewer;

pub use events::{CandidateKind, PeerEvent, SelectedPair};
pub use stack::PeerOptions;
