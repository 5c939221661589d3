//! The C structures, laid out as in the C SDK's `Include.h` (reference §4.2–4.3) so that
//! existing programs pass them unchanged.
//!
//! Types that differ between the two layers carry a `KvsUpstream`/`KvsSeed` prefix here;
//! the header's trailer gives them the C SDK's names (`SignalingClientCallbacks`,
//! `ReceivedSignalingMessage`, …) according to `KVS_SEED_SIGNALING_API`.

use core::mem::{offset_of, size_of};

use crate::types::*;

/// A channel tag (`Tag`).
#[repr(C)]
pub struct Tag {
    /// `TAG_CURRENT_VERSION`.
    pub version: UINT32,
    /// Tag name.
    pub name: *mut CHAR,
    /// Tag value.
    pub value: *mut CHAR,
}

/// PIC's retry strategy state (`KvsRetryStrategy`); accepted and not used, since the
/// client's own backoff applies.
#[repr(C)]
pub struct KvsRetryStrategy {
    /// Opaque strategy state.
    pub pRetryStrategy: *mut UINT64,
    /// Opaque strategy configuration.
    pub pRetryStrategyConfig: *mut UINT64,
    /// `KVS_RETRY_STRATEGY_*`.
    pub retryStrategyType: KVS_RETRY_STRATEGY_TYPE,
}

/// PIC's retry strategy callbacks (`KvsRetryStrategyCallbacks`); accepted and not called.
#[repr(C)]
pub struct KvsRetryStrategyCallbacks {
    /// Creates the strategy.
    pub createRetryStrategyFn: Option<unsafe extern "C" fn(*mut KvsRetryStrategy) -> STATUS>,
    /// Reports the attempt number.
    pub getCurrentRetryAttemptNumberFn:
        Option<unsafe extern "C" fn(*mut KvsRetryStrategy, *mut UINT32) -> STATUS>,
    /// Frees the strategy.
    pub freeRetryStrategyFn: Option<unsafe extern "C" fn(*mut KvsRetryStrategy) -> STATUS>,
    /// Computes the next wait.
    pub executeRetryStrategyFn:
        Option<unsafe extern "C" fn(*mut KvsRetryStrategy, *mut UINT64) -> STATUS>,
}

/// `SignalingClientInfo` (version 2; versions 0 and 1 stop after `loggingLevel` and
/// `cacheFilePath`).
#[repr(C)]
pub struct SignalingClientInfo {
    /// 0, 1 or 2 (`SIGNALING_CLIENT_INFO_CURRENT_VERSION`).
    pub version: UINT32,
    /// The client id (a viewer's `X-Amz-ClientId`), NUL-terminated.
    pub clientId: [CHAR; MAX_SIGNALING_CLIENT_ID_BUFFER_LEN],
    /// `LOG_LEVEL_*`; `RUST_LOG` or `AWS_KVS_LOG_LEVEL` win when set.
    pub loggingLevel: UINT32,
    /// The endpoint cache file for `SIGNALING_API_CALL_CACHE_TYPE_FILE` (v1+).
    pub cacheFilePath: *mut CHAR,
    /// Not called: the client's own backoff applies (v2).
    pub signalingRetryStrategyCallbacks: KvsRetryStrategyCallbacks,
    /// Ignored: the client retries by itself (v2).
    pub signalingClientCreationMaxRetryAttempts: INT32,
    /// Retries so far, written by the library (v2).
    pub stateMachineRetryCountReadOnly: UINT32,
    /// Unused, as in the C SDK since v1.8.1.
    pub signalingMessagesMinimumThreads: UINT32,
    /// Unused, as in the C SDK since v1.8.1.
    pub signalingMessagesMaximumThreads: UINT32,
}

