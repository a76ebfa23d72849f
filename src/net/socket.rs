//! The socket record, the functions a protocol calls on it, and the public
//! [`Socket`] handle.
//!
//! A socket record is changed only here and in `io.rs`: protocols above
//! call these functions (`write`, `write_with`, `destroy`,
//! `set_idle_timeout`, ...) instead of touching its fields. Each borrows
//! this layer's state for its own length and never calls up.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::lifecycle::{Drain, Flow, Life, Reading, Writing};
use super::transport::Transport;
use super::{with_net, Cause, Protocol, SockId, HIGH_WATER_MARK};
use crate::chunk::{Chunk, IntoChunk};
use crate::runtime::listeners::Listeners;
use crate::runtime::{self, LoopBound, SourceKey, Work};

/// How long a socket that closed on a protocol error keeps reading (and
/// discarding) after its final response, so the peer sees that response
/// instead of a reset.
pub(crate) const LINGER: Duration = Duration::from_secs(2);

#[derive(Default)]
pub(crate) struct SocketListeners {
    pub(crate) data: Listeners<dyn FnMut(Chunk<'_>)>,
    pub(crate) end: Listeners<dyn FnMut()>,
    pub(crate) close: Listeners<dyn FnMut(bool)>,
    pub(crate) drain: Listeners<dyn FnMut()>,
    pub(crate) timeout: Listeners<dyn FnMut()>,
    /// `net::connect`'s callback: the connection is up.
    pub(crate) connect: Listeners<dyn FnMut()>,
    /// Right after `connect`: the socket can be used.
    pub(crate) ready: Listeners<dyn FnMut()>,
    /// `end()` was called and every byte went to the OS.
    pub(crate) finish: Listeners<dyn FnMut()>,
    /// Emitted just before `close(true)`.
    pub(crate) error: Listeners<dyn FnMut(&crate::Error)>,
}

/// Whether a socket ends its own side when the peer's FIN arrives (Node's
/// `allowHalfOpen`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum HalfOpen {
    /// Node's default: after the `end` listeners ran, our side ends too.
    #[default]
    EndWithPeer,
    /// Our side stays writable until the user calls `end`.
    StayWritable,
}

/// What the public `net` API keeps per socket beyond what protocols need:
/// Node's options and the state its events and counters read.
#[derive(Default)]
pub(crate) struct NodeSide {
    pub(super) half_open: HalfOpen,
    /// Bytes read from the transport (Node's `bytesRead`).
    pub(super) bytes_read: u64,
    /// Nested `cork()` calls: while above zero, nothing is flushed.
    pub(super) corks: u32,
    /// The error `error` will carry, emitted on the close turn right before
    /// `close(true)` (Node emits both on the tick after `destroy(err)`).
    pub(super) error: Option<crate::Error>,
}

pub(crate) struct SocketRec {
    pub(super) gen: u32,
    /// `None` once destroyed (the descriptor is closed at once; `close` is
    /// emitted on the next turn).
    pub(super) transport: Option<Box<dyn Transport>>,
    /// Its registration with the poller (none for in-memory transports).
    pub(super) source: Option<SourceKey>,
    pub(super) remote: Option<SocketAddr>,
    pub(super) protocol: &'static Protocol,
    /// Connecting, open, lingering or destroyed (`lifecycle.rs`).
    pub(super) life: Life,
    /// How far the peer's side has gone: open, its end announced, its EOF
    /// read, its end delivered.
    pub(super) reading: Reading,
    /// How far our side has gone: open, ending, shut, finished.
    pub(super) writing: Writing,
    /// Bytes waiting to be written, from `out_pos` on. A pooled buffer while
    /// non-empty; an idle socket holds none.
    pub(super) out: Vec<u8>,
    pub(super) out_pos: usize,
    /// Total bytes written to the OS so far, file bytes included (marks
    /// when a response finished).
    pub(super) written: u64,
    /// Files queued in the output, each at its place among `out`'s bytes
    /// (`send_file.rs`).
    pub(super) files: super::send_file::FileQueue,
    /// Input read but not yet consumed (a partial head, or bytes held while
    /// paused). Pooled; empty when idle.
    pub(super) inbuf: Vec<u8>,
    /// The user's `pause()`/`resume()`.
    pub(super) flow: Flow,
    /// Whether the protocol asked to stop reading, and until when (the
    /// pipelining-flood guard).
    pub(super) input_hold: InputHold,
    /// A write went over the high-water mark: `drain` once the output is
    /// gone.
    pub(super) drain: Drain,
    pub(super) idle_timeout: Option<Duration>,
    pub(super) last_active: Instant,
    /// The deadline of the idle check queued in the timer heap, if any.
    pub(super) timer_at: Option<Instant>,
    /// Made by the first listener added: a socket only a protocol reads
    /// (an HTTP connection, a WebSocket) holds none, 200 bytes less each.
    pub(super) listeners: Option<Box<SocketListeners>>,
    /// Does not keep the loop alive (an idle pooled client socket, an
    /// in-memory connection).
    pub(super) unref: bool,
    pub(super) node: NodeSide,
}

/// Why a protocol stopped a socket's reading, which says what resumes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InputHold {
    /// Reading as usual.
    None,
    /// The socket's output is over the high-water mark: reading resumes
    /// when it has all been written.
    UntilFlushed,
    /// Output the protocol holds above the socket (responses queued behind
    /// the one being sent) is over the mark: reading resumes when the
    /// protocol says so ([`release_input`]), since no flush of this
    /// socket's (possibly empty) buffer would tell.
    UntilReleased,
}

impl InputHold {
    pub(super) fn is_held(self) -> bool {
        self != InputHold::None
    }
}

impl SocketRec {
    /// Bytes queued and not yet written.
    pub(super) fn backlog(&self) -> usize {
        self.out.len() - self.out_pos
    }

    /// Sends the FIN (the transport's write shutdown); errors are ignored,
    /// as the peer may be gone already.
    pub(super) fn send_fin(&mut self) {
        if let Some(t) = &mut self.transport {
            let _ = t.shutdown_write();
        }
    }

    /// Shuts down the writing side now (a linger), once.
    pub(super) fn shut_write(&mut self) {
        if self.writing.shut() {
            self.send_fin();
        }
    }

    /// Whether new output may be queued: not destroyed, and our side not
    /// shut.
    pub(super) fn accepts_writes(&self) -> bool {
        !self.life.is_destroyed() && self.writing.accepts_writes()
    }

