//! The socket the TURN server reads through. It answers the requests the service refuses
//! (an unknown, garbled or expired user name; a MESSAGE-INTEGRITY that does not check out)
//! itself, with 401 Unauthorized carrying REALM and NONCE as RFC 8489 §9.2.4 requires, and
//! hands everything else to the TURN server. The `turn` crate would answer these cases with
//! 400 Bad Request from a private function an `AuthHandler` cannot change, and log each at
//! ERROR; clients then report a different error than the real service causes.

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

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use stun::attributes::{ATTR_MESSAGE_INTEGRITY, ATTR_NONCE, ATTR_REALM, ATTR_USERNAME};
use stun::error_code::{CODE_UNAUTHORIZED, ErrorCodeAttribute};
use stun::fingerprint::FINGERPRINT;
use stun::integrity::MessageIntegrity;
use stun::message::{CLASS_ERROR_RESPONSE, CLASS_REQUEST, Message, MessageType, Setter};
use stun::textattrs::TextAttribute;
use tokio::net::UdpSocket;
use tracing::debug;
use webrtc_util::Conn;

use crate::clock::ServiceClock;
use kvs_service_core::{TurnAuthError, TurnCredentials};

/// Why a TURN request was answered with 401 before the TURN server saw it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refused {
    /// The user name is not one the service issued, or it expired.
    #[error("{0}")]
    UserName(TurnAuthError),
    /// The user name is valid but the request was not signed with its password.
    #[error("MESSAGE-INTEGRITY does not match the user name's password")]
    Integrity,
}

/// Decides about one datagram: `Some` with the 401 answer to send back when the request is
/// refused, `None` when it goes on to the TURN server (anything that is not an authenticated
/// STUN request, and malformed ones, which the server answers itself).
pub(crate) fn refuse(
    packet: &[u8],
    credentials: &TurnCredentials,
    realm: &str,
    now: SystemTime,
) -> Option<(Vec<u8>, Refused)> {
    if !stun::message::is_message(packet) {
        return None; // ChannelData
    }
    let mut request = Message::new();
    request.unmarshal_binary(packet).ok()?;
    if request.typ.class != CLASS_REQUEST || !request.contains(ATTR_MESSAGE_INTEGRITY) {
        return None;
    }
    let username = TextAttribute::get_from_as(&request, ATTR_USERNAME).ok()?;
    let their_realm = TextAttribute::get_from_as(&request, ATTR_REALM).ok()?;
    let nonce = TextAttribute::get_from_as(&request, ATTR_NONCE).ok()?;
    let reason = match credentials.check(&username.text, now) {
        Err(e) => Refused::UserName(e),
        Ok((_, password)) => {
            let key = MessageIntegrity::new_long_term_integrity(
                username.text,
                their_realm.text,
                password,
            );
            if key.check(&mut request.clone()).is_ok() {
                return None;
            }
            Refused::Integrity
        }
    };
    // The request's own nonce is still the server's: the client retries with it at once.
    let answer = unauthorized(&request, realm, nonce.text).ok()?;
    Some((answer, reason))
}

fn unauthorized(request: &Message, realm: &str, nonce: String) -> Result<Vec<u8>, stun::Error> {
    let mut same_transaction = Message::new();
    same_transaction.transaction_id = request.transaction_id;
    let attributes: [Box<dyn Setter>; 6] = [
        Box::new(same_transaction),
        Box::new(MessageType::new(request.typ.method, CLASS_ERROR_RESPONSE)),
        Box::new(ErrorCodeAttribute {
            code: CODE_UNAUTHORIZED,
            reason: b"Unauthorized".to_vec(),
        }),
        Box::new(TextAttribute::new(ATTR_REALM, realm.to_owned())),
        Box::new(TextAttribute::new(ATTR_NONCE, nonce)),
        Box::new(FINGERPRINT),
    ];
    let mut answer = Message::new();
    answer.build(&attributes)?;
    Ok(answer.raw)
}

/// A UDP socket that answers refused TURN requests itself (see the module docs).
pub(crate) struct RefusingSocket {
    socket: UdpSocket,
    credentials: TurnCredentials,
    realm: String,
    clock: ServiceClock,
}

impl RefusingSocket {
    pub(crate) fn new(
        socket: UdpSocket,
        credentials: TurnCredentials,
        realm: &str,
        clock: ServiceClock,
    ) -> Arc<Self> {
        Arc::new(Self {
            socket,
            credentials,
            realm: realm.to_owned(),
            clock,
        })
    }
}

#[async_trait]
impl Conn for RefusingSocket {
    async fn connect(&self, addr: SocketAddr) -> webrtc_util::Result<()> {
        Ok(self.socket.connect(addr).await?)
    }

    async fn recv(&self, buf: &mut [u8]) -> webrtc_util::Result<usize> {
        Ok(self.recv_from(buf).await?.0)
    }

