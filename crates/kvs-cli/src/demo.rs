//! `kvs-signaling demo`: the whole flow on one machine, no AWS account needed — the local
//! service, a master sending the H.264 test pattern, and a viewer that goes from signaling
//! to ICE, DTLS, a data channel round trip and the first video frame.

use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use clap::Args;
use kvs_client::Event;
use kvs_service::{ServiceConfig, ServiceHandle};
use kvs_webrtc::PeerEvent;

use crate::phases::{self, Phases};

pub(crate) const CHANNEL: &str = "demo-channel";
pub(crate) const VIEWER_ID: &str = "demo-viewer";
pub(crate) const DEADLINE: Duration = Duration::from_secs(60);

/// Options of `demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Force the relay path: both peers use relay candidates only, through the service's
    /// TURN server.
    #[arg(long)]
    pub relay: bool,
    /// Instead of a Rust viewer, wait for a browser: serve the web console over plain HTTP on
    /// loopback (no certificate set-up), run a Rust master sending the test pattern, and
    /// print the page's URL. Runs until interrupted.
    #[arg(long, conflicts_with = "relay")]
    pub browser: bool,
    /// With --browser, open the page in the system browser when one is found.
    #[arg(long, requires = "browser")]
    pub open: bool,
    /// The master signs with temporary credentials from the service's AWS IoT credentials
    /// endpoint, bought with a device certificate the service issues for the thing
    /// demo-camera, as a camera in the field does. The --iot-* flags replace parts of that
    /// set-up (e.g. your own --iot-cert, to see how the endpoint refuses it) and imply --iot.
    #[arg(long, conflicts_with = "browser")]
    pub iot: bool,
    /// Split mode: the coprocessor (this process: the signaling client and the credentials)
    /// and the host (a second process, the peer-connection master) joined by a
    /// pseudo-terminal pair paced at 921,600 baud. The host sleeps (is not running) until the
    /// viewer's offer makes the coprocessor wake it.
    #[arg(long, conflicts_with_all = ["browser", "iot"])]
    pub split: bool,
    #[command(flatten)]
    pub iot_flags: crate::iot::IotArgs,
}

/// Prints one timeline line per happening, in milliseconds since the demo started.
#[derive(Clone, Copy)]
pub(crate) struct Timeline(pub(crate) Instant);

impl Timeline {
    pub(crate) fn log(&self, who: &str, what: impl std::fmt::Display) {
        let ms = self.0.elapsed().as_secs_f64() * 1000.0;
        println!("{ms:>9.1} ms  {who:<7} {what}");
    }

    pub(crate) fn event(&self, who: &str, event: &PeerEvent) {
        match event {
            PeerEvent::Signaling(e) => match e {
                Event::StateChanged(s) => self.log(who, format_args!("signaling {s}")),
                Event::IceServers(list) => {
                    self.log(who, format_args!("signaling {} TURN server(s)", list.len()))
                }
                Event::Message(m) => self.log(
                    who,
                    format_args!(
                        "recv   {} from {} ({} bytes)",
                        m.message_type.as_str(),
                        m.sender_client_id.as_deref().unwrap_or("master"),
                        m.payload.len()
                    ),
                ),
                Event::Retrying {
                    attempt,
                    delay,
                    cause,
                } => self.log(who, format_args!("retry  #{attempt} in {delay:?}: {cause}")),
                Event::Error(e) => self.log(who, format_args!("error  {e}")),
                Event::CredentialsRefreshed { expiry } => self.log(
                    who,
                    format_args!(
                        "credentials refreshed{}",
                        expiry
                            .map(|at| format!(
                                ", valid until {}",
                                kvs_proto::amz_date::format_extended(at)
                            ))
                            .unwrap_or_default()
                    ),
                ),
                _ => {}
            },
            PeerEvent::Opened {
                peer,
                data_channel,
                video,
            } => self.log(
                who,
                format_args!(
                    "peer connection for {peer} (data channel: {data_channel}, video: {video})"
                ),
            ),
            PeerEvent::IceServers {
                stun,
                turn,
                skipped,
                ..
            } => self.log(
                who,
                format_args!(
                    "ICE servers: STUN {}, {} TURN URI(s) used, {} skipped{}",
                    stun.as_deref().unwrap_or("none"),
                    turn.len(),
                    skipped.len(),
                    skipped
                        .first()
                        .map(|(u, r)| format!(" ({u}: {r})"))
                        .unwrap_or_default()
                ),
            ),
            PeerEvent::IceState { peer, state } => {
                self.log(who, format_args!("ICE {state} ({peer})"))
            }
            PeerEvent::Connected {
                pair: Some(pair), ..
            } => {
                let kind = if pair.is_relayed() {
                    "relay pair"
                } else {
                    "direct pair"
                };
                self.log(who, format_args!("DTLS connected over {pair} ({kind})"))
            }
            PeerEvent::Connected { pair: None, .. } => self.log(who, "DTLS connected"),
            PeerEvent::DataChannelOpen { label, .. } => {
                self.log(who, format_args!("data channel '{label}' open"))
            }
            PeerEvent::Data { data, .. } => self.log(
                who,
                format_args!(
                    "data   '{}' ({} bytes)",
                    String::from_utf8_lossy(data),
                    data.len()
                ),
            ),
            PeerEvent::VideoFrame { data, key, .. } => self.log(
                who,
                format_args!(
                    "video  {} frame, {} bytes",
                    if *key { "key" } else { "delta" },
                    data.len()
                ),
            ),
            PeerEvent::IceFailed { failure, .. } => self.log(who, format_args!("error  {failure}")),
            PeerEvent::SdpFailed { error, .. } => self.log(who, format_args!("error  {error}")),
            PeerEvent::StackError { error, .. } => self.log(who, format_args!("error  {error}")),
            PeerEvent::Closed { peer, reason } => {
                self.log(who, format_args!("closed {peer}: {reason}"))
            }
            PeerEvent::PeerCount(n) => self.log(who, format_args!("{n} live peer connection(s)")),
            _ => {}
        }
    }
}

