//! The whole service on virtual time: the real service core (authentication, channel table,
//! admission, relay, quotas, faults, connection lifetimes, admin commands) against many real
//! client state machines, with no sockets and no sleeping. The simulation is the driver here:
//! it moves frames between the two cores, keeps the "disk" the core's snapshots go to, and
//! crashes the service by starting a new core from that disk. A simulated day takes well
//! under a second. New service behaviour gets its first test here.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant, SystemTime};

use kvs_proto::Credentials;
use kvs_proto::api::{ChannelRole, ErrorBody, ErrorCode, Operation};
use kvs_proto::client::{
    ChannelRef, Client, ClientConfig, EndpointCacheFile, Event, HttpResponse, Input,
    OutgoingMessage, Output, State,
};
use kvs_proto::sigv4::{IncomingRequest, Verified};
use kvs_proto::wire::{Action, MessageType};
use kvs_service_core::admin::{AdminCommand, AdminDone, ConnSignal};
use kvs_service_core::lifetime::{Lifetime, LifetimeAction, Lifetimes};
use kvs_service_core::{
    Answer, ApiRequest, ConnId, CoreConfig, EXAMPLE_ACCESS_KEY_ID as AK,
    EXAMPLE_SECRET_ACCESS_KEY as SK, EndpointBase, InjectedError, Keys, Limits, MessageFault,
    Routed, ServiceCore, ServiceKey, Snapshot,
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

/// The service: the real core, and what the simulation keeps for it as a driver would.
struct Service {
    /// Alexa offers wait with their request number.
    core: ServiceCore<(), u32>,
    keys: Keys,
    /// What storage holds: the last snapshot the core asked to persist.
    disk: Option<Snapshot>,
    up: bool,
    /// Each live connection's lifetime (idle, GO_AWAY, grace).
    lives: HashMap<ConnId, Lifetime>,
    /// Deliveries an injected delay holds back: when, to whom, what.
    delayed: Vec<(Instant, ConnId, String)>,
    /// Answers the master gave to Alexa offers, by request number.
    alexa_answers: HashMap<u32, String>,
}

fn core() -> ServiceCore<(), u32> {
    ServiceCore::new(CoreConfig {
        region: REGION.into(),
        account_id: "123456789012".into(),
        policy: None,
        limits: Some(Limits::KVS),
        role_aliases: Vec::new(),
    })
}

impl Service {
    fn new() -> Self {
        Self {
            core: core(),
            keys: Keys::new(REGION, vec![ServiceKey::new(AK, SK)]),
            disk: None,
            up: true,
            lives: HashMap::new(),
            delayed: Vec::new(),
            alexa_answers: HashMap::new(),
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

/// The operator's own signed identity, for calls the simulated clients do not make.
fn operator() -> Verified {
    Verified {
        access_key_id: AK.into(),
        session_token: None,
        params: BTreeMap::new(),
    }
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

    /// The machine's wall clock.
    fn wall(&self) -> SystemTime {
        self.wall0 + (self.now - self.t0)
    }

    fn config(role: ChannelRole, client_id: &str) -> ClientConfig {
        Self::config_on("sim", role, client_id)
    }

    fn config_on(channel: &str, role: ChannelRole, client_id: &str) -> ClientConfig {
        let mut c = ClientConfig::new(ChannelRef::Name(channel.into()), REGION, role);
        c.endpoint = HTTPS.into();
        c.client_id = client_id.into();
        c.rng_seed = Some(client_id.len() as u64 + 7 + channel.len() as u64 * 131);
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

    fn peer_of(&self, conn: ConnId) -> Option<usize> {
        self.peers.iter().position(|p| p.conn == Some(conn))
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
                    Input::Credentials(Ok(Credentials::new(
                        AK,
                        SK,
                        token,
                        expiry,
                        kvs_proto::STATIC_PROVIDER,
                    ))),
                );
            }
            Output::Http(req) => {
                if !self.svc.up {
                    return self.feed(i, Input::HttpFailed(req.id, "connection refused".into()));
                }
                let (status, error_type, body) = self.http(&req.url, &req.headers, &req.body);
                let date = httpdate::fmt_http_date(self.svc.core.service_time(self.wall()));
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
                    if let Some(life) = self.svc.lives.get_mut(&conn) {
                        life.on_incoming(self.now);
                    }
                    self.feed(i, Input::WsPong);
                }
            }
            Output::WsClose => {
                if let Some(conn) = self.peers[i].conn.take() {
                    self.svc.lives.remove(&conn);
                    self.svc.core.disconnect(self.now, conn);
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
        let service_now = self.svc.core.service_time(self.wall());
        let signer = match self
            .svc
            .keys
            .authenticate(&req, service_now, |ak| self.svc.core.issued_key(ak))
        {
            Ok(v) => v,
            Err(e) => {
                return (
                    e.http_status(),
                    Some(e.exception_name().into()),
                    error_body(&e.to_string()),
                );
            }
        };
        let operation = Operation::from_path(path).expect("a known operation");
        match self.api(operation, body, &signer) {
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

    /// One API call through the core, doing what it asks: persist, then close what it closed.
    fn api(
        &mut self,
        operation: Operation,
        body: &[u8],
        signer: &Verified,
    ) -> Result<Answer, kvs_service_core::ApiError> {
        let req = ApiRequest {
            operation,
            body,
            signer,
            base: EndpointBase {
                https: HTTPS,
                wss: WSS,
            },
            turn: None,
        };
        let handled = self.svc.core.request(req, self.wall())?;
        if let Some(snapshot) = handled.persist {
            self.svc.disk = Some(snapshot);
        }
        for conn in handled.closed {
            self.hang_up(conn, "channel deleted");
        }
        Ok(handled.answer)
    }

    /// The service closes `conn` (already out of the core, or taken out here).
    fn hang_up(&mut self, conn: ConnId, why: &str) {
        self.svc.lives.remove(&conn);
        self.svc.core.disconnect(self.now, conn);
        if let Some(j) = self.peer_of(conn) {
            self.peers[j].conn = None;
            self.feed(j, Input::WsClosed(why.into()));
        }
    }

    fn ws_connect(&mut self, i: usize, url: &str) {
        let refused = |status: Option<u16>, error_type: Option<&'static str>, message: &str| {
            Input::WsConnectFailed {
                status,
                error_type,
                message: String::from_utf8(error_body(message)).unwrap(),
            }
        };
        if !self.svc.up {
            return self.feed(i, refused(None, None, "connection refused"));
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
        let service_now = self.svc.core.service_time(self.wall());
        let signer = match self
            .svc
            .keys
            .authenticate(&req, service_now, |ak| self.svc.core.issued_key(ak))
        {
            Ok(v) => v,
            Err(e) => {
                let input = refused(
                    Some(e.http_status()),
                    Some(e.exception_name()),
                    &e.to_string(),
                );
                return self.feed(i, input);
            }
        };
        let role = if path == kvs_service_core::MASTER_PATH {
            ChannelRole::Master
        } else {
            ChannelRole::Viewer
        };
        let joined = match self.svc.core.connect(self.now, role, &signer, ()) {
            Ok(joined) => joined,
            Err(r) => {
                let input = Input::WsConnectFailed {
                    status: Some(r.status),
                    error_type: Some(r.code.name()),
                    message: String::from_utf8(error_body(&r.message)).unwrap(),
                };
                return self.feed(i, input);
            }
        };
        if let Some(old) = joined.replaced {
            self.hang_up(old, "replaced by a newer connection");
        }
        self.peers[i].conn = Some(joined.id);
        let life = Lifetime::new(Lifetimes::default(), self.now);
        self.svc.lives.insert(joined.id, life);
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
        if let Some(life) = self.svc.lives.get_mut(&conn) {
            life.on_incoming(self.now);
        }
        match self.svc.core.route(self.now, conn, &frame) {
            Routed::Deliver { to, frame, delay } => match delay {
                None => self.deliver(to, &frame),
                Some(by) => self.svc.delayed.push((self.now + by, to, frame)),
            },
            Routed::Reply(status) => self.feed(i, Input::WsText(&status)),
            Routed::AlexaAnswer {
                payload, waiter, ..
            } => {
                self.svc.alexa_answers.insert(waiter, payload);
            }
            Routed::Held | Routed::Dropped { .. } => {}
        }
    }

    fn deliver(&mut self, to: ConnId, frame: &str) {
        let j = self.peer_of(to).expect("a live recipient");
        self.feed(j, Input::WsText(frame));
    }

    /// The next deadline: a client timer, a connection lifetime or a delayed delivery.
    fn next_deadline(&self) -> Option<Instant> {
        let clients = self.peers.iter().filter_map(|p| p.client.poll_timeout());
        let lives = self.svc.lives.values().map(Lifetime::poll_timeout);
        let delayed = self.svc.delayed.iter().map(|(at, ..)| *at);
        clients.chain(lives).chain(delayed).min()
    }

    /// Jumps to the next deadline if it is before `until`, and does what is due.
    fn step(&mut self, until: Instant) -> bool {
        let Some(next) = self.next_deadline().filter(|n| *n <= until) else {
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
        let mut conns: Vec<ConnId> = self.svc.lives.keys().copied().collect();
        conns.sort();
        for conn in conns {
            while let Some(action) = self
                .svc
                .lives
                .get_mut(&conn)
                .and_then(|life| life.handle_timeout(now))
            {
                match action {
                    LifetimeAction::Close(why) => {
                        self.hang_up(conn, &format!("{why:?}"));
                        break;
                    }
                    LifetimeAction::SendGoAway => {
                        self.deliver(conn, r#"{"messageType":"GO_AWAY"}"#)
                    }
                    LifetimeAction::SendReconnectIceServer => {
                        self.deliver(conn, r#"{"messageType":"RECONNECT_ICE_SERVER"}"#)
                    }
                }
            }
        }
        let (due, later): (Vec<_>, Vec<_>) =
            self.svc.delayed.drain(..).partition(|(at, ..)| *at <= now);
        self.svc.delayed = later;
        for (_, to, frame) in due {
            // A recipient that left meanwhile loses it, as a closed socket would.
            if self.peer_of(to).is_some() {
                self.deliver(to, &frame);
            }
        }
        let wall = self.wall();
        self.svc.core.sweep(now, wall);
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

    /// Kills the service: every socket drops, and what was in memory (connections, held
    /// messages, faults, rate state) is lost. It comes back (when `up` is set again) as a new
    /// core restored from the disk.
    fn crash(&mut self) {
        self.svc.up = false;
        self.svc.core = core();
        if let Some(disk) = self.svc.disk.clone() {
            self.svc.core.restore(disk.records, disk.version_counter);
        }
        self.svc.lives.clear();
        self.svc.delayed.clear();
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
        self.received_from(i, kind, |_| true)
    }

    fn received_from(
        &self,
        i: usize,
        kind: MessageType,
        sender: impl Fn(Option<&str>) -> bool,
    ) -> Vec<String> {
        self.peers[i]
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Message(m)
                    if m.message_type == kind && sender(m.sender_client_id.as_deref()) =>
                {
                    Some(String::from_utf8(m.payload.clone()).unwrap())
                }
                _ => None,
            })
            .collect()
    }

    fn count(&self, i: usize, f: impl Fn(&Event) -> bool) -> usize {
        self.peers[i].events.iter().filter(|e| f(e)).count()
    }

    fn channel_arn(&self, name: &str) -> String {
        self.svc.core.channel_arn(name).expect("the channel exists")
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
    let arn = sim.channel_arn("sim");
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
    assert_eq!(
        sim.channel_arn("sim"),
        arn,
        "the channel came back from the disk every time, never created anew"
    );
    for p in [master, viewer] {
        let m = sim.peers[p].client.metrics(sim.now);
        assert!(m.reconnects >= 144, "{m:?}");
        assert!(!sim.peers[p].client.is_closed());
    }
}

/// Ten channels, each with a master and the most viewers a channel takes, connecting at the
/// same instant (so the connect quota refuses most of them at first), exchanging offers,
/// answers and candidates through two service crashes. Every message arrives once, in order.
#[test]
fn ten_channels_of_ten_viewers_through_crashes_lose_nothing() {
    const CHANNELS: usize = 10;
    const VIEWERS: usize = 10;
    let mut sim = Sim::new();
    let mut masters = Vec::new();
    let mut viewers = Vec::new();
    for c in 0..CHANNELS {
        let name = format!("camera-{c}");
        masters.push(sim.add(Sim::config_on(&name, ChannelRole::Master, "master")));
        assert!(sim.run_until_connected(Duration::from_secs(60)));
        for v in 0..VIEWERS {
            let id = format!("viewer-{v}");
            viewers.push((
                c,
                id.clone(),
                sim.add(Sim::config_on(&name, ChannelRole::Viewer, &id)),
            ));
        }
    }
    assert!(sim.run_until_connected(Duration::from_secs(120)));
    let refused = viewers
        .iter()
        .map(|(.., i)| {
            sim.count(*i, |e| {
                matches!(e, Event::Retrying { cause, .. } if cause.code() == Some(ErrorCode::ClientLimitExceeded))
            })
        })
        .sum::<usize>();
    assert!(
        refused > 0,
        "the quota of 3 connects per second per channel refused some viewers at first"
    );
    for (c, id, v) in &viewers {
        sim.send(*v, Action::SdpOffer, None, &format!("offer-{id}"));
        sim.send(
            masters[*c],
            Action::SdpAnswer,
            Some(id),
            &format!("answer-{id}"),
        );
    }
    sim.run_for(Duration::from_secs(3));
    for round in 0..3 {
        for (c, id, v) in &viewers {
            let m = masters[*c];
            sim.send(m, Action::IceCandidate, Some(id), &format!("m{round}-{id}"));
            sim.send(*v, Action::IceCandidate, None, &format!("v{round}-{id}"));
        }
        sim.run_for(Duration::from_secs(2));
        sim.crash();
        sim.run_for(Duration::from_secs(5));
        sim.svc.up = true;
        assert!(
            sim.run_until_connected(Duration::from_secs(120)),
            "round {round}"
        );
    }
    sim.run_for(Duration::from_secs(2));
    for (c, id, v) in &viewers {
        let m = masters[*c];
        let from_viewer = sim.received_from(m, MessageType::IceCandidate, |s| s == Some(id));
        assert_eq!(from_viewer, ["v0", "v1", "v2"].map(|r| format!("{r}-{id}")));
        assert_eq!(
            sim.received_from(m, MessageType::SdpOffer, |s| s == Some(id)),
            [format!("offer-{id}")]
        );
        assert_eq!(
            sim.received(*v, MessageType::SdpAnswer),
            [format!("answer-{id}")]
        );
        assert_eq!(
            sim.received(*v, MessageType::IceCandidate),
            ["m0", "m1", "m2"].map(|r| format!("{r}-{id}"))
        );
    }
    assert_eq!(sim.svc.core.relay().len(), CHANNELS * (VIEWERS + 1));
}

#[test]
fn an_eleventh_viewer_is_refused_while_ten_are_connected() {
    let mut sim = Sim::new();
    sim.add(Sim::config(ChannelRole::Master, "master"));
    for v in 0..10 {
        sim.add(Sim::config(ChannelRole::Viewer, &format!("viewer-{v}")));
    }
    assert!(sim.run_until_connected(Duration::from_secs(60)));
    let extra = sim.add(Sim::config(ChannelRole::Viewer, "viewer-10"));
    sim.run_for(Duration::from_secs(30));
    assert_ne!(sim.peers[extra].client.state(), State::Connected);
    assert!(sim.count(extra, |e| matches!(e, Event::Retrying { cause, .. } if cause.code() == Some(ErrorCode::ClientLimitExceeded))) > 0);
    // One leaves; the eleventh gets its place.
    let first_viewer = 1;
    let now = sim.now;
    sim.peers[first_viewer].client.disconnect(now);
    sim.pump();
    sim.run_for(Duration::from_secs(30));
    assert_eq!(sim.peers[extra].client.state(), State::Connected);
}

#[test]
fn go_away_with_messages_in_flight_loses_nothing() {
    let mut sim = Sim::new();
    let (master, viewer) = pair(&mut sim);
    sim.send(viewer, Action::SdpOffer, None, "offer");
    sim.send(master, Action::SdpAnswer, Some("viewer-1"), "answer");
    // The operator's GO_AWAY, through the core's admin command and the connection's lifetime.
    let arn = sim.channel_arn("sim");
    let done = sim.svc.core.admin(AdminCommand::Signal {
        channel_arn: arn,
        client_id: None,
        what: ConnSignal::GoAway,
    });
    let Ok(AdminDone::Signal {
        to,
        what: ConnSignal::GoAway,
    }) = done
    else {
        panic!("the master's connection is named: {done:?}");
    };
    assert_eq!(Some(to), sim.peers[master].conn);
    assert!(sim.svc.lives.get_mut(&to).unwrap().go_away(sim.now));
    sim.deliver(to, r#"{"messageType":"GO_AWAY"}"#);
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

/// Three hours with the real lifetimes: GO_AWAY at the hour for a client that does not
/// replace its connection itself, and the session carries on.
#[test]
fn connections_an_hour_old_get_go_away_and_the_session_carries_on() {
    let mut sim = Sim::new();
    let mut config = Sim::config(ChannelRole::Master, "master");
    config.max_connection_duration = Duration::from_secs(86_400); // never replaces on its own
    let master = sim.add(config);
    let viewer = sim.add(Sim::config(ChannelRole::Viewer, "viewer-1"));
    assert!(sim.run_until_connected(Duration::from_secs(60)));
    sim.send(viewer, Action::SdpOffer, None, "offer");
    let mut sent = Vec::new();
    for k in 0..36 {
        sim.run_for(Duration::from_secs(5 * 60));
        let payload = format!("c{k}");
        sim.send(viewer, Action::IceCandidate, None, &payload);
        sent.push(payload);
    }
    sim.run_for(Duration::from_secs(5));
    assert!(sim.count(master, |e| matches!(e, Event::GoAway)) >= 2);
    assert_eq!(sim.received(master, MessageType::IceCandidate), sent);
}

#[test]
fn injected_errors_are_answered_then_the_clients_carry_on() {
    let mut sim = Sim::new();
    let faults = sim.svc.core.faults_mut();
    faults.plan_errors(
        1,
        InjectedError {
            target: Some("DescribeSignalingChannel".into()),
            code: ErrorCode::AccessDenied,
            message: "injected refusal".into(),
        },
    );
    faults.plan_errors(
        3,
        InjectedError {
            target: Some("ConnectAsViewer".into()),
            code: ErrorCode::ClientLimitExceeded,
            message: "slow down".into(),
        },
    );
    let (master, viewer) = pair(&mut sim);
    assert_eq!(
        sim.peers[master].credential_fetches, 2,
        "new credentials after the refusal"
    );
    assert_eq!(
        sim.count(master, |e| matches!(e, Event::Error(err) if err.is_auth())),
        1
    );
    let limited = sim.count(viewer, |e| {
        matches!(e, Event::Retrying { cause, .. } if cause.code() == Some(ErrorCode::ClientLimitExceeded))
    });
    assert_eq!(limited, 3, "each injected connect refusal, then connected");
}

#[test]
fn dropped_and_delayed_messages_as_the_operator_planned_them() {
    let mut sim = Sim::new();
    let (master, viewer) = pair(&mut sim);
    sim.send(viewer, Action::SdpOffer, None, "offer"); // candidates follow an offer
    let arn = sim.channel_arn("sim");
    let faults = sim.svc.core.faults_mut();
    faults.plan_messages(&arn, 2, MessageFault::Drop);
    faults.plan_messages(&arn, 1, MessageFault::Delay(Duration::from_secs(3)));
    for k in 0..5 {
        sim.send(viewer, Action::IceCandidate, None, &format!("c{k}"));
    }
    sim.run_for(Duration::from_secs(1));
    assert_eq!(
        sim.received(master, MessageType::IceCandidate),
        ["c3", "c4"],
        "two dropped, one held back"
    );
    sim.run_for(Duration::from_secs(3));
    assert_eq!(
        sim.received(master, MessageType::IceCandidate),
        ["c3", "c4", "c2"],
        "the delayed one arrives after its delay"
    );
}

#[test]
fn an_alexa_offer_waits_for_the_masters_answer() {
    let mut sim = Sim::new();
    let master = sim.add(Sim::config(ChannelRole::Master, "master"));
    assert!(sim.run_until_connected(Duration::from_secs(60)));
    let arn = sim.channel_arn("sim");
    let body = format!(
        r#"{{"ChannelARN":"{arn}","SenderClientId":"alexa-1","MessagePayload":"b2ZmZXI="}}"#
    );
    let Ok(Answer::OfferToMaster(offer)) = sim.api(
        Operation::SendAlexaOfferToMaster,
        body.as_bytes(),
        &operator(),
    ) else {
        panic!("an offer for the master");
    };
    let delivery = sim
        .svc
        .core
        .offer_to_master(sim.now, &offer, 7)
        .unwrap()
        .expect("the master is connected");
    sim.deliver(delivery.to, &delivery.frame);
    sim.pump();
    assert_eq!(
        sim.received_from(master, MessageType::SdpOffer, |s| s == Some("alexa-1")),
        ["offer"]
    );
    sim.send(master, Action::SdpAnswer, Some("alexa-1"), "answer");
    assert_eq!(
        sim.svc.alexa_answers.get(&7).map(String::as_str),
        Some("YW5zd2Vy"),
        "the waiting request gets the master's answer"
    );
}

#[test]
fn deleting_a_channel_closes_its_connections_and_keeps_them_out() {
    let mut sim = Sim::new();
    let (master, viewer) = pair(&mut sim);
    let arn = sim.channel_arn("sim");
    let body = format!(r#"{{"ChannelARN":"{arn}"}}"#);
    sim.api(
        Operation::DeleteSignalingChannel,
        body.as_bytes(),
        &operator(),
    )
    .unwrap();
    assert!(sim.svc.core.relay().is_empty(), "both connections left");
    assert!(
        sim.svc.disk.as_ref().unwrap().records.is_empty(),
        "the deletion was persisted"
    );
    sim.crash();
    sim.svc.up = true;
    sim.run_for(Duration::from_secs(30));
    // The master makes the channel again (create_if_missing); the viewer follows it.
    assert!(sim.run_until_connected(Duration::from_secs(60)));
    assert_ne!(
        sim.channel_arn("sim"),
        arn,
        "a new channel, not the deleted one"
    );
    for p in [master, viewer] {
        assert!(!sim.peers[p].client.is_closed());
    }
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
        sim.svc.core.faults_mut().set_clock_skew(offset).unwrap();
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
