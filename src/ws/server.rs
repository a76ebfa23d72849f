//! `ws`'s `WebSocketServer`: the server side of the opening handshake.
//!
//! An upgrade request arrives through an HTTP server's `upgrade` event (the
//! server's own, one it was attached to, or the user's with `no_server`).
//! [`WebSocketServer::handle_upgrade`] checks it with the protocol core's
//! rules, negotiates the subprotocol and permessage-deflate, asks
//! `verify_client`, and either refuses with an HTTP status and a closed
//! socket, or answers 101 and hands the socket to a new [`WebSocket`].

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;

use slab::Slab;

use super::protocol::{self, Deflater, Inflater, PerMessageDeflate, Receiver, Role, Sender};
use super::websocket::WebSocket;
use crate::http::{self, IncomingMessage};
use crate::net::Socket;
use crate::runtime::listeners::{self, Listeners};
use crate::runtime::{self, LoopBound};
use crate::Error;

/// `ws`'s default `maxPayload`: 100 MiB.
const DEFAULT_MAX_PAYLOAD: usize = 100 * 1024 * 1024;

/// Chooses the subprotocol from the client's list (`ws`'s
/// `handleProtocols`); `None` answers without one.
pub type HandleProtocols = Rc<dyn Fn(&[&str], &IncomingMessage) -> Option<String>>;

/// Accepts or refuses a client before the handshake completes (`ws`'s
/// `verifyClient`): `Err((status, message))` answers with that status.
pub type VerifyClient = Rc<dyn Fn(&IncomingMessage) -> Result<(), (u16, String)>>;

/// Options of [`WebSocketServer::new`] (`ws`'s `new WebSocketServer(options)`).
/// Exactly one of `port`, `server` and `no_server` must be given.
///
/// ```
/// use nodelike::ws::{PerMessageDeflate, ServerOptions};
/// let options = ServerOptions {
///     port: Some(8080),
///     per_message_deflate: Some(PerMessageDeflate::default()),
///     ..Default::default()
/// };
/// assert_eq!(options.max_payload, 100 * 1024 * 1024);
/// assert!(options.client_tracking);
/// ```
#[derive(Clone)]
pub struct ServerOptions {
    /// Listen on this port, with an HTTP server of the WebSocket server's
    /// own (which answers plain requests with 426).
    pub port: Option<u16>,
    /// The host to listen on with `port` (default: every interface).
    pub host: Option<String>,
    /// Attach to this HTTP or HTTPS server: its `upgrade` requests are
    /// handled (those for another `path` are refused with 400).
    pub server: Option<http::Server>,
    /// Attach to nothing: call [`handle_upgrade`](WebSocketServer::handle_upgrade)
    /// from your own `upgrade` listener.
    pub no_server: bool,
    /// Accept only upgrades for this path (the URL without its query).
    pub path: Option<String>,
    /// The largest message accepted, in bytes (after decompression);
    /// larger ones fail the connection with 1009. Default 100 MiB, as
    /// `ws`.
    #[doc(alias = "maxPayload")]
    pub max_payload: usize,
    /// Offer permessage-deflate to clients that ask for it (default
    /// `None`: off, as `ws`).
    #[doc(alias = "perMessageDeflate")]
    pub per_message_deflate: Option<PerMessageDeflate>,
    /// Keep the open connections in [`clients`](WebSocketServer::clients)
    /// (default `true`).
    #[doc(alias = "clientTracking")]
    pub client_tracking: bool,
    /// Chooses the subprotocol; without it the client's first choice is
    /// taken.
    #[doc(alias = "handleProtocols")]
    pub handle_protocols: Option<HandleProtocols>,
    /// Accepts or refuses a client (with a status) before the handshake
    /// completes.
    #[doc(alias = "verifyClient")]
    pub verify_client: Option<VerifyClient>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            port: None,
            host: None,
            server: None,
            no_server: false,
            path: None,
            max_payload: DEFAULT_MAX_PAYLOAD,
            per_message_deflate: None,
            client_tracking: true,
            handle_protocols: None,
            verify_client: None,
        }
    }
}

impl std::fmt::Debug for ServerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerOptions")
            .field("port", &self.port)
            .field("host", &self.host)
            .field("server", &self.server)
            .field("no_server", &self.no_server)
            .field("path", &self.path)
            .field("max_payload", &self.max_payload)
            .field("per_message_deflate", &self.per_message_deflate)
            .field("client_tracking", &self.client_tracking)
            .field("handle_protocols", &self.handle_protocols.is_some())
            .field("verify_client", &self.verify_client.is_some())
            .finish()
    }
}

