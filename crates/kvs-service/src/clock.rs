//! The service's clock as the TURN server reads it, and the one way shared state is locked.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use kvs_service_core::ServiceCore;

/// Locks `mutex`. A panic while it was held (which the lints on the input paths are there to
/// prevent) does not poison every later request: the state is used as it is.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The service's clock: the machine's, moved by any skew injected into the core
/// ([`ServiceCore::service_time`]). The TURN server reads this one, so TURN credentials are
/// checked on the clock that issued them.
#[derive(Clone)]
pub(crate) struct ServiceClock {
    now: Arc<dyn Fn() -> SystemTime + Send + Sync>,
}

impl ServiceClock {
    /// The clock of `core`.
    pub(crate) fn of<O, W>(core: Arc<Mutex<ServiceCore<O, W>>>) -> Self
    where
        O: Send + 'static,
        W: Send + 'static,
    {
        Self {
            now: Arc::new(move || lock(&core).service_time(SystemTime::now())),
        }
    }

    /// The service's time now.
    pub(crate) fn now(&self) -> SystemTime {
        (self.now)()
    }
}
