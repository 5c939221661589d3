//! The reasoning of a signaling health check without IO: the seed's troubleshooting list
//! (connection, authentication, timeouts, ICE, SDP negotiation) as checks in order, which
//! check needs which, and the verdicts, with the cause and the fix in words, from what a
//! driver measured. The driver does the resolving, connecting and calling and hands the
//! figures here; nothing here reads a clock.

use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::api::ErrorCode;
use crate::sigv4::{MAX_CLOCK_SKEW, is_clock_refusal};
use crate::wire::MAX_PAYLOAD_LEN;

/// The part of the troubleshooting list a check belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Area {
    /// Reaching the service at all.
    Connection,
    /// Being accepted by it.
    Authentication,
    /// Getting answers in time.
    Timeouts,
    /// Reaching STUN and TURN over UDP.
    Ice,
    /// Offers fitting the service's limit.
    Sdp,
}

/// One check, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Check {
    /// The control-plane host resolves.
    Resolve,
    /// A TCP connection opens.
    Tcp,
    /// TLS completes with a trusted, valid certificate for the host.
    Tls,
    /// HTTPS proxies from the environment.
    Proxy,
    /// A credential provider supplies keys that have not expired.
    Credentials,
    /// The service's clock against ours.
    ClockOffset,
    /// A signed, read-only call is accepted.
    SignedCall,
    /// The permissions the role needs, tried by name.
    Permissions,
    /// Each call's latency against the client's timeout.
    CallLatency,
    /// The WebSocket upgrade: as a viewer of our own, or as master when asked.
    WebSocket,
    /// A STUN binding: the server-reflexive address.
    Stun,
    /// A TURN allocation over UDP per TURN server: the relay addresses.
    Turn,
    /// Whether UDP reaches out at all.
    Udp,
    /// A typical offer against the service's message limit.
    OfferSize,
}

impl Check {
    /// Every check, in the order they run.
    pub const ORDER: [Check; 14] = [
        Check::Resolve,
        Check::Tcp,
        Check::Tls,
        Check::Proxy,
        Check::Credentials,
        Check::ClockOffset,
        Check::SignedCall,
        Check::Permissions,
        Check::CallLatency,
        Check::WebSocket,
        Check::Stun,
        Check::Turn,
        Check::Udp,
        Check::OfferSize,
    ];

    /// Its part of the troubleshooting list.
    pub fn area(self) -> Area {
        match self {
            Self::Resolve | Self::Tcp | Self::Tls | Self::Proxy => Area::Connection,
            Self::Credentials | Self::ClockOffset | Self::SignedCall | Self::Permissions => {
                Area::Authentication
            }
            Self::CallLatency | Self::WebSocket => Area::Timeouts,
            Self::Stun | Self::Turn | Self::Udp => Area::Ice,
            Self::OfferSize => Area::Sdp,
        }
    }

    /// What it checks, in words.
    pub fn title(self) -> &'static str {
        match self {
            Self::Resolve => "name resolution of the control-plane endpoint",
            Self::Tcp => "TCP connection to the endpoint",
            Self::Tls => "TLS handshake (certificate chain, expiry, host name)",
            Self::Proxy => "HTTPS proxies from the environment",
            Self::Credentials => "credentials from the provider",
            Self::ClockOffset => "clock offset to the service",
            Self::SignedCall => "a signed call accepted",
            Self::Permissions => "permissions of the role",
            Self::CallLatency => "call latency against the timeouts",
            Self::WebSocket => "WebSocket upgrade (ConnectAs*)",
            Self::Stun => "STUN binding (server-reflexive address)",
            Self::Turn => "TURN allocation over UDP (relay address)",
            Self::Udp => "UDP reachability",
            Self::OfferSize => "size of a typical offer",
        }
    }

    /// The checks this one cannot run without: when one of them failed or was skipped,
    /// this one is skipped too.
    pub fn needs(self) -> &'static [Check] {
        match self {
            Self::Resolve | Self::Proxy | Self::Credentials | Self::OfferSize => &[],
            Self::Tcp => &[Self::Resolve],
            Self::Tls => &[Self::Tcp],
            // The offset comes from the `Date` of a signed call's answer, whatever it says.
            Self::ClockOffset => &[Self::Tls, Self::Credentials],
            Self::SignedCall => &[Self::Tls, Self::Credentials],
            Self::Permissions | Self::CallLatency => &[Self::SignedCall],
            Self::WebSocket => &[Self::Permissions],
            // The STUN and TURN servers come from GetIceServerConfig.
            Self::Stun | Self::Turn => &[Self::SignedCall],
            Self::Udp => &[Self::Stun],
        }
    }
}

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Mark {
    /// Fine.
    Pass,
    /// Works, but worth knowing.
    Warn,
    /// The cause of a problem.
    Fail,
    /// Not run, because a check it needs did not pass.
    Skipped,
}