/// Where a server is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Life {
    /// Handling upgrades.
    Running,
    /// `close` was called: upgrades are refused with 503; `close` fires
    /// once the tracked clients have gone (or the own HTTP server closed).
    Closing,
    /// `close` fired.
    Closed,
}

/// A `connection` listener.
type ConnectionListener = dyn FnMut(WebSocket, &IncomingMessage);

#[derive(Default)]
struct ServerListeners {
    connection: Listeners<ConnectionListener>,
    listening: Listeners<dyn FnMut()>,
    error: Listeners<dyn FnMut(&Error)>,
    close: Listeners<dyn FnMut()>,
}

struct ServerRec {
    gen: u32,
    life: Life,
    options: ServerOptions,
    /// The HTTP server of `port` mode (closed with this one).
    own_http: Option<http::Server>,
    clients: Vec<WebSocket>,
    listeners: ServerListeners,
}

/// A server's key and generation, for a [`WebSocket`] to find the server
/// tracking it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ServerKey {
    key: usize,
    gen: u32,
}

thread_local! {
    static SERVERS: RefCell<Slab<ServerRec>> = const { RefCell::new(Slab::new()) };
}

fn with_servers<R>(f: impl FnOnce(&mut Slab<ServerRec>) -> R) -> Option<R> {
    SERVERS
        .try_with(|cell| {
            let mut servers = cell
                .try_borrow_mut()
                .expect("nodelike: WebSocket servers entered re-entrantly (a bug in nodelike)");
            f(&mut servers)
        })
        .ok()
}

/// `ws`'s `WebSocketServer`: accepts WebSocket connections, in one of
/// three modes (see [`ServerOptions`]). A `Copy` handle used on the loop's
/// thread.
///
/// ```no_run
/// use nodelike::{http, ws};
/// // Attached to an HTTP server that also serves pages.
/// let server = http::create_server(|_req, res| res.end("a page\n"));
/// let wss = ws::WebSocketServer::new(ws::ServerOptions {
///     server: Some(server),
///     path: Some("/chat".into()),
///     ..Default::default()
/// });
/// wss.on_connection(|ws, req| {
///     println!("{} joined", req.url());
///     ws.send("welcome");
/// });
/// server.listen(8080, "127.0.0.1", || {});
/// nodelike::run();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WebSocketServer {
    key: usize,
    gen: u32,
    _loop: LoopBound,
}

impl WebSocketServer {
    /// Makes a server (`ws`'s `new WebSocketServer(options)`). With
    /// `port`, it listens at once; `listening` (or `error`) follows.
    ///
    /// # Panics
    ///
    /// Unless exactly one of `port`, `server` and `no_server` is given
    /// (`ws` throws the same `TypeError`).
    ///
    /// ```no_run
    /// use nodelike::ws::{ServerOptions, WebSocketServer};
    /// let wss = WebSocketServer::new(ServerOptions { port: Some(8080), ..Default::default() });
    /// wss.on_listening(move || println!("on {:?}", wss.address()));
    /// nodelike::run();
    /// ```
    #[doc(alias = "WebSocketServer")]
    pub fn new(options: ServerOptions) -> WebSocketServer {
        let modes = [
            options.port.is_some(),
            options.server.is_some(),
            options.no_server,
        ];
        assert!(
            modes.iter().filter(|&&m| m).count() == 1,
            "One and only one of the \"port\", \"server\", or \"noServer\" options must be specified"
        );
        let gen = runtime::next_gen();
        let attach_to = options.server;
        let port = options.port;
        let host = options.host.clone();
        let key = with_servers(|servers| {
            servers.insert(ServerRec {
                gen,
                life: Life::Running,
                options,
                own_http: None,
                clients: Vec::new(),
                listeners: ServerListeners::default(),
            })
        })
        .unwrap_or(usize::MAX);
        let wss = WebSocketServer {
            key,
            gen,
            _loop: LoopBound::default(),
        };
        if let Some(port) = port {
            // `ws`'s own server answers anything but an upgrade with 426.
            let http = http::create_server(|_req, res| {
                let body = reason_phrase(426);
                res.write_head(
                    426,
                    &[
                        ("Content-Length", body.len().to_string().as_str()),
                        ("Content-Type", "text/plain"),
                    ],
                );
                res.end(body);
            });
            http.on_error(move |e| {
                if !wss.emit(|l| &mut l.error, |f| f(e)) {
                    e.report_unhandled("WebSocketServer", "ws::WebSocketServer::on_error");
                }
            });
            wss.attach(http);
            wss.with(|s| s.own_http = Some(http));
            let host = host.as_deref().unwrap_or("0.0.0.0").to_owned();
            http.listen(port, &host, move || {
                wss.emit(|l| &mut l.listening, |f| f());
            });
        } else if let Some(http) = attach_to {
            wss.attach(http);
        }
        wss
    }

