//! Client options for talking to an in-process service with its default key pair.

use std::sync::Arc;

use kvs_client::{ClientOptions, StaticProvider, TlsOptions};
use kvs_proto::Credentials;
use kvs_proto::api::ChannelRole;
use kvs_proto::client::{ChannelRef, ClientConfig};
use kvs_service::{EXAMPLE_ACCESS_KEY_ID, EXAMPLE_SECRET_ACCESS_KEY, ServiceHandle};

/// The key pair the service accepts by default.
pub fn example_credentials() -> Credentials {
    Credentials::new(EXAMPLE_ACCESS_KEY_ID, EXAMPLE_SECRET_ACCESS_KEY, None, None)
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
    let mut options =
        ClientOptions::new(config, Arc::new(StaticProvider::new(example_credentials())));
    options.tls = tls_for(svc);
    options
}
