//! The IoT credentials provider's answer parser (any status, any body) and the local
//! endpoint's decisions on any path and thing name header: no panic, and a parsed success has
//! every field.
#![no_main]
use std::time::{Duration, UNIX_EPOCH};

use kvs_proto::iot::parse_response;
use kvs_service_core::iot::{DeviceCertificate, IotIssuer, IotRequest, RoleAlias};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let status = [200, 400, 403, 404, 429, 503][usize::from(selector) % 6];
    if let Ok(c) = parse_response(status, body, "alias") {
        assert!(!c.access_key_id().is_empty() && c.session_token().is_some() && c.expiry().is_some());
    }
    let Ok(text) = std::str::from_utf8(body) else { return };
    let _ = kvs_proto::amz_date::parse_extended(text);
    let (path, thing) = text.split_once('\n').unwrap_or((text, ""));
    let mut iot = IotIssuer::new(vec![RoleAlias {
        name: "alias".into(),
        credential_duration: Duration::from_secs(900),
    }]);
    let certificate = match selector % 2 {
        0 => DeviceCertificate::Valid { thing_name: "cam-1" },
        _ => DeviceCertificate::Invalid,
    };
    let req = IotRequest {
        method: "GET",
        path,
        thing_name: (!thing.is_empty()).then_some(thing),
        certificate,
    };
    let now = UNIX_EPOCH + Duration::from_secs(1_765_000_000);
    let answer = iot.request(req, now, None, ("us-west-2", "123456789012"), &[7; 94]);
    if answer.status == 200 {
        assert!(parse_response(200, &answer.body, "alias").is_ok());
    }
});
