//! Helpers shared by the service's integration tests.
#![allow(dead_code)] // each test binary uses a subset

use aws_sdk_kinesisvideo::config::SharedHttpClient;
use aws_sdk_kinesisvideo::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use aws_smithy_http_client::{Builder, tls::rustls_provider::CryptoMode};
use kvs_service::{EXAMPLE_ACCESS_KEY_ID, ServiceConfig, ServiceHandle};

pub async fn service() -> ServiceHandle {
    let config = ServiceConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
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

pub fn control(svc: &ServiceHandle, secret: &str) -> aws_sdk_kinesisvideo::Client {
    let conf = aws_sdk_kinesisvideo::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-west-2"))
        .credentials_provider(Credentials::new(
            EXAMPLE_ACCESS_KEY_ID,
            secret,
            None,
            None,
            "test",
        ))
        .endpoint_url(svc.endpoint())
        .http_client(http_client(svc))
        .build();
    aws_sdk_kinesisvideo::Client::from_conf(conf)
}
