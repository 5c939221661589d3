//! The local AWS IoT credentials provider's decisions: which device may have temporary
//! credentials through which role alias, the answer in the real service's shape
//! ([`kvs_proto::iot`]), and the keys issued, which the signature check then accepts until
//! they expire ([`IotIssuer::key`]). The driver verifies the TLS client certificate; the
//! certificate's common name is the thing it is attached to.

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
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use kvs_proto::iot::{self as wire, messages};
use serde_json::json;

use crate::auth::{Policy, Principal, ServiceKey};

/// The action a certificate's policy must allow on the role alias's ARN.
pub const ASSUME_ROLE_ACTION: &str = "iot:AssumeRoleWithCertificate";
/// How many random bytes one issue takes ([`IotIssuer::request`]).
pub const ISSUE_RANDOM_BYTES: usize = 94;
/// At most this many issued keys are kept; more requests are throttled until some expire.
pub const MAX_ISSUED: usize = 10_000;
/// Expired keys are remembered this long, so their use is answered `ExpiredTokenException`
/// rather than "unknown key".
const KEEP_EXPIRED: Duration = Duration::from_secs(15 * 60);

/// A role alias devices may ask credentials through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleAlias {
    /// Its name, the path segment of the request.
    pub name: String,
    /// How long the credentials it issues last (the real service: 900 s to 12 h, default
    /// 1 h; here anything, so tests can use seconds).
    pub credential_duration: Duration,
}

/// What the driver found of the TLS client certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceCertificate<'a> {
    /// Issued by the service's CA and within its validity; its common name is the thing it
    /// is attached to.
    Valid {
        /// The thing.
        thing_name: &'a str,
    },
    /// From another CA, expired, not yet valid, or without a common name.
    Invalid,
}

/// One request to the credentials endpoint.
#[derive(Debug, Clone, Copy)]
pub struct IotRequest<'a> {
    /// The HTTP method.
    pub method: &'a str,
    /// The path, `/role-aliases/<alias>/credentials`.
    pub path: &'a str,
    /// The `x-amzn-iot-thingname` header.
    pub thing_name: Option<&'a str>,
    /// The client certificate as the driver verified it.
    pub certificate: DeviceCertificate<'a>,
}

/// The answer to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IotAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The `x-amzn-ErrorType` header, where the real service is known to send one.
    pub error_type: Option<&'static str>,
    /// The JSON body.
    pub body: Vec<u8>,
    /// The access key id issued, for the log (never the secret).
    pub issued: Option<String>,
}

impl IotAnswer {
    fn refuse(status: u16, error_type: Option<&'static str>, message: &str) -> Self {
        Self {
            status,
            error_type,
            body: json!({ "message": message }).to_string().into_bytes(),
            issued: None,
        }
    }
}

#[derive(Debug, Clone)]
struct Issued {
    key: ServiceKey,
    thing_name: Option<String>,
}

/// The role aliases and the keys issued through them.
#[derive(Debug, Clone, Default)]
pub struct IotIssuer {
    aliases: Vec<RoleAlias>,
    issued: HashMap<String, Issued>,
}

impl IotIssuer {
    /// Issues through `aliases` (none: every request is answered "Role alias does not exist").
    pub fn new(aliases: Vec<RoleAlias>) -> Self {
        Self {
            aliases,
            issued: HashMap::new(),
        }
    }

