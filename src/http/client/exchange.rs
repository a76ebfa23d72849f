//! The record behind a request and its response: its events, and how an
//! exchange ends (failed, or its socket closed).

use std::time::Duration;

use crate::http::h1::ParsedResponse;
use crate::http::incoming::IncomingBody;
use crate::http::outgoing::OutgoingHeaders;
use crate::http::Framing;
use crate::net::{Cause, SockId};
use crate::runtime::listeners::Listeners;
use crate::{net, runtime, Error, ErrorKind};

use super::agent::PoolSettings;
use super::connect::{connect, give_up_placeholder};
use super::options::RequestOptions;
use super::pool::forget_socket;
use super::request::write_request_head;
use super::{with_state, ClientId, ClientListeners, ClientState};

/// The record behind a `ClientRequest` and its `ClientResponse`.
#[derive(Default)]
pub(super) struct ClientExchange {
    pub(super) options: Option<RequestOptions>,
    pub(super) socket: Option<SockId>,
    pub(super) agent: Option<usize>,
    /// Queued in the agent, waiting for a socket.
    pub(super) queued: bool,
    pub(super) set_headers: OutgoingHeaders,
    /// How far the request has gone out: its head, its end, all of it.
    pub(super) request: RequestOut,
    pub(super) framing: Framing,
    /// Bytes not yet handed to a socket (before it connected).
    pub(super) out: Vec<u8>,
    pub(super) need_drain: bool,
    /// Response head bytes and their parse.
    pub(super) res_head: Vec<u8>,
    pub(super) parsed: ParsedResponse,
    /// Trailers to send after a chunked request body (`add_trailers`).
    pub(super) trailers_out: Vec<(String, String)>,
    /// The body's text decoder (`set_encoding`) and trailers.
    pub(super) incoming: IncomingBody,
    /// Where the exchange is: waiting for a response, receiving it,
    /// complete, or over early (failed, aborted, destroyed, upgraded).
    pub(super) response: ResponseLife,
    /// Idle timeout while this request owns its socket (`set_timeout`).
    pub(super) timeout: Option<Duration>,
    /// Its agent does not keep sockets alive: send `Connection: close`.
    pub(super) close_after: bool,
    /// Socket options asked for before the request had a socket
    /// (`set_no_delay`, `set_socket_keep_alive`).
    pub(super) no_delay: Option<bool>,
    pub(super) socket_keep_alive: Option<(bool, u64)>,
    /// Whether the request may be sent again on a fresh connection if its
    /// reused socket turns out to be closing.
    pub(super) replay: Replay,
    pub(super) listeners: ClientListeners,
}

/// How far a request has gone out, in order (Node's `headersSent`,
/// `writableEnded`, `writableFinished`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum RequestOut {
    /// Headers may still change.
    #[default]
    Unsent,
    /// The head is written (to the socket, or held until it connects).
    HeadSent,
    /// `end` was called.
    Ended,
    /// The whole request was handed to its socket (`finish` is queued).
    Finished,
}

impl RequestOut {
    pub(super) fn head_sent(self) -> bool {
        self >= RequestOut::HeadSent
    }

    pub(super) fn ended(self) -> bool {
        self >= RequestOut::Ended
    }

    pub(super) fn finished(self) -> bool {
        self == RequestOut::Finished
    }

    /// Moves forward to `state` (never back).
    pub(super) fn reach(&mut self, state: RequestOut) {
        *self = (*self).max(state);
    }
}

/// Where an exchange is, seen from its response. Once over (`Complete` or
/// `Over`), no more events fire for it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) enum ResponseLife {
    /// No response head yet.
    #[default]
    Awaiting,
    /// The head arrived; the body is arriving.
    Receiving,
    /// The response ended (`end`).
    Complete,
    /// Over before the response completed: failed, aborted, destroyed, or
    /// its socket handed over by an upgrade. `started` says whether a
    /// response head had arrived (its `close` is then emitted).
    Over { started: bool },
}

impl ResponseLife {
    /// No more events: complete or over early (Node's `destroyed`).
    pub(super) fn is_over(self) -> bool {
        matches!(self, ResponseLife::Complete | ResponseLife::Over { .. })
    }

    /// A response head arrived.
    pub(super) fn started(self) -> bool {
        matches!(
            self,
            ResponseLife::Receiving | ResponseLife::Complete | ResponseLife::Over { started: true }
        )
    }

    /// The response ended (Node's `complete`).
    pub(super) fn is_complete(self) -> bool {
        self == ResponseLife::Complete
    }

    /// Ends the exchange early; whether it was live until now.
    pub(super) fn end_early(&mut self) -> bool {
        let live = !self.is_over();
        if live {
            *self = ResponseLife::Over {
                started: self.started(),
            };
        }
        live
    }
}

