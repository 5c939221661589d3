//! `kvs-signaling doctor` against the local service: each fault the issue lists gives the
//! expected failing check and cause and nothing else fails, a healthy service passes every
//! check, and the doctor leaves the channel's master connected and the channel list as it was.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use kvs_client::{ChannelRef, ChannelRole, ClientConfig, ClientOptions, Credentials, TlsOptions};
use kvs_service::{
    EXAMPLE_ACCESS_KEY_ID, EXAMPLE_SECRET_ACCESS_KEY, Policy, ServiceConfig, ServiceHandle,
    ServiceKey, TurnConfig,
};
use serde_json::{Value, json};

/// A service on a free loopback port with an admin token.
async fn service(config: ServiceConfig) -> ServiceHandle {
    kvs_service::start(ServiceConfig {
        listen: ([127, 0, 0, 1], 0).into(),
        admin_token: Some(ADMIN_TOKEN.into()),
        // Where the service writes its CA, for --ca-bundle.
        state_dir: Some(tempfile::tempdir().unwrap().keep()),
        ..config
    })
    .await
    .expect("the service starts")
}

const ADMIN_TOKEN: &str = "doctor-test-admin-token";

/// One doctor run: its findings by check, and whether it exited 0.
struct Run {
    findings: Vec<Value>,
    success: bool,
    stderr: String,
}

impl Run {
    fn finding(&self, check: &str) -> &Value {
        self.findings
            .iter()
            .find(|f| f["check"] == check)
            .unwrap_or_else(|| panic!("no {check} finding in {:#?}", self.findings))
    }

    fn figure(&self, check: &str) -> &str {
        self.finding(check)["figure"].as_str().unwrap()
    }

    fn mark(&self, check: &str) -> &str {
        self.finding(check)["mark"].as_str().unwrap()
    }

    /// The checks that failed.
    fn failed(&self) -> Vec<&str> {
        self.findings
            .iter()
            .filter(|f| f["mark"] == "fail")
            .map(|f| f["check"].as_str().unwrap())
            .collect()
    }

    /// Asserts that `check` is the only failure, that its cause mentions `cause`, and that
    /// the exit status says so.
    fn fails_only(&self, check: &str, cause: &str) {
        assert_eq!(self.failed(), [check], "{:#?}", self.findings);
        let found = self.finding(check)["cause"].as_str().unwrap_or_default();
        assert!(
            found.contains(cause),
            "{check}'s cause {found:?} does not mention {cause:?}"
        );
        assert!(
            !self.success,
            "a failed check makes the exit status non-zero"
        );
        assert!(self.stderr.contains("failed"), "{}", self.stderr);
    }
}

/// Runs `kvs-signaling doctor --json` with `args` and `env`, and nothing of this process's
/// environment (no AWS variables, no profile files).
async fn doctor(args: &[&str], env: &[(&str, &str)]) -> Run {
    doctor_logging(args, env, "error").await
}

