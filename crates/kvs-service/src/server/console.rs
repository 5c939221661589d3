//! The web console: a page at `/` and its files under `/console/`, embedded in the binary
//! (no build step, no CDN, works offline), served from the API's own origin so the page's
//! signed `fetch` calls need no CORS set-up. `/console/config.json` tells the page the region
//! and, only when the service accepts nothing but the documented example key pair, that pair
//! to prefill (it is public: AWS's own documentation prints it).

use http_body_util::Full;
use hyper::Response;
use hyper::body::Bytes;
use hyper::header::{self, HeaderValue};
use serde_json::json;

use super::Shared;
use super::response::Body;
use crate::{EXAMPLE_ACCESS_KEY_ID, EXAMPLE_SECRET_ACCESS_KEY};

/// The files, by the path they are served at.
const FILES: [(&str, &str, &str); 8] = [
    (
        "/",
        "text/html; charset=utf-8",
        include_str!("../../console/index.html"),
    ),
    (
        "/console/app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/app.js"),
    ),
    (
        "/console/sigv4.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/sigv4.js"),
    ),
    (
        "/console/kvs.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/kvs.js"),
    ),
    (
        "/console/style.css",
        "text/css; charset=utf-8",
        include_str!("../../console/style.css"),
    ),
    (
        "/console/test.html",
        "text/html; charset=utf-8",
        include_str!("../../console/test.html"),
    ),
    (
        "/console/test.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/test.js"),
    ),
    // The SigV4 vectors the Rust signer is tested with, for the page's own signer tests.
    (
        "/console/vectors.json",
        "application/json",
        include_str!("../../../kvs-proto/src/sigv4/vectors.json"),
    ),
];

/// The console's answer to a `GET` of `route`, if it is one of its paths.
pub(super) fn answer(shared: &Shared, route: &str) -> Option<Response<Body>> {
    if route == "/console/config.json" {
        return Some(config(shared));
    }
    let (_, kind, text) = FILES.iter().find(|(path, _, _)| *path == route)?;
    Some(file(kind, Bytes::from_static(text.as_bytes())))
}

fn file(kind: &'static str, body: Bytes) -> Response<Body> {
    let mut resp = Response::new(Full::new(body));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Only our own files and connections back to this service; no inline script.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; media-src 'self' blob:; style-src 'self'",
        ),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

fn config(shared: &Shared) -> Response<Body> {
    let keys = &shared.config.credentials;
    let example = keys.len() == 1
        && keys[0].access_key_id == EXAMPLE_ACCESS_KEY_ID
        && keys[0].secret_access_key == EXAMPLE_SECRET_ACCESS_KEY
        && keys[0].session_token.is_none();
    let mut body = json!({
        "region": shared.config.region,
        "pathPrefix": shared.config.path_prefix,
    });
    if example {
        body["exampleKeys"] = json!({
            "accessKeyId": EXAMPLE_ACCESS_KEY_ID,
            "secretAccessKey": EXAMPLE_SECRET_ACCESS_KEY,
        });
    }
    file(
        "application/json",
        Bytes::from(serde_json::to_vec(&body).unwrap_or_default()),
    )
}
