//! The web console in a real headless Chromium (Debian's package): its SigV4 signer against
//! the Rust signer's vectors, and the page as a viewer of the Rust master.

#[path = "browser/cdp.rs"]
mod cdp;

use std::sync::Arc;
use std::time::Duration;

use cdp::Browser;
use kvs_client::{
    ChannelRef, ChannelRole, ClientConfig, ClientOptions, Credentials, SignalingClient,
};
use kvs_service::{ServiceConfig, ServiceHandle};
use kvs_webrtc::master::Master;
use kvs_webrtc::{PeerEvent, PeerOptions};

/// The service over plain HTTP on loopback: a secure context for the browser, so WebCrypto
/// works with no certificate set-up.
async fn plain_service() -> ServiceHandle {
    kvs_service::start(ServiceConfig {
        listen: ([127, 0, 0, 1], 0).into(),
        tls: false,
        ..ServiceConfig::default()
    })
    .await
    .expect("the service starts")
}

fn client_options(
    svc: &ServiceHandle,
    channel: &str,
    role: ChannelRole,
    id: &str,
) -> ClientOptions {
    let config = ClientConfig::builder(ChannelRef::Name(channel.into()), "us-west-2", role)
        .endpoint(svc.endpoint())
        .client_id(id)
        .build();
    let keys = Credentials::new(
        kvs_service::EXAMPLE_ACCESS_KEY_ID,
        kvs_service::EXAMPLE_SECRET_ACCESS_KEY,
        None,
        None,
        kvs_proto::STATIC_PROVIDER,
    );
    ClientOptions::new(config, Arc::new(keys))
}

/// A Rust master on `channel` sending the test pattern and echoing data; its events are
/// collected into the returned receiver.
async fn rust_master(
    svc: &ServiceHandle,
    channel: &str,
) -> (Master, tokio::sync::mpsc::Receiver<PeerEvent>) {
    let (session, events) = SignalingClient::<kvs_client::Master>::start(client_options(
        svc,
        channel,
        ChannelRole::Master,
        "",
    ))
    .unwrap();
    session.connected().await.expect("the master connects");
    Master::start(
        session,
        events,
        PeerOptions::new("us-west-2", svc.endpoint()),
        Some(Default::default()),
    )
}

