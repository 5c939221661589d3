//! The servers under load run as child processes of the load generator, so their memory is
//! measured apart from the generator's and they get their own runtime.

use std::path::PathBuf;
use std::process::Stdio;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A server child process and what it printed about itself.
pub struct Server {
    pub child: Child,
    /// `https://127.0.0.1:PORT` (the service) or `wss://127.0.0.1:PORT` (the floor).
    pub endpoint: String,
    /// PEM file of the CA that signed its certificate.
    pub ca: PathBuf,
}

impl Server {
    /// Runs this binary with `args` and reads its `endpoint:` and `ca:` lines.
    pub async fn spawn(args: &[&str]) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("locating this binary")?;
        let mut child = Command::new(exe)
            .args(args)
            .args(["--log-level", "error"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("starting a server process")?;
        let stdout = child.stdout.take().context("server stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let (mut endpoint, mut ca) = (None, None);
        while endpoint.is_none() || ca.is_none() {
            let Some(line) = lines.next_line().await? else {
                bail!("the server process {args:?} exited before printing its endpoint");
            };
            if let Some(e) = line.strip_prefix("endpoint: ") {
                endpoint = Some(e.to_owned());
            } else if let Some(c) = line.strip_prefix("ca: ") {
                ca = Some(PathBuf::from(c));
            }
        }
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self {
            child,
            endpoint: endpoint.expect("read above"),
            ca: ca.expect("read above"),
        })
    }

    /// The child's resident memory in bytes.
    pub fn rss(&self) -> anyhow::Result<u64> {
        let pid = self.child.id().context("the server process has exited")?;
        rss_of(&format!("/proc/{pid}/status"))
    }
}

/// This process's resident memory in bytes.
pub fn own_rss() -> anyhow::Result<u64> {
    rss_of("/proc/self/status")
}

fn rss_of(status: &str) -> anyhow::Result<u64> {
    let text = std::fs::read_to_string(status).with_context(|| format!("reading {status}"))?;
    let kib: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS line")?;
    Ok(kib * 1024)
}
