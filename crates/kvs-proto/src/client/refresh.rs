//! Temporary credentials refreshed in the background before they expire, as the C SDK does
//! (38 s before, with jitter) but without touching the connected WebSocket: the service
//! checks signatures only on new requests and upgrades, so only the next signature needs
//! the new credentials. Credentials known to have expired are never signed with.

use super::*;

/// The first wait after a failed background refresh; it doubles up to [`REFRESH_RETRY_MAX`].
const REFRESH_RETRY: Duration = Duration::from_secs(1);
const REFRESH_RETRY_MAX: Duration = Duration::from_secs(60);

impl Client {
    /// Arms the refresh for the credentials held: `credentials_refresh_margin` (at most half
    /// their remaining life) plus up to a fifth of it at random before they expire.
    pub(super) fn schedule_credentials_refresh(&mut self, now: Instant) {
        let expiry = self
            .session
            .credentials
            .as_ref()
            .and_then(Credentials::expiry);
        let Some(expiry) = expiry else {
            return self.set_timer(Timer::CredentialsRefresh, None);
        };
        let left = expiry
            .duration_since(self.wall_time(now))
            .unwrap_or_default();
        let margin = self.config.credentials_refresh_margin.min(left / 2);
        let spread = self.refresh_jitter.up_to(margin / 5);
        let at = now + left.saturating_sub(margin + spread);
        self.set_timer(Timer::CredentialsRefresh, Some(at));
    }

    /// Asks the provider for new credentials, unless the flow is fetching them already.
    pub(super) fn refresh_credentials(&mut self) {
        if self.closed || self.credentials_refreshing || self.state == State::GetCredentials {
            return;
        }
        self.credentials_refreshing = true;
        self.outputs.push_back(Output::FetchCredentials);
    }

    /// The answer to a background refresh: keep the new credentials (and arm the next
    /// refresh), or report the failure and try again with backoff.
    pub(super) fn refreshed_credentials(
        &mut self,
        now: Instant,
        result: Result<Credentials, String>,
    ) {
        self.credentials_refreshing = false;
        match result {
            Ok(credentials) => {
                self.credentials_failures = 0;
                let expiry = credentials.expiry();
                self.session.credentials = Some(credentials);
                self.emit(Event::CredentialsRefreshed { expiry });
                self.schedule_credentials_refresh(now);
            }
            Err(message) => {
                self.credentials_failures = self.credentials_failures.saturating_add(1);
                let doublings = self.credentials_failures.saturating_sub(1).min(6);
                let delay = (REFRESH_RETRY * (1u32 << doublings)).min(REFRESH_RETRY_MAX);
                self.emit(Event::Retrying {
                    attempt: self.credentials_failures,
                    delay,
                    cause: Error::Credentials(message),
                });
                self.set_timer(Timer::CredentialsRefresh, Some(now + delay));
            }
        }
    }

    /// The credentials held have expired, by the service-corrected clock.
    pub(super) fn credentials_expired(&self, now: Instant) -> bool {
        self.session
            .credentials
            .as_ref()
            .and_then(Credentials::expiry)
            .is_some_and(|expiry| expiry <= self.wall_time(now))
    }
}
