//! Handles: numbers naming live sessions. A handle is never reused, so a stale one is
//! refused instead of reaching another client.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::session::Session;
use crate::types::{SIGNALING_CLIENT_HANDLE, STATUS, STATUS_INVALID_HANDLE_ERROR};

fn table() -> &'static Mutex<HashMap<SIGNALING_CLIENT_HANDLE, Arc<Session>>> {
    static TABLE: OnceLock<Mutex<HashMap<SIGNALING_CLIENT_HANDLE, Arc<Session>>>> = OnceLock::new();
    TABLE.get_or_init(Default::default)
}

fn lock() -> std::sync::MutexGuard<'static, HashMap<SIGNALING_CLIENT_HANDLE, Arc<Session>>> {
    table().lock().unwrap_or_else(|p| p.into_inner())
}

/// Registers `session` under a new handle.
pub(crate) fn insert(session: Arc<Session>) -> SIGNALING_CLIENT_HANDLE {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let handle = NEXT.fetch_add(1, Ordering::Relaxed);
    lock().insert(handle, session);
    handle
}

/// The session behind `handle`.
pub(crate) fn get(handle: SIGNALING_CLIENT_HANDLE) -> Result<Arc<Session>, STATUS> {
    lock().get(&handle).cloned().ok_or_else(|| {
        tracing::error!(
            "signaling client handle {handle} is not a live client (freed, or never created)"
        );
        STATUS_INVALID_HANDLE_ERROR
    })
}

/// Removes `handle`, returning its session if it was live.
pub(crate) fn remove(handle: SIGNALING_CLIENT_HANDLE) -> Option<Arc<Session>> {
    lock().remove(&handle)
}
