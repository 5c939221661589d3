//! The C SDK's scalar types, enumerations, limits, versions and STATUS codes, with the values
//! of the KVS WebRTC C SDK v1.14 and its PIC/producer-c headers (reference
//! `kvs-c-sdk-signaling.md` §4). cbindgen turns every `pub const` here into a `#define`.
//!
//! The enumerations are `UINT32` aliases with constants rather than Rust enums: a C program
//! may store any number in them, and an out-of-range Rust enum would be undefined behaviour.
//! `UINT32`, `UINT64`, `INT32`, `BOOL`, `CHAR` and `STATUS` themselves are declared by the
//! header's hand-written platform section (cbindgen.toml), so they are not exported again.

use core::ffi::c_char;

/// `UINT32`.
pub type UINT32 = u32;
/// `UINT64`.
pub type UINT64 = u64;
/// `INT32`.
pub type INT32 = i32;
/// `BOOL`: an `INT32`, as in PIC on every platform but Apple's.
pub type BOOL = i32;
/// `CHAR`.
pub type CHAR = c_char;
/// `STATUS`: 0 on success.
pub type STATUS = u32;

/// `SIGNALING_CLIENT_HANDLE`: a session of this library; 0 is never valid.
pub type SIGNALING_CLIENT_HANDLE = u64;
/// `SIGNALING_CLIENT_STATE`.
pub type SIGNALING_CLIENT_STATE = u32;
/// `SIGNALING_MESSAGE_TYPE`.
pub type SIGNALING_MESSAGE_TYPE = u32;
/// `SIGNALING_CHANNEL_TYPE`.
pub type SIGNALING_CHANNEL_TYPE = u32;
/// `SIGNALING_CHANNEL_ROLE_TYPE`.
pub type SIGNALING_CHANNEL_ROLE_TYPE = u32;
/// `SIGNALING_API_CALL_CACHE_TYPE`.
pub type SIGNALING_API_CALL_CACHE_TYPE = u32;
/// `SERVICE_CALL_RESULT` (PIC): an HTTP status or one of PIC's own results.
pub type SERVICE_CALL_RESULT = u32;
/// `KVS_RETRY_STRATEGY_TYPE` (PIC).
pub type KVS_RETRY_STRATEGY_TYPE = u32;

// --- Signaling client states -------------------------------------------------------------

/// Before creation.
pub const SIGNALING_CLIENT_STATE_UNKNOWN: SIGNALING_CLIENT_STATE = 0;
/// Created.
pub const SIGNALING_CLIENT_STATE_NEW: SIGNALING_CLIENT_STATE = 1;
/// Getting credentials from the provider.
pub const SIGNALING_CLIENT_STATE_GET_CREDENTIALS: SIGNALING_CLIENT_STATE = 2;
/// DescribeSignalingChannel.
pub const SIGNALING_CLIENT_STATE_DESCRIBE: SIGNALING_CLIENT_STATE = 3;
/// CreateSignalingChannel.
pub const SIGNALING_CLIENT_STATE_CREATE: SIGNALING_CLIENT_STATE = 4;
/// GetSignalingChannelEndpoint.
pub const SIGNALING_CLIENT_STATE_GET_ENDPOINT: SIGNALING_CLIENT_STATE = 5;
/// GetIceServerConfig.
pub const SIGNALING_CLIENT_STATE_GET_ICE_CONFIG: SIGNALING_CLIENT_STATE = 6;
/// Everything fetched; ready to connect.
pub const SIGNALING_CLIENT_STATE_READY: SIGNALING_CLIENT_STATE = 7;
/// WebSocket upgrade in flight.
pub const SIGNALING_CLIENT_STATE_CONNECTING: SIGNALING_CLIENT_STATE = 8;
/// WebSocket open.
pub const SIGNALING_CLIENT_STATE_CONNECTED: SIGNALING_CLIENT_STATE = 9;
/// WebSocket closed.
pub const SIGNALING_CLIENT_STATE_DISCONNECTED: SIGNALING_CLIENT_STATE = 10;
/// DeleteSignalingChannel.
pub const SIGNALING_CLIENT_STATE_DELETE: SIGNALING_CLIENT_STATE = 11;
/// The channel was deleted (terminal).
pub const SIGNALING_CLIENT_STATE_DELETED: SIGNALING_CLIENT_STATE = 12;
/// DescribeMediaStorageConfiguration (media storage; never entered by this library).
pub const SIGNALING_CLIENT_STATE_DESCRIBE_MEDIA: SIGNALING_CLIENT_STATE = 13;
/// JoinStorageSession (never entered by this library).
pub const SIGNALING_CLIENT_STATE_JOIN_SESSION: SIGNALING_CLIENT_STATE = 14;
/// Waiting for the storage session's offer (never entered by this library).
pub const SIGNALING_CLIENT_STATE_JOIN_SESSION_WAITING: SIGNALING_CLIENT_STATE = 15;
/// Storage session joined (never entered by this library).
pub const SIGNALING_CLIENT_STATE_JOIN_SESSION_CONNECTED: SIGNALING_CLIENT_STATE = 16;
/// One past the last state.
pub const SIGNALING_CLIENT_STATE_MAX_VALUE: SIGNALING_CLIENT_STATE = 17;

