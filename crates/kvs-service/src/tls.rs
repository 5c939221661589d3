//! The service's TLS identity: a local CA (created once, kept in the state directory so
//! clients can trust it across restarts) and a server certificate for the loopback names.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};

use crate::ServiceError;

const CA_CERT_FILE: &str = "ca.pem";
const CA_KEY_FILE: &str = "ca.key.pem";

/// The CA the clients trust and the server config built on it.
pub struct TlsIdentity {
    /// The CA certificate, PEM.
    pub ca_pem: String,
    /// Where the CA certificate is kept, with a state directory.
    pub ca_path: Option<PathBuf>,
    /// The server side: the certificate for the hosts, signed by the CA.
    pub server_config: Arc<rustls::ServerConfig>,
}

fn ca_params() -> Result<CertificateParams, rcgen::Error> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(DnType::CommonName, "kvs-signaling local CA");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "kvs-signaling");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    Ok(params)
}

fn tls_err(what: &str) -> impl Fn(rcgen::Error) -> ServiceError + '_ {
    move |e| ServiceError::Tls(format!("{what}: {e}"))
}

/// Loads the CA from `state_dir` (creating it on first start), or makes a throwaway one
/// when there is no state directory, then issues a fresh server certificate for `hosts`.
/// Public so that tools serving beside the service (the load generator's floor) use the very
/// same TLS setup.
pub fn identity(state_dir: Option<&Path>, hosts: &[String]) -> Result<TlsIdentity, ServiceError> {
    let (ca_key, ca_pem, ca_path) = match state_dir {
        Some(dir) => load_or_create_ca(dir)?,
        None => {
            let key = KeyPair::generate().map_err(tls_err("generating the CA key"))?;
            let cert = ca_params()
                .and_then(|p| p.self_signed(&key))
                .map_err(tls_err("self-signing the CA"))?;
            (key, cert.pem(), None)
        }
    };
    let issuer = Issuer::new(ca_params().map_err(tls_err("CA parameters"))?, ca_key);

    let server_key = KeyPair::generate().map_err(tls_err("generating the server key"))?;
    let mut params = CertificateParams::new(hosts.to_vec()).map_err(tls_err("server names"))?;
    params
        .distinguished_name
        .push(DnType::CommonName, "kvs-signaling local service");
    let server_cert = params
        .signed_by(&server_key, &issuer)
        .map_err(tls_err("signing the server certificate"))?;

    let chain = vec![server_cert.der().clone()];
    let key = PrivateKeyDer::try_from(server_key.serialize_der())
        .map_err(|e| ServiceError::Tls(format!("server key: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(chain, key))
        .map_err(|e| ServiceError::Tls(format!("server TLS config: {e}")))?;
    Ok(TlsIdentity {
        ca_pem,
        ca_path,
        server_config: Arc::new(server_config),
    })
}

fn load_or_create_ca(dir: &Path) -> Result<(KeyPair, String, Option<PathBuf>), ServiceError> {
    let cert_path = dir.join(CA_CERT_FILE);
    let key_path = dir.join(CA_KEY_FILE);
    let io = |what: &'static str, path: &Path| {
        let path = path.display().to_string();
        move |e: std::io::Error| ServiceError::StateDir(format!("{what} {path}: {e}"))
    };
    if cert_path.exists() && key_path.exists() {
        let key_pem = std::fs::read_to_string(&key_path).map_err(io("reading", &key_path))?;
        let cert_pem = std::fs::read_to_string(&cert_path).map_err(io("reading", &cert_path))?;
        let key = KeyPair::from_pem(&key_pem).map_err(tls_err("parsing the stored CA key"))?;
        CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| ServiceError::Tls(format!("parsing {}: {e}", cert_path.display())))?;
        return Ok((key, cert_pem, Some(cert_path)));
    }
    std::fs::create_dir_all(dir).map_err(io("creating", dir))?;
    let key = KeyPair::generate().map_err(tls_err("generating the CA key"))?;
    let cert = ca_params()
        .and_then(|p| p.self_signed(&key))
        .map_err(tls_err("self-signing the CA"))?;
    write_private(&key_path, &key.serialize_pem()).map_err(io("writing", &key_path))?;
    std::fs::write(&cert_path, cert.pem()).map_err(io("writing", &cert_path))?;
    Ok((key, cert.pem(), Some(cert_path)))
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents.as_bytes())
}

/// A rustls client config (ring, TLS 1.2/1.3) trusting only the certificates in `ca_pem`,
/// e.g. the service's CA: for tools and tests that talk to the service with the bare
/// libraries. Refuses PEM without a usable certificate.
pub fn client_config(ca_pem: &[u8]) -> Result<Arc<rustls::ClientConfig>, ServiceError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        let cert = cert.map_err(|e| ServiceError::Tls(format!("bad PEM certificate: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| ServiceError::Tls(format!("unusable CA certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(ServiceError::Tls("the PEM holds no certificate".into()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServiceError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
