//! The JS SDK's SigV4RequestSigner vectors, and verification against them.

use std::time::{Duration, SystemTime};

use super::sign::presign_for_service;
use super::*;
use crate::{Credentials, amz_date};

const AK: &str = "AKIA4F7WJQR7FMMWMNXI";
const SK: &str = "FakeSecretKey";

fn t0() -> SystemTime {
    amz_date::parse("20191201T000000Z").unwrap()
}

fn creds(token: bool) -> Credentials {
    Credentials::new(
        AK,
        SK,
        token.then(|| "FakeSessionToken".to_owned()),
        None,
        crate::STATIC_PROVIDER,
    )
}

fn js_url(endpoint: &str, token: bool, service: &str) -> String {
    let url = format!("{endpoint}?X-Amz-TestParam=test-param-value");
    presign_for_service(
        &url,
        &creds(token),
        "us-west-2",
        service,
        t0(),
        Duration::from_secs(299),
    )
    .unwrap()
}

fn signature_of(url: &str) -> &str {
    url.split("X-Amz-Signature=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
}

#[test]
fn reproduces_the_four_js_sdk_signatures() {
    let cases = [
        (
            "wss://kvs.awsamazon.com",
            true,
            "kinesisvideo",
            "fc268038be276315822b4f73eafd28ee3a5632a2a35fdb0a88db9a42b13d6c92",
        ),
        (
            "wss://kvs.awsamazon.com",
            false,
            "kinesisvideo",
            "be1e78950d956a8a9a1997417099ddbd7455619f3d08c4ad20e1e272179ca695",
        ),
        (
            "wss://kvs.awsamazon.com",
            true,
            "firehose",
            "f15308513d21a381d38b7607a0439f25fc2e6c9f5ff56a48c1664b486e6234d5",
        ),
        (
            "wss://kvs.awsamazon.com/path/path/path",
            true,
            "kinesisvideo",
            "0bf3df6ca23d8d82f688e8dbfb90d69e74843d40038541b1721c545eef7612a4",
        ),
    ];
    for (endpoint, token, service, expected) in cases {
        let url = js_url(endpoint, token, service);
        assert_eq!(
            signature_of(&url),
            expected,
            "{endpoint} token={token} service={service}"
        );
        assert!(url.contains("X-Amz-Expires=299"));
        assert!(url.contains("X-Amz-SignedHeaders=host"));
    }
}

/// Splits a presigned URL into the parts a server sees.
fn incoming(url: &str) -> (String, String, String) {
    let rest = url.split_once("://").unwrap().1;
    let (authority, path_query) = rest.split_at(rest.find(['/', '?']).unwrap());
    let (path, query) = path_query.split_once('?').unwrap_or((path_query, ""));
    let path = if path.is_empty() { "/" } else { path };
    (authority.to_owned(), path.to_owned(), query.to_owned())
}

fn verify_url(url: &str, now: SystemTime) -> Result<Verified, VerifyError> {
    let (host, path, query) = incoming(url);
    let req = IncomingRequest {
        method: "GET",
        host: &host,
        path: &path,
        query: Some(&query),
        headers: &[],
        body: &[],
    };
    verify(
        &req,
        |ak| (ak == AK).then(|| SK.to_owned()),
        "us-west-2",
        now,
    )
}

#[test]
fn verification_accepts_the_js_sdk_urls() {
    let now = t0() + Duration::from_secs(10);
    for (endpoint, token) in [
        ("wss://kvs.awsamazon.com", true),
        ("wss://kvs.awsamazon.com", false),
        ("wss://kvs.awsamazon.com/path/path/path", true),
    ] {
        let v = verify_url(&js_url(endpoint, token, "kinesisvideo"), now).unwrap();
        assert_eq!(v.access_key_id, AK);
        assert_eq!(v.session_token.is_some(), token);
        assert_eq!(
            v.params.get("X-Amz-TestParam").map(String::as_str),
            Some("test-param-value")
        );
    }
    let firehose = js_url("wss://kvs.awsamazon.com", true, "firehose");
    assert!(matches!(
        verify_url(&firehose, now),
        Err(VerifyError::BadScope(_))
    ));
}

#[test]
fn channel_urls_name_the_viewer_only_and_verify() {
    let arn = "arn:aws:kinesisvideo:us-west-2:123456789012:channel/c/1";
    let now = t0() + Duration::from_secs(10);
    for client_id in [None, Some("viewer-1")] {
        let url = presign_channel_url(
            "wss://v-1234.kinesisvideo.us-west-2.amazonaws.com/v",
            arn,
            client_id,
            &creds(false),
            "us-west-2",
            t0(),
            Duration::from_secs(299),
        )
        .unwrap();
        assert!(url.contains("arn%3Aaws%3Akinesisvideo"), "{url}");
        let v = verify_url(&url, now).unwrap();
        assert_eq!(
            v.params.get("X-Amz-ChannelARN").map(String::as_str),
            Some(arn)
        );
        assert_eq!(
            v.params.get("X-Amz-ClientId").map(String::as_str),
            client_id
        );
    }
}

#[test]
fn verification_rejects_every_single_character_change() {
    let now = t0() + Duration::from_secs(10);
    let url = js_url("wss://kvs.awsamazon.com/path", true, "kinesisvideo");
    let start = url.find("://").unwrap() + 3;
    for i in start..url.len() {
        let c = url.as_bytes()[i];
        if c == b'/' && url[..i].ends_with("com") {
            continue; // the host/path boundary cannot change without changing the request line
        }
        let replacement = if c == b'Z' { 'Y' } else { 'Z' };
        let mut mutated = url.clone();
        mutated.replace_range(i..=i, &replacement.to_string());
        assert!(
            verify_url(&mutated, now).is_err(),
            "changing byte {i} ('{}') still verified: {mutated}",
            c as char
        );
    }
}

#[test]
fn verification_rejects_expired_urls_and_skewed_dates() {
    let url = js_url("wss://kvs.awsamazon.com", true, "kinesisvideo");
    let expired = verify_url(&url, t0() + Duration::from_secs(300)).unwrap_err();
    assert!(expired.is_clock_skew());
    assert!(
        expired
            .to_string()
            .starts_with("Signature expired: 20191201T000000Z"),
        "{expired}"
    );
    assert_eq!(expired.exception_name(), "InvalidSignatureException");
    assert_eq!(expired.http_status(), 403);
    assert!(verify_url(&url, t0() + Duration::from_secs(298)).is_ok());

    let early = verify_url(&url, t0() - Duration::from_secs(6 * 60)).unwrap_err();
    assert!(
        matches!(early, VerifyError::NotYetCurrent { .. }),
        "{early}"
    );
    assert!(
        early.to_string().contains("(19691231")
            || early.to_string().contains("(20191130T235400Z + 5 min.)"),
        "{early}"
    );
    assert!(verify_url(&url, t0() - Duration::from_secs(4 * 60)).is_ok());
}

fn header_request(
    creds: &Credentials,
    extra: &[(&str, &str)],
    signed_at: SystemTime,
) -> Vec<(String, String)> {
    let body = br#"{"ChannelName":"demo"}"#;
    let mut headers: Vec<(&str, &str)> = vec![("content-type", "application/x-amz-json-1.1")];
    headers.extend_from_slice(extra);
    let req = RequestToSign {
        method: "POST",
        url: "https://127.0.0.1:4443/describeSignalingChannel",
        headers: &headers,
        body,
    };
    let mut all: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    all.extend(
        sign_headers(req, creds, "us-west-2", signed_at)
            .unwrap()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v)),
    );
    all
}

