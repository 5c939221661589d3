//! Split mode's link on arbitrary bytes: the deframer and a link session that has completed
//! its handshake (so data and acks reach past the first checks), and the message decoder.
//! No panic; memory stays bounded (the session holds at most a window of frames and one
//! partial message).
#![no_main]
use kvs_link::frame::{Frame, Kind, MAX_FRAME, MAX_WIRE_FRAME};
use kvs_link::message::Message;
use kvs_link::{Config, Link, Time};
use libfuzzer_sys::fuzz_target;

const PEER: u32 = 0x5eed;

fn wire(kind: Kind, dst: u32, seq: u32, payload: &[u8]) -> Vec<u8> {
    let mut scratch = [0u8; MAX_FRAME];
    let mut out = vec![0u8; MAX_WIRE_FRAME];
    let n = Frame { kind, src: PEER, dst, seq, payload }.encode(&mut scratch, &mut out).unwrap();
    out.truncate(n);
    out
}

fuzz_target!(|data: &[u8]| {
    let _ = Message::decode(data);
    let now = Time::from_micros(1_000);
    let mut link = Link::new(Config::default(), 0x1111, now);
    // The peer's HELLO addressed to us brings the link up.
    link.handle_rx(now, &wire(Kind::Hello, 0x1111, 0, &[1, 0, 4, 16, 0, 0]));
    // The input as raw line bytes, then each 0-separated chunk as a data frame's payload.
    link.handle_rx(now, data);
    for (seq, chunk) in data.split(|&b| b == 0).take(64).enumerate() {
        if chunk.len() <= 1024 {
            link.handle_rx(now, &wire(Kind::Data, 0x1111, seq as u32, chunk));
            link.handle_rx(now, &wire(Kind::Ack, 0x1111, seq as u32, chunk));
        }
    }
    let later = Time::from_micros(10_000_000);
    link.handle_timeout(later);
    while link.poll_transmit(later).is_some() {}
    while link.poll_event().is_some() {}
});
