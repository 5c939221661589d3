//! Signaling channels and the control-plane operations on them, without any IO.

use std::collections::{BTreeMap, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};

use kvs_proto::api::{
    ChannelInfo, ChannelProtocol, ChannelRole, ChannelStatus, ChannelType,
    CreateSignalingChannelInput, CreateSignalingChannelOutput, DeleteSignalingChannelInput,
    DescribeSignalingChannelInput, DescribeSignalingChannelOutput, ErrorCode,
    GetIceServerConfigInput, GetIceServerConfigOutput, GetSignalingChannelEndpointInput,
    GetSignalingChannelEndpointOutput, ListSignalingChannelsInput, ListSignalingChannelsOutput,
    ListTagsForResourceInput, ListTagsForResourceOutput, Operation, ResourceEndpointListItem,
    SingleMasterConfiguration, TagResourceInput, UntagResourceInput, UpdateSignalingChannelInput,
};
use kvs_proto::wire::is_valid_id;

/// An operation's failure: the AWS exception and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// Which exception.
    pub code: ErrorCode,
    /// Its message.
    pub message: String,
}

impl ApiError {
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidArgument, message)
    }

    fn not_found(what: &str) -> Self {
        Self::new(
            ErrorCode::ResourceNotFound,
            format!("The requested channel is not found or not active: {what}"),
        )
    }
}

const DEFAULT_TTL: u32 = 60;

