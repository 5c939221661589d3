//! The AWS IoT credentials provider against the local service's IoT endpoint over real
//! mutual TLS: device certificates minted by the service's CA, refusals that name their
//! cause without a retry storm, issued keys refreshed before they expire, and a WebSocket
//! that outlives the credentials that signed it.

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use kvs_client::{
    CredentialsError, Event, IotProvider, IotSettings, Master, MessageType, ProvideCredentials,
    ProvideFuture, SignalingClient, ToMaster, Viewer, ViewerId,
};
use kvs_proto::Credentials;
use kvs_proto::api::ChannelRole;
use kvs_service::{
    DEFAULT_ROLE_ALIAS, DeviceCertificate, IotConfig, RoleAlias, ServiceConfig, ServiceHandle,
    issue_device_certificate,
};

/// The service with its IoT endpoint, keeping its CA in `state`, issuing credentials that
/// last `lifetime`.
async fn service(state: &Path, lifetime: Duration) -> ServiceHandle {
    kvs_service::start(ServiceConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        state_dir: Some(state.to_owned()),
        limits: None,
        turn: None,
        iot: Some(IotConfig {
            port: 0,
            role_aliases: vec![RoleAlias {
                name: DEFAULT_ROLE_ALIAS.into(),
                credential_duration: lifetime,
            }],
        }),
        ..ServiceConfig::default()
    })
    .await
    .unwrap()
}

fn settings(svc: &ServiceHandle, device: &DeviceCertificate, thing: &str) -> IotSettings {
    IotSettings {
        endpoint: svc.iot_endpoint().unwrap().to_owned(),
        role_alias: DEFAULT_ROLE_ALIAS.into(),
        thing_name: thing.into(),
        cert: device.cert_path.clone(),
        key: device.key_path.clone(),
        ca: Some(svc.ca_path().unwrap().to_owned()),
    }
}

/// How often the IoT endpoint answered with `status`, from the service's metrics.
fn answered(svc: &ServiceHandle, status: u16) -> u64 {
    let wanted = format!("kvs_iot_credential_requests_total{{status=\"{status}\"}} ");
    svc.metrics()
        .lines()
        .find_map(|l| l.strip_prefix(&wanted))
        .map_or(0, |n| n.trim().parse().unwrap())
}

/// A device with a certificate from the service's CA gets credentials that sign a master's
/// connection; they are refreshed before they expire (4 s here), over mutual TLS each time,
/// and the connection stays up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_certificate_buys_credentials_that_connect_and_are_refreshed() {
    let state = tempfile::tempdir().unwrap();
    let device = issue_device_certificate(state.path(), "cam-1", None).unwrap();
    let svc = service(state.path(), Duration::from_secs(4)).await;
    let provider = IotProvider::new(&settings(&svc, &device, "cam-1")).unwrap();
    let mut options = common::options(&svc, "cam-1", ChannelRole::Master, "", "unused");
    options.credentials = Arc::new(provider);
    let (master, mut events) = SignalingClient::<Master>::start(options).unwrap();
    master.connected().await.unwrap();
    let mut refreshed = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let mut connected = false;
    while refreshed < 2 {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .expect("two refreshes within 15 s")
            .expect("the session runs");
        match event {
            Event::CredentialsRefreshed { expiry } => {
                assert!(expiry.unwrap() > SystemTime::now());
                refreshed += 1;
            }
            Event::StateChanged(kvs_client::State::Connected) => connected = true,
            Event::StateChanged(s) => assert!(!connected, "stayed connected, not {s}"),
            Event::Error(e) => panic!("no error: {e}"),
            _ => {}
        }
    }
    assert!(
        svc.issued_keys().len() >= 3,
        "one issue at start and one per refresh"
    );
    assert!(svc.is_connected(&svc.channel_arn("cam-1").unwrap(), None));
    master.close().await;
    svc.shutdown().await;
}

/// The text of the provider's error and whether it asks for a configuration change.
async fn refusal(settings: &IotSettings) -> (String, bool) {
    let provider = IotProvider::new(settings).unwrap();
    let err = provider.provide_credentials().await.unwrap_err();
    let permanent = matches!(err, CredentialsError::InvalidConfiguration(_));
    (full_text(&err), permanent)
}

