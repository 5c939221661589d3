//! The whole service's decisions behind one value: [`ServiceCore`] holds the channel table,
//! the relay (with the driver's handles), the faults in force and the policy, and
//! each call says what the driver must do: the answer, the snapshot to persist, the
//! connections that left, the frame to deliver to which connection and when. It never reads
//! a clock: machine time comes in as an argument and the service's (skewable) time is derived
//! from it.

use std::time::{Instant, SystemTime};

use kvs_proto::api::{ChannelRole, DescribeSignalingChannelInput, ErrorCode, Operation};
use kvs_proto::rate::Limits;
use kvs_proto::sigv4::Verified;

use crate::admission::{self, Refusal};
use crate::api_error::ApiError;
use crate::auth::Policy;
use crate::channels::{
    AlexaOffer, Answer, Caller, ChannelRecord, Channels, Context, EndpointBase, Snapshot,
    TurnServers,
};
use crate::faults::{Faults, MessageFault};
use crate::iot::{ISSUE_RANDOM_BYTES, IotAnswer, IotIssuer, IotRequest, RoleAlias};
use crate::relay::{AlexaRouted, ConnId, Joined, Relay, Routed};

/// What the service core is configured with.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// The region signatures must be scoped to.
    pub region: String,
    /// The account id in channel ARNs.
    pub account_id: String,
    /// What each key may do; `None` lets every accepted key do everything.
    pub policy: Option<Policy>,
    /// The real service's quotas, or `None` for no rate limits.
    pub limits: Option<Limits>,
    /// The role aliases of the IoT credentials endpoint (none when it is off).
    pub role_aliases: Vec<RoleAlias>,
}

/// A verified control-plane or signaling-API request, and where its caller reached us.
#[derive(Debug, Clone, Copy)]
pub struct ApiRequest<'a> {
    /// The operation its path names.
    pub operation: Operation,
    /// Its JSON body.
    pub body: &'a [u8],
    /// Who signed it ([`crate::Keys::authenticate`]).
    pub signer: &'a Verified,
    /// Where the service is reached, for endpoints handed out.
    pub base: EndpointBase<'a>,
    /// The TURN servers, when TURN is on.
    pub turn: Option<TurnServers<'a>>,
}

/// What a request asks of the driver.
#[derive(Debug, Clone, PartialEq)]
pub struct Handled {
    /// The answer (JSON, or an Alexa offer to hand to [`ServiceCore::offer_to_master`]).
    pub answer: Answer,
    /// The channel table changed: store this before answering, outside the core's lock, so a
    /// restart keeps what was acknowledged.
    pub persist: Option<Snapshot>,
    /// A deleted channel's connections, which left the relay (their outboxes dropped, which
    /// tells their tasks to hang up; the Alexa offers waiting on it ended the same way).
    pub closed: Vec<ConnId>,
}

/// A frame the driver must write to a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The connection.
    pub to: ConnId,
    /// The service frame.
    pub frame: String,
}

/// Every decision of the service. `O` is a connection's outbox and `W` an Alexa offer's
/// waiter, the driver's handles that the relay keeps (`()` in simulations).
#[derive(Debug)]
pub struct ServiceCore<O = (), W = ()> {
    config: CoreConfig,
    channels: Channels,
    relay: Relay<O, W>,
    faults: Faults,
    iot: IotIssuer,
}

impl<O, W> ServiceCore<O, W> {
    /// No channels, no connections, no faults.
    pub fn new(config: CoreConfig) -> Self {
        Self {
            channels: Channels::new(&config.region, &config.account_id),
            relay: Relay::with_limits(config.limits),
            faults: Faults::default(),
            iot: IotIssuer::new(config.role_aliases.clone()),
            config,
        }
    }

    /// Puts back the channels a store kept.
    pub fn restore(&mut self, records: Vec<ChannelRecord>, version_counter: u64) {
        self.channels.restore(records, version_counter);
    }

    /// The service's time when the machine's is `machine` (moved by an injected skew). The
    /// `Date` of every answer, signature checks and TURN credentials all use it.
    pub fn service_time(&self, machine: SystemTime) -> SystemTime {
        self.faults.service_time(machine)
    }

    /// Answers a verified control-plane or signaling-API request: an injected error if one is
    /// planned, else the operation on the channel table. A deleted channel's connections leave
    /// the relay here.
    pub fn request(
        &mut self,
        req: ApiRequest<'_>,
        machine: SystemTime,
    ) -> Result<Handled, ApiError> {
        let now = self.service_time(machine);
        if let Some(e) = self.faults.next_error(&format!("{:?}", req.operation)) {
            return Err(e);
        }
        let cx = Context {
            base: req.base,
            now,
            turn: req.turn,
            caller: caller(&self.config, &self.iot, req.signer),
        };
        let outcome = self.channels.dispatch(req.operation, req.body, cx)?;
        let closed = match &outcome.effects.closed_channel {
            Some(arn) => self.relay.forget_channel(arn),
            None => Vec::new(),
        };
        Ok(Handled {
            answer: outcome.answer,
            persist: outcome.effects.persist,
            closed,
        })
    }

    /// Hands an Alexa offer ([`Answer::OfferToMaster`]) to the channel's master: the frame to
    /// deliver, or `None` when it is held until the master connects. `waiter` is kept until
    /// the master's answer comes out of [`route`](Self::route) or the request gives up
    /// ([`alexa_gave_up`](Self::alexa_gave_up)).
    pub fn offer_to_master(
        &mut self,
        now: Instant,
        offer: &AlexaOffer,
        waiter: W,
    ) -> Result<Option<Delivery>, ApiError> {
        match self.relay.alexa_offer(now, offer, waiter) {
            AlexaRouted::Deliver { to, frame } => Ok(Some(Delivery { to, frame })),
            AlexaRouted::Held => Ok(None),
            AlexaRouted::RateExceeded => Err(ApiError::new(
                ErrorCode::ClientLimitExceeded,
                "more than 5 SendAlexaOfferToMaster calls per second on this channel",
            )),
        }
    }

