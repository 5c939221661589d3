//! The C SDK's credentials file (`createFileCredentialProvider`): one line,
//! `CREDENTIALS <access key id> [<expiration>] <secret access key> [<session token>]`,
//! whitespace separated, the expiration as `YYYY-MM-DDTHH:mm:SSZ`. As in the C SDK, an
//! expiration more than 40 minutes away, or none, counts as 40 minutes from now, so the file
//! is read again at least that often; the client's refresh asks before expiry, and each ask
//! reads the file again, so a device can rotate keys by rewriting it.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use kvs_proto::Credentials;

use crate::credentials::{CredentialsError, ProvideCredentials, ProvideFuture};

/// The longest the C SDK trusts a file's credentials before reading it again.
pub const MAX_FILE_CREDENTIALS_LIFETIME: Duration = Duration::from_secs(40 * 60);
/// Larger files are refused: the format is one short line.
const MAX_FILE_BYTES: u64 = 16 * 1024;

/// Reads credentials from a file in the C SDK's format at every call.
#[derive(Debug, Clone)]
pub struct CSdkFileProvider {
    path: PathBuf,
}

impl CSdkFileProvider {
    /// A provider reading `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    fn read(&self, now: SystemTime) -> Result<Credentials, CredentialsError> {
        let fail = |what: String| {
            CredentialsError::invalid_configuration(format!(
                "C SDK credentials file {}: {what}",
                self.path.display()
            ))
        };
        let size = std::fs::metadata(&self.path)
            .map_err(|e| fail(format!("cannot read it ({e})")))?
            .len();
        if size > MAX_FILE_BYTES {
            return Err(fail(format!(
                "{size} bytes; the format is one line of at most {MAX_FILE_BYTES}"
            )));
        }
        let text = std::fs::read_to_string(&self.path)
            .map_err(|e| fail(format!("cannot read it ({e})")))?;
        parse(&text, now).map_err(fail)
    }
}

/// Parses the file's text; the error never contains the secret or the token.
pub fn parse(text: &str, now: SystemTime) -> Result<Credentials, String> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    let usage = "expected `CREDENTIALS <access key id> [<expiration YYYY-MM-DDTHH:mm:SSZ>] <secret access key> [<session token>]`";
    if fields.first() != Some(&"CREDENTIALS") {
        return Err(format!("does not start with CREDENTIALS; {usage}"));
    }
    let (access_key, expiration, secret, token) = match fields[1..] {
        [ak, sk] => (ak, None, sk, None),
        [ak, exp, sk] => (ak, Some(exp), sk, None),
        [ak, exp, sk, token] => (ak, Some(exp), sk, Some(token)),
        _ => {
            return Err(format!(
                "{} fields after CREDENTIALS; {usage}",
                fields.len() - 1
            ));
        }
    };
    let cap = now + MAX_FILE_CREDENTIALS_LIFETIME;
    let expiry = match expiration {
        None => cap,
        Some(text) => {
            let at = kvs_proto::amz_date::parse_extended(text)
                .ok_or_else(|| format!("the expiration {text:?} is not YYYY-MM-DDTHH:mm:SSZ"))?;
            at.min(cap)
        }
    };
    Ok(Credentials::new(
        access_key,
        secret,
        token.map(str::to_owned),
        Some(expiry),
        "c-sdk-file",
    ))
}

impl ProvideCredentials for CSdkFileProvider {
    fn provide_credentials<'a>(&'a self) -> ProvideFuture<'a>
    where
        Self: 'a,
    {
        ProvideFuture::ready(self.read(SystemTime::now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> SystemTime {
        kvs_proto::amz_date::parse("20261205T080000Z").unwrap()
    }

    #[test]
    fn every_shape_of_the_line_is_read_and_expiry_is_capped_at_forty_minutes() {
        let c = parse("CREDENTIALS AKID SECRET\n", t0()).unwrap();
        assert_eq!(
            (c.access_key_id(), c.secret_access_key(), c.session_token()),
            ("AKID", "SECRET", None)
        );
        assert_eq!(c.expiry(), Some(t0() + MAX_FILE_CREDENTIALS_LIFETIME));
        let c = parse("CREDENTIALS AKID 2026-12-05T08:10:00Z SECRET TOKEN", t0()).unwrap();
        assert_eq!(c.session_token(), Some("TOKEN"));
        assert_eq!(c.expiry(), Some(t0() + Duration::from_secs(600)));
        let c = parse("CREDENTIALS AKID 2027-01-01T00:00:00Z SECRET", t0()).unwrap();
        assert_eq!(
            c.expiry(),
            Some(t0() + MAX_FILE_CREDENTIALS_LIFETIME),
            "capped"
        );
    }

    #[test]
    fn bad_lines_say_what_is_wrong_without_the_secret() {
        for (line, says) in [
            ("", "does not start with CREDENTIALS"),
            ("KEYS AKID SECRETVALUE", "does not start with CREDENTIALS"),
            ("CREDENTIALS AKID", "1 fields"),
            (
                "CREDENTIALS AKID 2026-13-45T99:99:99Z SECRETVALUE",
                "not YYYY-MM-DDTHH:mm:SSZ",
            ),
            ("CREDENTIALS A B SECRETVALUE TOKENVALUE EXTRA", "5 fields"),
        ] {
            let err = parse(line, t0()).unwrap_err();
            assert!(err.contains(says), "{line:?}: {err}");
            assert!(
                !err.contains("SECRETVALUE") && !err.contains("TOKENVALUE"),
                "{err}"
            );
        }
    }
}
