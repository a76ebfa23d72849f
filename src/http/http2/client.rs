//! Node's `http2` core client API: [`connect`] opens a
//! [`ClientHttp2Session`] (one connection, h2c with prior knowledge or TLS
//! with ALPN `h2`), whose [`request`](ClientHttp2Session::request) opens a
//! [`ClientHttp2Stream`].
//!
//! The protocol is the sans-IO core ([`h2::Connection`], client role); this
//! file is its I/O glue, the client twin of `http/server/h2.rs`: a
//! `net::Protocol` feeds the socket's bytes to the core, maps its events to
//! the handles' listeners, and turns the handles' calls into frames. State
//! lives in one thread-local (sessions and streams in arenas, the session of
//! each socket in a `PerSocket` table); it is examined and changed inside
//! `with_state`, and user callbacks run outside it.
//!
//! Flow control is back-pressure both ways: a stream's received DATA is
//! credited back to the server only once its `data` listeners have it, and
//! not while the stream is [paused](ClientHttp2Stream::pause); what we send
//! waits in the stream's queue until the server's windows open, and
//! [`write`](ClientHttp2Stream::write) says `false` (then `drain`) when that
//! queue is past the high-water mark.

use crate::http::h2::is_connection_specific;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::chunk::{Chunk, IntoChunk};
use crate::http::h2::{self, Config, ErrorCode, Event, Settings};
use crate::http::{HeaderList, Headers};
use crate::net::{self, Cause, PerSocket, SockId, HIGH_WATER_MARK};
use crate::runtime::arena::{Arena, Id};
use crate::runtime::listeners::{self, Listeners};
use crate::runtime::{self, Work};
use crate::{Error, ErrorKind};

/// Options of [`connect`] (Node's `http2.connect(authority, options)`).
///
/// ```
/// let options = nodelike::http2::ClientSessionOptions::default();
/// assert_eq!(options.settings.initial_window_size, 256 * 1024);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ClientSessionOptions {
    /// The settings we advertise and the limits we hold the server to
    /// (Node's `settings`, `maxHeaderListPairs`-style limits).
    pub settings: Config,
    /// TLS options for an `https://` authority (Node's `ca`, `cert`,
    /// `key`, `servername`, `rejectUnauthorized`). ALPN offers `h2`.
    #[cfg(feature = "tls")]
    pub tls: crate::net::tls::ClientTlsOptions,
}

/// An HTTP/2 client session: one connection to one server, carrying
/// streams in parallel (Node's `ClientHttp2Session`). A cheap `Copy`
/// handle; its methods do nothing once the session is closed.
///
/// ```no_run
/// use nodelike::http2;
/// let session = http2::connect("http://127.0.0.1:8080", Default::default());
/// session.on_error(|e| eprintln!("session: {e}"));
/// let req = session.request(&[(":path", "/")]);
/// req.on_response(|headers| println!("status {:?}", headers.get(":status")));
/// req.on_data(|chunk| print!("{chunk}"));
/// req.on_end(move || session.close());
/// nodelike::run();
/// ```
#[doc(alias = "Http2Session")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientHttp2Session {
    id: Id,
}

/// One request and its response on a [`ClientHttp2Session`] (Node's
/// `ClientHttp2Stream`): a duplex, writing the request body and reading
/// the response's. A cheap `Copy` handle.
///
/// ```no_run
/// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
/// let req = session.request(&[(":method", "POST"), (":path", "/upload")]);
/// req.on_response(|h| println!("{:?}", h.get(":status")));
/// req.on_close(|| println!("done"));
/// req.end("payload");
/// ```
#[doc(alias = "Http2Stream")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientHttp2Stream {
    id: Id,
}

/// Opens an HTTP/2 session to `authority` (Node's `http2.connect`):
/// `http://host:port` speaks h2c with prior knowledge, `https://host:port`
/// TLS with ALPN `h2` (a server that does not choose `h2` fails the
/// session with `ERR_HTTP2_ERROR`). Requests may be made at once; they go
/// out when the connection is up. A failure (a refused connect, a bad
/// authority, a TLS refusal) is the session's `error`, then `close`. The
/// session keeps the loop alive until it is closed (as in Node; see
/// [`ClientHttp2Session::unref`]).
///
/// ```no_run
/// use nodelike::http2;
/// // Over TLS: `connect("https://localhost:8443", ClientSessionOptions {
/// // tls: https::ClientTlsOptions { ca: Some(..), .. }, .. })`.
/// let session = http2::connect("http://localhost:8080", Default::default());
/// session.on_connect(|| println!("connected"));
/// let req = session.request(&[(":path", "/")]);
/// req.on_end(move || session.close());
/// nodelike::run();
/// ```
#[doc(alias = "http2.connect")]
pub fn connect(authority: &str, options: ClientSessionOptions) -> ClientHttp2Session {
    let (id, sock) = open_session(authority, options);
    if let Err(e) = sock {
        // Reported on a later turn, as Node reports a failed connect.
        runtime::next_tick(move || fail_unopened(id, e));
    }
    ClientHttp2Session { id }
}

// ---- state ----

struct State {
    sessions: Arena<Option<SessionRec>>,
    streams: Arena<Option<StreamRec>>,
    by_socket: PerSocket<Id>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State {
        sessions: Arena::new(),
        streams: Arena::new(),
        by_socket: PerSocket::default(),
    });
}

/// Runs `f` with the state borrowed; `f` may call `net` and the runtime,
/// never user code.
fn with_state<R>(f: impl FnOnce(&mut State) -> R) -> Option<R> {
    STATE
        .try_with(|cell| {
            let mut st = cell.try_borrow_mut().expect(
                "nodelike: the HTTP/2 client state was entered re-entrantly (a bug in nodelike)",
            );
            f(&mut st)
        })
        .ok()
}

impl State {
    fn session(&mut self, id: Id) -> Option<&mut SessionRec> {
        self.sessions.get_mut(id).and_then(Option::as_mut)
    }

    fn stream(&mut self, id: Id) -> Option<&mut StreamRec> {
        self.streams.get_mut(id).and_then(Option::as_mut)
    }
}

/// The HTTP/2 client protocol, as `net` calls it.
static PROTOCOL: net::Protocol = net::Protocol {
    name: "http2-client",
    input: process_input,
    eof: |id| net::destroy(id, Cause::Aborted),
    flushed: after_flush,
    drain: |id| emit_drains_of_socket(id),
    connected: on_connected,
    closed: on_socket_closed,
    failed: on_failed,
    secured: on_secured,
    timeout: on_socket_idle,
};

/// Streams opened before the server's SETTINGS say how many it takes
/// (Node's `peerMaxConcurrentStreams` default).
const PEER_STREAMS_ASSUMED: usize = 100;

/// Where a session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Resolving, connecting, or in the TLS handshake.
    Connecting,
    /// The preface is sent; streams come and go.
    Ready,
    /// `destroy()`, a connection error, or the socket went: nothing more is
    /// read or written.
    Done,
}

type PingCallback = Box<dyn FnOnce(Result<Duration, Error>)>;

/// A callback of [`ClientHttp2Session::update_settings`].
type SettingsCallback = Box<dyn FnOnce(Result<(Settings, Duration), Error>)>;

/// One SETTINGS frame of ours awaiting the server's ACK, and who waits
/// for it. The first is the one the connection opens with; changes asked
/// for before it went out ride on it.
struct SettingsWaiter {
    sent: Instant,
    callbacks: Vec<SettingsCallback>,
}

/// A `goaway` listener: the code, the last stream id, the debug data.
type GoawayListener = dyn FnMut(ErrorCode, u32, &[u8]);

#[derive(Default)]
struct SessionListeners {
    connect: Listeners<dyn FnMut()>,
    error: Listeners<dyn FnMut(&Error)>,
    close: Listeners<dyn FnMut()>,
    goaway: Listeners<GoawayListener>,
    remote_settings: Listeners<dyn FnMut(&Settings)>,
    local_settings: Listeners<dyn FnMut(&Settings)>,
    timeout: Listeners<dyn FnMut()>,
}

struct SessionRec {
    sock: Option<SockId>,
    core: h2::Connection,
    phase: Phase,
    tls: bool,
    /// `:scheme` and `:authority` of requests that do not set them.
    scheme: &'static str,
    authority: String,
    /// `close()` was called, or the server's GOAWAY came: no new streams;
    /// GOAWAY and the socket's end once the streams are done.
    closing: bool,
    /// The server sent GOAWAY: waiting streams will never open.
    goaway_received: bool,
    /// `destroy()` was called: streams close without an error.
    destroyed_by_user: bool,
    /// The server's first SETTINGS came: until then at most
    /// [`PEER_STREAMS_ASSUMED`] streams are opened (Node's
    /// `peerMaxConcurrentStreams`).
    settings_seen: bool,
    /// Close the socket once its output is flushed.
    close_after_flush: bool,
    /// Streams with an id.
    open: Vec<(u32, Id)>,
    /// Streams not yet opened (before the connection is up, or at the
    /// server's concurrency limit), in request order.
    waiting: VecDeque<Id>,
    pings: VecDeque<([u8; 8], Instant, Option<PingCallback>)>,
    ping_seq: u64,
    /// Our SETTINGS frames awaiting the server's ACK, oldest first (ACKs
    /// come in order, RFC 9113 §6.5.3).
    settings_waiters: VecDeque<SettingsWaiter>,
    /// The first error, reported at close.
    error: Option<Error>,
    /// Ticks the core once a second while the connection is up (flood
    /// counters, the SETTINGS-ack timeout); unref'd, cleared at close.
    ticker: Option<runtime::Timer>,
    listeners: SessionListeners,
}

