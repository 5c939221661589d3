//! Real C programs, compiled with `cc` against the static library and the committed header,
//! run against the local service: the seed's example completed into a master (seed layer),
//! talking to our Rust viewer and to a C viewer written against the upstream layer; and the
//! C viewer's create/connect/exchange/free cycle under valgrind.

mod common;

use std::io::Write;
use std::process::Command;
use std::time::Duration;

use common::{Service, compile, scratch, start_master, stop_master};
use kvs_client::{Event, MessageType, SignalingClient, Viewer};

/// Our Rust viewer: offer → answer, candidate → the same candidate back.
fn rust_viewer_exchange(svc: &Service, channel: &str) {
    svc.runtime.block_on(async {
        let options = svc.options(channel, kvs_client::ChannelRole::Viewer, "rust-viewer");
        let (viewer, mut events) = SignalingClient::<Viewer>::start(options).unwrap();
        tokio::time::timeout(Duration::from_secs(30), viewer.connected()).await.unwrap().unwrap();
        let mut next = async |want: MessageType| {
            tokio::time::timeout(Duration::from_secs(30), async {
                loop {
                    if let Some(Event::Message(m)) = events.recv().await
                        && m.message_type == want
                    {
                        return m;
                    }
                }
            })
            .await
            .expect("the C master answered")
        };
        viewer.send_offer(&kvs_client::ToMaster, br#"{"type":"offer","sdp":"v=0\r\n"}"#.to_vec()).await.unwrap();
        let answer = next(MessageType::SdpAnswer).await;
        assert!(String::from_utf8_lossy(&answer.payload).contains("seed-master"));
        let candidate = br#"{"candidate":"candidate:7 1 udp 1 10.1.1.1 4000 typ host","sdpMid":"0","sdpMLineIndex":0}"#;
        viewer.send_ice_candidate(&kvs_client::ToMaster, candidate.to_vec()).await.unwrap();
        let echoed = next(MessageType::IceCandidate).await;
        assert_eq!(echoed.payload, candidate.to_vec(), "the candidate comes back byte for byte");
        viewer.close().await;
    });
}

#[test]
fn the_seed_example_master_serves_a_rust_viewer_and_an_upstream_c_viewer() {
    let dir = scratch("programs");
    let svc = Service::start(&dir, true);
    let master = compile("seed_master", &dir);
    let viewer = compile("upstream_viewer", &dir);
    let (child, out) = start_master(&master, &svc, "c-api");

    rust_viewer_exchange(&svc, "c-api");

    let run = Command::new(&viewer)
        .envs(svc.env("c-api"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "the C viewer failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stdout.contains("answer received") && stdout.contains("candidate echoed"),
        "{stdout}"
    );
    assert!(stdout.contains("state Connected"), "{stdout}");
    assert!(
        stdout.contains("ice servers 2") && stdout.contains("ice uri turn:"),
        "the service's two TURN servers are listed:\n{stdout}"
    );

    let rest = stop_master(child, out);
    assert!(
        rest.contains("answered 2 echoed 2 errors 0 handle 0"),
        "{rest}"
    );
    assert!(
        rest.contains("metrics 0x00000000 received 4 sent 4"),
        "{rest}"
    );
}

#[test]
fn valgrind_finds_no_leak_and_no_invalid_access_in_a_viewer_cycle() {
    let dir = scratch("valgrind");
    let svc = Service::start(&dir, false);
    let master = compile("seed_master", &dir);
    let viewer = compile("upstream_viewer", &dir);
    let (child, out) = start_master(&master, &svc, "valgrind");

    let run = Command::new("valgrind")
        .args([
            "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect",
            "--error-exitcode=99",
            "--quiet",
            concat!(
                "--suppressions=",
                env!("CARGO_MANIFEST_DIR"),
                "/tests/valgrind.supp"
            ),
        ])
        .arg(&viewer)
        .envs(svc.env("valgrind"))
        .env("KVS_CLIENT_ID", "valgrind-viewer")
        .output()
        .expect("valgrind runs (scripts/test.sh installs it when missing)");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "valgrind reported errors (exit {:?}):\n{stdout}\n{stderr}",
        run.status.code()
    );
    assert!(
        stdout.contains("candidate echoed"),
        "the cycle completed under valgrind:\n{stdout}"
    );
    assert!(
        stdout.contains("ice servers 0"),
        "no TURN configured, so 0 at once:\n{stdout}"
    );
    let mut child_stdin_closed = stop_master(child, out);
    child_stdin_closed.retain(|c| c != '\r');
    assert!(
        child_stdin_closed.contains("answered 1 echoed 1 errors 0"),
        "{child_stdin_closed}"
    );
    let _ = std::io::stdout().flush();
}
