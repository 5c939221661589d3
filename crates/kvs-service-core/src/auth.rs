//! Who may call the service: the keys it accepts (from flags or an AWS credentials file),
//! which [`Keys`] checks signatures against, and an optional IAM-like policy granting actions
//! on channels per key. Pure parsing and evaluation; the server reads the files.

#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::string_slice
    )
)]

use std::collections::HashMap;
use std::time::SystemTime;

use kvs_proto::sigv4::{self, IncomingRequest, Verified, VerifyError};
use serde::Deserialize;

/// One key pair the service accepts.
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceKey {
    /// The access key id.
    pub access_key_id: String,
    /// The secret; never printed.
    pub secret_access_key: String,
    /// When set, requests signed with this key must carry this `X-Amz-Security-Token`
    /// (temporary credentials).
    pub session_token: Option<String>,
}

impl ServiceKey {
    /// A long-term key pair.
    pub fn new(access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            session_token: None,
        }
    }
}

impl std::fmt::Debug for ServiceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceKey")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &kvs_proto::redact::REDACTED)
            .field(
                "session_token",
                &self
                    .session_token
                    .as_ref()
                    .map(|_| kvs_proto::redact::REDACTED),
            )
            .finish()
    }
}

/// The keys the service accepts in its region: what checks a request's signature. Immutable
/// once the service runs, so drivers verify outside any lock.
#[derive(Debug, Clone)]
pub struct Keys {
    region: String,
    keys: Vec<ServiceKey>,
}

impl Keys {
    /// Accepts signatures by `keys` scoped to `region`.
    pub fn new(region: impl Into<String>, keys: Vec<ServiceKey>) -> Self {
        Self {
            region: region.into(),
            keys,
        }
    }

    /// Checks a request's SigV4 signature against the accepted keys at the service's time
    /// `now` ([`crate::ServiceCore::service_time`]), and the session token of keys that have
    /// one.
    pub fn authenticate(
        &self,
        req: &IncomingRequest<'_>,
        now: SystemTime,
    ) -> Result<Verified, VerifyError> {
        let find = |ak: &str| self.keys.iter().find(|k| k.access_key_id == ak);
        let verified = sigv4::verify(
            req,
            |ak| find(ak).map(|k| k.secret_access_key.clone()),
            &self.region,
            now,
        )?;
        let expected = find(&verified.access_key_id).and_then(|k| k.session_token.as_deref());
        if let Some(expected) = expected
            && verified.session_token.as_deref() != Some(expected)
        {
            return Err(VerifyError::UnknownAccessKey);
        }
        Ok(verified)
    }
}

/// Why a credentials or policy file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthFileError {
    /// A line of the credentials file is not `[profile]`, `key = value`, blank or a comment.
    #[error("credentials file line {line}: expected `[profile]` or `key = value`")]
    BadLine {
        /// 1-based line number.
        line: usize,
    },
    /// A profile has one of the two keys but not the other.
    #[error(
        "credentials file profile [{profile}] needs both aws_access_key_id and aws_secret_access_key"
    )]
    IncompleteProfile {
        /// The profile.
        profile: String,
    },
    /// No profile has a key pair.
    #[error("the credentials file holds no key pair")]
    Empty,
    /// The policy is not the JSON this service reads.
    #[error("policy file: {0}")]
    Policy(String),
}

