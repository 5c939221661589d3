//! The admin API for fault injection, on the service's own listener under `/admin/`. Off
//! unless the service has an admin token; every request must carry it as
//! `Authorization: Bearer <token>`. What each request does is the core's
//! (`kvs_service_core::admin`); this module checks the token and moves the bytes.

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

use hyper::body::Incoming;
use hyper::{Request, Response, header};
use kvs_service_core::admin::AdminCommand;
use subtle::ConstantTimeEq;
use tracing::info;

use super::request::read_body;
use super::response::{Body, error_response, json_response};
use super::{Shared, carry_out};

/// Where the admin API lives.
pub(super) const PREFIX: &str = "/admin/";

pub(super) async fn handle(shared: &Shared, req: Request<Incoming>, path: &str) -> Response<Body> {
    let Some(token) = shared.config.admin_token.as_deref() else {
        return error_response(
            404,
            "UnknownOperationException",
            "the admin API is off; start the service with --admin-token to enable it",
        );
    };
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    // Constant time, so the refusal's timing does not reveal how much of a guess was right.
    if !bool::from(presented.as_bytes().ct_eq(token.as_bytes())) {
        info!(%path, decision = "refused", "admin request without the right token");
        return error_response(
            401,
            "AccessDeniedException",
            "the admin API needs `Authorization: Bearer <admin token>`",
        );
    }
    let method = req.method().clone();
    let body = match read_body(shared, req.into_body()).await {
        Ok(body) => body,
        Err(resp) => return resp,
    };
    let route = path.strip_prefix(PREFIX).unwrap_or_default();
    info!(%method, %route, "admin request");
    let result = AdminCommand::parse(method.as_str(), route, &body)
        .and_then(|command| carry_out(shared, command))
        .map(|body| json_response(200, body));
    result.unwrap_or_else(|r| error_response(r.status, r.code.name(), &r.message))
}
