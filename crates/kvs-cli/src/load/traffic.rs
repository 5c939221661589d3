//! Message traffic over "lanes": a write half whose messages come back on a read half (a
//! viewer's socket and its master's for the service, one socket for the echo floor). The same
//! code drives both, so the ratio compares the servers alone.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use kvs_proto::wire::{decode_payload, encode_payload};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

use super::peers::Ws;

/// One lane: where messages go in, and where they come out.
pub struct Lane {
    pub sink: SplitSink<Ws, Message>,
    pub stream: SplitStream<Ws>,
}

/// An ICE_CANDIDATE frame of about the size of a real one, stamped with `sent` (nanoseconds
/// since the run's origin).
fn frame(sent: u64) -> String {
    let candidate = format!(
        r#"{{"t":{sent},"candidate":"candidate:842163049 1 udp 1677729535 192.0.2.10 50123 typ srflx raddr 10.0.0.2 rport 50123 generation 0","sdpMid":"0"}}"#
    );
    format!(
        r#"{{"action":"ICE_CANDIDATE","messagePayload":"{}"}}"#,
        encode_payload(candidate.as_bytes())
    )
}

/// The stamp of a frame that came back (the service's or the echo's shape).
fn stamp(text: &str) -> Option<u64> {
    let start = text.find(r#""messagePayload":""#)? + r#""messagePayload":""#.len();
    let len = text[start..].find('"')?;
    let payload = decode_payload(&text[start..start + len]).ok()?;
    let payload = std::str::from_utf8(&payload).ok()?;
    let rest = payload.strip_prefix(r#"{"t":"#)?;
    rest[..rest.find(',')?].parse().ok()
}

/// Closed-loop throughput: each lane keeps `window` messages in flight for `duration` after
/// a `warmup`; returns messages delivered per second.
pub async fn throughput(
    lanes: Vec<Lane>,
    window: usize,
    warmup: Duration,
    duration: Duration,
) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let counting = Arc::new(AtomicBool::new(false));
    let delivered = Arc::new(AtomicU64::new(0));
    let origin = Instant::now();
    let mut tasks = Vec::new();
    for Lane {
        mut sink,
        mut stream,
    } in lanes
    {
        let credit = Arc::new(Semaphore::new(window));
        let (stop_w, credit_w) = (stop.clone(), credit.clone());
        tasks.push(tokio::spawn(async move {
            while !stop_w.load(Ordering::Relaxed) {
                let Ok(permit) = credit_w.acquire().await else {
                    break;
                };
                permit.forget();
                let sent = origin.elapsed().as_nanos() as u64;
                if sink.send(Message::text(frame(sent))).await.is_err() {
                    break;
                }
            }
        }));
        let (stop_r, counting, delivered) = (stop.clone(), counting.clone(), delivered.clone());
        tasks.push(tokio::spawn(async move {
            while !stop_r.load(Ordering::Relaxed) {
                match tokio::time::timeout(Duration::from_millis(200), stream.next()).await {
                    Ok(Some(Ok(Message::Text(_)))) => {
                        if counting.load(Ordering::Relaxed) {
                            delivered.fetch_add(1, Ordering::Relaxed);
                        }
                        credit.add_permits(1);
                    }
                    Ok(Some(Ok(_))) | Err(_) => {}
                    Ok(Some(Err(_)) | None) => break,
                }
            }
        }));
    }
    tokio::time::sleep(warmup).await;
    counting.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(duration).await;
    counting.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.abort();
    }
    delivered.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64()
}

/// Open-loop latency: `rate` messages a second spread over the lanes for `duration`; returns
/// every message's one-way time and how many were sent.
pub async fn latency(lanes: Vec<Lane>, rate: f64, duration: Duration) -> (Vec<Duration>, u64) {
    let origin = Instant::now();
    let per_lane = rate / lanes.len() as f64;
    let period = Duration::from_secs_f64(1.0 / per_lane);
    let sent = Arc::new(AtomicU64::new(0));
    let mut writers = Vec::new();
    let mut readers = Vec::new();
    for (
        i,
        Lane {
            mut sink,
            mut stream,
        },
    ) in lanes.into_iter().enumerate()
    {
        let sent = sent.clone();
        writers.push(tokio::spawn(async move {
            // Stagger the lanes so their sends do not line up.
            let offset = period.mul_f64(i as f64 / 64.0 % 1.0);
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + offset, period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            while origin.elapsed() < duration {
                tick.tick().await;
                let at = origin.elapsed().as_nanos() as u64;
                if sink.send(Message::text(frame(at))).await.is_err() {
                    break;
                }
                sent.fetch_add(1, Ordering::Relaxed);
            }
            sink
        }));
        readers.push(tokio::spawn(async move {
            let mut times = Vec::new();
            let deadline = duration + Duration::from_secs(2);
            while origin.elapsed() < deadline {
                let left = deadline.saturating_sub(origin.elapsed());
                match tokio::time::timeout(left, stream.next()).await {
                    Ok(Some(Ok(Message::Text(text)))) => {
                        if let Some(at) = stamp(text.as_str()) {
                            let now = origin.elapsed().as_nanos() as u64;
                            times.push(Duration::from_nanos(now.saturating_sub(at)));
                        }
                    }
                    Ok(Some(Ok(_))) => {}
                    _ => break,
                }
            }
            times
        }));
    }
    for w in writers {
        let _ = w.await;
    }
    let mut all = Vec::new();
    for r in readers {
        all.extend(r.await.unwrap_or_default());
    }
    (all, sent.load(Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_survive_both_shapes() {
        let f = frame(123_456);
        assert_eq!(stamp(&f), Some(123_456));
        let relayed = f.replace(
            r#"{"action":"ICE_CANDIDATE","#,
            r#"{"senderClientId":"v0","messageType":"ICE_CANDIDATE","#,
        );
        assert_eq!(stamp(&relayed), Some(123_456));
        assert_eq!(stamp("{}"), None);
    }
}
