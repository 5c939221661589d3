//! `kvs-signaling bench`: our client against the in-process service, next to a floor that does
//! the same requests and WebSocket messages with the bare libraries (reqwest and
//! tokio-tungstenite on the same rustls config). Runs alternate between the two so machine
//! noise hits both alike; results are printed as ratios to the floor.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use clap::Args;
use futures_util::{SinkExt, StreamExt};
use kvs_client::{
    ClientOptions, HttpClient, Master, Peer, SignalingClient, TlsOptions, ToMaster, Viewer,
    ViewerId,
};
use kvs_proto::api::ChannelRole;
use kvs_proto::client::Event;
use kvs_proto::wire::{self, MessageType};
use kvs_service::{ServiceConfig, ServiceHandle};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

const CHANNEL: &str = "bench-channel";
const FLOOR_CHANNEL: &str = "bench-floor";
const VIEWER_ID: &str = "bench-viewer";
const OFFER: &str = r#"{"type":"offer","sdp":"v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:vwr1\r\na=ice-pwd:viewerpasswordviewerpass\r\na=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\n"}"#;
const ANSWER: &str = r#"{"type":"answer","sdp":"v=0\r\no=- 2890844526 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:mst1\r\na=ice-pwd:masterpasswordmasterpass\r\na=setup:active\r\na=mid:0\r\na=sctp-port:5000\r\n"}"#;

/// `template` with its SDP session version (`o=- <id> 2 IN IP4`) set to `n`.
fn numbered(template: &str, n: usize) -> String {
    template.replacen(" 2 IN IP4", &format!(" {n} IN IP4"), 1)
}

/// Benchmark options.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Connects measured per variant (cold client, warm client, and their floors).
    #[arg(long, default_value_t = 40)]
    connects: usize,
    /// Offer→answer round trips measured for the client and for the floor.
    #[arg(long, default_value_t = 4000)]
    round_trips: usize,
    /// Viewer processes started for "new process → CONNECTED" (0 skips it).
    #[arg(long, default_value_t = 20)]
    processes: usize,
    /// Service restarts measured for the reconnect time.
    #[arg(long, default_value_t = 10)]
    restarts: usize,
    /// Run on tokio's multi-thread runtime instead of one thread (adds cross-thread wake-ups
    /// between the in-process service, the clients and the floor).
    #[arg(long)]
    pub multi_thread: bool,
}

use crate::local::{bare_reqwest, presigned_wss, signed_post};
use crate::stats::{median, percentile};

pub(crate) struct Setup {
    pub(crate) svc: ServiceHandle,
    pub(crate) tls: TlsOptions,
}

impl Setup {
    fn options(
        &self,
        role: ChannelRole,
        client_id: &str,
        http: Option<HttpClient>,
    ) -> ClientOptions {
        let mut options = crate::local::options(&self.svc, CHANNEL, role, client_id);
        options.http = http;
        options.config.send_rate = None; // the bench measures the relay, not the quotas
        options
    }
}

/// Start → CONNECTED with our client; `http` shared means pooled HTTPS connections.
pub(crate) async fn client_connect(
    setup: &Setup,
    http: Option<HttpClient>,
) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let (client, _events) =
        SignalingClient::<Master>::start(setup.options(ChannelRole::Master, "", http))?;
    client.connected().await?;
    let took = start.elapsed();
    client.close().await;
    Ok(took)
}

async fn floor_ws(
    tls: Arc<rustls::ClientConfig>,
    wss: &str,
    arn: &str,
    client_id: Option<&str>,
) -> anyhow::Result<Ws> {
    let url = presigned_wss(wss, arn, client_id)?;
    // The same WebSocket settings as the client's, so the ratio measures code, not buffers.
    let mut config = WebSocketConfig::default();
    config.read_buffer_size = kvs_client::WS_READ_BUFFER;
    config.write_buffer_size = 0;
    config.max_message_size = Some(kvs_client::MAX_WS_MESSAGE);
    config.max_frame_size = Some(kvs_client::MAX_WS_MESSAGE);
    let (ws, _) = tokio_tungstenite::connect_async_tls_with_config(
        url,
        Some(config),
        true,
        Some(Connector::Rustls(tls)),
    )
    .await?;
    Ok(ws)
}

