//! `kvs-signaling master|viewer`: events out as JSON lines on stdout, messages in as JSON
//! lines on stdin.

use kvs_client::{ClientOptions, Peer, Role, SignalingClient};
use kvs_proto::client::{Event, OutgoingMessage};
use kvs_proto::wire::Action;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

/// One stdin line: a message to send.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SendLine {
    action: String,
    recipient_client_id: Option<String>,
    correlation_id: Option<String>,
    payload: Box<RawValue>,
}

/// Parses a stdin line into a message; the error says what is wrong with it.
pub fn parse_line(line: &str) -> Result<OutgoingMessage, String> {
    let parsed: SendLine =
        serde_json::from_str(line).map_err(|e| format!("unreadable stdin line: {e}"))?;
    let action = Action::from_wire(&parsed.action).ok_or_else(|| {
        format!(
            "unknown action '{}'; use SDP_OFFER, SDP_ANSWER or ICE_CANDIDATE",
            parsed.action
        )
    })?;
    // Forward the payload's own bytes, so key order and spacing survive; a JSON string is
    // sent as its text (for payloads that are not JSON).
    let raw = parsed.payload.get();
    let payload = match serde_json::from_str::<String>(raw) {
        Ok(text) => text.into_bytes(),
        Err(_) => raw.as_bytes().to_vec(),
    };
    Ok(OutgoingMessage {
        action,
        recipient_client_id: parsed.recipient_client_id.filter(|r| !r.is_empty()),
        correlation_id: parsed.correlation_id,
        payload,
    })
}

/// The JSON line for an event, if it has one.
pub fn event_line(event: &Event) -> Option<Value> {
    Some(match event {
        Event::StateChanged(state) => json!({"event": "state", "state": state.as_str()}),
        Event::Message(m) => {
            let payload = serde_json::from_slice::<Value>(&m.payload).unwrap_or_else(|_| {
                Value::String(String::from_utf8_lossy(&m.payload).into_owned())
            });
            json!({
                "event": "message",
                "type": m.message_type.as_str(),
                "senderClientId": m.sender_client_id,
                "correlationId": null,
                "payload": payload,
            })
        }
        Event::StatusResponse(s) => json!({
            "event": "status",
            "correlationId": s.correlation_id,
            "errorType": s.error_type,
            "statusCode": s.status_code,
            "description": s.description,
        }),
        Event::IceServers(servers) => json!({"event": "iceServers", "iceServers": servers}),
        Event::GoAway => json!({"event": "goAway"}),
        Event::CredentialsRefreshed { expiry } => json!({
            "event": "credentialsRefreshed",
            "expiresAt": expiry
                .and_then(|e| e.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_secs()),
        }),
        Event::ReconnectIceServer => json!({"event": "reconnectIceServer"}),
        Event::Error(e) => json!({"event": "error", "message": e.to_string()}),
        Event::Retrying {
            attempt,
            delay,
            cause,
        } => json!({
            "event": "retry",
            "attempt": attempt,
            "delayMs": delay.as_millis() as u64,
            "cause": cause.to_string(),
        }),
        Event::Closed(Some(e)) => json!({"event": "error", "message": e.to_string()}),
        Event::Closed(None) => return None,
        _ => return None,
    })
}

/// Writes one JSON line; fails when stdout is gone (the reader hung up).
pub fn emit(value: Value) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{value}")?;
    out.flush()
}

/// Runs the pipe; with `print_metrics`, the session's metrics are the last line.
pub async fn run<R: Role>(options: ClientOptions, print_metrics: bool) -> anyhow::Result<()> {
    let (client, events) = SignalingClient::<R>::start(options)?;
    let result = pump(&client, events).await;
    if print_metrics {
        let metrics = client.metrics().await;
        let _ = emit(json!({"event": "metrics", "metrics": metrics}));
    }
    result
}

async fn pump<R: Role>(
    client: &SignalingClient<R>,
    mut events: kvs_client::Events,
) -> anyhow::Result<()> {
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    let mut stdin_open = true;
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(event) => {
                    if let Some(line) = event_line(&event)
                        && emit(line).is_err()
                    {
                        client.close().await;
                        return Ok(()); // nobody is reading our output any more
                    }
                    if let Event::Closed(err) = event {
                        return match err {
                            None => Ok(()),
                            Some(e) => Err(anyhow::anyhow!("signaling ended: {e}")),
                        };
                    }
                }
                None => return Ok(()),
            },
            line = stdin.next_line(), if stdin_open => match line {
                Ok(Some(line)) if line.trim().is_empty() => {}
                Ok(Some(line)) => {
                    let result = match parse_line(&line) {
                        Ok(message) => send(client, message).await,
                        Err(e) => Err(e),
                    };
                    if let Err(message) = result
                        && emit(json!({"event": "error", "message": message})).is_err()
                    {
                        client.close().await;
                        return Ok(());
                    }
                }
                Ok(None) | Err(_) => {
                    stdin_open = false;
                    client.close().await;
                }
            },
        }
    }
}

/// Sends a stdin line's message, addressed as the role allows.
async fn send<R: Role>(
    client: &SignalingClient<R>,
    message: OutgoingMessage,
) -> Result<(), String> {
    let to = R::Peer::from_recipient(message.recipient_client_id.as_deref())
        .map_err(|e| e.to_string())?;
    let correlation_id = message.correlation_id.as_deref();
    client
        .send_message(&to, message.action, message.payload, correlation_id)
        .await
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kvs_proto::client::{ReceivedMessage, State};
    use kvs_proto::wire::MessageType;

    #[test]
    fn stdin_lines_become_messages() {
        let m = parse_line(r#"{"action":"SDP_ANSWER","recipientClientId":"v1","correlationId":"c2","payload":{"type":"answer","sdp":"v=0"}}"#).unwrap();
        assert_eq!(m.action, Action::SdpAnswer);
        assert_eq!(m.recipient_client_id.as_deref(), Some("v1"));
        assert_eq!(m.correlation_id.as_deref(), Some("c2"));
        assert_eq!(m.payload, br#"{"type":"answer","sdp":"v=0"}"#);
        assert!(parse_line("{").unwrap_err().contains("unreadable"));
        assert!(
            parse_line(r#"{"action":"HELLO","payload":{}}"#)
                .unwrap_err()
                .contains("unknown action")
        );
        assert!(
            parse_line(r#"{"action":"SDP_OFFER"}"#).is_err(),
            "payload is required"
        );
    }

    #[test]
    fn events_have_the_documented_shape() {
        assert_eq!(
            event_line(&Event::StateChanged(State::Connected))
                .unwrap()
                .to_string(),
            r#"{"event":"state","state":"CONNECTED"}"#
        );
        let m = Event::Message(ReceivedMessage {
            message_type: MessageType::SdpOffer,
            sender_client_id: Some("v1".into()),
            payload: br#"{"type":"offer"}"#.to_vec(),
        });
        assert_eq!(
            event_line(&m).unwrap(),
            json!({"event":"message","type":"SDP_OFFER","senderClientId":"v1","correlationId":null,"payload":{"type":"offer"}})
        );
    }
}
