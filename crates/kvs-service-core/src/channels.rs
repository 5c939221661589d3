//! Signaling channels and the control-plane operations on them, without any IO.

use std::collections::{BTreeMap, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::api_error::ApiError;
use crate::arn::arn_channel_name;
use crate::auth::Policy;
use crate::turn_auth::TurnCredentials;
use kvs_proto::api::{
    ChannelInfo, ChannelProtocol, ChannelRole, ChannelStatus, ChannelType,
    CreateSignalingChannelInput, CreateSignalingChannelOutput, DeleteSignalingChannelInput,
    DescribeSignalingChannelInput, DescribeSignalingChannelOutput, ErrorCode,
    GetIceServerConfigInput, GetIceServerConfigOutput, GetSignalingChannelEndpointInput,
    GetSignalingChannelEndpointOutput, ListSignalingChannelsInput, ListSignalingChannelsOutput,
    ListTagsForResourceInput, ListTagsForResourceOutput, Operation, ResourceEndpointListItem,
    SendAlexaOfferToMasterInput, SingleMasterConfiguration, TagResourceInput, UntagResourceInput,
    UpdateSignalingChannelInput,
};

const DEFAULT_TTL: u32 = 60;

/// The channels of one account in one region.
#[derive(Debug)]
pub struct Channels {
    region: String,
    account_id: String,
    by_name: HashMap<String, ChannelInfo>,
    tags: HashMap<String, BTreeMap<String, String>>,
    version_counter: u64,
    /// Changes made since start, numbering the snapshots.
    changes: u64,
}

/// One channel as stored across restarts.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ChannelRecord {
    /// Its metadata.
    pub info: ChannelInfo,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
}

/// Most tags on one channel.
const MAX_TAGS: usize = 50;

/// Where the service can be reached, for GetSignalingChannelEndpoint.
#[derive(Debug, Clone, Copy)]
pub struct EndpointBase<'a> {
    /// `https://host:port` (or `http://` in plain mode).
    pub https: &'a str,
    /// `wss://host:port` (or `ws://` in plain mode).
    pub wss: &'a str,
}

/// The TURN servers GetIceServerConfig lists.
#[derive(Debug, Clone, Copy)]
pub struct TurnServers<'a> {
    /// Mints the credentials.
    pub credentials: &'a TurnCredentials,
    /// The URIs of each server.
    pub uris: &'a [Vec<String>],
}

/// What an operation needs besides its input.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// Where the service is reached.
    pub base: EndpointBase<'a>,
    /// The service's clock.
    pub now: SystemTime,
    /// TURN, when it is on.
    pub turn: Option<TurnServers<'a>>,
    /// The caller and the policy that limits it; `None` allows everything.
    pub caller: Option<Caller<'a>>,
}

/// Who is calling, for authorisation.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    /// The key that signed the request.
    pub access_key_id: &'a str,
    /// The thing that key was issued for, when the IoT endpoint issued it.
    pub thing_name: Option<&'a str>,
    /// What that key may do.
    pub policy: &'a Policy,
}

impl Caller<'_> {
    /// AccessDenied (or NotAuthorized on the signaling API) unless the policy allows it.
    pub fn authorize(
        &self,
        action: &str,
        resource: &str,
        signaling_api: bool,
    ) -> Result<(), ApiError> {
        let who = crate::auth::Principal {
            id: self.access_key_id,
            thing_name: self.thing_name,
        };
        if self.policy.allows(who, action, resource) {
            return Ok(());
        }
        let code = if signaling_api {
            ErrorCode::NotAuthorized
        } else {
            ErrorCode::AccessDenied
        };
        Err(ApiError::new(
            code,
            format!(
                "User: {} is not authorized to perform: {action} on resource: {resource}; grant it in the policy file",
                self.access_key_id
            ),
        ))
    }
}

/// What an operation asks of the driver besides its answer. The channel table decides it,
/// so the driver keeps no list of which operations change what.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Effects {
    /// The table changed: keep this snapshot (before answering, so a restart keeps what was
    /// acknowledged).
    pub persist: Option<Snapshot>,
    /// This channel was deleted: close its connections and end the Alexa offers waiting on it.
    pub closed_channel: Option<String>,
}

