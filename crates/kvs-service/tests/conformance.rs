//! The official AWS SDK for Rust against the service: validation per the models, the
//! operations not covered elsewhere (SendAlexaOfferToMaster), authorisation from a policy,
//! session tokens, rate limits, and SigV4 edge cases (user-agent signed, a path prefix).

mod common;

use std::time::SystemTime;

use aws_sdk_kinesisvideo::error::ProvideErrorMetadata;
use aws_sdk_kinesisvideo::types::{ChannelProtocol, ChannelRole, SingleMasterConfiguration, Tag};
use common::{
    Key, closed_by_service, connect, control, control_at, join, next_frame, presigned,
    presigned_as, signaling, tls, upgrade_refusal,
};
use futures_util::SinkExt;
use kvs_proto::wire::MessageType;
use kvs_service::{
    EXAMPLE_ACCESS_KEY_ID, EXAMPLE_SECRET_ACCESS_KEY, Policy, ServiceConfig, ServiceKey,
};
use tokio_tungstenite::tungstenite::Message;

fn config() -> ServiceConfig {
    ServiceConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..ServiceConfig::default()
    }
}

async fn create(kv: &aws_sdk_kinesisvideo::Client, name: &str, ttl: Option<i32>) -> String {
    let mut req = kv.create_signaling_channel().channel_name(name);
    if let Some(ttl) = ttl {
        req = req.single_master_configuration(
            SingleMasterConfiguration::builder()
                .message_ttl_seconds(ttl)
                .build(),
        );
    }
    req.send().await.unwrap().channel_arn.unwrap()
}

/// The exception code and HTTP status of a failed SDK call.
fn code_of<E: ProvideErrorMetadata, R>(
    err: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> String
where
    R: std::fmt::Debug,
{
    err.as_service_error()
        .and_then(|e| e.code())
        .unwrap_or("no service error")
        .to_owned()
}

#[tokio::test]
async fn invalid_inputs_get_the_model_s_exception_and_messages_naming_the_member() {
    let svc = kvs_service::start(config()).await.unwrap();
    let kv = control(&svc, EXAMPLE_SECRET_ACCESS_KEY);
    let bad_name = kv
        .create_signaling_channel()
        .channel_name("has space")
        .single_master_configuration(
            SingleMasterConfiguration::builder()
                .message_ttl_seconds(4)
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert!(
        bad_name
            .as_service_error()
            .unwrap()
            .is_invalid_argument_exception()
    );
    let message = bad_name.message().unwrap();
    assert!(
        message.starts_with("2 validation errors detected: "),
        "{message}"
    );
    assert!(
        message.contains("at 'channelName'")
            && message.contains("at 'singleMasterConfiguration.messageTtlSeconds'"),
        "{message}"
    );

    let arn = create(&kv, "valid", None).await;
    let tag = Tag::builder().key("a<b").value("v").build().unwrap();
    let bad_tag = kv
        .tag_resource()
        .resource_arn(&arn)
        .tags(tag)
        .send()
        .await
        .unwrap_err();
    assert!(
        bad_tag
            .message()
            .unwrap()
            .contains("at 'tags.1.member.key'"),
        "{bad_tag:?}"
    );
    let bad_version = kv
        .update_signaling_channel()
        .channel_arn(&arn)
        .current_version("not-a-version")
        .send()
        .await
        .unwrap_err();
    assert!(
        bad_version
            .as_service_error()
            .unwrap()
            .is_invalid_argument_exception()
    );
    let bad_arn = kv
        .describe_signaling_channel()
        .channel_arn("arn:aws:s3:::bucket")
        .send()
        .await
        .unwrap_err();
    assert!(
        bad_arn.message().unwrap().contains("at 'channelARN'"),
        "{bad_arn:?}"
    );
    let both = kv
        .describe_signaling_channel()
        .channel_arn(&arn)
        .channel_name("valid")
        .send()
        .await
        .unwrap_err();
    assert!(
        both.as_service_error()
            .unwrap()
            .is_invalid_argument_exception()
    );
    let ice = signaling(&svc, Key::example(EXAMPLE_SECRET_ACCESS_KEY))
        .get_ice_server_config()
        .channel_arn(&arn)
        .client_id("no spaces allowed")
        .send()
        .await
        .unwrap_err();
    assert!(
        ice.as_service_error()
            .unwrap()
            .is_invalid_argument_exception()
    );
}

#[tokio::test]
async fn an_alexa_offer_reaches_the_master_and_its_answer_is_returned() {
    let svc = kvs_service::start(config()).await.unwrap();
    let arn = create(&control(&svc, EXAMPLE_SECRET_ACCESS_KEY), "alexa", None).await;
    let mut master = join(&svc, "/m", &arn, None).await;
    let signaling = signaling(&svc, Key::example(EXAMPLE_SECRET_ACCESS_KEY));
    let call = tokio::spawn({
        let arn = arn.clone();
        async move {
            signaling
                .send_alexa_offer_to_master()
                .channel_arn(arn)
                .sender_client_id("echo-show-1")
                .message_payload("b2ZmZXI=")
                .send()
                .await
        }
    });
    let offer = next_frame(&mut master).await;
    assert_eq!(offer.message_type, MessageType::SdpOffer);
    assert_eq!(offer.sender_client_id.as_deref(), Some("echo-show-1"));
    assert_eq!(offer.message_payload.as_deref(), Some("b2ZmZXI="));
    let answer =
        r#"{"action":"SDP_ANSWER","recipientClientId":"echo-show-1","messagePayload":"YW5zd2Vy"}"#;
    master.send(Message::text(answer)).await.unwrap();
    let out = call.await.unwrap().unwrap();
    assert_eq!(out.answer(), Some("YW5zd2Vy"));
}

#[tokio::test]
async fn an_alexa_offer_with_no_master_ends_when_the_message_ttl_does() {
    let svc = kvs_service::start(config()).await.unwrap();
    let arn = create(&control(&svc, EXAMPLE_SECRET_ACCESS_KEY), "alone", Some(5)).await;
    let err = signaling(&svc, Key::example(EXAMPLE_SECRET_ACCESS_KEY))
        .send_alexa_offer_to_master()
        .channel_arn(&arn)
        .sender_client_id("echo-show-1")
        .message_payload("b2ZmZXI=")
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error()
            .unwrap()
            .is_resource_not_found_exception(),
        "{err:?}"
    );
    assert!(err.message().unwrap().contains("did not answer"));
}

const CAMERA: &str = "AKIDCAMERA0000000001";
const CAMERA_SECRET: &str = "camera-secret";
const CAMERA_KEY: Key<'static> = Key {
    id: CAMERA,
    secret: CAMERA_SECRET,
    token: None,
};

