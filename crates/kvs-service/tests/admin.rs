//! The admin API over the wire: its token, and each fault it injects as a client sees it.

mod common;

use std::time::{Duration, SystemTime};

use common::{Ws, channel, closed_by_service, connect, control, join, next_frame, presigned, tls};
use futures_util::SinkExt;
use kvs_proto::wire::MessageType;
use kvs_service::{EXAMPLE_SECRET_ACCESS_KEY, ServiceConfig, ServiceHandle};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

const TOKEN: &str = "test-admin-token";

async fn service(admin: bool) -> ServiceHandle {
    kvs_service::start(ServiceConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        admin_token: admin.then(|| TOKEN.to_owned()),
        limits: None,
        ..ServiceConfig::default()
    })
    .await
    .unwrap()
}

struct Admin {
    http: reqwest::Client,
    base: String,
}

impl Admin {
    fn new(svc: &ServiceHandle) -> Self {
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured((*tls(svc)).clone())
            .build()
            .unwrap();
        Self {
            http,
            base: format!("{}/admin/", svc.endpoint()),
        }
    }

    async fn call(&self, method: &str, path: &str, body: Value, token: &str) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let resp = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, body)
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call("POST", path, body, TOKEN).await
    }
}

const ICE: &str = r#"{"action":"ICE_CANDIDATE","messagePayload":"e30="}"#;

fn ice(n: u32) -> Message {
    let payload = kvs_proto::wire::encode_payload(format!("{{\"n\":{n}}}").as_bytes());
    Message::text(format!(
        r#"{{"action":"ICE_CANDIDATE","messagePayload":"{payload}"}}"#
    ))
}

