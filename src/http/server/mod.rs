//! Node's `http.Server`: listening, accepting, and the server's events.
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | the `Server` handle, its record, listening and accepting, this side's state |
//! | `conn.rs` | one connection: parse, dispatch, keep responses in order, close |
//! | `exchange.rs` | the record behind a request/response pair; the response encoder |
//! | `incoming.rs`, `response.rs` | the `IncomingMessage` and `ServerResponse` handles |

mod conn;
mod exchange;
mod h2;
mod h2_stream;
mod incoming;
mod response;
mod send_file;

use std::cell::RefCell;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

use slab::Slab;

use crate::http::h1::{DateCache, Limits};
use crate::net::{
    self, Listener, ListenerId, MemoryConnection, PerSocket, SockId, Socket, Transport,
};
use crate::runtime::arena::Arena;
use crate::runtime::listeners::Listeners;
use crate::runtime::{self, LoopBound, Work};
use crate::{Error, ErrorKind};
use conn::ServerConn;
use exchange::Exchange;

pub(crate) use conn::release_upgraded;
pub use exchange::CloseReason;
pub use h2_stream::{Http2Session, RespondOptions, ServerHttp2Stream};
pub use incoming::IncomingMessage;
pub use response::{IntoHeaderValues, ServerResponse};
pub use send_file::SendFileOptions;

/// The server side's state on one thread: servers, their connections'
/// protocol state, and the exchanges (request + response) in flight.
struct ServerState {
    servers: Slab<ServerRec>,
    conns: PerSocket<ServerConn>,
    /// Connections speaking HTTP/2 (moved here from `conns` when they
    /// switch).
    h2conns: PerSocket<h2::H2Conn>,
    exchanges: Arena<Exchange>,
    /// The `Date` header value, formatted once a second.
    date: DateCache,
}

thread_local! {
    static STATE: RefCell<ServerState> = RefCell::new(ServerState {
        servers: Slab::new(),
        conns: PerSocket::default(),
        h2conns: PerSocket::default(),
        exchanges: Arena::new(),
        date: DateCache::new(),
    });
}

/// Runs `f` with the server side's state borrowed (`None` while the
/// thread-local is being destroyed). `f` may call down into `net` and the
/// runtime, never user code.
fn with_state<R>(f: impl FnOnce(&mut ServerState) -> R) -> Option<R> {
    STATE
        .try_with(|cell| {
            let mut st = cell.try_borrow_mut().expect(
                "nodelike: the HTTP server state was entered re-entrantly (a bug in nodelike)",
            );
            f(&mut st)
        })
        .ok()
}

/// Node's `server.listen(options)`: where and how to listen.
///
/// ```
/// let options = nodelike::http::ListenOptions { port: 8000, ..Default::default() };
/// assert_eq!(options.host, "0.0.0.0");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenOptions {
    /// The port (`0`: any free one).
    pub port: u16,
    /// The address to bind (default `0.0.0.0`, every IPv4 address, as
    /// Node's default; `127.0.0.1` for this machine only, `::` for IPv6).
    pub host: String,
    /// The kernel's queue of connections not yet accepted (default 1024).
    pub backlog: Option<u32>,
    /// Share the port with other listening sockets that also ask
    /// (`SO_REUSEPORT`): the kernel spreads connections among them. On the
    /// loops of a [`cluster`](crate::cluster) this is the default.
    pub reuse_port: bool,
    /// Never share the port, even in a cluster (Node's `exclusive`).
    pub exclusive: bool,
    /// An IPv6 address takes IPv6 connections only (Node's `ipv6Only`).
    pub ipv6_only: bool,
}

impl Default for ListenOptions {
    fn default() -> Self {
        ListenOptions {
            port: 0,
            host: "0.0.0.0".into(),
            backlog: None,
            reuse_port: false,
            exclusive: false,
            ipv6_only: false,
        }
    }
}

/// Node's default server timeout of its v0.4 era: two minutes.
pub const DEFAULT_TIMEOUT_MS: u64 = 120_000;
/// How long a whole request head may take to arrive (Node's
/// `headersTimeout`): 60 seconds, however slowly the bytes trickle in.
pub const DEFAULT_HEADERS_TIMEOUT_MS: u64 = 60_000;
/// How long a keep-alive connection may sit idle between requests (Node's
/// `keepAliveTimeout`): 5 seconds.
pub const DEFAULT_KEEP_ALIVE_TIMEOUT_MS: u64 = 5_000;
/// How long a whole request, head and body, may take to arrive (Node 18+'s
/// `requestTimeout`): 300 seconds, so a body trickled slowly cannot hold a
/// connection forever.
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 300_000;

/// A timeout setting as Node's number of milliseconds (`0`: none).
fn millis(timeout: Option<Duration>) -> u64 {
    timeout.map_or(0, |d| d.as_millis() as u64)
}

type UpgradeListener = dyn FnMut(IncomingMessage, Socket, &[u8]);
type ClientErrorListener = dyn FnMut(&Error, Socket);

#[derive(Default)]
pub(crate) struct ServerListeners {
    pub(crate) request: Listeners<dyn FnMut(IncomingMessage, ServerResponse)>,
    pub(crate) check_continue: Listeners<dyn FnMut(IncomingMessage, ServerResponse)>,
    pub(crate) check_expectation: Listeners<dyn FnMut(IncomingMessage, ServerResponse)>,
    pub(crate) connection: Listeners<dyn FnMut(Socket)>,
    pub(crate) upgrade: Listeners<UpgradeListener>,
    pub(crate) connect: Listeners<UpgradeListener>,
    pub(crate) client_error: Listeners<ClientErrorListener>,
    pub(crate) close: Listeners<dyn FnMut()>,
    pub(crate) error: Listeners<dyn FnMut(&Error)>,
    pub(crate) timeout: Listeners<dyn FnMut(Socket)>,
    pub(crate) secure_connection: Listeners<dyn FnMut(Socket)>,
    /// HTTP/2's core API: each stream with its request headers.
    pub(crate) stream: Listeners<dyn FnMut(ServerHttp2Stream, crate::http::Headers)>,
    /// HTTP/2: each connection that switched to it.
    pub(crate) session: Listeners<dyn FnMut(Http2Session)>,
    pub(crate) tls_client_error: Listeners<ClientErrorListener>,
}

pub(crate) struct ServerRec {
    pub(crate) gen: u32,
    pub(crate) listener: Option<ListenerId>,
    pub(crate) connections: usize,
    pub(crate) closing: bool,
    pub(crate) close_emitted: bool,
    pub(crate) timeout: Option<Duration>,
    pub(crate) headers_timeout: Option<Duration>,
    /// Node's `requestTimeout`: the whole request, head and body (300 s by
    /// default).
    pub(crate) request_timeout: Option<Duration>,
    /// Node's `maxConnections`: `None` for no cap.
    pub(crate) max_connections: Option<usize>,
    /// An HTTPS server's TLS configuration (`None`: plain HTTP).
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::net::tls::ServerTls>,
    /// With a connection cap: connections that went idle, most recent
    /// last, so one to close is found without walking them all. Entries go
    /// stale when a connection gets busy again or closes; they are skipped
    /// when popped and swept when they outnumber the connections.
    pub(crate) idle_conns: Vec<SockId>,
    pub(crate) keep_alive_timeout: Option<Duration>,
    /// How long `close` leaves idle connections open for requests already
    /// on their way (`None`: closed at once, as in Node).
    pub(crate) close_grace: Option<Duration>,
    /// A client's FIN is a half-close (answer what it asked, then close)
    /// rather than an abort of what is unanswered (Node's default).
    pub(crate) allow_half_open: bool,
    pub(crate) limits: Limits,
    /// An HTTP/2 server's mode (`None`: HTTP/1.1 only): see
    /// [`http2`](crate::http2).
    pub(crate) http2: Option<crate::http::http2::Http2Mode>,
    pub(crate) listeners: ServerListeners,
}

