//! `kvs-signaling load`: the service under load, against a floor measured in the same run.
//!
//! The service (`serve`) and the floor (a bare tokio-tungstenite echo server on the same TLS
//! stack) run as child processes; this process opens the connections and drives the traffic.
//! It measures idle connections held and the memory each costs the server, closed-loop relay
//! throughput, and one-way latency at half the service's throughput, and prints each next to
//! the floor's with the ratio.

mod child;
pub mod echo;
mod peers;
mod traffic;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use child::Server;
use peers::Ws;
use traffic::Lane;

use crate::stats::percentile;

/// Options of the load generator.
#[derive(Args, Debug)]
pub struct LoadArgs {
    /// Idle WebSocket connections to hold (capped by the open-file limit).
    #[arg(long, default_value_t = 50_000)]
    connections: usize,
    /// Sender/receiver pairs for the throughput and latency runs.
    #[arg(long, default_value_t = 64)]
    lanes: usize,
    /// Messages each lane keeps in flight in the throughput run.
    #[arg(long, default_value_t = 32)]
    window: usize,
    /// Seconds each throughput and latency run measures.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Connections opened at once while filling up.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
}

/// How many connections this process may open: the open-file limit (raised to its hard
/// limit) minus a margin, per process, as each server is one process too.
fn connection_budget(wanted: usize) -> (usize, u64) {
    let limit = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
    let budget = usize::try_from(limit.saturating_sub(500)).unwrap_or(usize::MAX);
    (wanted.min(budget), limit)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Opens `count` connections with `url_of(i)`; fails on the first refusal.
async fn open_many(
    count: usize,
    concurrency: usize,
    server: std::net::SocketAddr,
    tls: &Arc<rustls::ClientConfig>,
    url_of: impl Fn(usize) -> anyhow::Result<String>,
) -> anyhow::Result<Vec<Ws>> {
    let mut open = Vec::with_capacity(count);
    let mut pending = FuturesUnordered::new();
    for i in 0..count {
        let url = url_of(i)?;
        let tls = tls.clone();
        pending.push(async move { peers::open(&url, server, peers::source(i), &tls).await });
        if pending.len() >= concurrency {
            open.push(
                pending
                    .next()
                    .await
                    .expect("non-empty")
                    .with_context(|| format!("connection {} of {count} failed", open.len() + 1))?,
            );
        }
    }
    while let Some(ws) = pending.next().await {
        open.push(ws.context("a connection failed")?);
    }
    Ok(open)
}

/// Memory the server gained per connection while `count` idle connections are open.
async fn idle_cost(
    server: &Server,
    count: usize,
    concurrency: usize,
    tls: &Arc<rustls::ClientConfig>,
    url_of: impl Fn(usize) -> anyhow::Result<String>,
) -> anyhow::Result<(usize, f64, Duration)> {
    let addr = peers::server_addr(&server.endpoint)?;
    let before = server.rss()?;
    let started = std::time::Instant::now();
    let conns = open_many(count, concurrency, addr, tls, url_of).await?;
    let took = started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = server.rss()?;
    let held = conns.len();
    drop(conns);
    tokio::time::sleep(Duration::from_secs(2)).await; // let the server see the closes
    Ok((
        held,
        after.saturating_sub(before) as f64 / held as f64,
        took,
    ))
}

/// Creates `count` channels named `load-N` (10 concurrently); returns their ARNs.
async fn channels(server: &Server, count: usize) -> anyhow::Result<Vec<String>> {
    let tls = peers::client_tls(&server.ca)?;
    let http = crate::local::bare_reqwest(&tls)?;
    let mut arns = vec![String::new(); count];
    let mut pending = FuturesUnordered::new();
    for i in 0..count {
        let (http, endpoint) = (&http, &server.endpoint);
        pending.push(async move {
            (
                i,
                peers::create_channel(http, endpoint, &format!("load-{i}")).await,
            )
        });
        if pending.len() >= 10 {
            let (j, arn) = pending.next().await.expect("non-empty");
            arns[j] = arn?;
        }
    }
    while let Some((j, arn)) = pending.next().await {
        arns[j] = arn?;
    }
    Ok(arns)
}

/// The service's lanes: viewer `v0` of channel `i` sends, its master receives.
async fn service_lanes(server: &Server, arns: &[String], n: usize) -> anyhow::Result<Vec<Lane>> {
    let tls = peers::client_tls(&server.ca)?;
    let addr = peers::server_addr(&server.endpoint)?;
    let mut lanes = Vec::with_capacity(n);
    for (i, arn) in arns.iter().take(n).enumerate() {
        let master = peers::open(
            &peers::presigned(&server.endpoint, arn, None)?,
            addr,
            peers::source(i),
            &tls,
        )
        .await?;
        let viewer = peers::open(
            &peers::presigned(&server.endpoint, arn, Some("v0"))?,
            addr,
            peers::source(i),
            &tls,
        )
        .await?;
        let (sink, _) = viewer.split();
        let (_, stream) = master.split();
        lanes.push(Lane { sink, stream });
    }
    Ok(lanes)
}

/// The floor's lanes: each echo connection sends and receives.
async fn floor_lanes(server: &Server, n: usize) -> anyhow::Result<Vec<Lane>> {
    let tls = peers::client_tls(&server.ca)?;
    let addr = peers::server_addr(&server.endpoint)?;
    let conns = open_many(n, n, addr, &tls, |_| Ok(format!("{}/", server.endpoint))).await?;
    Ok(conns
        .into_iter()
        .map(|ws| {
            let (sink, stream) = ws.split();
            Lane { sink, stream }
        })
        .collect())
}

fn verdict(ok: bool) -> &'static str {
    if ok { "meets goal" } else { "MISSES goal" }
}

