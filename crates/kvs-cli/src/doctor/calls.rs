//! Authentication and timeouts, in order: which provider supplied keys, the service's clock
//! against ours, a signed read-only call, then the channel's session (`session.rs`: the
//! permissions by name and each call's latency) and its WebSocket upgrade (`websocket.rs`).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use kvs_client::{Credentials, IceServer};
use kvs_proto::api::{DescribeSignalingChannelInput, Operation};
use kvs_proto::doctor::{self, Check, Finding};

use super::caller::{Answer, Caller};
use super::connection::secs;
use super::session::Session;
use super::{DoctorArgs, Output};

/// What the later checks need from these.
#[derive(Default)]
pub(super) struct Service {
    /// GetIceServerConfig's servers, once it answered.
    pub ice_servers: Option<Vec<IceServer>>,
}

/// Runs the authentication and timeout checks.
pub(super) async fn run(
    args: &DoctorArgs,
    endpoint: &str,
    tls: Option<Arc<rustls::ClientConfig>>,
    timeout: Duration,
    out: &mut Output,
) -> Service {
    let credentials = credentials(args, timeout, out).await;
    let http = tls.and_then(|tls| {
        reqwest::Client::builder()
            .tls_backend_preconfigured((*tls).clone())
            .timeout(timeout)
            .build()
            .ok()
            .map(|http| (http, tls))
    });
    let (Some(credentials), Some((http, tls))) = (credentials, http) else {
        skip_rest(out);
        return Service::default();
    };
    if out.report.blocker(Check::SignedCall).is_some() {
        skip_rest(out);
        return Service::default();
    }
    let mut caller = Caller {
        http,
        tls,
        credentials: &credentials,
        region: &args.client.region,
        offset_ms: 0,
    };
    let mut session = Session::new(args, endpoint, timeout);
    let Some(described) = signed_call(&mut caller, &mut session, out).await else {
        for check in [Check::Permissions, Check::CallLatency, Check::WebSocket] {
            out.blocked(check);
        }
        return Service::default();
    };
    session.calls(&caller, described).await;
    if session.reached_websocket() {
        session.upgrade = Some(session.connect(&caller).await);
    }
    session.permissions(out);
    session.latency(out);
    session.websocket(out);
    Service {
        ice_servers: session.ice_servers,
    }
}

/// Records the skips of the checks after the credentials when they cannot run.
fn skip_rest(out: &mut Output) {
    for check in [
        Check::ClockOffset,
        Check::SignedCall,
        Check::Permissions,
        Check::CallLatency,
        Check::WebSocket,
    ] {
        if !out.blocked(check) {
            out.record(Finding::not_run(check, "no HTTPS client could be built"));
        }
    }
}

async fn credentials(
    args: &DoctorArgs,
    timeout: Duration,
    out: &mut Output,
) -> Option<Credentials> {
    let providers = match args.client.credential_providers() {
        Ok(providers) => providers,
        Err(e) => {
            out.record(Finding::fail(
                Check::Credentials,
                "no provider could be set up",
                format!("{e:#}"),
                "fix the credential flags (--profile, --c-sdk-credentials-file, --iot-*)",
            ));
            return None;
        }
    };
    let mut tried = Vec::new();
    for (name, provider) in providers {
        use kvs_client::ProvideCredentials;
        match tokio::time::timeout(timeout, provider.provide_credentials()).await {
            Ok(Ok(credentials)) => {
                let label = format!("{name} (key id {})", credentials.access_key_id());
                let tried = match tried.is_empty() {
                    true => String::new(),
                    false => format!(" after {}", tried.join(", ")),
                };
                let mut finding =
                    doctor::credentials_expiry(&label, credentials.expiry(), SystemTime::now());
                finding.figure.push_str(&tried);
                out.record(finding);
                return Some(credentials);
            }
            Ok(Err(e)) => tried.push(format!("{name}: {}", kvs_client::error_chain(&e))),
            Err(_) => tried.push(format!("{name}: no answer in {}", secs(timeout))),
        }
    }
    out.record(Finding::fail(
        Check::Credentials,
        tried.join("; "),
        "no credential provider supplied keys",
        "export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or pass --profile, --c-sdk-credentials-file or the --iot-* flags",
    ));
    None
}

/// The clock offset and the signed call: DescribeSignalingChannel, signed with our clock,
/// then (when the service refuses it for the time) with our clock corrected by the offset
/// its `Date` showed, as our client does. Returns Describe's answer once a signature was
/// accepted.
async fn signed_call(
    caller: &mut Caller<'_>,
    session: &mut Session<'_>,
    out: &mut Output,
) -> Option<Answer> {
    let channel = &session.args.client.channel;
    let input = match channel.starts_with("arn:") {
        true => DescribeSignalingChannelInput {
            channel_arn: Some(channel.clone()),
            ..Default::default()
        },
        false => DescribeSignalingChannelInput {
            channel_name: Some(channel.clone()),
            ..Default::default()
        },
    };
    let url = session.url(Operation::DescribeSignalingChannel);
    let first = match caller.post(&url, &input).await {
        Ok(answer) => answer,
        Err(e) => {
            out.record(Finding::not_run(
                Check::ClockOffset,
                "the call got no answer to read the service's Date from",
            ));
            out.record(Finding::fail(
                Check::SignedCall,
                format!("DescribeSignalingChannel: {e}"),
                "the call did not reach the service although TLS did: a proxy, or the service failed",
                "check the proxy settings (HTTPS_PROXY) and the service's health; retry",
            ));
            return None;
        }
    };
    match first.date {
        Some(date) => {
            let offset_ms = kvs_proto::skew::offset_ms(date, first.midpoint);
            // `Date` has whole seconds: anything within one second is our own rounding.
            caller.offset_ms = if offset_ms.unsigned_abs() > 1_000 {
                offset_ms
            } else {
                0
            };
            out.record(doctor::clock_offset(offset_ms));
        }
        None => out.record(Finding::warn(
            Check::ClockOffset,
            "unknown: the answer had no Date header",
            "the service's clock cannot be compared with ours",
            "none needed unless signatures are refused as expired",
        )),
    }
    let (answer, corrected) = match first.clock_refusal() && caller.offset_ms != 0 {
        true => match caller.post(&url, &input).await {
            Ok(again) => (again, true),
            Err(e) => {
                out.record(Finding::fail(
                    Check::SignedCall,
                    format!("DescribeSignalingChannel signed with the corrected clock: {e}"),
                    "the retry did not reach the service",
                    "retry",
                ));
                return None;
            }
        },
        false => (first, false),
    };
    session.note("DescribeSignalingChannel", &answer);
    let finding = doctor::signed_call(&doctor::SignedCall {
        operation: "DescribeSignalingChannel",
        key_id: caller.credentials.access_key_id(),
        region: caller.region,
        status: answer.status,
        error_type: answer.error_name.as_deref(),
        message: &answer.message,
        elapsed: answer.elapsed,
        corrected_ms: corrected.then_some(caller.offset_ms),
    });
    let accepted = finding.mark == doctor::Mark::Pass;
    out.record(finding);
    accepted.then_some(answer)
}