/// Where the screenshots go, for a person to look at.
fn screenshot_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_signer_reproduces_the_rust_signers_vectors_in_chromium() {
    let svc = plain_service().await;
    let mut browser = Browser::start(&[]).await;
    browser
        .open(&format!("{}/console/test.html", svc.endpoint()))
        .await;
    browser
        .wait_for("document.title !== 'running'", Duration::from_secs(30))
        .await;
    let results = browser.eval("JSON.stringify(window.sigv4Results)").await;
    assert_eq!(browser.eval("document.title").await, "pass 6", "{results}");
    svc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_as_viewer_plays_the_rust_masters_video_and_chats_over_its_data_channel() {
    let svc = plain_service().await;
    let (master, mut master_events) = rust_master(&svc, "console").await;
    tokio::spawn(async move { while master_events.recv().await.is_some() {} });
    let mut browser = Browser::start(&["--allow-loopback-in-peer-connection"]).await;
    open_page(&mut browser, &svc, "?channel=console").await;
    assert_eq!(
        browser
            .eval("document.getElementById('access-key').value")
            .await,
        kvs_service::EXAMPLE_ACCESS_KEY_ID,
        "the default key pair is prefilled"
    );
    browser
        .eval("kvsConsole.connect({channel: 'console', role: 'VIEWER', clientId: 'chromium'})")
        .await;
    browser
        .wait_for(
            "kvsConsole.state.framesDecoded > 5",
            Duration::from_secs(30),
        )
        .await;
    let before = browser
        .eval("kvsConsole.state.framesDecoded")
        .await
        .as_u64()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after = browser
        .eval("kvsConsole.state.framesDecoded")
        .await
        .as_u64()
        .unwrap();
    assert!(
        after > before,
        "the video plays: {before} then {after} frames decoded"
    );

    browser.eval("kvsConsole.send('hello from chromium')").await;
    browser
        .wait_for(
            "kvsConsole.state.chat.some(m => m.text === 'hello from chromium')",
            Duration::from_secs(10),
        )
        .await;
    let timeline = browser
        .eval("kvsConsole.state.timeline.map(t => t.text).join('\\n')")
        .await;
    let timeline = timeline.as_str().unwrap();
    for needle in [
        "state  CONNECTED",
        "send   SDP_OFFER",
        "recv   SDP_ANSWER",
        "ICE    connected",
    ] {
        assert!(
            timeline.contains(needle),
            "missing '{needle}' in:\n{timeline}"
        );
    }
    // Credentials stay in the tab: session storage only, nothing in local storage or
    // cookies, and neither the secret nor a signature in the timeline.
    assert_eq!(browser.eval("localStorage.length").await, 0);
    assert_eq!(browser.eval("document.cookie").await, "");
    assert_eq!(
        browser.eval("sessionStorage.getItem('secret-key')").await,
        kvs_service::EXAMPLE_SECRET_ACCESS_KEY
    );
    assert!(!timeline.contains(kvs_service::EXAMPLE_SECRET_ACCESS_KEY));
    assert!(!timeline.contains("X-Amz-Signature"));
    browser
        .screenshot(&screenshot_path("console-viewer.png"))
        .await;
    master.stop().await;
    svc.shutdown().await;
}

/// Opens the console page (with `query`, e.g. `?channel=c`) and waits until it is ready.
async fn open_page(browser: &mut Browser, svc: &ServiceHandle, query: &str) {
    browser.open(&format!("{}/{query}", svc.endpoint())).await;
    browser
        .wait_for(
            "document.body.dataset.ready === '1'",
            Duration::from_secs(10),
        )
        .await;
}

/// Opens the console and connects it with `options` (a JavaScript object literal).
async fn console(browser: &mut Browser, svc: &ServiceHandle, options: &str) {
    open_page(browser, svc, "").await;
    browser
        .eval(&format!("kvsConsole.connect({options})"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_only_in_the_page_plays_through_the_services_turn_server() {
    let svc = plain_service().await;
    let (master, mut master_events) = rust_master(&svc, "relay").await;
    tokio::spawn(async move { while master_events.recv().await.is_some() {} });
    let mut browser = Browser::start(&["--allow-loopback-in-peer-connection"]).await;
    console(
        &mut browser,
        &svc,
        "{channel: 'relay', role: 'VIEWER', relay: true}",
    )
    .await;
    browser
        .wait_for(
            "kvsConsole.state.framesDecoded > 5",
            Duration::from_secs(30),
        )
        .await;
    browser
        .wait_for(
            "kvsConsole.state.selectedPair !== null",
            Duration::from_secs(10),
        )
        .await;
    let pair = browser.eval("kvsConsole.state.selectedPair").await;
    assert_eq!(pair["local"], "relay", "{pair}");
    master.stop().await;
    svc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_as_master_echoes_the_rust_viewers_data_channel() {
    let svc = plain_service().await;
    // The page creates the channel's master; the Rust viewer needs the channel to exist.
    let mut browser = Browser::start(&["--allow-loopback-in-peer-connection"]).await;
    open_page(&mut browser, &svc, "").await;
    browser
        .eval("(async () => { document.getElementById('new-channel').value = 'page-master'; document.getElementById('create').click(); })()")
        .await;
    browser
        .wait_for(
            "kvsConsole.listChannels().then(l => l.some(c => c.ChannelName === 'page-master'))",
            Duration::from_secs(10),
        )
        .await;
    browser
        .eval("kvsConsole.connect({channel: 'page-master', role: 'MASTER'})")
        .await;
    browser
        .wait_for(
            "kvsConsole.state.timeline.some(t => t.text === 'state  CONNECTED')",
            Duration::from_secs(10),
        )
        .await;
    // The Rust viewer is the CLI: `kvs-signaling viewer --webrtc`, a line on stdin.
    let mut viewer = tokio::process::Command::new(env!("CARGO_BIN_EXE_kvs-signaling"))
        .args([
            "viewer",
            "--webrtc",
            "--channel",
            "page-master",
            "--client-id",
            "rust-viewer",
        ])
        .args(["--endpoint-url", svc.endpoint()])
        .env("AWS_ACCESS_KEY_ID", kvs_service::EXAMPLE_ACCESS_KEY_ID)
        .env(
            "AWS_SECRET_ACCESS_KEY",
            kvs_service::EXAMPLE_SECRET_ACCESS_KEY,
        )
        .env("RUST_LOG", "error")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    {
        use tokio::io::AsyncWriteExt;
        let stdin = viewer.stdin.as_mut().unwrap();
        stdin.write_all(b"ping from rust\n").await.unwrap();
    }
    let mut lines =
        tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(viewer.stdout.take().unwrap()));
    let echoed = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            match v["event"].as_str() {
                Some("data") => return v["text"].as_str().unwrap().as_bytes().to_vec(),
                Some("error") => panic!("{v}"),
                _ => {}
            }
        }
        panic!("the viewer ended without a reply");
    })
    .await
    .expect("the page echoes in time");
    assert_eq!(echoed, b"ping from rust");
    drop(viewer.stdin.take());
    let _ = tokio::time::timeout(Duration::from_secs(10), viewer.wait()).await;
    svc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_shows_the_services_signature_error_once() {
    let svc = plain_service().await;
    let mut browser = Browser::start(&[]).await;
    open_page(&mut browser, &svc, "").await;
    browser
        .eval("document.getElementById('secret-key').value = 'not-the-secret'")
        .await;
    browser
        .eval("kvsConsole.connect({channel: 'any', role: 'VIEWER'})")
        .await;
    browser
        .wait_for("kvsConsole.state.error !== null", Duration::from_secs(10))
        .await;
    let shown = browser
        .eval("document.getElementById('status').textContent")
        .await;
    let shown = shown.as_str().unwrap();
    assert!(shown.contains("403 InvalidSignatureException"), "{shown}");
    assert!(shown.to_lowercase().contains("signature"), "{shown}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let attempts = browser
        .eval("kvsConsole.state.timeline.filter(t => t.text === 'state  DESCRIBE').length")
        .await;
    assert_eq!(attempts, 1, "no retry storm");
    let errors = browser
        .eval("kvsConsole.state.timeline.filter(t => t.kind === 'error').length")
        .await;
    assert_eq!(errors, 1);
    svc.shutdown().await;
}

/// Chromium's defaults: host candidates hidden behind mDNS `.local` names and no loopback
/// candidates. The Rust master does not resolve those names (webrtc-rs would need multicast
/// DNS, which this machine's loopback does not carry); the peers connect through Chromium's
/// server-reflexive candidate from the service's STUN server (measured: 4 `.local`
/// candidates, then "host 127.0.0.1 <-> srflx 127.0.0.1").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_chromiums_default_mdns_candidates_the_rust_master_connects_through_the_others() {
    let svc = plain_service().await;
    let (master, mut master_events) = rust_master(&svc, "mdns").await;
    let mut browser = Browser::start(&[]).await;
    console(&mut browser, &svc, "{channel: 'mdns', role: 'VIEWER'}").await;
    let mut mdns_candidates = 0;
    let pair = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match master_events.recv().await.expect("the master runs") {
                PeerEvent::Signaling(kvs_client::Event::Message(m))
                    if String::from_utf8_lossy(&m.payload).contains(".local") =>
                {
                    mdns_candidates += 1;
                }
                PeerEvent::Connected { pair, .. } => return pair.expect("a selected pair"),
                PeerEvent::IceFailed { failure, .. } => panic!("{failure}"),
                _ => {}
            }
        }
    })
    .await
    .expect("the peers connect");
    browser
        .wait_for(
            "kvsConsole.state.framesDecoded > 5",
            Duration::from_secs(30),
        )
        .await;
    eprintln!(
        "Chromium sent {mdns_candidates} mDNS (.local) candidates; the Rust master connected over {pair}"
    );
    assert!(
        mdns_candidates > 0,
        "Chromium's defaults hide host candidates behind mDNS"
    );
    // It connects through Chromium's server-reflexive candidate, which the service's STUN
    // server (the TURN server, answering binding requests) gave it.
    assert!(
        !pair.remote_address.contains(".local"),
        "the pair does not rest on an unresolved .local name: {pair}"
    );
    assert!(
        matches!(
            pair.remote,
            kvs_webrtc::CandidateKind::Srflx | kvs_webrtc::CandidateKind::Prflx
        ),
        "{pair}"
    );
    master.stop().await;
    svc.shutdown().await;
}

