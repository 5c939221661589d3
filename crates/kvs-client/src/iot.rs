//! The AWS IoT credentials provider, as devices use it: the device certificate and key
//! (PEM files) presented over mutual TLS to the account's credentials endpoint, which answers
//! `GET /role-aliases/<alias>/credentials` (header `x-amzn-iot-thingname`, no SigV4) with
//! temporary credentials. The wire format and the meaning of each refusal live in
//! [`kvs_proto::iot`]; this is the IO. Like the C SDK: connect within 3 s, answer within 5 s.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kvs_proto::Credentials;
use kvs_proto::iot::{self as wire, IotError, THING_NAME_HEADER};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::credentials::{CredentialsError, ProvideCredentials, ProvideFuture};
use crate::transport::TlsOptions;

/// The C SDK's connect timeout for the credentials endpoint.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The C SDK's completion timeout.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Larger answers are refused; the real one is about 1.5 KiB.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Where and how to ask the IoT credentials provider; the fields are the C SDK's
/// `createLwsIotCredentialProvider` arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IotSettings {
    /// The account's credentials endpoint (`aws iot describe-endpoint --endpoint-type
    /// iot:CredentialProvider`), as a host, `host:port` or `https://` URL.
    pub endpoint: String,
    /// The role alias (`aws iot create-role-alias`).
    pub role_alias: String,
    /// The thing the certificate is attached to.
    pub thing_name: String,
    /// The device certificate, PEM.
    pub cert: PathBuf,
    /// The device's private key, PEM.
    pub key: PathBuf,
    /// A CA bundle to trust besides the public roots (which hold Amazon Root CA 1), e.g. the
    /// local service's CA.
    pub ca: Option<PathBuf>,
}

/// The environment variables of the C SDK samples (`AWS_IOT_CORE_CREDENTIAL_ENDPOINT`,
/// `AWS_IOT_CORE_ROLE_ALIAS`, `AWS_IOT_CORE_THING_NAME`, `AWS_IOT_CORE_CERT`,
/// `AWS_IOT_CORE_PRIVATE_KEY`) and ours for the CA, `AWS_IOT_CORE_CA`.
pub const IOT_ENV: [&str; 6] = [
    "AWS_IOT_CORE_CREDENTIAL_ENDPOINT",
    "AWS_IOT_CORE_ROLE_ALIAS",
    "AWS_IOT_CORE_THING_NAME",
    "AWS_IOT_CORE_CERT",
    "AWS_IOT_CORE_PRIVATE_KEY",
    "AWS_IOT_CORE_CA",
];

impl IotSettings {
    /// The settings from [`IOT_ENV`]: `None` when no endpoint is set, an error naming the
    /// variables missing when only some are.
    pub fn from_env() -> Option<Result<Self, IotSetupError>> {
        Self::from_vars(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    fn from_vars(var: impl Fn(&str) -> Option<String>) -> Option<Result<Self, IotSetupError>> {
        let [endpoint, alias, thing, cert, key, ca] = IOT_ENV.map(&var);
        let endpoint = endpoint?;
        let (Some(role_alias), Some(thing_name), Some(cert), Some(key)) =
            (alias.clone(), thing.clone(), cert.clone(), key.clone())
        else {
            let missing: Vec<&str> = [alias, thing, cert, key]
                .iter()
                .zip(&IOT_ENV[1..5])
                .filter_map(|(value, name)| value.is_none().then_some(*name))
                .collect();
            return Some(Err(IotSetupError::Missing(missing.join(", "))));
        };
        Some(Ok(Self {
            endpoint,
            role_alias,
            thing_name,
            cert: cert.into(),
            key: key.into(),
            ca: ca.map(PathBuf::from),
        }))
    }

    /// The request URL.
    fn url(&self) -> Result<String, IotSetupError> {
        let base = self.endpoint.trim_end_matches('/');
        let base = match base.split_once("://") {
            None => format!("https://{base}"),
            Some(("https", _)) => base.to_owned(),
            Some(_) => return Err(IotSetupError::Endpoint(self.endpoint.clone())),
        };
        Ok(format!(
            "{base}{}",
            wire::credentials_path(&self.role_alias)
        ))
    }
}

/// Why an IoT provider could not be set up; each names the setting to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IotSetupError {
    /// Some of the settings are missing.
    #[error("IoT credentials: {0} not set; set all of them, or none to use other credentials")]
    Missing(String),
    /// The endpoint is not a host or an `https://` URL.
    #[error(
        "IoT credentials: the endpoint {0:?} is not a host or an https:// URL; pass the account's \
         iot:CredentialProvider endpoint (--iot-endpoint, AWS_IOT_CORE_CREDENTIAL_ENDPOINT)"
    )]
    Endpoint(String),
    /// The role alias or thing name cannot be one IoT has.
    #[error("IoT credentials: {0}")]
    Name(#[from] IotError),
    /// A certificate, key or CA file cannot be used.
    #[error("IoT credentials: cannot use the {what} {path}: {message}; check {flag}")]
    File {
        /// Which file.
        what: &'static str,
        /// Its path.
        path: PathBuf,
        /// What is wrong.
        message: String,
        /// The flag and variable naming it.
        flag: &'static str,
    },
}

