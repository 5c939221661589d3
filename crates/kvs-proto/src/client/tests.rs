//! The state machine on virtual time, answered by a scripted service.

use std::time::{Duration, Instant, SystemTime};

use super::*;
use crate::api::ChannelRole;

const ARN: &str = "arn:aws:kinesisvideo:us-west-2:123456789012:channel/demo/1700000000000";

fn config(role: ChannelRole) -> ClientConfig {
    let mut c = ClientConfig::new(ChannelRef::Name("demo".into()), "us-west-2", role);
    c.endpoint = "https://127.0.0.1:4443".into();
    c.client_id = "viewer-1".into();
    c
}

fn describe_ok() -> String {
    format!(
        r#"{{"ChannelInfo":{{"ChannelName":"demo","ChannelARN":"{ARN}","ChannelType":"SINGLE_MASTER","ChannelStatus":"ACTIVE","CreationTime":1700000000.0,"SingleMasterConfiguration":{{"MessageTtlSeconds":60}},"Version":"v1"}}}}"#
    )
}

const ENDPOINTS: &str = r#"{"ResourceEndpointList":[{"Protocol":"WSS","ResourceEndpoint":"wss://127.0.0.1:4443/v"},{"Protocol":"HTTPS","ResourceEndpoint":"https://127.0.0.1:4443"}]}"#;
const ICE: &str = r#"{"IceServerList":[{"Uris":["turn:127.0.0.1:3478?transport=udp"],"Username":"1:djE=","Password":"p","Ttl":300}]}"#;

/// The start of virtual time; any instant will do.
#[allow(clippy::disallowed_methods)]
fn origin() -> Instant {
    Instant::now()
}

/// A test harness: virtual clock plus everything the client emitted.
struct Harness {
    client: Client,
    now: Instant,
    events: Vec<Event>,
    requests: Vec<HttpRequest>,
    ws_urls: Vec<String>,
    sent: Vec<String>,
    credential_fetches: u32,
    pings: u32,
    closes: u32,
    /// Answer every ping with a pong, as a live service does.
    auto_pong: bool,
    /// Requests answered by a test that tracks them.
    answered: usize,
}

impl Harness {
    fn new(config: ClientConfig) -> Self {
        let mut h = Self::unstarted(config);
        h.client.connect(h.now);
        h.drain();
        h
    }

    /// A harness whose client is still NEW.
    fn unstarted(config: ClientConfig) -> Self {
        let now = origin();
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        Self {
            client: Client::new(config, now, wall),
            now,
            events: vec![],
            requests: vec![],
            ws_urls: vec![],
            sent: vec![],
            credential_fetches: 0,
            pings: 0,
            closes: 0,
            auto_pong: true,
            answered: 0,
        }
    }

    fn drain(&mut self) {
        let mut pong = false;
        loop {
            while let Some(out) = self.client.poll_output() {
                match out {
                    Output::FetchCredentials => self.credential_fetches += 1,
                    Output::Http(r) => self.requests.push(r),
                    Output::WsConnect(url) => self.ws_urls.push(url.into_string()),
                    Output::WsSend(text) => self.sent.push(text),
                    Output::WsClose => self.closes += 1,
                    Output::WsPing => {
                        self.pings += 1;
                        pong = self.auto_pong;
                    }
                    Output::Event(e) => self.events.push(e),
                }
            }
            if !std::mem::take(&mut pong) {
                break;
            }
            self.client.handle_input(self.now, Input::WsPong);
        }
    }

    fn input(&mut self, input: Input<'_>) {
        self.client.handle_input(self.now, input);
        self.drain();
    }

    fn credentials(&mut self) {
        self.input(Input::Credentials(Ok(Credentials::new(
            "AKID",
            "SECRET",
            None,
            None,
            crate::STATIC_PROVIDER,
        ))));
    }

    fn last_request(&self) -> &HttpRequest {
        self.requests.last().expect("a request was made")
    }

    fn answer(&mut self, status: u16, error_type: Option<&str>, body: &str) {
        let id = self.last_request().id;
        self.input(Input::HttpResponse(
            id,
            HttpResponse {
                status,
                error_type,
                date: None,
                body: body.as_bytes(),
            },
        ));
    }

    /// Jumps virtual time to the next deadline and fires it.
    fn advance(&mut self) {
        self.now = self.client.poll_timeout().expect("a timer is armed");
        self.input(Input::Timeout);
    }

    fn states(&self) -> Vec<State> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::StateChanged(s) => Some(*s),
                _ => None,
            })
            .collect()
    }

    fn closed_with(&self) -> Option<&Option<Error>> {
        self.events.iter().find_map(|e| match e {
            Event::Closed(err) => Some(err),
            _ => None,
        })
    }

    fn connect_happy(&mut self) {
        self.credentials();
        self.answer(200, None, &describe_ok());
        self.answer(200, None, ENDPOINTS);
        self.answer(200, None, ICE);
        self.input(Input::WsOpened);
    }
}

#[test]
fn happy_path_reaches_connected_with_signed_requests() {
    let mut h = Harness::new(config(ChannelRole::Viewer));
    assert_eq!(h.credential_fetches, 1);
    h.connect_happy();
    use State::*;
    assert_eq!(
        h.states(),
        [
            GetCredentials,
            Describe,
            GetEndpoint,
            GetIceConfig,
            Ready,
            Connecting,
            Connected
        ]
    );
    let ops: Vec<Operation> = h.requests.iter().map(|r| r.operation).collect();
    assert_eq!(
        ops,
        [
            Operation::DescribeSignalingChannel,
            Operation::GetSignalingChannelEndpoint,
            Operation::GetIceServerConfig
        ]
    );
    assert_eq!(
        h.requests[0].url,
        "https://127.0.0.1:4443/describeSignalingChannel"
    );
    assert_eq!(
        h.requests[2].url,
        "https://127.0.0.1:4443/v1/get-ice-server-config"
    );
    assert!(h.requests.iter().all(|r| r.headers.iter().any(|(k, v)| k == "authorization" && v.starts_with("AWS4-HMAC-SHA256 Credential=AKID/20231114/us-west-2/kinesisvideo/aws4_request"))));
    let endpoint_body: serde_json::Value = serde_json::from_slice(&h.requests[1].body).unwrap();
    assert_eq!(
        endpoint_body["SingleMasterChannelEndpointConfiguration"]["Role"],
        "VIEWER"
    );
    let url = &h.ws_urls[0];
    assert!(
        url.starts_with("wss://127.0.0.1:4443/v?X-Amz-ChannelARN=arn%3Aaws%3Akinesisvideo"),
        "{url}"
    );
    assert!(
        url.contains("X-Amz-ClientId=viewer-1") && url.contains("X-Amz-Signature="),
        "{url}"
    );
    assert!(
        h.events
            .iter()
            .any(|e| matches!(e, Event::IceServers(s) if s.len() == 1))
    );
    assert_eq!(
        h.client.poll_timeout(),
        Some(h.now + Duration::from_secs(10)),
        "only the keep-alive ping is due next"
    );
}

