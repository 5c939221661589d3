//! The admin API's requests and what they change, without IO: the driver checks the bearer
//! token and reads the body, [`AdminCommand::parse`] turns method, route and body into a
//! command, and [`ServiceCore::admin`] carries it out on the faults or names the connection
//! the driver must signal.
//!
//! | Request | Body | Effect |
//! |---|---|---|
//! | `GET /admin/connections` | | lists live connections |
//! | `POST /admin/connections/go-away` | `ChannelARN`, `ClientId`? | GO_AWAY to the master (no `ClientId`) or a viewer, closed after the grace |
//! | `POST /admin/connections/reconnect-ice-server` | same | RECONNECT_ICE_SERVER |
//! | `POST /admin/connections/close` | same | closes the connection now |
//! | `POST /admin/faults/delay-messages` | `ChannelARN`, `Count`, `DelayMs` | delays the channel's next `Count` relayed messages |
//! | `POST /admin/faults/drop-messages` | `ChannelARN`, `Count` | drops them |
//! | `POST /admin/faults/errors` | `ErrorType`, `Count`, `Target`?, `Message`? | answers the next `Count` requests (of operation or `ConnectAsMaster`/`ConnectAsViewer` `Target`, or any) with that exception |
//! | `POST /admin/faults/clock-skew` | `Seconds` | moves the service clock |
//! | `DELETE /admin/faults` | | removes every fault |

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

use std::time::Duration;

use kvs_proto::api::ErrorCode;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::faults::{InjectedError, MessageFault};
use crate::relay::ConnId;
use crate::service::ServiceCore;

/// What the operator asks a live connection to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnSignal {
    /// Send GO_AWAY, then close after the grace period.
    GoAway,
    /// Send RECONNECT_ICE_SERVER.
    ReconnectIceServer,
    /// Close now.
    Close,
}

/// One admin request, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminCommand {
    /// List the live connections.
    ListConnections,
    /// Signal the master (`client_id` `None`) or a viewer of a channel.
    Signal {
        /// The channel.
        channel_arn: String,
        /// The viewer, or `None` for the master.
        client_id: Option<String>,
        /// What to do.
        what: ConnSignal,
    },
    /// Delay or drop the channel's next `count` relayed messages.
    Messages {
        /// The channel.
        channel_arn: String,
        /// How many.
        count: u32,
        /// What happens to them.
        fault: MessageFault,
    },
    /// Answer the next `count` matching requests with an error.
    Errors {
        /// How many.
        count: u32,
        /// The error and which requests it targets.
        error: InjectedError,
    },
    /// Move the service clock this many seconds from the machine's.
    ClockSkew(i64),
    /// Remove every fault.
    ClearFaults,
}

/// What the driver does with a carried-out command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminDone {
    /// Answer 200 with this JSON.
    Json(Vec<u8>),
    /// Tell connection `to` to do `what`, then answer 200 `{}` (or the
    /// [`AdminRefusal::no_connection`] refusal when it is gone by then).
    Signal {
        /// The connection.
        to: ConnId,
        /// What it must do.
        what: ConnSignal,
    },
}

/// An admin request that cannot be carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminRefusal {
    /// The HTTP status.
    pub status: u16,
    /// The exception named in `x-amzn-ErrorType`.
    pub code: ErrorCode,
    /// The message.
    pub message: String,
}

impl AdminRefusal {
    fn bad(message: impl Into<String>) -> Self {
        Self {
            status: 400,
            code: ErrorCode::InvalidArgument,
            message: message.into(),
        }
    }

