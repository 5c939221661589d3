//! The part of peer connections that needs no sockets, no tokio, no WebRTC stack and no clock
//! (time comes in as arguments; `clippy.toml` bans clock reads), so it is tested without a
//! network and fuzzed cheaply. `kvs-webrtc` drives it with webrtc-rs.
//!
//! - [`peers`]: the master's table of viewer peer connections (one per client id, at most 10,
//!   candidates held until the remote description is set, replacement, teardown).
//! - [`ice_servers`]: which ICE servers a peer connection gets and which TURN URIs are skipped.
//! - [`offer`]: what a viewer's offer asks for and what the master serves of it.
//! - [`ice_failure`]: an ICE failure's most likely cause and what to check.
//! - [`annexb`]: H.264 Annex-B streams as access units.
//! - [`frames`]: H.264 RTP packets back into whole frames, bounded.

pub mod annexb;
pub mod frames;
pub mod ice_failure;
pub mod ice_servers;
pub mod offer;
pub mod peers;
