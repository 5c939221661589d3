//! One C-visible signaling client: the Rust client, the thread that runs the application's
//! callbacks, and the C SDK's synchronous calls over them.
//!
//! Events flow from the client's driver (a task on the library runtime) through a pump task
//! into a bounded queue, and from there to the callback thread. The pump never waits on the
//! application, so a callback that calls `signalingClientFetchSync` cannot stall the client
//! it is waiting for.

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::Credentials;
use kvs_client::{
    Action, Error, Event, Events, MessageType, ProvideCredentials, ProvideFuture, ReceivedMessage,
    SessionError, State, StatusResponse,
};

use crate::client::AnyClient;
use crate::config::Settings;
use crate::ffi::write_array;
use crate::runtime::{block_on, runtime};
use crate::status;
use crate::structs::*;
use crate::types::*;

/// How long fetch, connect and disconnect wait (`SIGNALING_CONNECT_STATE_TIMEOUT`).
const STATE_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a send waits to be queued or written (`SIGNALING_SEND_TIMEOUT`).
const SEND_TIMEOUT: Duration = Duration::from_secs(5);
/// Peer messages held for a callback thread that is busy; beyond this, messages are dropped
/// (and reported through `errorReportFn`) rather than held without bound.
const QUEUE_LIMIT: usize = 1024;

thread_local! {
    /// True on the threads that run application callbacks.
    static CALLBACK_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// True when the caller is inside a signaling callback.
pub(crate) fn on_callback_thread() -> bool {
    CALLBACK_THREAD.with(Cell::get)
}

/// The application's callbacks, in the layer it compiled against.
#[derive(Clone, Copy)]
pub(crate) enum Callbacks {
    /// Callbacks returning `STATUS`.
    Upstream {
        custom: UINT64,
        message: KvsUpstreamMessageReceivedFunc,
        error: KvsUpstreamErrorReportFunc,
        state: KvsUpstreamStateChangedFunc,
    },
    /// Callbacks returning `VOID`.
    Seed {
        custom: UINT64,
        message: KvsSeedMessageReceivedFunc,
        error: KvsSeedErrorReportFunc,
        state: KvsSeedStateChangedFunc,
    },
}

/// What the callback thread delivers.
enum Item {
    State(SIGNALING_CLIENT_STATE),
    Message(ReceivedMessage),
    StatusResponse(StatusResponse),
    Error(STATUS, String),
}

#[derive(Default)]
struct Queue {
    items: VecDeque<Item>,
    stop: bool,
}

/// What the pump, the callback thread and the API calls share.
struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
    runtime_errors: AtomicU32,
    last_error: Mutex<Option<Error>>,
    offer_received_ms: AtomicU64,
    answer_ms: AtomicU64,
}

