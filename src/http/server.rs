//! Node's `http.Server`: listening, accepting, and the server's events.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

use crate::http::conn;
pub(crate) use crate::http::conn::ServerConn;
use crate::http::h1::Limits;
use crate::http::{IncomingMessage, ServerResponse};
use crate::net::{Listener, MemoryConnection, Proto, SockId, Socket, SocketRec, Stream};
use crate::runtime::listeners::Listeners;
use crate::runtime::timers::Due;
use crate::runtime::{with_core, Pending, LISTENER_BIT};
use crate::{Error, ErrorKind};

pub(crate) use crate::http::conn::{
    after_flush, emit_response_drain, on_eof, on_socket_closed, process_input,
};
pub(crate) use crate::http::exchange::Exchange;

/// Node's default server timeout of its v0.4 era: two minutes.
pub const DEFAULT_TIMEOUT_MS: u64 = 120_000;
/// How long a whole request head may take to arrive (Node's
/// `headersTimeout`): 60 seconds, however slowly the bytes trickle in.
pub const DEFAULT_HEADERS_TIMEOUT_MS: u64 = 60_000;
/// How long a keep-alive connection may sit idle between requests (Node's
/// `keepAliveTimeout`): 5 seconds.
pub const DEFAULT_KEEP_ALIVE_TIMEOUT_MS: u64 = 5_000;

type UpgradeListener = dyn FnMut(IncomingMessage, Socket, &[u8]);
type ClientErrorListener = dyn FnMut(&Error, Socket);

#[derive(Default)]
pub(crate) struct ServerListeners {
    pub(crate) request: Listeners<dyn FnMut(IncomingMessage, ServerResponse)>,
    pub(crate) check_continue: Listeners<dyn FnMut(IncomingMessage, ServerResponse)>,
    pub(crate) connection: Listeners<dyn FnMut(Socket)>,
    pub(crate) upgrade: Listeners<UpgradeListener>,
    pub(crate) client_error: Listeners<ClientErrorListener>,
    pub(crate) close: Listeners<dyn FnMut()>,
    pub(crate) error: Listeners<dyn FnMut(&Error)>,
}

pub(crate) struct ServerRec {
    pub(crate) gen: u32,
    pub(crate) listener: Option<Listener>,
    pub(crate) connections: usize,
    pub(crate) closing: bool,
    pub(crate) close_emitted: bool,
    pub(crate) timeout: Option<Duration>,
    pub(crate) headers_timeout: Option<Duration>,
    /// Node's `requestTimeout`: the whole request, head and body (off by
    /// default).
    pub(crate) request_timeout: Option<Duration>,
    /// Node's `maxConnections`: `None` for no cap.
    pub(crate) max_connections: Option<usize>,
    pub(crate) keep_alive_timeout: Option<Duration>,
    pub(crate) limits: Limits,
    pub(crate) listeners: ServerListeners,
}

impl ServerRec {
    pub(crate) fn is_listening(&self) -> bool {
        self.listener.is_some()
    }
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Server {
    key: usize,
    gen: u32,
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
        with_core(|c| {
            let gen = c.next_gen();
            let key = c.servers.insert(ServerRec {
                gen,
                listener: None,
                connections: 0,
                closing: false,
                close_emitted: false,
                timeout: Some(Duration::from_millis(DEFAULT_TIMEOUT_MS)),
                headers_timeout: Some(Duration::from_millis(DEFAULT_HEADERS_TIMEOUT_MS)),
                request_timeout: None,
                max_connections: None,
                keep_alive_timeout: Some(Duration::from_millis(DEFAULT_KEEP_ALIVE_TIMEOUT_MS)),
                limits: Limits::default(),
                listeners: ServerListeners::default(),
            });
            Server { key, gen }
        })
        .unwrap_or(Server {
            key: usize::MAX,
            gen: 0,
        })
    }

    fn with<R>(&self, f: impl FnOnce(&mut ServerRec) -> R) -> Option<R> {
        with_core(|c| {
            c.servers
                .get_mut(self.key)
                .filter(|s| s.gen == self.gen)
                .map(f)
        })
        .flatten()
    }