fn verify_headers(
    headers: &[(String, String)],
    body: &[u8],
    now: SystemTime,
) -> Result<Verified, VerifyError> {
    let h: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let req = IncomingRequest {
        method: "POST",
        host: "127.0.0.1:4443",
        path: "/describeSignalingChannel",
        query: None,
        headers: &h,
        body,
    };
    verify(
        &req,
        |ak| (ak == AK).then(|| SK.to_owned()),
        "us-west-2",
        now,
    )
}

#[test]
fn header_signatures_round_trip_with_token_and_user_agent() {
    let body = br#"{"ChannelName":"demo"}"#;
    let headers = header_request(&creds(true), &[], t0());
    let v = verify_headers(&headers, body, t0()).unwrap();
    assert_eq!(v.session_token.as_deref(), Some("FakeSessionToken"));

    // The C SDK signs user-agent; a verifier that drops it would reject these.
    let mut headers = header_request(&creds(false), &[], t0());
    let auth = headers
        .iter_mut()
        .find(|(k, _)| k == "authorization")
        .unwrap();
    assert!(
        auth.1
            .contains("SignedHeaders=content-type;host;x-amz-date"),
        "{}",
        auth.1
    );
    assert!(
        verify_headers(&headers, b"{}", t0()).is_err(),
        "the body is covered"
    );
    assert!(
        verify_headers(&headers, body, t0() + Duration::from_secs(6 * 60))
            .unwrap_err()
            .is_clock_skew()
    );
}

