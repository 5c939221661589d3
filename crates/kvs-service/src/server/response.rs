//! What every HTTP answer of the service looks like: JSON with a request id and CORS
//! headers, and AWS's error shape (`x-amzn-ErrorType`, `{"Message": ...}`).

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

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use kvs_proto::api::ErrorBody;

use kvs_service_core::ApiError;

/// The body of every answer the service gives over HTTP.
pub(crate) type Body = Full<Bytes>;

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

pub(crate) fn json_response(status: u16, body: Vec<u8>) -> Response<Body> {
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
pub(crate) fn error_response(status: u16, exception: &str, message: &str) -> Response<Body> {
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

pub(crate) fn api_error_response(e: &ApiError) -> Response<Body> {
    error_response(e.code.http_status(), e.code.name(), &e.message)
}
