//! The embedded TURN server (UDP; STUN answered on the same ports), built on webrtc-rs's
//! `turn`. It accepts exactly the credentials GetIceServerConfig issues: the password is
//! recomputed from the user name, and expired user names are refused with 401 by the socket
//! it reads through (`turn_refusal`).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use tokio::net::UdpSocket;
use tracing::{debug, info};
use turn::auth::{AuthHandler, generate_auth_key};
use turn::relay::relay_static::RelayAddressGeneratorStatic;
use turn::server::Server;
use turn::server::config::{ConnConfig, ServerConfig};

use crate::clock::ServiceClock;
use crate::turn_refusal::RefusingSocket;
use crate::{ServiceError, TurnConfig};
use kvs_service_core::TurnCredentials;

/// The TURN realm, as the credentials' MD5 key includes it.
const REALM: &str = "kinesisvideo";

/// The embedded TURN server's addresses and credentials.
pub(crate) struct Turn {
    pub(crate) credentials: TurnCredentials,
    pub(crate) ports: Vec<u16>,
    /// The ports GetIceServerConfig lists: the bound ones unless others are advertised.
    pub(crate) advertised: Vec<u16>,
    pub(crate) server: Server,
}

struct KvsAuth {
    credentials: TurnCredentials,
    clock: ServiceClock,
}

impl AuthHandler for KvsAuth {
    fn auth_handle(
        &self,
        username: &str,
        realm: &str,
        src_addr: SocketAddr,
    ) -> Result<Vec<u8>, turn::Error> {
        match self.credentials.check(username, self.clock.now()) {
            Ok((arn, password)) => {
                debug!(%src_addr, channel = %arn, "TURN credentials accepted");
                Ok(generate_auth_key(username, realm, &password))
            }
            // Not reached for refusals the socket answers with 401 first (turn_refusal.rs).
            Err(e) => {
                debug!(%src_addr, reason = %e, "TURN request refused");
                Err(turn::Error::Other(e.to_string()))
            }
        }
    }
}

/// Binds the TURN ports on `ip` and starts serving; user names expire on `clock`.
pub(crate) async fn start(
    ip: IpAddr,
    config: &TurnConfig,
    clock: ServiceClock,
) -> Result<Turn, ServiceError> {
    let secret: [u8; 32] = rand::random();
    let credentials = TurnCredentials::new(&secret);
    let relay_ip = if ip.is_unspecified() {
        IpAddr::from([127, 0, 0, 1])
    } else {
        ip
    };
    let mut conn_configs = Vec::new();
    let mut ports = Vec::new();
    for port in config.ports {
        let addr = SocketAddr::new(ip, port);
        let socket = UdpSocket::bind(addr)
            .await
            .map_err(|source| ServiceError::Bind { addr, source })?;
        let local = socket
            .local_addr()
            .map_err(|source| ServiceError::Bind { addr, source })?;
        ports.push(local.port());
        conn_configs.push(ConnConfig {
            conn: RefusingSocket::new(socket, credentials.clone(), REALM, clock.clone()),
            relay_addr_generator: Box::new(RelayAddressGeneratorStatic {
                relay_address: relay_ip,
                address: relay_ip.to_string(),
                net: Arc::new(webrtc_util::vnet::net::Net::new(None)),
            }),
        });
    }
    let server = Server::new(ServerConfig {
        conn_configs,
        realm: REALM.to_owned(),
        auth_handler: Arc::new(KvsAuth {
            credentials: credentials.clone(),
            clock,
        }),
        channel_bind_timeout: std::time::Duration::from_secs(0),
        alloc_close_notify: None,
    })
    .await
    .map_err(|e| ServiceError::Turn(e.to_string()))?;
    let advertised = config
        .advertised_ports
        .map_or_else(|| ports.clone(), Vec::from);
    info!(?ports, ?advertised, "TURN server listening (UDP)");
    Ok(Turn {
        credentials,
        ports,
        advertised,
        server,
    })
}