// --- Message types, channel types and roles, caching ---------------------------------------

/// An SDP offer.
pub const SIGNALING_MESSAGE_TYPE_OFFER: SIGNALING_MESSAGE_TYPE = 0;
/// An SDP answer.
pub const SIGNALING_MESSAGE_TYPE_ANSWER: SIGNALING_MESSAGE_TYPE = 1;
/// An ICE candidate.
pub const SIGNALING_MESSAGE_TYPE_ICE_CANDIDATE: SIGNALING_MESSAGE_TYPE = 2;
/// GO_AWAY from the service (handled inside; never delivered).
pub const SIGNALING_MESSAGE_TYPE_GO_AWAY: SIGNALING_MESSAGE_TYPE = 3;
/// RECONNECT_ICE_SERVER from the service (handled inside; never delivered).
pub const SIGNALING_MESSAGE_TYPE_RECONNECT_ICE_SERVER: SIGNALING_MESSAGE_TYPE = 4;
/// A message sent with a correlation id could not be delivered.
pub const SIGNALING_MESSAGE_TYPE_STATUS_RESPONSE: SIGNALING_MESSAGE_TYPE = 5;
/// Anything else.
pub const SIGNALING_MESSAGE_TYPE_UNKNOWN: SIGNALING_MESSAGE_TYPE = 6;

/// Unknown channel type (created as SINGLE_MASTER).
pub const SIGNALING_CHANNEL_TYPE_UNKNOWN: SIGNALING_CHANNEL_TYPE = 0;
/// The only channel type KVS has.
pub const SIGNALING_CHANNEL_TYPE_SINGLE_MASTER: SIGNALING_CHANNEL_TYPE = 1;

/// No role: refused.
pub const SIGNALING_CHANNEL_ROLE_TYPE_UNKNOWN: SIGNALING_CHANNEL_ROLE_TYPE = 0;
/// The master (the camera).
pub const SIGNALING_CHANNEL_ROLE_TYPE_MASTER: SIGNALING_CHANNEL_ROLE_TYPE = 1;
/// A viewer.
pub const SIGNALING_CHANNEL_ROLE_TYPE_VIEWER: SIGNALING_CHANNEL_ROLE_TYPE = 2;

/// No caching across sessions.
pub const SIGNALING_API_CALL_CACHE_TYPE_NONE: SIGNALING_API_CALL_CACHE_TYPE = 0;
/// Endpoints cached in memory for `cachingPeriod`.
pub const SIGNALING_API_CALL_CACHE_TYPE_DESCRIBE_GETENDPOINT: SIGNALING_API_CALL_CACHE_TYPE = 1;
/// Endpoints cached in a file (`cacheFilePath`) across runs.
pub const SIGNALING_API_CALL_CACHE_TYPE_FILE: SIGNALING_API_CALL_CACHE_TYPE = 2;
/// As FILE (media storage is not supported, so nothing differs).
pub const SIGNALING_API_CALL_CACHE_TYPE_FILE_EXCEPT_DESCRIBE_MEDIA: SIGNALING_API_CALL_CACHE_TYPE =
    3;

