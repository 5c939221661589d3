//! Control-plane JSON bodies (restJson1) of the `kinesisvideo` and `kinesis-video-signaling`
//! APIs, with the member names of the official models, and their error shape.

use serde::{Deserialize, Serialize};

/// A POST operation and its fixed request path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `POST /createSignalingChannel`
    CreateSignalingChannel,
    /// `POST /describeSignalingChannel`
    DescribeSignalingChannel,
    /// `POST /getSignalingChannelEndpoint`
    GetSignalingChannelEndpoint,
    /// `POST /deleteSignalingChannel`
    DeleteSignalingChannel,
    /// `POST /v1/get-ice-server-config`, on the channel's HTTPS endpoint.
    GetIceServerConfig,
    /// `POST /listSignalingChannels`
    ListSignalingChannels,
    /// `POST /updateSignalingChannel`
    UpdateSignalingChannel,
    /// `POST /TagResource`
    TagResource,
    /// `POST /UntagResource`
    UntagResource,
    /// `POST /ListTagsForResource`
    ListTagsForResource,
    /// `POST /v1/send-alexa-offer-to-master`, on the channel's HTTPS endpoint.
    SendAlexaOfferToMaster,
}

impl Operation {
    /// Every operation, for routing tables.
    pub const ALL: [Self; 11] = [
        Self::CreateSignalingChannel,
        Self::DescribeSignalingChannel,
        Self::GetSignalingChannelEndpoint,
        Self::DeleteSignalingChannel,
        Self::GetIceServerConfig,
        Self::ListSignalingChannels,
        Self::UpdateSignalingChannel,
        Self::TagResource,
        Self::UntagResource,
        Self::ListTagsForResource,
        Self::SendAlexaOfferToMaster,
    ];

    /// The request path.
    pub fn path(self) -> &'static str {
        match self {
            Self::CreateSignalingChannel => "/createSignalingChannel",
            Self::DescribeSignalingChannel => "/describeSignalingChannel",
            Self::GetSignalingChannelEndpoint => "/getSignalingChannelEndpoint",
            Self::DeleteSignalingChannel => "/deleteSignalingChannel",
            Self::GetIceServerConfig => "/v1/get-ice-server-config",
            Self::ListSignalingChannels => "/listSignalingChannels",
            Self::UpdateSignalingChannel => "/updateSignalingChannel",
            Self::TagResource => "/TagResource",
            Self::UntagResource => "/UntagResource",
            Self::ListTagsForResource => "/ListTagsForResource",
            Self::SendAlexaOfferToMaster => "/v1/send-alexa-offer-to-master",
        }
    }

    /// True for the operations of the `kinesis-video-signaling` API, which is served on the
    /// channel's HTTPS endpoint and answers authorisation failures with NotAuthorizedException
    /// instead of AccessDeniedException.
    pub fn is_signaling_api(self) -> bool {
        matches!(
            self,
            Self::GetIceServerConfig | Self::SendAlexaOfferToMaster
        )
    }

    /// The IAM action that authorises it, e.g. `kinesisvideo:DescribeSignalingChannel`.
    pub fn iam_action(self) -> &'static str {
        match self {
            Self::CreateSignalingChannel => "kinesisvideo:CreateSignalingChannel",
            Self::DescribeSignalingChannel => "kinesisvideo:DescribeSignalingChannel",
            Self::GetSignalingChannelEndpoint => "kinesisvideo:GetSignalingChannelEndpoint",
            Self::DeleteSignalingChannel => "kinesisvideo:DeleteSignalingChannel",
            Self::GetIceServerConfig => "kinesisvideo:GetIceServerConfig",
            Self::ListSignalingChannels => "kinesisvideo:ListSignalingChannels",
            Self::UpdateSignalingChannel => "kinesisvideo:UpdateSignalingChannel",
            Self::TagResource => "kinesisvideo:TagResource",
            Self::UntagResource => "kinesisvideo:UntagResource",
            Self::ListTagsForResource => "kinesisvideo:ListTagsForResource",
            Self::SendAlexaOfferToMaster => "kinesisvideo:SendAlexaOfferToMaster",
        }
    }

    /// The operation served at `path`, if any.
    pub fn from_path(path: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|op| op.path() == path)
    }
}

/// Channel type; KVS supports only `SINGLE_MASTER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChannelType {
    /// One master, up to ten viewers.
    #[default]
    SingleMaster,
    /// Declared by the model, refused by the service.
    FullMesh,
}

/// Channel lifecycle status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChannelStatus {
    /// Being created.
    Creating,
    /// Usable.
    Active,
    /// Being updated.
    Updating,
    /// Being deleted.
    Deleting,
}

