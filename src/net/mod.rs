//! Node's `net.Socket`, and the socket plumbing under every connection.
//!
//! A socket is a record in the core's slab ([`SocketRec`]); a [`Socket`] is a
//! handle to it (key and generation, `Copy`). This module owns the I/O paths
//! shared by all protocols: reading into the shared buffer and handing the
//! bytes to the socket's protocol (raw `data` events, or the HTTP server),
//! corked writes and their flush, pause/resume, idle timeouts, half-close
//! and the deferred `close`.

mod memory;
mod stream;

pub use memory::MemoryConnection;

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::Token;

use crate::chunk::{Chunk, IntoChunk};
use crate::http::client::{self, ClientConn};
use crate::http::server::{self, ServerConn};
use crate::runtime::listeners::Listeners;
use crate::runtime::timers::Due;
use crate::runtime::{with_core, Core, Pending, HIGH_WATER_MARK, READ_BUF_SIZE};
pub(crate) use stream::{Listener, Stream};

/// How long a socket that closed on a protocol error keeps reading (and
/// discarding) after its final response, so the peer sees that response
/// instead of a reset.
pub(crate) const LINGER: Duration = Duration::from_secs(2);

/// Key and generation of a socket record; also its mio token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct SockId {
    pub(crate) key: u32,
    pub(crate) gen: u32,
}

impl SockId {
    pub(crate) fn token(self) -> Token {
        Token(self.key as usize | ((self.gen as usize) << 32))
    }

    pub(crate) fn from_token(token: usize) -> SockId {
        SockId {
            key: token as u32,
            gen: (token >> 32) as u32,
        }
    }
}

/// What reads on a socket are for.
// The server state is inline (no box per connection); `Raw` is what the
// client's `net` connections will be, and what tests of raw sockets use.
#[allow(clippy::large_enum_variant, dead_code)]
pub(crate) enum Proto {
    /// Plain bytes: `data` events (a `net` socket, or one that left HTTP by
    /// an upgrade).
    Raw,
    /// An HTTP/1.1 server connection.
    Server(ServerConn),
    /// An HTTP/1.1 client connection (pooled by an agent or its own).
    Client(ClientConn),
}

#[derive(Default)]
pub(crate) struct SocketListeners {
    pub(crate) data: Listeners<dyn FnMut(Chunk<'_>)>,
    pub(crate) end: Listeners<dyn FnMut()>,
    pub(crate) close: Listeners<dyn FnMut(bool)>,
    pub(crate) drain: Listeners<dyn FnMut()>,
    pub(crate) timeout: Listeners<dyn FnMut()>,
}

/// Why a socket was destroyed, as requests on it see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cause {
    /// The peer went away, or the user destroyed it.
    Aborted,
    /// The idle timeout expired.
    Timeout,
    /// An I/O error.
    Error,
}

pub(crate) struct SocketRec {
    pub(crate) gen: u32,
    /// `None` once destroyed (the descriptor is closed at once; `close` is
    /// emitted on the next turn).
    pub(crate) stream: Option<Stream>,
    pub(crate) remote: Option<SocketAddr>,
    /// Bytes waiting to be written, from `out_pos` on. A pooled buffer while
    /// non-empty; an idle socket holds none.
    pub(crate) out: Vec<u8>,
    pub(crate) out_pos: usize,
    /// Total bytes written to the OS so far (marks when a response finished).
    pub(crate) written: u64,
    /// Input read but not yet consumed (a partial head, or bytes held while
    /// paused). Pooled; empty when idle.
    pub(crate) inbuf: Vec<u8>,
    pub(crate) paused: bool,
    /// Output is over the high-water mark and the protocol asked to stop
    /// reading until it drains (the pipelining-flood guard).
    pub(crate) input_blocked: bool,
    pub(crate) eof_seen: bool,
    pub(crate) eof_delivered: bool,
    /// `end()` was called: shut down writing once `out` is flushed.
    pub(crate) ending: bool,
    pub(crate) write_shut: bool,
    /// Reading only to discard until the peer closes (after a final
    /// `Connection: close` response or a protocol error).
    pub(crate) lingering: bool,
    pub(crate) destroyed: bool,
    pub(crate) cause: Cause,
    pub(crate) need_drain: bool,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) last_active: Instant,
    /// The deadline of the idle check queued in the timer heap, if any.
    pub(crate) timer_at: Option<Instant>,
    pub(crate) proto: Proto,
    pub(crate) listeners: SocketListeners,
    /// Does not keep the loop alive (counted in `Core::unref_sockets`).
    pub(crate) unref: bool,
}

