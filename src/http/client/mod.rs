//! Node's HTTP client: `http::request`, `http::get`, `ClientRequest`,
//! `ClientResponse`, and the pooling `Agent`.
//!
//! It shares the protocol core with the server: requests are framed with
//! `h1::encode`, responses parsed with `h1::parse_response_head` and decoded
//! with the same `h1::Decoder`.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use crate::chunk::{Chunk, IntoChunk};
use crate::encoding::{Encoding, StringDecoder};
use crate::http::h1::{self, encode, Decoded, Decoder, Headers, Limits, ParsedResponse};
use crate::http::keep_alive::{AfterMessage, KeepAlive};
use crate::http::{BodyError, Framing};
use crate::net::{self, Cause, PerSocket, SockId, Socket, Transport, HIGH_WATER_MARK};
use crate::runtime::arena::{Arena, Id};
use crate::runtime::listeners::Listeners;
use crate::runtime::{self, LoopBound};
use crate::{Error, ErrorKind};

/// The client side's state on one thread: requests in flight, the protocol
/// state of client sockets, and the agents.
struct ClientState {
    clients: Arena<ClientExchange>,
    conns: PerSocket<ClientConn>,
    agents: Vec<AgentRec>,
}

thread_local! {
    static STATE: RefCell<ClientState> = RefCell::new(ClientState {
        clients: Arena::new(),
        conns: PerSocket::default(),
        agents: Vec::new(),
    });
}

/// Runs `f` with the client side's state borrowed (`None` while the
/// thread-local is being destroyed). `f` may call down into `net` and the
/// runtime, never user code.
fn with_state<R>(f: impl FnOnce(&mut ClientState) -> R) -> Option<R> {
    STATE
        .try_with(|cell| {
            let mut st = cell.try_borrow_mut().expect(
                "nodelike: the HTTP client state was entered re-entrantly (a bug in nodelike)",
            );
            f(&mut st)
        })
        .ok()
}

/// The HTTP/1.1 client protocol, as `net` calls it.
static PROTOCOL: net::Protocol = net::Protocol {
    name: "http-client",
    input: process_input,
    eof: on_eof,
    flushed: |_| {},
    drain: emit_request_drain,
    connected: on_connected,
    closed: on_socket_closed,
    failed: on_failed,
    secured: |_| {},
    // Idle too long: the request fails with a timeout (the socket is
    // destroyed, which fails it).
    timeout: |_| false,
};

/// How long an idle pooled socket is kept for reuse.
pub const AGENT_IDLE_TIMEOUT_MS: u64 = 5_000;

/// Where and what to request (Node's `http.request` options).
///
/// ```
/// let opts = nodelike::http::RequestOptions {
///     host: "127.0.0.1".into(),
///     port: 8000,
///     method: "POST".into(),
///     path: "/upload?x=1".into(),
///     ..Default::default()
/// };
/// assert_eq!(opts.headers.len(), 0);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestOptions {
    /// Host name or IP address (default `localhost`).
    pub host: String,
    /// Port (default 80).
    pub port: u16,
    /// Any method token (default `GET`).
    pub method: String,
    /// Path with query (default `/`).
    pub path: String,
    /// Request headers, in order.
    pub headers: Vec<(String, String)>,
    /// Connect to this unix-domain socket instead of `host:port`.
    pub socket_path: Option<PathBuf>,
    /// Use the pooling agent for `host:port` (default); `false` opens a
    /// connection of its own, closed after the response.
    pub agent: bool,
    /// Speak TLS (HTTPS) with these options; `None` is plain HTTP. An
    /// `https://` URL and [`https::request`](crate::https::request) set it.
    #[cfg(feature = "tls")]
    pub tls: Option<crate::http::https::ClientTlsOptions>,
}

impl Default for RequestOptions {
    fn default() -> Self {
        RequestOptions {
            host: "localhost".into(),
            port: 80,
            method: "GET".into(),
            path: "/".into(),
            headers: Vec::new(),
            socket_path: None,
            agent: true,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

/// What [`request`] and [`get`] accept: [`RequestOptions`], or a URL string
/// (`http://host:port/path?query`).
///
/// ```
/// use nodelike::http::IntoRequestOptions;
/// let o = "http://127.0.0.1:8080/a?b=c".into_request_options().unwrap();
/// assert_eq!((o.host.as_str(), o.port, o.path.as_str()), ("127.0.0.1", 8080, "/a?b=c"));
/// ```
pub trait IntoRequestOptions {
    /// The options, or why the value is not a usable request target.
    fn into_request_options(self) -> Result<RequestOptions, Error>;
}

impl IntoRequestOptions for RequestOptions {
    fn into_request_options(self) -> Result<RequestOptions, Error> {
        Ok(self)
    }
}

/// Options already checked (or the reason they are not usable, which the
/// request then reports as its `error`).
impl IntoRequestOptions for Result<RequestOptions, Error> {
    fn into_request_options(self) -> Result<RequestOptions, Error> {
        self
    }
}

impl IntoRequestOptions for &str {
    fn into_request_options(self) -> Result<RequestOptions, Error> {
        let u = crate::url::parse(self, false);
        let secure = match u.protocol.as_deref() {
            Some("http:") => false,
            #[cfg(feature = "tls")]
            Some("https:") => true,
            _ => {
                return Err(Error::new(
                    ErrorKind::InvalidHeader,
                    format!("Protocol not supported in {self:?}: use http://"),
                ))
            }
        };
        let host = u
            .hostname
            .clone()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidHeader,
                    format!("Invalid URL (no host): {self:?}"),
                )
            })?;
        let port = match u.port.as_deref() {
            None if secure => 443,
            None => 80,
            Some(p) => p.parse().map_err(|_| {
                Error::new(
                    ErrorKind::InvalidHeader,
                    format!("Invalid port in {self:?}"),
                )
            })?,
        };
        Ok(RequestOptions {
            host,
            port,
            path: u.path.unwrap_or_else(|| "/".into()),
            #[cfg(feature = "tls")]
            tls: secure.then(Default::default),
            ..Default::default()
        })
    }
}

impl IntoRequestOptions for String {
    fn into_request_options(self) -> Result<RequestOptions, Error> {
        self.as_str().into_request_options()
    }
}

impl IntoRequestOptions for &String {
    fn into_request_options(self) -> Result<RequestOptions, Error> {
        self.as_str().into_request_options()
    }
}

type ClientId = Id;

type UpgradeListener = dyn FnMut(ClientResponse, Socket, &[u8]);

