//! Part (c) of `kvs-signaling bench`: warm against cold starts, and how soon a client is back
//! after the service returns.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use kvs_client::{ClientOptions, Events, HttpClient, Master, SignalingClient};
use kvs_proto::api::ChannelRole;
use kvs_proto::client::{CachedEndpoints, Event, State};
use kvs_service::{ServiceConfig, ServiceHandle};

use crate::stats::median;

const CHANNEL: &str = "bench-reconnect";

fn options(svc: &ServiceHandle) -> ClientOptions {
    crate::local::options(svc, CHANNEL, ChannelRole::Master, "")
}

/// Options that reach the service through `proxy` (same TLS names, another port).
fn options_via(svc: &ServiceHandle, proxy: std::net::SocketAddr) -> ClientOptions {
    let mut opts = options(svc);
    opts.config.endpoint = format!("https://{proxy}");
    opts
}

/// Waits for CONNECTED; returns the delay of the last retry announced before it.
async fn connected(events: &mut Events) -> anyhow::Result<Option<Duration>> {
    let mut last_delay = None;
    loop {
        match events.recv().await {
            Some(Event::StateChanged(State::Connected)) => return Ok(last_delay),
            Some(Event::Retrying { delay, .. }) => last_delay = Some(delay),
            Some(Event::EndpointsResolved(_)) | Some(_) => {}
            None => bail!("the client stopped"),
        }
    }
}

async fn timed_start(
    options: ClientOptions,
) -> anyhow::Result<(Duration, Option<CachedEndpoints>)> {
    let start = Instant::now();
    let (client, mut events) = SignalingClient::<Master>::start(options)?;
    let mut resolved = None;
    loop {
        match events.recv().await {
            Some(Event::StateChanged(State::Connected)) => break,
            Some(Event::EndpointsResolved(entry)) => resolved = Some(entry),
            Some(Event::Closed(err)) => bail!("closed: {err:?}"),
            Some(_) => {}
            None => bail!("the client stopped"),
        }
    }
    let took = start.elapsed();
    client.close().await;
    Ok((took, resolved))
}

/// Cold (describe, endpoint, ICE, upgrade; new HTTPS connections) against warm (endpoints from
/// the cache) starts, alternating; then service restarts.
pub async fn run(runs: usize, restarts: usize) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("kvs-bench-{}", std::process::id()));
    let config = ServiceConfig {
        listen: crate::any_loopback_port(),
        state_dir: Some(dir.clone()),
        limits: None, // back-to-back starts on one channel, faster than KVS's 3 connects/s
        ..ServiceConfig::default()
    };
    let svc = kvs_service::start(config.clone())
        .await
        .context("the service did not start")?;
    // Straight over loopback (no round-trip time at all), then through a proxy adding 20 ms.
    for rtt_ms in [0u64, 20] {
        let proxy = match rtt_ms {
            0 => None,
            ms => Some(
                crate::latency_proxy::start(svc.local_addr(), Duration::from_millis(ms / 2))
                    .await?,
            ),
        };
        let opts = || match proxy {
            Some(proxy) => options_via(&svc, proxy),
            None => options(&svc),
        };
        let (_, cached) = timed_start(opts()).await?;
        let cached = cached.context("the first start resolves the endpoints")?;
        let pooled = HttpClient::new(&crate::local::tls_for(&svc))?;
        let runs = if rtt_ms == 0 { runs } else { runs.min(20) };
        let (mut cold, mut warm_new_process, mut warm_pooled) = (vec![], vec![], vec![]);
        for _ in 0..runs {
            cold.push(timed_start(opts()).await?.0);
            let mut warm = opts();
            warm.config.cached_endpoints = Some(cached.clone());
            warm_new_process.push(timed_start(warm.clone()).await?.0);
            warm.http = Some(pooled.clone());
            warm_pooled.push(timed_start(warm).await?.0);
        }
        let cold = median(&mut cold);
        let path = match proxy {
            None => "straight over loopback".to_owned(),
            Some(_) => format!("through a proxy adding {rtt_ms} ms RTT"),
        };
        println!(
            "\n(c) warm start against cold start (start → CONNECTED), {path}, median of {runs}:"
        );
        println!(
            "  cold: describe + endpoint + ICE ∥ upgrade, new HTTPS connection  {:>9.2} ms",
            cold.as_secs_f64() * 1e3
        );
        for (label, mut v) in [
            (
                "warm: endpoints from the cache file, new HTTPS connection",
                warm_new_process,
            ),
            (
                "warm: endpoints cached, pooled HTTPS connection          ",
                warm_pooled,
            ),
        ] {
            let m = median(&mut v);
            let ratio = m.as_secs_f64() / cold.as_secs_f64();
            let verdict = if ratio <= 0.5 { "meets" } else { "MISSES" };
            println!(
                "  {label} {:>9.2} ms   ratio {ratio:.2} ({verdict} goal ≤ 0.5)",
                m.as_secs_f64() * 1e3
            );
        }
    }
    let cold_floor = {
        let mut v = Vec::new();
        for _ in 0..5 {
            v.push(timed_start(options(&svc)).await?.0);
        }
        median(&mut v)
    };

    // Restarts: the service goes away for 300 ms and comes back on the same port.
    let (client, mut events) = SignalingClient::<Master>::start(options(&svc))?;
    connected(&mut events).await?;
    let addr = svc.local_addr();
    svc.shutdown().await;
    let mut rows = Vec::new();
    for _ in 0..restarts {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let svc = kvs_service::start(ServiceConfig {
            listen: addr,
            ..config.clone()
        })
        .await?;
        let back = Instant::now();
        let last_step = connected(&mut events).await?;
        rows.push((back.elapsed(), last_step));
        svc.shutdown().await;
    }
    client.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "\n(d) reconnect after the service returns (service accepting → CONNECTED), {restarts} restarts after 300 ms down:"
    );
    let mut within = 0;
    for (took, step) in &rows {
        let step = step.unwrap_or_default();
        // "Within one backoff step": the wait left of the retry pending when the service came
        // back can be at most that retry's delay, plus one connect.
        let ok = *took <= step + cold_floor;
        within += usize::from(ok);
        println!(
            "  reconnected in {:>8.1} ms; pending backoff step {:>8.1} ms{}",
            took.as_secs_f64() * 1e3,
            step.as_secs_f64() * 1e3,
            if ok { "" } else { "  (over)" }
        );
    }
    println!(
        "  {within}/{} within one backoff step plus one cold connect ({:.2} ms)",
        rows.len(),
        cold_floor.as_secs_f64() * 1e3
    );
    Ok(())
}