impl Mark {
    /// The mark printed before the line.
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Pass => "✔",
            Self::Warn => "!",
            Self::Fail => "✘",
            Self::Skipped => "-",
        }
    }
}

/// One check's result: the figure measured and, for anything but a pass, the cause and the fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// Which check.
    pub check: Check,
    /// How it came out.
    pub mark: Mark,
    /// What was measured (a time, an address, an offset), or why it was skipped.
    pub figure: String,
    /// Why it failed or warns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Finding {
    /// A finding with no cause or fix.
    fn plain(check: Check, mark: Mark, figure: String) -> Self {
        Self {
            check,
            mark,
            figure,
            cause: None,
            fix: None,
        }
    }

    /// A pass with its figure.
    pub fn pass(check: Check, figure: impl Into<String>) -> Self {
        Self::plain(check, Mark::Pass, figure.into())
    }

    /// A failure with its figure, cause and fix.
    pub fn fail(
        check: Check,
        figure: impl Into<String>,
        cause: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            check,
            mark: Mark::Fail,
            figure: figure.into(),
            cause: Some(cause.into()),
            fix: Some(fix.into()),
        }
    }

    /// A warning with its figure, cause and fix.
    pub fn warn(
        check: Check,
        figure: impl Into<String>,
        cause: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            mark: Mark::Warn,
            ..Self::fail(check, figure, cause, fix)
        }
    }

    /// A check that could not run for a reason of its own (not a failed prerequisite),
    /// e.g. no STUN server to ask.
    pub fn not_run(check: Check, why: impl Into<String>) -> Self {
        Self::plain(check, Mark::Skipped, format!("skipped: {}", why.into()))
    }

    /// The line a person reads: mark, area, what was checked, the figure, then the cause
    /// and the fix.
    pub fn line(&self) -> String {
        let mut line = format!(
            "{} {:<14} {}: {}",
            self.mark.symbol(),
            format!("{:?}", self.check.area()).to_lowercase(),
            self.check.title(),
            self.figure
        );
        if let Some(cause) = &self.cause {
            line.push_str(&format!("\n    cause: {cause}"));
        }
        if let Some(fix) = &self.fix {
            line.push_str(&format!("\n    fix:   {fix}"));
        }
        line
    }
}

/// The findings so far, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    findings: Vec<Finding>,
}

impl Report {
    /// An empty report.
    pub fn new() -> Self {
        Self::default()
    }

    /// The findings, in the order they were recorded.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// The check `check` needs that did not pass (failed or skipped), if any: then `check`
    /// must be skipped. A warning does not block.
    pub fn blocker(&self, check: Check) -> Option<Check> {
        check.needs().iter().copied().find(|need| {
            self.findings
                .iter()
                .find(|f| f.check == *need)
                .is_none_or(|f| matches!(f.mark, Mark::Fail | Mark::Skipped))
        })
    }

    /// Records `finding`, or a skip naming the check it needed when one did not pass.
    pub fn record(&mut self, finding: Finding) -> &Finding {
        let finding = match self.blocker(finding.check) {
            Some(blocker) => skipped(finding.check, blocker),
            None => finding,
        };
        self.findings.push(finding);
        self.findings.last().expect("just pushed")
    }

    /// True when a check failed (the doctor then exits non-zero).
    pub fn failed(&self) -> bool {
        self.findings.iter().any(|f| f.mark == Mark::Fail)
    }
}

/// A skip of `check` because `blocker` did not pass.
pub fn skipped(check: Check, blocker: Check) -> Finding {
    Finding::not_run(
        check,
        format!("needs {}, which did not pass", blocker.title()),
    )
}

