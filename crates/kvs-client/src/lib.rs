//! The KVS WebRTC signaling client for tokio.
//!
//! [`SignalingClient::start`] spawns one driver task that runs the sans-IO state machine of
//! `kvs-proto`: it fetches credentials, describes (or creates) the channel, gets its
//! endpoints and ICE servers, and opens the SigV4-presigned WebSocket. The handle is cheap to
//! clone; [`Events`] yields every state change, message and error.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use kvs_client::{ClientOptions, EnvironmentProvider, SignalingClient};
//! use kvs_proto::api::{ChannelRole, IceServer};
//! use kvs_proto::client::{ChannelRef, ClientConfig, Event};
//!
//! let config = ClientConfig::new(ChannelRef::Name("my-channel".into()), "us-west-2", ChannelRole::Master);
//! let options = ClientOptions::new(config, Arc::new(EnvironmentProvider));
//! let (client, mut events) = SignalingClient::start(options)?;
//! while let Some(event) = events.recv().await {
//!     if let Event::Message(m) = event {
//!         println!("{:?} from {:?}", m.message_type, m.sender_client_id);
//!     }
//! }
//! client.disconnect().await;
//! # Ok(()) }
//! ```

mod credentials;
mod driver;
mod transport;

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use kvs_proto::api::{ChannelRole, IceServer};
use kvs_proto::client::{
    Client, ClientConfig, EndpointCacheFile, Event, Metrics, OutgoingMessage, SendError, State,
    cache_key,
};
use kvs_proto::wire::Action;
use tokio::sync::{mpsc, oneshot, watch};

pub use credentials::{
    CredentialsError, EnvironmentProvider, ProvideCredentials, ProvideFuture, StaticProvider,
};
pub use transport::{HttpClient, TlsOptions, TransportError, resolve_endpoint};

use driver::{Command, Driver};

/// What a signaling session needs: the core config, a credential provider and the transport.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Channel, role, region, endpoint, timeouts.
    pub config: ClientConfig,
    /// Where credentials come from.
    pub credentials: Arc<dyn ProvideCredentials>,
    /// Which CAs to trust (ignored when `http` is set).
    pub tls: TlsOptions,
    /// An HTTPS client to share pooled connections with other sessions.
    pub http: Option<HttpClient>,
    /// A JSON file caching channel endpoints across runs (created if missing; a corrupt one
    /// is ignored and rewritten).
    pub endpoint_cache_file: Option<std::path::PathBuf>,
}

impl ClientOptions {
    /// Options trusting the public roots, with a fresh HTTPS client.
    pub fn new(config: ClientConfig, credentials: Arc<dyn ProvideCredentials>) -> Self {
        Self {
            config,
            credentials,
            tls: TlsOptions::default(),
            http: None,
            endpoint_cache_file: None,
        }
    }
}

/// A handle to a running signaling session. Clones share the session; it ends on
/// [`disconnect`](Self::disconnect), on a fatal error, or when every handle is dropped.
#[derive(Debug, Clone)]
pub struct SignalingClient {
    commands: mpsc::Sender<Command>,
    state: watch::Receiver<State>,
    role: ChannelRole,
    final_metrics: Arc<std::sync::Mutex<Option<Metrics>>>,
    ice_servers: watch::Receiver<Vec<IceServer>>,
}

/// How many events wait for the application before the client stops reading the WebSocket.
pub const EVENTS_CAPACITY: usize = 256;

/// The session's events, in order. Ends after [`Event::Closed`].
///
/// Nothing is ever dropped: when [`EVENTS_CAPACITY`] events wait unread, the client stops
/// reading the WebSocket until the application reads again (back-pressure). A reader that
/// stays away long enough is cut off by the service like any slow reader (the local service
/// after its write timeout), and the client then reconnects. Keep reading events, also while
/// awaiting [`SignalingClient::send`] from another task.
#[derive(Debug)]
pub struct Events(mpsc::Receiver<Event>);

impl Events {
    /// The next event, or `None` once the session has ended.
    pub async fn recv(&mut self) -> Option<Event> {
        self.0.recv().await
    }
}

impl futures_util::Stream for Events {
    type Item = Event;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.0.poll_recv(cx)
    }
}

