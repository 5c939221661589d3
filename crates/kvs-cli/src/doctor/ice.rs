//! ICE and SDP: a STUN binding to the STUN server our peer connections would use, a TURN
//! allocation over UDP with the issued credentials on each TURN server (all at once, each
//! bounded by the timeout), the verdict on UDP, and the size of our stack's offer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kvs_client::IceServer;
use kvs_proto::doctor::{self, Check, Finding};
use kvs_webrtc::PeerOptions;
use tokio::net::UdpSocket;
use webrtc_util::Conn;

use super::connection::{ms, secs};
use super::{DoctorArgs, Output};

/// A STUN or TURN exchange with one server: its URI with the address learned (server
/// reflexive or relayed) and the time it took, or its URI and what went wrong.
type Exchange = Result<(String, SocketAddr, Duration), (String, String)>;

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

    let stun_ok = match (out.blocked(Check::Stun), stun) {
        (true, _) => false,
        (false, None) => {
            out.record(Finding::not_run(
                Check::Stun,
                "no STUN server to ask: the endpoint is not the public one and the service listed no TURN server (whose port answers STUN); pass --stun-url",
            ));
            false
        }
        (false, Some(Ok((url, mapped, elapsed)))) => {
            out.record(Finding::pass(
                Check::Stun,
                format!("{url} → server-reflexive {mapped} in {}", ms(elapsed)),
            ));
            true
        }
        (false, Some(Err((url, e)))) => {
            out.record(Finding::fail(
                Check::Stun,
                format!("{url}: {e}"),
                "the STUN server does not answer over UDP: a firewall drops outbound UDP, or nothing listens there",
                "allow outbound UDP to the STUN server's port (443 for the real service)",
            ));
            false
        }
    };

    let mut turn_ok = 0;
    if !out.blocked(Check::Turn) {
        turn_ok = turn_verdict(ice_servers.is_some(), plan.turn.len(), &turn, timeout, out);
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

fn turn_verdict(
    listed: bool,
    total: usize,
    results: &[Exchange],
    timeout: Duration,
    out: &mut Output,
) -> usize {
    if !listed {
        out.record(Finding::not_run(
            Check::Turn,
            "GetIceServerConfig gave no servers (see the permissions check)",
        ));
        return 0;
    }
    if total == 0 {
        out.record(Finding::fail(
            Check::Turn,
            "GetIceServerConfig listed no TURN server over UDP",
            "without a relay, peers that no direct path joins (symmetric NATs, strict firewalls) cannot connect",
            "the TURN servers come from the service; for the local service, run it without --no-turn",
        ));
        return 0;
    }
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let figure = results
        .iter()
        .map(|r| match r {
            Ok((uri, relay, elapsed)) => format!("{uri} → relay {relay} in {}", ms(*elapsed)),
            Err((uri, e)) => format!("{uri}: {e}"),
        })
        .collect::<Vec<_>>()
        .join("; ");
    let figure = format!("{ok} of {total} allocated: {figure}");
    match ok {
        0 => out.record(Finding::fail(
            Check::Turn,
            figure,
            format!(
                "no TURN server allocated a relay within {}: UDP to the TURN ports is blocked, or nothing listens there",
                secs(timeout)
            ),
            "allow outbound UDP to the TURN servers' ports; for your own TURN server, check that it runs on the listed port",
        )),
        n if n < total => out.record(Finding::warn(
            Check::Turn,
            figure,
            "some TURN servers did not allocate a relay, so relayed connections have fewer paths",
            "allow outbound UDP to every TURN server's port",
        )),
        _ => out.record(Finding::pass(Check::Turn, figure)),
    }
    ok
}

/// `stun:host:port` or `turn:host:port?transport=udp` → `host:port`.
fn server_address(uri: &str) -> &str {
    let rest = uri.split_once(':').map_or(uri, |(_, rest)| rest);
    rest.split('?').next().unwrap_or(rest)
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

fn turn_client_config(
    socket: Arc<UdpSocket>,
    stun: String,
    turn: String,
    username: String,
    password: String,
) -> turn::client::ClientConfig {
    turn::client::ClientConfig {
        stun_serv_addr: stun,
        turn_serv_addr: turn,
        username,
        password,
        realm: String::new(),
        software: "kvs-signaling doctor".into(),
        rto_in_ms: 200,
        conn: socket,
        vnet: None,
    }
}

/// A STUN binding to `url`: the server-reflexive address and the time it took.
async fn binding(url: &str, timeout: Duration) -> Exchange {
    let fail = |e: String| (url.to_owned(), e);
    let (socket, server) = tokio::time::timeout(timeout, socket_for(server_address(url)))
        .await
        .map_err(|_| fail(format!("no DNS answer in {}", secs(timeout))))?
        .map_err(fail)?;
    let config = turn_client_config(
        socket,
        server.to_string(),
        String::new(),
        String::new(),
        String::new(),
    );
    let client = turn::client::Client::new(config)
        .await
        .map_err(|e| fail(e.to_string()))?;
    let started = Instant::now();
    let result = async {
        client.listen().await.map_err(|e| e.to_string())?;
        match tokio::time::timeout(timeout, client.send_binding_request()).await {
            Ok(Ok(mapped)) => Ok(mapped),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer in {}", secs(timeout))),
        }
    }
    .await;
    let elapsed = started.elapsed();
    let _ = client.close().await;
    result
        .map(|mapped| (url.to_owned(), mapped, elapsed))
        .map_err(fail)
}

/// A TURN allocation on `uri` with the issued credentials: the relay address and the time
/// it took. The allocation is released at once.
async fn allocation(
    uri: String,
    username: String,
    password: String,
    timeout: Duration,
) -> Exchange {
    let fail = |e: String| (uri.clone(), e);
    let (socket, server) = tokio::time::timeout(timeout, socket_for(server_address(&uri)))
        .await
        .map_err(|_| fail(format!("no DNS answer in {}", secs(timeout))))?
        .map_err(fail)?;
    let config = turn_client_config(
        socket,
        String::new(),
        server.to_string(),
        username,
        password,
    );
    let client = turn::client::Client::new(config)
        .await
        .map_err(|e| fail(e.to_string()))?;
    let started = Instant::now();
    let result = async {
        client.listen().await.map_err(|e| e.to_string())?;
        let relay = match tokio::time::timeout(timeout, client.allocate()).await {
            Ok(Ok(relay)) => relay,
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => return Err(format!("no answer in {}", secs(timeout))),
        };
        let address = relay.local_addr().map_err(|e| e.to_string());
        let _ = tokio::time::timeout(Duration::from_secs(1), relay.close()).await;
        address
    }
    .await;
    let elapsed = started.elapsed();
    let _ = client.close().await;
    result
        .map(|relay| (uri.clone(), relay, elapsed))
        .map_err(fail)
}
