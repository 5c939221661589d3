//! KVS-style time-limited TURN credentials: what GetIceServerConfig hands out and what the
//! embedded TURN server accepts. Pure: the secret and the time come in as arguments.
//!
//! The user name is `<expiry unix seconds>:` + base64(`"v1:" + ChannelARN`), as the real
//! service issues it; the password is base64(HMAC-SHA256(secret, user name)), 32 bytes like
//! the real ones. The TURN server recomputes the password from the user name alone, so no
//! state is shared between the two.

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

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use kvs_proto::api::IceServer;
use ring::hmac;

/// Seconds TURN credentials stay valid (the documented fixed value).
pub const TURN_TTL_SECS: u32 = 300;

/// Why a TURN user name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TurnAuthError {
    /// Not `<expiry>:<base64("v1:" + arn)>`.
    #[error("TURN user name is not one GetIceServerConfig issues; fetch a new ICE configuration")]
    Malformed,
    /// The expiry has passed.
    #[error("TURN credentials expired; fetch a new ICE configuration (they last 300 s)")]
    Expired,
}

/// Mints and checks the credentials with one secret.
#[derive(Clone)]
pub struct TurnCredentials {
    key: hmac::Key,
}

impl std::fmt::Debug for TurnCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TurnCredentials { key: <redacted> }")
    }
}

impl TurnCredentials {
    /// Credentials keyed by `secret` (random per service start).
    pub fn new(secret: &[u8; 32]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    /// The password that goes with `username`.
    pub fn password(&self, username: &str) -> String {
        BASE64.encode(hmac::sign(&self.key, username.as_bytes()).as_ref())
    }

    /// One ICE server entry per element of `servers` (each a list of URIs), for `channel_arn`,
    /// valid for [`TURN_TTL_SECS`] from `now`.
    pub fn issue(
        &self,
        channel_arn: &str,
        servers: &[Vec<String>],
        now: SystemTime,
    ) -> Vec<IceServer> {
        let expiry = now
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
            .saturating_add(u64::from(TURN_TTL_SECS));
        let username = format!("{expiry}:{}", BASE64.encode(format!("v1:{channel_arn}")));
        let password = self.password(&username);
        servers
            .iter()
            .map(|uris| IceServer {
                uris: uris.clone(),
                username: username.clone(),
                password: password.clone(),
                ttl: TURN_TTL_SECS,
            })
            .collect()
    }

    /// Checks a user name presented to the TURN server; returns the channel ARN it was issued
    /// for and the password to verify the request's integrity with.
    pub fn check(
        &self,
        username: &str,
        now: SystemTime,
    ) -> Result<(String, String), TurnAuthError> {
        let (expiry, tag) = username.split_once(':').ok_or(TurnAuthError::Malformed)?;
        let expiry: u64 = expiry.parse().map_err(|_| TurnAuthError::Malformed)?;
        let arn = BASE64
            .decode(tag)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.strip_prefix("v1:").map(str::to_owned))
            .ok_or(TurnAuthError::Malformed)?;
        // Compared in seconds: an expiry near u64::MAX must not overflow `SystemTime`.
        let now_secs = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        if expiry < now_secs {
            return Err(TurnAuthError::Expired);
        }
        Ok((arn, self.password(username)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const ARN: &str =
        "arn:aws:kinesisvideo:us-west-2:848161169354:channel/ScaryTestChannel/1606901298484";

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn credentials_have_the_real_shape() {
        let creds = TurnCredentials::new(&[7; 32]);
        let servers = vec![
            vec!["turn:a:1?transport=udp".to_owned()],
            vec!["turn:a:2?transport=udp".to_owned()],
        ];
        let list = creds.issue(ARN, &servers, at(1_610_088_402));
        assert_eq!(list.len(), 2);
        // The user name the real service issued for this ARN, 300 s later.
        assert_eq!(
            list[0].username,
            "1610088702:djE6YXJuOmF3czpraW5lc2lzdmlkZW86dXMtd2VzdC0yOjg0ODE2MTE2OTM1NDpjaGFubmVsL1NjYXJ5VGVzdENoYW5uZWwvMTYwNjkwMTI5ODQ4NA=="
        );
        assert_eq!(list[0].ttl, 300);
        assert_eq!(BASE64.decode(&list[0].password).unwrap().len(), 32);
        let (arn, password) = creds.check(&list[0].username, at(1_610_088_500)).unwrap();
        assert_eq!(arn, ARN);
        assert_eq!(password, list[0].password);
    }

    #[test]
    fn expired_forged_and_garbled_names_are_refused() {
        let creds = TurnCredentials::new(&[7; 32]);
        let user = creds.issue(ARN, &[vec![]], at(1000))[0].username.clone();
        assert_eq!(creds.check(&user, at(1301)), Err(TurnAuthError::Expired));
        for bad in ["", "123", "x:djE6", "1:!!!", "1:YWJj"] {
            assert_eq!(
                creds.check(bad, at(0)),
                Err(TurnAuthError::Malformed),
                "{bad}"
            );
        }
        // The largest expiry there is: accepted as far-future, not a panic.
        let far = format!("{}:{}", u64::MAX, BASE64.encode(format!("v1:{ARN}")));
        assert_eq!(creds.check(&far, at(1000)).unwrap().0, ARN);
        let other = TurnCredentials::new(&[8; 32]);
        assert_ne!(other.password(&user), creds.password(&user));
    }
}
