//! Sans-IO core of kvs-signaling: the KVS WebRTC signaling wire formats, SigV4 signing and
//! verification, and the signaling client state machine.
//!
//! Nothing here opens a socket, spawns a task or reads a clock: time arrives as arguments and
//! every effect leaves as a value. The tokio driver (`kvs-client`) and the local service
//! (`kvs-service`) do the IO; tests drive this crate on virtual time.

pub mod amz_date;
pub mod api;
pub mod client;
mod credentials;
pub mod doctor;
pub mod iot;
pub mod rate;
pub mod redact;
pub mod sigv4;
pub mod skew;
pub mod wire;

pub use credentials::{Credentials, STATIC_PROVIDER};