/// The whole channel table as stored. `seq` orders the snapshots of one process: a later one
/// holds every change of an earlier one, so a store may skip an older one that arrives late.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Position among this process's snapshots (1 for the first change).
    pub seq: u64,
    /// Every channel with its tags.
    pub records: Vec<ChannelRecord>,
    /// The counter channel versions are drawn from.
    pub version_counter: u64,
}

/// An operation's answer and its effects.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// What the caller is answered.
    pub answer: Answer,
    /// What the driver must do besides.
    pub effects: Effects,
}

/// An operation's result.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The JSON body to answer with.
    Json(Vec<u8>),
    /// An offer for the relay to deliver; the HTTP answer waits for the master's reply.
    OfferToMaster(AlexaOffer),
}

/// A SendAlexaOfferToMaster request for a channel that exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlexaOffer {
    /// The channel.
    pub channel_arn: String,
    /// How long the offer may wait for the master.
    pub ttl: std::time::Duration,
    /// The sender the master sees.
    pub sender_client_id: String,
    /// The base64 SDP offer.
    pub payload: String,
}

/// The WebSocket path that makes a connection a master's.
pub const MASTER_PATH: &str = "/m";
/// The WebSocket path that makes a connection a viewer's.
pub const VIEWER_PATH: &str = "/v";

impl Channels {
    /// No channels yet, in `region` of `account_id`.
    pub fn new(region: impl Into<String>, account_id: impl Into<String>) -> Self {
        Self {
            region: region.into(),
            account_id: account_id.into(),
            by_name: HashMap::new(),
            tags: HashMap::new(),
            version_counter: 0,
            changes: 0,
        }
    }

    /// The most channels one account may have in this region (10,000 in us-east-1 and
    /// us-west-2, 5,000 elsewhere).
    pub fn channel_limit(&self) -> usize {
        match self.region.as_str() {
            "us-east-1" | "us-west-2" => 10_000,
            _ => 5_000,
        }
    }

    fn next_version(&mut self) -> String {
        self.version_counter += 1;
        format!(
            "{:016x}",
            self.version_counter.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        )
    }

    /// Every channel with its tags, numbered as the latest change.
    pub fn snapshot(&self) -> Snapshot {
        let records = self
            .by_name
            .values()
            .map(|info| ChannelRecord {
                info: info.clone(),
                tags: self
                    .tags
                    .get(&info.channel_name)
                    .cloned()
                    .unwrap_or_default(),
            })
            .collect();
        Snapshot {
            seq: self.changes,
            records,
            version_counter: self.version_counter,
        }
    }

    /// Puts back what [`snapshot`](Self::snapshot) returned.
    pub fn restore(&mut self, records: Vec<ChannelRecord>, version_counter: u64) {
        for record in records {
            self.tags
                .insert(record.info.channel_name.clone(), record.tags);
            self.by_name
                .insert(record.info.channel_name.clone(), record.info);
        }
        self.version_counter = self.version_counter.max(version_counter);
    }

    /// The channel with this ARN, if it exists.
    pub fn by_arn(&self, arn: &str) -> Option<&ChannelInfo> {
        let name = arn_channel_name(arn)?;
        self.by_name.get(name).filter(|c| c.channel_arn == arn)
    }

    /// CreateSignalingChannel.
    pub fn create(
        &mut self,
        input: CreateSignalingChannelInput,
        now: SystemTime,
    ) -> Result<CreateSignalingChannelOutput, ApiError> {
        let name = input.channel_name;
        if input.channel_type == Some(ChannelType::FullMesh) {
            return Err(ApiError::invalid(
                "ChannelType FULL_MESH is not supported; use SINGLE_MASTER",
            ));
        }
        let ttl = input
            .single_master_configuration
            .and_then(|c| c.message_ttl_seconds)
            .unwrap_or(DEFAULT_TTL);
        if self.by_name.contains_key(&name) {
            return Err(ApiError::new(
                ErrorCode::ResourceInUse,
                format!("The signaling channel {name} already exists"),
            ));
        }
        let limit = self.channel_limit();
        if self.by_name.len() >= limit {
            return Err(ApiError::new(
                ErrorCode::AccountChannelLimitExceeded,
                format!(
                    "The account has {limit} signaling channels in {}, the most allowed; delete unused channels",
                    self.region
                ),
            ));
        }
        let mut tags = BTreeMap::new();
        merge_tags(&mut tags, input.tags.unwrap_or_default())?;
        let millis = now
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        let arn = format!(
            "arn:aws:kinesisvideo:{}:{}:channel/{name}/{millis}",
            self.region, self.account_id
        );
        let info = ChannelInfo {
            channel_name: name.clone(),
            channel_arn: arn.clone(),
            channel_type: ChannelType::SingleMaster,
            channel_status: ChannelStatus::Active,
            creation_time: millis as f64 / 1000.0,
            single_master_configuration: SingleMasterConfiguration {
                message_ttl_seconds: Some(ttl),
            },
            version: self.next_version(),
        };
        self.tags.insert(name.clone(), tags);
        self.by_name.insert(name, info);
        Ok(CreateSignalingChannelOutput { channel_arn: arn })
    }

