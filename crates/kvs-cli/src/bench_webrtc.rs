//! `kvs-signaling bench-webrtc`: a viewer's time from start to its first data-channel byte
//! and first video frame, direct and relayed, by phase; the master's memory per viewer; and
//! how much of ten viewers' start is the service's pacing. The service keeps its quotas on,
//! as the real one does; the floor and the no-quota comparison use a second service.

use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use clap::Args;
use futures_util::future::try_join_all;
use kvs_client::SignalingClient;
use kvs_proto::api::ChannelRole;
use kvs_service::{EXAMPLE_ACCESS_KEY_ID, EXAMPLE_SECRET_ACCESS_KEY, ServiceConfig, ServiceHandle};
use kvs_webrtc::PeerEvent;
use kvs_webrtc::master::Master;
use kvs_webrtc::viewer::Viewer;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::bench::{Setup, client_connect, floor_connect_timed};
use crate::phases::{Phases, peer_options, viewer_session};
use crate::stats::{median, percentile};

const CHANNEL: &str = "bench-webrtc";

/// Options of `bench-webrtc`.
#[derive(Args, Debug)]
pub struct BenchWebrtcArgs {
    /// Viewer sessions measured per path (direct, relayed).
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Pause between sessions, so sequential viewers stay under the channel's 3 connects
    /// per second (the 10-viewer run measures that pacing on purpose).
    #[arg(long, default_value_t = 400)]
    pause_ms: u64,
}

fn ms(d: Duration) -> String {
    format!("{:>8.1} ms", d.as_secs_f64() * 1e3)
}

async fn start(quotas: bool) -> anyhow::Result<ServiceHandle> {
    let mut config = ServiceConfig {
        listen: crate::any_loopback_port(),
        ..ServiceConfig::default()
    };
    if !quotas {
        config.limits = None;
    }
    kvs_service::start(config)
        .await
        .context("the local service did not start")
}

/// A CONNECTED master on `svc`'s `channel` sending the test pattern; its events are drained.
async fn master(
    svc: &ServiceHandle,
    channel: &str,
) -> anyhow::Result<(Master, SignalingClient<kvs_client::Master>)> {
    let (master, session, mut events) = crate::phases::master(svc, channel, false, None)?;
    session.connected().await?;
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    Ok((master, session))
}

