//! The JSON frames of the KVS signaling WebSocket, in both directions.
//!
//! Keys are matched case-insensitively and an empty string counts as absent, because the
//! official clients disagree: the JS SDK sends `recipientClientId`, the C SDK sends
//! `RecipientClientId` (empty for viewers). We always emit the camelCase form.

#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::string_slice
    )
)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Serialize;
use serde_json::{Map, Value};

/// The service's limit on `messagePayload`, in base64 characters.
pub const MAX_PAYLOAD_LEN: usize = 10_000;

/// The longest client id or correlation id the service accepts.
pub const MAX_ID_LEN: usize = 256;

/// What a client asks the service to deliver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Action {
    /// An SDP offer (viewer to master, usually).
    SdpOffer,
    /// An SDP answer.
    SdpAnswer,
    /// A trickled ICE candidate.
    IceCandidate,
}

impl Action {
    /// The wire name, e.g. `SDP_OFFER`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SdpOffer => "SDP_OFFER",
            Self::SdpAnswer => "SDP_ANSWER",
            Self::IceCandidate => "ICE_CANDIDATE",
        }
    }

    /// Parses the exact wire name.
    pub fn from_wire(s: &str) -> Option<Self> {
        match s {
            "SDP_OFFER" => Some(Self::SdpOffer),
            "SDP_ANSWER" => Some(Self::SdpAnswer),
            "ICE_CANDIDATE" => Some(Self::IceCandidate),
            _ => None,
        }
    }

    /// The event type the recipient sees for this action.
    pub fn message_type(self) -> MessageType {
        match self {
            Self::SdpOffer => MessageType::SdpOffer,
            Self::SdpAnswer => MessageType::SdpAnswer,
            Self::IceCandidate => MessageType::IceCandidate,
        }
    }
}

/// The kinds of frame the service sends to clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MessageType {
    /// An SDP offer from a peer.
    SdpOffer,
    /// An SDP answer from a peer.
    SdpAnswer,
    /// An ICE candidate from a peer.
    IceCandidate,
    /// The service will close this connection soon; reconnect.
    GoAway,
    /// The TURN servers changed; fetch the ICE configuration again.
    ReconnectIceServer,
    /// A message this client sent (with a correlation id) could not be delivered.
    StatusResponse,
}

