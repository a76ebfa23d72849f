//! Opening connections from the public API: Node's `net.connect` and
//! `net.createConnection`.
//!
//! The socket exists from the first call (so listeners can be added and
//! writes queued at once), before its address is known: a name other than
//! an IP literal or `localhost` is looked up on the worker pool, since
//! `getaddrinfo` blocks, and the stream is attached when the answer comes
//! back. Every failure, including one known at once, reaches the socket's
//! `error` and `close(true)` on a later turn, as in Node.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use super::socket::{self, Open, Socket};
use super::{SockId, RAW};
use crate::{Error, ErrorKind};

/// Options of [`create_connection`] (Node's `net.createConnection(options)`).
///
/// ```
/// use nodelike::net::ConnectOptions;
/// let options = ConnectOptions { port: 7000, host: "127.0.0.1".into(), timeout: 5_000, ..Default::default() };
/// assert!(!options.allow_half_open);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectOptions {
    /// The port to connect to (TCP).
    pub port: u16,
    /// The host: an IP address, `localhost`, or a name looked up off the
    /// loop (default `localhost`).
    pub host: String,
    /// A unix-domain socket to connect to instead of `host:port` (Node's
    /// `path`).
    pub path: Option<PathBuf>,
    /// Keep our side open after the peer's FIN until `end` is called
    /// (default `false`: the peer's end ends ours).
    pub allow_half_open: bool,
    /// Nagle's algorithm off (default `true`, this crate's default for
    /// every socket: small writes leave at once; Node's is `false`).
    pub no_delay: bool,
    /// TCP keep-alive probes (default `false`).
    pub keep_alive: bool,
    /// Silence before the first keep-alive probe, in milliseconds (`0`:
    /// the system's default).
    pub keep_alive_initial_delay: u64,
    /// The idle timeout in milliseconds, as [`Socket::set_timeout`] (`0`:
    /// none).
    pub timeout: u64,
}

impl Default for ConnectOptions {
    fn default() -> ConnectOptions {
        ConnectOptions {
            port: 0,
            host: "localhost".to_owned(),
            path: None,
            allow_half_open: false,
            no_delay: true,
            keep_alive: false,
            keep_alive_initial_delay: 0,
            timeout: 0,
        }
    }
}

/// Opens a TCP connection to `host:port` (Node's
/// `net.connect(port, host, connectListener)`): `on_connect` runs once it
/// is up (the `connect` event, then `ready`). What is written before that
/// is sent as soon as it is; bytes read are `data` events. A failure is an
/// `error` event (`connect ECONNREFUSED 127.0.0.1:7000`, `getaddrinfo
/// ENOTFOUND no.such.host`), then `close(true)`.
///
/// ```no_run
/// use nodelike::net;
/// let socket = net::connect(8000, "127.0.0.1", || println!("connected"));
/// socket.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
/// socket.on_data(|chunk| print!("{chunk}"));
/// socket.on_error(|e| eprintln!("{e}"));
/// socket.on_close(|had_error| println!("closed (error: {had_error})"));
/// nodelike::run();
/// ```
#[doc(alias = "createConnection")]
pub fn connect(port: u16, host: &str, on_connect: impl FnMut() + 'static) -> Socket {
    create_connection(
        ConnectOptions {
            port,
            host: host.to_owned(),
            ..Default::default()
        },
        on_connect,
    )
}

/// Connects to the unix-domain socket at `path` (Node's
/// `net.connect(path, connectListener)`).
///
/// ```no_run
/// let socket = nodelike::net::connect_path("/tmp/echo.sock", || println!("connected"));
/// socket.end("hello\n");
/// nodelike::run();
/// ```
pub fn connect_path(path: impl Into<PathBuf>, on_connect: impl FnMut() + 'static) -> Socket {
    create_connection(
        ConnectOptions {
            path: Some(path.into()),
            ..Default::default()
        },
        on_connect,
    )
}