impl Shared {
    fn push(&self, item: Item) {
        let mut q = lock(&self.queue);
        let droppable = matches!(item, Item::Message(_));
        if droppable && q.items.len() >= QUEUE_LIMIT {
            drop(q);
            self.runtime_errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                "a signaling message was dropped: the application's callbacks are not keeping up"
            );
            let mut q = lock(&self.queue);
            q.items.push_back(Item::Error(
                STATUS_SIGNALING_MESSAGE_DELIVERY_FAILED,
                format!("a received message was dropped: {QUEUE_LIMIT} wait for messageReceivedFn, which is too slow or blocked"),
            ));
            self.wake.notify_one();
            return;
        }
        q.items.push_back(item);
        self.wake.notify_one();
    }

    fn error(&self, status: STATUS, error: &Error) {
        self.runtime_errors.fetch_add(1, Ordering::Relaxed);
        self.push(Item::Error(status, error.to_string()));
    }

    /// Turns an event of the client whose end `ended` marks into what the application sees.
    fn on_event(&self, event: Event, ended: &AtomicBool) {
        match event {
            Event::StateChanged(s) => self.push(Item::State(status::public_state(s))),
            Event::Message(m) => {
                match m.message_type {
                    MessageType::SdpOffer => {
                        self.offer_received_ms.store(epoch_ms(), Ordering::Relaxed)
                    }
                    MessageType::SdpAnswer => self.answer_ms.store(epoch_ms(), Ordering::Relaxed),
                    _ => {}
                }
                self.push(Item::Message(m));
            }
            Event::StatusResponse(r) => self.push(Item::StatusResponse(r)),
            Event::Error(e) => {
                self.error(status::of_error(&e), &e);
                *lock(&self.last_error) = Some(e);
            }
            Event::Retrying { cause, .. } => *lock(&self.last_error) = Some(cause),
            Event::Closed(Some(e)) => {
                ended.store(true, Ordering::Release);
                let code = if e.is_connection_lost() {
                    STATUS_SIGNALING_RECONNECT_FAILED
                } else {
                    status::of_error(&e)
                };
                self.error(code, &e);
                *lock(&self.last_error) = Some(e);
            }
            Event::Closed(None) => ended.store(true, Ordering::Release),
            _ => {}
        }
    }

    /// The STATUS to return when a call gave up waiting: the last failure the client saw,
    /// else a timeout.
    fn timeout_status(&self) -> STATUS {
        lock(&self.last_error)
            .as_ref()
            .map_or(STATUS_OPERATION_TIMED_OUT, status::of_error)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Hands out the credentials bought at creation once, so that the first fetch does not buy
/// them again; later calls go to the provider.
#[derive(Debug)]
struct Primed {
    first: Mutex<Option<Credentials>>,
    inner: Arc<dyn ProvideCredentials>,
}

impl ProvideCredentials for Primed {
    fn provide_credentials<'a>(&'a self) -> ProvideFuture<'a>
    where
        Self: 'a,
    {
        let first = lock(&self.first).take();
        match first {
            Some(c)
                if c.expiry()
                    .is_none_or(|t| t > SystemTime::now() + Duration::from_secs(60)) =>
            {
                ProvideFuture::ready(Ok(c))
            }
            _ => self.inner.provide_credentials(),
        }
    }
}

/// Durations of the synchronous calls, for the metrics.
#[derive(Default)]
struct Timings {
    get_token_ms: u64,
    create_ms: u64,
    fetch_ms: u64,
    connect_ms: u64,
    connect_start_ms: u64,
    connect_end_ms: u64,
}

/// One signaling client of the C API.
pub(crate) struct Session {
    settings: Settings,
    live: Mutex<Live>,
    shared: Arc<Shared>,
    callback_thread: Mutex<Option<JoinHandle<()>>>,
    closing: Arc<AtomicBool>,
    connect_requested: AtomicBool,
    deleted: AtomicBool,
    errors: AtomicU32,
    created: Instant,
    timings: Mutex<Timings>,
    ice: Mutex<(usize, Box<[IceConfigInfo; MAX_ICE_CONFIG_COUNT]>)>,
}

impl Session {
    /// Creates the client (state NEW), buys credentials once (GET_CREDENTIALS) and starts
    /// the callback thread. The two states are reported through the callbacks.
    pub(crate) fn create(
        mut settings: Settings,
        callbacks: Callbacks,
    ) -> Result<Arc<Self>, STATUS> {
        crate::runtime::init_logging(settings.logging_level);
        let started = Instant::now();
        let provider = settings.options.credentials.clone();
        let probe = provider.clone();
        let first = match block_on(
            STATE_TIMEOUT,
            async move { probe.provide_credentials().await },
        ) {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                tracing::error!(
                    "getting credentials failed: {}; check the credential provider",
                    kvs_client::error_chain(&e)
                );
                return Err(STATUS_SIGNALING_GET_TOKEN_CALL_FAILED);
            }
            Err(_) => {
                tracing::error!(
                    "the credential provider gave no answer within {} s",
                    STATE_TIMEOUT.as_secs()
                );
                return Err(STATUS_OPERATION_TIMED_OUT);
            }
        };
        let get_token_ms = started.elapsed().as_millis() as u64;
        settings.options.credentials = Arc::new(Primed {
            first: Mutex::new(Some(first)),
            inner: provider,
        });

