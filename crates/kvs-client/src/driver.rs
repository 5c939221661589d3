//! The one task that runs a session: it feeds the sans-IO core with what the network and the
//! credential provider report, and carries out what the core asks for.

use std::sync::Arc;
use std::time::SystemTime;
use tracing::instrument::WithSubscriber;

use futures_util::{SinkExt, StreamExt};
use kvs_proto::Credentials;
use kvs_proto::client::{
    Client, Event, HttpRequest, HttpResponse, Input, Metrics, Output, PreparedMessage, RequestId,
    SendError, State,
};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};
use tracing::{debug, info, warn};

use crate::credentials::ProvideCredentials;
use crate::transport::HttpClient;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Requests from the handle.
pub(crate) enum Command {
    /// A message, and where to report the outcome (the fast path when connected has none).
    Send(
        PreparedMessage,
        Option<oneshot::Sender<Result<(), SendError>>>,
    ),
    Fetch,
    Connect,
    Disconnect,
    Close,
    Delete,
    Metrics(oneshot::Sender<Metrics>),
}

/// What the handles can read without asking the driver.
#[derive(Debug, Clone)]
pub(crate) struct Status {
    pub state: State,
    pub channel_arn: Option<String>,
    /// `Some` once the session ended: with the error that ended it, or `None` after `close`.
    pub ended: Option<Option<kvs_proto::client::Error>>,
}

/// What the driver keeps of an HTTP answer.
struct HttpAnswer {
    status: u16,
    error_type: Option<String>,
    date: Option<String>,
    body: Vec<u8>,
}

/// Results of work the driver started in the background.
enum Done {
    Credentials(Result<Credentials, String>),
    Http(RequestId, Result<HttpAnswer, String>),
    WsOpened(Box<Ws>),
    WsFailed {
        status: Option<u16>,
        error_type: Option<String>,
        message: String,
    },
}

pub(crate) struct Driver {
    pub client: Client,
    pub credentials: Arc<dyn ProvideCredentials>,
    pub http: HttpClient,
    pub commands: mpsc::Receiver<Command>,
    pub events: mpsc::Sender<Event>,
    pub status: watch::Sender<Status>,
    /// Where the final metrics go when the session ends.
    pub final_metrics: std::sync::Arc<std::sync::Mutex<Option<Metrics>>>,
    /// The latest ICE servers, readable without asking the driver.
    pub ice_servers: watch::Sender<Vec<kvs_proto::api::IceServer>>,
    /// The endpoint cache file and this session's key in it.
    pub cache: Option<(std::path::PathBuf, String)>,
}

fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

impl Driver {
    pub(crate) fn wall_now() -> SystemTime {
        SystemTime::now()
    }

