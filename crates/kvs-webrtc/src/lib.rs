//! Peer connections set up through KVS signaling. Work in progress (issue 10): this crate
//! holds, so far, the part that needs no sockets and no WebRTC stack: [`peers::Peers`], the
//! master's table of viewer peer connections (which viewer owns which one, candidates held
//! until the remote description is set, replacement on a new offer, teardown when ICE fails
//! or stays disconnected), and [`ice_servers::plan`], which ICE servers a peer connection gets
//! (the STUN server KVS clients add, and which TURN URIs the stack can use and why the others
//! are skipped), and [`offer::read_offer`], what a viewer's offer asks for and what the master
//! can serve of it (an error naming both when nothing), and [`ice_failure::diagnose`], an ICE
//! failure's most likely cause and what to check. The WebRTC stack will drive these from
//! the signaling session's events.

pub mod ice_failure;
pub mod ice_servers;
pub mod offer;
pub mod peers;
