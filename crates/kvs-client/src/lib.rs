//! The KVS WebRTC signaling client for tokio.
//!
//! A [`SignalingClient`] runs the sans-IO state machine of `kvs-proto` on one driver task: it
//! fetches credentials, describes (or creates) the channel, gets its endpoints and ICE
//! servers, and opens the SigV4-presigned WebSocket. The role is a type parameter
//! ([`Master`] or [`Viewer`]), so a viewer cannot name a recipient and a master must. The
//! handle is cheap to clone; [`Events`] yields every state change, message and error, in
//! order and without loss. Everything a user needs is re-exported here.
//!
//! A master and a viewer against the local KVS-compatible service (`kvs-service`, which
//! `kvs-signaling serve` runs); against AWS, leave out the endpoint and the CA and take the
//! credentials from [`EnvironmentProvider`]. This example runs as a test:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use kvs_client::{
//!     ChannelRef, ChannelRole, ClientConfig, ClientOptions, Credentials, Event, Master, MessageType,
//!     Peer, SignalingClient, TlsOptions, ToMaster, Viewer, ViewerId,
//! };
//!
//! let service = kvs_service::start(kvs_service::ServiceConfig {
//!     listen: ([127, 0, 0, 1], 0).into(), // a free port
//!     ..Default::default()
//! })
//! .await?;
//! let options = |role, client_id: &str| {
//!     let config = ClientConfig::builder(ChannelRef::Name("doc-channel".into()), "us-west-2", role)
//!         .endpoint(service.endpoint())
//!         .client_id(client_id)
//!         .build();
//!     let keys = Credentials::new(
//!         kvs_service::EXAMPLE_ACCESS_KEY_ID,
//!         kvs_service::EXAMPLE_SECRET_ACCESS_KEY,
//!         None, // session token (temporary credentials)
//!         None, // expiry
//!         "example",
//!     );
//!     let mut options = ClientOptions::new(config, Arc::new(keys));
//!     options.tls = TlsOptions { extra_ca_pem: service.ca_pem().unwrap_or_default().into() };
//!     options
//! };
//!
//! // The master in one call; the viewer step by step, as the C SDK does it.
//! let (master, mut master_events) = SignalingClient::<Master>::start(options(ChannelRole::Master, ""))?;
//! master.connected().await?;
//! let (viewer, mut viewer_events) = SignalingClient::<Viewer>::new(options(ChannelRole::Viewer, "viewer-1"))?;
//! viewer.fetch().await?; // READY: channel, endpoints and ICE servers known, not connected
//! viewer.connect().await?;
//!
//! viewer.send_offer(&ToMaster, r#"{"type":"offer","sdp":"v=0"}"#).await?;
//! while let Some(event) = master_events.recv().await {
//!     if let Event::Message(offer) = event
//!         && offer.message_type == MessageType::SdpOffer
//!         && let Some(from) = ViewerId::sender_of(&offer)
//!     {
//!         master.send_answer(&from, r#"{"type":"answer","sdp":"v=0"}"#).await?;
//!         break;
//!     }
//! }
//! while let Some(event) = viewer_events.recv().await {
//!     if let Event::Message(answer) = event {
//!         assert_eq!(answer.message_type, MessageType::SdpAnswer);
//!         break;
//!     }
//! }
//!
//! viewer.disconnect().await?; // back to READY
//! viewer.connect().await?; // and connected again, without fetching anything
//! viewer.close().await;
//! master.delete_channel().await?;
//! service.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! The C SDK's lifecycle maps onto [`SignalingClient::new`] (create), [`fetch`](SignalingClient::fetch)
//! (to READY without connecting), [`connect`](SignalingClient::connect),
//! [`disconnect`](SignalingClient::disconnect) (back to READY),
//! [`delete_channel`](SignalingClient::delete_channel) and [`close`](SignalingClient::close)
//! (free); [`SignalingClient::start`] creates and connects in one call.

mod credentials;
mod credentials_file;
mod driver;
mod iot;
mod role;
mod session;
mod transport;

use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use kvs_proto::client::{Client, EndpointCacheFile, OutgoingMessage, cache_key};
use tokio::sync::{mpsc, oneshot, watch};

pub use credentials::{
    CredentialsError, EnvironmentProvider, ProvideCredentials, ProvideFuture,
    SharedCredentialsProvider, chain, default_chain, default_providers, profile_provider,
    provider_config,
};
pub use credentials_file::CSdkFileProvider;
pub use driver::{MAX_WS_MESSAGE, WS_READ_BUFFER};
pub use iot::{IOT_ENV, IotProvider, IotSettings, IotSetupError};
pub use kvs_proto::Credentials;
pub use kvs_proto::api::{ChannelRole, ChannelType, ErrorCode, IceServer};
pub use kvs_proto::client::{
    CachedEndpoints, ChannelRef, ClientConfig, ClientConfigBuilder, Error, Event, Metrics,
    ReceivedMessage, RetryPolicy, SendError, State,
};
pub use kvs_proto::rate::Limits;
pub use kvs_proto::wire::{Action, MessageType, StatusResponse};
pub use role::{Master, Peer, Role, ToMaster, Viewer, ViewerId};
pub use session::SignalingSession;
pub use transport::{HttpClient, TlsOptions, TransportError, resolve_endpoint};

