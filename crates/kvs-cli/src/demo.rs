//! `kvs-signaling demo`: the whole signaling flow on one machine, no AWS account needed.

use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use kvs_client::{
    Action, ClientOptions, Events, Master, SignalingClient, ToMaster, Viewer, ViewerId,
};
use kvs_proto::api::ChannelRole;
use kvs_proto::client::{Event, State};
use kvs_proto::wire::MessageType;
use kvs_service::{ServiceConfig, ServiceHandle};

const CHANNEL: &str = "demo-channel";
const VIEWER_ID: &str = "demo-viewer";
const DEADLINE: Duration = Duration::from_secs(30);

const OFFER: &str = r#"{"type":"offer","sdp":"v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:vwr1\r\na=ice-pwd:viewerpasswordviewerpass\r\na=fingerprint:sha-256 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF\r\na=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\n"}"#;
const ANSWER: &str = r#"{"type":"answer","sdp":"v=0\r\no=- 2890844526 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:mst1\r\na=ice-pwd:masterpasswordmasterpass\r\na=fingerprint:sha-256 19:E5:7C:AB:4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:4A:AD:B9:B1:3F:82:18:3B\r\na=setup:active\r\na=mid:0\r\na=sctp-port:5000\r\n"}"#;

fn candidate(port: u16, foundation: u32) -> String {
    format!(
        r#"{{"candidate":"candidate:{foundation} 1 udp 2122260223 127.0.0.1 {port} typ host generation 0","sdpMid":"0","sdpMLineIndex":0}}"#
    )
}

/// Prints one timeline line per happening, in milliseconds since the demo started.
#[derive(Clone, Copy)]
struct Timeline(Instant);

impl Timeline {
    fn log(&self, who: &str, what: impl std::fmt::Display) {
        let ms = self.0.elapsed().as_secs_f64() * 1000.0;
        println!("{ms:>9.1} ms  {who:<7} {what}");
    }

    fn event(&self, who: &str, event: &Event) {
        match event {
            Event::StateChanged(s) => self.log(who, format_args!("state  {s}")),
            Event::IceServers(list) => {
                self.log(who, format_args!("ice    {} TURN server(s)", list.len()))
            }
            Event::Message(m) => {
                let from = m.sender_client_id.as_deref().unwrap_or("master");
                self.log(
                    who,
                    format_args!(
                        "recv   {} from {from} ({} bytes)",
                        m.message_type.as_str(),
                        m.payload.len()
                    ),
                )
            }
            Event::StatusResponse(s) => self.log(who, format_args!("status {s:?}")),
            Event::Error(e) => self.log(who, format_args!("error  {e}")),
            Event::Retrying {
                attempt,
                delay,
                cause,
            } => self.log(who, format_args!("retry  #{attempt} in {delay:?}: {cause}")),
            Event::Closed(Some(e)) => self.log(who, format_args!("closed {e}")),
            Event::Closed(None) => self.log(who, "closed"),
            other => self.log(who, format_args!("event  {other:?}")),
        }
    }
}

fn options(svc: &ServiceHandle, role: ChannelRole, client_id: &str) -> ClientOptions {
    crate::local::options(svc, CHANNEL, role, client_id)
}

/// Prints events until `done` accepts one; fails if the session ends first.
async fn until(
    timeline: Timeline,
    who: &str,
    events: &mut Events,
    mut done: impl FnMut(&Event) -> bool,
) -> anyhow::Result<()> {
    loop {
        let event = events
            .recv()
            .await
            .ok_or_else(|| anyhow!("{who}: the session ended unexpectedly"))?;
        timeline.event(who, &event);
        if done(&event) {
            return Ok(());
        }
        if let Event::Closed(err) = event {
            bail!(
                "{who} stopped: {}",
                err.map(|e| e.to_string())
                    .unwrap_or_else(|| "closed".into())
            );
        }
    }
}

fn is_connected(e: &Event) -> bool {
    matches!(e, Event::StateChanged(State::Connected))
}

