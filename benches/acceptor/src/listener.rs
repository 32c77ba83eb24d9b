//! The listening socket, shared between processes with `SO_REUSEPORT`, and the accept loop.
//!
//! Every process here may open at most 20,000 files, so 50,000 connections need three or more
//! acceptor processes. With `SO_REUSEPORT` each process binds its own socket to the same port and
//! the kernel spreads incoming connections between them (by a hash of the address pair).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::{connection, stats};

/// Pending connections the kernel may queue before `accept`: the most Linux allows by default
/// (net.core.somaxconn), so a storm of connects is queued rather than refused.
const BACKLOG: i32 = 4096;

pub fn bind(host: &str, port: u16) -> Result<TcpListener, String> {
    let ip: IpAddr =
        host.parse().map_err(|_| format!("--host {host}: give an IP address, such as 127.0.0.1"))?;
    let addr = SocketAddr::new(ip, port);
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .map_err(|e| format!("cannot make a socket: {e}"))?;
    let setup = || -> io::Result<()> {
        socket.set_reuse_address(true)?;
        socket.set_reuse_port(true)?;
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        socket.listen(BACKLOG)
    };
    setup().map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    TcpListener::from_std(socket.into()).map_err(|e| format!("cannot listen on {addr}: {e}"))
}

pub async fn accept_loop(listener: TcpListener, tls: Option<Arc<TlsAcceptor>>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                // Replies are small and awaited one by one: send each at once.
                let _ = stream.set_nodelay(true);
                tokio::spawn(connection::serve(stream, tls.clone()));
            }
            Err(why) => {
                // Out of files (EMFILE) or a connection reset while queued: the listener stays
                // usable. A short pause keeps a process out of files from spinning on accept.
                if stats::note_accept_error() {
                    eprintln!("acceptor {}: accept failed: {why} (counted from now on)", std::process::id());
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}
