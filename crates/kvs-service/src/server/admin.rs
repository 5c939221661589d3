//! The admin API for fault injection, on the service's own listener under `/admin/`. Off
//! unless the service has an admin token; every request must carry it as
//! `Authorization: Bearer <token>`.
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

use hyper::body::Incoming;
use hyper::{Method, Request, Response, header};
use kvs_proto::api::{ChannelRole, ErrorCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;
use tracing::info;

use super::request::read_body;
use super::response::{Body, error_response, json_response};
use super::{Outbound, Shared, Target, signal};
use crate::clock::lock;
use crate::faults::{InjectedError, MessageFault};

/// The largest clock skew the admin API injects: ten years either way, far past any
/// signature window, and far from the ends of `SystemTime`.
const MAX_CLOCK_SKEW_SECS: u64 = 10 * 366 * 86_400;

/// Where the admin API lives.
pub(super) const PREFIX: &str = "/admin/";

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

/// An admin request that cannot be carried out.
struct Refusal {
    status: u16,
    exception: &'static str,
    message: String,
}

fn bad(message: &str) -> Refusal {
    Refusal {
        status: 400,
        exception: "InvalidArgumentException",
        message: message.to_owned(),
    }
}

fn ok() -> Response<Body> {
    json_response(200, b"{}".to_vec())
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Refusal> {
    serde_json::from_slice(body).map_err(|e| bad(&format!("admin request body: {e}")))
}

pub(super) async fn handle(shared: &Shared, req: Request<Incoming>, path: &str) -> Response<Body> {
    let Some(token) = shared.config.admin_token.as_deref() else {
        return error_response(
            404,
            "UnknownOperationException",
            "the admin API is off; start the service with --admin-token to enable it",
        );
    };
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    // Constant time, so the refusal's timing does not reveal how much of a guess was right.
    if !bool::from(presented.as_bytes().ct_eq(token.as_bytes())) {
        info!(%path, decision = "refused", "admin request without the right token");
        return error_response(
            401,
            "AccessDeniedException",
            "the admin API needs `Authorization: Bearer <admin token>`",
        );
    }
    let method = req.method().clone();
    let body = match read_body(shared, req.into_body()).await {
        Ok(body) => body,
        Err(resp) => return resp,
    };
    let route = path.strip_prefix(PREFIX).unwrap_or_default();
    info!(%method, %route, "admin request");
    let result = match (&method, route) {
        (&Method::GET, "connections") => Ok(connections(shared)),
        (&Method::POST, "connections/go-away") => connection(shared, &body, Outbound::GoAway),
        (&Method::POST, "connections/reconnect-ice-server") => {
            connection(shared, &body, Outbound::ReconnectIceServer)
        }
        (&Method::POST, "connections/close") => connection(shared, &body, Outbound::Close),
        (&Method::POST, "faults/delay-messages") => parse::<MessagesRequest>(&body).and_then(|r| {
            let delay = r
                .delay_ms
                .ok_or_else(|| bad("DelayMs is required to delay messages"))?;
            let fault = MessageFault::Delay(Duration::from_millis(delay));
            faults(shared).plan_messages(&r.channel_arn, r.count, fault);
            Ok(ok())
        }),
        (&Method::POST, "faults/drop-messages") => parse::<MessagesRequest>(&body).map(|r| {
            faults(shared).plan_messages(&r.channel_arn, r.count, MessageFault::Drop);
            ok()
        }),
        (&Method::POST, "faults/errors") => parse::<ErrorsRequest>(&body).and_then(|r| {
            let code = ErrorCode::from_name(&r.error_type).ok_or_else(|| {
                bad(&format!(
                    "unknown ErrorType '{}'; use an exception name such as ClientLimitExceededException",
                    r.error_type
                ))
            })?;
            let message = r
                .message
                .unwrap_or_else(|| format!("{} (injected by the admin API)", code.name()));
            let target = r.target;
            faults(shared).plan_errors(
                r.count,
                InjectedError {
                    target,
                    code,
                    message,
                },
            );
            Ok(ok())
        }),
        (&Method::POST, "faults/clock-skew") => {
            parse::<SkewRequest>(&body).and_then(|r| {
                if r.seconds.unsigned_abs() > MAX_CLOCK_SKEW_SECS {
                    return Err(bad(&format!(
                        "Seconds must be within ±{MAX_CLOCK_SKEW_SECS} (ten years)"
                    )));
                }
                faults(shared).set_clock_skew(r.seconds);
                Ok(ok())
            })
        }
        (&Method::DELETE, "faults") => {
            faults(shared).clear();
            Ok(ok())
        }
        _ => Err(Refusal {
            status: 404,
            exception: "UnknownOperationException",
            message: format!("no admin operation {method} {path}"),
        }),
    };
    result.unwrap_or_else(|r| error_response(r.status, r.exception, &r.message))
}

fn faults(shared: &Shared) -> std::sync::MutexGuard<'_, crate::faults::Faults> {
    lock(&shared.faults)
}

fn connection(shared: &Shared, body: &[u8], what: Outbound) -> Result<Response<Body>, Refusal> {
    let r: ConnectionRequest = parse(body)?;
    let target = Target {
        channel_arn: &r.channel_arn,
        role: if r.client_id.is_some() {
            ChannelRole::Viewer
        } else {
            ChannelRole::Master
        },
        client_id: r.client_id.as_deref(),
    };
    if signal(shared, &target, what) {
        Ok(ok())
    } else {
        Err(Refusal {
            status: 404,
            exception: "ResourceNotFoundException",
            message: "no such live connection: check ChannelARN, and ClientId for a viewer".into(),
        })
    }
}

fn connections(shared: &Shared) -> Response<Body> {
    let hub = lock(&shared.hub);
    let mut list: Vec<serde_json::Value> = hub
        .connections()
        .map(|(id, arn, role, client_id)| {
            serde_json::json!({"Id": id.0, "ChannelARN": arn, "Role": role.as_str(), "ClientId": client_id})
        })
        .collect();
    list.sort_by_key(|v| v["Id"].as_u64());
    json_response(
        200,
        // A JSON value always serialises.
        serde_json::to_vec(&serde_json::json!({ "Connections": list })).unwrap_or_default(),
    )
}