/// The verdict on the clock: `offset_ms` is the service's clock minus ours.
pub fn clock_offset(offset_ms: i64) -> Finding {
    let figure = match offset_ms.unsigned_abs() {
        // `Date` has whole seconds: closer than that cannot be told apart.
        ..1_000 => "within a second (the service's Date has whole seconds)".to_owned(),
        _ => format!(
            "{:+.1} s ({})",
            offset_ms as f64 / 1000.0,
            if offset_ms >= 0 {
                "the service is ahead"
            } else {
                "the service is behind"
            }
        ),
    };
    // Unsigned: the offset may come from a page (the console), and i64::MIN has no `abs`.
    let limit = MAX_CLOCK_SKEW.as_millis() as u64;
    if offset_ms.unsigned_abs() > limit {
        Finding::fail(
            Check::ClockOffset,
            figure,
            "this machine's clock is more than the 5 minutes the service tolerates away from the service's; our client compensates, but every other tool on this machine (the AWS CLI, the C SDK) will get \"Signature expired\"",
            "sync the clock (NTP: `timedatectl set-ntp true`, or chrony)",
        )
    } else if offset_ms.unsigned_abs() > limit / 5 {
        Finding::warn(
            Check::ClockOffset,
            figure,
            "the clock is drifting towards the 5 minutes the service tolerates",
            "sync the clock (NTP) before it crosses the limit",
        )
    } else {
        Finding::pass(Check::ClockOffset, figure)
    }
}

/// The verdict on credentials that expire at `expiry` (`None` for long-term keys), at `now`.
pub fn credentials_expiry(provider: &str, expiry: Option<SystemTime>, now: SystemTime) -> Finding {
    match expiry {
        None => Finding::pass(
            Check::Credentials,
            format!("from {provider}, long-term keys"),
        ),
        Some(at) => match at.duration_since(now) {
            Ok(left) if left > Duration::from_secs(60) => Finding::pass(
                Check::Credentials,
                format!("from {provider}, temporary, {} s left", left.as_secs()),
            ),
            Ok(left) => Finding::warn(
                Check::Credentials,
                format!("from {provider}, temporary, {} s left", left.as_secs()),
                "the temporary credentials are about to expire",
                "make sure the provider refreshes them (our client does; a fixed session token does not)",
            ),
            Err(ago) => Finding::fail(
                Check::Credentials,
                format!(
                    "from {provider}, temporary, expired {} s ago",
                    ago.duration().as_secs()
                ),
                "the temporary credentials have expired, so every call is refused with ExpiredTokenException",
                "get new temporary credentials (aws sts get-session-token / assume-role, or the IoT credentials provider)",
            ),
        },
    }
}

/// The verdict on the slowest call against the client's per-call timeout.
pub fn call_latency(slowest_call: &str, slowest: Duration, timeout: Duration) -> Finding {
    let figure = format!(
        "slowest {slowest_call} {:.1} ms of the {} s timeout",
        slowest.as_secs_f64() * 1000.0,
        timeout.as_secs()
    );
    if slowest >= timeout {
        Finding::fail(
            Check::CallLatency,
            figure,
            "calls take longer than the client waits for them: a timeout error",
            "check the network path to the endpoint (a slow proxy or link), or raise the timeout",
        )
    } else if slowest * 2 >= timeout {
        Finding::warn(
            Check::CallLatency,
            figure,
            "calls take more than half the timeout: a worse moment will time out",
            "check the network path, or raise the timeout",
        )
    } else {
        Finding::pass(Check::CallLatency, figure)
    }
}

/// The verdict on UDP from the STUN binding and the TURN allocations (`turn_ok` of
/// `turn_total` servers allocated).
pub fn udp(stun_ok: bool, turn_ok: usize, turn_total: usize) -> Finding {
    match (stun_ok, turn_ok) {
        (true, _) if turn_total == 0 || turn_ok == turn_total => Finding::pass(
            Check::Udp,
            format!("STUN answered, {turn_ok} of {turn_total} TURN allocations"),
        ),
        (true, _) => Finding::warn(
            Check::Udp,
            format!("STUN answered, {turn_ok} of {turn_total} TURN allocations"),
            "some TURN servers did not allocate over UDP, so relayed connections have fewer paths",
            "allow outbound UDP to the TURN servers' ports",
        ),
        (false, 0) => Finding::fail(
            Check::Udp,
            format!("no STUN answer, {turn_ok} of {turn_total} TURN allocations"),
            "nothing answers over UDP: a firewall blocks outbound UDP, so ICE will fail",
            "allow outbound UDP (STUN on 443, the TURN servers' ports), or use TURN over TLS (turns:)",
        ),
        (false, _) => Finding::warn(
            Check::Udp,
            format!("no STUN answer, {turn_ok} of {turn_total} TURN allocations"),
            "STUN does not answer but TURN does: peers connect only through the relay",
            "allow outbound UDP to the STUN server",
        ),
    }
}

