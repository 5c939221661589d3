//! The signaling client as a sans-IO state machine.
//!
//! Drive it like this: call [`Client::connect`], then loop: drain [`Client::poll_output`] and
//! perform each [`Output`] (fetch credentials, make the HTTP request, open the WebSocket…),
//! feed results back with [`Client::handle_input`], and wake up at [`Client::poll_timeout`]
//! with [`Input::Timeout`]. Every method takes the current monotonic time; the wall clock used
//! for signatures is derived from the one given to [`Client::new`].

mod cache;
mod clock;
mod config;
mod driving;
mod duplicates;
mod early_ice;
mod error;
mod event;
mod failure;
mod metrics;
mod refresh;
mod retry;
mod sending;
mod steps;

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime};

pub use cache::{CachedEndpoints, EndpointCacheFile, cache_key};
pub use config::{
    ChannelRef, ClientConfig, ClientConfigBuilder, DEFAULT_CALL_TIMEOUT, default_endpoint,
};
pub use driving::{HttpRequest, HttpResponse, Input, Output, PresignedUrl, RequestId};
pub use error::{Error, SendError};
pub use event::{Event, ReceivedMessage, State};
pub use metrics::{CallStats, Metrics};
pub use retry::RetryPolicy;
pub use sending::{OutgoingMessage, PreparedMessage};

use duplicates::RecentlyDelivered;
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
    /// The pong for the last ping must have arrived by then.
    Pong,
    /// Fetch new credentials before the current ones expire.
    CredentialsRefresh,
}

