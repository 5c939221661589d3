//! The web console: a page at `/` and its files under `/console/`, embedded in the binary
//! (no build step, no CDN, works offline), served from the API's own origin so the page's
//! signed `fetch` calls need no CORS set-up. `/console/config.json` tells the page the region
//! and, only when the service accepts nothing but the documented example key pair, that pair
//! to prefill (it is public: AWS's own documentation prints it).

use http_body_util::Full;
use hyper::Response;
use hyper::body::Bytes;
use hyper::header::{self, HeaderValue};
use kvs_proto::doctor;
use serde_json::json;

use super::Shared;
use super::response::Body;
use crate::{EXAMPLE_ACCESS_KEY_ID, EXAMPLE_SECRET_ACCESS_KEY};

/// The files, by the path they are served at.
const FILES: [(&str, &str, &str); 9] = [
    (
        "/",
        "text/html; charset=utf-8",
        include_str!("../../console/index.html"),
    ),
    (
        "/console/app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/app.js"),
    ),
    (
        "/console/sigv4.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/sigv4.js"),
    ),
    (
        "/console/diagnose.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/diagnose.js"),
    ),
    (
        "/console/kvs.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/kvs.js"),
    ),
    (
        "/console/style.css",
        "text/css; charset=utf-8",
        include_str!("../../console/style.css"),
    ),
    (
        "/console/test.html",
        "text/html; charset=utf-8",
        include_str!("../../console/test.html"),
    ),
    (
        "/console/test.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/test.js"),
    ),
    // The SigV4 vectors the Rust signer is tested with, for the page's own signer tests.
    (
        "/console/vectors.json",
        "application/json",
        include_str!("../../../kvs-proto/src/sigv4/vectors.json"),
    ),
];

/// The console's answer to a `GET` of `route`, if it is one of its paths.
pub(super) fn answer(shared: &Shared, route: &str) -> Option<Response<Body>> {
    if route == "/console/config.json" {
        return Some(config(shared));
    }
    let (_, kind, text) = FILES.iter().find(|(path, _, _)| *path == route)?;
    Some(file(kind, Bytes::from_static(text.as_bytes())))
}

fn file(kind: &'static str, body: Bytes) -> Response<Body> {
    let mut resp = Response::new(Full::new(body));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Only our own files and connections back to this service; no inline script.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; media-src 'self' blob:; style-src 'self'",
        ),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

fn config(shared: &Shared) -> Response<Body> {
    let keys = &shared.config.credentials;
    let example = keys.len() == 1
        && keys[0].access_key_id == EXAMPLE_ACCESS_KEY_ID
        && keys[0].secret_access_key == EXAMPLE_SECRET_ACCESS_KEY
        && keys[0].session_token.is_none();
    let mut body = json!({
        "region": shared.config.region,
        "pathPrefix": shared.config.path_prefix,
    });
    if example {
        body["exampleKeys"] = json!({
            "accessKeyId": EXAMPLE_ACCESS_KEY_ID,
            "secretAccessKey": EXAMPLE_SECRET_ACCESS_KEY,
        });
    }
    file(
        "application/json",
        Bytes::from(serde_json::to_vec(&body).unwrap_or_default()),
    )
}

/// Where the page's "diagnose" asks for verdicts on what it measured.
pub(super) const VERDICTS: &str = "/console/verdicts";

/// What the page measured by itself: the clock offset from a signed call's `Date`, how the
/// call went, and its STUN and TURN exchanges through the browser's own ICE agent.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Measured {
    /// The service's clock minus the page's, when the answer had a `Date`.
    clock_offset_ms: Option<i64>,
    signed_call: SignedCall,
    /// `None`: no STUN server to ask.
    stun: Option<doctor::Exchange>,
    /// `None`: GetIceServerConfig gave no answer.
    turn: Option<Vec<doctor::Exchange>>,
    /// How long the page waited for each candidate.
    timeout_ms: u64,
}

/// The page's signed call and how the service answered it.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SignedCall {
    operation: String,
    status: u16,
    error_type: Option<String>,
    message: String,
    key_id: String,
    region: String,
    ms: u64,
}

