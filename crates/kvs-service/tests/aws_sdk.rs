//! The official AWS SDK for Rust, unmodified, against the local service over loopback TLS.

mod common;

use common::{Key, control, service, signaling_at};

use aws_sdk_kinesisvideo::types::{
    ChannelProtocol, ChannelRole, ChannelType, SingleMasterChannelEndpointConfiguration,
};
use kvs_service::EXAMPLE_SECRET_ACCESS_KEY;

fn endpoint_config(role: ChannelRole) -> SingleMasterChannelEndpointConfiguration {
    SingleMasterChannelEndpointConfiguration::builder()
        .protocols(ChannelProtocol::Wss)
        .protocols(ChannelProtocol::Https)
        .role(role)
        .build()
}

#[tokio::test]
async fn sdk_creates_describes_and_gets_endpoints_and_ice_servers() {
    let svc = service().await;
    let kv = control(&svc, EXAMPLE_SECRET_ACCESS_KEY);

    let created = kv
        .create_signaling_channel()
        .channel_name("sdk-channel")
        .channel_type(ChannelType::SingleMaster)
        .send()
        .await
        .unwrap();
    let arn = created.channel_arn().unwrap().to_owned();
    assert!(
        arn.starts_with("arn:aws:kinesisvideo:us-west-2:123456789012:channel/sdk-channel/"),
        "{arn}"
    );

    let described = kv
        .describe_signaling_channel()
        .channel_name("sdk-channel")
        .send()
        .await
        .unwrap();
    let info = described.channel_info().unwrap();
    assert_eq!(info.channel_arn(), Some(arn.as_str()));
    assert_eq!(info.channel_status().map(|s| s.as_str()), Some("ACTIVE"));
    assert_eq!(
        info.single_master_configuration()
            .and_then(|c| c.message_ttl_seconds()),
        Some(60)
    );
    assert!(info.creation_time().is_some());
    assert!(info.version().is_some());

    let mut wss = Vec::new();
    let mut https = None;
    for role in [ChannelRole::Master, ChannelRole::Viewer] {
        let out = kv
            .get_signaling_channel_endpoint()
            .channel_arn(&arn)
            .single_master_channel_endpoint_configuration(endpoint_config(role))
            .send()
            .await
            .unwrap();
        for e in out.resource_endpoint_list() {
            match e.protocol().unwrap() {
                ChannelProtocol::Wss => wss.push(e.resource_endpoint().unwrap().to_owned()),
                ChannelProtocol::Https => https = Some(e.resource_endpoint().unwrap().to_owned()),
                other => panic!("unexpected protocol {other:?}"),
            }
        }
    }
    assert_eq!(wss.len(), 2);
    assert_ne!(wss[0], wss[1], "master and viewer get distinct WSS URLs");
    assert!(wss.iter().all(|u| u.starts_with("wss://127.0.0.1:")));
    let https = https.unwrap();

    let signaling = signaling_at(&svc, &https, Key::example(EXAMPLE_SECRET_ACCESS_KEY));
    let ice = signaling
        .get_ice_server_config()
        .channel_arn(&arn)
        .client_id("viewer-1")
        .send()
        .await
        .unwrap();
    let servers = ice.ice_server_list();
    assert_eq!(
        servers.len(),
        2,
        "two TURN servers, as the real service lists"
    );
    for server in servers {
        assert_eq!(server.ttl(), Some(300));
        assert!(
            server.uris()[0].starts_with("turn:127.0.0.1:"),
            "{server:?}"
        );
        assert!(server.username().unwrap().ends_with(&format!(
            ":{}",
            kvs_proto::wire::encode_payload(format!("v1:{arn}").as_bytes())
        )));
    }

    kv.delete_signaling_channel()
        .channel_arn(&arn)
        .current_version(info.version().unwrap())
        .send()
        .await
        .unwrap();
    let gone = kv
        .describe_signaling_channel()
        .channel_arn(&arn)
        .send()
        .await
        .unwrap_err();
    assert!(
        gone.as_service_error()
            .unwrap()
            .is_resource_not_found_exception()
    );
}

