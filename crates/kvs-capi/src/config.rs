//! `SignalingClientInfo` and `ChannelInfo` checked and turned into the client's options.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kvs_client::{
    ChannelRef, ChannelRole, ClientConfig, ClientOptions, ProvideCredentials, TlsOptions,
    resolve_endpoint,
};

use crate::ffi::{StrError, read_array, read_str};
use crate::structs::{ChannelInfo, SignalingClientInfo, Tag};
use crate::types::*;

/// The C SDK's default region.
const DEFAULT_REGION: &str = "us-west-2";
/// Where `SIGNALING_API_CALL_CACHE_TYPE_FILE` keeps endpoints when `cacheFilePath` is not
/// given. Not the C SDK's `.SignalingCache_v1`, whose format differs, so that an application
/// can switch between the two libraries without either misreading the other's file.
const DEFAULT_CACHE_FILE: &str = "./.SignalingCache_rs.json";

/// What a client is created with.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) role: ChannelRole,
    pub(crate) options: ClientOptions,
    pub(crate) logging_level: UINT32,
}

/// Reads an optional string field, refusing one over `max` with `too_long`.
///
/// # Safety
/// `ptr` is NULL or a NUL-terminated string (or `max + 1` readable bytes).
unsafe fn field(ptr: *const CHAR, max: usize, too_long: STATUS) -> Result<Option<String>, STATUS> {
    // SAFETY: forwarded from the caller.
    match unsafe { read_str(ptr, max) } {
        Ok(s) => Ok(s.filter(|s| !s.is_empty())),
        Err(StrError::TooLong) => Err(too_long),
        Err(StrError::NotUtf8) => Err(STATUS_INVALID_ARG),
    }
}