/// `ChannelInfo` (version 1; version 0 stops after `pTags`).
#[repr(C)]
pub struct ChannelInfo {
    /// 0 or 1 (`CHANNEL_INFO_CURRENT_VERSION`).
    pub version: UINT32,
    /// The channel name (or NULL with an ARN).
    pub pChannelName: *mut CHAR,
    /// The channel ARN (optional; skips DescribeSignalingChannel).
    pub pChannelArn: *mut CHAR,
    /// Media storage stream ARN (media storage is not supported).
    pub pStorageStreamArn: *mut CHAR,
    /// The region; NULL or empty means `us-west-2`.
    pub pRegion: *mut CHAR,
    /// The control-plane URL, e.g. the local service's `https://127.0.0.1:4443`.
    pub pControlPlaneUrl: *mut CHAR,
    /// A CA bundle (PEM) trusted besides the public roots.
    pub pCertPath: *mut CHAR,
    /// Checked for length, not sent.
    pub pUserAgentPostfix: *mut CHAR,
    /// Checked for length, not sent.
    pub pCustomUserAgent: *mut CHAR,
    /// Output in the C SDK; not written.
    pub pUserAgent: *mut CHAR,
    /// Checked for length; signaling channels take no KMS key.
    pub pKmsKeyId: *mut CHAR,
    /// `SIGNALING_CHANNEL_TYPE_*`.
    pub channelType: SIGNALING_CHANNEL_TYPE,
    /// `SIGNALING_CHANNEL_ROLE_TYPE_MASTER` or `_VIEWER`.
    pub channelRoleType: SIGNALING_CHANNEL_ROLE_TYPE,
    /// Reserved.
    pub reserved: BOOL,
    /// Endpoint cache period in 100 ns; 0 means 10 hours.
    pub cachingPeriod: UINT64,
    /// Accepted; the client always retries transient failures.
    pub retry: BOOL,
    /// Accepted; the client always reconnects.
    pub reconnect: BOOL,
    /// Message TTL of a created channel in 100 ns (5–120 s; 0 means 60 s).
    pub messageTtl: UINT64,
    /// Number of `pTags`.
    pub tagCount: UINT32,
    /// Tags (checked, not sent).
    pub pTags: *mut Tag,
    /// `SIGNALING_API_CALL_CACHE_TYPE_*` (v1).
    pub cachingPolicy: SIGNALING_API_CALL_CACHE_TYPE,
    /// No effect, as in the C SDK (v1).
    pub asyncIceServerConfig: BOOL,
    /// Media storage; TRUE is refused with `STATUS_NOT_IMPLEMENTED` (v1).
    pub useMediaStorage: BOOL,
}

/// A message to send (`SignalingMessage`).
#[repr(C)]
pub struct SignalingMessage {
    /// `SIGNALING_MESSAGE_CURRENT_VERSION`.
    pub version: UINT32,
    /// OFFER, ANSWER or ICE_CANDIDATE.
    pub messageType: SIGNALING_MESSAGE_TYPE,
    /// Optional; comes back in a STATUS_RESPONSE when delivery fails.
    pub correlationId: [CHAR; MAX_CORRELATION_ID_BUFFER_LEN],
    /// The viewer a master addresses; the sender on receipt.
    pub peerClientId: [CHAR; MAX_SIGNALING_CLIENT_ID_BUFFER_LEN],
    /// Payload length; 0 means up to the NUL.
    pub payloadLen: UINT32,
    /// The payload (usually the SDP or candidate JSON).
    pub payload: [CHAR; MAX_SIGNALING_MESSAGE_BUFFER_LEN],
}

/// A received message as the upstream layer delivers it (`ReceivedSignalingMessage`).
#[repr(C)]
pub struct KvsUpstreamReceivedSignalingMessage {
    /// The message.
    pub signalingMessage: SignalingMessage,
    /// `SERVICE_CALL_RESULT_OK`, or a STATUS_RESPONSE's status.
    pub statusCode: SERVICE_CALL_RESULT,
    /// A STATUS_RESPONSE's error type.
    pub errorType: [CHAR; MAX_ERROR_TYPE_STRING_BUFFER_LEN],
    /// A STATUS_RESPONSE's description.
    pub description: [CHAR; MAX_MESSAGE_DESCRIPTION_BUFFER_LEN],
}