/// The role a client takes on a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChannelRole {
    /// Receives offers from viewers and answers them.
    Master,
    /// Sends offers to the master.
    Viewer,
}

impl ChannelRole {
    /// `MASTER` or `VIEWER`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Master => "MASTER",
            Self::Viewer => "VIEWER",
        }
    }
}

/// Endpoint protocols of GetSignalingChannelEndpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChannelProtocol {
    /// The WebSocket data plane.
    Wss,
    /// The signaling HTTPS API (GetIceServerConfig).
    Https,
    /// Media-server ingestion; not served locally.
    Webrtc,
}

/// `SingleMasterConfiguration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct SingleMasterConfiguration {
    /// How long undelivered messages are kept, 5–120 s (default 60).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_ttl_seconds: Option<u32>,
}

/// A resource tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    /// Tag key.
    pub key: String,
    /// Tag value.
    pub value: String,
}

/// CreateSignalingChannel request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct CreateSignalingChannelInput {
    /// Name, unique per account and region.
    pub channel_name: String,
    /// Defaults to `SINGLE_MASTER`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_type: Option<ChannelType>,
    /// Message TTL settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub single_master_configuration: Option<SingleMasterConfiguration>,
    /// Tags to attach.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
}

/// CreateSignalingChannel response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateSignalingChannelOutput {
    /// The new channel's ARN.
    #[serde(rename = "ChannelARN")]
    pub channel_arn: String,
}

/// DescribeSignalingChannel request: a name or an ARN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeSignalingChannelInput {
    /// Channel name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_name: Option<String>,
    /// Channel ARN.
    #[serde(rename = "ChannelARN", skip_serializing_if = "Option::is_none")]
    pub channel_arn: Option<String>,
}

/// A channel's metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelInfo {
    /// Name.
    pub channel_name: String,
    /// ARN.
    #[serde(rename = "ChannelARN")]
    pub channel_arn: String,
    /// Type.
    pub channel_type: ChannelType,
    /// Status.
    pub channel_status: ChannelStatus,
    /// Creation time in epoch seconds (restJson1 timestamps).
    pub creation_time: f64,
    /// TTL configuration.
    pub single_master_configuration: SingleMasterConfiguration,
    /// Opaque version, rotated on each update.
    pub version: String,
}

impl ChannelInfo {
    /// How long the channel keeps undelivered messages (MessageTtlSeconds, default 60 s).
    pub fn message_ttl(&self) -> std::time::Duration {
        let secs = self
            .single_master_configuration
            .message_ttl_seconds
            .unwrap_or(60);
        std::time::Duration::from_secs(secs.into())
    }
}

/// DescribeSignalingChannel response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeSignalingChannelOutput {
    /// The channel.
    pub channel_info: ChannelInfo,
}

/// `SingleMasterChannelEndpointConfiguration`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct SingleMasterChannelEndpointConfiguration {
    /// Which endpoints to return.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocols: Option<Vec<ChannelProtocol>>,
    /// Which role's WSS endpoint to return.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<ChannelRole>,
}

/// GetSignalingChannelEndpoint request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct GetSignalingChannelEndpointInput {
    /// Channel ARN.
    #[serde(rename = "ChannelARN")]
    pub channel_arn: String,
    /// Protocols and role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub single_master_channel_endpoint_configuration:
        Option<SingleMasterChannelEndpointConfiguration>,
}

/// One endpoint of a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceEndpointListItem {
    /// The endpoint's protocol.
    pub protocol: ChannelProtocol,
    /// The URL (`wss://…` or `https://…`).
    pub resource_endpoint: String,
}

/// GetSignalingChannelEndpoint response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetSignalingChannelEndpointOutput {
    /// One entry per requested protocol.
    pub resource_endpoint_list: Vec<ResourceEndpointListItem>,
}

/// GetIceServerConfig request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct GetIceServerConfigInput {
    /// Channel ARN.
    #[serde(rename = "ChannelARN")]
    pub channel_arn: String,
    /// The caller's client id (viewers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Only `TURN` is defined.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Optional TURN user name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

/// A TURN server with time-limited credentials. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IceServer {
    /// `turn:` / `turns:` URIs.
    pub uris: Vec<String>,
    /// TURN user name (`expiry:base64(...)`).
    pub username: String,
    /// TURN password.
    pub password: String,
    /// Seconds the credentials stay valid.
    pub ttl: u32,
}

impl std::fmt::Debug for IceServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IceServer")
            .field("uris", &self.uris)
            .field("username", &self.username)
            .field("password", &crate::redact::REDACTED)
            .field("ttl", &self.ttl)
            .finish()
    }
}

/// GetIceServerConfig response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetIceServerConfigOutput {
    /// The TURN servers (may be empty).
    pub ice_server_list: Vec<IceServer>,
}