#[tokio::test]
async fn sdk_sees_the_modelled_errors() {
    let svc = service().await;
    let kv = control(&svc, EXAMPLE_SECRET_ACCESS_KEY);
    kv.create_signaling_channel()
        .channel_name("dup")
        .send()
        .await
        .unwrap();
    let dup = kv
        .create_signaling_channel()
        .channel_name("dup")
        .send()
        .await
        .unwrap_err();
    assert!(
        dup.as_service_error()
            .unwrap()
            .is_resource_in_use_exception(),
        "{dup:?}"
    );

    let missing = kv
        .describe_signaling_channel()
        .channel_name("nope")
        .send()
        .await
        .unwrap_err();
    assert!(
        missing
            .as_service_error()
            .unwrap()
            .is_resource_not_found_exception()
    );

    let bad_ttl = kv
        .create_signaling_channel()
        .channel_name("ttl")
        .single_master_configuration(
            aws_sdk_kinesisvideo::types::SingleMasterConfiguration::builder()
                .message_ttl_seconds(500)
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert!(
        bad_ttl
            .as_service_error()
            .unwrap()
            .is_invalid_argument_exception()
    );

    let wrong = control(&svc, "not-the-secret");
    let denied = wrong
        .describe_signaling_channel()
        .channel_name("dup")
        .send()
        .await
        .unwrap_err();
    let raw = denied.raw_response().expect("an HTTP answer");
    assert_eq!(raw.status().as_u16(), 403);
    let meta = aws_sdk_kinesisvideo::error::ProvideErrorMetadata::meta(&denied);
    assert_eq!(meta.code(), Some("InvalidSignatureException"));
    assert!(meta.message().unwrap().contains("does not match"));
}

#[tokio::test]
async fn sdk_lists_updates_and_tags_channels() {
    use aws_sdk_kinesisvideo::types::{
        ChannelNameCondition, ComparisonOperator, SingleMasterConfiguration, Tag,
    };
    let svc = service().await;
    let kv = control(&svc, EXAMPLE_SECRET_ACCESS_KEY);
    for name in ["cam-1", "cam-2", "cam-3", "door"] {
        kv.create_signaling_channel()
            .channel_name(name)
            .send()
            .await
            .unwrap();
    }

    let page = kv
        .list_signaling_channels()
        .max_results(2)
        .send()
        .await
        .unwrap();
    let names: Vec<&str> = page
        .channel_info_list()
        .iter()
        .filter_map(|c| c.channel_name())
        .collect();
    assert_eq!(names, ["cam-1", "cam-2"]);
    let token = page.next_token().expect("more pages").to_owned();
    let rest = kv
        .list_signaling_channels()
        .max_results(2)
        .next_token(token)
        .send()
        .await
        .unwrap();
    let names: Vec<&str> = rest
        .channel_info_list()
        .iter()
        .filter_map(|c| c.channel_name())
        .collect();
    assert_eq!(names, ["cam-3", "door"]);
    assert!(rest.next_token().is_none());
    let cams = kv
        .list_signaling_channels()
        .channel_name_condition(
            ChannelNameCondition::builder()
                .comparison_operator(ComparisonOperator::BeginsWith)
                .comparison_value("cam")
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(cams.channel_info_list().len(), 3);
    let too_many = kv
        .list_signaling_channels()
        .max_results(10_001)
        .send()
        .await
        .unwrap_err();
    assert!(
        too_many
            .as_service_error()
            .unwrap()
            .is_invalid_argument_exception()
    );

    let info = kv
        .describe_signaling_channel()
        .channel_name("door")
        .send()
        .await
        .unwrap()
        .channel_info
        .unwrap();
    let arn = info.channel_arn().unwrap().to_owned();
    let v1 = info.version().unwrap().to_owned();
    kv.update_signaling_channel()
        .channel_arn(&arn)
        .current_version(&v1)
        .single_master_configuration(
            SingleMasterConfiguration::builder()
                .message_ttl_seconds(30)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let after = kv
        .describe_signaling_channel()
        .channel_arn(&arn)
        .send()
        .await
        .unwrap()
        .channel_info
        .unwrap();
    assert_eq!(
        after
            .single_master_configuration()
            .unwrap()
            .message_ttl_seconds(),
        Some(30)
    );
    assert_ne!(after.version(), Some(v1.as_str()), "the version rotates");
    let stale = kv
        .update_signaling_channel()
        .channel_arn(&arn)
        .current_version(&v1)
        .send()
        .await
        .unwrap_err();
    assert!(
        stale
            .as_service_error()
            .unwrap()
            .is_version_mismatch_exception()
    );

    let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build().unwrap();
    kv.tag_resource()
        .resource_arn(&arn)
        .tags(tag("site", "front"))
        .tags(tag("floor", "1"))
        .send()
        .await
        .unwrap();
    kv.untag_resource()
        .resource_arn(&arn)
        .tag_key_list("floor")
        .send()
        .await
        .unwrap();
    let tags = kv
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    let tags = tags.tags().unwrap();
    assert_eq!(tags.len(), 1);
    assert_eq!(tags.get("site").map(String::as_str), Some("front"));
    let mut fifty = kv.tag_resource().resource_arn(&arn);
    for i in 0..50 {
        fifty = fifty.tags(tag(&format!("k{i}"), "v"));
    }
    let over = fifty.send().await.unwrap_err();
    assert!(
        over.as_service_error()
            .unwrap()
            .is_tags_per_resource_exceeded_limit_exception(),
        "{over:?}"
    );
    let missing = arn.replace("/door/", "/nope/");
    let gone = kv
        .list_tags_for_resource()
        .resource_arn(&missing)
        .send()
        .await
        .unwrap_err();
    assert!(
        gone.as_service_error()
            .unwrap()
            .is_resource_not_found_exception()
    );
}

#[tokio::test]
async fn channels_survive_a_restart_with_a_state_directory() {
    use aws_sdk_kinesisvideo::types::Tag;
    let dir = tempfile::tempdir().unwrap();
    let config = kvs_service::ServiceConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        state_dir: Some(dir.path().to_owned()),
        ..kvs_service::ServiceConfig::default()
    };
    let first = kvs_service::start(config.clone()).await.unwrap();
    let kv = control(&first, EXAMPLE_SECRET_ACCESS_KEY);
    let arn = kv
        .create_signaling_channel()
        .channel_name("kept")
        .send()
        .await
        .unwrap()
        .channel_arn
        .unwrap();
    kv.tag_resource()
        .resource_arn(&arn)
        .tags(Tag::builder().key("k").value("v").build().unwrap())
        .send()
        .await
        .unwrap();
    let version = kv
        .describe_signaling_channel()
        .channel_arn(&arn)
        .send()
        .await
        .unwrap()
        .channel_info
        .unwrap()
        .version
        .unwrap();
    first.shutdown().await;

    let second = kvs_service::start(config).await.unwrap();
    let kv = control(&second, EXAMPLE_SECRET_ACCESS_KEY);
    let info = kv
        .describe_signaling_channel()
        .channel_name("kept")
        .send()
        .await
        .unwrap()
        .channel_info
        .unwrap();
    assert_eq!(
        (info.channel_arn(), info.version()),
        (Some(arn.as_str()), Some(version.as_str()))
    );
    let tags = kv
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().unwrap().get("k").map(String::as_str), Some("v"));
    let again = kv
        .create_signaling_channel()
        .channel_name("kept")
        .send()
        .await
        .unwrap_err();
    assert!(
        again
            .as_service_error()
            .unwrap()
            .is_resource_in_use_exception()
    );
    kv.delete_signaling_channel()
        .channel_arn(&arn)
        .send()
        .await
        .unwrap();
    second.shutdown().await;
    let third = kvs_service::start(kvs_service::ServiceConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        state_dir: Some(dir.path().to_owned()),
        ..kvs_service::ServiceConfig::default()
    })
    .await
    .unwrap();
    assert_eq!(third.channel_arn("kept"), None, "deletions persist too");
}

