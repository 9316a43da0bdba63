//! Opening the client's TCP connection. The stream itself, plain or TLS, is the shared
//! [`crate::transport::Transport`].

use std::io;
use std::time::Duration;

use tokio::net::TcpStream;

use super::Error;

/// Connects to the first address of `host_port` that answers within `timeout` (one budget for
/// all addresses together), with TCP_NODELAY on.
///
/// TCP_NODELAY matters: a pipelined SMTP client writes a small batch and then waits for the
/// reply. With Nagle on, the last small segment of a batch waits for the ACK of the previous
/// one, which the server delays (delayed ACK, ~40 ms on Linux): one stall per message.
pub(crate) async fn connect_tcp(host_port: &str, timeout: Duration) -> Result<TcpStream, Error> {
    let attempt = async {
        let mut last_error = None;
        for addr in tokio::net::lookup_host(host_port).await? {
            match TcpStream::connect(addr).await {
                Ok(tcp) => {
                    tcp.set_nodelay(true)?;
                    return Ok(tcp);
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, "the host name has no address")
        }))
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(result) => result.map_err(Error::Io),
        Err(_) => Err(Error::Timeout(super::Timeout::Connect)),
    }
}
