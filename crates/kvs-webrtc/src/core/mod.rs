//! The part without IO: no sockets, no tokio, no clock (time comes in as arguments).

pub mod annexb;
pub mod frames;
pub mod ice_failure;
pub mod ice_servers;
pub mod offer;
pub mod peers;