/// [`doctor`] with `RUST_LOG` set to `log`.
async fn doctor_logging(args: &[&str], env: &[(&str, &str)], log: &str) -> Run {
    let home = tempfile::tempdir().unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_kvs-signaling"))
        .arg("doctor")
        .arg("--json")
        .args(args)
        .env_clear()
        .env("HOME", home.path())
        .env("RUST_LOG", log)
        .envs(env.iter().copied())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let findings: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let order: Vec<&str> = findings
        .iter()
        .map(|f| f["check"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        [
            "resolve",
            "tcp",
            "tls",
            "proxy",
            "credentials",
            "clockOffset",
            "signedCall",
            "permissions",
            "callLatency",
            "webSocket",
            "stun",
            "turn",
            "udp",
            "offerSize"
        ],
        "every check reports once, in order"
    );
    Run {
        findings,
        success: output.status.success(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

const KEYS: [(&str, &str); 2] = [
    ("AWS_ACCESS_KEY_ID", EXAMPLE_ACCESS_KEY_ID),
    ("AWS_SECRET_ACCESS_KEY", EXAMPLE_SECRET_ACCESS_KEY),
];

/// The flags that point the doctor at `svc` for `channel`, with a 1 s timeout.
fn target<'a>(svc: &'a ServiceHandle, channel: &'a str) -> Vec<&'a str> {
    vec![
        "--channel",
        channel,
        "--endpoint-url",
        svc.endpoint(),
        "--ca-bundle",
        svc.ca_path().unwrap().to_str().unwrap(),
        "--timeout",
        "1",
    ]
}

/// The example key pair, with `token` as the session token.
fn example_keys(token: Option<&str>) -> Credentials {
    Credentials::new(
        EXAMPLE_ACCESS_KEY_ID,
        EXAMPLE_SECRET_ACCESS_KEY,
        token.map(str::to_owned),
        None,
        kvs_proto::STATIC_PROVIDER,
    )
}

fn options(svc: &ServiceHandle, channel: &str, role: ChannelRole) -> ClientOptions {
    let config = ClientConfig::builder(ChannelRef::Name(channel.into()), "us-west-2", role)
        .endpoint(svc.endpoint())
        .build();
    let keys = example_keys(None);
    let mut options = ClientOptions::new(config, Arc::new(keys));
    options.tls = TlsOptions {
        extra_ca_pem: svc.ca_pem().unwrap().as_bytes().to_vec(),
    };
    options
}

/// The channel a connected master holds (created by it).
async fn master(
    svc: &ServiceHandle,
    channel: &str,
) -> (
    kvs_client::SignalingClient<kvs_client::Master>,
    kvs_client::Events,
) {
    let (client, events) = kvs_client::SignalingClient::<kvs_client::Master>::start(options(
        svc,
        channel,
        ChannelRole::Master,
    ))
    .unwrap();
    client.connected().await.expect("the master connects");
    (client, events)
}

/// ListSignalingChannels, signed with the example keys: the names.
async fn channel_names(svc: &ServiceHandle) -> Vec<String> {
    let url = format!("{}/listSignalingChannels", svc.endpoint());
    let body = b"{}".to_vec();
    let keys = example_keys(None);
    let signed = kvs_proto::sigv4::sign_headers(
        kvs_proto::sigv4::RequestToSign {
            method: "POST",
            url: &url,
            headers: &[("content-type", "application/json")],
            body: &body,
        },
        &keys,
        "us-west-2",
        SystemTime::now(),
    )
    .unwrap();
    let mut request = http(svc)
        .post(&url)
        .header("content-type", "application/json")
        .body(body);
    for (k, v) in signed {
        request = request.header(k, v);
    }
    let bytes = request.send().await.unwrap().bytes().await.unwrap();
    let answer: Value = serde_json::from_slice(&bytes).unwrap();
    let mut names: Vec<String> = answer["ChannelInfoList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["ChannelName"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

fn http(svc: &ServiceHandle) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_backend_preconfigured((*svc.client_tls().unwrap()).clone())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_service_passes_every_check_and_the_master_stays_connected() {
    let svc = service(ServiceConfig::default()).await;
    let (master, mut events) = master(&svc, "healthy").await;
    let arn = svc.channel_arn("healthy").unwrap();
    let before = channel_names(&svc).await;
    // What the master reported while connecting.
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(200), events.recv()).await {}

    let run = doctor(&target(&svc, "healthy"), &KEYS).await;
    let marks: BTreeMap<&str, &str> = run
        .findings
        .iter()
        .map(|f| (f["check"].as_str().unwrap(), f["mark"].as_str().unwrap()))
        .collect();
    assert!(marks.values().all(|m| *m == "pass"), "{:#?}", run.findings);
    assert!(run.success, "{}", run.stderr);
    assert!(
        run.figure("credentials")
            .contains("environment (key id AKIA")
    );
    assert!(
        run.figure("webSocket")
            .contains("ConnectAsViewer as viewer kvs-doctor-")
    );
    assert!(run.figure("turn").starts_with("2 of 2 allocated"));
    assert!(run.figure("stun").contains("server-reflexive 127.0.0.1:"));

    // Nothing disturbed: the master is connected, got no message and did not reconnect,
    // and the channel list is what it was.
    assert!(
        svc.is_connected(&arn, None),
        "the master is still connected"
    );
    assert_eq!(master.state(), kvs_client::State::Connected);
    while let Ok(Some(event)) =
        tokio::time::timeout(Duration::from_millis(200), events.recv()).await
    {
        assert!(
            !matches!(
                event,
                kvs_client::Event::Message(_) | kvs_client::Event::StateChanged(_)
            ),
            "the master saw {event:?}"
        );
    }
    assert_eq!(channel_names(&svc).await, before);

    // A channel that does not exist is reported, not created.
    let run = doctor(&target(&svc, "not-there"), &KEYS).await;
    run.fails_only("permissions", "no such channel");
    assert_eq!(channel_names(&svc).await, before, "nothing was created");
    master.close().await;
    svc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_fails_the_signed_call() {
    let svc = service(ServiceConfig::default()).await;
    let run = doctor(
        &target(&svc, "any"),
        &[
            ("AWS_ACCESS_KEY_ID", EXAMPLE_ACCESS_KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", "not-the-secret"),
        ],
    )
    .await;
    run.fails_only("signedCall", "secret access key");
    assert!(
        !serde_json::to_string(&run.findings)
            .unwrap()
            .contains("not-the-secret"),
        "the secret is never printed"
    );
    svc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clock_ten_minutes_off_fails_the_offset_and_the_corrected_call_passes() {
    let svc = service(ServiceConfig::default()).await;
    let (master, _events) = master(&svc, "skewed").await;
    let answer = http(&svc)
        .post(format!("{}/admin/faults/clock-skew", svc.endpoint()))
        .bearer_auth(ADMIN_TOKEN)
        .body(json!({"Seconds": 600}).to_string())
        .send()
        .await
        .unwrap();
    assert!(
        answer.status().is_success(),
        "the test skews the service's clock"
    );
    let run = doctor(&target(&svc, "skewed"), &KEYS).await;
    run.fails_only("clockOffset", "other tool");
    let offset = run.figure("clockOffset");
    assert!(
        offset.starts_with("+59") || offset.starts_with("+60"),
        "{offset}"
    );
    let call = run.figure("signedCall");
    assert!(call.contains("corrected by +"), "{call}");
    for check in ["permissions", "webSocket", "turn"] {
        assert_eq!(run.mark(check), "pass", "{:#?}", run.findings);
    }
    master.close().await;
    svc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_denying_connect_as_viewer_fails_the_permissions() {
    const CAMERA: &str = "AKIADOCTORCAMERA0001";
    const CAMERA_SECRET: &str = "doctor-camera-secret-key-0000000000000000";
    let policy = Policy::parse(&format!(
        r#"{{"Statement": [
            {{"Effect": "Allow", "Principal": "{EXAMPLE_ACCESS_KEY_ID}", "Action": "kinesisvideo:*", "Resource": "*"}},
            {{"Effect": "Allow", "Principal": "{CAMERA}", "Action": "kinesisvideo:*", "Resource": "*"}},
            {{"Effect": "Deny", "Principal": "{CAMERA}", "Action": "kinesisvideo:ConnectAsViewer", "Resource": "*"}}]}}"#
    ))
    .unwrap();
    let svc = service(ServiceConfig {
        credentials: vec![
            ServiceKey::new(EXAMPLE_ACCESS_KEY_ID, EXAMPLE_SECRET_ACCESS_KEY),
            ServiceKey::new(CAMERA, CAMERA_SECRET),
        ],
        policy: Some(policy),
        ..ServiceConfig::default()
    })
    .await;
    let (master, _events) = master(&svc, "guarded").await;
    let run = doctor(
        &target(&svc, "guarded"),
        &[
            ("AWS_ACCESS_KEY_ID", CAMERA),
            ("AWS_SECRET_ACCESS_KEY", CAMERA_SECRET),
        ],
    )
    .await;
    run.fails_only("permissions", "kinesisvideo:ConnectAsViewer");
    assert_eq!(
        run.finding("permissions")["figure"],
        "denied: ConnectAsViewer"
    );
    assert_eq!(run.mark("webSocket"), "skipped");
    assert_eq!(run.mark("turn"), "pass", "GetIceServerConfig is allowed");
    master.close().await;
    svc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_temporary_credentials_fail_the_credentials() {
    let svc = service(ServiceConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("credentials");
    std::fs::write(
        &file,
        format!(
            "CREDENTIALS {EXAMPLE_ACCESS_KEY_ID} 2020-01-01T00:00:00Z {EXAMPLE_SECRET_ACCESS_KEY} old-session-token\n"
        ),
    )
    .unwrap();
    let mut args = target(&svc, "any");
    args.extend(["--c-sdk-credentials-file", file.to_str().unwrap()]);
    let run = doctor(&args, &[]).await;
    run.fails_only("credentials", "expired");
    assert!(run.figure("credentials").contains("C SDK credentials file"));
    assert_eq!(run.mark("signedCall"), "skipped");
    svc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ca_bundle_that_does_not_match_fails_tls() {
    let svc = service(ServiceConfig::default()).await;
    let other = service(ServiceConfig::default()).await;
    let mut args = target(&svc, "any");
    let at = args.iter().position(|a| *a == "--ca-bundle").unwrap();
    args[at + 1] = other.ca_path().unwrap().to_str().unwrap();
    let run = doctor(&args, &KEYS).await;
    run.fails_only("tls", "not signed by a CA in use");
    assert!(
        run.finding("tls")["fix"]
            .as_str()
            .unwrap()
            .contains("--ca-bundle")
    );
    other.shutdown().await;
    svc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_endpoint_fails_tcp() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("https://127.0.0.1:{port}");
    let run = doctor(
        &[
            "--channel",
            "any",
            "--endpoint-url",
            &endpoint,
            "--timeout",
            "1",
        ],
        &KEYS,
    )
    .await;
    run.fails_only("tcp", "nothing listens");
    assert_eq!(run.mark("tls"), "skipped");
    assert_eq!(
        run.mark("offerSize"),
        "pass",
        "checks that need no service run"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_without_turn_fails_the_turn_check() {
    let svc = service(ServiceConfig {
        turn: None,
        ..ServiceConfig::default()
    })
    .await;
    let (master, _events) = master(&svc, "no-turn").await;
    let run = doctor(&target(&svc, "no-turn"), &KEYS).await;
    run.fails_only("turn", "without a relay");
    assert_eq!(run.mark("webSocket"), "pass");
    assert_eq!(
        run.mark("stun"),
        "skipped",
        "no TURN server means no STUN server here"
    );
    master.close().await;
    svc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_port_with_nothing_listening_fails_the_turn_check() {
    let dead = || {
        std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let svc = service(ServiceConfig {
        turn: Some(TurnConfig {
            ports: [0, 0],
            advertised_ports: Some([dead(), dead()]),
        }),
        ..ServiceConfig::default()
    })
    .await;
    let (master, _events) = master(&svc, "dead-turn").await;
    // STUN asked at a port that answers, so that only TURN meets the dead ports.
    let stun = format!("stun:127.0.0.1:{}", svc.turn_ports()[0]);
    let mut args = target(&svc, "dead-turn");
    args.extend(["--stun-url", &stun]);
    let run = doctor(&args, &KEYS).await;
    run.fails_only("turn", "nothing listens there");
    assert!(run.figure("turn").starts_with("0 of 2 allocated"));
    assert_eq!(run.mark("stun"), "pass");
    assert_eq!(run.mark("udp"), "warn");
    master.close().await;
    svc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_trace_level_the_doctor_prints_no_secret_and_no_session_token() {
    const TOKEN: &str = "DOCTORSESSIONTOKEN0123456789";
    let svc = service(ServiceConfig {
        credentials: vec![ServiceKey {
            session_token: Some(TOKEN.into()),
            ..ServiceKey::new(EXAMPLE_ACCESS_KEY_ID, EXAMPLE_SECRET_ACCESS_KEY)
        }],
        ..ServiceConfig::default()
    })
    .await;
    let (master, _events) = {
        let mut options = options(&svc, "traced", ChannelRole::Master);
        options.credentials = Arc::new(example_keys(Some(TOKEN)));
        let (client, events) =
            kvs_client::SignalingClient::<kvs_client::Master>::start(options).unwrap();
        client.connected().await.expect("the master connects");
        (client, events)
    };
    let mut env = KEYS.to_vec();
    env.push(("AWS_SESSION_TOKEN", TOKEN));
    let run = doctor_logging(&target(&svc, "traced"), &env, "trace").await;
    assert_eq!(run.mark("webSocket"), "pass", "{:#?}", run.findings);
    assert!(run.stderr.contains("TRACE"), "trace logs were on");
    let printed = format!(
        "{}{}",
        serde_json::to_string(&run.findings).unwrap(),
        run.stderr
    );
    for secret in [EXAMPLE_SECRET_ACCESS_KEY, TOKEN] {
        let leak = printed.lines().find(|l| l.contains(secret));
        assert!(leak.is_none(), "printed: {leak:?}");
    }
    master.close().await;
    svc.shutdown().await;
}

/// Injects `ErrorType` for the next `count` ConnectAsViewer upgrades through the admin API.
async fn throttle_viewer_connects(svc: &ServiceHandle, count: u32) {
    let answer = http(svc)
        .post(format!("{}/admin/faults/errors", svc.endpoint()))
        .bearer_auth(ADMIN_TOKEN)
        .body(
            json!({
                "ErrorType": "ClientLimitExceededException",
                "Count": count,
                "Target": "ConnectAsViewer",
                "Message": "more than 3 connects per second on this channel; retry with backoff"
            })
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_upgrade_is_tried_again_and_then_only_warns() {
    let svc = service(ServiceConfig::default()).await;
    let (master, _events) = master(&svc, "busy").await;

    // Throttled once: the second try a second later connects.
    throttle_viewer_connects(&svc, 1).await;
    let run = doctor(&target(&svc, "busy"), &KEYS).await;
    assert_eq!(run.mark("webSocket"), "pass", "{:#?}", run.findings);
    assert!(run.success);

    // Throttled twice: a warning naming the connect rate, not a failure, and the
    // permission is reported as not confirmed rather than denied.
    throttle_viewer_connects(&svc, 2).await;
    let run = doctor(&target(&svc, "busy"), &KEYS).await;
    assert_eq!(run.mark("webSocket"), "warn", "{:#?}", run.findings);
    let cause = run.finding("webSocket")["cause"].as_str().unwrap();
    assert!(cause.contains("connect rate"), "{cause}");
    assert_eq!(run.mark("permissions"), "pass");
    assert!(
        run.figure("permissions")
            .contains("ConnectAsViewer not confirmed")
    );
    assert!(run.failed().is_empty() && run.success);
    master.close().await;
    svc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_certificate_names_the_iot_provider_and_its_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let device = kvs_service::issue_device_certificate(dir.path(), "cam-doctor", None).unwrap();
    let svc = kvs_service::start(ServiceConfig {
        listen: ([127, 0, 0, 1], 0).into(),
        state_dir: Some(dir.path().to_owned()),
        iot: Some(kvs_service::IotConfig::default()),
        ..ServiceConfig::default()
    })
    .await
    .unwrap();
    let (master, _events) = master(&svc, "cam").await;
    let ca = device.ca_path.to_str().unwrap();
    let mut args = target(&svc, "cam");
    args.extend([
        "--iot-endpoint",
        svc.iot_endpoint().unwrap(),
        "--iot-role-alias",
        kvs_service::DEFAULT_ROLE_ALIAS,
        "--iot-thing-name",
        "cam-doctor",
        "--iot-cert",
        device.cert_path.to_str().unwrap(),
        "--iot-key",
        device.key_path.to_str().unwrap(),
        "--iot-ca",
        ca,
    ]);
    let run = doctor(&args, &[]).await;
    assert!(
        run.failed().is_empty() && run.success,
        "{:#?}",
        run.findings
    );
    let credentials = run.figure("credentials");
    assert!(
        credentials.starts_with("from IoT credentials provider (key id ")
            && credentials.contains("temporary, 35"),
        "{credentials}"
    );
    assert_eq!(run.mark("webSocket"), "pass");
    master.close().await;
    svc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxies_from_the_environment_are_named_without_their_password() {
    let svc = service(ServiceConfig::default()).await;
    let (master, _events) = master(&svc, "proxied").await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let proxy = format!("http://user:proxy-password@127.0.0.1:{closed}");

    // Excluded by NO_PROXY: direct, and everything passes.
    let mut env = KEYS.to_vec();
    env.extend([("HTTPS_PROXY", proxy.as_str()), ("NO_PROXY", "127.0.0.1")]);
    let run = doctor(&target(&svc, "proxied"), &env).await;
    assert!(run.failed().is_empty(), "{:#?}", run.findings);
    assert!(
        run.figure("proxy")
            .contains("NO_PROXY excludes the endpoint")
    );

    // Applied, and nothing listens there: the proxy check fails, naming it without the
    // password.
    env.pop();
    let run = doctor(&target(&svc, "proxied"), &env).await;
    assert_eq!(run.mark("proxy"), "fail", "{:#?}", run.findings);
    assert!(run.figure("proxy").contains(&format!("127.0.0.1:{closed}")));
    let printed = serde_json::to_string(&run.findings).unwrap();
    assert!(!printed.contains("proxy-password"), "{printed}");
    master.close().await;
    svc.shutdown().await;
}
