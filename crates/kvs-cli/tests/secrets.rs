//! Secrets never leak: for each credential provider the CLI offers, a master runs against
//! `serve` with every log at trace level, and neither process's output (logs, events, errors)
//! contains the secret key or the session token. The positive control: the access key id,
//! which is not secret, does appear, so the capture really captured.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_kvs-signaling");
const KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// Runs a master with `args` and `env` (no AWS variables unless given) until CONNECTED or
/// its end; returns everything it printed, stdout and stderr.
async fn master(endpoint: &str, ca: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut child = Command::new(BIN)
        .args([
            "master",
            "--channel",
            "secrets",
            "--endpoint-url",
            endpoint,
            "--ca-bundle",
            ca,
        ])
        .args(args)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("RUST_LOG", "trace")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let errors = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut out = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(Some(line)) = lines.next_line().await {
            out.push_str(&line);
            out.push('\n');
            if line.contains(r#""state":"CONNECTED""#) {
                break;
            }
        }
    })
    .await;
    drop(child.stdin.take()); // end of stdin: disconnect and exit
    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
    while let Ok(Some(line)) = lines.next_line().await {
        out.push_str(&line);
        out.push('\n');
    }
    out + &errors.await.unwrap()
}

/// A provider's name, the master's flags and environment, and whether it connects.
type Case<'a> = (&'a str, Vec<&'a str>, Vec<(&'a str, &'a str)>, bool);

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_provider_leaks_the_secret_or_the_token_at_trace_level() {
    let dir = tempfile::tempdir().unwrap();
    let mut serve = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--state-dir"])
        .arg(dir.path().join("state"))
        .env("RUST_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(serve.stdout.take().unwrap()).lines();
    let endpoint = lines
        .next_line()
        .await
        .unwrap()
        .unwrap()
        .strip_prefix("endpoint: ")
        .unwrap()
        .to_owned();
    let ca = lines
        .next_line()
        .await
        .unwrap()
        .unwrap()
        .strip_prefix("ca: ")
        .unwrap()
        .to_owned();
    // What serve printed on stdout is its start-up banner (which shows the example key pair
    // on purpose, for people); only its logs are checked, below.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    // Read the service's trace logs as they come: a full pipe would stall it.
    let mut serve_logs = serve.stderr.take().unwrap();
    let serve_logs = tokio::spawn(async move {
        let mut text = String::new();
        let _ = serve_logs.read_to_string(&mut text).await;
        text
    });

    let credentials = dir.path().join("credentials");
    write(
        &credentials,
        &format!("[device]\naws_access_key_id = {KEY_ID}\naws_secret_access_key = {SECRET}\n"),
    );
    let script = dir.path().join("process.sh");
    write(
        &script,
        &format!(
            "#!/bin/sh\necho '{{\"Version\": 1, \"AccessKeyId\": \"{KEY_ID}\", \"SecretAccessKey\": \"{SECRET}\"}}'\n"
        ),
    );
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let config = dir.path().join("config");
    write(
        &config,
        &format!(
            "[profile process]\ncredential_process = {}\n",
            script.display()
        ),
    );
    let c_sdk = dir.path().join("c-sdk-credentials");
    write(&c_sdk, &format!("CREDENTIALS {KEY_ID} {SECRET}\n"));
    let creds = credentials.to_str().unwrap();
    let conf = config.to_str().unwrap();

    let mut all = String::new();
    let cases: Vec<Case> = vec![
        (
            "environment",
            vec![],
            vec![
                ("AWS_ACCESS_KEY_ID", KEY_ID),
                ("AWS_SECRET_ACCESS_KEY", SECRET),
            ],
            true,
        ),
        (
            "profile",
            vec!["--profile", "device"],
            vec![
                ("AWS_SHARED_CREDENTIALS_FILE", creds),
                ("AWS_CONFIG_FILE", conf),
            ],
            true,
        ),
        (
            "credential_process",
            vec!["--profile", "process"],
            vec![
                ("AWS_SHARED_CREDENTIALS_FILE", creds),
                ("AWS_CONFIG_FILE", conf),
            ],
            true,
        ),
        (
            "c-sdk file",
            vec!["--c-sdk-credentials-file", c_sdk.to_str().unwrap()],
            vec![],
            true,
        ),
        // A refused secret and a session token: the errors name the cause, not the values.
        (
            "wrong secret",
            vec![],
            vec![
                ("AWS_ACCESS_KEY_ID", KEY_ID),
                ("AWS_SECRET_ACCESS_KEY", "WRONGSECRETVALUE0123456789"),
                ("AWS_SESSION_TOKEN", "SESSIONTOKENVALUE0123456789"),
            ],
            false,
        ),
    ];
    for (name, args, env, connects) in cases {
        let out = master(&endpoint, &ca, &args, &env).await;
        assert_eq!(
            out.contains(r#""state":"CONNECTED""#),
            connects,
            "{name}:\n{out}"
        );
        if !connects {
            assert!(
                out.contains("InvalidSignatureException") || out.contains("token"),
                "{name} names the cause:\n{out}"
            );
        }
        assert!(
            out.contains("TRACE") || out.contains("DEBUG"),
            "{name}: trace logs captured"
        );
        all.push_str(&out);
    }
    serve.start_kill().unwrap();
    let _ = serve.wait().await;
    let logs = tokio::time::timeout(Duration::from_secs(5), serve_logs)
        .await
        .expect("the service's log ends with it")
        .unwrap();
    assert!(
        logs.contains("TRACE") || logs.contains("DEBUG"),
        "the service's logs were captured"
    );
    all.push_str(&logs);

    assert!(
        all.contains(KEY_ID),
        "positive control: the access key id is in the capture"
    );
    for secret in [
        SECRET,
        "WRONGSECRETVALUE0123456789",
        "SESSIONTOKENVALUE0123456789",
    ] {
        assert!(!all.contains(secret), "{secret} leaked");
    }
}

/// Collects what a tracing subscriber writes.
#[derive(Clone, Default)]
struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The IoT provider: a master with the --iot-* flags buys temporary credentials with a device
/// certificate from the service (run in this process, on this thread, so its trace logs are
/// captured and the keys it issued can be looked at). Neither the master's output nor the
/// service's logs hold an issued secret or session token, or the device's private key; the
/// issued access key id appears in the master's output and the thing's name in the service's
/// logs (positive controls).
#[tokio::test]
async fn the_iot_provider_leaks_no_issued_secret_token_or_device_key_at_trace_level() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let dir = tempfile::tempdir().unwrap();
    let device = kvs_service::issue_device_certificate(dir.path(), "cam-secrets", None).unwrap();
    let svc = kvs_service::start(kvs_service::ServiceConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        state_dir: Some(dir.path().to_owned()),
        iot: Some(kvs_service::IotConfig::default()),
        ..kvs_service::ServiceConfig::default()
    })
    .await
    .unwrap();
    let ca = device.ca_path.to_str().unwrap();
    let out = master(
        svc.endpoint(),
        ca,
        &[
            "--iot-endpoint",
            svc.iot_endpoint().unwrap(),
            "--iot-role-alias",
            kvs_service::DEFAULT_ROLE_ALIAS,
            "--iot-thing-name",
            "cam-secrets",
            "--iot-cert",
            device.cert_path.to_str().unwrap(),
            "--iot-key",
            device.key_path.to_str().unwrap(),
            "--iot-ca",
            ca,
        ],
        &[],
    )
    .await;
    assert!(out.contains(r#""state":"CONNECTED""#), "{out}");
    assert!(
        out.contains("TRACE"),
        "the master's trace logs were captured"
    );
    let issued = svc.issued_keys();
    assert_eq!(issued.len(), 1);
    let key = &issued[0];
    assert!(
        out.contains(&key.access_key_id),
        "positive control: the issued access key id is in the master's output"
    );
    svc.shutdown().await;
    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains(&key.access_key_id) && logs.contains("cam-secrets"),
        "the service's logs (at trace level) were captured and name the key it issued and its thing"
    );
    let device_key = std::fs::read_to_string(&device.key_path).unwrap();
    let key_body = device_key.lines().nth(1).unwrap();
    for (what, secret) in [
        ("the issued secret", key.secret_access_key.as_str()),
        (
            "the issued session token",
            key.session_token.as_deref().unwrap(),
        ),
        ("the device's private key", key_body),
    ] {
        let lines: Vec<&str> = out.lines().collect();
        let leak = lines
            .iter()
            .position(|l| l.contains(secret))
            .map(|i| lines[i.saturating_sub(2)..=i].join("\n"));
        assert!(
            leak.is_none(),
            "{what} leaked in the master's output, in: {}",
            leak.clone()
                .unwrap_or_default()
                .replace(secret, "<the secret>")
        );
        assert!(
            !logs.contains(secret),
            "{what} leaked in the service's logs"
        );
    }
}