/// Fetches temporary credentials from the IoT credentials provider at each call; the client
/// calls it at start and before the credentials expire.
pub struct IotProvider {
    url: String,
    endpoint: String,
    role_alias: String,
    thing_name: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for IotProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IotProvider")
            .field("endpoint", &self.endpoint)
            .field("role_alias", &self.role_alias)
            .field("thing_name", &self.thing_name)
            .finish_non_exhaustive()
    }
}

fn file_error(
    what: &'static str,
    path: &Path,
    flag: &'static str,
) -> impl Fn(String) -> IotSetupError {
    move |message| IotSetupError::File {
        what,
        path: path.to_owned(),
        message,
        flag,
    }
}

impl IotProvider {
    /// Reads the certificate, key and CA now (so a wrong path fails at start, not at the first
    /// refresh) and checks the role alias and thing name.
    pub fn new(settings: &IotSettings) -> Result<Self, IotSetupError> {
        wire::check_role_alias(&settings.role_alias)?;
        wire::check_thing_name(&settings.thing_name)?;
        let url = settings.url()?;
        let cert_error = file_error(
            "device certificate",
            &settings.cert,
            "--iot-cert (AWS_IOT_CORE_CERT)",
        );
        let chain = CertificateDer::pem_file_iter(&settings.cert)
            .map_err(|e| cert_error(e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| cert_error(e.to_string()))?;
        if chain.is_empty() {
            return Err(cert_error("it holds no PEM certificate".into()));
        }
        let key_error = file_error(
            "private key",
            &settings.key,
            "--iot-key (AWS_IOT_CORE_PRIVATE_KEY)",
        );
        // The key's own parse error could quote key material; say only what kind of failure.
        let key = PrivateKeyDer::from_pem_file(&settings.key).map_err(|e| {
            key_error(match e {
                rustls::pki_types::pem::Error::Io(io) => io.to_string(),
                rustls::pki_types::pem::Error::NoItemsFound => "it holds no PEM private key".into(),
                _ => "it is not a PEM private key".into(),
            })
        })?;
        let ca_error = |e: crate::transport::TransportError| {
            let path = settings
                .ca
                .as_deref()
                .unwrap_or(Path::new("(public roots)"));
            file_error("CA bundle", path, "--iot-ca (AWS_IOT_CORE_CA)")(e.to_string())
        };
        let tls = match &settings.ca {
            Some(ca) => TlsOptions::with_ca_bundle(ca).map_err(ca_error)?,
            None => TlsOptions::default(),
        };
        let config = tls
            .config_builder()
            .map_err(ca_error)?
            .with_client_auth_cert(chain, key)
            .map_err(|e| key_error(format!("it does not go with the certificate ({e})")))?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(config)
            .tcp_nodelay(true)
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("kvs-signaling/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| cert_error(format!("TLS setup failed: {e}")))?;
        Ok(Self {
            url,
            endpoint: settings.endpoint.clone(),
            role_alias: settings.role_alias.clone(),
            thing_name: settings.thing_name.clone(),
            http,
        })
    }

    async fn fetch(&self) -> Result<Credentials, CredentialsError> {
        tracing::debug!(endpoint = %self.endpoint, role_alias = %self.role_alias, thing = %self.thing_name, "asking the IoT credentials provider");
        let unreachable = |e: &dyn std::error::Error| {
            CredentialsError::provider_error(Unreachable {
                endpoint: self.endpoint.clone(),
                cause: crate::error_chain(e),
            })
        };
        let mut resp = self
            .http
            .get(&self.url)
            .header(THING_NAME_HEADER, &self.thing_name)
            .send()
            .await
            .map_err(|e| unreachable(&e))?;
        let status = resp.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| unreachable(&e))? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(CredentialsError::provider_error(IotError::Refused {
                    status,
                    message: format!("an answer larger than {MAX_ANSWER_BYTES} bytes"),
                }));
            }
            body.extend_from_slice(&chunk);
        }
        match wire::parse_response(status, &body, &self.role_alias) {
            Ok(credentials) => {
                tracing::info!(
                    access_key_id = credentials.access_key_id(),
                    expires = ?credentials.expiry().map(kvs_proto::amz_date::format_extended),
                    thing = %self.thing_name,
                    "temporary credentials from the IoT credentials provider"
                );
                Ok(credentials)
            }
            Err(e) if e.is_transient() => Err(CredentialsError::provider_error(e)),
            Err(e) => Err(CredentialsError::invalid_configuration(e)),
        }
    }
}