#[test]
fn unknown_keys_and_missing_auth_have_aws_names() {
    let req = IncomingRequest {
        method: "POST",
        host: "h",
        path: "/",
        query: None,
        headers: &[],
        body: &[],
    };
    let err = verify(&req, |_| None, "us-west-2", t0()).unwrap_err();
    assert_eq!(err.exception_name(), "MissingAuthenticationTokenException");
    let url = js_url("wss://kvs.awsamazon.com", false, "kinesisvideo");
    let (host, path, query) = incoming(&url);
    let req = IncomingRequest {
        method: "GET",
        host: &host,
        path: &path,
        query: Some(&query),
        headers: &[],
        body: &[],
    };
    let err = verify(&req, |_| None, "us-west-2", t0()).unwrap_err();
    assert_eq!(err, VerifyError::UnknownAccessKey);
    assert_eq!(err.exception_name(), "UnrecognizedClientException");
}

#[test]
fn duplicate_query_parameters_are_refused() {
    let url = js_url("wss://kvs.awsamazon.com", false, "kinesisvideo") + "&X-Amz-TestParam=again";
    assert!(matches!(
        verify_url(&url, t0()),
        Err(VerifyError::Incomplete(_))
    ));
}

mod props {
    use super::*;
    use proptest::prelude::*;

    /// One way to damage a well-formed field, chosen so that it gets past the first checks.
    #[derive(Debug, Clone)]
    enum Damage {
        /// Replace `width` bytes at `at` (of the value's length) with one character of that
        /// many bytes: the length stays, the bytes stop being ASCII.
        Multibyte { at: usize, width: usize },
        /// Replace the value's digits with a number far past any integer type.
        HugeNumber,
        /// Send the field twice.
        Duplicate,
        /// Send it empty.
        Empty,
        /// Cut the value at `at` (of its length).
        Truncate { at: usize },
    }

    fn damage() -> impl Strategy<Value = Damage> {
        prop_oneof![
            (0usize..1000, 2usize..=4).prop_map(|(at, width)| Damage::Multibyte { at, width }),
            Just(Damage::HugeNumber),
            Just(Damage::Duplicate),
            Just(Damage::Empty),
            (0usize..1000).prop_map(|at| Damage::Truncate { at }),
        ]
    }

    /// `value` with `damage` applied; `None` for damage that does not apply (the caller
    /// handles `Duplicate`).
    fn damaged(value: &str, damage: &Damage) -> Option<String> {
        match *damage {
            Damage::Multibyte { at, width } => {
                let c = ['é', '€', '😀'][width - 2];
                if value.len() < width {
                    return None;
                }
                let start = at % (value.len() - width + 1);
                let end = start + width;
                if !value.is_char_boundary(start) || !value.is_char_boundary(end) {
                    return None;
                }
                Some(format!("{}{c}{}", &value[..start], &value[end..]))
            }
            Damage::HugeNumber => {
                let huge = "184467440737095516150000";
                let replaced: String = value
                    .split(|c: char| c.is_ascii_digit())
                    .collect::<Vec<_>>()
                    .join("")
                    .to_owned();
                (replaced.len() != value.len()).then(|| format!("{huge}{replaced}"))
            }
            Damage::Empty => Some(String::new()),
            Damage::Truncate { at } => {
                let cut = at % value.len().max(1);
                value.is_char_boundary(cut).then(|| value[..cut].to_owned())
            }
            Damage::Duplicate => None,
        }
    }

    /// Damages field `field` (modulo their number) of `fields`; false when it did not change.
    fn apply(fields: &mut Vec<(String, String)>, field: usize, damage: &Damage) -> bool {
        let field = field % fields.len();
        let (key, value) = fields[field].clone();
        match damage {
            Damage::Duplicate => fields.push((key, value)),
            other => match damaged(&value, other) {
                Some(v) if v != value => fields[field].1 = v,
                _ => return false,
            },
        }
        true
    }

