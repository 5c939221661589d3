//! The link session: messages in, frames out and back, every message delivered once and in
//! order while the link is up, whatever the line does to single frames.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use core::time::Duration;

use crate::Time;
use crate::frame::{self, Deframer, Frame, Kind, MAX_FRAME, MAX_PAYLOAD, MAX_WIRE_FRAME};

/// The selective-acknowledgement bitmap covers this many frames past the cumulative ack, so
/// the window cannot be larger.
pub const MAX_WINDOW: u16 = 32;
/// Messages are at most this long.
pub const MAX_MESSAGE: usize = 64 * 1024;

const FIRST: u8 = 1;
const LAST: u8 = 2;
const HELLO_REPLY: u8 = 1;

/// The link's settings; both sides use the smaller frame size and window of the two.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The largest frame payload this side sends and offers (at most [`MAX_PAYLOAD`]).
    pub max_payload: u16,
    /// Frames in flight (at most [`MAX_WINDOW`]).
    pub window: u16,
    /// Messages queued or in flight may hold at most this many bytes; [`Link::send`] refuses
    /// more.
    pub send_queue_limit: usize,
    /// How often HELLO is sent while the link is not up.
    pub hello_interval: Duration,
    /// An ACK goes out after this long without sending anything, as a heartbeat.
    pub heartbeat_interval: Duration,
    /// The link is down after this long without a valid frame from the peer.
    pub link_timeout: Duration,
    /// The retransmission timeout before any round trip was measured.
    pub rto_initial: Duration,
    /// Bounds of the retransmission timeout.
    pub rto_min: Duration,
    /// See `rto_min`.
    pub rto_max: Duration,
    /// A partial message is dropped when the link has been down this long. While the link is
    /// up, or down for less, it is kept however slowly it progresses: its sender has its
    /// fragments acknowledged and will not send them again, so dropping it would lose it.
    pub reassembly_timeout: Duration,
    /// The line's rate in baud (10 bits a byte), 0 when unknown. With it the link knows when
    /// each frame finishes leaving behind the ones queued before it, and times its round
    /// trips and retransmissions from then: a burst of frames that takes 80 ms of line time
    /// is not sent again because its last frames were acknowledged "late".
    pub baud: u32,
    /// When the peer reboots, send it again what it had not acknowledged (the coprocessor
    /// toward a rebooted host: a host reboot loses nothing), or drop it (the host toward a
    /// rebooted coprocessor, whose signaling session is gone).
    pub resend_after_peer_reboot: bool,
}

impl Default for Config {
    /// Settings for a UART at 921,600 baud: 1 KiB frames, a window of 16.
    fn default() -> Self {
        Self {
            max_payload: MAX_PAYLOAD as u16,
            window: 32,
            send_queue_limit: 512 * 1024,
            hello_interval: Duration::from_millis(250),
            heartbeat_interval: Duration::from_millis(250),
            link_timeout: Duration::from_millis(5000),
            rto_initial: Duration::from_millis(300),
            rto_min: Duration::from_millis(30),
            rto_max: Duration::from_millis(2000),
            reassembly_timeout: Duration::from_secs(60),
            baud: 921_600,
            resend_after_peer_reboot: true,
        }
    }
}

/// What happened on the link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The handshake completed (again): messages flow.
    Up {
        /// The peer's session id.
        peer_session: u32,
        /// The frame payload both use.
        max_payload: u16,
        /// The window both use.
        window: u16,
    },
    /// Nothing valid came from the peer for the link timeout; messages wait.
    Down,
    /// The peer restarted (its session id changed): what it held is gone.
    PeerRebooted {
        /// Messages sent to it again from their start.
        resent: usize,
        /// Messages dropped instead ([`Config::resend_after_peer_reboot`] off).
        discarded: usize,
    },
    /// A whole message from the peer.
    Message(Vec<u8>),
    /// A partial message from the peer was given up.
    ReassemblyDropped {
        /// The bytes that had arrived.
        received: usize,
    },
}

/// Why [`Link::send`] refused a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// Empty, or longer than [`MAX_MESSAGE`].
    Size,
    /// The queue holds [`Config::send_queue_limit`] bytes already.
    QueueFull,
}