/// PIC: no retry strategy.
pub const KVS_RETRY_STRATEGY_DISABLED: KVS_RETRY_STRATEGY_TYPE = 0;
/// PIC: exponential backoff.
pub const KVS_RETRY_STRATEGY_EXPONENTIAL_BACKOFF_WAIT: KVS_RETRY_STRATEGY_TYPE = 1;

// --- SERVICE_CALL_RESULT values the signaling API reports -----------------------------------

/// Not set.
pub const SERVICE_CALL_RESULT_NOT_SET: SERVICE_CALL_RESULT = 0;
/// HTTP 200.
pub const SERVICE_CALL_RESULT_OK: SERVICE_CALL_RESULT = 200;
/// HTTP 400.
pub const SERVICE_CALL_RESULT_BAD_REQUEST: SERVICE_CALL_RESULT = 400;
/// HTTP 401.
pub const SERVICE_CALL_RESULT_NOT_AUTHORIZED: SERVICE_CALL_RESULT = 401;
/// HTTP 403.
pub const SERVICE_CALL_RESULT_FORBIDDEN: SERVICE_CALL_RESULT = 403;
/// HTTP 404.
pub const SERVICE_CALL_RESULT_RESOURCE_NOT_FOUND: SERVICE_CALL_RESULT = 404;
/// HTTP 500.
pub const SERVICE_CALL_RESULT_INTERNAL_ERROR: SERVICE_CALL_RESULT = 500;
/// The service asked the connection to go away.
pub const SERVICE_CALL_RESULT_SIGNALING_GO_AWAY: SERVICE_CALL_RESULT = 6000;
/// The service asked for the ICE servers to be fetched again.
pub const SERVICE_CALL_RESULT_SIGNALING_RECONNECT_ICE: SERVICE_CALL_RESULT = 6001;
/// Unknown result.
pub const SERVICE_CALL_RESULT_UNKNOWN: SERVICE_CALL_RESULT = 10006;

// --- Limits ---------------------------------------------------------------------------------

/// Channel name, without the terminator.
pub const MAX_CHANNEL_NAME_LEN: usize = 256;
/// Client id, without the terminator.
pub const MAX_SIGNALING_CLIENT_ID_LEN: usize = 256;
/// Correlation id.
pub const MAX_CORRELATION_ID_LEN: usize = 256;
/// Error type in a STATUS_RESPONSE.
pub const MAX_ERROR_TYPE_STRING_LEN: usize = 256;
/// Description in a STATUS_RESPONSE.
pub const MAX_MESSAGE_DESCRIPTION_LEN: usize = 1024;
/// A signaling message's decoded payload (18,750 since C SDK v1.12.1; the service itself
/// takes 10,000 bytes of base64).
pub const MAX_SIGNALING_MESSAGE_LEN: usize = 18750;
/// ICE server URI.
pub const MAX_ICE_CONFIG_URI_LEN: usize = 256;
/// TURN user name.
pub const MAX_ICE_CONFIG_USER_NAME_LEN: usize = 256;
/// TURN password.
pub const MAX_ICE_CONFIG_CREDENTIAL_LEN: usize = 256;
/// URIs per ICE server.
pub const MAX_ICE_CONFIG_URI_COUNT: usize = 4;
/// ICE servers (TURN configurations) per channel.
pub const MAX_ICE_CONFIG_COUNT: usize = 5;
/// ARNs, KMS key ids and the control-plane URL.
pub const MAX_ARN_LEN: usize = 2048;
/// Region names.
pub const MAX_REGION_NAME_LEN: usize = 128;
/// File paths.
pub const MAX_PATH_LEN: usize = 4096;
/// The user agent.
pub const MAX_USER_AGENT_LEN: usize = 256;
/// A custom user agent.
pub const MAX_CUSTOM_USER_AGENT_LEN: usize = 128;
/// A user agent postfix.
pub const MAX_CUSTOM_USER_AGENT_NAME_POSTFIX_LEN: usize = 32;
/// Access key id.
pub const MAX_ACCESS_KEY_LEN: usize = 128;
/// Secret access key.
pub const MAX_SECRET_KEY_LEN: usize = 128;
/// Session token.
pub const MAX_SESSION_TOKEN_LEN: usize = 2048;
/// IoT role alias.
pub const MAX_ROLE_ALIAS_LEN: usize = 128;
/// IoT thing name.
pub const MAX_IOT_THING_NAME_LEN: usize = 128;
/// Tags on a created channel.
pub const MAX_TAG_COUNT: usize = 50;
/// Tag name.
pub const MAX_TAG_NAME_LEN: usize = 128;
/// Tag value.
pub const MAX_TAG_VALUE_LEN: usize = 1024;

