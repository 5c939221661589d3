//! Data-plane routing: who is connected to which channel, and where each client frame goes.
//! Pure logic; the server owns the sockets and hands frames in and out.

use std::collections::HashMap;

use kvs_proto::api::ChannelRole;
use kvs_proto::wire::{ClientFrame, FrameError, ServiceFrame, StatusResponse};

/// Identifies one WebSocket connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// The most viewers a channel accepts at once.
pub const MAX_VIEWERS: usize = 10;

#[derive(Debug)]
struct Conn {
    channel_arn: String,
    role: ChannelRole,
    client_id: Option<String>,
}

#[derive(Debug, Default)]
struct Peers {
    master: Option<ConnId>,
    viewers: HashMap<String, ConnId>,
}

/// Where a client frame ends up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routed {
    /// Send `frame` to connection `to`.
    Deliver {
        /// The recipient connection.
        to: ConnId,
        /// The service frame to send.
        frame: String,
    },
    /// Undeliverable; send this STATUS_RESPONSE back to the sender.
    Reply(String),
    /// Undeliverable and no correlation id to answer to; log `reason`.
    Dropped {
        /// Why.
        reason: String,
    },
}

/// Why a connection was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectError {
    /// Ten viewers are already connected.
    TooManyViewers,
}

/// The routing table of every channel's live connections.
#[derive(Debug, Default)]
pub struct Relay {
    conns: HashMap<ConnId, Conn>,
    channels: HashMap<String, Peers>,
    next_id: u64,
}

impl Relay {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of live connections.
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    /// True when nobody is connected.
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// Registers a connection. A newer master, or a newer viewer with the same client id,
    /// takes over; the replaced connection is returned so the caller can close it.
    pub fn connect(
        &mut self,
        channel_arn: &str,
        role: ChannelRole,
        client_id: Option<String>,
    ) -> Result<(ConnId, Option<ConnId>), ConnectError> {
        let peers = self.channels.entry(channel_arn.to_owned()).or_default();
        let id = ConnId(self.next_id);
        let replaced = match (role, &client_id) {
            (ChannelRole::Master, _) => peers.master.replace(id),
            (ChannelRole::Viewer, Some(cid)) => {
                if !peers.viewers.contains_key(cid) && peers.viewers.len() >= MAX_VIEWERS {
                    return Err(ConnectError::TooManyViewers);
                }
                peers.viewers.insert(cid.clone(), id)
            }
            (ChannelRole::Viewer, None) => unreachable!("viewers always carry a client id"),
        };
        self.next_id += 1;
        if let Some(old) = replaced {
            self.conns.remove(&old);
        }
        self.conns.insert(
            id,
            Conn {
                channel_arn: channel_arn.to_owned(),
                role,
                client_id,
            },
        );
        Ok((id, replaced))
    }

    /// Forgets a connection (no-op if it was already replaced).
    pub fn disconnect(&mut self, id: ConnId) {
        let Some(conn) = self.conns.remove(&id) else {
            return;
        };
        if let Some(peers) = self.channels.get_mut(&conn.channel_arn) {
            match (conn.role, conn.client_id) {
                (ChannelRole::Master, _) => {
                    if peers.master == Some(id) {
                        peers.master = None;
                    }
                }
                (ChannelRole::Viewer, Some(cid)) => {
                    if peers.viewers.get(&cid) == Some(&id) {
                        peers.viewers.remove(&cid);
                    }
                }
                (ChannelRole::Viewer, None) => {}
            }
            if peers.master.is_none() && peers.viewers.is_empty() {
                self.channels.remove(&conn.channel_arn);
            }
        }
    }

    /// Routes one text frame from connection `from`.
    pub fn route(&self, from: ConnId, text: &str) -> Routed {
        let Some(sender) = self.conns.get(&from) else {
            return Routed::Dropped {
                reason: "sender is no longer connected".into(),
            };
        };
        let frame = match ClientFrame::parse(text) {
            Ok(frame) => frame,
            Err(e) => {
                return fail(
                    ClientFrame::salvage_correlation_id(text),
                    "InvalidArgumentException",
                    describe_frame_error(&e),
                );
            }
        };
        let peers = self.channels.get(&sender.channel_arn);
        let (to, sender_client_id) = match sender.role {
            ChannelRole::Master => {
                let Some(recipient) = frame.recipient_client_id.as_deref() else {
                    return fail(
                        frame.correlation_id,
                        "InvalidArgumentException",
                        "a master must set recipientClientId".into(),
                    );
                };
                match peers.and_then(|p| p.viewers.get(recipient)) {
                    Some(to) => (*to, None),
                    None => {
                        return fail(
                            frame.correlation_id,
                            "InvalidArgumentException",
                            format!("recipient '{recipient}' is not connected to this channel"),
                        );
                    }
                }
            }
            ChannelRole::Viewer => match peers.and_then(|p| p.master) {
                Some(to) => (to, sender.client_id.clone()),
                None => {
                    return fail(
                        frame.correlation_id,
                        "InvalidArgumentException",
                        "the channel's master is not connected".into(),
                    );
                }
            },
        };
        let out = ServiceFrame {
            sender_client_id,
            message_type: frame.action.message_type(),
            message_payload: Some(frame.message_payload),
            status_response: None,
        };
        Routed::Deliver {
            to,
            frame: out.to_json(),
        }
    }
}

