//! The `kvs-signaling` binary as other tools script it: `serve`, then `master` and `viewer`
//! pipes speaking JSON lines.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

const BIN: &str = env!("CARGO_BIN_EXE_kvs-signaling");

struct Proc {
    child: Child,
    out: Lines<BufReader<ChildStdout>>,
}

impl Proc {
    fn spawn(args: &[&str]) -> Self {
        Self::spawn_with_env(args, &[])
    }

    fn spawn_with_env(args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(BIN)
            .args(args)
            .env("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
            .env(
                "AWS_SECRET_ACCESS_KEY",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            )
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("AWS_ENDPOINT_URL_KINESIS_VIDEO")
            .env_remove("AWS_CA_BUNDLE")
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("the binary runs");
        let out = BufReader::new(child.stdout.take().unwrap()).lines();
        Self { child, out }
    }

    async fn line(&mut self) -> String {
        tokio::time::timeout(Duration::from_secs(30), self.out.next_line())
            .await
            .expect("a line within 30 s")
            .unwrap()
            .expect("the process is still writing")
    }

    /// The first JSON event line for which `f` holds.
    async fn event(&mut self, f: impl Fn(&Value) -> bool) -> Value {
        loop {
            let line = self.line().await;
            let value: Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            if f(&value) {
                return value;
            }
        }
    }

    async fn send(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(line.as_bytes()).await.unwrap();
        stdin.write_all(b"\n").await.unwrap();
        stdin.flush().await.unwrap();
    }

    async fn close_stdin_and_wait(mut self) -> std::process::ExitStatus {
        drop(self.child.stdin.take());
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .unwrap()
            .unwrap()
    }
}

async fn serve(state_dir: &Path) -> (Proc, String, String) {
    serve_with(state_dir, &[], &[]).await
}

/// `serve` on a free port with more arguments and environment; returns it, its endpoint and
/// its CA path.
async fn serve_with(
    state_dir: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (Proc, String, String) {
    let mut args = vec![
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--state-dir",
        state_dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let mut serve = Proc::spawn_with_env(&args, env);
    let endpoint = serve
        .line()
        .await
        .strip_prefix("endpoint: ")
        .expect("endpoint line first")
        .to_owned();
    let ca = serve
        .line()
        .await
        .strip_prefix("ca: ")
        .expect("ca line second")
        .to_owned();
    (serve, endpoint, ca)
}

fn connected(v: &Value) -> bool {
    v == &json!({"event": "state", "state": "CONNECTED"})
}

#[tokio::test]
async fn serve_then_master_and_viewer_pipes_exchange_messages() {
    let dir = tempfile::tempdir().unwrap();
    let (_serve, endpoint, ca) = serve(dir.path()).await;
    assert!(endpoint.starts_with("https://127.0.0.1:"), "{endpoint}");
    assert!(Path::new(&ca).exists());

    let common = [
        "--channel",
        "cli-channel",
        "--endpoint-url",
        &endpoint,
        "--ca-bundle",
        &ca,
    ];
    let mut master = Proc::spawn(&[&["master"], &common[..]].concat());
    master.event(connected).await;
    // The viewer finds the endpoint and the CA through the standard AWS variables instead.
    let mut viewer = Proc::spawn_with_env(
        &[
            "viewer",
            "--client-id",
            "v1",
            "--channel",
            "cli-channel",
            "--metrics",
        ],
        &[
            ("AWS_ENDPOINT_URL_KINESIS_VIDEO", endpoint.as_str()),
            ("AWS_CA_BUNDLE", ca.as_str()),
        ],
    );
    viewer.event(connected).await;

    viewer.send("this is not json").await;
    let err = viewer.event(|v| v["event"] == "error").await;
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("unreadable stdin line"),
        "{err}"
    );

    let offer = json!({"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"});
    viewer
        .send(&json!({"action": "SDP_OFFER", "correlationId": "c1", "payload": offer}).to_string())
        .await;
    let got = master.event(|v| v["event"] == "message").await;
    assert_eq!(
        got,
        json!({"event": "message", "type": "SDP_OFFER", "senderClientId": "v1", "correlationId": null, "payload": offer})
    );

    let answer = json!({"type": "answer", "sdp": "v=0\r\n"});
    master.send(&json!({"action": "SDP_ANSWER", "recipientClientId": "v1", "correlationId": "c2", "payload": answer}).to_string()).await;
    let got = viewer.event(|v| v["event"] == "message").await;
    assert_eq!(got["type"], "SDP_ANSWER");
    assert_eq!(got["senderClientId"], Value::Null);
    assert_eq!(got["payload"], answer);

    master.send(&json!({"action": "ICE_CANDIDATE", "recipientClientId": "ghost", "correlationId": "c3", "payload": {"candidate": ""}}).to_string()).await;
    let status = master.event(|v| v["event"] == "status").await;
    assert_eq!(status["correlationId"], "c3");
    assert_eq!(status["statusCode"], "400");

    drop(viewer.child.stdin.take());
    let metrics = viewer.event(|v| v["event"] == "metrics").await;
    let m = &metrics["metrics"];
    assert_eq!(m["messagesSent"], 1, "{metrics}");
    assert_eq!(m["messagesReceived"], 1, "{metrics}");
    assert_eq!(m["apiCalls"]["GetIceServerConfig"]["count"], 1, "{metrics}");
    assert!(viewer.close_stdin_and_wait().await.success());
    assert!(master.close_stdin_and_wait().await.success());
}

#[tokio::test]
async fn serve_keeps_its_ca_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let (first, _, ca) = serve(dir.path()).await;
    let pem = std::fs::read(&ca).unwrap();
    drop(first);
    let (_second, _, ca_again) = serve(dir.path()).await;
    assert_eq!(ca, ca_again);
    assert_eq!(std::fs::read(&ca_again).unwrap(), pem);
}

/// Runs the binary to completion (within 2 minutes); fails unless it exits 0. Returns stdout.
async fn run_ok(args: &[&str]) -> String {
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        Command::new(BIN).args(args).output(),
    )
    .await
    .expect("finished within 2 minutes")
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[tokio::test]
async fn demo_goes_from_signaling_to_video_over_a_direct_pair() {
    let text = run_ok(&["demo"]).await;
    for needle in [
        "master  signaling CONNECTED",
        "viewer  signaling CONNECTED",
        "master  recv   SDP_OFFER from demo-viewer",
        "viewer  recv   SDP_ANSWER from master",
        "viewer  ICE connected",
        "(direct pair)",
        "viewer  data channel 'kvsDataChannel' open",
        "viewer  data   'ping'",
        "viewer  video  key frame",
        "first video frame",
        "ok:",
    ] {
        assert!(text.contains(needle), "missing '{needle}' in:\n{text}");
    }
    assert!(!text.contains("relay pair"), "{text}");
}

#[tokio::test]
async fn demo_relay_goes_through_the_services_turn_server() {
    let text = run_ok(&["demo", "--relay"]).await;
    for needle in [
        "(relay pair)",
        "selected pair: relay ",
        "through the service's TURN server",
        "ok:",
    ] {
        assert!(text.contains(needle), "missing '{needle}' in:\n{text}");
    }
}

/// `demo --iot`: the master's credentials come from the service's IoT endpoint, bought with
/// a device certificate the service issued; a role alias the endpoint does not serve stops the
/// demo with the endpoint's refusal, named.
#[tokio::test]
async fn demo_iot_signs_the_master_with_credentials_from_a_device_certificate() {
    let text = run_ok(&["demo", "--iot"]).await;
    for needle in [
        "service IoT credentials endpoint on https://",
        "service issued a device certificate for thing demo-camera",
        "master  signs with temporary credentials from the IoT endpoint",
        "master  signaling CONNECTED",
        "viewer  video  key frame",
        "ok:",
    ] {
        assert!(text.contains(needle), "missing '{needle}' in:\n{text}");
    }
    let out = Command::new(BIN)
        .args(["demo", "--iot-role-alias", "no-such-alias"])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the role alias \"no-such-alias\" does not exist"),
        "{err}"
    );
}

