use std::time::Duration;

use super::{CachedEndpoints, RetryPolicy};
use crate::api::{ChannelRole, ChannelType};
use crate::rate::Limits;

/// How long one API call or WebSocket connect may take unless configured (15 s, as the C
/// SDK).
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// Which channel to use: by name (described, and created if missing) or by ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelRef {
    /// A channel name; the client describes it and creates it when it does not exist.
    Name(String),
    /// A channel ARN; the client skips DescribeSignalingChannel.
    Arn(String),
}

/// Everything the signaling client needs to know before it starts, mirroring the C SDK's
/// `ChannelInfo` and `SignalingClientInfo`. Build it with [`ClientConfig::builder`]; fields
/// stay public to read and adjust, and new ones can be added without breaking callers.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The channel.
    pub channel: ChannelRef,
    /// AWS region, e.g. `us-west-2`.
    pub region: String,
    /// MASTER or VIEWER.
    pub role: ChannelRole,
    /// The viewer's client id (`[a-zA-Z0-9_.-]{1,256}`); unused for a master.
    pub client_id: String,
    /// Channel type used when the client creates the channel.
    pub channel_type: ChannelType,
    /// Message TTL used when the client creates the channel (default: the service's, 60 s).
    pub message_ttl_seconds: Option<u32>,
    /// Create the channel when DescribeSignalingChannel says it does not exist (default true).
    pub create_if_missing: bool,
    /// The control-plane endpoint, e.g. `https://kinesisvideo.us-west-2.amazonaws.com`.
    pub endpoint: String,
    /// How long one API call or WebSocket connect may take (default 15 s, as the C SDK).
    pub call_timeout: Duration,
    /// Validity of the presigned WebSocket URL (default 299 s, as the JS SDK).
    pub presign_expires: Duration,
    /// Endpoints from an earlier session (e.g. a cache file); used while younger than
    /// `endpoint_cache_ttl`, so the client skips DescribeSignalingChannel and
    /// GetSignalingChannelEndpoint.
    pub cached_endpoints: Option<CachedEndpoints>,
    /// How long cached endpoints stay usable (default 10 h, as the C SDK).
    pub endpoint_cache_ttl: Duration,
    /// Ping after this long without a frame from the service (default 10 s, as the C SDK):
    /// keeps idle connections up, and its pong confirms that what was sent before it arrived.
    pub ping_interval: Duration,
    /// A ping that gets no pong within this long means the connection is dead (half-open
    /// TCP, a proxy or NAT that dropped it): it is closed, reported as
    /// [`Error::PongTimeout`](super::Error::PongTimeout) and replaced (default 5 s).
    pub pong_timeout: Duration,
    /// How long one WebSocket write may take before the connection counts as lost (the
    /// service stopped reading); used by the driver (default 5 s).
    pub write_timeout: Duration,
    /// The service's limit on one connection (default 1 h); the client replaces the connection
    /// `reconnect_margin` before it. (Expiring credentials do not end a connection: the
    /// service checks signatures only when a request or upgrade is made.)
    pub max_connection_duration: Duration,
    /// How early to replace a connection before a limit (default 60 s).
    pub reconnect_margin: Duration,
    /// How early to refresh the ICE servers before their `Ttl` ends (default 30 s).
    pub ice_refresh_margin: Duration,
    /// How early to fetch new credentials before temporary ones expire (default 60 s; the C
    /// SDK uses 38 s). Up to a fifth more is added at random, so a fleet does not refresh in
    /// the same second; for credentials that live less than twice the margin, half their
    /// remaining life is used instead. The connected WebSocket is not touched: the next
    /// signature uses the new credentials.
    pub credentials_refresh_margin: Duration,
    /// Most messages queued while not connected, or waiting for the send rate (default 256).
    pub send_queue_limit: usize,
    /// Keep within the service's per-connection rates (5 SDP and 20 ICE messages a second):
    /// messages beyond them wait in the queue instead of being refused by the service. The
    /// default is the real service's; `None` sends everything at once.
    pub send_rate: Option<Limits>,
    /// How long a queued message may wait; default: the channel's MessageTtlSeconds (60 s if
    /// unknown).
    pub message_ttl: Option<Duration>,
    /// Hold ICE candidates that arrive before their sender's SDP and deliver them right after
    /// it (default true).
    pub buffer_early_candidates: bool,
    /// Drop a peer message identical (same sender, type and payload) to one delivered within
    /// the message TTL: the copy a sender re-sends after its connection died (default true).
    /// Turn it off if peers deliberately send the same message twice.
    pub drop_repeats: bool,
    /// When to retry failed steps (default: backoff with full jitter, never giving up).
    pub retry: RetryPolicy,
    /// Seed of the jitter generator. `None` in the core means 0; the tokio driver fills in
    /// a random seed so that clients do not retry in lockstep.
    pub rng_seed: Option<u64>,
}

