//! The web console in a real headless Chromium (Debian's package): its SigV4 signer against
//! the Rust signer's vectors, and the page as a viewer of the Rust master.

#[path = "browser/cdp.rs"]
mod cdp;

use std::sync::Arc;
use std::time::Duration;

use cdp::Browser;
use kvs_client::{
    ChannelRef, ChannelRole, ClientConfig, ClientOptions, Credentials, SignalingClient,
    StaticProvider,
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
    );
    ClientOptions::new(config, Arc::new(StaticProvider::new(keys)))
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
    browser
        .open(&format!("{}/?channel=console", svc.endpoint()))
        .await;
    browser
        .wait_for(
            "document.body.dataset.ready === '1'",
            Duration::from_secs(10),
        )
        .await;
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
    browser
        .screenshot(&screenshot_path("console-viewer.png"))
        .await;
    master.stop().await;
    svc.shutdown().await;
}