#[derive(Default)]
struct StreamListeners {
    response: Listeners<dyn FnMut(&Headers)>,
    data: Listeners<dyn FnMut(Chunk<'_>)>,
    end: Listeners<dyn FnMut()>,
    trailers: Listeners<dyn FnMut(&Headers)>,
    error: Listeners<dyn FnMut(&Error)>,
    close: Listeners<dyn FnMut()>,
    drain: Listeners<dyn FnMut()>,
    headers: Listeners<dyn FnMut(&Headers)>,
    timeout: Listeners<dyn FnMut()>,
}

struct StreamRec {
    session: Id,
    /// 0 until the HEADERS went out.
    sid: u32,
    /// The request head (names lowercased), kept until the response
    /// comes: a stream the server refuses (REFUSED_STREAM, which promises
    /// it did nothing with it) is opened again.
    head: Vec<(Vec<u8>, Vec<u8>)>,
    /// Body bytes went out (a refused stream is retried only if not).
    body_sent: bool,
    /// Bytes written and not yet sent (windows closed, or not open yet).
    pending_out: Vec<u8>,
    /// `end()` (or `send_trailers`) was called.
    ended: bool,
    trailers_out: Option<Vec<(Vec<u8>, Vec<u8>)>>,
    /// END_STREAM (or trailers) went out.
    local_done: bool,
    need_drain: bool,
    paused: bool,
    /// DATA held while paused (its window not given back).
    held: Vec<u8>,
    /// The end came while paused.
    held_end: bool,
    /// Trailers that came while paused (emitted before the end).
    held_trailers: Option<Headers>,
    /// The stream closed cleanly while its end was held.
    close_after_end: bool,
    /// `on_end` was emitted.
    remote_done: bool,
    rst_code: Option<ErrorCode>,
    closed: bool,
    /// [`ClientHttp2Stream::set_timeout`]: the idle time, when a frame of
    /// the stream last went or came, and the timer that checks (lazily:
    /// activity only moves `active_at`, the timer re-arms itself).
    timeout: Option<Duration>,
    active_at: Instant,
    timer: Option<runtime::Timer>,
    listeners: StreamListeners,
}

// ---- opening ----

/// Parses `authority` and starts the connection; returns the session and
/// the socket (or why there is none).
fn open_session(authority: &str, options: ClientSessionOptions) -> (Id, Result<SockId, Error>) {
    let parsed = parse_authority(authority);
    let (tls, host, port) = match &parsed {
        Ok(p) => p.clone(),
        Err(_) => (false, String::new(), 0),
    };
    let now = runtime::now();
    let id = with_state(|st| {
        let (id, slot) = st.sessions.insert();
        *slot = Some(SessionRec {
            sock: None,
            core: h2::Connection::new(h2::Role::Client, options.settings),
            phase: Phase::Connecting,
            tls,
            scheme: if tls { "https" } else { "http" },
            authority: authority_field(&host, port, tls),
            closing: false,
            goaway_received: false,
            destroyed_by_user: false,
            settings_seen: false,
            close_after_flush: false,
            open: Vec::new(),
            waiting: VecDeque::new(),
            pings: VecDeque::new(),
            ping_seq: 0,
            settings_waiters: VecDeque::from([SettingsWaiter {
                sent: now,
                callbacks: Vec::new(),
            }]),
            error: None,
            ticker: None,
            listeners: SessionListeners::default(),
        });
        id
    })
    .expect("nodelike: no HTTP/2 client state on this thread");
    if let Err(e) = parsed {
        return (id, Err(e));
    }
    let sock = net::open_unattached(net::Open {
        protocol: &PROTOCOL,
        idle_timeout: None,
        connecting: true,
        unref: false,
    });
    with_state(|st| {
        st.by_socket.insert(sock, id);
        if let Some(s) = st.session(id) {
            s.sock = Some(sock);
        }
    });
    let bare = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let literal = if bare.eq_ignore_ascii_case("localhost") {
        Some(IpAddr::from([127, 0, 0, 1]))
    } else {
        bare.parse::<IpAddr>().ok()
    };
    #[cfg(feature = "tls")]
    let tls_options = tls.then(|| options.tls.clone());
    #[cfg(not(feature = "tls"))]
    let tls_options: Option<()> = None;
    if tls && tls_options.is_none() {
        fail_socket(
            sock,
            Error::new(ErrorKind::TlsConfig, "this build has no TLS").with_code("ERR_HTTP2_ERROR"),
        );
        return (id, Ok(sock));
    }
    match literal {
        Some(ip) => attach(sock, SocketAddr::new(ip, port), &bare, tls_options),
        None => {
            runtime::pool::queue_work(
                {
                    let bare = bare.clone();
                    move || {
                        (bare.as_str(), port)
                            .to_socket_addrs()
                            .map(|mut a| a.next())
                    }
                },
                move |found| {
                    if !net::is_open(sock) {
                        return;
                    }
                    let not_found =
                        || Error::new(ErrorKind::Dns, format!("getaddrinfo ENOTFOUND {bare}"));
                    match found {
                        Ok(Some(addr)) => attach(sock, addr, &bare, tls_options),
                        Ok(None) => fail_socket(sock, not_found()),
                        Err(e) => fail_socket(sock, not_found().with_source(e)),
                    }
                },
            );
        }
    }
    (id, Ok(sock))
}

#[cfg(feature = "tls")]
type TlsChoice = Option<crate::net::tls::ClientTlsOptions>;
#[cfg(not(feature = "tls"))]
type TlsChoice = Option<()>;

/// Starts the TCP (or TLS) connect to a known address.
fn attach(sock: SockId, addr: SocketAddr, host: &str, tls: TlsChoice) {
    let name = format!("{}:{}", addr.ip(), addr.port());
    #[cfg(feature = "tls")]
    let transport = match tls {
        Some(options) => {
            let server_name = options
                .servername
                .clone()
                .unwrap_or_else(|| host.to_owned());
            net::tls::client_tls_for(&options, net::tls::ClientAlpn::H2).and_then(|config| {
                let server_name =
                    rustls::pki_types::ServerName::try_from(server_name).map_err(|e| {
                        Error::new(
                            ErrorKind::InvalidHeader,
                            format!("invalid server name: {e}"),
                        )
                    })?;
                net::connect_tls(addr, config, server_name)
                    .map_err(|e| Error::syscall("connect", e, &name))
            })
        }
        None => net::connect_tcp(addr).map_err(|e| Error::syscall("connect", e, &name)),
    };
    #[cfg(not(feature = "tls"))]
    let transport = {
        let _ = (host, tls);
        net::connect_tcp(addr).map_err(|e| Error::syscall("connect", e, &name))
    };
    match transport {
        Ok(t) => {
            if let Err(e) = net::attach(sock, t, Some(addr)) {
                fail_socket(sock, Error::syscall("connect", e, &name));
            }
        }
        Err(e) => fail_socket(sock, e),
    }
}

/// `http://host:port` or `https://host:port` → (tls, host, port).
fn parse_authority(authority: &str) -> Result<(bool, String, u16), Error> {
    let invalid = || {
        Error::new(ErrorKind::Parse, format!("Invalid URL: {authority}"))
            .with_code("ERR_INVALID_URL")
    };
    let (tls, rest) = if let Some(rest) = authority.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = authority.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(invalid());
    };
    let hostport = rest.split(['/', '?', '#']).next().unwrap_or("");
    let (host, port) = if let Some(end) = hostport.strip_prefix('[').and_then(|h| h.find(']')) {
        let host = &hostport[..end + 2];
        let port = hostport[end + 2..].strip_prefix(':');
        (host, port)
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err(invalid());
    }
    let port = match port {
        Some(p) => p.parse::<u16>().map_err(|_| invalid())?,
        None if tls => 443,
        None => 80,
    };
    Ok((tls, host.to_owned(), port))
}

/// The `:authority` requests carry by default: `host:port`, the port left
/// out when it is the scheme's default.
fn authority_field(host: &str, port: u16, tls: bool) -> String {
    if (tls && port == 443) || (!tls && port == 80) {
        host.to_owned()
    } else {
        format!("{host}:{port}")
    }
}

/// The socket could not be made at all (a bad authority).
fn fail_unopened(id: Id, e: Error) {
    with_state(|st| {
        if let Some(s) = st.session(id) {
            s.error.get_or_insert(e);
            s.phase = Phase::Done;
        }
    });
    close_session(id);
}

/// Fails the session of `sock` with `e`; the socket closes, then the
/// session (`error`, then `close`).
fn fail_socket(sock: SockId, e: Error) {
    log::debug!("http2 client: socket {}: {e}", sock.key);
    with_state(|st| {
        if let Some(id) = st.by_socket.get(sock).copied() {
            if let Some(s) = st.session(id) {
                s.error.get_or_insert(e);
                s.phase = Phase::Done;
            }
        }
    });
    net::destroy(sock, Cause::Error);
}

fn session_of(st: &State, sock: SockId) -> Option<Id> {
    st.by_socket.get(sock).copied()
}

/// The TCP connect finished: for h2c the session is up; under TLS it waits
/// for the handshake.
fn on_connected(sock: SockId, result: std::io::Result<()>) {
    match result {
        Ok(()) => {
            let tls = with_state(|st| {
                let id = session_of(st, sock)?;
                Some(st.session(id)?.tls)
            })
            .flatten();
            if tls == Some(false) {
                ready(sock);
            }
        }
        Err(e) => {
            let address = net::Socket::from_id(sock)
                .remote_address()
                .map(|a| format!("{}:{}", a.ip(), a.port()))
                .unwrap_or_default();
            fail_socket(sock, Error::syscall("connect", e, &address));
        }
    }
}

/// The TLS handshake finished: the session is up if the server chose `h2`.
fn on_secured(sock: SockId) {
    #[cfg(feature = "tls")]
    let alpn = net::Socket::from_id(sock).alpn_protocol();
    // Without TLS support no session is ever secured; kept for the table.
    #[cfg(not(feature = "tls"))]
    let alpn: Option<String> = None;
    if alpn.as_deref() == Some("h2") {
        ready(sock);
    } else {
        fail_socket(sock, not_h2(alpn.as_deref()));
    }
}

/// The session's error when the server does not choose `h2` by ALPN.
fn not_h2(chosen: Option<&str>) -> Error {
    Error::new(
        ErrorKind::Parse,
        format!(
            "Protocol error: the server does not speak HTTP/2 (ALPN chose {})",
            chosen.unwrap_or("nothing")
        ),
    )
    .with_code("ERR_HTTP2_ERROR")
}

/// Reading failed: a TLS refusal gets Node's code and words.
fn on_failed(sock: SockId, e: &std::io::Error) {
    #[cfg(feature = "tls")]
    if let Some(err) = net::tls::handshake_error(e, net::tls::Role::Client) {
        // A server that refuses our ALPN offer (`h2` only) with an alert,
        // as rustls does, is one that does not speak HTTP/2.
        let refused_alpn = e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<net::tls::TlsFailure>())
            .map(|f| f.0.clone())
            .filter(|r| {
                matches!(
                    r,
                    rustls::Error::AlertReceived(rustls::AlertDescription::NoApplicationProtocol)
                )
            });
        if let Some(cause) = refused_alpn {
            fail_socket(sock, not_h2(None).with_cause(cause));
            return;
        }
        fail_socket(sock, err);
        return;
    }
    let copy = std::io::Error::new(e.kind(), e.to_string());
    fail_socket(sock, Error::syscall("read", copy, ""));
}

/// The connection is up: the preface and SETTINGS go out, waiting streams
/// open, and `connect` is emitted.
fn ready(sock: SockId) {
    let id = with_state(|st| {
        let id = session_of(st, sock)?;
        let s = st.session(id)?;
        if s.phase != Phase::Connecting {
            return None;
        }
        s.phase = Phase::Ready;
        let core = &mut s.core;
        net::write_with(sock, |out| core.start(out));
        if let Some(first) = s.settings_waiters.front_mut() {
            first.sent = runtime::now();
        }
        s.ticker = Some(runtime::set_interval(move || tick_session(id), 1000).unref());
        send_pings(s, sock);
        open_waiting(st, id);
        Some(id)
    })
    .flatten();
    if let Some(id) = id {
        emit_session(id, |l| &mut l.connect, |f| f());
        kick(sock);
    }
}