    /// Handles the upgrades of `http` (ports and attached modes).
    fn attach(&self, http: http::Server) {
        let wss = *self;
        http.on_upgrade(move |req, socket, head| {
            wss.handle_upgrade(req, socket, head, move |ws, req| {
                wss.emit(|l| &mut l.connection, |f| f(ws, req));
            });
        });
    }

    fn with<R>(&self, f: impl FnOnce(&mut ServerRec) -> R) -> Option<R> {
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
        listeners::emit(
            |f| self.with(|s| f(field(&mut s.listeners))).is_some(),
            call,
        )
    }

    /// Adds a `connection` listener: `(ws, request)` for every completed
    /// handshake (in `port` and `server` modes).
    ///
    /// Read what you need of the request here (its URL, headers, address):
    /// unlike `ws`'s `req`, its record is freed once the `upgrade` event is
    /// over, so an idle connection holds none of it, and a copy of the
    /// handle kept for later reads as empty.
    ///
    /// ```no_run
    /// # fn f(wss: nodelike::ws::WebSocketServer) {
    /// wss.on_connection(|ws, req| {
    ///     println!("from {:?}", req.headers().get("origin"));
    ///     ws.send("hello");
    /// });
    /// # }
    /// ```
    #[doc(alias = "connection")]
    pub fn on_connection(&self, f: impl FnMut(WebSocket, &IncomingMessage) + 'static) -> &Self {
        self.with(|s| s.listeners.connection.push(Box::new(f)));
        self
    }

    /// Adds a `listening` listener (`port` mode).
    ///
    /// ```no_run
    /// # fn f(wss: nodelike::ws::WebSocketServer) {
    /// wss.on_listening(|| println!("ready"));
    /// # }
    /// ```
    #[doc(alias = "listening")]
    pub fn on_listening(&self, f: impl FnMut() + 'static) -> &Self {
        self.with(|s| s.listeners.listening.push(Box::new(f)));
        self
    }

    /// Adds an `error` listener: the own HTTP server's errors (`port`
    /// mode), such as a port in use.
    ///
    /// ```no_run
    /// # fn f(wss: nodelike::ws::WebSocketServer) {
    /// wss.on_error(|e| eprintln!("{e}"));
    /// # }
    /// ```
    #[doc(alias = "error")]
    pub fn on_error(&self, f: impl FnMut(&Error) + 'static) -> &Self {
        self.with(|s| s.listeners.error.push(Box::new(f)));
        self
    }

    /// Adds a `close` listener: the server has closed (see
    /// [`close`](Self::close)).
    ///
    /// ```no_run
    /// # fn f(wss: nodelike::ws::WebSocketServer) {
    /// wss.on_close(|| println!("closed"));
    /// # }
    /// ```
    #[doc(alias = "close")]
    pub fn on_close(&self, f: impl FnMut() + 'static) -> &Self {
        self.with(|s| s.listeners.close.push(Box::new(f)));
        self
    }

    /// The address the own HTTP server listens on (`port` mode; `None`
    /// otherwise or before it listens).
    ///
    /// ```no_run
    /// # fn f(wss: nodelike::ws::WebSocketServer) {
    /// println!("{:?}", wss.address());
    /// # }
    /// ```
    pub fn address(&self) -> Option<SocketAddr> {
        self.with(|s| s.own_http)
            .flatten()
            .and_then(|h| h.address())
    }

    /// The open connections (`ws`'s `clients` set; empty without
    /// `client_tracking`).
    ///
    /// ```no_run
    /// # fn f(wss: nodelike::ws::WebSocketServer) {
    /// for client in wss.clients() {
    ///     client.send("to everyone");
    /// }
    /// # }
    /// ```
    pub fn clients(&self) -> Vec<WebSocket> {
        self.with(|s| s.clients.clone()).unwrap_or_default()
    }