/// Counters, for logs and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Frames written, retransmissions included.
    pub frames_sent: u64,
    /// Data frames written again.
    pub retransmissions: u64,
    /// Bytes written on the wire.
    pub bytes_sent: u64,
    /// Valid frames received.
    pub frames_received: u64,
    /// Runs of bytes that were not a valid frame (bit errors, garbage).
    pub bad_frames: u64,
    /// Valid frames from another session or for another one (late frames across a reboot).
    pub stale_frames: u64,
    /// Data frames received twice.
    pub duplicates: u64,
    /// Messages delivered.
    pub messages_delivered: u64,
    /// The payload new data frames carry now: it halves while many frames need sending
    /// again (bit errors hit long frames hardest) and grows back on a clean line.
    pub frame_payload: u16,
}

/// Data frames per adaptation step of the frame size.
const ADAPT_EVERY: u32 = 32;
/// The smallest payload the adaptation goes down to.
const MIN_ADAPTED_PAYLOAD: u16 = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Connecting,
    Up,
    Down,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Peer {
    session: u32,
    max_payload: u16,
    window: u16,
}

#[derive(Debug)]
struct OutFrame {
    seq: u32,
    payload: Vec<u8>,
    last_of_message: bool,
    sent_at: Option<Time>,
    retransmitted: bool,
    acked: bool,
    queued: bool,
}

#[derive(Debug)]
struct Partial {
    bytes: Vec<u8>,
    total: usize,
}

/// One side of the link. See the crate documentation for the calls.
#[derive(Debug)]
pub struct Link {
    config: Config,
    session: u32,
    state: State,
    peer: Option<Peer>,
    deframer: Deframer,
    events: VecDeque<Event>,
    stats: Stats,
    last_rx: Time,
    last_tx: Time,
    hello_due: Option<Time>,
    hello_reply_due: bool,
    // Sending.
    messages: VecDeque<Vec<u8>>,
    queued_bytes: usize,
    frag_message: usize,
    frag_offset: usize,
    next_seq: u32,
    frames: VecDeque<OutFrame>,
    retransmit: VecDeque<u32>,
    srtt: Option<Duration>,
    rttvar: Duration,
    rto: Duration,
    /// When the bytes written so far have left the line (with [`Config::baud`]).
    line_free_at: Time,
    /// Data frames sent and sent again since the last adaptation of the frame size.
    adapt_sent: u32,
    adapt_resent: u32,
    // Receiving.
    expected: u32,
    held: BTreeMap<u32, Vec<u8>>,
    ack_due: bool,
    partial: Option<Partial>,
}

/// How far `b` is after `a` in sequence space (negative: before).
fn ahead(a: u32, b: u32) -> i64 {
    i64::from(b.wrapping_sub(a) as i32)
}

impl Link {
    /// A link that starts its handshake at `now`; `session` must be random at each start
    /// (and not 0), so the peer can tell a reboot.
    pub fn new(config: Config, session: u32, now: Time) -> Self {
        let mut config = config;
        config.max_payload = config.max_payload.clamp(16, MAX_PAYLOAD as u16);
        config.window = config.window.clamp(1, MAX_WINDOW);
        let rto = config.rto_initial;
        Self {
            session: session.max(1),
            state: State::Connecting,
            peer: None,
            deframer: Deframer::default(),
            events: VecDeque::new(),
            stats: Stats::default(),
            last_rx: now,
            last_tx: now,
            hello_due: Some(now),
            hello_reply_due: false,
            messages: VecDeque::new(),
            queued_bytes: 0,
            frag_message: 0,
            frag_offset: 0,
            next_seq: 0,
            frames: VecDeque::new(),
            retransmit: VecDeque::new(),
            srtt: None,
            rttvar: Duration::ZERO,
            rto,
            adapt_sent: 0,
            adapt_resent: 0,
            line_free_at: now,
            expected: 0,
            held: BTreeMap::new(),
            ack_due: false,
            partial: None,
            config,
        }
    }

    /// This side's session id.
    pub fn session(&self) -> u32 {
        self.session
    }

    /// True while the handshake holds and the peer is heard from.
    pub fn is_up(&self) -> bool {
        self.state == State::Up
    }

