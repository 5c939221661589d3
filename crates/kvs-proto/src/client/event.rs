use crate::api::IceServer;
use crate::wire::{MessageType, StatusResponse};

use super::Error;

/// The client's public state, named as in the C SDK's `SIGNALING_CLIENT_STATE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum State {
    /// Created, not started.
    New,
    /// Waiting for credentials from the provider.
    GetCredentials,
    /// DescribeSignalingChannel in flight.
    Describe,
    /// CreateSignalingChannel in flight.
    Create,
    /// GetSignalingChannelEndpoint in flight.
    GetEndpoint,
    /// GetIceServerConfig in flight.
    GetIceConfig,
    /// Endpoints and ICE servers known; about to connect.
    Ready,
    /// WebSocket upgrade in flight.
    Connecting,
    /// WebSocket open: messages flow.
    Connected,
    /// WebSocket closed.
    Disconnected,
    /// DeleteSignalingChannel in flight.
    Delete,
    /// The channel was deleted; the session is over.
    Deleted,
}

impl State {
    /// The C SDK's upper-case name, e.g. `GET_ICE_CONFIG`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "NEW",
            Self::GetCredentials => "GET_CREDENTIALS",
            Self::Describe => "DESCRIBE",
            Self::Create => "CREATE",
            Self::GetEndpoint => "GET_ENDPOINT",
            Self::GetIceConfig => "GET_ICE_CONFIG",
            Self::Ready => "READY",
            Self::Connecting => "CONNECTING",
            Self::Connected => "CONNECTED",
            Self::Disconnected => "DISCONNECTED",
            Self::Delete => "DELETE",
            Self::Deleted => "DELETED",
        }
    }
}

impl State {
    /// The state named `name` ([`State::as_str`]'s form), e.g. from split mode's coprocessor.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            Self::New,
            Self::GetCredentials,
            Self::Describe,
            Self::Create,
            Self::GetEndpoint,
            Self::GetIceConfig,
            Self::Ready,
            Self::Connecting,
            Self::Connected,
            Self::Disconnected,
            Self::Delete,
            Self::Deleted,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A peer message delivered by the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// SDP_OFFER, SDP_ANSWER or ICE_CANDIDATE.
    pub message_type: MessageType,
    /// The viewer that sent it; `None` when it came from the master.
    pub sender_client_id: Option<String>,
    /// The decoded payload (usually JSON such as `{"type":"offer","sdp":"…"}`).
    pub payload: Vec<u8>,
}

/// Something the application should know about.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// The client entered a new state.
    StateChanged(State),
    /// The channel's ARN and endpoints were fetched; worth caching for a warm start.
    EndpointsResolved(super::CachedEndpoints),
    /// The ICE servers for this session are known (or changed).
    IceServers(Vec<IceServer>),
    /// A peer sent an offer, answer or candidate.
    Message(ReceivedMessage),
    /// A message sent with a correlation id could not be delivered.
    StatusResponse(StatusResponse),
    /// The service's clock differs from ours; signatures now use the corrected time.
    ClockSkew {
        /// The service's clock minus ours, in milliseconds.
        skew_ms: i64,
    },
    /// The service asked this connection to go away soon.
    GoAway,
    /// The service asked for the ICE servers to be fetched again.
    ReconnectIceServer,
    /// Something went wrong; the client carries on (it took another path, or skipped a bad
    /// message).
    Error(Error),
    /// A step failed and will be tried again after `delay`.
    Retrying {
        /// The number of this retry in the current run of failures.
        attempt: u32,
        /// How long the client waits first.
        delay: std::time::Duration,
        /// What failed.
        cause: Error,
    },
    /// New credentials were fetched in the background before the old ones expired; the
    /// next signature uses them (the open WebSocket is not touched).
    CredentialsRefreshed {
        /// When the new ones expire, if they do.
        expiry: Option<std::time::SystemTime>,
    },
    /// The session ended: `None` after `close()`, otherwise the error that stopped it.
    Closed(Option<Error>),
}