// --- Buffer sizes: each limit plus its terminator, as the C SDK's newer headers name them ---

/// `MAX_CORRELATION_ID_LEN` plus the terminator.
pub const MAX_CORRELATION_ID_BUFFER_LEN: usize = MAX_CORRELATION_ID_LEN + 1;
/// `MAX_ERROR_TYPE_STRING_LEN` plus the terminator.
pub const MAX_ERROR_TYPE_STRING_BUFFER_LEN: usize = MAX_ERROR_TYPE_STRING_LEN + 1;
/// `MAX_ICE_CONFIG_CREDENTIAL_LEN` plus the terminator.
pub const MAX_ICE_CONFIG_CREDENTIAL_BUFFER_LEN: usize = MAX_ICE_CONFIG_CREDENTIAL_LEN + 1;
/// `MAX_ICE_CONFIG_URI_LEN` plus the terminator.
pub const MAX_ICE_CONFIG_URI_BUFFER_LEN: usize = MAX_ICE_CONFIG_URI_LEN + 1;
/// `MAX_ICE_CONFIG_USER_NAME_LEN` plus the terminator.
pub const MAX_ICE_CONFIG_USER_NAME_BUFFER_LEN: usize = MAX_ICE_CONFIG_USER_NAME_LEN + 1;
/// `MAX_MESSAGE_DESCRIPTION_LEN` plus the terminator.
pub const MAX_MESSAGE_DESCRIPTION_BUFFER_LEN: usize = MAX_MESSAGE_DESCRIPTION_LEN + 1;
/// `MAX_SIGNALING_CLIENT_ID_LEN` plus the terminator.
pub const MAX_SIGNALING_CLIENT_ID_BUFFER_LEN: usize = MAX_SIGNALING_CLIENT_ID_LEN + 1;
/// `MAX_SIGNALING_MESSAGE_LEN` plus the terminator.
pub const MAX_SIGNALING_MESSAGE_BUFFER_LEN: usize = MAX_SIGNALING_MESSAGE_LEN + 1;

// --- Structure versions -----------------------------------------------------------------------

/// `ChannelInfo`.
pub const CHANNEL_INFO_CURRENT_VERSION: UINT32 = 1;
/// `SignalingClientInfo`.
pub const SIGNALING_CLIENT_INFO_CURRENT_VERSION: UINT32 = 2;
/// `SignalingClientCallbacks`.
pub const SIGNALING_CLIENT_CALLBACKS_CURRENT_VERSION: UINT32 = 0;
/// `SignalingMessage`.
pub const SIGNALING_MESSAGE_CURRENT_VERSION: UINT32 = 0;
/// `IceConfigInfo`.
pub const SIGNALING_ICE_CONFIG_INFO_CURRENT_VERSION: UINT32 = 0;
/// `SignalingClientMetrics`.
pub const SIGNALING_CLIENT_METRICS_CURRENT_VERSION: UINT32 = 1;
/// `AwsCredentials`.
pub const AWS_CREDENTIALS_CURRENT_VERSION: UINT32 = 0;
/// `Tag`.
pub const TAG_CURRENT_VERSION: UINT32 = 0;
/// The seed's `SignalingClientConfig`.
pub const SIGNALING_CLIENT_CONFIG_CURRENT_VERSION: UINT32 = 0;
/// The seed's name for `CHANNEL_INFO_CURRENT_VERSION`.
pub const SIGNALING_CHANNEL_INFO_CURRENT_VERSION: UINT32 = CHANNEL_INFO_CURRENT_VERSION;

