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

use std::time::{Duration, SystemTime};

use aws_sigv4::SigningOutput;
use aws_sigv4::http_request::SigningInstructions;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;

use super::{SERVICE_NAME, uri_encode};
use crate::Credentials;

/// The parts of an HTTP request that SigV4 covers.
#[derive(Debug, Clone, Copy)]
pub struct RequestToSign<'a> {
    /// HTTP method, e.g. `POST`.
    pub method: &'a str,
    /// Absolute URL, already percent-encoded.
    pub url: &'a str,
    /// Headers to sign besides `host` and `x-amz-date`, which are always signed.
    pub headers: &'a [(&'a str, &'a str)],
    /// The exact body bytes that will be sent.
    pub body: &'a [u8],
}

/// Signing failed: the URL or a header could not be canonicalised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot sign the request: {0}")]
pub struct SigningError(String);

impl SigningError {
    fn from_display(e: impl std::fmt::Display) -> Self {
        Self(e.to_string())
    }
}

fn signing_params<'a>(
    identity: &'a aws_smithy_runtime_api::client::identity::Identity,
    region: &'a str,
    service: &'a str,
    time: SystemTime,
    settings: SigningSettings,
) -> Result<aws_sigv4::http_request::SigningParams<'a>, SigningError> {
    Ok(v4::SigningParams::builder()
        .identity(identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(SigningError::from_display)?
        .into())
}

pub(super) fn sign_with(
    req: RequestToSign<'_>,
    creds: &Credentials,
    region: &str,
    time: SystemTime,
    settings: SigningSettings,
) -> Result<SigningOutput<SigningInstructions>, SigningError> {
    sign_for_service(req, creds, region, SERVICE_NAME, time, settings)
}

fn sign_for_service(
    req: RequestToSign<'_>,
    creds: &Credentials,
    region: &str,
    service: &str,
    time: SystemTime,
    settings: SigningSettings,
) -> Result<SigningOutput<SigningInstructions>, SigningError> {
    let identity = creds.clone().into();
    let params = signing_params(&identity, region, service, time, settings)?;
    let signable = SignableRequest::new(
        req.method,
        req.url,
        req.headers.iter().copied(),
        SignableBody::Bytes(req.body),
    )
    .map_err(SigningError::from_display)?;
    // aws-sigv4 logs the canonical request at TRACE, and a presigned one carries the session
    // token in its query string. Signing runs with no subscriber at all, so that no log
    // filter (RUST_LOG=trace included) can let the token out.
    tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), || {
        sign(signable, &params)
    })
    .map_err(SigningError::from_display)
}

/// Signs a request in the `Authorization` header; returns the headers to add
/// (`authorization`, `x-amz-date` and, with temporary credentials, `x-amz-security-token`).
pub fn sign_headers(
    req: RequestToSign<'_>,
    creds: &Credentials,
    region: &str,
    time: SystemTime,
) -> Result<Vec<(&'static str, String)>, SigningError> {
    let out = sign_with(req, creds, region, time, SigningSettings::default())?;
    let (headers, _) = out.into_parts().0.into_parts();
    Ok(headers
        .into_iter()
        .map(|h| (h.name(), h.value().to_owned()))
        .collect())
}

/// Presigns a `GET` URL (the WebSocket upgrade) with the signature in the query string,
/// valid for `expires` from `time`. The URL's own query must already be percent-encoded.
pub fn presign_url(
    url: &str,
    creds: &Credentials,
    region: &str,
    time: SystemTime,
    expires: Duration,
) -> Result<String, SigningError> {
    presign_for_service(url, creds, region, SERVICE_NAME, time, expires)
}

/// The WebSocket URL a KVS client connects with: `wss_endpoint` (from
/// GetSignalingChannelEndpoint) with `X-Amz-ChannelARN` and, for a viewer, `X-Amz-ClientId`
/// (`client_id` is `None` for the master), presigned with [`presign_url`].
pub fn presign_channel_url(
    wss_endpoint: &str,
    channel_arn: &str,
    client_id: Option<&str>,
    creds: &Credentials,
    region: &str,
    time: SystemTime,
    expires: Duration,
) -> Result<String, SigningError> {
    let mut params = vec![("X-Amz-ChannelARN", channel_arn)];
    params.extend(client_id.map(|id| ("X-Amz-ClientId", id)));
    let url = format!("{wss_endpoint}?{}", super::encode_query(params));
    presign_url(&url, creds, region, time, expires)
}

pub(super) fn presign_for_service(
    url: &str,
    creds: &Credentials,
    region: &str,
    service: &str,
    time: SystemTime,
    expires: Duration,
) -> Result<String, SigningError> {
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(expires);
    let req = RequestToSign {
        method: "GET",
        url,
        headers: &[],
        body: &[],
    };
    let out = sign_for_service(req, creds, region, service, time, settings)?;
    let (_, params) = out.into_parts().0.into_parts();
    let mut signed = String::with_capacity(url.len().saturating_add(512));
    signed.push_str(url);
    let mut sep = if url.contains('?') { '&' } else { '?' };
    for (k, v) in params {
        signed.push(sep);
        signed.push_str(k);
        signed.push('=');
        signed.push_str(&uri_encode(&v));
        sep = '&';
    }
    Ok(signed)
}
