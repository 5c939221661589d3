//! The master: answers up to [`PeersConfig::max_peers`](crate::core::peers::PeersConfig)
//! viewers at once, one peer connection each keyed by the viewer's client id, echoes every
//! data-channel message back, and sends H.264 to viewers that receive video.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use kvs_client::SignalingSession;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::control::{Control, Side};
use crate::events::PeerEvent;
use crate::stack::PeerOptions;
use crate::video::VideoSpec;

/// Peer events buffered before the master waits for the application to read them.
pub const EVENTS_CAPACITY: usize = 1024;

/// A running master. Dropping it leaves it running; [`stop`](Self::stop) closes every peer
/// connection.
pub struct Master {
    live: Arc<AtomicUsize>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Master {
    /// Starts answering offers that arrive on `session` (its events are `signaling`, which
    /// are passed on as [`PeerEvent::Signaling`]). `video` is what viewers that receive video
    /// get; `None` answers video offers with the data channel only.
    pub fn start<S: SignalingSession>(
        session: S,
        signaling: S::Events,
        options: PeerOptions,
        video: Option<VideoSpec>,
    ) -> (Self, mpsc::Receiver<PeerEvent>) {
        let (events, rx) = mpsc::channel(EVENTS_CAPACITY);
        let live = Arc::new(AtomicUsize::new(0));
        let (stop, stop_rx) = watch::channel(false);
        let control = Control {
            session,
            options,
            side: Side::Master { video },
            events,
            live: live.clone(),
        };
        let (_unused, outgoing) = mpsc::unbounded_channel();
        let task = tokio::spawn(control.run(signaling, stop_rx, outgoing));
        (Self { live, stop, task }, rx)
    }

    /// Peer connections alive now: built and not yet closed.
    pub fn live_peers(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }

    /// Closes every peer connection and waits until they are freed.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}