    /// Answers one request at the service's time `now`, in the order the real service checks:
    /// the certificate, the thing name, the certificate's policy (`policy`, principal the
    /// certificate's thing, action [`ASSUME_ROLE_ACTION`], resource
    /// `arn:aws:iot:<region>:<account>:rolealias/<alias>`), the role alias. `random` makes
    /// the keys.
    pub fn request(
        &mut self,
        req: IotRequest<'_>,
        now: SystemTime,
        policy: Option<&Policy>,
        (region, account_id): (&str, &str),
        random: &[u8; ISSUE_RANDOM_BYTES],
    ) -> IotAnswer {
        let Some(alias_name) = wire::role_alias_of(req.path) else {
            return IotAnswer::refuse(404, None, "Not Found");
        };
        if req.method != "GET" {
            return IotAnswer::refuse(405, None, "Method Not Allowed");
        }
        let DeviceCertificate::Valid { thing_name: owner } = req.certificate else {
            return IotAnswer::refuse(
                403,
                Some("AccessDeniedException"),
                messages::CERTIFICATE_INVALID,
            );
        };
        if let Some(asked) = req.thing_name
            && (wire::check_thing_name(asked).is_err() || asked != owner)
        {
            return IotAnswer::refuse(403, None, messages::INVALID_THING_NAME);
        }
        let resource = format!("arn:aws:iot:{region}:{account_id}:rolealias/{alias_name}");
        let who = Principal {
            id: owner,
            thing_name: req.thing_name,
        };
        if policy.is_some_and(|p| !p.allows(who, ASSUME_ROLE_ACTION, &resource)) {
            return IotAnswer::refuse(403, None, messages::ACCESS_DENIED);
        }
        let Some(duration) = self
            .aliases
            .iter()
            .find(|a| a.name == alias_name)
            .map(|a| a.credential_duration)
        else {
            return IotAnswer::refuse(404, None, messages::NO_ROLE_ALIAS);
        };
        self.sweep(now);
        if self.issued.len() >= MAX_ISSUED {
            return IotAnswer::refuse(429, Some("ThrottlingException"), "Rate exceeded");
        }
        let expiration = now.checked_add(duration).unwrap_or(now);
        let key = mint(random, expiration);
        let body = json!({"credentials": {
            "accessKeyId": key.access_key_id,
            "secretAccessKey": key.secret_access_key,
            "sessionToken": key.session_token,
            "expiration": kvs_proto::amz_date::format_extended(expiration),
        }});
        let access_key_id = key.access_key_id.clone();
        self.issued.insert(
            access_key_id.clone(),
            Issued {
                key,
                thing_name: req.thing_name.map(str::to_owned),
            },
        );
        IotAnswer {
            status: 200,
            error_type: None,
            body: body.to_string().into_bytes(),
            issued: Some(access_key_id),
        }
    }

    /// An issued key, for the signature check ([`crate::Keys::authenticate`]), which refuses
    /// it once expired.
    pub fn key(&self, access_key_id: &str) -> Option<ServiceKey> {
        self.issued.get(access_key_id).map(|i| i.key.clone())
    }

    /// The thing an issued key was asked for with, which the policy variable
    /// [`crate::auth::THING_NAME_VARIABLE`] stands for.
    pub fn thing_of(&self, access_key_id: &str) -> Option<&str> {
        self.issued.get(access_key_id)?.thing_name.as_deref()
    }

    /// The issued keys remembered.
    pub fn keys(&self) -> Vec<ServiceKey> {
        self.issued.values().map(|i| i.key.clone()).collect()
    }

    /// Forgets keys expired for longer than [`KEEP_EXPIRED`].
    pub fn sweep(&mut self, now: SystemTime) {
        self.issued.retain(|_, i| {
            i.key
                .expiration
                .and_then(|at| at.checked_add(KEEP_EXPIRED))
                .is_none_or(|forget| forget > now)
        });
    }
}