    pub(super) fn can_read(&self) -> bool {
        !self.life.is_destroyed()
            && self.flow == Flow::Flowing
            && !self.input_hold.is_held()
            && self.reading.may_send()
    }
}

impl super::Net {
    pub(super) fn socket(&mut self, id: SockId) -> Option<&mut SocketRec> {
        match self.sockets.get_mut(id.key as usize) {
            Some(s) if s.gen == id.gen => Some(s),
            _ => None,
        }
    }
}

/// How a new socket starts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Open {
    pub(crate) protocol: &'static Protocol,
    pub(crate) idle_timeout: Option<Duration>,
    /// A connect is under way: the protocol's `connected` runs when it
    /// finishes.
    pub(crate) connecting: bool,
    /// The socket does not keep the loop alive.
    pub(crate) unref: bool,
}

/// The readiness handler of every socket registered with the poller.
pub(super) static SOCKET_IO: runtime::IoHandler = runtime::IoHandler {
    ready: super::io::on_ready,
    on_panic: destroy_ctx,
};

/// Makes a socket record for `transport`, registers it with the poller (if
/// the OS drives it), and starts its idle clock.
pub(crate) fn open(
    mut transport: Box<dyn Transport>,
    remote: Option<SocketAddr>,
    how: Open,
) -> std::io::Result<SockId> {
    let now = runtime::now();
    let gen = runtime::next_gen();
    let id = with_net(|net| {
        let entry = net.sockets.vacant_entry();
        let id = SockId {
            key: entry.key() as u32,
            gen,
        };
        let source = match transport.source() {
            Some(src) => Some(runtime::register(
                src,
                mio::Interest::READABLE | mio::Interest::WRITABLE,
                &SOCKET_IO,
                id.ctx(),
            )?),
            None => None,
        };
        entry.insert(SocketRec::new(
            gen,
            Some(transport),
            source,
            remote,
            how,
            now,
        ));
        if !how.unref {
            runtime::add_ref();
        }
        arm_idle(net, id);
        Ok::<_, std::io::Error>(id)
    })
    .unwrap_or_else(|| Err(std::io::ErrorKind::NotConnected.into()))?;
    log::trace!(
        "socket {}: open ({}, from {remote:?})",
        id.key,
        how.protocol.name
    );
    Ok(id)
}

/// Makes a socket record with no transport yet: a connect whose address is
/// still being looked up. Writes queue (it is `connecting`) until
/// [`attach`] gives it its stream; it keeps the loop alive meanwhile.
pub(crate) fn open_unattached(how: Open) -> SockId {
    let now = runtime::now();
    let gen = runtime::next_gen();
    with_net(|net| {
        let entry = net.sockets.vacant_entry();
        let id = SockId {
            key: entry.key() as u32,
            gen,
        };
        entry.insert(SocketRec::new(gen, None, None, None, how, now));
        if !how.unref {
            runtime::add_ref();
        }
        arm_idle(net, id);
        id
    })
    .unwrap_or(SockId::NONE)
}

/// Gives a socket made by [`open_unattached`] its (connecting) stream and
/// registers it; the connect's outcome then arrives as readiness. A socket
/// destroyed meanwhile drops the stream (closing it).
pub(crate) fn attach(
    id: SockId,
    mut transport: Box<dyn Transport>,
    remote: Option<SocketAddr>,
) -> std::io::Result<()> {
    with_net(|net| {
        let s = net.socket(id).filter(|s| !s.life.is_destroyed())?;
        let source = transport.source().map(|src| {
            runtime::register(
                src,
                mio::Interest::READABLE | mio::Interest::WRITABLE,
                &SOCKET_IO,
                id.ctx(),
            )
        });
        let source = match source.transpose() {
            Ok(source) => source,
            Err(e) => return Some(Err(e)),
        };
        s.transport = Some(transport);
        s.source = source;
        s.remote = remote;
        Some(Ok(()))
    })
    .flatten()
    .unwrap_or(Ok(()))
}

impl SocketRec {
    fn new(
        gen: u32,
        transport: Option<Box<dyn Transport>>,
        source: Option<SourceKey>,
        remote: Option<SocketAddr>,
        how: Open,
        now: Instant,
    ) -> SocketRec {
        SocketRec {
            gen,
            transport,
            source,
            remote,
            protocol: how.protocol,
            life: if how.connecting {
                Life::Connecting
            } else {
                Life::Open
            },
            reading: Reading::Open,
            writing: Writing::Open,
            out: Vec::new(),
            out_pos: 0,
            written: 0,
            files: Default::default(),
            inbuf: Vec::new(),
            flow: Flow::Flowing,
            input_hold: InputHold::None,
            drain: Drain::NotOwed,
            idle_timeout: how.idle_timeout,
            last_active: now,
            timer_at: None,
            listeners: None,
            unref: how.unref,
            node: NodeSide::default(),
        }
    }
}

/// Queues the idle-timeout check of a socket for `last_active + timeout`,
/// unless a check at or before that time is already queued.
pub(super) fn arm_idle(net: &mut super::Net, id: SockId) {
    let Some(s) = net.socket(id) else { return };
    let Some(t) = s.idle_timeout else { return };
    let at = s.last_active + t;
    if s.timer_at.is_some_and(|queued| queued <= at) {
        return;
    }
    s.timer_at = Some(at);
    runtime::schedule(
        at,
        Work::owned(super::io::check_idle, id.ctx(), destroy_ctx).while_alive(socket_alive),
    );
}

/// Marks a socket for the flush at the end of the current phase.
fn cork(id: SockId) {
    runtime::cork(Work::owned(super::io::flush_ctx, id.ctx(), destroy_ctx));
}

/// Appends bytes to a socket's output (taking a pooled buffer when it had
/// none) and corks it. Returns whether the output is under the high-water
/// mark; over it, `drain` will follow once it has gone.
pub(crate) fn write(id: SockId, bytes: &[u8]) -> bool {
    write_with(id, |out| out.extend_from_slice(bytes)).unwrap_or(false)
}