pub async fn run(args: LoadArgs) -> anyhow::Result<()> {
    if args.lanes == 0 || args.window == 0 || args.seconds == 0 {
        bail!("--lanes, --window and --seconds must be at least 1");
    }
    let (budget, nofile) = connection_budget(args.connections);
    let state = std::env::temp_dir().join(format!("kvs-load-{}", std::process::id()));
    let service = Server::spawn(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--state-dir",
        state.to_str().context("temp dir is not UTF-8")?,
        "--no-rate-limits",
        "--no-turn",
        "--idle-timeout",
        "3600",
    ])
    .await?;
    let floor = Server::spawn(&["load-echo-server"]).await?;
    println!(
        "kvs-signaling load: service {} and floor {} (bare tokio-tungstenite echo, same TLS), {} cores",
        service.endpoint,
        floor.endpoint,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    // (a) idle connections: one master and ten viewers per channel.
    let per_channel = 11;
    let channel_count = budget.div_ceil(per_channel).max(2 * args.lanes);
    let arns = channels(&service, channel_count).await?;
    let service_tls = peers::client_tls(&service.ca)?;
    println!();
    println!(
        "(a) idle TLS WebSocket connections held (goal ≥ 50,000; ≤ 16 KiB each above baseline):"
    );
    if budget < args.connections {
        println!(
            "  capped at {budget} by the open-file limit ({nofile}; the hard limit cannot be raised here): \
             each server is one process and holds one descriptor per connection"
        );
    }
    let (held, per_conn, took) = idle_cost(&service, budget, args.concurrency, &service_tls, |i| {
        let arn = &arns[i / per_channel];
        match i % per_channel {
            0 => peers::presigned(&service.endpoint, arn, None),
            v => peers::presigned(&service.endpoint, arn, Some(&format!("v{v}"))),
        }
    })
    .await?;
    let floor_tls = peers::client_tls(&floor.ca)?;
    let (floor_held, floor_per_conn, _) =
        idle_cost(&floor, budget, args.concurrency, &floor_tls, |_| {
            Ok(format!("{}/", floor.endpoint))
        })
        .await?;
    println!(
        "  service: {held} held (opened in {:.1} s, {:.0}/s), {:.1} KiB each   floor: {floor_held} held, {:.1} KiB each   ratio {:.2}  ({} ≤ 16 KiB; {} ≥ 50,000)",
        took.as_secs_f64(),
        held as f64 / took.as_secs_f64(),
        per_conn / 1024.0,
        floor_per_conn / 1024.0,
        per_conn / floor_per_conn,
        verdict(per_conn <= 16.0 * 1024.0),
        verdict(held >= 50_000),
    );
    println!(
        "  resident memory now: service {:.0} MiB, floor {:.0} MiB, generator {:.0} MiB",
        mib(service.rss()?),
        mib(floor.rss()?),
        mib(child::own_rss()?)
    );

    // (b) closed-loop throughput.
    let warmup = Duration::from_secs(1);
    let duration = Duration::from_secs(args.seconds);
    let ours = traffic::throughput(
        service_lanes(&service, &arns, args.lanes).await?,
        args.window,
        warmup,
        duration,
    )
    .await;
    let base = traffic::throughput(
        floor_lanes(&floor, args.lanes).await?,
        args.window,
        warmup,
        duration,
    )
    .await;
    println!();
    println!(
        "(b) relay throughput, {} lanes × {} in flight, {} s (goal ≥ 50,000 messages/s):",
        args.lanes, args.window, args.seconds
    );
    println!(
        "  service {ours:.0} messages/s   floor {base:.0} messages/s   ratio {:.2}  ({})",
        ours / base,
        verdict(ours >= 50_000.0)
    );

    // (c) latency at half the service's throughput, the same rate for both.
    let rate = ours / 2.0;
    let (mut lat, sent) = traffic::latency(
        service_lanes(&service, &arns[args.lanes..], args.lanes).await?,
        rate,
        duration,
    )
    .await;
    let (mut floor_lat, floor_sent) =
        traffic::latency(floor_lanes(&floor, args.lanes).await?, rate, duration).await;
    println!();
    println!(
        "(c) one-way latency at {rate:.0} messages/s (half the service's throughput), {} s:",
        args.seconds
    );
    for (label, p) in [("p50", 50), ("p99", 99)] {
        let (a, b) = (percentile(&mut lat, p), percentile(&mut floor_lat, p));
        println!(
            "  {label}  service {:>8.1} µs   floor {:>8.1} µs   ratio {:.2}",
            a.as_secs_f64() * 1e6,
            b.as_secs_f64() * 1e6,
            a.as_secs_f64() / b.as_secs_f64()
        );
    }
    println!(
        "  delivered {}/{} (service), {}/{} (floor)",
        lat.len(),
        sent,
        floor_lat.len(),
        floor_sent
    );
    let _ = std::fs::remove_dir_all(&state);
    let _ = std::fs::remove_file(&floor.ca);
    Ok(())
}