/// `demo --split`: the host process is started by the coprocessor's wake hook when the
/// viewer's offer comes, gets the held messages after READY, and answers through the
/// coprocessor over the paced pseudo-terminal pair; the viewer gets video and its data
/// channel's reply. No TURN credential appears in the output.
#[tokio::test]
async fn demo_split_wakes_the_host_which_answers_through_the_coprocessor() {
    let text = run_ok(&["demo", "--split"]).await;
    for needle in [
        "co      signaling CONNECTED",
        "co      held   SDP_OFFER for the sleeping host (1 held)",
        "co      wake   the host",
        "host    woken: starting the host process",
        "held message(s) forwarded",
        "host    recv   SDP_OFFER from demo-viewer",
        "co      from host SDP_ANSWER -> viewer",
        "viewer  recv   SDP_ANSWER from master",
        "viewer  data   'ping'",
        "viewer  video  key frame",
        "ok: split mode",
    ] {
        assert!(text.contains(needle), "missing '{needle}' in:\n{text}");
    }
    assert!(!text.contains("Password"), "{text}");
}

/// `coprocessor` and `host` as two processes over TCP (the development transport): the
/// host's pipe shows the coprocessor's signaling state and the viewer's offer, and its
/// answer, a stdin line, reaches the viewer through the coprocessor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coprocessor_and_host_pipes_relay_an_offer_and_an_answer() {
    let dir = tempfile::tempdir().unwrap();
    let (_serve, endpoint, ca) = serve(dir.path()).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let link = format!("127.0.0.1:{port}");
    let channel = [
        "--channel",
        "split-cli",
        "--endpoint-url",
        &endpoint,
        "--ca-bundle",
        &ca,
    ];
    let mut co = Proc::spawn(&[&["coprocessor", "--tcp", &link][..], &channel[..]].concat());
    co.event(|v| v["event"] == "state" && v["state"] == "CONNECTED")
        .await;
    let mut host = Proc::spawn(&["host", "--tcp", &link]);
    co.event(|v| v["event"] == "hostReady").await;
    host.event(|v| v["event"] == "state" && v["state"] == "CONNECTED")
        .await;

    let mut viewer = Proc::spawn(&[&["viewer", "--client-id", "v7"][..], &channel[..]].concat());
    viewer.event(connected).await;
    let offer = json!({"type": "offer", "sdp": "v=0\r\n"});
    viewer
        .send(&json!({"action": "SDP_OFFER", "payload": offer}).to_string())
        .await;
    let got = host.event(|v| v["event"] == "message").await;
    assert_eq!(got["type"], "SDP_OFFER");
    assert_eq!(got["senderClientId"], "v7");
    assert_eq!(got["payload"], offer);
    let answer = json!({"type": "answer", "sdp": "v=0\r\n"});
    host.send(
        &json!({"action": "SDP_ANSWER", "recipientClientId": "v7", "payload": answer}).to_string(),
    )
    .await;
    let got = viewer.event(|v| v["event"] == "message").await;
    assert_eq!(got["type"], "SDP_ANSWER");
    assert_eq!(got["payload"], answer);
    co.event(|v| v["event"] == "relayed" && v["type"] == "SDP_ANSWER")
        .await;
}