impl SocketRec {
    pub(crate) fn new(
        gen: u32,
        stream: Stream,
        remote: Option<SocketAddr>,
        proto: Proto,
        now: Instant,
    ) -> Self {
        SocketRec {
            gen,
            stream: Some(stream),
            remote,
            out: Vec::new(),
            out_pos: 0,
            written: 0,
            inbuf: Vec::new(),
            paused: false,
            input_blocked: false,
            eof_seen: false,
            eof_delivered: false,
            ending: false,
            write_shut: false,
            lingering: false,
            destroyed: false,
            cause: Cause::Aborted,
            need_drain: false,
            idle_timeout: None,
            last_active: now,
            timer_at: None,
            proto,
            listeners: SocketListeners::default(),
            unref: false,
        }
    }

    /// Bytes queued and not yet written.
    pub(crate) fn backlog(&self) -> usize {
        self.out.len() - self.out_pos
    }

    /// The total `written` will reach once everything queued is flushed.
    pub(crate) fn queued_mark(&self) -> u64 {
        self.written + self.backlog() as u64
    }

    fn can_read(&self) -> bool {
        !self.destroyed && !self.paused && !self.input_blocked && !self.eof_seen
    }
}

impl Core {
    pub(crate) fn socket(&mut self, id: SockId) -> Option<&mut SocketRec> {
        match self.sockets.get_mut(id.key as usize) {
            Some(s) if s.gen == id.gen => Some(s),
            _ => None,
        }
    }

    /// Appends bytes to a socket's output (taking a pooled buffer when it
    /// had none) and marks it for the end-of-turn flush.
    pub(crate) fn queue_output(&mut self, id: SockId, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let needs_buf = matches!(self.socket(id), Some(s) if s.out.capacity() == 0);
        let fresh = if needs_buf {
            Some(self.take_buf())
        } else {
            None
        };
        let Some(s) = self.socket(id) else { return };
        if s.destroyed || s.write_shut {
            return;
        }
        if let Some(buf) = fresh {
            s.out = buf;
        }
        let was_empty = s.backlog() == 0;
        s.out.extend_from_slice(bytes);
        if was_empty {
            self.dirty.push(id);
        }
    }

    /// Queues the idle-timeout check of a socket for `last_active +
    /// timeout`, unless a check at or before that time is already queued.
    pub(crate) fn arm_idle(&mut self, id: SockId) {
        let Some(s) = self.socket(id) else { return };
        let Some(t) = s.idle_timeout else { return };
        let at = s.last_active + t;
        if s.timer_at.is_some_and(|queued| queued <= at) {
            return;
        }
        s.timer_at = Some(at);
        self.timers.push(at, Due::SocketIdle(id, at));
    }

    /// Closes the descriptor now and queues the `close` events for the next
    /// turn (Node never emits `close` inline).
    pub(crate) fn destroy(&mut self, id: SockId, cause: Cause) {
        let Some(s) = self.socket(id) else { return };
        if s.destroyed {
            return;
        }
        log::trace!("socket {}: destroyed ({:?})", id.key, cause);
        s.destroyed = true;
        s.cause = cause;
        let stream = s.stream.take();
        let out = std::mem::take(&mut s.out);
        let inbuf = std::mem::take(&mut s.inbuf);
        s.out_pos = 0;
        if let Some(mut stream) = stream {
            stream.deregister(self.poll.registry());
        }
        self.give_buf(out);
        self.give_buf(inbuf);
        self.pending.push_back(Pending::Close(id));
    }