/// The floor's connect: Describe, GetSignalingChannelEndpoint, GetIceServerConfig, upgrade.
async fn floor_connect(
    endpoint: &str,
    http: &reqwest::Client,
    tls: Arc<rustls::ClientConfig>,
    channel: &str,
    role: &str,
    client_id: Option<&str>,
) -> anyhow::Result<Ws> {
    let described = signed_post(
        http,
        &format!("{endpoint}/describeSignalingChannel"),
        json!({"ChannelName": channel}),
    )
    .await?;
    let arn = described["ChannelInfo"]["ChannelARN"]
        .as_str()
        .ok_or_else(|| anyhow!("no ARN"))?
        .to_owned();
    let endpoints = signed_post(
        http,
        &format!("{endpoint}/getSignalingChannelEndpoint"),
        json!({"ChannelARN": arn, "SingleMasterChannelEndpointConfiguration": {"Protocols": ["WSS", "HTTPS"], "Role": role}}),
    )
    .await?;
    let find = |p: &str| {
        endpoints["ResourceEndpointList"]
            .as_array()
            .and_then(|l| l.iter().find(|e| e["Protocol"] == p))
            .and_then(|e| e["ResourceEndpoint"].as_str())
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("no {p} endpoint"))
    };
    let (wss, https) = (find("WSS")?, find("HTTPS")?);
    signed_post(
        http,
        &format!("{https}/v1/get-ice-server-config"),
        json!({"ChannelARN": arn, "Service": "TURN"}),
    )
    .await?;
    floor_ws(tls, &wss, &arn, client_id).await
}

/// `shared` reuses one reqwest client and TLS config (pooled connections), as the warm client does.
pub(crate) async fn floor_connect_timed(
    setup: &Setup,
    shared: Option<&(reqwest::Client, Arc<rustls::ClientConfig>)>,
) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let fresh;
    let (http, tls) = match shared {
        Some(pair) => pair,
        None => {
            let tls = kvs_service::client_tls_config(&setup.tls.extra_ca_pem)?;
            fresh = (bare_reqwest(&tls)?, tls);
            &fresh
        }
    };
    let mut ws = floor_connect(
        setup.svc.endpoint(),
        http,
        tls.clone(),
        CHANNEL,
        "MASTER",
        None,
    )
    .await?;
    let took = start.elapsed();
    ws.close(None).await.ok();
    Ok(took)
}

fn fmt(d: Duration) -> String {
    if d < Duration::from_millis(1) {
        format!("{:.1} µs", d.as_secs_f64() * 1e6)
    } else {
        format!("{:.2} ms", d.as_secs_f64() * 1e3)
    }
}

