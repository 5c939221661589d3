//! A local, KVS-compatible WebRTC signaling service.
//!
//! It serves the control-plane operations of `kinesisvideo` (restJson1 `POST`s), the
//! signaling HTTPS API (`/v1/get-ice-server-config`) and the WebSocket data plane on one
//! listener, with SigV4 verified on every request, so the official AWS SDKs and our own
//! client work against it unchanged. Embed it with [`start`]; the `kvs-signaling serve`
//! command runs it standalone.

mod clock;
mod observe;
mod server;
mod store;
mod tls;
mod turn_refusal;
mod turn_server;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use kvs_proto::api::ChannelRole;
use kvs_service_core::admin::{AdminCommand, ConnSignal};

pub use kvs_service_core::{
    AuthFileError, EXAMPLE_ACCESS_KEY_ID, EXAMPLE_SECRET_ACCESS_KEY, Faults, InjectedError, Limits,
    MessageFault, Policy, RoleAlias, ServiceKey, THING_NAME_VARIABLE, TurnCredentials,
    parse_credentials_file,
};
pub use server::ws_config;
pub use tls::{
    DeviceCertificate, TlsIdentity, client_config as client_tls_config, identity as tls_identity,
    issue_device_certificate,
};

/// How to run the service.
#[derive(Clone)]
pub struct ServiceConfig {
    /// Address to listen on (default `127.0.0.1:4443`; port 0 picks a free one).
    pub listen: SocketAddr,
    /// The region the service claims to be (default `us-west-2`); signatures must be scoped to it.
    pub region: String,
    /// The account id in channel ARNs (default `123456789012`).
    pub account_id: String,
    /// Where the CA and the channel database are kept across restarts; `None` keeps both in
    /// memory only.
    pub state_dir: Option<PathBuf>,
    /// The keys whose signatures are accepted.
    pub credentials: Vec<ServiceKey>,
    /// What each key may do; `None` lets every accepted key do everything.
    pub policy: Option<Policy>,
    /// The real service's quotas (default), or `None` for no rate limits.
    pub limits: Option<Limits>,
    /// The embedded TURN server (default: on, on two free UDP ports), or `None` for no TURN
    /// (GetIceServerConfig then lists no servers).
    pub turn: Option<TurnConfig>,
    /// A path every request's path starts with, e.g. `/kvs` behind a reverse proxy (default:
    /// none). Endpoints handed out include it; signatures cover the full path.
    pub path_prefix: String,
    /// The admin API's bearer token; `None` (default) leaves the admin API off.
    pub admin_token: Option<String>,
    /// A TLS handshake, a request's headers and its body must each arrive within this
    /// (default 10 s); slower clients are cut off.
    pub handshake_timeout: Duration,
    /// A WebSocket peer that does not take a frame within this is closed (default 30 s), so
    /// a slow reader holds bounded memory.
    pub write_timeout: Duration,
    /// Serve HTTPS/WSS (default) or plain HTTP/WS.
    pub tls: bool,
    /// A WebSocket with no incoming traffic (pings count) this long is closed (default 10 min).
    pub idle_timeout: Duration,
    /// A WebSocket this old gets GO_AWAY (default 1 h).
    pub max_connection_duration: Duration,
    /// How long a connection stays after GO_AWAY before it is closed (default 1 min).
    pub go_away_grace: Duration,
    /// Send RECONNECT_ICE_SERVER to each connection this long after it opened (default: never);
    /// for testing clients' ICE refresh.
    pub reconnect_ice_server_after: Option<Duration>,
    /// On shutdown, how long in-flight HTTP requests get to finish and each WebSocket to take
    /// its close frame (default 5 s); what is left after it is cut.
    pub shutdown_grace: Duration,
    /// The AWS IoT credentials endpoint (mutual TLS on a port of its own), or `None`
    /// (default) for none. Needs TLS.
    pub iot: Option<IotConfig>,
}

/// The role alias the IoT credentials endpoint serves unless told otherwise.
pub const DEFAULT_ROLE_ALIAS: &str = "kvs-signaling-role-alias";

/// The IoT credentials endpoint's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IotConfig {
    /// Its TCP port on the service's address; 0 picks a free one.
    pub port: u16,
    /// The role aliases devices may ask through, each with its credentials' lifetime.
    pub role_aliases: Vec<RoleAlias>,
}

