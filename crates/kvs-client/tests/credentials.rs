//! Credential providers against real files and a real service.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use kvs_client::{CSdkFileProvider, Event, Master, SignalingClient};
use kvs_proto::api::ChannelRole;
use kvs_service::{EXAMPLE_ACCESS_KEY_ID, EXAMPLE_SECRET_ACCESS_KEY, ServiceConfig};

/// The service as `config` says, on a free loopback port.
async fn service(config: ServiceConfig) -> kvs_service::ServiceHandle {
    kvs_service::start(ServiceConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..config
    })
    .await
    .unwrap()
}

fn write_line(path: &std::path::Path, lifetime: Duration) {
    let line = format!(
        "CREDENTIALS {EXAMPLE_ACCESS_KEY_ID} {} {EXAMPLE_SECRET_ACCESS_KEY}\n",
        kvs_proto::amz_date::format_extended(SystemTime::now() + lifetime)
    );
    std::fs::write(path, line).unwrap();
}

/// A C SDK credentials file: the client connects with it, reads it again before the
/// credentials expire (a short lifetime, so the refresh comes in seconds), and stays
/// connected.
#[tokio::test]
async fn the_c_sdk_file_is_read_again_before_its_credentials_expire() {
    let svc = service(ServiceConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("credentials");
    write_line(&file, Duration::from_secs(4));
    let mut options = common::options(&svc, "file", ChannelRole::Master, "", "unused");
    options.credentials = Arc::new(CSdkFileProvider::new(&file));
    let (client, mut events) = SignalingClient::<Master>::start(options).unwrap();
    client.connected().await.unwrap();
    write_line(&file, Duration::from_secs(600));
    let refreshed = tokio::time::timeout(Duration::from_secs(10), async {
        let mut connected = false;
        loop {
            match events.recv().await.expect("the session runs") {
                Event::CredentialsRefreshed { expiry } => return expiry,
                Event::StateChanged(kvs_client::State::Connected) => connected = true,
                Event::StateChanged(s) => {
                    assert!(!connected, "after CONNECTED nothing else happens, not {s}")
                }
                _ => {}
            }
        }
    })
    .await
    .expect("refreshed within seconds");
    let left = refreshed
        .unwrap()
        .duration_since(SystemTime::now())
        .unwrap();
    assert!(
        left > Duration::from_secs(500),
        "the rewritten file was read: {left:?} left"
    );
    assert_eq!(client.state(), kvs_client::State::Connected);
    client.close().await;
    svc.shutdown().await;
}

/// A profile provider reading only `credentials` and `config` (not the machine's files).
fn profile(
    name: &str,
    credentials: &std::path::Path,
    config: &std::path::Path,
) -> aws_config::profile::ProfileFileCredentialsProvider {
    use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
    let files = EnvConfigFiles::builder()
        .include_default_credentials_file(false)
        .include_default_config_file(false)
        .with_file(EnvConfigFileKind::Credentials, credentials)
        .with_file(EnvConfigFileKind::Config, config)
        .build();
    aws_config::profile::ProfileFileCredentialsProvider::builder()
        .configure(&kvs_client::provider_config())
        .profile_files(files)
        .profile_name(name)
        .build()
}

/// Profiles through the AWS SDK's own provider: static keys from the credentials file, and a
/// real `credential_process` script whose JSON carries an `Expiration`; each one connects to
/// the service, and the process's expiry reaches the client.
#[tokio::test]
async fn profiles_with_keys_and_with_a_credential_process_connect() {
    use std::os::unix::fs::PermissionsExt;
    let svc = service(ServiceConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let credentials = dir.path().join("credentials");
    let config = dir.path().join("config");
    let script = dir.path().join("issue-credentials.sh");
    std::fs::write(
        &credentials,
        format!(
            "[device]\naws_access_key_id = {EXAMPLE_ACCESS_KEY_ID}\naws_secret_access_key = {EXAMPLE_SECRET_ACCESS_KEY}\n"
        ),
    )
    .unwrap();
    let expiration =
        kvs_proto::amz_date::format_extended(SystemTime::now() + Duration::from_secs(900));
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho '{{\"Version\": 1, \"AccessKeyId\": \"{EXAMPLE_ACCESS_KEY_ID}\", \"SecretAccessKey\": \"{EXAMPLE_SECRET_ACCESS_KEY}\", \"Expiration\": \"{expiration}\"}}'\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        &config,
        format!(
            "[profile process]\ncredential_process = {}\n",
            script.display()
        ),
    )
    .unwrap();
    for (name, expires) in [("device", false), ("process", true)] {
        let mut options = common::options(&svc, name, ChannelRole::Master, "", "unused");
        options.credentials = Arc::new(profile(name, &credentials, &config));
        let (client, mut events) = SignalingClient::<Master>::start(options).unwrap();
        client
            .connected()
            .await
            .unwrap_or_else(|e| panic!("profile {name}: {e}"));
        client.close().await;
        while events.recv().await.is_some() {}
        let creds = kvs_client::ProvideCredentials::provide_credentials(&profile(
            name,
            &credentials,
            &config,
        ))
        .await
        .unwrap();
        assert_eq!(creds.expiry().is_some(), expires, "profile {name}");
    }
    svc.shutdown().await;
}

/// Hands out the example keys as temporary credentials that expire `lifetime` after each
/// ask, and counts the asks.
#[derive(Debug)]
struct ShortLived {
    lifetime: Duration,
    asks: std::sync::atomic::AtomicU32,
}

impl kvs_client::ProvideCredentials for ShortLived {
    fn provide_credentials<'a>(&'a self) -> kvs_client::ProvideFuture<'a>
    where
        Self: 'a,
    {
        self.asks.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        kvs_client::ProvideFuture::ready(Ok(kvs_proto::Credentials::new(
            EXAMPLE_ACCESS_KEY_ID,
            EXAMPLE_SECRET_ACCESS_KEY,
            None,
            Some(SystemTime::now() + self.lifetime),
            "short-lived",
        )))
    }
}

