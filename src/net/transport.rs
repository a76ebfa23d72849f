//! Transports: what a socket's bytes travel over. TCP and unix-domain
//! sockets are here; in-memory connections are in `memory.rs`. A new
//! transport (TLS, say) implements [`Transport`] and nothing else in `net`
//! changes: the read path asks it whether a short read drained it, the
//! connect path asks it whether it is connected yet.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::path::PathBuf;

use mio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

/// A byte stream under a socket.
pub(crate) trait Transport {
    /// Reads into `buf`: `Ok(0)` is the peer's end of stream, `WouldBlock`
    /// means nothing more until the next readiness.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;

    /// Writes from `buf`; `WouldBlock` means the peer's window is full and
    /// a writable edge will announce room.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize>;

    /// Shuts down the writing side (FIN), keeping reading open.
    fn shutdown_write(&mut self) -> io::Result<()>;

    /// Asked right after a read that returned fewer bytes than asked:
    /// whether that means the transport is drained, so the read that would
    /// only say `WouldBlock` can be skipped. Always true for the kernel's
    /// sockets on Linux; a transport that decodes records (TLS) says so
    /// only when its own read of the socket underneath came back short.
    fn short_read_drains(&self) -> bool {
        true
    }

    /// The source to register with the poller, if the OS delivers this
    /// transport's readiness (an in-memory pipe has none: its far end
    /// drives it by hand).
    fn source(&mut self) -> Option<&mut dyn mio::event::Source>;

    /// For a connection being set up: `Ok(true)` once it is connected,
    /// `Ok(false)` while it is still connecting, or the error it failed
    /// with. Transports that are connected from the start say `Ok(true)`.
    fn finish_connect(&mut self) -> io::Result<bool> {
        Ok(true)
    }

    /// The local end's address, for transports that have one.
    fn local_addr(&self) -> Option<SocketAddr> {
        None
    }

    /// Nagle's algorithm off (`true`) or on; transports without it ignore
    /// the call.
    fn set_nodelay(&self, _on: bool) -> io::Result<()> {
        Ok(())
    }

    /// TCP keep-alive probes after `idle` without traffic (`None`: off);
    /// transports without it ignore the call.
    fn set_keepalive(&self, _idle: Option<std::time::Duration>) -> io::Result<()> {
        Ok(())
    }

    /// Writes what the transport itself holds (TLS records encrypted but
    /// not yet sent); `Ok(true)` once nothing is pending. A plain stream
    /// holds nothing.
    fn flush(&mut self) -> io::Result<bool> {
        Ok(true)
    }

    /// The TLS session, for transports that have one.
    #[cfg(feature = "tls")]
    fn tls(&self) -> Option<super::tls::TlsState<'_>> {
        None
    }

    /// Whether a handshake finished since the last call (once per
    /// connection; TLS only).
    fn take_secured(&mut self) -> bool {
        false
    }

    /// The descriptor `sendfile(2)` may write a file's bytes to directly:
    /// only for a plain kernel stream (TCP, unix). TLS must encrypt them and
    /// an in-memory pipe has no descriptor, so they say `None` and files
    /// go through [`write`](Self::write) in pieces (`send_file.rs`).
    fn file_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        None
    }
}

impl Transport for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Read::read(self, buf)
    }

    fn file_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        Some(std::os::fd::AsFd::as_fd(self))
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Write::write(self, buf)
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }

    fn source(&mut self) -> Option<&mut dyn mio::event::Source> {
        Some(self)
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        TcpStream::local_addr(self).ok()
    }

    fn set_nodelay(&self, on: bool) -> io::Result<()> {
        TcpStream::set_nodelay(self, on)
    }

    fn set_keepalive(&self, idle: Option<std::time::Duration>) -> io::Result<()> {
        let socket = socket2::SockRef::from(self);
        match idle {
            None => socket.set_keepalive(false),
            Some(idle) => socket.set_tcp_keepalive(&socket2::TcpKeepalive::new().with_time(idle)),
        }
    }

    fn finish_connect(&mut self) -> io::Result<bool> {
        // A non-blocking connect reports its outcome as a socket error
        // (refused, unreachable) or as a peer address once it is up.
        if let Some(e) = self.take_error()? {
            return Err(e);
        }
        match self.peer_addr() {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) => Err(e),
        }
    }
}

impl Transport for UnixStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Read::read(self, buf)
    }

    fn file_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        Some(std::os::fd::AsFd::as_fd(self))
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Write::write(self, buf)
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }

    fn source(&mut self) -> Option<&mut dyn mio::event::Source> {
        Some(self)
    }

    fn finish_connect(&mut self) -> io::Result<bool> {
        match self.take_error()? {
            Some(e) => Err(e),
            None => Ok(true),
        }
    }
}