    /// No live connection matches a signal's channel and client id.
    pub fn no_connection() -> Self {
        Self {
            status: 404,
            code: ErrorCode::ResourceNotFound,
            message: "no such live connection: check ChannelARN, and ClientId for a viewer".into(),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct ConnectionRequest {
    #[serde(rename = "ChannelARN")]
    channel_arn: String,
    #[serde(default)]
    client_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct MessagesRequest {
    #[serde(rename = "ChannelARN")]
    channel_arn: String,
    count: u32,
    #[serde(default)]
    delay_ms: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct ErrorsRequest {
    error_type: String,
    count: u32,
    #[serde(default)]
    target: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct SkewRequest {
    seconds: i64,
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, AdminRefusal> {
    serde_json::from_slice(body).map_err(|e| AdminRefusal::bad(format!("admin request body: {e}")))
}

impl AdminCommand {
    /// The command for `method` on `route` (the path after `/admin/`) with `body`.
    pub fn parse(method: &str, route: &str, body: &[u8]) -> Result<Self, AdminRefusal> {
        let signal = |what| {
            parse::<ConnectionRequest>(body).map(|r| Self::Signal {
                channel_arn: r.channel_arn,
                client_id: r.client_id,
                what,
            })
        };
        match (method, route) {
            ("GET", "connections") => Ok(Self::ListConnections),
            ("POST", "connections/go-away") => signal(ConnSignal::GoAway),
            ("POST", "connections/reconnect-ice-server") => signal(ConnSignal::ReconnectIceServer),
            ("POST", "connections/close") => signal(ConnSignal::Close),
            ("POST", "faults/delay-messages") => {
                let r: MessagesRequest = parse(body)?;
                let delay = r
                    .delay_ms
                    .ok_or_else(|| AdminRefusal::bad("DelayMs is required to delay messages"))?;
                Ok(Self::Messages {
                    channel_arn: r.channel_arn,
                    count: r.count,
                    fault: MessageFault::Delay(Duration::from_millis(delay)),
                })
            }
            ("POST", "faults/drop-messages") => {
                let r: MessagesRequest = parse(body)?;
                Ok(Self::Messages {
                    channel_arn: r.channel_arn,
                    count: r.count,
                    fault: MessageFault::Drop,
                })
            }
            ("POST", "faults/errors") => {
                let r: ErrorsRequest = parse(body)?;
                let code = ErrorCode::from_name(&r.error_type).ok_or_else(|| {
                    AdminRefusal::bad(format!(
                        "unknown ErrorType '{}'; use an exception name such as ClientLimitExceededException",
                        r.error_type
                    ))
                })?;
                let message = r
                    .message
                    .unwrap_or_else(|| format!("{} (injected by the admin API)", code.name()));
                Ok(Self::Errors {
                    count: r.count,
                    error: InjectedError {
                        target: r.target,
                        code,
                        message,
                    },
                })
            }
            ("POST", "faults/clock-skew") => {
                parse::<SkewRequest>(body).map(|r| Self::ClockSkew(r.seconds))
            }
            ("DELETE", "faults") => Ok(Self::ClearFaults),
            _ => Err(AdminRefusal {
                status: 404,
                code: ErrorCode::UnknownOperation,
                message: format!("no admin operation {method} /admin/{route}"),
            }),
        }
    }
}

impl<O, W> ServiceCore<O, W> {
    /// Carries out an admin command: faults change here; a signal names the connection the
    /// driver must tell.
    pub fn admin(&mut self, command: AdminCommand) -> Result<AdminDone, AdminRefusal> {
        let done = AdminDone::Json(b"{}".to_vec());
        match command {
            AdminCommand::ListConnections => Ok(AdminDone::Json(self.connections_json())),
            AdminCommand::Signal {
                channel_arn,
                client_id,
                what,
            } => self
                .find(&channel_arn, client_id.as_deref())
                .map(|to| AdminDone::Signal { to, what })
                .ok_or_else(AdminRefusal::no_connection),
            AdminCommand::Messages {
                channel_arn,
                count,
                fault,
            } => {
                self.faults_mut().plan_messages(&channel_arn, count, fault);
                Ok(done)
            }
            AdminCommand::Errors { count, error } => {
                self.faults_mut().plan_errors(count, error);
                Ok(done)
            }
            AdminCommand::ClockSkew(secs) => self
                .faults_mut()
                .set_clock_skew(secs)
                .map(|()| done)
                .map_err(|e| AdminRefusal::bad(format!("Seconds: {e}"))),
            AdminCommand::ClearFaults => {
                self.faults_mut().clear();
                Ok(done)
            }
        }
    }

    fn connections_json(&self) -> Vec<u8> {
        let mut list: Vec<_> = self.relay().connections().collect();
        list.sort_by_key(|(id, ..)| *id);
        let list: Vec<serde_json::Value> = list
            .into_iter()
            .map(|(id, arn, role, client_id)| {
                serde_json::json!({"Id": id.0, "ChannelARN": arn, "Role": role.as_str(), "ClientId": client_id})
            })
            .collect();
        // A JSON value always serialises.
        serde_json::to_vec(&serde_json::json!({ "Connections": list })).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::CoreConfig;

    fn core() -> ServiceCore {
        ServiceCore::new(CoreConfig {
            region: "us-west-2".into(),
            account_id: "123456789012".into(),
            policy: None,
            limits: None,
            role_aliases: Vec::new(),
        })
    }

    #[test]
    fn requests_parse_into_commands() {
        let arn = "arn:aws:kinesisvideo:us-west-2:1:channel/a/1";
        assert_eq!(
            AdminCommand::parse(
                "POST",
                "connections/go-away",
                br#"{"ChannelARN":"x","ClientId":"v"}"#
            ),
            Ok(AdminCommand::Signal {
                channel_arn: "x".into(),
                client_id: Some("v".into()),
                what: ConnSignal::GoAway
            })
        );
        let delay = format!(r#"{{"ChannelARN":"{arn}","Count":2,"DelayMs":1500}}"#);
        assert_eq!(
            AdminCommand::parse("POST", "faults/delay-messages", delay.as_bytes()),
            Ok(AdminCommand::Messages {
                channel_arn: arn.into(),
                count: 2,
                fault: MessageFault::Delay(Duration::from_millis(1500))
            })
        );
        let errors =
            br#"{"ErrorType":"ClientLimitExceededException","Count":1,"Target":"ConnectAsMaster"}"#;
        let Ok(AdminCommand::Errors { count: 1, error }) =
            AdminCommand::parse("POST", "faults/errors", errors)
        else {
            panic!("errors command");
        };
        assert_eq!(error.code, ErrorCode::ClientLimitExceeded);
        assert!(error.message.contains("injected by the admin API"));
    }

    #[test]
    fn bad_requests_say_what_is_wrong() {
        for (method, route, body, status, says) in [
            (
                "POST",
                "faults/errors",
                &br#"{"Nonsense":1}"#[..],
                400,
                "unknown field",
            ),
            (
                "POST",
                "faults/errors",
                br#"{"ErrorType":"Nope","Count":1}"#,
                400,
                "unknown ErrorType",
            ),
            (
                "POST",
                "faults/delay-messages",
                br#"{"ChannelARN":"x","Count":1}"#,
                400,
                "DelayMs is required",
            ),
            (
                "POST",
                "faults/clock-skew",
                b"not json",
                400,
                "admin request body",
            ),
            (
                "PUT",
                "faults",
                b"",
                404,
                "no admin operation PUT /admin/faults",
            ),
            ("POST", "no-such-thing", b"{}", 404, "no admin operation"),
        ] {
            let r = AdminCommand::parse(method, route, body).unwrap_err();
            assert_eq!(r.status, status, "{route}");
            assert!(r.message.contains(says), "{route}: {}", r.message);
        }
    }

    #[test]
    fn commands_change_the_faults_and_name_the_connection_to_signal() {
        let mut core = core();
        let skew = AdminCommand::ClockSkew(i64::MAX);
        let r = core.admin(skew).unwrap_err();
        assert_eq!(r.status, 400);
        assert!(r.message.contains("ten years"), "{}", r.message);
        core.admin(AdminCommand::ClockSkew(-60)).unwrap();
        assert_eq!(core.faults_mut().clock_skew(), -60);
        core.admin(AdminCommand::ClearFaults).unwrap();
        assert_eq!(core.faults_mut().clock_skew(), 0);

        let signal = AdminCommand::Signal {
            channel_arn: "arn".into(),
            client_id: None,
            what: ConnSignal::Close,
        };
        assert_eq!(core.admin(signal), Err(AdminRefusal::no_connection()));
        assert_eq!(
            core.admin(AdminCommand::ListConnections),
            Ok(AdminDone::Json(br#"{"Connections":[]}"#.to_vec()))
        );
    }
}
