//! A UART's line rate, emulated on any byte stream: writes take the time their bits take at
//! the baud rate (10 bits a byte: start, 8 data, stop), and may be impaired.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use rand::{RngExt, SeedableRng, rngs::StdRng};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// What the emulated line does to the bytes written, each a probability.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Impairments {
    /// Each bit flips with this probability.
    pub bit_error_rate: f64,
    /// Each byte is lost with this probability.
    pub drop: f64,
    /// Each byte is written twice with this probability.
    pub duplicate: f64,
    /// Each chunk is held back an extra 1–20 ms with this probability (order is kept, as on
    /// a wire).
    pub delay: f64,
}

/// Bytes accepted per write: about 1.4 ms at 921,600 baud.
const CHUNK: usize = 128;
/// The timer's granularity: the line may run this far ahead of its exact schedule, so
/// rounding each sleep up to the timer's tick does not slow the line down.
const SLACK: Duration = Duration::from_millis(2);

/// Paces and impairs the writes of `T`; reads pass through.
pub struct Paced<T> {
    inner: T,
    baud: u32,
    impairments: Impairments,
    rng: StdRng,
    pending: Vec<u8>,
    /// When the line is free again.
    free_at: Option<Instant>,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl<T> std::fmt::Debug for Paced<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Paced")
            .field("baud", &self.baud)
            .field("impairments", &self.impairments)
            .finish_non_exhaustive()
    }
}

impl<T> Paced<T> {
    /// `inner` at `baud`, impaired as `impairments` says (reproducibly from `seed`).
    pub fn new(inner: T, baud: u32, impairments: Impairments, seed: u64) -> Self {
        Self {
            inner,
            baud: baud.max(1),
            impairments,
            rng: StdRng::seed_from_u64(seed),
            pending: Vec::new(),
            free_at: None,
            sleep: None,
        }
    }

    fn airtime(&self, bytes: usize) -> Duration {
        Duration::from_nanos(bytes as u64 * 10 * 1_000_000_000 / u64::from(self.baud))
    }

    fn impair(&mut self, chunk: &[u8]) {
        let imp = self.impairments;
        for &b in chunk {
            if imp.drop > 0.0 && self.rng.random_bool(imp.drop.min(1.0)) {
                continue;
            }
            let mut byte = b;
            if imp.bit_error_rate > 0.0 {
                for bit in 0..8 {
                    if self.rng.random_bool(imp.bit_error_rate.min(1.0)) {
                        byte ^= 1 << bit;
                    }
                }
            }
            self.pending.push(byte);
            if imp.duplicate > 0.0 && self.rng.random_bool(imp.duplicate.min(1.0)) {
                self.pending.push(byte);
            }
        }
    }
}

impl<T: AsyncWrite + Unpin> Paced<T> {
    /// Waits for the line, then writes out what was accepted.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if let Some(sleep) = self.sleep.as_mut() {
            ready!(sleep.as_mut().poll(cx));
            self.sleep = None;
        }
        while !self.pending.is_empty() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending))?;
            if n == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            self.pending.drain(..n);
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Paced<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        let chunk = &buf[..buf.len().min(CHUNK)];
        let now = Instant::now();
        let mut free_at =
            this.free_at.filter(|t| *t > now).unwrap_or(now) + this.airtime(chunk.len());
        if this.impairments.delay > 0.0 && this.rng.random_bool(this.impairments.delay.min(1.0)) {
            free_at += Duration::from_millis(this.rng.random_range(1..=20));
        }
        this.free_at = Some(free_at);
        this.impair(chunk);
        // The next bytes wait until these have (almost) left: the reader sees the line's pace,
        // give or take the timer's granularity.
        if free_at > now + SLACK {
            this.sleep = Some(Box::pin(tokio::time::sleep_until(free_at - SLACK)));
        }
        Poll::Ready(Ok(chunk.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Paced<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}
