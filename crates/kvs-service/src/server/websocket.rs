//! WebSocket relay connections: the presigned upgrade, then one task per connection that reads
//! client frames into the relay and writes what the relay and the operator send it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use kvs_proto::api::{ChannelRole, ErrorCode};
use kvs_proto::wire::{MessageType, ServiceFrame};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tracing::{debug, info, warn};

use kvs_service_core::admin::ConnSignal;
use kvs_service_core::lifetime::{CloseReason, Lifetime, LifetimeAction};
use kvs_service_core::{ConnId, MASTER_PATH, Routed, VIEWER_PATH};

use super::request::Parts;
use super::response::{Body, error_response};
use super::{Outbound, Shared};
use crate::clock::lock;
use crate::observe::Relayed;

/// Largest WebSocket message accepted (a 10,000-byte payload plus JSON framing fits easily).
const MAX_WS_MESSAGE: usize = 64 * 1024;
/// Frames queued for a connection that is not reading before new ones are dropped.
const OUTBOX_CAPACITY: usize = 128;
/// Initial read buffer of a connection; it grows for larger messages. Small, because most
/// connections are idle most of the time.
const READ_BUFFER: usize = 2 * 1024;

/// The service's WebSocket settings: a small initial read buffer (most connections idle), the
/// message cap above, and no write batching. The load generator's servers use them too, so
/// its floor holds connections the same way.
pub fn ws_config() -> WebSocketConfig {
    let mut config = WebSocketConfig::default();
    config.max_message_size = Some(MAX_WS_MESSAGE);
    config.max_frame_size = Some(MAX_WS_MESSAGE);
    config.read_buffer_size = READ_BUFFER;
    config.write_buffer_size = 0;
    config
}

/// Accepts or refuses a WebSocket upgrade to `/m` or `/v`.
pub(super) fn upgrade(shared: Arc<Shared>, parts: Parts, req: Request<Incoming>) -> Response<Body> {
    let role = match parts.route.as_str() {
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
    let Some(key) = req.headers().get(header::SEC_WEBSOCKET_KEY) else {
        return refuse(
            400,
            ErrorCode::InvalidArgument.name(),
            "missing Sec-WebSocket-Key",
        );
    };
    let accept = derive_accept_key(key.as_bytes());

    let (tx, rx) = mpsc::channel(OUTBOX_CAPACITY);
    let joined = {
        let mut core = lock(&shared.core);
        let mut joined = core.connect(Instant::now(), role, &verified, tx);
        // Written while the lock is held, so they go out before anything relayed to it later.
        if let Ok(joined) = &mut joined
            && !joined.held.is_empty()
            && let Some(outbox) = core.outbox(joined.id)
        {
            info!(id = ?joined.id, count = joined.held.len(), "delivering messages held while offline");
            for frame in std::mem::take(&mut joined.held) {
                let _ = outbox.try_send(Outbound::Frame(frame));
            }
        }
        joined
    };
    let joined = match joined {
        Ok(joined) => joined,
        Err(r) => return refuse(r.status, r.code.name(), &r.message),
    };
    let id = joined.id;
    if let Some(old) = joined.replaced {
        // Its outbox left the core with it: its task sees it close and hangs up.
        info!(?old, new = ?id, "a newer connection replaced an older one");
    }
    let (arn, client_id) = (
        verified
            .params
            .get("X-Amz-ChannelARN")
            .map_or("", String::as_str),
        verified
            .params
            .get("X-Amz-ClientId")
            .filter(|_| role == ChannelRole::Viewer),
    );
    info!(?id, ?role, client_id = client_id.map_or("", String::as_str), channel = %arn, key = %verified.access_key_id, decision = "accepted", "WebSocket connect");
    let role_label = format!("role=\"{}\"", role.as_str());
    shared
        .observe
        .gauge("kvs_connections", role_label.clone(), 1);
    shared
        .observe
        .count("kvs_connects_total", role_label.clone());
    shared.tasks.clone().spawn(async move {
        match hyper::upgrade::on(req).await {
            Ok(upgraded) => {
                let ws = WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    Some(ws_config()),
                )
                .await;
                run(&shared, id, ws, rx).await;
            }
            Err(e) => debug!(?id, error = %e, "upgrade failed"),
        }
        lock(&shared.core).disconnect(Instant::now(), id);
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

/// Sends one frame, giving up on a peer that does not take it within the write timeout (a
/// slow reader must not hold memory or a task forever).
async fn send<S>(ws: &mut WebSocketStream<S>, text: String, timeout: Duration) -> bool
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match tokio::time::timeout(timeout, ws.send(Message::text(text))).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            debug!(error = %e, "WebSocket write failed");
            false
        }
        Err(_) => {
            info!(
                timeout_secs = timeout.as_secs_f64(),
                "closing a connection that stopped reading"
            );
            false
        }
    }
}