impl MessageType {
    /// The wire name, e.g. `GO_AWAY`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SdpOffer => "SDP_OFFER",
            Self::SdpAnswer => "SDP_ANSWER",
            Self::IceCandidate => "ICE_CANDIDATE",
            Self::GoAway => "GO_AWAY",
            Self::ReconnectIceServer => "RECONNECT_ICE_SERVER",
            Self::StatusResponse => "STATUS_RESPONSE",
        }
    }

    /// Parses the exact wire name (no prefix matching, unlike the C SDK).
    pub fn from_wire(s: &str) -> Option<Self> {
        [
            Self::SdpOffer,
            Self::SdpAnswer,
            Self::IceCandidate,
            Self::GoAway,
            Self::ReconnectIceServer,
            Self::StatusResponse,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

/// Why a frame was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// Not JSON at all.
    #[error("message is not valid JSON: {0}")]
    InvalidJson(String),
    /// JSON, but not an object.
    #[error("message must be a JSON object")]
    NotAnObject,
    /// A required key is missing or empty.
    #[error("message has no '{0}'")]
    Missing(&'static str),
    /// A key holds something other than a string (or an object for `statusResponse`).
    #[error("'{0}' must be a string")]
    WrongType(&'static str),
    /// The `action` is not SDP_OFFER, SDP_ANSWER or ICE_CANDIDATE.
    #[error("unknown action '{0}'; expected SDP_OFFER, SDP_ANSWER or ICE_CANDIDATE")]
    UnknownAction(String),
    /// The `messageType` is not one KVS defines.
    #[error("unknown messageType '{0}'")]
    UnknownMessageType(String),
    /// The base64 payload exceeds the service's limit.
    #[error("messagePayload is {len} bytes of base64, {} over the {MAX_PAYLOAD_LEN}-byte limit", len.saturating_sub(MAX_PAYLOAD_LEN))]
    PayloadTooLarge {
        /// The payload's length in base64 characters.
        len: usize,
    },
    /// The payload is not standard padded base64.
    #[error("messagePayload is not valid base64")]
    InvalidBase64,
    /// A client id or correlation id breaks `[a-zA-Z0-9_.-]{1,256}`.
    #[error("{field} '{value}' must match [a-zA-Z0-9_.-]{{1,256}}")]
    InvalidId {
        /// Which field.
        field: &'static str,
        /// The offending value (truncated).
        value: String,
    },
}

/// True for ids the service accepts as client ids and correlation ids.
pub fn is_valid_id(s: &str) -> bool {
    (1..=MAX_ID_LEN).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn check_id(field: &'static str, value: Option<String>) -> Result<Option<String>, FrameError> {
    match value {
        Some(v) if !is_valid_id(&v) => Err(FrameError::InvalidId {
            field,
            value: v.chars().take(64).collect(),
        }),
        other => Ok(other),
    }
}

/// Base64-encodes a payload (usually the JSON of an SDP or a candidate).
pub fn encode_payload(payload: &[u8]) -> String {
    BASE64.encode(payload)
}

/// Decodes a base64 payload.
pub fn decode_payload(b64: &str) -> Result<Vec<u8>, FrameError> {
    BASE64.decode(b64).map_err(|_| FrameError::InvalidBase64)
}

/// Checks a base64 payload against the service's size limit.
pub fn check_payload_len(b64: &str) -> Result<(), FrameError> {
    match b64.len() {
        0 => Err(FrameError::Missing("messagePayload")),
        len if len > MAX_PAYLOAD_LEN => Err(FrameError::PayloadTooLarge { len }),
        _ => Ok(()),
    }
}

/// A JSON object whose keys are looked up without regard to case.
struct Fields(Map<String, Value>);

impl Fields {
    fn parse(text: &str) -> Result<Self, FrameError> {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Ok(Self(map)),
            Ok(_) => Err(FrameError::NotAnObject),
            Err(e) => Err(FrameError::InvalidJson(e.to_string())),
        }
    }

    fn get(&self, key: &'static str) -> Option<&Value> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    }

    /// A string member; `""` and `null` count as absent.
    fn string(&self, key: &'static str) -> Result<Option<String>, FrameError> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(FrameError::WrongType(key)),
        }
    }

    fn required(&self, key: &'static str) -> Result<String, FrameError> {
        self.string(key)?.ok_or(FrameError::Missing(key))
    }
}

/// Finds `"correlationId": "<id>"` (key in any case) in text that is not valid JSON.
fn scan_correlation_id(text: &str) -> Option<String> {
    const KEY: &str = "\"correlationid\"";
    // ASCII lower-casing keeps every byte offset, so positions in `lower` are positions in
    // `text`, and the ASCII key ends on a character boundary.
    let lower = text.to_ascii_lowercase();
    let mut from = 0usize;
    while let Some(pos) = lower.get(from..).and_then(|l| l.find(KEY)) {
        from = from.checked_add(pos)?.checked_add(KEY.len())?;
        let rest = text.get(from..)?.trim_start();
        let Some(rest) = rest.strip_prefix(':') else {
            continue;
        };
        let Some(rest) = rest.trim_start().strip_prefix('"') else {
            continue;
        };
        let id = rest.get(..rest.find('"')?)?;
        if is_valid_id(id) {
            return Some(id.to_owned());
        }
    }
    None
}

/// A frame a client sends: deliver `message_payload` to a peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientFrame {
    /// What kind of message this is.
    pub action: Action,
    /// The viewer a master addresses; ignored by the service for viewers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient_client_id: Option<String>,
    /// Base64 of the message body; opaque to the service.
    pub message_payload: String,
    /// Echoed in a STATUS_RESPONSE if delivery fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
}

impl ClientFrame {
    /// Parses and validates a client frame (keys in any case, `""` as absent).
    pub fn parse(text: &str) -> Result<Self, FrameError> {
        let f = Fields::parse(text)?;
        let action = f.required("action")?;
        let frame = Self {
            action: Action::from_wire(&action).ok_or(FrameError::UnknownAction(action))?,
            recipient_client_id: check_id("recipientClientId", f.string("recipientClientId")?)?,
            message_payload: f.string("messagePayload")?.unwrap_or_default(),
            correlation_id: check_id("correlationId", f.string("correlationId")?)?,
        };
        check_payload_len(&frame.message_payload)?;
        // The payload is opaque, but it must be base64 for the recipient to decode it.
        decode_payload(&frame.message_payload)?;
        Ok(frame)
    }

    /// Reads just the correlation id of a frame that may be otherwise invalid, so the
    /// service can still address a STATUS_RESPONSE to it.
    pub fn salvage_correlation_id(text: &str) -> Option<String> {
        match Fields::parse(text) {
            Ok(f) => check_id("correlationId", f.string("correlationId").ok()?)
                .ok()
                .flatten(),
            Err(_) => scan_correlation_id(text),
        }
    }

    /// The camelCase JSON the JS SDK sends.
    // Allowed: a struct of strings and unit enums always serialises.
    #[allow(clippy::expect_used)]
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("plain strings always serialise")
    }
}

/// The delivery report of a failed message.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusResponse {
    /// The correlation id of the message that failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// The AWS exception name, e.g. `InvalidArgumentException`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    /// The HTTP-like status code, as a string (`"400"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<String>,
    /// A human-readable reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl StatusResponse {
    fn parse(value: &Value) -> Result<Self, FrameError> {
        let Value::Object(map) = value else {
            return Err(FrameError::WrongType("statusResponse"));
        };
        let f = Fields(map.clone());
        let any = |key: &'static str| -> Option<String> {
            match f.get(key)? {
                Value::String(s) if !s.is_empty() => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            }
        };
        Ok(Self {
            correlation_id: any("correlationId"),
            error_type: any("errorType"),
            status_code: any("statusCode"),
            description: any("description"),
        })
    }
}