fn n_of(frame: &kvs_proto::wire::ServiceFrame) -> String {
    let payload = frame.message_payload.as_deref().unwrap();
    String::from_utf8(kvs_proto::wire::decode_payload(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn the_admin_api_is_off_by_default_and_needs_its_token() {
    let off = service(false).await;
    let (status, body) = Admin::new(&off)
        .call("GET", "connections", Value::Null, TOKEN)
        .await;
    assert_eq!(status, 404);
    assert!(body["Message"].as_str().unwrap().contains("--admin-token"));

    let on = service(true).await;
    let admin = Admin::new(&on);
    let (status, _) = admin.call("GET", "connections", Value::Null, "wrong").await;
    assert_eq!(status, 401);
    let (status, body) = admin.call("GET", "connections", Value::Null, TOKEN).await;
    assert_eq!((status, body), (200, json!({"Connections": []})));
    let (status, _) = admin.post("faults/errors", json!({"Nonsense": 1})).await;
    assert_eq!(status, 400);
    let (status, _) = admin.post("no-such-thing", json!({})).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn go_away_reconnect_ice_server_and_close_reach_one_connection() {
    let svc = service(true).await;
    let admin = Admin::new(&svc);
    let arn = channel(&svc, "admin-signals").await;
    let mut master = join(&svc, "/m", &arn, None).await;
    let mut viewer = join(&svc, "/v", &arn, Some("v1")).await;
    let (_, list) = admin.call("GET", "connections", Value::Null, TOKEN).await;
    assert_eq!(list["Connections"].as_array().unwrap().len(), 2);

    let (status, _) = admin
        .post(
            "connections/go-away",
            json!({"ChannelARN": arn, "ClientId": "v1"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        next_frame(&mut viewer).await.message_type,
        MessageType::GoAway
    );
    let (status, _) = admin
        .post(
            "connections/reconnect-ice-server",
            json!({"ChannelARN": arn}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        next_frame(&mut master).await.message_type,
        MessageType::ReconnectIceServer
    );
    let (status, _) = admin
        .post("connections/close", json!({"ChannelARN": arn}))
        .await;
    assert_eq!(status, 200);
    assert!(
        closed_by_service(&mut master).await,
        "the master's connection was closed"
    );
    let (status, _) = admin
        .post(
            "connections/close",
            json!({"ChannelARN": arn, "ClientId": "nobody"}),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn dropped_and_delayed_messages_on_one_channel_only() {
    let svc = service(true).await;
    let admin = Admin::new(&svc);
    let arn = channel(&svc, "admin-faults").await;
    let other = channel(&svc, "admin-untouched").await;
    let mut master = join(&svc, "/m", &arn, None).await;
    let mut viewer = join(&svc, "/v", &arn, Some("v1")).await;
    let mut other_master = join(&svc, "/m", &other, None).await;
    let mut other_viewer = join(&svc, "/v", &other, Some("v1")).await;

    let (status, _) = admin
        .post(
            "faults/drop-messages",
            json!({"ChannelARN": arn, "Count": 2}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = admin
        .post(
            "faults/delay-messages",
            json!({"ChannelARN": arn, "Count": 1, "DelayMs": 300}),
        )
        .await;
    assert_eq!(status, 200);
    other_viewer.send(Message::text(ICE)).await.unwrap();
    assert_eq!(
        next_frame(&mut other_master).await.message_type,
        MessageType::IceCandidate,
        "another channel's messages pass"
    );
    for n in 0..4 {
        viewer.send(ice(n)).await.unwrap();
    }
    // Two dropped, the third delayed: the fourth overtakes it.
    assert_eq!(n_of(&next_frame(&mut master).await), r#"{"n":3}"#);
    assert_eq!(n_of(&next_frame(&mut master).await), r#"{"n":2}"#);
}

#[tokio::test]
async fn injected_errors_answer_operations_and_connects() {
    let svc = service(true).await;
    let admin = Admin::new(&svc);
    let arn = channel(&svc, "admin-errors").await;
    let kv = control(&svc, EXAMPLE_SECRET_ACCESS_KEY);
    let (status, _) = admin
        .post(
            "faults/errors",
            json!({"ErrorType": "ClientLimitExceededException", "Count": 2, "Target": "DescribeSignalingChannel"}),
        )
        .await;
    assert_eq!(status, 200);
    for _ in 0..2 {
        let err = kv
            .describe_signaling_channel()
            .channel_arn(&arn)
            .send()
            .await
            .unwrap_err();
        assert!(
            err.as_service_error()
                .unwrap()
                .is_client_limit_exceeded_exception(),
            "{err:?}"
        );
    }
    kv.describe_signaling_channel()
        .channel_arn(&arn)
        .send()
        .await
        .expect("the fault ran out");

    let (status, _) = admin
        .post(
            "faults/errors",
            json!({"ErrorType": "AccessDenied", "Count": 1, "Target": "ConnectAsMaster", "Message": "try later"}),
        )
        .await;
    assert_eq!(status, 200);
    let refused = connect(
        &svc,
        presigned(&svc, "/m", &arn, None, EXAMPLE_SECRET_ACCESS_KEY),
    )
    .await;
    let Err(WsError::Http(resp)) = refused else {
        panic!("the connect was accepted")
    };
    assert_eq!(resp.status().as_u16(), 401);
    let _: Ws = join(&svc, "/m", &arn, None).await;
    let (status, _) = admin
        .post("faults/errors", json!({"ErrorType": "Teapot", "Count": 1}))
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_skewed_service_clock_refuses_correct_clients_and_says_its_time() {
    let svc = service(true).await;
    let admin = Admin::new(&svc);
    let (status, _) = admin
        .post("faults/clock-skew", json!({"Seconds": 900}))
        .await;
    assert_eq!(status, 200);
    let url = format!("{}/listSignalingChannels", svc.endpoint());
    let creds = kvs_proto::Credentials::new(
        kvs_service::EXAMPLE_ACCESS_KEY_ID,
        EXAMPLE_SECRET_ACCESS_KEY,
        None,
        None,
        kvs_proto::STATIC_PROVIDER,
    );
    let host = svc.endpoint().trim_start_matches("https://").to_owned();
    let req = kvs_proto::sigv4::RequestToSign {
        method: "POST",
        url: &url,
        headers: &[("host", &host)],
        body: b"{}",
    };
    let signed =
        kvs_proto::sigv4::sign_headers(req, &creds, "us-west-2", SystemTime::now()).unwrap();
    let mut request = admin.http.post(&url).body("{}");
    for (k, v) in signed {
        request = request.header(k, v);
    }
    let resp = request.send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    let date = httpdate::parse_http_date(resp.headers()["date"].to_str().unwrap()).unwrap();
    let ahead = date.duration_since(SystemTime::now()).unwrap();
    assert!(ahead > Duration::from_secs(800), "{ahead:?}");
    let body = resp.text().await.unwrap();
    assert!(body.contains("Signature expired"), "{body}");

    // The official SDK corrects its clock from that Date and succeeds on its retry.
    control(&svc, EXAMPLE_SECRET_ACCESS_KEY)
        .list_signaling_channels()
        .send()
        .await
        .expect("the SDK corrects for the skew");
    let (status, _) = admin.call("DELETE", "faults", Value::Null, TOKEN).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn an_extreme_clock_skew_is_refused_and_the_service_keeps_answering() {
    let svc = service(true).await;
    let admin = Admin::new(&svc);
    for seconds in [i64::MAX, i64::MIN, 400_000_000] {
        let (status, body) = admin
            .post("faults/clock-skew", json!({ "Seconds": seconds }))
            .await;
        assert_eq!(status, 400, "{seconds}: {body}");
        assert!(body.to_string().contains("ten years"), "{body}");
    }
    control(&svc, EXAMPLE_SECRET_ACCESS_KEY)
        .list_signaling_channels()
        .send()
        .await
        .expect("the service still answers with its own clock");
    let (status, _) = admin
        .post("faults/clock-skew", json!({ "Seconds": -300_000_000 }))
        .await;
    assert_eq!(status, 200, "ten years back is still a valid fault");
    let (status, _) = admin.call("DELETE", "faults", Value::Null, TOKEN).await;
    assert_eq!(status, 200, "and it can be cleared");
}