    /// Shuts down the writing side and keeps reading, discarding, until the
    /// peer closes or [`LINGER`] passes.
    pub(crate) fn shutdown_and_linger(&mut self, id: SockId) {
        let now = self.now;
        let Some(s) = self.socket(id) else { return };
        if s.destroyed {
            return;
        }
        if !s.write_shut {
            s.write_shut = true;
            if let Some(stream) = &s.stream {
                let _ = stream.shutdown_write();
            }
        }
        if s.eof_seen {
            self.destroy(id, Cause::Aborted);
            return;
        }
        if !s.lingering {
            log::trace!("socket {}: lingering after close", id.key);
            s.lingering = true;
            s.paused = false;
            s.input_blocked = false;
            self.timers.push(now + LINGER, Due::Linger(id));
            self.pending.push_back(Pending::Resume(id));
        }
    }
}

/// Readiness on a connected socket.
pub(crate) fn on_socket_ready(id: SockId, event: &mio::event::Event) {
    let connecting = with_core(|c| matches!(c.socket(id), Some(s) if matches!(&s.proto, Proto::Client(conn) if conn.connecting)))
        .unwrap_or(false);
    if connecting {
        client::on_connect_ready(id);
    }
    if event.is_writable() {
        flush_socket(id);
    }
    if event.is_readable() || event.is_read_closed() || event.is_error() {
        // With the peer's FIN in the same event, a short read does not mean
        // drained: the EOF is still to be read, and no other edge will come.
        read_socket(id, event.is_read_closed() || event.is_error());
    }
}

/// Reads until the socket would block (or reading must stop), handing every
/// read to the socket's protocol, then flushes what the callbacks wrote.
/// `thorough`: keep reading after a short read (the peer closed, or
/// readiness may have been seen while reading was stopped).
pub(crate) fn read_socket(id: SockId, thorough: bool) {
    while let Some(Some((mut scratch, mut held))) = with_core(|c| {
        let s = c.socket(id)?;
        if !s.can_read() {
            // Whatever is left in the socket is read on resume, which
            // always tries the socket (no edge will come for it).
            return None;
        }
        let held = std::mem::take(&mut s.inbuf);
        let mut scratch = std::mem::take(&mut c.read_buf);
        if scratch.len() < READ_BUF_SIZE {
            scratch.resize(READ_BUF_SIZE, 0);
        }
        Some((scratch, held))
    }) {
        let read = with_core(|c| {
            let now = c.now;
            let s = c.socket(id)?;
            let stream = s.stream.as_mut()?;
            loop {
                match stream.read(&mut scratch) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Ok(n) if n > 0 => {
                        s.last_active = now;
                        return Some(Ok(n));
                    }
                    other => return Some(other),
                }
            }
        })
        .flatten();
        log::trace!(
            "socket {}: read {:?}",
            id.key,
            read.as_ref().map(|r| r.as_ref().map_err(|e| e.kind()))
        );
        let (n, eof) = match read {
            Some(Ok(0)) => (0, true),
            Some(Ok(n)) => (n, false),
            Some(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => (0, false),
            Some(Err(e)) => {
                log::debug!("socket {}: read error: {e}", id.key);
                with_core(|c| {
                    c.read_buf = scratch;
                    c.give_buf(held);
                    c.destroy(id, Cause::Aborted);
                });
                break;
            }
            None => {
                with_core(|c| {
                    c.read_buf = scratch;
                    c.give_buf(held);
                });
                break;
            }
        };
        if n > 0 {
            if held.is_empty() {
                let consumed = process(id, &scratch[..n]);
                if consumed < n {
                    with_core(|c| {
                        let mut buf = c.take_buf();
                        buf.extend_from_slice(&scratch[consumed..n]);
                        held = buf;
                    });
                }
            } else {
                held.extend_from_slice(&scratch[..n]);
                let consumed = process(id, &held);
                held.drain(..consumed);
            }
        }
        log::trace!("socket {}: read {n}, held now {}", id.key, held.len());
        let full = n == scratch.len();
        let alive = with_core(|c| {
            c.read_buf = scratch;
            match c.socket(id) {
                Some(s) if !s.destroyed => {
                    if eof {
                        s.eof_seen = true;
                    }
                    if held.is_empty() {
                        c.give_buf(held);
                    } else {
                        s.inbuf = held;
                    }
                    true
                }
                _ => {
                    c.give_buf(held);
                    false
                }
            }
        })
        .unwrap_or(false);
        if !alive {
            break;
        }
        if eof {
            deliver_eof_if_ready(id);
            break;
        }
        // On Linux a read that did not fill the buffer drained the socket;
        // the read that would only say WouldBlock is skipped.
        if n == 0 || (!full && !thorough) {
            break;
        }
    }
    flush_socket(id);
}

