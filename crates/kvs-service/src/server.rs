//! The tokio/hyper side of the service: accept, TLS, authenticate, dispatch, relay.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use kvs_proto::api::{ChannelRole, ErrorBody, ErrorCode, Operation};
use kvs_proto::sigv4::{self, IncomingRequest, Verified};
use kvs_proto::wire::{MessageType, ServiceFrame, is_valid_id};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tracing::{debug, info, warn};

use crate::channels::{ApiError, Channels, EndpointBase, MASTER_PATH, VIEWER_PATH};
use crate::observe::{Observe, Relayed};
use crate::relay::{ConnId, ConnectError, Relay, Routed};
use crate::store::Store;
use crate::{ServiceConfig, ServiceError, ServiceHandle, tls};

/// Largest control-plane request body accepted.
const MAX_BODY: usize = 64 * 1024;
/// Largest WebSocket message accepted (a 10,000-byte payload plus JSON framing fits easily).
const MAX_WS_MESSAGE: usize = 64 * 1024;
/// Frames queued for a connection that is not reading before new ones are refused.
const OUTBOX_CAPACITY: usize = 1024;
/// A TLS handshake must finish within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

type Body = Full<Bytes>;

/// What a connection's task is asked to send.
#[derive(Debug)]
pub(crate) enum Outbound {
    /// A relayed frame or a STATUS_RESPONSE.
    Frame(String),
    /// GO_AWAY, then close after the grace period.
    GoAway,
    /// RECONNECT_ICE_SERVER.
    ReconnectIceServer,
}

/// Live connections: the routing table plus each connection's outbox.
#[derive(Default)]
struct Hub {
    relay: Relay,
    outboxes: HashMap<ConnId, mpsc::Sender<Outbound>>,
}

/// Sends a control frame to one live connection; false when there is none.
pub(crate) fn signal(
    shared: &Shared,
    arn: &str,
    role: ChannelRole,
    client_id: Option<&str>,
    what: Outbound,
) -> bool {
    let hub = shared.hub.lock().expect("hub lock");
    let client_id = match role {
        ChannelRole::Master => None,
        ChannelRole::Viewer => client_id,
    };
    hub.relay
        .find(arn, client_id)
        .and_then(|id| hub.outboxes.get(&id))
        .is_some_and(|tx| tx.try_send(what).is_ok())
}

pub(crate) fn channel_arn(shared: &Shared, name: &str) -> Option<String> {
    let channels = shared.channels.lock().expect("channel table lock");
    let input = kvs_proto::api::DescribeSignalingChannelInput {
        channel_name: Some(name.to_owned()),
        channel_arn: None,
    };
    channels
        .describe(input)
        .ok()
        .map(|out| out.channel_info.channel_arn)
}

pub(crate) struct Shared {
    config: ServiceConfig,
    observe: Observe,
    store: Option<Store>,
    scheme: (&'static str, &'static str),
    channels: Mutex<Channels>,
    hub: Mutex<Hub>,
    shutdown: watch::Receiver<bool>,
}

impl Shared {
    fn secret_for(&self, access_key_id: &str) -> Option<String> {
        self.config
            .credentials
            .iter()
            .find(|(k, _)| k == access_key_id)
            .map(|(_, s)| s.clone())
    }
}

