//! `SignalingClientInfo` and `ChannelInfo` checked and turned into the client's options.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kvs_client::{
    ChannelRef, ChannelRole, ClientConfig, ClientOptions, ProvideCredentials, TlsOptions,
    resolve_endpoint,
};

use crate::ffi::{StrError, read_array, read_str};
use crate::structs::{ChannelInfo, SignalingClientInfo};
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
    // SAFETY: the fields read below exist in every version but those guarded by a version
    // check, and the caller vouches for the size of that version.
    let (ci, ch) = unsafe { (&*client_info, &*channel_info) };

    let client_id =
        read_array(&ci.clientId).map_err(|_| STATUS_SIGNALING_INVALID_CLIENT_INFO_CLIENT_LENGTH)?;
    let cache_file = if client_version >= 1 {
        // SAFETY: a v1+ field; NULL or a string.
        unsafe {
            field(
                ci.cacheFilePath,
                MAX_PATH_LEN,
                STATUS_SIGNALING_INVALID_CLIENT_INFO_CACHE_FILE_PATH_LEN,
            )
        }?
    } else {
        None
    };

    // SAFETY: each is NULL or a string, per the caller.
    let (name, arn, storage_arn, region, endpoint, cert_path, postfix, custom_agent, kms) = unsafe {
        (
            field(
                ch.pChannelName,
                MAX_CHANNEL_NAME_LEN,
                STATUS_SIGNALING_INVALID_CHANNEL_NAME_LENGTH,
            )?,
            field(
                ch.pChannelArn,
                MAX_ARN_LEN,
                STATUS_SIGNALING_INVALID_CHANNEL_ARN_LENGTH,
            )?,
            field(
                ch.pStorageStreamArn,
                MAX_ARN_LEN,
                STATUS_SIGNALING_INVALID_STREAM_ARN_LENGTH,
            )?,
            field(
                ch.pRegion,
                MAX_REGION_NAME_LEN,
                STATUS_SIGNALING_INVALID_REGION_LENGTH,
            )?,
            field(
                ch.pControlPlaneUrl,
                MAX_ARN_LEN,
                STATUS_SIGNALING_INVALID_CPL_LENGTH,
            )?,
            field(
                ch.pCertPath,
                MAX_PATH_LEN,
                STATUS_SIGNALING_INVALID_CERTIFICATE_PATH_LENGTH,
            )?,
            field(
                ch.pUserAgentPostfix,
                MAX_CUSTOM_USER_AGENT_NAME_POSTFIX_LEN,
                STATUS_SIGNALING_INVALID_AGENT_POSTFIX_LENGTH,
            )?,
            field(
                ch.pCustomUserAgent,
                MAX_CUSTOM_USER_AGENT_LEN,
                STATUS_SIGNALING_INVALID_AGENT_LENGTH,
            )?,
            field(
                ch.pKmsKeyId,
                MAX_ARN_LEN,
                STATUS_SIGNALING_INVALID_KMS_KEY_LENGTH,
            )?,
        )
    };
    let _ = (postfix, custom_agent, kms);
    if storage_arn.is_some() || (channel_version >= 1 && ch.useMediaStorage != 0) {
        tracing::error!("media storage (JoinStorageSession) is not supported by this library");
        return Err(STATUS_NOT_IMPLEMENTED);
    }
    check_tags(ch)?;

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
    let role = match ch.channelRoleType {
        SIGNALING_CHANNEL_ROLE_TYPE_MASTER => ChannelRole::Master,
        SIGNALING_CHANNEL_ROLE_TYPE_VIEWER => ChannelRole::Viewer,
        other => {
            tracing::error!("channelRoleType {other} is neither MASTER (1) nor VIEWER (2)");
            return Err(STATUS_INVALID_ARG);
        }
    };
    if !matches!(
        ch.channelType,
        SIGNALING_CHANNEL_TYPE_UNKNOWN | SIGNALING_CHANNEL_TYPE_SINGLE_MASTER
    ) {
        return Err(STATUS_INVALID_ARG);
    }
    if role == ChannelRole::Viewer && !kvs_proto::wire::is_valid_id(&client_id) {
        tracing::error!("a viewer needs a clientId matching [a-zA-Z0-9_.-]{{1,256}}");
        return Err(STATUS_SIGNALING_INVALID_CLIENT_INFO_CLIENT_LENGTH);
    }
    let ttl = match ch.messageTtl {
        0 => None,
        t if (5 * 10_000_000..=120 * 10_000_000).contains(&t) => Some((t / 10_000_000) as u32),
        _ => return Err(STATUS_SIGNALING_INVALID_MESSAGE_TTL_VALUE),
    };
    let (policy, period) = if channel_version >= 1 {
        (ch.cachingPolicy, ch.cachingPeriod)
    } else {
        (SIGNALING_API_CALL_CACHE_TYPE_NONE, 0)
    };
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
        logging_level: ci.loggingLevel,
    })
}

/// Tags are checked as the C SDK checks them (count, names, values), then not sent: the
/// client creates channels without tags.
fn check_tags(ch: &ChannelInfo) -> Result<(), STATUS> {
    let count = ch.tagCount as usize;
    if count == 0 {
        return Ok(());
    }
    if count > MAX_TAG_COUNT {
        return Err(STATUS_INVALID_ARG);
    }
    if ch.pTags.is_null() {
        return Err(STATUS_NULL_ARG);
    }
    for i in 0..count {
        // SAFETY: `pTags` points to `tagCount` tags, per the C SDK's contract.
        let tag = unsafe { &*ch.pTags.add(i) };
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