// ---- streams out ----

/// Opens as many waiting streams as the server allows.
fn open_waiting(st: &mut State, id: Id) {
    let State {
        sessions, streams, ..
    } = st;
    let Some(s) = sessions.get_mut(id).and_then(Option::as_mut) else {
        return;
    };
    let Some(sock) = s.sock else { return };
    if s.phase != Phase::Ready || s.goaway_received {
        return;
    }
    while let Some(&sid) = s.waiting.front() {
        if !s.settings_seen && s.open.len() >= PEER_STREAMS_ASSUMED {
            return;
        }
        let Some(r) = streams.get_mut(sid).and_then(Option::as_mut) else {
            s.waiting.pop_front();
            continue;
        };
        let end_now = r.ended && r.pending_out.is_empty() && r.trailers_out.is_none();
        let core = &mut s.core;
        let head = &r.head;
        let mut result = None;
        net::write_with(sock, |out| {
            result =
                Some(core.open_stream(head.iter().map(|(n, v)| (&n[..], &v[..])), end_now, out));
        });
        match result {
            Some(Ok(stream)) => {
                s.waiting.pop_front();
                r.active_at = runtime::now();
                r.sid = stream;
                r.local_done = end_now;
                s.open.push((stream, sid));
                if !r.pending_out.is_empty() || (r.ended && !r.local_done) {
                    push_body(s, r, sock);
                }
            }
            // At the server's limit: wait for one of ours to close (with
            // none open, the refusal is for good: ids ran out). After a
            // GOAWAY of ours no stream will ever open: fail at once.
            Some(Err(e))
                if e.code() == ErrorCode::RefusedStream
                    && !s.open.is_empty()
                    && !going_away(&s.core) =>
            {
                return
            }
            Some(Err(e)) => {
                log::debug!("http2 client: cannot open a stream: {e}");
                s.waiting.pop_front();
                r.rst_code = Some(e.code());
                let err = if going_away(&s.core) {
                    Error::new(
                        ErrorKind::Aborted,
                        "New streams cannot be created after a GOAWAY",
                    )
                    .with_code("ERR_HTTP2_GOAWAY_SESSION")
                } else {
                    Error::new(ErrorKind::Aborted, format!("the stream cannot open: {e}"))
                        .with_code("ERR_HTTP2_STREAM_CANCEL")
                };
                fail_stream_soon(sid, err);
            }
            None => return,
        }
    }
}

/// Whether a GOAWAY went either way on this connection: it opens no
/// stream again.
fn going_away(core: &h2::Connection) -> bool {
    matches!(core.state(), h2::ConnState::GoingAway { .. })
}

/// Sends what `pending_out` holds as far as the windows allow; once the
/// stream has ended and all of it went, the trailers or END_STREAM.
fn push_body(s: &mut SessionRec, r: &mut StreamRec, sock: SockId) {
    if r.sid == 0 || r.local_done {
        return;
    }
    let ended = r.ended;
    let trailers = r.trailers_out.is_some();
    let core = &mut s.core;
    let pending = &mut r.pending_out;
    let stream = r.sid;
    let mut result = Ok(0);
    net::write_with(sock, |out| {
        result = core.send_data(stream, pending, ended && !trailers, out);
    });
    match result {
        Ok(n) => {
            r.body_sent |= n > 0;
            if n > 0 || (ended && !trailers) {
                r.active_at = runtime::now();
            }
            pending.drain(..n.min(pending.len()));
        }
        Err(e) => {
            log::debug!("http2 client: stream {stream}: {e}");
            pending.clear();
            r.local_done = true;
            return;
        }
    }
    if ended && r.pending_out.is_empty() {
        if let Some(fields) = r.trailers_out.take() {
            r.active_at = runtime::now();
            net::write_with(sock, |out| {
                if let Err(e) =
                    core.send_trailers(stream, fields.iter().map(|(n, v)| (&n[..], &v[..])), out)
                {
                    log::debug!("http2 client: stream {stream}: {e}");
                }
            });
        }
        r.local_done = true;
    }
}

/// Polls the core with no input on a later turn: events owed by a send
/// (a stream closed by our END_STREAM) come then.
fn kick(sock: SockId) {
    runtime::defer(Work::new(kick_ctx, sock.ctx()));
}

fn kick_ctx(ctx: u64) {
    let sock = SockId::from_ctx(ctx);
    if net::is_open(sock) {
        process_input(sock, &[]);
    }
}

/// Stream `id` fails with `e` on a later turn (`error`, then `close`).
fn fail_stream_soon(id: Id, e: Error) {
    runtime::next_tick(move || {
        emit_stream(id, |l| &mut l.error, |f| f(&e));
        close_stream(id);
    });
}

// ---- input ----

/// What the core found next, with the handles it concerns.
enum Step<'a> {
    Stop(usize),
    DiscardAll,
    Skip(usize),
    Response {
        stream: Id,
        headers: Headers,
        end_stream: bool,
        len: usize,
    },
    /// A 1xx head (100 Continue, 103 Early Hints).
    Informational {
        stream: Id,
        headers: Headers,
        len: usize,
    },
    Data {
        sid: u32,
        stream: Option<Id>,
        data: &'a [u8],
        end_stream: bool,
        len: usize,
    },
    Trailers {
        stream: Id,
        headers: Headers,
        len: usize,
    },
    Reset {
        stream: Id,
        code: ErrorCode,
        by_peer: bool,
        len: usize,
    },
    Closed {
        stream: Id,
        len: usize,
    },
    WindowOpened(usize),
    /// A refused stream went back to the waiting queue.
    Requeued(usize),
    Settings(usize, Settings),
    /// The server acknowledged a SETTINGS of ours.
    LocalSettings {
        len: usize,
        settings: Settings,
        callbacks: Vec<SettingsCallback>,
        rtt: Duration,
    },
    Ping(usize, Option<PingCallback>, Duration),
    GoAway {
        session: Id,
        code: ErrorCode,
        last: u32,
        debug: Vec<u8>,
        len: usize,
    },
    Fatal,
}

/// Feeds the core the socket's bytes and dispatches its events; returns
/// the bytes consumed.
fn process_input(sock: SockId, data: &[u8]) -> usize {
    let mut pos = 0;
    loop {
        match net::read_state(sock) {
            Some(s) if !s.destroyed => {}
            _ => return data.len(),
        }
        let step = with_state(|st| next_step(st, sock, &data[pos..])).unwrap_or(Step::DiscardAll);
        match step {
            Step::Stop(n) => return pos + n,
            Step::DiscardAll => return data.len(),
            Step::Skip(n) => pos += n,
            Step::Response {
                stream,
                headers,
                end_stream,
                len,
            } => {
                pos += len;
                emit_stream(stream, |l| &mut l.response, |f| f(&headers));
                if end_stream {
                    remote_end(stream);
                }
            }
            Step::Informational {
                stream,
                headers,
                len,
            } => {
                pos += len;
                emit_stream(stream, |l| &mut l.headers, |f| f(&headers));
            }
            Step::Data {
                sid,
                stream,
                data: chunk,
                end_stream,
                len,
            } => {
                pos += len;
                if let Some(stream) = stream {
                    if hold_if_paused(stream, chunk, end_stream) {
                        continue;
                    }
                    if !chunk.is_empty() {
                        emit_stream(stream, |l| &mut l.data, |f| f(Chunk::Bytes(chunk)));
                    }
                }
                release(sock, sid, chunk.len());
                if let (Some(stream), true) = (stream, end_stream) {
                    remote_end(stream);
                }
            }
            Step::Trailers {
                stream,
                headers,
                len,
            } => {
                pos += len;
                // Paused: they wait behind the held body.
                let headers = with_state(|st| match st.stream(stream) {
                    Some(r) if r.paused => {
                        r.held_trailers = Some(headers);
                        r.held_end = true;
                        None
                    }
                    _ => Some(headers),
                })
                .flatten();
                if let Some(headers) = headers {
                    emit_stream(stream, |l| &mut l.trailers, |f| f(&headers));
                    remote_end(stream);
                }
            }
            Step::Reset {
                stream,
                code,
                by_peer,
                len,
            } => {
                pos += len;
                on_reset(stream, code, by_peer);
            }
            Step::Closed { stream, len } => {
                pos += len;
                let held = with_state(|st| {
                    let r = st.stream(stream)?;
                    if r.held_end || !r.held.is_empty() {
                        r.close_after_end = true;
                        return Some(true);
                    }
                    Some(false)
                })
                .flatten();
                if held == Some(false) {
                    close_stream(stream);
                }
            }
            Step::WindowOpened(len) => {
                pos += len;
                flush_blocked(sock);
                emit_drains_of_socket(sock);
            }
            Step::Requeued(len) => {
                pos += len;
                with_state(|st| {
                    if let Some(id) = session_of(st, sock) {
                        open_waiting(st, id);
                    }
                });
            }
            Step::Settings(len, settings) => {
                pos += len;
                let id = with_state(|st| {
                    let id = session_of(st, sock)?;
                    open_waiting(st, id);
                    Some(id)
                })
                .flatten();
                flush_blocked(sock);
                if let Some(id) = id {
                    emit_session(id, |l| &mut l.remote_settings, |f| f(&settings));
                }
                emit_drains_of_socket(sock);
            }
            Step::LocalSettings {
                len,
                settings,
                callbacks,
                rtt,
            } => {
                pos += len;
                let id = with_state(|st| session_of(st, sock)).flatten();
                if let Some(id) = id {
                    emit_session(id, |l| &mut l.local_settings, |f| f(&settings));
                }
                for cb in callbacks {
                    cb(Ok((settings, rtt)));
                }
            }
            Step::Ping(len, cb, rtt) => {
                pos += len;
                if let Some(cb) = cb {
                    cb(Ok(rtt));
                }
            }
            Step::GoAway {
                session,
                code,
                last,
                debug,
                len,
            } => {
                pos += len;
                emit_session(session, |l| &mut l.goaway, |f| f(code, last, &debug));
                if code != ErrorCode::NoError {
                    with_state(|st| {
                        if let Some(s) = st.session(session) {
                            s.error.get_or_insert(
                                Error::new(
                                    ErrorKind::ConnectionReset,
                                    format!("Session closed with error code {}", node_code(code)),
                                )
                                .with_code("ERR_HTTP2_SESSION_ERROR"),
                            );
                        }
                    });
                }
                refuse_waiting(session);
                maybe_finish_close(session);
            }
            Step::Fatal => return data.len(),
        }
    }
}