/// Reads every profile of a file in the format of `~/.aws/credentials`.
pub fn parse_credentials_file(text: &str) -> Result<Vec<ServiceKey>, AuthFileError> {
    let mut profiles: Vec<(String, HashMap<String, String>)> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            profiles.push((name.trim().to_owned(), HashMap::new()));
            continue;
        }
        let (Some((key, value)), Some((_, fields))) = (line.split_once('='), profiles.last_mut())
        else {
            return Err(AuthFileError::BadLine {
                line: n.saturating_add(1),
            });
        };
        fields.insert(key.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    let mut keys = Vec::new();
    for (profile, mut fields) in profiles {
        match (
            fields.remove("aws_access_key_id"),
            fields.remove("aws_secret_access_key"),
        ) {
            (Some(id), Some(secret)) => keys.push(ServiceKey {
                access_key_id: id,
                secret_access_key: secret,
                session_token: fields.remove("aws_session_token"),
            }),
            (None, None) => {}
            _ => return Err(AuthFileError::IncompleteProfile { profile }),
        }
    }
    if keys.is_empty() {
        return Err(AuthFileError::Empty);
    }
    Ok(keys)
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
enum Effect {
    Allow,
    Deny,
}

/// A string or a list of strings, as IAM allows.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn iter(&self) -> impl Iterator<Item = &str> {
        let slice = match self {
            Self::One(s) => std::slice::from_ref(s),
            Self::Many(v) => v.as_slice(),
        };
        slice.iter().map(String::as_str)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct Statement {
    #[serde(rename = "Sid", default)]
    _sid: Option<String>,
    effect: Effect,
    /// Access key ids (wildcards allowed).
    principal: OneOrMany,
    /// Actions such as `kinesisvideo:ConnectAsMaster` (wildcards allowed).
    action: OneOrMany,
    /// Channel ARNs (wildcards allowed).
    resource: OneOrMany,
}

/// A policy: the statements that grant or deny actions on channels to keys. An action is
/// allowed when some Allow statement matches and no Deny statement does.
///
/// ```json
/// {"Statement": [{"Effect": "Allow", "Principal": "AKIDCAMERA",
///                 "Action": "kinesisvideo:ConnectAsMaster",
///                 "Resource": "arn:aws:kinesisvideo:*:*:channel/cam-*/*"}]}
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Policy {
    #[serde(rename = "Version", default)]
    _version: Option<String>,
    statement: Vec<Statement>,
}

impl Policy {
    /// Parses a policy document.
    pub fn parse(text: &str) -> Result<Self, AuthFileError> {
        serde_json::from_str(text).map_err(|e| AuthFileError::Policy(e.to_string()))
    }

    /// Whether `access_key_id` may do `action` on `resource`.
    pub fn allows(&self, access_key_id: &str, action: &str, resource: &str) -> bool {
        let matching = |effect: Effect| {
            self.statement.iter().any(|s| {
                s.effect == effect
                    && s.principal.iter().any(|p| glob(p, access_key_id, false))
                    && s.action.iter().any(|a| glob(a, action, true))
                    && s.resource.iter().any(|r| glob(r, resource, false))
            })
        };
        matching(Effect::Allow) && !matching(Effect::Deny)
    }
}

/// IAM wildcard match: `*` is any run of characters, `?` any one character.
fn glob(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let eq = |a: char, b: char| {
        if ignore_case {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while let Some(&tc) = t.get(ti) {
        match p.get(pi) {
            Some(&pc) if pc == '?' || (pc != '*' && eq(pc, tc)) => {
                pi = pi.saturating_add(1);
                ti = ti.saturating_add(1);
            }
            Some('*') => {
                star = Some((pi, ti));
                pi = pi.saturating_add(1);
            }
            _ => match star {
                // Let the last `*` swallow one more character and try again from there.
                Some((sp, st)) => {
                    pi = sp.saturating_add(1);
                    ti = st.saturating_add(1);
                    star = Some((sp, ti));
                }
                None => return false,
            },
        }
    }
    p.get(pi..).unwrap_or_default().iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_keys_hides_secrets_and_tokens() {
        let mut key = ServiceKey::new("AKIDVISIBLE", "SECRETVALUE");
        key.session_token = Some("TOKENVALUE".into());
        let keys = Keys::new("us-west-2", vec![key.clone()]);
        for shown in [format!("{key:?}"), format!("{keys:?}")] {
            assert!(shown.contains("AKIDVISIBLE"), "{shown}");
            for secret in ["SECRETVALUE", "TOKENVALUE"] {
                assert!(!shown.contains(secret), "{secret} in {shown}");
            }
        }
        let turn = crate::TurnCredentials::new(&[0x5a; 32]);
        assert!(!format!("{turn:?}").contains("5a"));
    }

    #[test]
    fn the_credentials_file_format_is_read() {
        let text = "# keys\n[default]\naws_access_key_id = AKIDA\naws_secret_access_key=secretA\n\n\
                    [camera]\nregion = us-west-2\nAWS_ACCESS_KEY_ID = AKIDB\naws_secret_access_key = b=c\naws_session_token = T0KEN9\n\
                    [empty]\nregion = eu-west-1\n";
        let keys = parse_credentials_file(text).unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0], ServiceKey::new("AKIDA", "secretA"));
        assert_eq!(keys[1].secret_access_key, "b=c");
        assert_eq!(keys[1].session_token.as_deref(), Some("T0KEN9"));
        let shown = format!("{:?}", keys[1]);
        assert!(
            !shown.contains("b=c") && !shown.contains("T0KEN9"),
            "{shown}"
        );
    }

    #[test]
    fn broken_credentials_files_say_where() {
        assert_eq!(
            parse_credentials_file("[a]\nnonsense\n"),
            Err(AuthFileError::BadLine { line: 2 })
        );
        assert_eq!(
            parse_credentials_file("aws_access_key_id = x\n"),
            Err(AuthFileError::BadLine { line: 1 })
        );
        assert!(matches!(
            parse_credentials_file("[a]\naws_access_key_id = x\n"),
            Err(AuthFileError::IncompleteProfile { .. })
        ));
        assert_eq!(parse_credentials_file(""), Err(AuthFileError::Empty));
    }

    #[test]
    fn allow_needs_a_match_and_deny_wins() {
        let policy = Policy::parse(
            r#"{"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": "AKIDCAM", "Action": ["kinesisvideo:ConnectAsMaster", "kinesisvideo:Describe*"],
                 "Resource": "arn:aws:kinesisvideo:*:*:channel/cam-*/*"},
                {"Effect": "Allow", "Principal": "*", "Action": "kinesisvideo:*", "Resource": "*"},
                {"Effect": "Deny", "Principal": "AKIDGUEST", "Action": "kinesisvideo:ConnectAsMaster", "Resource": "*"}]}"#,
        )
        .unwrap();
        let cam = "arn:aws:kinesisvideo:us-west-2:1:channel/cam-1/5";
        assert!(policy.allows("AKIDCAM", "kinesisvideo:ConnectAsMaster", cam));
        assert!(policy.allows("AKIDGUEST", "kinesisvideo:ConnectAsViewer", cam));
        assert!(!policy.allows("AKIDGUEST", "kinesisvideo:ConnectAsMaster", cam));
        let narrow = Policy::parse(
            r#"{"Statement": [{"Effect": "Allow", "Principal": ["AKIDCAM"], "Action": "KinesisVideo:ConnectAs?aster",
                "Resource": "arn:aws:kinesisvideo:*:*:channel/cam-*/*"}]}"#,
        )
        .unwrap();
        assert!(narrow.allows("AKIDCAM", "kinesisvideo:ConnectAsMaster", cam));
        assert!(!narrow.allows("AKIDCAM", "kinesisvideo:ConnectAsViewer", cam));
        assert!(!narrow.allows("AKIDOTHER", "kinesisvideo:ConnectAsMaster", cam));
        assert!(!narrow.allows(
            "AKIDCAM",
            "kinesisvideo:ConnectAsMaster",
            "arn:aws:kinesisvideo:us-west-2:1:channel/door/5"
        ));
    }

    #[test]
    fn unknown_policy_fields_are_refused() {
        assert!(Policy::parse(r#"{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*", "Condition": {}}]}"#).is_err());
        assert!(Policy::parse(r#"{"Statement": [{"Effect": "Maybe", "Principal": "*", "Action": "*", "Resource": "*"}]}"#).is_err());
    }

    #[test]
    fn globs() {
        assert!(glob("a*b?d", "axxxbcd", false));
        assert!(glob("*", "", false));
        assert!(!glob("a*", "b", false));
        assert!(glob("**x", "yyx", false));
        assert!(!glob("abc", "ABC", false));
        assert!(glob("abc", "ABC", true));
    }
}