/// `master --webrtc` with a video file, two `viewer --webrtc` processes: lines echo back,
/// the saved video is the file's frames, and a viewer killed with SIGKILL is freed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webrtc_pipes_echo_lines_save_video_and_free_a_killed_viewer() {
    let dir = tempfile::tempdir().unwrap();
    let (_serve, endpoint, ca) = serve(dir.path()).await;
    let video = dir.path().join("in.h264");
    // A tiny Annex-B stream: SPS, PPS, an IDR slice, then two P slices, each its own frame.
    let frames: [&[u8]; 3] = [
        &[
            0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1f, 0xda, 0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80, 0, 0, 0,
            1, 0x65, 0x88, 0x84, 0x21,
        ],
        &[0, 0, 0, 1, 0x41, 0x9a, 0x02, 0x04],
        &[0, 0, 0, 1, 0x41, 0x9a, 0x04, 0x08],
    ];
    std::fs::write(&video, frames.concat()).unwrap();
    let common = [
        "--channel",
        "rtc",
        "--endpoint-url",
        &endpoint,
        "--ca-bundle",
        &ca,
        "--webrtc",
    ];
    let mut master_args = vec!["master", "--video", video.to_str().unwrap(), "--fps", "50"];
    master_args.extend_from_slice(&common);
    let mut master = Proc::spawn_with_env(&master_args, &[("RUST_LOG", "error")]);
    master.event(connected).await;

    let saved = dir.path().join("out.h264");
    let mut viewer_args = vec![
        "viewer",
        "--client-id",
        "v1",
        "--save",
        saved.to_str().unwrap(),
    ];
    viewer_args.extend_from_slice(&common);
    let mut viewer = Proc::spawn_with_env(&viewer_args, &[("RUST_LOG", "error")]);
    let mut doomed_args = vec!["viewer", "--client-id", "doomed"];
    doomed_args.extend_from_slice(&common);
    let mut doomed = Proc::spawn_with_env(&doomed_args, &[("RUST_LOG", "error")]);
    doomed.event(|v| v["event"] == "dataChannelOpen").await;

    let pair = viewer.event(|v| v["event"] == "peerConnected").await;
    assert_eq!(pair["selectedPair"]["local"], "host", "{pair}");
    assert_eq!(pair["relayed"], false, "{pair}");
    viewer.send("first line").await;
    viewer.send("second line").await;
    let reply = viewer.event(|v| v["event"] == "data").await;
    assert_eq!(reply["text"], "first line");
    let reply = viewer.event(|v| v["event"] == "data").await;
    assert_eq!(reply["text"], "second line");
    let video_line = viewer
        .event(|v| v["event"] == "video" && v["frames"].as_u64() >= Some(6))
        .await;
    assert!(video_line["keyFrames"].as_u64() >= Some(2), "{video_line}");
    assert!(viewer.close_stdin_and_wait().await.success());
    let got = std::fs::read(&saved).unwrap();
    let expected: Vec<u8> = frames
        .iter()
        .cycle()
        .take(6)
        .flat_map(|f| f.to_vec())
        .collect();
    assert_eq!(
        &got[..expected.len()],
        expected.as_slice(),
        "the saved video starts with the file's frames, looped"
    );

    master
        .event(|v| v["event"] == "peers" && v["live"] == 2)
        .await;
    doomed.child.start_kill().unwrap();
    let _ = doomed.child.wait().await;
    // v1 left cleanly (closed), the doomed one is found gone through ICE consent.
    master
        .event(|v| v["event"] == "peerClosed" && v["peer"] == "doomed")
        .await;
    master
        .event(|v| v["event"] == "peers" && v["live"] == 0)
        .await;
}

