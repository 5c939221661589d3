//! HTTP requests: the control plane and signaling API (SigV4-verified), CORS, `/metrics`, and
//! the admin API.

#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::string_slice
    )
)]

use std::sync::Arc;
use std::time::Instant;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response};
use kvs_proto::api::{ErrorCode, Operation, SendAlexaOfferToMasterOutput};
use kvs_proto::sigv4::Verified;
use tokio::sync::oneshot;
use tracing::{info, warn};

use super::request::{Parts, read_body};
use super::response::{Body, api_error_response, error_response, json_response};
use super::{Outbound, Shared, admin, websocket};
use crate::api_error::ApiError;
use crate::channels::{AlexaOffer, Answer, Context, EndpointBase, TurnServers};
use crate::clock::lock;
use crate::relay::AlexaRouted;

/// Largest request head (request line and headers) accepted.
pub(super) const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Answers one HTTP request, with the service clock's `Date` (which clients correct their
/// clock skew from).
pub(super) async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    let now = shared.now();
    let mut resp = answer(shared, req).await;
    if let Ok(date) = HeaderValue::from_str(&httpdate::fmt_http_date(now)) {
        resp.headers_mut().insert(header::DATE, date);
    }
    resp
}

async fn answer(shared: Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    let parts = Parts::of(&req, &shared.config.path_prefix);
    let is_upgrade = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if is_upgrade && req.method() == Method::GET {
        return websocket::upgrade(shared, parts, req);
    }
    if req.method() == Method::OPTIONS {
        return cors_preflight(&req);
    }
    if req.method() == Method::GET && parts.route == "/metrics" {
        let mut resp = Response::new(Full::new(Bytes::from(shared.observe.render())));
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        );
        return resp;
    }
    if parts.route.starts_with(admin::PREFIX) {
        return admin::handle(&shared, req, &parts.route).await;
    }
    let started = Instant::now();
    let operation = Operation::from_path(&parts.route).filter(|_| req.method() == Method::POST);
    let Some(operation) = operation else {
        info!(method = %parts.method, path = %parts.path, decision = "UnknownOperationException", "request refused");
        return error_response(
            404,
            ErrorCode::UnknownOperation.name(),
            "Unknown operation: use POST on a KVS signaling path",
        );
    };
    let body = match read_body(&shared, req.into_body()).await {
        Ok(body) => body,
        Err(resp) => return resp,
    };
    let outcome = |result: &str| format!("operation=\"{operation:?}\",result=\"{result}\"");
    let verified = match parts.verify(&shared, &body) {
        Ok(v) => v,
        Err(e) => {
            info!(?operation, decision = e.exception_name(), reason = %e, "request refused");
            shared
                .observe
                .count("kvs_requests_total", outcome(e.exception_name()));
            return error_response(e.http_status(), e.exception_name(), &e.to_string());
        }
    };
    let injected = lock(&shared.faults).next_error(&format!("{operation:?}"));
    let result = match injected {
        Some(e) => {
            info!(?operation, "answering with an injected error");
            Err(e)
        }
        None => match dispatch(&shared, operation, &parts.host, &body, &verified) {
            Ok(Answer::Json(body)) => Ok(body),
            Ok(Answer::OfferToMaster(offer)) => alexa_offer(&shared, offer).await,
            Err(e) => Err(e),
        },
    };
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
        Ok(_) => info!(?operation, key = %verified.access_key_id, decision = "accepted", "request"),
        Err(e) => {
            info!(?operation, key = %verified.access_key_id, decision = e.code.name(), reason = %e.message, "request refused")
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

/// The TURN URIs for a client that reached the service at `host`: one server per UDP port.
fn turn_uris(host: &str, ports: &[u16]) -> Vec<Vec<String>> {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    ports
        .iter()
        .map(|port| vec![format!("turn:{name}:{port}?transport=udp")])
        .collect()
}

fn dispatch(
    shared: &Shared,
    op: Operation,
    host: &str,
    body: &[u8],
    verified: &Verified,
) -> Result<Answer, ApiError> {
    let prefix = &shared.config.path_prefix;
    let https = format!("{}://{host}{prefix}", shared.scheme.0);
    let wss = format!("{}://{host}{prefix}", shared.scheme.1);
    let uris = shared
        .turn
        .as_ref()
        .map(|t| turn_uris(host, &t.ports))
        .unwrap_or_default();
    let cx = Context {
        base: EndpointBase {
            https: &https,
            wss: &wss,
        },
        now: shared.now(),
        turn: shared.turn.as_ref().map(|t| TurnServers {
            credentials: &t.credentials,
            uris: &uris,
        }),
        caller: Parts::caller(shared, verified),
    };
    let outcome = lock(&shared.channels).dispatch(op, body, cx)?;
    // Stored outside the table's lock, and before the answer: a restart keeps what was
    // acknowledged.
    if let (Some(snapshot), Some(store)) = (&outcome.effects.persist, &shared.store)
        && let Err(e) = store.persist(snapshot)
    {
        warn!(error = %e, "the change is in memory but not on disk");
    }
    if let Some(arn) = &outcome.effects.closed_channel {
        close_channel(shared, arn);
    }
    Ok(outcome.answer)
}

/// Closes the live connections of a deleted channel and ends the Alexa offers waiting on it;
/// clients that reconnect get ResourceNotFoundException.
fn close_channel(shared: &Shared, arn: &str) {
    let mut hub = lock(&shared.hub);
    // Their outboxes leave the table with them: each task sees its outbox close and hangs up.
    let gone = hub.forget_channel(arn);
    if !gone.is_empty() {
        info!(channel = %arn, connections = gone.len(), "channel deleted; closing its connections");
    }
}

/// Delivers an Alexa offer to the master and waits (up to the message TTL) for its answer.
async fn alexa_offer(shared: &Shared, offer: AlexaOffer) -> Result<Vec<u8>, ApiError> {
    let (tx, rx) = oneshot::channel();
    {
        let mut hub = lock(&shared.hub);
        match hub.alexa_offer(Instant::now(), &offer, tx) {
            AlexaRouted::RateExceeded => {
                return Err(ApiError::new(
                    ErrorCode::ClientLimitExceeded,
                    "more than 5 SendAlexaOfferToMaster calls per second on this channel",
                ));
            }
            AlexaRouted::Deliver { to, frame } => {
                if let Some(outbox) = hub.outbox(to) {
                    let _ = outbox.try_send(Outbound::Frame(frame));
                }
            }
            AlexaRouted::Held => {
                info!(channel = %offer.channel_arn, "Alexa offer held until the master connects")
            }
        }
    }
    let answer = tokio::time::timeout(offer.ttl, rx).await; // drops the receiver
    // A newer offer from the same sender may have taken the slot; leave that one alone.
    lock(&shared.hub).alexa_gave_up(
        &offer.channel_arn,
        &offer.sender_client_id,
        oneshot::Sender::is_closed,
    );
    match answer {
        Ok(Ok(answer)) => Ok(serde_json::to_vec(&SendAlexaOfferToMasterOutput {
            answer: Some(answer),
        })
        .unwrap_or_default()), // a struct of one string always serialises
        _ => Err(ApiError::new(
            ErrorCode::ResourceNotFound,
            format!(
                "the master did not answer within the channel's MessageTtlSeconds ({} s); is it connected?",
                offer.ttl.as_secs()
            ),
        )),
    }
}