/// A temporary key from random bytes: an `ASIA` access key id (as STS issues), a 40-character
/// secret and a session token.
fn mint(random: &[u8; ISSUE_RANDOM_BYTES], expiration: SystemTime) -> ServiceKey {
    const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (id_bytes, rest) = random.split_at(16);
    let (secret_bytes, token_bytes) = rest.split_at(30);
    let id: String = id_bytes
        .iter()
        .filter_map(|b| BASE32.get(usize::from(b % 32)).copied().map(char::from))
        .collect();
    let b64 = base64::engine::general_purpose::STANDARD;
    ServiceKey {
        access_key_id: format!("ASIA{id}"),
        secret_access_key: b64.encode(secret_bytes),
        session_token: Some(b64.encode(token_bytes)),
        expiration: Some(expiration),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn t0() -> SystemTime {
        kvs_proto::amz_date::parse("20261205T080000Z").unwrap()
    }

    fn issuer() -> IotIssuer {
        IotIssuer::new(vec![RoleAlias {
            name: "cam-alias".into(),
            credential_duration: Duration::from_secs(900),
        }])
    }

    fn ask<'a>(
        path: &'a str,
        thing: Option<&'a str>,
        certificate: DeviceCertificate<'a>,
    ) -> IotRequest<'a> {
        IotRequest {
            method: "GET",
            path,
            thing_name: thing,
            certificate,
        }
    }

    const OK_PATH: &str = "/role-aliases/cam-alias/credentials";
    const CAM: DeviceCertificate<'static> = DeviceCertificate::Valid {
        thing_name: "cam-1",
    };
    const HERE: (&str, &str) = ("us-west-2", "123456789012");

    #[test]
    fn a_valid_request_gets_the_documented_shape_and_a_key_the_service_accepts() {
        let mut iot = issuer();
        let a = iot.request(ask(OK_PATH, Some("cam-1"), CAM), t0(), None, HERE, &[7; 94]);
        assert_eq!(a.status, 200);
        let body: Value = serde_json::from_slice(&a.body).unwrap();
        let creds = kvs_proto::iot::parse_response(200, &a.body, "cam-alias").unwrap();
        assert_eq!(
            body["credentials"]["expiration"], "2026-12-05T08:15:00Z",
            "{body}"
        );
        let key = iot.key(creds.access_key_id()).unwrap();
        assert!(key.access_key_id.starts_with("ASIA") && key.access_key_id.len() == 20);
        assert_eq!(key.secret_access_key.len(), 40);
        assert_eq!(key.session_token.as_deref(), creds.session_token());
        assert_eq!(key.expiration, Some(t0() + Duration::from_secs(900)));
        assert_eq!(iot.thing_of(creds.access_key_id()), Some("cam-1"));
        assert_eq!(a.issued.as_deref(), Some(creds.access_key_id()));
    }

    #[test]
    fn refusals_come_in_the_real_order_with_the_real_bodies() {
        let mut iot = issuer();
        let deny_all = Policy::parse(
            r#"{"Statement": [{"Effect": "Allow", "Principal": "cam-2", "Action": "iot:AssumeRoleWithCertificate",
                "Resource": "arn:aws:iot:*:*:rolealias/cam-alias"}]}"#,
        )
        .unwrap();
        let message = |a: &IotAnswer| {
            let v: Value = serde_json::from_slice(&a.body).unwrap();
            (a.status, v["message"].as_str().unwrap().to_owned())
        };
        let cases: [(IotRequest<'_>, Option<&Policy>, u16, &str); 6] = [
            (
                ask(OK_PATH, Some("cam-1"), DeviceCertificate::Invalid),
                None,
                403,
                messages::CERTIFICATE_INVALID,
            ),
            (
                ask(OK_PATH, Some("cam-9"), CAM),
                None,
                403,
                messages::INVALID_THING_NAME,
            ),
            (
                ask(OK_PATH, Some("cam*"), CAM),
                None,
                403,
                messages::INVALID_THING_NAME,
            ),
            (
                ask("/role-aliases/other/credentials", Some("cam-1"), CAM),
                Some(&deny_all),
                403,
                messages::ACCESS_DENIED,
            ),
            (
                ask("/role-aliases/other/credentials", Some("cam-1"), CAM),
                None,
                404,
                messages::NO_ROLE_ALIAS,
            ),
            (ask("/credentials", None, CAM), None, 404, "Not Found"),
        ];
        for (req, policy, status, text) in cases {
            let a = iot.request(req, t0(), policy, HERE, &[1; 94]);
            assert_eq!(message(&a), (status, text.to_owned()), "{req:?}");
            assert_eq!(a.issued, None);
        }
        assert!(iot.keys().is_empty());
        let allowed = Policy::parse(
            r#"{"Statement": [{"Effect": "Allow", "Principal": "cam-*", "Action": "iot:AssumeRoleWithCertificate",
                "Resource": "arn:aws:iot:us-west-2:123456789012:rolealias/cam-alias"}]}"#,
        )
        .unwrap();
        let a = iot.request(
            ask(OK_PATH, None, CAM),
            t0(),
            Some(&allowed),
            HERE,
            &[2; 94],
        );
        assert_eq!(
            a.status, 200,
            "without a thing name: issued, bound to no thing"
        );
        let id = a.issued.unwrap();
        assert_eq!(iot.thing_of(&id), None);
    }

    /// Our answers are the documented real ones, byte for byte in JSON terms, with the same
    /// status and error type; the success body has exactly the documented fields.
    #[test]
    fn answers_match_the_documented_real_ones() {
        let doc: Value = serde_json::from_str(include_str!(
            "../../kvs-proto/src/iot/documented_responses.json"
        ))
        .unwrap();
        let mut iot = issuer();
        let deny = Policy::parse(
            r#"{"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "iot:*", "Resource": "*"},
                {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}"#,
        )
        .unwrap();
        for case in doc["errors"].as_array().unwrap() {
            let (req, policy) = match case["case"].as_str().unwrap() {
                "certificate_not_accepted" => {
                    (ask(OK_PATH, None, DeviceCertificate::Invalid), None)
                }
                "thing_name_mismatch" => (ask(OK_PATH, Some("cam-2"), CAM), None),
                "access_denied" => (ask(OK_PATH, Some("cam-1"), CAM), Some(&deny)),
                "unknown_role_alias" => (ask("/role-aliases/x/credentials", None, CAM), None),
                // The local service's roles can always be assumed.
                "role_not_assumable" => continue,
                other => panic!("unknown case {other}"),
            };
            let a = iot.request(req, t0(), policy, HERE, &[4; 94]);
            assert_eq!(
                u64::from(a.status),
                case["status"].as_u64().unwrap(),
                "{case}"
            );
            let body: Value = serde_json::from_slice(&a.body).unwrap();
            assert_eq!(body, case["body"], "{case}");
            assert_eq!(a.error_type, case["error_type"].as_str(), "{case}");
        }
        let a = iot.request(ask(OK_PATH, Some("cam-1"), CAM), t0(), None, HERE, &[5; 94]);
        let body: Value = serde_json::from_slice(&a.body).unwrap();
        let fields = |v: &Value| {
            let mut keys: Vec<String> = v["credentials"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect();
            keys.sort();
            keys
        };
        assert_eq!(fields(&body), fields(&doc["success"]["body"]));
        assert_eq!(a.status, 200);
    }

    #[test]
    fn issued_keys_are_forgotten_after_expiry_and_bounded() {
        let mut iot = issuer();
        let a = iot.request(ask(OK_PATH, Some("cam-1"), CAM), t0(), None, HERE, &[3; 94]);
        let id = a.issued.unwrap();
        iot.sweep(t0() + Duration::from_secs(900 + 60));
        assert!(
            iot.key(&id).is_some(),
            "kept a while to answer ExpiredToken"
        );
        iot.sweep(t0() + Duration::from_secs(900) + KEEP_EXPIRED);
        assert!(iot.key(&id).is_none());
        for n in 0..MAX_ISSUED {
            let mut random = [0u8; 94];
            for (i, digit) in random.iter_mut().take(4).enumerate() {
                *digit = ((n >> (5 * i)) & 31) as u8;
            }
            let a = iot.request(ask(OK_PATH, None, CAM), t0(), None, HERE, &random);
            assert_eq!(a.status, 200);
        }
        let full = iot.request(ask(OK_PATH, None, CAM), t0(), None, HERE, &[9; 94]);
        assert_eq!(full.status, 429);
        let later = t0() + Duration::from_secs(900) + KEEP_EXPIRED;
        let again = iot.request(ask(OK_PATH, None, CAM), later, None, HERE, &[9; 94]);
        assert_eq!(again.status, 200, "expired keys made room");
    }
}
