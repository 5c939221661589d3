//! Whether a verified WebSocket connect may join its channel, without any IO: the channel
//! ARN, an injected fault, the policy, the channel's existence and the viewer's client id, in
//! that order, then the relay's refusals. The driver supplies the lookups and answers with the
//! [`Refusal`]'s status, exception and message.

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

use std::collections::BTreeMap;
use std::time::Duration;

use kvs_proto::api::{ChannelInfo, ChannelRole, ErrorCode};
use kvs_proto::wire::is_valid_id;

use crate::api_error::ApiError;
use crate::channels::Caller;
use crate::relay::ConnectError;

/// A connect that may join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Admitted {
    /// The channel it joins.
    pub(crate) channel_arn: String,
    /// The viewer's client id (`None` for the master).
    pub(crate) client_id: Option<String>,
    /// How long messages for it are held while it is offline.
    pub(crate) message_ttl: Duration,
}

/// Why a connect may not join, as the WebSocket API answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The HTTP status of the refused upgrade.
    pub status: u16,
    /// The exception named in `x-amzn-ErrorType`.
    pub code: ErrorCode,
    /// The message.
    pub message: String,
}

impl Refusal {
    fn new(status: u16, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// The relay's refusal of a connect the checks above admitted.
    pub(crate) fn of_relay(e: ConnectError) -> Self {
        let message = match e {
            ConnectError::TooManyViewers => "the channel already has the maximum of 10 viewers",
            ConnectError::RateExceeded => {
                "more than 3 connects per second on this channel; retry with backoff"
            }
        };
        Self::new(400, ErrorCode::ClientLimitExceeded, message)
    }
}

/// The IAM action a connect in `role` needs, which is also what injected faults target.
pub(crate) fn action(role: ChannelRole) -> &'static str {
    match role {
        ChannelRole::Master => "ConnectAsMaster",
        ChannelRole::Viewer => "ConnectAsViewer",
    }
}

/// Decides a connect in `role` with the verified query `params`. `injected` takes the next
/// fault injected for an action, `channel` looks a channel up by ARN; each is called at most
/// once, and only when the checks before it passed.
pub(crate) fn admit(
    role: ChannelRole,
    params: &BTreeMap<String, String>,
    caller: Option<Caller<'_>>,
    injected: impl FnOnce(&str) -> Option<ApiError>,
    channel: impl FnOnce(&str) -> Option<ChannelInfo>,
) -> Result<Admitted, Refusal> {
    let Some(arn) = params.get("X-Amz-ChannelARN") else {
        return Err(Refusal::new(
            400,
            ErrorCode::InvalidArgument,
            "X-Amz-ChannelARN is required",
        ));
    };
    let action = action(role);
    if let Some(e) = injected(action) {
        return Err(Refusal::new(e.code.http_status(), e.code, e.message));
    }
    if let Some(caller) = caller
        && let Err(e) = caller.authorize(&format!("kinesisvideo:{action}"), arn, false)
    {
        // The WebSocket API answers AccessDenied with 403, unlike the control plane's 401.
        return Err(Refusal::new(403, e.code, e.message));
    }
    let Some(info) = channel(arn) else {
        return Err(Refusal::new(
            404,
            ErrorCode::ResourceNotFound,
            format!("The requested channel is not found or not active: {arn}"),
        ));
    };
    let client_id = match role {
        ChannelRole::Master => None,
        ChannelRole::Viewer => Some(viewer_id(params.get("X-Amz-ClientId"))?),
    };
    Ok(Admitted {
        channel_arn: arn.clone(),
        client_id,
        message_ttl: info.message_ttl(),
    })
}