#[tokio::test]
async fn wrong_secret_exits_non_zero_naming_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let (_serve, endpoint, ca) = serve(dir.path()).await;
    // stdin stays open: the pipe must end on its own because of the error, not because of EOF.
    let mut child = Command::new(BIN)
        .args([
            "master",
            "--channel",
            "x",
            "--endpoint-url",
            &endpoint,
            "--ca-bundle",
            &ca,
        ])
        .env("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "wrong")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let _stdin = child.stdin.take(); // wait_with_output would close it
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(r#""event":"error""#) && stdout.contains("signature rejected"),
        "{stdout}"
    );
}

#[tokio::test]
async fn serve_help_documents_every_option() {
    let out = Command::new(BIN)
        .args(["serve", "--help"])
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--listen",
        "--region",
        "--state-dir",
        "--access-key-id",
        "--secret-access-key",
        "--credentials-file",
        "--policy-file",
        "--no-rate-limits",
        "--turn-ports",
        "--no-turn",
        "--admin-token",
        "--handshake-timeout",
        "--write-timeout",
        "--path-prefix",
        "--plain",
        "--idle-timeout",
        "--max-connection-duration",
        "--go-away-grace",
        "--reconnect-ice-server-after",
        "--secret-access-key-file",
        "--admin-token-file",
    ] {
        assert!(
            help.contains(flag),
            "serve --help does not mention {flag}:\n{help}"
        );
    }
}