/// Lets `encode` append to a socket's output buffer directly (no copy),
/// then corks the socket. Returns whether the output is under the
/// high-water mark (and asks for `drain` when it is not), or `None` if the
/// socket can no longer write (`encode` is not called then).
pub(crate) fn write_with(id: SockId, encode: impl FnOnce(&mut Vec<u8>)) -> Option<bool> {
    with_net(|net| {
        let s = net.socket(id)?;
        if !s.accepts_writes() {
            return None;
        }
        let was_empty = s.backlog() == 0;
        if s.out.capacity() == 0 {
            s.out = runtime::take_buf();
        }
        encode(&mut s.out);
        let backlog = s.backlog();
        if was_empty && backlog > 0 {
            cork(id);
        }
        let ok = backlog < HIGH_WATER_MARK;
        if !ok {
            s.drain = Drain::Owed;
        }
        Some(ok)
    })
    .flatten()
}

/// Moves `bytes` to the end of a socket's output: the buffer itself when
/// the output is empty (no copy), else its contents; `bytes` is left empty
/// either way (holding a spare buffer or none).
pub(crate) fn write_owned(id: SockId, bytes: &mut Vec<u8>) {
    if bytes.is_empty() {
        return;
    }
    with_net(|net| {
        let Some(s) = net.socket(id) else { return };
        if !s.accepts_writes() {
            bytes.clear();
            return;
        }
        // With a file waiting, `out` is only appended to: the file's place
        // is an index into it.
        if s.backlog() == 0 && s.files.is_empty() {
            std::mem::swap(&mut s.out, bytes);
            s.out_pos = 0;
            bytes.clear();
            cork(id);
        } else {
            s.out.extend_from_slice(bytes);
            bytes.clear();
        }
    });
}

/// Asks for the protocol's `drain` once the socket's output has gone
/// (a write the protocol buffered elsewhere went over the mark).
pub(crate) fn want_drain(id: SockId) {
    with_net(|net| {
        if let Some(s) = net.socket(id) {
            s.drain = Drain::Owed;
        }
    });
}

/// Flushes the socket at the end of this phase even if nothing new was
/// written: an empty flush runs the protocol's `flushed` (which may close
/// the connection).
pub(crate) fn flush_soon(id: SockId) {
    cork(id);
}

/// Hands the socket to another protocol (an upgrade leaves HTTP for
/// [`RAW`](super::RAW), or for a layer above such as WebSocket); input held
/// so far goes to the new one. Returns the protocol it replaced (`None`
/// when the socket is gone), so the new one can chain to its hooks.
pub(crate) fn set_protocol(id: SockId, protocol: &'static Protocol) -> Option<&'static Protocol> {
    with_net(|net| {
        let s = net.socket(id)?;
        log::trace!(
            "socket {}: protocol {} -> {}",
            id.key,
            s.protocol.name,
            protocol.name
        );
        Some(std::mem::replace(&mut s.protocol, protocol))
    })
    .flatten()
}

/// Bytes queued on a socket and not yet written.
pub(crate) fn backlog(id: SockId) -> usize {
    with_net(|net| net.socket(id).map(|s| s.backlog()))
        .flatten()
        .unwrap_or(0)
}

/// The total of bytes written a socket will reach once everything queued
/// now is flushed (to know when a given response has left).
pub(crate) fn queued_mark(id: SockId) -> u64 {
    with_net(|net| {
        net.socket(id)
            .map(|s| s.written + s.backlog() as u64 + s.files.remaining())
    })
    .flatten()
    .unwrap_or(0)
}

/// Bytes handed to the OS so far.
pub(crate) fn written(id: SockId) -> u64 {
    with_net(|net| net.socket(id).map(|s| s.written))
        .flatten()
        .unwrap_or(0)
}

/// What a protocol needs to know before reading on: whether the socket is
/// gone, paused, and how much output waits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadState {
    pub(crate) destroyed: bool,
    pub(crate) paused: bool,
    pub(crate) backlog: usize,
}

/// See [`ReadState`]; `None` for a socket that no longer exists.
pub(crate) fn read_state(id: SockId) -> Option<ReadState> {
    with_net(|net| {
        net.socket(id).map(|s| ReadState {
            destroyed: s.life.is_destroyed(),
            paused: s.flow == Flow::Paused,
            backlog: s.backlog(),
        })
    })
    .flatten()
}

/// The back-pressure guard: stop reading until the output has been
/// flushed; reading then resumes by itself (and reads the socket, whose
/// data may have been announced already).
pub(crate) fn hold_input_until_flushed(id: SockId) {
    with_net(|net| {
        if let Some(s) = net.socket(id) {
            log::trace!("socket {}: output backlog; reading stops", id.key);
            s.input_hold = InputHold::UntilFlushed;
        }
    });
}

/// Stops reading until [`release_input`]: for output the protocol holds
/// itself, which the socket's flushes know nothing of.
pub(crate) fn hold_input_until_released(id: SockId) {
    with_net(|net| {
        if let Some(s) = net.socket(id) {
            log::trace!("socket {}: protocol output held; reading stops", id.key);
            s.input_hold = InputHold::UntilReleased;
        }
    });
}

/// Ends a [`hold_input_until_released`] hold: held input is processed (and
/// the socket read) again on the next turn. Any other state is left alone.
pub(crate) fn release_input(id: SockId) {
    let released = with_net(|net| {
        let s = net.socket(id)?;
        (s.input_hold == InputHold::UntilReleased).then(|| s.input_hold = InputHold::None)
    })
    .flatten()
    .is_some();
    if released {
        log::trace!(
            "socket {}: protocol output released; reading resumes",
            id.key
        );
        runtime::defer(runtime::Work::owned(
            super::io::resume_ctx,
            id.ctx(),
            destroy_ctx,
        ));
    }
}

/// Whether input read earlier waits unconsumed (a partial message).
pub(crate) fn has_held_input(id: SockId) -> bool {
    with_net(|net| net.socket(id).is_some_and(|s| !s.inbuf.is_empty())).unwrap_or(false)
}

/// Whether the peer's end of stream was a truncation (TLS without
/// `close_notify`), not a clean end.
pub(crate) fn eof_was_truncated(id: SockId) -> bool {
    with_net(|net| net.socket(id).is_some_and(|s| s.reading.truncated())).unwrap_or(false)
}

/// Whether the socket exists and is not destroyed.
pub(crate) fn is_open(id: SockId) -> bool {
    with_net(|net| net.socket(id).is_some_and(|s| !s.life.is_destroyed())).unwrap_or(false)
}

/// `Work::alive` for a socket's timers: whether the socket (`ctx`, key and
/// generation) still exists. A closed socket's idle check or request
/// deadline is dropped when the timer heap is compacted.
pub(crate) fn socket_alive(ctx: u64) -> bool {
    with_net(|net| net.socket(SockId::from_ctx(ctx)).is_some()).unwrap_or(false)
}