/// Runs the demo within [`DEADLINE`], or, with `--browser`, until interrupted.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    if args.browser {
        return browser(args.open).await;
    }
    tokio::time::timeout(DEADLINE, demo(args))
        .await
        .map_err(|_| {
            anyhow!(
                "timeout error: the demo did not finish within {} s",
                DEADLINE.as_secs()
            )
        })?
}

/// The in-process service on a free loopback port, over TLS or plain HTTP, keeping its CA
/// in `state_dir` when given, with the IoT endpoint when `iot`; said in the timeline.
pub(crate) async fn service(
    timeline: Timeline,
    tls: bool,
    state_dir: Option<&std::path::Path>,
    iot: bool,
) -> anyhow::Result<ServiceHandle> {
    let svc = kvs_service::start(ServiceConfig {
        listen: crate::any_loopback_port(),
        tls,
        state_dir: state_dir.map(ToOwned::to_owned),
        iot: iot.then(kvs_service::IotConfig::default),
        ..ServiceConfig::default()
    })
    .await
    .context("the local service did not start")?;
    let how = if tls {
        "TLS, SigV4 verified, TURN on UDP, throwaway CA"
    } else {
        "plain HTTP on loopback: browsers treat it as a secure context, so no certificate set-up"
    };
    timeline.log(
        "service",
        format_args!("listening on {} ({how})", svc.endpoint()),
    );
    if let Some(iot) = svc.iot_endpoint() {
        timeline.log(
            "service",
            format_args!(
                "IoT credentials endpoint on {iot} (mutual TLS, device certificates from its CA)"
            ),
        );
    }
    Ok(svc)
}

/// The thing `demo --iot` issues a device certificate for.
const DEMO_THING: &str = "demo-camera";

/// `demo --iot`: a device certificate for [`DEMO_THING`] from the service's CA (in
/// `state_dir`), and the IoT provider the master signs with, said in the timeline.
fn iot_credentials(
    timeline: Timeline,
    svc: &ServiceHandle,
    state_dir: &std::path::Path,
    flags: &crate::iot::IotArgs,
) -> anyhow::Result<std::sync::Arc<dyn kvs_client::ProvideCredentials>> {
    let device = kvs_service::issue_device_certificate(state_dir, DEMO_THING, None)?;
    timeline.log(
        "service",
        format_args!(
            "issued a device certificate for thing {DEMO_THING} ({})",
            device.cert_path.display()
        ),
    );
    let settings = flags.over(kvs_client::IotSettings {
        endpoint: svc.iot_endpoint().unwrap_or_default().to_owned(),
        role_alias: kvs_service::DEFAULT_ROLE_ALIAS.into(),
        thing_name: DEMO_THING.into(),
        cert: device.cert_path,
        key: device.key_path,
        ca: Some(device.ca_path),
    });
    let provider = kvs_client::IotProvider::new(&settings)?;
    timeline.log(
        "master",
        format_args!(
            "signs with temporary credentials from the IoT endpoint {} (thing {}, role alias {})",
            settings.endpoint, settings.thing_name, settings.role_alias
        ),
    );
    Ok(std::sync::Arc::new(provider))
}

