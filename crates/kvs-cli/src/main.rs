//! `kvs-signaling`: the KVS WebRTC signaling client, a local KVS-compatible signaling
//! service, a self-contained demo, a benchmark and a load generator, in one binary.

mod bench;
mod bench_process;
mod bench_reconnect;
mod bench_split;
mod bench_webrtc;
mod console;
mod demo;
mod demo_split;
mod doctor;
mod iot;
mod latency_proxy;
mod load;
mod local;
mod peer;
mod phases;
mod pipe;
mod secret;
mod serve;
mod split;
mod stats;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use kvs_client::{
    ClientOptions, Master, SharedCredentialsProvider, TlsOptions, Viewer, resolve_endpoint,
};
use kvs_proto::api::ChannelRole;
use kvs_proto::client::{ChannelRef, ClientConfig};

/// Amazon Kinesis Video Streams WebRTC signaling: client, local service, demo and benchmark.
///
/// Logs go to stderr; set RUST_LOG (e.g. RUST_LOG=debug) for more detail.
#[derive(Parser, Debug)]
#[command(name = "kvs-signaling", version, about, long_about = None)]
struct Cli {
    /// Log level (error, warn, info, debug, trace) or a RUST_LOG-style filter; overrides RUST_LOG.
    #[arg(long, global = true)]
    log_level: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a master and a viewer against an in-process service, set up a real WebRTC peer
    /// connection between them and print the timeline.
    ///
    /// Needs no AWS account, no arguments and no network beyond loopback. Exits 0 once the
    /// viewer has reached signaling CONNECTED, ICE connected, DTLS, an open data channel, a
    /// message round trip and the first H.264 frame.
    Demo(demo::DemoArgs),
    /// Check, in order, everything a session needs and say which part fails and how to fix it.
    ///
    /// The seed's troubleshooting list as checks: connection (DNS, TCP, TLS, proxies),
    /// authentication (credential provider, clock offset, a signed call, the role's
    /// permissions), timeouts (call latency, WebSocket upgrade), ICE (STUN, TURN over UDP)
    /// and SDP (a typical offer against the 10,000-byte limit). Read-only: it connects as a
    /// viewer with a client id of its own, never as master or creating a channel unless
    /// asked. Exits non-zero when a check fails.
    Doctor(Box<doctor::DoctorArgs>),
    /// Run the local KVS-compatible signaling service until interrupted.
    Serve(Box<serve::ServeArgs>),
    /// Connect as the channel's master and act as a JSON-lines signaling pipe.
    ///
    /// Every event is one JSON object per line on stdout, e.g. {"event":"state","state":"CONNECTED"},
    /// {"event":"message","type":"SDP_OFFER","senderClientId":"v1","correlationId":null,"payload":{...}},
    /// {"event":"status",...}, {"event":"error","message":"..."}. Every stdin line is a message to send:
    /// {"action":"SDP_ANSWER","recipientClientId":"v1","correlationId":"c2","payload":{...}}.
    /// End of stdin disconnects. Credentials come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
    /// and AWS_SESSION_TOKEN.
    ///
    /// With --webrtc, answers viewers with real peer connections instead: echoes every
    /// data-channel message and sends H.264 (--video FILE, or a generated test pattern), and
    /// prints peer events as JSON lines too ({"event":"iceState",...}, {"event":"peerConnected",
    /// "selectedPair":...}, {"event":"peers","live":N}, ...).
    Master(MasterArgs),
    /// Connect as a viewer and act as a JSON-lines signaling pipe.
    ///
    /// Every event is one JSON object per line on stdout, e.g. {"event":"state","state":"CONNECTED"},
    /// {"event":"message","type":"SDP_OFFER","senderClientId":"v1","correlationId":null,"payload":{...}},
    /// {"event":"status",...}, {"event":"error","message":"..."}. Every stdin line is a message to send:
    /// {"action":"SDP_ANSWER","recipientClientId":"v1","correlationId":"c2","payload":{...}}.
    /// End of stdin disconnects. Credentials come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
    /// and AWS_SESSION_TOKEN.
    ///
    /// With --webrtc, offers a data channel and receive-only video to the master instead:
    /// sends each stdin line as a data-channel message, prints each reply
    /// ({"event":"data","text":...}), reports video ({"event":"video","frames":...}) and can
    /// save it (--save FILE); after end of stdin it waits for the replies and exits.
    Viewer(ViewerArgs),
    /// Measure connect time and relay round trip against the in-process service.
    Bench(bench::BenchArgs),
    /// Measure real peer connections through the in-process service (quotas on): a viewer's
    /// phases to its first data-channel byte and video frame, direct and relayed; ten
    /// viewers with and without the service's pacing; the master's memory per viewer.
    BenchWebrtc(bench_webrtc::BenchWebrtcArgs),
    /// Measure split mode's link over a paced pty pair: 10 KB offers' goodput against the raw
    /// line in the same run, clean and with bit errors, and the offer-to-answer time through
    /// the coprocessor with the host awake and asleep.
    BenchSplit(bench_split::BenchSplitArgs),
    /// Load the service (run as a child process) with many idle connections and with relay
    /// traffic, against a bare tokio-tungstenite echo server on the same TLS stack.
    Load(load::LoadArgs),
    /// Split mode's network coprocessor: holds the signaling connection and the credentials,
    /// relays viewers' messages to the host over a serial line, holds them while the host
    /// sleeps and wakes it (--wake-command) when an offer comes. Prints its events as JSON
    /// lines ({"event":"held",...}, {"event":"hostReady","flushed":N}, ...).
    Coprocessor(CoprocessorArgs),
    /// Split mode's main processor: signaling through the coprocessor over a serial line, as
    /// a JSON-lines pipe (like `master`), or with --webrtc the peer-connection master.
    Host(HostArgs),
    /// The load generator's floor: a bare TLS WebSocket echo server (internal).
    #[command(hide = true)]
    LoadEchoServer,
}