/// Node's `http.Server`: accepts connections and emits `request` for every
/// request on them. A cheap `Copy` handle.
///
/// ```no_run
/// use nodelike::http;
/// let server = http::create_server(|req, res| {
///     res.set_header("Content-Type", "text/plain");
///     res.end(format!("you asked for {}\n", req.url()));
/// });
/// server.listen(8000, "127.0.0.1", || println!("listening on :8000"));
/// nodelike::run();
/// ```
///
/// A server belongs to the loop of the thread that made it (it is not
/// `Send`); make one per thread (see the guide's chapter on one loop per
/// core).
///
/// ```compile_fail
/// let server = nodelike::http::Server::new();
/// std::thread::spawn(move || server.close());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Server {
    key: usize,
    gen: u32,
    _loop: LoopBound,
}

/// Creates a server whose `request` event calls `request_listener`
/// (Node's `http.createServer([requestListener])`).
///
/// ```no_run
/// let server = nodelike::http::create_server(|_req, res| {
///     res.write_head(200, &[("Content-Type", "text/plain")]);
///     res.end("Hello, World!\n");
/// });
/// server.listen(8000, "127.0.0.1", || {});
/// nodelike::run();
/// ```
#[doc(alias = "createServer")]
pub fn create_server(
    request_listener: impl FnMut(IncomingMessage, ServerResponse) + 'static,
) -> Server {
    let server = Server::new();
    server.on_request(request_listener);
    server
}

impl Default for Server {
    fn default() -> Self {
        Server::new()
    }
}

impl Server {
    /// A server with no `request` listener yet (Node's `http.createServer()`).
    ///
    /// ```
    /// let server = nodelike::http::Server::new();
    /// server.on_request(|_req, res| res.end(()));
    /// ```
    pub fn new() -> Server {
        let gen = runtime::next_gen();
        with_state(|st| {
            let key = st.servers.insert(ServerRec {
                gen,
                listener: None,
                connections: 0,
                closing: false,
                close_emitted: false,
                timeout: Some(Duration::from_millis(DEFAULT_TIMEOUT_MS)),
                headers_timeout: Some(Duration::from_millis(DEFAULT_HEADERS_TIMEOUT_MS)),
                request_timeout: Some(Duration::from_millis(DEFAULT_REQUEST_TIMEOUT_MS)),
                max_connections: None,
                idle_conns: Vec::new(),
                #[cfg(feature = "tls")]
                tls: None,
                keep_alive_timeout: Some(Duration::from_millis(DEFAULT_KEEP_ALIVE_TIMEOUT_MS)),
                close_grace: None,
                allow_half_open: false,
                limits: Limits::default(),
                http2: None,
                listeners: ServerListeners::default(),
            });
            Server::from_key(key, gen)
        })
        .unwrap_or(Server::from_key(usize::MAX, 0))
    }

    fn from_key(key: usize, gen: u32) -> Server {
        Server {
            key,
            gen,
            _loop: LoopBound::default(),
        }
    }

    /// The server's context value for runtime work and its acceptor.
    fn ctx(&self) -> u64 {
        self.key as u64 | (u64::from(self.gen) << 32)
    }

    fn from_ctx(ctx: u64) -> Server {
        Server::from_key((ctx & 0xffff_ffff) as usize, (ctx >> 32) as u32)
    }

    fn with<R>(&self, f: impl FnOnce(&mut ServerRec) -> R) -> Option<R> {
        with_state(|st| {
            st.servers
                .get_mut(self.key)
                .filter(|s| s.gen == self.gen)
                .map(f)
        })
        .flatten()
    }

    /// Listens on `host:port` (`port` 0 picks a free one: see
    /// [`address`](Server::address)). `callback` runs on the next loop turn
    /// once listening.
    ///
    /// A failure goes to the `error` event instead, on the next loop turn,
    /// worded as Node words it and with the operating system's
    /// [`io::Error`](std::io::Error) as its
    /// [`source`](std::error::Error::source):
    /// `listen EADDRINUSE: address already in use 127.0.0.1:8000`
    /// ([`ErrorKind::AddrInUse`](crate::ErrorKind::AddrInUse)),
    /// `listen EACCES: permission denied 0.0.0.0:80`
    /// ([`ErrorKind::PermissionDenied`](crate::ErrorKind::PermissionDenied)),
    /// `getaddrinfo ENOTFOUND no.such.host`
    /// ([`ErrorKind::Dns`](crate::ErrorKind::Dns)).
    ///
    /// ```no_run
    /// let server = nodelike::http::create_server(|_req, res| res.end(()));
    /// server.listen(0, "127.0.0.1", move || println!("on {:?}", server.address()));
    /// nodelike::run();
    /// ```
    ///
    /// # Panics
    ///
    /// With no [`on_error`](Server::on_error) listener a listen failure is
    /// not dropped: it panics out of [`run`](crate::run) with
    /// `Error: listen EADDRINUSE: ...` (see `on_error`), as Node's
    /// unhandled `error` event throws and ends the process.
    ///
    /// ```
    /// // Another socket holds the port.
    /// let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let port = holder.local_addr().unwrap().port();
    ///
    /// let server = nodelike::http::create_server(|_req, res| res.end(()));
    /// server.listen(port, "127.0.0.1", || unreachable!("not listening"));
    /// let panic = std::panic::catch_unwind(nodelike::run).unwrap_err();
    /// let message = panic.downcast_ref::<String>().unwrap();
    /// assert!(message.starts_with(&format!(
    ///     "Error: listen EADDRINUSE: address already in use 127.0.0.1:{port}"
    /// )));
    /// ```
    pub fn listen(&self, port: u16, host: &str, callback: impl FnOnce() + 'static) -> &Server {
        self.listen_with(
            ListenOptions {
                port,
                host: host.to_owned(),
                ..Default::default()
            },
            callback,
        )
    }