fn next_step<'a>(st: &mut State, sock: SockId, input: &'a [u8]) -> Step<'a> {
    let Some(id) = session_of(st, sock) else {
        return Step::DiscardAll;
    };
    let State {
        sessions, streams, ..
    } = st;
    let Some(s) = sessions.get_mut(id).and_then(Option::as_mut) else {
        return Step::DiscardAll;
    };
    if s.phase != Phase::Ready {
        return Step::DiscardAll;
    }
    let now = runtime::now();
    let SessionRec {
        core,
        open,
        pings,
        waiting,
        error,
        phase,
        close_after_flush,
        closing,
        goaway_received,
        settings_seen,
        settings_waiters,
        ..
    } = s;
    let mut polled = None;
    let slot = &mut polled;
    if net::write_with(sock, |out| *slot = Some(core.poll(input, out))).is_none() {
        return Step::DiscardAll;
    }
    let Some(polled) = polled else {
        return Step::DiscardAll;
    };
    let (len, event) = match polled {
        Err(e) => {
            log::debug!("http2 client: socket {}: connection error: {e}", sock.key);
            error.get_or_insert(
                Error::new(ErrorKind::Parse, format!("Protocol error: {e}"))
                    .with_code("ERR_HTTP2_ERROR"),
            );
            *phase = Phase::Done;
            *close_after_flush = true;
            net::flush_soon(sock);
            return Step::Fatal;
        }
        Ok((n, None)) => return Step::Stop(n),
        Ok((n, Some(event))) => (n, event),
    };
    if let Event::Reset {
        stream,
        code,
        by_peer,
    } = &event
    {
        log::trace!("http2 client: stream {stream} reset ({code}, by peer: {by_peer})");
    }
    let find = |sid: u32| open.iter().find(|(s, _)| *s == sid).map(|&(_, id)| id);
    match event {
        Event::Headers {
            stream,
            fields,
            end_stream,
        } => {
            let Some(h) = find(stream) else {
                return Step::Skip(len);
            };
            let mut headers = Headers::new();
            for (n, v) in fields.iter() {
                headers.append_raw(n, v);
            }
            // An informational head (100, 103) is not the response (the
            // core never lets one end the stream).
            let informational = fields
                .get(b":status")
                .is_some_and(|v| v.first() == Some(&b'1'));
            if let Some(r) = streams.get_mut(h).and_then(Option::as_mut) {
                r.active_at = now;
                if !informational {
                    r.head = Vec::new();
                }
            }
            if informational {
                return Step::Informational {
                    stream: h,
                    headers,
                    len,
                };
            }
            Step::Response {
                stream: h,
                headers,
                end_stream,
                len,
            }
        }
        Event::Data {
            stream,
            data,
            end_stream,
        } => {
            let h = find(stream);
            if let Some(r) = h.and_then(|h| streams.get_mut(h)).and_then(Option::as_mut) {
                r.active_at = now;
            }
            Step::Data {
                sid: stream,
                stream: h,
                data,
                end_stream,
                len,
            }
        }
        Event::Trailers { stream, fields } => match find(stream) {
            Some(h) => {
                if let Some(r) = streams.get_mut(h).and_then(Option::as_mut) {
                    r.active_at = now;
                }
                let mut headers = Headers::new();
                for (n, v) in fields.iter() {
                    headers.append_raw(n, v);
                }
                Step::Trailers {
                    stream: h,
                    headers,
                    len,
                }
            }
            None => Step::Skip(len),
        },
        Event::Reset {
            stream,
            code,
            by_peer,
        } => {
            let h = find(stream);
            open.retain(|(s, _)| *s != stream);
            match h {
                Some(h) => {
                    if let Some(r) = streams.get_mut(h).and_then(Option::as_mut) {
                        let retry = code == ErrorCode::RefusedStream
                            && by_peer
                            && !*goaway_received
                            && !r.head.is_empty()
                            && !r.body_sent
                            && r.rst_code.is_none();
                        if retry {
                            // Refused before any processing (at the
                            // server's limit, before its SETTINGS came):
                            // it waits for a slot and goes again.
                            log::debug!("http2 client: stream {stream} refused; retried");
                            r.sid = 0;
                            r.local_done = false;
                            waiting.push_back(h);
                            return Step::Requeued(len);
                        }
                        r.rst_code = Some(code);
                        r.local_done = true;
                        r.pending_out.clear();
                    }
                    Step::Reset {
                        stream: h,
                        code,
                        by_peer,
                        len,
                    }
                }
                None => Step::Skip(len),
            }
        }
        Event::StreamClosed { stream } => {
            let h = find(stream);
            open.retain(|(s, _)| *s != stream);
            match h {
                Some(h) => {
                    if let Some(r) = streams.get_mut(h).and_then(Option::as_mut) {
                        r.rst_code.get_or_insert(ErrorCode::NoError);
                    }
                    Step::Closed { stream: h, len }
                }
                None => Step::Skip(len),
            }
        }
        Event::WindowOpened { .. } => Step::WindowOpened(len),
        Event::SettingsAcked => match settings_waiters.pop_front() {
            Some(w) => Step::LocalSettings {
                len,
                settings: *core.local_settings(),
                callbacks: w.callbacks,
                rtt: now.saturating_duration_since(w.sent),
            },
            None => Step::Skip(len),
        },
        Event::SettingsChanged => {
            *settings_seen = true;
            Step::Settings(len, *core.peer_settings())
        }
        Event::PingAck { payload } => match pings.iter().position(|(p, _, _)| *p == payload) {
            Some(i) => {
                let (_, at, cb) = pings.remove(i).unwrap_or((payload, now, None));
                Step::Ping(len, cb, now.saturating_duration_since(at))
            }
            None => Step::Skip(len),
        },
        Event::GoAway {
            last_stream_id,
            code,
            debug,
        } => {
            *closing = true;
            *goaway_received = true;
            Step::GoAway {
                session: id,
                code,
                last: last_stream_id,
                debug: debug.to_vec(),
                len,
            }
        }
    }
}

/// Gives `n` bytes of a stream's window back to the server.
fn release(sock: SockId, sid: u32, n: usize) {
    with_state(|st| {
        let id = session_of(st, sock)?;
        let s = st.session(id)?;
        let core = &mut s.core;
        net::write_with(sock, |out| core.release(sid, n, out));
        Some(())
    });
}

/// Keeps a paused stream's DATA (and whether its end came); whether it was
/// paused.
fn hold_if_paused(id: Id, data: &[u8], end_stream: bool) -> bool {
    with_state(|st| {
        let r = st.stream(id)?;
        if !r.paused {
            return Some(false);
        }
        r.held.extend_from_slice(data);
        r.held_end |= end_stream;
        Some(true)
    })
    .flatten()
    .unwrap_or(false)
}

/// The response is complete: `end` (once).
fn remote_end(id: Id) {
    let first = with_state(|st| {
        let r = st.stream(id)?;
        if r.remote_done {
            return Some(false);
        }
        if r.paused {
            r.held_end = true;
            return Some(false);
        }
        r.remote_done = true;
        Some(true)
    })
    .flatten()
    .unwrap_or(false);
    if first {
        emit_stream(id, |l| &mut l.end, |f| f());
    }
}

/// A stream was reset: with an error code, the stream's `error`; with
/// NO_ERROR, the end of the response as Node takes it (a server may reset
/// with NO_ERROR once its side is done, even before its END_STREAM went
/// out: Node's server does), after what is held if paused. Then `close`.
fn on_reset(id: Id, code: ErrorCode, by_peer: bool) {
    if code != ErrorCode::NoError {
        let who = if by_peer { "" } else { " (by us)" };
        let e = Error::new(
            ErrorKind::ConnectionReset,
            format!("Stream closed with error code {}{who}", node_code(code)),
        )
        .with_code("ERR_HTTP2_STREAM_ERROR");
        emit_stream(id, |l| &mut l.error, |f| f(&e));
        close_stream(id);
        return;
    }
    let paused = with_state(|st| {
        let r = st.stream(id)?;
        if r.paused || !r.held.is_empty() {
            r.held_end = !r.remote_done;
            r.close_after_end = true;
            return Some(true);
        }
        Some(false)
    })
    .flatten()
    .unwrap_or(false);
    if paused {
        return;
    }
    remote_end(id);
    close_stream(id);
}

/// Node's name of an error code (`NGHTTP2_CANCEL`).
fn node_code(code: ErrorCode) -> String {
    match code {
        ErrorCode::Unknown(n) => format!("{n}"),
        other => format!("NGHTTP2_{other}"),
    }
}

/// `close` for a stream (once), then its record goes; a closing session
/// may now finish, and a waiting stream may open.
fn close_stream(id: Id) {
    let session = with_state(|st| {
        let r = st.stream(id)?;
        if r.closed {
            return None;
        }
        r.closed = true;
        if let Some(t) = r.timer.take() {
            runtime::clear_timeout(t);
        }
        let session = r.session;
        let sid = r.sid;
        if let Some(s) = st.session(session) {
            s.open.retain(|&(_, h)| h != id);
            s.waiting.retain(|&h| h != id);
            if sid != 0 {
                if let Some(sock) = s.sock {
                    // Forgotten by the core already unless we are closing
                    // it early (then RST_STREAM CANCEL).
                    let core = &mut s.core;
                    if core.stream_state(sid) != h2::StreamState::Closed {
                        net::write_with(sock, |out| core.reset(sid, ErrorCode::Cancel, out));
                    }
                }
            }
        }
        Some(session)
    })
    .flatten();
    let Some(session) = session else { return };
    emit_stream(id, |l| &mut l.close, |f| f());
    with_state(|st| {
        if let Some(slot) = st.streams.get_mut(id) {
            let rec = slot.take();
            st.streams.remove(id);
            runtime::bury(rec);
        }
        open_waiting(st, session);
    });
    maybe_finish_close(session);
}

/// Streams that never opened when the server's GOAWAY came: they fail.
fn refuse_waiting(session: Id) {
    let waiting: Vec<Id> = with_state(|st| {
        st.session(session)
            .map(|s| s.waiting.drain(..).collect())
            .unwrap_or_default()
    })
    .unwrap_or_default();
    for id in waiting {
        let e = Error::new(
            ErrorKind::Aborted,
            "New streams cannot be created after receiving a GOAWAY",
        )
        .with_code("ERR_HTTP2_GOAWAY_SESSION");
        emit_stream(id, |l| &mut l.error, |f| f(&e));
        close_stream(id);
    }
}

/// A closing session with no stream left sends GOAWAY and ends its
/// connection.
fn maybe_finish_close(session: Id) {
    with_state(|st| {
        let s = st.session(session)?;
        if !s.closing || !s.open.is_empty() || !s.waiting.is_empty() {
            return None;
        }
        let sock = s.sock?;
        if s.phase == Phase::Ready {
            if !s.goaway_received {
                let core = &mut s.core;
                net::write_with(sock, |out| core.goaway(ErrorCode::NoError, b"", out));
            }
            s.phase = Phase::Done;
        }
        s.close_after_flush = true;
        net::flush_soon(sock);
        Some(())
    });
}

