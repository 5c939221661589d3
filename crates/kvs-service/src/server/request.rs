//! What the service reads from an HTTP request: its parts as the SigV4 verifier sees them,
//! and a bounded body.

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

use http_body_util::{BodyExt, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, header};
use kvs_proto::api::ErrorCode;
use kvs_proto::sigv4::{IncomingRequest, Verified, VerifyError};

use super::Shared;
use super::response::{Body, error_response};

/// Largest control-plane request body accepted.
const MAX_BODY: usize = 64 * 1024;

/// The request's parts as the SigV4 verifier sees them.
pub(super) struct Parts {
    pub(super) method: String,
    pub(super) host: String,
    pub(super) path: String,
    /// The path without the service's path prefix; what requests are routed by.
    pub(super) route: String,
    query: Option<String>,
    headers: Vec<(String, String)>,
}

impl Parts {
    pub(super) fn of(req: &Request<Incoming>, prefix: &str) -> Self {
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

    /// Verifies the signature on the service's clock ([`kvs_service_core::Keys`]).
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
        shared
            .keys
            .authenticate(&req, shared.now(), |access_key_id| {
                crate::clock::lock(&shared.core).issued_key(access_key_id)
            })
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
