//! Split mode's serial link without IO, built to run on a microcontroller: `#![no_std]`, the
//! frame codec without allocation, the session with `alloc`.
//!
//! - [`frame`]: COBS-framed frames with a version, a kind, session ids, a sequence number, a
//!   length and a CRC-32, so a receiver resynchronises after garbage and drops corrupt frames.
//! - [`Link`] (alloc): messages up to 64 KiB fragmented into frames; selective acknowledgement
//!   and retransmission within a window, with an RTO from measured round trips; a capability
//!   handshake (version, frame size, window); heartbeats and a link timeout; session ids that
//!   reveal a peer's reboot. Sans-IO like the signaling client: [`Link::handle_rx`],
//!   [`Link::poll_transmit`], [`Link::poll_timeout`], [`Link::handle_timeout`],
//!   [`Link::poll_event`]; time and the session id come in as arguments.
//! - [`message`] (alloc): what split mode says over the link.
//!
//! The byte layouts, state machine and timers are in `docs/SPLIT-LINK.md`.

#![no_std]
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

#[cfg(feature = "alloc")]
extern crate alloc;

pub mod frame;
#[cfg(feature = "alloc")]
mod link;
#[cfg(feature = "alloc")]
pub mod message;
mod time;

#[cfg(feature = "alloc")]
pub use link::{Config, Event, Link, SendError, Stats};
pub use time::Time;