    pub(crate) async fn run(mut self) {
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
        let mut ws: Option<Ws> = None;
        let mut connecting: Option<JoinHandle<()>> = None;
        let mut http_task: Option<JoinHandle<()>> = None;
        let mut commands_open = true;
        loop {
            while let Some(output) = self.client.poll_output() {
                match output {
                    Output::FetchCredentials => {
                        let provider = self.credentials.clone();
                        let tx = done_tx.clone();
                        let limit = self.client.config().call_timeout;
                        tokio::spawn(async move {
                            let result = match tokio::time::timeout(
                                limit,
                                provider.provide_credentials(),
                            )
                            .await
                            {
                                Ok(result) => result.map_err(|e| crate::error_chain(&e)),
                                Err(_) => Err(format!(
                                    "the credentials provider {provider:?} gave no answer within {} s",
                                    limit.as_secs()
                                )),
                            };
                            let _ = tx.send(Done::Credentials(result));
                        });
                    }
                    Output::Http(request) => {
                        // The core has one call in flight; an earlier one's answer is stale.
                        if let Some(task) =
                            http_task.replace(self.spawn_http(request, done_tx.clone()))
                        {
                            task.abort();
                        }
                    }
                    Output::WsConnect(url) => {
                        connecting =
                            Some(self.spawn_ws_connect(url.into_string(), done_tx.clone()));
                    }
                    Output::WsSend(frame) => {
                        let message = Message::text(frame.as_str());
                        if let Err(reason) =
                            write(&mut ws, message, self.client.config().write_timeout).await
                        {
                            self.client
                                .handle_input(now(), Input::WsSendFailed { frame, reason });
                        }
                    }
                    Output::WsPing => {
                        let ping = Message::Ping(Default::default());
                        if let Err(reason) =
                            write(&mut ws, ping, self.client.config().write_timeout).await
                        {
                            self.client.handle_input(now(), Input::WsClosed(reason));
                        }
                    }
                    Output::WsClose => {
                        if let Some(task) = connecting.take() {
                            task.abort();
                        }
                        if let Some(socket) = ws.take() {
                            close_in_background(socket, self.client.config().write_timeout);
                        }
                    }
                    Output::Event(event) => {
                        match &event {
                            Event::StateChanged(state) => {
                                info!(state = %state, "signaling state");
                                self.status.send_modify(|s| s.state = *state);
                            }
                            Event::EndpointsResolved(entry) => {
                                self.status.send_modify(|s| {
                                    s.channel_arn = Some(entry.channel_arn.clone())
                                });
                                if let Some((path, key)) = &self.cache {
                                    store_cache_entry(path.clone(), key.clone(), entry.clone());
                                }
                            }
                            Event::IceServers(servers) => {
                                self.ice_servers.send_replace(servers.clone());
                            }
                            Event::Closed(err) => {
                                self.status.send_modify(|s| s.ended = Some(err.clone()))
                            }
                            _ => {}
                        }
                        // Waits while the application is not reading: the WebSocket is not
                        // read meanwhile either (back-pressure), and nothing is dropped.
                        let _ = self.events.send(event).await;
                    }
                }
            }
            if self.client.is_closed() {
                break;
            }
            let deadline = self
                .client
                .poll_timeout()
                .map(tokio::time::Instant::from_std);
            tokio::select! {
                command = self.commands.recv(), if commands_open => match command {
                    Some(Command::Send(message, reply)) => {
                        let result = self.client.send_prepared(now(), message);
                        match (reply, result) {
                            (Some(reply), result) => {
                                let _ = reply.send(result);
                            }
                            (None, Err(e)) => {
                                let _ = self.events.send(Event::Error(kvs_proto::client::Error::NotSent(e))).await;
                            }
                            (None, Ok(())) => {}
                        }
                    }
                    Some(Command::Fetch) => self.client.fetch(now()),
                    Some(Command::Connect) => self.client.connect(now()),
                    Some(Command::Disconnect) => self.client.disconnect(now()),
                    Some(Command::Close) => self.client.close(),
                    Some(Command::Delete) => self.client.delete_channel(now()),
                    Some(Command::Metrics(reply)) => {
                        let _ = reply.send(self.client.metrics(now()));
                    }
                    None => {
                        commands_open = false;
                        self.client.close();
                    }
                },
                Some(done) = done_rx.recv() => self.feed(done, &mut ws),
                frame = next_frame(&mut ws) => {
                    match frame {
                        Some(Ok(Message::Text(text))) => self.client.handle_input(now(), Input::WsText(text.as_str())),
                        Some(Ok(Message::Close(close))) => {
                            ws = None;
                            let reason = close.map(|c| format!("code {} {}", u16::from(c.code), c.reason)).unwrap_or_else(|| "no close frame".into());
                            self.client.handle_input(now(), Input::WsClosed(reason));
                        }
                        Some(Ok(Message::Binary(_))) => warn!("ignored a binary WebSocket frame"),
                        Some(Ok(Message::Pong(_))) => self.client.handle_input(now(), Input::WsPong),
                        Some(Ok(_)) => {}
                        Some(Err(e)) => {
                            ws = None;
                            self.client.handle_input(now(), Input::WsClosed(e.to_string()));
                        }
                        None => {
                            ws = None;
                            self.client.handle_input(now(), Input::WsClosed("connection ended".into()));
                        }
                    }
                }
                _ = sleep_until(deadline) => self.client.handle_input(now(), Input::Timeout),
            }
        }
        *self.final_metrics.lock().expect("metrics lock") = Some(self.client.metrics(now()));
        self.status.send_modify(|s| {
            s.ended.get_or_insert(None);
        });
        for task in [connecting, http_task].into_iter().flatten() {
            task.abort();
        }
        if let Some(mut socket) = ws {
            let _ =
                tokio::time::timeout(self.client.config().write_timeout, socket.close(None)).await;
        }
        debug!("signaling driver stopped");
    }

