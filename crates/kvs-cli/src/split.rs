//! `kvs-signaling coprocessor` and `kvs-signaling host`: split mode's two sides over a serial
//! line (or TCP for development).

use std::time::Duration;

use anyhow::anyhow;
use clap::Args;
use futures_util::StreamExt;
use kvs_client::{Action, ClientOptions, SignalingClient, SignalingSession, ViewerId};
use kvs_split::coprocessor::{CoprocessorEvent, CoprocessorOptions, WakeHook};
use kvs_split::{Host, Impairments, Io, LinkConfig, Paced};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::pipe::{emit, event_line, parse_line};

/// Where the link runs.
#[derive(Args, Debug, Clone)]
pub struct SerialArgs {
    /// The serial device, e.g. /dev/ttyUSB0 (8N1, no flow control), or a pseudo-terminal.
    #[arg(long, value_name = "PATH", required_unless_present = "tcp")]
    pub serial: Option<String>,
    /// The line rate.
    #[arg(long, default_value_t = 921_600)]
    pub baud: u32,
    /// For development without serial hardware: TCP instead. The coprocessor listens on
    /// ADDR like a serial line with nobody at the other end until a host connects (bytes
    /// written meanwhile are lost); the host connects to it.
    #[arg(long, value_name = "ADDR", conflicts_with = "serial")]
    pub tcp: Option<String>,
    /// Pace writes at --baud, as a UART would (pseudo-terminals and TCP do not pace).
    #[arg(long)]
    pub line_rate: bool,
}

impl SerialArgs {
    /// The link's settings for this line: its rate, so the link times frames from when they
    /// leave it.
    pub fn link_config(&self) -> LinkConfig {
        LinkConfig {
            baud: self.baud,
            ..LinkConfig::default()
        }
    }

    /// Opens the transport: the serial port, or TCP (listening when `listen`).
    pub async fn open(&self, listen: bool) -> anyhow::Result<Box<dyn Io>> {
        let io: Box<dyn Io> = match (&self.serial, &self.tcp) {
            (Some(path), _) => Box::new(kvs_split::transport::serial(path, self.baud)?),
            (None, Some(addr)) if listen => {
                Box::new(kvs_split::transport::TcpLine::bind(addr).await?)
            }
            (None, Some(addr)) => Box::new(kvs_split::transport::tcp_connect(addr).await?),
            (None, None) => return Err(anyhow!("give --serial PATH or --tcp ADDR")),
        };
        Ok(if self.line_rate {
            Box::new(Paced::new(io, self.baud, Impairments::default(), 0))
        } else {
            io
        })
    }
}

/// One coprocessor event as a JSON line.
pub fn coprocessor_line(event: &CoprocessorEvent) -> Value {
    match event {
        CoprocessorEvent::Signaling(s) => json!({"event": "state", "state": s.as_str()}),
        CoprocessorEvent::HostReady { flushed } => {
            json!({"event": "hostReady", "flushed": flushed})
        }
        CoprocessorEvent::HostAway => json!({"event": "hostAway"}),
        CoprocessorEvent::Held { message_type, held } => {
            json!({"event": "held", "type": message_type.as_str(), "held": held})
        }
        CoprocessorEvent::WakeSent => json!({"event": "wake"}),
        CoprocessorEvent::Dropped {
            message_type,
            reason,
        } => json!({"event": "dropped", "type": message_type.as_str(), "reason": reason}),
        CoprocessorEvent::Forwarded(t) => json!({"event": "forwarded", "type": t.as_str()}),
        CoprocessorEvent::Relayed(t) => json!({"event": "relayed", "type": t.as_str()}),
        CoprocessorEvent::HostRestarted => json!({"event": "hostRestarted"}),
        CoprocessorEvent::Closed(e) => json!({"event": "closed", "error": e}),
    }
}

/// `coprocessor`: the signaling client, relayed to the host over the link.
pub async fn coprocessor(
    options: ClientOptions,
    serial: &SerialArgs,
    wake_command: Option<&str>,
) -> anyhow::Result<()> {
    let wake = match wake_command {
        Some(cmd) => WakeHook::Command(vec!["sh".into(), "-c".into(), cmd.into()]),
        None => WakeHook::None,
    };
    let co_options = CoprocessorOptions {
        link: serial.link_config(),
        ..CoprocessorOptions::new(wake, &options.config.region, &options.config.endpoint)
    };
    let io = serial.open(true).await?;
    let (session, signaling) = SignalingClient::<kvs_client::Master>::start(options)?;
    let (tx, mut events) = tokio::sync::mpsc::channel(256);
    let run = tokio::spawn(kvs_split::coprocessor::run(
        session.clone(),
        signaling,
        io,
        co_options,
        tx,
    ));
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(event) => {
                    let _ = emit(coprocessor_line(&event));
                    if let CoprocessorEvent::Closed(e) = event {
                        break if e.is_empty() { Ok(()) } else { Err(anyhow!("signaling ended: {e}")) };
                    }
                }
                None => break Ok(()),
            },
            _ = tokio::signal::ctrl_c() => break Ok(()),
        }
    }
    .inspect(|()| run.abort())
}

/// `host`: split mode's main-processor side, as a JSON-lines pipe or a WebRTC master.
pub async fn host(
    serial: &SerialArgs,
    webrtc: &crate::peer::WebrtcArgs,
    region: &str,
    endpoint: &str,
) -> anyhow::Result<()> {
    let io = serial.open(false).await?;
    let (host, events) = Host::start(io, serial.link_config());
    if webrtc.webrtc {
        // Gathering starts on the STUN server the coprocessor names first.
        let started = tokio::time::Instant::now();
        while host.stun().is_none() && started.elapsed() < Duration::from_secs(2) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut peer_options = webrtc.peer_options(region, endpoint);
        if peer_options.stun_url.is_none() {
            peer_options.stun_url = host.stun();
        }
        return crate::peer::serve_master(host, events, peer_options, webrtc.video()).await;
    }
    pipe(host, events).await
}

async fn pipe(host: Host, mut events: kvs_split::HostEvents) -> anyhow::Result<()> {
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    let mut stdin_open = true;
    loop {
        tokio::select! {
            event = events.next() => match event {
                Some(event) => {
                    if let Some(line) = event_line(&event) && emit(line).is_err() {
                        return Ok(());
                    }
                    if let kvs_client::Event::Closed(e) = event {
                        return e.map_or(Ok(()), |e| Err(anyhow!("{e}")));
                    }
                }
                None => return Ok(()),
            },
            line = stdin.next_line(), if stdin_open => match line {
                Ok(Some(line)) if line.trim().is_empty() => {}
                Ok(Some(line)) => {
                    let result = match parse_line(&line) {
                        Ok(m) => match ViewerId::new(m.recipient_client_id.unwrap_or_default()) {
                            Ok(to) => match m.action {
                                Action::SdpOffer => host.send_offer(&to, m.payload).await,
                                Action::SdpAnswer => host.send_answer(&to, m.payload).await,
                                _ => host.send_ice_candidate(&to, m.payload).await,
                            }
                            .map_err(|e| e.to_string()),
                            Err(e) => Err(e.to_string()),
                        },
                        Err(e) => Err(e),
                    };
                    if let Err(message) = result {
                        let _ = emit(json!({"event": "error", "message": message}));
                    }
                }
                Ok(None) | Err(_) => stdin_open = false,
            },
        }
    }
}
