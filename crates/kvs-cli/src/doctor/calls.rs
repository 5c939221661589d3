//! Authentication and timeouts: which provider supplied keys, the service's clock against
//! ours, a signed read-only call, the permissions the role needs tried by name, each call's
//! latency, and the WebSocket upgrade with a viewer id of our own.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use kvs_client::{ChannelRole, ClientConfig, Credentials, IceServer};
use kvs_proto::api::{
    ChannelProtocol, CreateSignalingChannelInput, CreateSignalingChannelOutput,
    DescribeSignalingChannelInput, DescribeSignalingChannelOutput, ErrorCode,
    GetIceServerConfigInput, GetIceServerConfigOutput, GetSignalingChannelEndpointInput,
    GetSignalingChannelEndpointOutput, Operation, SingleMasterChannelEndpointConfiguration,
};
use kvs_proto::doctor::{self, Check, Finding};
use kvs_proto::sigv4;
use serde::Serialize;
use tracing::instrument::WithSubscriber;

use super::connection::{ms, secs};
use super::{DoctorArgs, Output};

/// What the later checks need from these.
#[derive(Default)]
pub(super) struct Service {
    /// GetIceServerConfig's servers, once it answered.
    pub ice_servers: Option<Vec<IceServer>>,
}

/// A signed call's answer.
struct Answer {
    status: u16,
    code: Option<ErrorCode>,
    error_name: Option<String>,
    message: String,
    date: Option<SystemTime>,
    body: Vec<u8>,
    /// Our clock halfway through the call: what the service's `Date` is compared with.
    midpoint: SystemTime,
    elapsed: Duration,
}

impl Answer {
    fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The signature was accepted: a success, or a refusal that comes after the signature
    /// check (no such channel, no permission).
    fn signature_accepted(&self) -> bool {
        self.ok()
            || matches!(
                self.code,
                Some(
                    ErrorCode::ResourceNotFound
                        | ErrorCode::AccessDenied
                        | ErrorCode::NotAuthorized
                )
            )
    }

    fn denied(&self) -> bool {
        matches!(
            self.code,
            Some(ErrorCode::AccessDenied | ErrorCode::NotAuthorized)
        ) || self.status == 401
    }

    fn clock_refusal(&self) -> bool {
        self.code == Some(ErrorCode::InvalidSignature)
            && (self.message.contains("Signature expired")
                || self.message.contains("not yet current"))
    }

    fn describe(&self) -> String {
        format!(
            "HTTP {} {}: {}",
            self.status,
            self.error_name.as_deref().unwrap_or(""),
            self.message
        )
    }
}

/// Signs and sends calls the way our client does.
struct Caller<'a> {
    http: reqwest::Client,
    /// The client's TLS configuration, for the WebSocket.
    tls: Arc<rustls::ClientConfig>,
    credentials: &'a Credentials,
    region: &'a str,
    /// The service's clock minus ours, applied to every signature once known.
    offset_ms: i64,
}

impl Caller<'_> {
    fn sign_time(&self) -> SystemTime {
        shift(SystemTime::now(), self.offset_ms)
    }

    async fn post(&self, url: &str, body: &impl Serialize) -> Result<Answer, String> {
        let body = serde_json::to_vec(body).map_err(|e| e.to_string())?;
        let request = crate::local::signed_json_post(
            &self.http,
            url,
            body,
            self.credentials,
            self.region,
            self.sign_time(),
        )
        .map_err(|e| e.to_string())?;
        let sent_wall = SystemTime::now();
        let started = Instant::now();
        let response = request
            .send()
            .await
            .map_err(|e| kvs_client::error_chain(&e))?;
        let elapsed = started.elapsed();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let error_name =
            header("x-amzn-errortype").map(|v| v.split(':').next().unwrap_or("").to_owned());
        let date = header("date").and_then(|d| httpdate::parse_http_date(&d).ok());
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| kvs_client::error_chain(&e))?
            .to_vec();
        let message = if (200..300).contains(&status) {
            String::new()
        } else {
            serde_json::from_slice::<kvs_proto::api::ErrorBody>(&body)
                .map(|b| b.message)
                .unwrap_or_else(|_| String::from_utf8_lossy(&body).chars().take(200).collect())
        };
        Ok(Answer {
            status,
            code: error_name.as_deref().and_then(ErrorCode::from_name),
            error_name,
            message,
            date,
            body,
            midpoint: sent_wall + elapsed / 2,
            elapsed,
        })
    }
}

