//! The channel's calls as a session of the chosen role makes them: the channel (created
//! only with `--create`), its endpoints and ICE servers, the permissions they prove by name,
//! and each call's latency.

use std::time::{Duration, SystemTime};

use kvs_client::{ChannelRole, IceServer};
use kvs_proto::api::{
    ChannelProtocol, CreateSignalingChannelInput, CreateSignalingChannelOutput,
    DescribeSignalingChannelOutput, ErrorCode, GetIceServerConfigInput, GetIceServerConfigOutput,
    GetSignalingChannelEndpointInput, GetSignalingChannelEndpointOutput, Operation,
    SingleMasterChannelEndpointConfiguration,
};
use kvs_proto::doctor::{self, Check, Finding, ms};

use super::caller::{Answer, Caller};
use super::{DoctorArgs, Output};

/// How the WebSocket upgrade went.
pub(super) enum Upgrade {
    /// Upgraded (and closed at once) after this long.
    Open(Duration),
    /// Refused with this status, exception and message.
    Refused(u16, Option<ErrorCode>, String),
    /// Failed otherwise: the finding says how.
    Failed(Finding),
}

/// One API call the permissions check made.
struct Call {
    name: &'static str,
    elapsed: Duration,
    denied: bool,
}

/// The channel's calls, as a session of the chosen role makes them.
pub(super) struct Session<'a> {
    pub(super) args: &'a DoctorArgs,
    endpoint: &'a str,
    pub(super) timeout: Duration,
    role: ChannelRole,
    pub(super) client_id: String,
    calls: Vec<Call>,
    pub(super) channel_arn: Option<String>,
    pub(super) wss: Option<String>,
    pub(super) ice_servers: Option<Vec<IceServer>>,
    /// The WebSocket upgrade's outcome, once tried.
    pub(super) upgrade: Option<Upgrade>,
    /// Why the permissions check could not finish, when it could not.
    stopped: Option<Finding>,
}

impl<'a> Session<'a> {
    pub(super) fn new(args: &'a DoctorArgs, endpoint: &'a str, timeout: Duration) -> Self {
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

    pub(super) fn url(&self, op: Operation) -> String {
        format!("{}{}", self.endpoint, op.path())
    }

    pub(super) fn note(&mut self, name: &'static str, answer: &Answer) {
        self.calls.push(Call {
            name,
            elapsed: answer.elapsed,
            denied: answer.denied(),
        });
    }
}

impl Session<'_> {
    /// The calls a session of the role makes, by name; the channel is created only with
    /// `--create`.
    pub(super) async fn calls(&mut self, caller: &Caller<'_>, described: Answer) {
        self.channel_arn = self.channel(caller, described).await;
        if let Some(arn) = self.channel_arn.clone() {
            self.endpoints_and_ice(caller, &arn).await;
        }
    }

    /// True when the calls got as far as the WebSocket (nothing stopped them).
    pub(super) fn reached_websocket(&self) -> bool {
        self.stopped.is_none()
    }

    /// The permissions the calls and the upgrade (in [`Self::upgrade`]) proved or refused.
    pub(super) fn permissions(&mut self, out: &mut Output) {
        if let Some(stopped) = self.stopped.take() {
            out.record(stopped);
            return;
        }
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
        let untried = match (self.tries_role_action(), &self.upgrade) {
            (false, _) => {
                "; ConnectAsMaster not tried (it would replace the live master: --connect-as-master)".to_owned()
            }
            (true, Some(Upgrade::Refused(401 | 403, _, _))) => {
                denied.push(action);
                String::new()
            }
            (true, Some(Upgrade::Open(_))) => {
                allowed.push(action);
                String::new()
            }
            (true, _) => format!("; {action} not confirmed (see the WebSocket check)"),
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
    pub(super) fn connect_action(&self) -> &'static str {
        match self.args.connect_as_master {
            true => "ConnectAsMaster",
            false => "ConnectAsViewer",
        }
    }

    /// True when the upgrade's outcome answers for the role's own ConnectAs* permission.
    pub(super) fn tries_role_action(&self) -> bool {
        self.role == ChannelRole::Viewer || self.args.connect_as_master
    }

    pub(super) fn denial(&self, denied: &[&str]) -> Finding {
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

    pub(super) async fn channel(
        &mut self,
        caller: &Caller<'_>,
        described: Answer,
    ) -> Option<String> {
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

    pub(super) async fn endpoints_and_ice(&mut self, caller: &Caller<'_>, arn: &str) {
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
    pub(super) fn latency(&self, out: &mut Output) {
        if out.blocked(Check::CallLatency) {
            return;
        }
        let call_timeout = kvs_proto::client::DEFAULT_CALL_TIMEOUT;
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
