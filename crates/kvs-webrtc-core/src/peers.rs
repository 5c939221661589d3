//! The master's viewer peer connections, without IO: one per viewer client id, at most
//! [`PeersConfig::max_peers`] (the service's 10 viewers per channel). Signaling events and
//! the WebRTC stack's reports go in; [`Action`]s say what to do with which peer connection.
//!
//! - An offer opens a peer connection for its viewer; a new offer from the same client id
//!   closes the old one and opens a fresh one ([`CloseReason::Replaced`]).
//! - Remote candidates that arrive before the remote description is set (which is
//!   asynchronous in WebRTC stacks) are held, up to [`PeersConfig::max_held_candidates`] per
//!   viewer, and applied right after it, in order.
//! - KVS sends nothing when a viewer leaves, so departure shows only in ICE: a peer connection
//!   whose ICE fails is closed at once; one that stays disconnected past
//!   [`PeersConfig::disconnected_timeout`] is closed then. The others are untouched.
//!
//! Each peer connection has a generation, so reports about a replaced one are ignored. Time
//! comes in as an argument: [`Peers::poll_timeout`] says when to call
//! [`Peers::handle_timeout`].

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Limits of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeersConfig {
    /// Most peer connections at once (default 10, the service's viewers per channel).
    pub max_peers: usize,
    /// A peer connection whose ICE stays disconnected this long is closed (default 10 s).
    pub disconnected_timeout: Duration,
    /// Most remote candidates held for one viewer before its remote description is set
    /// (default 64); later ones are dropped.
    pub max_held_candidates: usize,
}

impl Default for PeersConfig {
    fn default() -> Self {
        Self {
            max_peers: 10,
            disconnected_timeout: Duration::from_secs(10),
            max_held_candidates: 64,
        }
    }
}

/// Which peer connection of a viewer: the generation increases with each offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Generation(pub u64);

/// ICE connection states as the table needs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IceState {
    /// Checking or not started.
    Checking,
    /// Connected or completed.
    Connected,
    /// Consent lost for now; may come back.
    Disconnected,
    /// Given up.
    Failed,
}

/// Why a peer connection is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The same viewer sent a new offer.
    Replaced,
    /// ICE failed.
    IceFailed,
    /// ICE stayed disconnected past the timeout: the viewer is gone.
    DisconnectedTooLong,
    /// The offer or answer could not be applied (SDP negotiation failed), or the peer
    /// connection could not be built.
    Unanswerable,
    /// The peer closed the peer connection.
    PeerClosed,
    /// The viewer's offer got no answer in time.
    NoAnswer,
    /// The master or viewer is shutting down.
    Stopped,
}

impl std::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Replaced => "replaced by a new offer from the same client id",
            Self::IceFailed => "ICE failed",
            Self::DisconnectedTooLong => {
                "ICE stayed disconnected past the timeout (the peer is gone)"
            }
            Self::Unanswerable => "the session description could not be applied",
            Self::PeerClosed => "the peer closed it",
            Self::NoAnswer => "the master did not answer the offer",
            Self::Stopped => "shutting down",
        })
    }
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Create a peer connection for `viewer`, set `offer` as its remote description and answer
    /// it; report [`Peers::remote_description_set`] once the description is set.
    Open {
        /// The viewer's client id.
        viewer: String,
        /// Its generation.
        generation: Generation,
        /// The offer (the JSON the viewer sent).
        offer: Vec<u8>,
    },
    /// Add a remote ICE candidate to that peer connection.
    AddCandidate {
        /// The viewer.
        viewer: String,
        /// Which of its peer connections.
        generation: Generation,
        /// The candidate (the JSON the viewer sent).
        candidate: Vec<u8>,
    },
    /// Close that peer connection and free what it holds.
    Close {
        /// The viewer.
        viewer: String,
        /// Which of its peer connections.
        generation: Generation,
        /// Why.
        reason: CloseReason,
    },
}