/// Which channel, where, and whose credentials: shared by the clients and the doctor.
#[derive(Args, Debug, Clone)]
struct ClientArgs {
    /// Signaling channel name or ARN. A session creates a named channel that does not exist;
    /// `doctor` only with --create.
    #[arg(long)]
    channel: String,
    /// AWS region.
    #[arg(long, env = "AWS_REGION", default_value = "us-west-2")]
    region: String,
    /// Control-plane endpoint, e.g. https://127.0.0.1:4443 for the local service.
    /// Defaults to AWS_ENDPOINT_URL_KINESIS_VIDEO, then AWS_ENDPOINT_URL, then the public endpoint.
    #[arg(long)]
    endpoint_url: Option<String>,
    /// PEM file of extra CAs to trust (the local service prints its own). Defaults to AWS_CA_BUNDLE.
    #[arg(long)]
    ca_bundle: Option<PathBuf>,
    /// Take credentials from this profile of the shared config and credentials files
    /// (static keys or credential_process). Without it and the other credential flags:
    /// AWS_ACCESS_KEY_ID and friends, then the AWS_PROFILE (or default) profile, then the
    /// IoT credentials provider when AWS_IOT_CORE_CREDENTIAL_ENDPOINT and friends are set.
    #[arg(long, conflicts_with_all = ["c_sdk_credentials_file", "iot_endpoint"])]
    profile: Option<String>,
    /// Take credentials from a file in the C SDK's format
    /// (`CREDENTIALS <key id> [<expiration>] <secret> [<token>]`), read again before expiry.
    #[arg(long, conflicts_with = "iot_endpoint")]
    c_sdk_credentials_file: Option<PathBuf>,
    #[command(flatten)]
    iot: iot::IotArgs,
}