    /// Whether an upgrade request is for this server (`ws`'s
    /// `shouldHandle`): its path matches `path`, when one was given.
    ///
    /// ```no_run
    /// # fn f(wss: nodelike::ws::WebSocketServer, req: nodelike::http::IncomingMessage) {
    /// if wss.should_handle(&req) { /* handle_upgrade */ }
    /// # }
    /// ```
    #[doc(alias = "shouldHandle")]
    pub fn should_handle(&self, req: &IncomingMessage) -> bool {
        let Some(path) = self.with(|s| s.options.path.clone()) else {
            return false;
        };
        match path {
            None => true,
            Some(path) => {
                let url = req.url();
                let pathname = url.split('?').next().unwrap_or_default();
                pathname == path
            }
        }
    }

    /// Completes (or refuses) the opening handshake of an upgrade request
    /// (`ws`'s `handleUpgrade`), then calls `callback` with the new
    /// connection. A bad request gets its HTTP status (400, 405, or 426
    /// with `Sec-WebSocket-Version: 13`) and a closed socket; so does a
    /// client `verify_client` refuses. The request stays readable until
    /// your `upgrade` listener returns (or, called later, until `callback`
    /// returns); then its record is freed.
    ///
    /// ```no_run
    /// use nodelike::{http, ws};
    /// let wss = ws::WebSocketServer::new(ws::ServerOptions { no_server: true, ..Default::default() });
    /// let server = http::create_server(|_req, res| res.end("hi\n"));
    /// server.on_upgrade(move |req, socket, head| {
    ///     if req.url() == "/ws" {
    ///         wss.handle_upgrade(req, socket, head, |ws, _req| { ws.send("hello"); });
    ///     } else {
    ///         socket.destroy();
    ///     }
    /// });
    /// server.listen(8080, "127.0.0.1", || {});
    /// nodelike::run();
    /// ```
    #[doc(alias = "handleUpgrade")]
    pub fn handle_upgrade(
        &self,
        req: IncomingMessage,
        socket: Socket,
        head: &[u8],
        callback: impl FnOnce(WebSocket, &IncomingMessage) + 'static,
    ) {
        let Some((life, options)) = self.with(|s| (s.life, s.options.clone())) else {
            return refuse(socket, 503, None, &[]);
        };
        if life != Life::Running {
            return refuse(socket, 503, None, &[]);
        }
        if !self.should_handle(&req) {
            return refuse(socket, 400, None, &[]);
        }
        let headers = req.headers();
        let method = req.method();
        let request = match protocol::check_upgrade_request(&method, &|name| headers.get(name)) {
            Ok(request) => request,
            Err(refusal) => {
                return refuse(
                    socket,
                    refusal.status,
                    Some(refusal.message),
                    refusal.headers,
                )
            }
        };
        let mut deflate = None;
        if let (Some(opts), Some(offers)) = (&options.per_message_deflate, request.extensions) {
            match protocol::negotiate_server(offers, opts) {
                Ok(accepted) => deflate = accepted,
                Err(()) => {
                    return refuse(
                        socket,
                        400,
                        Some("Invalid or unacceptable Sec-WebSocket-Extensions header"),
                        &[],
                    )
                }
            }
        }
        let protocol = match (&options.handle_protocols, request.protocols.first()) {
            (_, None) => None,
            (Some(choose), Some(_)) => choose(&request.protocols, &req),
            (None, Some(first)) => Some((*first).to_owned()),
        };
        if let Some(verify) = &options.verify_client {
            if let Err((status, message)) = verify(&req) {
                return refuse_with_text(socket, status, &message);
            }
        }
        if !socket.is_open() {
            socket.destroy();
            return;
        }
        let mut head_out = String::with_capacity(160);
        head_out.push_str("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ");
        head_out.push_str(&protocol::accept_key(request.key));
        head_out.push_str("\r\n");
        if let Some(p) = &protocol {
            head_out.push_str("Sec-WebSocket-Protocol: ");
            head_out.push_str(p);
            head_out.push_str("\r\n");
        }
        let mut extensions = String::new();
        if let Some((_, value)) = &deflate {
            head_out.push_str("Sec-WebSocket-Extensions: ");
            head_out.push_str(value);
            head_out.push_str("\r\n");
            extensions.push_str(value);
        }
        head_out.push_str("\r\n");
        socket.write(head_out);

        let params = deflate.map(|(params, _)| params);
        let level_and_threshold = options
            .per_message_deflate
            .as_ref()
            .map(|o| (o.level, o.threshold, o.server_max_window_bits));
        let receiver = Receiver::new(
            Role::Server,
            options.max_payload,
            params.as_ref().map(|p| Inflater::new(p, Role::Server)),
        );
        let sender = Sender::new(
            Role::Server,
            params
                .as_ref()
                .zip(level_and_threshold)
                .map(|(p, (level, threshold, bits))| {
                    Deflater::new(p, Role::Server, level, threshold).configured(
                        p,
                        Role::Server,
                        bits,
                    )
                }),
        );
        let ws = WebSocket::create(String::new());
        ws.open(
            socket,
            head,
            receiver,
            sender,
            protocol.unwrap_or_default(),
            extensions,
        );
        if options.client_tracking {
            self.with(|s| s.clients.push(ws));
            ws.set_tracked_by(ServerKey {
                key: self.key,
                gen: self.gen,
            });
        }
        callback(ws, &req);
        // The connection needs nothing more of the request: HTTP frees its
        // record once the `upgrade` listeners return (about 1 KiB an idle
        // connection would otherwise hold). `req` reads as empty after.
        http::release_upgraded(req);
    }

