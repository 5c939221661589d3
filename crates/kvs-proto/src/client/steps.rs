//! The connection flow's steps: the API calls, the presigned upgrade, and what their answers
//! teach the session.

use super::*;
use crate::api::ErrorCode;

/// How soon a failed background ICE refresh is tried again.
const ICE_REFRESH_RETRY: Duration = Duration::from_secs(5);

impl Client {
    /// Starts the work of `state` (also used to retry it).
    pub(super) fn run_step(&mut self, now: Instant, state: State) {
        let signs = matches!(
            state,
            State::Describe
                | State::Create
                | State::GetEndpoint
                | State::GetIceConfig
                | State::Connecting
                | State::Delete
        );
        if signs && self.credentials_expired(now) {
            // Never sign with credentials known to have expired: fetch new ones first.
            return self.enter(now, State::GetCredentials);
        }
        match state {
            State::GetCredentials => self.outputs.push_back(Output::FetchCredentials),
            State::Describe => {
                let input = match &self.config.channel {
                    ChannelRef::Name(name) => DescribeSignalingChannelInput {
                        channel_name: Some(name.clone()),
                        channel_arn: None,
                    },
                    ChannelRef::Arn(arn) => DescribeSignalingChannelInput {
                        channel_name: None,
                        channel_arn: Some(arn.clone()),
                    },
                };
                self.call(now, Operation::DescribeSignalingChannel, &input);
            }
            State::Create => {
                let name = match &self.config.channel {
                    ChannelRef::Name(name) => name,
                    // `fail` enters CREATE only for names; should that change, end cleanly.
                    ChannelRef::Arn(arn) => {
                        let err = Error::ChannelNotFound(arn.clone());
                        return self.finish(Some(err));
                    }
                };
                let input = CreateSignalingChannelInput {
                    channel_name: name.clone(),
                    channel_type: Some(self.config.channel_type),
                    single_master_configuration: self.config.message_ttl_seconds.map(|ttl| {
                        SingleMasterConfiguration {
                            message_ttl_seconds: Some(ttl),
                        }
                    }),
                    tags: None,
                };
                self.call(now, Operation::CreateSignalingChannel, &input);
            }
            State::GetEndpoint => {
                let input = GetSignalingChannelEndpointInput {
                    channel_arn: self.arn().to_owned(),
                    single_master_channel_endpoint_configuration: Some(
                        SingleMasterChannelEndpointConfiguration {
                            protocols: Some(vec![ChannelProtocol::Wss, ChannelProtocol::Https]),
                            role: Some(self.config.role),
                        },
                    ),
                };
                self.call(now, Operation::GetSignalingChannelEndpoint, &input);
            }
            State::GetIceConfig => {
                let input = self.ice_config_input();
                self.call(now, Operation::GetIceServerConfig, &input);
                // The upgrade does not depend on the ICE answer: start it in parallel, which
                // saves a round trip and a TLS handshake of waiting on every (re)connect.
                if self.socket != Socket::Open
                    && !self.ws_early
                    && !self.closed
                    && !self.hold_at_ready
                {
                    self.ws_early = true;
                    self.presign_and_connect(now);
                }
            }
            // After a failure that kept the socket, no new connection is needed.
            State::Ready if self.socket == Socket::Open => {
                self.connected_at.get_or_insert(now);
                self.enter(now, State::Connected)
            }
            State::Ready if self.hold_at_ready => {
                // Fetched, not connecting: keep the ICE refresh for when `connect` comes.
                if let Some(due) = self.timers[Timer::IceRefresh as usize].take() {
                    self.ice_due = Some(due);
                }
            }
            State::Ready => self.enter(now, State::Connecting),
            State::Connecting => self.open_websocket(now),
            State::Connected => self.on_connected(now),
            State::Delete => {
                let input = DeleteSignalingChannelInput {
                    channel_arn: self.arn().to_owned(),
                    current_version: self.session.version.clone(),
                };
                self.call(now, Operation::DeleteSignalingChannel, &input);
            }
            State::Deleted => self.finish(None),
            State::New | State::Disconnected => {}
        }
    }

    fn ice_config_input(&self) -> GetIceServerConfigInput {
        GetIceServerConfigInput {
            channel_arn: self.arn().to_owned(),
            client_id: (self.config.role == ChannelRole::Viewer)
                .then(|| self.config.client_id.clone()),
            service: Some("TURN".into()),
            username: None,
        }
    }

    /// Fetches the ICE servers again while staying CONNECTED: the socket keeps carrying
    /// messages both ways and the state does not change. Servers already known stay in use
    /// until the answer replaces them.
    pub(super) fn refresh_ice_servers(&mut self, now: Instant) {
        if self.ice_refreshing {
            return;
        }
        if self.credentials_expired(now) {
            // Not with expired credentials; the credentials refresh is under way.
            self.set_timer(Timer::IceRefresh, Some(now + ICE_REFRESH_RETRY));
            return;
        }
        self.ice_refreshing = true;
        let input = self.ice_config_input();
        self.call(now, Operation::GetIceServerConfig, &input);
    }

