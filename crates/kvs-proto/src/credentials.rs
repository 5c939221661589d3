//! AWS credentials as the signer needs them, with secrets kept out of `Debug`.

use std::fmt;
use std::time::SystemTime;

/// An AWS access key pair, optionally with a session token and an expiry.
///
/// `Debug` never prints the secret key or the session token, so credentials can sit inside
/// configs and errors that end up in logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    expiry: Option<SystemTime>,
}

impl Credentials {
    /// Long-term or temporary credentials; `session_token` is required for temporary ones.
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        session_token: Option<String>,
        expiry: Option<SystemTime>,
    ) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            session_token: session_token.filter(|t| !t.is_empty()),
            expiry,
        }
    }

    /// The public half of the key pair (safe to log).
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The secret half of the key pair. Never log it.
    pub fn secret_access_key(&self) -> &str {
        &self.secret_access_key
    }

    /// The STS session token of temporary credentials.
    pub fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref()
    }

    /// When temporary credentials stop working, if known.
    pub fn expiry(&self) -> Option<SystemTime> {
        self.expiry
    }

    pub(crate) fn to_aws(&self) -> aws_credential_types::Credentials {
        aws_credential_types::Credentials::new(
            &self.access_key_id,
            &self.secret_access_key,
            self.session_token.clone(),
            self.expiry,
            "kvs-signaling",
        )
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &crate::redact::REDACTED)
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| crate::redact::REDACTED),
            )
            .field("expiry", &self.expiry)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_secrets() {
        let c = Credentials::new("AKID", "SECRETVALUE", Some("TOKENVALUE".into()), None);
        let s = format!("{c:?}");
        assert!(s.contains("AKID"));
        assert!(!s.contains("SECRETVALUE"));
        assert!(!s.contains("TOKENVALUE"));
    }

    #[test]
    fn empty_token_is_no_token() {
        let c = Credentials::new("AKID", "S", Some(String::new()), None);
        assert_eq!(c.session_token(), None);
    }
}