    /// DescribeSignalingChannel.
    pub fn describe(
        &self,
        input: DescribeSignalingChannelInput,
    ) -> Result<DescribeSignalingChannelOutput, ApiError> {
        let info = match (&input.channel_name, &input.channel_arn) {
            (Some(name), None) => self.by_name.get(name),
            (None, Some(arn)) => self.by_arn(arn),
            _ => {
                return Err(ApiError::invalid(
                    "Exactly one of ChannelName or ChannelARN must be specified",
                ));
            }
        };
        let what = input.channel_name.or(input.channel_arn).unwrap_or_default();
        let info = info.ok_or_else(|| ApiError::not_found(&what))?;
        Ok(DescribeSignalingChannelOutput {
            channel_info: info.clone(),
        })
    }

    fn existing(&self, arn: &str) -> Result<&ChannelInfo, ApiError> {
        if arn_channel_name(arn).is_none() {
            return Err(ApiError::invalid(format!(
                "1 validation error detected: Value '{arn}' at 'channelARN' failed to satisfy constraint: \
                 Member must satisfy regular expression pattern: arn:[a-z\\d-]+:kinesisvideo:[a-z0-9-]+:[0-9]+:[a-z]+/[a-zA-Z0-9_.-]+/[0-9]+"
            )));
        }
        self.by_arn(arn).ok_or_else(|| ApiError::not_found(arn))
    }

    /// GetSignalingChannelEndpoint: distinct WSS URLs per role, and the HTTPS endpoint.
    pub fn endpoint(
        &self,
        input: GetSignalingChannelEndpointInput,
        base: EndpointBase<'_>,
    ) -> Result<GetSignalingChannelEndpointOutput, ApiError> {
        self.existing(&input.channel_arn)?;
        let config = input
            .single_master_channel_endpoint_configuration
            .unwrap_or_default();
        let role = config.role.unwrap_or(ChannelRole::Master);
        let protocols = config
            .protocols
            .unwrap_or_else(|| vec![ChannelProtocol::Wss, ChannelProtocol::Https]);
        let mut list = Vec::with_capacity(protocols.len());
        for protocol in protocols {
            let resource_endpoint = match protocol {
                ChannelProtocol::Wss => {
                    let path = match role {
                        ChannelRole::Master => MASTER_PATH,
                        ChannelRole::Viewer => VIEWER_PATH,
                    };
                    format!("{}{path}", base.wss)
                }
                ChannelProtocol::Https => base.https.to_owned(),
                ChannelProtocol::Webrtc => {
                    return Err(ApiError::invalid(
                        "The WEBRTC protocol needs a channel configured for media ingestion",
                    ));
                }
            };
            list.push(ResourceEndpointListItem {
                protocol,
                resource_endpoint,
            });
        }
        Ok(GetSignalingChannelEndpointOutput {
            resource_endpoint_list: list,
        })
    }

    /// GetIceServerConfig: time-limited credentials for each TURN server, or an empty list
    /// when TURN is off (host candidates still connect peers on one machine or LAN).
    pub fn ice_config(
        &self,
        input: GetIceServerConfigInput,
        turn: Option<TurnServers<'_>>,
        now: SystemTime,
    ) -> Result<GetIceServerConfigOutput, ApiError> {
        let channel = self.existing(&input.channel_arn)?;
        let ice_server_list = turn.map_or_else(Vec::new, |t| {
            t.credentials.issue(&channel.channel_arn, t.uris, now)
        });
        Ok(GetIceServerConfigOutput { ice_server_list })
    }

