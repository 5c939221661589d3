//! Client options for talking to an in-process service with its default key pair, and the
//! signed requests the tools make themselves.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::bail;
use kvs_client::{ClientOptions, TlsOptions};
use kvs_proto::Credentials;
use kvs_proto::api::ChannelRole;
use kvs_proto::client::{ChannelRef, ClientConfig};
use kvs_proto::sigv4::{self, RequestToSign};
use kvs_service::{EXAMPLE_ACCESS_KEY_ID, EXAMPLE_SECRET_ACCESS_KEY, ServiceHandle};
use serde_json::Value;

/// The key pair the service accepts by default.
pub fn example_credentials() -> Credentials {
    Credentials::new(
        EXAMPLE_ACCESS_KEY_ID,
        EXAMPLE_SECRET_ACCESS_KEY,
        None,
        None,
        kvs_proto::STATIC_PROVIDER,
    )
}

/// Trusts `svc`'s CA (and the public roots).
pub fn tls_for(svc: &ServiceHandle) -> TlsOptions {
    TlsOptions {
        extra_ca_pem: svc.ca_pem().unwrap_or_default().as_bytes().to_vec(),
    }
}

/// Options for a client of `channel` on `svc`, in its region, signing with the example keys.
pub fn options(
    svc: &ServiceHandle,
    channel: &str,
    role: ChannelRole,
    client_id: &str,
) -> ClientOptions {
    let mut config = ClientConfig::new(ChannelRef::Name(channel.into()), crate::LOCAL_REGION, role);
    config.endpoint = svc.endpoint().to_owned();
    config.client_id = client_id.to_owned();
    let mut options = ClientOptions::new(config, Arc::new(example_credentials()));
    options.tls = tls_for(svc);
    options
}

/// A bare reqwest client on `tls`, for requests made without our client (benchmark floors,
/// load set-up).
pub fn bare_reqwest(tls: &Arc<rustls::ClientConfig>) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .tls_backend_preconfigured((**tls).clone())
        .tcp_nodelay(true)
        .build()?)
}

/// A SigV4-signed JSON POST with the example keys, as our client makes it; returns the JSON
/// answer, or fails with the status and body.
pub async fn signed_post(http: &reqwest::Client, url: &str, body: Value) -> anyhow::Result<Value> {
    let body = serde_json::to_vec(&body)?;
    let req = signed_json_post(
        http,
        url,
        body,
        &example_credentials(),
        crate::LOCAL_REGION,
        SystemTime::now(),
    )?;
    let resp = req.send().await?;
    let status = resp.status();
    let bytes = resp.bytes().await?;
    if !status.is_success() {
        bail!(
            "request to {url} failed: {status} {}",
            String::from_utf8_lossy(&bytes)
        );
    }
    Ok(serde_json::from_slice(&bytes)?)
}

/// A JSON POST of `body` to `url`, signed with `credentials` for `region` at `at`, ready to
/// send: the request our client makes, for the tools that make it themselves.
pub fn signed_json_post(
    http: &reqwest::Client,
    url: &str,
    body: Vec<u8>,
    credentials: &Credentials,
    region: &str,
    at: SystemTime,
) -> Result<reqwest::RequestBuilder, sigv4::SigningError> {
    let content_type = [("content-type", "application/json")];
    let signed = sigv4::sign_headers(
        RequestToSign {
            method: "POST",
            url,
            headers: &content_type,
            body: &body,
        },
        credentials,
        region,
        at,
    )?;
    let mut req = http
        .post(url)
        .header("content-type", "application/json")
        .body(body);
    for (k, v) in signed {
        req = req.header(k, v);
    }
    Ok(req)
}

/// The WSS endpoint `wss` presigned for the master (`client_id` `None`) or a viewer of `arn`,
/// with the example keys.
pub fn presigned_wss(wss: &str, arn: &str, client_id: Option<&str>) -> anyhow::Result<String> {
    Ok(sigv4::presign_channel_url(
        wss,
        arn,
        client_id,
        &example_credentials(),
        crate::LOCAL_REGION,
        SystemTime::now(),
        Duration::from_secs(299),
    )?)
}
