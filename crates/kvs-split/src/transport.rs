//! The byte streams a link can run on.

use tokio::io::{AsyncRead, AsyncWrite};

/// Any bidirectional byte stream a link end can own.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for T {}

/// Why a transport could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The serial port could not be opened or configured.
    #[error(
        "cannot open serial port {path} at {baud} baud: {source}; check the path, that no other \
         program holds it, and your permission (the dialout group)"
    )]
    Serial {
        /// The device path.
        path: String,
        /// The rate asked for.
        baud: u32,
        /// The cause.
        source: tokio_serial::Error,
    },
    /// A pseudo-terminal pair could not be made.
    #[error("cannot create a pseudo-terminal pair: {0}")]
    Pty(tokio_serial::Error),
    /// A TCP connection could not be made.
    #[error("TCP {addr}: {source}")]
    Tcp {
        /// The address.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// Opens a serial port at `baud`, 8 data bits, no parity, 1 stop bit, no flow control.
pub fn serial(path: &str, baud: u32) -> Result<tokio_serial::SerialStream, TransportError> {
    use tokio_serial::SerialPortBuilderExt;
    tokio_serial::new(path, baud)
        .data_bits(tokio_serial::DataBits::Eight)
        .parity(tokio_serial::Parity::None)
        .stop_bits(tokio_serial::StopBits::One)
        .flow_control(tokio_serial::FlowControl::None)
        .open_native_async()
        .map_err(|source| TransportError::Serial {
            path: path.to_owned(),
            baud,
            source,
        })
}

/// A pseudo-terminal pair: what one end writes, the other reads, as over a null-modem cable.
pub fn pty_pair() -> Result<(tokio_serial::SerialStream, tokio_serial::SerialStream), TransportError>
{
    tokio_serial::SerialStream::pair().map_err(TransportError::Pty)
}

/// Connects to a link end listening on TCP (development without serial hardware).
pub async fn tcp_connect(addr: &str) -> Result<tokio::net::TcpStream, TransportError> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|source| TransportError::Tcp {
            addr: addr.to_owned(),
            source,
        })?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// A TCP listener that behaves like a serial line with the host at the other end: bytes
/// written while no one is connected are lost, as on a UART whose peer is off; a host that
/// disconnects (sleeps, restarts) can connect again, and the link sees silence, then a new
/// session. Only reading accepts connections (the link's reader polls all the time).
#[derive(Debug)]
pub struct TcpLine {
    listener: tokio::net::TcpListener,
    conn: Option<tokio::net::TcpStream>,
}

impl TcpLine {
    /// Listens on `addr`.
    pub async fn bind(addr: &str) -> Result<Self, TransportError> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| TransportError::Tcp {
                addr: addr.to_owned(),
                source,
            })?;
        Ok(Self {
            listener,
            conn: None,
        })
    }
}

impl AsyncRead for TcpLine {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use std::task::Poll;
        loop {
            if let Some(conn) = self.conn.as_mut() {
                let before = buf.filled().len();
                match std::pin::Pin::new(conn).poll_read(cx, buf) {
                    Poll::Ready(Ok(())) if buf.filled().len() > before => {
                        return Poll::Ready(Ok(()));
                    }
                    Poll::Pending => return Poll::Pending,
                    // End of stream or an error: the host is gone; wait for the next one.
                    Poll::Ready(_) => self.conn = None,
                }
            }
            match self.listener.poll_accept(cx) {
                Poll::Ready(Ok((stream, _))) => {
                    let _ = stream.set_nodelay(true);
                    self.conn = Some(stream);
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl AsyncWrite for TcpLine {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        use std::task::Poll;
        let Some(conn) = self.conn.as_mut() else {
            return Poll::Ready(Ok(buf.len())); // nobody on the line: the bytes are lost
        };
        match std::pin::Pin::new(conn).poll_write(cx, buf) {
            Poll::Ready(Err(_)) => {
                self.conn = None;
                Poll::Ready(Ok(buf.len()))
            }
            other => other,
        }
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.conn.as_mut() {
            Some(conn) => std::pin::Pin::new(conn).poll_flush(cx).map(|_| Ok(())),
            None => std::task::Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.conn.as_mut() {
            Some(conn) => std::pin::Pin::new(conn).poll_shutdown(cx),
            None => std::task::Poll::Ready(Ok(())),
        }
    }
}
