//! `kvs-signaling doctor`: the seed's troubleshooting list (connection, authentication,
//! timeouts, ICE, SDP negotiation) run as checks against the channel's real endpoint. What
//! runs in which order, what skips what, and the verdicts with their cause and fix are
//! `kvs_proto::doctor`'s; this module does the IO (resolving, connecting, signing and
//! calling, STUN and TURN) and prints each finding as it comes.
//!
//! It never disturbs a working system: read-only calls, a viewer connection of its own
//! (briefly), no master connection and no channel created unless asked, and only the public
//! KVS API, so it runs against the real service exactly as against the local one.

mod caller;
mod calls;
mod connection;
mod ice;
mod session;
mod websocket;

use std::io::Write;
use std::time::Duration;

use clap::{Args, ValueEnum};
use kvs_proto::doctor::{Area, Check, Finding, Mark, Report};
use serde::Serialize;

use crate::ClientArgs;

/// `kvs-signaling doctor`'s flags.
#[derive(Args, Debug)]
pub struct DoctorArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// The role whose permissions to check: a viewer's (ConnectAsViewer) or a master's
    /// (ConnectAsMaster, tried only with --connect-as-master).
    #[arg(long, value_enum, default_value_t = RoleArg::Viewer)]
    role: RoleArg,
    /// Seconds each step may take (a name lookup, a connect, a call, a STUN or TURN
    /// exchange) before it counts as failed.
    #[arg(long, value_name = "SECONDS", default_value_t = 3.0, value_parser = parse_timeout)]
    timeout: f64,
    /// Print one JSON object per check instead of lines for people.
    #[arg(long)]
    json: bool,
    /// Create the channel when it does not exist (otherwise that is reported and nothing is
    /// created).
    #[arg(long)]
    create: bool,
    /// Connect as the channel's master to try ConnectAsMaster (implies --role master). This
    /// replaces the channel's live master for a moment (it reconnects); without it the doctor
    /// connects as a viewer of its own.
    #[arg(long)]
    connect_as_master: bool,
    /// The STUN server to try instead of the default (the regional one of the real service,
    /// or the first TURN server of a custom endpoint), e.g. stun:stun.example.com:3478.
    #[arg(long)]
    stun_url: Option<String>,
}

/// The role the checks are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RoleArg {
    Viewer,
    Master,
}

impl DoctorArgs {
    /// The role whose permissions are checked.
    fn role(&self) -> kvs_proto::api::ChannelRole {
        match (self.role, self.connect_as_master) {
            (RoleArg::Master, _) | (_, true) => kvs_proto::api::ChannelRole::Master,
            (RoleArg::Viewer, false) => kvs_proto::api::ChannelRole::Viewer,
        }
    }
}

fn parse_timeout(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 120.0 => Ok(v),
        _ => Err("a number of seconds above 0 and at most 120, e.g. 3 or 0.5".into()),
    }
}

/// Where findings go: recorded in order (a check whose prerequisite did not pass becomes a
/// skip) and printed at once, so a slow step shows where it is.
struct Output {
    report: Report,
    json: bool,
}

/// A finding as one JSON line: the finding plus its area and title, for scripts and tickets.
#[derive(Serialize)]
struct JsonLine<'a> {
    area: Area,
    title: &'static str,
    #[serde(flatten)]
    finding: &'a Finding,
}

impl Output {
    fn record(&mut self, finding: Finding) {
        let finding = self.report.record(finding);
        let text = match self.json {
            true => serde_json::to_string(&JsonLine {
                area: finding.check.area(),
                title: finding.check.title(),
                finding,
            })
            .unwrap_or_default(),
            false => finding.line(),
        };
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{text}");
        let _ = stdout.flush();
    }

    /// The check's prerequisite that did not pass, if any: then it is recorded as skipped
    /// without running.
    fn blocked(&mut self, check: Check) -> bool {
        match self.report.blocker(check) {
            Some(blocker) => {
                self.record(kvs_proto::doctor::skipped(check, blocker));
                true
            }
            None => false,
        }
    }
}

/// Runs every check in order; fails (a non-zero exit) when one failed.
pub async fn run(args: DoctorArgs) -> anyhow::Result<()> {
    let timeout = Duration::from_secs_f64(args.timeout);
    let endpoint = args.client.endpoint();
    let mut out = Output {
        report: Report::new(),
        json: args.json,
    };
    if !args.json {
        println!(
            "kvs-signaling doctor: channel {} in {} at {endpoint}\n",
            args.client.channel, args.client.region
        );
    }
    let tls = connection::run(&args.client, &endpoint, timeout, &mut out).await;
    let service = calls::run(&args, &endpoint, tls, timeout, &mut out).await;
    ice::run(&args, &endpoint, service.ice_servers, timeout, &mut out).await;

    let findings = out.report.findings();
    let count = |mark: Mark| findings.iter().filter(|f| f.mark == mark).count();
    let (passed, warned, failed, skipped) = (
        count(Mark::Pass),
        count(Mark::Warn),
        count(Mark::Fail),
        count(Mark::Skipped),
    );
    if !args.json {
        println!(
            "\n{passed} passed, {warned} warned, {failed} failed, {skipped} skipped{}",
            if failed + warned + skipped == 0 {
                ": all checks passed"
            } else {
                ""
            }
        );
    }
    if out.report.failed() {
        anyhow::bail!(
            "{failed} check(s) failed; the lines marked {} say why and what to do",
            Mark::Fail.symbol()
        );
    }
    Ok(())
}
