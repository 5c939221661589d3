//! The signaling client as a sans-IO state machine.
//!
//! Drive it like this: call [`Client::connect`], then loop: drain [`Client::poll_output`] and
//! perform each [`Output`] (fetch credentials, make the HTTP request, open the WebSocket…),
//! feed results back with [`Client::handle_input`], and wake up at [`Client::poll_timeout`]
//! with [`Input::Timeout`]. Every method takes the current monotonic time; the wall clock used
//! for signatures is derived from the one given to [`Client::new`].

mod cache;
mod config;
mod early_ice;
mod error;
mod event;
mod metrics;
mod retry;

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime};

pub use cache::{CachedEndpoints, EndpointCacheFile, cache_key};
pub use config::{ChannelRef, ClientConfig, default_endpoint};
pub use error::{Error, SendError};
pub use event::{Event, ReceivedMessage, State};
pub use metrics::{CallStats, Metrics};
pub use retry::RetryPolicy;

use early_ice::EarlyIce;
use retry::Backoff;

use crate::Credentials;
use crate::api::{
    ChannelProtocol, ChannelRole, CreateSignalingChannelInput, DeleteSignalingChannelInput,
    DescribeSignalingChannelInput, DescribeSignalingChannelOutput, ErrorBody,
    GetIceServerConfigInput, GetIceServerConfigOutput, GetSignalingChannelEndpointInput,
    GetSignalingChannelEndpointOutput, IceServer, Operation,
    SingleMasterChannelEndpointConfiguration, SingleMasterConfiguration,
};
use crate::rate::Cell;
use crate::sigv4::{self, RequestToSign};
use crate::wire::{self, Action, ClientFrame, MessageType, ServiceFrame};

/// Identifies an HTTP request so its answer can be matched (late answers are ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestId(pub u64);

/// A signed HTTP request for the driver to make. `Debug` hides the signature and token.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Echo this in [`Input::HttpResponse`] or [`Input::HttpFailed`].
    pub id: RequestId,
    /// Which API call this is.
    pub operation: Operation,
    /// Absolute URL.
    pub url: String,
    /// Headers to send, signature included.
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: Vec<u8>,
}

impl std::fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| match k.as_str() {
                "authorization" | "x-amz-security-token" => (k.as_str(), "** redacted **"),
                _ => (k.as_str(), v.as_str()),
            })
            .collect();
        f.debug_struct("HttpRequest")
            .field("id", &self.id)
            .field("operation", &self.operation)
            .field("url", &self.url)
            .field("headers", &headers)
            .field("body", &String::from_utf8_lossy(&self.body))
            .finish()
    }
}

/// A presigned WebSocket URL. It grants access until it expires, so `Debug` hides its
/// signature and session token.
#[derive(Clone, PartialEq, Eq)]
pub struct PresignedUrl(String);

impl PresignedUrl {
    /// The full URL, secrets included.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The full URL, secrets included.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::fmt::Debug for PresignedUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (base, query) = self.0.split_once('?').unwrap_or((&self.0, ""));
        let redacted: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k @ ("X-Amz-Signature" | "X-Amz-Security-Token"), _)) => {
                    format!("{k}=**redacted**")
                }
                _ => pair.to_owned(),
            })
            .collect();
        write!(f, "PresignedUrl({base}?{})", redacted.join("&"))
    }
}

/// An HTTP answer as the core needs it.
#[derive(Debug, Clone, Copy)]
pub struct HttpResponse<'a> {
    /// Status code.
    pub status: u16,
    /// The `x-amzn-ErrorType` header, if any.
    pub error_type: Option<&'a str>,
    /// The `Date` header, if any: the service's clock, for skew correction.
    pub date: Option<&'a str>,
    /// The body.
    pub body: &'a [u8],
}

/// Something the driver observed.
#[derive(Debug, Clone)]
pub enum Input<'a> {
    /// The deadline from [`Client::poll_timeout`] passed.
    Timeout,
    /// The credential provider answered [`Output::FetchCredentials`].
    Credentials(Result<Credentials, String>),
    /// An HTTP request got an answer.
    HttpResponse(RequestId, HttpResponse<'a>),
    /// An HTTP request failed before any answer (DNS, TCP, TLS).
    HttpFailed(RequestId, String),
    /// The WebSocket upgrade succeeded.
    WsOpened,
    /// The upgrade was refused (`status` set) or the connection failed.
    WsConnectFailed {
        /// HTTP status of a refused upgrade.
        status: Option<u16>,
        /// The refusal's `x-amzn-ErrorType` header.
        error_type: Option<&'a str>,
        /// The refusal body or the transport error.
        message: String,
    },
    /// A text frame arrived.
    WsText(&'a str),
    /// The WebSocket closed or broke.
    WsClosed(String),
    /// Writing a [`Output::WsSend`] frame failed; the frame goes back to the head of the queue.
    WsSendFailed {
        /// The frame that was not written.
        frame: String,
        /// Why the write failed.
        reason: String,
    },
}

/// Something the driver must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Ask the credential provider; answer with [`Input::Credentials`].
    FetchCredentials,
    /// Make this HTTP request.
    Http(HttpRequest),
    /// Open a WebSocket to this presigned URL.
    WsConnect(PresignedUrl),
    /// Send this text frame on the open WebSocket.
    WsSend(String),
    /// Send a WebSocket ping (keep-alive).
    WsPing,
    /// Close the WebSocket.
    WsClose,
    /// Tell the application.
    Event(Event),
}

