//! The embedded TURN server with the credentials GetIceServerConfig hands out, driven by
//! webrtc-rs's TURN client: allocations relay both ways, STUN answers on the same port, and
//! wrong passwords and expired user names are refused with 401.

mod common;

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_kinesisvideosignaling::types::IceServer;
use common::{Key, channel, service, signaling};
use kvs_service::{EXAMPLE_SECRET_ACCESS_KEY, ServiceHandle};
use tokio::net::UdpSocket;
use turn::client::{Client, ClientConfig};
use webrtc_util::Conn;

async fn ice_servers(svc: &ServiceHandle, arn: &str) -> Vec<IceServer> {
    signaling(svc, Key::example(EXAMPLE_SECRET_ACCESS_KEY))
        .get_ice_server_config()
        .channel_arn(arn)
        .send()
        .await
        .unwrap()
        .ice_server_list
        .unwrap()
}

/// `turn:127.0.0.1:PORT?transport=udp` → `127.0.0.1:PORT`.
fn address(uri: &str) -> String {
    let rest = uri.strip_prefix("turn:").unwrap();
    rest.split('?').next().unwrap().to_owned()
}

async fn client(server: &str, username: &str, password: &str) -> Client {
    let conn = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let client = Client::new(ClientConfig {
        stun_serv_addr: server.to_owned(),
        turn_serv_addr: server.to_owned(),
        username: username.to_owned(),
        password: password.to_owned(),
        realm: "kinesisvideo".into(),
        software: String::new(),
        rto_in_ms: 0,
        conn: Arc::new(conn),
        vnet: None,
    })
    .await
    .unwrap();
    client.listen().await.unwrap();
    client
}

#[tokio::test]
async fn both_servers_relay_with_the_issued_credentials() {
    let svc = service().await;
    let arn = channel(&svc, "turn").await;
    let servers = ice_servers(&svc, &arn).await;
    assert_eq!(servers.len(), 2);
    let ports = svc.turn_ports();
    for (server, port) in servers.iter().zip(ports) {
        let addr = address(&server.uris()[0]);
        assert_eq!(addr, format!("127.0.0.1:{port}"));
        let client = client(
            &addr,
            server.username().unwrap(),
            server.password().unwrap(),
        )
        .await;
        let mapped = client.send_binding_request().await.unwrap();
        assert_eq!(
            mapped.ip().to_string(),
            "127.0.0.1",
            "STUN on the same port"
        );

        let relay = client
            .allocate()
            .await
            .expect("allocation with the issued credentials");
        let relayed_at = relay.local_addr().unwrap();
        let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        relay
            .send_to(b"through the relay", peer.local_addr().unwrap())
            .await
            .unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = tokio::time::timeout(Duration::from_secs(10), peer.recv_from(&mut buf))
            .await
            .expect("the peer hears the relay")
            .unwrap();
        assert_eq!(&buf[..n], b"through the relay");
        assert_eq!(from, relayed_at);
        peer.send_to(b"and back", relayed_at).await.unwrap();
        let (n, _) = tokio::time::timeout(Duration::from_secs(10), relay.recv_from(&mut buf))
            .await
            .expect("the client hears the peer")
            .unwrap();
        assert_eq!(&buf[..n], b"and back");
        client.close().await.unwrap();
    }
}

/// Refusals are 401 Unauthorized (with REALM and NONCE, RFC 8489 §9.2.4), as the real
/// service answers, not 400: a wrong password, a forged user name and an expired one.
#[tokio::test]
async fn wrong_passwords_and_expired_user_names_get_401() {
    let svc = service().await;
    let arn = channel(&svc, "turn-denied").await;
    let servers = ice_servers(&svc, &arn).await;
    let addr = address(&servers[0].uris()[0]);
    let username = servers[0].username().unwrap();
    let tag = username.split_once(':').unwrap().1;
    let expired = format!("1000000000:{tag}");
    let cases = [
        (
            username,
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            "wrong password",
        ),
        (
            "9999999999:djE6YXJuOmF3czpraW5lc2lzdmlkZW86eDox",
            servers[0].password().unwrap(),
            "forged user name",
        ),
        (
            expired.as_str(),
            servers[0].password().unwrap(),
            "expired user name",
        ),
    ];
    for (user, password, case) in cases {
        let refused = client(&addr, user, password).await;
        let Err(err) = refused.allocate().await else {
            panic!("{case}: allocated");
        };
        assert!(err.to_string().contains("401"), "{case}: {err}");
        refused.close().await.unwrap();
    }
}

#[tokio::test]
async fn shutting_the_service_down_frees_the_turn_ports() {
    let svc = service().await;
    let ports = svc.turn_ports();
    assert_eq!(ports.len(), 2);
    svc.shutdown().await;
    for port in ports {
        let mut freed = false;
        for _ in 0..50 {
            if UdpSocket::bind(("127.0.0.1", port)).await.is_ok() {
                freed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(freed, "TURN port {port} is still bound");
    }
}

/// A user name whose expiry is u64::MAX once stopped the TURN port's read loop (an overflow
/// in the auth handler); now it is refused like any wrong password and the port keeps serving.
#[tokio::test]
async fn the_largest_expiry_does_not_stop_the_turn_server() {
    let svc = service().await;
    let arn = channel(&svc, "turn-far-expiry").await;
    let servers = ice_servers(&svc, &arn).await;
    let addr = address(&servers[0].uris()[0]);
    let tag = servers[0].username().unwrap().split_once(':').unwrap().1;
    let hostile = client(
        &addr,
        &format!("{}:{tag}", u64::MAX),
        servers[0].password().unwrap(),
    )
    .await;
    assert!(hostile.allocate().await.is_err());
    hostile.close().await.unwrap();
    let honest = client(
        &addr,
        servers[0].username().unwrap(),
        servers[0].password().unwrap(),
    )
    .await;
    honest
        .allocate()
        .await
        .expect("the same port still allocates for valid credentials");
    honest.close().await.unwrap();
}

/// The TURN server checks expiries on the service's clock, the one GetIceServerConfig issued
/// them on: with the clock moved an hour ahead, credentials issued five minutes ago count as
/// expired (401); with the clock back, the same credentials allocate.
#[tokio::test]
async fn turn_credentials_expire_on_the_service_clock() {
    let svc = service().await;
    let arn = channel(&svc, "turn-clock").await;
    let servers = ice_servers(&svc, &arn).await;
    let addr = address(&servers[0].uris()[0]);
    let (user, password) = (
        servers[0].username().unwrap(),
        servers[0].password().unwrap(),
    );

    svc.with_faults(|f| f.set_clock_skew(3600)).unwrap();
    let late = client(&addr, user, password).await;
    let Err(err) = late.allocate().await else {
        panic!("allocated with credentials expired on the service clock");
    };
    assert!(err.to_string().contains("401"), "{err}");
    late.close().await.unwrap();

    svc.with_faults(|f| f.set_clock_skew(0)).unwrap();
    let on_time = client(&addr, user, password).await;
    on_time
        .allocate()
        .await
        .expect("the same credentials allocate on the service's own time");
    on_time.close().await.unwrap();
}