/// Checks the C SDK's structures and builds the client's options.
///
/// # Safety
/// The pointers are NULL or point to structures of at least the size their `version`
/// implies, whose string fields are NULL or NUL-terminated.
pub(crate) unsafe fn parse(
    client_info: *const SignalingClientInfo,
    channel_info: *const ChannelInfo,
    credentials: Option<Arc<dyn ProvideCredentials>>,
) -> Result<Settings, STATUS> {
    if client_info.is_null() || channel_info.is_null() {
        return Err(STATUS_NULL_ARG);
    }
    let credentials = credentials.ok_or(STATUS_NULL_ARG)?;
    // SAFETY: checked non-NULL; the version is the first field of every version.
    let client_version = unsafe { (*client_info).version };
    if client_version > SIGNALING_CLIENT_INFO_CURRENT_VERSION {
        tracing::error!(
            "SignalingClientInfo.version is {client_version}; this library knows up to {SIGNALING_CLIENT_INFO_CURRENT_VERSION}"
        );
        return Err(STATUS_SIGNALING_INVALID_CLIENT_INFO_VERSION);
    }
    // SAFETY: as above.
    let channel_version = unsafe { (*channel_info).version };
    if channel_version > CHANNEL_INFO_CURRENT_VERSION {
        tracing::error!(
            "ChannelInfo.version is {channel_version}; this library knows up to {CHANNEL_INFO_CURRENT_VERSION}"
        );
        return Err(STATUS_SIGNALING_INVALID_CHANNEL_INFO_VERSION);
    }
    // The structures are read field by field through the raw pointers, never as references
    // to the whole: an application built against an older header passes a smaller struct,
    // and only the fields its version has are read.
    // SAFETY: `clientId` and `loggingLevel` exist in every version; the caller vouches for the
    // structure's size for its version.
    let (client_id, logging_level) = unsafe {
        (
            read_array(&(*client_info).clientId),
            (*client_info).loggingLevel,
        )
    };
    let client_id = client_id.map_err(|_| STATUS_SIGNALING_INVALID_CLIENT_INFO_CLIENT_LENGTH)?;
    let cache_file = if client_version >= 1 {
        // SAFETY: a v1+ field, present since the version says so; NULL or a string.
        unsafe {
            field(
                (*client_info).cacheFilePath,
                MAX_PATH_LEN,
                STATUS_SIGNALING_INVALID_CLIENT_INFO_CACHE_FILE_PATH_LEN,
            )
        }?
    } else {
        None
    };
    // SAFETY: as above, for `ChannelInfo`.
    let ch = unsafe { ChannelFields::read(channel_info, channel_version) };

    // SAFETY: each is NULL or a string, per the caller.
    let (name, arn, storage_arn, region, endpoint, cert_path, postfix, custom_agent, kms) = unsafe {
        (
            field(
                ch.name,
                MAX_CHANNEL_NAME_LEN,
                STATUS_SIGNALING_INVALID_CHANNEL_NAME_LENGTH,
            )?,
            field(
                ch.arn,
                MAX_ARN_LEN,
                STATUS_SIGNALING_INVALID_CHANNEL_ARN_LENGTH,
            )?,
            field(
                ch.storage_arn,
                MAX_ARN_LEN,
                STATUS_SIGNALING_INVALID_STREAM_ARN_LENGTH,
            )?,
            field(
                ch.region,
                MAX_REGION_NAME_LEN,
                STATUS_SIGNALING_INVALID_REGION_LENGTH,
            )?,
            field(
                ch.control_plane_url,
                MAX_ARN_LEN,
                STATUS_SIGNALING_INVALID_CPL_LENGTH,
            )?,
            field(
                ch.cert_path,
                MAX_PATH_LEN,
                STATUS_SIGNALING_INVALID_CERTIFICATE_PATH_LENGTH,
            )?,
            field(
                ch.user_agent_postfix,
                MAX_CUSTOM_USER_AGENT_NAME_POSTFIX_LEN,
                STATUS_SIGNALING_INVALID_AGENT_POSTFIX_LENGTH,
            )?,
            field(
                ch.custom_user_agent,
                MAX_CUSTOM_USER_AGENT_LEN,
                STATUS_SIGNALING_INVALID_AGENT_LENGTH,
            )?,
            field(
                ch.kms_key_id,
                MAX_ARN_LEN,
                STATUS_SIGNALING_INVALID_KMS_KEY_LENGTH,
            )?,
        )
    };
    let _ = (postfix, custom_agent, kms);
    if storage_arn.is_some() || ch.use_media_storage != 0 {
        tracing::error!("media storage (JoinStorageSession) is not supported by this library");
        return Err(STATUS_NOT_IMPLEMENTED);
    }
    check_tags(ch.tag_count, ch.tags)?;

    let channel = match (arn, name) {
        (Some(arn), _) => {
            if !arn.starts_with("arn:") {
                return Err(STATUS_SIGNALING_INVALID_CHANNEL_ARN);
            }
            ChannelRef::Arn(arn)
        }
        (None, Some(name)) => ChannelRef::Name(name),
        (None, None) => {
            tracing::error!("ChannelInfo names no channel: set pChannelName or pChannelArn");
            return Err(STATUS_SIGNALING_INVALID_CHANNEL_NAME_LENGTH);
        }
    };
    let role = match ch.role {
        SIGNALING_CHANNEL_ROLE_TYPE_MASTER => ChannelRole::Master,
        SIGNALING_CHANNEL_ROLE_TYPE_VIEWER => ChannelRole::Viewer,
        other => {
            tracing::error!("channelRoleType {other} is neither MASTER (1) nor VIEWER (2)");
            return Err(STATUS_INVALID_ARG);
        }
    };
    if !matches!(
        ch.channel_type,
        SIGNALING_CHANNEL_TYPE_UNKNOWN | SIGNALING_CHANNEL_TYPE_SINGLE_MASTER
    ) {
        return Err(STATUS_INVALID_ARG);
    }
    if role == ChannelRole::Viewer && !kvs_proto::wire::is_valid_id(&client_id) {
        tracing::error!("a viewer needs a clientId matching [a-zA-Z0-9_.-]{{1,256}}");
        return Err(STATUS_SIGNALING_INVALID_CLIENT_INFO_CLIENT_LENGTH);
    }
    let ttl = match ch.message_ttl {
        0 => None,
        t if (5 * 10_000_000..=120 * 10_000_000).contains(&t) => Some((t / 10_000_000) as u32),
        _ => return Err(STATUS_SIGNALING_INVALID_MESSAGE_TTL_VALUE),
    };
    let (policy, period) = (ch.caching_policy, ch.caching_period);
    if policy > SIGNALING_API_CALL_CACHE_TYPE_FILE_EXCEPT_DESCRIBE_MEDIA {
        return Err(STATUS_INVALID_ARG);
    }

    let region = region.unwrap_or_else(|| DEFAULT_REGION.to_owned());
    let mut builder = ClientConfig::builder(channel, region.clone(), role)
        .client_id(client_id)
        .endpoint(resolve_endpoint(endpoint.as_deref(), &region))
        .message_ttl_seconds(ttl);
    if period != SIGNALING_API_CALL_CACHE_TTL_SENTINEL_VALUE {
        builder = builder.endpoint_cache_ttl(Duration::from_nanos(period.saturating_mul(100)));
    }
    let tls = match cert_path {
        Some(path) => TlsOptions::with_ca_bundle(path.as_ref()),
        None => TlsOptions::resolve(None),
    }
    .map_err(|e| {
        tracing::error!("{e}");
        STATUS_INVALID_ARG
    })?;
    let mut options = ClientOptions::new(builder.build(), credentials);
    options.tls = tls;
    if matches!(
        policy,
        SIGNALING_API_CALL_CACHE_TYPE_FILE
            | SIGNALING_API_CALL_CACHE_TYPE_FILE_EXCEPT_DESCRIBE_MEDIA
    ) {
        options.endpoint_cache_file = Some(PathBuf::from(
            cache_file.unwrap_or_else(|| DEFAULT_CACHE_FILE.to_owned()),
        ));
    }
    Ok(Settings {
        role,
        options,
        logging_level,
    })
}