/// A frame the service sends to a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceFrame {
    /// The viewer that sent it; absent on messages from the master.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender_client_id: Option<String>,
    /// What kind of frame this is.
    pub message_type: MessageType,
    /// Base64 of the message body, for peer messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_payload: Option<String>,
    /// The failure report, for STATUS_RESPONSE.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_response: Option<StatusResponse>,
}

impl ServiceFrame {
    /// Parses a service frame (keys in any case, `""` as absent).
    pub fn parse(text: &str) -> Result<Self, FrameError> {
        let f = Fields::parse(text)?;
        let kind = f.required("messageType")?;
        let message_type =
            MessageType::from_wire(&kind).ok_or(FrameError::UnknownMessageType(kind))?;
        let status_response = match f.get("statusResponse") {
            None | Some(Value::Null) => None,
            Some(v) => Some(StatusResponse::parse(v)?),
        };
        let frame = Self {
            sender_client_id: f.string("senderClientId")?,
            message_type,
            message_payload: f.string("messagePayload")?,
            status_response,
        };
        if matches!(
            message_type,
            MessageType::SdpOffer | MessageType::SdpAnswer | MessageType::IceCandidate
        ) && frame.message_payload.is_none()
        {
            return Err(FrameError::Missing("messagePayload"));
        }
        Ok(frame)
    }

    /// The JSON the service sends.
    // Allowed: a struct of strings and unit enums always serialises.
    #[allow(clippy::expect_used)]
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("plain strings always serialise")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const JS_OFFER: &str = r#"{"action":"SDP_OFFER","messagePayload":"eyJzZHAiOiJvZmZlcj0gdHJ1ZVxudmlkZW89IHRydWUiLCJ0eXBlIjoib2ZmZXIifQ=="}"#;

    #[test]
    fn parses_the_js_sdk_fixture() {
        let f = ClientFrame::parse(JS_OFFER).unwrap();
        assert_eq!(f.action, Action::SdpOffer);
        assert_eq!(f.recipient_client_id, None);
        let body = decode_payload(&f.message_payload).unwrap();
        assert_eq!(
            body,
            br#"{"sdp":"offer= true\nvideo= true","type":"offer"}"#
        );
        assert_eq!(f.to_json(), JS_OFFER);
    }

    #[test]
    fn parses_c_sdk_pascal_case_with_empty_recipient() {
        let text = r#"{"action": "ICE_CANDIDATE", "RecipientClientId": "", "MessagePayload": "e30=", "CorrelationId": "c-1"}"#;
        let f = ClientFrame::parse(text).unwrap();
        assert_eq!(f.action, Action::IceCandidate);
        assert_eq!(f.recipient_client_id, None);
        assert_eq!(f.message_payload, "e30=");
        assert_eq!(f.correlation_id.as_deref(), Some("c-1"));
    }

    #[test]
    fn service_frames_round_trip_and_omit_absent_keys() {
        let frame = ServiceFrame {
            sender_client_id: None,
            message_type: MessageType::IceCandidate,
            message_payload: Some("eyJjYW4=".into()),
            status_response: None,
        };
        let json = frame.to_json();
        assert_eq!(
            json,
            r#"{"messageType":"ICE_CANDIDATE","messagePayload":"eyJjYW4="}"#
        );
        assert_eq!(ServiceFrame::parse(&json).unwrap(), frame);
    }

