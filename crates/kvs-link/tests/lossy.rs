//! Two links joined by an emulated serial line on virtual time: paced at the line rate, with
//! bit errors, lost, duplicated, reordered and truncated frames, cuts and restarts.

use std::collections::VecDeque;
use std::time::Duration;

use kvs_link::{Config, Event, Link, Time};
use proptest::prelude::*;

const BAUD: u64 = 921_600;

/// What the line does to frames.
#[derive(Debug, Clone, Copy, Default)]
struct Impairments {
    bit_error_rate: f64,
    loss: f64,
    duplication: f64,
    reorder: f64,
    truncation: f64,
}

/// A deterministic generator (xorshift64*), seeded by the property.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p && p > 0.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// One direction of the line: bytes leave at the line rate and arrive in order, unless the
/// impairments say otherwise.
#[derive(Default)]
struct Wire {
    log: Vec<(u64, usize, &'static str)>,
    free_at: u64,
    arriving: VecDeque<(u64, Vec<u8>)>,
    cut: bool,
}

impl Wire {
    fn push(&mut self, now: Time, mut bytes: Vec<u8>, imp: &Impairments, rng: &mut Rng) {
        let start = self.free_at.max(now.as_micros());
        let airtime = bytes.len() as u64 * 10 * 1_000_000 / BAUD;
        self.free_at = start + airtime;
        if self.cut || rng.chance(imp.loss) {
            self.log.push((start, bytes.len(), "lost"));
            return;
        }
        let original = bytes.clone();
        if imp.bit_error_rate > 0.0 {
            for byte in bytes.iter_mut() {
                for bit in 0..8 {
                    if rng.chance(imp.bit_error_rate) {
                        *byte ^= 1 << bit;
                    }
                }
            }
        }
        if rng.chance(imp.truncation) {
            let keep = rng.below(bytes.len() as u64) as usize;
            bytes.truncate(keep);
        }
        self.log.push((
            start,
            bytes.len(),
            if bytes == original { "ok" } else { "damaged" },
        ));
        let mut at = self.free_at;
        if rng.chance(imp.reorder) {
            at += rng.below(20_000); // up to 20 ms late: later frames overtake it
        }
        if rng.chance(imp.duplication) {
            self.insert(at + airtime, bytes.clone());
        }
        self.insert(at, bytes);
    }

    fn insert(&mut self, at: u64, bytes: Vec<u8>) {
        let i = self.arriving.partition_point(|(t, _)| *t <= at);
        self.arriving.insert(i, (at, bytes));
    }

    fn next_arrival(&self) -> Option<u64> {
        self.arriving.front().map(|(t, _)| *t)
    }
}

struct Side {
    link: Link,
    received: Vec<Vec<u8>>,
    events: Vec<Event>,
    down_at: Vec<u64>,
}

impl Side {
    fn new(config: Config, session: u32, now: Time) -> Self {
        Self {
            link: Link::new(config, session, now),
            received: Vec::new(),
            events: Vec::new(),
            down_at: Vec::new(),
        }
    }

    fn drain(&mut self, now: Time) {
        while let Some(event) = self.link.poll_event() {
            if event == Event::Down {
                self.down_at.push(now.as_micros() / 1000);
            }
            match event {
                Event::Message(m) => self.received.push(m),
                other => self.events.push(other),
            }
        }
    }

    fn downs(&self) -> usize {
        self.events.iter().filter(|e| **e == Event::Down).count()
    }
}

struct Sim {
    now: Time,
    a: Side,
    b: Side,
    ab: Wire,
    ba: Wire,
    imp: Impairments,
    rng: Rng,
}

impl Sim {
    fn new(imp: Impairments, seed: u64, config_a: Config, config_b: Config) -> Self {
        let now = Time::from_micros(0);
        Self {
            now,
            a: Side::new(config_a, 0xA0A0_0001, now),
            b: Side::new(config_b, 0xB0B0_0001, now),
            ab: Wire::default(),
            ba: Wire::default(),
            imp,
            rng: Rng(seed | 1),
        }
    }

