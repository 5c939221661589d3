//! `kvs-signaling bench-split`: split mode's link over a real pseudo-terminal pair paced at
//! the line rate. Goodput of 10 KB SDP offers against the floor measured in the same run
//! (the same bytes written raw through the same paced pty, no protocol), on a clean line and
//! at bit error rates of 1e-5 and 1e-4; and the time from a viewer's offer reaching the
//! coprocessor to the host's answer leaving it, with the host awake and asleep.

use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use clap::Args;
use futures_util::StreamExt;
use kvs_client::{Event, MessageType, SignalingClient, SignalingSession, ToMaster, ViewerId};
use kvs_proto::api::ChannelRole;
use kvs_split::coprocessor::{CoprocessorEvent, CoprocessorOptions, WakeHook};
use kvs_split::{
    Host, Impairments, LinkConfig, LinkEvent, LinkHandle, Message, Paced, SignalingKind,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::stats::median;

/// Options of `bench-split`.
#[derive(Args, Debug)]
pub struct BenchSplitArgs {
    /// The emulated line rate.
    #[arg(long, default_value_t = 921_600)]
    baud: u32,
    /// 10 KB offers per goodput run.
    #[arg(long, default_value_t = 30)]
    offers: usize,
    /// Offer-to-answer rounds per host state.
    #[arg(long, default_value_t = 10)]
    rounds: usize,
}

const OFFER_BYTES: usize = 10_000;
/// The largest SDP the service relays (10,000 bytes once base64-encoded).
const MAX_KVS_OFFER: usize = 7_500;

fn offer(n: usize) -> Message {
    let mut payload = format!(r#"{{"type":"offer","sdp":"v=0 {n} "#).into_bytes();
    payload.resize(OFFER_BYTES, b'a');
    Message::Signaling {
        kind: SignalingKind::Offer,
        peer_client_id: format!("viewer-{n}"),
        correlation_id: String::new(),
        payload,
    }
}

/// The floor: `bytes` written raw through a paced pty and read on the other side.
async fn floor(baud: u32, bytes: usize) -> anyhow::Result<Duration> {
    let (a, mut b) = kvs_split::transport::pty_pair()?;
    let mut a = Paced::new(a, baud, Impairments::default(), 0);
    let data = vec![0x55u8; bytes];
    let start = Instant::now();
    let reader = tokio::spawn(async move {
        let mut buf = vec![0u8; 8192];
        let mut got = 0;
        while got < bytes {
            match b.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n,
            }
        }
        got
    });
    a.write_all(&data).await?;
    a.flush().await?;
    let got = reader.await?;
    if got < bytes {
        return Err(anyhow!("the floor read {got} of {bytes} bytes"));
    }
    Ok(start.elapsed())
}

/// `offers` 10 KB offers over the link on a paced pty with `ber`; returns the time until the
/// last one arrived and the retransmissions.
async fn link_run(baud: u32, offers: usize, ber: f64) -> anyhow::Result<(Duration, u64)> {
    let (a, b) = kvs_split::transport::pty_pair()?;
    let imp = Impairments {
        bit_error_rate: ber,
        ..Impairments::default()
    };
    let (sender, mut sender_events) =
        LinkHandle::start(Paced::new(a, baud, imp, 1), LinkConfig::default());
    let (_receiver, mut events) =
        LinkHandle::start(Paced::new(b, baud, imp, 2), LinkConfig::default());
    loop {
        match sender_events.recv().await {
            Some(LinkEvent::Up { .. }) => break,
            Some(_) => {}
            None => return Err(anyhow!("the link stopped")),
        }
    }
    let start = Instant::now();
    for n in 0..offers {
        sender.send(&offer(n)).await?;
    }
    let mut got = 0;
    while got < offers {
        match tokio::time::timeout(Duration::from_secs(120), events.recv()).await {
            Ok(Some(LinkEvent::Message(_))) => got += 1,
            Ok(Some(_)) => {}
            _ => return Err(anyhow!("only {got} of {offers} offers arrived")),
        }
    }
    let took = start.elapsed();
    Ok((took, sender.stats().await?.retransmissions))
}

pub async fn run(args: BenchSplitArgs) -> anyhow::Result<()> {
    let baud = args.baud;
    let payload = args.offers * OFFER_BYTES;
    let serialisation = Duration::from_secs_f64(payload as f64 * 10.0 / f64::from(baud));
    println!(
        "split-mode link over a pty pair paced at {baud} baud; {} offers of {OFFER_BYTES} bytes",
        args.offers
    );
    println!(
        "serialisation floor (bytes x 10 / baud): {:.1} ms",
        serialisation.as_secs_f64() * 1e3
    );
    let measured_floor = floor(baud, payload).await.context("the floor")?;
    println!(
        "measured floor (the same bytes raw through the paced pty): {:.1} ms",
        measured_floor.as_secs_f64() * 1e3
    );
    println!();
    println!(
        "{:<14} {:>10} {:>12} {:>16} {:>16}",
        "bit errors", "time", "retransmits", "goodput/floor", "goodput/line"
    );
    for (label, ber) in [("none", 0.0), ("1e-5", 1e-5), ("1e-4", 1e-4)] {
        let (took, retransmits) = link_run(baud, args.offers, ber).await?;
        println!(
            "{label:<14} {:>8.1} ms {retransmits:>12} {:>15.1}% {:>15.1}%",
            took.as_secs_f64() * 1e3,
            100.0 * measured_floor.as_secs_f64() / took.as_secs_f64(),
            100.0 * serialisation.as_secs_f64() / took.as_secs_f64(),
        );
    }
    println!();
    let (mut awake, mut asleep) = offer_to_answer(baud, args.rounds).await?;
    let floor_one = Duration::from_secs_f64((MAX_KVS_OFFER as f64) * 10.0 / f64::from(baud));
    println!(
        "a {MAX_KVS_OFFER}-byte offer reaching the coprocessor -> the host's answer leaving it ({} rounds, median; the offer's serialisation: {:.1} ms):",
        args.rounds,
        floor_one.as_secs_f64() * 1e3
    );
    println!(
        "  host awake   {:>8.1} ms",
        median(&mut awake).as_secs_f64() * 1e3
    );
    println!(
        "  host asleep  {:>8.1} ms  (woken by the offer; started in process, so process start-up is not included)",
        median(&mut asleep).as_secs_f64() * 1e3
    );
    Ok(())
}

/// Rounds of: a viewer sends a 10 KB offer; the host (awake, or started by the wake hook)
/// answers at once. Time from the coprocessor holding or forwarding the offer to relaying the
/// answer.
async fn offer_to_answer(
    baud: u32,
    rounds: usize,
) -> anyhow::Result<(Vec<Duration>, Vec<Duration>)> {
    let svc = kvs_service::start(kvs_service::ServiceConfig {
        listen: crate::any_loopback_port(),
        limits: None,
        turn: None,
        ..Default::default()
    })
    .await?;
    let mut awake = Vec::new();
    let mut asleep = Vec::new();
    for round in 0..rounds * 2 {
        let sleeping = round % 2 == 1;
        let channel = format!("bench-split-{round}");
        let (co_end, host_end) = kvs_split::transport::pty_pair()?;
        let (wake_tx, mut wake_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let wake = WakeHook::Callback(std::sync::Arc::new(move || {
            let _ = wake_tx.send(());
        }));
        let options = CoprocessorOptions::new(wake, crate::LOCAL_REGION, svc.endpoint());
        let (session, signaling) = SignalingClient::<kvs_client::Master>::start(
            crate::local::options(&svc, &channel, ChannelRole::Master, ""),
        )?;
        session.connected().await?;
        let (tx, mut co_events) = tokio::sync::mpsc::channel(256);
        let co = tokio::spawn(kvs_split::coprocessor::run(
            session.clone(),
            signaling,
            Paced::new(co_end, baud, Impairments::default(), 3),
            options,
            tx,
        ));
        let host_io = Paced::new(host_end, baud, Impairments::default(), 4);
        let start_host = |io| {
            let (host, mut events) = Host::start(io, LinkConfig::default());
            tokio::spawn(async move {
                while let Some(event) = events.next().await {
                    if let Event::Message(m) = event
                        && m.message_type == MessageType::SdpOffer
                        && let Some(to) = m.sender_client_id.and_then(|id| ViewerId::new(id).ok())
                    {
                        let _ = host
                            .send_answer(&to, br#"{"type":"answer","sdp":"v=0"}"#.to_vec())
                            .await;
                    }
                }
            })
        };
        let mut host_task = None;
        let mut pending_io = Some(host_io);
        if !sleeping {
            host_task = pending_io.take().map(start_host);
            loop {
                match co_events.recv().await {
                    Some(CoprocessorEvent::HostReady { .. }) => break,
                    Some(_) => {}
                    None => return Err(anyhow!("the coprocessor stopped")),
                }
            }
        }
        let (viewer, _viewer_events) = SignalingClient::<kvs_client::Viewer>::start(
            crate::local::options(&svc, &channel, ChannelRole::Viewer, "v1"),
        )?;
        viewer.connected().await?;
        // The largest offer KVS carries: 10,000 bytes of base64.
        let mut sdp = br#"{"type":"offer","sdp":"v=0 "#.to_vec();
        sdp.resize(MAX_KVS_OFFER - 3, b'a');
        sdp.extend_from_slice(br#""}"#);
        viewer.send_offer(&ToMaster, sdp).await?;
        let mut offered_at = None;
        let took = loop {
            tokio::select! {
                event = co_events.recv() => match event {
                    Some(CoprocessorEvent::Held { message_type: MessageType::SdpOffer, .. }
                        | CoprocessorEvent::Forwarded(MessageType::SdpOffer)) => offered_at = Some(Instant::now()),
                    Some(CoprocessorEvent::Relayed(MessageType::SdpAnswer)) => {
                        break offered_at.map(|t| t.elapsed()).ok_or_else(|| anyhow!("an answer before the offer"))?;
                    }
                    Some(_) => {}
                    None => return Err(anyhow!("the coprocessor stopped")),
                },
                Some(()) = wake_rx.recv() => {
                    if let Some(io) = pending_io.take() {
                        host_task = Some(start_host(io));
                    }
                }
            }
        };
        if sleeping {
            asleep.push(took)
        } else {
            awake.push(took)
        }
        viewer.close().await;
        session.close().await;
        co.abort();
        if let Some(t) = host_task {
            t.abort();
        }
    }
    svc.shutdown().await;
    Ok((awake, asleep))
}
