//! The tokio side of the service: accept, TLS, then HTTP (control plane, signaling API,
//! admin API, metrics) or a WebSocket relay connection. Every decision is the service core's
//! (`kvs-service-core`); this layer moves bytes, keeps time and storage.

mod admin;
mod console;
mod http;
mod iot;
mod request;
mod response;
mod websocket;

pub use websocket::ws_config;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use hyper_util::rt::TokioIo;
use kvs_service_core::admin::{AdminCommand, AdminDone, AdminRefusal, ConnSignal};
use kvs_service_core::lifetime::Lifetimes;
use kvs_service_core::{CoreConfig, Keys, ServiceCore};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::clock::{ServiceClock, lock};
use crate::observe::Observe;
use crate::store::{Persister, Store};
use crate::turn_server::{self, Turn};
use crate::{ServiceConfig, ServiceError, ServiceHandle, tls};

/// What a connection's task is asked to do.
#[derive(Debug)]
pub(crate) enum Outbound {
    /// Send a relayed frame or a STATUS_RESPONSE.
    Frame(String),
    /// What the operator asked for.
    Signal(ConnSignal),
}

/// The service core with the driver's handles: each connection's outbox, and the senders
/// that complete SendAlexaOfferToMaster requests waiting for the master's answer.
pub(crate) type Core = ServiceCore<mpsc::Sender<Outbound>, oneshot::Sender<String>>;

/// Carries out an admin command under one lock: faults change in the core; a signal is
/// handed to the connection the core names. Returns the JSON to answer with.
pub(crate) fn carry_out(shared: &Shared, command: AdminCommand) -> Result<Vec<u8>, AdminRefusal> {
    let mut core = lock(&shared.core);
    match core.admin(command)? {
        AdminDone::Json(body) => Ok(body),
        AdminDone::Signal { to, what } => {
            let sent = core
                .outbox(to)
                .is_some_and(|tx| tx.try_send(Outbound::Signal(what)).is_ok());
            if sent {
                Ok(b"{}".to_vec())
            } else {
                Err(AdminRefusal::no_connection())
            }
        }
    }
}

pub(crate) fn is_connected(shared: &Shared, channel_arn: &str, client_id: Option<&str>) -> bool {
    lock(&shared.core).find(channel_arn, client_id).is_some()
}

pub(crate) fn channel_arn(shared: &Shared, name: &str) -> Option<String> {
    lock(&shared.core).channel_arn(name)
}

pub(crate) fn metrics(shared: &Shared) -> String {
    shared.observe.render()
}

pub(crate) fn issued_keys(shared: &Shared) -> Vec<kvs_service_core::ServiceKey> {
    lock(&shared.core).issued_keys()
}

pub(crate) struct Shared {
    config: ServiceConfig,
    observe: Observe,
    store: Option<Persister>,
    scheme: (&'static str, &'static str),
    /// Every decision and the one table of connections and waiting Alexa offers.
    core: Arc<Mutex<Core>>,
    /// What checks signatures; immutable, so it needs no lock.
    keys: Keys,
    turn: Option<Turn>,
    shutdown: watch::Receiver<bool>,
    /// Every connection's task, so shutdown can wait for them to end.
    pub(crate) tasks: TaskTracker,
}

impl Shared {
    /// The service's clock ([`ServiceCore::service_time`]).
    fn now(&self) -> SystemTime {
        lock(&self.core).service_time(SystemTime::now())
    }

    /// The lifetimes every WebSocket connection gets.
    fn lifetimes(&self) -> Lifetimes {
        Lifetimes {
            idle_timeout: self.config.idle_timeout,
            max_connection_duration: self.config.max_connection_duration,
            go_away_grace: self.config.go_away_grace,
            reconnect_ice_server_after: self.config.reconnect_ice_server_after,
        }
    }
}

