//! TLS and HTTPS set-up for the driver: which CAs to trust, the pooled HTTPS client, and
//! where the endpoint comes from. rustls and reqwest stay inside this crate.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// Why the transport could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The CA bundle could not be read or holds no certificate.
    #[error(
        "cannot use CA bundle {path}: {message}; pass a PEM file with --ca-bundle or AWS_CA_BUNDLE"
    )]
    CaBundle {
        /// The bundle's path.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The TLS or HTTP stack refused the configuration.
    #[error("TLS setup failed: {0}")]
    Tls(String),
}

/// Which certificate authorities to trust.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// Extra CA certificates in PEM, e.g. the local service's CA. The public web roots are
    /// always trusted as well.
    pub extra_ca_pem: Vec<u8>,
}

impl TlsOptions {
    /// Trusts the public roots plus the PEM certificates in `path`.
    pub fn with_ca_bundle(path: &Path) -> Result<Self, TransportError> {
        let pem = std::fs::read(path).map_err(|e| TransportError::CaBundle {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        Ok(Self { extra_ca_pem: pem })
    }

    /// `--ca-bundle` if given, else `AWS_CA_BUNDLE` if set, else the public roots only.
    pub fn resolve(ca_bundle: Option<&Path>) -> Result<Self, TransportError> {
        match ca_bundle_path(ca_bundle, env_var) {
            Some(path) => Self::with_ca_bundle(&path),
            None => Ok(Self::default()),
        }
    }

    /// A rustls client config (ring, TLS 1.2/1.3, no ALPN) trusting these roots: what the
    /// client's HTTPS and WebSocket connections use, for tools that must handshake the same
    /// way (`kvs-signaling doctor`).
    pub fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, TransportError> {
        Ok(Arc::new(self.config_builder()?.with_no_client_auth()))
    }

    /// The config up to the client's own certificate: ring, TLS 1.2/1.3, these roots.
    pub(crate) fn config_builder(
        &self,
    ) -> Result<
        rustls::ConfigBuilder<rustls::ClientConfig, rustls::client::WantsClientCert>,
        TransportError,
    > {
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        if !self.extra_ca_pem.is_empty() {
            let mut added = 0;
            for cert in CertificateDer::pem_slice_iter(&self.extra_ca_pem) {
                let cert =
                    cert.map_err(|e| TransportError::Tls(format!("bad PEM certificate: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| TransportError::Tls(format!("unusable CA certificate: {e}")))?;
                added += 1;
            }
            if added == 0 {
                return Err(TransportError::Tls(
                    "the CA bundle holds no certificate".into(),
                ));
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Ok(rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TransportError::Tls(e.to_string()))?
            .with_root_certificates(roots))
    }
}

/// How long a TCP connect and TLS handshake to the service may take; each call's total
/// time is bounded by the session's call timeout as well.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A pooled HTTPS client; clone it to share connections between signaling clients.
#[derive(Debug, Clone)]
pub struct HttpClient {
    pub(crate) inner: reqwest::Client,
    pub(crate) tls: Arc<rustls::ClientConfig>,
}

impl HttpClient {
    /// A client trusting `tls`'s roots.
    pub fn new(tls: &TlsOptions) -> Result<Self, TransportError> {
        let config = tls.client_config()?;
        let inner = reqwest::Client::builder()
            .tls_backend_preconfigured((*config).clone())
            .tcp_nodelay(true)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| TransportError::Tls(e.to_string()))?;
        Ok(Self { inner, tls: config })
    }
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn ca_bundle_path(
    explicit: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
) -> Option<PathBuf> {
    explicit.map(Path::to_owned).or_else(|| {
        env("AWS_CA_BUNDLE")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
}

/// The control-plane endpoint: an explicit URL wins, then `AWS_ENDPOINT_URL_KINESIS_VIDEO`,
/// then `AWS_ENDPOINT_URL`, then the public regional endpoint.
pub fn resolve_endpoint(explicit: Option<&str>, region: &str) -> String {
    endpoint_from(explicit, region, env_var)
}

fn endpoint_from(
    explicit: Option<&str>,
    region: &str,
    env: impl Fn(&str) -> Option<String>,
) -> String {
    let env = |name: &str| env(name).filter(|v| !v.is_empty());
    explicit
        .map(str::to_owned)
        .or_else(|| env("AWS_ENDPOINT_URL_KINESIS_VIDEO"))
        .or_else(|| env("AWS_ENDPOINT_URL"))
        .unwrap_or_else(|| kvs_proto::client::default_endpoint(region))
        .trim_end_matches('/')
        .to_owned()
}

/// An environment of `vars` only, for tests of what reads variables.
#[cfg(test)]
pub(crate) fn fake_env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::fake_env as env;

    #[test]
    fn endpoint_precedence_is_flag_then_service_variable_then_global_variable() {
        let both = [
            ("AWS_ENDPOINT_URL_KINESIS_VIDEO", "https://kv:1/"),
            ("AWS_ENDPOINT_URL", "https://all:2"),
        ];
        assert_eq!(
            endpoint_from(Some("https://flag:3"), "us-west-2", env(&both)),
            "https://flag:3"
        );
        assert_eq!(endpoint_from(None, "us-west-2", env(&both)), "https://kv:1");
        assert_eq!(
            endpoint_from(None, "us-west-2", env(&both[1..])),
            "https://all:2"
        );
        let empty = [("AWS_ENDPOINT_URL_KINESIS_VIDEO", "")];
        assert_eq!(
            endpoint_from(None, "eu-west-1", env(&empty)),
            "https://kinesisvideo.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            endpoint_from(None, "cn-north-1", env(&[])),
            "https://kinesisvideo.cn-north-1.amazonaws.com.cn"
        );
    }

    #[test]
    fn ca_bundle_precedence_is_flag_then_variable() {
        let vars = [("AWS_CA_BUNDLE", "/env/ca.pem")];
        assert_eq!(
            ca_bundle_path(Some(Path::new("/flag.pem")), env(&vars)),
            Some(PathBuf::from("/flag.pem"))
        );
        assert_eq!(
            ca_bundle_path(None, env(&vars)),
            Some(PathBuf::from("/env/ca.pem"))
        );
        assert_eq!(ca_bundle_path(None, env(&[])), None);
    }

    #[test]
    fn a_bundle_without_certificates_is_refused() {
        let tls = TlsOptions {
            extra_ca_pem: b"not a certificate".to_vec(),
        };
        assert!(
            tls.client_config()
                .unwrap_err()
                .to_string()
                .contains("no certificate")
        );
    }
}