    /// Listens on `host:port` (`port` 0 picks a free one: see
    /// [`address`](Server::address)). `callback` runs on the next loop turn
    /// once listening; a failure (address in use, bad host) goes to the
    /// `error` event instead.
    ///
    /// ```no_run
    /// let server = nodelike::http::create_server(|_req, res| res.end(()));
    /// server.listen(0, "127.0.0.1", move || println!("on {:?}", server.address()));
    /// nodelike::run();
    /// ```
    pub fn listen(&self, port: u16, host: &str, callback: impl FnOnce() + 'static) -> &Server {
        let host = if host.is_empty() { "0.0.0.0" } else { host };
        let addr = (host, port).to_socket_addrs().map(|mut a| a.next());
        match addr {
            Ok(Some(addr)) => self.listen_on(
                || mio::net::TcpListener::bind(addr).map(Listener::Tcp),
                callback,
            ),
            Ok(None) => self.fail(Error::new(
                ErrorKind::Dns,
                format!("getaddrinfo ENOTFOUND {host}"),
            )),
            Err(e) => self.fail(Error::new(
                ErrorKind::Dns,
                format!("getaddrinfo ENOTFOUND {host}: {e}"),
            )),
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
        self.listen_on(
            || mio::net::UnixListener::bind(&path).map(|l| Listener::Unix(l, path.clone())),
            callback,
        );
        self
    }

    fn listen_on(
        &self,
        bind: impl FnOnce() -> std::io::Result<Listener>,
        callback: impl FnOnce() + 'static,
    ) {
        let listener = match bind() {
            Ok(l) => l,
            Err(e) => return self.fail(Error::from(e)),
        };
        let result = with_core(|c| {
            let srv = c.servers.get_mut(self.key).filter(|s| s.gen == self.gen)?;
            let mut listener = listener;
            let token = mio::Token(self.key | LISTENER_BIT);
            if let Err(e) = listener.register(c.poll.registry(), token) {
                return Some(Err(Error::from(e)));
            }
            if let Some(mut old) = srv.listener.replace(listener) {
                old.deregister(c.poll.registry());
            }
            srv.closing = false;
            srv.close_emitted = false;
            Some(Ok(()))
        })
        .flatten();
        match result {
            Some(Ok(())) => {
                log::debug!("server {}: listening on {:?}", self.key, self.address());
                crate::next_tick(callback);
            }
            Some(Err(e)) => self.fail(e),
            None => {}
        }
    }

    fn fail(&self, e: Error) {
        let server = *self;
        crate::next_tick(move || {
            if !conn::emit_server((server.key, server.gen), |l| &mut l.error, |f| f(&e)) {
                log::error!("nodelike: unhandled server error: {e}");
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
        self.with(|s| s.listener.as_ref().and_then(|l| l.local_addr()))
            .flatten()
    }

    /// Stops accepting connections. Idle keep-alive connections are closed
    /// now; busy ones finish their current response (sent with
    /// `Connection: close`) and then close. `close` fires once the last
    /// connection is gone.
    ///
    /// ```
    /// let server = nodelike::http::create_server(|_req, res| res.end(()));
    /// server.on_close(|| println!("closed"));
    /// server.listen(0, "127.0.0.1", move || server.close());
    /// nodelike::run();
    /// ```
    pub fn close(&self) {
        with_core(|c| {
            let Some(srv) = c.servers.get_mut(self.key).filter(|s| s.gen == self.gen) else {
                return;
            };
            if let Some(mut l) = srv.listener.take() {
                l.deregister(c.poll.registry());
            }
            srv.closing = true;
            let no_connections = srv.connections == 0;
            let me = (self.key, self.gen);
            let mut idle = Vec::new();
            for (key, s) in c.sockets.iter_mut() {
                if let Proto::Server(conn) = &mut s.proto {
                    if conn.server == me {
                        conn.keep_alive = false;
                        if conn.is_idle() && s.inbuf.is_empty() {
                            idle.push(SockId {
                                key: key as u32,
                                gen: s.gen,
                            });
                        }
                    }
                }
            }
            for id in idle {
                c.destroy(id, crate::net::Cause::Aborted);
            }
            if no_connections {
                c.pending
                    .push_back(Pending::ServerClosed(self.key, self.gen));
            }
            log::debug!("server {}: closing", self.key);
        });
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
    pub fn set_headers_timeout(&self, ms: u64) -> &Server {
        self.with(|s| s.headers_timeout = (ms > 0).then(|| Duration::from_millis(ms)));
        self
    }

    /// Sets how long a whole request, head and body, may take to arrive, in
    /// milliseconds (Node's `requestTimeout`; off by default, `0` disables).
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
    pub fn set_request_timeout(&self, ms: u64) -> &Server {
        self.with(|s| s.request_timeout = (ms > 0).then(|| Duration::from_millis(ms)));
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
    pub fn set_keep_alive_timeout(&self, ms: u64) -> &Server {
        self.with(|s| s.keep_alive_timeout = (ms > 0).then(|| Duration::from_millis(ms)));
        self
    }

    /// Caps the open connections (Node's `maxConnections`; `0` removes the
    /// cap). At the cap a new connection first makes an idle keep-alive
    /// connection close; if none is idle, the new one is closed at once.
    ///
    /// ```
    /// nodelike::http::create_server(|_req, res| res.end(())).set_max_connections(10_000);
    /// ```
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

    /// Adds a `connection` listener: the socket of every new connection.
    ///
    /// ```
    /// let server = nodelike::http::create_server(|_req, res| res.end(()));
    /// server.on_connection(|socket| println!("from {:?}", socket.remote_address()));
    /// ```
    pub fn on_connection(&self, f: impl FnMut(Socket) + 'static) -> &Server {
        self.with(|s| s.listeners.connection.push(Box::new(f)));
        self
    }

    /// Adds an `upgrade` listener: `(request, socket, head)` for a request
    /// asking to switch protocols; `head` is what followed the request head
    /// in the same read. The connection then belongs to the listener. Without
    /// one, upgrade requests have their connection destroyed.
    ///
    /// ```
    /// let server = nodelike::http::create_server(|_req, res| res.end(()));
    /// server.on_upgrade(|_req, socket, _head| {
    ///     socket.end("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n");
    /// });
    /// ```
    pub fn on_upgrade(&self, f: impl FnMut(IncomingMessage, Socket, &[u8]) + 'static) -> &Server {
        self.with(|s| s.listeners.upgrade.push(Box::new(f)));
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
    pub fn on_close(&self, f: impl FnMut() + 'static) -> &Server {
        self.with(|s| s.listeners.close.push(Box::new(f)));
        self
    }

    /// Adds an `error` listener: listening failed (address in use, ...).
    ///
    /// ```
    /// let server = nodelike::http::Server::new();
    /// server.on_error(|e| eprintln!("cannot listen: {e}"));
    /// ```
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
        let pipe = MemoryConnection::new_pipe();
        let stream = Stream::Memory(pipe.clone());
        let adopted = with_core(|c| {
            c.now = std::time::Instant::now();
            adopt_connection(c, self.key, stream, None)
        })
        .flatten();
        let id = adopted.as_ref().map_or(
            SockId {
                key: u32::MAX,
                gen: 0,
            },
            |a| a.id,
        );
        if let Some(adopted) = adopted {
            with_core(|c| {
                if let Some(s) = c.socket(adopted.id) {
                    // Its far end is not the OS: it must not keep `run` alive.
                    s.unref = true;
                    c.unref_sockets += 1;
                }
            });
            emit_connection(adopted);
            crate::runtime::run_pending();
        }
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

/// Accepts every pending connection on server `key`.
pub(crate) fn accept_connections(key: usize) {
    loop {
        let accepted = with_core(|c| {
            let srv = c.servers.get_mut(key)?;
            let listener = srv.listener.as_ref()?;
            match listener.accept() {
                Ok((stream, addr)) => Some(Ok(adopt_connection(c, key, stream, addr))),
                Err(e) => Some(Err(e)),
            }
        })
        .flatten();
        match accepted {
            None => break,
            Some(Ok(None)) => {}
            Some(Ok(Some(adopted))) => emit_connection(adopted),
            Some(Err(e)) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Some(Err(e)) if matches!(e.raw_os_error(), Some(23) | Some(24)) => {
                // EMFILE/ENFILE: the pending connection stays in the backlog
                // and epoll will not tell us again; retry on a timer rather
                // than spin.
                log::warn!("server {key}: accept: {e}; retrying in 100 ms");
                with_core(|c| {
                    let at = c.now + Duration::from_millis(100);
                    let gen = c.servers.get(key).map(|s| s.gen).unwrap_or(0);
                    c.timers.push(at, Due::AcceptRetry(key, gen));
                });
                break;
            }
            Some(Err(e)) => log::debug!("server {key}: accept: {e}"),
        }
    }
}

/// A connection [`adopt_connection`] took in: its socket, its server, and
/// whether anyone listens for `connection`.
pub(crate) struct Adopted {
    id: SockId,
    server: (usize, u32),
    wants_event: bool,
}

/// Makes a new connection's socket record on server `key` (subject to the
/// connection cap), registers it, and starts its timers. `None`: refused.
fn adopt_connection(
    c: &mut crate::runtime::Core,
    key: usize,
    mut stream: Stream,
    addr: Option<SocketAddr>,
) -> Option<Adopted> {
    let now = c.now;
    let gen = c.next_gen();
    let srv = c.servers.get(key)?;
    let server = (key, srv.gen);
    if srv
        .max_connections
        .is_some_and(|max| srv.connections >= max)
        && !make_room(c, server)
    {
        log::warn!("server {key}: connection cap reached and none idle; refusing a connection");
        return None;
    }
    let srv = c.servers.get_mut(key)?;
    let timeout = srv.timeout;
    let wants_event = !srv.listeners.connection.is_empty();
    srv.connections += 1;
    let entry = c.sockets.vacant_entry();
    let id = SockId {
        key: entry.key() as u32,
        gen,
    };
    if let Err(e) = stream.register(c.poll.registry(), id.token()) {
        log::warn!("server {key}: cannot register a connection: {e}");
        if let Some(srv) = c.servers.get_mut(key) {
            srv.connections -= 1;
        }
        return None;
    }
    let mut rec = SocketRec::new(
        gen,
        stream,
        addr,
        Proto::Server(ServerConn::new(server)),
        now,
    );
    rec.idle_timeout = timeout;
    entry.insert(rec);
    c.arm_idle(id);
    // A new connection must deliver its first request in time too.
    conn::start_request_clock(c, id);
    log::trace!("server {key}: accepted socket {} from {addr:?}", id.key);
    Some(Adopted {
        id,
        server,
        wants_event,
    })
}

fn emit_connection(adopted: Adopted) {
    if adopted.wants_event {
        let socket = Socket { id: adopted.id };
        conn::emit_server(adopted.server, |l| &mut l.connection, |f| f(socket));
    }
}

/// At the connection cap: closes one idle keep-alive connection of `server`
/// to make room for a new one. Returns whether there was one. (This walks
/// the sockets, but only when the cap is reached.)
fn make_room(c: &mut crate::runtime::Core, server: (usize, u32)) -> bool {
    let idle = c.sockets.iter().find_map(|(key, s)| match &s.proto {
        Proto::Server(conn)
            if conn.server == server && !s.destroyed && conn.is_idle() && s.inbuf.is_empty() =>
        {
            Some(SockId {
                key: key as u32,
                gen: s.gen,
            })
        }
        _ => None,
    });
    match idle {
        Some(id) => {
            log::debug!(
                "server {}: connection cap reached; closing idle socket {}",
                server.0,
                id.key
            );
            c.destroy(id, crate::net::Cause::Aborted);
            true
        }
        None => false,
    }
}

/// A connection of `server` closed.
pub(crate) fn connection_closed(server: (usize, u32)) {
    with_core(|c| {
        if let Some(srv) = c.servers.get_mut(server.0).filter(|s| s.gen == server.1) {
            srv.connections = srv.connections.saturating_sub(1);
            if srv.closing && srv.connections == 0 && srv.listener.is_none() {
                c.pending
                    .push_back(Pending::ServerClosed(server.0, server.1));
            }
        }
    });
}

/// Emits the server's `close`, once.
pub(crate) fn emit_server_close(key: usize, gen: u32) {
    let first = with_core(|c| match c.servers.get_mut(key).filter(|s| s.gen == gen) {
        Some(s) if !s.close_emitted && s.listener.is_none() => {
            s.close_emitted = true;
            true
        }
        _ => false,
    })
    .unwrap_or(false);
    if first {
        log::debug!("server {key}: close");
        conn::emit_server((key, gen), |l| &mut l.close, |f| f());
    }
}