/// The verdict on a typical offer whose JSON (`{"type":"offer","sdp":…}`) is `offer_json_len`
/// bytes, once base64-encoded as the WebSocket message carries it.
pub fn offer_size(offer_json_len: usize) -> Finding {
    let encoded = offer_json_len.div_ceil(3) * 4;
    let figure =
        format!("{offer_json_len} bytes, {encoded} in base64 of the service's {MAX_PAYLOAD_LEN}");
    if encoded > MAX_PAYLOAD_LEN {
        Finding::fail(
            Check::OfferSize,
            figure,
            "the offer is larger than the service accepts, so it is refused and SDP negotiation never starts",
            "offer fewer codecs or media sections, and trickle candidates instead of putting them in the offer",
        )
    } else if encoded * 10 > MAX_PAYLOAD_LEN * 8 {
        Finding::warn(
            Check::OfferSize,
            figure,
            "the offer is within 20 % of the service's limit: more codecs or candidates will cross it",
            "trickle candidates and keep the codec list short",
        )
    } else {
        Finding::pass(Check::OfferSize, figure)
    }
}

/// A signed call as the service answered it.
#[derive(Debug, Clone, Copy)]
pub struct SignedCall<'a> {
    /// The operation, e.g. `DescribeSignalingChannel`.
    pub operation: &'a str,
    /// The access key id it was signed with (never the secret).
    pub key_id: &'a str,
    /// The region it was signed for.
    pub region: &'a str,
    /// The HTTP status.
    pub status: u16,
    /// `x-amzn-ErrorType`, when refused.
    pub error_type: Option<&'a str>,
    /// The service's message, when refused.
    pub message: &'a str,
    /// How long the call took.
    pub elapsed: Duration,
    /// The clock correction it was signed again with, after a refusal for its time.
    pub corrected_ms: Option<i64>,
}

/// True when the service accepted the signature: a success, or a refusal that comes after
/// the signature check (no such channel, no permission).
pub fn signature_accepted(status: u16, code: Option<ErrorCode>) -> bool {
    (200..300).contains(&status)
        || matches!(
            code,
            Some(ErrorCode::ResourceNotFound | ErrorCode::AccessDenied | ErrorCode::NotAuthorized)
        )
}

/// The verdict on a signed call.
pub fn signed_call(call: &SignedCall<'_>) -> Finding {
    let code = call.error_type.and_then(ErrorCode::from_header);
    if signature_accepted(call.status, code) {
        let how = match call.corrected_ms {
            Some(offset) => format!(
                " once signed with our clock corrected by {:+.1} s (our client corrects by itself)",
                offset as f64 / 1000.0
            ),
            None => String::new(),
        };
        return Finding::pass(
            Check::SignedCall,
            format!(
                "{} with key id {} accepted{how} in {}",
                call.operation,
                call.key_id,
                ms(call.elapsed)
            ),
        );
    }
    let (cause, fix) = signed_call_refused(
        code,
        is_clock_refusal(call.message),
        call.key_id,
        call.region,
    );
    Finding::fail(
        Check::SignedCall,
        format!(
            "{} with key id {}: HTTP {} {}: {}",
            call.operation,
            call.key_id,
            call.status,
            call.error_type.unwrap_or(""),
            call.message
        ),
        cause,
        fix,
    )
}

/// A duration for a figure: milliseconds, to a tenth below 10 ms.
pub fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