#[derive(Default)]
struct ClientListeners {
    response: Listeners<dyn FnMut(ClientResponse)>,
    error: Listeners<dyn FnMut(&Error)>,
    drain: Listeners<dyn FnMut()>,
    continue_: Listeners<dyn FnMut()>,
    upgrade: Listeners<UpgradeListener>,
    data: Listeners<dyn FnMut(Chunk<'_>)>,
    end: Listeners<dyn FnMut()>,
    res_close: Listeners<dyn FnMut()>,
}

impl ClientListeners {
    fn is_empty(&self) -> bool {
        self.response.is_empty()
            && self.error.is_empty()
            && self.drain.is_empty()
            && self.continue_.is_empty()
            && self.upgrade.is_empty()
            && self.data.is_empty()
            && self.end.is_empty()
            && self.res_close.is_empty()
    }
}

/// The record behind a `ClientRequest` and its `ClientResponse`.
#[derive(Default)]
struct ClientExchange {
    options: Option<RequestOptions>,
    socket: Option<SockId>,
    agent: Option<usize>,
    /// Queued in the agent, waiting for a socket.
    queued: bool,
    set_headers: Vec<(String, Vec<String>)>,
    head_sent: bool,
    framing: Framing,
    /// `end` was called.
    ended: bool,
    /// Bytes not yet handed to a socket (before it connected).
    out: Vec<u8>,
    need_drain: bool,
    /// Response head bytes and their parse.
    res_head: Vec<u8>,
    parsed: ParsedResponse,
    res_started: bool,
    res_complete: bool,
    trailers: Option<Headers>,
    decoder: Option<StringDecoder>,
    /// Over: response complete, failed or aborted. No more events.
    done: bool,
    /// Idle timeout while this request owns its socket (`set_timeout`).
    timeout: Option<Duration>,
    listeners: ClientListeners,
}

impl ClientExchange {
    fn is_head(&self) -> bool {
        self.options
            .as_ref()
            .is_some_and(|o| o.method.eq_ignore_ascii_case("HEAD"))
    }
}

/// What the client side of a socket is doing.
struct ClientConn {
    agent: Option<usize>,
    ex: Option<ClientId>,
    reading: ClientReading,
    /// Whether the socket may carry another request (the policy shared
    /// with the server, in `http/keep_alive.rs`).
    keep_alive: KeepAlive,
}

enum ClientReading {
    Head,
    Body(Decoder),
}

/// A connection pool for one `host:port` (Node's `http.Agent`).
struct AgentRec {
    key: (String, u16),
    /// The TLS options its connections use (`None`: plain HTTP): requests
    /// with different ones never share a socket.
    #[cfg(feature = "tls")]
    tls: Option<crate::http::https::ClientTlsOptions>,
    max_sockets: usize,
    /// Sockets in use, and connections being resolved.
    active: Vec<InUse>,
    /// Idle keep-alive sockets, most recently used last.
    idle: Vec<SockId>,
    queue: VecDeque<ClientId>,
    /// The seed's `agent.on('upgrade')`: for requests without an `upgrade`
    /// listener of their own.
    upgrade: Listeners<UpgradeListener>,
}

/// What an agent counts as a socket in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InUse {
    /// A socket, connecting or carrying a request.
    Socket(SockId),
    /// The connection of this request, whose host name is being looked up.
    Resolving(ClientId),
}

// ---------------------------------------------------------------- handles

/// An outgoing request: a writable stream (Node's `http.ClientRequest`).
/// A cheap `Copy` handle.
///
/// ```no_run
/// use nodelike::http;
/// let req = http::request(
///     http::RequestOptions { host: "127.0.0.1".into(), port: 8000, method: "POST".into(), path: "/upload?x=1".into(), ..Default::default() },
///     |res| {
///         println!("STATUS: {}", res.status_code());
///         res.set_encoding(nodelike::Encoding::Utf8);
///         res.on_data(|chunk| println!("BODY: {chunk}"));
///     },
/// );
/// req.on_error(|e| eprintln!("problem with request: {e}"));
/// req.write("data\n");
/// req.write("data\n");
/// req.end(());
/// nodelike::run();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientRequest {
    id: ClientId,
    _loop: LoopBound,
}

/// A response to a [`ClientRequest`]: a readable stream (Node's
/// `http.ClientResponse`). A cheap `Copy` handle.
///
/// ```no_run
/// nodelike::http::get("http://127.0.0.1:8000/", |res| {
///     println!("{} {:?}", res.status_code(), res.headers().get("content-type"));
///     res.on_data(|chunk| print!("{chunk}"));
///     res.on_end(|| println!("(end)"));
/// });
/// nodelike::run();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientResponse {
    id: ClientId,
    _loop: LoopBound,
}

impl ClientRequest {
    fn new(id: ClientId) -> ClientRequest {
        ClientRequest {
            id,
            _loop: LoopBound::default(),
        }
    }
}

impl ClientResponse {
    fn new(id: ClientId) -> ClientResponse {
        ClientResponse {
            id,
            _loop: LoopBound::default(),
        }
    }
}

/// The pooling agent of one `host:port` (Node's `http.getAgent`). A cheap
/// `Copy` handle.
///
/// ```
/// let agent = nodelike::http::get_agent("127.0.0.1", 8000);
/// assert_eq!(agent.max_sockets(), 5);
/// agent.set_max_sockets(50);
/// assert_eq!(agent.sockets(), 0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Agent {
    key: usize,
    _loop: LoopBound,
}

/// Issues a request (Node's `http.request(options, callback)`): returns the
/// [`ClientRequest`] to write the body to; `on_response` gets the response
/// once its head arrived. Call [`end`](ClientRequest::end) to send it.
///
/// ```no_run
/// let req = nodelike::http::request("http://127.0.0.1:8000/", |res| println!("{}", res.status_code()));
/// req.end(());
/// nodelike::run();
/// ```
pub fn request(
    options: impl IntoRequestOptions,
    on_response: impl FnMut(ClientResponse) + 'static,
) -> ClientRequest {
    let options = options.into_request_options();
    let id = with_state(|c| {
        let (id, ex) = c.clients.insert();
        *ex = ClientExchange::default();
        ex.listeners.response.push(Box::new(on_response));
        match options {
            Ok(o) => {
                for (n, v) in &o.headers {
                    match ex
                        .set_headers
                        .iter_mut()
                        .find(|(name, _)| name.eq_ignore_ascii_case(n))
                    {
                        Some(entry) => entry.1.push(v.clone()),
                        None => ex.set_headers.push((n.clone(), vec![v.clone()])),
                    }
                }
                let invalid = !encode::is_valid_method(&o.method)
                    || !encode::is_valid_request_target(&o.path)
                    || o.host.bytes().any(|b| b <= b' ' || b == 0x7f)
                    || o.headers.iter().any(|(n, v)| {
                        !encode::is_valid_header_name(n) || !encode::is_valid_header_value(v)
                    });
                ex.options = Some(o);
                if invalid {
                    Err(Error::new(
                        ErrorKind::InvalidHeader,
                        "Invalid character in method, path, host or header",
                    ))
                } else {
                    Ok(id)
                }
            }
            Err(e) => Err(e),
        }
        .map_err(|e| (id, e))
    });
    match id {
        Some(Ok(id)) => {
            with_state(|c| assign(c, id));
            let req = ClientRequest::new(id);
            let expects = with_state(|c| {
                c.clients.get(id).is_some_and(|e| {
                    e.set_headers
                        .iter()
                        .any(|(n, _)| n.eq_ignore_ascii_case("expect"))
                })
            });
            if expects == Some(true) {
                req.flush_headers();
            }
            req
        }
        Some(Err((id, e))) => {
            // Nothing is sent; the error arrives on the next turn, so the
            // caller can still add an `error` listener (as in Node).
            crate::next_tick(move || fail(id, e));
            ClientRequest::new(id)
        }
        None => ClientRequest::new(Id {
            idx: u32::MAX,
            gen: 0,
        }),
    }
}