        let shared = Arc::new(Shared {
            queue: Mutex::default(),
            wake: Condvar::new(),
            runtime_errors: AtomicU32::new(0),
            last_error: Mutex::new(None),
            offer_received_ms: AtomicU64::new(0),
            answer_ms: AtomicU64::new(0),
        });
        let live = spawn_client(&settings, &shared)?;
        let closing = Arc::new(AtomicBool::new(false));
        let thread = {
            let shared = shared.clone();
            let closing = closing.clone();
            std::thread::Builder::new()
                .name("kvs-signaling-callbacks".into())
                .spawn(move || run_callbacks(&shared, &closing, callbacks))
                .map_err(|_| STATUS_NOT_ENOUGH_MEMORY)?
        };
        shared.push(Item::State(SIGNALING_CLIENT_STATE_NEW));
        shared.push(Item::State(SIGNALING_CLIENT_STATE_GET_CREDENTIALS));
        let session = Arc::new(Self {
            settings,
            live: Mutex::new(live),
            shared,
            callback_thread: Mutex::new(Some(thread)),
            closing,
            connect_requested: AtomicBool::new(false),
            deleted: AtomicBool::new(false),
            errors: AtomicU32::new(0),
            created: started,
            timings: Mutex::new(Timings {
                get_token_ms,
                create_ms: started.elapsed().as_millis() as u64,
                ..Timings::default()
            }),
            // SAFETY: `IceConfigInfo` is integers and `c_char` arrays, for which all-zero is
            // a valid value.
            ice: Mutex::new((0, unsafe { Box::new_zeroed().assume_init() })),
        });
        Ok(session)
    }

    /// Counts a failed call, as the C SDK's `numberOfErrors` does.
    pub(crate) fn count(&self, status: STATUS) -> STATUS {
        if status != STATUS_SUCCESS {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        status
    }

    fn client(&self) -> AnyClient {
        lock(&self.live).client.clone()
    }

    /// The client, replaced by a fresh one (state NEW) when the previous one ended, which
    /// is how the C SDK's recovery calls start again.
    fn live_client(&self) -> Result<Live, STATUS> {
        if self.deleted.load(Ordering::Acquire) {
            tracing::error!("the channel was deleted; free this client");
            return Err(STATUS_SIGNALING_CHANNEL_BEING_DELETED);
        }
        let mut live = lock(&self.live);
        if live.ended.load(Ordering::Acquire) {
            tracing::info!("the previous session ended; starting a new one");
            *live = spawn_client(&self.settings, &self.shared)?;
        }
        Ok(live.clone())
    }

    /// Waits for `call` on `live` up to `limit`, mapping failures to STATUS codes.
    fn wait(
        &self,
        live: &Live,
        limit: Duration,
        call: impl Future<Output = Result<(), SessionError>>,
    ) -> STATUS {
        match block_on(limit, call) {
            Ok(Ok(())) => STATUS_SUCCESS,
            Ok(Err(e)) => {
                // The session has ended (its pump may not have seen the last event yet);
                // the next fetch or connect starts a new one.
                live.ended.store(true, Ordering::Release);
                tracing::warn!("{e}");
                status::of_session(&e, STATUS_INVALID_OPERATION)
            }
            Err(_) => self.shared.timeout_status(),
        }
    }

    /// `signalingClientFetchSync`: to READY.
    pub(crate) fn fetch(&self) -> STATUS {
        let live = match self.live_client() {
            Ok(l) => l,
            Err(s) => return s,
        };
        let client = live.client.clone();
        let started = Instant::now();
        // From NEW the client fetches everything; later (connected, or on the way back
        // after a loss) it closes the WebSocket and holds at READY with what it fetched,
        // which is where the C SDK's repair call leaves it.
        self.connect_requested.store(false, Ordering::Release);
        let status = if client.state() == State::New {
            self.wait(&live, STATE_TIMEOUT, async move { client.fetch().await })
        } else {
            self.wait(
                &live,
                STATE_TIMEOUT,
                async move { client.disconnect().await },
            )
        };
        lock(&self.timings).fetch_ms = started.elapsed().as_millis() as u64;
        status
    }

    /// `signalingClientConnectSync`: to CONNECTED, after a fetch.
    pub(crate) fn connect(&self) -> STATUS {
        let live = match self.live_client() {
            Ok(l) => l,
            Err(s) => return s,
        };
        let client = live.client.clone();
        if matches!(client.state(), State::New | State::GetCredentials) {
            tracing::error!(
                "signalingClientConnectSync before signalingClientFetchSync: fetch first"
            );
            return STATUS_INVALID_OPERATION;
        }
        let (started, start_ms) = (Instant::now(), epoch_ms());
        let status = self.wait(&live, STATE_TIMEOUT, async move { client.connect().await });
        let mut t = lock(&self.timings);
        t.connect_ms = started.elapsed().as_millis() as u64;
        t.connect_start_ms = start_ms;
        t.connect_end_ms = epoch_ms();
        if status == STATUS_SUCCESS {
            self.connect_requested.store(true, Ordering::Release);
        }
        status
    }

    /// The seed's `connectSignalingChannel`: fetch when needed, then connect.
    pub(crate) fn fetch_and_connect(&self) -> STATUS {
        let fresh = {
            let live = lock(&self.live);
            live.ended.load(Ordering::Acquire)
                || matches!(live.client.state(), State::New | State::GetCredentials)
        };
        if fresh {
            let status = self.fetch();
            if status != STATUS_SUCCESS {
                return status;
            }
        }
        self.connect()
    }

    /// `signalingClientDisconnectSync`: back to READY.
    pub(crate) fn disconnect(&self) -> STATUS {
        self.connect_requested.store(false, Ordering::Release);
        let live = lock(&self.live).clone();
        let client = live.client.clone();
        self.wait(
            &live,
            STATE_TIMEOUT,
            async move { client.disconnect().await },
        )
    }

    /// `signalingClientDeleteSync`: deletes the channel; the client is finished afterwards.
    pub(crate) fn delete(&self) -> STATUS {
        let live = match self.live_client() {
            Ok(l) => l,
            Err(s) => return s,
        };
        let client = live.client.clone();
        let status = self.wait(&live, STATE_TIMEOUT, async move {
            client.delete_channel().await
        });
        if status == STATUS_SUCCESS {
            self.deleted.store(true, Ordering::Release);
        }
        status
    }

    /// `signalingClientSendMessageSync`.
    pub(crate) fn send(&self, message: &SignalingMessage) -> STATUS {
        if message.version != SIGNALING_MESSAGE_CURRENT_VERSION {
            return STATUS_SIGNALING_INVALID_SIGNALING_MESSAGE_VERSION;
        }
        let action = match message.messageType {
            SIGNALING_MESSAGE_TYPE_OFFER => Action::SdpOffer,
            SIGNALING_MESSAGE_TYPE_ANSWER => Action::SdpAnswer,
            SIGNALING_MESSAGE_TYPE_ICE_CANDIDATE => Action::IceCandidate,
            _ => return STATUS_SIGNALING_INVALID_MESSAGE_TYPE,
        };
        if message.payloadLen as usize > MAX_SIGNALING_MESSAGE_LEN {
            return STATUS_SIGNALING_INVALID_PAYLOAD_LEN_IN_MESSAGE;
        }
        // SAFETY: the payload array holds `payloadLen` (checked above) or is searched for its
        // terminator within its own `MAX_SIGNALING_MESSAGE_LEN + 1` bytes.
        let payload = match unsafe {
            crate::ffi::read_bytes(
                message.payload.as_ptr(),
                message.payloadLen,
                MAX_SIGNALING_MESSAGE_LEN,
            )
        } {
            Ok(p) if p.is_empty() => return STATUS_SIGNALING_NO_PAYLOAD_IN_MESSAGE,
            Ok(p) => p,
            Err(_) => return STATUS_SIGNALING_INVALID_PAYLOAD_LEN_IN_MESSAGE,
        };
        let (Ok(peer), Ok(correlation)) = (
            crate::ffi::read_array(&message.peerClientId),
            crate::ffi::read_array(&message.correlationId),
        ) else {
            return STATUS_INVALID_ARG_LEN;
        };
        if !self.connect_requested.load(Ordering::Acquire) {
            tracing::error!(
                "signalingClientSendMessageSync before signalingClientConnectSync: connect first"
            );
            return STATUS_INVALID_OPERATION;
        }
        let client = self.client();
        let is_answer = action == Action::SdpAnswer;
        let sent = block_on(SEND_TIMEOUT, async move {
            let correlation = (!correlation.is_empty()).then_some(correlation.as_str());
            client.send(action, &peer, payload, correlation).await
        });
        match sent {
            Ok(Ok(())) => {
                if is_answer {
                    self.shared.answer_ms.store(epoch_ms(), Ordering::Relaxed);
                }
                STATUS_SUCCESS
            }
            Ok(Err(e)) => {
                tracing::warn!("message not sent: {e}");
                status::of_send(&e)
            }
            Err(_) => STATUS_OPERATION_TIMED_OUT,
        }
    }

    /// The current public state.
    pub(crate) fn state(&self) -> SIGNALING_CLIENT_STATE {
        status::public_state(self.client().state())
    }

    /// Copies the client's current TURN servers into the stable array the C SDK's
    /// `signalingClientGetIceConfigInfo` points into, and returns how many there are. Never
    /// waits on the network: 0 until the first GetIceServerConfig answered.
    pub(crate) fn refresh_ice(&self) -> usize {
        let servers = self.client().ice_servers();
        let mut ice = lock(&self.ice);
        let count = servers.len().min(MAX_ICE_CONFIG_COUNT);
        for (slot, server) in ice.1.iter_mut().zip(&servers) {
            slot.version = SIGNALING_ICE_CONFIG_INFO_CURRENT_VERSION;
            slot.ttl = u64::from(server.ttl) * 10_000_000;
            slot.uriCount = server.uris.len().min(MAX_ICE_CONFIG_URI_COUNT) as UINT32;
            for (dst, uri) in slot.uris.iter_mut().zip(&server.uris) {
                write_array(dst, uri.as_bytes());
            }
            write_array(&mut slot.userName, server.username.as_bytes());
            write_array(&mut slot.password, server.password.as_bytes());
        }
        ice.0 = count;
        count
    }

    /// A pointer to ICE server `index` of the last refresh; valid until this client is
    /// freed (its contents change on the next refresh).
    pub(crate) fn ice_config(&self, index: usize) -> Option<*mut IceConfigInfo> {
        let mut ice = lock(&self.ice);
        let count = ice.0;
        (index < count).then(|| &mut ice.1[index] as *mut IceConfigInfo)
    }

    /// Fills `out` (version 0 or 1).
    pub(crate) fn metrics(&self, out: &mut SignalingClientMetrics) -> STATUS {
        if out.version > SIGNALING_CLIENT_METRICS_CURRENT_VERSION {
            tracing::error!(
                "SignalingClientMetrics.version is {}; this library knows up to {SIGNALING_CLIENT_METRICS_CURRENT_VERSION}",
                out.version
            );
            return STATUS_SIGNALING_INVALID_METRICS_VERSION;
        }
        let client = self.client();
        let Ok(m) = block_on(
            Duration::from_secs(2),
            async move { client.metrics().await },
        ) else {
            return STATUS_OPERATION_TIMED_OUT;
        };
        let mean = |ops: &[&str]| {
            let (n, total) = ops
                .iter()
                .filter_map(|op| m.api_calls.get(*op))
                .fold((0, 0), |(n, t), s| (n + s.count, t + s.total_ms));
            (total * 10_000).checked_div(n).unwrap_or(0)
        };
        let last = |op: &str| m.api_calls.get(op).map_or(0, |s| s.last_ms);
        let t = lock(&self.timings);
        let mut stats = SignalingClientStats {
            cpApiCallLatency: mean(&[
                "DescribeSignalingChannel",
                "CreateSignalingChannel",
                "GetSignalingChannelEndpoint",
                "DeleteSignalingChannel",
            ]),
            dpApiCallLatency: mean(&["GetIceServerConfig"]),
            signalingClientUptime: self.created.elapsed().as_micros() as u64 * 10,
            connectionDuration: m.connected_ms * 10_000,
            numberOfMessagesSent: m.messages_sent as UINT32,
            numberOfMessagesReceived: m.messages_received as UINT32,
            iceRefreshCount: m.ice_refreshes as UINT32,
            numberOfErrors: self.errors.load(Ordering::Relaxed),
            numberOfRuntimeErrors: self.shared.runtime_errors.load(Ordering::Relaxed),
            numberOfReconnects: m.reconnects as UINT32,
            apiCallRetryCount: m.retries as UINT32,
            ..SignalingClientStats::default()
        };
        if out.version >= 1 {
            stats.getTokenCallTime = t.get_token_ms;
            stats.describeCallTime = last("DescribeSignalingChannel");
            stats.createCallTime = last("CreateSignalingChannel");
            stats.getEndpointCallTime = last("GetSignalingChannelEndpoint");
            stats.getIceConfigCallTime = last("GetIceServerConfig");
            stats.connectCallTime = m.ws_connects.last_ms;
            stats.createClientTime = t.create_ms;
            stats.fetchClientTime = t.fetch_ms;
            stats.connectClientTime = t.connect_ms;
            stats.offerToAnswerTime = m.offer_to_answer_ms.unwrap_or(0);
            stats.offerReceivedTime = self.shared.offer_received_ms.load(Ordering::Relaxed);
            stats.answerTime = self.shared.answer_ms.load(Ordering::Relaxed);
        }
        out.signalingStartTime = t.connect_start_ms;
        out.signalingEndTime = t.connect_end_ms;
        out.signalingCallTime = t.connect_end_ms.saturating_sub(t.connect_start_ms);
        out.signalingClientStats = stats;
        STATUS_SUCCESS
    }

    /// Ends the session: closes the client, then stops and joins the callback thread, so no
    /// callback runs once this returns. Pending events are dropped.
    pub(crate) fn shut_down(&self) {
        self.closing.store(true, Ordering::Release);
        let client = self.client();
        let _ = block_on(Duration::from_secs(5), async move { client.close().await });
        {
            let mut q = lock(&self.shared.queue);
            q.stop = true;
            q.items.clear();
        }
        self.shared.wake.notify_all();
        if let Some(thread) = lock(&self.callback_thread).take() {
            let _ = thread.join();
        }
    }
}