/// Whether the socket can carry another exchange: open, and the peer has
/// not finished sending.
pub(crate) fn is_reusable(id: SockId) -> bool {
    with_net(|net| {
        net.socket(id)
            .is_some_and(|s| !s.life.is_destroyed() && s.reading == Reading::Open)
    })
    .unwrap_or(false)
}

/// Whether a connect is still under way.
pub(crate) fn is_connecting(id: SockId) -> bool {
    with_net(|net| net.socket(id).is_some_and(|s| s.life.is_connecting())).unwrap_or(false)
}

/// Sets the idle timeout (`None`: off) and restarts the idle clock.
pub(crate) fn set_idle_timeout(id: SockId, timeout: Option<Duration>) {
    let now = runtime::now();
    with_net(|net| {
        let Some(s) = net.socket(id) else { return };
        s.idle_timeout = timeout;
        s.last_active = now;
        if timeout.is_none() {
            s.timer_at = None; // a queued check becomes stale
        }
        arm_idle(net, id);
    });
}

/// Whether the socket keeps the loop alive (Node's `ref`/`unref`): idle
/// pooled client sockets do not.
pub(crate) fn set_ref(id: SockId, keeps_loop_alive: bool) {
    with_net(|net| {
        let Some(s) = net.socket(id) else { return };
        if s.unref != keeps_loop_alive {
            return;
        }
        s.unref = !keeps_loop_alive;
        if keeps_loop_alive {
            runtime::add_ref();
        } else {
            runtime::release_ref();
        }
    });
}

/// Closes the descriptor now and queues the `close` events for the next
/// turn (Node never emits `close` inline).
pub(crate) fn destroy(id: SockId, cause: Cause) {
    with_net(|net| destroy_in(net, id, cause));
}

pub(super) fn destroy_in(net: &mut super::Net, id: SockId, cause: Cause) {
    let Some(s) = net.socket(id) else { return };
    if !s.life.destroy(cause) {
        return;
    }
    log::trace!("socket {}: destroyed ({:?})", id.key, cause);
    let transport = s.transport.take();
    let source = s.source.take();
    let out = std::mem::take(&mut s.out);
    let inbuf = std::mem::take(&mut s.inbuf);
    s.out_pos = 0;
    s.files.clear();
    if let (Some(mut transport), Some(key)) = (transport, source) {
        if let Some(src) = transport.source() {
            runtime::deregister(src, key);
        }
    }
    runtime::give_buf(out);
    runtime::give_buf(inbuf);
    runtime::defer(Work::new(super::io::finish_close, id.ctx()));
}

/// Destroys the socket a context value names (after a panic in its work,
/// or at the end of a linger).
pub(crate) fn destroy_ctx(ctx: u64) {
    destroy(SockId::from_ctx(ctx), Cause::Aborted);
}

/// Shuts down the writing side and keeps reading, discarding, until the
/// peer closes or [`LINGER`] passes (so the peer reads our last answer
/// rather than a reset).
pub(crate) fn shutdown_and_linger(id: SockId) {
    let now = runtime::now();
    with_net(|net| {
        let Some(s) = net.socket(id) else { return };
        if s.life.is_destroyed() {
            return;
        }
        s.shut_write();
        if s.reading.eof_seen() {
            // The peer is done too: nothing to wait for.
            destroy_in(net, id, Cause::Aborted);
            return;
        }
        if s.life.start_linger() {
            log::trace!("socket {}: lingering after close", id.key);
            // Reading must go on to see the peer's close, whatever stopped
            // it before.
            s.flow = Flow::Flowing;
            s.input_hold = InputHold::None;
            runtime::schedule(
                now + LINGER,
                Work::new(destroy_ctx, id.ctx()).while_alive(socket_alive),
            );
            runtime::defer(Work::owned(super::io::resume_ctx, id.ctx(), destroy_ctx));
        }
    });
}

/// Keeps `error` for the socket's `error` event, emitted on its close
/// turn before `close(true)`. The first error wins, as in Node.
pub(crate) fn set_error(id: SockId, error: crate::Error) {
    with_net(|net| {
        if let Some(s) = net.socket(id) {
            s.node.error.get_or_insert(error);
        }
    });
}

/// A failed write as Node words it: `write EPIPE` (which the crate's
/// error kinds count as a reset, but Node names by its errno), or
/// `write ECONNRESET: ...`.
pub(super) fn write_error(e: std::io::Error) -> crate::Error {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        crate::Error::new(crate::ErrorKind::ConnectionReset, "write EPIPE")
            .with_code("EPIPE")
            .with_source(e)
    } else {
        crate::Error::syscall("write", e, "")
    }
}

/// Destroys a socket with `error` (Node's `socket.destroy(err)`): `error`,
/// then `close(true)`, on the next turn.
pub(crate) fn destroy_with_error(id: SockId, error: crate::Error) {
    with_net(|net| {
        if let Some(s) = net.socket(id).filter(|s| !s.life.is_destroyed()) {
            s.node.error.get_or_insert(error);
            destroy_in(net, id, Cause::Error);
        }
    });
}

/// Emits one of a socket's events; returns whether anyone listened.
pub(super) fn emit_socket<F: ?Sized + 'static>(
    id: SockId,
    field: fn(&mut SocketListeners) -> &mut Listeners<F>,
    call: impl FnMut(&mut F),
) -> bool {
    runtime::listeners::emit(
        |f| {
            with_net(|net| {
                let s = net.socket(id)?;
                if let Some(l) = s.listeners.as_deref_mut() {
                    f(field(l));
                }
                Some(())
            })
            .flatten()
            .is_some()
        },
        call,
    )
}

/// Node's `net.Socket`: a TCP or unix-domain connection. A cheap `Copy`
/// handle; once the socket has closed, methods do nothing. It belongs to
/// the loop of the thread that made it (it is not `Send`).
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
///
/// A handle cannot leave its loop's thread:
///
/// ```compile_fail
/// fn on_another_thread(socket: nodelike::net::Socket) {
///     std::thread::spawn(move || socket.destroy());
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Socket {
    pub(crate) id: SockId,
    _loop: LoopBound,
}

impl Socket {
    pub(crate) fn from_id(id: SockId) -> Socket {
        Socket {
            id,
            _loop: LoopBound::default(),
        }
    }