/// A message for a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// SDP_OFFER, SDP_ANSWER or ICE_CANDIDATE.
    pub action: Action,
    /// Master only: the viewer to deliver to.
    pub recipient_client_id: Option<String>,
    /// Echoed in a STATUS_RESPONSE if delivery fails.
    pub correlation_id: Option<String>,
    /// The raw payload (usually JSON); the client base64-encodes it.
    pub payload: Vec<u8>,
}

/// A message checked against the service's rules and encoded as its wire frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedMessage {
    action: Action,
    frame: String,
}

impl PreparedMessage {
    /// The JSON frame that will be sent.
    pub fn as_str(&self) -> &str {
        &self.frame
    }
}

impl OutgoingMessage {
    /// Checks the message against the service's rules for a client of `role` and encodes it.
    /// Needs no session state, so callers can do this work on their own task.
    pub fn prepare(self, role: ChannelRole) -> Result<PreparedMessage, SendError> {
        let recipient = match (role, self.recipient_client_id) {
            (ChannelRole::Master, None) => return Err(SendError::MissingRecipient),
            (ChannelRole::Viewer, Some(_)) => return Err(SendError::RecipientNotAllowed),
            (_, r) => r,
        };
        if recipient.as_deref().is_some_and(|r| !wire::is_valid_id(r)) {
            return Err(SendError::InvalidId("recipientClientId"));
        }
        if self
            .correlation_id
            .as_deref()
            .is_some_and(|c| !wire::is_valid_id(c))
        {
            return Err(SendError::InvalidId("correlationId"));
        }
        if self.payload.is_empty() {
            return Err(SendError::EmptyPayload);
        }
        let message_payload = wire::encode_payload(&self.payload);
        if message_payload.len() > wire::MAX_PAYLOAD_LEN {
            return Err(SendError::PayloadTooLarge {
                len: message_payload.len(),
            });
        }
        let frame = ClientFrame {
            action: self.action,
            recipient_client_id: recipient,
            message_payload,
            correlation_id: self.correlation_id,
        };
        Ok(PreparedMessage {
            action: frame.action,
            frame: frame.to_json(),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    /// The in-flight call or connect must finish by then.
    Call,
    /// Retry the current step then.
    Retry,
    /// Ping the service if nothing was sent or received since.
    Ping,
    /// Fetch the ICE servers again before their credentials expire.
    IceRefresh,
    /// Replace the connection before the service's maximum duration or the credentials end.
    Reconnect,
    /// Send the next queued message once the send rate allows it.
    Pace,
}

const TIMERS: usize = 6;

/// The WebSocket as the core knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Socket {
    /// No socket.
    Closed,
    /// The session's socket.
    Open,
    /// Still open and readable, but being replaced (GO_AWAY or a proactive reconnect).
    Draining,
}

/// What the session learned so far; reused across reconnects.
#[derive(Debug, Default)]
struct Session {
    credentials: Option<Credentials>,
    channel_arn: Option<String>,
    wss_endpoint: Option<String>,
    https_endpoint: Option<String>,
    message_ttl: Option<Duration>,
    version: Option<String>,
}

/// The signaling client state machine. See the module docs for the driving loop.
#[derive(Debug)]
pub struct Client {
    config: ClientConfig,
    state: State,
    session: Session,
    outputs: VecDeque<Output>,
    timers: [Option<Instant>; TIMERS],
    socket: Socket,
    ice_servers: Vec<IceServer>,
    last_activity: Option<Instant>,
    connected_at: Option<Instant>,
    in_flight: Option<RequestId>,
    next_request: u64,
    backoff: Backoff,
    early_ice: EarlyIce,
    queue: VecDeque<(Instant, PreparedMessage)>,
    /// This connection's SDP and ICE send rates.
    sdp_rate: Cell,
    ice_rate: Cell,
    auth_failures: u32,
    closed: bool,
    mono_anchor: Instant,
    wall_anchor: SystemTime,
    /// The service's clock minus ours, in milliseconds, applied to every signature.
    skew_ms: i64,
    skew_corrections: u32,
    metrics: Metrics,
    offer_at: Option<Instant>,
    call_started: Option<(Operation, Instant)>,
    ws_started: Option<Instant>,
    connected_since: Option<Instant>,
    ice_fetched: bool,
    deleting: bool,
    ws_early: bool,
}

impl Client {
    /// A client in state NEW. `now` and `wall_now` must be read at the same moment; later
    /// wall-clock times are derived from monotonic time.
    pub fn new(config: ClientConfig, now: Instant, wall_now: SystemTime) -> Self {
        let channel_arn = match &config.channel {
            ChannelRef::Arn(arn) => Some(arn.clone()),
            ChannelRef::Name(_) => None,
        };
        let cached = config
            .cached_endpoints
            .clone()
            .filter(|c| c.is_fresh(wall_now, config.endpoint_cache_ttl));
        Self {
            backoff: Backoff::new(config.retry, config.rng_seed.unwrap_or(0)),
            early_ice: EarlyIce::new(config.buffer_early_candidates),
            queue: VecDeque::new(),
            sdp_rate: Cell::default(),
            ice_rate: Cell::default(),
            config,
            state: State::New,
            session: Session {
                channel_arn: cached
                    .as_ref()
                    .map(|c| c.channel_arn.clone())
                    .or(channel_arn),
                wss_endpoint: cached.as_ref().map(|c| c.wss_endpoint.clone()),
                https_endpoint: cached.as_ref().map(|c| c.https_endpoint.clone()),
                message_ttl: cached
                    .as_ref()
                    .and_then(|c| c.message_ttl_seconds)
                    .map(|s| Duration::from_secs(s.into())),
                ..Session::default()
            },
            outputs: VecDeque::new(),
            timers: [None; TIMERS],
            socket: Socket::Closed,
            ice_servers: Vec::new(),
            last_activity: None,
            connected_at: None,
            in_flight: None,
            next_request: 0,
            auth_failures: 0,
            closed: false,
            mono_anchor: now,
            wall_anchor: wall_now,
            skew_ms: 0,
            skew_corrections: 0,
            metrics: Metrics::default(),
            offer_at: None,
            call_started: None,
            ws_started: None,
            connected_since: None,
            ice_fetched: false,
            deleting: false,
            ws_early: false,
        }
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The channel ARN, once known.
    pub fn channel_arn(&self) -> Option<&str> {
        self.session.channel_arn.as_deref()
    }

    /// The ICE servers of the last GetIceServerConfig, refreshed in the background before
    /// they expire; reading them never waits on the network.
    pub fn ice_servers(&self) -> &[IceServer] {
        &self.ice_servers
    }

    /// True once the session ended (after `close` or a fatal error).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Starts the flow towards CONNECTED.
    pub fn connect(&mut self, now: Instant) {
        if self.state == State::New {
            self.enter(now, State::GetCredentials);
        }
    }

    /// Deletes the channel (DELETE → DELETED) with its current Version, describing it first
    /// when the version is not known, then ends the session. The WebSocket is closed first.
    pub fn delete_channel(&mut self, now: Instant) {
        if self.closed || self.deleting {
            return;
        }
        self.deleting = true;
        if self.socket != Socket::Closed || self.state == State::Connecting {
            self.outputs.push_back(Output::WsClose);
        }
        self.socket = Socket::Closed;
        self.timers = [None; TIMERS];
        self.in_flight = None;
        let next = match (
            &self.session.credentials,
            &self.session.channel_arn,
            &self.session.version,
        ) {
            (None, _, _) => State::GetCredentials,
            (Some(_), Some(_), Some(_)) => State::Delete,
            (Some(_), _, _) => State::Describe,
        };
        self.enter(now, next);
    }

    /// Ends the session: closes the WebSocket if open and emits `Closed(None)`.
    pub fn close(&mut self) {
        if self.closed {
            return;
        }
        if self.socket != Socket::Closed || self.state == State::Connecting {
            self.outputs.push_back(Output::WsClose);
        }
        self.finish(None);
    }

    /// Sends a message to a peer, or queues it while the client is (re)connecting; queued
    /// messages go out in order right after CONNECTED unless older than the message TTL.
    /// Fails without queueing anything when the message breaks a service rule, the queue is
    /// full, or the session has ended.
    pub fn send(&mut self, now: Instant, msg: OutgoingMessage) -> Result<(), SendError> {
        let prepared = msg.prepare(self.config.role)?;
        self.send_prepared(now, prepared)
    }

    /// [`send`](Self::send) for a message already checked by [`OutgoingMessage::prepare`].
    pub fn send_prepared(&mut self, now: Instant, msg: PreparedMessage) -> Result<(), SendError> {
        if self.closed {
            return Err(SendError::NotConnected(State::Disconnected));
        }
        let connected = self.state == State::Connected;
        if connected && self.queue.is_empty() && self.admit(now, msg.action) {
            self.transmit(now, msg.action, msg.frame);
            self.touch(now);
            return Ok(());
        }
        if self.queue.len() >= self.config.send_queue_limit {
            return Err(SendError::QueueFull {
                limit: self.config.send_queue_limit,
            });
        }
        self.queue.push_back((now, msg));
        if connected {
            self.flush_queue(now);
        }
        Ok(())
    }

    /// A new connection starts with the full send rates, as the service counts per connection.
    fn new_send_rates(&mut self) {
        self.sdp_rate = Cell::default();
        self.ice_rate = Cell::default();
    }

    /// Takes one message of `action` out of this connection's send rate, if it allows one now.
    fn admit(&mut self, now: Instant, action: Action) -> bool {
        let Some(limits) = self.config.send_rate else {
            return true;
        };
        match action {
            Action::IceCandidate => self.ice_rate.admit(now, limits.ice_per_connection),
            Action::SdpOffer | Action::SdpAnswer => {
                self.sdp_rate.admit(now, limits.sdp_per_connection)
            }
        }
    }

    /// When the send rate will allow a message of `action`.
    fn rate_ready_at(&self, action: Action) -> Option<Instant> {
        let limits = self.config.send_rate?;
        match action {
            Action::IceCandidate => self.ice_rate.ready_at(limits.ice_per_connection),
            Action::SdpOffer | Action::SdpAnswer => {
                self.sdp_rate.ready_at(limits.sdp_per_connection)
            }
        }
    }

    /// Writes a frame and counts it; an answer closes the offer→answer clock of a master.
    fn transmit(&mut self, now: Instant, action: Action, frame: String) {
        self.metrics.messages_sent += 1;
        match (action, self.config.role) {
            (Action::SdpOffer, ChannelRole::Viewer) => self.offer_at = Some(now),
            (Action::SdpAnswer, ChannelRole::Master) => self.close_offer_clock(now),
            _ => {}
        }
        self.outputs.push_back(Output::WsSend(frame));
    }

    fn close_offer_clock(&mut self, now: Instant) {
        if let Some(at) = self.offer_at.take() {
            self.metrics.offer_to_answer_ms =
                Some(now.saturating_duration_since(at).as_millis() as u64);
        }
    }

    /// Counters and latencies so far.
    pub fn metrics(&self, now: Instant) -> Metrics {
        let mut metrics = self.metrics.clone();
        if let Some(since) = self.connected_since {
            metrics.connected_ms += now.saturating_duration_since(since).as_millis() as u64;
        }
        metrics
    }

    /// Messages waiting for the connection.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    fn message_ttl(&self) -> Duration {
        self.config
            .message_ttl
            .or(self.session.message_ttl)
            .unwrap_or(Duration::from_secs(60))
    }

    /// Sends what was queued, in order, as fast as the send rate allows, dropping (and
    /// reporting) expired messages; arms the pacing timer for the rest.
    fn flush_queue(&mut self, now: Instant) {
        let ttl = self.message_ttl();
        self.set_timer(Timer::Pace, None);
        while let Some((queued_at, msg)) = self.queue.front() {
            let age = now.saturating_duration_since(*queued_at);
            let action = msg.action;
            if age > ttl {
                self.queue.pop_front();
                self.emit(Event::Error(Error::MessageExpired {
                    age_secs: age.as_secs(),
                    ttl_secs: ttl.as_secs(),
                }));
            } else if self.admit(now, action) {
                let (_, msg) = self.queue.pop_front().expect("peeked above");
                self.transmit(now, msg.action, msg.frame);
                self.touch(now);
            } else {
                self.set_timer(Timer::Pace, self.rate_ready_at(action));
                break;
            }
        }
    }

    /// The next thing to do, if any. Drain it after every call that takes `now`.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When to call back with [`Input::Timeout`].
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.iter().flatten().min().copied()
    }

    /// Feeds an observation into the state machine.
    pub fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        if self.closed {
            return;
        }
        match input {
            Input::Timeout => self.handle_timeout(now),
            Input::Credentials(result) => self.handle_credentials(now, result),
            Input::HttpResponse(id, resp) if self.take_in_flight(id) => {
                self.record_call(now, resp.status == 200);
                self.handle_http(now, resp)
            }
            Input::HttpFailed(id, message) if self.take_in_flight(id) => {
                self.record_call(now, false);
                let during = self.state;
                self.fail(now, Error::Transport { during, message })
            }
            Input::HttpResponse(..) | Input::HttpFailed(..) => {} // a stale answer
            Input::WsOpened if self.ws_early && self.state == State::GetIceConfig => {
                // The parallel upgrade won the race; CONNECTED follows the ICE answer.
                self.ws_early = false;
                self.record_ws_connect(now, true);
                self.socket = Socket::Open;
                self.connected_at = Some(now);
                self.new_send_rates();
            }
            Input::WsConnectFailed { message, .. }
                if self.ws_early && self.state == State::GetIceConfig =>
            {
                // CONNECTING will try again; the ICE step goes on.
                self.ws_early = false;
                self.record_ws_connect(now, false);
                debug_assert!(!message.is_empty() || message.is_empty());
            }
            Input::WsOpened if self.state == State::Connecting => {
                self.set_timer(Timer::Call, None);
                self.record_ws_connect(now, true);
                self.auth_failures = 0;
                self.skew_corrections = 0;
                self.socket = Socket::Open; // the driver retires any draining socket
                self.connected_at = Some(now);
                self.new_send_rates();
                self.enter(now, State::Connected);
            }
            Input::WsConnectFailed {
                status,
                error_type,
                message,
            } if self.state == State::Connecting => {
                self.set_timer(Timer::Call, None);
                self.record_ws_connect(now, false);
                let during = self.state;
                let err = match status {
                    Some(status) => service_error(during, status, error_type, message.as_bytes()),
                    None => Error::Transport { during, message },
                };
                self.fail(now, err);
            }
            Input::WsText(text) if self.socket != Socket::Closed => {
                self.touch(now);
                self.handle_frame(now, text)
            }
            Input::WsSendFailed { frame, reason } => {
                self.metrics.messages_sent = self.metrics.messages_sent.saturating_sub(1);
                let action = ClientFrame::parse(&frame).map_or(Action::IceCandidate, |f| f.action);
                self.queue
                    .push_front((now, PreparedMessage { action, frame }));
                if self.state == State::Connected {
                    self.handle_input(now, Input::WsClosed(reason));
                }
            }
            Input::WsClosed(_) if self.socket == Socket::Draining => self.socket = Socket::Closed,
            Input::WsClosed(reason) if self.socket == Socket::Open => {
                self.socket = Socket::Closed;
                self.set_timer(Timer::Ping, None);
                if self.state == State::Connected {
                    let during = self.state;
                    self.enter(now, State::Disconnected);
                    self.fail(
                        now,
                        Error::Transport {
                            during,
                            message: format!("the WebSocket closed: {reason}"),
                        },
                    );
                }
            }
            Input::WsOpened
            | Input::WsConnectFailed { .. }
            | Input::WsText(_)
            | Input::WsClosed(_) => {}
        }
    }

