//! Why ICE failed, in words a person can act on (the seed's "ICE connection issues"): from
//! what was gathered and received, whether TURN was offered and usable, and the transport
//! policy, [`diagnose`] picks the most likely cause and what to check. Pure: the peer
//! connection's driver counts candidates as they come and calls it when ICE fails.

use std::fmt;

/// Candidates of each type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CandidateCounts {
    /// Host candidates (local addresses).
    pub host: u32,
    /// Server-reflexive candidates (found through STUN).
    pub srflx: u32,
    /// Relay candidates (allocated on a TURN server).
    pub relay: u32,
}

impl CandidateCounts {
    /// Counts one candidate from its `candidate:` attribute (the `typ` field of RFC 8839);
    /// peer-reflexive and unreadable lines count as nothing.
    pub fn count(&mut self, candidate: &str) {
        let mut fields = candidate.split_ascii_whitespace();
        let kind = fields.by_ref().find(|f| *f == "typ").and(fields.next());
        let slot = match kind {
            Some("host") => &mut self.host,
            Some("srflx") => &mut self.srflx,
            Some("relay") => &mut self.relay,
            _ => return,
        };
        *slot = slot.saturating_add(1);
    }

    fn total(&self) -> u32 {
        self.host
            .saturating_add(self.srflx)
            .saturating_add(self.relay)
    }
}

impl fmt::Display for CandidateCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} host, {} srflx, {} relay",
            self.host, self.srflx, self.relay
        )
    }
}

/// What one peer connection's ICE tried.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IceAttempt {
    /// Our candidates, gathered.
    pub local: CandidateCounts,
    /// The peer's candidates, received over signaling.
    pub remote: CandidateCounts,
    /// TURN URIs the service offered.
    pub turn_offered: u32,
    /// Of those, how many the stack could use (`turn:` over UDP; see `ice_servers`).
    pub turn_usable: u32,
    /// The TURN credentials had expired when ICE failed.
    pub turn_expired: bool,
    /// Relay-only transport policy (`--relay`).
    pub relay_only: bool,
}

/// The most likely cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IceCause {
    /// We gathered no candidate at all.
    NothingGathered,
    /// The peer sent no candidate.
    NothingReceived,
    /// Relay-only, but no TURN server the stack can use was offered.
    RelayWithoutTurn,
    /// Usable TURN servers were offered, but no relay was allocated on any.
    TurnNotAllocated,
    /// Candidates on both sides, and no pair answered.
    NoPairWorked,
}

/// An ICE failure with its cause and the counts behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IceFailure {
    /// The most likely cause.
    pub cause: IceCause,
    /// What was tried.
    pub attempt: IceAttempt,
}

impl std::error::Error for IceFailure {}

impl fmt::Display for IceFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = &self.attempt;
        write!(
            f,
            "ICE failed: gathered {}; received {}; TURN: {} URIs offered, {} usable",
            a.local, a.remote, a.turn_offered, a.turn_usable
        )?;
        if a.relay_only {
            f.write_str("; relay-only policy")?;
        }
        let check = match self.cause {
            IceCause::NothingGathered => {
                "no local candidate: check that a network interface is up and that UDP sockets may be opened"
            }
            IceCause::NothingReceived => {
                "the peer sent no candidate: check that it trickles candidates over signaling (or put them in its SDP)"
            }
            IceCause::RelayWithoutTurn => {
                "relay-only needs a TURN server over UDP: the service offered none this client can use (TURN over TCP or TLS is not supported)"
            }
            IceCause::TurnNotAllocated if a.turn_expired => {
                "no relay was allocated and the TURN credentials had expired: fetch a new ICE configuration (they last 300 s)"
            }
            IceCause::TurnNotAllocated => {
                "no relay was allocated: check that UDP to the TURN server's port is not blocked, and that its credentials are fresh (they last 300 s)"
            }
            IceCause::NoPairWorked if a.local.relay == 0 && a.remote.relay == 0 => {
                "no candidate pair answered and neither side has a relay: UDP between the peers is likely blocked; offer TURN (GetIceServerConfig) and check that UDP to it is allowed"
            }
            IceCause::NoPairWorked => {
                "no candidate pair answered, relays included: check that UDP to the TURN server is allowed on both sides and that the peer is still there"
            }
        };
        write!(f, "; {check}")
    }
}

