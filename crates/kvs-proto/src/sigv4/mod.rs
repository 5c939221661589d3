//! SigV4 for KVS: signing requests and presigning WebSocket URLs (client side), and verifying
//! both (service side).
//!
//! Signing delegates to the official `aws-sigv4` crate so our canonicalisation is AWS's.
//! Verification re-signs the incoming request with its own date, scope and signed headers and
//! compares the result in constant time, which keeps one canonicalisation for both directions.

mod sign;
mod verify;

#[cfg(test)]
mod tests;

pub use sign::{RequestToSign, SigningError, presign_channel_url, presign_url, sign_headers};
pub use verify::{IncomingRequest, Verified, VerifyError, verify};

/// The SigV4 service name of both KVS APIs and of the WebSocket data plane.
pub const SERVICE_NAME: &str = "kinesisvideo";

/// How far a request's signing time may be from the service's clock (KVS uses 5 minutes).
pub const MAX_CLOCK_SKEW: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// True for a refusal whose message says the signature's time was refused ("Signature
/// expired" / "Signature not yet current", as AWS and our verifier word them).
pub fn is_clock_refusal(message: &str) -> bool {
    message.contains("Signature expired") || message.contains("not yet current")
}

/// The longest validity a presigned URL may ask for (SigV4's maximum, 7 days).
pub const MAX_PRESIGN_EXPIRES_SECS: u64 = 604_800;

/// Characters SigV4 leaves unencoded: RFC 3986 unreserved.
const SIGV4_ENCODE_SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes a query key or value the way SigV4 canonicalises it.
pub fn uri_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, SIGV4_ENCODE_SET).to_string()
}

/// Builds `k1=v1&k2=v2` with SigV4 encoding, in the given order.
pub fn encode_query<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (k, v) in params {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(&uri_encode(k));
        out.push('=');
        out.push_str(&uri_encode(v));
    }
    out
}