/// A GET request, ended at once (Node's `http.get`).
///
/// ```no_run
/// nodelike::http::get("http://127.0.0.1:8000/", |res| println!("{}", res.status_code()))
///     .on_error(|e| eprintln!("{e}"));
/// nodelike::run();
/// ```
pub fn get(
    options: impl IntoRequestOptions,
    on_response: impl FnMut(ClientResponse) + 'static,
) -> ClientRequest {
    let options = options.into_request_options().map(|mut o| {
        o.method = "GET".into();
        o
    });
    let req = match options {
        Ok(o) => request(o, on_response),
        Err(e) => {
            let req = request(
                RequestOptions {
                    host: String::new(),
                    ..Default::default()
                },
                on_response,
            );
            with_state(|c| {
                if let Some(ex) = c.clients.get_mut(req.id) {
                    ex.done = true;
                }
            });
            crate::next_tick(move || fail_now(req.id, e));
            return req;
        }
    };
    req.end(());
    req
}

/// The agent for `host:port`, created on first use (Node's
/// `http.getAgent(host, port)`).
///
/// ```
/// let a = nodelike::http::get_agent("localhost", 8080);
/// assert_eq!(a, nodelike::http::get_agent("localhost", 8080));
/// ```
pub fn get_agent(host: &str, port: u16) -> Agent {
    let key = with_state(|c| agent_for(c, host, port, &TlsKey::default())).unwrap_or(usize::MAX);
    Agent {
        key,
        _loop: LoopBound::default(),
    }
}

fn agent_for(c: &mut ClientState, host: &str, port: u16, tls: &TlsKey) -> usize {
    if let Some(i) = c
        .agents
        .iter()
        .position(|a| a.key.0 == host && a.key.1 == port && a.tls_key() == tls)
    {
        return i;
    }
    c.agents.push(AgentRec {
        key: (host.to_owned(), port),
        #[cfg(feature = "tls")]
        tls: tls.clone(),
        max_sockets: 5,
        active: Vec::new(),
        idle: Vec::new(),
        queue: VecDeque::new(),
        upgrade: Listeners::default(),
    });
    c.agents.len() - 1
}

/// The agent's `upgrade` event, for a request with no listener of its own.
fn emit_agent_upgrade(ex: ClientId, call: impl FnMut(&mut UpgradeListener)) -> bool {
    let Some(Some(agent)) = with_state(|c| c.clients.get(ex).and_then(|e| e.agent)) else {
        return false;
    };
    // The same emit as every other event: the listeners go back even if
    // one panics.
    runtime::listeners::emit(
        |f| {
            with_state(|c| c.agents.get_mut(agent).map(|a| f(&mut a.upgrade)).is_some())
                .unwrap_or(false)
        },
        call,
    )
}

impl Agent {
    /// Adds an `upgrade` listener for this agent's requests that have none
    /// of their own (the seed's `agent.on('upgrade', ...)`).
    ///
    /// ```no_run
    /// let agent = nodelike::http::get_agent("127.0.0.1", 1337);
    /// agent.on_upgrade(|_res, socket, _head| socket.end(()));
    /// ```
    pub fn on_upgrade(&self, f: impl FnMut(ClientResponse, Socket, &[u8]) + 'static) {
        with_state(|c| {
            if let Some(a) = c.agents.get_mut(self.key) {
                a.upgrade.push(Box::new(f));
            }
        });
    }

    /// The most sockets the agent opens at once (default 5).
    ///
    /// ```
    /// assert_eq!(nodelike::http::get_agent("a", 1).max_sockets(), 5);
    /// ```
    pub fn max_sockets(&self) -> usize {
        with_state(|c| c.agents.get(self.key).map(|a| a.max_sockets))
            .flatten()
            .unwrap_or(0)
    }

    /// Sets [`max_sockets`](Self::max_sockets) (at least 1).
    ///
    /// ```
    /// let a = nodelike::http::get_agent("b", 1);
    /// a.set_max_sockets(1);
    /// assert_eq!(a.max_sockets(), 1);
    /// ```
    pub fn set_max_sockets(&self, n: usize) {
        with_state(|c| {
            if let Some(a) = c.agents.get_mut(self.key) {
                a.max_sockets = n.max(1);
            }
        });
    }

    /// Sockets in use (busy or connecting) right now (Node's
    /// `agent.sockets.length`).
    ///
    /// ```
    /// assert_eq!(nodelike::http::get_agent("c", 1).sockets(), 0);
    /// ```
    pub fn sockets(&self) -> usize {
        with_state(|c| c.agents.get(self.key).map(|a| a.active.len()))
            .flatten()
            .unwrap_or(0)
    }

    /// Idle keep-alive sockets kept for reuse.
    ///
    /// ```
    /// assert_eq!(nodelike::http::get_agent("d", 1).idle_sockets(), 0);
    /// ```
    pub fn idle_sockets(&self) -> usize {
        with_state(|c| c.agents.get(self.key).map(|a| a.idle.len()))
            .flatten()
            .unwrap_or(0)
    }

    /// Requests waiting for a socket (Node's `agent.queue.length`).
    ///
    /// ```
    /// assert_eq!(nodelike::http::get_agent("e", 1).queue(), 0);
    /// ```
    pub fn queue(&self) -> usize {
        with_state(|c| c.agents.get(self.key).map(|a| a.queue.len()))
            .flatten()
            .unwrap_or(0)
    }
}

// ------------------------------------------------------ socket assignment

/// Finds the request a socket: an idle pooled one, a new connection, or
/// a place in the agent's queue.
fn assign(c: &mut ClientState, id: ClientId) {
    let Some(ex) = c.clients.get_mut(id) else {
        return;
    };
    let Some(o) = ex.options.clone() else { return };
    if !o.agent || o.socket_path.is_some() {
        connect(c, id, None, &o);
        return;
    }
    let agent = agent_for(c, &o.host, o.port, &tls_key(&o));
    if let Some(ex) = c.clients.get_mut(id) {
        ex.agent = Some(agent);
    }
    // Reuse the most recently idle socket that is still open.
    while let Some(sock) = c.agents[agent].idle.pop() {
        let persists = c
            .conns
            .get(sock)
            .is_some_and(|conn| conn.keep_alive.reusable());
        if !persists || !net::is_reusable(sock) {
            continue;
        }
        log::trace!(
            "client: reusing socket {} for {}:{}",
            sock.key,
            o.host,
            o.port
        );
        c.agents[agent].active.push(InUse::Socket(sock));
        attach(c, id, sock);
        return;
    }
    if c.agents[agent].active.len() < c.agents[agent].max_sockets {
        connect(c, id, Some(agent), &o);
    } else {
        log::trace!("client: agent {}:{} full; request queued", o.host, o.port);
        c.agents[agent].queue.push_back(id);
        if let Some(ex) = c.clients.get_mut(id) {
            ex.queued = true;
        }
    }
}

/// Gives socket `sock` to exchange `id` and sends what it has written.
fn attach(c: &mut ClientState, id: ClientId, sock: SockId) {
    net::set_ref(sock, true);
    let timeout = c.clients.get(id).and_then(|e| e.timeout);
    net::set_idle_timeout(sock, timeout);
    if let Some(conn) = c.conns.get_mut(sock) {
        conn.ex = Some(id);
        conn.reading = ClientReading::Head;
    }
    if let Some(ex) = c.clients.get_mut(id) {
        ex.socket = Some(sock);
        ex.queued = false;
    }
    pump(c, id);
}

