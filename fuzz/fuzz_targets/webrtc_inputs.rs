//! What a peer sends the peer-connection core: SDP offers, ICE candidate lines, TURN URIs,
//! H.264 Annex-B streams and RTP packets. The first byte picks the parser; none may panic,
//! and memory stays bounded (the frame assembler's limits).
#![no_main]
use bytes::Bytes;
use kvs_proto::api::IceServer;
use kvs_webrtc_core::frames::{FrameAssembler, FrameLimits};
use kvs_webrtc_core::ice_failure::CandidateCounts;
use kvs_webrtc_core::{annexb, ice_servers, offer};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else { return };
    match kind % 5 {
        0 => {
            if let Ok(o) = offer::read_offer(rest) {
                let _ = o.serve();
            }
        }
        1 => {
            for unit in annexb::access_units(rest) {
                let unit = &rest[unit];
                let _ = annexb::is_key_frame(unit);
                let _ = annexb::normalized(unit);
            }
        }
        2 => {
            // Packets as [sequence u16][timestamp u32][marker u8][length u16][payload].
            let mut frames = FrameAssembler::new(FrameLimits { max_packets: 64, max_bytes: 64 << 10 });
            let mut at = rest;
            while at.len() >= 9 {
                let seq = u16::from_be_bytes([at[0], at[1]]);
                let ts = u32::from_be_bytes([at[2], at[3], at[4], at[5]]);
                let marker = at[6] & 1 == 1;
                let len = usize::from(u16::from_be_bytes([at[7], at[8]])).min(at.len() - 9);
                let payload = Bytes::copy_from_slice(&at[9..9 + len]);
                at = &at[9 + len..];
                let _ = frames.push(seq, ts, marker, payload);
            }
        }
        3 => {
            let mut counts = CandidateCounts::default();
            for line in String::from_utf8_lossy(rest).lines() {
                counts.count(line);
            }
        }
        _ => {
            let text = String::from_utf8_lossy(rest);
            let server = IceServer {
                uris: text.lines().map(str::to_owned).collect(),
                username: "u".into(),
                password: "p".into(),
                ttl: 300,
            };
            let _ = ice_servers::plan("us-west-2", "https://h:1", &[server.clone()], None);
            let _ = ice_servers::plan("cn-north-1", "", &[server], text.lines().next());
        }
    }
});
