//! The AWS IoT credentials provider's wire format, without IO: a device presents its X.509
//! certificate over mutual TLS in `GET /role-aliases/<alias>/credentials` (header
//! [`THING_NAME_HEADER`], no SigV4) and receives temporary credentials
//! (`{"credentials":{"accessKeyId","secretAccessKey","sessionToken","expiration"}}`).
//! The documented real answers are pinned in `documented_responses.json`; this parser and the
//! local service's endpoint are both tested against it.

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

use serde_json::Value;

use crate::Credentials;

/// The header naming the thing the certificate is attached to.
pub const THING_NAME_HEADER: &str = "x-amzn-iot-thingname";
/// The provider name on credentials from the IoT credentials provider.
pub const IOT_PROVIDER: &str = "iot";
/// The error messages the real service answers with (see `documented_responses.json`).
pub mod messages {
    /// 403: the certificate is unknown, inactive, expired or from another CA.
    pub const CERTIFICATE_INVALID: &str = "Certificate is invalid on this endpoint";
    /// 403: the thing name is not attached to the certificate.
    pub const INVALID_THING_NAME: &str = "Invalid thing name passed";
    /// 403: the certificate's policy does not allow `iot:AssumeRoleWithCertificate`.
    pub const ACCESS_DENIED: &str = "Access Denied";
    /// 404: no such role alias.
    pub const NO_ROLE_ALIAS: &str = "Role alias does not exist";
    /// 400: the role alias points at a role that cannot be assumed.
    pub const ROLE_NOT_ASSUMABLE: &str =
        "Unable to assume the role, or the role to assume does not exist";
}

/// The longest error message kept from a response (the real ones are short).
const MAX_MESSAGE: usize = 200;

/// The request path for a role alias, once [`check_role_alias`] accepted it.
pub fn credentials_path(role_alias: &str) -> String {
    format!("/role-aliases/{role_alias}/credentials")
}

/// The role alias from a request path, if it is `/role-aliases/<alias>/credentials`.
pub fn role_alias_of(path: &str) -> Option<&str> {
    path.strip_prefix("/role-aliases/")?
        .strip_suffix("/credentials")
        .filter(|alias| !alias.is_empty() && !alias.contains('/'))
}

/// 1–128 characters, each a letter, a digit or one of `extra`: IoT's names.
fn iot_name(name: &str, extra: &[u8]) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
}

/// Role aliases are 1–128 characters of `[A-Za-z0-9_=,@-]` (IoT's `CreateRoleAlias`).
pub fn check_role_alias(alias: &str) -> Result<(), IotError> {
    iot_name(alias, b"_=,@-")
        .then_some(())
        .ok_or(IotError::BadRoleAlias)
}

/// Thing names are 1–128 characters of `[A-Za-z0-9:_-]` (IoT's `CreateThing`).
pub fn check_thing_name(name: &str) -> Result<(), IotError> {
    iot_name(name, b":_-")
        .then_some(())
        .ok_or(IotError::BadThingName)
}

/// Why the IoT credentials provider gave no credentials. The texts name the cause and the
/// fix; none contains a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IotError {
    /// The role alias given is not one IoT could have.
    #[error(
        "the role alias must be 1-128 characters of letters, digits and _=,@-; pass the alias \
         created with `aws iot create-role-alias` (--iot-role-alias, AWS_IOT_CORE_ROLE_ALIAS)"
    )]
    BadRoleAlias,
    /// The thing name given is not one IoT could have.
    #[error(
        "the thing name must be 1-128 characters of letters, digits and :_-; pass the thing the \
         certificate is attached to (--iot-thing-name, AWS_IOT_CORE_THING_NAME)"
    )]
    BadThingName,
    /// The endpoint does not accept the certificate (403, `Certificate is invalid on this
    /// endpoint`).
    #[error(
        "the IoT credentials endpoint does not accept the device certificate ({message}): it is \
         expired, inactive, not registered in this account and region, or issued by a CA the \
         endpoint does not know; check --iot-cert and --iot-endpoint"
    )]
    CertificateNotAccepted {
        /// The service's message.
        message: String,
    },
    /// The thing name is not attached to the certificate (403, `Invalid thing name passed`).
    #[error(
        "the IoT credentials endpoint refused the thing name ({message}): the thing does not \
         exist or is not attached to this certificate; check --iot-thing-name or attach it with \
         `aws iot attach-thing-principal`"
    )]
    ThingNameMismatch {
        /// The service's message.
        message: String,
    },
    /// The certificate's policy does not allow assuming the role (403, `Access Denied`).
    #[error(
        "the IoT credentials endpoint denied the request ({message}): the certificate's IoT \
         policy must allow iot:AssumeRoleWithCertificate on the role alias's ARN"
    )]
    AccessDenied {
        /// The service's message.
        message: String,
    },
    /// No such role alias (404).
    #[error(
        "the role alias {role_alias:?} does not exist ({message}); check --iot-role-alias \
         (`aws iot list-role-aliases`)"
    )]
    UnknownRoleAlias {
        /// The alias asked for.
        role_alias: String,
        /// The service's message.
        message: String,
    },
    /// The role behind the alias cannot be assumed (400).
    #[error(
        "the role behind the role alias cannot be assumed ({message}): check the role exists, \
         trusts credentials.iot.amazonaws.com, and that its maximum session duration covers the \
         alias's credential duration"
    )]
    RoleNotAssumable {
        /// The service's message.
        message: String,
    },
    /// Another refusal or a server error.
    #[error("the IoT credentials endpoint answered {status}: {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The service's message, or what the body was.
        message: String,
    },
    /// A 200 answer that is not the documented shape.
    #[error("the IoT credentials endpoint's answer is not the documented shape: {0}")]
    Malformed(&'static str),
}

