//! Node's HTTP client: `http::request`, `http::get`, `ClientRequest`,
//! `ClientResponse`, and the pooling `Agent`.
//!
//! It shares the protocol core with the server: requests are framed with
//! `h1::encode` and the shared body encoder, responses parsed with
//! `h1::parse_response_head` and decoded with the same `h1::Decoder`, and
//! whether a socket carries another request is `http/keep_alive.rs`'s
//! decision.
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | the client side's state, the records (exchange, connection, agent), the handles, the protocol table `net` calls |
//! | `options.rs` | `RequestOptions`, `IntoRequestOptions` (URLs) |
//! | `request.rs` | `request`, `get`, `ClientRequest`, encoding the request |
//! | `response.rs` | parsing responses, `ClientResponse`, completing an exchange |
//! | `exchange.rs` | an exchange's events and how it fails |
//! | `agent.rs` | `Agent`: pools per host, port and TLS options |
//! | `pool.rs` | **the pool**: which socket a request gets, and what happens to a socket after its response |
//! | `connect.rs` | opening connections (TCP, unix, TLS) |
//! | `resolve.rs` | name resolution on a helper thread, through the remote handle |

mod agent;
mod connect;
mod exchange;
mod options;
mod pool;
mod request;
mod resolve;
mod response;

use std::cell::RefCell;
use std::collections::VecDeque;

use crate::chunk::Chunk;
use crate::http::h1::Decoder;
use crate::http::keep_alive::KeepAlive;
use crate::net::{self, PerSocket, SockId, Socket};
use crate::runtime::arena::{Arena, Id};
use crate::runtime::listeners::Listeners;
use crate::runtime::LoopBound;
use crate::Error;

pub use agent::{get_agent, global_agent, AgentOptions};
pub use options::{IntoRequestOptions, RequestOptions};
pub use request::{get, request, request_in_memory};

use connect::{on_connected, on_failed};
use exchange::{on_socket_closed, on_socket_timeout, ClientExchange};
use request::emit_request_drain;
use response::{on_eof, process_input};

/// The client side's state on one thread: requests in flight, the protocol
/// state of client sockets, and the agents.
struct ClientState {
    clients: Arena<ClientExchange>,
    conns: PerSocket<ClientConn>,
    agents: Vec<AgentRec>,
    /// Agents made with `Agent::new`, by index (their per-host pools are
    /// `AgentRec`s whose `owner` is that index).
    instances: Vec<InstanceRec>,
    /// The global agent's `max_sockets` for hosts it has not met yet.
    global_max_sockets: usize,
    /// `upgrade` listeners on the global agent as a whole.
    global_upgrade: Listeners<UpgradeListener>,
    /// `free` listeners on the global agent as a whole.
    global_free: Listeners<FreeListener>,
    /// Unit tests of the pool: when set, the agent's new connections are
    /// in-memory ones, whose far ends are pushed here for the test to play
    /// the server.
    #[cfg(test)]
    memory_peers: Option<Vec<crate::net::MemoryConnection>>,
}