// --- Sentinels and timeouts (100 ns units, as in the C SDK) --------------------------------

/// `cachingPeriod` 0 means the default, 10 hours.
pub const SIGNALING_API_CALL_CACHE_TTL_SENTINEL_VALUE: UINT64 = 0;
/// The default endpoint cache period.
pub const SIGNALING_DEFAULT_API_CALL_CACHE_TTL: UINT64 = 360_000_000_000;
/// `signalingClientCreationMaxRetryAttempts` -1 means the default.
pub const CREATE_SIGNALING_CLIENT_RETRY_ATTEMPTS_SENTINEL_VALUE: INT32 = -1;
/// The state-machine retry count the C SDK uses per state.
pub const SIGNALING_STATES_DEFAULT_RETRY_COUNT: UINT32 = 1;
/// How long `signalingClientFetchSync`/`ConnectSync`/`DisconnectSync` wait.
pub const SIGNALING_CONNECT_STATE_TIMEOUT: UINT64 = 150_000_000;
/// How long `signalingClientDeleteSync` waits.
pub const SIGNALING_DELETE_TIMEOUT: UINT64 = 50_000_000;
/// The message TTL used when `messageTtl` is 0.
pub const SIGNALING_DEFAULT_MESSAGE_TTL_VALUE: UINT64 = 600_000_000;

// --- STATUS codes -------------------------------------------------------------------------------

/// Success.
pub const STATUS_SUCCESS: STATUS = 0x0000_0000;
/// A required pointer was NULL.
pub const STATUS_NULL_ARG: STATUS = 0x0000_0001;
/// An argument is out of range.
pub const STATUS_INVALID_ARG: STATUS = 0x0000_0002;
/// A string argument is too long.
pub const STATUS_INVALID_ARG_LEN: STATUS = 0x0000_0003;
/// Allocation failed.
pub const STATUS_NOT_ENOUGH_MEMORY: STATUS = 0x0000_0004;
/// The handle names no live client.
pub const STATUS_INVALID_HANDLE_ERROR: STATUS = 0x0000_0008;
/// A file could not be opened.
pub const STATUS_OPEN_FILE_FAILED: STATUS = 0x0000_0009;
/// Something inside failed (a caught panic, for one); the log says what.
pub const STATUS_INTERNAL_ERROR: STATUS = 0x0000_000c;
/// The call is not allowed now (wrong state, or `freeSignalingClient` from a callback).
pub const STATUS_INVALID_OPERATION: STATUS = 0x0000_000d;
/// Not supported by this library (media storage).
pub const STATUS_NOT_IMPLEMENTED: STATUS = 0x0000_000e;
/// The call did not finish in time.
pub const STATUS_OPERATION_TIMED_OUT: STATUS = 0x0000_000f;

/// Base of producer-c's common codes.
pub const STATUS_COMMON_PRODUCER_BASE: STATUS = 0x1500_0000;
/// Wrong `AwsCredentials` version.
pub const STATUS_INVALID_AWS_CREDENTIALS_VERSION: STATUS = STATUS_COMMON_PRODUCER_BASE + 0x08;
/// The IoT credentials provider failed.
pub const STATUS_IOT_FAILED: STATUS = STATUS_COMMON_PRODUCER_BASE + 0x11;
/// Role alias too long.
pub const STATUS_MAX_ROLE_ALIAS_LEN_EXCEEDED: STATUS = STATUS_COMMON_PRODUCER_BASE + 0x12;
/// Thing name too long.
pub const STATUS_MAX_IOT_THING_NAME_LENGTH: STATUS = STATUS_COMMON_PRODUCER_BASE + 0x1e;
/// The CA path is unusable.
pub const STATUS_INVALID_CA_CERT_PATH: STATUS = STATUS_COMMON_PRODUCER_BASE + 0x20;
/// The credentials file could not be opened.
pub const STATUS_FILE_CREDENTIAL_PROVIDER_OPEN_FILE_FAILED: STATUS =
    STATUS_COMMON_PRODUCER_BASE + 0x22;
