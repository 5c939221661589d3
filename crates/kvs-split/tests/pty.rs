//! Two link ends over a real pseudo-terminal pair, each paced at 921,600 baud by the line
//! emulator and impaired (bit errors, lost, duplicated and delayed bytes): every message
//! arrives once and in order both ways.

use std::time::Duration;

use kvs_split::{Impairments, LinkConfig, LinkEvent, LinkHandle, Message, Paced, SignalingKind};

const BAUD: u32 = 921_600;

fn offer(n: usize) -> Message {
    let mut payload = format!(r#"{{"type":"offer","sdp":"v=0 #{n} "#).into_bytes();
    payload.resize(10_000, b'a');
    Message::Signaling {
        kind: SignalingKind::Offer,
        peer_client_id: format!("viewer-{n}"),
        correlation_id: String::new(),
        payload,
    }
}

async fn collect(events: &mut tokio::sync::mpsc::Receiver<LinkEvent>, n: usize) -> Vec<Message> {
    let mut got = Vec::new();
    while got.len() < n {
        match tokio::time::timeout(Duration::from_secs(60), events.recv()).await {
            Ok(Some(LinkEvent::Message(m))) => got.push(m),
            Ok(Some(LinkEvent::Closed(why))) => panic!("the link closed: {why}"),
            Ok(Some(LinkEvent::Down)) => panic!("the link went down"),
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => panic!("only {} of {n} messages arrived", got.len()),
        }
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_cross_an_impaired_pty_once_and_in_order() {
    let (a, b) = kvs_split::transport::pty_pair().unwrap();
    let impaired = Impairments {
        bit_error_rate: 1e-5,
        drop: 1e-4,
        duplicate: 1e-4,
        delay: 0.01,
    };
    let (co, mut co_events) =
        LinkHandle::start(Paced::new(a, BAUD, impaired, 1), LinkConfig::default());
    let (host, mut host_events) =
        LinkHandle::start(Paced::new(b, BAUD, impaired, 2), LinkConfig::default());
    let offers: Vec<Message> = (0..20).map(offer).collect();
    let answers: Vec<Message> = (0..20)
        .map(|n| Message::Signaling {
            kind: SignalingKind::Answer,
            peer_client_id: format!("viewer-{n}"),
            correlation_id: format!("c{n}"),
            payload: b"{\"type\":\"answer\",\"sdp\":\"v=0\"}".to_vec(),
        })
        .collect();
    for m in &offers {
        co.send(m).await.unwrap();
    }
    for m in &answers {
        host.send(m).await.unwrap();
    }
    let (at_host, at_co) = tokio::join!(collect(&mut host_events, 20), collect(&mut co_events, 20));
    assert!(at_host == offers, "the offers arrived in order");
    assert!(at_co == answers, "the answers arrived in order");
    let stats = co.stats().await.unwrap();
    assert!(stats.frames_sent > 200, "{stats:?}");
}