/// SendAlexaOfferToMaster request: an SDP offer delivered to the channel's master.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct SendAlexaOfferToMasterInput {
    /// Channel ARN.
    #[serde(rename = "ChannelARN")]
    pub channel_arn: String,
    /// The client id the master sees as the offer's sender.
    pub sender_client_id: String,
    /// Base64 SDP offer.
    pub message_payload: String,
}

/// SendAlexaOfferToMaster response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct SendAlexaOfferToMasterOutput {
    /// The master's base64 SDP answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
}

/// DeleteSignalingChannel request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteSignalingChannelInput {
    /// Channel ARN.
    #[serde(rename = "ChannelARN")]
    pub channel_arn: String,
    /// Optimistic-concurrency guard; omitted means "latest".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<String>,
}

/// `ChannelNameCondition` of ListSignalingChannels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelNameCondition {
    /// Only `BEGINS_WITH` is defined.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comparison_operator: Option<String>,
    /// The name prefix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comparison_value: Option<String>,
}

/// ListSignalingChannels request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ListSignalingChannelsInput {
    /// Page size, 1–10,000 (default 500).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_results: Option<u32>,
    /// Where the previous page ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    /// A name filter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_name_condition: Option<ChannelNameCondition>,
}

/// ListSignalingChannels response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListSignalingChannelsOutput {
    /// One page of channels, by name.
    pub channel_info_list: Vec<ChannelInfo>,
    /// Present when there are more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// UpdateSignalingChannel request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateSignalingChannelInput {
    /// Channel ARN.
    #[serde(rename = "ChannelARN")]
    pub channel_arn: String,
    /// The version the caller last saw.
    pub current_version: String,
    /// The new configuration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub single_master_configuration: Option<SingleMasterConfiguration>,
}

/// TagResource request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct TagResourceInput {
    /// The channel's ARN.
    #[serde(rename = "ResourceARN")]
    pub resource_arn: String,
    /// Tags to add or overwrite.
    pub tags: Vec<Tag>,
}

/// UntagResource request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct UntagResourceInput {
    /// The channel's ARN.
    #[serde(rename = "ResourceARN")]
    pub resource_arn: String,
    /// Keys to remove.
    pub tag_key_list: Vec<String>,
}

/// ListTagsForResource request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsForResourceInput {
    /// Unused: all tags fit one page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    /// The channel's ARN.
    #[serde(rename = "ResourceARN")]
    pub resource_arn: String,
}

/// ListTagsForResource response: a map, not a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsForResourceOutput {
    /// Never set: all tags fit one page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    /// Key to value.
    pub tags: std::collections::BTreeMap<String, String>,
}

/// An AWS error answer: `x-amzn-ErrorType` names the exception, the body carries the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The message (some signaling exceptions use a lowercase `message`).
    #[serde(rename = "Message", alias = "message")]
    pub message: String,
}