/// What a long-running session adds to [`ClientArgs`].
#[derive(Args, Debug, Clone)]
struct SessionArgs {
    /// Cache channel endpoints in this JSON file, so later runs skip Describe and
    /// GetSignalingChannelEndpoint (entries live 10 hours).
    #[arg(long)]
    endpoint_cache: Option<PathBuf>,
    /// On exit, print the session's metrics as one more JSON line ({"event":"metrics",...}).
    #[arg(long)]
    metrics: bool,
}

#[derive(Args, Debug)]
struct MasterArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(flatten)]
    session: SessionArgs,
    #[command(flatten)]
    webrtc: peer::WebrtcArgs,
}

#[derive(Args, Debug)]
struct ViewerArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(flatten)]
    session: SessionArgs,
    /// This viewer's client id ([a-zA-Z0-9_.-], at most 256 characters).
    #[arg(long)]
    client_id: String,
    #[command(flatten)]
    webrtc: peer::WebrtcArgs,
}

#[derive(Args, Debug)]
struct CoprocessorArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(flatten)]
    session: SessionArgs,
    #[command(flatten)]
    serial: split::SerialArgs,
    /// A shell command that wakes the host (on a board: a GPIO), run when an offer comes
    /// while the host is not READY, e.g. one that starts `kvs-signaling host`.
    #[arg(long, value_name = "COMMAND")]
    wake_command: Option<String>,
}

#[derive(Args, Debug)]
struct HostArgs {
    #[command(flatten)]
    serial: split::SerialArgs,
    #[command(flatten)]
    webrtc: peer::WebrtcArgs,
    /// AWS region of the channel (for the peer connections' defaults).
    #[arg(long, env = "AWS_REGION", default_value = "us-west-2")]
    region: String,
    /// The coprocessor's signaling endpoint, when it is not the public one (a loopback one
    /// makes the peer connections bind loopback).
    #[arg(long)]
    endpoint_url: Option<String>,
}

impl ClientArgs {
    /// Client options for `role`, with the credentials of [`Self::credential_providers`].
    fn options(
        &self,
        role: ChannelRole,
        client_id: &str,
        session: &SessionArgs,
    ) -> anyhow::Result<ClientOptions> {
        let mut config =
            ClientConfig::new(ChannelRef::Name(self.channel.clone()), &self.region, role);
        config.endpoint = self.endpoint();
        config.client_id = client_id.to_owned();
        let credentials = kvs_client::chain(self.credential_providers()?);
        let mut options = ClientOptions::new(config, Arc::new(credentials));
        options.tls = TlsOptions::resolve(self.ca_bundle.as_deref())?;
        options.endpoint_cache_file = session.endpoint_cache.clone();
        Ok(options)
    }

    /// The control-plane endpoint these flags and the environment name.
    fn endpoint(&self) -> String {
        resolve_endpoint(self.endpoint_url.as_deref(), &self.region)
    }

    /// Where credentials come from, by name, in the order they are asked: the one the flags
    /// name, or the default chain (the environment, the profile files, then IoT).
    fn credential_providers(&self) -> anyhow::Result<Vec<(String, SharedCredentialsProvider)>> {
        let iot = self.iot.settings()?;
        Ok(match (&self.profile, &self.c_sdk_credentials_file, iot) {
            (Some(name), _, _) => vec![(
                format!("profile {name}"),
                SharedCredentialsProvider::new(kvs_client::profile_provider(Some(name))),
            )],
            (None, Some(path), _) => vec![(
                format!("C SDK credentials file {}", path.display()),
                SharedCredentialsProvider::new(kvs_client::CSdkFileProvider::new(path)),
            )],
            (None, None, Some(iot)) => vec![(
                "IoT credentials provider".to_owned(),
                SharedCredentialsProvider::new(kvs_client::IotProvider::new(&iot)?),
            )],
            (None, None, None) => kvs_client::default_providers()
                .into_iter()
                .map(|(name, provider)| (name.to_owned(), provider))
                .collect(),
        })
    }
}