    /// Stops waiting for the answer to an Alexa offer whose request gave up, if `is_mine`
    /// says the waiter kept is that request's (a newer offer may have replaced it).
    pub fn alexa_gave_up(&mut self, offer: &AlexaOffer, is_mine: impl FnOnce(&W) -> bool) {
        self.relay
            .alexa_gave_up(&offer.channel_arn, &offer.sender_client_id, is_mine);
    }

    /// Admits a verified WebSocket connect in `role` (the ARN, an injected fault, the policy,
    /// the channel, the viewer's id, then the relay's quotas) and registers it with `outbox`.
    /// The joined connection's held frames are to be written first; a connection it replaced
    /// left the relay (its outbox dropped).
    pub fn connect(
        &mut self,
        now: Instant,
        role: ChannelRole,
        signer: &Verified,
        outbox: O,
    ) -> Result<Joined, Refusal> {
        let Self {
            config,
            channels,
            faults,
            relay,
            iot,
        } = self;
        let admitted = admission::admit(
            role,
            &signer.params,
            caller(config, iot, signer),
            |action| faults.next_error(action),
            |arn| channels.by_arn(arn).cloned(),
        )?;
        relay
            .connect(
                now,
                &admitted.channel_arn,
                role,
                admitted.client_id,
                admitted.message_ttl,
                outbox,
            )
            .map_err(Refusal::of_relay)
    }

    /// Routes one text frame from connection `from`, with the channel's injected message
    /// faults applied: a delayed delivery carries its delay, a dropped one comes out as
    /// [`Routed::Dropped`].
    pub fn route(&mut self, now: Instant, from: ConnId, text: &str) -> Routed<W> {
        let routed = self.relay.route(now, from, text);
        let Routed::Deliver { to, frame, .. } = routed else {
            return routed;
        };
        if !self.faults.plans_messages() {
            // The usual case: no lookups on the relay's hot path.
            return Routed::Deliver {
                to,
                frame,
                delay: None,
            };
        }
        let fault = self
            .relay
            .channel_of(from)
            .and_then(|arn| self.faults.next_message(arn));
        match fault {
            None => Routed::Deliver {
                to,
                frame,
                delay: None,
            },
            Some(MessageFault::Delay(by)) => Routed::Deliver {
                to,
                frame,
                delay: Some(by),
            },
            Some(MessageFault::Drop) => Routed::Dropped {
                reason: "dropped by an injected fault".into(),
            },
        }
    }

    /// A connection ended at `now` (no-op when it had already left the relay).
    pub fn disconnect(&mut self, now: Instant, id: ConnId) {
        self.relay.disconnect(now, id);
    }

    /// Frees departed viewer ids and held messages that expired by `now`, and issued keys
    /// long expired by the machine's time `machine`.
    pub fn sweep(&mut self, now: Instant, machine: SystemTime) {
        self.relay.sweep(now);
        let service_now = self.service_time(machine);
        self.iot.sweep(service_now);
    }

    /// Answers a request to the IoT credentials endpoint ([`IotIssuer::request`]) on the
    /// service's clock; `random` makes the keys.
    pub fn iot_request(
        &mut self,
        req: IotRequest<'_>,
        machine: SystemTime,
        random: &[u8; ISSUE_RANDOM_BYTES],
    ) -> IotAnswer {
        let now = self.service_time(machine);
        let here = (self.config.region.as_str(), self.config.account_id.as_str());
        self.iot
            .request(req, now, self.config.policy.as_ref(), here, random)
    }

    /// The keys the IoT endpoint issued and still remembers.
    pub fn issued_keys(&self) -> Vec<crate::ServiceKey> {
        self.iot.keys()
    }

    /// A key the IoT endpoint issued, for the signature check.
    pub fn issued_key(&self, access_key_id: &str) -> Option<crate::ServiceKey> {
        self.iot.key(access_key_id)
    }

    /// The outbox of a live connection.
    pub fn outbox(&self, id: ConnId) -> Option<&O> {
        self.relay.outbox(id)
    }

    /// The live connection of a channel's master (`client_id` `None`) or of a viewer.
    pub fn find(&self, channel_arn: &str, client_id: Option<&str>) -> Option<ConnId> {
        self.relay.find(channel_arn, client_id)
    }

    /// The ARN of the channel named `name`, if it exists.
    pub fn channel_arn(&self, name: &str) -> Option<String> {
        let input = DescribeSignalingChannelInput {
            channel_name: Some(name.to_owned()),
            channel_arn: None,
        };
        self.channels
            .describe(input)
            .ok()
            .map(|out| out.channel_info.channel_arn)
    }

    /// The routing table (connections, departed ids, held messages), to look at.
    pub fn relay(&self) -> &Relay<O, W> {
        &self.relay
    }

    /// The faults in force, to change.
    pub fn faults_mut(&mut self) -> &mut Faults {
        &mut self.faults
    }
}

/// The caller as the policy sees it; `None` when there is no policy.
fn caller<'a>(
    config: &'a CoreConfig,
    iot: &'a IotIssuer,
    signer: &'a Verified,
) -> Option<Caller<'a>> {
    config.policy.as_ref().map(|policy| Caller {
        access_key_id: &signer.access_key_id,
        thing_name: iot.thing_of(&signer.access_key_id),
        policy,
    })
}
