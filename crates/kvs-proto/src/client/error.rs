use crate::api::ErrorCode;
use crate::wire::FrameError;

use super::State;

/// Why a step of the signaling session failed. Each message names the cause and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The credential provider could not produce credentials.
    /// The text is the provider's, which names its own cause and fix.
    #[error("authentication error: no credentials: {0}")]
    Credentials(String),
    /// The service answered an API call or the WebSocket upgrade with an error status.
    #[error("{}", describe_service_error(*.during, *.status, *.code, .error_type.as_deref(), .message))]
    Service {
        /// The step that failed.
        during: State,
        /// HTTP status.
        status: u16,
        /// The AWS exception, when the service named one this client knows.
        code: Option<ErrorCode>,
        /// The exception name as the service sent it (for messages; compare `code`).
        error_type: Option<String>,
        /// The service's message.
        message: String,
    },
    /// The request never got an answer: DNS, TCP, TLS or WebSocket failure.
    #[error(
        "connection error during {during}: {message}; check network connectivity, the endpoint URL and the CA bundle"
    )]
    Transport {
        /// The step that failed.
        during: State,
        /// What the transport reported.
        message: String,
    },
    /// The step took longer than the call timeout.
    #[error(
        "timeout error: {during} got no answer within {secs} s; check network connectivity or raise the timeout"
    )]
    Timeout {
        /// The step that timed out.
        during: State,
        /// The timeout, in seconds.
        secs: u64,
    },
    /// A ping got no pong in time: the connection was dead and is being replaced. Frames
    /// written since the last pong are sent again on the new connection.
    #[error(
        "connection error: no pong within {secs} s of a ping, so the connection is dead (half-open TCP, or a proxy or NAT dropped it); reconnecting"
    )]
    PongTimeout {
        /// The pong timeout, in seconds.
        secs: u64,
    },
    /// The service answered 200 with a body we cannot use.
    #[error("the service's {during} answer is unusable: {message}")]
    InvalidResponse {
        /// The step whose answer was bad.
        during: State,
        /// What was wrong with it.
        message: String,
    },
    /// The service sent a WebSocket frame we could not parse; it was skipped.
    #[error("skipped an unreadable message from the service: {0}")]
    Frame(FrameError),
    /// The channel does not exist and creating it was not allowed.
    #[error("channel '{0}' does not exist; create it first or allow the client to create it")]
    ChannelNotFound(String),
    /// A message accepted by `send` could not go out because the connection dropped first.
    #[error("a message was not sent: {0}")]
    NotSent(SendError),
    /// A queued message waited longer than the message TTL for a connection and was dropped.
    #[error(
        "a queued message expired after {age_secs} s without a connection (message TTL {ttl_secs} s)"
    )]
    MessageExpired {
        /// How long it waited.
        age_secs: u64,
        /// The TTL it exceeded.
        ttl_secs: u64,
    },
    /// The step kept failing; the last failure is attached.
    #[error("gave up after {attempts} attempts: {last}")]
    GaveUp {
        /// How many times the step was tried.
        attempts: u32,
        /// The last failure.
        last: Box<Error>,
    },
}

fn describe_service_error(
    during: State,
    status: u16,
    code: Option<ErrorCode>,
    error_type: Option<&str>,
    message: &str,
) -> String {
    let name = error_type.unwrap_or("error");
    let clock = crate::sigv4::is_clock_refusal(message);
    let hint = match (status, code) {
        (_, Some(ErrorCode::InvalidSignature)) if clock => {
            "; the device clock is off: sync it (NTP)"
        }
        (_, Some(ErrorCode::InvalidSignature)) => {
            "; signature rejected: check the secret access key and the region"
        }
        (_, Some(ErrorCode::UnrecognizedClient)) => {
            "; the access key id is unknown to the service: check AWS_ACCESS_KEY_ID"
        }
        (_, Some(ErrorCode::ExpiredToken)) => {
            "; the session token expired: fetch new temporary credentials"
        }
        (401 | 403, _) => {
            "; authentication error: check that the credentials are valid and allow kinesisvideo actions on this channel"
        }
        (404, _) => "; the channel or endpoint does not exist",
        (429, _) | (_, Some(ErrorCode::ClientLimitExceeded)) => "; throttled: retry later",
        (500..=599, _) => "; service-side failure: retry later",
        _ => "",
    };
    format!("{during} failed with HTTP {status} {name}: {message}{hint}")
}

impl Error {
    /// True for failures a later retry may fix (network, timeouts, throttling, 5xx).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Transport { .. } | Self::Timeout { .. } | Self::PongTimeout { .. } => true,
            Self::Service { status, code, .. } => {
                *status >= 500 || *status == 429 || *code == Some(ErrorCode::ClientLimitExceeded)
            }
            _ => false,
        }
    }

    /// True for authentication and authorisation failures (bad keys, clock skew, no permission).
    pub fn is_auth(&self) -> bool {
        match self {
            Self::Credentials(_) => true,
            Self::Service { status, .. } => matches!(status, 401 | 403),
            Self::GaveUp { last, .. } => last.is_auth(),
            _ => false,
        }
    }

    /// For "Signature expired" / "Signature not yet current" refusals: the service's clock,
    /// read from the message (`... (20191201T001000Z - 5 min.)`).
    pub fn service_time_from_skew_error(&self) -> Option<std::time::SystemTime> {
        let Self::Service { message, .. } = self else {
            return None;
        };
        if !(message.starts_with("Signature expired")
            || message.starts_with("Signature not yet current"))
        {
            return None;
        }
        let inside = message.rsplit_once('(')?.1;
        crate::amz_date::parse(inside.split_whitespace().next()?)
    }

    /// True when the connection was lost (closed, broken, or silent past the pong timeout).
    pub fn is_connection_lost(&self) -> bool {
        match self {
            Self::PongTimeout { .. } => true,
            Self::Transport { during, .. } => *during == State::Connected,
            Self::GaveUp { last, .. } => last.is_connection_lost(),
            _ => false,
        }
    }

    /// The service's exception, when the failure is a service answer naming one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::Service { code, .. } => *code,
            Self::GaveUp { last, .. } => last.code(),
            _ => None,
        }
    }

    /// True for "the channel does not exist".
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            Self::ChannelNotFound(_) | Self::Service { status: 404, .. }
        )
    }
}

/// Why `send` refused a message; nothing was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The session has ended.
    #[error("cannot send in state {0}: the signaling session has ended")]
    NotConnected(State),
    /// The base64 payload exceeds the service's 10,000-byte limit.
    #[error("payload is {len} bytes of base64, {} over the service's 10000-byte limit; trim the SDP (fewer codecs or candidates)", len - crate::wire::MAX_PAYLOAD_LEN)]
    PayloadTooLarge {
        /// Base64 length.
        len: usize,
    },
    /// The payload is empty.
    #[error("payload is empty")]
    EmptyPayload,
    /// A master must name the viewer it addresses.
    #[error("a master must name the recipient viewer's client id")]
    MissingRecipient,
    /// A viewer can only talk to its master.
    #[error("a viewer cannot choose a recipient; its messages always go to the master")]
    RecipientNotAllowed,
    /// A client id or correlation id breaks `[a-zA-Z0-9_.-]{1,256}`.
    #[error("{0} must match [a-zA-Z0-9_.-]{{1,256}}")]
    InvalidId(&'static str),
    /// The client is not connected and already holds the most messages it will queue.
    #[error(
        "the send queue is full ({limit} messages wait for the connection); retry after CONNECTED"
    )]
    QueueFull {
        /// The configured limit.
        limit: usize,
    },
}