    /// A background refresh failed: try again shortly; the connection is unaffected.
    pub(super) fn ice_refresh_failed(&mut self, now: Instant, err: Error) {
        self.ice_refreshing = false;
        if let Some(service_time) = err.service_time_from_skew_error() {
            self.observe_service_time(now, service_time, Duration::ZERO);
        }
        self.emit(Event::Retrying {
            attempt: 1,
            delay: ICE_REFRESH_RETRY,
            cause: err,
        });
        self.set_timer(Timer::IceRefresh, Some(now + ICE_REFRESH_RETRY));
    }

    pub(super) fn arn(&self) -> &str {
        self.session
            .channel_arn
            .as_deref()
            .expect("the ARN is known before any per-channel call")
    }

    pub(super) fn credentials(&self) -> &Credentials {
        self.session
            .credentials
            .as_ref()
            .expect("credentials are fetched before any signed call")
    }

    /// Signs and emits one API call, and arms its timeout.
    pub(super) fn call(
        &mut self,
        now: Instant,
        operation: Operation,
        input: &impl serde::Serialize,
    ) {
        let base = match operation {
            Operation::GetIceServerConfig => self
                .session
                .https_endpoint
                .clone()
                .expect("GetIceServerConfig runs after GetSignalingChannelEndpoint"),
            _ => self.config.endpoint.clone(),
        };
        let url = format!("{}{}", base.trim_end_matches('/'), operation.path());
        let body = serde_json::to_vec(input).expect("API inputs always serialise");
        let content_type = [("content-type", "application/json")];
        let request = RequestToSign {
            method: "POST",
            url: &url,
            headers: &content_type,
            body: &body,
        };
        let signed = sigv4::sign_headers(
            request,
            self.credentials(),
            &self.config.region,
            self.signing_time(now),
        );
        let signature_headers = match signed {
            Ok(h) => h,
            Err(e) => {
                let during = self.state;
                return self.fail(
                    now,
                    Error::InvalidResponse {
                        during,
                        message: format!("{e} (is the endpoint URL '{base}' valid?)"),
                    },
                );
            }
        };
        let id = RequestId(self.next_request);
        self.next_request += 1;
        self.call_started = Some((operation, now));
        self.in_flight = Some(id);
        self.set_timer(Timer::Call, Some(now + self.config.call_timeout));
        let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
        headers.extend(
            signature_headers
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v)),
        );
        self.outputs.push_back(Output::Http(HttpRequest {
            id,
            operation,
            url,
            headers,
            body,
        }));
    }

    /// CONNECTING: wait for the upgrade started during GET_ICE_CONFIG, or start one.
    pub(super) fn open_websocket(&mut self, now: Instant) {
        self.set_timer(Timer::Call, Some(now + self.config.call_timeout));
        if !std::mem::take(&mut self.ws_early) {
            self.presign_and_connect(now);
        }
    }

    /// True while the core waits for an upgrade; a socket that opens at any other time is
    /// stale and the driver closes it.
    pub fn expects_socket(&self) -> bool {
        self.state == State::Connecting || (self.ws_early && self.state == State::GetIceConfig)
    }

    pub(super) fn presign_and_connect(&mut self, now: Instant) {
        let endpoint = self
            .session
            .wss_endpoint
            .clone()
            .expect("CONNECTING follows GET_ENDPOINT");
        let client_id =
            (self.config.role == ChannelRole::Viewer).then_some(self.config.client_id.as_str());
        let presigned = sigv4::presign_channel_url(
            &endpoint,
            self.arn(),
            client_id,
            self.credentials(),
            &self.config.region,
            self.signing_time(now),
            self.config.presign_expires,
        );
        match presigned {
            Ok(url) => {
                self.ws_started = Some(now);
                self.outputs.push_back(Output::WsConnect(PresignedUrl(url)));
            }
            Err(e) => {
                self.ws_early = false;
                self.fail(
                    now,
                    Error::InvalidResponse {
                        during: State::GetEndpoint,
                        message: format!("the WSS endpoint '{endpoint}' cannot be presigned: {e}"),
                    },
                )
            }
        }
    }

    pub(super) fn handle_credentials(&mut self, now: Instant, result: Result<Credentials, String>) {
        if self.state != State::GetCredentials {
            if self.credentials_refreshing {
                self.refreshed_credentials(now, result);
            }
            return;
        }
        self.credentials_refreshing = false;
        match result {
            Ok(creds) => {
                self.session.credentials = Some(creds);
                self.schedule_credentials_refresh(now);
                let next = match (&self.session.channel_arn, &self.session.version) {
                    (Some(_), Some(_)) if self.deleting => State::Delete,
                    _ if self.deleting => State::Describe,
                    (Some(_), _) if self.session.wss_endpoint.is_some() => State::GetIceConfig,
                    (Some(_), _) => State::GetEndpoint,
                    (None, _) => State::Describe,
                };
                self.enter(now, next);
            }
            Err(message) => self.fail(now, Error::Credentials(message)),
        }
    }

    pub(super) fn handle_http(&mut self, now: Instant, resp: HttpResponse<'_>) {
        if let Some(service_time) = resp.date.and_then(|d| httpdate::parse_http_date(d).ok()) {
            self.observe_service_time(now, service_time, Duration::from_secs(5));
        }
        let during = self.state;
        if self.ice_refreshing && during == State::Connected && resp.status == 200 {
            self.ice_refreshing = false;
            match parse::<GetIceServerConfigOutput>(State::GetIceConfig, resp.body) {
                Ok(out) => self.store_ice_servers(now, out.ice_server_list),
                Err(err) => self.ice_refresh_failed(now, err),
            }
            return;
        }
        if resp.status != 200 {
            let err = service_error(during, resp.status, resp.error_type, resp.body);
            return self.fail(now, err);
        }
        let next = match during {
            State::Describe => {
                parse::<DescribeSignalingChannelOutput>(during, resp.body).map(|out| {
                    let info = out.channel_info;
                    self.session.message_ttl = Some(info.message_ttl());
                    self.session.channel_arn = Some(info.channel_arn);
                    self.session.version = Some(info.version);
                    if self.deleting {
                        State::Delete
                    } else {
                        State::GetEndpoint
                    }
                })
            }
            State::Create => Ok(State::Describe),
            State::Delete => Ok(State::Deleted),
            State::GetEndpoint => parse::<GetSignalingChannelEndpointOutput>(during, resp.body)
                .and_then(|out| self.store_endpoints(now, out)),
            State::GetIceConfig => {
                parse::<GetIceServerConfigOutput>(during, resp.body).map(|out| {
                    self.store_ice_servers(now, out.ice_server_list);
                    State::Ready
                })
            }
            _ => return,
        };
        match next {
            Ok(state) => self.enter(now, state),
            Err(err) => self.fail(now, err),
        }
    }

    pub(super) fn store_ice_servers(&mut self, now: Instant, servers: Vec<IceServer>) {
        let refresh = servers.iter().map(|s| s.ttl).min().map(|ttl| {
            let ttl = Duration::from_secs(ttl.into());
            now + ttl
                .saturating_sub(self.config.ice_refresh_margin)
                .max(Duration::from_secs(1))
        });
        self.set_timer(Timer::IceRefresh, refresh);
        if std::mem::replace(&mut self.ice_fetched, true) {
            self.metrics.ice_refreshes += 1;
        }
        self.ice_servers = servers.clone();
        self.emit(Event::IceServers(servers));
    }

    pub(super) fn store_endpoints(
        &mut self,
        now: Instant,
        out: GetSignalingChannelEndpointOutput,
    ) -> Result<State, Error> {
        for item in out.resource_endpoint_list {
            match item.protocol {
                ChannelProtocol::Wss => self.session.wss_endpoint = Some(item.resource_endpoint),
                ChannelProtocol::Https => {
                    self.session.https_endpoint = Some(item.resource_endpoint)
                }
                ChannelProtocol::Webrtc => {}
            }
        }
        let (Some(wss), Some(https)) = (&self.session.wss_endpoint, &self.session.https_endpoint)
        else {
            return Err(Error::InvalidResponse {
                during: State::GetEndpoint,
                message: "ResourceEndpointList lacks the WSS or HTTPS endpoint".into(),
            });
        };
        let fetched_at = self
            .wall_time(now)
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let entry = CachedEndpoints {
            channel_arn: self.arn().to_owned(),
            wss_endpoint: wss.clone(),
            https_endpoint: https.clone(),
            message_ttl_seconds: self.session.message_ttl.map(|t| t.as_secs() as u32),
            fetched_at,
        };
        self.emit(Event::EndpointsResolved(entry));
        Ok(State::GetIceConfig)
    }
}

pub(super) fn parse<T: serde::de::DeserializeOwned>(
    during: State,
    body: &[u8],
) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| Error::InvalidResponse {
        during,
        message: e.to_string(),
    })
}

pub(super) fn service_error(
    during: State,
    status: u16,
    error_type: Option<&str>,
    body: &[u8],
) -> Error {
    let message = serde_json::from_slice::<ErrorBody>(body)
        .map(|b| b.message)
        .unwrap_or_else(|_| String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned());
    Error::Service {
        during,
        status,
        code: error_type.and_then(ErrorCode::from_header),
        error_type: error_type.map(|t| t.split(':').next().unwrap_or(t).to_owned()),
        message,
    }
}