pub(crate) async fn start(config: ServiceConfig) -> Result<ServiceHandle, ServiceError> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServiceError::Bind {
            addr: config.listen,
            source,
        })?;
    let local_addr = listener.local_addr().map_err(|source| ServiceError::Bind {
        addr: config.listen,
        source,
    })?;
    let identity = if config.tls {
        let mut hosts = vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ];
        let ip = local_addr.ip().to_string();
        if !local_addr.ip().is_unspecified() && !hosts.contains(&ip) {
            hosts.push(ip);
        }
        Some(tls::identity(config.state_dir.as_deref(), &hosts)?)
    } else {
        None
    };
    let scheme = if config.tls {
        ("https", "wss")
    } else {
        ("http", "ws")
    };
    let endpoint = format!("{}://{local_addr}", scheme.0);
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let mut channels = Channels::new(&config.region, &config.account_id);
    let store = match &config.state_dir {
        Some(dir) => {
            let store = Store::open(dir)?;
            let (records, counter) = store.load()?;
            info!(
                channels = records.len(),
                "channels restored from the state directory"
            );
            channels.restore(records, counter);
            Some(store)
        }
        None => None,
    };
    let shared = Arc::new(Shared {
        observe: Observe::default(),
        channels: Mutex::new(channels),
        store,
        hub: Mutex::new(Hub::default()),
        scheme,
        config,
        shutdown: shutdown_rx,
    });
    let acceptor = identity
        .as_ref()
        .map(|id| tokio_rustls::TlsAcceptor::from(id.server_config.clone()));
    info!(%endpoint, region = %shared.config.region, "signaling service listening");
    let handle_shared = shared.clone();
    let task = tokio::spawn(accept_loop(listener, acceptor, shared));
    Ok(ServiceHandle {
        endpoint,
        local_addr,
        ca_pem: identity.as_ref().map(|i| i.ca_pem.clone()),
        ca_path: identity.and_then(|i| i.ca_path),
        shutdown: shutdown_tx,
        task: Some(task),
        shared: handle_shared,
    })
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    shared: Arc<Shared>,
) {
    let mut shutdown = shared.shutdown.clone();
    loop {
        let (tcp, peer) = tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let shared = shared.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            match acceptor {
                Some(acceptor) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => serve_connection(tls, peer, shared).await,
                        Ok(Err(e)) => debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => debug!(%peer, "TLS handshake timed out"),
                    }
                }
                None => serve_connection(tcp, peer, shared).await,
            }
        });
    }
}

async fn serve_connection<S>(io: S, peer: SocketAddr, shared: Arc<Shared>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut shutdown = shared.shutdown.clone();
    let service = hyper::service::service_fn(move |req| {
        let shared = shared.clone();
        async move { Ok::<_, Infallible>(handle(shared, req).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10))
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => if let Err(e) = result {
            debug!(%peer, error = %e, "HTTP connection ended with an error");
        },
        _ = shutdown.changed() => conn.as_mut().graceful_shutdown(),
    }
}

fn request_id() -> String {
    let n: u128 = rand::random();
    let h = format!("{n:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn json_response(status: u16, body: Vec<u8>) -> Response<Body> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(
        "x-amzn-requestid",
        HeaderValue::from_str(&request_id()).expect("hex is a valid header"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("x-amzn-requestid, x-amzn-errortype, date"),
    );
    resp
}

/// An AWS error answer: status, `x-amzn-ErrorType`, `{"Message": ...}`.
fn error_response(status: u16, exception: &str, message: &str) -> Response<Body> {
    let body = serde_json::to_vec(&ErrorBody {
        message: message.to_owned(),
    })
    .expect("a string serialises");
    let mut resp = json_response(status, body);
    resp.headers_mut().insert(
        "x-amzn-errortype",
        HeaderValue::from_str(exception).expect("exception names are ASCII"),
    );
    resp
}

fn api_error_response(e: &ApiError) -> Response<Body> {
    error_response(e.code.http_status(), e.code.name(), &e.message)
}

/// The request's parts as the SigV4 verifier sees them.
struct Parts {
    method: String,
    host: String,
    path: String,
    query: Option<String>,
    headers: Vec<(String, String)>,
}

impl Parts {
    fn of(req: &Request<Incoming>) -> Self {
        let headers = req
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        Self {
            method: req.method().as_str().to_owned(),
            host: req
                .headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
            path: req.uri().path().to_owned(),
            query: req.uri().query().map(str::to_owned),
            headers,
        }
    }

    fn verify(&self, shared: &Shared, body: &[u8]) -> Result<Verified, sigv4::VerifyError> {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let req = IncomingRequest {
            method: &self.method,
            host: &self.host,
            path: &self.path,
            query: self.query.as_deref(),
            headers: &headers,
            body,
        };
        sigv4::verify(
            &req,
            |ak| shared.secret_for(ak),
            &shared.config.region,
            SystemTime::now(),
        )
    }
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    let parts = Parts::of(&req);
    let is_upgrade = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if is_upgrade && req.method() == Method::GET {
        return websocket(shared, parts, req);
    }
    if req.method() == Method::OPTIONS {
        return cors_preflight(&req);
    }
    if req.method() == Method::GET && parts.path == "/metrics" {
        let mut resp = Response::new(Full::new(Bytes::from(shared.observe.render())));
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        );
        return resp;
    }
    let started = std::time::Instant::now();
    let operation = Operation::from_path(&parts.path).filter(|_| req.method() == Method::POST);
    let Some(operation) = operation else {
        info!(method = %parts.method, path = %parts.path, decision = "UnknownOperationException", "request refused");
        return error_response(
            404,
            ErrorCode::UnknownOperation.name(),
            "Unknown operation: use POST on a KVS signaling path",
        );
    };
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return error_response(
                400,
                ErrorCode::InvalidArgument.name(),
                &format!("request body exceeds {MAX_BODY} bytes or was cut off"),
            );
        }
    };
    let outcome = |result: &str| format!("operation=\"{operation:?}\",result=\"{result}\"");
    if let Err(e) = parts.verify(&shared, &body) {
        info!(?operation, decision = e.exception_name(), reason = %e, "request refused");
        shared
            .observe
            .count("kvs_requests_total", outcome(e.exception_name()));
        return error_response(e.http_status(), e.exception_name(), &e.to_string());
    }
    let result = dispatch(&shared, operation, &parts.host, &body);
    let decision = result
        .as_ref()
        .map_or_else(|e| e.code.name(), |_| "accepted");
    shared
        .observe
        .count("kvs_requests_total", outcome(decision));
    shared
        .observe
        .latency(format!("{operation:?}"), started.elapsed());
    match &result {
        Ok(_) => info!(?operation, decision = "accepted", "request"),
        Err(e) => {
            info!(?operation, decision = e.code.name(), reason = %e.message, "request refused")
        }
    }
    match result {
        Ok(body) => json_response(200, body),
        Err(e) => api_error_response(&e),
    }
}