impl SignalingClient {
    /// Starts a session on the current tokio runtime and begins connecting.
    pub fn start(options: ClientOptions) -> Result<(Self, Events), TransportError> {
        let http = match options.http {
            Some(http) => http,
            None => HttpClient::new(&options.tls)?,
        };
        let role = options.config.role;
        let mut config = options.config;
        if let Some(path) = &options.endpoint_cache_file
            && config.cached_endpoints.is_none()
        {
            let file = std::fs::read(path)
                .map(|b| EndpointCacheFile::parse(&b))
                .unwrap_or_default();
            config.cached_endpoints = file.entries.get(&cache_key(&config)).cloned();
        }
        let cache = options
            .endpoint_cache_file
            .map(|path| (path, cache_key(&config)));
        // Seed the retry jitter per client so that clients do not retry in lockstep.
        config.rng_seed.get_or_insert_with(|| {
            use std::hash::{BuildHasher, Hasher};
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish()
        });
        let (command_tx, command_rx) = mpsc::channel(64);
        let (event_tx, event_rx) = mpsc::channel(EVENTS_CAPACITY);
        let (state_tx, state_rx) = watch::channel(State::New);
        let final_metrics = Arc::new(std::sync::Mutex::new(None));
        let (ice_tx, ice_rx) = watch::channel(Vec::new());
        let now = tokio::time::Instant::now().into_std();
        let driver = Driver {
            call_timeout: config.call_timeout,
            write_timeout: config.write_timeout,
            client: Client::new(config, now, Driver::wall_now()),
            credentials: options.credentials,
            http,
            commands: command_rx,
            events: event_tx,
            state: state_tx,
            final_metrics: final_metrics.clone(),
            ice_servers: ice_tx,
            cache,
        };
        tokio::spawn(driver.run());
        let client = Self {
            commands: command_tx,
            state: state_rx,
            role,
            final_metrics,
            ice_servers: ice_rx,
        };
        Ok((client, Events(event_rx)))
    }

    /// The current state.
    pub fn state(&self) -> State {
        *self.state.borrow()
    }

    /// Sends a message to a peer, or queues it while the client is (re)connecting. The message
    /// is checked and encoded on the caller's task; see [`SendError`] for what is refused.
    pub async fn send(&self, message: OutgoingMessage) -> Result<(), SendError> {
        let prepared = message.prepare(self.role)?;
        let gone = || SendError::NotConnected(State::Disconnected);
        if self.state() == State::Connected {
            // Fast path: no reply needed. Should the socket drop meanwhile, the driver queues it.
            return self
                .commands
                .send(Command::Send(prepared, None))
                .await
                .map_err(|_| gone());
        }
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Send(prepared, Some(tx)))
            .await
            .map_err(|_| gone())?;
        rx.await.unwrap_or_else(|_| Err(gone()))
    }

    async fn send_action(
        &self,
        action: Action,
        payload: impl Into<Vec<u8>>,
        recipient: Option<&str>,
        correlation_id: Option<&str>,
    ) -> Result<(), SendError> {
        let recipient = match self.role {
            ChannelRole::Master => recipient,
            ChannelRole::Viewer => None,
        };
        self.send(OutgoingMessage {
            action,
            recipient_client_id: recipient.map(str::to_owned),
            correlation_id: correlation_id.map(str::to_owned),
            payload: payload.into(),
        })
        .await
    }

    /// Sends an SDP offer (`payload` is the offer's JSON). `recipient` is used by a master only.
    pub async fn send_offer(
        &self,
        payload: impl Into<Vec<u8>>,
        recipient: Option<&str>,
        correlation_id: Option<&str>,
    ) -> Result<(), SendError> {
        self.send_action(Action::SdpOffer, payload, recipient, correlation_id)
            .await
    }

    /// Sends an SDP answer. `recipient` is used by a master only.
    pub async fn send_answer(
        &self,
        payload: impl Into<Vec<u8>>,
        recipient: Option<&str>,
        correlation_id: Option<&str>,
    ) -> Result<(), SendError> {
        self.send_action(Action::SdpAnswer, payload, recipient, correlation_id)
            .await
    }

    /// Sends an ICE candidate. `recipient` is used by a master only.
    pub async fn send_ice_candidate(
        &self,
        payload: impl Into<Vec<u8>>,
        recipient: Option<&str>,
        correlation_id: Option<&str>,
    ) -> Result<(), SendError> {
        self.send_action(Action::IceCandidate, payload, recipient, correlation_id)
            .await
    }

    /// The current ICE servers (TURN), kept fresh in the background; never waits on the
    /// network. Empty until the first GetIceServerConfig answered.
    pub fn ice_servers(&self) -> Vec<IceServer> {
        self.ice_servers.borrow().clone()
    }

    /// Counters and latencies of the session (live while it runs, final once it ended).
    pub async fn metrics(&self) -> Metrics {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Metrics(tx)).await.is_ok()
            && let Ok(metrics) = rx.await
        {
            return metrics;
        }
        self.final_metrics
            .lock()
            .expect("metrics lock")
            .clone()
            .unwrap_or_default()
    }

    /// Deletes the channel with its current Version (DELETE → DELETED) and ends the session.
    /// Returns true once the channel is gone; otherwise the events say why.
    pub async fn delete_channel(&self) -> bool {
        let _ = self.commands.send(Command::Delete).await;
        self.commands.closed().await;
        self.state() == State::Deleted
    }

    /// Closes the WebSocket and ends the session; returns once the driver has stopped.
    pub async fn disconnect(&self) {
        let _ = self.commands.send(Command::Close).await;
        self.commands.closed().await;
    }
}