    /// Listens with Node's `listen(options)`: port and host, `backlog`,
    /// `ipv6_only`, and whether the port is shared with other loops
    /// (`reuse_port`; on the loops of a [`cluster`](crate::cluster) it is
    /// by default, unless `exclusive`).
    ///
    /// ```
    /// use nodelike::http::ListenOptions;
    /// let a = nodelike::http::create_server(|_req, res| res.end("a"));
    /// a.listen_with(ListenOptions { port: 0, host: "127.0.0.1".into(), reuse_port: true, ..Default::default() }, || {});
    /// let port = a.address().unwrap().port();
    /// // A second socket on the same port: the kernel spreads connections.
    /// let b = nodelike::http::create_server(|_req, res| res.end("b"));
    /// b.listen_with(ListenOptions { port, host: "127.0.0.1".into(), reuse_port: true, ..Default::default() }, || {});
    /// assert_eq!(b.address().unwrap().port(), port);
    /// a.close();
    /// b.close();
    /// nodelike::run();
    /// ```
    pub fn listen_with(
        &self,
        options: ListenOptions,
        callback: impl FnOnce() + 'static,
    ) -> &Server {
        let bind = net::BindOptions {
            reuse_port: !options.exclusive
                && (options.reuse_port || net::ports_shared_by_default()),
            backlog: options.backlog.unwrap_or(1024),
            ipv6_only: options.ipv6_only,
        };
        let (host, port) = (options.host.as_str(), options.port);
        let host = if host.is_empty() { "0.0.0.0" } else { host };
        let addr = (host, port).to_socket_addrs().map(|mut a| a.next());
        // Node's `getaddrinfo ENOTFOUND host`, with no resolver text after
        // it: that stays reachable as the source.
        let not_found = || Error::new(ErrorKind::Dns, format!("getaddrinfo ENOTFOUND {host}"));
        match addr {
            Ok(Some(addr)) => {
                self.listen_on(|| net::bind_tcp(addr, bind), host_port(addr), callback)
            }
            Ok(None) => self.fail(not_found()),
            Err(e) => self.fail(not_found().with_source(e)),
        }
        self
    }

    /// Listens on every IPv4 address (Node's `listen(port)` with the host
    /// omitted: `INADDR_ANY`).
    ///
    /// ```no_run
    /// nodelike::http::create_server(|_req, res| res.end(())).listen_any(8000, || {});
    /// nodelike::run();
    /// ```
    pub fn listen_any(&self, port: u16, callback: impl FnOnce() + 'static) -> &Server {
        self.listen(port, "0.0.0.0", callback)
    }

    /// Listens on a unix-domain socket at `path` (Node's `listen(path)`).
    /// The socket file is removed when the server closes.
    ///
    /// ```no_run
    /// nodelike::http::create_server(|_req, res| res.end(())).listen_path("/tmp/app.sock", || {});
    /// nodelike::run();
    /// ```
    pub fn listen_path(
        &self,
        path: impl AsRef<Path>,
        callback: impl FnOnce() + 'static,
    ) -> &Server {
        let path = path.as_ref().to_path_buf();
        let address = path.display().to_string();
        self.listen_on(
            || mio::net::UnixListener::bind(&path).map(|l| Listener::Unix(l, path.clone())),
            address,
            callback,
        );
        self
    }

    /// Binds with `bind` and starts accepting; `address` is what a failure
    /// names (Node's `127.0.0.1:8000` or the socket's path). A bind error
    /// is reported as `listen`'s, as Node (through libuv) reports it.
    fn listen_on(
        &self,
        bind: impl FnOnce() -> std::io::Result<Listener>,
        address: String,
        callback: impl FnOnce() + 'static,
    ) {
        let listener = match bind() {
            Ok(l) => l,
            Err(e) => return self.fail(Error::syscall("listen", e, &address)),
        };
        if self.with(|_| ()).is_none() {
            return;
        }
        let result = match net::listen(listener, &ACCEPTOR, self.ctx()) {
            Ok(id) => {
                let old = self.with(|srv| {
                    srv.closing = false;
                    srv.close_emitted = false;
                    srv.listener.replace(id)
                });
                if let Some(Some(old)) = old {
                    net::close_listener(old);
                }
                Some(Ok(()))
            }
            Err(e) => Some(Err(Error::syscall("listen", e, &address))),
        };
        match result {
            Some(Ok(())) => {
                log::debug!("server {}: listening on {:?}", self.key, self.address());
                crate::next_tick(callback);
            }
            Some(Err(e)) => self.fail(e),
            None => {}
        }
    }

    /// Emits `e` as the server's `error` on the next loop turn (Node emits
    /// listen errors asynchronously too, so a listener added right after
    /// `listen` still gets it).
    ///
    /// Nobody listening: the error must not vanish (the program would go on
    /// as if it served, and with no logger print nothing), so it panics
    /// with Node's uncaught-error text. The loop contains the panic and
    /// resumes it out of `run`, as Node ends the process for an unhandled
    /// `error` event; the default panic hook prints it to stderr and the
    /// process exits non-zero.
    fn fail(&self, e: Error) {
        let server = *self;
        crate::next_tick(move || {
            if !emit_server((server.key, server.gen), |l| &mut l.error, |f| f(&e)) {
                panic!("{}", e.unhandled_report("Server", "Server::on_error"));
            }
        });
    }

    /// The address the server listens on (`None` before `listen`, for unix
    /// sockets, or after `close`).
    ///
    /// ```
    /// let server = nodelike::http::create_server(|_req, res| res.end(()));
    /// server.listen(0, "127.0.0.1", || {});
    /// assert!(server.address().unwrap().port() > 0);
    /// server.close();
    /// nodelike::run();
    /// ```
    pub fn address(&self) -> Option<SocketAddr> {
        self.with(|s| s.listener)
            .flatten()
            .and_then(net::listener_address)
    }

    /// [`close`](Self::close), then `callback` once, when the last
    /// connection is gone (Node's `server.close(callback)`). As in Node,
    /// the callback gets `Some` error, `ERR_SERVER_NOT_RUNNING`, when the
    /// server was not listening (never was, or was closed already).
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    /// let closed = Rc::new(Cell::new(0));
    /// let c = closed.clone();
    /// let server = nodelike::http::create_server(|_req, res| res.end(()));
    /// server.listen(0, "127.0.0.1", move || {
    ///     server.close_with(move |err| {
    ///         assert!(err.is_none());
    ///         c.set(c.get() + 1)
    ///     })
    /// });
    /// nodelike::run();
    /// assert_eq!(closed.get(), 1);
    ///
    /// // Not listening: Node's error.
    /// let idle = nodelike::http::create_server(|_req, res| res.end(()));
    /// idle.close_with(|err| assert_eq!(err.unwrap().code(), "ERR_SERVER_NOT_RUNNING"));
    /// nodelike::run();
    /// ```
    #[doc(alias = "close")]
    pub fn close_with(&self, callback: impl FnOnce(Option<&Error>) + 'static) {
        let running = self.with(|s| s.listener.is_some()).unwrap_or(false);
        let mut callback = Some(callback);
        self.on_close(move || {
            if let Some(f) = callback.take() {
                if running {
                    f(None);
                } else {
                    f(Some(&Error::new(
                        ErrorKind::ServerNotRunning,
                        "Server is not running.",
                    )));
                }
            }
        });
        self.close();
    }

    /// Closes every connection of this server that is idle between
    /// requests, now (Node's `closeIdleConnections()`); busy ones go on.
    ///
    /// ```
    /// let server = nodelike::http::create_server(|_req, res| res.end(()));
    /// let idle = server.connect_in_memory();
    /// server.close_idle_connections();
    /// nodelike::run();
    /// assert!(idle.is_closed());
    /// ```
    #[doc(alias = "closeIdleConnections")]
    pub fn close_idle_connections(&self) {
        for id in self.connection_ids(|conn| conn.is_idle()) {
            if !net::has_held_input(id) {
                net::destroy(id, net::Cause::Aborted);
            }
        }
    }