    fn presigned_params() -> Vec<(String, String)> {
        let url = js_url("wss://kvs.awsamazon.com", true, "kinesisvideo");
        let (_, _, query) = incoming(&url);
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| {
                let decode = |s: &str| {
                    percent_encoding::percent_decode_str(s)
                        .decode_utf8()
                        .unwrap()
                        .into_owned()
                };
                (decode(k), decode(v))
            })
            .collect()
    }

    proptest! {
        /// A presigned URL that verifies, with one parameter damaged: refused, never a panic.
        #[test]
        fn damaged_presigned_urls_are_refused(field in 0usize..32, damage in damage()) {
            let mut params = presigned_params();
            if !apply(&mut params, field, &damage) {
                return Ok(());
            }
            let query = encode_query(params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            let url = format!("wss://kvs.awsamazon.com/?{query}");
            let now = t0() + Duration::from_secs(10);
            prop_assert!(verify_url(&url, now).is_err(), "accepted {url}");
        }

        /// A header-signed request that verifies, with one header damaged: refused, never a panic.
        #[test]
        fn damaged_signed_requests_are_refused(field in 0usize..32, damage in damage()) {
            let body = br#"{"ChannelName":"demo"}"#;
            let mut headers = header_request(&creds(true), &[], t0());
            prop_assert!(verify_headers(&headers, body, t0()).is_ok());
            // The signed and signing headers: content-type, date, token, authorization.
            if !apply(&mut headers, field, &damage) {
                return Ok(());
            }
            prop_assert!(verify_headers(&headers, body, t0()).is_err(), "accepted {headers:?}");
        }

        /// Numbers past every integer type in the fields that hold numbers.
        #[test]
        fn huge_expiries_and_dates_are_refused(digits in "[0-9]{20,40}") {
            let mut params = presigned_params();
            for (k, v) in params.iter_mut() {
                if k == "X-Amz-Expires" {
                    *v = digits.clone();
                }
            }
            let query = encode_query(params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            let url = format!("wss://kvs.awsamazon.com/?{query}");
            prop_assert!(verify_url(&url, t0()).is_err());
        }

        #[test]
        fn verifier_never_panics(query in "[a-zA-Z0-9%&=_.-]{0,300}", auth in "\\PC{0,120}", host in "[a-z0-9.:]{0,30}") {
            let headers = [("authorization", auth.as_str()), ("x-amz-date", "20191201T000000Z")];
            for h in [&headers[..], &[]] {
                let req = IncomingRequest { method: "GET", host: &host, path: "/", query: Some(&query), headers: h, body: &[] };
                let _ = verify(&req, |_| Some("s".into()), "us-west-2", t0());
            }
        }
    }
}

#[test]
fn debug_of_requests_and_verified_results_hides_signatures_and_tokens() {
    let url = js_url("wss://kvs.awsamazon.com", true, "kinesisvideo");
    let signature = signature_of(&url).to_owned();
    let (host, path, query) = incoming(&url);
    let headers = [
        ("Authorization", "AWS4-HMAC-SHA256 Signature=HEADERSIG"),
        ("X-Amz-Security-Token", "HEADERTOKEN"),
        ("host", host.as_str()),
    ];
    let req = IncomingRequest {
        method: "GET",
        host: &host,
        path: &path,
        query: Some(&query),
        headers: &headers,
        body: &[],
    };
    let shown = format!("{req:?}");
    for secret in [
        signature.as_str(),
        "HEADERSIG",
        "HEADERTOKEN",
        "FakeSessionToken",
    ] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    assert!(
        shown.contains("X-Amz-Credential"),
        "the rest stays: {shown}"
    );
    let verified = verify_url(&url, t0() + Duration::from_secs(10)).unwrap();
    assert_eq!(verified.session_token.as_deref(), Some("FakeSessionToken"));
    let shown = format!("{verified:?}");
    assert!(!shown.contains("FakeSessionToken"), "{shown}");
    assert!(shown.contains(AK));
}

/// The vectors shared with the web console's signer (`vectors.json`).
#[test]
fn the_shared_vectors_hold() {
    let v: serde_json::Value = serde_json::from_str(include_str!("vectors.json")).unwrap();
    assert_eq!(v["accessKeyId"], AK);
    assert_eq!(v["secretAccessKey"], SK);
    let mut n = 0;
    for case in v["presigned"].as_array().unwrap() {
        let url = presign_for_service(
            case["url"].as_str().unwrap(),
            &creds(case["token"].as_bool().unwrap()),
            "us-west-2",
            case["service"].as_str().unwrap(),
            t0(),
            Duration::from_secs(299),
        )
        .unwrap();
        assert_eq!(signature_of(&url), case["signature"], "{case}");
        n += 1;
    }
    for case in v["signed"].as_array().unwrap() {
        let headers = sign_headers(
            RequestToSign {
                method: case["method"].as_str().unwrap(),
                url: case["url"].as_str().unwrap(),
                headers: &[("content-type", case["contentType"].as_str().unwrap())],
                body: case["body"].as_str().unwrap().as_bytes(),
            },
            &creds(case["token"].as_bool().unwrap()),
            "us-west-2",
            t0(),
        )
        .unwrap();
        let auth = headers.iter().find(|(k, _)| *k == "authorization").unwrap();
        assert_eq!(auth.1, case["authorization"].as_str().unwrap(), "{case}");
        n += 1;
    }
    assert_eq!(n, 6);
}