/// Many changes at once, each saved outside the channel table's lock: whatever the order the
/// saves finish in, a restart keeps every change that was acknowledged.
#[tokio::test]
async fn a_restart_keeps_every_acknowledged_change_made_concurrently() {
    use aws_sdk_kinesisvideo::types::Tag;
    let dir = tempfile::tempdir().unwrap();
    let config = kvs_service::ServiceConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        state_dir: Some(dir.path().to_owned()),
        ..kvs_service::ServiceConfig::default()
    };
    let first = kvs_service::start(config.clone()).await.unwrap();
    let kv = control(&first, EXAMPLE_SECRET_ACCESS_KEY);
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let kv = kv.clone();
            tokio::spawn(async move {
                let arn = kv
                    .create_signaling_channel()
                    .channel_name(format!("many-{i}"))
                    .send()
                    .await
                    .unwrap()
                    .channel_arn
                    .unwrap();
                kv.tag_resource()
                    .resource_arn(&arn)
                    .tags(
                        Tag::builder()
                            .key("n")
                            .value(i.to_string())
                            .build()
                            .unwrap(),
                    )
                    .send()
                    .await
                    .unwrap();
                if i % 4 == 0 {
                    kv.delete_signaling_channel()
                        .channel_arn(&arn)
                        .send()
                        .await
                        .unwrap();
                }
                arn
            })
        })
        .collect();
    let mut arns = Vec::new();
    for task in tasks {
        arns.push(task.await.unwrap());
    }
    first.shutdown().await;

    let second = kvs_service::start(config).await.unwrap();
    let kv = control(&second, EXAMPLE_SECRET_ACCESS_KEY);
    for (i, arn) in arns.iter().enumerate() {
        let name = format!("many-{i}");
        if i % 4 == 0 {
            assert_eq!(second.channel_arn(&name), None, "{name} was deleted");
            continue;
        }
        assert_eq!(second.channel_arn(&name).as_deref(), Some(arn.as_str()));
        let tags = kv
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .unwrap();
        assert_eq!(
            tags.tags().unwrap().get("n").map(String::as_str),
            Some(i.to_string().as_str()),
            "{name} keeps its tag"
        );
    }
    second.shutdown().await;
}