    #[test]
    fn parses_status_response_fixture() {
        let text = r#"{"messageType":"STATUS_RESPONSE","statusResponse":{"correlationId":"1697058567743","errorType":"InvalidArgumentException","statusCode":"400","success":false}}"#;
        let f = ServiceFrame::parse(text).unwrap();
        let s = f.status_response.unwrap();
        assert_eq!(s.correlation_id.as_deref(), Some("1697058567743"));
        assert_eq!(s.error_type.as_deref(), Some("InvalidArgumentException"));
        assert_eq!(s.status_code.as_deref(), Some("400"));
    }

    #[test]
    fn pascal_case_service_frames_parse() {
        let text = r#"{"SenderClientId":"v1","MessageType":"SDP_ANSWER","MessagePayload":"e30="}"#;
        let f = ServiceFrame::parse(text).unwrap();
        assert_eq!(f.sender_client_id.as_deref(), Some("v1"));
        assert_eq!(f.message_type, MessageType::SdpAnswer);
    }

    #[test]
    fn rejects_bad_frames_with_named_causes() {
        assert!(matches!(
            ClientFrame::parse("{"),
            Err(FrameError::InvalidJson(_))
        ));
        assert_eq!(ClientFrame::parse("[]"), Err(FrameError::NotAnObject));
        assert_eq!(
            ClientFrame::parse(r#"{"action":"HELLO","messagePayload":"e30="}"#),
            Err(FrameError::UnknownAction("HELLO".into()))
        );
        assert_eq!(
            ClientFrame::parse(r#"{"action":"SDP_OFFER"}"#),
            Err(FrameError::Missing("messagePayload"))
        );
        assert_eq!(
            ClientFrame::parse(r#"{"action":"SDP_OFFER","messagePayload":"***"}"#),
            Err(FrameError::InvalidBase64)
        );
        let big = format!(
            r#"{{"action":"SDP_OFFER","messagePayload":"{}"}}"#,
            "A".repeat(10_004)
        );
        let err = ClientFrame::parse(&big).unwrap_err();
        assert_eq!(err, FrameError::PayloadTooLarge { len: 10_004 });
        assert!(err.to_string().contains("4 over"));
        assert!(matches!(
            ClientFrame::parse(
                r#"{"action":"SDP_OFFER","messagePayload":"e30=","correlationId":"a b"}"#
            ),
            Err(FrameError::InvalidId {
                field: "correlationId",
                ..
            })
        ));
        assert_eq!(
            ServiceFrame::parse(r#"{"messageType":"SDP_"}"#),
            Err(FrameError::UnknownMessageType("SDP_".into()))
        );
    }

    #[test]
    fn salvages_correlation_id_from_invalid_frames() {
        let truncated = r#"{"action":"SDP_OFFER","CorrelationId" : "c8", "messagePayload":"#;
        assert_eq!(
            ClientFrame::salvage_correlation_id(truncated).as_deref(),
            Some("c8")
        );
        assert_eq!(
            ClientFrame::salvage_correlation_id(r#"{"correlationId":"bad id","#),
            None
        );
        let text = r#"{"action":"NOPE","correlationId":"c9"}"#;
        assert_eq!(
            ClientFrame::salvage_correlation_id(text).as_deref(),
            Some("c9")
        );
    }

    fn id() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9_.-]{1,40}"
    }

    proptest! {
        #[test]
        fn client_frames_round_trip(
            action in prop_oneof![Just(Action::SdpOffer), Just(Action::SdpAnswer), Just(Action::IceCandidate)],
            recipient in proptest::option::of(id()),
            correlation in proptest::option::of(id()),
            payload in proptest::collection::vec(any::<u8>(), 1..500),
        ) {
            let frame = ClientFrame {
                action,
                recipient_client_id: recipient,
                message_payload: encode_payload(&payload),
                correlation_id: correlation,
            };
            prop_assert_eq!(ClientFrame::parse(&frame.to_json()).unwrap(), frame);
        }

        #[test]
        fn parsers_never_panic(text in "\\PC{0,200}") {
            let _ = ClientFrame::parse(&text);
            let _ = ServiceFrame::parse(&text);
            let _ = ClientFrame::salvage_correlation_id(&text);
        }

        #[test]
        fn json_shaped_garbage_never_panics(
            keys in proptest::collection::vec("[a-zA-Z]{1,20}", 0..6),
            vals in proptest::collection::vec(prop_oneof![Just("null".to_string()), Just("1".to_string()), Just("{}".to_string()), "\"[A-Z_]{0,20}\""], 0..6),
        ) {
            let body: Vec<String> = keys.iter().zip(vals.iter()).map(|(k, v)| format!("\"{k}\":{v}")).collect();
            let text = format!("{{{}}}", body.join(","));
            let _ = ClientFrame::parse(&text);
            let _ = ServiceFrame::parse(&text);
        }
    }
}