pub async fn run() -> anyhow::Result<()> {
    tokio::time::timeout(DEADLINE, demo()).await.map_err(|_| {
        anyhow!(
            "timeout error: the demo did not finish within {} s",
            DEADLINE.as_secs()
        )
    })?
}

async fn demo() -> anyhow::Result<()> {
    let timeline = Timeline(Instant::now());
    let config = ServiceConfig {
        listen: crate::any_loopback_port(),
        ..ServiceConfig::default()
    };
    let svc = kvs_service::start(config)
        .await
        .context("the local service did not start")?;
    timeline.log(
        "service",
        format_args!(
            "listening on {} (TLS, SigV4 verified, throwaway CA)",
            svc.endpoint()
        ),
    );

    let (master, mut master_events) =
        SignalingClient::<Master>::start(options(&svc, ChannelRole::Master, ""))?;
    until(timeline, "master", &mut master_events, is_connected).await?;
    let (viewer, mut viewer_events) =
        SignalingClient::<Viewer>::start(options(&svc, ChannelRole::Viewer, VIEWER_ID))?;
    until(timeline, "viewer", &mut viewer_events, is_connected).await?;

    // The master answers every offer with an answer and its own candidates.
    let answering = master.clone();
    let master_side = tokio::spawn(async move {
        let mut candidates_seen = 0;
        let mut answered = false;
        until(timeline, "master", &mut master_events, |e| {
            if let Event::Message(m) = e {
                match m.message_type {
                    MessageType::SdpOffer => answered = true,
                    MessageType::IceCandidate => candidates_seen += 1,
                    _ => {}
                }
            }
            answered && candidates_seen == 2
        })
        .await?;
        Ok::<_, anyhow::Error>(master_events)
    });

    viewer
        .send_message(
            &ToMaster,
            Action::SdpOffer,
            OFFER.into(),
            Some("demo-offer"),
        )
        .await?;
    timeline.log("viewer", "send   SDP_OFFER");
    for (i, port) in [50_001, 50_002].into_iter().enumerate() {
        viewer
            .send_ice_candidate(&ToMaster, candidate(port, i as u32 + 1))
            .await?;
        timeline.log(
            "viewer",
            format_args!("send   ICE_CANDIDATE 127.0.0.1:{port}"),
        );
    }
    let mut master_events = master_side.await.context("master task")??;

    let to_viewer = ViewerId::new(VIEWER_ID)?;
    answering
        .send_message(
            &to_viewer,
            Action::SdpAnswer,
            ANSWER.into(),
            Some("demo-answer"),
        )
        .await?;
    timeline.log("master", format_args!("send   SDP_ANSWER to {VIEWER_ID}"));
    for (i, port) in [50_101, 50_102].into_iter().enumerate() {
        answering
            .send_ice_candidate(&to_viewer, candidate(port, i as u32 + 11))
            .await?;
        timeline.log(
            "master",
            format_args!("send   ICE_CANDIDATE 127.0.0.1:{port} to {VIEWER_ID}"),
        );
    }
    let (mut got_answer, mut got_candidates) = (false, 0);
    until(timeline, "viewer", &mut viewer_events, |e| {
        if let Event::Message(m) = e {
            match m.message_type {
                MessageType::SdpAnswer => got_answer = m.payload == ANSWER.as_bytes(),
                MessageType::IceCandidate => got_candidates += 1,
                _ => {}
            }
        }
        got_answer && got_candidates == 2
    })
    .await?;

    viewer.close().await;
    master.close().await;
    while let Some(e) = viewer_events.recv().await {
        timeline.event("viewer", &e);
    }
    while let Some(e) = master_events.recv().await {
        timeline.event("master", &e);
    }
    svc.shutdown().await;
    timeline.log(
        "demo",
        "ok: both peers reached CONNECTED and exchanged offer, answer and 4 ICE candidates",
    );
    Ok(())
}