/// A received message as the seed layer delivers it: the same bytes as the upstream one,
/// with the message's fields directly in it (`pReceivedSignalingMessage->messageType`).
#[repr(C)]
pub struct KvsSeedReceivedSignalingMessage {
    /// `SIGNALING_MESSAGE_CURRENT_VERSION`.
    pub version: UINT32,
    /// OFFER, ANSWER, ICE_CANDIDATE or STATUS_RESPONSE.
    pub messageType: SIGNALING_MESSAGE_TYPE,
    /// Correlation id of a STATUS_RESPONSE.
    pub correlationId: [CHAR; MAX_CORRELATION_ID_BUFFER_LEN],
    /// The sender (a viewer's client id; empty from the master).
    pub peerClientId: [CHAR; MAX_SIGNALING_CLIENT_ID_BUFFER_LEN],
    /// Payload length.
    pub payloadLen: UINT32,
    /// The payload, NUL-terminated.
    pub payload: [CHAR; MAX_SIGNALING_MESSAGE_BUFFER_LEN],
    /// `SERVICE_CALL_RESULT_OK`, or a STATUS_RESPONSE's status.
    pub statusCode: SERVICE_CALL_RESULT,
    /// A STATUS_RESPONSE's error type.
    pub errorType: [CHAR; MAX_ERROR_TYPE_STRING_BUFFER_LEN],
    /// A STATUS_RESPONSE's description.
    pub description: [CHAR; MAX_MESSAGE_DESCRIPTION_BUFFER_LEN],
}

// The seed's message is the upstream one flattened: the library fills one and hands it to
// either layer, so the two must agree byte for byte.
const _: () = {
    type U = KvsUpstreamReceivedSignalingMessage;
    type S = KvsSeedReceivedSignalingMessage;
    assert!(size_of::<U>() == size_of::<S>());
    assert!(offset_of!(S, messageType) == offset_of!(SignalingMessage, messageType));
    assert!(offset_of!(S, correlationId) == offset_of!(SignalingMessage, correlationId));
    assert!(offset_of!(S, peerClientId) == offset_of!(SignalingMessage, peerClientId));
    assert!(offset_of!(S, payloadLen) == offset_of!(SignalingMessage, payloadLen));
    assert!(offset_of!(S, payload) == offset_of!(SignalingMessage, payload));
    assert!(offset_of!(S, statusCode) == offset_of!(U, statusCode));
    assert!(offset_of!(S, errorType) == offset_of!(U, errorType));
    assert!(offset_of!(S, description) == offset_of!(U, description));
};

/// `IceConfigInfo`: one TURN server with its credentials.
#[repr(C)]
pub struct IceConfigInfo {
    /// `SIGNALING_ICE_CONFIG_INFO_CURRENT_VERSION`.
    pub version: UINT32,
    /// Lifetime in 100 ns.
    pub ttl: UINT64,
    /// Number of `uris`.
    pub uriCount: UINT32,
    /// `turn:`/`turns:` URIs.
    pub uris: [[CHAR; MAX_ICE_CONFIG_URI_BUFFER_LEN]; MAX_ICE_CONFIG_URI_COUNT],
    /// TURN user name.
    pub userName: [CHAR; MAX_ICE_CONFIG_USER_NAME_BUFFER_LEN],
    /// TURN password.
    pub password: [CHAR; MAX_ICE_CONFIG_CREDENTIAL_BUFFER_LEN],
}