    fn record_call(&mut self, now: Instant, ok: bool) {
        if let Some((operation, started)) = self.call_started.take() {
            let name = format!("{operation:?}");
            let latency = now.saturating_duration_since(started);
            self.metrics
                .api_calls
                .entry(name)
                .or_default()
                .record(latency, ok);
        }
    }

    fn record_ws_connect(&mut self, now: Instant, ok: bool) {
        if let Some(started) = self.ws_started.take() {
            let latency = now.saturating_duration_since(started);
            self.metrics.ws_connects.record(latency, ok);
            if ok && self.metrics.ws_connects.count - self.metrics.ws_connects.failures > 1 {
                self.metrics.reconnects += 1;
            }
        }
    }

    fn take_in_flight(&mut self, id: RequestId) -> bool {
        if self.in_flight == Some(id) {
            self.in_flight = None;
            self.set_timer(Timer::Call, None);
            true
        } else {
            false
        }
    }

    fn set_timer(&mut self, timer: Timer, at: Option<Instant>) {
        self.timers[timer as usize] = at;
    }

    fn due(&mut self, timer: Timer, now: Instant) -> bool {
        let due = self.timers[timer as usize].is_some_and(|t| t <= now);
        if due {
            self.set_timer(timer, None);
        }
        due
    }