fn shift(t: SystemTime, offset_ms: i64) -> SystemTime {
    let by = Duration::from_millis(offset_ms.unsigned_abs());
    let shifted = match offset_ms >= 0 {
        true => t.checked_add(by),
        false => t.checked_sub(by),
    };
    shifted.unwrap_or(t)
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
    session.permissions(&caller, described, out).await;
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

/// One API call the permissions check made.
struct Call {
    name: &'static str,
    elapsed: Duration,
    denied: bool,
}

/// The channel's calls, as a session of the chosen role makes them.
struct Session<'a> {
    args: &'a DoctorArgs,
    endpoint: &'a str,
    timeout: Duration,
    role: ChannelRole,
    client_id: String,
    calls: Vec<Call>,
    channel_arn: Option<String>,
    wss: Option<String>,
    ice_servers: Option<Vec<IceServer>>,
    /// The WebSocket upgrade's outcome, once tried.
    upgrade: Option<Upgrade>,
    /// Why the permissions check could not finish, when it could not.
    stopped: Option<Finding>,
}

/// How the WebSocket upgrade went.
enum Upgrade {
    /// Upgraded (and closed at once) after this long.
    Open(Duration),
    /// Refused with this status and message.
    Refused(u16, String),
    /// Failed otherwise: the finding says how.
    Failed(Finding),
}

impl<'a> Session<'a> {
    fn new(args: &'a DoctorArgs, endpoint: &'a str, timeout: Duration) -> Self {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        Self {
            args,
            endpoint,
            timeout,
            role: args.role(),
            client_id: format!("kvs-doctor-{:08x}", nanos ^ std::process::id()),
            calls: Vec::new(),
            channel_arn: None,
            wss: None,
            ice_servers: None,
            upgrade: None,
            stopped: None,
        }
    }

    fn url(&self, op: Operation) -> String {
        format!("{}{}", self.endpoint, op.path())
    }

    fn note(&mut self, name: &'static str, answer: &Answer) {
        self.calls.push(Call {
            name,
            elapsed: answer.elapsed,
            denied: answer.denied(),
        });
    }
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
            let offset_ms = match date.duration_since(first.midpoint) {
                Ok(ahead) => i64::try_from(ahead.as_millis()).unwrap_or(i64::MAX),
                Err(behind) => {
                    i64::try_from(behind.duration().as_millis()).map_or(i64::MIN, |ms| -ms)
                }
            };
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
    let key_id = caller.credentials.access_key_id().to_owned();
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
    if !answer.signature_accepted() {
        let (cause, fix) = doctor::signed_call_refused(
            answer.code,
            answer.clock_refusal(),
            &key_id,
            &session.args.client.region,
        );
        out.record(Finding::fail(
            Check::SignedCall,
            format!(
                "DescribeSignalingChannel with key id {key_id}: {}",
                answer.describe()
            ),
            cause,
            fix,
        ));
        return None;
    }
    let how = match corrected {
        true => format!(
            " once signed with our clock corrected by {:+.1} s (our client corrects by itself)",
            caller.offset_ms as f64 / 1000.0
        ),
        false => String::new(),
    };
    out.record(Finding::pass(
        Check::SignedCall,
        format!(
            "DescribeSignalingChannel with key id {key_id} accepted{how} in {}",
            ms(answer.elapsed)
        ),
    ));
    Some(answer)
}