    /// Stops accepting (`ws`'s `close()`): upgrades are refused with 503
    /// from now on, the own HTTP server (`port` mode) closes, and `close`
    /// fires once the tracked connections have closed. Open connections
    /// are not closed: close or terminate them yourself, as with `ws` 8.
    ///
    /// ```no_run
    /// # fn f(wss: nodelike::ws::WebSocketServer) {
    /// for client in wss.clients() { client.close(Some(1001), "going away"); }
    /// wss.close();
    /// # }
    /// ```
    pub fn close(&self) {
        let Some((life, own, clients)) = self.with(|s| (s.life, s.own_http, s.clients.len()))
        else {
            return;
        };
        match life {
            Life::Closed => {
                let wss = *self;
                crate::next_tick(move || {
                    wss.emit(|l| &mut l.close, |f| f());
                });
                return;
            }
            Life::Closing => return,
            Life::Running => {}
        }
        self.with(|s| s.life = Life::Closing);
        let wss = *self;
        match own {
            Some(http) => http.close_with(move |_| wss.closed()),
            None if clients == 0 => crate::next_tick(move || wss.closed()),
            // The last tracked client to go emits `close`.
            None => {}
        }
    }

    /// `close` fires (once).
    fn closed(&self) {
        let first = self
            .with(|s| std::mem::replace(&mut s.life, Life::Closed) != Life::Closed)
            .unwrap_or(false);
        if first {
            self.emit(|l| &mut l.close, |f| f());
        }
    }
}

/// A tracked connection closed: it leaves `clients`, and a closing server
/// without its own HTTP server emits `close` once the last has gone.
pub(super) fn forget(server: ServerKey, ws: WebSocket) {
    let wss = WebSocketServer {
        key: server.key,
        gen: server.gen,
        _loop: LoopBound::default(),
    };
    let last = wss
        .with(|s| {
            s.clients.retain(|c| *c != ws);
            s.clients.is_empty() && s.life == Life::Closing && s.own_http.is_none()
        })
        .unwrap_or(false);
    if last {
        crate::next_tick(move || wss.closed());
    }
}

/// Refuses a handshake with `status` (`ws`'s `abortHandshake`): a short
/// HTML answer, then the socket closes once it has gone.
fn refuse(socket: Socket, status: u16, message: Option<&str>, headers: &[(&str, &str)]) {
    let reason = reason_phrase(status);
    let body = message.unwrap_or(reason);
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: text/html\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.push_str(body);
    log::debug!("websocket handshake refused: {status} {body}");
    socket.write(out);
    socket.destroy_soon();
}

fn refuse_with_text(socket: Socket, status: u16, message: &str) {
    let message = if message.is_empty() {
        None
    } else {
        Some(message)
    };
    refuse(socket, status, message, &[]);
}

fn reason_phrase(status: u16) -> &'static str {
    http::STATUS_CODES
        .iter()
        .find(|(code, _)| *code == status)
        .map_or("Unknown", |(_, text)| text)
}