impl Default for IotConfig {
    /// A free port and [`DEFAULT_ROLE_ALIAS`] issuing credentials for an hour, as the real
    /// service does by default.
    fn default() -> Self {
        Self {
            port: 0,
            role_aliases: vec![RoleAlias {
                name: DEFAULT_ROLE_ALIAS.into(),
                credential_duration: Duration::from_secs(3600),
            }],
        }
    }
}

impl std::fmt::Debug for ServiceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<&str> = self
            .credentials
            .iter()
            .map(|k| k.access_key_id.as_str())
            .collect();
        f.debug_struct("ServiceConfig")
            .field("listen", &self.listen)
            .field("region", &self.region)
            .field("account_id", &self.account_id)
            .field("state_dir", &self.state_dir)
            .field("access_key_ids", &keys)
            .field("policy", &self.policy.is_some())
            .field("limits", &self.limits)
            .field("turn", &self.turn)
            .field("admin_api", &self.admin_token.is_some())
            .field("path_prefix", &self.path_prefix)
            .field("tls", &self.tls)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_connection_duration", &self.max_connection_duration)
            .field("go_away_grace", &self.go_away_grace)
            .field(
                "reconnect_ice_server_after",
                &self.reconnect_ice_server_after,
            )
            .field("shutdown_grace", &self.shutdown_grace)
            .field("iot", &self.iot)
            .finish()
    }
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 4443)),
            region: "us-west-2".into(),
            account_id: "123456789012".into(),
            state_dir: None,
            credentials: vec![ServiceKey::new(
                EXAMPLE_ACCESS_KEY_ID,
                EXAMPLE_SECRET_ACCESS_KEY,
            )],
            policy: None,
            limits: Some(Limits::KVS),
            turn: Some(TurnConfig::default()),
            admin_token: None,
            path_prefix: String::new(),
            handshake_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
            tls: true,
            idle_timeout: Duration::from_secs(600),
            max_connection_duration: Duration::from_secs(3600),
            go_away_grace: Duration::from_secs(60),
            reconnect_ice_server_after: None,
            shutdown_grace: Duration::from_secs(5),
            iot: None,
        }
    }
}

/// The embedded TURN server's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TurnConfig {
    /// The UDP ports of the two TURN servers GetIceServerConfig lists, like the real
    /// service's two; 0 picks a free port.
    pub ports: [u16; 2],
    /// The ports GetIceServerConfig lists instead, when a port forward or NAT maps the
    /// bound ones to others (`None`: the bound ones).
    pub advertised_ports: Option<[u16; 2]>,
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}; pick another port with --listen")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The certificate authority or server certificate could not be made or loaded.
    #[error("TLS setup failed: {0}")]
    Tls(String),
    /// The state directory could not be used.
    #[error("state directory error: {0}")]
    StateDir(String),
    /// The IoT credentials endpoint was asked for without TLS.
    #[error("the IoT credentials endpoint needs TLS; drop --plain or turn it off with --no-iot")]
    IotNeedsTls,
    /// The TURN server could not start.
    #[error("TURN server failed to start: {0}; turn it off with --no-turn")]
    Turn(String),
}

/// A running service. Dropping it stops the service.
pub struct ServiceHandle {
    endpoint: String,
    iot_endpoint: Option<String>,
    local_addr: SocketAddr,
    ca_pem: Option<String>,
    ca_path: Option<PathBuf>,
    shutdown: tokio::sync::watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
    shared: Arc<server::Shared>,
}

impl ServiceHandle {
    /// The control-plane endpoint URL, e.g. `https://127.0.0.1:4443`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The IoT credentials endpoint's URL, e.g. `https://127.0.0.1:4444`, when it is on.
    pub fn iot_endpoint(&self) -> Option<&str> {
        self.iot_endpoint.as_deref()
    }

    /// The metrics in Prometheus's text format, as `GET /metrics` serves them.
    pub fn metrics(&self) -> String {
        server::metrics(&self.shared)
    }

