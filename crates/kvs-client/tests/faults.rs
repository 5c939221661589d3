//! The real client against the service's injected faults: it rides out throttling, refused
//! connects and a service clock fifteen minutes ahead.

mod common;

use std::time::Duration;

use kvs_client::{Events, Master, SignalingClient, Viewer};
use kvs_proto::api::{ChannelRole, ErrorCode};
use kvs_proto::client::{Event, State};
use kvs_service::{EXAMPLE_SECRET_ACCESS_KEY, InjectedError, ServiceConfig, ServiceHandle};

async fn service() -> ServiceHandle {
    kvs_service::start(ServiceConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..ServiceConfig::default()
    })
    .await
    .unwrap()
}

/// Waits for CONNECTED; returns how many retries it took.
async fn connected(events: &mut Events) -> usize {
    tokio::time::timeout(Duration::from_secs(60), async {
        let mut retries = 0;
        loop {
            match events.recv().await.expect("session ended early") {
                Event::StateChanged(State::Connected) => return retries,
                Event::Retrying { .. } => retries += 1,
                Event::Closed(err) => panic!("closed: {err:?}"),
                _ => {}
            }
        }
    })
    .await
    .expect("connected within 60 s")
}

fn error(target: &str, code: ErrorCode) -> InjectedError {
    InjectedError {
        target: Some(target.into()),
        code,
        message: "injected".into(),
    }
}

#[tokio::test]
async fn throttled_calls_and_refused_connects_are_retried_until_connected() {
    let svc = service().await;
    svc.with_faults(|f| {
        f.plan_errors(
            3,
            error("DescribeSignalingChannel", ErrorCode::ClientLimitExceeded),
        );
        f.plan_errors(1, error("ConnectAsViewer", ErrorCode::ClientLimitExceeded));
    });
    let options = common::options(
        &svc,
        "faults",
        ChannelRole::Viewer,
        "v1",
        EXAMPLE_SECRET_ACCESS_KEY,
    );
    let (client, mut events) = SignalingClient::<Viewer>::start(options).unwrap();
    let retries = connected(&mut events).await;
    assert!(retries >= 4, "each injected error was retried ({retries})");
    assert!(svc.with_faults(|f| f.next_error("DescribeSignalingChannel").is_none()));
    client.close().await;
}

#[tokio::test]
async fn a_service_clock_fifteen_minutes_ahead_is_corrected_for() {
    let svc = service().await;
    svc.with_faults(|f| f.set_clock_skew(15 * 60)).unwrap();
    let options = common::options(
        &svc,
        "skewed",
        ChannelRole::Master,
        "",
        EXAMPLE_SECRET_ACCESS_KEY,
    );
    let (client, mut events) = SignalingClient::<Master>::start(options).unwrap();
    connected(&mut events).await;
    assert_eq!(client.state(), State::Connected);
    client.close().await;
}
