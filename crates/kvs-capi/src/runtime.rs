//! The library's own tokio runtime, which every client shares, and its logging.

use std::sync::OnceLock;
use std::time::Duration;

use crate::types::UINT32;

/// Two worker threads serve every client of the process: signaling is IO-bound, and a
/// device has few cores.
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("kvs-signaling")
            .enable_all()
            .build()
            .expect("the signaling runtime starts")
    })
}

/// Runs `future` to completion on the library's runtime from an application thread, giving
/// up after `limit`.
pub(crate) fn block_on<T>(
    limit: Duration,
    future: impl Future<Output = T>,
) -> Result<T, tokio::time::error::Elapsed> {
    runtime().block_on(async { tokio::time::timeout(limit, future).await })
}

/// The `tracing` level of a C SDK `LOG_LEVEL_*` (1 VERBOSE … 7 SILENT, 8 PROFILE).
fn level_name(level: UINT32) -> &'static str {
    match level {
        1 => "trace",
        2 => "debug",
        3 | 8 => "info",
        5 | 6 => "error",
        7 => "off",
        _ => "warn",
    }
}

/// Installs a stderr logger once per process, unless the application installed a `tracing`
/// subscriber already. `RUST_LOG` wins, then `AWS_KVS_LOG_LEVEL` (the C SDK's variable), then
/// the first client's `loggingLevel`. Only this library's crates log at that level.
pub(crate) fn init_logging(logging_level: UINT32) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let level = std::env::var("AWS_KVS_LOG_LEVEL")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(logging_level);
        let level = level_name(level);
        // `Targets` understands RUST_LOG's `target=level,…` form without a regex engine,
        // which would add a quarter of a megabyte to every device image.
        let filter: tracing_subscriber::filter::Targets = std::env::var("RUST_LOG")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| {
                format!("warn,kvs_signaling_c={level},kvs_client={level},kvs_proto={level}")
                    .parse()
                    .expect("a valid filter")
            });
        let _ = tracing_subscriber::registry()
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
            .with(filter)
            .try_init();
    });
}
