//! Files as socket output: a file queued in a socket's output stream goes
//! out after the bytes queued before it and before those queued after it.
//!
//! Over TCP and unix sockets the file leaves with `sendfile(2)`: the kernel
//! moves it from the page cache to the socket, no copy through user space
//! and no buffer of ours, so a 1 GiB download to a slow reader costs the
//! server nothing but a descriptor and an offset. Over a transport the
//! kernel cannot write to directly (TLS encrypts in user space, an
//! in-memory connection has no descriptor) the file is read one piece
//! (64 KiB) at a time on the worker pool, never on the loop, and the next
//! piece is read only once the transport took the last: one piece is all
//! a slow reader makes the server hold.
//!
//! The queue keeps, per file, the index in the socket's `out` buffer where
//! the file goes. `out` only grows while a file waits (the buffer is
//! recycled once everything, files too, has left; `write_owned` appends
//! instead of swapping), so the index stays true.
//!
//! A file that ends before the length promised (truncated while being
//! sent), or fails to read, destroys the socket: the peer sees a short
//! body, which is what a truncated transfer must look like.

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::time::Instant;

use super::socket::SocketRec;
use super::transport::Transport;
use super::{with_net, Cause, SockId};
use crate::runtime::{self, Work};

/// The fallback's piece: what one read on the pool brings, and the most a
/// slow reader makes a socket hold of its file.
pub(crate) const PIECE: usize = 64 * 1024;

/// Bytes one flush hands to `sendfile` before letting the rest of the loop
/// run (nginx's `sendfile_max_chunk`): a fast reader on loopback could
/// otherwise keep one flush going for a whole large file.
const SENDFILE_TURN_CAP: u64 = 2 * 1024 * 1024;

/// Where the fallback's current piece is.
enum Piece {
    /// None read: the next flush asks the pool for one.
    Empty,
    /// A read is on the pool (it holds the file and the buffer).
    Reading,
    /// Read; written from `pos` on.
    Ready { buf: Vec<u8>, pos: usize },
}

/// One file waiting in a socket's output.
pub(super) struct FileOut {
    /// Where in the socket's `out` the file goes: the bytes before this
    /// index leave first.
    at: usize,
    /// `None` while a piece is being read on the pool.
    file: Option<File>,
    /// The next byte of the file to read (fallback) or send (`sendfile`).
    offset: u64,
    /// Bytes of the file still to reach the transport.
    remaining: u64,
    piece: Piece,
}

/// A socket's files in flight, in order.
#[derive(Default)]
pub(crate) struct FileQueue {
    files: VecDeque<FileOut>,
}