/// Moves bytes the request wrote into its socket, once it is connected.
fn pump(c: &mut ClientState, id: ClientId) {
    let Some(ex) = c.clients.get_mut(id) else {
        return;
    };
    let Some(sock) = ex.socket else { return };
    if ex.out.is_empty() {
        return;
    }
    if net::is_connecting(sock) {
        return;
    }
    let Some(ex) = c.clients.get_mut(id) else {
        return;
    };
    let bytes = std::mem::take(&mut ex.out);
    net::write(sock, &bytes);
    if let Some(ex) = c.clients.get_mut(id) {
        let mut bytes = bytes;
        bytes.clear();
        ex.out = bytes;
    }
}

fn connect(c: &mut ClientState, id: ClientId, agent: Option<usize>, o: &RequestOptions) {
    if let Some(path) = &o.socket_path {
        let transport = net::connect_unix(path).map_err(Error::from);
        start_socket(c, id, agent, transport.map(|t| (t, None)));
        return;
    }
    if let Some(a) = agent {
        // Count the connection as in use while it resolves and connects.
        c.agents[a].active.push(InUse::Resolving(id));
    }
    let host = o.host.trim_start_matches('[').trim_end_matches(']');
    let literal = if host.eq_ignore_ascii_case("localhost") {
        Some(IpAddr::from([127, 0, 0, 1]))
    } else {
        host.parse::<IpAddr>().ok()
    };
    match literal {
        Some(ip) => connect_addr(c, id, SocketAddr::new(ip, o.port)),
        None => resolve_in_background(id, o.host.clone(), o.port),
    }
}

/// Name resolution blocks, so it runs on a helper thread, which posts the
/// result back to the loop through its remote handle. A lookup in flight
/// keeps the loop alive.
fn resolve_in_background(id: ClientId, host: String, port: u16) {
    let loop_handle = runtime::remote();
    runtime::add_ref();
    log::trace!("client: resolving {host} on a helper thread");
    std::thread::spawn(move || {
        let found = (host.as_str(), port).to_socket_addrs().and_then(|mut a| {
            a.next()
                .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no addresses"))
        });
        let found = found.map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("getaddrinfo ENOTFOUND {host}: {e}"),
            )
        });
        loop_handle.post(move || resolved(id, found));
    });
}

/// A lookup came back (on the loop's thread): connect, or fail the request.
fn resolved(id: ClientId, result: std::io::Result<SocketAddr>) {
    runtime::release_ref();
    match result {
        Ok(addr) => {
            with_state(|c| {
                if c.clients.get(id).is_some_and(|e| !e.done) {
                    connect_addr(c, id, addr);
                } else {
                    release_placeholder(c, id);
                }
            });
        }
        Err(e) => {
            with_state(|c| release_placeholder(c, id));
            fail(id, Error::new(ErrorKind::Dns, e.to_string()));
        }
    }
}

/// Drops the "connecting" placeholder an agent counts for `id`.
fn release_placeholder(c: &mut ClientState, id: ClientId) {
    let agent = c.clients.get(id).and_then(|e| e.agent);
    if let Some(a) = agent {
        c.agents[a].active.retain(|s| *s != InUse::Resolving(id));
    }
}

fn connect_addr(c: &mut ClientState, id: ClientId, addr: SocketAddr) {
    release_placeholder(c, id);
    #[cfg(feature = "tls")]
    let tls = c
        .clients
        .get(id)
        .and_then(|e| e.options.as_ref())
        .and_then(|o| Some((o.tls.clone()?, o.host.clone())));
    #[cfg(feature = "tls")]
    let transport = match tls {
        Some((tls, host)) => crate::http::https::client_config(&tls).and_then(|config| {
            let name = tls.servername.unwrap_or(host);
            let name =
                rustls::pki_types::ServerName::try_from(name.trim_matches(['[', ']']).to_owned())
                    .map_err(|e| {
                    Error::new(
                        ErrorKind::InvalidHeader,
                        format!("invalid server name: {e}"),
                    )
                })?;
            net::connect_tls(addr, config, name).map_err(Error::from)
        }),
        None => net::connect_tcp(addr).map_err(Error::from),
    };
    #[cfg(not(feature = "tls"))]
    let transport = net::connect_tcp(addr).map_err(Error::from);
    let transport = transport.map(|t| (t, Some(addr)));
    let agent = c.clients.get(id).and_then(|e| e.agent);
    start_socket(c, id, agent, transport);
}

fn start_socket(
    c: &mut ClientState,
    id: ClientId,
    agent: Option<usize>,
    transport: Result<(Box<dyn Transport>, Option<SocketAddr>), Error>,
) {
    let timeout = c.clients.get(id).and_then(|e| e.timeout);
    let opened = transport.and_then(|(transport, addr)| {
        net::open(
            transport,
            addr,
            net::Open {
                protocol: &PROTOCOL,
                idle_timeout: timeout,
                connecting: true,
                unref: false,
            },
        )
        .map_err(Error::from)
    });
    let sock = match opened {
        Ok(sock) => sock,
        Err(err) => {
            crate::next_tick(move || fail(id, err));
            return;
        }
    };
    c.conns.insert(
        sock,
        ClientConn {
            agent,
            ex: Some(id),
            reading: ClientReading::Head,
            keep_alive: KeepAlive::default(),
        },
    );
    if let Some(a) = agent {
        c.agents[a].active.push(InUse::Socket(sock));
    }
    if let Some(ex) = c.clients.get_mut(id) {
        ex.socket = Some(sock);
    }
    log::trace!("client: socket {} connecting", sock.key);
}

/// What tells agents apart besides host and port: their TLS options.
#[cfg(feature = "tls")]
type TlsKey = Option<crate::http::https::ClientTlsOptions>;
#[cfg(not(feature = "tls"))]
type TlsKey = ();

#[cfg(feature = "tls")]
fn tls_key(o: &RequestOptions) -> TlsKey {
    o.tls.clone()
}

#[cfg(not(feature = "tls"))]
fn tls_key(_o: &RequestOptions) -> TlsKey {}

impl AgentRec {
    #[cfg(feature = "tls")]
    fn tls_key(&self) -> &TlsKey {
        &self.tls
    }

    #[cfg(not(feature = "tls"))]
    fn tls_key(&self) -> &TlsKey {
        &()
    }
}

/// Reading the socket failed: a TLS handshake refused (with Node's code),
/// or a reset. The request learns why before the socket closes.
fn on_failed(sock: SockId, e: &std::io::Error) {
    #[cfg(feature = "tls")]
    if let Some(err) = crate::http::https::client_handshake_error(e) {
        let ex = with_state(|c| c.conns.get_mut(sock).and_then(|conn| conn.ex.take())).flatten();
        if let Some(ex) = ex {
            fail(ex, err);
        }
        return;
    }
    log::debug!("client: socket {} failed: {e}", sock.key);
}

