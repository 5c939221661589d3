//! The KVS WebRTC C SDK's signaling functions (the default layer).

use crate::ffi::guard;
use crate::providers;
use crate::registry;
use crate::session::{Callbacks, Session, on_callback_thread};
use crate::status::state_name;
use crate::structs::*;
use crate::types::*;

/// Runs `body` on the session behind `handle`, counting a failure in its metrics.
fn with_session(
    name: &str,
    handle: SIGNALING_CLIENT_HANDLE,
    body: impl FnOnce(&Session) -> STATUS,
) -> STATUS {
    guard(name, || match registry::get(handle) {
        Ok(session) => session.count(body(&session)),
        Err(status) => status,
    })
}

/// Creates the client from checked settings and writes its handle.
pub(crate) fn create(
    settings: Result<crate::config::Settings, STATUS>,
    callbacks: Callbacks,
    out: *mut SIGNALING_CLIENT_HANDLE,
) -> STATUS {
    let settings = match settings {
        Ok(s) => s,
        Err(status) => return status,
    };
    match Session::create(settings, callbacks) {
        Ok(session) => {
            let handle = registry::insert(session);
            // SAFETY: the callers checked `out` is not NULL.
            unsafe { *out = handle };
            STATUS_SUCCESS
        }
        Err(status) => status,
    }
}

/// `createSignalingClientSync`: checks and copies the arguments, gets credentials
/// (GET_CREDENTIALS) and returns a handle. Nothing is kept from the arguments but the
/// credential provider pointer of an application's own provider, which must outlive the
/// client. Callbacks run on a thread this library owns, one per client.
///
/// # Safety
/// The pointers are NULL or valid for their types (structures of at least the size their
/// `version` implies, strings NUL-terminated).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn createSignalingClientSync(
    pClientInfo: *mut SignalingClientInfo,
    pChannelInfo: *mut ChannelInfo,
    pCallbacks: *mut KvsUpstreamSignalingClientCallbacks,
    pCredentialProvider: *mut AwsCredentialProvider,
    pSignalingHandle: *mut SIGNALING_CLIENT_HANDLE,
) -> STATUS {
    guard("createSignalingClientSync", || {
        if pCallbacks.is_null() || pSignalingHandle.is_null() || pCredentialProvider.is_null() {
            return STATUS_NULL_ARG;
        }
        // SAFETY: checked non-NULL; the caller vouches for the structure.
        let cb = unsafe { &*pCallbacks };
        if cb.version != SIGNALING_CLIENT_CALLBACKS_CURRENT_VERSION {
            return STATUS_SIGNALING_INVALID_SIGNALING_CALLBACKS_VERSION;
        }
        let callbacks = Callbacks::Upstream {
            custom: cb.customData,
            message: cb.messageReceivedFn,
            error: cb.errorReportFn,
            state: cb.stateChangeFn,
        };
        // SAFETY: forwarded from the caller.
        let settings = unsafe {
            crate::config::parse(
                pClientInfo,
                pChannelInfo,
                providers::resolve(pCredentialProvider),
            )
        };
        create(settings, callbacks, pSignalingHandle)
    })
}

/// `signalingClientFetchSync`: credentials, channel (created if missing), endpoints and ICE
/// servers, up to READY, within 15 s. After the client gave up (an `errorReportFn` with
/// `STATUS_SIGNALING_RECONNECT_FAILED`, say) this starts it again.
#[unsafe(no_mangle)]
pub extern "C" fn signalingClientFetchSync(
    signalingClientHandle: SIGNALING_CLIENT_HANDLE,
) -> STATUS {
    with_session(
        "signalingClientFetchSync",
        signalingClientHandle,
        Session::fetch,
    )
}

/// `signalingClientConnectSync`: opens the WebSocket, up to CONNECTED, within 15 s. Once
/// connected the client reconnects by itself whenever the connection is lost.
#[unsafe(no_mangle)]
pub extern "C" fn signalingClientConnectSync(
    signalingClientHandle: SIGNALING_CLIENT_HANDLE,
) -> STATUS {
    with_session(
        "signalingClientConnectSync",
        signalingClientHandle,
        Session::connect,
    )
}

/// `signalingClientDisconnectSync`: closes the WebSocket, back to READY.
#[unsafe(no_mangle)]
pub extern "C" fn signalingClientDisconnectSync(
    signalingClientHandle: SIGNALING_CLIENT_HANDLE,
) -> STATUS {
    with_session(
        "signalingClientDisconnectSync",
        signalingClientHandle,
        Session::disconnect,
    )
}

/// `signalingClientDeleteSync`: deletes the channel (DELETED); free the client afterwards.
#[unsafe(no_mangle)]
pub extern "C" fn signalingClientDeleteSync(
    signalingClientHandle: SIGNALING_CLIENT_HANDLE,
) -> STATUS {
    with_session(
        "signalingClientDeleteSync",
        signalingClientHandle,
        Session::delete,
    )
}

/// `signalingClientSendMessageSync`: sends an offer, answer or candidate. A master names the
/// viewer in `peerClientId`. While the client reconnects the message is queued.
///
/// # Safety
/// `pSignalingMessage` is NULL or points to a `SignalingMessage`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signalingClientSendMessageSync(
    signalingClientHandle: SIGNALING_CLIENT_HANDLE,
    pSignalingMessage: *mut SignalingMessage,
) -> STATUS {
    with_session(
        "signalingClientSendMessageSync",
        signalingClientHandle,
        |s| {
            if pSignalingMessage.is_null() {
                return STATUS_NULL_ARG;
            }
            // SAFETY: checked non-NULL; the caller vouches for the structure.
            s.send(unsafe { &*pSignalingMessage })
        },
    )
}

