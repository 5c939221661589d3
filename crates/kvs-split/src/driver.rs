//! One link end as a tokio task: bytes from the transport into [`Link::handle_rx`], frames
//! from [`Link::poll_transmit`] onto it, the link's timers, and split-mode messages in and
//! out.

use std::time::Duration;

use kvs_link::message::{Message, MessageError};
use kvs_link::{Config, Event, Link, Stats, Time};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::transport::Io;

/// What happened on the link, for the application.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkEvent {
    /// The handshake completed (again).
    Up {
        /// The peer's session id.
        peer_session: u32,
    },
    /// Nothing valid came from the peer for the link timeout.
    Down,
    /// The peer restarted: what it held is gone.
    PeerRebooted {
        /// Messages sent to it again.
        resent: usize,
        /// Messages dropped instead.
        discarded: usize,
    },
    /// A message from the peer.
    Message(Message),
    /// A whole message arrived but is not one split mode knows (a newer peer?).
    Unreadable(MessageError),
    /// The transport failed or closed; the link task has ended.
    Closed(String),
}

/// The link task has ended (its transport closed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the split-mode link has stopped (its transport closed)")]
pub struct LinkStopped;

enum Command {
    Send(Vec<u8>, oneshot::Sender<Result<(), kvs_link::SendError>>),
    Stats(oneshot::Sender<Stats>),
}

/// Sends messages over a running link end; clone it freely.
#[derive(Debug, Clone)]
pub struct LinkHandle {
    commands: mpsc::Sender<Command>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Send(bytes, _) => write!(f, "Send({} bytes)", bytes.len()),
            Self::Stats(_) => f.write_str("Stats"),
        }
    }
}

/// Why a message was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendFailed {
    /// The link's queue is full (the peer has not acknowledged for a long time).
    #[error("the split-mode link's queue is full; the peer has not acknowledged for a while")]
    QueueFull,
    /// The message is larger than 64 KiB.
    #[error("the message is larger than the link's 64 KiB")]
    TooLarge,
    /// The link has stopped.
    #[error(transparent)]
    Stopped(#[from] LinkStopped),
}

impl LinkHandle {
    /// Runs a link end on `io` with a random session id; events arrive on the receiver.
    pub fn start(io: impl Io, config: Config) -> (Self, mpsc::Receiver<LinkEvent>) {
        let (commands, rx) = mpsc::channel(64);
        let (events, events_rx) = mpsc::channel(256);
        let session = loop {
            let s: u32 = rand::random();
            if s != 0 {
                break s;
            }
        };
        tokio::spawn(run(io, config, session, rx, events));
        (Self { commands }, events_rx)
    }

    /// Queues a message; it goes out once the link is up.
    pub async fn send(&self, message: &Message) -> Result<(), SendFailed> {
        let (done, result) = oneshot::channel();
        self.commands
            .send(Command::Send(message.encode(), done))
            .await
            .map_err(|_| LinkStopped)?;
        match result.await.map_err(|_| LinkStopped)? {
            Ok(()) => Ok(()),
            Err(kvs_link::SendError::QueueFull) => Err(SendFailed::QueueFull),
            Err(kvs_link::SendError::Size) => Err(SendFailed::TooLarge),
        }
    }

    /// The link's counters.
    pub async fn stats(&self) -> Result<Stats, LinkStopped> {
        let (done, result) = oneshot::channel();
        self.commands
            .send(Command::Stats(done))
            .await
            .map_err(|_| LinkStopped)?;
        result.await.map_err(|_| LinkStopped)
    }
}

async fn run(
    io: impl Io,
    config: Config,
    session: u32,
    mut commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<LinkEvent>,
) {
    let origin = Instant::now();
    let clock = move || Time::from_micros(origin.elapsed().as_micros() as u64);
    let mut link = Link::new(config, session, clock());
    let (mut reader, mut writer) = tokio::io::split(io);
    // Reading has its own task, so a write waiting on a slow line never stops this end from
    // draining what the peer sends (two ends both blocked writing would deadlock a pty).
    let (received, mut incoming) = mpsc::channel::<Result<Vec<u8>, String>>(64);
    let reading = tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let result = match reader.read(&mut buf).await {
                Ok(0) => Err("the transport closed".to_owned()),
                Ok(n) => Ok(buf[..n].to_vec()),
                Err(e) => Err(format!("reading: {e}")),
            };
            let failed = result.is_err();
            if received.send(result).await.is_err() || failed {
                return;
            }
        }
    });
    let mut commands_open = true;
    let end = loop {
        // Write everything the link has to say, then deliver its events.
        let mut failed = None;
        while let Some(frame) = link.poll_transmit(clock()) {
            if let Err(e) = writer.write_all(&frame).await {
                failed = Some(format!("writing: {e}"));
                break;
            }
        }
        if let Some(e) = failed {
            break e;
        }
        if let Err(e) = writer.flush().await {
            break format!("writing: {e}");
        }
        while let Some(event) = link.poll_event() {
            let event = match event {
                Event::Up {
                    peer_session,
                    max_payload,
                    window,
                } => {
                    info!(peer_session, max_payload, window, "split link up");
                    LinkEvent::Up { peer_session }
                }
                Event::Down => {
                    warn!(diagnostics = %link.diagnostics(), "split link down: nothing from the peer");
                    LinkEvent::Down
                }
                Event::PeerRebooted { resent, discarded } => {
                    warn!(resent, discarded, "the peer restarted");
                    LinkEvent::PeerRebooted { resent, discarded }
                }
                Event::Message(bytes) => match Message::decode(&bytes) {
                    Ok(m) => LinkEvent::Message(m),
                    Err(e) => LinkEvent::Unreadable(e),
                },
                Event::ReassemblyDropped { received } => {
                    warn!(received, "a partial message from the peer was given up");
                    continue;
                }
            };
            if events.send(event).await.is_err() {
                return; // nobody listens
            }
        }
        let wake = link
            .poll_timeout()
            .map(|t| origin + Duration::from_micros(t.as_micros()));
        // Input first: after a long write, the acknowledgements that came meanwhile must be
        // read before the timers run, or every frame of the burst looks late and is sent
        // again for nothing.
        tokio::select! {
            biased;
            read = incoming.recv() => match read {
                Some(Ok(bytes)) => link.handle_rx(clock(), &bytes),
                Some(Err(e)) => break e,
                None => break "the reader stopped".to_owned(),
            },
            command = commands.recv(), if commands_open => match command {
                Some(Command::Send(bytes, done)) => {
                    let _ = done.send(link.send(bytes));
                }
                Some(Command::Stats(done)) => {
                    let _ = done.send(link.stats());
                }
                None => commands_open = false,
            },
            () = async {
                match wake {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => link.handle_timeout(clock()),
        }
    };
    reading.abort();
    debug!(cause = %end, "split link task ends");
    let _ = events.send(LinkEvent::Closed(end)).await;
}