    fn feed(&mut self, done: Done, ws: &mut Option<Ws>) {
        let now = now();
        match done {
            Done::Credentials(result) => self.client.handle_input(now, Input::Credentials(result)),
            Done::Http(id, Ok(answer)) => {
                let response = HttpResponse {
                    status: answer.status,
                    error_type: answer.error_type.as_deref(),
                    date: answer.date.as_deref(),
                    body: &answer.body,
                };
                self.client
                    .handle_input(now, Input::HttpResponse(id, response));
            }
            Done::Http(id, Err(message)) => self
                .client
                .handle_input(now, Input::HttpFailed(id, message)),
            Done::WsOpened(socket) => {
                if self.client.expects_socket() {
                    // Make before break: the old socket (after GO_AWAY or a proactive
                    // reconnect) closes only once the new one is open.
                    if let Some(old) = ws.replace(*socket) {
                        close_in_background(old, self.client.config().write_timeout);
                    }
                } else {
                    close_in_background(*socket, self.client.config().write_timeout);
                }
                self.client.handle_input(now, Input::WsOpened);
            }
            Done::WsFailed {
                status,
                error_type,
                message,
            } => self.client.handle_input(
                now,
                Input::WsConnectFailed {
                    status,
                    error_type: error_type.as_deref(),
                    message,
                },
            ),
        }
    }

    fn spawn_http(&self, request: HttpRequest, tx: mpsc::UnboundedSender<Done>) -> JoinHandle<()> {
        let http = self.http.inner.clone();
        let limit = self.client.config().call_timeout;
        tokio::spawn(async move {
            let HttpRequest {
                id,
                operation,
                url,
                headers,
                body,
            } = request;
            debug!(?operation, %url, "API call");
            let mut builder = http.post(&url).body(body).timeout(limit);
            for (name, value) in &headers {
                builder = builder.header(name, value);
            }
            let result = async {
                let response = builder.send().await.map_err(|e| crate::error_chain(&e))?;
                let status = response.status().as_u16();
                let error_type = error_type(response.headers());
                let date = response
                    .headers()
                    .get("date")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let body = read_capped(response).await?;
                Ok(HttpAnswer {
                    status,
                    error_type,
                    date,
                    body,
                })
            }
            .await;
            let _ = tx.send(Done::Http(id, result));
        })
    }

    fn spawn_ws_connect(&self, url: String, tx: mpsc::UnboundedSender<Done>) -> JoinHandle<()> {
        let connector = Connector::Rustls(self.http.tls.clone());
        tokio::spawn(async move {
            // tungstenite logs the handshake request at TRACE, and the URL is presigned: a
            // session token sits in its query. The handshake runs with no subscriber at all,
            // so that no log filter (RUST_LOG=trace included) can let the token out.
            let connect = tokio_tungstenite::connect_async_tls_with_config(
                url,
                Some(ws_config()),
                true,
                Some(connector),
            )
            .with_subscriber(tracing::subscriber::NoSubscriber::default());
            let done = match connect.await {
                Ok((socket, _)) => Done::WsOpened(Box::new(socket)),
                Err(tungstenite::Error::Http(response)) => {
                    let status = response.status().as_u16();
                    let error_type = error_type(response.headers());
                    let body = response.body().as_deref().unwrap_or_default();
                    Done::WsFailed {
                        status: Some(status),
                        error_type,
                        message: String::from_utf8_lossy(body).into_owned(),
                    }
                }
                Err(e) => Done::WsFailed {
                    status: None,
                    error_type: None,
                    message: crate::error_chain(&e),
                },
            };
            let _ = tx.send(done);
        })
    }
}