pub(crate) async fn start(config: ServiceConfig) -> Result<ServiceHandle, ServiceError> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServiceError::Bind {
            addr: config.listen,
            source,
        })?;
    let local_addr = listener.local_addr().map_err(|source| ServiceError::Bind {
        addr: config.listen,
        source,
    })?;
    let identity = if config.tls {
        let mut hosts = vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ];
        let ip = local_addr.ip().to_string();
        if !local_addr.ip().is_unspecified() && !hosts.contains(&ip) {
            hosts.push(ip);
        }
        Some(tls::identity(config.state_dir.as_deref(), &hosts)?)
    } else {
        None
    };
    let scheme = if config.tls {
        ("https", "wss")
    } else {
        ("http", "ws")
    };
    let endpoint = format!("{}://{local_addr}", scheme.0);
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let mut core = Core::new(CoreConfig {
        region: config.region.clone(),
        account_id: config.account_id.clone(),
        policy: config.policy.clone(),
        limits: config.limits,
        role_aliases: config
            .iot
            .as_ref()
            .map(|iot| iot.role_aliases.clone())
            .unwrap_or_default(),
    });
    let store = match &config.state_dir {
        Some(dir) => {
            let store = Persister::new(Box::new(Store::open(dir)?));
            let (records, counter) = store.load()?;
            info!(
                channels = records.len(),
                "channels restored from the state directory"
            );
            core.restore(records, counter);
            Some(store)
        }
        None => None,
    };
    let core = Arc::new(Mutex::new(core));
    let clock = ServiceClock::of(core.clone());
    let turn = match &config.turn {
        Some(turn) => Some(turn_server::start(local_addr.ip(), turn, clock).await?),
        None => None,
    };
    let shared = Arc::new(Shared {
        observe: Observe::default(),
        keys: Keys::new(&config.region, config.credentials.clone()),
        core,
        store,
        turn,
        scheme,
        config,
        shutdown: shutdown_rx,
        tasks: TaskTracker::new(),
    });
    let acceptor = identity
        .as_ref()
        .map(|id| tokio_rustls::TlsAcceptor::from(id.server_config.clone()));
    let iot_endpoint = match (&shared.config.iot, &identity) {
        (None, _) => None,
        (Some(_), None) => return Err(ServiceError::IotNeedsTls),
        (Some(iot), Some(id)) => {
            let addr = SocketAddr::new(local_addr.ip(), iot.port);
            Some(iot::start(addr, id.mutual.clone(), shared.clone()).await?)
        }
    };
    info!(
        %endpoint,
        region = %shared.config.region,
        turn_ports = ?shared.turn.as_ref().map(|t| &t.ports),
        rate_limits = shared.config.limits.is_some(),
        admin_api = shared.config.admin_token.is_some(),
        policy = shared.config.policy.is_some(),
        iot_endpoint = iot_endpoint.as_deref().unwrap_or("off"),
        "signaling service listening"
    );
    let handle_shared = shared.clone();
    let task = tokio::spawn(accept_loop(listener, acceptor, shared));
    Ok(ServiceHandle {
        endpoint,
        iot_endpoint,
        local_addr,
        ca_pem: identity.as_ref().map(|i| i.ca_pem.clone()),
        ca_path: identity.and_then(|i| i.ca_path),
        shutdown: shutdown_tx,
        task: Some(task),
        shared: handle_shared,
    })
}

pub(crate) fn with_faults<R>(
    shared: &Shared,
    f: impl FnOnce(&mut kvs_service_core::Faults) -> R,
) -> R {
    f(lock(&shared.core).faults_mut())
}

/// The UDP ports of the TURN servers, empty when TURN is off.
pub(crate) fn turn_ports(shared: &Shared) -> Vec<u16> {
    shared
        .turn
        .as_ref()
        .map(|t| t.ports.clone())
        .unwrap_or_default()
}

/// How often expired departed viewer ids and held messages are freed (`Relay::sweep`).
const RELAY_SWEEP_INTERVAL: Duration = Duration::from_secs(1);

async fn accept_loop(
    listener: TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    shared: Arc<Shared>,
) {
    let mut shutdown = shared.shutdown.clone();
    let mut sweep = tokio::time::interval(RELAY_SWEEP_INTERVAL);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let (tcp, peer) = tokio::select! {
            _ = shutdown.changed() => break,
            _ = sweep.tick() => {
                lock(&shared.core).sweep(Instant::now(), SystemTime::now());
                continue;
            }
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    warn!(error = %e, "accept failed (out of file descriptors? raise `ulimit -n`)");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let shared = shared.clone();
        let acceptor = acceptor.clone();
        shared.tasks.clone().spawn(async move {
            let timeout = shared.config.handshake_timeout;
            let mut shutdown = shared.shutdown.clone();
            match acceptor {
                Some(acceptor) => {
                    let handshake = tokio::time::timeout(timeout, acceptor.accept(tcp));
                    let tls = tokio::select! {
                        done = handshake => done,
                        _ = shutdown.changed() => return, // no new sessions while shutting down
                    };
                    match tls {
                        Ok(Ok(tls)) => serve_connection(tls, peer, shared).await,
                        Ok(Err(e)) => debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => debug!(%peer, "TLS handshake timed out"),
                    }
                }
                None => serve_connection(tcp, peer, shared).await,
            }
        });
    }
    if let Some(turn) = &shared.turn {
        let _ = turn.server.close().await;
    }
}

async fn serve_connection<S>(io: S, peer: SocketAddr, shared: Arc<Shared>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut shutdown = shared.shutdown.clone();
    let header_timeout = shared.config.handshake_timeout;
    let grace = shared.config.shutdown_grace;
    let service = hyper::service::service_fn(move |req| {
        let shared = shared.clone();
        async move { Ok::<_, Infallible>(http::handle(shared, req).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_timeout)
        .max_buf_size(http::MAX_HEADER_BYTES)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        _ = shutdown.changed() => {
            // No new requests on this connection; the one in flight gets the grace period.
            conn.as_mut().graceful_shutdown();
            match tokio::time::timeout(grace, conn.as_mut()).await {
                Ok(result) => result,
                Err(_) => {
                    info!(%peer, grace_secs = grace.as_secs_f64(), "request still in flight after the shutdown grace; cut");
                    Ok(())
                }
            }
        }
    };
    if let Err(e) = result {
        debug!(%peer, error = %e, "HTTP connection ended with an error");
    }
}