    /// Closes every connection of this server now, busy or not (Node's
    /// `closeAllConnections()`): requests in flight get `close`.
    ///
    /// ```
    /// let server = nodelike::http::create_server(|_req, _res| {});
    /// let busy = server.connect_in_memory();
    /// busy.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    /// server.close_all_connections();
    /// nodelike::run();
    /// assert!(busy.is_closed());
    /// ```
    #[doc(alias = "closeAllConnections")]
    pub fn close_all_connections(&self) {
        for id in self.connection_ids(|_| true) {
            net::destroy(id, net::Cause::Aborted);
        }
    }

    /// The sockets of this server's connections that `keep` picks.
    fn connection_ids(&self, keep: impl Fn(&ServerConn) -> bool) -> Vec<SockId> {
        let me = (self.key, self.gen);
        with_state(|st| {
            st.conns
                .iter_mut()
                .filter(|(_, conn)| conn.server == me && keep(conn))
                .map(|(id, _)| id)
                .collect()
        })
        .unwrap_or_default()
    }

    /// Stops accepting connections. Idle keep-alive connections are closed
    /// now (or, with [`set_close_grace`](Self::set_close_grace), once the
    /// grace has passed without a request); busy ones finish their current
    /// response (sent with `Connection: close`) and then close. HTTP/2
    /// connections get GOAWAY: their streams in flight finish (within the
    /// grace, when one is set) and each closes once it has none. `close`
    /// fires once the last connection is gone.
    ///
    /// ```
    /// let server = nodelike::http::create_server(|_req, res| res.end(()));
    /// server.on_close(|| println!("closed"));
    /// server.listen(0, "127.0.0.1", move || server.close());
    /// nodelike::run();
    /// ```
    pub fn close(&self) {
        let me = (self.key, self.gen);
        // Connections the kernel completed but we have not accepted yet
        // would be reset with the listener; take them in first, so they are
        // treated like the other idle connections below.
        if let Some(listener) = self.with(|s| s.listener).flatten() {
            net::accept_pending(listener);
        }
        let closed = with_state(|st| {
            let srv = st.servers.get_mut(self.key).filter(|s| s.gen == self.gen)?;
            let listener = srv.listener.take();
            srv.closing = true;
            let no_connections = srv.connections == 0;
            let grace = srv.close_grace;
            let mut idle = Vec::new();
            for (id, conn) in st.conns.iter_mut() {
                if conn.server == me {
                    conn.keep_alive.stop_promising();
                    if conn.is_idle() {
                        idle.push(id);
                    }
                }
            }
            // HTTP/2 connections are told with GOAWAY: the streams in
            // flight finish, and each closes once it has none.
            let h2_ids: Vec<SockId> = st
                .h2conns
                .iter_mut()
                .filter(|(_, c)| c.server() == me)
                .map(|(id, _)| id)
                .collect();
            // One whose client has not sent its preface yet is idle: like
            // an idle HTTP/1.1 connection, it closes now without a grace
            // (with one, its GOAWAY waits for the preface).
            let mut unstarted = Vec::new();
            for &id in &h2_ids {
                h2::go_away(st, id);
                if grace.is_none() && h2::owes_goaway(st, id) {
                    unstarted.push(id);
                }
            }
            Some((listener, idle, h2_ids, unstarted, no_connections, grace))
        })
        .flatten();
        let Some((listener, idle, h2_ids, unstarted, no_connections, grace)) = closed else {
            return;
        };
        for id in unstarted {
            net::destroy(id, net::Cause::Aborted);
        }
        if let Some(grace) = grace {
            // HTTP/2 needs no grace for the idle-connection race: GOAWAY
            // tells the client which streams were taken, and it retries
            // the others elsewhere. The grace bounds the streams in
            // flight instead: a connection still open when it ends is
            // destroyed, so a stream that never finishes cannot hold the
            // close forever.
            for id in h2_ids {
                runtime::schedule(
                    runtime::now() + grace,
                    Work::new(h2::destroy_after_grace, id.ctx()).while_alive(net::socket_alive),
                );
            }
        }
        if let Some(l) = listener {
            net::close_listener(l);
        }
        for id in idle {
            if net::has_held_input(id) {
                continue; // a request has begun: it is answered, then closed
            }
            match grace {
                None => net::destroy(id, net::Cause::Aborted),
                Some(grace) => {
                    log::trace!("socket {}: idle, closing after {grace:?}", id.key);
                    runtime::schedule(
                        runtime::now() + grace,
                        Work::new(conn::close_if_still_idle, id.ctx())
                            .while_alive(net::socket_alive),
                    );
                }
            }
        }
        if no_connections {
            runtime::defer(Work::new(emit_server_close, self.ctx()));
        }
        log::debug!("server {}: closing", self.key);
    }

    /// Sets the idle timeout of new connections, in milliseconds (default
    /// two minutes; `0` disables). A connection idle that long is destroyed
    /// and an unfinished request on it gets `close` with
    /// [`CloseReason::Timeout`](crate::http::CloseReason::Timeout).
    ///
    /// ```
    /// let server = nodelike::http::create_server(|_req, res| res.end(()));
    /// server.set_timeout(5_000);
    /// ```
    #[doc(alias = "setTimeout")]
    pub fn set_timeout(&self, ms: u64) -> &Server {
        self.with(|s| s.timeout = (ms > 0).then(|| Duration::from_millis(ms)));
        self
    }

    /// Sets how long a request head may take to arrive, in milliseconds
    /// (default 60 s, Node's `headersTimeout`; `0` disables). The clock
    /// starts with the connection or the head's first byte and is not reset
    /// by more bytes, so a peer trickling a head slowly (slowloris) gets
    /// `408 Request Timeout` and a closed connection.
    ///
    /// ```
    /// nodelike::http::create_server(|_req, res| res.end(())).set_headers_timeout(10_000);
    /// ```
    #[doc(alias = "setHeadersTimeout")]
    pub fn set_headers_timeout(&self, ms: u64) -> &Server {
        self.with(|s| s.headers_timeout = (ms > 0).then(|| Duration::from_millis(ms)));
        self
    }

    /// Sets how long a whole request, head and body, may take to arrive, in
    /// milliseconds (Node's `requestTimeout`: 300 s by default, as in Node
    /// 18+; `0` disables).
    /// The clock starts like the headers timeout's; a request still
    /// incomplete when it runs out gets `408 Request Timeout` (or, if its
    /// response has already started, a destroyed connection) and `close`
    /// with [`CloseReason::Timeout`](crate::http::CloseReason::Timeout).
    /// A slow upload then cannot hold a connection forever, however steadily
    /// it trickles.
    ///
    /// ```
    /// nodelike::http::create_server(|_req, res| res.end(())).set_request_timeout(300_000);
    /// ```
    #[doc(alias = "setRequestTimeout")]
    pub fn set_request_timeout(&self, ms: u64) -> &Server {
        self.with(|s| s.request_timeout = (ms > 0).then(|| Duration::from_millis(ms)));
        self
    }