fn with_policy() -> ServiceConfig {
    let policy = Policy::parse(&format!(
        r#"{{"Statement": [
            {{"Effect": "Allow", "Principal": "{EXAMPLE_ACCESS_KEY_ID}", "Action": "kinesisvideo:*", "Resource": "*"}},
            {{"Effect": "Allow", "Principal": "{CAMERA}",
              "Action": ["kinesisvideo:DescribeSignalingChannel", "kinesisvideo:GetSignalingChannelEndpoint", "kinesisvideo:ConnectAsViewer"],
              "Resource": "arn:aws:kinesisvideo:*:*:channel/cam-*/*"}}]}}"#
    ))
    .unwrap();
    ServiceConfig {
        credentials: vec![
            ServiceKey::new(EXAMPLE_ACCESS_KEY_ID, EXAMPLE_SECRET_ACCESS_KEY),
            ServiceKey::new(CAMERA, CAMERA_SECRET),
        ],
        policy: Some(policy),
        ..config()
    }
}

#[tokio::test]
async fn a_policy_makes_access_denied_real_on_every_api() {
    let svc = kvs_service::start(with_policy()).await.unwrap();
    let admin = control(&svc, EXAMPLE_SECRET_ACCESS_KEY);
    let cam = create(&admin, "cam-1", None).await;
    let door = create(&admin, "door", None).await;
    let camera = control_at(&svc, svc.endpoint(), CAMERA_KEY);

    camera
        .describe_signaling_channel()
        .channel_arn(&cam)
        .send()
        .await
        .expect("granted");
    let denied = camera
        .describe_signaling_channel()
        .channel_arn(&door)
        .send()
        .await
        .unwrap_err();
    assert!(
        denied
            .as_service_error()
            .unwrap()
            .is_access_denied_exception()
    );
    assert_eq!(denied.raw_response().unwrap().status().as_u16(), 401);
    assert!(
        denied
            .message()
            .unwrap()
            .contains("is not authorized to perform: kinesisvideo:DescribeSignalingChannel"),
        "{denied:?}"
    );
    let create_denied = camera
        .create_signaling_channel()
        .channel_name("cam-2")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code_of(&create_denied), "AccessDeniedException");

    let ice = signaling(&svc, CAMERA_KEY)
        .get_ice_server_config()
        .channel_arn(&cam)
        .send()
        .await
        .unwrap_err();
    assert!(
        ice.as_service_error()
            .unwrap()
            .is_not_authorized_exception(),
        "{ice:?}"
    );

    assert_eq!(
        upgrade_refusal(connect(&svc, presigned_as(&svc, "/m", &cam, None, CAMERA_KEY)).await),
        (403, Some("AccessDeniedException".into()))
    );
    connect(
        &svc,
        presigned_as(&svc, "/v", &cam, Some("cam-viewer"), CAMERA_KEY),
    )
    .await
    .expect("viewing is granted");
    assert_eq!(
        upgrade_refusal(
            connect(
                &svc,
                presigned_as(&svc, "/v", &door, Some("cam-viewer"), CAMERA_KEY)
            )
            .await
        )
        .0,
        403
    );
}

