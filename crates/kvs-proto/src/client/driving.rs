//! What the driver feeds the client and what the client asks of the driver.

use super::*;
use crate::redact;

/// Identifies an HTTP request so its answer can be matched (late answers are ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestId(pub u64);

/// A signed HTTP request for the driver to make. `Debug` hides the signature and token.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Echo this in [`Input::HttpResponse`] or [`Input::HttpFailed`].
    pub id: RequestId,
    /// Which API call this is.
    pub operation: Operation,
    /// Absolute URL.
    pub url: String,
    /// Headers to send, signature included.
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: Vec<u8>,
}

impl std::fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), redact::header_value(k, v)))
            .collect();
        f.debug_struct("HttpRequest")
            .field("id", &self.id)
            .field("operation", &self.operation)
            .field("url", &self.url)
            .field("headers", &headers)
            .field("body", &String::from_utf8_lossy(&self.body))
            .finish()
    }
}

/// A presigned WebSocket URL. It grants access until it expires, so `Debug` hides its
/// signature and session token.
#[derive(Clone, PartialEq, Eq)]
pub struct PresignedUrl(pub(super) String);

impl PresignedUrl {
    /// The full URL, secrets included.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The full URL, secrets included.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::fmt::Debug for PresignedUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PresignedUrl({})", redact::url(&self.0))
    }
}

/// An HTTP answer as the core needs it.
#[derive(Debug, Clone, Copy)]
pub struct HttpResponse<'a> {
    /// Status code.
    pub status: u16,
    /// The `x-amzn-ErrorType` header, if any.
    pub error_type: Option<&'a str>,
    /// The `Date` header, if any: the service's clock, for skew correction.
    pub date: Option<&'a str>,
    /// The body.
    pub body: &'a [u8],
}

/// Something the driver observed.
#[derive(Debug, Clone)]
pub enum Input<'a> {
    /// The deadline from [`Client::poll_timeout`] passed.
    Timeout,
    /// The credential provider answered [`Output::FetchCredentials`].
    Credentials(Result<Credentials, String>),
    /// An HTTP request got an answer.
    HttpResponse(RequestId, HttpResponse<'a>),
    /// An HTTP request failed before any answer (DNS, TCP, TLS).
    HttpFailed(RequestId, String),
    /// The WebSocket upgrade succeeded.
    WsOpened,
    /// The upgrade was refused (`status` set) or the connection failed.
    WsConnectFailed {
        /// HTTP status of a refused upgrade.
        status: Option<u16>,
        /// The refusal's `x-amzn-ErrorType` header.
        error_type: Option<&'a str>,
        /// The refusal body or the transport error.
        message: String,
    },
    /// A text frame arrived.
    WsText(&'a str),
    /// A pong arrived: everything written before the last ping reached the service.
    WsPong,
    /// The WebSocket closed or broke.
    WsClosed(String),
    /// Writing a [`Output::WsSend`] frame failed; the frame goes back to the head of the queue.
    WsSendFailed {
        /// The frame that was not written.
        frame: String,
        /// Why the write failed.
        reason: String,
    },
}

/// Something the driver must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Ask the credential provider; answer with [`Input::Credentials`].
    FetchCredentials,
    /// Make this HTTP request.
    Http(HttpRequest),
    /// Open a WebSocket to this presigned URL.
    WsConnect(PresignedUrl),
    /// Send this text frame on the open WebSocket.
    WsSend(String),
    /// Send a WebSocket ping (keep-alive).
    WsPing,
    /// Close the WebSocket.
    WsClose,
    /// Tell the application.
    Event(Event),
}