use driver::{Command, Driver, Status};

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

/// A handle to a signaling session in role `R` ([`Master`] or [`Viewer`]). Clones share the
/// session; it ends on [`close`](Self::close), on a fatal error, or when every handle is
/// dropped.
#[derive(Debug)]
pub struct SignalingClient<R: Role> {
    commands: mpsc::Sender<Command>,
    status: watch::Receiver<Status>,
    final_metrics: Arc<std::sync::Mutex<Option<Metrics>>>,
    ice_servers: watch::Receiver<Vec<IceServer>>,
    role: PhantomData<R>,
}

impl<R: Role> Clone for SignalingClient<R> {
    fn clone(&self) -> Self {
        Self {
            commands: self.commands.clone(),
            status: self.status.clone(),
            final_metrics: self.final_metrics.clone(),
            ice_servers: self.ice_servers.clone(),
            role: PhantomData,
        }
    }
}

/// An error and its sources joined with `: `, each part once, e.g. "error sending request:
/// tcp connect error: Connection refused". Transport and credentials errors keep the
/// interesting part in their sources, which their own `Display` leaves out.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let part = cause.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    text
}

/// Why waiting on a session failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The session ended with this error (also delivered as [`Event::Closed`]).
    #[error("the signaling session ended: {0}")]
    Failed(Error),
    /// The session was closed by the application.
    #[error("the signaling session was closed")]
    Closed,
}

impl SessionError {
    /// The error that ended the session, if it did not end by `close`.
    pub fn cause(&self) -> Option<&Error> {
        match self {
            Self::Failed(e) => Some(e),
            Self::Closed => None,
        }
    }

    /// True when the session ended on an authentication or authorisation failure.
    pub fn is_auth(&self) -> bool {
        self.cause().is_some_and(Error::is_auth)
    }
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

impl<R: Role> SignalingClient<R> {
    /// Creates a session on the current tokio runtime without starting it (state NEW): call
    /// [`fetch`](Self::fetch) or [`connect`](Self::connect) next. The role comes from `R`.
    pub fn new(options: ClientOptions) -> Result<(Self, Events), TransportError> {
        Self::spawn(options, false)
    }

    /// Creates a session and starts connecting at once; [`connected`](Self::connected)
    /// waits for the result.
    pub fn start(options: ClientOptions) -> Result<(Self, Events), TransportError> {
        Self::spawn(options, true)
    }

    fn spawn(options: ClientOptions, connect: bool) -> Result<(Self, Events), TransportError> {
        let http = match options.http {
            Some(http) => http,
            None => HttpClient::new(&options.tls)?,
        };
        let mut config = options.config;
        config.role = R::ROLE;
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
        let (status_tx, status_rx) = watch::channel(Status {
            state: State::New,
            channel_arn: None,
            ended: None,
        });
        let final_metrics = Arc::new(std::sync::Mutex::new(None));
        let (ice_tx, ice_rx) = watch::channel(Vec::new());
        let now = tokio::time::Instant::now().into_std();
        let mut client = Client::new(config, now, Driver::wall_now());
        if connect {
            client.connect(now);
        }
        let driver = Driver {
            client,
            credentials: options.credentials,
            http,
            commands: command_rx,
            events: event_tx,
            status: status_tx,
            final_metrics: final_metrics.clone(),
            ice_servers: ice_tx,
            cache,
        };
        tokio::spawn(driver.run());
        let client = Self {
            commands: command_tx,
            status: status_rx,
            final_metrics,
            ice_servers: ice_rx,
            role: PhantomData,
        };
        Ok((client, Events(event_rx)))
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.status.borrow().state
    }

    /// The channel's ARN, once described (or as configured).
    pub fn channel_arn(&self) -> Option<String> {
        self.status.borrow().channel_arn.clone()
    }

    /// Waits until the state satisfies `done`; fails once the session has ended.
    async fn wait_for(&self, done: impl Fn(State) -> bool) -> Result<(), SessionError> {
        let mut status = self.status.clone();
        let result = status
            .wait_for(|s| done(s.state) || s.ended.is_some())
            .await
            .map(|s| (done(s.state), s.ended.clone()));
        match result {
            Ok((true, _)) => Ok(()),
            Ok((false, Some(Some(err)))) => Err(SessionError::Failed(err)),
            Ok((false, _)) | Err(_) => Err(SessionError::Closed),
        }
    }