thread_local! {
    static STATE: RefCell<ClientState> = RefCell::new(ClientState {
        clients: Arena::new(),
        conns: PerSocket::default(),
        agents: Vec::new(),
        instances: Vec::new(),
        global_max_sockets: GLOBAL_MAX_SOCKETS,
        global_upgrade: Listeners::default(),
        global_free: Listeners::default(),
        #[cfg(test)]
        memory_peers: None,
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
    // Idle too long: a socket carrying a request tells it (`timeout`) and
    // stays, as in Node, where the listener decides (`destroy`, usually);
    // an idle pooled socket is closed.
    timeout: on_socket_timeout,
};

/// How long an idle pooled socket is kept for reuse.
pub const AGENT_IDLE_TIMEOUT_MS: u64 = 5_000;

type ClientId = Id;

/// A request's id as the `u64` context of deferred work and timers.
fn client_ctx(id: ClientId) -> u64 {
    u64::from(id.idx) | (u64::from(id.gen) << 32)
}

/// The inverse of [`client_ctx`].
fn client_from_ctx(ctx: u64) -> ClientId {
    Id {
        idx: (ctx & 0xffff_ffff) as u32,
        gen: (ctx >> 32) as u32,
    }
}

type UpgradeListener = dyn FnMut(ClientResponse, Socket, &[u8]);

/// An agent's `free` listener: the socket, and the options of the request
/// that just finished on it.
type FreeListener = dyn FnMut(Socket, &RequestOptions);

#[derive(Default)]
struct ClientListeners {
    response: Listeners<dyn FnMut(ClientResponse)>,
    error: Listeners<dyn FnMut(&Error)>,
    drain: Listeners<dyn FnMut()>,
    continue_: Listeners<dyn FnMut()>,
    upgrade: Listeners<UpgradeListener>,
    connect: Listeners<UpgradeListener>,
    data: Listeners<dyn FnMut(Chunk<'_>)>,
    end: Listeners<dyn FnMut()>,
    res_close: Listeners<dyn FnMut()>,
    socket: Listeners<dyn FnMut(Socket)>,
    finish: Listeners<dyn FnMut()>,
    close: Listeners<dyn FnMut()>,
    abort: Listeners<dyn FnMut()>,
    timeout: Listeners<dyn FnMut()>,
}

impl ClientListeners {
    fn is_empty(&self) -> bool {
        self.response.is_empty()
            && self.error.is_empty()
            && self.drain.is_empty()
            && self.continue_.is_empty()
            && self.upgrade.is_empty()
            && self.connect.is_empty()
            && self.data.is_empty()
            && self.end.is_empty()
            && self.res_close.is_empty()
            && self.timeout.is_empty()
            && self.socket.is_empty()
            && self.finish.is_empty()
            && self.close.is_empty()
            && self.abort.is_empty()
    }
}

/// Methods whose request may be sent twice (RFC 9110 §9.2.2).
fn is_idempotent(method: &str) -> bool {
    ["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]
        .iter()
        .any(|m| m.eq_ignore_ascii_case(method))
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

/// The socket's changes that other files ask for: which exchange it
/// carries, and where its reading starts.
impl ClientConn {
    /// Carries exchange `ex`, whose response starts with a head.
    fn carry(&mut self, ex: ClientId) {
        self.ex = Some(ex);
        self.reading = ClientReading::Head;
    }

    /// Carries nothing (between requests, or before a close): the next
    /// input is a new response's head.
    fn release(&mut self) {
        self.ex = None;
        self.reading = ClientReading::Head;
    }

    /// Lets go of its exchange (which fails or goes on without it).
    fn take_exchange(&mut self) -> Option<ClientId> {
        self.ex.take()
    }

    /// Leaves its agent's pool.
    fn take_agent(&mut self) -> Option<usize> {
        self.agent.take()
    }

    /// A response head announced a body: decode it next.
    fn read_body(&mut self, decoder: Decoder) {
        self.reading = ClientReading::Body(decoder);
    }

    /// The body ended: the next input is a new response's head.
    fn read_head(&mut self) {
        self.reading = ClientReading::Head;
    }
}

/// A connection pool for one `host:port` (Node's `http.Agent`).
struct AgentRec {
    /// The agent instance this pool belongs to (`None`: the global agent).
    owner: Option<usize>,
    key: (String, u16),
    /// The TLS options its connections use (`None`: plain HTTP): requests
    /// with different ones never share a socket.
    #[cfg(feature = "tls")]
    tls: Option<crate::net::tls::ClientTlsOptions>,
    max_sockets: usize,
    /// Sockets in use, and connections being resolved.
    active: Vec<InUse>,
    /// Idle keep-alive sockets, most recently used last.
    idle: Vec<SockId>,
    /// Requests waiting for a socket, oldest first. One aborted, destroyed
    /// or failed while waiting keeps its place, as in Node (which counts it
    /// in `agent.requests` until a socket comes free and passes it by): see
    /// `pool::next_waiting`.
    queue: VecDeque<ClientId>,
    /// The seed's `agent.on('upgrade')`: for requests without an `upgrade`
    /// listener of their own.
    upgrade: Listeners<UpgradeListener>,
    /// `agent.on('free')` on this host's pool.
    free: Listeners<FreeListener>,
}

/// What an agent counts as a socket in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InUse {
    /// A socket, connecting or carrying a request.
    Socket(SockId),
    /// The connection of this request, whose host name is being looked up.
    Resolving(ClientId),
}

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
    fn from_id(id: ClientId) -> ClientRequest {
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
/// assert_eq!(agent.max_sockets(), usize::MAX); // Node 20: Infinity
/// agent.set_max_sockets(50);
/// assert_eq!(agent.sockets(), 0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Agent {
    scope: AgentScope,
    _loop: LoopBound,
}

/// What an [`Agent`] handle stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum AgentScope {
    /// One host's pool (`get_agent(host, port)`).
    Host(usize),
    /// The global agent: every host's pool that no instance owns.
    Global,
    /// An agent made with `Agent::new`: its pools, one per host.
    Instance(usize),
}

/// An agent instance's record: its options and its own `upgrade` and
/// `free` listeners.
struct InstanceRec {
    options: AgentOptions,
    upgrade: Listeners<UpgradeListener>,
    free: Listeners<FreeListener>,
}

/// The global agent's pool size per host: unlimited, Node 20's default
/// (the seed's v0.4 agent allowed 5, which let five slow readers freeze
/// every other request to the same host).
const GLOBAL_MAX_SOCKETS: usize = usize::MAX;

/// What tells agents apart besides host and port: their TLS options.
#[cfg(feature = "tls")]
type TlsKey = Option<crate::net::tls::ClientTlsOptions>;

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