fn cors_preflight(req: &Request<Incoming>) -> Response<Body> {
    let mut resp = json_response(200, Vec::new());
    let h = resp.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, GET, OPTIONS"),
    );
    if let Some(asked) = req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
    }
    resp
}

fn dispatch(shared: &Shared, op: Operation, host: &str, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let https = format!("{}://{host}", shared.scheme.0);
    let wss = format!("{}://{host}", shared.scheme.1);
    let base = EndpointBase {
        https: &https,
        wss: &wss,
    };
    let mut channels = shared.channels.lock().expect("channel table lock");
    let out = channels.dispatch(op, body, base, SystemTime::now())?;
    let changes = matches!(
        op,
        Operation::CreateSignalingChannel
            | Operation::UpdateSignalingChannel
            | Operation::DeleteSignalingChannel
            | Operation::TagResource
            | Operation::UntagResource
    );
    if changes && let Some(store) = &shared.store {
        let (records, counter) = channels.snapshot();
        if let Err(e) = store.save(&records, counter) {
            warn!(error = %e, "the change is in memory but not on disk");
        }
    }
    Ok(out)
}

fn websocket(shared: Arc<Shared>, parts: Parts, req: Request<Incoming>) -> Response<Body> {
    let role = match parts.path.as_str() {
        MASTER_PATH => ChannelRole::Master,
        VIEWER_PATH => ChannelRole::Viewer,
        _ => {
            return error_response(
                404,
                ErrorCode::UnknownOperation.name(),
                "no WebSocket endpoint at this path",
            );
        }
    };
    let refuse = |status: u16, exception: &str, reason: &str| {
        info!(path = %parts.path, decision = exception, %reason, "WebSocket connect refused");
        error_response(status, exception, reason)
    };
    let verified = match parts.verify(&shared, &[]) {
        Ok(v) => v,
        Err(e) => return refuse(e.http_status(), e.exception_name(), &e.to_string()),
    };
    let Some(arn) = verified.params.get("X-Amz-ChannelARN") else {
        return refuse(
            400,
            ErrorCode::InvalidArgument.name(),
            "X-Amz-ChannelARN is required",
        );
    };
    let channel = shared
        .channels
        .lock()
        .expect("channel table lock")
        .by_arn(arn)
        .cloned();
    let Some(channel) = channel else {
        return refuse(
            404,
            ErrorCode::ResourceNotFound.name(),
            &format!("The requested channel is not found or not active: {arn}"),
        );
    };
    let client_id = match role {
        ChannelRole::Master => None,
        ChannelRole::Viewer => match verified.params.get("X-Amz-ClientId") {
            Some(id) if is_valid_id(id) && !id.to_ascii_uppercase().starts_with("AWS_") => {
                Some(id.clone())
            }
            Some(id) => {
                return refuse(
                    400,
                    ErrorCode::InvalidArgument.name(),
                    &format!(
                        "X-Amz-ClientId '{id}' must match [a-zA-Z0-9_.-]{{1,256}} and not start with AWS_"
                    ),
                );
            }
            None => {
                return refuse(
                    400,
                    ErrorCode::InvalidArgument.name(),
                    "a viewer must pass X-Amz-ClientId",
                );
            }
        },
    };
    let Some(key) = req.headers().get(header::SEC_WEBSOCKET_KEY) else {
        return refuse(
            400,
            ErrorCode::InvalidArgument.name(),
            "missing Sec-WebSocket-Key",
        );
    };
    let accept = derive_accept_key(key.as_bytes());

    let ttl = channel.message_ttl();
    let (tx, rx) = mpsc::channel(OUTBOX_CAPACITY);
    let id = {
        let mut hub = shared.hub.lock().expect("hub lock");
        let joined = match hub
            .relay
            .connect(Instant::now(), arn, role, client_id.clone(), ttl)
        {
            Ok(joined) => joined,
            Err(ConnectError::TooManyViewers) => {
                drop(hub);
                return refuse(
                    400,
                    ErrorCode::ClientLimitExceeded.name(),
                    "the channel already has the maximum of 10 viewers",
                );
            }
        };
        if let Some(old) = joined.replaced {
            hub.outboxes.remove(&old); // its task sees the outbox close and hangs up
            info!(?old, new = ?joined.id, "a newer connection replaced an older one");
        }
        if !joined.held.is_empty() {
            info!(id = ?joined.id, count = joined.held.len(), "delivering messages held while offline");
        }
        for frame in joined.held {
            let _ = tx.try_send(Outbound::Frame(frame));
        }
        hub.outboxes.insert(joined.id, tx);
        joined.id
    };
    info!(?id, ?role, client_id = client_id.as_deref().unwrap_or(""), channel = %arn, decision = "accepted", "WebSocket connect");
    let role_label = format!("role=\"{}\"", role.as_str());
    shared
        .observe
        .gauge("kvs_connections", role_label.clone(), 1);
    shared
        .observe
        .count("kvs_connects_total", role_label.clone());
    tokio::spawn(async move {
        match hyper::upgrade::on(req).await {
            Ok(upgraded) => {
                let mut config = WebSocketConfig::default();
                config.max_message_size = Some(MAX_WS_MESSAGE);
                config.max_frame_size = Some(MAX_WS_MESSAGE);
                let ws = WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    Some(config),
                )
                .await;
                run_connection(&shared, id, ws, rx).await;
            }
            Err(e) => debug!(?id, error = %e, "upgrade failed"),
        }
        let mut hub = shared.hub.lock().expect("hub lock");
        hub.relay.disconnect(id);
        hub.outboxes.remove(&id);
        drop(hub);
        shared.observe.gauge("kvs_connections", role_label, -1);
        info!(?id, "WebSocket disconnected");
    });

    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = resp.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(
        header::SEC_WEBSOCKET_ACCEPT,
        HeaderValue::from_str(&accept).expect("base64 is a valid header"),
    );
    resp
}