/// Hands input to the socket's protocol; returns how much it consumed.
fn process(id: SockId, data: &[u8]) -> usize {
    enum Mode {
        Gone,
        Discard,
        Raw,
        Http,
        Client,
    }
    let mode = with_core(|c| match c.socket(id) {
        Some(s) if s.destroyed => Mode::Gone,
        // Lingering: the bytes are read only to be thrown away.
        Some(s) if s.lingering => Mode::Discard,
        Some(s) if matches!(s.proto, Proto::Raw) => Mode::Raw,
        Some(s) if matches!(s.proto, Proto::Client(_)) => Mode::Client,
        Some(_) => Mode::Http,
        None => Mode::Gone,
    })
    .unwrap_or(Mode::Gone);
    match mode {
        Mode::Gone | Mode::Discard => data.len(),
        Mode::Raw => {
            emit_raw_data(id, data);
            data.len()
        }
        Mode::Http => server::process_input(id, data),
        Mode::Client => client::process_input(id, data),
    }
}

/// Raw bytes for a socket's `data` listeners (a net socket, or an HTTP
/// connection after an upgrade).
pub(crate) fn emit_raw_data(id: SockId, data: &[u8]) {
    if !data.is_empty() {
        emit_socket_data(id, Chunk::Bytes(data));
    }
}

/// The peer ended a raw socket: `end`, then end our side too (Node's
/// default `allowHalfOpen: false`).
pub(crate) fn raw_eof(id: SockId) {
    log::trace!("socket {}: end", id.key);
    emit_simple(id, |l| &mut l.end);
    Socket { id }.end(());
}

/// The peer closed its writing side and every byte before the FIN has been
/// processed: tell the protocol.
fn deliver_eof_if_ready(id: SockId) {
    let ready = with_core(|c| {
        let s = c.socket(id)?;
        // Held input is processed before the EOF, unless the protocol
        // already had it and left it (a partial message no byte will ever
        // complete): then the EOF is what it needs to hear.
        let unprocessed = !s.inbuf.is_empty() && s.input_blocked;
        if s.destroyed || s.eof_delivered || !s.eof_seen || s.paused || unprocessed {
            return None;
        }
        s.eof_delivered = true;
        if matches!(s.proto, Proto::Client(_)) && !s.lingering {
            return Some((false, None));
        }
        Some((s.lingering, Some(matches!(s.proto, Proto::Raw))))
    })
    .flatten();
    match ready {
        None => {}
        Some((_, None)) => client::on_eof(id),
        Some((true, _)) => {
            with_core(|c| c.destroy(id, Cause::Aborted));
        }
        Some((false, Some(true))) => raw_eof(id),
        Some((false, Some(false))) => server::on_eof(id),
    }
}

