//! Credential providers against real files and a real service.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use kvs_client::{CSdkFileProvider, Event, Master, SignalingClient};
use kvs_proto::api::ChannelRole;
use kvs_service::{EXAMPLE_ACCESS_KEY_ID, EXAMPLE_SECRET_ACCESS_KEY, ServiceConfig};

/// `YYYY-MM-DDTHH:mm:SSZ` for `t`.
fn iso(t: SystemTime) -> String {
    let compact = kvs_proto::amz_date::format(t);
    format!(
        "{}-{}-{}T{}:{}:{}Z",
        &compact[0..4],
        &compact[4..6],
        &compact[6..8],
        &compact[9..11],
        &compact[11..13],
        &compact[13..15]
    )
}

fn write_line(path: &std::path::Path, lifetime: Duration) {
    let line = format!(
        "CREDENTIALS {EXAMPLE_ACCESS_KEY_ID} {} {EXAMPLE_SECRET_ACCESS_KEY}\n",
        iso(SystemTime::now() + lifetime)
    );
    std::fs::write(path, line).unwrap();
}

/// A C SDK credentials file: the client connects with it, reads it again before the
/// credentials expire (a short lifetime, so the refresh comes in seconds), and stays
/// connected.
#[tokio::test]
async fn the_c_sdk_file_is_read_again_before_its_credentials_expire() {
    let svc = kvs_service::start(ServiceConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..ServiceConfig::default()
    })
    .await
    .unwrap();
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
    let svc = kvs_service::start(ServiceConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..ServiceConfig::default()
    })
    .await
    .unwrap();
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
    let expiration = iso(SystemTime::now() + Duration::from_secs(900));
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