/// Credentials that expire every 5 s while a master and a viewer exchange messages for 20 s:
/// every message arrives, none is refused, neither WebSocket is replaced, and the
/// credentials are refreshed several times on each side.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_expiring_every_five_seconds_do_not_disturb_a_twenty_second_exchange() {
    use kvs_client::{MessageType, ToMaster, Viewer, ViewerId};
    let svc = service(ServiceConfig {
        limits: None,
        ..ServiceConfig::default()
    })
    .await;
    let provider = || {
        Arc::new(ShortLived {
            lifetime: Duration::from_secs(5),
            asks: Default::default(),
        })
    };
    let (master_creds, viewer_creds) = (provider(), provider());
    let mut options = common::options(&svc, "short", ChannelRole::Master, "", "unused");
    options.credentials = master_creds.clone();
    let (master, mut master_events) = SignalingClient::<Master>::start(options).unwrap();
    master.connected().await.unwrap();
    let mut options = common::options(&svc, "short", ChannelRole::Viewer, "v1", "unused");
    options.credentials = viewer_creds.clone();
    let (viewer, mut viewer_events) = SignalingClient::<Viewer>::start(options).unwrap();
    viewer.connected().await.unwrap();

    let start = tokio::time::Instant::now();
    let (mut sent, mut received, mut refreshes, mut trouble) = (0u32, 0u32, 0u32, Vec::new());
    // The events from before CONNECTED are still queued; trouble is what comes after.
    let (mut master_up, mut viewer_up) = (false, false);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let to_viewer = ViewerId::new("v1").unwrap();
    while start.elapsed() < Duration::from_secs(20) {
        tokio::select! {
            _ = tick.tick() => {
                viewer.send_offer(&ToMaster, format!("{{\"n\":{sent}}}")).await.unwrap();
                sent += 1;
            }
            Some(event) = master_events.recv() => match event {
                Event::Message(m) if m.message_type == MessageType::SdpOffer => {
                    received += 1;
                    master.send_answer(&to_viewer, m.payload).await.unwrap();
                }
                Event::CredentialsRefreshed { .. } => refreshes += 1,
                Event::StateChanged(kvs_client::State::Connected) if !master_up => master_up = true,
                Event::StateChanged(s) if master_up => trouble.push(format!("master {s}")),
                Event::StatusResponse(s) => trouble.push(format!("master status {s:?}")),
                Event::Error(e) => trouble.push(format!("master error {e}")),
                _ => {}
            },
            Some(event) = viewer_events.recv() => match event {
                Event::CredentialsRefreshed { .. } => refreshes += 1,
                Event::StateChanged(kvs_client::State::Connected) if !viewer_up => viewer_up = true,
                Event::StateChanged(s) if viewer_up => trouble.push(format!("viewer {s}")),
                Event::StatusResponse(s) => trouble.push(format!("viewer status {s:?}")),
                Event::Error(e) => trouble.push(format!("viewer error {e}")),
                _ => {}
            },
        }
    }
    // The last offers may still be on their way.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while received < sent && tokio::time::Instant::now() < deadline {
        if let Ok(Some(Event::Message(_))) =
            tokio::time::timeout(Duration::from_millis(200), master_events.recv()).await
        {
            received += 1;
        }
    }
    assert_eq!(received, sent, "every message arrived");
    assert!(
        trouble.is_empty(),
        "no state change, refusal or error: {trouble:?}"
    );
    assert!(
        refreshes >= 6,
        "refreshed on both sides every few seconds: {refreshes}"
    );
    let asks = |p: &ShortLived| p.asks.load(std::sync::atomic::Ordering::SeqCst);
    assert!(asks(&master_creds) >= 4 && asks(&viewer_creds) >= 4);
    master.close().await;
    viewer.close().await;
    svc.shutdown().await;
}
