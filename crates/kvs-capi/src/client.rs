//! The Rust signaling client in the role chosen at run time, as C programs choose it.

use kvs_client::{
    Action, ChannelRole, ClientOptions, Events, IceServer, Master, Metrics, SendError,
    SessionError, SignalingClient, State, ToMaster, TransportError, Viewer, ViewerId,
};

/// A master or viewer session.
#[derive(Debug, Clone)]
pub(crate) enum AnyClient {
    Master(SignalingClient<Master>),
    Viewer(SignalingClient<Viewer>),
}

macro_rules! both {
    ($self:expr, $c:ident => $body:expr) => {
        match $self {
            AnyClient::Master($c) => $body,
            AnyClient::Viewer($c) => $body,
        }
    };
}

impl AnyClient {
    /// A session in state NEW on the current runtime.
    pub(crate) fn new(
        role: ChannelRole,
        options: ClientOptions,
    ) -> Result<(Self, Events), TransportError> {
        Ok(match role {
            ChannelRole::Master => {
                let (c, e) = SignalingClient::<Master>::new(options)?;
                (Self::Master(c), e)
            }
            ChannelRole::Viewer => {
                let (c, e) = SignalingClient::<Viewer>::new(options)?;
                (Self::Viewer(c), e)
            }
        })
    }

    pub(crate) fn state(&self) -> State {
        both!(self, c => c.state())
    }

    pub(crate) async fn fetch(&self) -> Result<(), SessionError> {
        both!(self, c => c.fetch().await)
    }

    pub(crate) async fn connect(&self) -> Result<(), SessionError> {
        both!(self, c => c.connect().await)
    }

    pub(crate) async fn disconnect(&self) -> Result<(), SessionError> {
        both!(self, c => c.disconnect().await)
    }

    pub(crate) async fn delete_channel(&self) -> Result<(), SessionError> {
        both!(self, c => c.delete_channel().await)
    }

    pub(crate) async fn close(&self) {
        both!(self, c => c.close().await)
    }

    pub(crate) async fn metrics(&self) -> Metrics {
        both!(self, c => c.metrics().await)
    }

    pub(crate) fn ice_servers(&self) -> Vec<IceServer> {
        both!(self, c => c.ice_servers())
    }

    /// Sends `payload`; a master addresses the viewer `peer`, a viewer always its master
    /// (its `peer` is ignored, as the service ignores it).
    pub(crate) async fn send(
        &self,
        action: Action,
        peer: &str,
        payload: Vec<u8>,
        correlation_id: Option<&str>,
    ) -> Result<(), SendError> {
        match self {
            Self::Master(c) => {
                if peer.is_empty() {
                    return Err(SendError::MissingRecipient);
                }
                let viewer = ViewerId::new(peer)?;
                c.send_message(&viewer, action, payload, correlation_id)
                    .await
            }
            Self::Viewer(c) => {
                c.send_message(&ToMaster, action, payload, correlation_id)
                    .await
            }
        }
    }
}