/// The largest WebSocket message or frame the client takes in. The service relays payloads of
/// at most 10,000 bytes (about 13.4 KB once base64-encoded, plus the envelope), so a larger
/// frame is not a signaling message: the connection is dropped as lost and reconnected, rather
/// than buffering up to tungstenite's default 64 MiB.
pub const MAX_WS_MESSAGE: usize = 256 * 1024;

/// The client's WebSocket read buffer. A signaling frame is a few KB; tungstenite's default
/// 128 KiB buffer is zeroed on every read and held for the connection's life.
pub const WS_READ_BUFFER: usize = 4 * 1024;

/// The client's WebSocket settings: the read buffer and message cap above, and no write
/// batching (every frame is flushed when written).
fn ws_config() -> WebSocketConfig {
    let mut config = WebSocketConfig::default();
    config.read_buffer_size = WS_READ_BUFFER;
    config.write_buffer_size = 0;
    config.max_message_size = Some(MAX_WS_MESSAGE);
    config.max_frame_size = Some(MAX_WS_MESSAGE);
    config
}

/// The largest API answer read; the service's are a few KiB (a full page of
/// ListSignalingChannels is far below this).
const MAX_RESPONSE_BODY: usize = 1 << 20;

/// Reads an answer's body, refusing one larger than [`MAX_RESPONSE_BODY`] without buffering it.
async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| crate::error_chain(&e))? {
        if body.len() + chunk.len() > MAX_RESPONSE_BODY {
            return Err(format!(
                "the answer is larger than {MAX_RESPONSE_BODY} bytes; is the endpoint URL a KVS endpoint?"
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Writes one frame within `limit`. A write that fails or does not finish in time (the peer
/// stopped reading) loses the socket; the reason is returned.
async fn write(
    ws: &mut Option<Ws>,
    message: Message,
    limit: std::time::Duration,
) -> Result<(), String> {
    let Some(socket) = ws.as_mut() else {
        return Err(tungstenite::Error::AlreadyClosed.to_string());
    };
    let mut send = std::pin::pin!(socket.send(message));
    // Most writes complete at once; only one that has to wait gets a timer.
    let result = match futures_util::poll!(send.as_mut()) {
        std::task::Poll::Ready(result) => Ok(result),
        std::task::Poll::Pending => tokio::time::timeout(limit, send).await,
    };
    let reason = match result {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!(
            "a write took longer than {} s: the service stopped reading",
            limit.as_secs()
        ),
    };
    *ws = None;
    Err(reason)
}

/// Closes a socket the session no longer uses without holding up the driver.
fn close_in_background(mut socket: Ws, limit: std::time::Duration) {
    tokio::spawn(async move {
        let _ = tokio::time::timeout(limit, socket.close(None)).await;
    });
}

/// The AWS exception name of an error answer.
fn error_type(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Writes one entry into the endpoint cache file, off the driver's task.
fn store_cache_entry(
    path: std::path::PathBuf,
    key: String,
    entry: kvs_proto::client::CachedEndpoints,
) {
    tokio::task::spawn_blocking(move || {
        let mut file = std::fs::read(&path)
            .map(|b| kvs_proto::client::EndpointCacheFile::parse(&b))
            .unwrap_or_default();
        file.entries.insert(key, entry);
        if let Err(e) = std::fs::write(&path, file.to_json()) {
            warn!(path = %path.display(), error = %e, "cannot write the endpoint cache");
        }
    });
}

async fn next_frame(ws: &mut Option<Ws>) -> Option<Result<Message, tungstenite::Error>> {
    match ws {
        Some(socket) => socket.next().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