fn describe_frame_error(e: &FrameError) -> String {
    match e {
        FrameError::InvalidJson(_) | FrameError::NotAnObject => format!("malformed message: {e}"),
        _ => e.to_string(),
    }
}

fn fail(correlation_id: Option<String>, error_type: &str, description: String) -> Routed {
    match correlation_id {
        Some(correlation_id) => Routed::Reply(
            ServiceFrame {
                sender_client_id: None,
                message_type: kvs_proto::wire::MessageType::StatusResponse,
                message_payload: None,
                status_response: Some(StatusResponse {
                    correlation_id: Some(correlation_id),
                    error_type: Some(error_type.to_owned()),
                    status_code: Some("400".to_owned()),
                    description: Some(description),
                }),
            }
            .to_json(),
        ),
        None => Routed::Dropped {
            reason: description,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ARN: &str = "arn:aws:kinesisvideo:us-west-2:1:channel/c/1";

    fn pair() -> (Relay, ConnId, ConnId) {
        let mut r = Relay::new();
        let (m, _) = r.connect(ARN, ChannelRole::Master, None).unwrap();
        let (v, _) = r
            .connect(ARN, ChannelRole::Viewer, Some("v1".into()))
            .unwrap();
        (r, m, v)
    }

    #[test]
    fn viewer_to_master_carries_sender_and_master_to_viewer_does_not() {
        let (r, m, v) = pair();
        let Routed::Deliver { to, frame } =
            r.route(v, r#"{"action":"SDP_OFFER","messagePayload":"e30="}"#)
        else {
            panic!("not delivered")
        };
        assert_eq!(to, m);
        assert_eq!(
            frame,
            r#"{"senderClientId":"v1","messageType":"SDP_OFFER","messagePayload":"e30="}"#
        );
        let Routed::Deliver { to, frame } = r.route(
            m,
            r#"{"action":"SDP_ANSWER","RecipientClientId":"v1","MessagePayload":"e30="}"#,
        ) else {
            panic!("not delivered")
        };
        assert_eq!(to, v);
        assert_eq!(
            frame,
            r#"{"messageType":"SDP_ANSWER","messagePayload":"e30="}"#
        );
    }

    #[test]
    fn failures_answer_with_status_response_only_when_correlated() {
        let (r, m, _) = pair();
        let reply = r.route(m, r#"{"action":"ICE_CANDIDATE","recipientClientId":"nobody","messagePayload":"e30=","correlationId":"c7"}"#);
        let Routed::Reply(text) = reply else {
            panic!("{reply:?}")
        };
        let frame = ServiceFrame::parse(&text).unwrap();
        let status = frame.status_response.unwrap();
        assert_eq!(status.correlation_id.as_deref(), Some("c7"));
        assert!(status.description.unwrap().contains("nobody"));
        assert!(matches!(
            r.route(
                m,
                r#"{"action":"ICE_CANDIDATE","recipientClientId":"nobody","messagePayload":"e30="}"#
            ),
            Routed::Dropped { .. }
        ));
        assert!(
            matches!(r.route(m, r#"{"action":"X","correlationId":"c8"}"#), Routed::Reply(t) if t.contains("c8") && t.contains("unknown action"))
        );
        let big = format!(
            r#"{{"action":"SDP_ANSWER","recipientClientId":"v1","messagePayload":"{}","correlationId":"c9"}}"#,
            "A".repeat(10_001)
        );
        assert!(matches!(r.route(m, &big), Routed::Reply(t) if t.contains("10000-byte limit")));
        assert!(
            matches!(r.route(m, r#"{"action":"SDP_ANSWER","recipientClientId":"v1","messagePayload":"***","correlationId":"c9"}"#), Routed::Reply(t) if t.contains("base64"))
        );
        assert!(matches!(r.route(m, r#"{"action":"SDP_ANSWER","recipientClientId":"v1","messagePayload":"bm90IGpzb24=","correlationId":"c9"}"#), Routed::Deliver { .. }), "payloads are opaque beyond base64");
    }

    #[test]
    fn newest_connection_wins_and_the_old_one_leaves_quietly() {
        let (mut r, m, v) = pair();
        let (m2, replaced) = r.connect(ARN, ChannelRole::Master, None).unwrap();
        assert_eq!(replaced, Some(m));
        r.disconnect(m); // the replaced socket closing must not evict its successor
        assert!(
            matches!(r.route(v, r#"{"action":"SDP_OFFER","messagePayload":"e30="}"#), Routed::Deliver { to, .. } if to == m2)
        );
    }

    #[test]
    fn at_most_ten_viewers() {
        let mut r = Relay::new();
        for i in 0..MAX_VIEWERS {
            r.connect(ARN, ChannelRole::Viewer, Some(format!("v{i}")))
                .unwrap();
        }
        assert_eq!(
            r.connect(ARN, ChannelRole::Viewer, Some("v99".into())),
            Err(ConnectError::TooManyViewers)
        );
        assert!(
            r.connect(ARN, ChannelRole::Viewer, Some("v3".into()))
                .is_ok(),
            "a reconnecting viewer is not extra"
        );
    }

    proptest! {
        #[test]
        fn routing_never_panics(text in "\\PC{0,300}") {
            let (r, m, v) = pair();
            let _ = r.route(m, &text);
            let _ = r.route(v, &text);
        }
    }
}