const TIMERS: usize = 8;

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
    /// Frames written on the current socket that no pong has confirmed yet, oldest first;
    /// sent again on the next connection if this one is lost.
    unacked: VecDeque<(Instant, PreparedMessage)>,
    /// How many of `unacked` the outstanding ping covers (all written before it).
    ping_covers: usize,
    /// Peer messages delivered within the message TTL, to drop repeats.
    delivered: RecentlyDelivered,
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
    /// A GetIceServerConfig is in flight while the client stays CONNECTED.
    ice_refreshing: bool,
    /// New credentials are being fetched in the background (the flow is elsewhere).
    credentials_refreshing: bool,
    /// Failed background credential refreshes in a row.
    credentials_failures: u32,
    /// Spreads credential refreshes over time.
    refresh_jitter: retry::Jitter,
    deleting: bool,
    ws_early: bool,
    /// Stop at READY instead of connecting (after `fetch` or `disconnect`).
    hold_at_ready: bool,
    /// While held at READY: when the ICE servers need fetching again.
    ice_due: Option<Instant>,
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
        // A stream of its own, so refresh times do not shift with the retries made.
        let refresh_seed = config.rng_seed.unwrap_or(0) ^ 0x6372_6564_656e_7473;
        Self {
            backoff: Backoff::new(config.retry, config.rng_seed.unwrap_or(0)),
            early_ice: EarlyIce::new(config.buffer_early_candidates),
            queue: VecDeque::new(),
            unacked: VecDeque::new(),
            ping_covers: 0,
            delivered: RecentlyDelivered::default(),
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
            ice_refreshing: false,
            credentials_refreshing: false,
            credentials_failures: 0,
            refresh_jitter: retry::Jitter::new(refresh_seed),
            deleting: false,
            ws_early: false,
            hold_at_ready: false,
            ice_due: None,
        }
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The configuration the client was made with (the driver reads its timeouts here).
    pub fn config(&self) -> &ClientConfig {
        &self.config
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

    /// The monotonic instant the client was created at (tests derive wall time from it).
    #[cfg(test)]
    pub(crate) fn mono_anchor_for_tests(&self) -> Instant {
        self.mono_anchor
    }

    /// True once the session ended (after `close` or a fatal error).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Starts the flow towards CONNECTED: from NEW all the way, from READY (after
    /// [`fetch`](Self::fetch) or [`disconnect`](Self::disconnect)) straight to CONNECTING,
    /// fetching the ICE servers first if they are due. Elsewhere it lets a running fetch go
    /// on to CONNECTED.
    pub fn connect(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        self.hold_at_ready = false;
        match self.state {
            State::New => self.enter(now, State::GetCredentials),
            State::Ready => match self.ice_due.take() {
                Some(due) if due > now => {
                    self.set_timer(Timer::IceRefresh, Some(due));
                    self.enter(now, State::Connecting);
                }
                _ => self.enter(now, State::GetIceConfig),
            },
            _ => {}
        }
    }

    /// Fetches credentials, the channel, its endpoints and ICE servers, and stops at READY
    /// without connecting (the C SDK's `signalingClientFetchSync`).
    pub fn fetch(&mut self, now: Instant) {
        if self.state == State::New && !self.closed {
            self.hold_at_ready = true;
            self.enter(now, State::GetCredentials);
        }
    }

    /// Closes the WebSocket and goes back to READY, keeping what was fetched, so that
    /// [`connect`](Self::connect) can connect again (the C SDK's
    /// `signalingClientDisconnectSync`). Messages queued meanwhile wait for that connect.
    pub fn disconnect(&mut self, now: Instant) {
        if self.closed || self.deleting || matches!(self.state, State::New | State::Ready) {
            return;
        }
        if self.socket != Socket::Closed || self.state == State::Connecting {
            self.outputs.push_back(Output::WsClose);
        }
        self.socket = Socket::Closed;
        self.unacked.clear(); // a clean close delivers what was written before it
        self.ping_covers = 0;
        let ice_due = self.timers[Timer::IceRefresh as usize];
        self.timers = [None; TIMERS];
        self.in_flight = None;
        self.ws_early = false;
        self.hold_at_ready = true;
        let fetched = self.session.wss_endpoint.is_some() && self.ice_fetched;
        if fetched {
            self.ice_due = ice_due;
            self.enter(now, State::Ready);
        } else {
            // Not fetched yet: start over when asked to connect.
            self.state = State::New;
            self.emit(Event::StateChanged(State::New));
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

    /// Counters and latencies so far.
    pub fn metrics(&self, now: Instant) -> Metrics {
        let mut metrics = self.metrics.clone();
        if let Some(since) = self.connected_since {
            metrics.connected_ms += now.saturating_duration_since(since).as_millis() as u64;
        }
        metrics
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
                self.set_timer(Timer::Pong, None);
                // What went out on a socket being replaced is flushed by its graceful close.
                self.unacked.clear();
                self.ping_covers = 0;
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
                    Some(status) => {
                        steps::service_error(during, status, error_type, message.as_bytes())
                    }
                    None => Error::Transport { during, message },
                };
                self.fail(now, err);
            }
            Input::WsText(text) if self.socket != Socket::Closed => {
                self.touch(now);
                self.handle_frame(now, text)
            }
            Input::WsPong if self.socket == Socket::Open => {
                self.set_timer(Timer::Pong, None);
                let confirmed = std::mem::take(&mut self.ping_covers).min(self.unacked.len());
                self.unacked.drain(..confirmed);
                self.touch(now);
            }
            Input::WsSendFailed { frame, reason } => {
                self.metrics.messages_sent = self.metrics.messages_sent.saturating_sub(1);
                // The failed frame is the newest one written: it is the last of `unacked`.
                if self.unacked.back().is_some_and(|(_, m)| m.frame == frame) {
                    self.unacked.pop_back();
                }
                let action = ClientFrame::parse(&frame).map_or(Action::IceCandidate, |f| f.action);
                self.queue
                    .push_front((now, PreparedMessage { action, frame }));
                if self.state == State::Connected {
                    self.handle_input(now, Input::WsClosed(reason));
                }
            }
            Input::WsClosed(_) if self.socket == Socket::Draining => self.socket = Socket::Closed,
            Input::WsClosed(reason) if self.socket == Socket::Open => {
                self.drop_socket();
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
            | Input::WsPong
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

    /// Sends a ping and arms the pong deadline, unless a ping is already waiting for its pong.
    pub(super) fn ping(&mut self, now: Instant) {
        if self.timers[Timer::Pong as usize].is_none() {
            self.outputs.push_back(Output::WsPing);
            self.ping_covers = self.unacked.len();
            self.set_timer(Timer::Pong, Some(now + self.config.pong_timeout));
        }
        self.set_timer(Timer::Ping, Some(now + self.config.ping_interval));
    }

    /// Frames no pong confirmed go back to the head of the send queue, in order.
    fn requeue_unacked(&mut self) {
        self.set_timer(Timer::Pong, None);
        self.ping_covers = 0;
        while let Some(entry) = self.unacked.pop_back() {
            self.metrics.messages_sent = self.metrics.messages_sent.saturating_sub(1);
            self.queue.push_front(entry);
        }
    }

    /// The session's socket is gone: no more pings on it, and what it did not confirm
    /// waits for the next one.
    fn drop_socket(&mut self) {
        self.socket = Socket::Closed;
        self.set_timer(Timer::Ping, None);
        self.requeue_unacked();
    }

    /// The pong did not come: the socket is dead although nothing reported it.
    fn pong_missed(&mut self, now: Instant) {
        self.outputs.push_back(Output::WsClose);
        self.drop_socket();
        let secs = self.config.pong_timeout.as_secs();
        if self.state == State::Connected {
            self.enter(now, State::Disconnected);
        }
        self.fail(now, Error::PongTimeout { secs });
    }

    fn handle_timeout(&mut self, now: Instant) {
        let connected = self.state == State::Connected;
        if self.due(Timer::Pong, now) && self.socket == Socket::Open {
            return self.pong_missed(now);
        }
        if self.due(Timer::Ping, now) && connected {
            self.ping(now);
        }
        if self.due(Timer::IceRefresh, now) && connected {
            self.refresh_ice_servers(now);
        }
        if self.due(Timer::Reconnect, now) && connected {
            self.replace_connection(now);
        }
        if self.due(Timer::Pace, now) && connected {
            self.flush_queue(now);
        }
        if self.due(Timer::CredentialsRefresh, now) {
            self.refresh_credentials();
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
            } else if std::mem::take(&mut self.ice_refreshing) {
                // The background refresh's answer no longer matters; the flow fetches anew.
                self.in_flight = None;
                self.set_timer(Timer::Call, None);
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
        // Only the service's maximum duration: expiring credentials are refreshed in the
        // background, and the service does not recheck an open connection's signature.
        let deadline = connected_at + self.config.max_connection_duration;
        let at = deadline
            .checked_sub(self.config.reconnect_margin)
            .unwrap_or(now)
            .max(now + Duration::from_secs(1));
        self.set_timer(Timer::Reconnect, Some(at));
    }

    /// Opens a new connection while the current one keeps delivering, then retires it
    /// (GO_AWAY, the maximum connection duration).
    fn replace_connection(&mut self, now: Instant) {
        if self.socket == Socket::Open {
            self.socket = Socket::Draining;
        }
        self.set_timer(Timer::Ping, None);
        self.enter(now, State::GetEndpoint);
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
                        let ttl = self.message_ttl();
                        if self.config.drop_repeats && self.delivered.is_repeat(now, ttl, &msg) {
                            self.metrics.duplicates_dropped += 1;
                            return;
                        }
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
                    self.refresh_ice_servers(now);
                }
                return;
            }
        };
        self.emit(event);
    }
}

#[cfg(test)]
mod tests;