impl FileQueue {
    /// The index in `out` where the first waiting file goes.
    pub(super) fn next_at(&self) -> Option<usize> {
        self.files.front().map(|f| f.at)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Bytes of every waiting file still to leave (what the socket will
    /// have written once its queue is flushed counts them).
    pub(super) fn remaining(&self) -> u64 {
        self.files.iter().map(|f| f.remaining).sum()
    }

    /// Drops every waiting file (the socket was destroyed), closing them.
    pub(super) fn clear(&mut self) {
        self.files.clear();
    }
}

/// What draining the first waiting file came to.
pub(super) enum Progress {
    /// It has all gone; the next output may follow.
    Done,
    /// The socket is full: a writable edge resumes.
    Blocked,
    /// A piece is being read on the pool: its completion resumes.
    Waiting,
    /// This flush sent its share; a deferred flush goes on next turn.
    Yield,
    /// Reading or sending failed (or the file shrank): the socket must go.
    Failed(io::Error),
}

/// Queues `len` bytes of `file` from `offset` as the next output of socket
/// `id`, after everything already queued. Returns `false` when the socket
/// can no longer write (the file is dropped).
pub(crate) fn send_file(id: SockId, file: File, offset: u64, len: u64) -> bool {
    with_net(|net| {
        let s = net.socket(id)?;
        if !s.accepts_writes() {
            return None;
        }
        if len == 0 {
            return Some(());
        }
        s.files.files.push_back(FileOut {
            at: s.out.len(),
            file: Some(file),
            offset,
            remaining: len,
            piece: Piece::Empty,
        });
        runtime::cork(flush_work(id));
        Some(())
    })
    .flatten()
    .is_some()
}

fn flush_work(id: SockId) -> Work {
    Work::owned(super::io::flush_ctx, id.ctx(), super::socket::destroy_ctx)
}

/// Writes bytes that a file follows (a response's head): with `MSG_MORE`
/// when the file will go by `sendfile`, so the kernel holds a small head
/// for the file's first bytes instead of sending it alone (nginx's
/// `tcp_nopush`): one packet for a small file, not two.
pub(super) fn write_before_file(transport: &mut dyn Transport, buf: &[u8]) -> io::Result<usize> {
    if let Some(fd) = transport.file_fd() {
        use rustix::net::SendFlags;
        match rustix::net::send(fd, buf, SendFlags::MORE | SendFlags::NOSIGNAL) {
            // A socket that takes no MSG_MORE (unix): as usual.
            Err(rustix::io::Errno::OPNOTSUPP) | Err(rustix::io::Errno::INVAL) => {}
            result => return result.map_err(io::Error::from),
        }
    }
    transport.write(buf)
}

/// Moves the first waiting file on as far as the socket allows; called by
/// the flush once the bytes queued before it have gone. Pops the file when
/// it is done.
pub(super) fn drain_front(s: &mut SocketRec, id: SockId, now: Instant) -> Progress {
    let progress = match s.transport.as_ref().and_then(|t| t.file_fd()) {
        Some(_) => drain_with_sendfile(s, now),
        None => drain_in_pieces(s, id, now),
    };
    if let Progress::Done = progress {
        if let Some(f) = s.files.files.pop_front() {
            if let Piece::Ready { buf, .. } = f.piece {
                runtime::give_buf(buf);
            }
        }
    }
    progress
}

/// The zero-copy path: `sendfile(2)` from the file to the socket.
fn drain_with_sendfile(s: &mut SocketRec, now: Instant) -> Progress {
    let SocketRec {
        transport,
        files,
        written,
        last_active,
        ..
    } = s;
    let (Some(transport), Some(f)) = (transport.as_ref(), files.files.front_mut()) else {
        return Progress::Failed(io::ErrorKind::NotConnected.into());
    };
    let (Some(fd), Some(file)) = (transport.file_fd(), f.file.as_ref()) else {
        return Progress::Failed(io::ErrorKind::NotConnected.into());
    };
    let mut sent_now = 0u64;
    while f.remaining > 0 {
        if sent_now >= SENDFILE_TURN_CAP {
            return Progress::Yield;
        }
        let count = f.remaining.min(SENDFILE_TURN_CAP) as usize;
        match rustix::fs::sendfile(fd, file, Some(&mut f.offset), count) {
            Ok(0) => {
                return Progress::Failed(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the file ended before its announced length",
                ))
            }
            Ok(n) => {
                f.remaining = f.remaining.saturating_sub(n as u64);
                *written += n as u64;
                *last_active = now;
                sent_now += n as u64;
            }
            Err(rustix::io::Errno::AGAIN) => return Progress::Blocked,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Progress::Failed(e.into()),
        }
    }
    Progress::Done
}

/// The fallback: pieces read on the pool, written through the transport.
fn drain_in_pieces(s: &mut SocketRec, id: SockId, now: Instant) -> Progress {
    let SocketRec {
        transport,
        files,
        written,
        last_active,
        ..
    } = s;
    let (Some(transport), Some(f)) = (transport.as_mut(), files.files.front_mut()) else {
        return Progress::Failed(io::ErrorKind::NotConnected.into());
    };
    loop {
        match &mut f.piece {
            Piece::Reading => return Progress::Waiting,
            Piece::Empty => {
                if f.remaining == 0 {
                    return Progress::Done;
                }
                start_read(id, f);
                return Progress::Waiting;
            }
            Piece::Ready { buf, pos } => {
                while *pos < buf.len() {
                    match transport.write(&buf[*pos..]) {
                        Ok(0) => return Progress::Failed(io::ErrorKind::WriteZero.into()),
                        Ok(n) => {
                            *pos += n;
                            f.remaining = f.remaining.saturating_sub(n as u64);
                            *written += n as u64;
                            *last_active = now;
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            return Progress::Blocked
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Progress::Failed(e),
                    }
                }
                // The transport took the whole piece: only now is the next
                // one read (one piece held per socket, whatever the reader's
                // pace).
                let Piece::Ready { buf, .. } = std::mem::replace(&mut f.piece, Piece::Empty) else {
                    unreachable!("the piece was just matched as ready")
                };
                runtime::give_buf(buf);
                if f.remaining == 0 {
                    return Progress::Done;
                }
            }
        }
    }
}

/// Hands the file to the pool to read the next piece.
fn start_read(id: SockId, f: &mut FileOut) {
    let Some(file) = f.file.take() else { return };
    let len = f.remaining.min(PIECE as u64) as usize;
    let offset = f.offset;
    let mut buf = runtime::take_buf();
    f.piece = Piece::Reading;
    runtime::pool::queue_work(
        move || {
            let result = read_exact_at(&file, &mut buf, offset, len);
            (file, buf, result)
        },
        move |(file, buf, result)| piece_read(id, file, buf, result),
    );
}

/// Reads `len` bytes at `offset` into `buf` (cleared first); a file that
/// ends sooner is an error, since its length was announced.
fn read_exact_at(file: &File, buf: &mut Vec<u8>, offset: u64, len: usize) -> io::Result<()> {
    buf.clear();
    buf.resize(len, 0);
    let mut got = 0;
    while got < len {
        match file.read_at(&mut buf[got..], offset + got as u64) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the file ended before its announced length",
                ))
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A piece came back from the pool (on the loop's thread): write it, or
/// destroy the socket if the read failed.
fn piece_read(id: SockId, file: File, buf: Vec<u8>, result: io::Result<()>) {
    let resume = with_net(|net| {
        let s = net.socket(id)?;
        if s.life.is_destroyed() {
            return None;
        }
        let f = s.files.files.front_mut()?;
        if !matches!(f.piece, Piece::Reading) {
            return None;
        }
        match result {
            Ok(()) => {
                f.offset += buf.len() as u64;
                f.file = Some(file);
                f.piece = Piece::Ready { buf, pos: 0 };
                Some(true)
            }
            Err(e) => {
                log::debug!("socket {}: reading the file to send failed: {e}", id.key);
                super::socket::destroy_in(net, id, Cause::Aborted);
                Some(false)
            }
        }
    })
    .flatten();
    if resume == Some(true) {
        super::io::flush_socket(id);
    }
}