/// The channels of one account in one region.
#[derive(Debug)]
pub struct Channels {
    region: String,
    account_id: String,
    by_name: HashMap<String, ChannelInfo>,
    tags: HashMap<String, BTreeMap<String, String>>,
    version_counter: u64,
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
        }
    }

    fn next_version(&mut self) -> String {
        self.version_counter += 1;
        format!(
            "{:016x}",
            self.version_counter.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        )
    }

    /// Every channel with its tags, and the version counter, for storage.
    pub fn snapshot(&self) -> (Vec<ChannelRecord>, u64) {
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
        (records, self.version_counter)
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
        if name.is_empty() || !is_valid_id(&name) {
            return Err(ApiError::invalid(format!(
                "1 validation error detected: Value '{name}' at 'channelName' failed to satisfy constraint: \
                 Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ and length 1-256"
            )));
        }
        if input.channel_type == Some(ChannelType::FullMesh) {
            return Err(ApiError::invalid(
                "ChannelType FULL_MESH is not supported; use SINGLE_MASTER",
            ));
        }
        let ttl = input
            .single_master_configuration
            .and_then(|c| c.message_ttl_seconds)
            .unwrap_or(DEFAULT_TTL);
        check_ttl(ttl)?;
        if self.by_name.contains_key(&name) {
            return Err(ApiError::new(
                ErrorCode::ResourceInUse,
                format!("The signaling channel {name} already exists"),
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
        if protocols.is_empty() || protocols.len() > 5 {
            return Err(ApiError::invalid("Protocols must list 1 to 5 protocols"));
        }
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

    /// GetIceServerConfig. TURN is not served yet, so the list is empty (host candidates
    /// connect peers on one machine or LAN).
    pub fn ice_config(
        &self,
        input: GetIceServerConfigInput,
    ) -> Result<GetIceServerConfigOutput, ApiError> {
        self.existing(&input.channel_arn)?;
        if let Some(id) = input.client_id.as_deref().filter(|id| !is_valid_id(id)) {
            return Err(ApiError::invalid(format!(
                "ClientId '{id}' must match [a-zA-Z0-9_.-]+"
            )));
        }
        if input.service.as_deref().is_some_and(|s| s != "TURN") {
            return Err(ApiError::invalid("Service must be TURN"));
        }
        Ok(GetIceServerConfigOutput {
            ice_server_list: Vec::new(),
        })
    }

    /// ListSignalingChannels: by name, paged, optionally by name prefix.
    pub fn list(
        &self,
        input: ListSignalingChannelsInput,
    ) -> Result<ListSignalingChannelsOutput, ApiError> {
        let max = input.max_results.unwrap_or(500);
        if !(1..=10_000).contains(&max) {
            return Err(ApiError::invalid(format!(
                "1 validation error detected: Value '{max}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 10000"
            )));
        }
        let prefix = match input.channel_name_condition {
            Some(c)
                if c.comparison_operator
                    .as_deref()
                    .is_some_and(|o| o != "BEGINS_WITH") =>
            {
                return Err(ApiError::invalid("ComparisonOperator must be BEGINS_WITH"));
            }
            Some(c) => c.comparison_value.unwrap_or_default(),
            None => String::new(),
        };
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
        if let Some(ttl) = ttl {
            check_ttl(ttl)?;
        }
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
        if input.tags.is_empty() || input.tags.len() > MAX_TAGS {
            return Err(ApiError::invalid("Tags must hold 1 to 50 tags"));
        }
        merge_tags(self.tags_of(&input.resource_arn)?, input.tags)
    }

    /// UntagResource.
    pub fn untag(&mut self, input: UntagResourceInput) -> Result<(), ApiError> {
        if input.tag_key_list.is_empty() || input.tag_key_list.len() > MAX_TAGS {
            return Err(ApiError::invalid("TagKeyList must hold 1 to 50 keys"));
        }
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

    /// Runs one control-plane operation on its JSON body; returns the JSON answer.
    pub fn dispatch(
        &mut self,
        op: Operation,
        body: &[u8],
        base: EndpointBase<'_>,
        now: SystemTime,
    ) -> Result<Vec<u8>, ApiError> {
        Ok(match op {
            Operation::CreateSignalingChannel => json(&self.create(parse_input(body)?, now)?),
            Operation::DescribeSignalingChannel => json(&self.describe(parse_input(body)?)?),
            Operation::GetSignalingChannelEndpoint => {
                json(&self.endpoint(parse_input(body)?, base)?)
            }
            Operation::GetIceServerConfig => json(&self.ice_config(parse_input(body)?)?),
            Operation::DeleteSignalingChannel => {
                self.delete(parse_input(body)?)?;
                b"{}".to_vec()
            }
            Operation::ListSignalingChannels => json(&self.list(parse_input(body)?)?),
            Operation::UpdateSignalingChannel => {
                self.update(parse_input(body)?)?;
                b"{}".to_vec()
            }
            Operation::TagResource => {
                self.tag(parse_input(body)?)?;
                b"{}".to_vec()
            }
            Operation::UntagResource => {
                self.untag(parse_input(body)?)?;
                b"{}".to_vec()
            }
            Operation::ListTagsForResource => json(&self.list_tags(parse_input(body)?)?),
        })
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

fn check_ttl(ttl: u32) -> Result<(), ApiError> {
    if (5..=120).contains(&ttl) {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "1 validation error detected: Value '{ttl}' at 'singleMasterConfiguration.messageTtlSeconds' \
             failed to satisfy constraint: Member must have value between 5 and 120"
        )))
    }
}

/// Adds `new` to `tags`, checking lengths and the 50-tag limit.
fn merge_tags(
    tags: &mut BTreeMap<String, String>,
    new: Vec<kvs_proto::api::Tag>,
) -> Result<(), ApiError> {
    for tag in &new {
        if tag.key.is_empty() || tag.key.chars().count() > 128 || tag.value.chars().count() > 256 {
            return Err(ApiError::invalid(format!(
                "Tag key '{}' must be 1-128 characters and its value at most 256",
                tag.key.chars().take(64).collect::<String>()
            )));
        }
    }
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

fn parse_input<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body = if body.is_empty() {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid(format!("the request body is not a valid input: {e}")))
}

fn json(v: &impl serde::Serialize) -> Vec<u8> {
    serde_json::to_vec(v).expect("outputs always serialise")
}

/// The channel name inside a well-formed channel ARN.
pub fn arn_channel_name(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_), Some("kinesisvideo"), Some(_), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let mut res = resource.split('/');
    let (Some("channel"), Some(name), Some(ts), None) =
        (res.next(), res.next(), res.next(), res.next())
    else {
        return None;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(account) && digits(ts) && is_valid_id(name)).then_some(name)
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
}