impl IotError {
    /// True when asking again soon may succeed (throttling, server errors); false for
    /// refusals that need a change of configuration, which must not be retried in a loop.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Refused { status, .. } if *status == 429 || *status >= 500)
    }
}

/// Reads the endpoint's answer: the credentials (with their expiration), or the refusal as
/// a typed error. The message of an error body is kept (cut to a bounded length); nothing of
/// a success body ever reaches an error.
pub fn parse_response(status: u16, body: &[u8], role_alias: &str) -> Result<Credentials, IotError> {
    if status == 200 {
        return parse_credentials(body);
    }
    let message = error_message(body);
    let message_is = |m: &str| message == m;
    Err(match status {
        403 if message_is(messages::CERTIFICATE_INVALID) => {
            IotError::CertificateNotAccepted { message }
        }
        403 if message_is(messages::INVALID_THING_NAME) => IotError::ThingNameMismatch { message },
        403 if message_is(messages::ACCESS_DENIED) => IotError::AccessDenied { message },
        404 => IotError::UnknownRoleAlias {
            role_alias: role_alias.to_owned(),
            message,
        },
        400 if message_is(messages::ROLE_NOT_ASSUMABLE) => IotError::RoleNotAssumable { message },
        _ => IotError::Refused { status, message },
    })
}

/// The `message` of an error body, or a description of a body without one.
fn error_message(body: &[u8]) -> String {
    let message = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned));
    match message {
        Some(m) => m.chars().take(MAX_MESSAGE).collect(),
        None => format!("a body of {} bytes without a JSON message", body.len()),
    }
}