/// `signalingClientGetIceConfigInfoCount`: how many TURN servers the client holds now, 0
/// included; never waits on the network (the client keeps them fresh by itself).
///
/// # Safety
/// `pIceConfigCount` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signalingClientGetIceConfigInfoCount(
    signalingClientHandle: SIGNALING_CLIENT_HANDLE,
    pIceConfigCount: *mut UINT32,
) -> STATUS {
    with_session(
        "signalingClientGetIceConfigInfoCount",
        signalingClientHandle,
        |s| {
            if pIceConfigCount.is_null() {
                return STATUS_NULL_ARG;
            }
            let count = s.refresh_ice() as UINT32;
            // SAFETY: checked non-NULL.
            unsafe { *pIceConfigCount = count };
            STATUS_SUCCESS
        },
    )
}

/// `signalingClientGetIceConfigInfo`: TURN server `index`. The pointer stays valid until
/// the client is freed; its contents are those of the latest count or info call.
///
/// # Safety
/// `ppIceConfigInfo` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signalingClientGetIceConfigInfo(
    signalingClientHandle: SIGNALING_CLIENT_HANDLE,
    index: UINT32,
    ppIceConfigInfo: *mut *mut IceConfigInfo,
) -> STATUS {
    with_session(
        "signalingClientGetIceConfigInfo",
        signalingClientHandle,
        |s| {
            if ppIceConfigInfo.is_null() {
                return STATUS_NULL_ARG;
            }
            s.refresh_ice();
            match s.ice_config(index as usize) {
                Some(info) => {
                    // SAFETY: checked non-NULL.
                    unsafe { *ppIceConfigInfo = info };
                    STATUS_SUCCESS
                }
                None => STATUS_INVALID_ARG,
            }
        },
    )
}

/// `signalingClientGetCurrentState`.
///
/// # Safety
/// `pState` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signalingClientGetCurrentState(
    signalingClientHandle: SIGNALING_CLIENT_HANDLE,
    pState: *mut SIGNALING_CLIENT_STATE,
) -> STATUS {
    with_session(
        "signalingClientGetCurrentState",
        signalingClientHandle,
        |s| {
            if pState.is_null() {
                return STATUS_NULL_ARG;
            }
            // SAFETY: checked non-NULL.
            unsafe { *pState = s.state() };
            STATUS_SUCCESS
        },
    )
}

/// `signalingClientGetStateString`: the C SDK's name of a state ("Connected", …), a static
/// string.
///
/// # Safety
/// `ppStateString` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signalingClientGetStateString(
    state: SIGNALING_CLIENT_STATE,
    ppStateString: *mut *mut CHAR,
) -> STATUS {
    guard("signalingClientGetStateString", || {
        if ppStateString.is_null() {
            return STATUS_NULL_ARG;
        }
        match state_name(state) {
            Some(name) => {
                // SAFETY: checked non-NULL; the name is static and never written through.
                unsafe { *ppStateString = name.as_ptr().cast_mut() };
                STATUS_SUCCESS
            }
            None => STATUS_INVALID_ARG,
        }
    })
}

/// `signalingClientGetMetrics`: fills `pSignalingClientMetrics` (version 0 or 1) on the
/// caller's thread.
///
/// # Safety
/// `pSignalingClientMetrics` is NULL or points to a `SignalingClientMetrics`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signalingClientGetMetrics(
    signalingClientHandle: SIGNALING_CLIENT_HANDLE,
    pSignalingClientMetrics: *mut SignalingClientMetrics,
) -> STATUS {
    with_session("signalingClientGetMetrics", signalingClientHandle, |s| {
        if pSignalingClientMetrics.is_null() {
            return STATUS_NULL_ARG;
        }
        // SAFETY: checked non-NULL; the caller vouches for the structure.
        s.metrics(unsafe { &mut *pSignalingClientMetrics })
    })
}

/// `freeSignalingClient`: closes the client and waits for its callback thread, so that no
/// callback runs once it returns; sets the handle to `INVALID_SIGNALING_CLIENT_HANDLE_VALUE`.
/// Freeing an invalid handle does nothing. Called from inside a signaling callback it
/// refuses with `STATUS_INVALID_OPERATION` (it would wait for itself): free from another
/// thread.
///
/// # Safety
/// `pSignalingHandle` is NULL or points to a handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn freeSignalingClient(
    pSignalingHandle: *mut SIGNALING_CLIENT_HANDLE,
) -> STATUS {
    guard("freeSignalingClient", || {
        if pSignalingHandle.is_null() {
            return STATUS_NULL_ARG;
        }
        if on_callback_thread() {
            tracing::error!(
                "freeSignalingClient called from a signaling callback, which would wait for itself; free the client from another thread"
            );
            return STATUS_INVALID_OPERATION;
        }
        // SAFETY: checked non-NULL.
        let handle = unsafe { *pSignalingHandle };
        if let Some(session) = registry::remove(handle) {
            session.shut_down();
        }
        // SAFETY: checked non-NULL.
        unsafe { *pSignalingHandle = 0 };
        STATUS_SUCCESS
    })
}