/// After `resume()`, a drain that unblocked input, or linger start: process
/// held input, then read again if readiness arrived meanwhile.
pub(crate) fn resume_reading(id: SockId) {
    log::trace!("socket {}: resume_reading", id.key);
    // Even with nothing held the protocol gets a turn: a body whose last
    // bytes came while paused still owes its `end`.
    let held = with_core(|c| {
        let s = c.socket(id)?;
        if s.destroyed || s.paused || s.input_blocked {
            return None;
        }
        Some(std::mem::take(&mut s.inbuf))
    })
    .flatten();
    if let Some(mut held) = held {
        let consumed = process(id, &held);
        log::trace!(
            "socket {}: resumed with {} held, consumed {consumed}",
            id.key,
            held.len()
        );
        held.drain(..consumed);
        with_core(|c| match c.socket(id) {
            Some(s) if !s.destroyed && s.inbuf.is_empty() && !held.is_empty() => s.inbuf = held,
            _ => c.give_buf(held),
        });
    }
    let (read_again, eof) = with_core(|c| match c.socket(id) {
        // Read even when a partial message is still held: the bytes that
        // complete it may already be in the socket, announced by an edge
        // that came while reading was stopped. Edge-triggered readiness
        // will not announce them again (the pipelining stall).
        Some(s) => (s.can_read(), s.eof_seen),
        None => (false, false),
    })
    .unwrap_or((false, false));
    if read_again {
        read_socket(id, true);
    } else if eof {
        deliver_eof_if_ready(id);
    }
    flush_socket(id);
}