    /// The temporary keys the IoT endpoint has issued and still remembers, secrets included:
    /// for tests and tools that embed the service (the service itself never logs them).
    pub fn issued_keys(&self) -> Vec<ServiceKey> {
        server::issued_keys(&self.shared)
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The PEM of the CA that signed the server certificate (`None` in plain mode).
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// Where the CA certificate is stored, when there is a state directory.
    pub fn ca_path(&self) -> Option<&Path> {
        self.ca_path.as_deref()
    }

    /// The ARN of the channel named `name`, if it exists.
    pub fn channel_arn(&self, name: &str) -> Option<String> {
        server::channel_arn(&self.shared, name)
    }

    /// Sends GO_AWAY to the master (`client_id` `None`) or a viewer of a channel, and closes
    /// that connection after the grace period, as the service does at the maximum duration.
    /// Returns false when no such connection is live.
    pub fn go_away(&self, channel_arn: &str, role: ChannelRole, client_id: Option<&str>) -> bool {
        self.signal(channel_arn, role, client_id, ConnSignal::GoAway)
    }

    /// A rustls client config trusting this service's CA (`None` with `--plain`), for talking
    /// to it with the bare libraries.
    pub fn client_tls(&self) -> Option<std::sync::Arc<rustls::ClientConfig>> {
        client_tls_config(self.ca_pem()?.as_bytes()).ok()
    }

    /// True while the master (`client_id` `None`) or that viewer of a channel has a live
    /// connection.
    pub fn is_connected(&self, channel_arn: &str, client_id: Option<&str>) -> bool {
        server::is_connected(&self.shared, channel_arn, client_id)
    }

    /// Changes the faults in force (what the admin API does over HTTP), for tests that embed
    /// the service.
    pub fn with_faults<R>(&self, f: impl FnOnce(&mut Faults) -> R) -> R {
        server::with_faults(&self.shared, f)
    }

    /// The UDP ports of the embedded TURN servers (empty when TURN is off).
    pub fn turn_ports(&self) -> Vec<u16> {
        server::turn_ports(&self.shared)
    }

    /// Sends RECONNECT_ICE_SERVER to the master (`client_id` `None`) or a viewer of a channel.
    pub fn reconnect_ice_server(
        &self,
        channel_arn: &str,
        role: ChannelRole,
        client_id: Option<&str>,
    ) -> bool {
        self.signal(channel_arn, role, client_id, ConnSignal::ReconnectIceServer)
    }

    /// Signals the master (`client_id` `None`) or a viewer, as the admin API does; false when
    /// no such connection is live or it is not reading.
    fn signal(
        &self,
        channel_arn: &str,
        role: ChannelRole,
        client_id: Option<&str>,
        what: ConnSignal,
    ) -> bool {
        let command = AdminCommand::Signal {
            channel_arn: channel_arn.to_owned(),
            client_id: match role {
                ChannelRole::Master => None,
                ChannelRole::Viewer => client_id.map(str::to_owned),
            },
            what,
        };
        server::carry_out(&self.shared, command).is_ok()
    }

    /// Stops accepting, lets in-flight requests finish and sends every WebSocket a close frame
    /// (each within [`ServiceConfig::shutdown_grace`]), and returns once every connection
    /// has ended.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        // Every connection ends within the grace period (see `shutdown_grace`).
        self.shared.tasks.close();
        self.shared.tasks.wait().await;
    }
}

impl Drop for ServiceHandle {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// Starts the service on the current tokio runtime.
pub async fn start(config: ServiceConfig) -> Result<ServiceHandle, ServiceError> {
    server::start(config).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_the_service_config_hides_secrets_and_tokens() {
        let mut key = ServiceKey::new("AKIDVISIBLE", "SECRETVALUE");
        key.session_token = Some("TOKENVALUE".into());
        let config = ServiceConfig {
            credentials: vec![key],
            admin_token: Some("ADMINTOKEN".into()),
            ..ServiceConfig::default()
        };
        let shown = format!("{config:?}");
        assert!(shown.contains("AKIDVISIBLE"), "{shown}");
        for secret in ["SECRETVALUE", "TOKENVALUE", "ADMINTOKEN"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        let turn = TurnCredentials::new(&[0x5a; 32]);
        assert!(!format!("{turn:?}").contains("5a"));
    }
}
