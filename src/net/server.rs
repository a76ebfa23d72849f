//! Node's `net.Server`: a listener whose connections are plain sockets.
//!
//! The record (`NetServerRec`) lives in a thread-local table of its own
//! (the `net` layer's servers, beside its sockets and listeners), reached
//! through [`with_servers`] the same way: borrowed only to read or change
//! fields, never while a listener runs. Each accepted socket carries one
//! internal `close` listener that counts it out of its server, which is how
//! a closing server knows when its last connection has gone.

use std::cell::RefCell;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;

use slab::Slab;

use super::listener::{self, Acceptor, ListenerId};
use super::socket::{self, Open, Socket};
use super::transport::{Accepted, Listener};
use super::RAW;
use crate::runtime::listeners::Listeners;
use crate::runtime::{self, LoopBound};
use crate::{Error, ErrorKind};

/// Options of [`create_server_with`] (Node's `net.createServer(options)`).
///
/// ```
/// let options = nodelike::net::NetServerOptions { allow_half_open: true, ..Default::default() };
/// assert!(!options.pause_on_connect);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NetServerOptions {
    /// Accepted sockets keep their side open after the peer's FIN until
    /// `end` is called (default `false`: the peer's end ends ours).
    pub allow_half_open: bool,
    /// Accepted sockets start paused: no `data` until `resume` (default
    /// `false`).
    pub pause_on_connect: bool,
}

/// Where a server is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Life {
    /// Made, not listening.
    Idle,
    /// Accepting connections.
    Listening,
    /// `close` was called: no more accepting; `close` fires once the last
    /// connection is gone.
    Closing,
    /// `close` fired (the server may listen again).
    Closed,
}

#[derive(Default)]
struct ServerListeners {
    listening: Listeners<dyn FnMut()>,
    connection: Listeners<dyn FnMut(Socket)>,
    close: Listeners<dyn FnMut()>,
    error: Listeners<dyn FnMut(&Error)>,
}

struct NetServerRec {
    gen: u32,
    life: Life,
    listener: Option<ListenerId>,
    options: NetServerOptions,
    /// Open connections accepted by this server.
    connections: usize,
    max_connections: Option<usize>,
    listeners: ServerListeners,
}

thread_local! {
    static SERVERS: RefCell<Slab<NetServerRec>> = const { RefCell::new(Slab::new()) };
}

/// Runs `f` with this thread's `net` servers borrowed (`None` while the
/// thread-local is being destroyed). `f` calls down only, never user code.
fn with_servers<R>(f: impl FnOnce(&mut Slab<NetServerRec>) -> R) -> Option<R> {
    SERVERS
        .try_with(|cell| {
            let mut servers = cell
                .try_borrow_mut()
                .expect("nodelike: net servers entered re-entrantly (a bug in nodelike)");
            f(&mut servers)
        })
        .ok()
}

/// Node's `net.createServer(connectionListener)`: a server whose
/// connections are plain [`Socket`]s, each handed to `on_connection`.
///
/// ```no_run
/// use nodelike::net;
/// use nodelike::stream::Readable;
/// // An echo server.
/// let server = net::create_server(|socket| {
///     socket.pipe(socket);
/// });
/// server.listen(7000, "127.0.0.1", || println!("listening"));
/// nodelike::run();
/// ```
#[doc(alias = "createServer")]
pub fn create_server(on_connection: impl FnMut(Socket) + 'static) -> Server {
    create_server_with(NetServerOptions::default(), on_connection)
}

/// [`create_server`] with options (Node's
/// `net.createServer(options, connectionListener)`).
///
/// ```no_run
/// use nodelike::net::{self, NetServerOptions};
/// let server = net::create_server_with(NetServerOptions { allow_half_open: true, ..Default::default() }, |socket| {
///     socket.on_end(move || socket.end("the answer, after your FIN\n"));
/// });
/// server.listen(7000, "127.0.0.1", || {});
/// nodelike::run();
/// ```
#[doc(alias = "createServer")]
pub fn create_server_with(
    options: NetServerOptions,
    on_connection: impl FnMut(Socket) + 'static,
) -> Server {
    let gen = runtime::next_gen();
    let key = with_servers(|servers| {
        let mut listeners = ServerListeners::default();
        listeners.connection.push(Box::new(on_connection));
        servers.insert(NetServerRec {
            gen,
            life: Life::Idle,
            listener: None,
            options,
            connections: 0,
            max_connections: None,
            listeners,
        })
    })
    .unwrap_or(usize::MAX);
    Server {
        key,
        gen,
        _loop: LoopBound::default(),
    }
}

