//! The two roles as types, so that sends cannot be addressed wrongly: a master names the
//! viewer it writes to ([`ViewerId`]), a viewer always writes to its master ([`ToMaster`]).

use std::fmt;

use kvs_proto::api::ChannelRole;
use kvs_proto::client::{ReceivedMessage, SendError};
use kvs_proto::wire;

mod sealed {
    pub trait Sealed {}
}

/// MASTER or VIEWER, as a type parameter of [`SignalingClient`](crate::SignalingClient).
pub trait Role: sealed::Sealed + fmt::Debug + Send + Sync + 'static {
    /// The role on the wire.
    const ROLE: ChannelRole;
    /// Whom this role's messages go to.
    type Peer: Peer;
}

/// The addressee of a message.
pub trait Peer: Clone + fmt::Debug + PartialEq + Send + Sync + 'static {
    /// The `recipientClientId` to send, if any.
    fn recipient_client_id(&self) -> Option<&str>;
    /// Who sent `message`, as an addressee to answer.
    fn sender_of(message: &ReceivedMessage) -> Option<Self>;
    /// The addressee named by a `recipientClientId` read at run time (e.g. from a JSON line),
    /// checked against the role's rules.
    fn from_recipient(recipient: Option<&str>) -> Result<Self, SendError>;
}

/// The channel's master: sends offers, answers and candidates to viewers it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Master;
/// A viewer: its messages always go to the channel's master.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer;

impl sealed::Sealed for Master {}
impl sealed::Sealed for Viewer {}

impl Role for Master {
    const ROLE: ChannelRole = ChannelRole::Master;
    type Peer = ViewerId;
}

impl Role for Viewer {
    const ROLE: ChannelRole = ChannelRole::Viewer;
    type Peer = ToMaster;
}

/// A viewer's client id (`[a-zA-Z0-9_.-]{1,256}`), checked when it is made.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ViewerId(String);

impl ViewerId {
    /// A viewer id; refused when it breaks the service's pattern.
    pub fn new(id: impl Into<String>) -> Result<Self, SendError> {
        let id = id.into();
        if wire::is_valid_id(&id) {
            Ok(Self(id))
        } else {
            Err(SendError::InvalidId("recipientClientId"))
        }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ViewerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Peer for ViewerId {
    fn recipient_client_id(&self) -> Option<&str> {
        Some(&self.0)
    }

    fn sender_of(message: &ReceivedMessage) -> Option<Self> {
        message.sender_client_id.clone().map(Self)
    }

    fn from_recipient(recipient: Option<&str>) -> Result<Self, SendError> {
        Self::new(recipient.ok_or(SendError::MissingRecipient)?)
    }
}

/// The channel's master, the only addressee a viewer has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ToMaster;

impl Peer for ToMaster {
    fn recipient_client_id(&self) -> Option<&str> {
        None
    }

    fn sender_of(message: &ReceivedMessage) -> Option<Self> {
        message.sender_client_id.is_none().then_some(Self)
    }

    fn from_recipient(recipient: Option<&str>) -> Result<Self, SendError> {
        match recipient {
            None => Ok(Self),
            Some(_) => Err(SendError::RecipientNotAllowed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kvs_proto::wire::MessageType;

    #[test]
    fn addressees_follow_the_roles_rules() {
        assert_eq!(
            ViewerId::from_recipient(None),
            Err(SendError::MissingRecipient)
        );
        assert_eq!(
            ViewerId::new("has space"),
            Err(SendError::InvalidId("recipientClientId"))
        );
        assert_eq!(
            ToMaster::from_recipient(Some("v1")),
            Err(SendError::RecipientNotAllowed)
        );
        let from_viewer = ReceivedMessage {
            message_type: MessageType::SdpOffer,
            sender_client_id: Some("v1".into()),
            payload: b"{}".to_vec(),
        };
        assert_eq!(
            ViewerId::sender_of(&from_viewer)
                .unwrap()
                .recipient_client_id(),
            Some("v1")
        );
        assert_eq!(ToMaster::sender_of(&from_viewer), None);
    }
}