    /// SendAlexaOfferToMaster: checks the channel and hands the offer back for the relay,
    /// which delivers it to the master and waits for the answer.
    pub fn alexa_offer(&self, input: SendAlexaOfferToMasterInput) -> Result<AlexaOffer, ApiError> {
        let channel = self.existing(&input.channel_arn)?;
        Ok(AlexaOffer {
            channel_arn: channel.channel_arn.clone(),
            ttl: channel.message_ttl(),
            sender_client_id: input.sender_client_id,
            payload: input.message_payload,
        })
    }

    /// ListSignalingChannels: by name, paged, optionally by name prefix.
    pub fn list(
        &self,
        input: ListSignalingChannelsInput,
    ) -> Result<ListSignalingChannelsOutput, ApiError> {
        let max = input.max_results.unwrap_or(500);
        let prefix = input
            .channel_name_condition
            .and_then(|c| c.comparison_value)
            .unwrap_or_default();
        let after = match input.next_token.filter(|t| !t.is_empty()) {
            Some(token) => Some(
                kvs_proto::wire::decode_payload(&token)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| ApiError::invalid("NextToken is not one this service issued"))?,
            ),
            None => None,
        };
        let mut names: Vec<&String> = self
            .by_name
            .keys()
            .filter(|n| n.starts_with(&prefix) && after.as_ref().is_none_or(|a| *n > a))
            .collect();
        names.sort();
        let more = names.len() > max as usize;
        names.truncate(max as usize);
        let next_token = more
            .then(|| {
                names
                    .last()
                    .map(|n| kvs_proto::wire::encode_payload(n.as_bytes()))
            })
            .flatten();
        Ok(ListSignalingChannelsOutput {
            channel_info_list: names.into_iter().map(|n| self.by_name[n].clone()).collect(),
            next_token,
        })
    }

    /// UpdateSignalingChannel: a new MessageTtlSeconds, and a new Version.
    pub fn update(&mut self, input: UpdateSignalingChannelInput) -> Result<(), ApiError> {
        let info = self.existing(&input.channel_arn)?;
        if input.current_version != info.version {
            return Err(ApiError::new(
                ErrorCode::VersionMismatch,
                format!(
                    "The channel version {} does not match the current version {}",
                    input.current_version, info.version
                ),
            ));
        }
        let name = info.channel_name.clone();
        let ttl = input
            .single_master_configuration
            .and_then(|c| c.message_ttl_seconds);
        let version = self.next_version();
        let info = self.by_name.get_mut(&name).expect("checked above");
        if let Some(ttl) = ttl {
            info.single_master_configuration.message_ttl_seconds = Some(ttl);
        }
        info.version = version;
        Ok(())
    }

    fn tags_of(&mut self, arn: &str) -> Result<&mut BTreeMap<String, String>, ApiError> {
        let name = self.existing(arn)?.channel_name.clone();
        Ok(self.tags.entry(name).or_default())
    }

    /// TagResource.
    pub fn tag(&mut self, input: TagResourceInput) -> Result<(), ApiError> {
        merge_tags(self.tags_of(&input.resource_arn)?, input.tags)
    }

    /// UntagResource.
    pub fn untag(&mut self, input: UntagResourceInput) -> Result<(), ApiError> {
        let tags = self.tags_of(&input.resource_arn)?;
        for key in input.tag_key_list {
            tags.remove(&key);
        }
        Ok(())
    }

    /// ListTagsForResource.
    pub fn list_tags(
        &mut self,
        input: ListTagsForResourceInput,
    ) -> Result<ListTagsForResourceOutput, ApiError> {
        Ok(ListTagsForResourceOutput {
            next_token: None,
            tags: self.tags_of(&input.resource_arn)?.clone(),
        })
    }

    /// Runs one operation on its JSON body, validated against the model first, and says what
    /// the driver must do besides answering.
    pub fn dispatch(
        &mut self,
        op: Operation,
        body: &[u8],
        cx: Context<'_>,
    ) -> Result<Outcome, ApiError> {
        let body = checked_body(op, body)?;
        let Context {
            base,
            now,
            turn,
            caller,
        } = cx;
        if let Some(caller) = caller {
            let resource = self.resource_of(op, &body);
            caller.authorize(op.iam_action(), &resource, op.is_signaling_api())?;
        }
        let mut effects = Effects::default();
        let mut changed = false;
        let answer = match op {
            Operation::SendAlexaOfferToMaster => {
                Answer::OfferToMaster(self.alexa_offer(parse_input(body)?)?)
            }
            Operation::CreateSignalingChannel => {
                changed = true;
                Answer::Json(json(&self.create(parse_input(body)?, now)?))
            }
            Operation::DescribeSignalingChannel => {
                Answer::Json(json(&self.describe(parse_input(body)?)?))
            }
            Operation::GetSignalingChannelEndpoint => {
                Answer::Json(json(&self.endpoint(parse_input(body)?, base)?))
            }
            Operation::GetIceServerConfig => {
                Answer::Json(json(&self.ice_config(parse_input(body)?, turn, now)?))
            }
            Operation::DeleteSignalingChannel => {
                let input: DeleteSignalingChannelInput = parse_input(body)?;
                let arn = input.channel_arn.clone();
                self.delete(input)?;
                effects.closed_channel = Some(arn);
                changed = true;
                Answer::Json(b"{}".to_vec())
            }
            Operation::ListSignalingChannels => Answer::Json(json(&self.list(parse_input(body)?)?)),
            Operation::UpdateSignalingChannel => {
                self.update(parse_input(body)?)?;
                changed = true;
                Answer::Json(b"{}".to_vec())
            }
            Operation::TagResource => {
                self.tag(parse_input(body)?)?;
                changed = true;
                Answer::Json(b"{}".to_vec())
            }
            Operation::UntagResource => {
                self.untag(parse_input(body)?)?;
                changed = true;
                Answer::Json(b"{}".to_vec())
            }
            Operation::ListTagsForResource => {
                Answer::Json(json(&self.list_tags(parse_input(body)?)?))
            }
        };
        if changed {
            self.changes = self.changes.wrapping_add(1);
            effects.persist = Some(self.snapshot());
        }
        Ok(Outcome { answer, effects })
    }

    /// The ARN an operation acts on, for authorisation: the channel's, a pattern of the ARN a
    /// new channel would get, or every channel's for List.
    fn resource_of(&self, op: Operation, body: &serde_json::Value) -> String {
        let field = |k: &str| body.get(k).and_then(|v| v.as_str());
        if let Some(arn) = field("ChannelARN").or_else(|| field("ResourceARN")) {
            return arn.to_owned();
        }
        let prefix = format!(
            "arn:aws:kinesisvideo:{}:{}:channel/",
            self.region, self.account_id
        );
        match (op, field("ChannelName")) {
            (_, Some(name)) => self
                .by_name
                .get(name)
                .map_or_else(|| format!("{prefix}{name}/*"), |c| c.channel_arn.clone()),
            _ => format!("{prefix}*"),
        }
    }

    /// DeleteSignalingChannel.
    pub fn delete(&mut self, input: DeleteSignalingChannelInput) -> Result<(), ApiError> {
        let info = self.existing(&input.channel_arn)?;
        if let Some(v) = &input.current_version
            && *v != info.version
        {
            return Err(ApiError::new(
                ErrorCode::VersionMismatch,
                format!(
                    "The channel version {v} does not match the current version {}",
                    info.version
                ),
            ));
        }
        let name = info.channel_name.clone();
        self.by_name.remove(&name);
        self.tags.remove(&name);
        Ok(())
    }
}

