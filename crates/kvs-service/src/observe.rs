//! Prometheus metrics of the service, served as text on `GET /metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the request-latency histogram, in seconds.
const BUCKETS: [f64; 8] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// What became of a data-plane frame; counted without locks, as it is on every message.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Relayed {
    /// Delivered to a live recipient.
    Delivered,
    /// Held for an offline recipient.
    Held,
    /// Refused with a STATUS_RESPONSE.
    Answered,
    /// Refused without an answer (no correlationId).
    Refused,
}

impl Relayed {
    const ALL: [(Self, &'static str); 4] = [
        (Self::Delivered, "kvs_messages_relayed_total"),
        (Self::Held, "kvs_messages_held_total"),
        (Self::Answered, "kvs_status_responses_total"),
        (Self::Refused, "kvs_messages_refused_total"),
    ];
}

/// Counters, gauges and a latency histogram, keyed by metric name and label set.
#[derive(Default)]
pub(crate) struct Observe {
    relayed: [AtomicU64; 4],
    counters: Mutex<BTreeMap<(&'static str, String), u64>>,
    gauges: Mutex<BTreeMap<(&'static str, String), i64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
}

impl Observe {
    /// Adds one to a counter, e.g. `("kvs_messages_relayed_total", r#"type="SDP_OFFER""#)`.
    pub(crate) fn count(&self, name: &'static str, labels: String) {
        *self
            .counters
            .lock()
            .expect("metrics lock")
            .entry((name, labels))
            .or_default() += 1;
    }

    /// Counts one data-plane frame by outcome.
    pub(crate) fn relayed(&self, outcome: Relayed) {
        self.relayed[outcome as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Moves a gauge up or down.
    pub(crate) fn gauge(&self, name: &'static str, labels: String, delta: i64) {
        *self
            .gauges
            .lock()
            .expect("metrics lock")
            .entry((name, labels))
            .or_default() += delta;
    }

    /// Records how long a control-plane request took.
    pub(crate) fn latency(&self, operation: String, took: Duration) {
        let secs = took.as_secs_f64();
        let mut all = self.latency.lock().expect("metrics lock");
        let h = all.entry(operation).or_default();
        for (bound, count) in BUCKETS.iter().zip(h.counts.iter_mut()) {
            if secs <= *bound {
                *count += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    /// The Prometheus text exposition of everything so far.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        for (outcome, name) in Relayed::ALL {
            let value = self.relayed[outcome as usize].load(Ordering::Relaxed);
            let _ = writeln!(out, "# TYPE {name} counter\n{name} {value}");
        }
        let mut last = "";
        for ((name, labels), value) in self.counters.lock().expect("metrics lock").iter() {
            if *name != last {
                let _ = writeln!(out, "# TYPE {name} counter");
                last = name;
            }
            let _ = writeln!(out, "{}", sample(name, labels, *value as i64));
        }
        for ((name, labels), value) in self.gauges.lock().expect("metrics lock").iter() {
            if *name != last {
                let _ = writeln!(out, "# TYPE {name} gauge");
                last = name;
            }
            let _ = writeln!(out, "{}", sample(name, labels, *value));
        }
        let latency = self.latency.lock().expect("metrics lock");
        if !latency.is_empty() {
            let _ = writeln!(out, "# TYPE kvs_request_duration_seconds histogram");
        }
        for (operation, h) in latency.iter() {
            let name = "kvs_request_duration_seconds";
            for (bound, count) in BUCKETS.iter().zip(h.counts.iter()) {
                let _ = writeln!(
                    out,
                    "{name}_bucket{{operation=\"{operation}\",le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "{name}_bucket{{operation=\"{operation}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(out, "{name}_sum{{operation=\"{operation}\"}} {}", h.sum);
            let _ = writeln!(out, "{name}_count{{operation=\"{operation}\"}} {}", h.count);
        }
        out
    }
}

fn sample(name: &str, labels: &str, value: i64) -> String {
    if labels.is_empty() {
        format!("{name} {value}")
    } else {
        format!("{name}{{{labels}}} {value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_text_format() {
        let o = Observe::default();
        o.count("kvs_messages_relayed_total", r#"type="SDP_OFFER""#.into());
        o.count("kvs_messages_relayed_total", r#"type="SDP_OFFER""#.into());
        o.gauge("kvs_connections", r#"role="MASTER""#.into(), 1);
        o.relayed(Relayed::Held);
        o.latency("CreateSignalingChannel".into(), Duration::from_millis(2));
        let text = o.render();
        assert!(text.contains("# TYPE kvs_messages_relayed_total counter\nkvs_messages_relayed_total{type=\"SDP_OFFER\"} 2\n"), "{text}");
        assert!(
            text.contains("kvs_connections{role=\"MASTER\"} 1"),
            "{text}"
        );
        assert!(text.contains("\nkvs_messages_held_total 1\n"), "{text}");
        assert!(text.contains("kvs_request_duration_seconds_bucket{operation=\"CreateSignalingChannel\",le=\"0.0025\"} 1"), "{text}");
        assert!(text.contains("kvs_request_duration_seconds_bucket{operation=\"CreateSignalingChannel\",le=\"0.001\"} 0"), "{text}");
        assert!(
            text.contains(
                "kvs_request_duration_seconds_count{operation=\"CreateSignalingChannel\"} 1"
            ),
            "{text}"
        );
    }
}
