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
    /// When set, signatures by this key are refused with `ExpiredTokenException` from this
    /// instant (by the service's clock): temporary credentials the service issued.
    pub expiration: Option<SystemTime>,
}

impl ServiceKey {
    /// A long-term key pair.
    pub fn new(access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            session_token: None,
            expiration: None,
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
            .field("expiration", &self.expiration)
            .finish()
    }
}

/// The keys the service accepts in its region: what checks a request's signature. Immutable
/// once the service runs, so drivers verify outside any lock; the temporary keys the service
/// issues come in through a lookup ([`crate::IotIssuer::key`]).
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

    /// Checks a request's SigV4 signature against the accepted keys, then those `issued`
    /// finds, at the service's time `now` ([`crate::ServiceCore::service_time`]); then the
    /// session token of keys that have one, and the expiration of keys that have one.
    pub fn authenticate(
        &self,
        req: &IncomingRequest<'_>,
        now: SystemTime,
        issued: impl Fn(&str) -> Option<ServiceKey>,
    ) -> Result<Verified, VerifyError> {
        let key: std::cell::RefCell<Option<ServiceKey>> = std::cell::RefCell::new(None);
        let verified = sigv4::verify(
            req,
            |ak| {
                let found = self
                    .keys
                    .iter()
                    .find(|k| k.access_key_id == ak)
                    .cloned()
                    .or_else(|| issued(ak));
                let secret = found.as_ref().map(|k| k.secret_access_key.clone());
                *key.borrow_mut() = found;
                secret
            },
            &self.region,
            now,
        )?;
        let Some(key) = key.into_inner() else {
            return Err(VerifyError::UnknownAccessKey);
        };
        if let Some(expected) = key.session_token.as_deref()
            && verified.session_token.as_deref() != Some(expected)
        {
            return Err(VerifyError::UnknownAccessKey);
        }
        if key.expiration.is_some_and(|at| at <= now) {
            return Err(VerifyError::ExpiredToken);
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
                expiration: None,
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
    /// Access key ids, or thing names for `iot:AssumeRoleWithCertificate` (wildcards allowed).
    principal: OneOrMany,
    /// Actions such as `kinesisvideo:ConnectAsMaster` (wildcards allowed).
    action: OneOrMany,
    /// Channel or role alias ARNs (wildcards and [`THING_NAME_VARIABLE`] allowed).
    resource: OneOrMany,
}

/// The policy variable a resource may hold: the thing name that temporary credentials from the
/// IoT endpoint were issued for (a statement with it matches nothing for other keys).
pub const THING_NAME_VARIABLE: &str = "${credentials-iot:ThingName}";

/// Who asks, as a policy sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal<'a> {
    /// The access key id, or for `iot:AssumeRoleWithCertificate` the certificate's thing.
    pub id: &'a str,
    /// The thing the credentials were issued for, which [`THING_NAME_VARIABLE`] stands for.
    pub thing_name: Option<&'a str>,
}

