//! The service's clock, and the one way its shared state is locked.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use crate::faults::Faults;

/// Locks `mutex`. A panic while it was held (which the lints on the input paths are there to
/// prevent) does not poison every later request: the state is used as it is.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The service's clock: the machine's, moved by any skew injected through the admin API. The
/// HTTP and WebSocket handlers and the TURN server all read this one, so TURN credentials are
/// checked on the clock that issued them.
#[derive(Clone)]
pub(crate) struct ServiceClock {
    faults: Arc<Mutex<Faults>>,
}

impl ServiceClock {
    /// A clock skewed by whatever `faults` says.
    pub(crate) fn new(faults: Arc<Mutex<Faults>>) -> Self {
        Self { faults }
    }

    /// The service's time now.
    pub(crate) fn now(&self) -> SystemTime {
        let skew = lock(&self.faults).clock_skew();
        let now = SystemTime::now();
        let by = Duration::from_secs(skew.unsigned_abs());
        let moved = if skew >= 0 {
            now.checked_add(by)
        } else {
            now.checked_sub(by)
        };
        // The admin API bounds the skew, so this only guards against a bug there.
        moved.unwrap_or(now)
    }
}