/// The credentials file is malformed.
pub const STATUS_FILE_CREDENTIAL_PROVIDER_INVALID_FILE_FORMAT: STATUS =
    STATUS_COMMON_PRODUCER_BASE + 0x24;

/// Base of the signaling codes.
pub const STATUS_SIGNALING_BASE: STATUS = 0x5d00_0000;
/// Not in a state the call needs.
pub const STATUS_SIGNALING_INVALID_READY_STATE: STATUS = STATUS_SIGNALING_BASE + 0x01;
/// Getting credentials failed.
pub const STATUS_SIGNALING_GET_TOKEN_CALL_FAILED: STATUS = STATUS_SIGNALING_BASE + 0x02;
/// DescribeSignalingChannel failed.
pub const STATUS_SIGNALING_DESCRIBE_CALL_FAILED: STATUS = STATUS_SIGNALING_BASE + 0x03;
/// CreateSignalingChannel failed.
pub const STATUS_SIGNALING_CREATE_CALL_FAILED: STATUS = STATUS_SIGNALING_BASE + 0x04;
/// GetSignalingChannelEndpoint failed.
pub const STATUS_SIGNALING_GET_ENDPOINT_CALL_FAILED: STATUS = STATUS_SIGNALING_BASE + 0x05;
/// GetIceServerConfig failed.
pub const STATUS_SIGNALING_GET_ICE_CONFIG_CALL_FAILED: STATUS = STATUS_SIGNALING_BASE + 0x06;
/// The READY callback failed.
pub const STATUS_SIGNALING_READY_CALLBACK_FAILED: STATUS = STATUS_SIGNALING_BASE + 0x07;
/// The WebSocket connect failed.
pub const STATUS_SIGNALING_CONNECT_CALL_FAILED: STATUS = STATUS_SIGNALING_BASE + 0x08;
/// The CONNECTED callback failed.
pub const STATUS_SIGNALING_CONNECTED_CALLBACK_FAILED: STATUS = STATUS_SIGNALING_BASE + 0x09;
/// Wrong `ChannelInfo` version.
pub const STATUS_SIGNALING_INVALID_CHANNEL_INFO_VERSION: STATUS = STATUS_SIGNALING_BASE + 0x0A;
/// Wrong `SignalingClientCallbacks` version.
pub const STATUS_SIGNALING_INVALID_SIGNALING_CALLBACKS_VERSION: STATUS =
    STATUS_SIGNALING_BASE + 0x0B;