/// A request on a reused keep-alive socket races the server closing that
/// socket: the server may have sent its FIN just before our request went
/// out. Such a request, when idempotent and without a body, is sent once
/// more on a fresh connection if the socket closes before any byte of the
/// response arrives, as hyper and Node's undici do. Nothing is kept for
/// it: a bodiless request is its head, which is written again from the
/// request's options and headers (so the common path copies nothing).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) enum Replay {
    /// Not on a reused socket, not idempotent, or the response has begun.
    #[default]
    Off,
    /// On a reused socket, idempotent, nothing of the response seen yet.
    Armed,
}

impl ClientExchange {
    pub(super) fn is_head(&self) -> bool {
        self.options
            .as_ref()
            .is_some_and(|o| o.method.eq_ignore_ascii_case("HEAD"))
    }

    pub(super) fn is_connect(&self) -> bool {
        self.options
            .as_ref()
            .is_some_and(|o| o.method.eq_ignore_ascii_case("CONNECT"))
    }
}

/// The exchange's changes that other files ask for. Each file that drives
/// an exchange (the pool, the request side, the response side) calls these
/// instead of setting its fields.
impl ClientExchange {
    /// A new request: its options, their headers, and `Host` after them
    /// (Node sets it there, so it sits there on the wire and
    /// `get_header("host")` has it).
    pub(super) fn set_request(
        &mut self,
        options: RequestOptions,
        host: impl FnOnce(&RequestOptions) -> String,
    ) {
        for (n, v) in &options.headers {
            self.set_headers.append(n, v);
        }
        if !self.set_headers.has("host") {
            self.set_headers.append("Host", &host(&options));
        }
        self.options = Some(options);
    }

    /// The request joined an agent's pool: the agent's socket settings
    /// apply, unless the request set its own.
    pub(super) fn join_agent(&mut self, agent: usize, settings: &PoolSettings) {
        self.agent = Some(agent);
        self.close_after = !settings.keep_alive;
        if self.timeout.is_none() {
            self.timeout = settings.timeout;
        }
        if self.socket_keep_alive.is_none() {
            self.socket_keep_alive = settings.keep_alive_msecs.map(|ms| (true, ms));
        }
    }

    /// The agent is full: the request waits in its queue.
    pub(super) fn wait_in_queue(&mut self) {
        self.queued = true;
    }

    /// Out of the agent's queue (given a socket, or passed by).
    pub(super) fn leave_queue(&mut self) {
        self.queued = false;
    }

    /// The exchange has its socket (a new connection, or a pooled one).
    pub(super) fn attach_socket(&mut self, sock: SockId) {
        self.socket = Some(sock);
        self.queued = false;
    }

    /// On a reused socket: may be sent again if the socket turns out to be
    /// closing (see [`Replay`]).
    pub(super) fn arm_replay(&mut self) {
        self.replay = Replay::Armed;
    }

    /// No replay: the response began, or the request fails with its socket.
    pub(super) fn disarm_replay(&mut self) {
        self.replay = Replay::Off;
    }

    /// The idle timeout while the request owns its socket.
    pub(super) fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }

    /// `set_no_delay`, kept for a socket to come.
    pub(super) fn set_no_delay(&mut self, no_delay: bool) {
        self.no_delay = Some(no_delay);
    }

    /// `set_socket_keep_alive`, kept for a socket to come.
    pub(super) fn set_socket_keep_alive(&mut self, option: Option<(bool, u64)>) {
        self.socket_keep_alive = option;
    }

    /// The bytes not yet handed to a socket, taken to append to (the
    /// encoders also read the record); give them back with [`put_out`](Self::put_out).
    pub(super) fn take_out(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    pub(super) fn put_out(&mut self, out: Vec<u8>) {
        self.out = out;
    }

    /// The head was written with this framing for the body.
    pub(super) fn head_written(&mut self, framing: Framing) {
        self.framing = framing;
        self.request.reach(RequestOut::HeadSent);
    }

    /// A write went over the high-water mark: `drain` is owed.
    pub(super) fn owe_drain(&mut self) {
        self.need_drain = true;
    }

    /// Takes an owed `drain`: whether one was.
    pub(super) fn take_drain(&mut self) -> bool {
        std::mem::take(&mut self.need_drain)
    }

    /// A final response head arrived (`head`: its bytes, kept for the
    /// handle's raw views).
    pub(super) fn receive_head(&mut self, head: &[u8]) {
        self.keep_head(head);
        self.response = ResponseLife::Receiving;
    }

    /// Keeps a response head's bytes (an upgrade's, for its listener).
    pub(super) fn keep_head(&mut self, head: &[u8]) {
        self.res_head.clear();
        self.res_head.extend_from_slice(head);
    }

    /// The response ended; returns `false` if the exchange was already
    /// over (then nothing more is emitted).
    pub(super) fn complete(&mut self) -> bool {
        if self.response.is_over() {
            return false;
        }
        self.response = ResponseLife::Complete;
        true
    }
}

