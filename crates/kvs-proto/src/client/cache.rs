//! What DescribeSignalingChannel and GetSignalingChannelEndpoint said, kept so that a warm
//! start needs only GetIceServerConfig and the WebSocket upgrade (as the C SDK's file cache).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::{ChannelRef, ClientConfig};

/// One channel's resolved endpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CachedEndpoints {
    /// The channel's ARN.
    pub channel_arn: String,
    /// The WSS endpoint for the cached role.
    pub wss_endpoint: String,
    /// The signaling HTTPS endpoint.
    pub https_endpoint: String,
    /// The channel's MessageTtlSeconds, if known.
    pub message_ttl_seconds: Option<u32>,
    /// When the endpoints were fetched, in seconds since the Unix epoch.
    pub fetched_at: u64,
}

impl CachedEndpoints {
    /// True while younger than `ttl` at `now`.
    pub fn is_fresh(&self, now: SystemTime, ttl: Duration) -> bool {
        let age = now
            .duration_since(UNIX_EPOCH + Duration::from_secs(self.fetched_at))
            .unwrap_or_default();
        age < ttl
    }
}

/// The key an entry is stored under: channel, region, role and control-plane endpoint.
pub fn cache_key(config: &ClientConfig) -> String {
    let channel = match &config.channel {
        ChannelRef::Name(n) | ChannelRef::Arn(n) => n,
    };
    format!(
        "{channel}|{}|{}|{}",
        config.region,
        config.role.as_str(),
        config.endpoint
    )
}

/// A cache file's contents: entries by [`cache_key`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointCacheFile {
    /// The entries.
    pub entries: BTreeMap<String, CachedEndpoints>,
}

impl EndpointCacheFile {
    /// Parses a cache file; anything unreadable counts as empty (it is rewritten on the next
    /// store), so a corrupt file never stops a client.
    pub fn parse(bytes: &[u8]) -> Self {
        serde_json::from_slice(bytes).unwrap_or_default()
    }

    /// The file's JSON.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("plain data serialises")
    }
}