/// Runs the benchmark.
pub async fn run(args: BenchWebrtcArgs) -> anyhow::Result<()> {
    if args.runs < 2 {
        bail!("use --runs ≥ 2");
    }
    let svc = start(true).await?;
    let bare = start(false).await?;
    println!(
        "kvs-signaling bench-webrtc: in-process service at {} (quotas on), {} runs per path, {} cores",
        svc.endpoint(),
        args.runs,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    // The floor: the bare libraries' connect (Describe, endpoints, ICE config, upgrade).
    let floor_setup = Setup {
        tls: crate::local::tls_for(&bare),
        svc: bare,
    };
    client_connect(&floor_setup, None).await?; // creates the floor's channel
    floor_connect_timed(&floor_setup, None).await?;
    let mut floor = Vec::new();
    for _ in 0..args.runs {
        floor.push(floor_connect_timed(&floor_setup, None).await?);
    }
    let floor = median(&mut floor);

    let (direct_master, direct_session) = master(&svc, CHANNEL).await?;
    let mut signaling_medians = Vec::new();
    for relay in [false, true] {
        let mut all: Vec<Phases> = Vec::new();
        for _ in 0..args.runs {
            // One client id for every run: each offer replaces the last viewer's peer
            // connection at once, as a reconnecting viewer's does (a viewer that just leaves
            // is noticed only when ICE consent fails, seconds later).
            all.push(viewer_session(&svc, CHANNEL, "bench-viewer", relay, |_, _| {}).await?);
            tokio::time::sleep(Duration::from_millis(args.pause_ms)).await;
        }
        let path = if relay {
            "relayed (relay-only viewer, TURN on loopback)"
        } else {
            "direct (host pair)"
        };
        println!(
            "\n{path}: time since the viewer started, median / p95 of {}",
            all.len()
        );
        for n in 0..6 {
            let mut v: Vec<Duration> = all.iter().map(|p| p.rows()[n].1).collect();
            println!(
                "  {:<24} {} / {}",
                all[0].rows()[n].0,
                ms(median(&mut v)),
                ms(percentile(&mut v, 95))
            );
        }
        let mut s: Vec<Duration> = all.iter().map(|p| p.signaling).collect();
        let mut b: Vec<Duration> = all.iter().map(|p| p.first_byte).collect();
        signaling_medians.push((median(&mut s), median(&mut b)));
    }
    direct_master.stop().await;
    direct_session.close().await;

    println!(
        "\nsignaling share (direct): signaling CONNECTED {} of {} to the first byte ({:.0} %); the bare libraries' connect (floor) {}, ratio {:.2}",
        ms(signaling_medians[0].0),
        ms(signaling_medians[0].1),
        100.0 * signaling_medians[0].0.as_secs_f64() / signaling_medians[0].1.as_secs_f64(),
        ms(floor),
        signaling_medians[0].0.as_secs_f64() / floor.as_secs_f64()
    );

    let paced = ten_viewers(&svc, "bench-ten").await?;
    let unpaced = ten_viewers(&floor_setup.svc, "bench-ten").await?;
    println!(
        "\n10 viewers at once, until each has its first byte and frame: quotas on {}, quotas off {}; pacing {} ({:.0} %)",
        ms(paced),
        ms(unpaced),
        ms(paced.saturating_sub(unpaced)),
        100.0 * paced.saturating_sub(unpaced).as_secs_f64() / paced.as_secs_f64()
    );

    memory(&floor_setup.svc).await?;
    svc.shutdown().await;
    floor_setup.svc.shutdown().await;
    Ok(())
}

/// Ten viewers started together on a fresh master; the time until the last has its first
/// data-channel byte and video frame.
async fn ten_viewers(svc: &ServiceHandle, channel: &str) -> anyhow::Result<Duration> {
    let (master, session) = master(svc, channel).await?;
    let start = Instant::now();
    let ids: Vec<String> = (0..10).map(|i| format!("ten-{i}")).collect();
    try_join_all(
        ids.iter()
            .map(|id| viewer_session(svc, channel, id, false, |_, _| {})),
    )
    .await?;
    let took = start.elapsed();
    master.stop().await;
    session.close().await;
    Ok(took)
}

/// A viewer held open until its first video frame and data-channel byte.
async fn held_viewer(svc: &ServiceHandle, channel: &str, id: &str) -> anyhow::Result<Viewer> {
    let options = crate::local::options(svc, channel, ChannelRole::Viewer, id);
    let (session, signaling) = SignalingClient::<kvs_client::Viewer>::start(options)?;
    let (viewer, mut events) = Viewer::start(session, signaling, peer_options(svc, false));
    let (mut frame, mut byte) = (false, false);
    while !(frame && byte) {
        match events
            .recv()
            .await
            .ok_or_else(|| anyhow!("viewer {id} stopped"))?
        {
            PeerEvent::DataChannelOpen { .. } => viewer.send("x"),
            PeerEvent::Data { .. } => byte = true,
            PeerEvent::VideoFrame { .. } => frame = true,
            PeerEvent::Closed { reason, .. } => bail!("viewer {id} closed: {reason}"),
            _ => {}
        }
    }
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    Ok(viewer)
}

fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow!("no VmRSS for {pid}"))
}

/// The master as its own process (`master --webrtc`, test pattern): resident memory with
/// no viewer, one and ten.
async fn memory(svc: &ServiceHandle) -> anyhow::Result<()> {
    let ca = std::env::temp_dir().join(format!("kvs-bench-webrtc-ca-{}.pem", std::process::id()));
    std::fs::write(&ca, svc.ca_pem().unwrap_or_default())?;
    let exe = std::env::current_exe().context("cannot find our own executable")?;
    let mut child = Command::new(exe)
        .args([
            "master",
            "--webrtc",
            "--channel",
            "bench-memory",
            "--region",
            crate::LOCAL_REGION,
        ])
        .arg("--endpoint-url")
        .arg(svc.endpoint())
        .arg("--ca-bundle")
        .arg(&ca)
        .env("AWS_ACCESS_KEY_ID", EXAMPLE_ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", EXAMPLE_SECRET_ACCESS_KEY)
        .env_remove("AWS_SESSION_TOKEN")
        .env("RUST_LOG", "error")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start the master process")?;
    let pid = child.id().context("no pid")?;
    let mut lines = BufReader::new(child.stdout.take().context("no stdout")?).lines();
    while let Some(line) = lines.next_line().await? {
        if line.contains(r#""state":"CONNECTED""#) {
            break;
        }
    }
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let settle = || tokio::time::sleep(Duration::from_millis(500));
    settle().await;
    let idle = rss_kib(pid)?;
    let mut viewers = vec![held_viewer(svc, "bench-memory", "mem-0").await?];
    settle().await;
    let one = rss_kib(pid)?;
    for i in 1..10 {
        viewers.push(held_viewer(svc, "bench-memory", &format!("mem-{i}")).await?);
    }
    settle().await;
    let ten = rss_kib(pid)?;
    println!(
        "\nmaster process memory (RSS, test pattern 320x240 per viewer): no viewer {idle} KiB, 1 viewer {one} KiB (+{} KiB), 10 viewers {ten} KiB (+{} KiB per viewer)",
        one.saturating_sub(idle),
        ten.saturating_sub(idle) / 10
    );
    for viewer in viewers {
        viewer.stop().await;
    }
    let _ = child.kill().await;
    let _ = std::fs::remove_file(&ca);
    Ok(())
}