/// Node's `net.Server`, made by [`create_server`]. A `Copy` handle that
/// belongs to its loop's thread.
///
/// ```compile_fail
/// fn on_another_thread(server: nodelike::net::Server) {
///     std::thread::spawn(move || server.close());
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Server {
    key: usize,
    gen: u32,
    _loop: LoopBound,
}

impl Server {
    fn ctx(self) -> u64 {
        self.key as u64 | (u64::from(self.gen) << 32)
    }

    fn from_ctx(ctx: u64) -> Server {
        Server {
            key: (ctx & 0xffff_ffff) as usize,
            gen: (ctx >> 32) as u32,
            _loop: LoopBound::default(),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut NetServerRec) -> R) -> Option<R> {
        with_servers(|servers| {
            servers
                .get_mut(self.key)
                .filter(|s| s.gen == self.gen)
                .map(f)
        })
        .flatten()
    }

    fn emit<F: ?Sized + 'static>(
        &self,
        field: fn(&mut ServerListeners) -> &mut Listeners<F>,
        call: impl FnMut(&mut F),
    ) -> bool {
        runtime::listeners::emit(
            |f| self.with(|s| f(field(&mut s.listeners))).is_some(),
            call,
        )
    }

    /// Listens on `host:port` (`port` 0 picks a free one: see
    /// [`address`](Server::address)); `listening`, then `callback`, run on
    /// the next loop turn. A failure goes to `error` instead, worded as
    /// Node words it: `listen EADDRINUSE: address already in use
    /// 127.0.0.1:7000`.
    ///
    /// ```
    /// let server = nodelike::net::create_server(|socket| socket.end(()));
    /// server.listen(0, "127.0.0.1", move || {
    ///     assert!(server.address().unwrap().port() > 0);
    ///     server.close();
    /// });
    /// nodelike::run();
    /// ```
    ///
    /// # Panics
    ///
    /// With no [`on_error`](Server::on_error) listener a listen failure
    /// panics out of [`run`](crate::run) with Node's uncaught-error text,
    /// as Node's unhandled `error` event ends the process (the HTTP
    /// server's rule).
    pub fn listen(&self, port: u16, host: &str, callback: impl FnOnce() + 'static) -> &Server {
        let host = if host.is_empty() { "0.0.0.0" } else { host };
        let addr = (host, port).to_socket_addrs().map(|mut a| a.next());
        let not_found = || Error::new(ErrorKind::Dns, format!("getaddrinfo ENOTFOUND {host}"));
        match addr {
            Ok(Some(addr)) => {
                let bind = super::BindOptions {
                    reuse_port: super::ports_shared_by_default(),
                    ..Default::default()
                };
                self.listen_on(
                    || super::bind_tcp(addr, bind),
                    super::connect::host_port(addr),
                    callback,
                );
            }
            Ok(None) => self.fail(not_found()),
            Err(e) => self.fail(not_found().with_source(e)),
        }
        self
    }

    /// Listens on a unix-domain socket at `path` (Node's
    /// `server.listen(path)`); the file is removed when the server closes.
    ///
    /// ```no_run
    /// let server = nodelike::net::create_server(|socket| socket.end("hi\n"));
    /// server.listen_path("/tmp/hi.sock", || println!("listening"));
    /// nodelike::run();
    /// ```
    pub fn listen_path(
        &self,
        path: impl AsRef<Path>,
        callback: impl FnOnce() + 'static,
    ) -> &Server {
        let path = path.as_ref().to_path_buf();
        let name = path.display().to_string();
        self.listen_on(
            || mio::net::UnixListener::bind(&path).map(|l| Listener::Unix(l, path.clone())),
            name,
            callback,
        );
        self
    }

    fn listen_on(
        &self,
        bind: impl FnOnce() -> std::io::Result<Listener>,
        name: String,
        callback: impl FnOnce() + 'static,
    ) {
        if self.with(|_| ()).is_none() {
            return;
        }
        let listener = match bind().and_then(|l| listener::listen(l, &ACCEPTOR, self.ctx())) {
            Ok(id) => id,
            Err(e) => return self.fail(Error::syscall("listen", e, &name)),
        };
        let old = self
            .with(|s| {
                s.life = Life::Listening;
                s.listener.replace(listener)
            })
            .flatten();
        if let Some(old) = old {
            listener::close_listener(old);
        }
        let server = *self;
        crate::next_tick(move || {
            server.emit(|l| &mut l.listening, |f| f());
            callback();
        });
    }

    /// Emits `e` as `error` on the next turn; nobody listening, it panics
    /// with Node's uncaught-error text (contained by the loop and resumed
    /// out of `run`), as the HTTP server does.
    fn fail(&self, e: Error) {
        let server = *self;
        crate::next_tick(move || {
            if !server.emit(|l| &mut l.error, |f| f(&e)) {
                panic!("{}", e.unhandled_report("Server", "net::Server::on_error"));
            }
        });
    }

    /// The address the server listens on (`None` before `listen`, for unix
    /// sockets, or after `close`).
    ///
    /// ```
    /// let server = nodelike::net::create_server(|_| {});
    /// assert_eq!(server.address(), None);
    /// ```
    pub fn address(&self) -> Option<SocketAddr> {
        self.with(|s| s.listener)
            .flatten()
            .and_then(listener::listener_address)
    }

    /// Whether the server is accepting connections (Node's `listening`).
    ///
    /// ```
    /// assert!(!nodelike::net::create_server(|_| {}).listening());
    /// ```
    pub fn listening(&self) -> bool {
        self.with(|s| s.life == Life::Listening).unwrap_or(false)
    }

    /// Stops accepting; `close` fires once every connection accepted so far
    /// has closed (Node's `server.close()`: open connections are left to
    /// end on their own).
    ///
    /// ```
    /// let server = nodelike::net::create_server(|_| {});
    /// server.listen(0, "127.0.0.1", move || server.close());
    /// nodelike::run();
    /// ```
    pub fn close(&self) {
        let listener = self
            .with(|s| {
                // Node emits `close` for a server that never listened too.
                if matches!(s.life, Life::Idle | Life::Listening) {
                    s.life = Life::Closing;
                }
                s.listener.take()
            })
            .flatten();
        if let Some(id) = listener {
            listener::close_listener(id);
        }
        self.close_if_done();
    }

    /// [`close`](Self::close), then `callback` once, when `close` fires.
    /// As in Node, it gets `ERR_SERVER_NOT_RUNNING` when the server was
    /// not listening.
    ///
    /// ```
    /// let server = nodelike::net::create_server(|_| {});
    /// server.close_with(|err| assert_eq!(err.unwrap().code(), "ERR_SERVER_NOT_RUNNING"));
    /// nodelike::run();
    /// ```
    #[doc(alias = "close")]
    pub fn close_with(&self, callback: impl FnOnce(Option<&Error>) + 'static) {
        let running = self.with(|s| s.life == Life::Listening).unwrap_or(false);
        if !running {
            let e = Error::new(ErrorKind::ServerNotRunning, "Server is not running.");
            crate::next_tick(move || callback(Some(&e)));
            return;
        }
        let mut callback = Some(callback);
        self.on_close(move || {
            if let Some(f) = callback.take() {
                f(None);
            }
        });
        self.close();
    }

    /// Closing and no connection left: `close` on the next turn.
    fn close_if_done(&self) {
        let done = self
            .with(|s| {
                let done = s.life == Life::Closing && s.connections == 0;
                if done {
                    s.life = Life::Closed;
                }
                done
            })
            .unwrap_or(false);
        if done {
            let server = *self;
            crate::next_tick(move || {
                log::debug!("net server {}: close", server.key);
                server.emit(|l| &mut l.close, |f| f());
            });
        }
    }

    /// Open connections right now (Node's `server.getConnections()`,
    /// answered at once).
    ///
    /// ```
    /// assert_eq!(nodelike::net::create_server(|_| {}).connections(), 0);
    /// ```
    #[doc(alias = "getConnections")]
    pub fn connections(&self) -> usize {
        self.with(|s| s.connections).unwrap_or(0)
    }

    /// Refuses connections beyond `max` (Node's `server.maxConnections`):
    /// a connection over the cap is closed as soon as it is accepted.
    ///
    /// ```
    /// let server = nodelike::net::create_server(|_| {});
    /// server.set_max_connections(Some(100));
    /// assert_eq!(server.max_connections(), Some(100));
    /// ```
    #[doc(alias = "maxConnections")]
    pub fn set_max_connections(&self, max: Option<usize>) {
        self.with(|s| s.max_connections = max);
    }

    /// The cap set by [`set_max_connections`](Self::set_max_connections).
    ///
    /// ```
    /// assert_eq!(nodelike::net::create_server(|_| {}).max_connections(), None);
    /// ```
    pub fn max_connections(&self) -> Option<usize> {
        self.with(|s| s.max_connections).flatten()
    }

    /// Adds a `listening` listener.
    ///
    /// ```
    /// let server = nodelike::net::create_server(|_| {});
    /// server.on_listening(move || server.close());
    /// server.listen(0, "127.0.0.1", || {});
    /// nodelike::run();
    /// ```
    #[doc(alias = "listening")]
    pub fn on_listening(&self, f: impl FnMut() + 'static) -> &Server {
        self.with(|s| s.listeners.listening.push(Box::new(f)));
        self
    }

    /// Adds a `connection` listener (beside the one given to
    /// [`create_server`]).
    ///
    /// ```no_run
    /// let server = nodelike::net::create_server(|_| {});
    /// server.on_connection(|socket| println!("from {:?}", socket.remote_address()));
    /// ```
    #[doc(alias = "connection")]
    pub fn on_connection(&self, f: impl FnMut(Socket) + 'static) -> &Server {
        self.with(|s| s.listeners.connection.push(Box::new(f)));
        self
    }

    /// Adds a `close` listener: the server closed and its last connection
    /// is gone.
    ///
    /// ```
    /// let server = nodelike::net::create_server(|_| {});
    /// server.on_close(|| println!("closed"));
    /// server.listen(0, "127.0.0.1", move || server.close());
    /// nodelike::run();
    /// ```
    #[doc(alias = "close")]
    pub fn on_close(&self, f: impl FnMut() + 'static) -> &Server {
        self.with(|s| s.listeners.close.push(Box::new(f)));
        self
    }

    /// Adds an `error` listener: listening failed (`listen EADDRINUSE:
    /// address already in use 127.0.0.1:7000`).
    ///
    /// ```
    /// let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let port = holder.local_addr().unwrap().port();
    /// let server = nodelike::net::create_server(|_| {});
    /// server.on_error(move |e| {
    ///     assert_eq!(e.to_string(), format!("listen EADDRINUSE: address already in use 127.0.0.1:{port}"));
    /// });
    /// server.listen(port, "127.0.0.1", || unreachable!());
    /// nodelike::run();
    /// ```
    #[doc(alias = "error")]
    pub fn on_error(&self, f: impl FnMut(&Error) + 'static) -> &Server {
        self.with(|s| s.listeners.error.push(Box::new(f)));
        self
    }

    /// A connection was accepted: open its socket (unless over the cap),
    /// count it, and emit `connection`.
    fn accept(&self, stream: Accepted, addr: Option<SocketAddr>) {
        let admitted = self
            .with(|s| {
                let over = s.max_connections.is_some_and(|max| s.connections >= max);
                (!over && s.life == Life::Listening).then_some(s.options)
            })
            .flatten();
        let Some(options) = admitted else {
            log::debug!("net server {}: over maxConnections; refused", self.key);
            return; // dropping the stream closes it
        };
        let opened = socket::open(
            stream.into_transport(),
            addr,
            Open {
                protocol: &RAW,
                idle_timeout: None,
                connecting: false,
                unref: false,
            },
        );
        let id = match opened {
            Ok(id) => id,
            Err(e) => {
                log::warn!("net server {}: cannot register a connection: {e}", self.key);
                return;
            }
        };
        socket::set_half_open(id, options.allow_half_open);
        if options.pause_on_connect {
            socket::start_paused(id);
        }
        self.with(|s| s.connections += 1);
        let socket = Socket::from_id(id);
        let server = *self;
        // First of its `close` listeners: the count is right by the time
        // the user's run, and a closing server's `close` follows them.
        socket.on_close(move |_| {
            server.with(|s| s.connections = s.connections.saturating_sub(1));
            server.close_if_done();
        });
        self.emit(|l| &mut l.connection, |f| f(socket));
    }
}

/// How a `net` server's listener hands it connections.
static ACCEPTOR: Acceptor = Acceptor {
    accept: |owner, stream, addr| Server::from_ctx(owner).accept(stream, addr),
};
