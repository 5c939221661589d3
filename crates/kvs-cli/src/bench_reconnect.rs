//! Part (c) of `kvs-signaling bench`: warm against cold starts, and how soon a client is back
//! after the service returns.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use kvs_client::{ClientOptions, Events, HttpClient, SignalingClient};
use kvs_proto::api::ChannelRole;
use kvs_proto::client::{CachedEndpoints, Event, State};
use kvs_service::{ServiceConfig, ServiceHandle};

const CHANNEL: &str = "bench-reconnect";

fn options(svc: &ServiceHandle) -> ClientOptions {
    crate::local::options(svc, CHANNEL, ChannelRole::Master, "")
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
    let (client, mut events) = SignalingClient::start(options)?;
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
    client.disconnect().await;
    Ok((took, resolved))
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

/// Cold (describe, endpoint, ICE, upgrade; new HTTPS connections) against warm (endpoints from
/// the cache) starts, alternating; then service restarts.
pub async fn run(runs: usize, restarts: usize) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("kvs-bench-{}", std::process::id()));
    let config = ServiceConfig {
        listen: crate::any_loopback_port(),
        state_dir: Some(dir.clone()),
        ..ServiceConfig::default()
    };
    let svc = kvs_service::start(config.clone())
        .await
        .context("the service did not start")?;
    let (_, cached) = timed_start(options(&svc)).await?;
    let cached = cached.context("the first start resolves the endpoints")?;
    let pooled = HttpClient::new(&crate::local::tls_for(&svc))?;

    let (mut cold, mut warm_new_process, mut warm_pooled) = (vec![], vec![], vec![]);
    for _ in 0..runs {
        cold.push(timed_start(options(&svc)).await?.0);
        let mut opts = options(&svc);
        opts.config.cached_endpoints = Some(cached.clone());
        warm_new_process.push(timed_start(opts.clone()).await?.0);
        opts.http = Some(pooled.clone());
        warm_pooled.push(timed_start(opts).await?.0);
    }
    let cold = median(&mut cold);
    println!("\n(c) warm start against cold start (start → CONNECTED), median of {runs}:");
    println!(
        "  cold: describe + endpoint + ICE + upgrade, new HTTPS connection   {:>9.2} ms",
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

    // Restarts: the service goes away for 300 ms and comes back on the same port.
    let (client, mut events) = SignalingClient::start(options(&svc))?;
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
    client.disconnect().await;
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "\n(d) reconnect after the service returns (service accepting → CONNECTED), {restarts} restarts after 300 ms down:"
    );
    let mut within = 0;
    for (took, step) in &rows {
        let step = step.unwrap_or_default();
        // "Within one backoff step": the wait left of the retry pending when the service came
        // back can be at most that retry's delay, plus one connect.
        let ok = *took <= step + cold;
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
        cold.as_secs_f64() * 1e3
    );
    Ok(())
}