    /// Queues `data` for sending; returns `false` once more than the
    /// high-water mark (16 KiB) waits, and `drain` fires when it has gone.
    /// Writing after [`end`](Socket::end) is Node's `write after end`
    /// (`ERR_STREAM_WRITE_AFTER_END`): the socket is destroyed with it,
    /// so `error` and `close(true)` follow.
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
        let ended = with_net(|net| net.socket(self.id).is_some_and(|s| s.writing.end_called()))
            .unwrap_or(false);
        if ended && !bytes.is_empty() {
            destroy_with_error(
                self.id,
                crate::Error::new(crate::ErrorKind::WriteAfterEnd, "write after end"),
            );
            return false;
        }
        write(self.id, bytes)
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
        write(self.id, bytes);
        let ending = with_net(|net| match net.socket(self.id) {
            Some(s) if !s.life.is_destroyed() => {
                s.writing.end();
                // As Node's `end()`: every `cork()` is undone.
                s.node.corks = 0;
                true
            }
            _ => false,
        })
        .unwrap_or(false);
        if ending {
            cork(self.id);
        }
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
        destroy(self.id, Cause::Aborted);
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
        with_net(|net| {
            if let Some(s) = net.socket(self.id) {
                log::trace!("socket {}: pause", self.id.key);
                s.flow = Flow::Paused;
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
        let resumed = with_net(|net| match net.socket(self.id) {
            Some(s) if s.flow == Flow::Paused => {
                log::trace!("socket {}: resume", self.id.key);
                s.flow = Flow::Flowing;
                true
            }
            _ => false,
        })
        .unwrap_or(false);
        if resumed {
            runtime::defer(Work::owned(
                super::io::resume_ctx,
                self.id.ctx(),
                destroy_ctx,
            ));
        }
    }

    /// Sets the idle timeout: after `ms` milliseconds without traffic the
    /// `timeout` event fires (an HTTP connection with no `timeout` listener
    /// is destroyed instead). `0` disables it.
    ///
    /// ```no_run
    /// # fn f(socket: nodelike::net::Socket) {
    /// socket.set_timeout(5_000);
    /// socket.on_timeout(move || socket.destroy());
    /// # }
    /// ```
    #[doc(alias = "setTimeout")]
    pub fn set_timeout(&self, ms: u64) {
        set_idle_timeout(self.id, (ms > 0).then(|| Duration::from_millis(ms)));
    }

    /// The peer's address (`None` for unix sockets or a closed socket).
    ///
    /// ```no_run
    /// # fn f(socket: nodelike::net::Socket) {
    /// if let Some(addr) = socket.remote_address() { println!("from {}", addr.ip()) }
    /// # }
    /// ```
    #[doc(alias = "remoteAddress")]
    pub fn remote_address(&self) -> Option<SocketAddr> {
        with_net(|net| net.socket(self.id).and_then(|s| s.remote)).flatten()
    }

    /// The local address (`None` for unix sockets, in-memory connections
    /// or a closed socket).
    ///
    /// ```no_run
    /// # fn f(socket: nodelike::net::Socket) {
    /// println!("accepted on port {:?}", socket.local_port());
    /// # }
    /// ```
    #[doc(alias = "localAddress")]
    pub fn local_address(&self) -> Option<SocketAddr> {
        with_net(|net| {
            net.socket(self.id)
                .and_then(|s| s.transport.as_ref()?.local_addr())
        })
        .flatten()
    }

    /// The local port (Node's `socket.localPort`).
    ///
    /// ```no_run
    /// # fn f(socket: nodelike::net::Socket) {
    /// assert_eq!(socket.local_port(), socket.local_address().map(|a| a.port()));
    /// # }
    /// ```
    #[doc(alias = "localPort")]
    pub fn local_port(&self) -> Option<u16> {
        self.local_address().map(|a| a.port())
    }

    /// The peer's port (Node's `socket.remotePort`).
    ///
    /// ```no_run
    /// # fn f(socket: nodelike::net::Socket) {
    /// println!("from port {:?}", socket.remote_port());
    /// # }
    /// ```
    #[doc(alias = "remotePort")]
    pub fn remote_port(&self) -> Option<u16> {
        self.remote_address().map(|a| a.port())
    }

    /// Turns Nagle's algorithm off (`true`, the default for sockets this
    /// crate opens) or on (Node's `setNoDelay`).
    ///
    /// ```no_run
    /// # fn f(socket: nodelike::net::Socket) {
    /// socket.set_no_delay(true);
    /// # }
    /// ```
    #[doc(alias = "setNoDelay")]
    pub fn set_no_delay(&self, no_delay: bool) {
        self.transport_option(|t| t.set_nodelay(no_delay));
    }

    /// Turns TCP keep-alive probes on, starting after `initial_delay_ms`
    /// of silence (`0`: the system's default delay), or off (Node's
    /// `setKeepAlive(enable, initialDelay)`).
    ///
    /// ```no_run
    /// # fn f(socket: nodelike::net::Socket) {
    /// socket.set_keep_alive(true, 60_000);
    /// # }
    /// ```
    #[doc(alias = "setKeepAlive")]
    pub fn set_keep_alive(&self, enable: bool, initial_delay_ms: u64) {
        let idle = enable.then(|| {
            if initial_delay_ms == 0 {
                Duration::from_secs(7200)
            } else {
                Duration::from_millis(initial_delay_ms)
            }
        });
        self.transport_option(|t| t.set_keepalive(idle));
    }

    /// Whether the connection is TLS (Node's `socket.encrypted`).
    ///
    /// ```no_run
    /// # fn f(socket: nodelike::net::Socket) {
    /// println!("secure: {}", socket.encrypted());
    /// # }
    /// ```
    #[cfg(feature = "tls")]
    pub fn encrypted(&self) -> bool {
        self.with_tls(|_| ()).is_some()
    }

    /// Whether the peer's certificate checked out against the trusted
    /// authorities, and on a client also for the server's name (Node's
    /// `socket.authorized`). A client told not to reject
    /// (`reject_unauthorized: false`) still judges: an untrusted server is
    /// served with `authorized() == false` and the reason in
    /// [`authorization_error`](Self::authorization_error). On an HTTPS
    /// server this is about client certificates, so it is `false` unless
    /// the server asks for them (`request_cert`).
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::IncomingMessage) {
    /// if !req.connection().authorized() {
    ///     eprintln!("{:?}", req.connection().authorization_error());
    /// }
    /// # }
    /// ```
    #[cfg(feature = "tls")]
    pub fn authorized(&self) -> bool {
        self.with_tls(|t| matches!(t.authorization, Some(Ok(()))))
            .unwrap_or(false)
    }

    /// Why the peer's certificate did not check out (Node's
    /// `socket.authorizationError`; `code()` gives Node's string).
    ///
    /// ```no_run
    /// # fn f(socket: nodelike::net::Socket) {
    /// if let Some(issue) = socket.authorization_error() { eprintln!("{}", issue.code()) }
    /// # }
    /// ```
    #[cfg(feature = "tls")]
    #[doc(alias = "authorizationError")]
    pub fn authorization_error(&self) -> Option<super::tls::CertIssue> {
        self.with_tls(|t| t.authorization.and_then(|a| a.err()))
            .flatten()
    }

    /// Whether the peer's certificate is valid for the trusted authorities
    /// (the seed's `request.connection.verifyPeer()`; the same as
    /// [`authorized`](Self::authorized)).
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::IncomingMessage) {
    /// let trusted = req.connection().verify_peer();
    /// # }
    /// ```
    #[cfg(feature = "tls")]
    #[doc(alias = "verifyPeer")]
    pub fn verify_peer(&self) -> bool {
        self.authorized()
    }

    /// The peer's certificate (the seed's
    /// `request.connection.getPeerCertificate()`), or `None` when it sent
    /// none or the connection is not TLS. Its `issuer_certificate` links
    /// up the chain the peer sent (Node's `getPeerCertificate(true)`).
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::IncomingMessage) {
    /// if let Some(cert) = req.connection().peer_certificate() {
    ///     println!("hello, {:?}", cert.subject.cn);
    /// }
    /// # }
    /// ```
    #[cfg(feature = "tls")]
    #[doc(alias = "getPeerCertificate")]
    pub fn peer_certificate(&self) -> Option<super::tls::PeerCertificate> {
        self.with_tls(|t| super::tls::PeerCertificate::from_chain(t.peer_certificates.as_deref()?))
            .flatten()
    }

    /// The protocol agreed by ALPN (`"http/1.1"`), if any (Node's
    /// `socket.alpnProtocol`).
    ///
    /// ```no_run
    /// # fn f(socket: nodelike::net::Socket) {
    /// println!("{:?}", socket.alpn_protocol());
    /// # }
    /// ```
    #[cfg(feature = "tls")]
    #[doc(alias = "alpnProtocol")]
    pub fn alpn_protocol(&self) -> Option<String> {
        self.with_tls(|t| {
            t.alpn_protocol
                .map(|p| String::from_utf8_lossy(&p).into_owned())
        })
        .flatten()
    }

    /// The server name the client asked for by SNI (Node's
    /// `socket.servername`, server side).
    ///
    /// ```no_run
    /// # fn f(socket: nodelike::net::Socket) {
    /// println!("{:?}", socket.servername());
    /// # }
    /// ```
    #[cfg(feature = "tls")]
    pub fn servername(&self) -> Option<String> {
        self.with_tls(|t| t.server_name).flatten()
    }

    /// Whether the TLS session was resumed from an earlier connection
    /// (Node's `tlsSocket.isSessionReused()`).
    ///
    /// ```no_run
    /// # fn f(socket: nodelike::net::Socket) {
    /// println!("resumed: {}", socket.is_session_reused());
    /// # }
    /// ```
    #[cfg(feature = "tls")]
    #[doc(alias = "isSessionReused")]
    pub fn is_session_reused(&self) -> bool {
        self.with_tls(|t| t.resumed).unwrap_or(false)
    }

    #[cfg(feature = "tls")]
    fn with_tls<R>(&self, f: impl FnOnce(super::tls::TlsState<'_>) -> R) -> Option<R> {
        with_net(|net| {
            let t = net.socket(self.id)?.transport.as_ref()?.tls()?;
            Some(f(t))
        })
        .flatten()
    }

    fn transport_option(&self, set: impl FnOnce(&dyn Transport) -> std::io::Result<()>) {
        let result = with_net(|net| {
            net.socket(self.id)
                .and_then(|s| s.transport.as_deref())
                .map(set)
        })
        .flatten();
        if let Some(Err(e)) = result {
            log::debug!("socket {}: setting an option failed: {e}", self.id.key);
        }
    }

    /// Whether the socket is still open (not destroyed or closed).
    ///
    /// ```no_run
    /// # fn f(socket: nodelike::net::Socket) {
    /// assert!(socket.is_open());
    /// # }
    /// ```
    pub fn is_open(&self) -> bool {
        is_open(self.id)
    }

    /// Bytes queued and not yet handed to the OS (Node's `writableLength`).
    ///
    /// ```no_run
    /// # fn f(socket: nodelike::net::Socket) {
    /// println!("{} bytes waiting", socket.buffer_size());
    /// # }
    /// ```
    #[doc(alias = "bufferSize")]
    pub fn buffer_size(&self) -> usize {
        backlog(self.id)
    }

    /// Adds a `data` listener: bytes as they arrive (raw sockets only; an
    /// HTTP connection's bytes go to its requests).
    ///
    /// ```no_run
    /// # fn f(socket: nodelike::net::Socket) {
    /// socket.on_data(move |chunk| { socket.write(chunk); });
    /// # }
    /// ```
    #[doc(alias = "data")]
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
    #[doc(alias = "end")]
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
    #[doc(alias = "close")]
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
    #[doc(alias = "drain")]
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
    #[doc(alias = "timeout")]
    pub fn on_timeout(&self, f: impl FnMut() + 'static) {
        self.add(|l| l.timeout.push(Box::new(f)));
    }

    fn add(&self, f: impl FnOnce(&mut SocketListeners)) {
        with_net(|net| {
            if let Some(s) = net.socket(self.id) {
                f(s.listeners.get_or_insert_with(Box::default));
            }
        });
    }
}

/// Where a socket is in its life, as Node's `socket.readyState` names it.
///
/// ```
/// use nodelike::net::ReadyState;
/// assert_eq!(ReadyState::ReadOnly.as_str(), "readOnly");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[doc(alias = "readyState")]
pub enum ReadyState {
    /// A connect (or its name lookup) is under way.
    Opening,
    /// Readable and writable.
    Open,
    /// Our side ended; the peer may still send.
    ReadOnly,
    /// The peer ended; we may still write (half-open).
    WriteOnly,
    /// Both sides done, or the socket destroyed or closed.
    Closed,
}

impl ReadyState {
    /// Node's string for the state (`"opening"`, `"open"`, `"readOnly"`,
    /// `"writeOnly"`, `"closed"`).
    ///
    /// ```
    /// assert_eq!(nodelike::net::ReadyState::Open.as_str(), "open");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            ReadyState::Opening => "opening",
            ReadyState::Open => "open",
            ReadyState::ReadOnly => "readOnly",
            ReadyState::WriteOnly => "writeOnly",
            ReadyState::Closed => "closed",
        }
    }
}

/// Node's socket API beyond what protocols need: the remaining events,
/// counters, states and options.
impl Socket {
    fn read_rec<R>(&self, f: impl FnOnce(&SocketRec) -> R) -> Option<R> {
        with_net(|net| net.socket(self.id).map(|s| f(s))).flatten()
    }

