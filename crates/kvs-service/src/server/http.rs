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

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use kvs_proto::api::{
    DeleteSignalingChannelInput, ErrorBody, ErrorCode, Operation, SendAlexaOfferToMasterOutput,
};
use kvs_proto::sigv4::{self, IncomingRequest, Verified, VerifyError};
use tokio::sync::oneshot;
use tracing::{info, warn};

use super::{Outbound, Shared, admin, websocket};
use crate::api_error::ApiError;
use crate::channels::{AlexaOffer, Answer, Caller, Context, EndpointBase, TurnServers};
use crate::clock::lock;
use crate::relay::AlexaRouted;

/// Largest control-plane request body accepted.
const MAX_BODY: usize = 64 * 1024;
/// Largest request head (request line and headers) accepted.
pub(super) const MAX_HEADER_BYTES: usize = 16 * 1024;

pub(super) type Body = Full<Bytes>;

// Allowed: `h` is exactly 32 ASCII hex digits, so every range is inside it and on a
// character boundary.
#[allow(clippy::string_slice)]
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

pub(super) fn json_response(status: u16, body: Vec<u8>) -> Response<Body> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(
        "x-amzn-requestid",
        HeaderValue::from_str(&request_id()).unwrap_or(HeaderValue::from_static("0")),
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
pub(super) fn error_response(status: u16, exception: &str, message: &str) -> Response<Body> {
    let body = serde_json::to_vec(&ErrorBody {
        message: message.to_owned(),
    })
    .unwrap_or_default(); // a struct of one string always serialises
    let mut resp = json_response(status, body);
    resp.headers_mut().insert(
        "x-amzn-errortype",
        HeaderValue::from_str(exception).unwrap_or(HeaderValue::from_static("InternalFailure")),
    );
    resp
}

pub(super) fn api_error_response(e: &ApiError) -> Response<Body> {
    error_response(e.code.http_status(), e.code.name(), &e.message)
}

/// The request's parts as the SigV4 verifier sees them.
pub(super) struct Parts {
    method: String,
    pub(super) host: String,
    pub(super) path: String,
    /// The path without the service's path prefix; what requests are routed by.
    pub(super) route: String,
    query: Option<String>,
    headers: Vec<(String, String)>,
}

impl Parts {
    fn of(req: &Request<Incoming>, prefix: &str) -> Self {
        let path = req.uri().path();
        let route = match path.strip_prefix(prefix) {
            Some(rest) if rest.starts_with('/') => rest,
            _ if prefix.is_empty() => path,
            _ => "",
        };
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
            path: path.to_owned(),
            route: route.to_owned(),
            query: req.uri().query().map(str::to_owned),
            headers,
        }
    }

    /// Verifies the signature against the service's keys and clock, and the session token of
    /// keys that have one.
    pub(super) fn verify(&self, shared: &Shared, body: &[u8]) -> Result<Verified, VerifyError> {
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
        let keys = &shared.config.credentials;
        let verified = sigv4::verify(
            &req,
            |ak| {
                keys.iter()
                    .find(|k| k.access_key_id == ak)
                    .map(|k| k.secret_access_key.clone())
            },
            &shared.config.region,
            shared.now(),
        )?;
        let key = keys
            .iter()
            .find(|k| k.access_key_id == verified.access_key_id);
        if let Some(expected) = key.and_then(|k| k.session_token.as_deref())
            && verified.session_token.as_deref() != Some(expected)
        {
            return Err(VerifyError::UnknownAccessKey);
        }
        Ok(verified)
    }

    /// The caller as the policy sees it; `None` when there is no policy.
    pub(super) fn caller<'a>(shared: &'a Shared, verified: &'a Verified) -> Option<Caller<'a>> {
        shared.config.policy.as_ref().map(|policy| Caller {
            access_key_id: &verified.access_key_id,
            policy,
        })
    }
}

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

/// Reads a request body of at most [`MAX_BODY`] bytes within the handshake timeout, so a slow
/// or endless body cannot hold the connection.
pub(super) async fn read_body(shared: &Shared, body: Incoming) -> Result<Bytes, Response<Body>> {
    let collect = Limited::new(body, MAX_BODY).collect();
    match tokio::time::timeout(shared.config.handshake_timeout, collect).await {
        Ok(Ok(b)) => Ok(b.to_bytes()),
        Ok(Err(_)) => Err(error_response(
            400,
            ErrorCode::SerializationException.name(),
            &format!("request body exceeds {MAX_BODY} bytes or was cut off"),
        )),
        Err(_) => Err(error_response(
            400,
            ErrorCode::SerializationException.name(),
            "request body arrived too slowly",
        )),
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
    let mut channels = lock(&shared.channels);
    let out = channels.dispatch(op, body, cx)?;
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
    drop(channels);
    if op == Operation::DeleteSignalingChannel
        && let Ok(input) = serde_json::from_slice::<DeleteSignalingChannelInput>(body)
    {
        close_channel(shared, &input.channel_arn);
    }
    Ok(out)
}

/// Closes the live connections of a deleted channel and ends the Alexa offers waiting on it;
/// clients that reconnect get ResourceNotFoundException.
fn close_channel(shared: &Shared, arn: &str) {
    let mut hub = lock(&shared.hub);
    let gone = hub.relay.forget_channel(arn);
    for id in &gone {
        hub.outboxes.remove(id); // the connection's task sees its outbox close and hangs up
    }
    hub.alexa.retain(|(channel, _), _| channel != arn);
    if !gone.is_empty() {
        info!(channel = %arn, connections = gone.len(), "channel deleted; closing its connections");
    }
}

/// Delivers an Alexa offer to the master and waits (up to the message TTL) for its answer.
async fn alexa_offer(shared: &Shared, offer: AlexaOffer) -> Result<Vec<u8>, ApiError> {
    let key = (offer.channel_arn.clone(), offer.sender_client_id.clone());
    let (tx, rx) = oneshot::channel();
    {
        let mut hub = lock(&shared.hub);
        match hub.relay.alexa_offer(Instant::now(), &offer) {
            AlexaRouted::RateExceeded => {
                return Err(ApiError::new(
                    ErrorCode::ClientLimitExceeded,
                    "more than 5 SendAlexaOfferToMaster calls per second on this channel",
                ));
            }
            AlexaRouted::Deliver { to, frame } => {
                if let Some(outbox) = hub.outboxes.get(&to) {
                    let _ = outbox.try_send(Outbound::Frame(frame));
                }
            }
            AlexaRouted::Held => {
                info!(channel = %offer.channel_arn, "Alexa offer held until the master connects")
            }
        }
        hub.alexa.insert(key.clone(), tx);
    }
    let answer = tokio::time::timeout(offer.ttl, rx).await; // drops the receiver
    let mut hub = lock(&shared.hub);
    // A newer offer from the same sender may have taken the slot; leave it alone.
    if hub.alexa.get(&key).is_some_and(|tx| tx.is_closed()) {
        hub.alexa.remove(&key);
        hub.relay.alexa_gave_up(&key.0, &key.1);
    }
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
