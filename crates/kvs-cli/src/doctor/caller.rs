//! Signed calls as our client makes them, with everything the answer says: status,
//! exception, message, the service's `Date` against our clock, and the time taken. Once the
//! clock offset is known, every signature uses the corrected time.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use kvs_client::Credentials;
use kvs_proto::api::ErrorCode;
use serde::Serialize;

/// A signed call's answer.
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) code: Option<ErrorCode>,
    pub(super) error_name: Option<String>,
    pub(super) message: String,
    pub(super) date: Option<SystemTime>,
    pub(super) body: Vec<u8>,
    /// Our clock halfway through the call: what the service's `Date` is compared with.
    pub(super) midpoint: SystemTime,
    pub(super) elapsed: Duration,
}

impl Answer {
    pub(super) fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub(super) fn denied(&self) -> bool {
        matches!(
            self.code,
            Some(ErrorCode::AccessDenied | ErrorCode::NotAuthorized)
        ) || self.status == 401
    }

    /// Refused for the signature's time.
    pub(super) fn clock_refusal(&self) -> bool {
        self.code == Some(ErrorCode::InvalidSignature)
            && kvs_proto::sigv4::is_clock_refusal(&self.message)
    }

    pub(super) fn describe(&self) -> String {
        format!(
            "HTTP {} {}: {}",
            self.status,
            self.error_name.as_deref().unwrap_or(""),
            self.message
        )
    }
}

/// Signs and sends calls the way our client does.
pub(super) struct Caller<'a> {
    pub(super) http: reqwest::Client,
    /// The client's TLS configuration, for the WebSocket.
    pub(super) tls: Arc<rustls::ClientConfig>,
    pub(super) credentials: &'a Credentials,
    pub(super) region: &'a str,
    /// The service's clock minus ours, applied to every signature once known.
    pub(super) offset_ms: i64,
}

impl Caller<'_> {
    pub(super) fn sign_time(&self) -> SystemTime {
        kvs_proto::skew::shifted(SystemTime::now(), self.offset_ms)
    }

    pub(super) async fn post(&self, url: &str, body: &impl Serialize) -> Result<Answer, String> {
        let body = serde_json::to_vec(body).map_err(|e| e.to_string())?;
        let request = crate::local::signed_json_post(
            &self.http,
            url,
            body,
            self.credentials,
            self.region,
            self.sign_time(),
        )
        .map_err(|e| e.to_string())?;
        let sent_wall = SystemTime::now();
        let started = Instant::now();
        let response = request
            .send()
            .await
            .map_err(|e| kvs_client::error_chain(&e))?;
        let elapsed = started.elapsed();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let error_name =
            header("x-amzn-errortype").map(|v| v.split(':').next().unwrap_or("").to_owned());
        let date = header("date").and_then(|d| httpdate::parse_http_date(&d).ok());
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| kvs_client::error_chain(&e))?
            .to_vec();
        let message = if (200..300).contains(&status) {
            String::new()
        } else {
            serde_json::from_slice::<kvs_proto::api::ErrorBody>(&body)
                .map(|b| b.message)
                .unwrap_or_else(|_| String::from_utf8_lossy(&body).chars().take(200).collect())
        };
        Ok(Answer {
            status,
            code: error_name.as_deref().and_then(ErrorCode::from_name),
            error_name,
            message,
            date,
            body,
            midpoint: sent_wall + elapsed / 2,
            elapsed,
        })
    }
}