    /// Makes [`close`](Self::close) leave idle connections open for `ms`
    /// milliseconds (default 0: closed at once, as in Node). A nodelike
    /// addition, for servers behind a load balancer that keeps connections
    /// to them alive.
    ///
    /// Why: closing an idle keep-alive connection races with a request the
    /// balancer may be sending on it at that moment; the request meets a
    /// reset, and a balancer does not retry a POST. During the grace a
    /// request that arrives on an idle connection is answered as usual,
    /// with `Connection: close`, and the connection closes after it. One
    /// still unused when the grace ends is closed then. With the grace
    /// longer than the balancer's own idle timeout for upstream connections
    /// (nginx's `keepalive_timeout` in the `upstream` block), the balancer
    /// always closes an unused connection first, so no request can be
    /// lost. New connections are refused from the moment `close` is called.
    /// See `docs/deploy.md`.
    ///
    /// HTTP/2 connections are not concerned by that race (`close` sends
    /// them GOAWAY at once, which tells the client the last stream taken;
    /// it retries later ones elsewhere, and idle ones close at once). For
    /// them the grace bounds the streams in flight instead: a connection
    /// whose streams have not all finished when it ends is destroyed (the
    /// streams get `close` as aborted). Without a grace they may take as
    /// long as they need, as in Node.
    ///
    /// ```
    /// let server = nodelike::http::create_server(|_req, res| res.end(()));
    /// server.set_close_grace(2_000);
    /// ```
    #[doc(alias = "drain")]
    pub fn set_close_grace(&self, ms: u64) -> &Server {
        self.with(|s| s.close_grace = (ms > 0).then(|| Duration::from_millis(ms)));
        self
    }

    /// What a client's FIN means (Node's `server.httpAllowHalfOpen`,
    /// default `false`).
    ///
    /// - `false`, Node's default: the client is gone. Every request it
    ///   sent whose response has not ended is aborted: the request gets
    ///   `close` with [`CloseReason::Aborted`](crate::http::CloseReason),
    ///   the response `close`; responses already ended still go out, and
    ///   the connection closes after them. A client that timed out and
    ///   left holds nothing, and `server.close()` is not kept waiting.
    /// - `true`: RFC 9112's half-close. The client has only finished
    ///   sending; every request it sent is answered, then the connection
    ///   closes. For clients that shut down their writing side and wait
    ///   (some HTTP/1.0 tools, `nc -N`).
    ///
    /// ```
    /// let server = nodelike::http::create_server(|_req, res| res.end(()));
    /// server.set_allow_half_open(true); // answer after the client's FIN
    /// ```
    #[doc(alias = "httpAllowHalfOpen")]
    pub fn set_allow_half_open(&self, allow: bool) -> &Server {
        self.with(|s| s.allow_half_open = allow);
        self
    }

    /// Sets how long a keep-alive connection may wait idle for its next
    /// request, in milliseconds (default 5 s, Node's `keepAliveTimeout`;
    /// `0` leaves only the server timeout). It never lengthens the server
    /// timeout.
    ///
    /// ```
    /// nodelike::http::create_server(|_req, res| res.end(())).set_keep_alive_timeout(1_000);
    /// ```
    #[doc(alias = "setKeepAliveTimeout")]
    pub fn set_keep_alive_timeout(&self, ms: u64) -> &Server {
        self.with(|s| s.keep_alive_timeout = (ms > 0).then(|| Duration::from_millis(ms)));
        self
    }

    /// The idle timeout, in milliseconds (`0`: none). Node's
    /// `server.timeout`.
    ///
    /// ```
    /// let server = nodelike::http::create_server(|_req, res| res.end(()));
    /// assert_eq!(server.timeout(), nodelike::http::DEFAULT_TIMEOUT_MS);
    /// ```
    pub fn timeout(&self) -> u64 {
        self.with(|s| millis(s.timeout)).unwrap_or(0)
    }

    /// The headers timeout, in milliseconds (`0`: none). Node's
    /// `server.headersTimeout`.
    ///
    /// ```
    /// let server = nodelike::http::create_server(|_req, res| res.end(()));
    /// assert_eq!(server.headers_timeout(), 60_000);
    /// ```
    #[doc(alias = "headersTimeout")]
    pub fn headers_timeout(&self) -> u64 {
        self.with(|s| millis(s.headers_timeout)).unwrap_or(0)
    }

    /// The request timeout, in milliseconds (`0`: none). Node's
    /// `server.requestTimeout`.
    ///
    /// ```
    /// let server = nodelike::http::create_server(|_req, res| res.end(()));
    /// assert_eq!(server.request_timeout(), 300_000);
    /// ```
    #[doc(alias = "requestTimeout")]
    pub fn request_timeout(&self) -> u64 {
        self.with(|s| millis(s.request_timeout)).unwrap_or(0)
    }

    /// The keep-alive timeout, in milliseconds (`0`: none). Node's
    /// `server.keepAliveTimeout`.
    ///
    /// ```
    /// let server = nodelike::http::create_server(|_req, res| res.end(()));
    /// assert_eq!(server.keep_alive_timeout(), 5_000);
    /// ```
    #[doc(alias = "keepAliveTimeout")]
    pub fn keep_alive_timeout(&self) -> u64 {
        self.with(|s| millis(s.keep_alive_timeout)).unwrap_or(0)
    }

    /// Caps the open connections (Node's `maxConnections`; `0` removes the
    /// cap). At the cap a new connection first makes an idle keep-alive
    /// connection close; if none is idle, the new one is closed at once.
    ///
    /// ```
    /// nodelike::http::create_server(|_req, res| res.end(())).set_max_connections(10_000);
    /// ```
    #[doc(alias = "setMaxConnections")]
    pub fn set_max_connections(&self, max: usize) -> &Server {
        self.with(|s| s.max_connections = (max > 0).then_some(max));
        self
    }

    /// Sets the largest request head accepted, in bytes (default 16 KiB, as
    /// Node's `maxHeaderSize`); a larger one is answered with 431.
    ///
    /// ```
    /// nodelike::http::create_server(|_req, res| res.end(())).set_max_header_size(8 * 1024);
    /// ```
    #[doc(alias = "setMaxHeaderSize")]
    pub fn set_max_header_size(&self, bytes: usize) -> &Server {
        self.with(|s| s.limits.max_head_bytes = bytes);
        self
    }

    /// Adds a `request` listener: `(request, response)` for every request.
    ///
    /// ```
    /// let server = nodelike::http::Server::new();
    /// server.on_request(|req, res| res.end(req.url()));
    /// ```
    #[doc(alias = "request")]
    pub fn on_request(&self, f: impl FnMut(IncomingMessage, ServerResponse) + 'static) -> &Server {
        self.with(|s| s.listeners.request.push(Box::new(f)));
        self
    }

