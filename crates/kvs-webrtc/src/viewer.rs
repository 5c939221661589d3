//! The viewer: once signaling is CONNECTED, offers a data channel and receive-only H.264
//! video to the master, trickles candidates, applies the answer, and reports what arrives.

use kvs_client::SignalingSession;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::control::{Control, Outgoing, Side};
use crate::events::PeerEvent;
use crate::master::EVENTS_CAPACITY;
use crate::stack::PeerOptions;

pub use crate::control::MASTER;
pub use crate::link::DATA_CHANNEL_LABEL;

/// A running viewer. It ends when its peer connection ends or signaling closes; then
/// [`PeerEvent::Closed`] says why.
pub struct Viewer {
    outgoing: mpsc::UnboundedSender<Outgoing>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Viewer {
    /// Starts the viewer on `session` (its events are `signaling`, passed on as
    /// [`PeerEvent::Signaling`]).
    pub fn start<S: SignalingSession>(
        session: S,
        signaling: S::Events,
        options: PeerOptions,
    ) -> (Self, mpsc::Receiver<PeerEvent>) {
        let (events, rx) = mpsc::channel(EVENTS_CAPACITY);
        let (stop, stop_rx) = watch::channel(false);
        let (outgoing, outgoing_rx) = mpsc::unbounded_channel();
        let control = Control {
            session,
            options,
            side: Side::Viewer,
            events,
            live: Default::default(),
        };
        let task = tokio::spawn(control.run(signaling, stop_rx, outgoing_rx));
        (
            Self {
                outgoing,
                stop,
                task,
            },
            rx,
        )
    }

    /// Sends a text message on the data channel (once it is open; before, an error event).
    pub fn send(&self, text: impl Into<Vec<u8>>) {
        let _ = self.outgoing.send(Outgoing::Data(text.into()));
    }

    /// Asks the master for a key frame (an RTCP Picture Loss Indication), as a decoder does
    /// after losing its place. The viewer also asks by itself when a frame is lost or the
    /// stream does not begin with a key frame.
    pub fn request_key_frame(&self) {
        let _ = self.outgoing.send(Outgoing::KeyFrame);
    }

    /// True once the viewer has ended.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Closes the peer connection and waits until it is freed.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// The offer a viewer with `options` makes (its data channel and receive-only H.264 video,
/// as configured), as the JSON it sends over signaling, before any candidate (they trickle
/// separately): what `kvs-signaling doctor` holds against the service's message limit. The
/// peer connection is built and closed without gathering.
pub async fn typical_offer(options: &PeerOptions) -> Result<Vec<u8>, String> {
    let plan = options.plan(&[]);
    let built = crate::stack::build(options, &plan)
        .await
        .map_err(|e| format!("creating the peer connection: {e}"))?;
    let pc = built.pc;
    let offer = async {
        crate::link::offer_media(pc.as_ref(), options).await?;
        let offer = pc
            .create_offer(None)
            .await
            .map_err(|e| format!("creating the offer: {e}"))?;
        serde_json::to_vec(&offer).map_err(|e| format!("encoding the offer: {e}"))
    }
    .await;
    let _ = pc.close().await;
    offer
}