/// Channel name too long (or empty).
pub const STATUS_SIGNALING_INVALID_CHANNEL_NAME_LENGTH: STATUS = STATUS_SIGNALING_BASE + 0x0C;
/// Channel ARN too long.
pub const STATUS_SIGNALING_INVALID_CHANNEL_ARN_LENGTH: STATUS = STATUS_SIGNALING_BASE + 0x0D;
/// Region too long.
pub const STATUS_SIGNALING_INVALID_REGION_LENGTH: STATUS = STATUS_SIGNALING_BASE + 0x0E;
/// Control-plane URL too long.
pub const STATUS_SIGNALING_INVALID_CPL_LENGTH: STATUS = STATUS_SIGNALING_BASE + 0x0F;
/// CA path too long.
pub const STATUS_SIGNALING_INVALID_CERTIFICATE_PATH_LENGTH: STATUS = STATUS_SIGNALING_BASE + 0x10;
/// User agent postfix too long.
pub const STATUS_SIGNALING_INVALID_AGENT_POSTFIX_LENGTH: STATUS = STATUS_SIGNALING_BASE + 0x11;
/// Custom user agent too long.
pub const STATUS_SIGNALING_INVALID_AGENT_LENGTH: STATUS = STATUS_SIGNALING_BASE + 0x12;
/// KMS key id too long.
pub const STATUS_SIGNALING_INVALID_KMS_KEY_LENGTH: STATUS = STATUS_SIGNALING_BASE + 0x13;
/// The channel is being deleted.
pub const STATUS_SIGNALING_CHANNEL_BEING_DELETED: STATUS = STATUS_SIGNALING_BASE + 0x16;
/// Wrong `SignalingClientInfo` version.
pub const STATUS_SIGNALING_INVALID_CLIENT_INFO_VERSION: STATUS = STATUS_SIGNALING_BASE + 0x17;
/// Client id not terminated within its array, or invalid.
pub const STATUS_SIGNALING_INVALID_CLIENT_INFO_CLIENT_LENGTH: STATUS = STATUS_SIGNALING_BASE + 0x18;
/// Wrong `IceConfigInfo` version.
pub const STATUS_SIGNALING_INVALID_ICE_CONFIG_INFO_VERSION: STATUS = STATUS_SIGNALING_BASE + 0x1D;
/// Message type cannot be sent.
pub const STATUS_SIGNALING_INVALID_MESSAGE_TYPE: STATUS = STATUS_SIGNALING_BASE + 0x21;
/// Wrong `SignalingMessage` version.
pub const STATUS_SIGNALING_INVALID_SIGNALING_MESSAGE_VERSION: STATUS = STATUS_SIGNALING_BASE + 0x22;
/// A master's message names no viewer.
pub const STATUS_SIGNALING_NO_PEER_CLIENT_ID_IN_MESSAGE: STATUS = STATUS_SIGNALING_BASE + 0x23;
/// The message could not be delivered.
pub const STATUS_SIGNALING_MESSAGE_DELIVERY_FAILED: STATUS = STATUS_SIGNALING_BASE + 0x24;
/// The payload exceeds the service's limit once encoded.
pub const STATUS_SIGNALING_MAX_MESSAGE_LEN_AFTER_ENCODING: STATUS = STATUS_SIGNALING_BASE + 0x25;
/// `payloadLen` exceeds `MAX_SIGNALING_MESSAGE_LEN`.
pub const STATUS_SIGNALING_INVALID_PAYLOAD_LEN_IN_MESSAGE: STATUS = STATUS_SIGNALING_BASE + 0x29;
/// The payload is empty.
pub const STATUS_SIGNALING_NO_PAYLOAD_IN_MESSAGE: STATUS = STATUS_SIGNALING_BASE + 0x2A;
/// `messageTtl` outside 5–120 s.
pub const STATUS_SIGNALING_INVALID_MESSAGE_TTL_VALUE: STATUS = STATUS_SIGNALING_BASE + 0x2E;
/// Refreshing the ICE servers failed.
pub const STATUS_SIGNALING_ICE_CONFIG_REFRESH_FAILED: STATUS = STATUS_SIGNALING_BASE + 0x2F;
/// The connection was lost and could not be restored; fetch and connect again.
pub const STATUS_SIGNALING_RECONNECT_FAILED: STATUS = STATUS_SIGNALING_BASE + 0x30;
/// DeleteSignalingChannel failed.
pub const STATUS_SIGNALING_DELETE_CALL_FAILED: STATUS = STATUS_SIGNALING_BASE + 0x31;
/// Wrong `SignalingClientMetrics` version.
pub const STATUS_SIGNALING_INVALID_METRICS_VERSION: STATUS = STATUS_SIGNALING_BASE + 0x32;
/// `cacheFilePath` too long.
pub const STATUS_SIGNALING_INVALID_CLIENT_INFO_CACHE_FILE_PATH_LEN: STATUS =
    STATUS_SIGNALING_BASE + 0x33;
/// A REST call failed.
pub const STATUS_SIGNALING_LWS_CALL_FAILED: STATUS = STATUS_SIGNALING_BASE + 0x34;
/// Storage stream ARN too long.
pub const STATUS_SIGNALING_INVALID_STREAM_ARN_LENGTH: STATUS = STATUS_SIGNALING_BASE + 0x35;
/// Media storage is not available.
pub const STATUS_SIGNALING_MEDIA_STORAGE_DISABLED: STATUS = STATUS_SIGNALING_BASE + 0x38;
/// The channel ARN is malformed.
pub const STATUS_SIGNALING_INVALID_CHANNEL_ARN: STATUS = STATUS_SIGNALING_BASE + 0x39;
