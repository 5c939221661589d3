//! The service's TLS identity: a local CA (created once, kept in the state directory so
//! clients can trust it across restarts), a server certificate for the loopback names, and
//! device certificates for the IoT credentials endpoint, which only accepts certificates the
//! same CA issued.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use rustls::server::danger::ClientCertVerifier;

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
    /// The same certificate asking every client for its own (the IoT credentials endpoint),
    /// and the check of those client certificates against the CA.
    pub(crate) mutual: MutualTls,
}

/// The IoT endpoint's TLS: every client must present a certificate and prove it holds its
/// key; whether the certificate is one the CA issued and still valid is checked after the
/// handshake ([`MutualTls::check`]), so a refused device gets the real service's HTTP answer
/// rather than a bare TLS alert.
#[derive(Clone)]
pub(crate) struct MutualTls {
    pub(crate) server_config: Arc<rustls::ServerConfig>,
    verifier: Arc<dyn ClientCertVerifier>,
}

impl MutualTls {
    /// The thing a client certificate chain names (its leaf's common name), when the CA issued
    /// it and it is valid at `now`; otherwise why not.
    pub(crate) fn check(
        &self,
        chain: &[CertificateDer<'_>],
        now: SystemTime,
    ) -> Result<String, String> {
        let (leaf, intermediates) = chain.split_first().ok_or("no client certificate")?;
        let since_epoch = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        self.verifier
            .verify_client_cert(
                leaf,
                intermediates,
                rustls::pki_types::UnixTime::since_unix_epoch(since_epoch),
            )
            .map_err(|e| e.to_string())?;
        let (_, cert) = x509_parser::parse_x509_certificate(leaf.as_ref())
            .map_err(|e| format!("unreadable certificate: {e}"))?;
        let name = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .ok_or("the certificate has no common name (the thing name)")?;
        Ok(name.to_owned())
    }
}

/// Accepts any client certificate whose holder proves it has the key; the chain is judged
/// later by [`MutualTls::check`].
#[derive(Debug)]
struct AnyClientCertificate(Arc<dyn ClientCertVerifier>);

impl ClientCertVerifier for AnyClientCertificate {
    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        self.0.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::server::danger::ClientCertVerified, rustls::Error> {
        Ok(rustls::server::danger::ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
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
    let server_config = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .and_then(|b| {
            b.with_no_client_auth()
                .with_single_cert(chain.clone(), key.clone_key())
        })
        .map_err(|e| ServiceError::Tls(format!("server TLS config: {e}")))?;

    let mut roots = rustls::RootCertStore::empty();
    let ca_der = CertificateDer::from_pem_slice(ca_pem.as_bytes())
        .map_err(|e| ServiceError::Tls(format!("the CA certificate: {e}")))?;
    roots
        .add(ca_der)
        .map_err(|e| ServiceError::Tls(format!("the CA certificate: {e}")))?;
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .map_err(|e| ServiceError::Tls(format!("client certificate check: {e}")))?;
    let mutual_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| {
            b.with_client_cert_verifier(Arc::new(AnyClientCertificate(verifier.clone())))
                .with_single_cert(chain, key)
        })
        .map_err(|e| ServiceError::Tls(format!("IoT endpoint TLS config: {e}")))?;
    Ok(TlsIdentity {
        ca_pem,
        ca_path,
        server_config: Arc::new(server_config),
        mutual: MutualTls {
            server_config: Arc::new(mutual_config),
            verifier,
        },
    })
}

/// Where [`issue_device_certificate`] wrote a device's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCertificate {
    /// The certificate, PEM (`--iot-cert`).
    pub cert_path: PathBuf,
    /// Its private key, PEM, readable by its owner only (`--iot-key`).
    pub key_path: PathBuf,
    /// The CA that issued it and the service's own certificate (`--iot-ca`).
    pub ca_path: PathBuf,
}

/// Issues a device certificate for `thing_name` (its common name) with the CA of the state
/// directory `state_dir` (created if missing), as `devices/<thing>.cert.pem` and
/// `devices/<thing>.key.pem` there: what a device is provisioned with to ask the IoT
/// credentials endpoint for temporary credentials. `validity` (not before, not after)
/// defaults to now until ten years on.
pub fn issue_device_certificate(
    state_dir: &Path,
    thing_name: &str,
    validity: Option<(SystemTime, SystemTime)>,
) -> Result<DeviceCertificate, ServiceError> {
    kvs_proto::iot::check_thing_name(thing_name)
        .map_err(|e| ServiceError::Tls(format!("device certificate: {e}")))?;
    let (ca_key, _, ca_path) = load_or_create_ca(state_dir)?;
    let issuer = Issuer::new(ca_params().map_err(tls_err("CA parameters"))?, ca_key);
    let key = KeyPair::generate().map_err(tls_err("generating the device key"))?;
    let mut params =
        CertificateParams::new(Vec::<String>::new()).map_err(tls_err("device names"))?;
    params
        .distinguished_name
        .push(DnType::CommonName, thing_name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let (not_before, not_after) = validity.unwrap_or_else(|| {
        let now = SystemTime::now();
        (now, now + std::time::Duration::from_secs(10 * 365 * 86_400))
    });
    params.not_before = not_before.into();
    params.not_after = not_after.into();
    let cert = params
        .signed_by(&key, &issuer)
        .map_err(tls_err("signing the device certificate"))?;
    let dir = state_dir.join("devices");
    let cert_path = dir.join(format!("{thing_name}.cert.pem"));
    let key_path = dir.join(format!("{thing_name}.key.pem"));
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |e: std::io::Error| ServiceError::StateDir(format!("writing {path}: {e}"))
    };
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    write_private(&key_path, &key.serialize_pem()).map_err(io(&key_path))?;
    std::fs::write(&cert_path, cert.pem()).map_err(io(&cert_path))?;
    Ok(DeviceCertificate {
        cert_path,
        key_path,
        ca_path: ca_path.unwrap_or_else(|| state_dir.join(CA_CERT_FILE)),
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
