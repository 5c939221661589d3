//! The coprocessor restarts while the host runs: the host notices the new session, drops
//! what it had not delivered to the old one, and tells the application (a signaling error
//! naming the restart, and DISCONNECTED until the new session reports its state).
//! The coprocessor's side is driven by hand with the sans-IO link, so it can "reboot" (a
//! new link with a new session id) on the same pseudo-terminal.

use std::time::Duration;

use futures_util::StreamExt;
use kvs_client::{Error, Event, SignalingSession, State, ViewerId};
use kvs_link::message::Message;
use kvs_link::{Config, Link, Time};
use kvs_split::{Host, LinkConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

/// Runs `link` on `io` for `for_how_long`, sending `out` once it is up; returns what it got.
async fn drive(
    link: &mut Link,
    io: &mut tokio_serial::SerialStream,
    origin: Instant,
    out: &[Message],
    for_how_long: Duration,
) -> Vec<Message> {
    let clock = || Time::from_micros(origin.elapsed().as_micros() as u64);
    let end = Instant::now() + for_how_long;
    let mut sent = false;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < end {
        if link.is_up() && !sent {
            for m in out {
                link.send(m.encode()).unwrap();
            }
            sent = true;
        }
        link.handle_timeout(clock());
        while let Some(frame) = link.poll_transmit(clock()) {
            io.write_all(&frame).await.unwrap();
        }
        while let Some(event) = link.poll_event() {
            if let kvs_link::Event::Message(bytes) = event {
                got.push(Message::decode(&bytes).unwrap());
            }
        }
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(5), io.read(&mut buf)).await {
            link.handle_rx(clock(), &buf[..n]);
        }
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coprocessor_restart_is_reported_to_the_application() {
    let (mut co_io, host_io) = kvs_split::transport::pty_pair().unwrap();
    let (host, mut events) = Host::start(host_io, LinkConfig::default());
    let origin = Instant::now();
    let mut first = Link::new(Config::default(), 0xC0C0_0001, Time::from_micros(0));
    let connected = [Message::SignalingState {
        state: "CONNECTED".into(),
    }];
    let got = drive(
        &mut first,
        &mut co_io,
        origin,
        &connected,
        Duration::from_millis(500),
    )
    .await;
    assert!(
        got.contains(&Message::Ready),
        "the host said READY: {got:?}"
    );
    host.connected().await.unwrap();

    // The old coprocessor goes silent; the host's answer stays unacknowledged.
    host.send_answer(&ViewerId::new("v1").unwrap(), b"{}".to_vec())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    // It comes back as a new session.
    let mut second = Link::new(Config::default(), 0xC0C0_0002, Time::from_micros(0));
    let got = drive(
        &mut second,
        &mut co_io,
        origin,
        &[],
        Duration::from_millis(800),
    )
    .await;
    assert!(
        got.contains(&Message::Ready),
        "the host said READY again: {got:?}"
    );
    assert!(
        !got.iter().any(|m| matches!(m, Message::Signaling { .. })),
        "the answer for the old session was dropped, not delivered to the new one: {got:?}"
    );
    let mut restarted = false;
    let mut disconnected = false;
    while let Ok(Some(event)) =
        tokio::time::timeout(Duration::from_millis(100), events.next()).await
    {
        match event {
            Event::Error(Error::Transport { message, .. }) if message.contains("restarted") => {
                restarted = true
            }
            Event::StateChanged(State::Disconnected) => disconnected = true,
            _ => {}
        }
    }
    assert!(restarted && disconnected);
    assert_eq!(host.state(), State::Disconnected);
}
