//! Counters and latencies of a session, the equivalent of the C SDK's
//! `SignalingClientMetrics` / `SignalingClientStats`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

/// Latency statistics of one kind of call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallStats {
    /// Calls that got an answer.
    pub count: u64,
    /// Of those, answers other than success.
    pub failures: u64,
    /// The latest latency, in milliseconds.
    pub last_ms: u64,
    /// The largest latency, in milliseconds.
    pub max_ms: u64,
    /// The sum of latencies, in milliseconds (divide by `count` for the mean).
    pub total_ms: u64,
}

impl CallStats {
    pub(crate) fn record(&mut self, latency: Duration, ok: bool) {
        let ms = latency.as_millis() as u64;
        self.count += 1;
        self.failures += u64::from(!ok);
        self.last_ms = ms;
        self.max_ms = self.max_ms.max(ms);
        self.total_ms += ms;
    }
}

/// What a session has done so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Metrics {
    /// Per API operation (`DescribeSignalingChannel`, …).
    pub api_calls: BTreeMap<String, CallStats>,
    /// WebSocket upgrades.
    pub ws_connects: CallStats,
    /// Time spent connected, in milliseconds, over all connections.
    pub connected_ms: u64,
    /// Frames sent to peers.
    pub messages_sent: u64,
    /// Peer messages received.
    pub messages_received: u64,
    /// Peer messages dropped as repeats of one delivered within the message TTL (a peer
    /// re-sending after its connection was lost).
    pub duplicates_dropped: u64,
    /// Connections opened after the first.
    pub reconnects: u64,
    /// ICE configurations fetched after the first.
    pub ice_refreshes: u64,
    /// Failures reported (retried or not).
    pub errors: u64,
    /// Retries scheduled.
    pub retries: u64,
    /// The latest offer→answer time, in milliseconds: for a viewer from sending its offer to
    /// receiving the answer, for a master from receiving an offer to sending the answer.
    pub offer_to_answer_ms: Option<u64>,
}
