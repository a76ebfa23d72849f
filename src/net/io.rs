//! The I/O paths every socket shares: readiness, reading into the shared
//! buffer and handing bytes to the protocol, flushing corked output,
//! resuming after a stop, end of stream, idle checks and the deferred
//! `close`.
//!
//! Each function examines and changes state inside `with_net` and calls the
//! protocol (and user code) only outside it.

use std::io;

use super::lifecycle::{Flow, Life, Writing};
use super::send_file::Progress as SendProgress;
use super::socket::{arm_idle, destroy_in, emit_socket, HalfOpen, InputHold, Socket};
use super::{with_net, Cause, SockId, READ_BUF_SIZE};
use crate::chunk::Chunk;
use crate::runtime::{self, Readiness};

/// Readiness on a connected socket (`ctx`: its id).
pub(super) fn on_ready(ctx: u64, ready: Readiness) {
    let id = SockId::from_ctx(ctx);
    let connecting =
        with_net(|net| net.socket(id).is_some_and(|s| s.life.is_connecting())).unwrap_or(false);
    if connecting {
        finish_connect(id);
    }
    if ready.writable {
        flush_socket(id);
    }
    if ready.read_closed || ready.error {
        // Known before a byte is read: a response completed by this read
        // must not hand its socket to the next request, which would be
        // written into a connection the peer has already closed.
        with_net(|net| {
            if let Some(s) = net.socket(id) {
                s.reading.announce_fin();
            }
        });
    }
    if ready.readable || ready.read_closed || ready.error {
        // With the peer's FIN in the same event, a short read does not mean
        // drained: the EOF is still to be read, and no other edge will come.
        read_socket(id, ready.read_closed || ready.error);
    }
}

/// A connecting socket became ready: ask the transport how it went and tell
/// the protocol.
fn finish_connect(id: SockId) {
    let outcome = with_net(|net| {
        let s = net.socket(id)?;
        let result = s.transport.as_mut()?.finish_connect();
        match result {
            Ok(false) => None, // not yet
            Ok(true) => {
                s.life.connected();
                Some((s.protocol, Ok(())))
            }
            Err(e) => {
                // Open for the moment the protocol hears of it; destroyed
                // right after.
                s.life.connected();
                Some((s.protocol, Err(e)))
            }
        }
    })
    .flatten();
    match outcome {
        None => {}
        Some((protocol, Ok(()))) => {
            log::trace!("socket {}: connected", id.key);
            (protocol.connected)(id, Ok(()));
            flush_socket(id);
        }
        Some((protocol, Err(e))) => {
            log::debug!("socket {}: connect failed: {e}", id.key);
            (protocol.connected)(id, Err(e));
            with_net(|net| destroy_in(net, id, Cause::Error));
        }
    }
}

