//! The client state machine against the service's own channel and routing logic, in memory
//! and on virtual time: real SigV4 signing and verification, real channel operations, real
//! relay, no sockets and no sleeping. A simulated day takes well under a second.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use kvs_proto::Credentials;
use kvs_proto::api::{ChannelRole, ErrorBody, Operation};
use kvs_proto::client::{
    ChannelRef, Client, ClientConfig, EndpointCacheFile, Event, HttpResponse, Input,
    OutgoingMessage, Output, State,
};
use kvs_proto::sigv4::{self, IncomingRequest};
use kvs_proto::wire::{Action, MessageType};
use kvs_service::{
    Answer, Channels, ConnId, Context, EXAMPLE_ACCESS_KEY_ID as AK,
    EXAMPLE_SECRET_ACCESS_KEY as SK, EndpointBase, Relay, Routed,
};

const HOST: &str = "sim.local:4443";
const HTTPS: &str = "https://sim.local:4443";
const WSS: &str = "wss://sim.local:4443";
const REGION: &str = "us-west-2";

struct Peer {
    client: Client,
    conn: Option<ConnId>,
    events: Vec<Event>,
    credential_ttl: Option<Duration>,
    credential_fetches: u32,
}

/// The service side: the crate's own `Channels` and `Relay`, plus faults to inject.
struct Service {
    channels: Channels,
    relay: Relay,
    up: bool,
    clock_offset_secs: i64,
    reject_next: u32,
    idle_timeout: Option<Duration>,
    last_in: HashMap<ConnId, Instant>,
}

impl Service {
    fn new() -> Self {
        Self {
            channels: Channels::new(REGION, "123456789012"),
            relay: Relay::new(),
            up: true,
            clock_offset_secs: 0,
            reject_next: 0,
            idle_timeout: None,
            last_in: HashMap::new(),
        }
    }
}

struct Sim {
    t0: Instant,
    wall0: SystemTime,
    now: Instant,
    peers: Vec<Peer>,
    svc: Service,
}

fn error_body(message: &str) -> Vec<u8> {
    serde_json::to_vec(&ErrorBody {
        message: message.to_owned(),
    })
    .unwrap()
}

impl Sim {
    #[allow(clippy::disallowed_methods)] // the origin of virtual time; nothing reads it again
    fn new() -> Self {
        let now = Instant::now();
        Self {
            t0: now,
            wall0: SystemTime::UNIX_EPOCH + Duration::from_secs(1_750_000_000),
            now,
            peers: Vec::new(),
            svc: Service::new(),
        }
    }

    fn wall(&self) -> SystemTime {
        self.wall0 + (self.now - self.t0)
    }

    fn service_wall(&self) -> SystemTime {
        let offset = Duration::from_secs(self.svc.clock_offset_secs.unsigned_abs());
        if self.svc.clock_offset_secs >= 0 {
            self.wall() + offset
        } else {
            self.wall() - offset
        }
    }

    fn config(role: ChannelRole, client_id: &str) -> ClientConfig {
        let mut c = ClientConfig::new(ChannelRef::Name("sim".into()), REGION, role);
        c.endpoint = HTTPS.into();
        c.client_id = client_id.into();
        c.rng_seed = Some(client_id.len() as u64 + 7);
        c
    }

    fn add(&mut self, config: ClientConfig) -> usize {
        self.add_with_credential_ttl(config, None)
    }

    /// Adds a client whose credentials expire `ttl` after each fetch.
    fn add_with_credential_ttl(&mut self, config: ClientConfig, ttl: Option<Duration>) -> usize {
        let mut client = Client::new(config, self.now, self.wall());
        client.connect(self.now);
        self.peers.push(Peer {
            client,
            conn: None,
            events: Vec::new(),
            credential_ttl: ttl,
            credential_fetches: 0,
        });
        self.pump();
        self.peers.len() - 1
    }

    fn feed(&mut self, i: usize, input: Input<'_>) {
        let now = self.now;
        self.peers[i].client.handle_input(now, input);
    }