/// Adds `new` to `tags`, keeping to the 50-tag limit.
fn merge_tags(
    tags: &mut BTreeMap<String, String>,
    new: Vec<kvs_proto::api::Tag>,
) -> Result<(), ApiError> {
    let mut merged = tags.clone();
    merged.extend(new.into_iter().map(|t| (t.key, t.value)));
    if merged.len() > MAX_TAGS {
        return Err(ApiError::new(
            ErrorCode::TagsPerResourceExceededLimit,
            format!("A channel can have at most {MAX_TAGS} tags"),
        ));
    }
    *tags = merged;
    Ok(())
}

/// The request body as JSON, checked against the operation's model.
fn checked_body(op: Operation, body: &[u8]) -> Result<serde_json::Value, ApiError> {
    let body = if body.is_empty() {
        b"{}".as_slice()
    } else {
        body
    };
    let value = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            ErrorCode::SerializationException,
            format!("the request body is not valid JSON: {e}"),
        )
    })?;
    crate::validate::validate(op, &value)?;
    Ok(value)
}

fn parse_input<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_json::from_value(value)
        .map_err(|e| ApiError::invalid(format!("the request body is not a valid input: {e}")))
}

fn json(v: &impl serde::Serialize) -> Vec<u8> {
    serde_json::to_vec(v).expect("outputs always serialise")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn created() -> (Channels, String) {
        let mut c = Channels::new("us-west-2", "123456789012");
        let input = CreateSignalingChannelInput {
            channel_name: "demo".into(),
            ..Default::default()
        };
        let arn = c
            .create(
                input,
                UNIX_EPOCH + std::time::Duration::from_millis(1_606_901_298_484),
            )
            .unwrap()
            .channel_arn;
        (c, arn)
    }

    /// The table, not the driver, says what to persist and which channel's connections to
    /// close; reads change nothing.
    #[test]
    fn operations_report_their_effects() {
        let mut c = Channels::new("us-west-2", "123456789012");
        let cx = Context {
            base: EndpointBase {
                https: "https://h:1",
                wss: "wss://h:1",
            },
            now: UNIX_EPOCH,
            turn: None,
            caller: None,
        };
        let created = c
            .dispatch(
                Operation::CreateSignalingChannel,
                br#"{"ChannelName":"fx"}"#,
                cx,
            )
            .unwrap();
        let first = created.effects.persist.expect("a create is persisted");
        assert_eq!((first.seq, first.records.len()), (1, 1));
        assert_eq!(created.effects.closed_channel, None);
        let arn = c.by_name.get("fx").unwrap().channel_arn.clone();
        let read = c
            .dispatch(
                Operation::DescribeSignalingChannel,
                br#"{"ChannelName":"fx"}"#,
                cx,
            )
            .unwrap();
        assert_eq!(read.effects, Effects::default(), "a read changes nothing");
        let tag = format!(r#"{{"ResourceARN":"{arn}","Tags":[{{"Key":"k","Value":"v"}}]}}"#);
        let tagged = c
            .dispatch(Operation::TagResource, tag.as_bytes(), cx)
            .unwrap();
        assert_eq!(tagged.effects.persist.map(|s| s.seq), Some(2));
        let refused = c.dispatch(Operation::DeleteSignalingChannel, b"{}", cx);
        assert!(refused.is_err(), "a refused delete has no effects to run");
        let delete = format!(r#"{{"ChannelARN":"{arn}"}}"#);
        let deleted = c
            .dispatch(Operation::DeleteSignalingChannel, delete.as_bytes(), cx)
            .unwrap();
        assert_eq!(
            deleted.effects.closed_channel.as_deref(),
            Some(arn.as_str())
        );
        let last = deleted.effects.persist.unwrap();
        assert_eq!((last.seq, last.records.len()), (3, 0));
    }

    #[test]
    fn arns_have_the_real_format() {
        let (_, arn) = created();
        assert_eq!(
            arn,
            "arn:aws:kinesisvideo:us-west-2:123456789012:channel/demo/1606901298484"
        );
        assert_eq!(arn_channel_name(&arn), Some("demo"));
        assert_eq!(
            arn_channel_name("arn:aws:kinesisvideo:us-west-2:1:stream/demo/1"),
            None
        );
    }

    #[test]
    fn duplicate_names_are_in_use_and_unknown_arns_not_found() {
        let (mut c, arn) = created();
        let again = c.create(
            CreateSignalingChannelInput {
                channel_name: "demo".into(),
                ..Default::default()
            },
            UNIX_EPOCH,
        );
        assert_eq!(again.unwrap_err().code, ErrorCode::ResourceInUse);
        let missing = arn.replace("/demo/", "/other/");
        let err = c
            .describe(DescribeSignalingChannelInput {
                channel_name: None,
                channel_arn: Some(missing),
            })
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::ResourceNotFound);
        assert_eq!(err.code.http_status(), 404);
    }

    #[test]
    fn endpoints_differ_by_role() {
        let (c, arn) = created();
        let base = EndpointBase {
            https: "https://127.0.0.1:1",
            wss: "wss://127.0.0.1:1",
        };
        let get = |role| {
            let input = GetSignalingChannelEndpointInput {
                channel_arn: arn.clone(),
                single_master_channel_endpoint_configuration: Some(
                    kvs_proto::api::SingleMasterChannelEndpointConfiguration {
                        protocols: Some(vec![ChannelProtocol::Wss, ChannelProtocol::Https]),
                        role: Some(role),
                    },
                ),
            };
            c.endpoint(input, base).unwrap().resource_endpoint_list
        };
        let (m, v) = (get(ChannelRole::Master), get(ChannelRole::Viewer));
        assert_eq!(m[0].resource_endpoint, "wss://127.0.0.1:1/m");
        assert_eq!(v[0].resource_endpoint, "wss://127.0.0.1:1/v");
        assert_eq!(m[1].resource_endpoint, "https://127.0.0.1:1");
    }

    #[test]
    fn delete_checks_the_version() {
        let (mut c, arn) = created();
        let stale = DeleteSignalingChannelInput {
            channel_arn: arn.clone(),
            current_version: Some("0".into()),
        };
        assert_eq!(
            c.delete(stale).unwrap_err().code,
            ErrorCode::VersionMismatch
        );
        c.delete(DeleteSignalingChannelInput {
            channel_arn: arn.clone(),
            current_version: None,
        })
        .unwrap();
        assert!(c.by_arn(&arn).is_none());
    }

    #[test]
    fn a_region_holds_a_bounded_number_of_channels() {
        let mut c = Channels::new("eu-west-1", "123456789012");
        assert_eq!(c.channel_limit(), 5_000);
        for i in 0..5_000 {
            let input = CreateSignalingChannelInput {
                channel_name: format!("c{i}"),
                ..Default::default()
            };
            c.create(input, UNIX_EPOCH).unwrap();
        }
        let over = c.create(
            CreateSignalingChannelInput {
                channel_name: "one-more".into(),
                ..Default::default()
            },
            UNIX_EPOCH,
        );
        assert_eq!(
            over.unwrap_err().code,
            ErrorCode::AccountChannelLimitExceeded
        );
        assert_eq!(Channels::new("us-east-1", "1").channel_limit(), 10_000);
    }

    #[test]
    fn the_policy_sees_the_arn_each_operation_acts_on() {
        let (mut c, arn) = created();
        let policy = Policy::parse(
            r#"{"Statement": [{"Effect": "Allow", "Principal": "AKID", "Action": "kinesisvideo:*",
                "Resource": "arn:aws:kinesisvideo:us-west-2:123456789012:channel/demo/*"}]}"#,
        )
        .unwrap();
        let base = EndpointBase {
            https: "https://h:1",
            wss: "wss://h:1",
        };
        let cx = Context {
            base,
            now: UNIX_EPOCH,
            turn: None,
            caller: Some(Caller {
                access_key_id: "AKID",
                thing_name: None,
                policy: &policy,
            }),
        };
        let by_name = br#"{"ChannelName":"demo"}"#;
        assert!(
            c.dispatch(Operation::DescribeSignalingChannel, by_name, cx)
                .is_ok()
        );
        let by_arn = format!(r#"{{"ChannelARN":"{arn}"}}"#);
        assert!(
            c.dispatch(Operation::DescribeSignalingChannel, by_arn.as_bytes(), cx)
                .is_ok()
        );
        let create_other = br#"{"ChannelName":"other"}"#;
        let denied = c.dispatch(Operation::CreateSignalingChannel, create_other, cx);
        assert_eq!(denied.unwrap_err().code, ErrorCode::AccessDenied);
        let list = c.dispatch(Operation::ListSignalingChannels, b"{}", cx);
        assert_eq!(
            list.unwrap_err().code,
            ErrorCode::AccessDenied,
            "List acts on every channel"
        );
        let ice = by_arn.clone();
        let other_key = Context {
            caller: Some(Caller {
                access_key_id: "AKIDOTHER",
                thing_name: None,
                policy: &policy,
            }),
            ..cx
        };
        let refused = c.dispatch(Operation::GetIceServerConfig, ice.as_bytes(), other_key);
        assert_eq!(refused.unwrap_err().code, ErrorCode::NotAuthorized);
    }
}