/// The connect finished (`net` destroys the socket after a failure).
fn on_connected(sock: SockId, result: std::io::Result<()>) {
    match result {
        Ok(()) => {
            log::trace!("client: socket {} connected", sock.key);
            with_state(|c| {
                if let Some(ex) = c.conns.get(sock).and_then(|conn| conn.ex) {
                    pump(c, ex);
                }
            });
        }
        Err(e) => {
            log::debug!("client: socket {} connect failed: {e}", sock.key);
            let ex =
                with_state(|c| c.conns.get_mut(sock).and_then(|conn| conn.ex.take())).flatten();
            if let Some(ex) = ex {
                fail(ex, Error::from(e));
            }
        }
    }
}

// --------------------------------------------------------- the response

enum Step<'a> {
    Stop,
    DiscardAll,
    Skip(usize),
    Continue(ClientId, usize),
    Response(ClientId, usize, bool),
    Upgrade(ClientId, usize),
    Data(ClientId, usize, &'a [u8]),
    End(ClientId, usize),
    Error(ClientId, Error),
}

/// Parses and dispatches response bytes; returns the bytes consumed.
fn process_input(sock: SockId, data: &[u8]) -> usize {
    let mut pos = 0;
    loop {
        let Some(socket) = net::read_state(sock) else {
            return data.len();
        };
        let step =
            with_state(|c| next_step(c, sock, socket, &data[pos..])).unwrap_or(Step::DiscardAll);
        match step {
            Step::Stop => return pos,
            Step::DiscardAll => return data.len(),
            Step::Skip(n) => pos += n,
            Step::Continue(ex, n) => {
                pos += n;
                emit(ex, |l| &mut l.continue_, |f| f());
            }
            Step::Response(ex, n, empty) => {
                pos += n;
                emit(ex, |l| &mut l.response, |f| f(ClientResponse::new(ex)));
                if empty {
                    complete(sock, ex);
                }
            }
            Step::Upgrade(ex, n) => {
                pos += n;
                let head = &data[pos..];
                let res = ClientResponse::new(ex);
                let socket = Socket::from_id(sock);
                let handled = emit(ex, |l| &mut l.upgrade, |f| f(res, socket, head))
                    || emit_agent_upgrade(ex, |f| f(res, socket, head));
                with_state(|c| {
                    if let Some(e) = c.clients.get_mut(ex) {
                        e.done = true;
                    }
                    detach_from_agent(c, sock);
                    // The socket has left HTTP: from now on its bytes are
                    // plain `data` events.
                    c.conns.remove(sock);
                    net::set_protocol(sock, &net::RAW);
                    if !handled {
                        net::destroy(sock, Cause::Aborted);
                    }
                });
                return data.len();
            }
            Step::Data(ex, n, chunk) => {
                pos += n;
                emit_data(ex, chunk);
            }
            Step::End(ex, n) => {
                pos += n;
                complete(sock, ex);
            }
            Step::Error(ex, e) => {
                net::destroy(sock, Cause::Error);
                fail(ex, e);
                return data.len();
            }
        }
    }
}

fn next_step<'a>(
    c: &mut ClientState,
    sock: SockId,
    socket: net::ReadState,
    input: &'a [u8],
) -> Step<'a> {
    let ClientState { conns, clients, .. } = c;
    if socket.destroyed {
        return Step::DiscardAll;
    }
    if socket.paused {
        return Step::Stop;
    }
    let Some(conn) = conns.get_mut(sock) else {
        return Step::DiscardAll;
    };
    let Some(id) = conn.ex else {
        // Bytes on an idle pooled socket: nothing asked for them.
        return Step::DiscardAll;
    };
    let Some(ex) = clients.get_mut(id) else {
        return Step::DiscardAll;
    };
    match &mut conn.reading {
        ClientReading::Head => {
            if input.is_empty() {
                return Step::Stop;
            }
            let head_request = ex.is_head();
            match h1::parse_response_head(input, head_request, &Limits::default(), &mut ex.parsed) {
                Ok(None) => Step::Stop,
                Err(e) => Step::Error(
                    id,
                    Error::parse(e.status(), format!("Parse Error: {}", e.reason())),
                ),
                Ok(Some(n)) => {
                    let status = ex.parsed.status;
                    if status == 101 {
                        return Step::Upgrade(id, n);
                    }
                    if (100..200).contains(&status) {
                        // An interim response: `continue` for 100, then wait
                        // for the final one.
                        return if status == 100 {
                            Step::Continue(id, n)
                        } else {
                            Step::Skip(n)
                        };
                    }
                    ex.res_head.clear();
                    ex.res_head.extend_from_slice(&input[..n]);
                    ex.res_started = true;
                    conn.keep_alive.peer_message(ex.parsed.keep_alive);
                    let empty = matches!(ex.parsed.body, h1::BodyKind::Empty);
                    if !empty {
                        conn.reading = ClientReading::Body(Decoder::new(ex.parsed.body));
                    }
                    log::trace!(
                        "client: socket {} response {status}, body {:?}",
                        sock.key,
                        ex.parsed.body
                    );
                    Step::Response(id, n, empty)
                }
            }
        }
        ClientReading::Body(decoder) => match decoder.decode(input) {
            Err(e) => Step::Error(
                id,
                Error::parse(400, format!("Parse Error: {}", e.reason())),
            ),
            Ok((n, Decoded::Data(d))) => Step::Data(id, n, d),
            Ok((0, Decoded::NeedMore)) => Step::Stop,
            Ok((n, Decoded::NeedMore)) => Step::Skip(n),
            Ok((n, Decoded::Done)) => {
                let mut trailers = None;
                for (name, value) in decoder.trailers() {
                    trailers
                        .get_or_insert_with(Headers::new)
                        .append_raw(name, value);
                }
                ex.trailers = trailers;
                conn.reading = ClientReading::Head;
                Step::End(id, n)
            }
        },
    }
}

fn emit_data(ex: ClientId, data: &[u8]) {
    let text = with_state(|c| {
        let e = c.clients.get_mut(ex)?;
        let d = e.decoder.as_mut()?;
        let mut s = String::new();
        d.write(data, &mut s);
        Some(s)
    })
    .flatten();
    match text {
        Some(s) if s.is_empty() => {}
        Some(s) => {
            emit(ex, |l| &mut l.data, |f| f(Chunk::Text(&s)));
        }
        None => {
            emit(ex, |l| &mut l.data, |f| f(Chunk::Bytes(data)));
        }
    }
}

/// The response is complete: `end`, then the socket goes back to the pool
/// (or closes).
fn complete(sock: SockId, ex: ClientId) {
    let tail = with_state(|c| c.clients.get_mut(ex)?.decoder.as_mut()?.finish()).flatten();
    if let Some(s) = tail {
        emit(ex, |l| &mut l.data, |f| f(Chunk::Text(&s)));
    }
    let first = with_state(|c| match c.clients.get_mut(ex) {
        Some(e) if !e.done => {
            e.done = true;
            e.res_complete = true;
            true
        }
        _ => false,
    })
    .unwrap_or(false);
    if !first {
        return;
    }
    // The socket goes back to the pool before `end`, so a request made in
    // an `end` listener reuses it.
    with_state(|c| release_socket(c, sock, ex));
    emit(ex, |l| &mut l.end, |f| f());
    emit(ex, |l| &mut l.res_close, |f| f());
    with_state(|c| free_client(c, ex));
}

