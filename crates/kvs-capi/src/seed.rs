//! The API as the ESP-IDF seed's signaling chapter uses it: one `SignalingClientConfig`,
//! callbacks returning `VOID`, `connectSignalingChannel`. Selected in C with
//! `#define KVS_SEED_SIGNALING_API` before including the header, which maps
//! `createSignalingClientSync` to `kvsSeedCreateSignalingClientSync`.

use crate::ffi::guard;
use crate::providers;
use crate::registry;
use crate::session::{Callbacks, Session};
use crate::structs::*;
use crate::types::*;

/// The seed's `createSignalingClientSync`: as the upstream one, with the channel, client
/// info and credential provider in `pConfig`. `pMetrics`, when given, is filled once here
/// (version 0 or 1) on the caller's thread and never written again by the library; call
/// `signalingClientGetMetrics` for fresh figures.
///
/// # Safety
/// The pointers are NULL or valid for their types.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kvsSeedCreateSignalingClientSync(
    pConfig: *mut SignalingClientConfig,
    pCallbacks: *mut KvsSeedSignalingClientCallbacks,
    pMetrics: *mut SignalingClientMetrics,
    pSignalingHandle: *mut SIGNALING_CLIENT_HANDLE,
) -> STATUS {
    guard("createSignalingClientSync", || {
        if pConfig.is_null() || pCallbacks.is_null() || pSignalingHandle.is_null() {
            return STATUS_NULL_ARG;
        }
        // SAFETY: checked non-NULL; the caller vouches for the structures.
        let (config, cb) = unsafe { (&*pConfig, &*pCallbacks) };
        if config.version != SIGNALING_CLIENT_CONFIG_CURRENT_VERSION {
            tracing::error!(
                "SignalingClientConfig.version is {}; expected {SIGNALING_CLIENT_CONFIG_CURRENT_VERSION}",
                config.version
            );
            return STATUS_INVALID_ARG;
        }
        if cb.version != SIGNALING_CLIENT_CALLBACKS_CURRENT_VERSION {
            return STATUS_SIGNALING_INVALID_SIGNALING_CALLBACKS_VERSION;
        }
        if config.pCredentialProvider.is_null() {
            return STATUS_NULL_ARG;
        }
        let metrics_version = if pMetrics.is_null() {
            0
        } else {
            // SAFETY: checked non-NULL; the caller vouches for the structure.
            unsafe { (*pMetrics).version }
        };
        if metrics_version > SIGNALING_CLIENT_METRICS_CURRENT_VERSION {
            return STATUS_SIGNALING_INVALID_METRICS_VERSION;
        }
        let callbacks = Callbacks::Seed {
            custom: cb.customData,
            message: cb.messageReceivedFn,
            error: cb.errorReportFn,
            state: cb.stateChangeFn,
        };
        // SAFETY: forwarded from the caller.
        let settings = unsafe {
            crate::config::parse(
                config.clientInfo,
                &config.channelInfo,
                providers::resolve(config.pCredentialProvider),
            )
        };
        let status = crate::upstream::create(settings, callbacks, pSignalingHandle);
        if status != STATUS_SUCCESS || pMetrics.is_null() {
            return status;
        }
        // SAFETY: checked non-NULL; the handle was just written by `create`.
        let handle = unsafe { *pSignalingHandle };
        if let Ok(session) = registry::get(handle) {
            // SAFETY: checked non-NULL; the caller vouches for the structure. The client
            // exists now, so a failure here only leaves the metrics unfilled.
            let filled = session.metrics(unsafe { &mut *pMetrics });
            if filled != STATUS_SUCCESS {
                tracing::warn!("the metrics could not be filled at creation: 0x{filled:08x}");
            }
        }
        STATUS_SUCCESS
    })
}

/// The seed's `connectSignalingChannel`: fetches (the first time, or after the client gave
/// up) and connects, up to CONNECTED.
#[unsafe(no_mangle)]
pub extern "C" fn connectSignalingChannel(
    signalingClientHandle: SIGNALING_CLIENT_HANDLE,
) -> STATUS {
    guard("connectSignalingChannel", || {
        match registry::get(signalingClientHandle) {
            Ok(session) => session.count(Session::fetch_and_connect(&session)),
            Err(status) => status,
        }
    })
}
