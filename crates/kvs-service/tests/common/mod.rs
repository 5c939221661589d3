//! Helpers shared by the service's integration tests.
#![allow(dead_code)] // each test binary uses a subset

use aws_sdk_kinesisvideo::config::SharedHttpClient;
use aws_sdk_kinesisvideo::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use aws_smithy_http_client::{Builder, tls::rustls_provider::CryptoMode};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use kvs_proto::sigv4;
use kvs_proto::wire::ServiceFrame;
use kvs_service::{EXAMPLE_ACCESS_KEY_ID, EXAMPLE_SECRET_ACCESS_KEY, ServiceConfig, ServiceHandle};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

pub async fn service() -> ServiceHandle {
    let config = ServiceConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..ServiceConfig::default()
    };
    kvs_service::start(config).await.expect("service starts")
}

/// A service without rate limits, for tests that connect more often than KVS allows.
pub async fn relaxed_service() -> ServiceHandle {
    let config = ServiceConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        limits: None,
        ..ServiceConfig::default()
    };
    kvs_service::start(config).await.expect("service starts")
}

pub fn http_client(svc: &ServiceHandle) -> SharedHttpClient {
    let trust = TrustStore::empty().with_pem_certificate(svc.ca_pem().unwrap().as_bytes());
    Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(
            TlsContext::builder()
                .with_trust_store(trust)
                .build()
                .unwrap(),
        )
        .build_https()
}

/// A key pair (and session token) to sign with.
#[derive(Clone, Copy)]
pub struct Key<'a> {
    pub id: &'a str,
    pub secret: &'a str,
    pub token: Option<&'a str>,
}

impl<'a> Key<'a> {
    /// The example key id with `secret`.
    pub fn example(secret: &'a str) -> Self {
        Self {
            id: EXAMPLE_ACCESS_KEY_ID,
            secret,
            token: None,
        }
    }

    fn sdk(self) -> Credentials {
        Credentials::new(
            self.id,
            self.secret,
            self.token.map(str::to_owned),
            None,
            "test",
        )
    }
}

/// The official control-plane client at `endpoint`, signing with `key`.
pub fn control_at(
    svc: &ServiceHandle,
    endpoint: &str,
    key: Key<'_>,
) -> aws_sdk_kinesisvideo::Client {
    let conf = aws_sdk_kinesisvideo::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-west-2"))
        .credentials_provider(key.sdk())
        .endpoint_url(endpoint)
        .http_client(http_client(svc))
        .build();
    aws_sdk_kinesisvideo::Client::from_conf(conf)
}

/// The official control-plane client, signing with the example key id and `secret`.
pub fn control(svc: &ServiceHandle, secret: &str) -> aws_sdk_kinesisvideo::Client {
    control_at(svc, svc.endpoint(), Key::example(secret))
}

/// The official signaling-API client (GetIceServerConfig, SendAlexaOfferToMaster).
pub fn signaling(svc: &ServiceHandle, key: Key<'_>) -> aws_sdk_kinesisvideosignaling::Client {
    signaling_at(svc, svc.endpoint(), key)
}

/// The official signaling-API client at `endpoint` (a channel's HTTPS endpoint).
pub fn signaling_at(
    svc: &ServiceHandle,
    endpoint: &str,
    key: Key<'_>,
) -> aws_sdk_kinesisvideosignaling::Client {
    let conf = aws_sdk_kinesisvideosignaling::Config::builder()
        .behavior_version(aws_sdk_kinesisvideosignaling::config::BehaviorVersion::latest())
        .region(aws_sdk_kinesisvideosignaling::config::Region::new(
            "us-west-2",
        ))
        .credentials_provider(key.sdk())
        .endpoint_url(endpoint)
        .http_client(http_client(svc))
        .build();
    aws_sdk_kinesisvideosignaling::Client::from_conf(conf)
}

/// The HTTP status and `x-amzn-ErrorType` of a refused WebSocket upgrade.
pub fn upgrade_refusal(r: Result<Ws, WsError>) -> (u16, Option<String>) {
    match r {
        Err(WsError::Http(resp)) => (
            resp.status().as_u16(),
            resp.headers()
                .get("x-amzn-errortype")
                .map(|v| v.to_str().unwrap().to_owned()),
        ),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("the connection was accepted"),
    }
}

pub type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

pub fn tls(svc: &ServiceHandle) -> Arc<rustls::ClientConfig> {
    svc.client_tls().expect("the service runs TLS")
}

pub fn presigned(
    svc: &ServiceHandle,
    path: &str,
    arn: &str,
    client_id: Option<&str>,
    secret: &str,
) -> String {
    presigned_as(svc, path, arn, client_id, Key::example(secret))
}

/// A presigned WebSocket URL for `path` on `arn`, signed with `key`.
pub fn presigned_as(
    svc: &ServiceHandle,
    path: &str,
    arn: &str,
    client_id: Option<&str>,
    key: Key<'_>,
) -> String {
    let host = svc.endpoint().trim_start_matches("https://");
    let creds = kvs_proto::Credentials::new(
        key.id,
        key.secret,
        key.token.map(str::to_owned),
        None,
        kvs_proto::STATIC_PROVIDER,
    );
    sigv4::presign_channel_url(
        &format!("wss://{host}{path}"),
        arn,
        client_id,
        &creds,
        "us-west-2",
        SystemTime::now(),
        Duration::from_secs(299),
    )
    .unwrap()
}

pub async fn connect(svc: &ServiceHandle, url: String) -> Result<Ws, WsError> {
    let connector = Connector::Rustls(tls(svc));
    tokio_tungstenite::connect_async_tls_with_config(url, None, true, Some(connector))
        .await
        .map(|(ws, _)| ws)
}

/// Connects with the accepted key; the test fails if the service refuses.
pub async fn join(svc: &ServiceHandle, path: &str, arn: &str, client_id: Option<&str>) -> Ws {
    connect(
        svc,
        presigned(svc, path, arn, client_id, EXAMPLE_SECRET_ACCESS_KEY),
    )
    .await
    .expect("the service accepts the connection")
}

pub async fn next_frame(ws: &mut Ws) -> ServiceFrame {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame")
            .expect("open")
            .unwrap();
        if let Message::Text(t) = msg {
            return ServiceFrame::parse(t.as_str()).unwrap();
        }
    }
}

pub async fn channel(svc: &ServiceHandle, name: &str) -> String {
    let out = control(svc, EXAMPLE_SECRET_ACCESS_KEY)
        .create_signaling_channel()
        .channel_name(name)
        .send()
        .await
        .unwrap();
    out.channel_arn().unwrap().to_owned()
}

/// Whether the service closes `ws` within 10 s (frames before the close are skipped).
pub async fn closed_by_service(ws: &mut Ws) -> bool {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await
    .is_ok()
}
