//! Client options for the integration tests: a local service, its CA, a key pair.

use std::sync::Arc;

use kvs_client::{ClientOptions, TlsOptions};
use kvs_proto::Credentials;
use kvs_proto::api::ChannelRole;
use kvs_proto::client::{ChannelRef, ClientConfig};
use kvs_service::{EXAMPLE_ACCESS_KEY_ID, ServiceHandle};

/// Options for a client of `channel` on `svc`, signing with the example key id and `secret`.
pub fn options(
    svc: &ServiceHandle,
    channel: &str,
    role: ChannelRole,
    client_id: &str,
    secret: &str,
) -> ClientOptions {
    let mut config = ClientConfig::new(ChannelRef::Name(channel.into()), "us-west-2", role);
    config.endpoint = svc.endpoint().to_owned();
    config.client_id = client_id.to_owned();
    let creds = Credentials::new(
        EXAMPLE_ACCESS_KEY_ID,
        secret,
        None,
        None,
        kvs_proto::STATIC_PROVIDER,
    );
    let mut options = ClientOptions::new(config, Arc::new(creds));
    // A plain (`tls: false`) service has no CA.
    options.tls = TlsOptions {
        extra_ca_pem: svc
            .ca_pem()
            .map(|pem| pem.as_bytes().to_vec())
            .unwrap_or_default(),
    };
    options
}