/// Writes queued output until done or the OS would block; then runs what
/// an emptied buffer allows (finish events, drain, a pending half-close).
pub(crate) fn flush_socket(id: SockId) {
    let outcome = with_core(|c| {
        let now = c.now;
        let s = c.socket(id)?;
        let stream = s.stream.as_mut()?;
        let mut failed = None;
        while s.out_pos < s.out.len() {
            match stream.write(&s.out[s.out_pos..]) {
                Ok(0) => {
                    failed = Some(io::Error::from(io::ErrorKind::WriteZero));
                    break;
                }
                Ok(n) => {
                    s.out_pos += n;
                    s.written += n as u64;
                    s.last_active = now;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = failed {
            log::debug!("socket {}: write error: {e}", id.key);
            c.destroy(id, Cause::Aborted);
            return None;
        }
        log::trace!(
            "socket {}: flushed to {} of {} queued",
            id.key,
            s.out_pos,
            s.out.len()
        );
        if s.out_pos < s.out.len() {
            return Some(false);
        }
        let out = std::mem::take(&mut s.out);
        s.out_pos = 0;
        c.give_buf(out);
        Some(true)
    })
    .flatten();
    if outcome != Some(true) {
        return;
    }
    // The buffer is empty: protocol bookkeeping first (finish events, a
    // response that closes the connection), then drain and half-close.
    let is_server =
        with_core(|c| matches!(c.socket(id), Some(s) if matches!(s.proto, Proto::Server(_))))
            .unwrap_or(false);
    if is_server {
        server::after_flush(id);
    }
    let (drain, unblock, shut) = with_core(|c| {
        let Some(s) = c.socket(id) else {
            return (false, false, false);
        };
        if s.destroyed || s.backlog() > 0 {
            return (false, false, false);
        }
        let drain = std::mem::take(&mut s.need_drain);
        let unblock = std::mem::take(&mut s.input_blocked);
        // `end()` was called and all is written: shut down writing (or, if
        // that was done already and the peer ended too, finish).
        let shut = s.ending && (!s.write_shut || s.eof_seen);
        (drain, unblock, shut)
    })
    .unwrap_or((false, false, false));
    if shut {
        with_core(|c| {
            let eof = c.socket(id).map(|s| s.eof_seen).unwrap_or(true);
            if let Some(s) = c.socket(id) {
                if !s.write_shut {
                    s.write_shut = true;
                    if let Some(stream) = &s.stream {
                        let _ = stream.shutdown_write();
                    }
                }
            }
            // Both directions are done: the socket is finished.
            if eof {
                c.destroy(id, Cause::Aborted);
            }
        });
    }
    if unblock {
        with_core(|c| c.pending.push_back(Pending::Resume(id)));
    }
    if drain {
        log::trace!("socket {}: drain", id.key);
        emit_simple(id, |l| &mut l.drain);
        if is_server {
            server::emit_response_drain(id);
        }
        client::emit_request_drain(id);
    }
}

/// The loop's deferred half of `destroy`: emit `close` everywhere, then drop.
pub(crate) fn finish_close(id: SockId) {
    let rec = with_core(|c| match c.sockets.get(id.key as usize) {
        Some(s) if s.gen == id.gen => Some(c.sockets.remove(id.key as usize)),
        _ => None,
    })
    .flatten();
    let Some(mut rec) = rec else { return };
    log::trace!("socket {}: close", id.key);
    if rec.unref {
        with_core(|c| c.unref_sockets -= 1);
    }
    match &mut rec.proto {
        Proto::Server(conn) => server::on_socket_closed(id, conn, rec.cause),
        Proto::Client(conn) => client::on_socket_closed(id, conn, rec.cause),
        Proto::Raw => {}
    }
    let had_error = rec.cause == Cause::Error;
    for f in rec.listeners.close.iter_mut() {
        f(had_error);
    }
    drop(rec);
}

/// A socket's idle-timeout check came due.
pub(crate) fn check_idle(id: SockId, queued_for: Instant) {
    let fired = with_core(|c| {
        let now = c.now;
        let s = c.socket(id)?;
        if s.timer_at != Some(queued_for) || s.destroyed {
            return None; // stale: an earlier check replaced this one
        }
        s.timer_at = None;
        let timeout = s.idle_timeout?;
        if s.last_active + timeout > now {
            // Active since: check again at the new deadline.
            c.arm_idle(id);
            return None;
        }
        // Idle for the whole period. Start a new one, so a socket whose
        // `timeout` listener keeps it open is told again later.
        s.last_active = now;
        let has_listeners = !s.listeners.timeout.is_empty();
        // HTTP connections (server, or idle pooled client) without a
        // `timeout` listener are closed; a raw socket is only told.
        let is_server = matches!(s.proto, Proto::Server(_) | Proto::Client(_));
        c.arm_idle(id);
        Some((has_listeners, is_server))
    })
    .flatten();
    match fired {
        Some((true, _)) => {
            log::debug!("socket {}: timeout", id.key);
            emit_simple(id, |l| &mut l.timeout);
        }
        Some((false, true)) => {
            log::debug!("socket {}: idle timeout; destroying", id.key);
            with_core(|c| c.destroy(id, Cause::Timeout));
        }
        _ => {}
    }
}

/// Destroys a socket (from a timer: the end of a linger period).
pub(crate) fn destroy_socket(id: SockId) {
    with_core(|c| c.destroy(id, Cause::Aborted));
}

/// Readiness on a listening socket: accept until it would block.
pub(crate) fn on_listener_ready(key: usize) {
    server::accept_connections(key);
}

fn emit_socket_data(id: SockId, chunk: Chunk<'_>) {
    emit_simple_with(id, |l| &mut l.data, |f| f(chunk));
}

/// Emits an argument-less socket event (`end`, `drain`, `timeout`).
fn emit_simple(id: SockId, field: fn(&mut SocketListeners) -> &mut Listeners<dyn FnMut()>) {
    emit_simple_with(id, field, |f| f());
}

fn emit_simple_with<F: ?Sized + 'static>(
    id: SockId,
    field: fn(&mut SocketListeners) -> &mut Listeners<F>,
    call: impl FnMut(&mut F),
) {
    crate::runtime::listeners::emit(|c| c.socket(id).map(|s| field(&mut s.listeners)), call);
}

/// Node's `net.Socket`: a TCP or unix-domain connection. A cheap `Copy`
/// handle; once the socket has closed, methods do nothing.
///
/// An HTTP server hands you one in its `connection` and `upgrade` events and
/// through `req.connection()`.
///
/// ```no_run
/// use nodelike::http;
/// let server = http::create_server(|_req, res| res.end(()));
/// server.on_upgrade(|_req, socket, head| {
///     socket.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n");
///     socket.write(head);
///     socket.on_data(move |chunk| { socket.write(chunk); });
/// });
/// server.listen(8000, "127.0.0.1", || {});
/// nodelike::run();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Socket {
    pub(crate) id: SockId,
}

impl Socket {
    /// Queues `data` for sending; returns `false` once more than the
    /// high-water mark (16 KiB) waits, and `drain` fires when it has gone.
    ///
    /// ```no_run
    /// # fn f(socket: nodelike::net::Socket) {
    /// if !socket.write("hello") {
    ///     socket.pause(); // stop reading until the peer catches up
    /// }
    /// # }
    /// ```
    pub fn write(&self, data: impl IntoChunk) -> bool {
        let bytes = data.chunk_bytes();
        with_core(|c| {
            c.queue_output(self.id, bytes);
            match c.socket(self.id) {
                Some(s) if !s.destroyed && !s.write_shut => {
                    let ok = s.backlog() < HIGH_WATER_MARK;
                    if !ok {
                        s.need_drain = true;
                    }
                    ok
                }
                _ => false,
            }
        })
        .unwrap_or(false)
    }

    /// Sends `data` (if any), then half-closes: the writing side shuts down
    /// once everything queued is flushed.
    ///
    /// ```no_run
    /// # fn f(socket: nodelike::net::Socket) {
    /// socket.end("bye\n");
    /// # }
    /// ```
    pub fn end(&self, data: impl IntoChunk) {
        let bytes = data.chunk_bytes();
        with_core(|c| {
            c.queue_output(self.id, bytes);
            if let Some(s) = c.socket(self.id) {
                if !s.destroyed {
                    s.ending = true;
                    c.dirty.push(self.id);
                }
            }
        });
    }

    /// Closes the connection now, dropping unsent output; `close` fires on
    /// the next loop turn.
    ///
    /// ```no_run
    /// # fn f(socket: nodelike::net::Socket) {
    /// socket.destroy();
    /// # }
    /// ```
    pub fn destroy(&self) {
        with_core(|c| c.destroy(self.id, Cause::Aborted));
    }

    /// Stops reading: no `data` until [`resume`](Socket::resume). The
    /// kernel's receive window then pushes back on the peer.
    ///
    /// ```no_run
    /// # fn f(socket: nodelike::net::Socket) {
    /// socket.pause();
    /// nodelike::set_timeout(move || socket.resume(), 1000);
    /// # }
    /// ```
    pub fn pause(&self) {
        with_core(|c| {
            if let Some(s) = c.socket(self.id) {
                log::trace!("socket {}: pause", self.id.key);
                s.paused = true;
            }
        });
    }

    /// Starts reading again after [`pause`](Socket::pause).
    ///
    /// ```no_run
    /// # fn f(socket: nodelike::net::Socket) {
    /// socket.resume();
    /// # }
    /// ```
    pub fn resume(&self) {
        with_core(|c| {
            if let Some(s) = c.socket(self.id) {
                if s.paused {
                    log::trace!("socket {}: resume", self.id.key);
                    s.paused = false;
                    c.pending.push_back(Pending::Resume(self.id));
                }
            }
        });
    }

    /// Sets the idle timeout: after `ms` milliseconds without traffic the
    /// `timeout` event fires (an HTTP server connection with no `timeout`
    /// listener is destroyed instead). `0` disables it.
    ///
    /// ```no_run
    /// # fn f(socket: nodelike::net::Socket) {
    /// socket.set_timeout(5_000);
    /// socket.on_timeout(move || socket.destroy());
    /// # }
    /// ```
    pub fn set_timeout(&self, ms: u64) {
        with_core(|c| {
            let now = c.now;
            if let Some(s) = c.socket(self.id) {
                s.idle_timeout = (ms > 0).then(|| Duration::from_millis(ms));
                s.last_active = now;
                if s.idle_timeout.is_none() {
                    s.timer_at = None; // a queued check becomes stale
                }
                c.arm_idle(self.id);
            }
        });
    }

    /// The peer's address (`None` for unix sockets or a closed socket).
    ///
    /// ```no_run
    /// # fn f(socket: nodelike::net::Socket) {
    /// if let Some(addr) = socket.remote_address() { println!("from {}", addr.ip()) }
    /// # }
    /// ```
    pub fn remote_address(&self) -> Option<SocketAddr> {
        with_core(|c| c.socket(self.id).and_then(|s| s.remote)).flatten()
    }

    /// Whether the socket is still open (not destroyed or closed).
    ///
    /// ```no_run
    /// # fn f(socket: nodelike::net::Socket) {
    /// assert!(socket.is_open());
    /// # }
    /// ```
    pub fn is_open(&self) -> bool {
        with_core(|c| matches!(c.socket(self.id), Some(s) if !s.destroyed)).unwrap_or(false)
    }

    /// Bytes queued and not yet handed to the OS (Node's `writableLength`).
    ///
    /// ```no_run
    /// # fn f(socket: nodelike::net::Socket) {
    /// println!("{} bytes waiting", socket.buffer_size());
    /// # }
    /// ```
    pub fn buffer_size(&self) -> usize {
        with_core(|c| c.socket(self.id).map(|s| s.backlog()))
            .flatten()
            .unwrap_or(0)
    }

    /// Adds a `data` listener: bytes as they arrive (raw sockets only; an
    /// HTTP connection's bytes go to its requests).
    ///
    /// ```no_run
    /// # fn f(socket: nodelike::net::Socket) {
    /// socket.on_data(move |chunk| { socket.write(chunk); });
    /// # }
    /// ```
    pub fn on_data(&self, f: impl FnMut(Chunk<'_>) + 'static) {
        self.add(|l| l.data.push(Box::new(f)));
    }

    /// Adds an `end` listener: the peer finished sending.
    ///
    /// ```no_run
    /// # fn f(socket: nodelike::net::Socket) {
    /// socket.on_end(|| println!("peer is done"));
    /// # }
    /// ```
    pub fn on_end(&self, f: impl FnMut() + 'static) {
        self.add(|l| l.end.push(Box::new(f)));
    }

    /// Adds a `close` listener: the socket is fully closed; the argument says
    /// whether it closed because of an error.
    ///
    /// ```no_run
    /// # fn f(socket: nodelike::net::Socket) {
    /// socket.on_close(|had_error| println!("closed (error: {had_error})"));
    /// # }
    /// ```
    pub fn on_close(&self, f: impl FnMut(bool) + 'static) {
        self.add(|l| l.close.push(Box::new(f)));
    }

    /// Adds a `drain` listener: the output queue emptied after `write`
    /// returned `false`.
    ///
    /// ```no_run
    /// # fn f(socket: nodelike::net::Socket) {
    /// socket.on_drain(move || socket.resume());
    /// # }
    /// ```
    pub fn on_drain(&self, f: impl FnMut() + 'static) {
        self.add(|l| l.drain.push(Box::new(f)));
    }

    /// Adds a `timeout` listener (see [`set_timeout`](Socket::set_timeout)).
    ///
    /// ```no_run
    /// # fn f(socket: nodelike::net::Socket) {
    /// socket.on_timeout(move || socket.end(()));
    /// # }
    /// ```
    pub fn on_timeout(&self, f: impl FnMut() + 'static) {
        self.add(|l| l.timeout.push(Box::new(f)));
    }

    fn add(&self, f: impl FnOnce(&mut SocketListeners)) {
        with_core(|c| {
            if let Some(s) = c.socket(self.id) {
                f(&mut s.listeners);
            }
        });
    }
}