    /// Runs until `until` (virtual) or `done` says so; returns whether `done` did.
    fn run(&mut self, until: Duration, mut done: impl FnMut(&Sim) -> bool) -> bool {
        let end = self.now.after(until);
        loop {
            for (side, wire) in [(&mut self.a, &mut self.ab), (&mut self.b, &mut self.ba)] {
                side.link.handle_timeout(self.now);
                while let Some(bytes) = side.link.poll_transmit(self.now) {
                    wire.push(self.now, bytes, &self.imp, &mut self.rng);
                }
            }
            for (wire, side) in [(&mut self.ab, &mut self.b), (&mut self.ba, &mut self.a)] {
                while wire
                    .next_arrival()
                    .is_some_and(|t| t <= self.now.as_micros())
                {
                    if let Some((_, bytes)) = wire.arriving.pop_front() {
                        side.link.handle_rx(self.now, &bytes);
                    }
                }
            }
            self.a.drain(self.now);
            self.b.drain(self.now);
            if done(self) {
                return true;
            }
            let next = [
                self.a.link.poll_timeout().map(Time::as_micros),
                self.b.link.poll_timeout().map(Time::as_micros),
                self.ab.next_arrival(),
                self.ba.next_arrival(),
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(u64::MAX)
            .max(self.now.as_micros() + 1);
            if next > end.as_micros() {
                self.now = end;
                return false;
            }
            self.now = Time::from_micros(next);
        }
    }
}

impl Sim {
    fn report(&self) -> String {
        let tail = |w: &Wire| {
            w.log
                .iter()
                .rev()
                .take(40)
                .map(|(t, n, f)| format!("{}ms:{}:{}", t / 1000, n, f))
                .collect::<Vec<_>>()
                .join(" ")
        };
        format!(
            "now {}ms downs a {:?} b {:?} ab [{}] ba [{}]; ",
            self.now.as_micros() / 1000,
            self.a.down_at,
            self.b.down_at,
            tail(&self.ab),
            tail(&self.ba)
        ) + &format!(
            "a up {} {:?} {:?} {}; b up {} {:?} {:?} {}",
            self.a.link.is_up(),
            self.a.link.stats(),
            self.a.events,
            self.a.link.diagnostics(),
            self.b.link.is_up(),
            self.b.link.stats(),
            self.b.events,
            self.b.link.diagnostics()
        )
    }
}

/// The messages as (id, length), for assertions that print small.
fn ids(msgs: &[Vec<u8>]) -> Vec<(u64, usize)> {
    msgs.iter()
        .map(|m| (u64::from_le_bytes(m[..8].try_into().unwrap()), m.len()))
        .collect()
}

fn messages(sizes: &[usize], tag: u8) -> Vec<Vec<u8>> {
    sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let mut m = vec![tag; n.max(9)];
            m[..8].copy_from_slice(&(i as u64).to_le_bytes());
            m
        })
        .collect()
}