/// A viewer's client id: present, `[a-zA-Z0-9_.-]{1,256}`, and not starting with `AWS_` (in
/// any case), which KVS reserves.
fn viewer_id(id: Option<&String>) -> Result<String, Refusal> {
    match id {
        Some(id) if is_valid_id(id) && !id.to_ascii_uppercase().starts_with("AWS_") => {
            Ok(id.clone())
        }
        Some(id) => Err(Refusal::new(
            400,
            ErrorCode::InvalidArgument,
            format!(
                "X-Amz-ClientId '{id}' must match [a-zA-Z0-9_.-]{{1,256}} and not start with AWS_"
            ),
        )),
        None => Err(Refusal::new(
            400,
            ErrorCode::InvalidArgument,
            "a viewer must pass X-Amz-ClientId",
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::time::UNIX_EPOCH;

    use kvs_proto::api::CreateSignalingChannelInput;

    use super::*;
    use crate::auth::Policy;
    use crate::channels::Channels;

    fn channel() -> (Channels, String) {
        let mut c = Channels::new("us-west-2", "123456789012");
        let input = CreateSignalingChannelInput {
            channel_name: "demo".into(),
            ..Default::default()
        };
        let arn = c.create(input, UNIX_EPOCH).unwrap().channel_arn;
        (c, arn)
    }

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_viewer_with_a_valid_id_joins_an_existing_channel() {
        let (c, arn) = channel();
        let p = params(&[("X-Amz-ChannelARN", &arn), ("X-Amz-ClientId", "v-1.a_b")]);
        let admitted = admit(
            ChannelRole::Viewer,
            &p,
            None,
            |_| None,
            |a| c.by_arn(a).cloned(),
        );
        assert_eq!(
            admitted,
            Ok(Admitted {
                channel_arn: arn.clone(),
                client_id: Some("v-1.a_b".into()),
                message_ttl: Duration::from_secs(60),
            })
        );
        let master = admit(
            ChannelRole::Master,
            &params(&[("X-Amz-ChannelARN", &arn), ("X-Amz-ClientId", "ignored")]),
            None,
            |_| None,
            |a| c.by_arn(a).cloned(),
        );
        assert_eq!(master.unwrap().client_id, None, "a master has no client id");
    }

    #[test]
    fn viewer_ids_follow_the_kvs_rules() {
        let (c, arn) = channel();
        for (id, why) in [
            ("AWS_x", "reserved prefix"),
            ("aws_x", "reserved prefix in any case"),
            ("has space", "character outside the set"),
            ("", "empty"),
        ] {
            let p = params(&[("X-Amz-ChannelARN", &arn), ("X-Amz-ClientId", id)]);
            let r = admit(
                ChannelRole::Viewer,
                &p,
                None,
                |_| None,
                |a| c.by_arn(a).cloned(),
            )
            .unwrap_err();
            assert_eq!(
                (r.status, r.code),
                (400, ErrorCode::InvalidArgument),
                "{why}"
            );
        }
        let missing = params(&[("X-Amz-ChannelARN", &arn)]);
        let r = admit(
            ChannelRole::Viewer,
            &missing,
            None,
            |_| None,
            |a| c.by_arn(a).cloned(),
        )
        .unwrap_err();
        assert!(
            r.message.contains("must pass X-Amz-ClientId"),
            "{}",
            r.message
        );
    }

    /// Each check runs only when the ones before it passed: a connect without an ARN does not
    /// use up an injected fault, a faulted one is not looked up, a denied one is not looked up.
    #[test]
    fn checks_run_in_order_and_stop_at_the_first_refusal() {
        let (c, arn) = channel();
        let faults_taken = Cell::new(0);
        let lookups = Cell::new(0);
        let injected = |fault: Option<ApiError>| {
            let taken = &faults_taken;
            move |_: &str| {
                taken.set(taken.get() + 1);
                fault
            }
        };
        let lookup = |a: &str| {
            lookups.set(lookups.get() + 1);
            c.by_arn(a).cloned()
        };

        let r = admit(
            ChannelRole::Master,
            &params(&[]),
            None,
            injected(None),
            lookup,
        )
        .unwrap_err();
        assert_eq!((r.status, faults_taken.get(), lookups.get()), (400, 0, 0));

        let p = params(&[("X-Amz-ChannelARN", &arn)]);
        let fault = ApiError::new(ErrorCode::ClientLimitExceeded, "injected");
        let r = admit(ChannelRole::Master, &p, None, injected(Some(fault)), lookup).unwrap_err();
        assert_eq!(
            (r.code, r.message.as_str()),
            (ErrorCode::ClientLimitExceeded, "injected")
        );
        assert_eq!((faults_taken.get(), lookups.get()), (1, 0));

        let policy = Policy::parse(
            r#"{"Statement": [{"Effect": "Allow", "Principal": "AKID", "Action": "kinesisvideo:ConnectAsViewer", "Resource": "*"}]}"#,
        )
        .unwrap();
        let caller = Caller {
            access_key_id: "AKID",
            thing_name: None,
            policy: &policy,
        };
        let r = admit(
            ChannelRole::Master,
            &p,
            Some(caller),
            injected(None),
            lookup,
        )
        .unwrap_err();
        assert_eq!((r.status, r.code), (403, ErrorCode::AccessDenied));
        assert_eq!(lookups.get(), 0, "a denied connect is not looked up");

        let gone = params(&[(
            "X-Amz-ChannelARN",
            "arn:aws:kinesisvideo:us-west-2:123456789012:channel/gone/1",
        )]);
        let r = admit(ChannelRole::Master, &gone, None, injected(None), lookup).unwrap_err();
        assert_eq!(
            (r.status, r.code, lookups.get()),
            (404, ErrorCode::ResourceNotFound, 1)
        );
    }

    #[test]
    fn relay_refusals_are_client_limit_exceeded() {
        for e in [ConnectError::TooManyViewers, ConnectError::RateExceeded] {
            let r = Refusal::of_relay(e);
            assert_eq!((r.status, r.code), (400, ErrorCode::ClientLimitExceeded));
        }
    }
}