/// Exceptions the control plane answers with, by their AWS names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// 400: a parameter is missing or invalid.
    InvalidArgument,
    /// 400: throttled.
    ClientLimitExceeded,
    /// 400: the name exists, or the channel is not ACTIVE.
    ResourceInUse,
    /// 400: `CurrentVersion` is stale.
    VersionMismatch,
    /// 401: not authorized.
    AccessDenied,
    /// 400: more than 50 tags.
    TagsPerResourceExceededLimit,
    /// 404: the channel does not exist.
    ResourceNotFound,
    /// 404: no such operation or path.
    UnknownOperation,
    /// 400: the body is not JSON, or not the shape the operation takes.
    SerializationException,
    /// 400: the account has the most channels a region allows.
    AccountChannelLimitExceeded,
    /// 401: not authorized, on the signaling HTTPS operations.
    NotAuthorized,
    /// 403: the signature does not match, or it expired (clock skew).
    InvalidSignature,
    /// 400: the signature is malformed or lacks a part.
    IncompleteSignature,
    /// 403: the access key id is unknown.
    UnrecognizedClient,
    /// 403: the request is not signed.
    MissingAuthenticationToken,
    /// 403: the session token expired.
    ExpiredToken,
    /// 500: the service failed.
    InternalFailure,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: [Self; 17] = [
        Self::InvalidArgument,
        Self::ClientLimitExceeded,
        Self::ResourceInUse,
        Self::VersionMismatch,
        Self::AccessDenied,
        Self::TagsPerResourceExceededLimit,
        Self::ResourceNotFound,
        Self::UnknownOperation,
        Self::SerializationException,
        Self::AccountChannelLimitExceeded,
        Self::NotAuthorized,
        Self::InvalidSignature,
        Self::IncompleteSignature,
        Self::UnrecognizedClient,
        Self::MissingAuthenticationToken,
        Self::ExpiredToken,
        Self::InternalFailure,
    ];

    /// The code whose exception name is `name` (with or without the `Exception` suffix).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| {
            let full = c.name();
            full == name || full.strip_suffix("Exception") == Some(name)
        })
    }

    /// The exception name for `x-amzn-ErrorType`.
    pub fn name(self) -> &'static str {
        match self {
            Self::InvalidArgument => "InvalidArgumentException",
            Self::ClientLimitExceeded => "ClientLimitExceededException",
            Self::ResourceInUse => "ResourceInUseException",
            Self::VersionMismatch => "VersionMismatchException",
            Self::AccessDenied => "AccessDeniedException",
            Self::TagsPerResourceExceededLimit => "TagsPerResourceExceededLimitException",
            Self::ResourceNotFound => "ResourceNotFoundException",
            Self::UnknownOperation => "UnknownOperationException",
            Self::SerializationException => "SerializationException",
            Self::AccountChannelLimitExceeded => "AccountChannelLimitExceededException",
            Self::NotAuthorized => "NotAuthorizedException",
            Self::InvalidSignature => "InvalidSignatureException",
            Self::IncompleteSignature => "IncompleteSignatureException",
            Self::UnrecognizedClient => "UnrecognizedClientException",
            Self::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            Self::ExpiredToken => "ExpiredTokenException",
            Self::InternalFailure => "InternalFailure",
        }
    }

    /// The code of an `x-amzn-ErrorType` header value, which may carry a `:` suffix (e.g.
    /// `ResourceNotFoundException:http://internal.amazon.com/...`).
    pub fn from_header(value: &str) -> Option<Self> {
        Self::from_name(value.split(':').next().unwrap_or(value))
    }

    /// The HTTP status from the models.
    pub fn http_status(self) -> u16 {
        match self {
            Self::AccessDenied | Self::NotAuthorized => 401,
            Self::InvalidSignature
            | Self::UnrecognizedClient
            | Self::MissingAuthenticationToken
            | Self::ExpiredToken => 403,
            Self::ResourceNotFound | Self::UnknownOperation => 404,
            Self::InternalFailure => 500,
            _ => 400,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ice_server_debug_hides_the_password() {
        let server = IceServer {
            uris: vec!["turn:127.0.0.1:3478?transport=udp".into()],
            username: "1700000300:djE6YQ==".into(),
            password: "TURNPASSWORD".into(),
            ttl: 300,
        };
        let shown = format!(
            "{:?}",
            GetIceServerConfigOutput {
                ice_server_list: vec![server],
            }
        );
        assert!(!shown.contains("TURNPASSWORD"), "{shown}");
        assert!(shown.contains("1700000300:djE6YQ=="), "{shown}");
    }

    #[test]
    fn c_sdk_endpoint_request_parses() {
        let body = r#"{"ChannelARN": "arn:aws:kinesisvideo:us-west-2:123456789012:channel/c/1", "SingleMasterChannelEndpointConfiguration": {"Protocols": ["WSS", "HTTPS"], "Role": "VIEWER"}}"#;
        let req: GetSignalingChannelEndpointInput = serde_json::from_str(body).unwrap();
        let cfg = req.single_master_channel_endpoint_configuration.unwrap();
        assert_eq!(cfg.role, Some(ChannelRole::Viewer));
        assert_eq!(
            cfg.protocols.unwrap(),
            vec![ChannelProtocol::Wss, ChannelProtocol::Https]
        );
    }

    #[test]
    fn ice_config_response_matches_the_real_shape() {
        let body = r#"{"IceServerList":[{"Password":"H8T=","Ttl":300,"Uris":["turn:a:443?transport=udp"],"Username":"1610088702:djE6"}]}"#;
        let out: GetIceServerConfigOutput = serde_json::from_str(body).unwrap();
        assert_eq!(out.ice_server_list[0].ttl, 300);
        let again: GetIceServerConfigOutput =
            serde_json::from_str(&serde_json::to_string(&out).unwrap()).unwrap();
        assert_eq!(again, out);
    }

    #[test]
    fn error_body_accepts_both_casings() {
        let a: ErrorBody = serde_json::from_str(r#"{"Message":"x"}"#).unwrap();
        let b: ErrorBody = serde_json::from_str(r#"{"message":"x"}"#).unwrap();
        assert_eq!(a, b);
        assert_eq!(serde_json::to_string(&a).unwrap(), r#"{"Message":"x"}"#);
    }

    #[test]
    fn paths_round_trip() {
        for op in Operation::ALL {
            assert_eq!(Operation::from_path(op.path()), Some(op));
        }
    }
}