/// The `ChannelInfo` fields, read one by one; the v1 ones take their v0 meaning for a v0
/// structure (no caching, no media storage).
struct ChannelFields {
    name: *mut CHAR,
    arn: *mut CHAR,
    storage_arn: *mut CHAR,
    region: *mut CHAR,
    control_plane_url: *mut CHAR,
    cert_path: *mut CHAR,
    user_agent_postfix: *mut CHAR,
    custom_user_agent: *mut CHAR,
    kms_key_id: *mut CHAR,
    channel_type: SIGNALING_CHANNEL_TYPE,
    role: SIGNALING_CHANNEL_ROLE_TYPE,
    caching_period: UINT64,
    message_ttl: UINT64,
    tag_count: UINT32,
    tags: *mut Tag,
    caching_policy: SIGNALING_API_CALL_CACHE_TYPE,
    use_media_storage: BOOL,
}

impl ChannelFields {
    /// # Safety
    /// `p` points to a `ChannelInfo` of at least `version`'s size.
    unsafe fn read(p: *const ChannelInfo, version: UINT32) -> Self {
        // SAFETY: every field read here is in version 0; the caller vouches for its size.
        let mut fields = unsafe {
            Self {
                name: (*p).pChannelName,
                arn: (*p).pChannelArn,
                storage_arn: (*p).pStorageStreamArn,
                region: (*p).pRegion,
                control_plane_url: (*p).pControlPlaneUrl,
                cert_path: (*p).pCertPath,
                user_agent_postfix: (*p).pUserAgentPostfix,
                custom_user_agent: (*p).pCustomUserAgent,
                kms_key_id: (*p).pKmsKeyId,
                channel_type: (*p).channelType,
                role: (*p).channelRoleType,
                caching_period: (*p).cachingPeriod,
                message_ttl: (*p).messageTtl,
                tag_count: (*p).tagCount,
                tags: (*p).pTags,
                caching_policy: SIGNALING_API_CALL_CACHE_TYPE_NONE,
                use_media_storage: 0,
            }
        };
        if version >= 1 {
            // SAFETY: the v1 fields exist, since the version says so.
            unsafe {
                fields.caching_policy = (*p).cachingPolicy;
                fields.use_media_storage = (*p).useMediaStorage;
            }
        }
        fields
    }
}

/// Tags are checked as the C SDK checks them (count, names, values), then not sent: the
/// client creates channels without tags.
fn check_tags(count: UINT32, tags: *mut Tag) -> Result<(), STATUS> {
    let count = count as usize;
    if count == 0 {
        return Ok(());
    }
    if count > MAX_TAG_COUNT {
        return Err(STATUS_INVALID_ARG);
    }
    if tags.is_null() {
        return Err(STATUS_NULL_ARG);
    }
    for i in 0..count {
        // SAFETY: `pTags` points to `tagCount` tags, per the C SDK's contract.
        let tag = unsafe { &*tags.add(i) };
        // SAFETY: a tag's strings are NUL-terminated.
        let (name, value) = unsafe {
            (
                read_str(tag.name, MAX_TAG_NAME_LEN).map_err(|_| STATUS_INVALID_ARG_LEN)?,
                read_str(tag.value, MAX_TAG_VALUE_LEN).map_err(|_| STATUS_INVALID_ARG_LEN)?,
            )
        };
        if name.is_none_or(|n| n.is_empty()) || value.is_none() {
            return Err(STATUS_INVALID_ARG);
        }
    }
    tracing::warn!("{count} channel tag(s) checked but not sent: channels are created untagged");
    Ok(())
}