/// Windows opened: every stream with queued bytes sends what it now may.
fn flush_blocked(sock: SockId) {
    with_state(|st| {
        let id = session_of(st, sock)?;
        let State {
            sessions, streams, ..
        } = st;
        let s = sessions.get_mut(id).and_then(Option::as_mut)?;
        let ids: Vec<Id> = s.open.iter().map(|&(_, h)| h).collect();
        for h in ids {
            if let Some(r) = streams.get_mut(h).and_then(Option::as_mut) {
                if !r.local_done && (!r.pending_out.is_empty() || r.ended) {
                    push_body(s, r, sock);
                }
            }
        }
        Some(())
    });
    kick(sock);
}

/// `drain` for every stream that asked for it and is under its mark.
fn emit_drains_of_socket(sock: SockId) {
    if net::backlog(sock) >= HIGH_WATER_MARK {
        return;
    }
    let ready: Vec<Id> = with_state(|st| {
        let id = session_of(st, sock)?;
        let State {
            sessions, streams, ..
        } = st;
        let s = sessions.get_mut(id).and_then(Option::as_mut)?;
        let mut ready = Vec::new();
        for &h in s.open.iter().map(|(_, h)| h).chain(s.waiting.iter()) {
            if let Some(r) = streams.get_mut(h).and_then(Option::as_mut) {
                if r.need_drain && r.pending_out.len() < HIGH_WATER_MARK {
                    r.need_drain = false;
                    ready.push(h);
                }
            }
        }
        Some(ready)
    })
    .flatten()
    .unwrap_or_default();
    for h in ready {
        emit_stream(h, |l| &mut l.drain, |f| f());
    }
}

/// The output went out: a session done with its connection ends it.
fn after_flush(sock: SockId) {
    let close = with_state(|st| {
        let id = session_of(st, sock)?;
        Some(st.session(id)?.close_after_flush)
    })
    .flatten()
    .unwrap_or(false);
    if close && net::backlog(sock) == 0 {
        net::shutdown_and_linger(sock);
    }
}

/// The socket is gone: streams still open fail (unless the session was
/// destroyed by the user), pings fail, then the session's `error` (if
/// any) and `close`.
fn on_socket_closed(sock: SockId, _cause: Cause) {
    let Some(id) = with_state(|st| {
        let id = st.by_socket.remove(sock)?;
        if let Some(s) = st.session(id) {
            s.phase = Phase::Done;
            s.sock = None;
        }
        Some(id)
    })
    .flatten() else {
        return;
    };
    close_session(id);
}

/// Ends every stream and ping of a session that has no connection, then
/// emits its `error` (if any) and `close`, and frees it.
fn close_session(id: Id) {
    let taken = with_state(|st| {
        let s = st.session(id)?;
        let mut all: Vec<Id> = s.open.drain(..).map(|(_, h)| h).collect();
        all.extend(s.waiting.drain(..));
        let pings: Vec<PingCallback> = s.pings.drain(..).filter_map(|(_, _, cb)| cb).collect();
        let settings: Vec<SettingsCallback> = s
            .settings_waiters
            .drain(..)
            .flat_map(|w| w.callbacks)
            .collect();
        if let Some(t) = s.ticker.take() {
            runtime::clear_interval(t);
        }
        Some((all, pings, settings, s.destroyed_by_user, s.error.take()))
    })
    .flatten();
    let Some((all, pings, settings, by_user, error)) = taken else {
        return;
    };
    for h in all {
        let open = with_state(|st| st.stream(h).is_some_and(|r| !r.closed)).unwrap_or(false);
        if !open {
            continue;
        }
        if !by_user {
            let e = match &error {
                Some(e) => e.clone(),
                None => Error::new(
                    ErrorKind::ConnectionReset,
                    "The pending stream has been canceled (the connection closed)",
                )
                .with_code("ERR_HTTP2_STREAM_CANCEL"),
            };
            emit_stream(h, |l| &mut l.error, |f| f(&e));
        }
        with_state(|st| {
            if let Some(r) = st.stream(h) {
                r.rst_code.get_or_insert(ErrorCode::Cancel);
            }
        });
        close_stream(h);
    }
    for cb in pings {
        cb(Err(Error::new(
            ErrorKind::Aborted,
            "The session was closed before the PING was answered",
        )
        .with_code("ERR_HTTP2_PING_CANCEL")));
    }
    for cb in settings {
        cb(Err(Error::new(
            ErrorKind::Aborted,
            "The session was closed before the SETTINGS were acknowledged",
        )
        .with_code("ERR_HTTP2_SETTINGS_CANCEL")));
    }
    if let Some(e) = &error {
        emit_session(id, |l| &mut l.error, |f| f(e));
    }
    emit_session(id, |l| &mut l.close, |f| f());
    with_state(|st| {
        if let Some(slot) = st.sessions.get_mut(id) {
            let rec = slot.take();
            st.sessions.remove(id);
            runtime::bury(rec);
        }
    });
}

/// Once a second while the connection is up: the core's tick (flood
/// counters, the SETTINGS-ack timeout). A SETTINGS the server never
/// acknowledges fails the session (GOAWAY SETTINGS_TIMEOUT goes out);
/// a timer, not input, drives it, since a silent server sends none.
fn tick_session(id: Id) {
    with_state(|st| {
        let s = st.session(id)?;
        let sock = s.sock?;
        if s.phase != Phase::Ready {
            return None;
        }
        let core = &mut s.core;
        let mut result = Ok(());
        net::write_with(sock, |out| result = core.tick(out));
        if let Err(e) = result {
            log::debug!("http2 client: socket {}: {e}", sock.key);
            s.error.get_or_insert(
                Error::new(ErrorKind::Timeout, format!("Protocol error: {e}"))
                    .with_code("ERR_HTTP2_ERROR"),
            );
            s.phase = Phase::Done;
            s.close_after_flush = true;
            net::flush_soon(sock);
        }
        Some(())
    });
}

/// The socket was idle for [`ClientHttp2Session::set_timeout`]'s time:
/// the session's `timeout`, and nothing more (as in Node: the listener
/// decides); the socket stays.
fn on_socket_idle(sock: SockId) -> bool {
    if let Some(id) = with_state(|st| session_of(st, sock)).flatten() {
        emit_session(id, |l| &mut l.timeout, |f| f());
    }
    true
}

/// Checks a stream's idle time: `timeout` if nothing went or came for
/// the whole of it, then checks again one period on.
fn stream_timer_fired(id: Id) {
    let now = runtime::now();
    let due = with_state(|st| {
        let r = st.stream(id)?;
        r.timer = None;
        if r.closed {
            return None;
        }
        let period = r.timeout?;
        let at = r.active_at + period;
        if at > now {
            return Some((false, at - now));
        }
        r.active_at = now;
        Some((true, period))
    })
    .flatten();
    let Some((fire, next)) = due else { return };
    // Armed before the listeners run: one may change or clear it.
    arm_stream_timer(id, next);
    if fire {
        emit_stream(id, |l| &mut l.timeout, |f| f());
    }
}

/// Schedules a stream's idle check in `after` (unref'd, as Node's stream
/// timers are: they do not keep the loop alive).
fn arm_stream_timer(id: Id, after: Duration) {
    let ms = u64::try_from(after.as_millis()).unwrap_or(u64::MAX).max(1);
    let timer = runtime::set_timeout(move || stream_timer_fired(id), ms).unref();
    let kept = with_state(|st| {
        let r = st.stream(id).filter(|r| !r.closed)?;
        if let Some(old) = r.timer.replace(timer) {
            runtime::clear_timeout(old);
        }
        Some(())
    })
    .flatten();
    if kept.is_none() {
        runtime::clear_timeout(timer);
    }
}

/// Writes the PINGs asked for before the connection was up.
fn send_pings(s: &mut SessionRec, sock: SockId) {
    let now = runtime::now();
    let core = &mut s.core;
    for (payload, at, _) in s.pings.iter_mut() {
        *at = now;
        let p = *payload;
        net::write_with(sock, |out| core.ping(p, out));
    }
}

// ---- emitting ----

fn emit_session<F: ?Sized + 'static>(
    id: Id,
    field: fn(&mut SessionListeners) -> &mut Listeners<F>,
    call: impl FnMut(&mut F),
) -> bool {
    listeners::emit(
        |f| {
            with_state(|st| st.session(id).map(|s| f(field(&mut s.listeners))).is_some())
                .unwrap_or(false)
        },
        call,
    )
}

fn emit_stream<F: ?Sized + 'static>(
    id: Id,
    field: fn(&mut StreamListeners) -> &mut Listeners<F>,
    call: impl FnMut(&mut F),
) -> bool {
    listeners::emit(
        |f| {
            with_state(|st| st.stream(id).map(|r| f(field(&mut r.listeners))).is_some())
                .unwrap_or(false)
        },
        call,
    )
}

/// Header pairs as HTTP/2 fields: names lowercased, connection-specific
/// ones dropped.
fn lowercase_fields(pairs: &[(&str, &str)]) -> Vec<(Vec<u8>, Vec<u8>)> {
    pairs
        .iter()
        .filter(|(n, v)| !is_connection_specific(n.as_bytes(), v.as_bytes()))
        .map(|(n, v)| (n.to_ascii_lowercase().into_bytes(), v.as_bytes().to_vec()))
        .collect()
}

// ---- the session handle ----

impl ClientHttp2Session {
    fn with<R>(&self, f: impl FnOnce(&mut SessionRec) -> R) -> Option<R> {
        with_state(|st| st.session(self.id).map(f)).flatten()
    }

    fn listen(&self, f: impl FnOnce(&mut SessionListeners)) -> &Self {
        self.with(|s| f(&mut s.listeners));
        self
    }