/// Reads until the socket would block (or reading must stop), handing every
/// read to the socket's protocol, then flushes what the callbacks wrote.
/// `thorough`: keep reading after a short read (the peer closed, or
/// readiness may have been seen while reading was stopped).
pub(crate) fn read_socket(id: SockId, thorough: bool) {
    while let Some(Some((mut scratch, mut held))) = with_net(|net| {
        let s = net.socket(id)?;
        if !s.can_read() {
            // Whatever is left in the socket is read on resume, which
            // always tries the socket (no edge will come for it).
            return None;
        }
        let held = std::mem::take(&mut s.inbuf);
        let mut scratch = std::mem::take(&mut net.read_buf);
        if scratch.len() < READ_BUF_SIZE {
            scratch.resize(READ_BUF_SIZE, 0);
        }
        Some((scratch, held))
    }) {
        let now = runtime::now();
        let mut secured = None;
        let mut short_read_drains = true;
        let mut truncated = false;
        let read = with_net(|net| {
            let s = net.socket(id)?;
            let transport = s.transport.as_mut()?;
            let result = loop {
                match transport.read(&mut scratch) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Ok(n) if n > 0 => {
                        s.last_active = now;
                        s.node.bytes_read += n as u64;
                        break Ok(n);
                    }
                    other => break other,
                }
            };
            short_read_drains = transport.short_read_drains();
            if transport.take_secured() {
                secured = Some(s.protocol);
            }
            Some(result)
        })
        .flatten();
        if let Some(protocol) = secured {
            log::trace!("socket {}: secured", id.key);
            (protocol.secured)(id);
        }
        log::trace!(
            "socket {}: read {:?}",
            id.key,
            read.as_ref().map(|r| r.as_ref().map_err(|e| e.kind()))
        );
        let (n, eof) = match read {
            Some(Ok(0)) => (0, true),
            Some(Ok(n)) => (n, false),
            Some(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => (0, false),
            Some(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                // The stream ended without the transport's own end marker
                // (TLS without close_notify): an end, but a truncated one,
                // which a protocol may refuse to take as complete.
                log::debug!("socket {}: truncated: {e}", id.key);
                truncated = true;
                (0, true)
            }
            Some(Err(e)) => {
                log::debug!("socket {}: read error: {e}", id.key);
                let protocol = with_net(|net| {
                    net.read_buf = scratch;
                    net.socket(id).map(|s| s.protocol)
                })
                .flatten();
                runtime::give_buf(held);
                if let Some(protocol) = protocol {
                    (protocol.failed)(id, &e);
                }
                with_net(|net| destroy_in(net, id, Cause::Aborted));
                break;
            }
            None => {
                with_net(|net| net.read_buf = scratch);
                runtime::give_buf(held);
                break;
            }
        };
        if n > 0 {
            if held.is_empty() {
                let consumed = process(id, &scratch[..n]);
                if consumed < n {
                    held = runtime::take_buf();
                    held.extend_from_slice(&scratch[consumed..n]);
                }
            } else {
                held.extend_from_slice(&scratch[..n]);
                let consumed = process(id, &held);
                held.drain(..consumed);
            }
        }
        log::trace!("socket {}: read {n}, held now {}", id.key, held.len());
        let full = n == scratch.len();
        let alive = with_net(|net| {
            net.read_buf = scratch;
            match net.socket(id) {
                Some(s) if !s.life.is_destroyed() => {
                    if eof {
                        s.reading.eof_read(truncated);
                    }
                    if held.is_empty() {
                        runtime::give_buf(held);
                    } else {
                        s.inbuf = held;
                    }
                    true
                }
                _ => {
                    runtime::give_buf(held);
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
        // A read that did not fill the buffer drained the socket (when the
        // transport says so); the read that would only say WouldBlock is
        // skipped.
        if n == 0 || (!full && !thorough && short_read_drains) {
            break;
        }
    }
    flush_socket(id);
}

/// Hands input to the socket's protocol; returns how much it consumed.
fn process(id: SockId, data: &[u8]) -> usize {
    let protocol = with_net(|net| match net.socket(id) {
        // Lingering: the bytes are read only to be thrown away.
        Some(s) if s.life.delivers_input() => Some(s.protocol),
        _ => None,
    })
    .flatten();
    match protocol {
        Some(p) => (p.input)(id, data),
        None => data.len(),
    }
}

/// The raw protocol's input: every byte is a `data` event.
pub(super) fn raw_input(id: SockId, data: &[u8]) -> usize {
    emit_raw_data(id, data);
    data.len()
}

/// Raw bytes for a socket's `data` listeners (a net socket, or an HTTP
/// connection after an upgrade).
pub(crate) fn emit_raw_data(id: SockId, data: &[u8]) {
    if !data.is_empty() {
        emit_socket(id, |l| &mut l.data, |f| f(Chunk::Bytes(data)));
    }
}

/// The peer ended a raw socket: `end`, then, unless the socket allows half
/// open connections, end our side too (Node's default
/// `allowHalfOpen: false`).
pub(crate) fn raw_eof(id: SockId) {
    log::trace!("socket {}: end", id.key);
    emit_socket(id, |l| &mut l.end, |f| f());
    let half_open = with_net(|net| net.socket(id).map(|s| s.node.half_open))
        .flatten()
        .unwrap_or_default();
    if half_open == HalfOpen::EndWithPeer {
        Socket::from_id(id).end(());
    }
}

/// The peer closed its writing side and every byte before the FIN has been
/// processed: tell the protocol (or, lingering, finish).
fn deliver_eof_if_ready(id: SockId) {
    let ready = with_net(|net| {
        let s = net.socket(id)?;
        // Held input is processed before the EOF, unless the protocol
        // already had it and left it (a partial message no byte will ever
        // complete): then the EOF is what it needs to hear.
        let unprocessed = !s.inbuf.is_empty() && s.input_hold.is_held();
        if s.life.is_destroyed() || s.flow == Flow::Paused || unprocessed {
            return None;
        }
        if !s.reading.deliver_eof() {
            return None; // not read yet, or told already
        }
        if s.life == Life::Lingering {
            // The peer closed, which is what the linger waited for.
            destroy_in(net, id, Cause::Aborted);
            return None;
        }
        Some(s.protocol)
    })
    .flatten();
    if let Some(protocol) = ready {
        (protocol.eof)(id);
    }
}

/// Deferred work: resume reading the socket `ctx` names.
pub(super) fn resume_ctx(ctx: u64) {
    resume_reading(SockId::from_ctx(ctx));
}

/// After `resume()`, a flush that unblocked input, or a linger start:
/// process held input, then read the socket again.
pub(crate) fn resume_reading(id: SockId) {
    log::trace!("socket {}: resume_reading", id.key);
    // Even with nothing held the protocol gets a turn: a body whose last
    // bytes came while paused still owes its `end`.
    let held = with_net(|net| {
        let s = net.socket(id)?;
        if s.life.is_destroyed() || s.flow == Flow::Paused || s.input_hold.is_held() {
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
        let leftover = with_net(|net| match net.socket(id) {
            Some(s) if !s.life.is_destroyed() && s.inbuf.is_empty() && !held.is_empty() => {
                s.inbuf = held;
                None
            }
            _ => Some(held),
        })
        .flatten();
        if let Some(buf) = leftover {
            runtime::give_buf(buf);
        }
    }
    let (read_again, eof) = with_net(|net| match net.socket(id) {
        // Read even when a partial message is still held: the bytes that
        // complete it may already be in the socket, announced by an edge
        // that came while reading was stopped. Edge-triggered readiness
        // will not announce them again (the pipelining stall).
        Some(s) => (s.can_read(), s.reading.eof_seen()),
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

/// Corked work: flush the socket `ctx` names.
pub(super) fn flush_ctx(ctx: u64) {
    flush_socket(SockId::from_ctx(ctx));
}

/// Writes queued output until done or the OS would block; then runs what
/// an emptied buffer allows (the protocol's bookkeeping, drain, resuming
/// input, a pending half-close).
pub(crate) fn flush_socket(id: SockId) {
    let now = runtime::now();
    let outcome = with_net(|net| {
        let s = net.socket(id)?;
        if s.life.is_connecting() || s.node.corks > 0 {
            return None; // written once connected, or uncorked
        }
        let mut failed = None;
        // The bytes up to the first waiting file, then the file, then on.
        loop {
            let (limit, file_next) = match s.files.next_at() {
                Some(at) => (at, true),
                None => (s.out.len(), false),
            };
            let transport = s.transport.as_mut()?;
            while s.out_pos < limit {
                let bytes = &s.out[s.out_pos..limit];
                let result = if file_next {
                    super::send_file::write_before_file(&mut **transport, bytes)
                } else {
                    transport.write(bytes)
                };
                match result {
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
            if failed.is_some() || s.out_pos < limit || s.files.is_empty() {
                break;
            }
            match super::send_file::drain_front(s, id, now) {
                SendProgress::Done => {}
                // A writable edge, or the piece being read, resumes.
                SendProgress::Blocked | SendProgress::Waiting => return None,
                SendProgress::Yield => {
                    runtime::defer(runtime::Work::owned(
                        flush_ctx,
                        id.ctx(),
                        super::socket::destroy_ctx,
                    ));
                    return None;
                }
                SendProgress::Failed(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = failed {
            log::debug!("socket {}: write error: {e}", id.key);
            // Node's `write EPIPE`: the `error` before `close(true)`.
            s.node
                .error
                .get_or_insert_with(|| super::socket::write_error(e));
            destroy_in(net, id, Cause::Aborted);
            return None;
        }
        log::trace!(
            "socket {}: flushed to {} of {} queued",
            id.key,
            s.out_pos,
            s.out.len()
        );
        if s.out_pos < s.out.len() {
            return None;
        }
        let transport = s.transport.as_mut()?;
        // What the transport itself holds (TLS records) must go too before
        // the output counts as flushed.
        match transport.flush() {
            Ok(true) => {}
            Ok(false) => return None, // a writable edge will resume
            Err(e) => {
                log::debug!("socket {}: write error: {e}", id.key);
                destroy_in(net, id, Cause::Aborted);
                return None;
            }
        }
        let out = std::mem::take(&mut s.out);
        s.out_pos = 0;
        runtime::give_buf(out);
        Some(s.protocol)
    })
    .flatten();
    let Some(protocol) = outcome else { return };
    // The buffer is empty: protocol bookkeeping first (finish events, a
    // response that closes the connection), then drain and half-close.
    (protocol.flushed)(id);
    let (drain, unblock, finish) = with_net(|net| {
        let Some(s) = net.socket(id) else {
            return (false, false, false);
        };
        if s.life.is_destroyed() || s.backlog() > 0 {
            return (false, false, false);
        }
        let drain = s.drain.take();
        let unblock = s.input_hold == InputHold::UntilFlushed;
        if unblock {
            s.input_hold = InputHold::None;
        }
        // `end()` was called and all is written: shut down writing (or, if
        // that was done already and the peer ended too, finish).
        let (send_fin, finish) = s.writing.flushed();
        if send_fin {
            s.send_fin();
        }
        // Both directions are done: the socket is finished. (Its `close`
        // comes on a later turn, so `finish` still goes first.)
        if s.writing == Writing::Finished && s.reading.eof_seen() {
            destroy_in(net, id, Cause::Aborted);
        }
        (drain, unblock, finish)
    })
    .unwrap_or((false, false, false));
    if unblock {
        runtime::defer(runtime::Work::owned(
            resume_ctx,
            id.ctx(),
            super::socket::destroy_ctx,
        ));
    }
    if drain {
        log::trace!("socket {}: drain", id.key);
        emit_socket(id, |l| &mut l.drain, |f| f());
        (protocol.drain)(id);
    }
    if finish {
        log::trace!("socket {}: finish", id.key);
        emit_socket(id, |l| &mut l.finish, |f| f());
    }
}

/// The loop's deferred half of `destroy`: tell the protocol, emit `close`,
/// then drop the record.
pub(super) fn finish_close(ctx: u64) {
    let id = SockId::from_ctx(ctx);
    let rec = with_net(|net| match net.sockets.get(id.key as usize) {
        Some(s) if s.gen == id.gen => Some(net.sockets.remove(id.key as usize)),
        _ => None,
    })
    .flatten();
    let Some(mut rec) = rec else { return };
    log::trace!("socket {}: close", id.key);
    if !rec.unref {
        runtime::release_ref();
    }
    let cause = rec.life.cause();
    (rec.protocol.closed)(id, cause);
    let error = rec.node.error.take();
    let had_error = cause == Cause::Error || error.is_some();
    let mut listeners = rec.listeners.take();
    if let Some(e) = error {
        // Node's order: `error`, then `close(true)`, on the same turn.
        if listeners.as_ref().is_none_or(|l| l.error.is_empty()) {
            if std::ptr::eq(rec.protocol, &super::RAW) {
                // Never silent; but not a panic either (see `Socket::on_error`).
                e.report_unhandled("Socket", "Socket::on_error");
            } else {
                log::debug!("socket {}: {e}", id.key);
            }
        }
        for f in listeners.iter_mut().flat_map(|l| l.error.iter_mut()) {
            f(&e);
        }
    }
    for f in listeners.iter_mut().flat_map(|l| l.close.iter_mut()) {
        f(had_error);
    }
    drop(rec);
    drop(listeners);
}

/// A socket's idle-timeout check came due. Lazy: an entry the socket no
/// longer waits for (it was active since, or its timeout changed) is
/// ignored or re-armed for the deadline that applies now.
pub(super) fn check_idle(ctx: u64) {
    let id = SockId::from_ctx(ctx);
    let now = runtime::now();
    let fired = with_net(|net| {
        let s = net.socket(id)?;
        let queued = s.timer_at?;
        if queued > now || s.life.is_destroyed() {
            return None; // stale: a later check replaced this one
        }
        s.timer_at = None;
        let timeout = s.idle_timeout?;
        if s.last_active + timeout > now {
            // Active since: check again at the new deadline.
            arm_idle(net, id);
            return None;
        }
        // Idle for the whole period. Start a new one, so a socket whose
        // `timeout` listener keeps it open is told again later.
        s.last_active = now;
        let has_listeners = s.listeners.as_ref().is_some_and(|l| !l.timeout.is_empty());
        let protocol = s.protocol;
        arm_idle(net, id);
        Some((has_listeners, protocol))
    })
    .flatten();
    let Some((has_listeners, protocol)) = fired else {
        return;
    };
    log::debug!("socket {}: timeout", id.key);
    if has_listeners {
        emit_socket(id, |l| &mut l.timeout, |f| f());
    }
    let taken = (protocol.timeout)(id);
    if !taken && !has_listeners {
        log::debug!(
            "socket {}: idle timeout, nobody listening; destroying",
            id.key
        );
        with_net(|net| destroy_in(net, id, Cause::Timeout));
    }
}