    /// Adds a `checkContinue` listener: called instead of `request` for a
    /// request with `Expect: 100-continue`; call
    /// [`write_continue`](ServerResponse::write_continue) to have the body
    /// sent, or answer with a final status. Without one the server sends
    /// `100 Continue` itself.
    ///
    /// ```
    /// let server = nodelike::http::create_server(|_req, res| res.end(()));
    /// server.on_check_continue(|req, res| {
    ///     if req.headers().get("content-length") == Some("0") { res.write_continue() }
    ///     else { res.write_head(413, &[]); res.end(()) }
    /// });
    /// ```
    pub fn on_check_continue(
        &self,
        f: impl FnMut(IncomingMessage, ServerResponse) + 'static,
    ) -> &Server {
        self.with(|s| s.listeners.check_continue.push(Box::new(f)));
        self
    }

    /// Adds a `checkExpectation` listener: called instead of `request` for
    /// a request whose `Expect` header is anything but `100-continue`.
    /// Without one the server answers `417 Expectation Failed`.
    ///
    /// ```
    /// let server = nodelike::http::create_server(|_req, res| res.end(()));
    /// server.on_check_expectation(|req, res| {
    ///     if req.headers().get("expect") == Some("x-fast-lane") {
    ///         res.end("granted")
    ///     } else {
    ///         res.write_head(417, &[]);
    ///         res.end(())
    ///     }
    /// });
    /// ```
    #[doc(alias = "checkExpectation")]
    pub fn on_check_expectation(
        &self,
        f: impl FnMut(IncomingMessage, ServerResponse) + 'static,
    ) -> &Server {
        self.with(|s| s.listeners.check_expectation.push(Box::new(f)));
        self
    }

    /// Adds a `connection` listener: the socket of every new connection.
    ///
    /// ```
    /// let server = nodelike::http::create_server(|_req, res| res.end(()));
    /// server.on_connection(|socket| println!("from {:?}", socket.remote_address()));
    /// ```
    #[doc(alias = "connection")]
    pub fn on_connection(&self, f: impl FnMut(Socket) + 'static) -> &Server {
        self.with(|s| s.listeners.connection.push(Box::new(f)));
        self
    }

    /// Adds an `upgrade` listener: `(request, socket, head)` for a request
    /// asking to switch protocols; `head` is what followed the request head
    /// in the same read. The connection then belongs to the listener. Without
    /// one, as in Node, a request asking to upgrade is an ordinary request
    /// for the `request` listener (so `curl --http2 http://…` gets its
    /// answer over HTTP/1.1). A `CONNECT` never comes here: it goes to
    /// [`on_connect`](Self::on_connect).
    ///
    /// ```
    /// let server = nodelike::http::create_server(|_req, res| res.end(()));
    /// server.on_upgrade(|_req, socket, _head| {
    ///     socket.end("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n");
    /// });
    /// ```
    #[doc(alias = "upgrade")]
    pub fn on_upgrade(&self, f: impl FnMut(IncomingMessage, Socket, &[u8]) + 'static) -> &Server {
        self.with(|s| s.listeners.upgrade.push(Box::new(f)));
        self
    }

    /// Adds a `connect` listener: `(request, socket, head)` for a `CONNECT`
    /// request (`req.url()` is its `host:port`); `head` is what followed
    /// the request head in the same read, the first bytes of the tunnel.
    /// The connection then belongs to the listener: it writes the answer
    /// (`HTTP/1.1 200 Connection Established`) itself, and every later
    /// byte is a raw `data` event on the socket. A `CONNECT` never reaches
    /// the `request` or `upgrade` listeners; without a `connect` listener
    /// its connection is closed, as in Node.
    ///
    /// A proxy's tunnel, with [`net::connect`](crate::net::connect) for the
    /// upstream leg:
    ///
    /// ```no_run
    /// use nodelike::{http, net};
    /// let server = http::create_server(|_req, res| res.end(()));
    /// server.on_connect(|req, client, head| {
    ///     let url = req.url();
    ///     let (host, port) = url.rsplit_once(':').unwrap_or((&url, "443"));
    ///     let port: u16 = port.parse().unwrap_or(443);
    ///     // Whether the tunnel is up decides how a failure is answered.
    ///     let up = std::rc::Rc::new(std::cell::Cell::new(false));
    ///     let u = up.clone();
    ///     let upstream = net::connect(port, host, move || {
    ///         u.set(true);
    ///         client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
    ///     });
    ///     upstream.on_error(|e| eprintln!("upstream: {e}"));
    ///     upstream.write(head);
    ///     upstream.on_data(move |chunk| { client.write(chunk); });
    ///     client.on_data(move |chunk| { upstream.write(chunk); });
    ///     upstream.on_end(move || client.end(()));
    ///     client.on_end(move || upstream.end(()));
    ///     upstream.on_close(move |_| {
    ///         if up.get() {
    ///             client.destroy_soon(); // what upstream sent still goes out
    ///         } else {
    ///             // Refused, or the name did not resolve.
    ///             client.end("HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\n\r\n");
    ///         }
    ///     });
    ///     client.on_close(move |_| upstream.destroy());
    /// });
    /// server.listen(8080, "127.0.0.1", || {});
    /// nodelike::run();
    /// ```
    #[doc(alias = "connect")]
    pub fn on_connect(&self, f: impl FnMut(IncomingMessage, Socket, &[u8]) + 'static) -> &Server {
        self.with(|s| s.listeners.connect.push(Box::new(f)));
        self
    }

    /// Adds a `clientError` listener: a malformed request arrived. With a
    /// listener, answering (or not) is up to you; without one the server
    /// answers 400 (431, 414, 501, 505 as fits) with `Connection: close`.
    ///
    /// ```
    /// let server = nodelike::http::create_server(|_req, res| res.end(()));
    /// server.on_client_error(|err, socket| {
    ///     socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
    ///     eprintln!("bad request: {err}");
    /// });
    /// ```
    #[doc(alias = "clientError")]
    pub fn on_client_error(&self, f: impl FnMut(&Error, Socket) + 'static) -> &Server {
        self.with(|s| s.listeners.client_error.push(Box::new(f)));
        self
    }

    /// Adds a `close` listener: the server stopped listening and its last
    /// connection closed.
    ///
    /// ```
    /// let server = nodelike::http::Server::new();
    /// server.on_close(|| println!("server closed"));
    /// ```
    #[doc(alias = "close")]
    pub fn on_close(&self, f: impl FnMut() + 'static) -> &Server {
        self.with(|s| s.listeners.close.push(Box::new(f)));
        self
    }

    /// Adds a `timeout` listener: a connection was idle for the server's
    /// timeout (see [`set_timeout`](Self::set_timeout)). With a listener
    /// here (or a `timeout` listener on the request or response), the
    /// connection is not destroyed: closing it is up to you, as in Node.
    ///
    /// ```
    /// let server = nodelike::http::create_server(|_req, res| res.end(()));
    /// server.on_timeout(|socket| socket.destroy());
    /// ```
    #[doc(alias = "timeout")]
    pub fn on_timeout(&self, f: impl FnMut(Socket) + 'static) -> &Server {
        self.with(|s| s.listeners.timeout.push(Box::new(f)));
        self
    }