/// A running client and the flag its pump raises when it ends.
#[derive(Clone)]
struct Live {
    client: AnyClient,
    ended: Arc<AtomicBool>,
}

/// Starts a client and the task that pumps its events into the queue.
fn spawn_client(settings: &Settings, shared: &Arc<Shared>) -> Result<Live, STATUS> {
    let _enter = runtime().enter();
    let (client, events) =
        AnyClient::new(settings.role, settings.options.clone()).map_err(|e| {
            tracing::error!("{e}");
            STATUS_INVALID_ARG
        })?;
    let ended = Arc::new(AtomicBool::new(false));
    runtime().spawn(pump(events, shared.clone(), ended.clone()));
    Ok(Live { client, ended })
}

async fn pump(mut events: Events, shared: Arc<Shared>, ended: Arc<AtomicBool>) {
    while let Some(event) = events.recv().await {
        shared.on_event(event, &ended);
    }
}

/// The callback thread: delivers queued items until told to stop.
fn run_callbacks(shared: &Shared, closing: &AtomicBool, callbacks: Callbacks) {
    CALLBACK_THREAD.with(|c| c.set(true));
    // SAFETY: the message is integers and `c_char` arrays, for which all-zero is valid.
    let mut buffer: Box<KvsUpstreamReceivedSignalingMessage> =
        unsafe { Box::new_zeroed().assume_init() };
    loop {
        let item = {
            let mut q = lock(&shared.queue);
            loop {
                if q.stop {
                    return;
                }
                if let Some(item) = q.items.pop_front() {
                    break item;
                }
                q = shared.wake.wait(q).unwrap_or_else(|p| p.into_inner());
            }
        };
        if closing.load(Ordering::Acquire) {
            return;
        }
        let delivered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            deliver(item, &mut buffer, callbacks);
        }));
        if delivered.is_err() {
            tracing::error!("internal error while delivering a callback (a bug in the library)");
        }
    }
}