fn control_frame(kind: MessageType) -> String {
    ServiceFrame {
        sender_client_id: None,
        message_type: kind,
        message_payload: None,
        status_response: None,
    }
    .to_json()
}

async fn run_connection<S>(
    shared: &Shared,
    id: ConnId,
    mut ws: WebSocketStream<S>,
    mut outbox: mpsc::Receiver<Outbound>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut shutdown = shared.shutdown.clone();
    let config = &shared.config;
    let started = tokio::time::Instant::now();
    let mut last_in = started;
    let mut close_at: Option<tokio::time::Instant> = None;
    let mut reconnect_ice_at = config
        .reconnect_ice_server_after
        .map(|after| started + after);
    loop {
        let idle_at = last_in + config.idle_timeout;
        let go_away_at = started + config.max_connection_duration;
        let next = match close_at {
            Some(at) => at.min(idle_at),
            None => go_away_at.min(idle_at),
        };
        let next = reconnect_ice_at.map_or(next, |at| at.min(next));
        let mut go_away = false;
        tokio::select! {
            incoming = ws.next() => {
                last_in = tokio::time::Instant::now();
                match incoming {
                    Some(Ok(Message::Text(text))) => {
                        if let Some(reply) = relay_frame(shared, id, text.as_str())
                            && ws.send(Message::text(reply)).await.is_err()
                        {
                            break;
                        }
                    }
                    Some(Ok(Message::Binary(_))) => warn!(?id, "binary frame ignored: KVS signaling uses text frames"),
                    Some(Ok(Message::Close(_))) | None => break,
                    Some(Ok(_)) => {} // ping/pong are answered by tungstenite
                    Some(Err(e)) => {
                        debug!(?id, error = %e, "WebSocket read failed");
                        break;
                    }
                }
            },
            out = outbox.recv() => match out {
                Some(Outbound::Frame(frame)) => if ws.send(Message::text(frame)).await.is_err() { break },
                Some(Outbound::GoAway) => go_away = true,
                Some(Outbound::ReconnectIceServer) => {
                    info!(?id, "sending RECONNECT_ICE_SERVER");
                    if ws.send(Message::text(control_frame(MessageType::ReconnectIceServer))).await.is_err() {
                        break;
                    }
                }
                None => {
                    let _ = ws.close(None).await;
                    break;
                }
            },
            _ = tokio::time::sleep_until(next) => {
                let now = tokio::time::Instant::now();
                if now >= idle_at {
                    info!(?id, idle_secs = config.idle_timeout.as_secs(), "closing an idle connection");
                    let _ = ws.close(None).await;
                    break;
                }
                if close_at.is_some_and(|at| now >= at) {
                    info!(?id, "GO_AWAY grace period over; closing");
                    let _ = ws.close(None).await;
                    break;
                }
                if reconnect_ice_at.is_some_and(|at| now >= at) {
                    reconnect_ice_at = None;
                    info!(?id, "sending RECONNECT_ICE_SERVER (--reconnect-ice-server-after)");
                    if ws.send(Message::text(control_frame(MessageType::ReconnectIceServer))).await.is_err() {
                        break;
                    }
                    continue;
                }
                go_away = close_at.is_none() && now >= go_away_at;
            }
            _ = shutdown.changed() => {
                let _ = ws.close(None).await;
                break;
            }
        }
        if go_away && close_at.is_none() {
            info!(
                ?id,
                grace_secs = config.go_away_grace.as_secs(),
                "sending GO_AWAY"
            );
            close_at = Some(tokio::time::Instant::now() + config.go_away_grace);
            if ws
                .send(Message::text(control_frame(MessageType::GoAway)))
                .await
                .is_err()
            {
                break;
            }
        }
    }
}

