//! Where the client gets AWS credentials from. Providers may do IO, so they live here in the
//! driver crate; the sans-IO core only asks for credentials and receives them.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use kvs_proto::Credentials;

/// A boxed future, so providers can be trait objects.
pub type ProvideFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Credentials, CredentialsError>> + Send + 'a>>;

/// Supplies AWS credentials; called at start and whenever the service rejects them.
pub trait ProvideCredentials: Send + Sync + fmt::Debug {
    /// Fetches (or returns cached) credentials.
    fn provide(&self) -> ProvideFuture<'_>;
}

/// A provider could not produce credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{provider}: {message}")]
pub struct CredentialsError {
    /// Which provider failed.
    pub provider: &'static str,
    /// Why, and what to do about it.
    pub message: String,
}

/// Fixed credentials, e.g. from command-line flags or a test.
#[derive(Debug, Clone)]
pub struct StaticProvider(Credentials);

impl StaticProvider {
    /// Always provides `credentials`.
    pub fn new(credentials: Credentials) -> Self {
        Self(credentials)
    }
}

impl ProvideCredentials for StaticProvider {
    fn provide(&self) -> ProvideFuture<'_> {
        let creds = self.0.clone();
        Box::pin(async move { Ok(creds) })
    }
}

/// The standard `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`
/// variables, read at each call so a refreshed environment is picked up.
#[derive(Debug, Clone, Copy, Default)]
pub struct EnvironmentProvider;

impl EnvironmentProvider {
    fn read() -> Result<Credentials, CredentialsError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let missing = |name: &str| CredentialsError {
            provider: "environment",
            message: format!("{name} is not set; export it or pass keys another way"),
        };
        let access_key = var("AWS_ACCESS_KEY_ID").ok_or_else(|| missing("AWS_ACCESS_KEY_ID"))?;
        let secret =
            var("AWS_SECRET_ACCESS_KEY").ok_or_else(|| missing("AWS_SECRET_ACCESS_KEY"))?;
        Ok(Credentials::new(
            access_key,
            secret,
            var("AWS_SESSION_TOKEN"),
            None,
        ))
    }
}

impl ProvideCredentials for EnvironmentProvider {
    fn provide(&self) -> ProvideFuture<'_> {
        Box::pin(async { Self::read() })
    }
}
