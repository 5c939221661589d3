//! TLS, HTTPS and WebSocket plumbing shared by the driver and the benchmark floor.

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
        let from_env = std::env::var_os("AWS_CA_BUNDLE")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        match ca_bundle.map(Path::to_owned).or(from_env) {
            Some(path) => Self::with_ca_bundle(&path),
            None => Ok(Self::default()),
        }
    }

    /// A rustls client config (aws-lc-rs, TLS 1.2/1.3, no ALPN) trusting these roots.
    pub fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, TransportError> {
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
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TransportError::Tls(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Arc::new(config))
    }
}

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
            .build()
            .map_err(|e| TransportError::Tls(e.to_string()))?;
        Ok(Self { inner, tls: config })
    }

    /// The underlying reqwest client (used by the benchmark's floor).
    pub fn reqwest(&self) -> &reqwest::Client {
        &self.inner
    }

    /// The TLS config WebSocket connections use.
    pub fn tls_config(&self) -> Arc<rustls::ClientConfig> {
        self.tls.clone()
    }
}

/// The control-plane endpoint: an explicit URL wins, then `AWS_ENDPOINT_URL_KINESIS_VIDEO`,
/// then `AWS_ENDPOINT_URL`, then the public regional endpoint.
pub fn resolve_endpoint(explicit: Option<&str>, region: &str) -> String {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    explicit
        .map(str::to_owned)
        .or_else(|| env("AWS_ENDPOINT_URL_KINESIS_VIDEO"))
        .or_else(|| env("AWS_ENDPOINT_URL"))
        .unwrap_or_else(|| kvs_proto::client::default_endpoint(region))
        .trim_end_matches('/')
        .to_owned()
}
