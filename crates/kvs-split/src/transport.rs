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

/// Waits for one connection on `addr`.
pub async fn tcp_accept(
    listener: &tokio::net::TcpListener,
) -> Result<tokio::net::TcpStream, TransportError> {
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let (stream, _) = listener
        .accept()
        .await
        .map_err(|source| TransportError::Tcp { addr, source })?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}