/// After a response: back to the agent's idle list (keep-alive, request
/// fully sent) or closed.
fn release_socket(c: &mut ClientState, sock: SockId, ex: ClientId) {
    let (sent, agent) = match c.clients.get(ex) {
        // The request went out whole: the message allowed persistence.
        Some(e) => (e.ended, e.agent),
        None => (false, None),
    };
    let Some(conn) = c.conns.get_mut(sock) else {
        return;
    };
    let keep =
        agent.is_some() && conn.keep_alive.after_message(sent, false) == AfterMessage::KeepOpen;
    conn.ex = None;
    conn.reading = ClientReading::Head;
    let (Some(a), true) = (agent, keep) else {
        detach_from_agent(c, sock);
        net::destroy(sock, Cause::Aborted);
        return;
    };
    c.agents[a].active.retain(|x| *x != InUse::Socket(sock));
    if let Some(next) = c.agents[a].queue.pop_front() {
        c.agents[a].active.push(InUse::Socket(sock));
        attach(c, next, sock);
        return;
    }
    c.agents[a].idle.push(sock);
    // An idle pooled socket does not keep the loop alive (Node unrefs free
    // sockets) and is closed after a while.
    net::set_ref(sock, false);
    net::set_idle_timeout(sock, Some(Duration::from_millis(AGENT_IDLE_TIMEOUT_MS)));
}

/// Agent `a` no longer has `sock`; the slot it freed starts a queued
/// request.
fn forget_socket(c: &mut ClientState, a: usize, sock: SockId) {
    c.agents[a].active.retain(|x| *x != InUse::Socket(sock));
    c.agents[a].idle.retain(|x| *x != sock);
    if let Some(next) = c.agents[a].queue.pop_front() {
        if let Some(e) = c.clients.get_mut(next) {
            e.queued = false;
        }
        assign(c, next);
    }
}

fn detach_from_agent(c: &mut ClientState, sock: SockId) {
    let agent = c.conns.get_mut(sock).and_then(|conn| conn.agent.take());
    if let Some(a) = agent {
        forget_socket(c, a, sock);
    }
}

fn free_client(c: &mut ClientState, ex: ClientId) {
    let Some(e) = c.clients.get_mut(ex) else {
        return;
    };
    if !e.done {
        return;
    }
    let listeners = (!e.listeners.is_empty()).then(|| std::mem::take(&mut e.listeners));
    let options = e.options.take();
    e.trailers = None;
    c.clients.remove(ex);
    if let Some(l) = listeners {
        runtime::bury(l);
    }
    drop(options);
}

/// The peer closed: a close-delimited body ends here; anything else in
/// flight was cut short.
fn on_eof(sock: SockId) {
    let state = with_state(|c| {
        let conn = c.conns.get_mut(sock)?;
        let clean = match &conn.reading {
            // A TLS stream cut without close_notify is not a clean end of
            // a close-delimited body: the request fails.
            ClientReading::Body(d) => d.eof_is_clean() && !net::eof_was_truncated(sock),
            ClientReading::Head => false,
        };
        Some((conn.ex, clean))
    })
    .flatten();
    match state {
        Some((Some(ex), true)) => complete(sock, ex),
        _ => net::destroy(sock, Cause::Aborted),
    }
}

/// The socket is gone: a request on it fails ("socket hang up"), and the
/// agent forgets it.
fn on_socket_closed(sock: SockId, cause: Cause) {
    let Some(Some(mut conn)) = with_state(|c| c.conns.remove(sock)) else {
        return;
    };
    let ex = conn.ex.take();
    let agent = conn.agent.take();
    with_state(|c| {
        if let Some(a) = agent {
            forget_socket(c, a, sock);
        }
    });
    if let Some(ex) = ex {
        let kind = if cause == Cause::Timeout {
            ErrorKind::Timeout
        } else {
            ErrorKind::PrematureClose
        };
        fail(ex, Error::new(kind, "socket hang up"));
    }
}

/// Ends an exchange with an error: `error` on the request (logged if nobody
/// listens), and `close` on a response that had started.
fn fail(ex: ClientId, err: Error) {
    let started = with_state(|c| match c.clients.get_mut(ex) {
        Some(e) if !e.done => {
            e.done = true;
            Some(e.res_started)
        }
        _ => None,
    })
    .flatten();
    let Some(started) = started else { return };
    fail_emit(ex, err, started);
}

/// `fail` for an exchange already marked done (a bad URL in `get`).
fn fail_now(ex: ClientId, err: Error) {
    fail_emit(ex, err, false);
}

fn fail_emit(ex: ClientId, err: Error, started: bool) {
    log::debug!("client: request failed: {err}");
    if started {
        emit(ex, |l| &mut l.res_close, |f| f());
    }
    if !emit(ex, |l| &mut l.error, |f| f(&err)) {
        log::error!("nodelike: unhandled ClientRequest error: {err}");
    }
    with_state(|c| {
        // A request still queued leaves the queue.
        let agent = c
            .clients
            .get(ex)
            .and_then(|e| e.queued.then_some(e.agent).flatten());
        if let Some(a) = agent {
            c.agents[a].queue.retain(|x| *x != ex);
        }
        free_client(c, ex);
    });
}

fn emit<F: ?Sized + 'static>(
    ex: ClientId,
    field: fn(&mut ClientListeners) -> &mut Listeners<F>,
    call: impl FnMut(&mut F),
) -> bool {
    runtime::listeners::emit(
        |f| {
            with_state(|c| {
                c.clients
                    .get_mut(ex)
                    .map(|e| f(field(&mut e.listeners)))
                    .is_some()
            })
            .unwrap_or(false)
        },
        call,
    )
}

// ------------------------------------------------------- request methods

impl ClientRequest {
    /// Sends a chunk of the body (the head first, if not sent yet).
    /// Returns `false` once more than 16 KiB wait to be sent: wait for
    /// `drain`. The body is chunked unless a `Content-Length` was set.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// req.write("data\n");
    /// # }
    /// ```
    pub fn write(&self, chunk: impl IntoChunk) -> bool {
        let data = chunk.chunk_bytes();
        if data.is_empty() {
            return true;
        }
        self.send(data, false)
    }

    /// Finishes the request, with a last chunk or `()`.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// req.end(());
    /// # }
    /// ```
    pub fn end(&self, chunk: impl IntoChunk) {
        self.send(chunk.chunk_bytes(), true);
    }