fn full_text(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

/// A certificate from another CA, an expired certificate, an unknown role alias and a thing
/// the certificate is not attached to: each is its own clear error, a configuration error
/// the client does not retry; a missing thing name is refused before any request.
#[tokio::test]
async fn each_refusal_names_its_cause_and_is_not_retried() {
    let state = tempfile::tempdir().unwrap();
    let device = issue_device_certificate(state.path(), "cam-1", None).unwrap();
    let now = SystemTime::now();
    let day = Duration::from_secs(86_400);
    let expired =
        issue_device_certificate(state.path(), "cam-old", Some((now - 10 * day, now - day)))
            .unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let foreign = issue_device_certificate(elsewhere.path(), "cam-1", None).unwrap();
    let svc = service(state.path(), Duration::from_secs(3600)).await;

    let (text, permanent) = refusal(&settings(&svc, &foreign, "cam-1")).await;
    assert!(
        text.contains("does not accept the device certificate")
            && text.contains("Certificate is invalid on this endpoint"),
        "{text}"
    );
    assert!(permanent);
    let (text, permanent) = refusal(&settings(&svc, &expired, "cam-old")).await;
    assert!(
        text.contains("does not accept the device certificate"),
        "{text}"
    );
    assert!(permanent);
    let mut wrong_alias = settings(&svc, &device, "cam-1");
    wrong_alias.role_alias = "no-such-alias".into();
    let (text, permanent) = refusal(&wrong_alias).await;
    assert!(
        text.contains("role alias \"no-such-alias\" does not exist"),
        "{text}"
    );
    assert!(permanent);
    let (text, permanent) = refusal(&settings(&svc, &device, "cam-2")).await;
    assert!(text.contains("refused the thing name"), "{text}");
    assert!(permanent);
    let missing = IotProvider::new(&settings(&svc, &device, "")).unwrap_err();
    assert!(
        missing.to_string().contains("--iot-thing-name"),
        "{missing}"
    );
    assert_eq!(answered(&svc, 403), 3);
    assert_eq!(answered(&svc, 404), 1);

    // A client whose provider is refused stops with that error after one request.
    let mut options = common::options(&svc, "cam-1", ChannelRole::Master, "", "unused");
    options.credentials = Arc::new(IotProvider::new(&wrong_alias).unwrap());
    let (client, _events) = SignalingClient::<Master>::start(options).unwrap();
    let err = tokio::time::timeout(Duration::from_secs(10), client.connected())
        .await
        .expect("gives up at once")
        .unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(answered(&svc, 404), 2, "one more request, no storm");
    assert_eq!(svc.issued_keys().len(), 0);
    svc.shutdown().await;
}

/// Hands out one set of credentials, then refuses: the client keeps what it has.
#[derive(Debug)]
struct Once(Mutex<Option<Credentials>>);

impl ProvideCredentials for Once {
    fn provide_credentials<'a>(&'a self) -> ProvideFuture<'a>
    where
        Self: 'a,
    {
        ProvideFuture::ready(self.0.lock().unwrap().take().ok_or_else(|| {
            CredentialsError::provider_error("these credentials were handed out already")
        }))
    }
}

/// As the real service does, the local one checks credentials on new requests only: a
/// master and a viewer connected with IoT credentials that last 3 s keep exchanging messages
/// after they expire, while a new request signed with them is refused with
/// `ExpiredTokenException`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_websocket_outlives_the_credentials_that_signed_it() {
    let state = tempfile::tempdir().unwrap();
    let device = issue_device_certificate(state.path(), "cam-1", None).unwrap();
    let svc = service(state.path(), Duration::from_secs(3)).await;
    let provider = IotProvider::new(&settings(&svc, &device, "cam-1")).unwrap();
    let fetch = || async { provider.provide_credentials().await.unwrap() };
    let (master_creds, viewer_creds) = (fetch().await, fetch().await);
    let expiry = master_creds.expiry().unwrap();

    let mut options = common::options(&svc, "cam-1", ChannelRole::Master, "", "unused");
    options.credentials = Arc::new(Once(Mutex::new(Some(master_creds.clone()))));
    let (master, mut master_events) = SignalingClient::<Master>::start(options).unwrap();
    master.connected().await.unwrap();
    let mut options = common::options(&svc, "cam-1", ChannelRole::Viewer, "v1", "unused");
    options.credentials = Arc::new(Once(Mutex::new(Some(viewer_creds))));
    let (viewer, _viewer_events) = SignalingClient::<Viewer>::start(options).unwrap();
    viewer.connected().await.unwrap();

    let wait = expiry.duration_since(SystemTime::now()).unwrap_or_default();
    tokio::time::sleep(wait + Duration::from_secs(1)).await;
    viewer.send_offer(&ToMaster, "after expiry").await.unwrap();
    let offer = tokio::time::timeout(Duration::from_secs(10), async {
        // The events from before CONNECTED are still queued.
        let mut up = false;
        loop {
            match master_events.recv().await.expect("the session runs") {
                Event::Message(m) if m.message_type == MessageType::SdpOffer => return m,
                Event::StateChanged(kvs_client::State::Connected) => up = true,
                Event::StateChanged(s) if up => panic!("the master's connection stays up, not {s}"),
                _ => {}
            }
        }
    })
    .await
    .expect("the offer arrives over the old connection");
    assert_eq!(offer.payload, b"after expiry");
    master
        .send_answer(&ViewerId::new("v1").unwrap(), "still here")
        .await
        .unwrap();
    let arn = svc.channel_arn("cam-1").unwrap();
    assert!(svc.is_connected(&arn, None) && svc.is_connected(&arn, Some("v1")));

    // A new request signed with the expired credentials is refused.
    let body = br#"{"ChannelName":"cam-1"}"#;
    let url = format!("{}/describeSignalingChannel", svc.endpoint());
    let headers = kvs_proto::sigv4::sign_headers(
        kvs_proto::sigv4::RequestToSign {
            method: "POST",
            url: &url,
            headers: &[("content-type", "application/json")],
            body,
        },
        &master_creds,
        "us-west-2",
        SystemTime::now(),
    )
    .unwrap();
    let tls = (*svc.client_tls().unwrap()).clone();
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()
        .unwrap();
    let mut req = http
        .post(&url)
        .header("content-type", "application/json")
        .body(body.to_vec());
    for (name, value) in headers {
        req = req.header(name, value);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(
        resp.headers()["x-amzn-errortype"].to_str().unwrap(),
        "ExpiredTokenException"
    );
    master.close().await;
    viewer.close().await;
    svc.shutdown().await;
}
