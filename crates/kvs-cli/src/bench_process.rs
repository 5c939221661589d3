//! The benchmark's "new process → CONNECTED": `kvs-signaling viewer` started as a child
//! process against the in-process service, timed from spawn to its CONNECTED line. What it
//! adds over an in-process connect is process start-up: loading, the runtime, and the crypto
//! provider's first use (docs/ARCHITECTURE.md, "Crypto provider").

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use kvs_service::{EXAMPLE_ACCESS_KEY_ID, EXAMPLE_SECRET_ACCESS_KEY, ServiceHandle};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// Spawns a viewer of `channel` with client id `client_id`, trusting the CA in `ca`, and
/// returns how long it took from spawn to the `CONNECTED` state line on its stdout.
pub async fn connect_in_new_process(
    svc: &ServiceHandle,
    ca: &Path,
    channel: &str,
    client_id: &str,
) -> anyhow::Result<Duration> {
    let exe = std::env::current_exe().context("cannot find our own executable")?;
    let start = Instant::now();
    let mut child = Command::new(exe)
        .args(["viewer", "--channel", channel, "--client-id", client_id])
        .arg("--endpoint-url")
        .arg(svc.endpoint())
        .arg("--ca-bundle")
        .arg(ca)
        .args(["--region", crate::LOCAL_REGION])
        .env("AWS_ACCESS_KEY_ID", EXAMPLE_ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", EXAMPLE_SECRET_ACCESS_KEY)
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start the viewer process")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let took = loop {
        match lines.next_line().await? {
            Some(line) if line.contains(r#""state":"CONNECTED""#) => break start.elapsed(),
            Some(_) => {}
            None => bail!("the viewer process exited before CONNECTED"),
        }
    };
    drop(child.stdin.take()); // end of stdin: the viewer disconnects and exits
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .context("the viewer process did not exit after its stdin closed")??;
    if !status.success() {
        bail!("the viewer process failed: {status}");
    }
    Ok(took)
}