/// Fills the reusable message buffer.
fn fill_message(buffer: &mut KvsUpstreamReceivedSignalingMessage, item: &Item) {
    let msg = &mut buffer.signalingMessage;
    msg.version = SIGNALING_MESSAGE_CURRENT_VERSION;
    buffer.statusCode = SERVICE_CALL_RESULT_OK;
    write_array(&mut buffer.errorType, b"");
    write_array(&mut buffer.description, b"");
    write_array(&mut msg.correlationId, b"");
    match item {
        Item::Message(m) => {
            msg.messageType = match m.message_type {
                MessageType::SdpOffer => SIGNALING_MESSAGE_TYPE_OFFER,
                MessageType::SdpAnswer => SIGNALING_MESSAGE_TYPE_ANSWER,
                MessageType::IceCandidate => SIGNALING_MESSAGE_TYPE_ICE_CANDIDATE,
                _ => SIGNALING_MESSAGE_TYPE_UNKNOWN,
            };
            let sender = m.sender_client_id.as_deref().unwrap_or("");
            write_array(&mut msg.peerClientId, sender.as_bytes());
            if m.payload.len() > MAX_SIGNALING_MESSAGE_LEN {
                tracing::warn!(
                    "a received payload of {} bytes was cut to {MAX_SIGNALING_MESSAGE_LEN}",
                    m.payload.len()
                );
            }
            msg.payloadLen = write_array(&mut msg.payload, &m.payload) as UINT32;
        }
        Item::StatusResponse(r) => {
            msg.messageType = SIGNALING_MESSAGE_TYPE_STATUS_RESPONSE;
            write_array(
                &mut msg.correlationId,
                r.correlation_id.as_deref().unwrap_or("").as_bytes(),
            );
            write_array(&mut msg.peerClientId, b"");
            msg.payloadLen = write_array(&mut msg.payload, b"") as UINT32;
            buffer.statusCode = r
                .status_code
                .as_deref()
                .and_then(|s| s.parse().ok())
                .unwrap_or(SERVICE_CALL_RESULT_UNKNOWN);
            write_array(
                &mut buffer.errorType,
                r.error_type.as_deref().unwrap_or("").as_bytes(),
            );
            write_array(
                &mut buffer.description,
                r.description.as_deref().unwrap_or("").as_bytes(),
            );
        }
        Item::State(_) | Item::Error(..) => {}
    }
}