/// The endpoint could not be reached or the TLS handshake failed.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot reach the IoT credentials endpoint {endpoint} ({cause}); check --iot-endpoint (the \
     account's iot:CredentialProvider endpoint), --iot-ca and the network"
)]
struct Unreachable {
    endpoint: String,
    cause: String,
}

impl ProvideCredentials for IotProvider {
    fn provide_credentials<'a>(&'a self) -> ProvideFuture<'a>
    where
        Self: 'a,
    {
        ProvideFuture::new(self.fetch())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::transport::fake_env as vars;

    #[test]
    fn the_environment_gives_all_settings_or_names_what_is_missing() {
        assert!(IotSettings::from_vars(vars(&[])).is_none());
        let partial = [
            (
                "AWS_IOT_CORE_CREDENTIAL_ENDPOINT",
                "x.credentials.iot.us-west-2.amazonaws.com",
            ),
            ("AWS_IOT_CORE_ROLE_ALIAS", "alias"),
        ];
        let err = IotSettings::from_vars(vars(&partial)).unwrap().unwrap_err();
        let text = err.to_string();
        for name in [
            "AWS_IOT_CORE_THING_NAME",
            "AWS_IOT_CORE_CERT",
            "AWS_IOT_CORE_PRIVATE_KEY",
        ] {
            assert!(text.contains(name), "{text}");
        }
        let full = [
            (
                "AWS_IOT_CORE_CREDENTIAL_ENDPOINT",
                "x.credentials.iot.us-west-2.amazonaws.com",
            ),
            ("AWS_IOT_CORE_ROLE_ALIAS", "alias"),
            ("AWS_IOT_CORE_THING_NAME", "cam-1"),
            ("AWS_IOT_CORE_CERT", "/c.pem"),
            ("AWS_IOT_CORE_PRIVATE_KEY", "/k.pem"),
        ];
        let settings = IotSettings::from_vars(vars(&full)).unwrap().unwrap();
        assert_eq!(settings.ca, None);
        assert_eq!(
            settings.url().unwrap(),
            "https://x.credentials.iot.us-west-2.amazonaws.com/role-aliases/alias/credentials"
        );
    }

    #[test]
    fn endpoints_may_be_hosts_or_https_urls_only() {
        let with = |endpoint: &str| IotSettings {
            endpoint: endpoint.into(),
            role_alias: "a".into(),
            thing_name: "t".into(),
            cert: PathBuf::new(),
            key: PathBuf::new(),
            ca: None,
        };
        assert_eq!(
            with("https://127.0.0.1:4444/").url().unwrap(),
            "https://127.0.0.1:4444/role-aliases/a/credentials"
        );
        assert_eq!(
            with("127.0.0.1:4444").url().unwrap(),
            "https://127.0.0.1:4444/role-aliases/a/credentials"
        );
        assert!(matches!(
            with("http://127.0.0.1:4444").url(),
            Err(IotSetupError::Endpoint(_))
        ));
    }
}