impl ClientConfig {
    /// A config with the defaults above, talking to the public regional endpoint.
    pub fn new(channel: ChannelRef, region: impl Into<String>, role: ChannelRole) -> Self {
        let region = region.into();
        Self {
            endpoint: default_endpoint(&region),
            channel,
            region,
            role,
            client_id: String::new(),
            channel_type: ChannelType::SingleMaster,
            message_ttl_seconds: None,
            create_if_missing: true,
            call_timeout: DEFAULT_CALL_TIMEOUT,
            presign_expires: Duration::from_secs(299),
            cached_endpoints: None,
            endpoint_cache_ttl: Duration::from_secs(10 * 3600),
            ping_interval: Duration::from_secs(10),
            pong_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(5),
            max_connection_duration: Duration::from_secs(3600),
            reconnect_margin: Duration::from_secs(60),
            ice_refresh_margin: Duration::from_secs(30),
            credentials_refresh_margin: Duration::from_secs(60),
            send_queue_limit: 256,
            send_rate: Some(Limits::KVS),
            message_ttl: None,
            buffer_early_candidates: true,
            drop_repeats: true,
            retry: RetryPolicy::default(),
            rng_seed: None,
        }
    }
}

impl ClientConfig {
    /// A builder starting from [`ClientConfig::new`]'s defaults.
    pub fn builder(
        channel: ChannelRef,
        region: impl Into<String>,
        role: ChannelRole,
    ) -> ClientConfigBuilder {
        ClientConfigBuilder(Self::new(channel, region, role))
    }
}

/// Builds a [`ClientConfig`]; every setter is named after the field it sets.
#[derive(Debug, Clone)]
#[must_use]
pub struct ClientConfigBuilder(ClientConfig);

macro_rules! setters {
    ($($(#[$doc:meta])* $field:ident: $ty:ty,)*) => {
        impl ClientConfigBuilder {
            $(
                $(#[$doc])*
                pub fn $field(mut self, value: impl Into<$ty>) -> Self {
                    self.0.$field = value.into();
                    self
                }
            )*

            /// The config.
            pub fn build(self) -> ClientConfig {
                self.0
            }
        }
    };
}

setters! {
    /// See [`ClientConfig::client_id`].
    client_id: String,
    /// See [`ClientConfig::channel_type`].
    channel_type: ChannelType,
    /// See [`ClientConfig::message_ttl_seconds`].
    message_ttl_seconds: Option<u32>,
    /// See [`ClientConfig::create_if_missing`].
    create_if_missing: bool,
    /// See [`ClientConfig::endpoint`].
    endpoint: String,
    /// See [`ClientConfig::call_timeout`].
    call_timeout: Duration,
    /// See [`ClientConfig::presign_expires`].
    presign_expires: Duration,
    /// See [`ClientConfig::cached_endpoints`].
    cached_endpoints: Option<CachedEndpoints>,
    /// See [`ClientConfig::endpoint_cache_ttl`].
    endpoint_cache_ttl: Duration,
    /// See [`ClientConfig::ping_interval`].
    ping_interval: Duration,
    /// See [`ClientConfig::pong_timeout`].
    pong_timeout: Duration,
    /// See [`ClientConfig::write_timeout`].
    write_timeout: Duration,
    /// See [`ClientConfig::max_connection_duration`].
    max_connection_duration: Duration,
    /// See [`ClientConfig::reconnect_margin`].
    reconnect_margin: Duration,
    /// See [`ClientConfig::ice_refresh_margin`].
    ice_refresh_margin: Duration,
    /// See [`ClientConfig::credentials_refresh_margin`].
    credentials_refresh_margin: Duration,
    /// See [`ClientConfig::send_queue_limit`].
    send_queue_limit: usize,
    /// See [`ClientConfig::send_rate`].
    send_rate: Option<Limits>,
    /// See [`ClientConfig::message_ttl`].
    message_ttl: Option<Duration>,
    /// See [`ClientConfig::buffer_early_candidates`].
    buffer_early_candidates: bool,
    /// See [`ClientConfig::drop_repeats`].
    drop_repeats: bool,
    /// See [`ClientConfig::retry`].
    retry: RetryPolicy,
    /// See [`ClientConfig::rng_seed`].
    rng_seed: Option<u64>,
}

/// The public KVS control-plane endpoint of a region.
pub fn default_endpoint(region: &str) -> String {
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("https://kinesisvideo.{region}.{suffix}")
}
