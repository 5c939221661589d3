//! Where failures go: which step retries, after how long, or whether the session ends.

use super::*;
use crate::api::ErrorCode;

impl Client {
    /// Routes a failure: auth errors re-fetch credentials once, a missing channel is
    /// described or created, other failures retry the step with backoff until the budget
    /// is spent.
    pub(super) fn fail(&mut self, now: Instant, err: Error) {
        if self.ice_refreshing && self.state == State::Connected {
            return self.ice_refresh_failed(now, err);
        }
        let during = err_state(&err).unwrap_or(self.state);
        if let Some(service_time) = err.service_time_from_skew_error() {
            self.observe_service_time(now, service_time, Duration::ZERO);
            if self.skew_corrections < 3 {
                // Re-sign with the corrected clock right away; this is not a key problem.
                self.skew_corrections += 1;
                self.emit(Event::Error(err));
                let retry = if during == State::Connecting {
                    State::Ready
                } else {
                    during
                };
                return self.enter(now, retry);
            }
        }
        let next = match &err {
            Error::Service { status: 404, .. } if during == State::Delete => Some(State::Deleted),
            Error::Service {
                code: Some(ErrorCode::VersionMismatch),
                ..
            } if during == State::Delete => Some(State::Describe),
            Error::Service {
                status: 401 | 403, ..
            } if self.auth_failures == 0 => {
                self.auth_failures += 1;
                Some(State::GetCredentials)
            }
            e if e.is_auth() => return self.finish(Some(err)),
            Error::Service { status: 404, .. } => match during {
                // Deleting a channel that is already gone: the goal is reached.
                State::Describe if self.deleting => Some(State::Deleted),
                State::Describe
                    if self.config.create_if_missing
                        && matches!(self.config.channel, ChannelRef::Name(_)) =>
                {
                    Some(State::Create)
                }
                State::Describe => {
                    let name = match &self.config.channel {
                        ChannelRef::Name(n) | ChannelRef::Arn(n) => n.clone(),
                    };
                    return self.finish(Some(Error::ChannelNotFound(name)));
                }
                State::Create => None,
                _ if matches!(self.config.channel, ChannelRef::Name(_)) => {
                    // A stale ARN (the channel was re-created): forget what was cached.
                    self.session.channel_arn = None;
                    self.session.wss_endpoint = None;
                    self.session.https_endpoint = None;
                    Some(State::Describe)
                }
                _ => None,
            },
            Error::Service {
                code: Some(ErrorCode::ResourceInUse),
                ..
            } if during == State::Create => {
                Some(State::Describe) // someone else created it meanwhile
            }
            _ => None,
        };
        if let Some(state) = next {
            // A missing channel that we are about to create is the normal path, not an error.
            if state != State::Create {
                self.emit(Event::Error(err));
            }
            return self.enter(now, state);
        }
        let retryable = err.is_retryable()
            || matches!(
                err,
                Error::Service { status: 404, .. } | Error::InvalidResponse { .. }
            );
        if !retryable {
            return self.finish(Some(err));
        }
        let Some((attempt, delay)) = self.backoff.next(now) else {
            return self.finish(Some(Error::GaveUp {
                attempts: self.backoff.attempts() + 1,
                last: Box::new(err),
            }));
        };
        let retry_state = match during {
            State::Connected | State::Disconnected => State::Ready,
            State::Connecting => State::GetEndpoint,
            s => s,
        };
        self.emit(Event::Retrying {
            attempt,
            delay,
            cause: err,
        });
        if self.state != retry_state {
            self.state = retry_state;
            self.emit(Event::StateChanged(retry_state));
        }
        self.set_timer(Timer::Retry, Some(now + delay));
    }

    pub(super) fn finish(&mut self, err: Option<Error>) {
        self.timers = [None; TIMERS];
        self.in_flight = None;
        self.closed = true;
        if !matches!(self.state, State::Disconnected | State::Deleted) {
            self.state = State::Disconnected;
            self.emit(Event::StateChanged(State::Disconnected));
        }
        self.emit(Event::Closed(err));
    }
}

pub(super) fn err_state(err: &Error) -> Option<State> {
    match err {
        Error::Service { during, .. }
        | Error::Transport { during, .. }
        | Error::Timeout { during, .. }
        | Error::InvalidResponse { during, .. } => Some(*during),
        _ => None,
    }
}