/// The driver's time as the core takes it: tokio's clock, so tests that pause time move it.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

async fn run<S>(
    shared: &Shared,
    id: ConnId,
    mut ws: WebSocketStream<S>,
    mut outbox: mpsc::Receiver<Outbound>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut shutdown = shared.shutdown.clone();
    let config = &shared.config;
    let write_timeout = config.write_timeout;
    let mut life = Lifetime::new(shared.lifetimes(), now());
    loop {
        // What the connection must send now: GO_AWAY or RECONNECT_ICE_SERVER.
        let mut control = None;
        tokio::select! {
            incoming = ws.next() => {
                life.on_incoming(now());
                match incoming {
                    Some(Ok(Message::Text(text))) => {
                        if let Some(reply) = relay_frame(shared, id, text.as_str())
                            && !send(&mut ws, reply, write_timeout).await
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
                Some(Outbound::Frame(frame)) => if !send(&mut ws, frame, write_timeout).await { break },
                Some(Outbound::Signal(ConnSignal::GoAway)) => {
                    if life.go_away(now()) {
                        control = Some(MessageType::GoAway);
                    }
                }
                Some(Outbound::Signal(ConnSignal::ReconnectIceServer)) => {
                    info!(?id, "sending RECONNECT_ICE_SERVER");
                    control = Some(MessageType::ReconnectIceServer);
                }
                Some(Outbound::Signal(ConnSignal::Close)) => {
                    info!(?id, "closing on the operator's request");
                    let _ = ws.close(None).await;
                    break;
                }
                None => {
                    let _ = ws.close(None).await;
                    break;
                }
            },
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(life.poll_timeout())) => {
                match life.handle_timeout(now()) {
                    Some(LifetimeAction::Close(why)) => {
                        match why {
                            CloseReason::Idle => info!(?id, idle_secs = config.idle_timeout.as_secs(), "closing an idle connection"),
                            CloseReason::GoAwayGraceOver => info!(?id, "GO_AWAY grace period over; closing"),
                        }
                        let _ = ws.close(None).await;
                        break;
                    }
                    Some(LifetimeAction::SendGoAway) => control = Some(MessageType::GoAway),
                    Some(LifetimeAction::SendReconnectIceServer) => {
                        info!(?id, "sending RECONNECT_ICE_SERVER (--reconnect-ice-server-after)");
                        control = Some(MessageType::ReconnectIceServer);
                    }
                    None => {}
                }
            }
            _ = shutdown.changed() => {
                // A close frame, within the grace period even if the peer stopped reading.
                let closing = ws.close(Some(CloseFrame {
                    code: CloseCode::Away,
                    reason: "the service is shutting down".into(),
                }));
                let _ = tokio::time::timeout(config.shutdown_grace, closing).await;
                break;
            }
        }
        if let Some(kind) = control {
            if kind == MessageType::GoAway {
                info!(
                    ?id,
                    grace_secs = config.go_away_grace.as_secs(),
                    "sending GO_AWAY"
                );
            }
            if !send(&mut ws, control_frame(kind), write_timeout).await {
                break;
            }
        }
    }
}

/// Routes one frame; returns a STATUS_RESPONSE for the sender when delivery failed.
fn relay_frame(shared: &Shared, from: ConnId, text: &str) -> Option<String> {
    let mut core = lock(&shared.core);
    match core.route(Instant::now(), from, text) {
        Routed::Deliver { to, frame, delay } => {
            let Some(outbox) = core.outbox(to).cloned() else {
                warn!(?from, ?to, "recipient is gone; message dropped");
                return None;
            };
            drop(core);
            shared.observe.relayed(Relayed::Delivered);
            match delay {
                None => {
                    if outbox.try_send(Outbound::Frame(frame)).is_err() {
                        warn!(?from, ?to, "recipient is not reading; message dropped");
                    }
                }
                Some(by) => {
                    info!(
                        ?from,
                        ?to,
                        delay_ms = by.as_millis() as u64,
                        "message delayed (injected fault)"
                    );
                    tokio::spawn(async move {
                        tokio::time::sleep(by).await;
                        let _ = outbox.send(Outbound::Frame(frame)).await;
                    });
                }
            }
            None
        }
        Routed::AlexaAnswer {
            payload, waiter, ..
        } => {
            shared.observe.relayed(Relayed::Delivered);
            if waiter.send(payload).is_err() {
                debug!(?from, "answer to an Alexa offer nobody waits for any more");
            }
            None
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
            info!(?from, %reason, "message not delivered, and no correlationId to answer");
            None
        }
    }
}