/// What a signed call's refusal says: the cause and the fix, from the exception
/// (`clock` when its message says the signature's time was refused).
pub fn signed_call_refused(
    code: Option<ErrorCode>,
    clock: bool,
    key_id: &str,
    region: &str,
) -> (String, String) {
    let (cause, fix) = match code {
        Some(ErrorCode::InvalidSignature) if clock => (
            "the signature is refused for its time even with our clock corrected".to_owned(),
            "sync the clock (NTP)",
        ),
        Some(ErrorCode::InvalidSignature) => (
            format!(
                "the signature does not match: the secret access key is not the one of key id {key_id}, or the region {region} is not the endpoint's"
            ),
            "check AWS_SECRET_ACCESS_KEY (or the profile's aws_secret_access_key) and the region",
        ),
        Some(ErrorCode::UnrecognizedClient) => (
            format!(
                "the service does not know the key id {key_id}: deleted, of another partition, or mistyped"
            ),
            "check AWS_ACCESS_KEY_ID (`aws sts get-caller-identity` says whose keys they are)",
        ),
        Some(ErrorCode::ExpiredToken) => (
            "the session token has expired".to_owned(),
            "get new temporary credentials (aws sts get-session-token / assume-role, or the IoT credentials provider)",
        ),
        Some(ErrorCode::MissingAuthenticationToken | ErrorCode::IncompleteSignature) => (
            "the service did not find a complete signature on the request: a proxy may strip headers".to_owned(),
            "check that no proxy rewrites the Authorization and X-Amz-* headers",
        ),
        _ => (
            "the service refused the call".to_owned(),
            "retry; if it persists, check the service's health",
        ),
    };
    (cause, fix.to_owned())
}

/// One STUN or TURN exchange with a server: its URI, and the address it gave (server
/// reflexive or relayed) with the time it took, or what went wrong.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Exchange {
    /// The server's URI (`stun:host:port`, `turn:host:port?transport=udp`).
    pub uri: String,
    /// The address learned and the milliseconds it took, or the error.
    pub outcome: Result<(String, u64), String>,
}

/// Whole milliseconds in words: under one reads as such, not as zero.
fn millis(ms: u64) -> String {
    match ms {
        0 => "under 1 ms".to_owned(),
        ms => format!("{ms} ms"),
    }
}

/// The verdict on the STUN binding (`None`: there was no STUN server to ask).
pub fn stun(exchange: Option<&Exchange>) -> Finding {
    match exchange {
        None => Finding::not_run(
            Check::Stun,
            "no STUN server to ask: the endpoint is not the public one and the service listed no TURN server (whose port answers STUN); pass --stun-url",
        ),
        Some(Exchange {
            uri,
            outcome: Ok((address, ms)),
        }) => Finding::pass(
            Check::Stun,
            format!("{uri} → server-reflexive {address} in {}", millis(*ms)),
        ),
        Some(Exchange {
            uri,
            outcome: Err(e),
        }) => Finding::fail(
            Check::Stun,
            format!("{uri}: {e}"),
            "the STUN server does not answer over UDP: a firewall drops outbound UDP, or nothing listens there",
            "allow outbound UDP to the STUN server's port (443 for the real service)",
        ),
    }
}

