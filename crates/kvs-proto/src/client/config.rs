use std::time::Duration;

use super::{CachedEndpoints, RetryPolicy};
use crate::api::{ChannelRole, ChannelType};
use crate::rate::Limits;

/// Which channel to use: by name (described, and created if missing) or by ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelRef {
    /// A channel name; the client describes it and creates it when it does not exist.
    Name(String),
    /// A channel ARN; the client skips DescribeSignalingChannel.
    Arn(String),
}

/// Everything the signaling client needs to know before it starts, mirroring the C SDK's
/// `ChannelInfo` and `SignalingClientInfo`.
#[derive(Debug, Clone)]
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
    /// `reconnect_margin` before it, and before its credentials expire.
    pub max_connection_duration: Duration,
    /// How early to replace a connection before a limit (default 60 s).
    pub reconnect_margin: Duration,
    /// How early to refresh the ICE servers before their `Ttl` ends (default 30 s).
    pub ice_refresh_margin: Duration,
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
            call_timeout: Duration::from_secs(15),
            presign_expires: Duration::from_secs(299),
            cached_endpoints: None,
            endpoint_cache_ttl: Duration::from_secs(10 * 3600),
            ping_interval: Duration::from_secs(10),
            pong_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(5),
            max_connection_duration: Duration::from_secs(3600),
            reconnect_margin: Duration::from_secs(60),
            ice_refresh_margin: Duration::from_secs(30),
            send_queue_limit: 256,
            send_rate: Some(Limits::KVS),
            message_ttl: None,
            buffer_early_candidates: true,
            retry: RetryPolicy::default(),
            rng_seed: None,
        }
    }
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
