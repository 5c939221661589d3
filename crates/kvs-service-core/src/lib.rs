//! The local KVS signaling service's decisions, without IO: the channel table and its
//! validation, authentication and authorisation, WebSocket admission, routing and holding,
//! the real service's quotas, injected faults, connection lifetimes and the service clock.
//!
//! Like the client core (`kvs-proto`), nothing here opens a socket, spawns a task or reads a
//! clock (`clippy.toml` bans it): time comes in as arguments and every decision leaves as a
//! value that says what the driver must do. [`ServiceCore`] is the one entry point;
//! `kvs-service` moves the bytes, keeps the timers and the storage, and `tests/sim.rs` drives
//! this crate with many clients on virtual time.

pub mod admin;
mod admission;
mod api_error;
mod arn;
mod auth;
mod channels;
mod faults;
pub mod iot;
pub mod lifetime;
mod relay;
mod service;
mod turn_auth;
mod validate;

pub use admission::Refusal;
pub use api_error::ApiError;
pub use arn::{ResourceArn, arn_channel_name};
pub use auth::{
    AuthFileError, Keys, Policy, Principal, ServiceKey, THING_NAME_VARIABLE, parse_credentials_file,
};
pub use channels::{
    AlexaOffer, Answer, Caller, ChannelRecord, Channels, Context, Effects, EndpointBase,
    MASTER_PATH, Outcome, Snapshot, TurnServers, VIEWER_PATH,
};
pub use faults::{Faults, InjectedError, MAX_CLOCK_SKEW_SECS, MessageFault, SkewTooLarge};
pub use iot::{IotIssuer, RoleAlias};
pub use kvs_proto::rate::Limits;
pub use relay::{
    AlexaRouted, ConnId, ConnectError, Joined, MAX_HELD_PER_PEER, MAX_VIEWERS, Relay, Routed,
};
pub use service::{ApiRequest, CoreConfig, Delivery, Handled, ServiceCore};
pub use turn_auth::{TURN_TTL_SECS, TurnAuthError, TurnCredentials};
pub use validate::validate;

/// The access key id AWS documents as an example; the service accepts it by default.
pub const EXAMPLE_ACCESS_KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
/// The secret key AWS documents with [`EXAMPLE_ACCESS_KEY_ID`].
pub const EXAMPLE_SECRET_ACCESS_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