    fn send(&self, data: &[u8], end: bool) -> bool {
        let result = with_state(|c| {
            let e = c.clients.get_mut(self.id)?;
            if e.done && !e.res_started {
                return Some(Ok(false));
            }
            if e.ended {
                return Some(Err((
                    Error::new(ErrorKind::WriteAfterEnd, "write after end"),
                    false,
                )));
            }
            let mut out = std::mem::take(&mut e.out);
            if !e.head_sent {
                write_request_head(e, &mut out, end.then_some(data.len()));
            }
            // The same encoder as the server's responses: bytes past the
            // Content-Length are not sent, and are an error.
            let encoded = e.framing.encode(&mut out, data, end, &[]);
            if end {
                e.ended = true;
            }
            e.out = out;
            let mismatch = match encoded {
                Ok(()) => None,
                Err(BodyError::TooLong) => Some(Error::new(
                    ErrorKind::ContentLengthMismatch,
                    "Request body's content-length of bytes exceeded",
                )),
                Err(BodyError::TooShort(n)) => Some(Error::new(
                    ErrorKind::ContentLengthMismatch,
                    format!("Request ended {n} bytes short of its content-length"),
                )),
            };
            // A body that ended short can never complete: the server waits
            // for the rest. The request is aborted after its error.
            let cut_short = matches!(encoded, Err(BodyError::TooShort(_)));
            let sock = e.socket;
            pump(c, self.id);
            let backlog = sock.map_or(0, net::backlog)
                + c.clients.get(self.id).map(|e| e.out.len()).unwrap_or(0);
            let ok = backlog < HIGH_WATER_MARK;
            if !ok {
                if let Some(e) = c.clients.get_mut(self.id) {
                    e.need_drain = true;
                }
                if let Some(s) = sock {
                    net::want_drain(s);
                }
            }
            match mismatch {
                Some(err) => Some(Err((err, cut_short))),
                None => Some(Ok(ok)),
            }
        })
        .flatten();
        match result {
            Some(Ok(ok)) => ok,
            Some(Err((e, abort))) => {
                if !emit(self.id, |l| &mut l.error, |f| f(&e)) {
                    log::error!("nodelike: ClientRequest: {e}");
                }
                if abort {
                    self.abort();
                }
                false
            }
            None => false,
        }
    }

    /// Sends the request head now, before any body (Node's
    /// `flushHeaders`). Done automatically when an `Expect` header is set,
    /// so the server can answer `100 Continue` before the body is written.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// req.flush_headers();
    /// # }
    /// ```
    pub fn flush_headers(&self) {
        with_state(|c| {
            let Some(e) = c.clients.get_mut(self.id) else {
                return;
            };
            if e.head_sent || e.done {
                return;
            }
            let mut out = std::mem::take(&mut e.out);
            write_request_head(e, &mut out, None);
            e.out = out;
            pump(c, self.id);
        });
    }

    /// Fails the request with an [`ErrorKind::Timeout`] error (and closes
    /// its connection) if its socket is idle for `ms` milliseconds while the
    /// request waits for or reads its response. `0` disables it.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// req.set_timeout(10_000);
    /// req.on_error(|e| if e.kind() == nodelike::ErrorKind::Timeout { eprintln!("too slow") });
    /// # }
    /// ```
    pub fn set_timeout(&self, ms: u64) {
        with_state(|c| {
            let timeout = (ms > 0).then(|| Duration::from_millis(ms));
            let Some(e) = c.clients.get_mut(self.id) else {
                return;
            };
            e.timeout = timeout;
            if let Some(sock) = e.socket {
                net::set_idle_timeout(sock, timeout);
            }
        });
    }

    /// Aborts the request: a queued one never reaches the server; one in
    /// flight has its connection destroyed (its response, if any, gets
    /// `close`).
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// nodelike::set_timeout(move || req.abort(), 1000);
    /// # }
    /// ```
    pub fn abort(&self) {
        let state = with_state(|c| {
            let e = c.clients.get_mut(self.id)?;
            if e.done {
                return None;
            }
            e.done = true;
            let started = e.res_started;
            let sock = e.socket;
            let agent = e.queued.then_some(e.agent).flatten();
            if let Some(a) = agent {
                c.agents[a].queue.retain(|x| *x != self.id);
            }
            release_placeholder(c, self.id);
            if let Some(s) = sock {
                if let Some(conn) = c.conns.get_mut(s) {
                    conn.ex = None;
                }
                net::destroy(s, Cause::Aborted);
            }
            Some(started)
        })
        .flatten();
        if let Some(started) = state {
            log::debug!("client: request aborted");
            if started {
                emit(self.id, |l| &mut l.res_close, |f| f());
            }
            with_state(|c| free_client(c, self.id));
        }
    }

    /// Sets a header until the head is sent (a list sends one line each).
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// req.set_header("Content-Type", "application/json");
    /// # }
    /// ```
    pub fn set_header(&self, name: &str, value: impl crate::http::IntoHeaderValues) {
        let values = value.into_header_values();
        let err = with_state(|c| {
            let e = c.clients.get_mut(self.id)?;
            if e.head_sent {
                return Some(Error::new(
                    ErrorKind::HeadersSent,
                    "Cannot set headers after they are sent",
                ));
            }
            if !encode::is_valid_header_name(name)
                || values.iter().any(|v| !encode::is_valid_header_value(v))
            {
                return Some(Error::new(
                    ErrorKind::InvalidHeader,
                    format!("Invalid character in header [\"{name}\"]"),
                ));
            }
            match e
                .set_headers
                .iter_mut()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
            {
                Some(entry) => entry.1 = values,
                None => e.set_headers.push((name.to_owned(), values)),
            }
            None
        })
        .flatten();
        if let Some(e) = err {
            if !emit(self.id, |l| &mut l.error, |f| f(&e)) {
                log::error!("nodelike: ClientRequest: {e}");
            }
        }
    }

    /// A header set for sending, by case-insensitive name.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// req.set_header("X-A", "1");
    /// assert_eq!(req.get_header("x-a").unwrap().as_str(), "1");
    /// # }
    /// ```
    pub fn get_header(&self, name: &str) -> Option<h1::HeaderValue> {
        with_state(|c| {
            let e = c.clients.get(self.id)?;
            e.set_headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| {
                    if v.len() == 1 {
                        h1::HeaderValue::Single(v[0].clone())
                    } else {
                        h1::HeaderValue::List(v.clone())
                    }
                })
        })
        .flatten()
    }

    /// Removes a header before the head is sent.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// req.remove_header("User-Agent");
    /// # }
    /// ```
    pub fn remove_header(&self, name: &str) {
        with_state(|c| {
            if let Some(e) = c.clients.get_mut(self.id) {
                if !e.head_sent {
                    e.set_headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
                }
            }
        });
    }

    /// Adds a `response` listener (besides the one given to `request`).
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// req.on_response(|res| println!("{}", res.status_code()));
    /// # }
    /// ```
    pub fn on_response(&self, f: impl FnMut(ClientResponse) + 'static) -> &Self {
        self.add(|l| l.response.push(Box::new(f)));
        self
    }

    /// Adds an `error` listener: connection refused or reset, name not
    /// found, a malformed response, or the connection closing early
    /// ("socket hang up"). [`Error::kind`] tells which.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// req.on_error(|e| eprintln!("problem with request: {e}"));
    /// # }
    /// ```
    pub fn on_error(&self, f: impl FnMut(&Error) + 'static) -> &Self {
        self.add(|l| l.error.push(Box::new(f)));
        self
    }

    /// Adds a `drain` listener (after `write` returned `false`).
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// req.on_drain(|| println!("write more"));
    /// # }
    /// ```
    pub fn on_drain(&self, f: impl FnMut() + 'static) -> &Self {
        self.add(|l| l.drain.push(Box::new(f)));
        self
    }

    /// Adds a `continue` listener: the server sent `100 Continue`.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// req.on_continue(move || req.end("the body"));
    /// # }
    /// ```
    pub fn on_continue(&self, f: impl FnMut() + 'static) -> &Self {
        self.add(|l| l.continue_.push(Box::new(f)));
        self
    }

    /// Adds an `upgrade` listener: the server switched protocols (101); the
    /// socket and the bytes after the head are yours. Without a listener
    /// the connection is closed.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// req.on_upgrade(|_res, socket, _head| socket.end("bye"));
    /// # }
    /// ```
    pub fn on_upgrade(&self, f: impl FnMut(ClientResponse, Socket, &[u8]) + 'static) -> &Self {
        self.add(|l| l.upgrade.push(Box::new(f)));
        self
    }

    fn add(&self, f: impl FnOnce(&mut ClientListeners)) {
        with_state(|c| {
            if let Some(e) = c.clients.get_mut(self.id) {
                f(&mut e.listeners);
            }
        });
    }
}