/// The verdicts on the page's measurements, worded as `kvs-signaling doctor` words them:
/// a JSON array of findings, each with its area, title and printed line.
pub(super) fn verdicts(body: &[u8]) -> Response<Body> {
    let measured: Measured = match serde_json::from_slice(body) {
        Ok(m) => m,
        Err(e) => {
            return super::response::error_response(
                400,
                kvs_proto::api::ErrorCode::SerializationException.name(),
                &format!("not the page's measurements: {e}"),
            );
        }
    };
    let call = &measured.signed_call;
    let signed = doctor::signed_call(&doctor::SignedCall {
        operation: &call.operation,
        key_id: &call.key_id,
        region: &call.region,
        status: call.status,
        error_type: call.error_type.as_deref(),
        message: &call.message,
        elapsed: std::time::Duration::from_millis(call.ms),
        corrected_ms: None,
    });
    let accepted = signed.mark == doctor::Mark::Pass;
    // The page itself loaded from the service, so the connection checks passed; a check
    // whose prerequisite did not pass is skipped, as in the command.
    let clock = match measured.clock_offset_ms {
        Some(offset) => doctor::clock_offset(offset),
        None => doctor::Finding::not_run(
            doctor::Check::ClockOffset,
            "the answer's Date header was not readable",
        ),
    };
    let mut findings = vec![clock, signed];
    let timeout = std::time::Duration::from_millis(measured.timeout_ms);
    let turn = measured.turn.as_deref();
    let stun = doctor::stun(measured.stun.as_ref());
    let stun_ok = stun.mark == doctor::Mark::Pass;
    if accepted {
        findings.push(stun);
        findings.push(doctor::turn(turn, timeout));
    } else {
        findings.push(doctor::skipped(
            doctor::Check::Stun,
            doctor::Check::SignedCall,
        ));
        findings.push(doctor::skipped(
            doctor::Check::Turn,
            doctor::Check::SignedCall,
        ));
    }
    let turn_ok = turn.map_or(0, |t| t.iter().filter(|e| e.outcome.is_ok()).count());
    findings.push(match accepted && stun_ok {
        true => doctor::udp(stun_ok, turn_ok, turn.map_or(0, <[_]>::len)),
        false => doctor::skipped(doctor::Check::Udp, doctor::Check::Stun),
    });
    let lines: Vec<serde_json::Value> = findings
        .iter()
        .map(|f| {
            let mut v = serde_json::to_value(f).unwrap_or_default();
            v["area"] = json!(f.check.area());
            v["title"] = json!(f.check.title());
            v["line"] = json!(f.line());
            v
        })
        .collect();
    file(
        "application/json",
        Bytes::from(serde_json::to_vec(&lines).unwrap_or_default()),
    )
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::verdicts;

    fn measured() -> Value {
        json!({
            "clockOffsetMs": 120,
            "signedCall": {
                "operation": "DescribeSignalingChannel", "status": 200, "errorType": null,
                "message": "", "keyId": "AKID", "region": "us-west-2", "ms": 3
            },
            "stun": {"uri": "stun:127.0.0.1:3478", "outcome": {"Ok": ["127.0.0.1:5000", 1]}},
            "turn": [{"uri": "turn:127.0.0.1:3478?transport=udp", "outcome": {"Err": "no answer in 3 s"}}],
            "timeoutMs": 3000
        })
    }

    fn answer(body: &[u8]) -> (u16, Vec<u8>) {
        use http_body_util::BodyExt;
        let resp = verdicts(body);
        let status = resp.status().as_u16();
        let bytes = futures_util::FutureExt::now_or_never(resp.into_body().collect())
            .expect("a full body is ready")
            .expect("infallible")
            .to_bytes();
        (status, bytes.to_vec())
    }

    #[test]
    fn the_pages_measurements_get_the_doctors_findings() {
        let (status, body) = answer(measured().to_string().as_bytes());
        assert_eq!(status, 200);
        let findings: Vec<Value> = serde_json::from_slice(&body).unwrap();
        let marks: Vec<&str> = findings
            .iter()
            .map(|f| f["mark"].as_str().unwrap())
            .collect();
        assert_eq!(marks, ["pass", "pass", "pass", "fail", "warn"]);
        assert!(findings[3]["line"].as_str().unwrap().starts_with("✘ ice"));
    }

    /// Values a field may be perturbed into: wrong types, extremes, nothing.
    fn garbage() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            Just(json!(i64::MIN)),
            Just(json!(u64::MAX)),
            Just(json!(-1)),
            Just(json!(1e308)),
            Just(json!("")),
            Just(json!({"Ok": [1, "x"]})),
            Just(json!({"Err": null})),
            Just(json!([[], {}])),
            ".{0,40}".prop_map(Value::String),
        ]
    }

    proptest! {
        /// Valid measurements with one field replaced (or removed, or one added) are answered
        /// with findings or a 400 naming the problem, never a panic.
        #[test]
        fn perturbed_measurements_are_answered_or_refused(
            path in prop::sample::select(vec![
                "clockOffsetMs", "signedCall", "signedCall.status", "signedCall.errorType",
                "signedCall.message", "signedCall.ms", "stun", "stun.outcome", "turn",
                "turn.0.outcome", "timeoutMs", "extra",
            ]),
            value in garbage(),
            remove in any::<bool>(),
            cut in 0usize..400,
        ) {
            let mut m = measured();
            let mut at = &mut m;
            let parts: Vec<&str> = path.split('.').collect();
            for part in &parts[..parts.len() - 1] {
                at = match part.parse::<usize>() {
                    Ok(i) => &mut at[i],
                    Err(_) => &mut at[*part],
                };
            }
            let last = parts[parts.len() - 1];
            match (remove, at.as_object_mut()) {
                (true, Some(obj)) => { obj.remove(last); }
                _ => at[last] = value,
            }
            let text = m.to_string();
            let (status, body) = answer(text.as_bytes());
            prop_assert!(status == 200 || status == 400, "{status}");
            if status == 400 {
                prop_assert!(String::from_utf8_lossy(&body).contains("measurements"));
            }
            // Cut short: refused, not a panic.
            let cut = text.as_bytes().get(..cut.min(text.len().saturating_sub(1))).unwrap_or_default();
            prop_assert_eq!(answer(cut).0, 400);
        }
    }
}