fn init_logging(explicit: Option<&str>, default: &str) {
    let filter = match explicit {
        Some(level) => tracing_subscriber::EnvFilter::new(level),
        None => tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default)),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The benchmark defaults to one thread so it measures our code rather than cross-thread
    // wake-ups between the in-process service and clients (see docs/BENCHMARKS.md).
    let runtime = match &cli.command {
        Command::Bench(args) if !args.multi_thread => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        // One signaling session needs no worker pool, and one thread starts sooner and spares
        // the cross-thread wake-ups (new process → CONNECTED: 4.9–5.5 ms, was 5.5–6.2 ms).
        Command::Master(MasterArgs { webrtc, .. }) | Command::Viewer(ViewerArgs { webrtc, .. })
            if !webrtc.webrtc =>
        {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        }
        _ => tokio::runtime::Runtime::new(),
    };
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(run(cli));
    // A pending stdin read sits on a blocking thread that would otherwise hold up the exit.
    runtime.shutdown_background();
    code
}

async fn run(cli: Cli) -> ExitCode {
    let level = cli.log_level.as_deref();
    let result = match cli.command {
        Command::Demo(args) => {
            init_logging(level, QUIET_WEBRTC);
            if args.split {
                demo_split::run(args.relay).await
            } else {
                demo::run(args).await
            }
        }
        Command::Doctor(args) => {
            init_logging(level, "error");
            doctor::run(*args).await
        }
        Command::Serve(args) => {
            init_logging(level, "info");
            serve::run(*args).await
        }
        Command::Master(args) => {
            init_logging(level, QUIET_WEBRTC);
            match args.client.options(ChannelRole::Master, "", &args.session) {
                Ok(options) if args.webrtc.webrtc => peer::master(options, &args.webrtc).await,
                Ok(options) => pipe::run::<Master>(options, args.session.metrics).await,
                Err(e) => Err(e),
            }
        }
        Command::Viewer(args) => {
            init_logging(level, QUIET_WEBRTC);
            match args
                .client
                .options(ChannelRole::Viewer, &args.client_id, &args.session)
            {
                Ok(options) if args.webrtc.webrtc => peer::viewer(options, &args.webrtc).await,
                Ok(options) => pipe::run::<Viewer>(options, args.session.metrics).await,
                Err(e) => Err(e),
            }
        }
        Command::Bench(args) => {
            init_logging(level, "warn");
            bench::run(args).await
        }
        Command::BenchWebrtc(args) => {
            init_logging(level, QUIET_WEBRTC);
            bench_webrtc::run(args).await
        }
        Command::BenchSplit(args) => {
            init_logging(level, "warn");
            bench_split::run(args).await
        }
        Command::Load(args) => {
            init_logging(level, "warn");
            load::run(args).await
        }
        Command::Coprocessor(args) => {
            init_logging(level, QUIET_WEBRTC);
            match args.client.options(ChannelRole::Master, "", &args.session) {
                Ok(options) => {
                    split::coprocessor(options, &args.serial, args.wake_command.as_deref()).await
                }
                Err(e) => Err(e),
            }
        }
        Command::Host(args) => {
            init_logging(level, QUIET_WEBRTC);
            let endpoint = resolve_endpoint(args.endpoint_url.as_deref(), &args.region);
            split::host(&args.serial, &args.webrtc, &args.region, &endpoint).await
        }
        Command::LoadEchoServer => {
            init_logging(level, "error");
            load::echo::serve().await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The default log filter where webrtc-rs runs: its crates warn about things that are
/// normal for us (a DTLS server name on loopback, a check before the first pair, RTP for a
/// track being torn down); our own
/// events say what matters. RUST_LOG or --log-level shows them again.
const QUIET_WEBRTC: &str =
    "warn,rtc_dtls=error,rtc_ice=error,rtc=error,webrtc=error,webrtc::peer_connection::driver=off";

/// The region the in-process service of `demo` and `bench` serves.
const LOCAL_REGION: &str = "us-west-2";

/// A loopback address on a free port.
fn any_loopback_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}