    /// A one-line summary of the link's internals (sequence numbers, frames in flight, what
    /// is held and queued, the RTO), for the log when a transfer stalls.
    pub fn diagnostics(&self) -> alloc::string::String {
        alloc::format!(
            "last_rx {:?} last_tx {:?} next_seq {} frames {:?} retransmit {:?} expected {} held {:?} msgs {} frag {}/{} rto {:?} partial {:?}",
            self.last_rx,
            self.last_tx,
            self.next_seq,
            self.frames
                .iter()
                .map(|f| (f.seq, f.acked, f.queued, f.retransmitted, f.payload.len()))
                .collect::<Vec<_>>(),
            self.retransmit,
            self.expected,
            self.held.keys().collect::<Vec<_>>(),
            self.messages.len(),
            self.frag_message,
            self.frag_offset,
            self.rto,
            self.partial.as_ref().map(|p| (p.bytes.len(), p.total)),
        )
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Bytes of messages queued or not yet acknowledged.
    pub fn queued_bytes(&self) -> usize {
        self.queued_bytes
    }

    /// Queues a message (1 byte to [`MAX_MESSAGE`]); it goes out when the link is up.
    pub fn send(&mut self, message: Vec<u8>) -> Result<(), SendError> {
        if message.is_empty() || message.len() > MAX_MESSAGE {
            return Err(SendError::Size);
        }
        if self.queued_bytes.saturating_add(message.len()) > self.config.send_queue_limit {
            return Err(SendError::QueueFull);
        }
        self.queued_bytes += message.len();
        self.messages.push_back(message);
        Ok(())
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Bytes received from the line, in any pieces.
    pub fn handle_rx(&mut self, now: Time, bytes: &[u8]) {
        let mut deframer = core::mem::take(&mut self.deframer);
        deframer.feed(bytes, |result| match result {
            Ok(frame) => self.on_frame(now, &frame),
            Err(_) => self.stats.bad_frames += 1,
        });
        self.deframer = deframer;
    }

    fn on_frame(&mut self, now: Time, f: &Frame<'_>) {
        if f.kind == Kind::Hello {
            return self.on_hello(now, f);
        }
        let from_peer = self.peer.is_some_and(|p| p.session == f.src);
        if !from_peer || f.dst != self.session {
            self.stats.stale_frames += 1;
            return;
        }
        self.stats.frames_received += 1;
        self.last_rx = now;
        if self.state == State::Down {
            // Heard again from the same peer: it still knows us.
            self.come_up(now);
        }
        match f.kind {
            Kind::Data => self.on_data(f.seq, f.payload),
            Kind::Ack => self.on_ack(now, f.seq, f.payload),
            Kind::Hello => {}
        }
    }

    fn on_hello(&mut self, now: Time, f: &Frame<'_>) {
        let [version, p0, p1, w0, w1, flags, ..] = *f.payload else {
            self.stats.bad_frames += 1;
            return;
        };
        if version < frame::VERSION || f.src == 0 {
            self.stats.bad_frames += 1;
            return;
        }
        self.stats.frames_received += 1;
        self.last_rx = now;
        let theirs = Peer {
            session: f.src,
            max_payload: u16::from_le_bytes([p0, p1]).clamp(16, MAX_PAYLOAD as u16),
            window: u16::from_le_bytes([w0, w1]).clamp(1, MAX_WINDOW),
        };
        match self.peer {
            Some(known) if known.session != theirs.session => self.peer_rebooted(),
            _ => {}
        }
        self.peer = Some(theirs);
        if flags & HELLO_REPLY == 0 {
            self.hello_reply_due = true;
        }
        if f.dst == self.session && self.state != State::Up {
            self.come_up(now);
        } else if f.dst != self.session && self.state == State::Up {
            // The peer forgot us without rebooting (it timed the link out): handshake again.
            self.state = State::Connecting;
            self.hello_due = Some(now);
        }
    }

    fn come_up(&mut self, now: Time) {
        let Some(peer) = self.peer else { return };
        self.state = State::Up;
        if self.stats.frame_payload == 0 {
            self.stats.frame_payload = peer.max_payload.min(self.config.max_payload);
        }
        self.hello_due = None;
        // What was in flight when the link went down goes again at once.
        self.rto = self.current_rto();
        for out in self.frames.iter_mut() {
            if out.sent_at.is_some() && !out.acked && !out.queued {
                out.queued = true;
                self.retransmit.push_back(out.seq);
            }
        }
        self.last_rx = now;
        self.events.push_back(Event::Up {
            peer_session: peer.session,
            max_payload: peer.max_payload.min(self.config.max_payload),
            window: peer.window.min(self.config.window),
        });
    }

    fn peer_rebooted(&mut self) {
        if let Some(p) = self.partial.take() {
            self.events.push_back(Event::ReassemblyDropped {
                received: p.bytes.len(),
            });
        }
        self.expected = 0;
        self.held.clear();
        self.ack_due = false;
        self.frames.clear();
        self.retransmit.clear();
        self.next_seq = 0;
        self.frag_message = 0;
        self.frag_offset = 0;
        let pending = self.messages.len();
        let (resent, discarded) = if self.config.resend_after_peer_reboot {
            (pending, 0)
        } else {
            self.messages.clear();
            self.queued_bytes = 0;
            (0, pending)
        };
        self.state = State::Connecting;
        self.events
            .push_back(Event::PeerRebooted { resent, discarded });
    }

    fn on_data(&mut self, seq: u32, payload: &[u8]) {
        self.ack_due = true;
        let offset = ahead(self.expected, seq);
        if offset < 0 || (offset > 0 && self.held.contains_key(&seq)) {
            self.stats.duplicates += 1;
            return;
        }
        if offset >= i64::from(self.config.window) {
            return; // beyond what we advertised: the sender will send it again
        }
        if offset > 0 {
            self.held.insert(seq, payload.to_vec());
            return;
        }
        self.reassemble(payload);
        self.expected = self.expected.wrapping_add(1);
        while let Some(next) = self.held.remove(&self.expected) {
            self.reassemble(&next);
            self.expected = self.expected.wrapping_add(1);
        }
    }

    fn reassemble(&mut self, payload: &[u8]) {
        let Some((&flags, rest)) = payload.split_first() else {
            return;
        };
        let data = if flags & FIRST != 0 {
            if let Some(p) = self.partial.take() {
                self.events.push_back(Event::ReassemblyDropped {
                    received: p.bytes.len(),
                });
            }
            let Some((len, data)) = rest.split_first_chunk::<4>() else {
                return;
            };
            let total = u32::from_le_bytes(*len) as usize;
            if total == 0 || total > MAX_MESSAGE {
                return;
            }
            self.partial = Some(Partial {
                bytes: Vec::with_capacity(total),
                total,
            });
            data
        } else {
            rest
        };
        let Some(partial) = self.partial.as_mut() else {
            return; // the rest of a message given up
        };
        if partial.bytes.len() + data.len() > partial.total {
            let dropped = self.partial.take().map_or(0, |p| p.bytes.len());
            self.events
                .push_back(Event::ReassemblyDropped { received: dropped });
            return;
        }
        partial.bytes.extend_from_slice(data);
        if flags & LAST != 0 {
            let done = self.partial.take().map(|p| (p.bytes, p.total));
            match done {
                Some((bytes, total)) if bytes.len() == total => {
                    self.stats.messages_delivered += 1;
                    self.events.push_back(Event::Message(bytes));
                }
                Some((bytes, _)) => self.events.push_back(Event::ReassemblyDropped {
                    received: bytes.len(),
                }),
                None => {}
            }
        }
    }

    fn on_ack(&mut self, now: Time, cumulative: u32, payload: &[u8]) {
        let bitmap = payload
            .first_chunk::<4>()
            .map_or(0, |b| u32::from_le_bytes(*b));
        let in_range =
            |seq: u32, front: u32, next: u32| ahead(front, seq) >= 0 && ahead(seq, next) >= 0;
        let front = self.frames.front().map_or(self.next_seq, |f| f.seq);
        if !in_range(cumulative, front, self.next_seq) {
            return;
        }
        let mut sample = None;
        while let Some(out) = self.frames.front() {
            if ahead(out.seq, cumulative) <= 0 {
                break;
            }
            let Some(out) = self.frames.pop_front() else {
                break;
            };
            if !out.retransmitted
                && !out.acked
                && let Some(at) = out.sent_at
            {
                sample = Some(now.since(at));
            }
            if out.last_of_message
                && let Some(done) = self.messages.pop_front()
            {
                self.queued_bytes = self.queued_bytes.saturating_sub(done.len());
                self.frag_message = self.frag_message.saturating_sub(1);
            }
        }
        let mut highest_sacked = None;
        for out in self.frames.iter_mut() {
            let bit = ahead(cumulative, out.seq) - 1;
            if (0..32).contains(&bit) && bitmap & (1 << bit) != 0 {
                if !out.acked
                    && !out.retransmitted
                    && let Some(at) = out.sent_at
                {
                    sample = Some(now.since(at));
                }
                out.acked = true;
                highest_sacked = Some(out.seq);
            }
        }
        if let Some(rtt) = sample {
            self.observe_rtt(rtt);
        }
        // Fast retransmission: a hole before a frame the peer has, older than a round trip.
        if let Some(highest) = highest_sacked {
            let srtt = self.srtt.unwrap_or(self.config.rto_initial);
            for out in self.frames.iter_mut() {
                if ahead(out.seq, highest) <= 0 {
                    break;
                }
                let old = out.sent_at.is_some_and(|at| now.since(at) >= srtt);
                if !out.acked && !out.queued && old {
                    out.queued = true;
                    self.retransmit.push_back(out.seq);
                }
            }
        }
    }

    fn observe_rtt(&mut self, rtt: Duration) {
        // RFC 6298.
        match self.srtt {
            None => {
                self.srtt = Some(rtt);
                self.rttvar = rtt / 2;
            }
            Some(srtt) => {
                let diff = srtt.abs_diff(rtt);
                self.rttvar = (self.rttvar * 3 + diff) / 4;
                self.srtt = Some((srtt * 7 + rtt) / 8);
            }
        }
        self.rto = self.current_rto();
    }

    fn current_rto(&self) -> Duration {
        match self.srtt {
            Some(srtt) => (srtt + self.rttvar * 4).clamp(self.config.rto_min, self.config.rto_max),
            None => self.config.rto_initial,
        }
    }

    /// The next frame to write, COBS-encoded with its delimiter, or `None` for now.
    pub fn poll_transmit(&mut self, now: Time) -> Option<Vec<u8>> {
        if self.hello_reply_due || self.hello_due.is_some_and(|at| at <= now) {
            return Some(self.hello(now));
        }
        if self.state != State::Up {
            return None;
        }
        let peer = self.peer?;
        if self.ack_due {
            self.ack_due = false;
            return Some(self.ack(now, peer));
        }
        while let Some(seq) = self.retransmit.pop_front() {
            let Some(out) = self.frames.iter_mut().find(|f| f.seq == seq) else {
                continue;
            };
            out.queued = false;
            if out.acked {
                continue;
            }
            out.retransmitted = true;
            let payload = core::mem::take(&mut out.payload);
            self.stats.retransmissions += 1;
            self.adapt_resent += 1;
            self.adapt(peer);
            let wire = self.write(now, Kind::Data, peer.session, seq, &payload);
            let left = self.departure(now);
            if let Some(out) = self.frames.iter_mut().find(|f| f.seq == seq) {
                out.payload = payload;
                out.sent_at = Some(left);
            }
            return Some(wire);
        }
        let window = usize::from(peer.window.min(self.config.window));
        if self.frames.len() < window
            && let Some(payload) = self.next_fragment(peer)
        {
            let seq = self.next_seq;
            self.next_seq = seq.wrapping_add(1);
            self.adapt(peer);
            let last_of_message = payload.first().is_some_and(|f| f & LAST != 0);
            let wire = self.write(now, Kind::Data, peer.session, seq, &payload);
            let left = self.departure(now);
            self.frames.push_back(OutFrame {
                seq,
                payload,
                last_of_message,
                sent_at: Some(left),
                retransmitted: false,
                acked: false,
                queued: false,
            });
            return Some(wire);
        }
        if now.since(self.last_tx) >= self.config.heartbeat_interval {
            return Some(self.ack(now, peer));
        }
        None
    }

    /// Every [`ADAPT_EVERY`] data frames: halve the frame payload when more than 15 % of them
    /// were sent again, double it (up to what was agreed) when under 3 %.
    fn adapt(&mut self, peer: Peer) {
        self.adapt_sent += 1;
        if self.adapt_sent < ADAPT_EVERY {
            return;
        }
        let agreed = peer.max_payload.min(self.config.max_payload);
        let now = self
            .stats
            .frame_payload
            .clamp(MIN_ADAPTED_PAYLOAD.min(agreed), agreed);
        let resent = self.adapt_resent * 100 / self.adapt_sent;
        self.stats.frame_payload = if resent > 15 {
            (now / 2).max(MIN_ADAPTED_PAYLOAD.min(agreed))
        } else if resent < 3 {
            now.saturating_mul(2).min(agreed)
        } else {
            now
        };
        self.adapt_sent = 0;
        self.adapt_resent = 0;
    }

    fn next_fragment(&mut self, peer: Peer) -> Option<Vec<u8>> {
        let message = self.messages.get(self.frag_message)?;
        let agreed = peer.max_payload.min(self.config.max_payload);
        let room = usize::from(match self.stats.frame_payload {
            0 => agreed,
            now => now.min(agreed),
        });
        let first = self.frag_offset == 0;
        let header = if first { 5 } else { 1 };
        let take = room
            .saturating_sub(header)
            .min(message.len() - self.frag_offset);
        let end = self.frag_offset + take;
        let last = end == message.len();
        let mut payload = Vec::with_capacity(header + take);
        payload.push((u8::from(first) * FIRST) | (u8::from(last) * LAST));
        if first {
            payload.extend_from_slice(&(message.len() as u32).to_le_bytes());
        }
        payload.extend_from_slice(message.get(self.frag_offset..end)?);
        if last {
            self.frag_message += 1;
            self.frag_offset = 0;
        } else {
            self.frag_offset = end;
        }
        Some(payload)
    }

    /// When the frame just written has left the line: now, or later behind a queue.
    fn departure(&self, now: Time) -> Time {
        if self.config.baud > 0 {
            self.line_free_at.max(now)
        } else {
            now
        }
    }

    fn hello(&mut self, now: Time) -> Vec<u8> {
        let reply = self.hello_reply_due;
        self.hello_reply_due = false;
        if self.state != State::Up {
            self.hello_due = Some(now.after(self.config.hello_interval));
        }
        let p = self.config.max_payload.to_le_bytes();
        let w = self.config.window.to_le_bytes();
        let payload = [
            frame::VERSION,
            p[0],
            p[1],
            w[0],
            w[1],
            if reply { HELLO_REPLY } else { 0 },
        ];
        let dst = self.peer.map_or(0, |p| p.session);
        self.write(now, Kind::Hello, dst, 0, &payload)
    }

    fn ack(&mut self, now: Time, peer: Peer) -> Vec<u8> {
        let mut bitmap = 0u32;
        for &seq in self.held.keys() {
            let bit = ahead(self.expected, seq) - 1;
            if (0..32).contains(&bit) {
                bitmap |= 1 << bit;
            }
        }
        let expected = self.expected;
        self.write(
            now,
            Kind::Ack,
            peer.session,
            expected,
            &bitmap.to_le_bytes(),
        )
    }

    fn write(&mut self, now: Time, kind: Kind, dst: u32, seq: u32, payload: &[u8]) -> Vec<u8> {
        let frame = Frame {
            kind,
            src: self.session,
            dst,
            seq,
            payload,
        };
        let mut scratch = [0u8; MAX_FRAME];
        let mut out = alloc::vec![0u8; MAX_WIRE_FRAME];
        // Payloads are built here and never exceed MAX_PAYLOAD, so encoding cannot fail.
        let n = frame.encode(&mut scratch, &mut out).unwrap_or(0);
        out.truncate(n);
        if self.config.baud > 0 {
            let airtime =
                Duration::from_micros(n as u64 * 10_000_000 / u64::from(self.config.baud));
            self.line_free_at = self.line_free_at.max(now).after(airtime);
        }
        self.last_tx = now;
        self.stats.frames_sent += 1;
        self.stats.bytes_sent += n as u64;
        out
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due.
    pub fn poll_timeout(&self) -> Option<Time> {
        let mut due: Option<Time> = self.hello_due;
        let mut consider = |t: Time| due = Some(due.map_or(t, |d| d.min(t)));
        if self.state == State::Up {
            consider(self.last_tx.after(self.config.heartbeat_interval));
            consider(self.last_rx.after(self.config.link_timeout));
            if let Some(at) = self
                .frames
                .iter()
                .filter(|f| !f.acked && !f.queued)
                .filter_map(|f| f.sent_at)
                .min()
            {
                consider(at.after(self.rto));
            }
        }
        if self.state == State::Down && self.partial.is_some() {
            consider(self.last_rx.after(self.config.reassembly_timeout));
        }
        due
    }

    /// Runs the timers due at `now`: the link timeout, retransmissions, a stalled reassembly.
    pub fn handle_timeout(&mut self, now: Time) {
        if self.state == State::Up && now.since(self.last_rx) >= self.config.link_timeout {
            self.state = State::Down;
            self.hello_due = Some(now);
            self.events.push_back(Event::Down);
        }
        if self.state == State::Up {
            let rto = self.rto;
            let mut expired = false;
            for out in self.frames.iter_mut() {
                let late = out.sent_at.is_some_and(|at| now.since(at) >= rto);
                if late && !out.acked && !out.queued {
                    out.queued = true;
                    self.retransmit.push_back(out.seq);
                    expired = true;
                }
            }
            if expired {
                self.rto = (self.rto * 2).min(self.config.rto_max);
            }
        }
        if let Some(p) = &self.partial
            && self.state == State::Down
            && now.since(self.last_rx) >= self.config.reassembly_timeout
        {
            let received = p.bytes.len();
            self.partial = None;
            self.events.push_back(Event::ReassemblyDropped { received });
        }
    }
}
