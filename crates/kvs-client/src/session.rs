//! "A signaling session" as a trait: what peer-connection code needs from signaling, so that
//! it can run on this client or on anything else that carries the same messages (split
//! mode's host, a test double).

use std::future::Future;

use futures_util::Stream;
use kvs_proto::api::{ChannelRole, IceServer};
use kvs_proto::client::{Event, SendError, State};

use crate::SessionError;
use crate::role::Peer;

/// A signaling session of one role. Its events (state changes, messages, errors) come as a
/// stream of [`Event`]s handed out when the session is made.
pub trait SignalingSession: Clone + Send + Sync + 'static {
    /// Whom messages go to: a [`ViewerId`](crate::ViewerId) for a master, the
    /// [`ToMaster`](crate::ToMaster) for a viewer.
    type Peer: Peer;
    /// The session's events, in order; the stream ends after [`Event::Closed`].
    type Events: Stream<Item = Event> + Send + Unpin + 'static;

    /// MASTER or VIEWER.
    fn role(&self) -> ChannelRole;
    /// The current state.
    fn state(&self) -> State;
    /// The current ICE servers (TURN), kept fresh; empty until first fetched.
    fn ice_servers(&self) -> Vec<IceServer>;
    /// Waits until CONNECTED; fails once the session has ended.
    fn connected(&self) -> impl Future<Output = Result<(), SessionError>> + Send;
    /// Sends an SDP offer (the JSON `{"type":"offer","sdp":...}`).
    fn send_offer(
        &self,
        to: &Self::Peer,
        sdp: Vec<u8>,
    ) -> impl Future<Output = Result<(), SendError>> + Send;
    /// Sends an SDP answer.
    fn send_answer(
        &self,
        to: &Self::Peer,
        sdp: Vec<u8>,
    ) -> impl Future<Output = Result<(), SendError>> + Send;
    /// Sends an ICE candidate (the JSON of an `RTCIceCandidateInit`).
    fn send_ice_candidate(
        &self,
        to: &Self::Peer,
        candidate: Vec<u8>,
    ) -> impl Future<Output = Result<(), SendError>> + Send;
}
