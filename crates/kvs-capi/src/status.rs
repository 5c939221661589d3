//! The client's typed errors as the C SDK's STATUS codes.

use kvs_client::{Error, SendError, SessionError, State};

use crate::types::*;

/// The STATUS the C SDK reports when the step `during` fails.
pub(crate) fn of_state(during: State) -> STATUS {
    match during {
        State::New | State::GetCredentials => STATUS_SIGNALING_GET_TOKEN_CALL_FAILED,
        State::Describe => STATUS_SIGNALING_DESCRIBE_CALL_FAILED,
        State::Create => STATUS_SIGNALING_CREATE_CALL_FAILED,
        State::GetEndpoint => STATUS_SIGNALING_GET_ENDPOINT_CALL_FAILED,
        State::GetIceConfig => STATUS_SIGNALING_GET_ICE_CONFIG_CALL_FAILED,
        State::Ready | State::Connecting => STATUS_SIGNALING_CONNECT_CALL_FAILED,
        State::Connected | State::Disconnected => STATUS_SIGNALING_RECONNECT_FAILED,
        State::Delete | State::Deleted => STATUS_SIGNALING_DELETE_CALL_FAILED,
        _ => STATUS_INTERNAL_ERROR,
    }
}

/// The STATUS of a client error.
pub(crate) fn of_error(error: &Error) -> STATUS {
    match error {
        Error::Credentials(_) => STATUS_SIGNALING_GET_TOKEN_CALL_FAILED,
        Error::Service { during, .. }
        | Error::Transport { during, .. }
        | Error::Timeout { during, .. }
        | Error::InvalidResponse { during, .. } => of_state(*during),
        Error::PongTimeout { .. } => STATUS_SIGNALING_RECONNECT_FAILED,
        Error::ChannelNotFound(_) => STATUS_SIGNALING_DESCRIBE_CALL_FAILED,
        Error::NotSent(e) => of_send(e),
        Error::MessageExpired { .. } => STATUS_SIGNALING_MESSAGE_DELIVERY_FAILED,
        Error::GaveUp { last, .. } => of_error(last),
        _ => STATUS_INTERNAL_ERROR,
    }
}

/// The STATUS of a refused send.
pub(crate) fn of_send(error: &SendError) -> STATUS {
    match error {
        SendError::NotConnected(_) => STATUS_SIGNALING_INVALID_READY_STATE,
        SendError::PayloadTooLarge { .. } => STATUS_SIGNALING_MAX_MESSAGE_LEN_AFTER_ENCODING,
        SendError::EmptyPayload => STATUS_SIGNALING_NO_PAYLOAD_IN_MESSAGE,
        SendError::MissingRecipient => STATUS_SIGNALING_NO_PEER_CLIENT_ID_IN_MESSAGE,
        SendError::RecipientNotAllowed | SendError::InvalidId(_) => STATUS_INVALID_ARG,
        SendError::QueueFull { .. } => STATUS_SIGNALING_MESSAGE_DELIVERY_FAILED,
        _ => STATUS_INTERNAL_ERROR,
    }
}

/// The STATUS of a session that ended (`fallback` when closed by the application).
pub(crate) fn of_session(error: &SessionError, fallback: STATUS) -> STATUS {
    error.cause().map_or(fallback, of_error)
}

/// The public `SIGNALING_CLIENT_STATE` of a client state.
pub(crate) fn public_state(state: State) -> SIGNALING_CLIENT_STATE {
    match state {
        State::New => SIGNALING_CLIENT_STATE_NEW,
        State::GetCredentials => SIGNALING_CLIENT_STATE_GET_CREDENTIALS,
        State::Describe => SIGNALING_CLIENT_STATE_DESCRIBE,
        State::Create => SIGNALING_CLIENT_STATE_CREATE,
        State::GetEndpoint => SIGNALING_CLIENT_STATE_GET_ENDPOINT,
        State::GetIceConfig => SIGNALING_CLIENT_STATE_GET_ICE_CONFIG,
        State::Ready => SIGNALING_CLIENT_STATE_READY,
        State::Connecting => SIGNALING_CLIENT_STATE_CONNECTING,
        State::Connected => SIGNALING_CLIENT_STATE_CONNECTED,
        State::Disconnected => SIGNALING_CLIENT_STATE_DISCONNECTED,
        State::Delete => SIGNALING_CLIENT_STATE_DELETE,
        State::Deleted => SIGNALING_CLIENT_STATE_DELETED,
        _ => SIGNALING_CLIENT_STATE_UNKNOWN,
    }
}

/// The C SDK's display name of a public state (`signalingClientGetStateString`).
pub(crate) fn state_name(state: SIGNALING_CLIENT_STATE) -> Option<&'static core::ffi::CStr> {
    Some(match state {
        SIGNALING_CLIENT_STATE_UNKNOWN => c"Unknown",
        SIGNALING_CLIENT_STATE_NEW => c"New",
        SIGNALING_CLIENT_STATE_GET_CREDENTIALS => c"Get Security Credentials",
        SIGNALING_CLIENT_STATE_DESCRIBE => c"Describe Channel",
        SIGNALING_CLIENT_STATE_CREATE => c"Create Channel",
        SIGNALING_CLIENT_STATE_GET_ENDPOINT => c"Get Channel Endpoint",
        SIGNALING_CLIENT_STATE_GET_ICE_CONFIG => c"Get ICE Server Configuration",
        SIGNALING_CLIENT_STATE_READY => c"Ready",
        SIGNALING_CLIENT_STATE_CONNECTING => c"Connecting",
        SIGNALING_CLIENT_STATE_CONNECTED => c"Connected",
        SIGNALING_CLIENT_STATE_DISCONNECTED => c"Disconnected",
        SIGNALING_CLIENT_STATE_DELETE => c"Delete",
        SIGNALING_CLIENT_STATE_DELETED => c"Deleted",
        SIGNALING_CLIENT_STATE_DESCRIBE_MEDIA => c"Describe Media Storage",
        SIGNALING_CLIENT_STATE_JOIN_SESSION => c"Join Session",
        SIGNALING_CLIENT_STATE_JOIN_SESSION_WAITING => c"Join Session Waiting",
        SIGNALING_CLIENT_STATE_JOIN_SESSION_CONNECTED => c"Join Session Connected",
        _ => return None,
    })
}