/// Calls the application's callback for `item`.
fn deliver(item: Item, buffer: &mut KvsUpstreamReceivedSignalingMessage, callbacks: Callbacks) {
    match &item {
        Item::State(state) => callbacks.state(*state),
        Item::Error(code, text) => callbacks.error(*code, text),
        Item::Message(_) | Item::StatusResponse(_) => {
            fill_message(buffer, &item);
            callbacks.message(buffer);
        }
    }
}

/// Logs a non-success STATUS an upstream callback returned: the C SDK rolls its state
/// machine back on one, while this client recovers by itself and carries on.
fn ignored(callback: &str, status: STATUS) {
    if status != STATUS_SUCCESS {
        tracing::debug!("{callback} returned 0x{status:08x} (ignored)");
    }
}

impl Callbacks {
    fn state(self, state: SIGNALING_CLIENT_STATE) {
        match self {
            Self::Upstream {
                custom,
                state: Some(f),
                ..
            } => {
                // SAFETY: the application's callback, called as its type says.
                let status = unsafe { f(custom, state) };
                ignored("stateChangeFn", status);
            }
            Self::Seed {
                custom,
                state: Some(f),
                ..
            } => {
                // SAFETY: as above.
                unsafe { f(custom, state) }
            }
            _ => {}
        }
    }