/// The most likely cause of an ICE failure after `attempt`.
pub fn diagnose(attempt: IceAttempt) -> IceFailure {
    let cause = if attempt.relay_only && attempt.turn_usable == 0 {
        IceCause::RelayWithoutTurn
    } else if attempt.local.total() == 0 && attempt.relay_only {
        // Relay-only gathers nothing but relays: the TURN allocation is what failed.
        IceCause::TurnNotAllocated
    } else if attempt.local.total() == 0 {
        IceCause::NothingGathered
    } else if attempt.remote.total() == 0 {
        IceCause::NothingReceived
    } else if attempt.turn_usable > 0 && attempt.local.relay == 0 {
        IceCause::TurnNotAllocated
    } else {
        IceCause::NoPairWorked
    };
    IceFailure { cause, attempt }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(host: u32, srflx: u32, relay: u32) -> CandidateCounts {
        CandidateCounts { host, srflx, relay }
    }

    #[test]
    fn candidates_are_counted_by_their_type_field() {
        let mut c = CandidateCounts::default();
        for line in [
            "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host",
            "candidate:2 1 udp 1694498815 1.2.3.4 50001 typ srflx raddr 127.0.0.1 rport 50000",
            "candidate:3 1 udp 16777215 127.0.0.1 3478 typ relay raddr 0.0.0.0 rport 0",
            "candidate:4 1 udp 1 127.0.0.1 1 typ prflx",
            "garbage",
            "typ",
            "",
        ] {
            c.count(line);
        }
        assert_eq!(c, counts(1, 1, 1));
    }

    #[test]
    fn each_cause_is_named_with_what_to_check() {
        let both_sides = IceAttempt {
            local: counts(2, 1, 1),
            remote: counts(1, 1, 0),
            turn_offered: 6,
            turn_usable: 2,
            ..IceAttempt::default()
        };
        let cases = [
            (
                IceAttempt {
                    relay_only: true,
                    turn_offered: 4,
                    ..IceAttempt::default()
                },
                IceCause::RelayWithoutTurn,
                "TCP or TLS is not supported",
            ),
            (
                IceAttempt::default(),
                IceCause::NothingGathered,
                "network interface",
            ),
            (
                IceAttempt {
                    local: counts(1, 0, 0),
                    ..IceAttempt::default()
                },
                IceCause::NothingReceived,
                "trickles candidates",
            ),
            (
                IceAttempt {
                    local: counts(1, 0, 0),
                    remote: counts(1, 0, 0),
                    turn_offered: 2,
                    turn_usable: 2,
                    ..IceAttempt::default()
                },
                IceCause::TurnNotAllocated,
                "UDP to the TURN server's port",
            ),
            (
                IceAttempt {
                    relay_only: true,
                    turn_usable: 1,
                    turn_expired: true,
                    ..IceAttempt::default()
                },
                IceCause::TurnNotAllocated,
                "credentials had expired",
            ),
            (
                IceAttempt {
                    local: counts(1, 1, 0),
                    remote: counts(1, 0, 0),
                    ..IceAttempt::default()
                },
                IceCause::NoPairWorked,
                "UDP between the peers is likely blocked",
            ),
            (both_sides, IceCause::NoPairWorked, "relays included"),
        ];
        for (attempt, cause, says) in cases {
            let failure = diagnose(attempt);
            assert_eq!(failure.cause, cause, "{attempt:?}");
            let text = failure.to_string();
            assert!(text.contains(says), "{says} in {text}");
            assert!(text.starts_with("ICE failed: gathered "), "{text}");
        }
        assert!(
            diagnose(both_sides)
                .to_string()
                .contains("gathered 2 host, 1 srflx, 1 relay; received 1 host, 1 srflx, 0 relay; TURN: 6 URIs offered, 2 usable")
        );
    }
}
