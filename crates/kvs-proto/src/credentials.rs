//! AWS credentials are the AWS SDK for Rust's own type (`aws-credential-types`), so any SDK
//! credentials provider plugs in unchanged; its `Debug` prints the access key id and never
//! the secret or the session token.

pub use aws_credential_types::Credentials;

/// The provider name our constructors give credentials made from keys we were handed.
pub const STATIC_PROVIDER: &str = "kvs-signaling";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_secrets() {
        let c = Credentials::new(
            "AKID",
            "SECRETVALUE",
            Some("TOKENVALUE".into()),
            None,
            STATIC_PROVIDER,
        );
        let s = format!("{c:?}");
        assert!(s.contains("AKID"));
        assert!(!s.contains("SECRETVALUE"));
        assert!(!s.contains("TOKENVALUE"));
    }
}