    /// Opens a stream: sends a request head (Node's
    /// `clientHttp2Session.request(headers)`). `:method` defaults to
    /// `GET`, `:path` to `/`, `:scheme` and `:authority` to the session's.
    /// A `GET`, `HEAD` or `DELETE` ends its side at once (Node's rule); any
    /// other method sends a body with [`write`](ClientHttp2Stream::write)
    /// and [`end`](ClientHttp2Stream::end). On a closed session the stream
    /// fails (`ERR_HTTP2_INVALID_SESSION`, or `ERR_HTTP2_GOAWAY_SESSION`
    /// after the server's GOAWAY).
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// let req = session.request(&[(":path", "/search?q=rust"), ("accept", "text/html")]);
    /// req.on_response(|h| println!("{:?}", h.get(":status")));
    /// ```
    pub fn request<H: HeaderList + ?Sized>(&self, headers: &H) -> ClientHttp2Stream {
        let fields = headers.with_pairs(lowercase_fields);
        let (id, refused) = with_state(|st| {
            let (id, slot) = st.streams.insert();
            let mut head = Vec::with_capacity(fields.len() + 4);
            let get = |name: &[u8]| {
                fields
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
            };
            let method = get(b":method").unwrap_or_else(|| b"GET".to_vec());
            let (scheme, authority, refused) =
                match st.sessions.get(self.id).and_then(Option::as_ref) {
                    Some(s) if s.phase != Phase::Done && !s.closing => {
                        (s.scheme, s.authority.clone(), None)
                    }
                    Some(s) if s.goaway_received => ("http", String::new(), Some(true)),
                    _ => ("http", String::new(), Some(false)),
                };
            let bodiless = matches!(&method[..], b"GET" | b"HEAD" | b"DELETE");
            head.push((b":method".to_vec(), method));
            head.push((
                b":scheme".to_vec(),
                get(b":scheme").unwrap_or_else(|| scheme.as_bytes().to_vec()),
            ));
            head.push((
                b":authority".to_vec(),
                get(b":authority").unwrap_or_else(|| authority.into_bytes()),
            ));
            head.push((
                b":path".to_vec(),
                get(b":path").unwrap_or_else(|| b"/".to_vec()),
            ));
            head.extend(fields.iter().filter(|(n, _)| !n.starts_with(b":")).cloned());
            *slot = Some(StreamRec {
                session: self.id,
                sid: 0,
                head,
                body_sent: false,
                pending_out: Vec::new(),
                ended: bodiless,
                trailers_out: None,
                local_done: false,
                need_drain: false,
                paused: false,
                held: Vec::new(),
                held_end: false,
                held_trailers: None,
                close_after_end: false,
                remote_done: false,
                rst_code: None,
                closed: false,
                timeout: None,
                active_at: runtime::now(),
                timer: None,
                listeners: StreamListeners::default(),
            });
            if refused.is_none() {
                if let Some(s) = st.session(self.id) {
                    s.waiting.push_back(id);
                }
                open_waiting(st, self.id);
            }
            (id, refused)
        })
        .expect("nodelike: no HTTP/2 client state on this thread");
        match refused {
            Some(goaway) => {
                let e = if goaway {
                    Error::new(
                        ErrorKind::Aborted,
                        "New streams cannot be created after receiving a GOAWAY",
                    )
                    .with_code("ERR_HTTP2_GOAWAY_SESSION")
                } else {
                    Error::new(ErrorKind::Aborted, "The session has been destroyed")
                        .with_code("ERR_HTTP2_INVALID_SESSION")
                };
                fail_stream_soon(id, e);
            }
            None => {
                if let Some(sock) = self.with(|s| s.sock).flatten() {
                    kick(sock);
                }
            }
        }
        ClientHttp2Stream { id }
    }

    /// Listens for the connection being up (Node's `connect` event): after
    /// the TCP connect for h2c, after the TLS handshake chose `h2`.
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// session.on_connect(|| println!("up"));
    /// ```
    pub fn on_connect(&self, f: impl FnMut() + 'static) -> &Self {
        self.listen(|l| l.connect.push(Box::new(f)))
    }

    /// Listens for the session's failure (Node's `error`): a refused
    /// connect, a TLS refusal, a server that did not choose `h2`
    /// (`ERR_HTTP2_ERROR`), a protocol error, or a GOAWAY with an error
    /// code (`ERR_HTTP2_SESSION_ERROR`). `close` follows.
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// session.on_error(|e| eprintln!("{} {e}", e.code()));
    /// ```
    pub fn on_error(&self, f: impl FnMut(&Error) + 'static) -> &Self {
        self.listen(|l| l.error.push(Box::new(f)))
    }

    /// Listens for the session's end (Node's `close`): its connection is
    /// gone and every stream closed.
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// session.on_close(|| println!("closed"));
    /// ```
    pub fn on_close(&self, f: impl FnMut() + 'static) -> &Self {
        self.listen(|l| l.close.push(Box::new(f)))
    }

    /// Listens for the server's GOAWAY (Node's `goaway`): its error code,
    /// the last stream it will process, and its debug data. Streams above
    /// that one fail with `NGHTTP2_REFUSED_STREAM`; the others finish, then
    /// the session closes.
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// session.on_goaway(|code, last, _debug| println!("goaway {code} after {last}"));
    /// ```
    pub fn on_goaway(&self, f: impl FnMut(ErrorCode, u32, &[u8]) + 'static) -> &Self {
        self.listen(|l| l.goaway.push(Box::new(f)))
    }

    /// Listens for the server's SETTINGS (Node's `remoteSettings`).
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// session.on_remote_settings(|s| println!("{:?}", s.max_concurrent_streams));
    /// ```
    #[doc(alias = "remoteSettings")]
    pub fn on_remote_settings(&self, f: impl FnMut(&Settings) + 'static) -> &Self {
        self.listen(|l| l.remote_settings.push(Box::new(f)))
    }

    /// Closes gracefully (Node's `session.close()`): no new streams; those
    /// in flight (and those already requested) finish, then GOAWAY goes
    /// out and the connection ends.
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// let req = session.request(&[(":path", "/")]);
    /// session.close(); // `req` still completes
    /// ```
    pub fn close(&self) {
        let connecting = self.with(|s| {
            s.closing = true;
            s.phase == Phase::Connecting && s.open.is_empty() && s.waiting.is_empty()
        });
        if connecting == Some(true) {
            // Nothing to say to the server yet: the connect is abandoned.
            if let Some(sock) = self.with(|s| s.sock).flatten() {
                net::destroy(sock, Cause::Aborted);
            }
            return;
        }
        maybe_finish_close(self.id);
    }

    /// Ends the session now (Node's `session.destroy()`): every stream
    /// closes (without an error), GOAWAY goes out if the connection is up,
    /// and the connection ends.
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// session.destroy();
    /// ```
    pub fn destroy(&self) {
        let found = self.with(|s| {
            s.destroyed_by_user = true;
            s.closing = true;
            let sock = s.sock?;
            if s.phase == Phase::Ready {
                let core = &mut s.core;
                net::write_with(sock, |out| core.goaway(ErrorCode::NoError, b"", out));
                s.close_after_flush = true;
                net::flush_soon(sock);
            } else {
                net::destroy(sock, Cause::Aborted);
            }
            s.phase = Phase::Done;
            Some(())
        });
        if found.is_some() {
            let id = self.id;
            runtime::next_tick(move || {
                // The streams close now; the session when its socket does.
                let all: Vec<Id> = with_state(|st| {
                    st.session(id)
                        .map(|s| {
                            let mut v: Vec<Id> = s.open.iter().map(|&(_, h)| h).collect();
                            v.extend(s.waiting.iter().copied());
                            v
                        })
                        .unwrap_or_default()
                })
                .unwrap_or_default();
                for h in all {
                    with_state(|st| {
                        if let Some(r) = st.stream(h) {
                            r.rst_code.get_or_insert(ErrorCode::Cancel);
                        }
                    });
                    close_stream(h);
                }
            });
        }
    }

    /// Sends a PING; `callback` gets the round-trip time when the server
    /// answers, or an error if the session closes first (Node's
    /// `session.ping(callback)`). Returns `false` on a closed session (the
    /// callback is then not called).
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// session.ping(|rtt| println!("{rtt:?}"));
    /// ```
    pub fn ping(&self, callback: impl FnOnce(Result<Duration, Error>) + 'static) -> bool {
        self.with(|s| {
            if s.phase == Phase::Done {
                return false;
            }
            s.ping_seq += 1;
            let payload = s.ping_seq.to_be_bytes();
            s.pings
                .push_back((payload, runtime::now(), Some(Box::new(callback))));
            if let (Phase::Ready, Some(sock)) = (s.phase, s.sock) {
                let core = &mut s.core;
                net::write_with(sock, |out| core.ping(payload, out));
            }
            true
        })
        .unwrap_or(false)
    }

    /// Our settings in effect (Node's `session.localSettings`): those of
    /// [`ClientSessionOptions::settings`] until a change made with
    /// [`update_settings`](Self::update_settings) is acknowledged by the
    /// server.
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// assert_eq!(session.local_settings().enable_push, false);
    /// ```
    #[doc(alias = "localSettings")]
    pub fn local_settings(&self) -> Settings {
        match self.with(|s| *s.core.local_settings()) {
            Some(settings) => settings,
            None => *h2::Connection::new(h2::Role::Client, Config::default()).local_settings(),
        }
    }

    /// Changes our settings (Node's `session.settings(settings,
    /// callback)`): a SETTINGS frame goes to the server (with the first
    /// one if the connection is not up yet). They apply once the server
    /// acknowledges them: then [`on_local_settings`](Self::on_local_settings)
    /// listeners run, then `callback` with the settings now in effect and
    /// the time the acknowledgment took. A session that closes first calls
    /// it with `ERR_HTTP2_SETTINGS_CANCEL`. Start from
    /// [`local_settings`](Self::local_settings) and change what you need.
    ///
    /// Refused: a value the server would refuse (an initial window over
    /// 2^31 - 1, a frame size outside 16 384..=16 777 215) or push turned
    /// on (`ERR_HTTP2_INVALID_SETTING_VALUE`), 10 changes already awaiting
    /// acknowledgment (`ERR_HTTP2_MAX_PENDING_SETTINGS_ACK`), a closed
    /// session (`ERR_HTTP2_INVALID_SESSION`). The callback is then not
    /// called.
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// use nodelike::http::h2::Settings;
    /// let bigger = Settings { initial_window_size: 1 << 20, ..session.local_settings() };
    /// session
    ///     .update_settings(bigger, |acked| match acked {
    ///         Ok((settings, rtt)) => println!("window {} after {rtt:?}", settings.initial_window_size),
    ///         Err(e) => eprintln!("{e}"),
    ///     })
    ///     .unwrap();
    /// ```
    #[doc(alias = "settings")]
    pub fn update_settings(
        &self,
        settings: Settings,
        callback: impl FnOnce(Result<(Settings, Duration), Error>) + 'static,
    ) -> Result<(), Error> {
        let invalid_session = || {
            Error::new(ErrorKind::Aborted, "The session has been destroyed")
                .with_code("ERR_HTTP2_INVALID_SESSION")
        };
        let sent = self.with(|s| {
            if s.phase == Phase::Done {
                return Err(invalid_session());
            }
            let core = &mut s.core;
            let ready = s.phase == Phase::Ready;
            let mut result = None;
            match (ready, s.sock) {
                (true, Some(sock)) => {
                    net::write_with(sock, |out| result = Some(core.send_settings(settings, out)));
                }
                // Not connected yet: it changes the first SETTINGS.
                _ => result = Some(core.send_settings(settings, &mut Vec::new())),
            }
            match result {
                None => Err(invalid_session()),
                Some(Err(e)) => {
                    // The core says INTERNAL_ERROR for "too many awaiting
                    // acknowledgment", the RFC's codes for bad values.
                    let code = if e.code() == ErrorCode::InternalError {
                        "ERR_HTTP2_MAX_PENDING_SETTINGS_ACK"
                    } else {
                        "ERR_HTTP2_INVALID_SETTING_VALUE"
                    };
                    Err(
                        Error::new(ErrorKind::Parse, format!("Invalid settings: {e}"))
                            .with_code(code),
                    )
                }
                Some(Ok(())) => {
                    let callback: SettingsCallback = Box::new(callback);
                    if ready {
                        s.settings_waiters.push_back(SettingsWaiter {
                            sent: runtime::now(),
                            callbacks: vec![callback],
                        });
                    } else if let Some(first) = s.settings_waiters.back_mut() {
                        first.callbacks.push(callback);
                    }
                    Ok(())
                }
            }
        });
        sent.unwrap_or_else(|| Err(invalid_session()))
    }