#[tokio::test]
async fn keys_with_a_session_token_need_that_token() {
    let svc = kvs_service::start(ServiceConfig {
        credentials: vec![ServiceKey {
            access_key_id: "ASIATEMPORARY0000001".into(),
            secret_access_key: "temp-secret".into(),
            session_token: Some("IQoJb3JpZ2luX2VjE".into()),
            expiration: None,
        }],
        ..config()
    })
    .await
    .unwrap();
    let temporary = Key {
        id: "ASIATEMPORARY0000001",
        secret: "temp-secret",
        token: Some("IQoJb3JpZ2luX2VjE"),
    };
    let with = control_at(&svc, svc.endpoint(), temporary);
    create(&with, "temp", None).await;
    for token in [None, Some("another-token")] {
        let without = control_at(&svc, svc.endpoint(), Key { token, ..temporary });
        let err = without
            .describe_signaling_channel()
            .channel_name("temp")
            .send()
            .await
            .unwrap_err();
        assert_eq!(code_of(&err), "UnrecognizedClientException");
        assert_eq!(err.raw_response().unwrap().status().as_u16(), 403);
    }
}

#[tokio::test]
async fn a_path_prefix_serves_the_sdk_and_the_websocket() {
    let svc = kvs_service::start(ServiceConfig {
        path_prefix: "/kvs".into(),
        ..config()
    })
    .await
    .unwrap();
    let prefixed = format!("{}/kvs", svc.endpoint());
    let kv = control_at(&svc, &prefixed, Key::example(EXAMPLE_SECRET_ACCESS_KEY));
    let arn = create(&kv, "behind-proxy", None).await;
    let endpoints = kv
        .get_signaling_channel_endpoint()
        .channel_arn(&arn)
        .single_master_channel_endpoint_configuration(
            aws_sdk_kinesisvideo::types::SingleMasterChannelEndpointConfiguration::builder()
                .protocols(ChannelProtocol::Wss)
                .protocols(ChannelProtocol::Https)
                .role(ChannelRole::Master)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let urls: Vec<&str> = endpoints
        .resource_endpoint_list()
        .iter()
        .filter_map(|e| e.resource_endpoint())
        .collect();
    assert!(urls[0].ends_with("/kvs/m"), "{urls:?}");
    assert!(urls[1].ends_with("/kvs"), "{urls:?}");
    join(&svc, "/kvs/m", &arn, None).await;
    let unprefixed = control(&svc, EXAMPLE_SECRET_ACCESS_KEY)
        .describe_signaling_channel()
        .channel_arn(&arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(unprefixed.raw_response().unwrap().status().as_u16(), 404);
}

/// A request signed the way the C SDK signs: `user-agent` among the signed headers.
#[tokio::test]
async fn signatures_covering_user_agent_are_verified() {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    let svc = kvs_service::start(config()).await.unwrap();
    create(&control(&svc, EXAMPLE_SECRET_ACCESS_KEY), "c-sdk", None).await;
    let url = format!("{}/describeSignalingChannel", svc.endpoint());
    let host = svc.endpoint().trim_start_matches("https://").to_owned();
    let body = br#"{"ChannelName":"c-sdk"}"#;
    let signed = |user_agent: &str, sent_agent: &str| {
        let identity = aws_credential_types::Credentials::new(
            EXAMPLE_ACCESS_KEY_ID,
            EXAMPLE_SECRET_ACCESS_KEY,
            None,
            None,
            "test",
        )
        .into();
        let mut settings = SigningSettings::default();
        settings.excluded_headers = None; // sign user-agent too, as the C SDK does
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region("us-west-2")
            .name("kinesisvideo")
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .unwrap()
            .into();
        let headers = [("host", host.as_str()), ("user-agent", user_agent)];
        let req =
            SignableRequest::new("POST", &url, headers.into_iter(), SignableBody::Bytes(body))
                .unwrap();
        let (instructions, _) = sign(req, &params).unwrap().into_parts();
        let mut out: Vec<(String, String)> = instructions
            .headers()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        out.push(("user-agent".into(), sent_agent.into()));
        out
    };
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured((*tls(&svc)).clone())
        .build()
        .unwrap();
    let send = |headers: Vec<(String, String)>| {
        let mut req = http.post(&url).body(body.to_vec());
        for (k, v) in headers {
            req = req.header(k, v);
        }
        req.send()
    };
    let headers = signed("AWS-SDK-KVS/1.7.0", "AWS-SDK-KVS/1.7.0");
    let auth = &headers
        .iter()
        .find(|(k, _)| k == "authorization")
        .unwrap()
        .1;
    assert!(
        auth.contains("SignedHeaders=host;user-agent;x-amz-date"),
        "{auth}"
    );
    let ok = send(headers).await.unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    let altered = send(signed("AWS-SDK-KVS/1.7.0", "curl/8")).await.unwrap();
    assert_eq!(altered.status().as_u16(), 403, "the user-agent is covered");
}

#[tokio::test]
async fn rate_limits_refuse_with_client_limit_exceeded() {
    let svc = kvs_service::start(config()).await.unwrap();
    let arn = create(&control(&svc, EXAMPLE_SECRET_ACCESS_KEY), "busy", None).await;
    let mut master = join(&svc, "/m", &arn, None).await;
    let mut viewer = join(&svc, "/v", &arn, Some("v1")).await;
    join(&svc, "/v", &arn, Some("v2")).await;
    let fourth = connect(
        &svc,
        presigned(&svc, "/v", &arn, Some("v3"), EXAMPLE_SECRET_ACCESS_KEY),
    )
    .await;
    assert_eq!(
        upgrade_refusal(fourth),
        (400, Some("ClientLimitExceededException".into())),
        "3 connects a second per channel"
    );
    for n in 0..21 {
        let ice = format!(
            r#"{{"action":"ICE_CANDIDATE","messagePayload":"e30=","correlationId":"c{n}"}}"#
        );
        viewer.send(Message::text(ice)).await.unwrap();
    }
    let status = next_frame(&mut viewer).await;
    let status = status.status_response.expect("a STATUS_RESPONSE");
    assert_eq!(
        status.error_type.as_deref(),
        Some("ClientLimitExceededException")
    );
    assert_eq!(status.correlation_id.as_deref(), Some("c20"));
    for _ in 0..20 {
        let got = next_frame(&mut master).await;
        assert_eq!(got.message_type, MessageType::IceCandidate);
    }
}

#[tokio::test]
async fn deleting_a_channel_closes_its_connections_and_refuses_new_ones() {
    let svc = kvs_service::start(config()).await.unwrap();
    let kv = control(&svc, EXAMPLE_SECRET_ACCESS_KEY);
    let arn = create(&kv, "short-lived", None).await;
    let mut master = join(&svc, "/m", &arn, None).await;
    kv.delete_signaling_channel()
        .channel_arn(&arn)
        .send()
        .await
        .unwrap();
    assert!(
        closed_by_service(&mut master).await,
        "the master's connection was closed"
    );
    let again = connect(
        &svc,
        presigned(&svc, "/m", &arn, None, EXAMPLE_SECRET_ACCESS_KEY),
    )
    .await;
    assert_eq!(
        upgrade_refusal(again),
        (404, Some("ResourceNotFoundException".into()))
    );
}
