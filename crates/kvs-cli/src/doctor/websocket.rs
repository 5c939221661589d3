//! The WebSocket upgrade: ConnectAsViewer with a client id of our own (ConnectAsMaster only
//! when asked), closed at once, retried once a second later when the channel's connect rate
//! refuses it.

use std::time::{Duration, Instant};

use kvs_proto::api::ErrorCode;
use kvs_proto::doctor::{Check, Finding, ms};
use kvs_proto::sigv4;
use tracing::instrument::WithSubscriber;

use super::Output;
use super::caller::Caller;
use super::connection::secs;
use super::session::{Session, Upgrade};

/// How long to wait before the second try of a throttled upgrade.
const THROTTLE_PAUSE: Duration = Duration::from_secs(1);

impl Upgrade {
    fn throttled(&self) -> bool {
        matches!(
            self,
            Self::Refused(_, Some(ErrorCode::ClientLimitExceeded), _)
        )
    }
}

impl Session<'_> {
    /// The WebSocket upgrade, tried again once a second later when the channel's connect
    /// rate refused it (KVS allows 3 connects a second per channel; a client reconnecting
    /// at that moment, or doctor runs in a row, can take them).
    pub(super) async fn connect(&self, caller: &Caller<'_>) -> Upgrade {
        let first = self.connect_once(caller).await;
        if !first.throttled() {
            return first;
        }
        tokio::time::sleep(THROTTLE_PAUSE.min(self.timeout)).await;
        self.connect_once(caller).await
    }

    /// One upgrade: ConnectAsViewer with our own client id (or ConnectAsMaster when asked),
    /// closed at once.
    async fn connect_once(&self, caller: &Caller<'_>) -> Upgrade {
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
                let code = response
                    .headers()
                    .get("x-amzn-errortype")
                    .and_then(|v| v.to_str().ok())
                    .and_then(ErrorCode::from_header);
                let body = response.body().as_deref().unwrap_or_default();
                let message = String::from_utf8_lossy(body).chars().take(200).collect();
                Upgrade::Refused(response.status().as_u16(), code, message)
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
    pub(super) fn websocket(&mut self, out: &mut Output) {
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
            Some(Upgrade::Refused(status, Some(ErrorCode::ClientLimitExceeded), message)) => {
                Finding::warn(
                    Check::WebSocket,
                    format!("{action}: HTTP {status} {message} (twice, a second apart)"),
                    "the channel's connect rate refused the upgrade: other clients are connecting to this channel right now (KVS allows 3 connects a second per channel)",
                    "run the doctor again in a moment; if it persists, look for a client reconnecting in a loop on this channel",
                )
            }
            Some(Upgrade::Refused(status @ (401 | 403), _, message)) => Finding {
                check: Check::WebSocket,
                figure: format!("{action}: HTTP {status} {message}"),
                ..self.denial(&[action])
            },
            Some(Upgrade::Refused(status, _, message)) => Finding::fail(
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