    /// Adds a `connect` listener: a connection made by
    /// [`connect`](super::connect) is up (before `ready`).
    ///
    /// ```no_run
    /// let socket = nodelike::net::connect(7000, "127.0.0.1", || {});
    /// socket.on_connect(move || { socket.write("hello"); });
    /// nodelike::run();
    /// ```
    #[doc(alias = "connect")]
    pub fn on_connect(&self, f: impl FnMut() + 'static) {
        self.add(|l| l.connect.push(Box::new(f)));
    }

    /// Adds a `ready` listener: right after `connect`, the socket can be
    /// used.
    ///
    /// ```no_run
    /// let socket = nodelike::net::connect(7000, "127.0.0.1", || {});
    /// socket.on_ready(|| println!("ready"));
    /// nodelike::run();
    /// ```
    #[doc(alias = "ready")]
    pub fn on_ready(&self, f: impl FnMut() + 'static) {
        self.add(|l| l.ready.push(Box::new(f)));
    }

    /// Adds a `finish` listener: [`end`](Socket::end) was called and every
    /// byte went to the OS, with our FIN after it.
    ///
    /// ```no_run
    /// # fn f(socket: nodelike::net::Socket) {
    /// socket.end("bye\n");
    /// socket.on_finish(|| println!("all sent"));
    /// # }
    /// ```
    #[doc(alias = "finish")]
    pub fn on_finish(&self, f: impl FnMut() + 'static) {
        self.add(|l| l.finish.push(Box::new(f)));
    }