#[tokio::test]
async fn serve_takes_keys_from_a_credentials_file_and_enforces_a_policy() {
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("credentials");
    std::fs::write(
        &creds,
        "[camera]\naws_access_key_id = AKIDCLICAMERA\naws_secret_access_key = cli-secret\n",
    )
    .unwrap();
    let policy = dir.path().join("policy.json");
    std::fs::write(
        &policy,
        r#"{"Statement": [{"Effect": "Allow", "Principal": "AKIDCLICAMERA", "Action": "kinesisvideo:*",
            "Resource": "arn:aws:kinesisvideo:*:*:channel/allowed-*"}]}"#,
    )
    .unwrap();
    let state = dir.path().join("state");
    let (_serve, endpoint, ca) = serve_with(
        &state,
        &[
            "--credentials-file",
            creds.to_str().unwrap(),
            "--policy-file",
            policy.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    let keys = [
        ("AWS_ACCESS_KEY_ID", "AKIDCLICAMERA"),
        ("AWS_SECRET_ACCESS_KEY", "cli-secret"),
    ];
    let args = |channel: &'static str| {
        vec![
            "master".to_owned(),
            "--channel".into(),
            channel.into(),
            "--endpoint-url".into(),
            endpoint.clone(),
            "--ca-bundle".into(),
            ca.clone(),
        ]
    };
    let allowed = args("allowed-1");
    let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
    let mut master = Proc::spawn_with_env(&allowed, &keys);
    master.event(connected).await;
    assert!(master.close_stdin_and_wait().await.success());

    let denied = args("elsewhere");
    let denied: Vec<&str> = denied.iter().map(String::as_str).collect();
    let mut master = Proc::spawn_with_env(&denied, &keys);
    let error = master.event(|v| v["event"] == "error").await;
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("not authorized"),
        "{error}"
    );
}

#[tokio::test]
async fn the_load_generator_reports_against_its_floor() {
    let text = run_ok(&[
        "load",
        "--connections",
        "110",
        "--lanes",
        "2",
        "--seconds",
        "1",
    ])
    .await;
    assert!(text.contains("service: 110 held"), "{text}");
    assert!(text.contains("floor: 110 held"), "{text}");
    for section in [
        "(a) idle",
        "(b) relay throughput",
        "(c) one-way latency",
        "p99",
    ] {
        assert!(text.contains(section), "missing {section} in:\n{text}");
    }
    assert_eq!(text.matches("ratio").count(), 4, "{text}");
}

/// The README's recommended way: the secret key from the environment and the admin token
/// from a file, so neither shows in the process list.
#[tokio::test]
async fn serve_takes_its_secret_key_from_the_environment_and_the_admin_token_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("admin-token");
    std::fs::write(&token, "token-from-file\n").unwrap();
    let state = dir.path().join("state");
    let (_serve, endpoint, ca) = serve_with(
        &state,
        &["--admin-token-file", token.to_str().unwrap()],
        &[
            ("KVS_ACCESS_KEY_ID", "AKIDFROMENV"),
            ("KVS_SECRET_ACCESS_KEY", "secret-from-env"),
        ],
    )
    .await;
    let mut master = Proc::spawn_with_env(
        &[
            "master",
            "--channel",
            "env-keys",
            "--endpoint-url",
            &endpoint,
            "--ca-bundle",
            &ca,
        ],
        &[
            ("AWS_ACCESS_KEY_ID", "AKIDFROMENV"),
            ("AWS_SECRET_ACCESS_KEY", "secret-from-env"),
        ],
    );
    master.event(connected).await;
    assert!(master.close_stdin_and_wait().await.success());
    let tls = kvs_service::client_tls_config(&std::fs::read(&ca).unwrap()).unwrap();
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured((*tls).clone())
        .build()
        .unwrap();
    let status = |token: &'static str| {
        http.get(format!("{endpoint}/admin/connections"))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(status("token-from-file").await.unwrap().status(), 200);
    assert_eq!(status("wrong").await.unwrap().status(), 401);
}