    async fn recv_from(&self, buf: &mut [u8]) -> webrtc_util::Result<(usize, SocketAddr)> {
        loop {
            let (len, from) = self.socket.recv_from(buf).await?;
            let packet = buf.get(..len).unwrap_or_default();
            match refuse(packet, &self.credentials, &self.realm, self.clock.now()) {
                None => return Ok((len, from)),
                Some((answer, reason)) => {
                    debug!(%from, %reason, "TURN request refused with 401");
                    if let Err(e) = self.socket.send_to(&answer, from).await {
                        debug!(%from, error = %e, "cannot send the 401");
                    }
                }
            }
        }
    }

    async fn send(&self, buf: &[u8]) -> webrtc_util::Result<usize> {
        Ok(self.socket.send(buf).await?)
    }

    async fn send_to(&self, buf: &[u8], target: SocketAddr) -> webrtc_util::Result<usize> {
        Ok(self.socket.send_to(buf, target).await?)
    }

    fn local_addr(&self) -> webrtc_util::Result<SocketAddr> {
        Ok(self.socket.local_addr()?)
    }

    fn remote_addr(&self) -> Option<SocketAddr> {
        self.socket.peer_addr().ok()
    }

    async fn close(&self) -> webrtc_util::Result<()> {
        Ok(())
    }

    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use stun::message::{Getter, METHOD_ALLOCATE};

    use super::*;

    const ARN: &str = "arn:aws:kinesisvideo:us-west-2:123456789012:channel/t/1";

    fn request(username: &str, password: &str, realm: &str) -> Vec<u8> {
        let mut m = Message::new();
        let key = MessageIntegrity::new_long_term_integrity(
            username.to_owned(),
            realm.to_owned(),
            password.to_owned(),
        );
        let attributes: [Box<dyn Setter>; 6] = [
            Box::new(stun::agent::TransactionId::new()),
            Box::new(MessageType::new(METHOD_ALLOCATE, CLASS_REQUEST)),
            Box::new(TextAttribute::new(ATTR_USERNAME, username.to_owned())),
            Box::new(TextAttribute::new(ATTR_REALM, realm.to_owned())),
            Box::new(TextAttribute::new(ATTR_NONCE, "n0nce".to_owned())),
            Box::new(key),
        ];
        m.build(&attributes).unwrap();
        m.raw
    }

    #[test]
    fn wrong_passwords_and_expired_names_get_401_with_realm_and_nonce() {
        let creds = TurnCredentials::new(&[3; 32]);
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let issued = creds.issue(ARN, &[vec![]], now).remove(0);
        let good = request(&issued.username, &issued.password, "kinesisvideo");
        assert_eq!(refuse(&good, &creds, "kinesisvideo", now), None);

        let wrong = request(&issued.username, "not-the-password", "kinesisvideo");
        let later = now + Duration::from_secs(301);
        for (packet, at, reason) in [
            (&wrong, now, Refused::Integrity),
            (&good, later, Refused::UserName(TurnAuthError::Expired)),
        ] {
            let (answer, why) = refuse(packet, &creds, "kinesisvideo", at).unwrap();
            assert_eq!(why, reason);
            let mut m = Message::new();
            m.unmarshal_binary(&answer).unwrap();
            assert_eq!(
                m.typ,
                MessageType::new(METHOD_ALLOCATE, CLASS_ERROR_RESPONSE)
            );
            let mut code = ErrorCodeAttribute::default();
            code.get_from(&m).unwrap();
            assert!(code.code == CODE_UNAUTHORIZED, "{code}");
            let realm = TextAttribute::get_from_as(&m, ATTR_REALM).unwrap();
            assert_eq!(realm.text, "kinesisvideo");
            let nonce = TextAttribute::get_from_as(&m, ATTR_NONCE).unwrap();
            assert_eq!(nonce.text, "n0nce");
        }
    }

    #[test]
    fn everything_else_goes_to_the_turn_server() {
        let creds = TurnCredentials::new(&[3; 32]);
        let now = UNIX_EPOCH;
        assert_eq!(refuse(&[0x40, 0, 0, 4, 1, 2, 3, 4], &creds, "r", now), None);
        assert_eq!(refuse(b"", &creds, "r", now), None);
        let mut unauthenticated = Message::new();
        unauthenticated
            .build(&[
                Box::new(stun::agent::TransactionId::new()),
                Box::new(MessageType::new(METHOD_ALLOCATE, CLASS_REQUEST)),
            ])
            .unwrap();
        assert_eq!(refuse(&unauthenticated.raw, &creds, "r", now), None);
        let good = request("1:garbled", "p", "r");
        let mut truncated = good.clone();
        truncated.truncate(good.len() - 7);
        assert_eq!(refuse(&truncated, &creds, "r", now), None);
    }
}