    /// Adds a `stream` listener (HTTP/2's core API, Node's
    /// `server.on('stream', (stream, headers) => ..)`): every HTTP/2
    /// stream, with its request headers (pseudo-headers included), before
    /// the compatibility API's `request` listeners see it as a
    /// `(req, res)` pair. Never called for HTTP/1.1.
    ///
    /// ```
    /// let server = nodelike::http2::create_server(Default::default(), |_req, _res| {});
    /// server.on_stream(|stream, headers| {
    ///     let path = headers.get(":path").unwrap_or("/").to_owned();
    ///     stream.respond(&[(":status", "200")]);
    ///     stream.end(path);
    /// });
    /// ```
    #[doc(alias = "stream")]
    pub fn on_stream(
        &self,
        f: impl FnMut(ServerHttp2Stream, crate::http::Headers) + 'static,
    ) -> &Server {
        self.with(|s| s.listeners.stream.push(Box::new(f)));
        self
    }

    /// Adds a `session` listener (HTTP/2, Node's `server.on('session')`):
    /// a connection switched to HTTP/2 (by ALPN, or by its preface).
    ///
    /// ```
    /// let server = nodelike::http2::create_server(Default::default(), |_req, res| res.end(()));
    /// server.on_session(|session| println!("HTTP/2 from {:?}", session.socket().remote_address()));
    /// ```
    #[doc(alias = "session")]
    pub fn on_session(&self, f: impl FnMut(Http2Session) + 'static) -> &Server {
        self.with(|s| s.listeners.session.push(Box::new(f)));
        self
    }

    /// Adds a `secureConnection` listener (HTTPS): a connection's TLS
    /// handshake finished.
    ///
    /// ```
    /// let server = nodelike::http::create_server(|_req, res| res.end(()));
    /// server.on_secure_connection(|socket| println!("TLS with {:?}", socket.remote_address()));
    /// ```
    #[doc(alias = "secureConnection")]
    pub fn on_secure_connection(&self, f: impl FnMut(Socket) + 'static) -> &Server {
        self.with(|s| s.listeners.secure_connection.push(Box::new(f)));
        self
    }

    /// Adds a `tlsClientError` listener (HTTPS): a connection's TLS
    /// handshake failed (the error's code says why); the connection is
    /// closed after the listener runs.
    ///
    /// ```
    /// let server = nodelike::http::create_server(|_req, res| res.end(()));
    /// server.on_tls_client_error(|err, _socket| eprintln!("handshake failed: {}", err.code()));
    /// ```
    #[doc(alias = "tlsClientError")]
    pub fn on_tls_client_error(&self, f: impl FnMut(&Error, Socket) + 'static) -> &Server {
        self.with(|s| s.listeners.tls_client_error.push(Box::new(f)));
        self
    }

    /// Makes the server speak HTTP/2 (`http2::create_server` and
    /// `create_secure_server`).
    pub(crate) fn set_http2(&self, mode: crate::http::http2::Http2Mode) {
        self.with(|s| s.http2 = Some(mode));
    }

    /// Makes the server speak TLS on the connections it accepts from now on.
    #[cfg(feature = "tls")]
    pub(crate) fn set_tls(&self, tls: crate::net::tls::ServerTls) {
        self.with(|s| s.tls = Some(tls));
    }

    /// Adds an `error` listener: listening failed (address in use,
    /// permission denied, a host that does not resolve; see
    /// [`listen`](Server::listen) for the messages). The error's
    /// [`source`](std::error::Error::source) is the operating system's
    /// [`io::Error`](std::io::Error) when there is one.
    ///
    /// With a listener the failure is yours to handle and [`run`](crate::run)
    /// goes on (returning once nothing is left to wait for). Without one it
    /// panics out of `run` with `Error: <message>`, Node's uncaught-error
    /// text, as an unhandled `error` event ends a Node process.
    ///
    /// ```
    /// let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let port = holder.local_addr().unwrap().port();
    ///
    /// let server = nodelike::http::create_server(|_req, res| res.end(()));
    /// server.on_error(move |e| {
    ///     assert_eq!(e.kind(), nodelike::ErrorKind::AddrInUse);
    ///     assert_eq!(e.to_string(), format!("listen EADDRINUSE: address already in use 127.0.0.1:{port}"));
    ///     eprintln!("cannot listen: {e}"); // a CLI would exit(1) here
    /// });
    /// server.listen(port, "127.0.0.1", || {});
    /// nodelike::run(); // returns: the error was handled
    /// ```
    #[doc(alias = "error")]
    pub fn on_error(&self, f: impl FnMut(&Error) + 'static) -> &Server {
        self.with(|s| s.listeners.error.push(Box::new(f)));
        self
    }

    /// Opens a connection to this server that lives in memory, as Node's
    /// `server.emit('connection', duplex)` hands a server any stream: the
    /// server parses, dispatches and answers exactly as for a TCP
    /// connection, and you play the client through the returned
    /// [`MemoryConnection`] (choosing read sizes and write windows). For
    /// tests and fuzzing; the server need not listen. Runs the
    /// `connection` event before it returns. A connection refused by
    /// [`set_max_connections`](Self::set_max_connections) comes back
    /// already closed.
    ///
    /// ```
    /// let server = nodelike::http::create_server(|req, res| res.end(req.url()));
    /// let conn = server.connect_in_memory();
    /// conn.send(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    /// assert!(conn.take_output().ends_with(b"/hello"));
    /// ```
    pub fn connect_in_memory(&self) -> MemoryConnection {
        runtime::refresh_now();
        let (pipe, transport) = MemoryConnection::pipe();
        // Its far end is not the OS: it must not keep `run` alive.
        let id = adopt(*self, transport, None, true).unwrap_or(SockId::NONE);
        runtime::settle();
        MemoryConnection::new(id, pipe)
    }

    /// Open connections right now.
    ///
    /// ```
    /// assert_eq!(nodelike::http::Server::new().connections(), 0);
    /// ```
    pub fn connections(&self) -> usize {
        self.with(|s| s.connections).unwrap_or(0)
    }
}

/// An address as Node's errors name it: `127.0.0.1:8000`, `::1:8000` (no
/// brackets), or the bare IP for port 0.
fn host_port(addr: SocketAddr) -> String {
    match addr.port() {
        0 => addr.ip().to_string(),
        port => format!("{}:{port}", addr.ip()),
    }
}

/// How a server's listeners hand it their connections.
static ACCEPTOR: net::Acceptor = net::Acceptor {
    accept: |owner, stream, addr| {
        let server = Server::from_ctx(owner);
        #[cfg(feature = "tls")]
        let transport = match server.with(|s| s.tls.clone()).flatten() {
            Some(tls) => match stream.into_tls(tls) {
                Ok(t) => t,
                Err(e) => {
                    log::warn!("server {}: cannot start TLS: {e}", server.key);
                    return;
                }
            },
            None => stream.into_transport(),
        };
        #[cfg(not(feature = "tls"))]
        let transport = stream.into_transport();
        adopt(server, transport, addr, false);
    },
};

/// A TLS handshake finished on a connection: `secureConnection`.
fn on_secured(id: SockId) {
    let server = with_state(|st| st.conns.get(id).map(|c| c.server)).flatten();
    if let Some(server) = server {
        #[cfg(feature = "tls")]
        choose_protocol_by_alpn(id, server);
        let socket = Socket::from_id(id);
        emit_server(server, |l| &mut l.secure_connection, |f| f(socket));
    }
}