/// `SignalingClientStats`: the v0 fields, then the v1 per-call times (milliseconds).
#[repr(C)]
#[derive(Default)]
pub struct SignalingClientStats {
    /// Mean control-plane call latency, 100 ns.
    pub cpApiCallLatency: UINT64,
    /// Mean GetIceServerConfig latency, 100 ns.
    pub dpApiCallLatency: UINT64,
    /// Time since creation, 100 ns.
    pub signalingClientUptime: UINT64,
    /// Time spent connected, 100 ns.
    pub connectionDuration: UINT64,
    /// Messages sent.
    pub numberOfMessagesSent: UINT32,
    /// Messages received.
    pub numberOfMessagesReceived: UINT32,
    /// ICE server refreshes.
    pub iceRefreshCount: UINT32,
    /// Failed API calls on this handle.
    pub numberOfErrors: UINT32,
    /// Errors reported through `errorReportFn`.
    pub numberOfRuntimeErrors: UINT32,
    /// Reconnections.
    pub numberOfReconnects: UINT32,
    /// Retries scheduled.
    pub apiCallRetryCount: UINT32,
    /// Getting credentials at creation, ms (v1).
    pub getTokenCallTime: UINT64,
    /// Latest DescribeSignalingChannel, ms (v1).
    pub describeCallTime: UINT64,
    /// DescribeMediaStorageConfiguration: always 0 (v1).
    pub describeMediaCallTime: UINT64,
    /// Latest CreateSignalingChannel, ms (v1).
    pub createCallTime: UINT64,
    /// Latest GetSignalingChannelEndpoint, ms (v1).
    pub getEndpointCallTime: UINT64,
    /// Latest GetIceServerConfig, ms (v1).
    pub getIceConfigCallTime: UINT64,
    /// Latest WebSocket upgrade, ms (v1).
    pub connectCallTime: UINT64,
    /// JoinStorageSession: always 0 (v1).
    pub joinSessionCallTime: UINT64,
    /// `createSignalingClientSync`, ms (v1).
    pub createClientTime: UINT64,
    /// The latest `signalingClientFetchSync`, ms (v1).
    pub fetchClientTime: UINT64,
    /// The latest `signalingClientConnectSync`, ms (v1).
    pub connectClientTime: UINT64,
    /// Offer to answer, ms (v1).
    pub offerToAnswerTime: UINT64,
    /// When the latest offer arrived, ms since the epoch (v1).
    pub offerReceivedTime: UINT64,
    /// When the latest answer was sent or received, ms since the epoch (v1).
    pub answerTime: UINT64,
    /// Storage sessions: always 0 (v1).
    pub joinSessionToOfferRecvTime: UINT64,
}

/// `SignalingClientMetrics`.
#[repr(C)]
#[derive(Default)]
pub struct SignalingClientMetrics {
    /// 0 or 1 (`SIGNALING_CLIENT_METRICS_CURRENT_VERSION`); higher is refused.
    pub version: UINT32,
    /// Start of the latest connect call, ms since the epoch.
    pub signalingStartTime: UINT64,
    /// End of the latest connect call, ms since the epoch.
    pub signalingEndTime: UINT64,
    /// Their difference, ms.
    pub signalingCallTime: UINT64,
    /// The counters.
    pub signalingClientStats: SignalingClientStats,
}

/// `AwsCredentials`: what a credential provider hands out.
#[repr(C)]
pub struct AwsCredentials {
    /// `AWS_CREDENTIALS_CURRENT_VERSION`.
    pub version: UINT32,
    /// Size of the structure and its strings.
    pub size: UINT32,
    /// Access key id, NUL-terminated.
    pub accessKeyId: *mut CHAR,
    /// Its length.
    pub accessKeyIdLen: UINT32,
    /// Secret key, NUL-terminated.
    pub secretKey: *mut CHAR,
    /// Its length.
    pub secretKeyLen: UINT32,
    /// Session token, NUL-terminated (may be empty).
    pub sessionToken: *mut CHAR,
    /// Its length.
    pub sessionTokenLen: UINT32,
    /// Expiry in 100 ns since the epoch; `MAX_UINT64` for never.
    pub expiration: UINT64,
}

/// `GetCredentialsFunc`.
pub type GetCredentialsFunc =
    Option<unsafe extern "C" fn(*mut AwsCredentialProvider, *mut *mut AwsCredentials) -> STATUS>;

/// `GetCurrentTimeFunc` (PIC).
pub type GetCurrentTimeFunc = Option<unsafe extern "C" fn(UINT64) -> UINT64>;