    /// Carries out every pending output of every peer until nothing moves.
    fn pump(&mut self) {
        loop {
            let mut moved = false;
            for i in 0..self.peers.len() {
                while let Some(out) = self.peers[i].client.poll_output() {
                    moved = true;
                    self.perform(i, out);
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn perform(&mut self, i: usize, out: Output) {
        match out {
            Output::FetchCredentials => {
                let peer = &mut self.peers[i];
                peer.credential_fetches += 1;
                let expiry = peer
                    .credential_ttl
                    .map(|ttl| self.wall0 + (self.now - self.t0) + ttl);
                let token = expiry.map(|_| format!("token-{}", peer.credential_fetches));
                self.feed(
                    i,
                    Input::Credentials(Ok(Credentials::new(AK, SK, token, expiry))),
                );
            }
            Output::Http(req) => {
                if !self.svc.up {
                    return self.feed(i, Input::HttpFailed(req.id, "connection refused".into()));
                }
                let (status, error_type, body) = self.http(&req.url, &req.headers, &req.body);
                let date = httpdate::fmt_http_date(self.service_wall());
                let resp = HttpResponse {
                    status,
                    error_type: error_type.as_deref(),
                    date: Some(&date),
                    body: &body,
                };
                self.feed(i, Input::HttpResponse(req.id, resp));
            }
            Output::WsConnect(url) => self.ws_connect(i, url.as_str()),
            Output::WsSend(frame) => self.ws_send(i, frame),
            Output::WsPing => {
                if let Some(conn) = self.peers[i].conn {
                    self.svc.last_in.insert(conn, self.now);
                    self.feed(i, Input::WsPong);
                }
            }
            Output::WsClose => {
                if let Some(conn) = self.peers[i].conn.take() {
                    self.svc.relay.disconnect(self.now, conn);
                }
            }
            Output::Event(e) => self.peers[i].events.push(e),
        }
    }

    fn http(
        &mut self,
        url: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> (u16, Option<String>, Vec<u8>) {
        let path = url
            .strip_prefix(HTTPS)
            .expect("requests go to the sim service");
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let req = IncomingRequest {
            method: "POST",
            host: HOST,
            path,
            query: None,
            headers: &headers,
            body,
        };
        if let Err(e) = sigv4::verify(
            &req,
            |ak| (ak == AK).then(|| SK.to_owned()),
            REGION,
            self.service_wall(),
        ) {
            return (
                e.http_status(),
                Some(e.exception_name().into()),
                error_body(&e.to_string()),
            );
        }
        if self.svc.reject_next > 0 {
            self.svc.reject_next -= 1;
            return (
                403,
                Some("AccessDeniedException".into()),
                error_body("injected refusal"),
            );
        }
        let op = Operation::from_path(path).expect("a known operation");
        let cx = Context {
            base: EndpointBase {
                https: HTTPS,
                wss: WSS,
            },
            now: self.service_wall(),
            turn: None,
            caller: None,
        };
        match self.svc.channels.dispatch(op, body, cx).map(|o| o.answer) {
            Ok(Answer::Json(body)) => (200, None, body),
            Ok(Answer::OfferToMaster(_)) => {
                unreachable!("the simulated clients send no Alexa offers")
            }
            Err(e) => (
                e.code.http_status(),
                Some(e.code.name().into()),
                error_body(&e.message),
            ),
        }
    }

    fn ws_connect(&mut self, i: usize, url: &str) {
        if !self.svc.up {
            return self.feed(
                i,
                Input::WsConnectFailed {
                    status: None,
                    error_type: None,
                    message: "connection refused".into(),
                },
            );
        }
        let rest = url
            .strip_prefix(WSS)
            .expect("sockets go to the sim service");
        let (path, query) = rest.split_once('?').unwrap();
        let req = IncomingRequest {
            method: "GET",
            host: HOST,
            path,
            query: Some(query),
            headers: &[],
            body: &[],
        };
        let verified = match sigv4::verify(
            &req,
            |ak| (ak == AK).then(|| SK.to_owned()),
            REGION,
            self.service_wall(),
        ) {
            Ok(v) => v,
            Err(e) => {
                let message = String::from_utf8(error_body(&e.to_string())).unwrap();
                return self.feed(
                    i,
                    Input::WsConnectFailed {
                        status: Some(e.http_status()),
                        error_type: Some(e.exception_name()),
                        message,
                    },
                );
            }
        };
        let arn = verified.params["X-Amz-ChannelARN"].clone();
        let Some(channel) = self.svc.channels.by_arn(&arn).cloned() else {
            let message = String::from_utf8(error_body("channel not found")).unwrap();
            return self.feed(
                i,
                Input::WsConnectFailed {
                    status: Some(404),
                    error_type: Some("ResourceNotFoundException"),
                    message,
                },
            );
        };
        let role = if path == "/m" {
            ChannelRole::Master
        } else {
            ChannelRole::Viewer
        };
        let ttl = channel.message_ttl();
        let client_id = verified.params.get("X-Amz-ClientId").cloned();
        let joined = self
            .svc
            .relay
            .connect(self.now, &arn, role, client_id, ttl, ())
            .expect("room on the channel");
        if let Some(old) = joined.replaced
            && let Some(j) = self.peers.iter().position(|p| p.conn == Some(old))
        {
            self.peers[j].conn = None;
            self.feed(j, Input::WsClosed("replaced by a newer connection".into()));
        }
        self.peers[i].conn = Some(joined.id);
        self.svc.last_in.insert(joined.id, self.now);
        self.feed(i, Input::WsOpened);
        for frame in joined.held {
            self.feed(i, Input::WsText(&frame));
        }
    }

    fn ws_send(&mut self, i: usize, frame: String) {
        let Some(conn) = self.peers[i].conn else {
            return self.feed(
                i,
                Input::WsSendFailed {
                    frame,
                    reason: "not connected".into(),
                },
            );
        };
        self.svc.last_in.insert(conn, self.now);
        match self.svc.relay.route(self.now, conn, &frame) {
            Routed::Deliver { to, frame } => {
                let j = self
                    .peers
                    .iter()
                    .position(|p| p.conn == Some(to))
                    .expect("a live recipient");
                self.feed(j, Input::WsText(&frame));
            }
            Routed::Reply(status) => self.feed(i, Input::WsText(&status)),
            Routed::Held | Routed::Dropped { .. } | Routed::AlexaAnswer { .. } => {}
        }
    }

    /// Jumps to the next deadline (a client timer or an idle close) if it is before `until`.
    fn step(&mut self, until: Instant) -> bool {
        let idle = self.svc.idle_timeout;
        let idle_deadline = idle.and_then(|t| self.svc.last_in.values().map(|at| *at + t).min());
        let next = self
            .peers
            .iter()
            .filter_map(|p| p.client.poll_timeout())
            .chain(idle_deadline)
            .min();
        let Some(next) = next.filter(|n| *n <= until) else {
            self.now = until;
            return false;
        };
        self.now = self.now.max(next);
        let now = self.now;
        for i in 0..self.peers.len() {
            if self.peers[i]
                .client
                .poll_timeout()
                .is_some_and(|t| t <= now)
            {
                self.feed(i, Input::Timeout);
            }
        }
        if let Some(idle) = idle {
            let expired: Vec<ConnId> = self
                .svc
                .last_in
                .iter()
                .filter(|(_, at)| **at + idle <= now)
                .map(|(c, _)| *c)
                .collect();
            for conn in expired {
                self.svc.last_in.remove(&conn);
                self.svc.relay.disconnect(self.now, conn);
                if let Some(j) = self.peers.iter().position(|p| p.conn == Some(conn)) {
                    self.peers[j].conn = None;
                    self.feed(j, Input::WsClosed("idle timeout".into()));
                }
            }
        }
        self.pump();
        true
    }

    fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        while self.step(until) {}
        self.pump();
    }

    /// Runs until every peer is CONNECTED (or `limit` passes).
    fn run_until_connected(&mut self, limit: Duration) -> bool {
        let until = self.now + limit;
        loop {
            if self
                .peers
                .iter()
                .all(|p| p.client.state() == State::Connected)
            {
                return true;
            }
            if !self.step(until) {
                return false;
            }
        }
    }

    /// Kills the service: every socket drops and the in-memory channels are lost.
    fn crash(&mut self) {
        self.svc.up = false;
        self.svc.relay = Relay::new();
        self.svc.channels = Channels::new(REGION, "123456789012");
        self.svc.last_in.clear();
        for i in 0..self.peers.len() {
            if self.peers[i].conn.take().is_some() {
                self.feed(i, Input::WsClosed("service went away".into()));
            }
        }
        self.pump();
    }

    fn send(&mut self, i: usize, action: Action, to: Option<&str>, payload: &str) {
        let msg = OutgoingMessage {
            action,
            recipient_client_id: to.map(str::to_owned),
            correlation_id: None,
            payload: payload.as_bytes().to_vec(),
        };
        let now = self.now;
        self.peers[i]
            .client
            .send(now, msg)
            .expect("accepted or queued");
        self.pump();
    }

    fn received(&self, i: usize, kind: MessageType) -> Vec<String> {
        self.peers[i]
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Message(m) if m.message_type == kind => {
                    Some(String::from_utf8(m.payload.clone()).unwrap())
                }
                _ => None,
            })
            .collect()
    }

    fn count(&self, i: usize, f: impl Fn(&Event) -> bool) -> usize {
        self.peers[i].events.iter().filter(|e| f(e)).count()
    }
}

fn pair(sim: &mut Sim) -> (usize, usize) {
    let master = sim.add(Sim::config(ChannelRole::Master, "master"));
    let viewer = sim.add(Sim::config(ChannelRole::Viewer, "viewer-1"));
    assert!(sim.run_until_connected(Duration::from_secs(60)));
    (master, viewer)
}

#[test]
fn a_day_of_service_crashes_loses_no_message() {
    let mut sim = Sim::new();
    let (master, viewer) = pair(&mut sim);
    sim.send(viewer, Action::SdpOffer, None, "offer");
    let mut sent = Vec::new();
    for k in 0..144 {
        sim.run_for(Duration::from_secs(9 * 60));
        sim.crash();
        // Candidates sent while the service is down wait in the viewer's queue.
        let payload = format!("candidate-{k}");
        sim.send(viewer, Action::IceCandidate, None, &payload);
        sent.push(payload);
        sim.run_for(Duration::from_secs(30)); // within the 60 s message TTL
        sim.svc.up = true;
        assert!(
            sim.run_until_connected(Duration::from_secs(60)),
            "round {k}: both reconnect within a minute"
        );
        sim.run_for(Duration::from_secs(1));
    }
    assert_eq!(
        sim.received(master, MessageType::IceCandidate),
        sent,
        "every one, once, in order"
    );
    for p in [master, viewer] {
        let m = sim.peers[p].client.metrics(sim.now);
        assert!(m.reconnects >= 144, "{m:?}");
        assert!(!sim.peers[p].client.is_closed());
    }
}

#[test]
fn go_away_with_messages_in_flight_loses_nothing() {
    let mut sim = Sim::new();
    let (master, viewer) = pair(&mut sim);
    sim.send(viewer, Action::SdpOffer, None, "offer");
    sim.send(master, Action::SdpAnswer, Some("viewer-1"), "answer");
    sim.feed(master, Input::WsText(r#"{"messageType":"GO_AWAY"}"#));
    sim.pump();
    let mut sent = Vec::new();
    for k in 0..10 {
        let payload = format!("c{k}");
        sim.send(viewer, Action::IceCandidate, None, &payload);
        sim.send(master, Action::IceCandidate, Some("viewer-1"), &payload);
        sent.push(payload);
        sim.run_for(Duration::from_millis(1)); // the switch proceeds between messages
    }
    assert!(sim.run_until_connected(Duration::from_secs(30)));
    assert_eq!(sim.received(master, MessageType::IceCandidate), sent);
    assert_eq!(sim.received(viewer, MessageType::IceCandidate), sent);
    assert_eq!(
        sim.count(master, |e| matches!(
            e,
            Event::StateChanged(State::Disconnected)
        )),
        0
    );
}

#[test]
fn forbidden_once_then_fine() {
    let mut sim = Sim::new();
    sim.svc.reject_next = 1;
    let (master, _) = pair(&mut sim);
    assert_eq!(sim.peers[master].credential_fetches, 2);
    assert_eq!(
        sim.count(master, |e| matches!(e, Event::Error(err) if err.is_auth())),
        1
    );
}

#[test]
fn credentials_expiring_every_fifteen_minutes_never_break_the_session() {
    let mut sim = Sim::new();
    let mut config = Sim::config(ChannelRole::Master, "master");
    config.rng_seed = Some(1);
    let master = sim.add_with_credential_ttl(config, Some(Duration::from_secs(15 * 60)));
    let viewer = sim.add(Sim::config(ChannelRole::Viewer, "viewer-1"));
    assert!(sim.run_until_connected(Duration::from_secs(60)));
    sim.send(viewer, Action::SdpOffer, None, "offer");
    for k in 0..24 {
        sim.run_for(Duration::from_secs(5 * 60));
        sim.send(viewer, Action::IceCandidate, None, &format!("c{k}"));
    }
    sim.run_for(Duration::from_secs(1));
    let fetches = sim.peers[master].credential_fetches;
    assert!(
        fetches >= 8,
        "renewed before each expiry: {fetches} fetches in 2 h"
    );
    assert_eq!(sim.received(master, MessageType::IceCandidate).len(), 24);
    assert_eq!(
        sim.count(master, |e| matches!(e, Event::Error(err) if err.is_auth())),
        0,
        "never refused"
    );
}

#[test]
fn idle_closes_are_avoided_by_pings_and_survived_without_them() {
    let mut sim = Sim::new();
    sim.svc.idle_timeout = Some(Duration::from_secs(600));
    let pinging = sim.add(Sim::config(ChannelRole::Master, "master"));
    let mut quiet = Sim::config(ChannelRole::Viewer, "viewer-1");
    quiet.ping_interval = Duration::from_secs(86_400);
    let quiet = sim.add(quiet);
    assert!(sim.run_until_connected(Duration::from_secs(60)));
    sim.run_for(Duration::from_secs(3600));
    assert_eq!(
        sim.count(pinging, |e| matches!(e, Event::Retrying { .. })),
        0
    );
    assert!(
        sim.count(quiet, |e| matches!(e, Event::Retrying { .. })) >= 5,
        "closed every 10 minutes"
    );
    assert!(sim.run_until_connected(Duration::from_secs(60)));
}

#[test]
fn clocks_fifteen_minutes_off_either_way_are_corrected() {
    for offset in [900, -900] {
        let mut sim = Sim::new();
        sim.svc.clock_offset_secs = offset;
        let (master, viewer) = pair(&mut sim);
        assert!(sim.count(master, |e| matches!(e, Event::ClockSkew { .. })) >= 1);
        sim.send(viewer, Action::SdpOffer, None, "offer");
        assert_eq!(sim.received(master, MessageType::SdpOffer), ["offer"]);
    }
}

#[test]
fn a_corrupt_cache_file_means_a_normal_cold_start() {
    let mut sim = Sim::new();
    let mut config = Sim::config(ChannelRole::Master, "master");
    let key = kvs_proto::client::cache_key(&config);
    config.cached_endpoints = EndpointCacheFile::parse(b"\x00garbage")
        .entries
        .get(&key)
        .cloned();
    sim.add(config);
    assert!(sim.run_until_connected(Duration::from_secs(60)));
}

#[test]
fn a_thousand_failures_then_recovery() {
    let mut sim = Sim::new();
    sim.svc.up = false;
    let master = sim.add(Sim::config(ChannelRole::Master, "master"));
    let until = sim.now + Duration::from_secs(7 * 86_400);
    while sim.count(master, |e| matches!(e, Event::Retrying { .. })) < 1000 {
        assert!(sim.step(until), "the client keeps trying");
    }
    sim.svc.up = true;
    assert!(
        sim.run_until_connected(Duration::from_secs(15)),
        "back within one backoff step (≤ 10 s)"
    );
    assert!(!sim.peers[master].client.is_closed());
}
