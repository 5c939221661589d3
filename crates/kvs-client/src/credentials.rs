//! Where the client gets AWS credentials: any provider of the AWS SDK for Rust
//! ([`ProvideCredentials`] from `aws-credential-types`, so an SDK user plugs theirs in
//! unchanged; [`Credentials`](kvs_proto::Credentials) themselves are one), and the ones
//! shipped here. Providers may do IO, so they live in the driver crate; the sans-IO core only
//! asks for credentials and receives them.

pub use aws_credential_types::provider::ProvideCredentials;
/// A provider behind an `Arc`, as the AWS SDK shares them.
pub use aws_credential_types::provider::SharedCredentialsProvider;
pub use aws_credential_types::provider::error::CredentialsError;
/// The future a provider returns (`aws_credential_types::provider::future::ProvideCredentials`).
pub use aws_credential_types::provider::future::ProvideCredentials as ProvideFuture;
use kvs_proto::Credentials;

/// What the AWS SDK's providers run on: an HTTPS client on rustls with ring (as the rest of
/// the workspace; the SDK's default would bring aws-lc-rs) and tokio.
pub fn provider_config() -> aws_config::provider_config::ProviderConfig {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::provider_config::ProviderConfig::default().with_http_client(http)
}

/// Profiles of the shared config and credentials files (`~/.aws/config`,
/// `~/.aws/credentials`, or `AWS_CONFIG_FILE` and `AWS_SHARED_CREDENTIALS_FILE`), including
/// `credential_process` with its JSON output and `Expiration`: the AWS SDK's own provider
/// (`aws-config` without its default features). `name` defaults to `AWS_PROFILE`, then
/// `default`.
pub fn profile_provider(name: Option<&str>) -> aws_config::profile::ProfileFileCredentialsProvider {
    let mut builder = aws_config::profile::ProfileFileCredentialsProvider::builder()
        .configure(&provider_config());
    if let Some(name) = name {
        builder = builder.profile_name(name);
    }
    builder.build()
}

/// The default chain: the environment variables, then the profile files, then the AWS IoT
/// credentials provider when its variables are set ([`crate::IotSettings::from_env`]); with
/// the `aws-default-chain` feature, then the rest of the AWS SDK's default chain (web
/// identity, ECS, IMDS, SSO).
pub fn default_chain() -> aws_config::meta::credentials::CredentialsProviderChain {
    chain(default_providers())
}

/// A chain asking `providers` in order until one supplies keys (none: every ask fails).
pub fn chain<N: Into<std::borrow::Cow<'static, str>>>(
    providers: impl IntoIterator<Item = (N, SharedCredentialsProvider)>,
) -> aws_config::meta::credentials::CredentialsProviderChain {
    let mut providers = providers.into_iter();
    let start = match providers.next() {
        Some((name, first)) => {
            aws_config::meta::credentials::CredentialsProviderChain::first_try(name, first)
        }
        None => aws_config::meta::credentials::CredentialsProviderChain::first_try(
            "none",
            Unusable("no credential provider was configured".into()),
        ),
    };
    providers.fold(start, |chain, (name, provider)| {
        chain.or_else(name, provider)
    })
}

/// The default chain's providers, by name, in the order it asks them: for tools that say
/// which one supplied the keys (`kvs-signaling doctor`), which the chain itself does not.
pub fn default_providers() -> Vec<(&'static str, SharedCredentialsProvider)> {
    let mut providers = vec![
        (
            "environment",
            SharedCredentialsProvider::new(EnvironmentProvider),
        ),
        (
            "profile",
            SharedCredentialsProvider::new(profile_provider(None)),
        ),
    ];
    match crate::IotSettings::from_env().map(|s| s.and_then(|s| crate::IotProvider::new(&s))) {
        None => {}
        Some(Ok(iot)) => providers.push(("iot", SharedCredentialsProvider::new(iot))),
        Some(Err(e)) => providers.push((
            "iot",
            SharedCredentialsProvider::new(Unusable(e.to_string())),
        )),
    }
    #[cfg(feature = "aws-default-chain")]
    providers.push((
        "aws-sdk-default-chain",
        SharedCredentialsProvider::new(SdkDefaultChain::default()),
    ));
    providers
}

/// The AWS SDK's default chain, built (asynchronously, as the SDK requires) at its first use.
#[cfg(feature = "aws-default-chain")]
#[derive(Debug, Default)]
struct SdkDefaultChain(
    tokio::sync::OnceCell<aws_config::default_provider::credentials::DefaultCredentialsChain>,
);

#[cfg(feature = "aws-default-chain")]
impl ProvideCredentials for SdkDefaultChain {
    fn provide_credentials<'a>(&'a self) -> ProvideFuture<'a>
    where
        Self: 'a,
    {
        ProvideFuture::new(async move {
            let chain = self
                .0
                .get_or_init(|| {
                    aws_config::default_provider::credentials::DefaultCredentialsChain::builder()
                        .configure(provider_config())
                        .build()
                })
                .await;
            chain.provide_credentials().await
        })
    }
}

/// A provider whose settings are wrong: every ask answers why.
#[derive(Debug)]
struct Unusable(String);

impl ProvideCredentials for Unusable {
    fn provide_credentials<'a>(&'a self) -> ProvideFuture<'a>
    where
        Self: 'a,
    {
        ProvideFuture::ready(Err(CredentialsError::invalid_configuration(self.0.clone())))
    }
}

/// The standard `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`
/// variables, read at each call so a refreshed environment is picked up.
#[derive(Debug, Clone, Copy, Default)]
pub struct EnvironmentProvider;

impl EnvironmentProvider {
    fn read() -> Result<Credentials, CredentialsError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let missing = |name: &str| {
            CredentialsError::not_loaded(format!(
                "environment: {name} is not set; export it or pass keys another way"
            ))
        };
        let access_key = var("AWS_ACCESS_KEY_ID").ok_or_else(|| missing("AWS_ACCESS_KEY_ID"))?;
        let secret =
            var("AWS_SECRET_ACCESS_KEY").ok_or_else(|| missing("AWS_SECRET_ACCESS_KEY"))?;
        Ok(Credentials::new(
            access_key,
            secret,
            var("AWS_SESSION_TOKEN"),
            None,
            "environment",
        ))
    }
}

impl ProvideCredentials for EnvironmentProvider {
    fn provide_credentials<'a>(&'a self) -> ProvideFuture<'a>
    where
        Self: 'a,
    {
        ProvideFuture::ready(Self::read())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_variable_is_named_in_the_error_text() {
        let err = CredentialsError::not_loaded(
            "environment: AWS_ACCESS_KEY_ID is not set; export it or pass keys another way",
        );
        let text = crate::error_chain(&err);
        assert!(text.contains("AWS_ACCESS_KEY_ID is not set"), "{text}");
    }
}