/// Why an offer or candidate was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Already [`PeersConfig::max_peers`] other viewers have peer connections.
    #[error("already {max} viewers have peer connections (the channel's viewer limit)")]
    TooManyPeers {
        /// The limit.
        max: usize,
    },
    /// A candidate from a viewer with no peer connection (no offer yet, or closed).
    #[error(
        "an ICE candidate from a viewer without a peer connection: it sent no offer, or its peer connection was closed"
    )]
    NoPeer,
    /// More candidates held for this viewer than the limit, before its remote description.
    #[error(
        "more than {max} ICE candidates before the viewer's offer was applied; later ones are dropped"
    )]
    TooManyHeld {
        /// The limit.
        max: usize,
    },
}

#[derive(Debug)]
struct Peer {
    generation: Generation,
    /// Candidates waiting for the remote description; `None` once it is set.
    held: Option<Vec<Vec<u8>>>,
    disconnected_since: Option<Instant>,
}

/// The master's peer connections, by viewer client id.
#[derive(Debug, Default)]
pub struct Peers {
    config: PeersConfig,
    peers: HashMap<String, Peer>,
    next_generation: u64,
}

impl Peers {
    /// An empty table.
    pub fn new(config: PeersConfig) -> Self {
        Self {
            config,
            peers: HashMap::new(),
            next_generation: 0,
        }
    }

    /// Live peer connections.
    pub fn len(&self) -> usize {
        self.peers.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }

    /// The live generation of `viewer`'s peer connection.
    pub fn generation(&self, viewer: &str) -> Option<Generation> {
        self.peers.get(viewer).map(|p| p.generation)
    }

    /// An SDP offer from `viewer`: a fresh peer connection (closing the viewer's old one).
    pub fn offer(&mut self, viewer: &str, offer: Vec<u8>) -> Result<Vec<Action>, Refused> {
        let mut actions = Vec::new();
        if let Some(old) = self.peers.remove(viewer) {
            actions.push(Action::Close {
                viewer: viewer.to_owned(),
                generation: old.generation,
                reason: CloseReason::Replaced,
            });
        } else if self.peers.len() >= self.config.max_peers {
            return Err(Refused::TooManyPeers {
                max: self.config.max_peers,
            });
        }
        let generation = Generation(self.next_generation);
        self.next_generation = self.next_generation.wrapping_add(1);
        self.peers.insert(
            viewer.to_owned(),
            Peer {
                generation,
                held: Some(Vec::new()),
                disconnected_since: None,
            },
        );
        actions.push(Action::Open {
            viewer: viewer.to_owned(),
            generation,
            offer,
        });
        Ok(actions)
    }

    /// A remote ICE candidate from `viewer`: added now, or held until the remote description
    /// is set.
    pub fn candidate(
        &mut self,
        viewer: &str,
        candidate: Vec<u8>,
    ) -> Result<Option<Action>, Refused> {
        let peer = self.peers.get_mut(viewer).ok_or(Refused::NoPeer)?;
        match &mut peer.held {
            None => Ok(Some(Action::AddCandidate {
                viewer: viewer.to_owned(),
                generation: peer.generation,
                candidate,
            })),
            Some(held) if held.len() >= self.config.max_held_candidates => {
                Err(Refused::TooManyHeld {
                    max: self.config.max_held_candidates,
                })
            }
            Some(held) => {
                held.push(candidate);
                Ok(None)
            }
        }
    }

    /// The remote description of that peer connection is set: the held candidates, in the
    /// order they came. Nothing for a replaced or closed generation.
    pub fn remote_description_set(&mut self, viewer: &str, generation: Generation) -> Vec<Action> {
        let Some(peer) = self
            .peers
            .get_mut(viewer)
            .filter(|p| p.generation == generation)
        else {
            return Vec::new();
        };
        peer.held
            .take()
            .unwrap_or_default()
            .into_iter()
            .map(|candidate| Action::AddCandidate {
                viewer: viewer.to_owned(),
                generation,
                candidate,
            })
            .collect()
    }

    /// The ICE state of that peer connection changed at `now`: failed closes it; disconnected
    /// starts the timeout; connected ends it.
    pub fn ice_state(
        &mut self,
        now: Instant,
        viewer: &str,
        generation: Generation,
        state: IceState,
    ) -> Option<Action> {
        let peer = self
            .peers
            .get_mut(viewer)
            .filter(|p| p.generation == generation)?;
        match state {
            IceState::Failed => self.close(viewer, CloseReason::IceFailed),
            IceState::Disconnected => {
                peer.disconnected_since.get_or_insert(now);
                None
            }
            IceState::Checking | IceState::Connected => {
                peer.disconnected_since = None;
                None
            }
        }
    }