    /// Notes traffic on the socket, which postpones the keep-alive ping.
    fn touch(&mut self, now: Instant) {
        self.last_activity = Some(now);
        if self.state == State::Connected {
            self.set_timer(Timer::Ping, Some(now + self.config.ping_interval));
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        let connected = self.state == State::Connected;
        if self.due(Timer::Ping, now) && connected {
            self.outputs.push_back(Output::WsPing);
            self.touch(now);
        }
        if self.due(Timer::IceRefresh, now) && connected {
            self.enter(now, State::GetIceConfig); // the socket stays open meanwhile
        }
        if self.due(Timer::Reconnect, now) && connected {
            self.replace_connection(now);
        }
        if self.due(Timer::Pace, now) && connected {
            self.flush_queue(now);
        }
        if self.timers[Timer::Retry as usize].is_some_and(|t| t <= now) {
            self.set_timer(Timer::Retry, None);
            let state = self.state;
            self.run_step(now, state);
        }
        if self.timers[Timer::Call as usize].is_some_and(|t| t <= now) {
            self.set_timer(Timer::Call, None);
            self.in_flight = None;
            let during = self.state;
            if during == State::Connecting {
                self.outputs.push_back(Output::WsClose);
            }
            let secs = self.config.call_timeout.as_secs();
            self.fail(now, Error::Timeout { during, secs });
        }
    }

    fn wall_time(&self, now: Instant) -> SystemTime {
        self.wall_anchor + now.saturating_duration_since(self.mono_anchor)
    }

    /// The time to sign with: our clock corrected by the estimated skew.
    fn signing_time(&self, now: Instant) -> SystemTime {
        let local = self.wall_time(now);
        let offset = Duration::from_millis(self.skew_ms.unsigned_abs());
        if self.skew_ms >= 0 {
            local + offset
        } else {
            local.checked_sub(offset).unwrap_or(local)
        }
    }

    /// The estimated offset of the service's clock from ours (positive: the service is ahead).
    pub fn clock_skew(&self) -> std::time::Duration {
        Duration::from_millis(self.skew_ms.unsigned_abs())
    }

    /// True when the service's clock is behind ours.
    pub fn clock_skew_is_behind(&self) -> bool {
        self.skew_ms < 0
    }

    /// Learns the service's time; returns true when the estimate moved by more than `min`.
    fn observe_service_time(&mut self, now: Instant, service: SystemTime, min: Duration) -> bool {
        let local = self.wall_time(now);
        let skew_ms = match service.duration_since(local) {
            Ok(ahead) => ahead.as_millis() as i64,
            Err(behind) => -(behind.duration().as_millis() as i64),
        };
        if (skew_ms - self.skew_ms).unsigned_abs() > min.as_millis() as u64 {
            self.skew_ms = skew_ms;
            self.emit(Event::ClockSkew { skew_ms });
            return true;
        }
        false
    }

    fn emit(&mut self, event: Event) {
        match &event {
            Event::Error(_) | Event::Closed(Some(_)) => self.metrics.errors += 1,
            Event::Retrying { .. } => {
                self.metrics.errors += 1;
                self.metrics.retries += 1;
            }
            Event::Message(_) => self.metrics.messages_received += 1,
            _ => {}
        }
        self.outputs.push_back(Output::Event(event));
    }

    /// Moves to `state`, announces it and starts its work.
    fn enter(&mut self, now: Instant, state: State) {
        if self.state != state {
            if let Some(since) = self.connected_since.take() {
                self.metrics.connected_ms +=
                    now.saturating_duration_since(since).as_millis() as u64;
            }
            if state == State::Connected {
                self.connected_since = Some(now);
            }
            if !matches!(
                state,
                State::GetIceConfig | State::Ready | State::Connecting
            ) {
                self.ws_early = false; // a parallel upgrade still under way is now stale
            }
            self.state = state;
            self.emit(Event::StateChanged(state));
        }
        self.run_step(now, state);
    }

    /// CONNECTED: send what waited, and arm the keep-alive and the proactive reconnect.
    fn on_connected(&mut self, now: Instant) {
        self.flush_queue(now);
        self.touch(now);
        let connected_at = self.connected_at.unwrap_or(now);
        let by_duration = connected_at + self.config.max_connection_duration;
        let by_credentials = self
            .session
            .credentials
            .as_ref()
            .and_then(Credentials::expiry)
            .map(|expiry| {
                now + expiry
                    .duration_since(self.wall_time(now))
                    .unwrap_or_default()
            });
        let deadline = by_credentials.map_or(by_duration, |c| c.min(by_duration));
        let at = deadline
            .checked_sub(self.config.reconnect_margin)
            .unwrap_or(now)
            .max(now + Duration::from_secs(1));
        self.set_timer(Timer::Reconnect, Some(at));
    }

    /// Opens a new connection while the current one keeps delivering, then retires it
    /// (GO_AWAY, the maximum connection duration, expiring credentials).
    fn replace_connection(&mut self, now: Instant) {
        if self.socket == Socket::Open {
            self.socket = Socket::Draining;
        }
        self.set_timer(Timer::Ping, None);
        let credentials_expiring = self
            .session
            .credentials
            .as_ref()
            .and_then(Credentials::expiry)
            .is_some_and(|e| e <= self.wall_time(now) + self.config.reconnect_margin);
        let next = if credentials_expiring {
            State::GetCredentials
        } else {
            State::GetEndpoint
        };
        self.enter(now, next);
    }

    /// Starts the work of `state` (also used to retry it).
    fn run_step(&mut self, now: Instant, state: State) {
        match state {
            State::GetCredentials => self.outputs.push_back(Output::FetchCredentials),
            State::Describe => {
                let input = match &self.config.channel {
                    ChannelRef::Name(name) => DescribeSignalingChannelInput {
                        channel_name: Some(name.clone()),
                        channel_arn: None,
                    },
                    ChannelRef::Arn(arn) => DescribeSignalingChannelInput {
                        channel_name: None,
                        channel_arn: Some(arn.clone()),
                    },
                };
                self.call(now, Operation::DescribeSignalingChannel, &input);
            }
            State::Create => {
                let ChannelRef::Name(name) = &self.config.channel else {
                    unreachable!("CREATE is entered only for channels given by name")
                };
                let input = CreateSignalingChannelInput {
                    channel_name: name.clone(),
                    channel_type: Some(self.config.channel_type),
                    single_master_configuration: self.config.message_ttl_seconds.map(|ttl| {
                        SingleMasterConfiguration {
                            message_ttl_seconds: Some(ttl),
                        }
                    }),
                    tags: None,
                };
                self.call(now, Operation::CreateSignalingChannel, &input);
            }
            State::GetEndpoint => {
                let input = GetSignalingChannelEndpointInput {
                    channel_arn: self.arn().to_owned(),
                    single_master_channel_endpoint_configuration: Some(
                        SingleMasterChannelEndpointConfiguration {
                            protocols: Some(vec![ChannelProtocol::Wss, ChannelProtocol::Https]),
                            role: Some(self.config.role),
                        },
                    ),
                };
                self.call(now, Operation::GetSignalingChannelEndpoint, &input);
            }
            State::GetIceConfig => {
                let input = GetIceServerConfigInput {
                    channel_arn: self.arn().to_owned(),
                    client_id: (self.config.role == ChannelRole::Viewer)
                        .then(|| self.config.client_id.clone()),
                    service: Some("TURN".into()),
                    username: None,
                };
                self.call(now, Operation::GetIceServerConfig, &input);
                // The upgrade does not depend on the ICE answer: start it in parallel, which
                // saves a round trip and a TLS handshake of waiting on every (re)connect.
                if self.socket != Socket::Open && !self.ws_early && !self.closed {
                    self.ws_early = true;
                    self.presign_and_connect(now);
                }
            }
            // After an ICE refresh the socket is still open: no new connection is needed.
            State::Ready if self.socket == Socket::Open => {
                self.connected_at.get_or_insert(now);
                self.enter(now, State::Connected)
            }
            State::Ready => self.enter(now, State::Connecting),
            State::Connecting => self.open_websocket(now),
            State::Connected => self.on_connected(now),
            State::Delete => {
                let input = DeleteSignalingChannelInput {
                    channel_arn: self.arn().to_owned(),
                    current_version: self.session.version.clone(),
                };
                self.call(now, Operation::DeleteSignalingChannel, &input);
            }
            State::Deleted => self.finish(None),
            State::New | State::Disconnected => {}
        }
    }

    fn arn(&self) -> &str {
        self.session
            .channel_arn
            .as_deref()
            .expect("the ARN is known before any per-channel call")
    }

    fn credentials(&self) -> &Credentials {
        self.session
            .credentials
            .as_ref()
            .expect("credentials are fetched before any signed call")
    }

    /// Signs and emits one API call, and arms its timeout.
    fn call(&mut self, now: Instant, operation: Operation, input: &impl serde::Serialize) {
        let base = match operation {
            Operation::GetIceServerConfig => self
                .session
                .https_endpoint
                .clone()
                .expect("GetIceServerConfig runs after GetSignalingChannelEndpoint"),
            _ => self.config.endpoint.clone(),
        };
        let url = format!("{}{}", base.trim_end_matches('/'), operation.path());
        let body = serde_json::to_vec(input).expect("API inputs always serialise");
        let content_type = [("content-type", "application/json")];
        let request = RequestToSign {
            method: "POST",
            url: &url,
            headers: &content_type,
            body: &body,
        };
        let signed = sigv4::sign_headers(
            request,
            self.credentials(),
            &self.config.region,
            self.signing_time(now),
        );
        let signature_headers = match signed {
            Ok(h) => h,
            Err(e) => {
                let during = self.state;
                return self.fail(
                    now,
                    Error::InvalidResponse {
                        during,
                        message: format!("{e} (is the endpoint URL '{base}' valid?)"),
                    },
                );
            }
        };
        let id = RequestId(self.next_request);
        self.next_request += 1;
        self.call_started = Some((operation, now));
        self.in_flight = Some(id);
        self.set_timer(Timer::Call, Some(now + self.config.call_timeout));
        let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
        headers.extend(
            signature_headers
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v)),
        );
        self.outputs.push_back(Output::Http(HttpRequest {
            id,
            operation,
            url,
            headers,
            body,
        }));
    }

    /// CONNECTING: wait for the upgrade started during GET_ICE_CONFIG, or start one.
    fn open_websocket(&mut self, now: Instant) {
        self.set_timer(Timer::Call, Some(now + self.config.call_timeout));
        if !std::mem::take(&mut self.ws_early) {
            self.presign_and_connect(now);
        }
    }

    /// True while the core waits for an upgrade; a socket that opens at any other time is
    /// stale and the driver closes it.
    pub fn expects_socket(&self) -> bool {
        self.state == State::Connecting || (self.ws_early && self.state == State::GetIceConfig)
    }

    fn presign_and_connect(&mut self, now: Instant) {
        let endpoint = self
            .session
            .wss_endpoint
            .clone()
            .expect("CONNECTING follows GET_ENDPOINT");
        let mut params = vec![("X-Amz-ChannelARN", self.arn())];
        if self.config.role == ChannelRole::Viewer {
            params.push(("X-Amz-ClientId", self.config.client_id.as_str()));
        }
        let url = format!("{endpoint}?{}", sigv4::encode_query(params));
        let presigned = sigv4::presign_url(
            &url,
            self.credentials(),
            &self.config.region,
            self.signing_time(now),
            self.config.presign_expires,
        );
        match presigned {
            Ok(url) => {
                self.ws_started = Some(now);
                self.outputs.push_back(Output::WsConnect(PresignedUrl(url)));
            }
            Err(e) => {
                self.ws_early = false;
                self.fail(
                    now,
                    Error::InvalidResponse {
                        during: State::GetEndpoint,
                        message: format!("the WSS endpoint '{endpoint}' cannot be presigned: {e}"),
                    },
                )
            }
        }
    }

    fn handle_credentials(&mut self, now: Instant, result: Result<Credentials, String>) {
        if self.state != State::GetCredentials {
            return;
        }
        match result {
            Ok(creds) => {
                self.session.credentials = Some(creds);
                let next = match (&self.session.channel_arn, &self.session.version) {
                    (Some(_), Some(_)) if self.deleting => State::Delete,
                    _ if self.deleting => State::Describe,
                    (Some(_), _) if self.session.wss_endpoint.is_some() => State::GetIceConfig,
                    (Some(_), _) => State::GetEndpoint,
                    (None, _) => State::Describe,
                };
                self.enter(now, next);
            }
            Err(message) => self.fail(now, Error::Credentials(message)),
        }
    }

    fn handle_http(&mut self, now: Instant, resp: HttpResponse<'_>) {
        if let Some(service_time) = resp.date.and_then(|d| httpdate::parse_http_date(d).ok()) {
            self.observe_service_time(now, service_time, Duration::from_secs(5));
        }
        let during = self.state;
        if resp.status != 200 {
            let err = service_error(during, resp.status, resp.error_type, resp.body);
            return self.fail(now, err);
        }
        let next = match during {
            State::Describe => {
                parse::<DescribeSignalingChannelOutput>(during, resp.body).map(|out| {
                    let info = out.channel_info;
                    self.session.message_ttl = Some(info.message_ttl());
                    self.session.channel_arn = Some(info.channel_arn);
                    self.session.version = Some(info.version);
                    if self.deleting {
                        State::Delete
                    } else {
                        State::GetEndpoint
                    }
                })
            }
            State::Create => Ok(State::Describe),
            State::Delete => Ok(State::Deleted),
            State::GetEndpoint => parse::<GetSignalingChannelEndpointOutput>(during, resp.body)
                .and_then(|out| self.store_endpoints(now, out)),
            State::GetIceConfig => {
                parse::<GetIceServerConfigOutput>(during, resp.body).map(|out| {
                    self.store_ice_servers(now, out.ice_server_list);
                    State::Ready
                })
            }
            _ => return,
        };
        match next {
            Ok(state) => self.enter(now, state),
            Err(err) => self.fail(now, err),
        }
    }

    fn store_ice_servers(&mut self, now: Instant, servers: Vec<IceServer>) {
        let refresh = servers.iter().map(|s| s.ttl).min().map(|ttl| {
            let ttl = Duration::from_secs(ttl.into());
            now + ttl
                .saturating_sub(self.config.ice_refresh_margin)
                .max(Duration::from_secs(1))
        });
        self.set_timer(Timer::IceRefresh, refresh);
        if std::mem::replace(&mut self.ice_fetched, true) {
            self.metrics.ice_refreshes += 1;
        }
        self.ice_servers = servers.clone();
        self.emit(Event::IceServers(servers));
    }

    fn store_endpoints(
        &mut self,
        now: Instant,
        out: GetSignalingChannelEndpointOutput,
    ) -> Result<State, Error> {
        for item in out.resource_endpoint_list {
            match item.protocol {
                ChannelProtocol::Wss => self.session.wss_endpoint = Some(item.resource_endpoint),
                ChannelProtocol::Https => {
                    self.session.https_endpoint = Some(item.resource_endpoint)
                }
                ChannelProtocol::Webrtc => {}
            }
        }
        let (Some(wss), Some(https)) = (&self.session.wss_endpoint, &self.session.https_endpoint)
        else {
            return Err(Error::InvalidResponse {
                during: State::GetEndpoint,
                message: "ResourceEndpointList lacks the WSS or HTTPS endpoint".into(),
            });
        };
        let fetched_at = self
            .wall_time(now)
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let entry = CachedEndpoints {
            channel_arn: self.arn().to_owned(),
            wss_endpoint: wss.clone(),
            https_endpoint: https.clone(),
            message_ttl_seconds: self.session.message_ttl.map(|t| t.as_secs() as u32),
            fetched_at,
        };
        self.emit(Event::EndpointsResolved(entry));
        Ok(State::GetIceConfig)
    }

    fn handle_frame(&mut self, now: Instant, text: &str) {
        let frame = match ServiceFrame::parse(text) {
            Ok(frame) => frame,
            Err(e) => return self.emit(Event::Error(Error::Frame(e))),
        };
        let event = match frame.message_type {
            MessageType::SdpOffer | MessageType::SdpAnswer | MessageType::IceCandidate => {
                let b64 = frame.message_payload.unwrap_or_default();
                match wire::decode_payload(&b64) {
                    Ok(payload) => {
                        let msg = ReceivedMessage {
                            message_type: frame.message_type,
                            sender_client_id: frame.sender_client_id,
                            payload,
                        };
                        for ready in self.early_ice.admit(msg).into_messages() {
                            match (ready.message_type, self.config.role) {
                                (MessageType::SdpOffer, ChannelRole::Master) => {
                                    self.offer_at = Some(now)
                                }
                                (MessageType::SdpAnswer, ChannelRole::Viewer) => {
                                    self.close_offer_clock(now)
                                }
                                _ => {}
                            }
                            self.emit(Event::Message(ready));
                        }
                        return;
                    }
                    Err(e) => Event::Error(Error::Frame(e)),
                }
            }
            MessageType::StatusResponse => {
                Event::StatusResponse(frame.status_response.unwrap_or_default())
            }
            MessageType::GoAway => {
                self.emit(Event::GoAway);
                if self.state == State::Connected {
                    self.socket = Socket::Draining;
                    self.set_timer(Timer::Ping, None);
                    self.enter(now, State::Describe);
                }
                return;
            }
            MessageType::ReconnectIceServer => {
                self.emit(Event::ReconnectIceServer);
                if self.state == State::Connected {
                    self.enter(now, State::GetIceConfig);
                }
                return;
            }
        };
        self.emit(event);
    }

    /// Routes a failure: auth errors re-fetch credentials once, a missing channel is
    /// described or created, other failures retry the step with backoff until the budget
    /// is spent.
    fn fail(&mut self, now: Instant, err: Error) {
        let during = err_state(&err).unwrap_or(self.state);
        if let Some(service_time) = err.service_time_from_skew_error() {
            self.observe_service_time(now, service_time, Duration::ZERO);
            if self.skew_corrections < 3 {
                // Re-sign with the corrected clock right away; this is not a key problem.
                self.skew_corrections += 1;
                self.emit(Event::Error(err));
                let retry = if during == State::Connecting {
                    State::Ready
                } else {
                    during
                };
                return self.enter(now, retry);
            }
        }
        let next = match &err {
            Error::Service { status: 404, .. } if during == State::Delete => Some(State::Deleted),
            Error::Service {
                status: 400,
                error_type: Some(t),
                ..
            } if during == State::Delete && t == "VersionMismatchException" => {
                Some(State::Describe)
            }
            Error::Service {
                status: 401 | 403, ..
            } if self.auth_failures == 0 => {
                self.auth_failures += 1;
                Some(State::GetCredentials)
            }
            e if e.is_auth() => return self.finish(Some(err)),
            Error::Service { status: 404, .. } => match during {
                State::Describe if self.config.create_if_missing => Some(State::Create),
                State::Describe => {
                    let name = match &self.config.channel {
                        ChannelRef::Name(n) | ChannelRef::Arn(n) => n.clone(),
                    };
                    return self.finish(Some(Error::ChannelNotFound(name)));
                }
                State::Create => None,
                _ if matches!(self.config.channel, ChannelRef::Name(_)) => {
                    // A stale ARN (the channel was re-created): forget what was cached.
                    self.session.channel_arn = None;
                    self.session.wss_endpoint = None;
                    self.session.https_endpoint = None;
                    Some(State::Describe)
                }
                _ => None,
            },
            Error::Service {
                status: 400,
                error_type: Some(t),
                ..
            } if during == State::Create && t == "ResourceInUseException" => {
                Some(State::Describe) // someone else created it meanwhile
            }
            _ => None,
        };
        if let Some(state) = next {
            // A missing channel that we are about to create is the normal path, not an error.
            if state != State::Create {
                self.emit(Event::Error(err));
            }
            return self.enter(now, state);
        }
        let retryable = err.is_retryable()
            || matches!(
                err,
                Error::Service { status: 404, .. } | Error::InvalidResponse { .. }
            );
        if !retryable {
            return self.finish(Some(err));
        }
        let Some((attempt, delay)) = self.backoff.next(now) else {
            return self.finish(Some(Error::GaveUp {
                attempts: self.backoff.attempts() + 1,
                last: Box::new(err),
            }));
        };
        let retry_state = match during {
            State::Connected | State::Disconnected => State::Ready,
            State::Connecting => State::GetEndpoint,
            s => s,
        };
        self.emit(Event::Retrying {
            attempt,
            delay,
            cause: err,
        });
        if self.state != retry_state {
            self.state = retry_state;
            self.emit(Event::StateChanged(retry_state));
        }
        self.set_timer(Timer::Retry, Some(now + delay));
    }

    fn finish(&mut self, err: Option<Error>) {
        self.timers = [None; TIMERS];
        self.in_flight = None;
        self.closed = true;
        if !matches!(self.state, State::Disconnected | State::Deleted) {
            self.state = State::Disconnected;
            self.emit(Event::StateChanged(State::Disconnected));
        }
        self.emit(Event::Closed(err));
    }
}

fn err_state(err: &Error) -> Option<State> {
    match err {
        Error::Service { during, .. }
        | Error::Transport { during, .. }
        | Error::Timeout { during, .. }
        | Error::InvalidResponse { during, .. } => Some(*during),
        _ => None,
    }
}

fn parse<T: serde::de::DeserializeOwned>(during: State, body: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| Error::InvalidResponse {
        during,
        message: e.to_string(),
    })
}

fn service_error(during: State, status: u16, error_type: Option<&str>, body: &[u8]) -> Error {
    let message = serde_json::from_slice::<ErrorBody>(body)
        .map(|b| b.message)
        .unwrap_or_else(|_| String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned());
    Error::Service {
        during,
        status,
        error_type: error_type.map(|t| t.split(':').next().unwrap_or(t).to_owned()),
        message,
    }
}

#[cfg(test)]
mod tests;
