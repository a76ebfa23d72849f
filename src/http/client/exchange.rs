//! The record behind a request and its response: its events, and how an
//! exchange ends (failed, or its socket closed).

use crate::http::Framing;
use crate::net::{Cause, SockId};
use crate::runtime::listeners::Listeners;
use crate::{net, runtime, Error, ErrorKind};

use super::connect::{connect, give_up_placeholder};
use super::pool::forget_socket;
use super::request::write_request_head;
use super::{with_state, ClientId, ClientListeners, ClientState, Replay};

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
    let ex = conn.ex.take();
    let agent = conn.agent.take();
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
            conn.ex = None;
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