/// Starts a non-blocking TCP connection to `addr` (Nagle off: small
/// requests must leave at once).
pub(crate) fn connect_tcp(addr: SocketAddr) -> io::Result<Box<dyn Transport>> {
    let stream = TcpStream::connect(addr)?;
    let _ = stream.set_nodelay(true);
    Ok(Box::new(stream))
}

/// Connects to the unix-domain socket at `path`.
pub(crate) fn connect_unix(path: &std::path::Path) -> io::Result<Box<dyn Transport>> {
    Ok(Box::new(UnixStream::connect(path)?))
}

/// A connection a listener accepted, before it becomes a socket: the owner
/// chooses the transport (plain, or TLS over it).
pub(crate) enum Accepted {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Accepted {
    /// The plain stream as a transport.
    pub(crate) fn into_transport(self) -> Box<dyn Transport> {
        match self {
            Accepted::Tcp(s) => Box::new(s),
            Accepted::Unix(s) => Box::new(s),
        }
    }

    /// The server side of TLS over the accepted stream (TCP only).
    #[cfg(feature = "tls")]
    pub(crate) fn into_tls(self, tls: super::tls::ServerTls) -> io::Result<Box<dyn Transport>> {
        match self {
            Accepted::Tcp(s) => Ok(Box::new(super::tls::TlsTransport::server(
                s,
                tls.config,
                tls.client_certs,
            )?)),
            Accepted::Unix(_) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "TLS is served over TCP only",
            )),
        }
    }
}

/// How a TCP listening socket is set up (Node's `listen` options).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BindOptions {
    /// Share the port with other sockets that set it too (`SO_REUSEPORT`):
    /// the kernel spreads connections among them (one loop per core).
    pub(crate) reuse_port: bool,
    /// The kernel's queue of connections not yet accepted.
    pub(crate) backlog: u32,
    /// An IPv6 socket that does not also take IPv4 connections.
    pub(crate) ipv6_only: bool,
}

impl Default for BindOptions {
    fn default() -> Self {
        BindOptions {
            reuse_port: false,
            backlog: 1024,
            ipv6_only: false,
        }
    }
}

thread_local! {
    /// Listening sockets of this thread share their port (`SO_REUSEPORT`)
    /// unless told otherwise: set on the loops of a cluster.
    static SHARE_PORTS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Makes this thread's TCP listeners share their ports by default (each
/// loop of a cluster calls it).
pub(crate) fn share_ports_by_default(share: bool) {
    SHARE_PORTS.with(|s| s.set(share));
}

/// Whether this thread's listeners share their ports by default.
pub(crate) fn ports_shared_by_default() -> bool {
    SHARE_PORTS.with(|s| s.get())
}

/// Binds and listens on `addr` with `options`, non-blocking.
pub(crate) fn bind_tcp(addr: SocketAddr, options: BindOptions) -> io::Result<Listener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // As every server does: a restarted process can bind at once while
    // the old connections sit in TIME_WAIT.
    socket.set_reuse_address(true)?;
    if options.reuse_port {
        socket.set_reuse_port(true)?;
    }
    if addr.is_ipv6() {
        socket.set_only_v6(options.ipv6_only)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(options.backlog.min(i32::MAX as u32) as i32)?;
    let std_listener: std::net::TcpListener = socket.into();
    Ok(Listener::Tcp(TcpListener::from_std(std_listener)))
}

/// A listening socket.
pub(crate) enum Listener {
    Tcp(TcpListener),
    /// A unix-domain socket and its file, removed when the listener goes.
    Unix(UnixListener, PathBuf),
}

impl Listener {
    /// Accepts one connection: its stream and the peer's address.
    pub(crate) fn accept(&self) -> io::Result<(Accepted, Option<SocketAddr>)> {
        match self {
            Listener::Tcp(l) => {
                let (s, addr) = l.accept()?;
                // Small responses must leave at once, not wait for Nagle.
                let _ = s.set_nodelay(true);
                Ok((Accepted::Tcp(s), Some(addr)))
            }
            Listener::Unix(l, _) => {
                let (s, _) = l.accept()?;
                Ok((Accepted::Unix(s), None))
            }
        }
    }

    pub(crate) fn source(&mut self) -> &mut dyn mio::event::Source {
        match self {
            Listener::Tcp(l) => l,
            Listener::Unix(l, _) => l,
        }
    }

    pub(crate) fn local_addr(&self) -> Option<SocketAddr> {
        match self {
            Listener::Tcp(l) => l.local_addr().ok(),
            Listener::Unix(..) => None,
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // A unix socket's file outlives the socket; remove it as Node does.
        if let Listener::Unix(_, path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}