fn impairments() -> impl Strategy<Value = Impairments> {
    (
        0.0..=1e-4f64,
        0.0..=0.1f64,
        0.0..=0.05f64,
        0.0..=0.05f64,
        0.0..=0.05f64,
    )
        .prop_map(
            |(bit_error_rate, loss, duplication, reorder, truncation)| Impairments {
                bit_error_rate,
                loss,
                duplication,
                reorder,
                truncation,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the line does short of a cut, every message arrives once and in order both
    /// ways, and the link never goes down.
    #[test]
    fn every_message_arrives_once_in_order(
        imp in impairments(),
        seed in any::<u64>(),
        a_sizes in prop::collection::vec(1usize..=20_000, 1..12),
        b_sizes in prop::collection::vec(1usize..=3_000, 0..12),
    ) {
        let mut sim = Sim::new(imp, seed, Config::default(), Config::default());
        let (to_b, to_a) = (messages(&a_sizes, 0xab), messages(&b_sizes, 0xba));
        for m in &to_b { sim.a.link.send(m.clone()).unwrap(); }
        for m in &to_a { sim.b.link.send(m.clone()).unwrap(); }
        let all = sim.run(Duration::from_secs(600), |s| {
            s.a.downs() + s.b.downs() > 0 || (s.b.received.len() >= to_b.len() && s.a.received.len() >= to_a.len())
        });
        let downs = sim.a.downs() + sim.b.downs();
        prop_assert_eq!(downs, 0, "{}", sim.report());
        prop_assert!(all, "delivered {}/{} and {}/{}: {}", sim.b.received.len(), to_b.len(), sim.a.received.len(), to_a.len(), sim.report());
        // A little longer: no late duplicate shows up.
        sim.run(Duration::from_secs(5), |_| false);
        prop_assert_eq!(ids(&sim.b.received), ids(&to_b));
        prop_assert_eq!(ids(&sim.a.received), ids(&to_a));
        let downs = sim.a.downs() + sim.b.downs(); prop_assert_eq!(downs, 0, "{}", sim.report());
        prop_assert_eq!(sim.a.link.queued_bytes(), 0);
    }

    /// A cut longer than the link timeout takes the link down on both sides; it comes back by
    /// itself when the cut ends, and what was sent meanwhile arrives once, in order.
    #[test]
    fn a_long_cut_goes_down_and_comes_back_by_itself(
        seed in any::<u64>(),
        cut_secs in 6u64..50,
        sizes in prop::collection::vec(1usize..=5_000, 1..10),
    ) {
        let mut sim = Sim::new(Impairments::default(), seed, Config::default(), Config::default());
        let msgs = messages(&sizes, 1);
        let (before, during) = msgs.split_at(msgs.len() / 2);
        for m in before { sim.a.link.send(m.clone()).unwrap(); }
        sim.run(Duration::from_millis(300), |_| false);
        sim.ab.cut = true;
        sim.ba.cut = true;
        for m in during { sim.a.link.send(m.clone()).unwrap(); }
        sim.run(Duration::from_secs(cut_secs), |_| false);
        prop_assert!(sim.a.downs() == 1 && sim.b.downs() == 1);
        sim.ab.cut = false;
        sim.ba.cut = false;
        let all = sim.run(Duration::from_secs(60), |s| s.b.received.len() >= msgs.len());
        prop_assert!(all);
        prop_assert!(sim.a.link.is_up() && sim.b.link.is_up());
        sim.run(Duration::from_secs(2), |_| false);
        prop_assert_eq!(ids(&sim.b.received), ids(&msgs));
    }

    /// The receiver restarts mid-transfer: the sender notices the new session, and (resending,
    /// as the coprocessor does toward a rebooted host) the new receiver gets every message the
    /// old one had not acknowledged, in order. Nothing reaches either incarnation twice.
    #[test]
    fn a_receiver_restart_loses_nothing_when_the_sender_resends(
        imp in impairments(),
        seed in any::<u64>(),
        sizes in prop::collection::vec(1usize..=8_000, 2..16),
        restart_after_ms in 1u64..400,
    ) {
        let mut sim = Sim::new(imp, seed, Config::default(), Config::default());
        let msgs = messages(&sizes, 2);
        for m in &msgs { sim.a.link.send(m.clone()).unwrap(); }
        sim.run(Duration::from_millis(restart_after_ms), |_| false);
        let old = std::mem::take(&mut sim.b.received);
        sim.b = Side::new(Config::default(), 0xB0B0_0002, sim.now);
        let all = sim.run(Duration::from_secs(600), |s| {
            s.a.link.queued_bytes() == 0 && s.b.link.is_up()
        });
        prop_assert!(all, "{}", sim.report());
        sim.run(Duration::from_secs(2), |_| false);
        let new = &sim.b.received;
        // The new incarnation gets a suffix of the messages, starting no later than where the
        // old one stopped; each incarnation got its messages once and in order.
        let start = msgs.len() - new.len();
        prop_assert!(start <= old.len(), "old {} new {}", old.len(), new.len());
        prop_assert_eq!(ids(&old[..]), ids(&msgs[..old.len()]));
        prop_assert_eq!(ids(&new[..]), ids(&msgs[start..]));
        // A sender that never heard the first receiver has nothing to notice.
        let noticed = sim.a.events.iter().any(|e| matches!(e, Event::PeerRebooted { .. }));
        prop_assert!(noticed || old.is_empty());
    }

    /// The sender restarts mid-transfer: its memory is gone, so the receiver delivers only
    /// whole messages, never one twice, and never a frame of the old session afterwards; what
    /// the new sender sends arrives in order.
    #[test]
    fn a_sender_restart_delivers_nothing_twice(
        imp in impairments(),
        seed in any::<u64>(),
        sizes in prop::collection::vec(1usize..=8_000, 1..10),
        restart_after_ms in 1u64..300,
    ) {
        let mut sim = Sim::new(imp, seed, Config::default(), Config::default());
        let first = messages(&sizes, 3);
        for m in &first { sim.a.link.send(m.clone()).unwrap(); }
        sim.run(Duration::from_millis(restart_after_ms), |_| false);
        sim.a = Side::new(Config::default(), 0xA0A0_0002, sim.now);
        let second = messages(&sizes, 4);
        for m in &second { sim.a.link.send(m.clone()).unwrap(); }
        let all = sim.run(Duration::from_secs(600), |s| s.b.received.last() == second.last());
        prop_assert!(all);
        sim.run(Duration::from_secs(2), |_| false);
        let got = &sim.b.received;
        let old: Vec<_> = got.iter().take_while(|m| m[8..].iter().all(|&b| b == 3) ).cloned().collect();
        prop_assert_eq!(ids(&old[..]), ids(&first[..old.len()]));
        prop_assert_eq!(ids(&got[old.len()..]), ids(&second[..]));
    }

    /// Thirty messages queued while the peer is absent (the host asleep) all arrive, in
    /// order, once it starts and the handshake completes.
    #[test]
    fn thirty_messages_queued_for_a_sleeping_peer_arrive_after_it_starts(
        imp in impairments(),
        seed in any::<u64>(),
        asleep_secs in 1u64..120,
    ) {
        let mut sim = Sim::new(imp, seed, Config::default(), Config::default());
        sim.ab.cut = true; // nobody listens
        sim.ba.cut = true;
        let msgs = messages(&[1200; 30], 5);
        for m in &msgs { sim.a.link.send(m.clone()).unwrap(); }
        sim.run(Duration::from_secs(asleep_secs), |_| false);
        sim.ab.cut = false;
        sim.ba.cut = false;
        sim.b = Side::new(Config::default(), 0xB0B0_0003, sim.now);
        let all = sim.run(Duration::from_secs(120), |s| s.b.received.len() >= msgs.len());
        prop_assert!(all);
        sim.run(Duration::from_secs(2), |_| false);
        prop_assert_eq!(ids(&sim.b.received), ids(&msgs));
    }
}