/// Serializes the request line and headers, deciding the framing.
fn write_request_head(e: &mut ClientExchange, out: &mut Vec<u8>, end_len: Option<usize>) {
    let Some(o) = &e.options else { return };
    out.extend_from_slice(o.method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(o.path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let has = |name: &str| {
        e.set_headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    };
    if !has("host") {
        out.extend_from_slice(b"Host: ");
        out.extend_from_slice(o.host.as_bytes());
        if o.port != 80 {
            out.push(b':');
            encode::write_decimal(out, u64::from(o.port));
        }
        out.extend_from_slice(b"\r\n");
    }
    let mut length = None;
    let mut chunked_by_user = false;
    for (n, values) in &e.set_headers {
        for v in values {
            if n.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse::<u64>().ok();
            }
            if n.eq_ignore_ascii_case("transfer-encoding")
                && v.to_ascii_lowercase().contains("chunked")
            {
                chunked_by_user = true;
            }
            encode::write_header(out, n, v);
        }
    }
    // GET, HEAD, DELETE, OPTIONS, TRACE and CONNECT have no body unless
    // one is written (Node's useChunkedEncodingByDefault).
    let bodiless_method = ["GET", "HEAD", "DELETE", "OPTIONS", "TRACE", "CONNECT"]
        .iter()
        .any(|m| o.method.eq_ignore_ascii_case(m));
    e.framing = if chunked_by_user {
        Framing::Chunked
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        match end_len {
            Some(0) if bodiless_method => Framing::NoBody,
            Some(n) => {
                out.extend_from_slice(b"Content-Length: ");
                encode::write_decimal(out, n as u64);
                out.extend_from_slice(b"\r\n");
                Framing::Length(n as u64)
            }
            None => {
                out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
                Framing::Chunked
            }
        }
    };
    if !o.agent && !has("connection") {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    e.head_sent = true;
}

/// `drain` for the request on a client socket.
fn emit_request_drain(sock: SockId) {
    let ex = with_state(|c| {
        c.conns
            .get(sock)
            .and_then(|conn| conn.ex)
            .filter(|ex| c.clients.get(*ex).is_some())
    })
    .flatten();
    if let Some(ex) = ex {
        let wanted = with_state(|c| {
            c.clients
                .get_mut(ex)
                .map(|e| std::mem::take(&mut e.need_drain))
        })
        .flatten()
        .unwrap_or(false);
        if wanted {
            emit(ex, |l| &mut l.drain, |f| f());
        }
    }
}

// ------------------------------------------------------ response methods

impl ClientResponse {
    fn read<R: Default>(&self, f: impl FnOnce(&ClientExchange) -> R) -> R {
        with_state(|c| c.clients.get(self.id).map(f))
            .flatten()
            .unwrap_or_default()
    }

    /// The status code, e.g. `404`.
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ClientResponse) {
    /// if res.status_code() == 200 { /* ... */ }
    /// # }
    /// ```
    pub fn status_code(&self) -> u16 {
        self.read(|e| e.parsed.status)
    }

    /// The server's HTTP version, `"1.1"` or `"1.0"`.
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ClientResponse) {
    /// println!("HTTP/{}", res.http_version());
    /// # }
    /// ```
    pub fn http_version(&self) -> String {
        format!("1.{}", self.read(|e| e.parsed.version_minor))
    }

    /// The response headers, with the same rules as the server's
    /// `req.headers()`.
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ClientResponse) {
    /// println!("{:?}", res.headers().get("content-type"));
    /// # }
    /// ```
    pub fn headers(&self) -> Headers {
        self.read(|e| Headers::from_fields(&e.res_head, &e.parsed.headers))
    }

    /// The trailers of a chunked body; empty until `end`.
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ClientResponse) {
    /// res.on_end(move || println!("{:?}", res.trailers()));
    /// # }
    /// ```
    pub fn trailers(&self) -> Headers {
        self.read(|e| e.trailers.clone().unwrap_or_default())
    }

    /// Makes `data` events carry decoded text.
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ClientResponse) {
    /// res.set_encoding(nodelike::Encoding::Utf8);
    /// # }
    /// ```
    pub fn set_encoding(&self, encoding: Encoding) {
        with_state(|c| {
            if let Some(e) = c.clients.get_mut(self.id) {
                e.decoder = Some(StringDecoder::new(encoding));
            }
        });
    }

    fn socket(&self) -> Option<Socket> {
        with_state(|c| c.clients.get(self.id).and_then(|e| e.socket))
            .flatten()
            .map(Socket::from_id)
    }

    /// Stops reading the connection until [`resume`](Self::resume).
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ClientResponse) {
    /// res.pause();
    /// nodelike::set_timeout(move || res.resume(), 100);
    /// # }
    /// ```
    pub fn pause(&self) {
        if let Some(s) = self.socket() {
            s.pause();
        }
    }

    /// Resumes a paused response.
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ClientResponse) {
    /// res.resume();
    /// # }
    /// ```
    pub fn resume(&self) {
        if let Some(s) = self.socket() {
            s.resume();
        }
    }

    /// Adds a `data` listener.
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ClientResponse) {
    /// res.on_data(|chunk| print!("{chunk}"));
    /// # }
    /// ```
    pub fn on_data(&self, f: impl FnMut(Chunk<'_>) + 'static) {
        self.add(|l| l.data.push(Box::new(f)));
    }

    /// Adds an `end` listener: the whole body arrived.
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ClientResponse) {
    /// res.on_end(|| println!("done"));
    /// # }
    /// ```
    pub fn on_end(&self, f: impl FnMut() + 'static) {
        self.add(|l| l.end.push(Box::new(f)));
    }

    /// Adds a `close` listener: the response is over, complete (after
    /// `end`) or cut off (the request's `error` says why).
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ClientResponse) {
    /// res.on_close(|| println!("closed"));
    /// # }
    /// ```
    pub fn on_close(&self, f: impl FnMut() + 'static) {
        self.add(|l| l.res_close.push(Box::new(f)));
    }

    /// Whether the whole body arrived (Node's `message.complete`).
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ClientResponse) {
    /// res.on_close(move || if !res.complete() { eprintln!("cut short") });
    /// # }
    /// ```
    pub fn complete(&self) -> bool {
        with_state(|c| c.clients.get(self.id).map(|e| e.res_complete))
            .flatten()
            .unwrap_or(true)
    }

    fn add(&self, f: impl FnOnce(&mut ClientListeners)) {
        with_state(|c| {
            if let Some(e) = c.clients.get_mut(self.id) {
                f(&mut e.listeners);
            }
        });
    }
}
