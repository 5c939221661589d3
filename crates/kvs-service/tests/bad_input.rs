//! Garbage on a live WebSocket: refused with STATUS_RESPONSE (when correlated), the connection
//! stays up, and the good messages around it are still delivered.

mod common;

use std::time::Duration;

use common::{
    channel, connect, join, next_frame, presigned, relaxed_service, service, upgrade_refusal,
};
use futures_util::{SinkExt, StreamExt};
use kvs_proto::wire::MessageType;
use kvs_service::EXAMPLE_SECRET_ACCESS_KEY;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn garbage_is_answered_and_nothing_else_is_lost() {
    let svc = service().await;
    let arn = channel(&svc, "bad-input").await;
    let mut master = join(&svc, "/m", &arn, None).await;
    let mut viewer = join(&svc, "/v", &arn, Some("v1")).await;

    let oversized = "A".repeat(10_004);
    let garbage = [
        (
            "c1",
            r#"{"action":"SDP_OFFER","messagePayload":"e30=","correlationId":"c1""#.to_owned(),
            "malformed",
        ),
        (
            "c2",
            r#"{"action":"HELLO","messagePayload":"e30=","correlationId":"c2"}"#.to_owned(),
            "unknown action",
        ),
        (
            "c3",
            format!(
                r#"{{"action":"SDP_OFFER","messagePayload":"{oversized}","correlationId":"c3"}}"#
            ),
            "10000-byte limit",
        ),
        (
            "c4",
            r#"{"action":"SDP_OFFER","messagePayload":"not base64!","correlationId":"c4"}"#
                .to_owned(),
            "base64",
        ),
    ];
    for (_, frame, _) in &garbage {
        viewer.send(Message::text(frame.clone())).await.unwrap();
        // The same garbage without a correlation id is only logged.
        viewer
            .send(Message::text(
                frame.replace(r#","correlationId":"c"#, r#","x":"c"#),
            ))
            .await
            .unwrap();
    }
    master
        .send(Message::text(r#"{"action":"SDP_ANSWER","recipientClientId":"ghost","messagePayload":"e30=","correlationId":"c5"}"#))
        .await
        .unwrap();

    for (id, _, needle) in &garbage {
        let frame = next_frame(&mut viewer).await;
        assert_eq!(frame.message_type, MessageType::StatusResponse);
        let status = frame.status_response.unwrap();
        assert_eq!(status.correlation_id.as_deref(), Some(*id));
        assert_eq!(
            status.error_type.as_deref(),
            Some("InvalidArgumentException")
        );
        let description = status.description.unwrap();
        assert!(description.contains(needle), "{id}: {description}");
    }
    let frame = next_frame(&mut master).await;
    assert!(
        frame
            .status_response
            .unwrap()
            .description
            .unwrap()
            .contains("ghost")
    );

    // Both connections still work, and good messages still flow both ways.
    viewer
        .send(Message::text(
            r#"{"action":"SDP_OFFER","messagePayload":"eyJ0eXBlIjoib2ZmZXIifQ=="}"#,
        ))
        .await
        .unwrap();
    let frame = next_frame(&mut master).await;
    assert_eq!(
        frame.message_type,
        MessageType::SdpOffer,
        "the first thing the master sees is the good offer"
    );
    assert_eq!(frame.sender_client_id.as_deref(), Some("v1"));
    master
        .send(Message::text(
            r#"{"action":"SDP_ANSWER","recipientClientId":"v1","messagePayload":"e30="}"#,
        ))
        .await
        .unwrap();
    assert_eq!(
        next_frame(&mut viewer).await.message_type,
        MessageType::SdpAnswer
    );
}

#[tokio::test]
async fn oversized_frames_cut_only_their_own_connection() {
    let svc = service().await;
    let arn = channel(&svc, "big-frames").await;
    let mut master = join(&svc, "/m", &arn, None).await;
    let mut flooder = join(&svc, "/v", &arn, Some("big")).await;
    let mut viewer = join(&svc, "/v", &arn, Some("v1")).await;
    let _ = flooder.send(Message::text("x".repeat(200_000))).await;
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match flooder.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the service hung up on the oversized frame");
    viewer
        .send(Message::text(
            r#"{"action":"ICE_CANDIDATE","messagePayload":"e30="}"#,
        ))
        .await
        .unwrap();
    assert_eq!(
        next_frame(&mut master).await.sender_client_id.as_deref(),
        Some("v1")
    );
}

#[track_caller]
#[tokio::test]
async fn upgrades_with_bad_signatures_or_parameters_are_refused_with_aws_statuses() {
    let svc = relaxed_service().await;
    let arn = channel(&svc, "refusals").await;
    let wrong_secret = connect(&svc, presigned(&svc, "/m", &arn, None, "wrong")).await;
    assert_eq!(
        upgrade_refusal(wrong_secret),
        (403, Some("InvalidSignatureException".into()))
    );
    let missing = arn.replace("/refusals/", "/nope/");
    assert_eq!(
        upgrade_refusal(
            connect(
                &svc,
                presigned(&svc, "/m", &missing, None, EXAMPLE_SECRET_ACCESS_KEY)
            )
            .await
        )
        .0,
        404
    );
    assert_eq!(
        upgrade_refusal(
            connect(
                &svc,
                presigned(&svc, "/v", &arn, None, EXAMPLE_SECRET_ACCESS_KEY)
            )
            .await
        )
        .0,
        400,
        "a viewer needs a client id"
    );
    assert_eq!(
        upgrade_refusal(
            connect(
                &svc,
                presigned(&svc, "/v", &arn, Some("AWS_x"), EXAMPLE_SECRET_ACCESS_KEY)
            )
            .await
        )
        .0,
        400
    );
    let url = presigned(&svc, "/m", &arn, None, EXAMPLE_SECRET_ACCESS_KEY);
    let tampered = url.replace("X-Amz-Expires=299", "X-Amz-Expires=300");
    assert_eq!(upgrade_refusal(connect(&svc, tampered).await).0, 403);
    let mut viewers = Vec::new(); // held open: ten viewers fill the channel
    for i in 0..10 {
        viewers.push(
            connect(
                &svc,
                presigned(
                    &svc,
                    "/v",
                    &arn,
                    Some(&format!("v{i}")),
                    EXAMPLE_SECRET_ACCESS_KEY,
                ),
            )
            .await
            .unwrap(),
        );
    }
    let eleventh = connect(
        &svc,
        presigned(&svc, "/v", &arn, Some("v10"), EXAMPLE_SECRET_ACCESS_KEY),
    )
    .await;
    assert_eq!(
        upgrade_refusal(eleventh),
        (400, Some("ClientLimitExceededException".into()))
    );
}

/// `X-Amz-Date` of the right byte length with a multi-byte character where digits belong
/// (`201é123T000000Z`: 16 bytes, `T` at byte 8, with the credential scope's date to match)
/// is refused like any bad date, and the service goes on serving the next client.
#[tokio::test]
async fn a_multibyte_amz_date_is_refused_not_a_crash() {
    let svc = service().await;
    let arn = channel(&svc, "multibyte-date").await;
    let good = presigned(&svc, "/m", &arn, None, EXAMPLE_SECRET_ACCESS_KEY);
    let (head, query) = good.split_once('?').unwrap();
    let perturbed: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some(("X-Amz-Date", _)) => "X-Amz-Date=201%C3%A9123T000000Z".to_owned(),
            // The credential scope's date must prefix X-Amz-Date to get that far.
            Some(("X-Amz-Credential", credential)) => {
                let mut parts: Vec<&str> = credential.split("%2F").collect();
                parts[1] = "201%C3%A9123";
                format!("X-Amz-Credential={}", parts.join("%2F"))
            }
            _ => pair.to_owned(),
        })
        .collect();
    let url = format!("{head}?{}", perturbed.join("&"));
    assert_eq!(
        upgrade_refusal(connect(&svc, url).await),
        (400, Some("IncompleteSignatureException".into()))
    );
    join(&svc, "/m", &arn, None).await;
}
