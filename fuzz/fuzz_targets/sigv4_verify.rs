//! The SigV4 verifier on arbitrary query strings, headers and bodies.
#![no_main]
use std::time::{Duration, UNIX_EPOCH};

use kvs_proto::sigv4::{IncomingRequest, verify};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut parts = text.splitn(4, '\n');
    let (query, auth, date, body) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let headers = [("authorization", auth), ("x-amz-date", date)];
    let now = UNIX_EPOCH + Duration::from_secs(1_575_158_400);
    for h in [&headers[..], &[]] {
        let req = IncomingRequest {
            method: "GET",
            host: "127.0.0.1:4443",
            path: "/v",
            query: Some(query),
            headers: h,
            body: body.as_bytes(),
        };
        let _ = verify(&req, |ak| (ak == "AKID").then(|| "secret".to_owned()), "us-west-2", now);
    }
});
