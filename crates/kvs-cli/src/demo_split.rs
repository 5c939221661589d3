//! `kvs-signaling demo --split`: split mode on one machine. This process is the network
//! coprocessor (the signaling client, the only holder of credentials) with the local service
//! and a viewer; the host is a second process, started by the coprocessor's wake hook when
//! the viewer's offer comes, joined to it by a pseudo-terminal pair paced at 921,600 baud.

use std::process::Stdio;

use anyhow::{Context, anyhow};
use kvs_client::{SignalingClient, State};
use kvs_proto::api::ChannelRole;
use kvs_split::coprocessor::{CoprocessorEvent, CoprocessorOptions, WakeHook};
use kvs_split::{Impairments, Paced};
use kvs_webrtc::PeerEvent;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::demo::{CHANNEL, Timeline, VIEWER_ID};

const BAUD: u32 = 921_600;

/// What the coprocessor's events look like in the timeline.
fn describe(event: &CoprocessorEvent) -> String {
    match event {
        CoprocessorEvent::Signaling(s) => format!("signaling {s}"),
        CoprocessorEvent::HostReady { flushed } => {
            format!("host READY: {flushed} held message(s) forwarded")
        }
        CoprocessorEvent::HostAway => "host away (link down)".into(),
        CoprocessorEvent::Held { message_type, held } => {
            format!(
                "held   {} for the sleeping host ({held} held)",
                message_type.as_str()
            )
        }
        CoprocessorEvent::WakeSent => "wake   the host".into(),
        CoprocessorEvent::Dropped {
            message_type,
            reason,
        } => format!("dropped {}: {reason}", message_type.as_str()),
        CoprocessorEvent::Forwarded(t) => format!("to host {}", t.as_str()),
        CoprocessorEvent::Relayed(t) => format!("from host {} -> viewer", t.as_str()),
        CoprocessorEvent::HostRestarted => "the host restarted".into(),
        CoprocessorEvent::Closed(e) => format!("signaling closed {e}"),
    }
}

/// A line of the host process's output, shortened for the timeline: messages by type and
/// size, ICE servers by count (never their credentials), other events as they are.
fn host_line(line: &str) -> String {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
        return line.to_owned();
    };
    let text = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_owned();
    match v.get("event").and_then(|e| e.as_str()) {
        Some("message") => format!(
            "recv   {} from {} ({} bytes)",
            text("type"),
            text("senderClientId"),
            v.get("payload").map_or(0, |p| p.to_string().len())
        ),
        Some("iceServers") => match v.get("iceServers").and_then(|s| s.as_array()) {
            Some(list) => format!("{} TURN server(s) from the coprocessor", list.len()),
            None => format!("ICE servers for {}: STUN {}", text("peer"), text("stun")),
        },
        Some("state") => format!("signaling {} (the coprocessor's)", text("state")),
        _ => line.chars().take(160).collect(),
    }
}

/// Runs the split demo within the demo's deadline.
pub async fn run(relay: bool) -> anyhow::Result<()> {
    tokio::time::timeout(crate::demo::DEADLINE, split(relay))
        .await
        .map_err(|_| {
            anyhow!(
                "timeout error: the split demo did not finish within {} s",
                crate::demo::DEADLINE.as_secs()
            )
        })?
}

async fn split(relay: bool) -> anyhow::Result<()> {
    let timeline = Timeline(tokio::time::Instant::now().into_std());
    let svc = crate::demo::service(timeline, true, None, false).await?;
    let (co_end, host_end) = kvs_split::transport::pty_pair()?;
    let host_path = [&co_end, &host_end]
        .iter()
        .find_map(|end| tokio_serial::SerialPort::name(*end))
        .ok_or_else(|| anyhow!("the pseudo-terminal pair has no device name"))?;
    timeline.log(
        "link",
        format_args!("pseudo-terminal pair, host end {host_path}, paced at {BAUD} baud"),
    );

    // The wake hook starts the host process.
    let (wake_tx, mut wake_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let wake = WakeHook::Callback(std::sync::Arc::new(move || {
        let _ = wake_tx.send(());
    }));
    let exe = std::env::current_exe().context("finding this program to start the host")?;
    let endpoint = svc.endpoint().to_owned();
    let mut host_args: Vec<String> = [
        "host",
        "--serial",
        &host_path,
        "--baud",
        "921600",
        "--line-rate",
        "--webrtc",
        "--endpoint-url",
        &endpoint,
        "--region",
        crate::LOCAL_REGION,
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    if relay {
        host_args.push("--relay".into());
    }
    let host_task = tokio::spawn(async move {
        wake_rx.recv().await?;
        timeline.log("host", "woken: starting the host process");
        let mut child = tokio::process::Command::new(exe)
            .args(&host_args)
            .env("RUST_LOG", "error")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .ok()?;
        let stdout = child.stdout.take()?;
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                timeline.log("host", host_line(&line));
            }
        });
        Some(child)
    });

    let options = crate::local::options(&svc, CHANNEL, ChannelRole::Master, "");
    let (session, signaling) = SignalingClient::<kvs_client::Master>::start(options)?;
    let (co_tx, mut co_events) = tokio::sync::mpsc::channel(256);
    let co_options = CoprocessorOptions::new(wake, crate::LOCAL_REGION, endpoint.clone());
    let co_io = Paced::new(co_end, BAUD, Impairments::default(), 0);
    let coprocessor = tokio::spawn(kvs_split::coprocessor::run(
        session.clone(),
        signaling,
        co_io,
        co_options,
        co_tx,
    ));
    loop {
        let event = co_events
            .recv()
            .await
            .ok_or_else(|| anyhow!("the coprocessor stopped"))?;
        timeline.log("co", describe(&event));
        if event == CoprocessorEvent::Signaling(State::Connected) {
            break;
        }
    }
    let printer = tokio::spawn(async move {
        while let Some(event) = co_events.recv().await {
            timeline.log("co", describe(&event));
        }
    });

    timeline.log("viewer", "starts (the host is asleep: not running)");
    let phases = crate::phases::viewer_session(&svc, CHANNEL, VIEWER_ID, relay, |e, _| {
        if !matches!(e, PeerEvent::VideoFrame { key: false, .. }) {
            timeline.event("viewer", e);
        }
    })
    .await;
    let host = host_task.await.ok().flatten();
    drop(host); // kills the host process
    drop(host_end);
    session.close().await;
    coprocessor.abort();
    printer.abort();
    svc.shutdown().await;
    let phases = phases?;
    crate::demo::summary(&phases, relay);
    println!(
        "ok: split mode: the viewer's offer woke the host, which answered through the coprocessor"
    );
    Ok(())
}