/// `demo --browser` prints a URL; Chromium opening it plays the Rust master's test pattern
/// without any certificate set-up. The screenshot is for a person to look at.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_browser_serves_a_page_that_plays_the_test_pattern() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut demo = tokio::process::Command::new(env!("CARGO_BIN_EXE_kvs-signaling"))
        .args(["demo", "--browser"])
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(demo.stdout.take().unwrap()).lines();
    let url = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(url) = line.strip_prefix("open: ") {
                return url.to_owned();
            }
        }
        panic!("the demo ended without a URL");
    })
    .await
    .unwrap();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let mut browser = Browser::start(&["--allow-loopback-in-peer-connection"]).await;
    browser.open(&url).await;
    browser
        .wait_for(
            "window.kvsConsole && kvsConsole.state.framesDecoded > 20",
            Duration::from_secs(30),
        )
        .await;
    browser
        .screenshot(&screenshot_path("demo-browser.png"))
        .await;
}

/// Over the service's own TLS, once the browser trusts its CA (added to Chromium's NSS store
/// with `certutil`, as `serve` tells a person to): the page loads and signs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_services_tls_once_chromium_trusts_its_ca() {
    let svc = kvs_service::start(ServiceConfig {
        listen: ([127, 0, 0, 1], 0).into(),
        ..ServiceConfig::default()
    })
    .await
    .unwrap();
    assert!(svc.endpoint().starts_with("https://"));
    let home = tempfile::tempdir().unwrap();
    let nssdb = home.path().join(".pki/nssdb");
    std::fs::create_dir_all(&nssdb).unwrap();
    let ca = home.path().join("ca.pem");
    std::fs::write(&ca, svc.ca_pem().unwrap()).unwrap();
    let db = format!("sql:{}", nssdb.display());
    for args in [
        vec!["-N", "-d", &db, "--empty-password"],
        vec![
            "-A",
            "-d",
            &db,
            "-t",
            "C,,",
            "-n",
            "kvs-signaling",
            "-i",
            ca.to_str().unwrap(),
        ],
    ] {
        let status = std::process::Command::new("certutil")
            .args(&args)
            .status()
            .unwrap();
        assert!(status.success(), "certutil {args:?}");
    }
    let mut browser = Browser::start_in(&[], Some(home.path())).await;
    browser
        .open(&format!("{}/console/test.html", svc.endpoint()))
        .await;
    browser
        .wait_for("document.title !== 'running'", Duration::from_secs(30))
        .await;
    assert_eq!(browser.eval("document.title").await, "pass 6");
    assert_eq!(browser.eval("location.protocol").await, "https:");
    svc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_lists_creates_and_deletes_channels() {
    let svc = plain_service().await;
    let mut browser = Browser::start(&[]).await;
    open_page(&mut browser, &svc, "").await;
    let names = "Array.from(document.querySelectorAll('#channels li a')).map(a => a.textContent)";
    for name in ["first", "second"] {
        browser
            .eval(&format!(
                "document.getElementById('new-channel').value = '{name}'; document.getElementById('create').click()"
            ))
            .await;
        browser
            .wait_for(
                &format!("{names}.includes('{name}')"),
                Duration::from_secs(10),
            )
            .await;
    }
    // Delete "first" with its button; the list is fetched again and "second" remains.
    browser
        .eval("Array.from(document.querySelectorAll('#channels li')).find(li => li.querySelector('a').textContent === 'first').querySelector('button').click()")
        .await;
    browser
        .wait_for(
            &format!("!{names}.includes('first')"),
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(browser.eval(names).await, serde_json::json!(["second"]));
    svc.shutdown().await;
}

/// `demo --browser --open` hands the URL to the system's opener (`xdg-open` on Linux); a
/// stand-in on PATH records what it was given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_browser_open_hands_the_url_to_the_system_browser() {
    use std::os::unix::fs::PermissionsExt;
    use tokio::io::{AsyncBufReadExt, BufReader};
    let bin = tempfile::tempdir().unwrap();
    let record = bin.path().join("opened");
    let opener = bin.path().join("xdg-open");
    std::fs::write(
        &opener,
        format!("#!/bin/sh\necho \"$1\" > {}\n", record.display()),
    )
    .unwrap();
    std::fs::set_permissions(&opener, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut demo = tokio::process::Command::new(env!("CARGO_BIN_EXE_kvs-signaling"))
        .args(["demo", "--browser", "--open"])
        .env("PATH", path)
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(demo.stdout.take().unwrap()).lines();
    let (mut url, mut said) = (String::new(), String::new());
    tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(u) = line.strip_prefix("open: ") {
                url = u.to_owned();
            }
            if line.contains("opened the page with") {
                said = line;
                return;
            }
        }
    })
    .await
    .expect("the demo says it opened the page");
    assert!(said.contains("xdg-open"), "{said}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !record.exists() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(std::fs::read_to_string(&record).unwrap().trim(), url);
}