    fn error(self, code: STATUS, text: &str) {
        let mut text = text.as_bytes().to_vec();
        let len = text.len() as UINT32;
        text.push(0);
        let msg = text.as_mut_ptr().cast::<CHAR>();
        match self {
            Self::Upstream {
                custom,
                error: Some(f),
                ..
            } => {
                // SAFETY: as in `state`; the text is NUL-terminated and outlives the call.
                let status = unsafe { f(custom, code, msg, len) };
                ignored("errorReportFn", status);
            }
            Self::Seed {
                custom,
                error: Some(f),
                ..
            } => {
                // SAFETY: as above.
                unsafe { f(custom, code, msg, len) }
            }
            _ => tracing::warn!(
                "signaling error 0x{code:08x}: {}",
                String::from_utf8_lossy(&text[..len as usize])
            ),
        }
    }

    fn message(self, buffer: &mut KvsUpstreamReceivedSignalingMessage) {
        match self {
            Self::Upstream {
                custom,
                message: Some(f),
                ..
            } => {
                // SAFETY: as in `state`; the buffer stays valid during the call.
                let status = unsafe { f(custom, buffer) };
                ignored("messageReceivedFn", status);
            }
            Self::Seed {
                custom,
                message: Some(f),
                ..
            } => {
                let seed = (buffer as *mut KvsUpstreamReceivedSignalingMessage)
                    .cast::<KvsSeedReceivedSignalingMessage>();
                // SAFETY: the seed layout is the upstream one flattened (asserted at compile
                // time in `structs`), so the same bytes are a valid seed message.
                unsafe { f(custom, seed) }
            }
            _ => tracing::debug!("a message arrived and no messageReceivedFn is set"),
        }
    }
}
