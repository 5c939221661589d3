//! ICE and SDP: a STUN binding to the STUN server our peer connections would use, a TURN
//! allocation over UDP with the issued credentials on each TURN server (all at once, each
//! bounded by the timeout), the verdict on UDP, and the size of our stack's offer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kvs_client::IceServer;
use kvs_proto::doctor::{self, Check, Exchange, Finding};
use kvs_webrtc::PeerOptions;
use tokio::net::UdpSocket;
use webrtc_util::Conn;

use super::connection::secs;
use super::{DoctorArgs, Output};

/// Runs the ICE and SDP checks.
pub(super) async fn run(
    args: &DoctorArgs,
    endpoint: &str,
    ice_servers: Option<Vec<IceServer>>,
    timeout: Duration,
    out: &mut Output,
) {
    let mut options = PeerOptions::new(&args.client.region, endpoint);
    options.stun_url = args.stun_url.clone();
    let plan = options.plan(ice_servers.as_deref().unwrap_or_default());

    let stun = async {
        match &plan.stun {
            Some(url) => Some(binding(url, timeout).await),
            None => None,
        }
    };
    let turn = futures_util::future::join_all(plan.turn.iter().map(|server| {
        let uri = server.uris.first().cloned().unwrap_or_default();
        allocation(
            uri,
            server.username.clone(),
            server.password.clone(),
            timeout,
        )
    }));
    let (stun, turn) = match out.report.blocker(Check::Stun) {
        None => tokio::join!(stun, turn),
        Some(_) => (None, Vec::new()),
    };

    let stun_ok = match out.blocked(Check::Stun) {
        true => false,
        false => {
            let finding = doctor::stun(stun.as_ref());
            let ok = finding.mark == kvs_proto::doctor::Mark::Pass;
            out.record(finding);
            ok
        }
    };
    let mut turn_ok = 0;
    if !out.blocked(Check::Turn) {
        turn_ok = turn.iter().filter(|e| e.outcome.is_ok()).count();
        out.record(doctor::turn(
            ice_servers.is_some().then_some(&turn[..]),
            timeout,
        ));
    }
    if !out.blocked(Check::Udp) {
        out.record(doctor::udp(stun_ok, turn_ok, plan.turn.len()));
    }

    match kvs_webrtc::viewer::typical_offer(&options).await {
        Ok(offer) => {
            let mut finding = doctor::offer_size(offer.len());
            finding.figure.push_str(
                " (a viewer's: data channel and H.264 receive-only, candidates trickled)",
            );
            out.record(finding);
        }
        Err(e) => out.record(Finding::fail(
            Check::OfferSize,
            e,
            "our WebRTC stack could not make an offer",
            "run with RUST_LOG=debug and report the error",
        )),
    }
}

/// A UDP socket of the family of `server`, and the server's address.
async fn socket_for(address: &str) -> Result<(Arc<UdpSocket>, SocketAddr), String> {
    let server = tokio::net::lookup_host(address)
        .await
        .map_err(|e| format!("cannot resolve {address}: {e}"))?
        .next()
        .ok_or_else(|| format!("{address} resolves to no address"))?;
    let local: SocketAddr = match server {
        SocketAddr::V4(_) => ([0, 0, 0, 0], 0).into(),
        SocketAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local)
        .await
        .map_err(|e| format!("cannot open a UDP socket: {e}"))?;
    Ok((Arc::new(socket), server))
}

/// A STUN binding to `url`: the server-reflexive address.
async fn binding(url: &str, timeout: Duration) -> Exchange {
    let outcome = exchange(url, None, timeout).await;
    Exchange {
        uri: url.to_owned(),
        outcome,
    }
}

/// A TURN allocation on `uri` with the issued credentials: the relay address. The
/// allocation is released at once.
async fn allocation(
    uri: String,
    username: String,
    password: String,
    timeout: Duration,
) -> Exchange {
    let outcome = exchange(&uri, Some((username, password)), timeout).await;
    Exchange { uri, outcome }
}

/// A binding (no credentials) or an allocation (TURN credentials) with the server of `uri`:
/// the address learned and the milliseconds it took.
async fn exchange(
    uri: &str,
    turn_credentials: Option<(String, String)>,
    timeout: Duration,
) -> Result<(String, u64), String> {
    let address = kvs_webrtc::core::ice_servers::server_address(uri)
        .ok_or_else(|| format!("{uri} is not a STUN or TURN URI"))?;
    let (socket, server) = tokio::time::timeout(timeout, socket_for(&address))
        .await
        .map_err(|_| format!("no DNS answer in {}", secs(timeout)))??;
    let allocate = turn_credentials.is_some();
    let (username, password) = turn_credentials.unwrap_or_default();
    let (stun, turn) = match allocate {
        true => (String::new(), server.to_string()),
        false => (server.to_string(), String::new()),
    };
    let client = turn::client::Client::new(turn::client::ClientConfig {
        stun_serv_addr: stun,
        turn_serv_addr: turn,
        username,
        password,
        realm: String::new(),
        software: "kvs-signaling doctor".into(),
        rto_in_ms: 200,
        conn: socket,
        vnet: None,
    })
    .await
    .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let result = async {
        client.listen().await.map_err(|e| e.to_string())?;
        let learned = match allocate {
            true => {
                let relay = tokio::time::timeout(timeout, client.allocate()).await;
                let relay = relay
                    .map_err(|_| format!("no answer in {}", secs(timeout)))?
                    .map_err(|e| e.to_string())?;
                let address = relay.local_addr().map_err(|e| e.to_string());
                let _ = tokio::time::timeout(Duration::from_secs(1), relay.close()).await;
                address?
            }
            false => tokio::time::timeout(timeout, client.send_binding_request())
                .await
                .map_err(|_| format!("no answer in {}", secs(timeout)))?
                .map_err(|e| e.to_string())?,
        };
        Ok::<_, String>(learned)
    }
    .await;
    let elapsed = started.elapsed().as_millis() as u64;
    let _ = client.close().await;
    result.map(|learned| (learned.to_string(), elapsed))
}