    /// Whether a SETTINGS of ours awaits the server's acknowledgment
    /// (Node's `session.pendingSettingsAck`).
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// session.on_connect(move || assert!(session.pending_settings_ack()));
    /// ```
    #[doc(alias = "pendingSettingsAck")]
    pub fn pending_settings_ack(&self) -> bool {
        self.with(|s| s.core.settings_unacked() > 0)
            .unwrap_or(false)
    }

    /// Listens for the server's acknowledgment of our SETTINGS (Node's
    /// `localSettings` event), the first one included: the settings now
    /// in effect.
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// session.on_local_settings(|s| println!("in effect: {s:?}"));
    /// ```
    #[doc(alias = "localSettings")]
    pub fn on_local_settings(&self, f: impl FnMut(&Settings) + 'static) -> &Self {
        self.listen(|l| l.local_settings.push(Box::new(f)))
    }

    /// Sends GOAWAY to the server without closing the session (Node's
    /// `session.goaway(code, lastStreamID, opaqueData)`): streams in
    /// flight go on, but no new one opens on this session (requests made
    /// after it fail). `last_stream_id` names the last of the *server's*
    /// streams we process: a client takes no pushed streams, so 0 (Node's
    /// default). The server usually answers by closing the connection.
    /// Returns `false`, sending nothing, when the connection is not up,
    /// or `last_stream_id` names one of our own (odd) streams.
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// use nodelike::http::h2::ErrorCode;
    /// session.on_connect(move || {
    ///     session.goaway(ErrorCode::NoError, 0, b"moving on");
    /// });
    /// ```
    #[doc(alias = "http2session.goaway")]
    pub fn goaway(&self, code: ErrorCode, last_stream_id: u32, opaque_data: &[u8]) -> bool {
        let sock = self
            .with(|s| {
                let sock = s.sock.filter(|_| s.phase == Phase::Ready)?;
                let core = &mut s.core;
                let mut result = Err(());
                net::write_with(sock, |out| {
                    result = core
                        .send_goaway(code, last_stream_id, opaque_data, out)
                        .map_err(|_| ());
                });
                result.ok().map(|()| sock)
            })
            .flatten();
        if let Some(sock) = sock {
            kick(sock);
        }
        sock.is_some()
    }

    /// Emits `timeout` ([`on_timeout`](Self::on_timeout)) each time the
    /// session's connection has been idle (nothing read or written) for
    /// `ms` milliseconds (Node's `session.setTimeout(msecs)`). That is all
    /// it does, as in Node: the listener decides, usually with
    /// [`close`](Self::close) or [`destroy`](Self::destroy). `0` turns it
    /// off.
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// session.set_timeout(30_000);
    /// session.on_timeout(move || session.close());
    /// ```
    #[doc(alias = "setTimeout")]
    pub fn set_timeout(&self, ms: u64) {
        let timeout = (ms > 0).then(|| Duration::from_millis(ms));
        // The socket exists from `connect` on (connecting or not), and
        // its idle clock counts both directions.
        if let Some(sock) = self.with(|s| s.sock).flatten() {
            net::set_idle_timeout(sock, timeout);
        }
    }

    /// Listens for the session's idle time passing (Node's `timeout`); see
    /// [`set_timeout`](Self::set_timeout).
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// session.on_timeout(|| eprintln!("idle"));
    /// ```
    pub fn on_timeout(&self, f: impl FnMut() + 'static) -> &Self {
        self.listen(|l| l.timeout.push(Box::new(f)))
    }

    /// The server's settings as last received (Node's
    /// `session.remoteSettings`); the protocol's defaults until they come.
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// println!("{:?}", session.remote_settings().max_concurrent_streams);
    /// ```
    #[doc(alias = "remoteSettings")]
    pub fn remote_settings(&self) -> Settings {
        self.with(|s| *s.core.peer_settings()).unwrap_or_default()
    }

    /// Whether the session is closed or closing (Node's `session.closed`).
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// session.close();
    /// assert!(session.closed());
    /// ```
    pub fn closed(&self) -> bool {
        self.with(|s| s.closing || s.phase == Phase::Done)
            .unwrap_or(true)
    }

    /// Whether the session is gone or destroyed (Node's
    /// `session.destroyed`).
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// assert!(!session.destroyed());
    /// ```
    pub fn destroyed(&self) -> bool {
        self.with(|s| s.destroyed_by_user || s.sock.is_none() && s.phase == Phase::Done)
            .unwrap_or(true)
    }

    /// Lets the loop end while the session is open and idle (Node's
    /// `session.unref()`); [`ref_`](Self::ref_) undoes it. A session keeps
    /// the loop alive by default, as in Node, until it is closed.
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// session.unref();
    /// nodelike::run(); // returns once nothing else is pending
    /// ```
    pub fn unref(&self) {
        if let Some(sock) = self.with(|s| s.sock).flatten() {
            net::set_ref(sock, false);
        }
    }

    /// Makes the session keep the loop alive again (Node's
    /// `session.ref()`).
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// session.unref();
    /// session.ref_();
    /// ```
    #[doc(alias = "ref")]
    pub fn ref_(&self) {
        if let Some(sock) = self.with(|s| s.sock).flatten() {
            net::set_ref(sock, true);
        }
    }

    /// Whether the connection is being set up (Node's
    /// `session.connecting`).
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// assert!(session.connecting());
    /// ```
    pub fn connecting(&self) -> bool {
        self.with(|s| s.phase == Phase::Connecting).unwrap_or(false)
    }
}

// ---- the stream handle ----

impl ClientHttp2Stream {
    fn with<R>(&self, f: impl FnOnce(&mut StreamRec) -> R) -> Option<R> {
        with_state(|st| st.stream(self.id).map(f)).flatten()
    }

    fn listen(&self, f: impl FnOnce(&mut StreamListeners)) -> &Self {
        self.with(|r| f(&mut r.listeners));
        self
    }

    /// Listens for the response head (Node's `response` event), `:status`
    /// among its fields.
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// # let req = session.request(&[(":path", "/")]);
    /// req.on_response(|h| println!("{} {:?}", h.get(":status").unwrap_or(""), h.get("content-type")));
    /// ```
    pub fn on_response(&self, f: impl FnMut(&Headers) + 'static) -> &Self {
        self.listen(|l| l.response.push(Box::new(f)))
    }

    /// Listens for informational (1xx) heads before the response (Node's
    /// `headers` event): 100 Continue, 103 Early Hints, each with its
    /// `:status`. The final head comes to
    /// [`on_response`](Self::on_response).
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// # let req = session.request(&[(":path", "/")]);
    /// req.on_headers(|h| {
    ///     if h.get(":status") == Some("103") {
    ///         println!("preload {:?}", h.get("link"));
    ///     }
    /// });
    /// ```
    #[doc(alias = "headers")]
    pub fn on_headers(&self, f: impl FnMut(&Headers) + 'static) -> &Self {
        self.listen(|l| l.headers.push(Box::new(f)))
    }

    /// Emits `timeout` ([`on_timeout`](Self::on_timeout)) each time no
    /// frame of this stream went out or came in for `ms` milliseconds
    /// (Node's `stream.setTimeout(msecs)`); other streams' traffic does not
    /// count. As in Node that is all it does: the listener decides, e.g.
    /// with [`close`](Self::close). `0` turns it off. The timer does not
    /// keep the loop alive.
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// use nodelike::http::h2::ErrorCode;
    /// let req = session.request(&[(":path", "/slow")]);
    /// req.set_timeout(5_000);
    /// req.on_timeout(move || req.close(ErrorCode::Cancel));
    /// ```
    #[doc(alias = "setTimeout")]
    pub fn set_timeout(&self, ms: u64) {
        let timeout = (ms > 0).then(|| Duration::from_millis(ms));
        let old = self
            .with(|r| {
                if r.closed {
                    return None;
                }
                r.timeout = timeout;
                r.active_at = runtime::now();
                r.timer.take()
            })
            .flatten();
        if let Some(t) = old {
            runtime::clear_timeout(t);
        }
        if let Some(t) = timeout {
            arm_stream_timer(self.id, t);
        }
    }

    /// Listens for the stream's idle time passing (Node's `timeout`); see
    /// [`set_timeout`](Self::set_timeout).
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// # let req = session.request(&[(":path", "/")]);
    /// req.on_timeout(|| eprintln!("stream idle"));
    /// ```
    pub fn on_timeout(&self, f: impl FnMut() + 'static) -> &Self {
        self.listen(|l| l.timeout.push(Box::new(f)))
    }