async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    let timeline = Timeline(Instant::now());
    let iot = args.iot || args.iot_flags.any();
    // The CA must outlive the service and sign the device certificate: keep it on disk.
    let state_dir = tempfile::tempdir()?;
    let svc = service(timeline, true, iot.then_some(state_dir.path()), iot).await?;
    let credentials = match iot {
        true => Some(iot_credentials(
            timeline,
            &svc,
            state_dir.path(),
            &args.iot_flags,
        )?),
        false => None,
    };
    let (master, session, mut master_events) =
        phases::master(&svc, CHANNEL, args.relay, credentials)?;
    loop {
        let event = master_events
            .recv()
            .await
            .ok_or_else(|| anyhow!("the master stopped"))?;
        timeline.event("master", &event);
        match event {
            PeerEvent::Signaling(Event::StateChanged(kvs_client::State::Connected)) => break,
            PeerEvent::Signaling(Event::Closed(e)) => {
                let why = e.map(|e| format!(": {e}")).unwrap_or_default();
                return Err(anyhow!("the master's signaling ended{why}"));
            }
            _ => {}
        }
    }
    let printer = tokio::spawn(async move {
        while let Some(event) = master_events.recv().await {
            timeline.event("master", &event);
        }
    });

    timeline.log("viewer", "starts");
    let phases = phases::viewer_session(&svc, CHANNEL, VIEWER_ID, args.relay, |e, _| {
        if !matches!(e, PeerEvent::VideoFrame { key: false, .. }) {
            timeline.event("viewer", e);
        }
    })
    .await;
    master.stop().await;
    session.close().await;
    let _ = printer.await;
    svc.shutdown().await;
    let phases = phases?;
    summary(&phases, args.relay);
    Ok(())
}

pub(crate) fn summary(phases: &Phases, relay: bool) {
    println!();
    println!("phases of the viewer, from its start:");
    let mut rows = phases.rows();
    rows.sort_by_key(|(_, at)| *at);
    let mut before = Duration::ZERO;
    for (name, at) in rows {
        let step = at.saturating_sub(before);
        println!(
            "  {name:<24} {:>8.1} ms  (+{:.1} ms)",
            at.as_secs_f64() * 1000.0,
            step.as_secs_f64() * 1000.0
        );
        before = before.max(at);
    }
    let pair = phases
        .pair
        .as_ref()
        .map_or_else(|| "not reported".to_owned(), ToString::to_string);
    let path = if relay {
        "relay pair through the service's TURN server"
    } else {
        "direct"
    };
    println!("  selected pair: {pair} ({path})");
    println!("ok: signaling, ICE, DTLS, data channel round trip and H.264 video all worked");
}

/// `demo --browser`: the service over plain HTTP on loopback, a Rust master sending the test
/// pattern, and the console's URL (which connects as a viewer when opened).
async fn browser(open: bool) -> anyhow::Result<()> {
    let timeline = Timeline(Instant::now());
    let svc = service(timeline, false, None, false).await?;
    let (master, session, mut events) = phases::master(&svc, CHANNEL, false, None)?;
    let url = format!("{}/?channel={CHANNEL}&connect=1", svc.endpoint());
    println!("open: {url}");
    if open {
        match crate::console::open_in_browser(&url) {
            Some(cmd) => timeline.log("demo", format_args!("opened the page with {cmd}")),
            None => timeline.log(
                "demo",
                "no browser found to open; open the URL above yourself",
            ),
        }
    }
    timeline.log(
        "demo",
        "the master sends the H.264 test pattern to every viewer; Ctrl-C stops",
    );
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(event) => timeline.event("master", &event),
                None => break,
            },
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    master.stop().await;
    session.close().await;
    svc.shutdown().await;
    Ok(())
}