    /// That peer connection ended by itself (its setup failed, or the peer closed it): its
    /// entry goes, with a [`Action::Close`] for the driver to make sure. Nothing for a
    /// replaced or closed generation.
    pub fn ended(
        &mut self,
        viewer: &str,
        generation: Generation,
        reason: CloseReason,
    ) -> Option<Action> {
        self.peers
            .get(viewer)
            .filter(|p| p.generation == generation)?;
        self.close(viewer, reason)
    }

    /// Closes every peer connection (shutting down).
    pub fn close_all(&mut self) -> Vec<Action> {
        let mut viewers: Vec<String> = self.peers.keys().cloned().collect();
        viewers.sort();
        viewers
            .into_iter()
            .filter_map(|viewer| self.close(&viewer, CloseReason::Stopped))
            .collect()
    }

    /// When [`handle_timeout`](Self::handle_timeout) has something to close.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.peers
            .values()
            .filter_map(|p| p.disconnected_since)
            .min()
            .and_then(|since| since.checked_add(self.config.disconnected_timeout))
    }

    /// Closes the peer connections disconnected for the timeout by `now`.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<Action> {
        let timeout = self.config.disconnected_timeout;
        let mut gone: Vec<String> = self
            .peers
            .iter()
            .filter(|(_, p)| {
                p.disconnected_since
                    .and_then(|since| since.checked_add(timeout))
                    .is_some_and(|at| at <= now)
            })
            .map(|(viewer, _)| viewer.clone())
            .collect();
        gone.sort();
        gone.into_iter()
            .filter_map(|viewer| self.close(&viewer, CloseReason::DisconnectedTooLong))
            .collect()
    }

    fn close(&mut self, viewer: &str, reason: CloseReason) -> Option<Action> {
        let peer = self.peers.remove(viewer)?;
        Some(Action::Close {
            viewer: viewer.to_owned(),
            generation: peer.generation,
            reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::disallowed_methods)] // the origin of virtual time; nothing reads it again
    fn t0() -> Instant {
        Instant::now()
    }

    fn open(peers: &mut Peers, viewer: &str) -> Generation {
        let actions = peers.offer(viewer, b"offer".to_vec()).unwrap();
        match actions.last() {
            Some(Action::Open { generation, .. }) => *generation,
            other => panic!("an Open: {other:?}"),
        }
    }

    #[test]
    fn candidates_before_the_remote_description_are_held_then_applied_in_order() {
        let mut peers = Peers::new(PeersConfig::default());
        let g = open(&mut peers, "v1");
        assert_eq!(peers.candidate("v1", b"c1".to_vec()), Ok(None));
        assert_eq!(peers.candidate("v1", b"c2".to_vec()), Ok(None));
        let applied = peers.remote_description_set("v1", g);
        let order: Vec<&[u8]> = applied
            .iter()
            .map(|a| match a {
                Action::AddCandidate { candidate, .. } => candidate.as_slice(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(order, [b"c1", b"c2"]);
        assert!(matches!(
            peers.candidate("v1", b"c3".to_vec()),
            Ok(Some(Action::AddCandidate { .. }))
        ));
        assert_eq!(
            peers.candidate("nobody", b"c".to_vec()),
            Err(Refused::NoPeer)
        );
    }

    #[test]
    fn held_candidates_are_bounded() {
        let config = PeersConfig {
            max_held_candidates: 2,
            ..PeersConfig::default()
        };
        let mut peers = Peers::new(config);
        open(&mut peers, "v1");
        peers.candidate("v1", b"a".to_vec()).unwrap();
        peers.candidate("v1", b"b".to_vec()).unwrap();
        assert_eq!(
            peers.candidate("v1", b"c".to_vec()),
            Err(Refused::TooManyHeld { max: 2 })
        );
    }

    #[test]
    fn a_new_offer_from_the_same_viewer_replaces_its_peer_connection() {
        let mut peers = Peers::new(PeersConfig::default());
        let old = open(&mut peers, "v1");
        peers.candidate("v1", b"old".to_vec()).unwrap();
        let actions = peers.offer("v1", b"offer 2".to_vec()).unwrap();
        assert_eq!(
            actions.first(),
            Some(&Action::Close {
                viewer: "v1".into(),
                generation: old,
                reason: CloseReason::Replaced
            })
        );
        let new = peers.generation("v1").unwrap();
        assert_ne!(new, old);
        assert!(
            peers.remote_description_set("v1", old).is_empty(),
            "reports about the old one are ignored"
        );
        assert!(
            peers.remote_description_set("v1", new).is_empty(),
            "the old one's held candidates went with it"
        );
        assert_eq!(peers.len(), 1);
    }

    #[test]
    fn ten_viewers_at_most_and_a_freed_place_is_taken() {
        let mut peers = Peers::new(PeersConfig::default());
        let gens: Vec<Generation> = (0..10)
            .map(|v| open(&mut peers, &format!("v{v}")))
            .collect();
        assert_eq!(
            peers.offer("v10", b"o".to_vec()),
            Err(Refused::TooManyPeers { max: 10 })
        );
        assert!(
            peers.offer("v3", b"again".to_vec()).is_ok(),
            "a known viewer may re-offer"
        );
        let closed = peers.ice_state(t0(), "v0", gens[0], IceState::Failed);
        assert!(matches!(
            closed,
            Some(Action::Close {
                reason: CloseReason::IceFailed,
                ..
            })
        ));
        assert_eq!(peers.len(), 9);
        open(&mut peers, "v10");
        assert_eq!(peers.len(), 10);
    }

    #[test]
    fn a_viewer_that_stays_disconnected_is_closed_and_the_others_are_untouched() {
        let t0 = t0();
        let mut peers = Peers::new(PeersConfig::default());
        let gone = open(&mut peers, "gone");
        let flaky = open(&mut peers, "flaky");
        open(&mut peers, "steady");
        assert_eq!(peers.poll_timeout(), None);
        peers.ice_state(t0, "gone", gone, IceState::Disconnected);
        peers.ice_state(
            t0 + Duration::from_secs(2),
            "flaky",
            flaky,
            IceState::Disconnected,
        );
        // A second report does not restart the timer.
        peers.ice_state(
            t0 + Duration::from_secs(5),
            "gone",
            gone,
            IceState::Disconnected,
        );
        peers.ice_state(
            t0 + Duration::from_secs(6),
            "flaky",
            flaky,
            IceState::Connected,
        );
        let due = peers.poll_timeout().unwrap();
        assert_eq!(due, t0 + Duration::from_secs(10));
        assert!(
            peers
                .handle_timeout(due - Duration::from_millis(1))
                .is_empty()
        );
        assert_eq!(
            peers.handle_timeout(due),
            [Action::Close {
                viewer: "gone".into(),
                generation: gone,
                reason: CloseReason::DisconnectedTooLong
            }]
        );
        assert_eq!(peers.len(), 2);
        assert_eq!(peers.poll_timeout(), None, "flaky came back");
        assert_eq!(
            peers.ice_state(t0, "gone", gone, IceState::Failed),
            None,
            "a closed one's reports are ignored"
        );
    }

    #[test]
    fn a_peer_connection_that_ended_by_itself_leaves_the_table_once() {
        let mut peers = Peers::new(PeersConfig::default());
        let old = open(&mut peers, "v1");
        let new = open(&mut peers, "v1");
        assert_eq!(
            peers.ended("v1", old, CloseReason::Unanswerable),
            None,
            "a replaced one is gone already"
        );
        assert_eq!(
            peers.ended("v1", new, CloseReason::PeerClosed),
            Some(Action::Close {
                viewer: "v1".into(),
                generation: new,
                reason: CloseReason::PeerClosed
            })
        );
        assert_eq!(peers.ended("v1", new, CloseReason::PeerClosed), None);
        assert!(peers.is_empty());
        open(&mut peers, "b");
        open(&mut peers, "a");
        let closed: Vec<String> = peers
            .close_all()
            .into_iter()
            .map(|a| match a {
                Action::Close {
                    viewer,
                    reason: CloseReason::Stopped,
                    ..
                } => viewer,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(closed, ["a", "b"]);
        assert!(peers.is_empty());
    }
}