/// A policy: the statements that grant or deny actions on channels to keys, and role aliases
/// to device certificates. An action is allowed when some Allow statement matches and no
/// Deny statement does.
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

    /// Whether `who` may do `action` on `resource`.
    pub fn allows(&self, who: Principal<'_>, action: &str, resource: &str) -> bool {
        let resource_matches = |pattern: &str| match pattern.split_once(THING_NAME_VARIABLE) {
            None => glob(pattern, resource, false),
            Some((before, after)) => who
                .thing_name
                .is_some_and(|thing| glob(&format!("{before}{thing}{after}"), resource, false)),
        };
        let matching = |effect: Effect| {
            self.statement.iter().any(|s| {
                s.effect == effect
                    && s.principal.iter().any(|p| glob(p, who.id, false))
                    && s.action.iter().any(|a| glob(a, action, true))
                    && s.resource.iter().any(resource_matches)
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
        let key = |id| Principal {
            id,
            thing_name: None,
        };
        assert!(policy.allows(key("AKIDCAM"), "kinesisvideo:ConnectAsMaster", cam));
        assert!(policy.allows(key("AKIDGUEST"), "kinesisvideo:ConnectAsViewer", cam));
        assert!(!policy.allows(key("AKIDGUEST"), "kinesisvideo:ConnectAsMaster", cam));
        let narrow = Policy::parse(
            r#"{"Statement": [{"Effect": "Allow", "Principal": ["AKIDCAM"], "Action": "KinesisVideo:ConnectAs?aster",
                "Resource": "arn:aws:kinesisvideo:*:*:channel/cam-*/*"}]}"#,
        )
        .unwrap();
        assert!(narrow.allows(key("AKIDCAM"), "kinesisvideo:ConnectAsMaster", cam));
        assert!(!narrow.allows(key("AKIDCAM"), "kinesisvideo:ConnectAsViewer", cam));
        assert!(!narrow.allows(key("AKIDOTHER"), "kinesisvideo:ConnectAsMaster", cam));
        assert!(!narrow.allows(
            key("AKIDCAM"),
            "kinesisvideo:ConnectAsMaster",
            "arn:aws:kinesisvideo:us-west-2:1:channel/door/5"
        ));
    }

    #[test]
    fn the_thing_name_variable_stands_for_the_issued_thing_only() {
        let policy = Policy::parse(
            r#"{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kinesisvideo:*",
                "Resource": "arn:aws:kinesisvideo:*:*:channel/${credentials-iot:ThingName}/*"}]}"#,
        )
        .unwrap();
        let cam = "arn:aws:kinesisvideo:us-west-2:1:channel/cam-1/5";
        let issued = |thing| Principal {
            id: "ASIAKEY",
            thing_name: Some(thing),
        };
        assert!(policy.allows(issued("cam-1"), "kinesisvideo:ConnectAsMaster", cam));
        assert!(!policy.allows(issued("cam-2"), "kinesisvideo:ConnectAsMaster", cam));
        let long_term = Principal {
            id: "AKID",
            thing_name: None,
        };
        assert!(!policy.allows(long_term, "kinesisvideo:ConnectAsMaster", cam));
    }

    #[test]
    fn an_issued_key_is_refused_once_expired_and_without_its_token() {
        let t0 = kvs_proto::amz_date::parse("20261205T080000Z").unwrap();
        let issued = ServiceKey {
            access_key_id: "ASIAISSUED".into(),
            secret_access_key: "issued-secret".into(),
            session_token: Some("issued-token".into()),
            expiration: Some(t0 + std::time::Duration::from_secs(60)),
        };
        let keys = Keys::new("us-west-2", vec![ServiceKey::new("AKIDA", "secretA")]);
        let lookup = |ak: &str| (ak == "ASIAISSUED").then(|| issued.clone());
        let check = |token: Option<&str>, now: SystemTime| {
            let creds = kvs_proto::Credentials::new(
                "ASIAISSUED",
                "issued-secret",
                token.map(str::to_owned),
                None,
                "test",
            );
            let url = kvs_proto::sigv4::presign_url(
                "wss://127.0.0.1/?X-Amz-ChannelARN=arn",
                &creds,
                "us-west-2",
                now,
                std::time::Duration::from_secs(300),
            )
            .unwrap();
            let query = url.split_once('?').unwrap().1.to_owned();
            let req = IncomingRequest {
                method: "GET",
                host: "127.0.0.1",
                path: "/",
                query: Some(&query),
                headers: &[],
                body: &[],
            };
            keys.authenticate(&req, now, lookup)
        };
        assert!(check(Some("issued-token"), t0).is_ok());
        assert_eq!(check(None, t0).unwrap_err(), VerifyError::UnknownAccessKey);
        assert_eq!(
            check(
                Some("issued-token"),
                t0 + std::time::Duration::from_secs(61)
            )
            .unwrap_err(),
            VerifyError::ExpiredToken
        );
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
