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
use std::time::{Instant, SystemTime};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response};
use kvs_proto::api::{ErrorCode, Operation, SendAlexaOfferToMasterOutput};
use kvs_proto::sigv4::Verified;
use kvs_service_core::{AlexaOffer, Answer, ApiError, ApiRequest, EndpointBase, TurnServers};
use tokio::sync::oneshot;
use tracing::{info, warn};

use super::request::{Parts, read_body};
use super::response::{Body, api_error_response, error_response, json_response};
use super::{Outbound, Shared, admin, console, websocket};
use crate::clock::lock;

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
    if req.method() == Method::GET
        && let Some(resp) = console::answer(&shared, &parts.route)
    {
        return resp;
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
    if req.method() == Method::POST && parts.route == console::VERDICTS {
        return match read_body(&shared, req.into_body()).await {
            Ok(body) => console::verdicts(&body),
            Err(resp) => resp,
        };
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
    let result = match dispatch(&shared, operation, &parts.host, &body, &verified) {
        Ok(Answer::Json(body)) => Ok(body),
        Ok(Answer::OfferToMaster(offer)) => alexa_offer(&shared, offer).await,
        Err(e) => Err(e),
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
        .map(|t| turn_uris(host, &t.advertised))
        .unwrap_or_default();
    let req = ApiRequest {
        operation: op,
        body,
        signer: verified,
        base: EndpointBase {
            https: &https,
            wss: &wss,
        },
        turn: shared.turn.as_ref().map(|t| TurnServers {
            credentials: &t.credentials,
            uris: &uris,
        }),
    };
    let handled = lock(&shared.core).request(req, SystemTime::now())?;
    // Stored outside the core's lock, and before the answer: a restart keeps what was
    // acknowledged.
    if let (Some(snapshot), Some(store)) = (&handled.persist, &shared.store)
        && let Err(e) = store.persist(snapshot)
    {
        warn!(error = %e, "the change is in memory but not on disk");
    }
    if !handled.closed.is_empty() {
        // Their outboxes left the core with them: each task sees its outbox close and hangs up.
        info!(
            connections = handled.closed.len(),
            "channel deleted; closing its connections"
        );
    }
    Ok(handled.answer)
}

/// Delivers an Alexa offer to the master and waits (up to the message TTL) for its answer.
async fn alexa_offer(shared: &Shared, offer: AlexaOffer) -> Result<Vec<u8>, ApiError> {
    let (tx, rx) = oneshot::channel();
    {
        let mut core = lock(&shared.core);
        match core.offer_to_master(Instant::now(), &offer, tx)? {
            Some(delivery) => {
                if let Some(outbox) = core.outbox(delivery.to) {
                    let _ = outbox.try_send(Outbound::Frame(delivery.frame));
                }
            }
            None => {
                info!(channel = %offer.channel_arn, "Alexa offer held until the master connects")
            }
        }
    }
    let answer = tokio::time::timeout(offer.ttl, rx).await; // drops the receiver
    // A newer offer from the same sender may have taken the slot; leave that one alone.
    lock(&shared.core).alexa_gave_up(&offer, oneshot::Sender::is_closed);
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