    async fn command(&self, command: Command) {
        let _ = self.commands.send(command).await;
    }

    /// Waits until CONNECTED (at once if it is); fails once the session has ended. While
    /// the session is held at READY (after `fetch` or `disconnect`) it waits for `connect`.
    pub async fn connected(&self) -> Result<(), SessionError> {
        self.wait_for(|s| s == State::Connected).await
    }

    /// Fetches credentials, the channel, its endpoints and ICE servers without connecting,
    /// and waits for READY (the C SDK's `signalingClientFetchSync`).
    pub async fn fetch(&self) -> Result<(), SessionError> {
        self.command(Command::Fetch).await;
        self.wait_for(|s| s == State::Ready).await
    }

    /// Connects (from NEW, or from READY after `fetch` or `disconnect`) and waits until
    /// CONNECTED (the C SDK's `signalingClientConnectSync`).
    pub async fn connect(&self) -> Result<(), SessionError> {
        self.command(Command::Connect).await;
        self.connected().await
    }

    /// Closes the WebSocket and waits for READY, keeping what was fetched, so that
    /// [`connect`](Self::connect) connects again (the C SDK's `signalingClientDisconnectSync`).
    pub async fn disconnect(&self) -> Result<(), SessionError> {
        self.command(Command::Disconnect).await;
        self.wait_for(|s| matches!(s, State::Ready | State::New))
            .await
    }

    /// Sends a message to `to`, or queues it while the client is (re)connecting. The message
    /// is checked and encoded on the caller's task; see [`SendError`] for what is refused.
    /// A `correlation_id` comes back in a STATUS_RESPONSE if the service cannot deliver it.
    pub async fn send_message(
        &self,
        to: &R::Peer,
        action: Action,
        payload: Vec<u8>,
        correlation_id: Option<&str>,
    ) -> Result<(), SendError> {
        let prepared = OutgoingMessage {
            action,
            recipient_client_id: to.recipient_client_id().map(str::to_owned),
            correlation_id: correlation_id.map(str::to_owned),
            payload,
        }
        .prepare(R::ROLE)?;
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

    /// Sends an SDP offer (`sdp` is the offer's JSON).
    pub async fn send_offer(&self, to: &R::Peer, sdp: impl Into<Vec<u8>>) -> Result<(), SendError> {
        self.send_message(to, Action::SdpOffer, sdp.into(), None)
            .await
    }

    /// Sends an SDP answer.
    pub async fn send_answer(
        &self,
        to: &R::Peer,
        sdp: impl Into<Vec<u8>>,
    ) -> Result<(), SendError> {
        self.send_message(to, Action::SdpAnswer, sdp.into(), None)
            .await
    }

    /// Sends an ICE candidate.
    pub async fn send_ice_candidate(
        &self,
        to: &R::Peer,
        candidate: impl Into<Vec<u8>>,
    ) -> Result<(), SendError> {
        self.send_message(to, Action::IceCandidate, candidate.into(), None)
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
    /// A channel that is already gone counts as deleted.
    pub async fn delete_channel(&self) -> Result<(), SessionError> {
        self.command(Command::Delete).await;
        self.commands.closed().await;
        match self.wait_for(|s| s == State::Deleted).await {
            Err(SessionError::Closed) if self.state() == State::Deleted => Ok(()),
            other => other,
        }
    }

    /// Closes the WebSocket and ends the session (the C SDK's `freeSignalingClient`);
    /// returns once the driver has stopped.
    pub async fn close(&self) {
        self.command(Command::Close).await;
        self.commands.closed().await;
    }
}

impl<R: Role> SignalingSession for SignalingClient<R> {
    type Peer = R::Peer;
    type Events = Events;

    fn role(&self) -> ChannelRole {
        R::ROLE
    }

    fn state(&self) -> State {
        SignalingClient::state(self)
    }

    fn ice_servers(&self) -> Vec<IceServer> {
        SignalingClient::ice_servers(self)
    }

    fn connected(&self) -> impl std::future::Future<Output = Result<(), SessionError>> + Send {
        SignalingClient::connected(self)
    }

    fn send_offer(
        &self,
        to: &R::Peer,
        sdp: Vec<u8>,
    ) -> impl std::future::Future<Output = Result<(), SendError>> + Send {
        SignalingClient::send_offer(self, to, sdp)
    }

    fn send_answer(
        &self,
        to: &R::Peer,
        sdp: Vec<u8>,
    ) -> impl std::future::Future<Output = Result<(), SendError>> + Send {
        SignalingClient::send_answer(self, to, sdp)
    }

    fn send_ice_candidate(
        &self,
        to: &R::Peer,
        candidate: Vec<u8>,
    ) -> impl std::future::Future<Output = Result<(), SendError>> + Send {
        SignalingClient::send_ice_candidate(self, to, candidate)
    }
}