/// The verdict on the TURN allocations: `exchanges` of the `total` UDP TURN servers listed
/// (`None`: GetIceServerConfig gave no answer), each bounded by `timeout`.
pub fn turn(exchanges: Option<&[Exchange]>, timeout: Duration) -> Finding {
    let Some(exchanges) = exchanges else {
        return Finding::not_run(
            Check::Turn,
            "GetIceServerConfig gave no servers (see the permissions check)",
        );
    };
    let total = exchanges.len();
    if total == 0 {
        return Finding::fail(
            Check::Turn,
            "GetIceServerConfig listed no TURN server over UDP",
            "without a relay, peers that no direct path joins (symmetric NATs, strict firewalls) cannot connect",
            "the TURN servers come from the service; for the local service, run it without --no-turn",
        );
    }
    let ok = exchanges.iter().filter(|e| e.outcome.is_ok()).count();
    let each: Vec<String> = exchanges
        .iter()
        .map(|e| match &e.outcome {
            Ok((relay, ms)) => format!("{} → relay {relay} in {}", e.uri, millis(*ms)),
            Err(error) => format!("{}: {error}", e.uri),
        })
        .collect();
    let figure = format!("{ok} of {total} allocated: {}", each.join("; "));
    match ok {
        0 => Finding::fail(
            Check::Turn,
            figure,
            format!(
                "no TURN server allocated a relay within {} s: UDP to the TURN ports is blocked, or nothing listens there",
                timeout.as_secs_f64()
            ),
            "allow outbound UDP to the TURN servers' ports; for your own TURN server, check that it runs on the listed port",
        ),
        n if n < total => Finding::warn(
            Check::Turn,
            figure,
            "some TURN servers did not allocate a relay, so relayed connections have fewer paths",
            "allow outbound UDP to every TURN server's port",
        ),
        _ => Finding::pass(Check::Turn, figure),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_check_needs_only_checks_that_run_before_it() {
        for (i, check) in Check::ORDER.iter().enumerate() {
            for need in check.needs() {
                let at = Check::ORDER.iter().position(|c| c == need).unwrap();
                assert!(at < i, "{check:?} needs {need:?}, which runs after it");
            }
        }
    }

    #[test]
    fn a_failure_skips_what_depends_on_it_and_says_why() {
        let mut report = Report::new();
        report.record(Finding::pass(Check::Resolve, "127.0.0.1"));
        report.record(Finding::fail(
            Check::Tcp,
            "refused",
            "nothing listens",
            "start it",
        ));
        report.record(Finding::pass(Check::Tls, "TLS 1.3"));
        report.record(Finding::pass(Check::Proxy, "none"));
        report.record(Finding::pass(Check::Credentials, "env"));
        report.record(Finding::pass(Check::SignedCall, "200"));
        let marks: Vec<_> = report.findings().iter().map(|f| f.mark).collect();
        assert_eq!(
            marks,
            [
                Mark::Pass,
                Mark::Fail,
                Mark::Skipped,
                Mark::Pass,
                Mark::Pass,
                Mark::Skipped
            ]
        );
        let tls = &report.findings()[2];
        assert!(tls.figure.contains("TCP connection"), "{}", tls.figure);
        assert_eq!(report.blocker(Check::WebSocket), Some(Check::Permissions));
        assert!(report.failed());
    }

    #[test]
    fn a_warning_does_not_block() {
        let mut report = Report::new();
        report.record(Finding::warn(Check::Credentials, "soon", "c", "f"));
        for check in [Check::Resolve, Check::Tcp, Check::Tls] {
            report.record(Finding::pass(check, "ok"));
        }
        assert_eq!(report.blocker(Check::SignedCall), None);
        assert!(!report.failed());
    }

    #[test]
    fn the_clock_fails_past_five_minutes_and_names_other_tools() {
        assert_eq!(clock_offset(1_200).mark, Mark::Pass);
        assert!(clock_offset(-600).figure.starts_with("within a second"));
        assert_eq!(clock_offset(-90_000).mark, Mark::Warn);
        let off = clock_offset(600_000);
        assert_eq!(off.mark, Mark::Fail);
        assert!(off.figure.starts_with("+600.0 s"), "{}", off.figure);
        assert!(off.cause.unwrap().contains("other tool"));
        assert_eq!(clock_offset(-300_001).mark, Mark::Fail);
        assert_eq!(
            clock_offset(300_000).mark,
            Mark::Warn,
            "exactly the tolerance still passes a signature"
        );
    }

    #[test]
    fn expired_credentials_fail_and_long_term_ones_pass() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(
            credentials_expiry("environment", None, now).mark,
            Mark::Pass
        );
        let expired = credentials_expiry("profile", Some(now - Duration::from_secs(30)), now);
        assert_eq!(expired.mark, Mark::Fail);
        assert!(expired.figure.contains("expired 30 s ago"));
        assert_eq!(
            credentials_expiry("iot", Some(now + Duration::from_secs(10)), now).mark,
            Mark::Warn
        );
        assert_eq!(
            credentials_expiry("iot", Some(now + Duration::from_secs(3600)), now).mark,
            Mark::Pass
        );
    }

    #[test]
    fn latency_udp_and_offer_size_verdicts() {
        let t = Duration::from_secs(15);
        assert_eq!(
            call_latency("Describe", Duration::from_millis(40), t).mark,
            Mark::Pass
        );
        assert_eq!(
            call_latency("Describe", Duration::from_secs(8), t).mark,
            Mark::Warn
        );
        assert_eq!(call_latency("Describe", t, t).mark, Mark::Fail);

        assert_eq!(udp(true, 2, 2).mark, Mark::Pass);
        assert_eq!(udp(true, 0, 0).mark, Mark::Pass);
        assert_eq!(udp(true, 1, 2).mark, Mark::Warn);
        assert_eq!(udp(false, 0, 2).mark, Mark::Fail);
        assert_eq!(udp(false, 2, 2).mark, Mark::Warn);

        assert_eq!(offer_size(3_000).mark, Mark::Pass);
        assert_eq!(offer_size(7_000).mark, Mark::Warn);
        assert_eq!(
            offer_size(7_500).mark,
            Mark::Warn,
            "7,500 bytes are exactly 10,000 of base64"
        );
        assert_eq!(offer_size(7_501).mark, Mark::Fail);
    }

    #[test]
    fn clock_extremes_do_not_overflow() {
        assert_eq!(clock_offset(i64::MIN).mark, Mark::Fail);
        assert_eq!(clock_offset(i64::MAX).mark, Mark::Fail);
    }

    #[test]
    fn refusals_name_their_cause() {
        let (cause, _) = signed_call_refused(
            Some(ErrorCode::InvalidSignature),
            false,
            "AKID",
            "eu-west-1",
        );
        assert!(
            cause.contains("secret access key")
                && cause.contains("AKID")
                && cause.contains("eu-west-1")
        );
        let (cause, fix) =
            signed_call_refused(Some(ErrorCode::InvalidSignature), true, "AKID", "r");
        assert!(cause.contains("time") && fix.contains("NTP"));
        let (cause, _) =
            signed_call_refused(Some(ErrorCode::UnrecognizedClient), false, "AKID", "r");
        assert!(cause.contains("does not know the key id AKID"));
        let (cause, _) = signed_call_refused(Some(ErrorCode::ExpiredToken), false, "AKID", "r");
        assert!(cause.contains("expired"));
        let (cause, _) = signed_call_refused(None, false, "AKID", "r");
        assert_eq!(cause, "the service refused the call");
    }

    #[test]
    fn stun_and_turn_verdicts() {
        let ok = |uri: &str| Exchange {
            uri: uri.into(),
            outcome: Ok(("192.0.2.1:5000".into(), 12)),
        };
        let lost = |uri: &str| Exchange {
            uri: uri.into(),
            outcome: Err("no answer in 3 s".into()),
        };
        assert_eq!(stun(None).mark, Mark::Skipped);
        let found = stun(Some(&ok("stun:s:443")));
        assert_eq!(found.mark, Mark::Pass);
        assert_eq!(
            found.figure,
            "stun:s:443 → server-reflexive 192.0.2.1:5000 in 12 ms"
        );
        assert_eq!(stun(Some(&lost("stun:s:443"))).mark, Mark::Fail);

        let t = Duration::from_secs(3);
        assert_eq!(turn(None, t).mark, Mark::Skipped);
        let none = turn(Some(&[]), t);
        assert_eq!(none.mark, Mark::Fail);
        assert!(none.cause.unwrap().contains("without a relay"));
        assert_eq!(
            turn(Some(&[ok("turn:a"), ok("turn:b")]), t).mark,
            Mark::Pass
        );
        assert_eq!(
            turn(Some(&[ok("turn:a"), lost("turn:b")]), t).mark,
            Mark::Warn
        );
        let dead = turn(Some(&[lost("turn:a"), lost("turn:b")]), t);
        assert_eq!(dead.mark, Mark::Fail);
        assert!(
            dead.figure
                .starts_with("0 of 2 allocated: turn:a: no answer"),
            "{}",
            dead.figure
        );
        assert!(dead.cause.unwrap().contains("within 3 s"));
    }

    #[test]
    fn findings_read_as_one_line_and_serialise_as_json() {
        let f = Finding::fail(
            Check::Tls,
            "unknown issuer",
            "the CA bundle does not hold the service's CA",
            "pass --ca-bundle",
        );
        let line = f.line();
        assert!(line.starts_with("✘ connection     TLS handshake"), "{line}");
        assert!(line.contains("cause: the CA bundle") && line.contains("fix:   pass --ca-bundle"));
        let json = serde_json::to_value(&f).unwrap();
        assert_eq!(json["check"], "tls");
        assert_eq!(json["mark"], "fail");
    }
}