impl Session<'_> {
    /// The calls a session of the role makes, by name; the channel is created only with
    /// `--create`.
    async fn permissions(&mut self, caller: &Caller<'_>, described: Answer, out: &mut Output) {
        self.channel_arn = self.channel(caller, described).await;
        if let Some(arn) = self.channel_arn.clone() {
            self.endpoints_and_ice(caller, &arn).await;
        }
        if let Some(stopped) = self.stopped.take() {
            out.record(stopped);
            return;
        }
        self.upgrade = Some(self.connect(caller).await);
        let mut denied: Vec<&str> = self
            .calls
            .iter()
            .filter(|c| c.denied)
            .map(|c| c.name)
            .collect();
        let mut allowed: Vec<&str> = self
            .calls
            .iter()
            .filter(|c| !c.denied)
            .map(|c| c.name)
            .collect();
        let action = self.connect_action();
        if self.tries_role_action() {
            match &self.upgrade {
                Some(Upgrade::Refused(401 | 403, _)) => denied.push(action),
                Some(Upgrade::Open(_)) => allowed.push(action),
                _ => {}
            }
        }
        let untried = match (self.role, self.tries_role_action()) {
            (ChannelRole::Master, false) => {
                "; ConnectAsMaster not tried (it would replace the live master: --connect-as-master)"
            }
            (_, false) => "; ConnectAsViewer not confirmed (see the WebSocket check)",
            (_, true) => "",
        };
        if denied.is_empty() {
            out.record(Finding::pass(
                Check::Permissions,
                format!("allowed: {}{untried}", allowed.join(", ")),
            ));
        } else {
            out.record(self.denial(&denied));
        }
    }

    /// The action the upgrade tries: ConnectAsMaster only when asked.
    fn connect_action(&self) -> &'static str {
        match self.args.connect_as_master {
            true => "ConnectAsMaster",
            false => "ConnectAsViewer",
        }
    }

    /// True when the upgrade's outcome answers for the role's own ConnectAs* permission.
    fn tries_role_action(&self) -> bool {
        self.role == ChannelRole::Viewer || self.args.connect_as_master
    }

    fn denial(&self, denied: &[&str]) -> Finding {
        let actions: Vec<String> = denied.iter().map(|d| format!("kinesisvideo:{d}")).collect();
        let on = self.channel_arn.as_deref().unwrap_or("the channel");
        Finding::fail(
            Check::Permissions,
            format!("denied: {}", denied.join(", ")),
            format!(
                "the role's policy does not allow {} on {on}",
                actions.join(" and ")
            ),
            format!(
                "add {} on {on} to the policy of the key's user or role (a {} needs DescribeSignalingChannel, GetSignalingChannelEndpoint, GetIceServerConfig and {})",
                actions.join(", "),
                self.role.as_str().to_lowercase(),
                match self.role {
                    ChannelRole::Master => "ConnectAsMaster",
                    ChannelRole::Viewer => "ConnectAsViewer",
                }
            ),
        )
    }

    async fn channel(&mut self, caller: &Caller<'_>, described: Answer) -> Option<String> {
        if described.ok() {
            return serde_json::from_slice::<DescribeSignalingChannelOutput>(&described.body)
                .ok()
                .map(|d| d.channel_info.channel_arn);
        }
        let channel = self.args.client.channel.clone();
        if described.denied() {
            // Without Describe, a name cannot become an ARN; an ARN goes on.
            return channel.starts_with("arn:").then_some(channel);
        }
        // ResourceNotFound.
        if !self.args.create {
            self.stopped = Some(Finding::fail(
                Check::Permissions,
                format!(
                    "the channel {channel:?} does not exist in {}",
                    self.args.client.region
                ),
                "there is no such channel in this account and region",
                "check --channel and --region, or pass --create to create it",
            ));
            return None;
        }
        let input = CreateSignalingChannelInput {
            channel_name: channel.clone(),
            ..Default::default()
        };
        match caller
            .post(&self.url(Operation::CreateSignalingChannel), &input)
            .await
        {
            Ok(answer) => {
                self.note("CreateSignalingChannel", &answer);
                let created = serde_json::from_slice::<CreateSignalingChannelOutput>(&answer.body);
                match (answer.ok(), created) {
                    (true, Ok(created)) => Some(created.channel_arn),
                    _ if answer.denied() => None,
                    _ => {
                        self.stopped =
                            Some(call_failed("CreateSignalingChannel", &answer.describe()));
                        None
                    }
                }
            }
            Err(e) => {
                self.stopped = Some(call_failed("CreateSignalingChannel", &e));
                None
            }
        }
    }

    async fn endpoints_and_ice(&mut self, caller: &Caller<'_>, arn: &str) {
        let input = GetSignalingChannelEndpointInput {
            channel_arn: arn.to_owned(),
            single_master_channel_endpoint_configuration: Some(
                SingleMasterChannelEndpointConfiguration {
                    protocols: Some(vec![ChannelProtocol::Wss, ChannelProtocol::Https]),
                    role: Some(self.role),
                },
            ),
        };
        let answer = match caller
            .post(&self.url(Operation::GetSignalingChannelEndpoint), &input)
            .await
        {
            Ok(answer) => answer,
            Err(e) => {
                self.stopped = Some(call_failed("GetSignalingChannelEndpoint", &e));
                return;
            }
        };
        self.note("GetSignalingChannelEndpoint", &answer);
        if answer.denied() {
            return;
        }
        let Ok(list) = serde_json::from_slice::<GetSignalingChannelEndpointOutput>(&answer.body)
        else {
            self.stopped = Some(call_failed(
                "GetSignalingChannelEndpoint",
                &answer.describe(),
            ));
            return;
        };
        let find = |protocol: ChannelProtocol| {
            list.resource_endpoint_list
                .iter()
                .find(|e| e.protocol == protocol)
                .map(|e| e.resource_endpoint.trim_end_matches('/').to_owned())
        };
        self.wss = find(ChannelProtocol::Wss);
        let Some(https) = find(ChannelProtocol::Https) else {
            self.stopped = Some(call_failed(
                "GetSignalingChannelEndpoint",
                "the answer lists no HTTPS endpoint",
            ));
            return;
        };
        let input = GetIceServerConfigInput {
            channel_arn: arn.to_owned(),
            client_id: Some(self.client_id.clone()),
            service: Some("TURN".into()),
            username: None,
        };
        let url = format!("{https}{}", Operation::GetIceServerConfig.path());
        match caller.post(&url, &input).await {
            Ok(answer) => {
                self.note("GetIceServerConfig", &answer);
                match serde_json::from_slice::<GetIceServerConfigOutput>(&answer.body) {
                    Ok(config) if answer.ok() => self.ice_servers = Some(config.ice_server_list),
                    _ if answer.denied() => {}
                    _ => self.stopped = Some(call_failed("GetIceServerConfig", &answer.describe())),
                }
            }
            Err(e) => self.stopped = Some(call_failed("GetIceServerConfig", &e)),
        }
    }

    /// Each call's latency against the client's per-call timeout.
    fn latency(&self, out: &mut Output) {
        if out.blocked(Check::CallLatency) {
            return;
        }
        let call_timeout = ClientConfig::new(
            kvs_client::ChannelRef::Name(String::new()),
            "",
            ChannelRole::Viewer,
        )
        .call_timeout;
        let slowest = self.calls.iter().max_by_key(|c| c.elapsed);
        let all: Vec<String> = self
            .calls
            .iter()
            .map(|c| format!("{} {}", c.name, ms(c.elapsed)))
            .collect();
        match slowest {
            Some(call) => {
                let mut finding = doctor::call_latency(call.name, call.elapsed, call_timeout);
                finding.figure = format!("{} ({})", finding.figure, all.join(", "));
                out.record(finding);
            }
            None => out.record(Finding::not_run(Check::CallLatency, "no call was made")),
        }
    }

    /// The WebSocket upgrade: ConnectAsViewer with our own client id (or ConnectAsMaster
    /// when asked), closed at once.
    async fn connect(&self, caller: &Caller<'_>) -> Upgrade {
        let (Some(wss), Some(arn)) = (&self.wss, &self.channel_arn) else {
            return Upgrade::Failed(Finding::not_run(
                Check::WebSocket,
                "the service listed no WSS endpoint",
            ));
        };
        let client_id = (!self.args.connect_as_master).then_some(self.client_id.as_str());
        let url = match sigv4::presign_channel_url(
            wss,
            arn,
            client_id,
            caller.credentials,
            caller.region,
            caller.sign_time(),
            Duration::from_secs(299),
        ) {
            Ok(url) => url,
            Err(e) => {
                return Upgrade::Failed(Finding::fail(
                    Check::WebSocket,
                    format!("cannot presign the URL: {e}"),
                    "the WSS endpoint the service listed cannot be signed",
                    "check the endpoint GetSignalingChannelEndpoint lists",
                ));
            }
        };
        let action = self.connect_action();
        let started = Instant::now();
        // The presigned URL carries the session token, and tungstenite logs the request at
        // TRACE: the handshake runs with no subscriber, as in the client.
        let connect = tokio_tungstenite::connect_async_tls_with_config(
            url,
            None,
            true,
            Some(tokio_tungstenite::Connector::Rustls(caller.tls.clone())),
        )
        .with_subscriber(tracing::subscriber::NoSubscriber::default());
        match tokio::time::timeout(self.timeout, connect).await {
            Ok(Ok((mut socket, _))) => {
                let elapsed = started.elapsed();
                let _ = tokio::time::timeout(Duration::from_secs(1), socket.close(None)).await;
                Upgrade::Open(elapsed)
            }
            Ok(Err(tokio_tungstenite::tungstenite::Error::Http(response))) => {
                let body = response.body().as_deref().unwrap_or_default();
                let message = String::from_utf8_lossy(body).chars().take(200).collect();
                Upgrade::Refused(response.status().as_u16(), message)
            }
            Ok(Err(e)) => Upgrade::Failed(Finding::fail(
                Check::WebSocket,
                format!("{action}: {}", kvs_client::error_chain(&e)),
                "the WebSocket connection to the WSS endpoint failed: a firewall or proxy that allows HTTPS calls but not WebSockets",
                "allow direct outbound TCP 443 to the WSS endpoint, including the Upgrade header",
            )),
            Err(_) => Upgrade::Failed(Finding::fail(
                Check::WebSocket,
                format!("{action}: no upgrade in {}", secs(self.timeout)),
                "the WebSocket upgrade gets no answer: a firewall or proxy holds it",
                "allow direct outbound TCP 443 to the WSS endpoint",
            )),
        }
    }

    /// The upgrade's verdict.
    fn websocket(&mut self, out: &mut Output) {
        if out.blocked(Check::WebSocket) {
            return;
        }
        let action = self.connect_action();
        let who = match self.args.connect_as_master {
            false => format!("viewer {}", self.client_id),
            true => "master (the live master was replaced and reconnects)".to_owned(),
        };
        let finding = match self.upgrade.take() {
            None => Finding::not_run(Check::WebSocket, "the upgrade was not tried"),
            Some(Upgrade::Open(elapsed)) => Finding::pass(
                Check::WebSocket,
                format!("{action} as {who}: upgraded in {}, closed", ms(elapsed)),
            ),
            Some(Upgrade::Refused(status @ (401 | 403), message)) => Finding {
                check: Check::WebSocket,
                figure: format!("{action}: HTTP {status} {message}"),
                ..self.denial(&[action])
            },
            Some(Upgrade::Refused(status, message)) => Finding::fail(
                Check::WebSocket,
                format!("{action}: HTTP {status} {message}"),
                "the service refused the WebSocket upgrade",
                "retry; if it persists, check the service's health and limits",
            ),
            Some(Upgrade::Failed(finding)) => finding,
        };
        out.record(finding);
    }
}

/// A call that failed for another reason than a permission.
fn call_failed(name: &str, what: &str) -> Finding {
    Finding::fail(
        Check::Permissions,
        format!("{name}: {what}"),
        format!("{name} failed for another reason than a permission"),
        "retry; if it persists, check the service's health",
    )
}
