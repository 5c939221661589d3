//! Faults an operator injects through the admin API to test clients: delayed or dropped
//! messages on a channel, errors in place of answers, a skewed service clock. Pure
//! bookkeeping: the service core consults it, and the driver applies what the core says.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use kvs_proto::api::ErrorCode;

use crate::api_error::ApiError;

/// The largest clock skew that can be injected: ten years either way, far past any signature
/// window, and far from the ends of `SystemTime`.
pub const MAX_CLOCK_SKEW_SECS: u64 = 10 * 366 * 86_400;

/// A clock skew beyond ±[`MAX_CLOCK_SKEW_SECS`] was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the clock skew must be within ±{MAX_CLOCK_SKEW_SECS} s (ten years)")]
pub struct SkewTooLarge;

/// What happens to the next relayed message of a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageFault {
    /// Delivered after this long.
    Delay(Duration),
    /// Never delivered.
    Drop,
}

/// A counted fault: applies to the next `remaining` events.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Counted<T> {
    remaining: u32,
    what: T,
}

/// An error to answer with instead of serving.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InjectedError {
    /// Which requests: an operation name (`DescribeSignalingChannel`), `ConnectAsMaster`,
    /// `ConnectAsViewer`, or `None` for all of them.
    pub target: Option<String>,
    /// The exception.
    pub code: ErrorCode,
    /// Its message.
    pub message: String,
}

/// The faults in force.
#[derive(Debug, Default)]
pub struct Faults {
    messages: HashMap<String, Vec<Counted<MessageFault>>>,
    errors: Vec<Counted<InjectedError>>,
    clock_skew_secs: i64,
}

impl Faults {
    /// Applies `fault` to the next `count` messages relayed on `channel_arn` (after the ones
    /// already planned).
    pub fn plan_messages(&mut self, channel_arn: &str, count: u32, fault: MessageFault) {
        if count > 0 {
            self.messages
                .entry(channel_arn.to_owned())
                .or_default()
                .push(Counted {
                    remaining: count,
                    what: fault,
                });
        }
    }

    /// True while a message fault is planned on any channel.
    pub fn plans_messages(&self) -> bool {
        !self.messages.is_empty()
    }

    /// The fault for the next message on `channel_arn`, if one is planned; counts it.
    pub fn next_message(&mut self, channel_arn: &str) -> Option<MessageFault> {
        let plan = self.messages.get_mut(channel_arn)?;
        let fault = take(plan);
        if plan.is_empty() {
            self.messages.remove(channel_arn);
        }
        fault
    }

    /// Answers the next `count` requests matching `error.target` with `error`.
    pub fn plan_errors(&mut self, count: u32, error: InjectedError) {
        if count > 0 {
            self.errors.push(Counted {
                remaining: count,
                what: error,
            });
        }
    }

    /// The error to answer request `target` with, if one is planned; counts it.
    pub fn next_error(&mut self, target: &str) -> Option<ApiError> {
        let i = self.errors.iter().position(|c| {
            c.what
                .target
                .as_deref()
                .is_none_or(|t| t.eq_ignore_ascii_case(target))
        })?;
        let entry = &mut self.errors[i];
        entry.remaining -= 1;
        let error = ApiError::new(entry.what.code, entry.what.message.clone());
        if entry.remaining == 0 {
            self.errors.remove(i);
        }
        Some(error)
    }

    /// Sets how far the service clock is from the machine's, in seconds, within
    /// ±[`MAX_CLOCK_SKEW_SECS`]; a larger skew is refused and the clock left as it is.
    pub fn set_clock_skew(&mut self, secs: i64) -> Result<(), SkewTooLarge> {
        if secs.unsigned_abs() > MAX_CLOCK_SKEW_SECS {
            return Err(SkewTooLarge);
        }
        self.clock_skew_secs = secs;
        Ok(())
    }

    /// How far the service clock is from the machine's, in seconds.
    pub fn clock_skew(&self) -> i64 {
        self.clock_skew_secs
    }

    /// The service's time when the machine's is `machine`: moved by the injected skew. The
    /// HTTP and WebSocket handlers and the TURN server all read this one clock, so TURN
    /// credentials are checked on the clock that issued them.
    pub fn service_time(&self, machine: SystemTime) -> SystemTime {
        let by = Duration::from_secs(self.clock_skew_secs.unsigned_abs());
        let moved = if self.clock_skew_secs >= 0 {
            machine.checked_add(by)
        } else {
            machine.checked_sub(by)
        };
        // The skew is bounded far from the ends of `SystemTime`; this only guards a bug.
        moved.unwrap_or(machine)
    }

    /// Removes every fault.
    pub fn clear(&mut self) {
        *self = Self::default();
    }
}

fn take<T: Clone>(plan: &mut Vec<Counted<T>>) -> Option<T> {
    let first = plan.first_mut()?;
    first.remaining -= 1;
    let what = first.what.clone();
    if first.remaining == 0 {
        plan.remove(0);
    }
    Some(what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_faults_apply_in_order_then_stop() {
        let mut f = Faults::default();
        f.plan_messages("a", 2, MessageFault::Drop);
        f.plan_messages("a", 1, MessageFault::Delay(Duration::from_millis(5)));
        assert_eq!(f.next_message("b"), None, "other channels are untouched");
        assert_eq!(f.next_message("a"), Some(MessageFault::Drop));
        assert_eq!(f.next_message("a"), Some(MessageFault::Drop));
        assert_eq!(
            f.next_message("a"),
            Some(MessageFault::Delay(Duration::from_millis(5)))
        );
        assert_eq!(f.next_message("a"), None);
        assert!(!f.plans_messages(), "a used-up plan is gone");
    }

    #[test]
    fn errors_match_their_target_and_run_out() {
        let mut f = Faults::default();
        f.plan_errors(
            2,
            InjectedError {
                target: Some("DescribeSignalingChannel".into()),
                code: ErrorCode::ClientLimitExceeded,
                message: "slow down".into(),
            },
        );
        assert_eq!(f.next_error("GetSignalingChannelEndpoint"), None);
        let e = f.next_error("describesignalingchannel").unwrap();
        assert_eq!(e.code, ErrorCode::ClientLimitExceeded);
        assert!(f.next_error("DescribeSignalingChannel").is_some());
        assert_eq!(f.next_error("DescribeSignalingChannel"), None);
        f.plan_errors(
            1,
            InjectedError {
                target: None,
                code: ErrorCode::AccessDenied,
                message: "no".into(),
            },
        );
        assert!(f.next_error("ConnectAsMaster").is_some());
        f.set_clock_skew(-900).unwrap();
        assert_eq!(f.clock_skew(), -900);
        let machine = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(f.service_time(machine), machine - Duration::from_secs(900));
        let too_far = MAX_CLOCK_SKEW_SECS as i64 + 1;
        for secs in [too_far, -too_far, i64::MAX, i64::MIN] {
            assert_eq!(f.set_clock_skew(secs), Err(SkewTooLarge));
        }
        assert_eq!(f.clock_skew(), -900, "a refused skew changes nothing");
        f.clear();
        assert_eq!(f.clock_skew(), 0);
    }
}