#[test]
fn messages_flow_both_ways_once_connected() {
    let mut h = Harness::new(config(ChannelRole::Master));
    let offer = OutgoingMessage {
        action: Action::SdpAnswer,
        recipient_client_id: Some("viewer-1".into()),
        correlation_id: Some("c1".into()),
        payload: br#"{"type":"answer","sdp":"v=0"}"#.to_vec(),
    };
    h.client.send(h.now, offer.clone()).unwrap();
    h.drain();
    assert!(h.sent.is_empty(), "queued until connected");
    h.connect_happy();
    assert_eq!(h.sent.len(), 1, "flushed on CONNECTED");
    h.client.send(h.now, offer).unwrap();
    h.drain();
    assert_eq!(h.sent[0], h.sent[1]);
    let frame = ClientFrame::parse(&h.sent[0]).unwrap();
    assert_eq!(frame.recipient_client_id.as_deref(), Some("viewer-1"));
    assert_eq!(
        wire::decode_payload(&frame.message_payload).unwrap(),
        br#"{"type":"answer","sdp":"v=0"}"#
    );

    h.input(Input::WsText(r#"{"senderClientId":"viewer-1","messageType":"SDP_OFFER","messagePayload":"eyJ0eXBlIjoib2ZmZXIifQ=="}"#));
    h.input(Input::WsText("not json"));
    h.input(Input::WsText(r#"{"messageType":"STATUS_RESPONSE","statusResponse":{"correlationId":"c1","errorType":"InvalidArgumentException","statusCode":"400"}}"#));
    let tail = &h.events[h.events.len() - 3..];
    assert!(
        matches!(&tail[0], Event::Message(m) if m.sender_client_id.as_deref() == Some("viewer-1") && m.payload == br#"{"type":"offer"}"#)
    );
    assert!(matches!(&tail[1], Event::Error(Error::Frame(_))));
    assert!(
        matches!(&tail[2], Event::StatusResponse(s) if s.correlation_id.as_deref() == Some("c1"))
    );
    assert_eq!(
        h.client.state(),
        State::Connected,
        "garbage does not drop the connection"
    );
}

#[test]
fn send_guards_name_the_problem() {
    let mut h = Harness::new(config(ChannelRole::Viewer));
    h.connect_happy();
    let msg = |recipient: Option<&str>, payload: Vec<u8>| OutgoingMessage {
        action: Action::SdpOffer,
        recipient_client_id: recipient.map(str::to_owned),
        correlation_id: None,
        payload,
    };
    assert_eq!(
        h.client.send(h.now, msg(Some("x"), b"{}".to_vec())),
        Err(SendError::RecipientNotAllowed)
    );
    let err = h
        .client
        .send(h.now, msg(None, vec![b'a'; 7_503]))
        .unwrap_err();
    assert_eq!(err, SendError::PayloadTooLarge { len: 10_004 });
    assert!(err.to_string().contains("4 over"), "{err}");
    assert!(h.client.send(h.now, msg(None, vec![b'a'; 7_500])).is_ok());
}

#[test]
fn missing_channel_is_created_then_described() {
    let mut h = Harness::new(config(ChannelRole::Master));
    h.credentials();
    h.answer(
        404,
        Some("ResourceNotFoundException"),
        r#"{"Message":"The requested channel is not found or not active."}"#,
    );
    assert_eq!(
        h.last_request().operation,
        Operation::CreateSignalingChannel
    );
    h.answer(200, None, &format!(r#"{{"ChannelARN":"{ARN}"}}"#));
    assert_eq!(
        h.last_request().operation,
        Operation::DescribeSignalingChannel
    );
    h.answer(200, None, &describe_ok());
    h.answer(200, None, ENDPOINTS);
    h.answer(200, None, ICE);
    h.input(Input::WsOpened);
    use State::*;
    assert_eq!(
        h.states(),
        [
            GetCredentials,
            Describe,
            Create,
            Describe,
            GetEndpoint,
            GetIceConfig,
            Ready,
            Connecting,
            Connected
        ]
    );
}

#[test]
fn forbidden_once_refetches_credentials_then_succeeds() {
    let mut h = Harness::new(config(ChannelRole::Master));
    h.credentials();
    h.answer(
        403,
        Some("UnrecognizedClientException"),
        r#"{"Message":"The security token included in the request is invalid."}"#,
    );
    assert_eq!(h.credential_fetches, 2);
    assert_eq!(h.client.state(), State::GetCredentials);
    h.connect_happy();
    assert_eq!(h.client.state(), State::Connected);
}

#[test]
fn wrong_secret_stops_with_an_auth_error_not_a_loop() {
    let mut h = Harness::new(config(ChannelRole::Master));
    let sig = r#"{"Message":"The request signature we calculated does not match the signature you provided."}"#;
    h.credentials();
    h.answer(403, Some("InvalidSignatureException"), sig);
    h.credentials();
    h.answer(403, Some("InvalidSignatureException"), sig);
    let err = h
        .closed_with()
        .expect("closed")
        .clone()
        .expect("with an error");
    assert!(err.is_auth());
    assert!(err.to_string().contains("signature rejected"), "{err}");
    assert!(h.client.is_closed());
    assert_eq!(h.client.poll_timeout(), None);
    assert_eq!(h.requests.len(), 2);
}

#[test]
fn not_found_without_create_is_final() {
    let mut c = config(ChannelRole::Viewer);
    c.create_if_missing = false;
    let mut h = Harness::new(c);
    h.credentials();
    h.answer(
        404,
        Some("ResourceNotFoundException"),
        r#"{"Message":"not found"}"#,
    );
    assert!(matches!(h.closed_with(), Some(Some(Error::ChannelNotFound(n))) if n == "demo"));
}

#[test]
fn server_errors_retry_with_jittered_backoff_then_give_up_at_the_limit() {
    let mut c = config(ChannelRole::Master);
    c.retry.max_retries = Some(5);
    c.rng_seed = Some(42);
    let mut h = Harness::new(c);
    h.credentials();
    let mut waited = Vec::new();
    loop {
        h.answer(500, Some("InternalFailure"), r#"{"Message":"boom"}"#);
        if h.client.is_closed() {
            break;
        }
        let before = h.now;
        h.advance();
        waited.push(h.now - before);
    }
    let retries: Vec<(u32, Duration)> = h
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Retrying {
                attempt,
                delay,
                cause,
            } => {
                assert!(cause.is_retryable());
                Some((*attempt, *delay))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        retries.iter().map(|r| r.0).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    for ((n, delay), slept) in retries.iter().zip(&waited) {
        assert_eq!(
            delay, slept,
            "the timer fires after exactly the announced delay"
        );
        assert!(
            *delay <= Duration::from_millis(100 << (n - 1)),
            "retry {n}: {delay:?}"
        );
    }
    assert!(matches!(
        h.closed_with(),
        Some(Some(Error::GaveUp { attempts: 6, .. }))
    ));
    assert_eq!(h.requests.len(), 6);
}

#[test]
fn by_default_the_client_never_gives_up() {
    let mut h = Harness::new(config(ChannelRole::Master));
    h.credentials();
    for _ in 0..1_000 {
        h.answer(503, Some("ServiceUnavailable"), r#"{"Message":"down"}"#);
        assert!(!h.client.is_closed());
        h.advance();
    }
    h.answer(200, None, &describe_ok());
    h.answer(200, None, ENDPOINTS);
    h.answer(200, None, ICE);
    h.input(Input::WsOpened);
    assert_eq!(h.client.state(), State::Connected);
    assert_eq!(h.requests.len(), 1_003);
}

#[test]
fn call_timeout_fires_and_late_answers_are_ignored() {
    let mut h = Harness::new(config(ChannelRole::Master));
    h.credentials();
    let stale = h.last_request().id;
    h.advance(); // the 15 s call timeout
    assert!(h.events.iter().any(|e| matches!(
        e,
        Event::Retrying {
            cause: Error::Timeout {
                during: State::Describe,
                secs: 15
            },
            ..
        }
    )));
    h.input(Input::HttpResponse(
        stale,
        HttpResponse {
            status: 200,
            error_type: None,
            date: None,
            body: describe_ok().as_bytes(),
        },
    ));
    assert_eq!(
        h.client.state(),
        State::Describe,
        "a stale answer changes nothing"
    );
    h.advance(); // the retry
    assert_ne!(h.last_request().id, stale);
    h.answer(200, None, &describe_ok());
    assert_eq!(h.client.state(), State::GetEndpoint);
}

#[test]
fn socket_loss_reconnects_through_a_fresh_presign() {
    let mut h = Harness::new(config(ChannelRole::Master));
    h.connect_happy();
    h.input(Input::WsClosed("reset".into()));
    h.advance();
    assert_eq!(h.client.state(), State::Connecting);
    assert_eq!(h.ws_urls.len(), 2);
    h.input(Input::WsOpened);
    assert_eq!(h.client.state(), State::Connected);
}

#[test]
fn close_ends_the_session_once() {
    let mut h = Harness::new(config(ChannelRole::Master));
    h.connect_happy();
    h.client.close();
    h.client.close();
    h.drain();
    assert_eq!(
        h.events
            .iter()
            .filter(|e| matches!(e, Event::Closed(None)))
            .count(),
        1
    );
    h.input(Input::WsText(r#"{"messageType":"GO_AWAY"}"#));
    assert!(!h.events.iter().any(|e| matches!(e, Event::GoAway)));
}

#[test]
fn a_channel_given_by_arn_skips_describe() {
    let mut c = config(ChannelRole::Viewer);
    c.channel = ChannelRef::Arn(ARN.into());
    let mut h = Harness::new(c);
    h.credentials();
    assert_eq!(
        h.last_request().operation,
        Operation::GetSignalingChannelEndpoint
    );
    let body: serde_json::Value = serde_json::from_slice(&h.last_request().body).unwrap();
    assert_eq!(body["ChannelARN"], ARN);
    h.answer(200, None, ENDPOINTS);
    h.answer(200, None, ICE);
    h.input(Input::WsOpened);
    assert_eq!(h.client.state(), State::Connected);
    assert_eq!(h.client.channel_arn(), Some(ARN));
}

#[test]
fn debug_output_hides_signatures_and_tokens() {
    let mut c = config(ChannelRole::Viewer);
    c.channel = ChannelRef::Arn(ARN.into());
    let mut client = Client::new(
        c,
        origin(),
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    );
    client.connect(origin());
    let _ = client.poll_output();
    let now = origin();
    client.handle_input(
        now,
        Input::Credentials(Ok(Credentials::new(
            "AKID",
            "SECRET",
            Some("TOKEN123".into()),
            None,
            crate::STATIC_PROVIDER,
        ))),
    );
    let mut debug = String::new();
    while let Some(out) = client.poll_output() {
        debug.push_str(&format!("{out:?}"));
    }
    assert!(debug.contains("GetSignalingChannelEndpoint"));
    assert!(
        !debug.contains("TOKEN123") && !debug.contains("Signature="),
        "{debug}"
    );
    let url = PresignedUrl(
        "wss://h/v?X-Amz-ChannelARN=a&X-Amz-Security-Token=TOKEN123&X-Amz-Signature=abc".into(),
    );
    let shown = format!("{url:?}");
    assert!(
        shown.contains("X-Amz-ChannelARN=a")
            && !shown.contains("TOKEN123")
            && !shown.contains("abc"),
        "{shown}"
    );
}

#[test]
fn early_candidates_are_delivered_right_after_their_offer() {
    let mut h = Harness::new(config(ChannelRole::Master));
    h.connect_happy();
    let before = h.events.len();
    h.input(Input::WsText(
        r#"{"senderClientId":"v1","messageType":"ICE_CANDIDATE","messagePayload":"MQ=="}"#,
    ));
    h.input(Input::WsText(
        r#"{"senderClientId":"v1","messageType":"ICE_CANDIDATE","messagePayload":"Mg=="}"#,
    ));
    assert_eq!(h.events.len(), before, "held until the offer");
    h.input(Input::WsText(
        r#"{"senderClientId":"v1","messageType":"SDP_OFFER","messagePayload":"e30="}"#,
    ));
    let payloads: Vec<&[u8]> = h.events[before..]
        .iter()
        .map(|e| match e {
            Event::Message(m) => m.payload.as_slice(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(payloads, [b"{}".as_slice(), b"1", b"2"]);
}

fn candidate(n: usize) -> OutgoingMessage {
    OutgoingMessage {
        action: Action::IceCandidate,
        recipient_client_id: Some("viewer-1".into()),
        correlation_id: None,
        payload: format!("{{\"n\":{n}}}").into_bytes(),
    }
}

#[test]
fn the_queue_is_bounded_and_says_so() {
    let mut c = config(ChannelRole::Master);
    c.send_queue_limit = 3;
    let mut h = Harness::new(c);
    for n in 0..3 {
        h.client.send(h.now, candidate(n)).unwrap();
    }
    let err = h.client.send(h.now, candidate(3)).unwrap_err();
    assert_eq!(err, SendError::QueueFull { limit: 3 });
    assert!(err.to_string().contains("queue is full"));
    h.connect_happy();
    assert_eq!(h.sent.len(), 3);
    assert_eq!(h.client.queued(), 0);
}

#[test]
fn sends_keep_within_the_service_rates_in_order() {
    let mut c = config(ChannelRole::Master);
    c.send_queue_limit = 100;
    let mut h = Harness::new(c);
    h.connect_happy();
    let start = h.now;
    for n in 0..30 {
        h.client.send(h.now, candidate(n)).unwrap();
    }
    let offer = OutgoingMessage {
        action: Action::SdpOffer,
        ..candidate(99)
    };
    h.client.send(h.now, offer).unwrap();
    h.drain();
    assert_eq!(
        h.sent.len(),
        20,
        "a burst of 20 ICE candidates, then pacing"
    );
    assert_eq!(h.client.queued(), 11);
    while h.client.queued() > 0 {
        h.advance();
    }
    assert_eq!(h.sent.len(), 31);
    for (n, frame) in h.sent.iter().take(30).enumerate() {
        assert!(
            frame.contains(&wire::encode_payload(format!("{{\"n\":{n}}}").as_bytes())),
            "in order"
        );
    }
    assert!(
        h.sent[30].contains("SDP_OFFER"),
        "the offer waits its turn behind the candidates"
    );
    // 10 more candidates at 20 a second take half a second after the burst.
    assert_eq!(h.now - start, Duration::from_millis(500));
}

#[test]
fn pacing_can_be_turned_off() {
    let mut h = unpaced_master();
    for n in 0..50 {
        h.client.send(h.now, candidate(n)).unwrap();
    }
    h.drain();
    assert_eq!(h.sent.len(), 50);
}

#[test]
fn queued_messages_older_than_the_channel_ttl_are_dropped_with_an_event() {
    let mut h = Harness::new(config(ChannelRole::Master));
    h.client.send(h.now, candidate(0)).unwrap();
    h.credentials();
    h.answer(200, None, &describe_ok()); // MessageTtlSeconds 60
    h.now += Duration::from_secs(61);
    h.client.send(h.now, candidate(1)).unwrap();
    h.answer(200, None, ENDPOINTS);
    h.answer(200, None, ICE);
    h.input(Input::WsOpened);
    assert_eq!(h.sent.len(), 1);
    assert!(h.sent[0].contains(&wire::encode_payload(br#"{"n":1}"#)));
    assert!(
        h.events
            .iter()
            .any(|e| matches!(e, Event::Error(Error::MessageExpired { ttl_secs: 60, .. })))
    );
}

#[test]
fn a_failed_write_is_retried_first_after_reconnecting() {
    let mut h = Harness::new(config(ChannelRole::Master));
    h.connect_happy();
    h.client.send(h.now, candidate(0)).unwrap();
    h.drain();
    let lost = h.sent.pop().unwrap();
    h.input(Input::WsSendFailed {
        frame: lost.clone(),
        reason: "broken pipe".into(),
    });
    assert_ne!(h.client.state(), State::Connected);
    h.client.send(h.now, candidate(1)).unwrap();
    h.advance();
    h.input(Input::WsOpened);
    assert_eq!(h.sent.len(), 2);
    assert_eq!(h.sent[0], lost, "the failed frame goes first");
    assert!(h.sent[1].contains(&wire::encode_payload(br#"{"n":1}"#)));
}

#[test]
fn nothing_is_accepted_after_the_session_ended() {
    let mut h = Harness::new(config(ChannelRole::Master));
    h.client.close();
    assert_eq!(
        h.client.send(h.now, candidate(0)),
        Err(SendError::NotConnected(State::Disconnected))
    );
}

fn ops(h: &Harness) -> Vec<Operation> {
    h.requests.iter().map(|r| r.operation).collect()
}

#[test]
fn go_away_makes_a_new_connection_before_the_old_one_goes() {
    let mut h = Harness::new(config(ChannelRole::Master));
    h.connect_happy();
    h.input(Input::WsText(r#"{"messageType":"GO_AWAY"}"#));
    assert!(h.events.iter().any(|e| matches!(e, Event::GoAway)));
    assert_eq!(
        h.client.state(),
        State::Describe,
        "GO_AWAY re-resolves the channel"
    );
    assert_eq!(h.closes, 0, "the old socket stays open meanwhile");
    // The old socket still delivers, and sends wait for the new one.
    h.input(Input::WsText(
        r#"{"senderClientId":"v1","messageType":"SDP_OFFER","messagePayload":"e30="}"#,
    ));
    assert!(h.events.iter().any(|e| matches!(e, Event::Message(_))));
    h.client.send(h.now, candidate(7)).unwrap();
    h.drain();
    assert!(h.sent.is_empty());
    h.answer(200, None, &describe_ok());
    h.answer(200, None, ENDPOINTS);
    h.answer(200, None, ICE);
    assert_eq!(h.ws_urls.len(), 2);
    h.input(Input::WsClosed("grace period over".into())); // the old one, if it ends first
    assert_eq!(
        h.client.state(),
        State::Connecting,
        "closing the draining socket is no failure"
    );
    h.input(Input::WsOpened);
    assert_eq!(h.client.state(), State::Connected);
    assert_eq!(
        h.sent.len(),
        1,
        "queued during the switch, sent on the new socket"
    );
    assert!(!h.states().contains(&State::Disconnected));
}

#[test]
fn reconnect_ice_server_refetches_ice_without_dropping_the_socket() {
    let mut h = Harness::new(config(ChannelRole::Viewer));
    h.connect_happy();
    let states_before = h.states().len();
    h.input(Input::WsText(r#"{"messageType":"RECONNECT_ICE_SERVER"}"#));
    assert_eq!(ops(&h).last(), Some(&Operation::GetIceServerConfig));
    // Meanwhile the connection is fully usable: sends go straight out.
    let to_master = OutgoingMessage {
        recipient_client_id: None,
        ..candidate(1)
    };
    h.client.send(h.now, to_master).unwrap();
    h.drain();
    assert_eq!(h.sent.len(), 1);
    h.answer(200, None, ICE);
    assert_eq!(h.client.state(), State::Connected);
    assert_eq!(
        h.states().len(),
        states_before,
        "the state never left CONNECTED"
    );
    assert_eq!(h.ws_urls.len(), 1, "no new WebSocket");
    assert_eq!(h.client.ice_servers().len(), 1);
}

#[test]
fn a_failed_background_refresh_is_retried_without_touching_the_connection() {
    let mut h = Harness::new(config(ChannelRole::Viewer));
    h.connect_happy();
    let states_before = h.states().len();
    h.input(Input::WsText(r#"{"messageType":"RECONNECT_ICE_SERVER"}"#));
    h.answer(500, Some("InternalFailure"), r#"{"Message":"boom"}"#);
    assert_eq!(h.client.state(), State::Connected);
    assert!(h.events.iter().any(|e| matches!(e, Event::Retrying { .. })));
    assert_eq!(
        h.client.ice_servers().len(),
        1,
        "the servers we had stay in use"
    );
    let calls = ops(&h).len();
    while ops(&h).len() == calls {
        h.advance(); // the retry comes after a few seconds (pings may come first)
    }
    assert_eq!(ops(&h).last(), Some(&Operation::GetIceServerConfig));
    h.answer(200, None, ICE);
    assert_eq!(h.states().len(), states_before);
    assert_eq!(h.ws_urls.len(), 1);
}

#[test]
fn losing_the_socket_during_a_background_refresh_reconnects_cleanly() {
    let mut h = Harness::new(config(ChannelRole::Viewer));
    h.connect_happy();
    h.input(Input::WsText(r#"{"messageType":"RECONNECT_ICE_SERVER"}"#));
    h.input(Input::WsClosed("reset".into()));
    assert_ne!(h.client.state(), State::Connected);
    while h.ws_urls.len() == 1 {
        h.advance();
        if let Some(r) = h
            .requests
            .last()
            .filter(|r| r.operation == Operation::GetIceServerConfig)
        {
            let id = r.id;
            h.input(Input::HttpResponse(
                id,
                HttpResponse {
                    status: 200,
                    error_type: None,
                    date: None,
                    body: ICE.as_bytes(),
                },
            ));
        }
    }
    h.input(Input::WsOpened);
    assert_eq!(h.client.state(), State::Connected);
}

#[test]
fn ice_servers_are_refreshed_thirty_seconds_before_their_ttl() {
    let mut h = Harness::new(config(ChannelRole::Viewer));
    let start = h.now;
    h.connect_happy();
    let ice_calls = |h: &Harness| {
        ops(h)
            .iter()
            .filter(|o| **o == Operation::GetIceServerConfig)
            .count()
    };
    while ice_calls(&h) == 1 {
        h.advance(); // pings come first, every 10 s
    }
    assert_eq!(
        h.now - start,
        Duration::from_secs(270),
        "Ttl 300 minus 30 s"
    );
    h.answer(200, None, ICE);
    assert_eq!(h.client.state(), State::Connected);
    assert_eq!(h.ws_urls.len(), 1);
    assert_eq!(
        h.events
            .iter()
            .filter(|e| matches!(e, Event::IceServers(_)))
            .count(),
        2
    );
}

#[test]
fn idle_connections_are_pinged_every_ten_seconds() {
    let mut h = Harness::new(config(ChannelRole::Master));
    h.connect_happy();
    let start = h.now;
    h.advance();
    assert_eq!((h.pings, h.now - start), (1, Duration::from_secs(10)));
    h.now += Duration::from_secs(5);
    h.input(Input::WsText(
        r#"{"messageType":"STATUS_RESPONSE","statusResponse":{}}"#,
    ));
    h.advance();
    assert_eq!(
        (h.pings, h.now - start),
        (2, Duration::from_secs(25)),
        "traffic postpones the ping"
    );
}

#[test]
fn the_connection_is_replaced_before_the_one_hour_limit() {
    let mut h = Harness::new(config(ChannelRole::Master));
    let start = h.now;
    h.connect_happy();
    while h.client.state() != State::GetEndpoint {
        if h.client.state() == State::GetIceConfig {
            h.answer(200, None, ICE); // the periodic ICE refreshes
        } else {
            h.advance();
        }
    }
    assert_eq!(h.now - start, Duration::from_secs(3540), "59 minutes");
    h.answer(200, None, ENDPOINTS);
    h.answer(200, None, ICE);
    assert_eq!(h.client.state(), State::Connecting);
    assert_eq!(
        (h.ws_urls.len(), h.closes),
        (2, 0),
        "the old socket is still open"
    );
    h.input(Input::WsOpened);
    assert_eq!(h.client.state(), State::Connected);
    assert!(!h.states().contains(&State::Disconnected));
}

/// Temporary credentials from the harness's wall clock on: `akid`, living `secs`.
fn temporary(h: &Harness, akid: &str, secs: u64) -> Credentials {
    let wall = SystemTime::UNIX_EPOCH
        + Duration::from_secs(1_700_000_000)
        + (h.now - h.client.mono_anchor_for_tests());
    Credentials::new(
        akid,
        "S",
        Some("T".into()),
        Some(wall + Duration::from_secs(secs)),
        crate::STATIC_PROVIDER,
    )
}

/// The access key id a request was signed with.
fn signed_by(r: &HttpRequest) -> String {
    let auth = &r
        .headers
        .iter()
        .find(|(k, _)| k == "authorization")
        .unwrap()
        .1;
    auth.split("Credential=")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn credentials_are_refreshed_in_the_background_before_they_expire() {
    let mut h = Harness::new(config(ChannelRole::Master));
    let first = temporary(&h, "AKID1", 600);
    h.input(Input::Credentials(Ok(first)));
    h.answer(200, None, &describe_ok());
    h.answer(200, None, ENDPOINTS);
    h.answer(200, None, ICE);
    h.input(Input::WsOpened);
    let start = h.now;
    let sockets = h.ws_urls.len();
    while h.credential_fetches == 1 {
        if h.client.state() == State::GetIceConfig || h.requests.len() > h.answered {
            h.answer(200, None, ICE); // the ICE refresh at 270 s and 540 s
            h.answered = h.requests.len();
        } else {
            h.advance();
        }
    }
    let at = h.now - start;
    assert!(
        (Duration::from_secs(528)..=Duration::from_secs(540)).contains(&at),
        "60 s plus up to 12 s before the expiry, not {at:?}"
    );
    assert_eq!(
        h.client.state(),
        State::Connected,
        "the connection is not touched"
    );
    assert_eq!((h.ws_urls.len(), h.closes), (sockets, 0));

    let second = temporary(&h, "AKID2", 600);
    h.input(Input::Credentials(Ok(second)));
    assert!(
        h.events
            .iter()
            .any(|e| matches!(e, Event::CredentialsRefreshed { expiry: Some(_) }))
    );
    // The next signed request (an ICE refresh) uses the new key; the socket is the same.
    let before = h.requests.len();
    while h.requests.len() == before {
        h.advance();
    }
    assert_eq!(signed_by(h.last_request()), "AKID2");
    assert_eq!((h.ws_urls.len(), h.closes), (sockets, 0));
}

#[test]
fn a_failed_refresh_retries_with_backoff_and_expired_credentials_are_never_signed_with() {
    let mut h = Harness::new(config(ChannelRole::Master));
    let first = temporary(&h, "AKID1", 100);
    h.input(Input::Credentials(Ok(first)));
    h.answer(200, None, &describe_ok());
    h.answer(200, None, ENDPOINTS);
    h.answer(200, None, ICE);
    h.input(Input::WsOpened);
    // Every background refresh fails: retries with growing delays, each an event.
    let mut delays = Vec::new();
    while h.credential_fetches < 4 {
        let fetches = h.credential_fetches;
        h.advance();
        if h.credential_fetches > fetches {
            h.input(Input::Credentials(Err("the provider is down".into())));
            if let Some(Event::Retrying { delay, cause, .. }) = h
                .events
                .iter()
                .rev()
                .find(|e| matches!(e, Event::Retrying { .. }))
            {
                assert!(
                    cause.to_string().contains("the provider is down"),
                    "{cause}"
                );
                delays.push(*delay);
            }
        }
    }
    assert_eq!(
        delays,
        [
            Duration::from_secs(1),
            Duration::from_secs(2),
            Duration::from_secs(4)
        ]
    );
    assert_eq!(
        h.client.state(),
        State::Connected,
        "the open connection stays up"
    );
    // Past the expiry, a GO_AWAY needs a new connection: new credentials come first.
    while h.now - h.client.mono_anchor_for_tests() < Duration::from_secs(101) {
        h.advance();
        if h.credential_fetches > 4 && h.client.state() == State::Connected {
            h.input(Input::Credentials(Err("still down".into())));
        }
    }
    let signed = h.requests.len();
    h.input(Input::WsText(r#"{"messageType":"GO_AWAY"}"#));
    assert!(
        h.requests.len() == signed,
        "nothing signed with the expired credentials"
    );
    assert_eq!(h.client.state(), State::GetCredentials);
}

/// The `X-Amz-Date` a request was signed with.
fn signed_at(r: &HttpRequest) -> SystemTime {
    let date = &r.headers.iter().find(|(k, _)| k == "x-amz-date").unwrap().1;
    crate::amz_date::parse(date).unwrap()
}

#[test]
fn a_clock_fifteen_minutes_slow_is_corrected_from_the_error_and_used_everywhere() {
    let mut h = Harness::new(config(ChannelRole::Viewer));
    h.credentials();
    let local = signed_at(h.last_request());
    let service_now = local + Duration::from_secs(15 * 60);
    let message = format!(
        "Signature expired: {} is now earlier than {} ({} - 5 min.)",
        crate::amz_date::format(local),
        crate::amz_date::format(service_now - Duration::from_secs(300)),
        crate::amz_date::format(service_now)
    );
    h.answer(
        403,
        Some("InvalidSignatureException"),
        &format!(r#"{{"Message":"{message}"}}"#),
    );
    assert!(
        h.events
            .iter()
            .any(|e| matches!(e, Event::ClockSkew { skew_ms: 900_000 }))
    );
    assert_eq!(
        h.credential_fetches, 1,
        "a skewed clock is not a key problem"
    );
    assert_eq!(
        signed_at(h.last_request()),
        service_now,
        "re-signed with the service's time"
    );
    h.answer(200, None, &describe_ok());
    h.answer(200, None, ENDPOINTS);
    h.answer(200, None, ICE);
    let url = h.ws_urls[0].clone();
    assert!(
        url.contains(&format!(
            "X-Amz-Date={}",
            crate::amz_date::format(service_now)
        )),
        "the presign uses it too: {url}"
    );
}

#[test]
fn a_clock_fifteen_minutes_fast_is_corrected_from_the_date_header() {
    let mut h = Harness::new(config(ChannelRole::Master));
    h.credentials();
    let local = signed_at(h.last_request());
    let service_now = local - Duration::from_secs(15 * 60);
    let date = httpdate::fmt_http_date(service_now);
    let id = h.last_request().id;
    h.input(Input::HttpResponse(
        id,
        HttpResponse {
            status: 200,
            error_type: None,
            date: Some(&date),
            body: describe_ok().as_bytes(),
        },
    ));
    assert!(
        h.events
            .iter()
            .any(|e| matches!(e, Event::ClockSkew { skew_ms: -900_000 }))
    );
    assert_eq!(signed_at(h.last_request()), service_now);
}

#[test]
fn a_clock_error_that_keeps_coming_is_not_retried_forever() {
    let mut h = Harness::new(config(ChannelRole::Master));
    h.credentials();
    let msg = r#"{"Message":"Signature not yet current: 20231114T222000Z is still later than 20231114T221320Z (20231114T220820Z + 5 min.)"}"#;
    for _ in 0..10 {
        if h.client.is_closed() {
            break;
        }
        if h.client.state() == State::GetCredentials {
            h.credentials();
        }
        h.answer(403, Some("InvalidSignatureException"), msg);
    }
    let err = h.closed_with().expect("it stops").clone().unwrap();
    assert!(err.to_string().contains("clock"), "{err}");
}

#[test]
fn metrics_count_calls_messages_reconnects_and_offer_to_answer() {
    let mut h = Harness::new(config(ChannelRole::Viewer));
    h.credentials();
    h.now += Duration::from_millis(20);
    h.answer(200, None, &describe_ok());
    h.answer(200, None, ENDPOINTS);
    h.answer(200, None, ICE);
    h.now += Duration::from_millis(5);
    h.input(Input::WsOpened);
    let offer = OutgoingMessage {
        action: Action::SdpOffer,
        recipient_client_id: None,
        correlation_id: None,
        payload: b"{}".to_vec(),
    };
    h.client.send(h.now, offer).unwrap();
    h.now += Duration::from_millis(40);
    h.input(Input::WsText(
        r#"{"messageType":"SDP_ANSWER","messagePayload":"e30="}"#,
    ));
    h.input(Input::WsText(r#"{"messageType":"GO_AWAY"}"#));
    h.answer(200, None, &describe_ok());
    h.answer(200, None, ENDPOINTS);
    h.answer(200, None, ICE);
    h.input(Input::WsOpened);
    h.now += Duration::from_secs(2);
    let m = h.client.metrics(h.now);
    assert_eq!(m.api_calls["DescribeSignalingChannel"].count, 2);
    assert_eq!(m.api_calls["DescribeSignalingChannel"].max_ms, 20);
    assert_eq!(m.ws_connects.count, 2);
    assert_eq!(m.ws_connects.max_ms, 5);
    assert_eq!((m.messages_sent, m.messages_received), (1, 1));
    assert_eq!((m.reconnects, m.ice_refreshes), (1, 1));
    assert_eq!(m.offer_to_answer_ms, Some(40));
    assert_eq!(m.connected_ms, 2_040, "both connections, not the switch");
    assert_eq!((m.errors, m.retries), (0, 0));
}

#[test]
fn delete_uses_the_current_version_and_ends_deleted() {
    let mut h = Harness::new(config(ChannelRole::Master));
    h.connect_happy();
    h.client.delete_channel(h.now);
    h.drain();
    assert_eq!(h.closes, 1, "the socket goes first");
    let body: serde_json::Value = serde_json::from_slice(&h.last_request().body).unwrap();
    assert_eq!(
        h.last_request().operation,
        Operation::DeleteSignalingChannel
    );
    assert_eq!(
        (body["ChannelARN"].as_str(), body["CurrentVersion"].as_str()),
        (Some(ARN), Some("v1"))
    );
    h.answer(
        400,
        Some("VersionMismatchException"),
        r#"{"Message":"stale"}"#,
    );
    assert_eq!(
        h.last_request().operation,
        Operation::DescribeSignalingChannel,
        "a stale version is refreshed"
    );
    h.answer(200, None, &describe_ok());
    h.answer(200, None, "{}");
    let tail: Vec<State> = h.states().into_iter().rev().take(2).collect();
    assert_eq!(tail, [State::Deleted, State::Delete]);
    assert_eq!(h.closed_with(), Some(&None));
}

#[test]
fn deleting_a_channel_that_is_already_gone_is_done() {
    let mut c = config(ChannelRole::Master);
    c.channel = ChannelRef::Arn(ARN.into());
    let mut h = Harness::new(c);
    h.client.delete_channel(h.now);
    h.drain();
    h.credentials(); // no version yet: describe first
    assert_eq!(
        h.last_request().operation,
        Operation::DescribeSignalingChannel
    );
    h.answer(200, None, &describe_ok());
    h.answer(
        404,
        Some("ResourceNotFoundException"),
        r#"{"Message":"gone"}"#,
    );
    assert_eq!(h.client.state(), State::Deleted);
    assert!(h.client.is_closed());
}

#[test]
fn a_channel_given_by_arn_that_vanishes_after_go_away_ends_the_session() {
    let mut c = config(ChannelRole::Viewer);
    c.channel = ChannelRef::Arn(ARN.into());
    let mut h = Harness::new(c);
    h.credentials();
    h.answer(200, None, ENDPOINTS);
    h.answer(200, None, ICE);
    h.input(Input::WsOpened);
    assert_eq!(h.client.state(), State::Connected);
    h.input(Input::WsText(r#"{"messageType":"GO_AWAY"}"#));
    assert_eq!(
        h.last_request().operation,
        Operation::DescribeSignalingChannel
    );
    h.answer(
        404,
        Some("ResourceNotFoundException"),
        r#"{"Message":"The requested channel is not found or not active."}"#,
    );
    assert!(
        !h.requests
            .iter()
            .any(|r| r.operation == Operation::CreateSignalingChannel),
        "a channel named by ARN is never created"
    );
    assert!(matches!(
        h.closed_with(),
        Some(Some(Error::ChannelNotFound(arn))) if arn == ARN
    ));
    assert!(h.client.is_closed());
}

#[test]
fn deleting_a_named_channel_that_does_not_exist_does_not_create_it() {
    let mut h = Harness::new(config(ChannelRole::Master));
    h.client.delete_channel(h.now);
    h.drain();
    h.credentials();
    h.answer(
        404,
        Some("ResourceNotFoundException"),
        r#"{"Message":"gone"}"#,
    );
    let operations: Vec<Operation> = h.requests.iter().map(|r| r.operation).collect();
    assert_eq!(operations, [Operation::DescribeSignalingChannel]);
    assert_eq!(h.client.state(), State::Deleted);
    assert_eq!(h.closed_with(), Some(&None));
}

fn cached(fetched_at: u64) -> CachedEndpoints {
    CachedEndpoints {
        channel_arn: ARN.into(),
        wss_endpoint: "wss://127.0.0.1:4443/m".into(),
        https_endpoint: "https://127.0.0.1:4443".into(),
        message_ttl_seconds: Some(60),
        fetched_at,
    }
}

#[test]
fn a_fresh_cache_means_a_warm_start_with_only_ice_and_the_upgrade() {
    let mut c = config(ChannelRole::Master);
    c.cached_endpoints = Some(cached(1_700_000_000 - 9 * 3600));
    let mut h = Harness::new(c);
    h.credentials();
    h.answer(200, None, ICE);
    h.input(Input::WsOpened);
    assert_eq!(h.client.state(), State::Connected);
    assert_eq!(ops(&h), [Operation::GetIceServerConfig]);
}

#[test]
fn a_stale_cache_is_ignored_and_a_fresh_fetch_is_announced() {
    let mut c = config(ChannelRole::Master);
    c.cached_endpoints = Some(cached(1_700_000_000 - 11 * 3600));
    let mut h = Harness::new(c);
    h.connect_happy();
    assert_eq!(ops(&h)[0], Operation::DescribeSignalingChannel);
    let resolved = h.events.iter().find_map(|e| match e {
        Event::EndpointsResolved(entry) => Some(entry.clone()),
        _ => None,
    });
    let entry = resolved.expect("announced for the cache");
    assert_eq!(
        (entry.channel_arn.as_str(), entry.fetched_at),
        (ARN, 1_700_000_000)
    );
}

#[test]
fn a_cached_arn_that_no_longer_exists_falls_back_to_describe() {
    let mut c = config(ChannelRole::Master);
    c.cached_endpoints = Some(cached(1_700_000_000));
    let mut h = Harness::new(c);
    h.credentials();
    h.answer(
        404,
        Some("ResourceNotFoundException"),
        r#"{"Message":"gone"}"#,
    );
    assert_eq!(ops(&h).last(), Some(&Operation::DescribeSignalingChannel));
    h.answer(200, None, &describe_ok());
    assert_eq!(
        ops(&h).last(),
        Some(&Operation::GetSignalingChannelEndpoint),
        "the cached endpoints went too"
    );
}

#[test]
fn a_corrupt_cache_file_reads_as_empty() {
    assert_eq!(
        EndpointCacheFile::parse(b"{not json"),
        EndpointCacheFile::default()
    );
    let mut file = EndpointCacheFile::default();
    file.entries.insert("k".into(), cached(1));
    assert_eq!(EndpointCacheFile::parse(&file.to_json()), file);
}

#[test]
fn the_upgrade_runs_in_parallel_with_get_ice_server_config() {
    let mut h = Harness::new(config(ChannelRole::Viewer));
    h.credentials();
    h.answer(200, None, &describe_ok());
    h.answer(200, None, ENDPOINTS);
    assert_eq!(h.client.state(), State::GetIceConfig);
    assert_eq!(
        h.ws_urls.len(),
        1,
        "the upgrade starts with the ICE request"
    );
    assert!(h.client.expects_socket());
    h.input(Input::WsOpened); // the socket wins the race
    assert_eq!(
        h.client.state(),
        State::GetIceConfig,
        "CONNECTED waits for the ICE servers"
    );
    h.answer(200, None, ICE);
    assert_eq!(h.client.state(), State::Connected);
    assert_eq!(h.ws_urls.len(), 1);
    assert!(!h.states().contains(&State::Connecting));
}

#[test]
fn a_parallel_upgrade_that_fails_is_retried_in_connecting() {
    let mut h = Harness::new(config(ChannelRole::Viewer));
    h.credentials();
    h.answer(200, None, &describe_ok());
    h.answer(200, None, ENDPOINTS);
    h.input(Input::WsConnectFailed {
        status: None,
        error_type: None,
        message: "refused".into(),
    });
    assert_eq!(
        h.client.state(),
        State::GetIceConfig,
        "the ICE step goes on"
    );
    h.answer(200, None, ICE);
    assert_eq!(h.client.state(), State::Connecting);
    assert_eq!(h.ws_urls.len(), 2, "a fresh upgrade");
    h.input(Input::WsOpened);
    assert_eq!(h.client.state(), State::Connected);
}

#[test]
fn a_parallel_upgrade_outdated_by_a_missing_channel_is_not_waited_for() {
    let mut h = Harness::new(config(ChannelRole::Viewer));
    h.credentials();
    h.answer(200, None, &describe_ok());
    h.answer(200, None, ENDPOINTS);
    h.answer(
        404,
        Some("ResourceNotFoundException"),
        r#"{"Message":"gone"}"#,
    );
    assert_eq!(h.client.state(), State::Describe);
    assert!(
        !h.client.expects_socket(),
        "the stale socket will be closed by the driver"
    );
    h.answer(200, None, &describe_ok());
    h.answer(200, None, ENDPOINTS);
    assert_eq!(
        h.ws_urls.len(),
        2,
        "a new parallel upgrade for the new attempt"
    );
}

/// A connected master whose sends are not paced.
fn unpaced_master() -> Harness {
    let mut c = config(ChannelRole::Master);
    c.send_rate = None;
    let mut h = Harness::new(c);
    h.connect_happy();
    h
}

impl Harness {
    /// How many peer messages were delivered to the application.
    fn delivered(&self) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, Event::Message(_)))
            .count()
    }
}

/// Sends candidates `range` (a master's, to viewer-1) while connected.
fn send_candidates(h: &mut Harness, range: std::ops::Range<usize>) {
    for n in range {
        h.client.send(h.now, candidate(n)).unwrap();
        h.drain();
    }
}

#[test]
fn a_ping_without_pong_is_a_lost_connection_and_unconfirmed_frames_go_again() {
    let mut h = unpaced_master();
    send_candidates(&mut h, 0..2);
    h.advance(); // the ping at 10 s, answered
    assert_eq!(h.pings, 1);
    h.auto_pong = false; // from here on the connection is silently dead
    send_candidates(&mut h, 2..5);
    let sent_before = h.sent.len();
    let start = h.now;
    while !h.events.iter().any(|e| {
        matches!(
            e,
            Event::Retrying {
                cause: Error::PongTimeout { .. },
                ..
            }
        )
    }) {
        h.advance();
        assert!(h.now - start < Duration::from_secs(60), "no pong timeout");
    }
    assert_eq!(h.pings, 2);
    assert_eq!(
        h.now - start,
        Duration::from_secs(15),
        "ping 10 s after the last frame from the service, then 5 s for its pong"
    );
    assert_eq!(h.closes, 1, "the dead socket is closed");
    assert!(h.states().contains(&State::Disconnected));
    assert_eq!(h.client.queued(), 3, "the three frames no pong confirmed");
    while h.ws_urls.len() == 1 {
        h.advance();
    }
    h.input(Input::WsOpened);
    assert_eq!(h.client.state(), State::Connected);
    let again: Vec<&String> = h.sent[sent_before..].iter().collect();
    let expected: Vec<&String> = h.sent[2..5].iter().collect();
    assert_eq!(again, expected, "sent again, in order, once");
}

#[test]
fn frames_a_pong_confirmed_are_not_sent_again() {
    let mut h = unpaced_master();
    send_candidates(&mut h, 0..3);
    h.advance(); // ping and pong
    h.input(Input::WsClosed("reset".into()));
    assert_eq!(h.client.queued(), 0);
    send_candidates(&mut h, 3..4);
    assert_eq!(
        h.client.queued(),
        1,
        "only what was sent after the loss waits"
    );
}

#[test]
fn a_message_repeated_within_the_ttl_is_delivered_once() {
    let mut h = Harness::new(config(ChannelRole::Master));
    h.connect_happy();
    let ice = r#"{"senderClientId":"v1","messageType":"ICE_CANDIDATE","messagePayload":"e30="}"#;
    let offer = r#"{"senderClientId":"v1","messageType":"SDP_OFFER","messagePayload":"eyJ0eXBlIjoib2ZmZXIifQ=="}"#;
    for text in [offer, ice, offer, ice] {
        h.input(Input::WsText(text));
    }
    let delivered = h.delivered();
    assert_eq!(delivered, 2);
    assert_eq!(h.client.metrics(h.now).duplicates_dropped, 2);
    h.now += Duration::from_secs(61);
    h.input(Input::WsText(ice));
    let delivered = h.delivered();
    assert_eq!(delivered, 3, "after the TTL the same message is new");

    let mut c = config(ChannelRole::Master);
    c.drop_repeats = false;
    let mut h = Harness::new(c);
    h.connect_happy();
    for text in [offer, offer] {
        h.input(Input::WsText(text));
    }
    let delivered = h.delivered();
    assert_eq!(
        delivered, 2,
        "with drop_repeats off every copy is delivered"
    );
}

/// The C SDK's lifecycle: fetch to READY without connecting, connect, disconnect back to
/// READY, connect again without fetching anything, delete.
#[test]
fn fetch_connect_disconnect_connect_delete() {
    let mut h = Harness::unstarted(config(ChannelRole::Master));
    let now = h.now;
    h.client.fetch(now);
    h.drain();
    h.credentials();
    h.answer(200, None, &describe_ok());
    h.answer(200, None, ENDPOINTS);
    h.answer(200, None, ICE);
    assert_eq!(h.client.state(), State::Ready);
    assert!(h.ws_urls.is_empty(), "fetch does not connect");
    assert_eq!(
        h.client.poll_timeout(),
        None,
        "nothing to wake up for while held"
    );

    h.client.connect(h.now);
    h.drain();
    assert_eq!(h.ws_urls.len(), 1);
    h.input(Input::WsOpened);
    assert_eq!(h.client.state(), State::Connected);

    h.client.disconnect(h.now);
    h.drain();
    assert_eq!((h.client.state(), h.closes), (State::Ready, 1));
    assert!(!h.client.is_closed());
    let calls = h.requests.len();

    h.now += Duration::from_secs(10);
    h.client.connect(h.now);
    h.drain();
    assert_eq!(h.requests.len(), calls, "nothing fetched again");
    assert_eq!(h.ws_urls.len(), 2);
    h.input(Input::WsOpened);
    assert_eq!(h.client.state(), State::Connected);

    h.client.disconnect(h.now);
    h.drain();
    h.now += Duration::from_secs(600); // the ICE servers (Ttl 300) are due meanwhile
    h.client.connect(h.now);
    h.drain();
    assert_eq!(
        h.last_request().operation,
        Operation::GetIceServerConfig,
        "due ICE servers are fetched before connecting"
    );
    h.answer(200, None, ICE);
    h.input(Input::WsOpened);
    assert_eq!(h.client.state(), State::Connected);

    h.client.delete_channel(h.now);
    h.drain();
    h.answer(200, None, "{}");
    assert_eq!(h.client.state(), State::Deleted);
    assert!(h.client.is_closed());
}
