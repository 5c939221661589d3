//! The IoT credentials endpoint's IO: its own listener with mutual TLS, the client
//! certificate checked against the service's CA once the handshake is done, and each
//! `GET /role-aliases/<alias>/credentials` answered by the core ([`Core::iot_request`]).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use kvs_proto::iot::THING_NAME_HEADER;
use kvs_service_core::iot::{DeviceCertificate, ISSUE_RANDOM_BYTES, IotRequest};
use tokio::net::TcpListener;
use tracing::{debug, info, warn};

use super::Shared;
use super::response::{Body, json_response};
use crate::ServiceError;
use crate::clock::lock;
use crate::tls::MutualTls;

/// Binds `addr` and serves the endpoint until the service shuts down; returns its URL.
pub(super) async fn start(
    addr: SocketAddr,
    tls: MutualTls,
    shared: Arc<Shared>,
) -> Result<String, ServiceError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServiceError::Bind { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| ServiceError::Bind { addr, source })?;
    let tracker = shared.tasks.clone();
    tracker.spawn(accept_loop(listener, tls, shared));
    Ok(format!("https://{local}"))
}

async fn accept_loop(listener: TcpListener, tls: MutualTls, shared: Arc<Shared>) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls.server_config.clone());
    let mut shutdown = shared.shutdown.clone();
    loop {
        let (tcp, peer) = tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    warn!(error = %e, "IoT endpoint: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Answers are one small write: without this, Nagle and delayed ACKs add ~40 ms.
        let _ = tcp.set_nodelay(true);
        let (shared, acceptor, tls) = (shared.clone(), acceptor.clone(), tls.clone());
        shared.tasks.clone().spawn(async move {
            let handshake =
                tokio::time::timeout(shared.config.handshake_timeout, acceptor.accept(tcp)).await;
            let stream = match handshake {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    return info!(%peer, error = %e, "IoT endpoint: TLS handshake failed (a client without a certificate?)");
                }
                Err(_) => return debug!(%peer, "IoT endpoint: TLS handshake timed out"),
            };
            let chain = stream.get_ref().1.peer_certificates().unwrap_or_default();
            let thing = match tls.check(chain, shared.now()) {
                Ok(thing) => Some(thing),
                Err(why) => {
                    info!(%peer, cause = %why, "IoT endpoint: device certificate not accepted");
                    None
                }
            };
            serve(stream, thing, shared).await;
        });
    }
}

async fn serve<S>(io: S, thing: Option<String>, shared: Arc<Shared>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let thing = Arc::new(thing);
    let timeout = shared.config.handshake_timeout;
    let mut shutdown = shared.shutdown.clone();
    let service = hyper::service::service_fn(move |req| {
        let (shared, thing) = (shared.clone(), thing.clone());
        async move { Ok::<_, Infallible>(answer(&shared, thing.as_deref(), &req)) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(timeout)
        .max_buf_size(super::http::MAX_HEADER_BYTES)
        .serve_connection(TokioIo::new(io), service);
    // Answers are immediate, so a connection still open at shutdown is idle: drop it.
    tokio::select! {
        result = conn => if let Err(e) = result {
            debug!(error = %e, "IoT endpoint: connection ended with an error");
        },
        _ = shutdown.changed() => {}
    }
}

fn answer(shared: &Shared, thing: Option<&str>, req: &Request<Incoming>) -> Response<Body> {
    let certificate = match thing {
        Some(thing_name) => DeviceCertificate::Valid { thing_name },
        None => DeviceCertificate::Invalid,
    };
    let asked = req
        .headers()
        .get(THING_NAME_HEADER)
        .map(|v| v.to_str().unwrap_or("\u{fffd}"));
    let request = IotRequest {
        method: req.method().as_str(),
        path: req.uri().path(),
        thing_name: asked,
        certificate,
    };
    let random: [u8; ISSUE_RANDOM_BYTES] = rand::random();
    let now = std::time::SystemTime::now();
    let (answer, service_now) = {
        let mut core = lock(&shared.core);
        (
            core.iot_request(request, now, &random),
            core.service_time(now),
        )
    };
    shared.observe.count(
        "kvs_iot_credential_requests_total",
        format!(r#"status="{}""#, answer.status),
    );
    match &answer.issued {
        Some(access_key_id) => info!(
            %access_key_id,
            thing = asked.unwrap_or("-"),
            path = request.path,
            "IoT endpoint: temporary credentials issued"
        ),
        None => info!(
            status = answer.status,
            thing = asked.unwrap_or("-"),
            path = request.path,
            "IoT endpoint: request refused"
        ),
    }
    let mut resp = json_response(answer.status, answer.body);
    let headers = resp.headers_mut();
    if let Some(kind) = answer.error_type {
        headers.insert("x-amzn-errortype", HeaderValue::from_static(kind));
    }
    if let Ok(date) = HeaderValue::from_str(&httpdate::fmt_http_date(service_now)) {
        headers.insert(header::DATE, date);
    }
    resp
}