/// Opens a connection with Node's `net.createConnection(options,
/// connectListener)`: TCP to `host:port`, or a unix socket at `path`, with
/// the socket's options set from the start. See [`connect`] for the events.
///
/// ```no_run
/// use nodelike::net::{self, ConnectOptions};
/// let socket = net::create_connection(
///     ConnectOptions { port: 7000, host: "localhost".into(), allow_half_open: true, ..Default::default() },
///     || {},
/// );
/// socket.end("request\n"); // our side ends; the answer still arrives
/// socket.on_data(|chunk| print!("{chunk}"));
/// nodelike::run();
/// ```
#[doc(alias = "createConnection")]
pub fn create_connection(options: ConnectOptions, on_connect: impl FnMut() + 'static) -> Socket {
    let id = socket::open_unattached(Open {
        protocol: &RAW,
        idle_timeout: (options.timeout > 0).then(|| Duration::from_millis(options.timeout)),
        connecting: true,
        unref: false,
    });
    let socket = Socket::from_id(id);
    socket.on_connect(on_connect);
    socket::set_half_open(id, options.allow_half_open);
    if let Some(path) = &options.path {
        match super::connect_unix(path) {
            Ok(t) => attach(id, t, None, &options, &path.display().to_string()),
            Err(e) => fail(
                id,
                Error::syscall("connect", e, &path.display().to_string()),
            ),
        }
        return socket;
    }
    let port = options.port;
    let bare = options
        .host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let literal = if bare.eq_ignore_ascii_case("localhost") || bare.is_empty() {
        Some(IpAddr::from([127, 0, 0, 1]))
    } else {
        bare.parse::<IpAddr>().ok()
    };
    match literal {
        Some(ip) => connect_addr(id, SocketAddr::new(ip, port), &options),
        None => {
            log::trace!("socket {}: looking up {bare}", id.key);
            crate::runtime::pool::queue_work(
                {
                    let bare = bare.clone();
                    move || {
                        (bare.as_str(), port)
                            .to_socket_addrs()
                            .map(|mut a| a.next())
                    }
                },
                move |found| {
                    // Destroyed while the lookup ran: nothing to connect.
                    if !socket::is_open(id) {
                        return;
                    }
                    let not_found =
                        || Error::new(ErrorKind::Dns, format!("getaddrinfo ENOTFOUND {bare}"));
                    match found {
                        Ok(Some(addr)) => connect_addr(id, addr, &options),
                        Ok(None) => fail(id, not_found()),
                        Err(e) => fail(id, not_found().with_source(e)),
                    }
                },
            );
        }
    }
    socket
}

/// Starts the TCP connect to a known address.
fn connect_addr(id: SockId, addr: SocketAddr, options: &ConnectOptions) {
    let name = host_port(addr);
    match super::connect_tcp(addr) {
        Ok(t) => attach(id, t, Some(addr), options, &name),
        Err(e) => fail(id, Error::syscall("connect", e, &name)),
    }
}

/// Hands the connecting stream to the socket and sets its options.
fn attach(
    id: SockId,
    transport: Box<dyn super::Transport>,
    addr: Option<SocketAddr>,
    options: &ConnectOptions,
    name: &str,
) {
    if let Err(e) = socket::attach(id, transport, addr) {
        return fail(id, Error::syscall("connect", e, name));
    }
    let socket = Socket::from_id(id);
    if addr.is_some() {
        if !options.no_delay {
            socket.set_no_delay(false);
        }
        if options.keep_alive {
            socket.set_keep_alive(true, options.keep_alive_initial_delay);
        }
    }
}

/// The connect failed: `error`, then `close(true)`, on the next turn.
fn fail(id: SockId, e: Error) {
    log::debug!("socket {}: {e}", id.key);
    socket::destroy_with_error(id, e);
}

/// An address as Node's errors name it: `127.0.0.1:8000`, `::1:8000` (no
/// brackets).
pub(super) fn host_port(addr: SocketAddr) -> String {
    format!("{}:{}", addr.ip(), addr.port())
}