/// `AwsCredentialProvider`: the C SDK's provider interface. Providers made by this library
/// carry their state after this field; an application's own provider works too (its
/// function is called on a library thread).
#[repr(C)]
pub struct AwsCredentialProvider {
    /// Returns credentials owned by the provider.
    pub getCredentialsFn: GetCredentialsFunc,
}

/// The upstream `SignalingClientMessageReceivedFunc`.
pub type KvsUpstreamMessageReceivedFunc =
    Option<unsafe extern "C" fn(UINT64, *mut KvsUpstreamReceivedSignalingMessage) -> STATUS>;
/// The upstream `SignalingClientErrorReportFunc`.
pub type KvsUpstreamErrorReportFunc =
    Option<unsafe extern "C" fn(UINT64, STATUS, *mut CHAR, UINT32) -> STATUS>;
/// The upstream `SignalingClientStateChangedFunc`.
pub type KvsUpstreamStateChangedFunc =
    Option<unsafe extern "C" fn(UINT64, SIGNALING_CLIENT_STATE) -> STATUS>;

/// The upstream `SignalingClientCallbacks`: callbacks return `STATUS` (ignored but for
/// logging, since the client recovers by itself).
#[repr(C)]
pub struct KvsUpstreamSignalingClientCallbacks {
    /// `SIGNALING_CLIENT_CALLBACKS_CURRENT_VERSION`.
    pub version: UINT32,
    /// Passed to every callback untouched.
    pub customData: UINT64,
    /// Offers, answers, candidates and STATUS_RESPONSEs.
    pub messageReceivedFn: KvsUpstreamMessageReceivedFunc,
    /// Errors the client recovered from or gave up on.
    pub errorReportFn: KvsUpstreamErrorReportFunc,
    /// State changes.
    pub stateChangeFn: KvsUpstreamStateChangedFunc,
    /// Ignored: the client corrects its clock from the service's `Date` by itself.
    pub getCurrentTimeFn: GetCurrentTimeFunc,
}

/// The seed's `SignalingClientMessageReceivedFunc`.
pub type KvsSeedMessageReceivedFunc =
    Option<unsafe extern "C" fn(UINT64, *mut KvsSeedReceivedSignalingMessage)>;
/// The seed's `SignalingClientErrorReportFunc`.
pub type KvsSeedErrorReportFunc = Option<unsafe extern "C" fn(UINT64, STATUS, *mut CHAR, UINT32)>;
/// The seed's `SignalingClientStateChangedFunc`.
pub type KvsSeedStateChangedFunc = Option<unsafe extern "C" fn(UINT64, SIGNALING_CLIENT_STATE)>;

/// The seed's `SignalingClientCallbacks`: the same fields, callbacks returning `VOID`.
#[repr(C)]
pub struct KvsSeedSignalingClientCallbacks {
    /// `SIGNALING_CLIENT_CALLBACKS_CURRENT_VERSION`.
    pub version: UINT32,
    /// Passed to every callback untouched.
    pub customData: UINT64,
    /// Offers, answers, candidates and STATUS_RESPONSEs.
    pub messageReceivedFn: KvsSeedMessageReceivedFunc,
    /// Errors.
    pub errorReportFn: KvsSeedErrorReportFunc,
    /// State changes.
    pub stateChangeFn: KvsSeedStateChangedFunc,
    /// Ignored, as in the upstream layer.
    pub getCurrentTimeFn: GetCurrentTimeFunc,
}

/// The seed's `SignalingClientConfig`: everything `createSignalingClientSync` needs.
#[repr(C)]
pub struct SignalingClientConfig {
    /// `SIGNALING_CLIENT_CONFIG_CURRENT_VERSION`.
    pub version: UINT32,
    /// The channel.
    pub channelInfo: ChannelInfo,
    /// The client id and log level.
    pub clientInfo: *mut SignalingClientInfo,
    /// Where credentials come from.
    pub pCredentialProvider: *mut AwsCredentialProvider,
}