fn parse_credentials(body: &[u8]) -> Result<Credentials, IotError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|_| IotError::Malformed("the body is not JSON"))?;
    let creds = value
        .get("credentials")
        .ok_or(IotError::Malformed("no `credentials` object"))?;
    let field = |name: &'static str, missing: &'static str| {
        creds
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or(IotError::Malformed(missing))
    };
    let access_key_id = field("accessKeyId", "no `credentials.accessKeyId` string")?;
    let secret = field("secretAccessKey", "no `credentials.secretAccessKey` string")?;
    let token = field("sessionToken", "no `credentials.sessionToken` string")?;
    let expiration = field("expiration", "no `credentials.expiration` string")?;
    let expiry = crate::amz_date::parse_extended(expiration).ok_or(IotError::Malformed(
        "`credentials.expiration` is not YYYY-MM-DDTHH:mm:SSZ",
    ))?;
    Ok(Credentials::new(
        access_key_id,
        secret,
        Some(token.to_owned()),
        Some(expiry),
        IOT_PROVIDER,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn documented() -> Value {
        serde_json::from_str(include_str!("documented_responses.json")).unwrap()
    }

    #[test]
    fn the_documented_success_answer_is_read() {
        let doc = documented();
        assert_eq!(doc["thing_name_header"], THING_NAME_HEADER);
        assert_eq!(doc["path"], credentials_path("{roleAlias}"));
        let body = serde_json::to_vec(&doc["success"]["body"]).unwrap();
        let c = parse_response(200, &body, "alias").unwrap();
        assert_eq!(c.access_key_id(), "ASIAEXAMPLEEXAMPLE12");
        assert_eq!(c.session_token(), Some("placeholder-token=="));
        assert_eq!(
            c.expiry().map(crate::amz_date::format_extended).as_deref(),
            Some("2023-02-06T05:54:46Z")
        );
    }

    #[test]
    fn each_documented_refusal_is_its_own_error() {
        for case in documented()["errors"].as_array().unwrap() {
            let status = case["status"].as_u64().unwrap() as u16;
            let body = serde_json::to_vec(&case["body"]).unwrap();
            let err = parse_response(status, &body, "cam-alias").unwrap_err();
            let expected = match case["case"].as_str().unwrap() {
                "certificate_not_accepted" => {
                    matches!(err, IotError::CertificateNotAccepted { .. })
                }
                "thing_name_mismatch" => matches!(err, IotError::ThingNameMismatch { .. }),
                "access_denied" => matches!(err, IotError::AccessDenied { .. }),
                "unknown_role_alias" => {
                    matches!(&err, IotError::UnknownRoleAlias { role_alias, .. } if role_alias == "cam-alias")
                }
                "role_not_assumable" => matches!(err, IotError::RoleNotAssumable { .. }),
                other => panic!("unknown case {other}"),
            };
            assert!(expected, "{case}: {err:?}");
            assert!(!err.is_transient(), "{err}");
        }
    }

    #[test]
    fn malformed_answers_are_refused_without_echoing_the_secret() {
        for body in [
            &b"not json"[..],
            br#"{"credentials":{"accessKeyId":"A","secretAccessKey":"SECRETVALUE","sessionToken":"TOKENVALUE"}}"#,
            br#"{"credentials":{"accessKeyId":"A","secretAccessKey":"SECRETVALUE","sessionToken":"TOKENVALUE","expiration":"2023-02-06T05:54:46.000Z"}}"#,
            br#"{"credentials":{"accessKeyId":"A","secretAccessKey":7,"sessionToken":"TOKENVALUE","expiration":"2023-02-06T05:54:46Z"}}"#,
            br#"{"Credentials":{}}"#,
        ] {
            let err = parse_response(200, body, "a").unwrap_err();
            let text = err.to_string();
            assert!(matches!(err, IotError::Malformed(_)), "{text}");
            assert!(!text.contains("SECRETVALUE") && !text.contains("TOKENVALUE"), "{text}");
        }
        let long = format!(r#"{{"message":"{}"}}"#, "x".repeat(10_000));
        let err = parse_response(503, long.as_bytes(), "a").unwrap_err();
        assert!(err.is_transient());
        assert!(err.to_string().len() < 400, "{err}");
    }

    proptest::proptest! {
        /// A valid answer with one byte changed, cut or extended: an error that never quotes
        /// the secret, or credentials with every field.
        #[test]
        fn perturbed_answers_never_panic_or_leak(at in 0usize..200, byte in proptest::prelude::any::<u8>(), cut in proptest::prelude::any::<bool>()) {
            let mut body = br#"{"credentials":{"accessKeyId":"ASIAKEY","secretAccessKey":"SECRETVALUE","sessionToken":"TOKENVALUE","expiration":"2026-12-05T08:15:00Z"}}"#.to_vec();
            let at = at % body.len();
            if cut { body.truncate(at) } else { body[at] = byte }
            match parse_response(200, &body, "a") {
                Ok(c) => proptest::prop_assert!(c.expiry().is_some() && c.session_token().is_some()),
                Err(e) => {
                    let text = e.to_string();
                    proptest::prop_assert!(!text.contains("SECRETVALUE") && !text.contains("TOKENVALUE"), "{}", text);
                }
            }
        }
    }

    #[test]
    fn aliases_and_thing_names_are_checked_and_paths_round_trip() {
        assert!(check_role_alias("kvs-camera_role=1,@x").is_ok());
        for bad in ["", "a/b", "a b", &"a".repeat(129)] {
            assert_eq!(check_role_alias(bad), Err(IotError::BadRoleAlias), "{bad}");
        }
        assert!(check_thing_name("cam:01_a-b").is_ok());
        for bad in ["", "a*", "a/b", &"t".repeat(129)] {
            assert_eq!(check_thing_name(bad), Err(IotError::BadThingName), "{bad}");
        }
        assert_eq!(role_alias_of(&credentials_path("cam")), Some("cam"));
        for bad in [
            "/role-aliases//credentials",
            "/role-aliases/a/b/credentials",
            "/x",
        ] {
            assert_eq!(role_alias_of(bad), None, "{bad}");
        }
    }
}