fn row(label: &str, ours: Duration, floor: Duration, goal: f64) {
    let ratio = ours.as_secs_f64() / floor.as_secs_f64();
    let verdict = if ratio <= goal { "meets" } else { "MISSES" };
    println!(
        "  {label:<22} client {:>10}   floor {:>10}   ratio {ratio:.2}  ({verdict} goal ≤ {goal})",
        fmt(ours),
        fmt(floor)
    );
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.connects == 0 || args.round_trips < 100 {
        bail!("use --connects ≥ 1 and --round-trips ≥ 100");
    }
    let svc = kvs_service::start(ServiceConfig {
        listen: crate::any_loopback_port(),
        limits: None, // many connects and messages a second, as the floor does
        turn: None,
        ..ServiceConfig::default()
    })
    .await
    .context("the local service did not start")?;
    let tls = crate::local::tls_for(&svc);
    let setup = Setup { svc, tls };
    let runtime = if args.multi_thread {
        "multi-thread"
    } else {
        "current-thread"
    };
    println!(
        "kvs-signaling bench: in-process service at {} (TLS 1.3, ring), {runtime} runtime, {} cores",
        setup.svc.endpoint(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    // Create the channel and warm both paths once.
    client_connect(&setup, None).await?;
    floor_connect_timed(&setup, None).await?;

    let warm_http = HttpClient::new(&setup.tls)?;
    let warm_tls = kvs_service::client_tls_config(&setup.tls.extra_ca_pem)?;
    let warm_floor = (bare_reqwest(&warm_tls)?, warm_tls);
    client_connect(&setup, Some(warm_http.clone())).await?;
    floor_connect_timed(&setup, Some(&warm_floor)).await?;

    let (mut cold, mut cold_floor, mut warm, mut warm_floor_t) = (vec![], vec![], vec![], vec![]);
    for _ in 0..args.connects {
        cold.push(client_connect(&setup, None).await?);
        cold_floor.push(floor_connect_timed(&setup, None).await?);
        warm.push(client_connect(&setup, Some(warm_http.clone())).await?);
        warm_floor_t.push(floor_connect_timed(&setup, Some(&warm_floor)).await?);
    }
    println!(
        "\n(a) connect, start → CONNECTED (Describe, GetSignalingChannelEndpoint, GetIceServerConfig, WSS upgrade), median of {}:",
        args.connects
    );
    row(
        "cold (new HTTPS conns)",
        median(&mut cold),
        median(&mut cold_floor),
        1.5,
    );
    row(
        "warm (pooled HTTPS)",
        median(&mut warm),
        median(&mut warm_floor_t),
        1.5,
    );
    new_process(&setup, args.processes, median(&mut cold)).await?;

    let (ours, floor) = relay(&setup, args.round_trips).await?;
    let (mut ours, mut floor) = (ours, floor);
    println!(
        "\n(b) relay round trip, viewer SDP_OFFER → master → SDP_ANSWER → viewer, {} round trips each:",
        args.round_trips
    );
    row(
        "p50",
        percentile(&mut ours, 50),
        percentile(&mut floor, 50),
        1.3,
    );
    row(
        "p99",
        percentile(&mut ours, 99),
        percentile(&mut floor, 99),
        1.3,
    );
    setup.svc.shutdown().await;
    crate::bench_reconnect::run(args.connects, args.restarts).await?;
    Ok(())
}

/// (a') `kvs-signaling viewer` in a new process, spawn → CONNECTED, against this run's
/// in-process cold connect as the floor.
async fn new_process(setup: &Setup, processes: usize, in_process: Duration) -> anyhow::Result<()> {
    if processes == 0 {
        return Ok(());
    }
    let dir = std::env::temp_dir().join(format!("kvs-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &setup.tls.extra_ca_pem)?;
    let mut took = Vec::with_capacity(processes);
    for i in 0..processes {
        let id = format!("bench-process-{i}");
        took.push(
            crate::bench_process::connect_in_new_process(&setup.svc, &ca, CHANNEL, &id).await?,
        );
    }
    std::fs::remove_dir_all(&dir).ok();
    println!(
        "\n(a') new process → CONNECTED (`kvs-signaling viewer` spawned), median of {processes}; floor: (a)'s cold in-process connect:"
    );
    row("new process", median(&mut took), in_process, 3.0);
    Ok(())
}

/// Measures offer→answer round trips through the service, alternating batches between our
/// client and the bare tokio-tungstenite floor.
async fn relay(
    setup: &Setup,
    round_trips: usize,
) -> anyhow::Result<(Vec<Duration>, Vec<Duration>)> {
    // Our client: a master that answers every offer, and a viewer that times them.
    let (master, mut master_events) =
        SignalingClient::<Master>::start(setup.options(ChannelRole::Master, "", None))?;
    master.connected().await?;
    let (viewer, mut viewer_events) =
        SignalingClient::<Viewer>::start(setup.options(ChannelRole::Viewer, VIEWER_ID, None))?;
    viewer.connected().await?;
    let answerer = master.clone();
    let answering = tokio::spawn(async move {
        let mut answered = 0;
        while let Some(event) = master_events.recv().await {
            if let Event::Message(m) = event
                && m.message_type == MessageType::SdpOffer
                && let Some(from) = ViewerId::sender_of(&m)
            {
                // Each answer its own SDP version: a repeat would be dropped as a resend.
                answered += 1;
                let _ = answerer
                    .send_answer(&from, numbered(ANSWER, answered))
                    .await;
            }
        }
    });

    // The floor: the same frames on raw WebSockets, through the same service.
    let tls = kvs_service::client_tls_config(&setup.tls.extra_ca_pem)?;
    let http = bare_reqwest(&tls)?;
    // Its own channel: a channel has one master, and ours is connected to CHANNEL.
    let endpoint = setup.svc.endpoint();
    signed_post(
        &http,
        &format!("{endpoint}/createSignalingChannel"),
        json!({"ChannelName": FLOOR_CHANNEL}),
    )
    .await?;
    let mut floor_master =
        floor_connect(endpoint, &http, tls.clone(), FLOOR_CHANNEL, "MASTER", None).await?;
    let mut floor_viewer = floor_connect(
        endpoint,
        &http,
        tls,
        FLOOR_CHANNEL,
        "VIEWER",
        Some("floor-viewer"),
    )
    .await?;
    let answer_frame = wire::ClientFrame {
        action: wire::Action::SdpAnswer,
        recipient_client_id: Some("floor-viewer".into()),
        message_payload: wire::encode_payload(ANSWER.as_bytes()),
        correlation_id: None,
    }
    .to_json();
    // Every offer is a new SDP version, for both, as real renegotiations are.
    let offer_frame = |n: usize| {
        wire::ClientFrame {
            action: wire::Action::SdpOffer,
            recipient_client_id: None,
            message_payload: wire::encode_payload(numbered(OFFER, n).as_bytes()),
            correlation_id: None,
        }
        .to_json()
    };
    let floor_answering = tokio::spawn(async move {
        while let Some(Ok(msg)) = floor_master.next().await {
            if msg.is_text()
                && floor_master
                    .send(Message::text(answer_frame.clone()))
                    .await
                    .is_err()
            {
                break;
            }
        }
    });

    let batches = 10;
    let per_batch = round_trips / batches;
    let (mut ours, mut floor) = (
        Vec::with_capacity(round_trips),
        Vec::with_capacity(round_trips),
    );
    let per_side = batches * (per_batch + 20);
    let mut floor_offers: Vec<String> = (0..per_side).map(offer_frame).collect();
    let mut our_offers: Vec<String> = (0..per_side).map(|n| numbered(OFFER, n)).collect();
    let mut next = 0;
    for _ in 0..batches {
        let first = next;
        for i in 0..per_batch + 20 {
            let frame = std::mem::take(&mut floor_offers[next]);
            next += 1;
            let start = Instant::now();
            floor_viewer.send(Message::text(frame)).await?;
            loop {
                match floor_viewer.next().await {
                    Some(Ok(m)) if m.is_text() => break,
                    Some(Ok(_)) => {}
                    other => bail!("floor viewer lost its connection: {other:?}"),
                }
            }
            if i >= 20 {
                floor.push(start.elapsed());
            }
        }
        for (i, offer) in our_offers[first..next].iter_mut().enumerate() {
            let offer = std::mem::take(offer);
            let start = Instant::now();
            viewer
                .send_offer(&ToMaster, offer)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            loop {
                match viewer_events.recv().await {
                    Some(Event::Message(m)) if m.message_type == MessageType::SdpAnswer => break,
                    Some(Event::Closed(e)) => bail!("viewer closed: {e:?}"),
                    Some(_) => {}
                    None => bail!("viewer ended"),
                }
            }
            if i >= 20 {
                ours.push(start.elapsed());
            }
        }
    }
    floor_answering.abort();
    answering.abort();
    viewer.close().await;
    master.close().await;
    Ok((ours, floor))
}