/// An HTTP/2 server's TLS connection: ALPN decides between HTTP/2 and
/// HTTP/1.1 (served only with `allow_http1`; otherwise the connection is
/// closed, as Node's `unknownProtocol` default does).
#[cfg(feature = "tls")]
fn choose_protocol_by_alpn(id: SockId, server: (usize, u32)) {
    let Some(Some(mode)) =
        with_state(|st| st.servers.get(server.0).and_then(|srv| srv.http2.clone()))
    else {
        return;
    };
    let alpn = Socket::from_id(id).alpn_protocol();
    if alpn.as_deref() == Some("h2") {
        with_state(|st| h2::start(st, id, server, mode.config));
        h2::emit_session(server, id);
    } else if !mode.allow_http1 {
        log::debug!(
            "socket {}: no HTTP/2 by ALPN ({alpn:?}) and HTTP/1.1 not allowed; closing",
            id.key
        );
        net::destroy(id, net::Cause::Aborted);
    }
}

/// Reading a connection failed (it is destroyed next): a TLS handshake
/// that failed goes to `tlsClientError`.
fn on_failed(id: SockId, e: &std::io::Error) {
    #[cfg(feature = "tls")]
    if let Some(err) = crate::net::tls::handshake_error(e, crate::net::tls::Role::Server) {
        let server = with_state(|st| st.conns.get(id).map(|c| c.server)).flatten();
        if let Some(server) = server {
            let socket = Socket::from_id(id);
            if !emit_server(server, |l| &mut l.tls_client_error, |f| f(&err, socket)) {
                log::debug!("server {}: TLS handshake failed: {err}", server.0);
            }
        }
        return;
    }
    log::debug!("socket {}: {e}", id.key);
}

/// Takes in a new connection of `server`: subject to the connection cap,
/// opens its socket with the HTTP server protocol, starts its first
/// request's clock, and emits `connection`. Returns the socket, or `None`
/// if the connection was refused (the transport is dropped: closed).
fn adopt(
    server: Server,
    transport: Box<dyn Transport>,
    addr: Option<SocketAddr>,
    unref: bool,
) -> Option<SockId> {
    let key = server.key;
    let me = (server.key, server.gen);
    let admitted = with_state(|st| {
        let srv = st.servers.get(key).filter(|s| s.gen == server.gen)?;
        let at_cap = srv
            .max_connections
            .is_some_and(|max| srv.connections >= max);
        let timeout = srv.timeout;
        let room = if at_cap {
            Some(find_idle(st, me))
        } else {
            None
        };
        Some((timeout, room))
    })
    .flatten();
    let (timeout, room) = admitted?;
    match room {
        Some(Some(idle)) => {
            log::debug!(
                "server {key}: connection cap reached; closing idle socket {}",
                idle.key
            );
            net::destroy(idle, net::Cause::Aborted);
        }
        Some(None) => {
            log::warn!("server {key}: connection cap reached and none idle; refusing a connection");
            return None;
        }
        None => {}
    }
    let opened = net::open(
        transport,
        addr,
        net::Open {
            protocol: &conn::PROTOCOL,
            idle_timeout: timeout,
            connecting: false,
            unref,
        },
    );
    let id = match opened {
        Ok(id) => id,
        Err(e) => {
            log::warn!("server {key}: cannot register a connection: {e}");
            return None;
        }
    };
    let wants_event = with_state(|st| {
        let ServerState { servers, conns, .. } = st;
        let srv = servers.get_mut(key)?;
        srv.connections += 1;
        let wants_event = !srv.listeners.connection.is_empty();
        // A fresh connection is not evictable: its first request may be
        // on the way. Only a connection idle after a finished response may
        // make room at the cap; otherwise newcomers are refused (Node's
        // `maxConnections`).
        let mut conn = ServerConn::new(me);
        if let Some(mode) = srv.http2.as_ref() {
            #[cfg(feature = "tls")]
            let cleartext = srv.tls.is_none();
            #[cfg(not(feature = "tls"))]
            let cleartext = true;
            if cleartext {
                conn.preface = conn::PrefaceCheck::Pending {
                    allow_http1: mode.allow_http1,
                };
            }
        }
        conns.insert(id, conn);
        // A new connection must deliver its first request in time too.
        conn::start_request_clock(st, id);
        Some(wants_event)
    })
    .flatten()
    .unwrap_or(false);
    log::trace!("server {key}: accepted socket {} from {addr:?}", id.key);
    if wants_event {
        let socket = Socket::from_id(id);
        emit_server(me, |l| &mut l.connection, |f| f(socket));
    }
    Some(id)
}

/// At the connection cap: an idle keep-alive connection of `server` to
/// close to make room for a new one. (This walks the connections, but
/// only when the cap is reached.)
fn find_idle(st: &mut ServerState, server: (usize, u32)) -> Option<SockId> {
    let ServerState { servers, conns, .. } = st;
    let srv = servers.get_mut(server.0)?;
    while let Some(id) = srv.idle_conns.pop() {
        if conns.get(id).is_some_and(|conn| conn.is_reusable_idle(id)) {
            return Some(id);
        }
    }
    None
}

/// A connection of `server` went idle between requests: remember it for
/// the connection cap (only servers with a cap keep the list).
fn note_idle(srv: &mut ServerRec, conns: &PerSocket<ServerConn>, id: SockId) {
    if srv.max_connections.is_none() {
        return;
    }
    if srv.idle_conns.len() > 2 * srv.connections + 16 {
        srv.idle_conns
            .retain(|&c| conns.get(c).is_some_and(|conn| conn.is_reusable_idle(c)));
    }
    srv.idle_conns.push(id);
}

/// A connection of `server` closed.
fn connection_closed(st: &mut ServerState, server: (usize, u32)) {
    if let Some(srv) = st.servers.get_mut(server.0).filter(|s| s.gen == server.1) {
        srv.connections = srv.connections.saturating_sub(1);
        if srv.closing && srv.connections == 0 && srv.listener.is_none() {
            runtime::defer(Work::new(
                emit_server_close,
                Server::from_key(server.0, server.1).ctx(),
            ));
        }
    }
}

/// Emits the server's `close`, once (deferred work; `ctx` names the server).
fn emit_server_close(ctx: u64) {
    let Server { key, gen, .. } = Server::from_ctx(ctx);
    let first = with_state(
        |st| match st.servers.get_mut(key).filter(|s| s.gen == gen) {
            Some(s) if !s.close_emitted && s.listener.is_none() => {
                s.close_emitted = true;
                true
            }
            _ => false,
        },
    )
    .unwrap_or(false);
    if first {
        log::debug!("server {key}: close");
        emit_server((key, gen), |l| &mut l.close, |f| f());
    }
}

/// Emits a server event; returns whether anyone listened.
fn emit_server<F: ?Sized + 'static>(
    server: (usize, u32),
    field: fn(&mut ServerListeners) -> &mut Listeners<F>,
    call: impl FnMut(&mut F),
) -> bool {
    runtime::listeners::emit(
        |f| {
            with_state(|st| {
                st.servers
                    .get_mut(server.0)
                    .filter(|s| s.gen == server.1)
                    .map(|s| f(field(&mut s.listeners)))
                    .is_some()
            })
            .unwrap_or(false)
        },
        call,
    )
}