/// "Diagnose" runs the doctor's checks a browser can run itself (a signed call and the clock
/// offset, STUN and TURN through Chromium's ICE agent) and words them as the command does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diagnose_runs_the_doctors_browser_checks_with_the_same_wording() {
    use kvs_proto::doctor;
    let svc = plain_service().await;
    let (master, mut master_events) = rust_master(&svc, "diagnosed").await;
    tokio::spawn(async move { while master_events.recv().await.is_some() {} });
    let mut browser = Browser::start(&["--allow-loopback-in-peer-connection"]).await;
    open_page(&mut browser, &svc, "?channel=diagnosed").await;
    browser
        .eval("document.getElementById('diagnose').click()")
        .await;
    browser
        .wait_for(
            "kvsConsole.state.diagnosis !== null",
            Duration::from_secs(30),
        )
        .await;
    let findings = browser.eval("kvsConsole.state.diagnosis").await;
    let by_check = |check: &str| {
        findings
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["check"] == check)
            .unwrap_or_else(|| panic!("no {check} in {findings:#}"))
            .clone()
    };
    for check in ["clockOffset", "signedCall", "stun", "turn", "udp"] {
        assert_eq!(by_check(check)["mark"], "pass", "{findings:#}");
    }
    let turn = by_check("turn");
    assert!(
        turn["figure"]
            .as_str()
            .unwrap()
            .starts_with("2 of 2 allocated"),
        "{turn}"
    );
    let line = by_check("clockOffset")["line"].as_str().unwrap().to_owned();
    assert!(
        line.starts_with(&format!(
            "✔ authentication {}: ",
            doctor::Check::ClockOffset.title()
        )),
        "{line}"
    );
    let shown = browser
        .eval("document.getElementById('diagnosis').textContent")
        .await;
    assert!(
        shown.as_str().unwrap().contains(&line),
        "the page shows the lines"
    );

    // A wrong secret: the signed call fails with the command's cause, and what needs it is
    // skipped.
    browser
        .eval("document.getElementById('secret-key').value = 'not-the-secret'")
        .await;
    browser
        .eval("kvsConsole.diagnose({channel: 'diagnosed'})")
        .await;
    browser
        .wait_for(
            "kvsConsole.state.diagnosis !== null",
            Duration::from_secs(30),
        )
        .await;
    let findings = browser.eval("kvsConsole.state.diagnosis").await;
    let call = findings
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "signedCall")
        .unwrap();
    assert_eq!(call["mark"], "fail", "{findings:#}");
    let (cause, fix) = doctor::signed_call_refused(
        Some(kvs_proto::api::ErrorCode::InvalidSignature),
        false,
        kvs_service::EXAMPLE_ACCESS_KEY_ID,
        "us-west-2",
    );
    assert_eq!(call["cause"], cause.as_str());
    assert_eq!(call["fix"], fix.as_str());
    let marks: Vec<&str> = findings
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["mark"].as_str().unwrap())
        .collect();
    assert_eq!(marks, ["pass", "fail", "skipped", "skipped", "skipped"]);
    browser
        .screenshot(&screenshot_path("console-diagnose.png"))
        .await;
    master.stop().await;
    svc.shutdown().await;
}