pub(super) fn free_client(c: &mut ClientState, ex: ClientId) {
    let Some(e) = c.clients.get_mut(ex) else {
        return;
    };
    if !e.response.is_over() {
        return;
    }
    let listeners = (!e.listeners.is_empty()).then(|| std::mem::take(&mut e.listeners));
    let options = e.options.take();
    e.incoming.reset();
    c.clients.remove(ex);
    if let Some(l) = listeners {
        runtime::bury(l);
    }
    drop(options);
}

/// The socket is gone: a request on it fails ("socket hang up"), and the
/// agent forgets it.
pub(super) fn on_socket_closed(sock: SockId, cause: Cause) {
    let Some(Some(mut conn)) = with_state(|c| c.conns.remove(sock)) else {
        return;
    };
    let ex = conn.take_exchange();
    let agent = conn.take_agent();
    with_state(|c| {
        if let Some(a) = agent {
            forget_socket(c, a, sock);
        }
    });
    if let Some(ex) = ex {
        if cause != Cause::Timeout && with_state(|c| replay_on_fresh_socket(c, ex)) == Some(true) {
            return;
        }
        let kind = if cause == Cause::Timeout {
            ErrorKind::Timeout
        } else {
            ErrorKind::PrematureClose
        };
        fail(ex, Error::new(kind, "socket hang up"));
    }
}

/// A request whose reused socket closed before any byte of the response:
/// sent again, once, on a fresh connection (see [`Replay`]). Returns
/// whether it was.
fn replay_on_fresh_socket(c: &mut ClientState, ex: ClientId) -> bool {
    let Some(e) = c.clients.get_mut(ex) else {
        return false;
    };
    let replayable = std::mem::take(&mut e.replay) == Replay::Armed
        && !e.response.is_over()
        && e.request.ended()
        && e.framing == Framing::NoBody;
    if !replayable {
        return false;
    }
    let Some(options) = e.options.clone() else {
        return false;
    };
    // The whole request was its head: written again, as it was.
    let mut again = std::mem::take(&mut e.out);
    again.clear();
    write_request_head(e, &mut again, Some(0));
    e.out = again;
    e.socket = None;
    let agent = e.agent;
    log::debug!("client: a reused socket closed before the response; sending again on a new one");
    connect(c, ex, agent, &options);
    true
}

/// The socket's idle timeout passed: `timeout` on the request it carries
/// (Node's `req.on('timeout')`). Returns whether the socket stays: it does
/// while it carries a request, whoever listens; a free one is destroyed.
pub(super) fn on_socket_timeout(sock: SockId) -> bool {
    let ex = with_state(|c| c.conns.get(sock).and_then(|conn| conn.ex)).flatten();
    let Some(ex) = ex else { return false };
    log::debug!(
        "client: socket {} idle past the request's timeout",
        sock.key
    );
    emit(ex, |l| &mut l.timeout, |f| f());
    true
}

/// Makes exchange `id` let go of what it holds before it ends early
/// (abort, destroy, a deadline): a lookup's placeholder (its slot goes to
/// the next queued request) and its socket (detached, so the socket's
/// close tells it nothing, then destroyed with `cause`). A queued request
/// keeps its place in the queue (`pool::next_waiting` passes it by).
pub(super) fn let_go(c: &mut ClientState, id: ClientId, cause: Cause) {
    let sock = c.clients.get(id).and_then(|e| e.socket);
    give_up_placeholder(c, id);
    if let Some(s) = sock {
        if let Some(conn) = c.conns.get_mut(s) {
            conn.release();
        }
        net::destroy(s, cause);
    }
}

/// Ends an exchange with an error: `error` on the request (logged if nobody
/// listens), and `close` on a response that had started.
pub(super) fn fail(ex: ClientId, err: Error) {
    let started = with_state(|c| match c.clients.get_mut(ex) {
        Some(e) if !e.response.is_over() => {
            e.response.end_early();
            Some(e.response.started())
        }
        _ => None,
    })
    .flatten();
    let Some(started) = started else { return };
    fail_emit(ex, err, started);
}

/// `fail` for an exchange already marked done (a bad URL in `get`).
pub(super) fn fail_now(ex: ClientId, err: Error) {
    fail_emit(ex, err, false);
}

pub(super) fn fail_emit(ex: ClientId, err: Error, started: bool) {
    log::debug!("client: request failed: {err}");
    if started {
        emit(ex, |l| &mut l.res_close, |f| f());
    }
    if !emit(ex, |l| &mut l.error, |f| f(&err)) {
        err.report_unhandled("ClientRequest", "ClientRequest::on_error");
    }
    emit(ex, |l| &mut l.close, |f| f());
    // A request still queued keeps its place (`pool::next_waiting`).
    with_state(|c| free_client(c, ex));
}

pub(super) fn emit<F: ?Sized + 'static>(
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