    /// Listens for the response body, chunk by chunk (Node's `data`).
    /// Each chunk's flow-control window is given back to the server once
    /// the listeners have it.
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// # let req = session.request(&[(":path", "/")]);
    /// req.on_data(|chunk| println!("{} bytes", chunk.len()));
    /// ```
    pub fn on_data(&self, f: impl FnMut(Chunk<'_>) + 'static) -> &Self {
        self.listen(|l| l.data.push(Box::new(f)))
    }

    /// Listens for the end of the response (Node's `end`).
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// # let req = session.request(&[(":path", "/")]);
    /// req.on_end(|| println!("complete"));
    /// ```
    pub fn on_end(&self, f: impl FnMut() + 'static) -> &Self {
        self.listen(|l| l.end.push(Box::new(f)))
    }

    /// Listens for the response's trailers (Node's `trailers`), before
    /// `end`.
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// # let req = session.request(&[(":path", "/")]);
    /// req.on_trailers(|t| println!("{:?}", t.get("grpc-status")));
    /// ```
    pub fn on_trailers(&self, f: impl FnMut(&Headers) + 'static) -> &Self {
        self.listen(|l| l.trailers.push(Box::new(f)))
    }

    /// Listens for the stream's failure (Node's `error`): reset by the
    /// server (`ERR_HTTP2_STREAM_ERROR`, "Stream closed with error code
    /// NGHTTP2_CANCEL"), refused by its GOAWAY, or cut short by the
    /// session's end. `close` follows.
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// # let req = session.request(&[(":path", "/")]);
    /// req.on_error(|e| eprintln!("{}: {e}", e.code()));
    /// ```
    pub fn on_error(&self, f: impl FnMut(&Error) + 'static) -> &Self {
        self.listen(|l| l.error.push(Box::new(f)))
    }

    /// Listens for the stream's end, whatever it was (Node's `close`);
    /// [`rst_code`](Self::rst_code) says how, until the handler returns.
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// # let req = session.request(&[(":path", "/")]);
    /// req.on_close(move || println!("closed with {:?}", req.rst_code()));
    /// ```
    pub fn on_close(&self, f: impl FnMut() + 'static) -> &Self {
        self.listen(|l| l.close.push(Box::new(f)))
    }

    /// Listens for room to write again after [`write`](Self::write)
    /// returned `false` (Node's `drain`).
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// # let req = session.request(&[(":method", "POST")]);
    /// req.on_drain(|| println!("write more"));
    /// ```
    pub fn on_drain(&self, f: impl FnMut() + 'static) -> &Self {
        self.listen(|l| l.drain.push(Box::new(f)))
    }

    /// Writes request body bytes. They go out as the server's windows
    /// allow; returns `false` when the queue is past the high-water mark
    /// (16 KiB): wait for [`on_drain`](Self::on_drain).
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// let req = session.request(&[(":method", "PUT"), (":path", "/file")]);
    /// if !req.write(&b"part one"[..]) {
    ///     req.on_drain(|| println!("go on"));
    /// }
    /// ```
    pub fn write(&self, chunk: impl IntoChunk) -> bool {
        self.send(chunk.chunk_bytes(), false)
    }

    /// Ends the request body, after `chunk` (`()` for none).
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// let req = session.request(&[(":method", "POST"), (":path", "/")]);
    /// req.end("the whole body");
    /// ```
    pub fn end(&self, chunk: impl IntoChunk) {
        self.send(chunk.chunk_bytes(), true);
    }

    /// Ends the request body with trailers, after the bytes already
    /// written (Node's `sendTrailers`, without the `waitForTrailers`
    /// dance).
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// let req = session.request(&[(":method", "POST"), (":path", "/")]);
    /// req.write("body");
    /// req.send_trailers(&[("x-checksum", "abc")]);
    /// ```
    #[doc(alias = "sendTrailers")]
    pub fn send_trailers<H: HeaderList + ?Sized>(&self, trailers: &H) {
        let fields = trailers.with_pairs(lowercase_fields);
        let ok = self.with(|r| {
            if r.ended {
                return false;
            }
            r.trailers_out = Some(fields);
            true
        });
        if ok == Some(true) {
            self.send(&[], true);
        }
    }

    fn send(&self, data: &[u8], end: bool) -> bool {
        let sock = with_state(|st| {
            let State {
                sessions, streams, ..
            } = st;
            let r = streams.get_mut(self.id).and_then(Option::as_mut)?;
            if r.closed || r.local_done || r.ended {
                // After `end` (or on a GET, which ends at once): nothing
                // more goes out.
                return Some(None);
            }
            r.pending_out.extend_from_slice(data);
            r.ended |= end;
            let s = sessions.get_mut(r.session).and_then(Option::as_mut)?;
            let sock = s.sock?;
            if r.sid != 0 {
                push_body(s, r, sock);
            }
            let ok = r.pending_out.len() < HIGH_WATER_MARK && net::backlog(sock) < HIGH_WATER_MARK;
            if !ok {
                r.need_drain = true;
            }
            Some(Some((sock, ok)))
        })
        .flatten();
        match sock {
            Some(Some((sock, ok))) => {
                kick(sock);
                ok
            }
            _ => false,
        }
    }

    /// Closes the stream now with RST_STREAM `code` (Node's
    /// `stream.close(code)`; `ErrorCode::Cancel` is Node's default).
    /// `close` follows on a later turn, without an error.
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// use nodelike::http::h2::ErrorCode;
    /// let req = session.request(&[(":path", "/huge")]);
    /// req.on_data(move |_| req.close(ErrorCode::Cancel));
    /// ```
    pub fn close(&self, code: ErrorCode) {
        let found = with_state(|st| {
            let State {
                sessions, streams, ..
            } = st;
            let r = streams.get_mut(self.id).and_then(Option::as_mut)?;
            if r.closed || r.rst_code.is_some() {
                return None;
            }
            r.rst_code = Some(code);
            r.local_done = true;
            r.pending_out.clear();
            r.held.clear();
            r.held_end = false;
            let s = sessions.get_mut(r.session).and_then(Option::as_mut)?;
            s.waiting.retain(|&h| h != self.id);
            if let (Some(sock), true) = (s.sock, r.sid != 0) {
                let core = &mut s.core;
                let sid = r.sid;
                net::write_with(sock, |out| core.reset(sid, code, out));
                s.open.retain(|&(id, _)| id != sid);
            }
            Some(())
        })
        .flatten();
        if found.is_some() {
            let id = self.id;
            runtime::next_tick(move || close_stream(id));
        }
    }

    /// Stops `data` events; what arrives is held, and its flow-control
    /// window is not given back, so the server stops sending once the
    /// stream's window is spent (real back-pressure). Node's `pause()`.
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// # let req = session.request(&[(":path", "/")]);
    /// req.pause();
    /// nodelike::set_timeout(move || req.resume(), 1000);
    /// ```
    pub fn pause(&self) {
        self.with(|r| r.paused = true);
    }

    /// Emits what was held while paused (and gives its window back), then
    /// `end` and `close` if they came meanwhile. Node's `resume()`.
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// # let req = session.request(&[(":path", "/")]);
    /// req.pause();
    /// req.resume();
    /// ```
    pub fn resume(&self) {
        let id = self.id;
        let taken = with_state(|st| {
            let r = st.stream(id)?;
            if !r.paused {
                return None;
            }
            r.paused = false;
            let body = std::mem::take(&mut r.held);
            let (sid, session) = (r.sid, r.session);
            let sock = st.session(session).and_then(|s| s.sock);
            Some((body, sid, sock))
        })
        .flatten();
        let Some((body, sid, sock)) = taken else {
            return;
        };
        if !body.is_empty() {
            emit_stream(id, |l| &mut l.data, |f| f(Chunk::Bytes(&body)));
            if let Some(sock) = sock {
                release(sock, sid, body.len());
            }
        }
        let next = with_state(|st| {
            let r = st.stream(id)?;
            if r.paused {
                // Paused again by a listener: the rest stays held.
                return Some((None, false, false));
            }
            let end = std::mem::take(&mut r.held_end) && !r.remote_done;
            Some((r.held_trailers.take(), end, r.close_after_end))
        })
        .flatten();
        if let Some((trailers, end, close)) = next {
            if let Some(headers) = trailers {
                emit_stream(id, |l| &mut l.trailers, |f| f(&headers));
            }
            if end {
                remote_end(id);
            }
            if close {
                close_stream(id);
            }
        }
    }

    /// Whether the stream is paused.
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// # let req = session.request(&[(":path", "/")]);
    /// req.pause();
    /// assert!(req.is_paused());
    /// ```
    #[doc(alias = "isPaused")]
    pub fn is_paused(&self) -> bool {
        self.with(|r| r.paused).unwrap_or(false)
    }

    /// The stream's id on the connection (odd, from 1); `None` until its
    /// HEADERS went out (Node's `stream.id`).
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// # let req = session.request(&[(":path", "/")]);
    /// println!("{:?}", req.id());
    /// ```
    pub fn id(&self) -> Option<u32> {
        self.with(|r| r.sid).filter(|&s| s != 0)
    }

    /// How the stream ended (Node's `stream.rstCode`): `NoError` for a
    /// normal end, the RST_STREAM code otherwise; `None` while open (and
    /// once its `close` handlers have run).
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// # let req = session.request(&[(":path", "/")]);
    /// req.on_close(move || println!("{:?}", req.rst_code()));
    /// ```
    #[doc(alias = "rstCode")]
    pub fn rst_code(&self) -> Option<ErrorCode> {
        self.with(|r| r.rst_code).flatten()
    }

    /// Bytes written and not yet sent (Node's `writableLength`).
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// # let req = session.request(&[(":method", "POST")]);
    /// req.write("abc");
    /// println!("{}", req.writable_length());
    /// ```
    #[doc(alias = "writableLength")]
    pub fn writable_length(&self) -> usize {
        self.with(|r| r.pending_out.len()).unwrap_or(0)
    }

    /// The session this stream belongs to (Node's `stream.session`).
    ///
    /// ```no_run
    /// # let session = nodelike::http2::connect("http://127.0.0.1:8080", Default::default());
    /// # let req = session.request(&[(":path", "/")]);
    /// assert_eq!(req.session(), Some(session));
    /// ```
    pub fn session(&self) -> Option<ClientHttp2Session> {
        self.with(|r| ClientHttp2Session { id: r.session })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities_parse_as_node_reads_them() {
        assert_eq!(
            parse_authority("http://127.0.0.1:8080").unwrap(),
            (false, "127.0.0.1".into(), 8080)
        );
        assert_eq!(
            parse_authority("https://localhost").unwrap(),
            (true, "localhost".into(), 443)
        );
        assert_eq!(
            parse_authority("https://[::1]:8443/ignored").unwrap(),
            (true, "[::1]".into(), 8443)
        );
        assert_eq!(
            parse_authority("ftp://x").unwrap_err().code(),
            "ERR_INVALID_URL"
        );
        assert!(parse_authority("http://:80").is_err());
        assert!(parse_authority("http://h:99999").is_err());
    }

    #[test]
    fn the_default_authority_leaves_out_the_default_port() {
        assert_eq!(authority_field("example.com", 443, true), "example.com");
        assert_eq!(authority_field("example.com", 80, true), "example.com:80");
        assert_eq!(authority_field("h", 8080, false), "h:8080");
    }

    #[cfg(feature = "tls")]
    #[test]
    fn sessions_offer_h2_by_alpn_and_the_http1_client_still_offers_http11() {
        use crate::net::tls::{client_tls, client_tls_for, ClientAlpn, ClientTlsOptions};
        let options = ClientTlsOptions::default();
        let h2 = client_tls_for(&options, ClientAlpn::H2).unwrap();
        assert_eq!(h2.config.alpn_protocols, vec![b"h2".to_vec()]);
        let h1 = client_tls(&options).unwrap();
        assert_eq!(h1.config.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }

    #[test]
    fn connection_specific_fields_are_dropped_and_names_lowercased() {
        let f = lowercase_fields(&[("Accept", "x"), ("Connection", "close")]);
        assert_eq!(f, vec![(b"accept".to_vec(), b"x".to_vec())]);
    }
}