/// Routes one frame; returns a STATUS_RESPONSE for the sender when delivery failed.
fn relay_frame(shared: &Shared, from: ConnId, text: &str) -> Option<String> {
    let mut hub = shared.hub.lock().expect("hub lock");
    match hub.relay.route(Instant::now(), from, text) {
        Routed::Deliver { to, frame } => {
            shared.observe.relayed(Relayed::Delivered);
            let sent = hub
                .outboxes
                .get(&to)
                .map(|tx| tx.try_send(Outbound::Frame(frame)));
            match sent {
                Some(Ok(())) => {
                    debug!(?from, ?to, "relayed");
                    None
                }
                _ => {
                    warn!(
                        ?from,
                        ?to,
                        "recipient is gone or not reading; message dropped"
                    );
                    None
                }
            }
        }
        Routed::Held => {
            shared.observe.relayed(Relayed::Held);
            debug!(
                ?from,
                "recipient offline; message held until it connects or the TTL passes"
            );
            None
        }
        Routed::Reply(status) => {
            shared.observe.relayed(Relayed::Answered);
            info!(?from, "message refused; STATUS_RESPONSE sent");
            Some(status)
        }
        Routed::Dropped { reason } => {
            shared.observe.relayed(Relayed::Refused);
            info!(?from, %reason, "message refused; no correlationId to answer");
            None
        }
    }
}