    /// [`end`](Socket::end), then `callback` once, at `finish` (Node's
    /// `socket.end(data, callback)`).
    ///
    /// ```no_run
    /// # fn f(socket: nodelike::net::Socket) {
    /// socket.end_with_callback("bye\n", move || println!("all of it sent"));
    /// # }
    /// ```
    #[doc(alias = "end")]
    pub fn end_with_callback(&self, data: impl IntoChunk, callback: impl FnOnce() + 'static) {
        let mut callback = Some(callback);
        self.on_finish(move || {
            if let Some(f) = callback.take() {
                f();
            }
        });
        self.end(data);
    }

    /// Adds an `error` listener: the connect failed (`connect ECONNREFUSED
    /// 127.0.0.1:7000`, `getaddrinfo ENOTFOUND no.such.host`), a read or
    /// write failed (`read ECONNRESET`), or
    /// [`destroy_with_error`](Socket::destroy_with_error) was called. It
    /// runs on the turn after, right before `close(true)`.
    ///
    /// Unlike Node, an `error` nobody listens for does not end the process:
    /// a plain socket's is printed to stderr with Node's uncaught-error
    /// text, and `close(true)` still says it happened.
    ///
    /// ```no_run
    /// let socket = nodelike::net::connect(1, "127.0.0.1", || {});
    /// socket.on_error(|e| eprintln!("{e}")); // connect ECONNREFUSED 127.0.0.1:1
    /// nodelike::run();
    /// ```
    #[doc(alias = "error")]
    pub fn on_error(&self, f: impl FnMut(&crate::Error) + 'static) {
        self.add(|l| l.error.push(Box::new(f)));
    }

    /// Destroys the socket with an error (Node's `socket.destroy(err)`):
    /// `error` with it, then `close(true)`, on the next turn.
    ///
    /// ```no_run
    /// # fn f(socket: nodelike::net::Socket) {
    /// use nodelike::{Error, ErrorKind};
    /// socket.destroy_with_error(Error::new(ErrorKind::Aborted, "bad peer"));
    /// # }
    /// ```
    #[doc(alias = "destroy")]
    pub fn destroy_with_error(&self, error: crate::Error) {
        destroy_with_error(self.id, error);
    }

    /// Ends our side and destroys the socket once everything queued has
    /// been written (Node's `destroySoon`).
    ///
    /// ```no_run
    /// # fn f(socket: nodelike::net::Socket) {
    /// socket.write("last words");
    /// socket.destroy_soon();
    /// # }
    /// ```
    #[doc(alias = "destroySoon")]
    pub fn destroy_soon(&self) {
        let finished = self
            .read_rec(|s| s.writing == Writing::Finished)
            .unwrap_or(false);
        if finished {
            self.destroy();
        } else {
            let socket = *self;
            self.on_finish(move || socket.destroy());
            self.end(());
        }
    }

    /// Whether [`pause`](Socket::pause) stopped reading (Node's
    /// `isPaused()`).
    ///
    /// ```no_run
    /// # fn f(socket: nodelike::net::Socket) {
    /// socket.pause();
    /// assert!(socket.is_paused());
    /// # }
    /// ```
    #[doc(alias = "isPaused")]
    pub fn is_paused(&self) -> bool {
        self.read_rec(|s| s.flow == Flow::Paused).unwrap_or(false)
    }

    /// Bytes received so far (Node's `bytesRead`).
    ///
    /// ```no_run
    /// # fn f(socket: nodelike::net::Socket) {
    /// socket.on_end(move || println!("{} bytes in", socket.bytes_read()));
    /// # }
    /// ```
    #[doc(alias = "bytesRead")]
    pub fn bytes_read(&self) -> u64 {
        self.read_rec(|s| s.node.bytes_read).unwrap_or(0)
    }

