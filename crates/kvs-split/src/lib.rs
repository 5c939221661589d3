//! Split mode's IO. The link protocol ([`kvs_link`]) is sans-IO; this crate drives it with
//! tokio over a byte stream:
//!
//! - [`transport`]: real serial ports (`tokio-serial`, 8N1), pseudo-terminal pairs for tests,
//!   TCP for development;
//! - [`line`]: a wrapper that paces writes at a UART's line rate (a pseudo-terminal does not)
//!   and can corrupt, drop, duplicate and delay bytes, for tests and benchmarks;
//! - [`driver`]: one task per link end, with a handle to send [`Message`]s and a channel of
//!   [`LinkEvent`]s.

pub mod coprocessor;
pub mod driver;
pub mod host;
pub mod line;
pub mod transport;

pub use driver::{LinkEvent, LinkHandle, LinkStopped, SendFailed};
pub use host::{Host, HostEvents};
pub use kvs_link::message::{IceServer, Message, SignalingKind};
pub use kvs_link::{Config as LinkConfig, Stats as LinkStats};
pub use line::{Impairments, Paced};
pub use transport::{Io, TransportError};