    /// Bytes written so far, counting those still queued (Node's
    /// `bytesWritten`).
    ///
    /// ```no_run
    /// # fn f(socket: nodelike::net::Socket) {
    /// socket.write("abc");
    /// assert!(socket.bytes_written() >= 3);
    /// # }
    /// ```
    #[doc(alias = "bytesWritten")]
    pub fn bytes_written(&self) -> u64 {
        queued_mark(self.id)
    }

    /// Where the socket is in its life (Node's `readyState`).
    ///
    /// ```no_run
    /// use nodelike::net::ReadyState;
    /// let socket = nodelike::net::connect(7000, "127.0.0.1", || {});
    /// assert_eq!(socket.ready_state(), ReadyState::Opening);
    /// nodelike::run();
    /// ```
    #[doc(alias = "readyState")]
    pub fn ready_state(&self) -> ReadyState {
        self.read_rec(|s| {
            let readable = s.reading.may_send();
            let writable = s.writing == Writing::Open;
            match () {
                _ if s.life.is_destroyed() => ReadyState::Closed,
                _ if s.life.is_connecting() => ReadyState::Opening,
                _ if readable && writable => ReadyState::Open,
                _ if readable => ReadyState::ReadOnly,
                _ if writable => ReadyState::WriteOnly,
                _ => ReadyState::Closed,
            }
        })
        .unwrap_or(ReadyState::Closed)
    }

    /// Whether the socket is not connected yet (Node's `pending`: a
    /// lookup or connect under way).
    ///
    /// ```no_run
    /// let socket = nodelike::net::connect(7000, "127.0.0.1", || {});
    /// assert!(socket.pending());
    /// nodelike::run();
    /// ```
    pub fn pending(&self) -> bool {
        self.read_rec(|s| s.life.is_connecting()).unwrap_or(false)
    }

    /// Whether a connect is under way (Node's `connecting`).
    ///
    /// ```no_run
    /// let socket = nodelike::net::connect(7000, "127.0.0.1", || {});
    /// assert!(socket.connecting());
    /// nodelike::run();
    /// ```
    pub fn connecting(&self) -> bool {
        is_connecting(self.id)
    }

    /// The local address (Node's `socket.address()`: port, family and
    /// address in one). `None` for unix sockets or a closed socket.
    ///
    /// ```no_run
    /// # fn f(socket: nodelike::net::Socket) {
    /// if let Some(a) = socket.address() { println!("{} {}", a.ip(), a.port()) }
    /// # }
    /// ```
    pub fn address(&self) -> Option<SocketAddr> {
        self.local_address()
    }

    /// The peer's address family, `"IPv4"` or `"IPv6"` (Node's
    /// `remoteFamily`); `None` for unix sockets or a closed socket.
    ///
    /// ```no_run
    /// # fn f(socket: nodelike::net::Socket) {
    /// assert_eq!(socket.remote_family(), Some("IPv4"));
    /// # }
    /// ```
    #[doc(alias = "remoteFamily")]
    pub fn remote_family(&self) -> Option<&'static str> {
        self.remote_address()
            .map(|a| if a.is_ipv4() { "IPv4" } else { "IPv6" })
    }

    /// Whether our side stays open after the peer's FIN (Node's
    /// `allowHalfOpen`; `false` by default: the peer's `end` ends ours).
    ///
    /// ```no_run
    /// # fn f(socket: nodelike::net::Socket) {
    /// assert!(!socket.allow_half_open());
    /// # }
    /// ```
    #[doc(alias = "allowHalfOpen")]
    pub fn allow_half_open(&self) -> bool {
        self.read_rec(|s| s.node.half_open == HalfOpen::StayWritable)
            .unwrap_or(false)
    }

    /// Sets [`allow_half_open`](Socket::allow_half_open): with `true`, once
    /// the peer has ended, our side stays writable until
    /// [`end`](Socket::end).
    ///
    /// ```no_run
    /// # fn f(socket: nodelike::net::Socket) {
    /// socket.set_allow_half_open(true);
    /// socket.on_end(move || { socket.end("you said it all\n"); });
    /// # }
    /// ```
    pub fn set_allow_half_open(&self, allow: bool) {
        set_half_open(self.id, allow);
    }

    /// Holds writes in memory until [`uncork`](Socket::uncork) (Node's
    /// `cork()`); calls nest.
    ///
    /// ```no_run
    /// # fn f(socket: nodelike::net::Socket) {
    /// socket.cork();
    /// socket.write("a");
    /// socket.write("b");
    /// socket.uncork(); // "ab" leaves together
    /// # }
    /// ```
    pub fn cork(&self) {
        with_net(|net| {
            if let Some(s) = net.socket(self.id) {
                s.node.corks += 1;
            }
        });
    }

    /// Undoes one [`cork`](Socket::cork); the last lets the writes go.
    ///
    /// ```no_run
    /// # fn f(socket: nodelike::net::Socket) {
    /// socket.uncork();
    /// # }
    /// ```
    pub fn uncork(&self) {
        let released = with_net(|net| {
            let s = net.socket(self.id)?;
            if s.node.corks == 0 {
                return None;
            }
            s.node.corks -= 1;
            Some(s.node.corks == 0)
        })
        .flatten()
        .unwrap_or(false);
        if released {
            cork(self.id);
        }
    }

    /// Whether the peer's `end` was delivered (Node's `readableEnded`).
    pub(crate) fn ended_by_peer(&self) -> bool {
        self.read_rec(|s| s.reading.ended()).unwrap_or(false)
    }

    /// Whether `end` was called (Node's `writableEnded`).
    pub(crate) fn ended_by_us(&self) -> bool {
        self.read_rec(|s| s.writing != Writing::Open)
            .unwrap_or(false)
    }

    /// Whether `finish` fired (Node's `writableFinished`).
    pub(crate) fn finished(&self) -> bool {
        self.read_rec(|s| s.writing == Writing::Finished)
            .unwrap_or(false)
    }
}

/// Sets a socket's half-open rule (see [`Socket::set_allow_half_open`]).
pub(crate) fn set_half_open(id: SockId, allow: bool) {
    with_net(|net| {
        if let Some(s) = net.socket(id) {
            s.node.half_open = if allow {
                HalfOpen::StayWritable
            } else {
                HalfOpen::EndWithPeer
            };
        }
    });
}

/// Starts a socket paused (Node's `pauseOnConnect`).
pub(crate) fn start_paused(id: SockId) {
    with_net(|net| {
        if let Some(s) = net.socket(id) {
            s.flow = Flow::Paused;
        }
    });
}
