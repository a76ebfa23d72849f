//! What file read and write streams share: the record, its lifecycle, and
//! the one function that moves a stream on (`advance`).
//!
//! A stream has at most one job on the pool at a time (its open, one read,
//! one batch of writes, or its close), so its chunks keep their order and
//! a paused read stream issues no read. Everything the loop does for a
//! stream goes through [`advance`]: it looks at the record, decides the
//! next step inside the borrow, and carries it out outside it, emitting
//! events only from loop work (a job's completion, a `next_tick`), never
//! inside the user's own call (`write`, `resume`, `destroy`).
//!
//! ```text
//!   Opening ──open done──▶ Open ──end emitted / finish emitted──▶ Finished ─┐
//!      │                    │                                               ├─▶ close the file ─▶ error? close
//!      └── open failed ─────┴── destroy(err) / read or write failed ▶ Destroyed ┘
//! ```

use std::fs::File;
use std::sync::Arc;

use super::{with_fs, Fd, FsState};
use crate::runtime::listeners::{self, Listeners};
use crate::runtime::pool::queue_work;
use crate::{Chunk, Error};

/// `error` listeners.
type ErrorListeners = Listeners<dyn FnMut(&Error)>;
/// `data` listeners: each gets a chunk lent for the call.
pub(super) type DataListeners = Listeners<dyn FnMut(Chunk<'_>)>;

/// A stream's key and generation (a stale handle finds another generation
/// and does nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Id {
    pub(super) key: usize,
    pub(super) gen: u32,
}

/// Where a stream is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// The open job is in flight.
    Opening,
    /// The file is open: reads or writes go on.
    Open,
    /// Done: `end` (read) or `finish` (write) was emitted; the file is
    /// being closed (Node's `autoClose`). Node counts this as destroyed.
    Finished,
    /// Destroyed by the user or by a failure before it was done: nothing
    /// more but `error` (if any) and `close`.
    Destroyed,
}

/// The stream's one job on the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Io {
    /// None: the stream may start one.
    Idle,
    /// An open, a read or a write is running.
    Busy,
    /// The file is being closed; `close` follows.
    Closing,
}

/// Whether a read stream delivers what it reads (Node's `readableFlowing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flow {
    /// No consumer yet: nothing is read (a `data` listener or `resume`
    /// starts the flow).
    Waiting,
    /// Chunks are read and emitted, one read at a time.
    Flowing,
    /// `pause` was called: no read is issued until `resume`.
    Paused,
}

/// What a read stream read but has not emitted yet (a read that finished
/// after `pause`).
#[derive(Debug, Default)]
pub(super) enum Held {
    #[default]
    Nothing,
    Chunk(Vec<u8>),
    /// The end of the file (or of the range) was reached.
    Eof,
}

/// The read side of a record.
#[derive(Debug)]
pub(super) struct ReadSide {
    pub(super) flow: Flow,
    pub(super) held: Held,
    /// Where the next read starts; `None` reads from the file's position.
    pub(super) pos: Option<u64>,
    /// Bytes left in the range (`end` is inclusive); `None` to the end of
    /// the file.
    pub(super) remaining: Option<u64>,
    pub(super) high_water_mark: usize,
    pub(super) bytes_read: u64,
    pub(super) on_data: DataListeners,
    pub(super) on_end: Listeners<dyn FnMut()>,
}

/// Whether `end` was called on a write stream (Node's `writableEnded`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ending {
    NotYet,
    Called,
}

/// Whether a `write` returned `false` and `drain` is owed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Drain {
    NotNeeded,
    Needed,
}

/// The write side of a record.
#[derive(Debug)]
pub(super) struct WriteSide {
    /// Bytes written and not yet handed to the pool.
    pub(super) pending: Vec<u8>,
    /// Bytes not yet on disk: `pending` and the batch in flight (Node's
    /// `writableLength`).
    pub(super) queued: usize,
    pub(super) high_water_mark: usize,
    /// Nested `cork` calls; writes are held while above zero.
    pub(super) corked: u32,
    pub(super) ending: Ending,
    pub(super) drain: Drain,
    /// Where the next batch goes; `None` writes at the file's position.
    pub(super) pos: Option<u64>,
    pub(super) bytes_written: u64,
    pub(super) on_drain: Listeners<dyn FnMut()>,
    pub(super) on_finish: Listeners<dyn FnMut()>,
}

#[derive(Debug)]
pub(super) enum Side {
    Read(ReadSide),
    Write(WriteSide),
}

/// A file stream's record.
#[derive(Debug)]
pub(super) struct Record {
    pub(super) gen: u32,
    /// The path as given, for `path()` and error messages.
    pub(super) path: String,
    /// The open file, from the open's completion until the close starts.
    pub(super) fd: Option<Fd>,
    pub(super) phase: Phase,
    pub(super) io: Io,
    /// The error to emit before `close`.
    pub(super) error: Option<Error>,
    pub(super) on_open: Listeners<dyn FnMut(Fd)>,
    pub(super) on_ready: Listeners<dyn FnMut()>,
    pub(super) on_error: ErrorListeners,
    pub(super) on_close: Listeners<dyn FnMut()>,
    pub(super) side: Side,
}

/// Who asked the stream to move on: the loop (a completion or a tick),
/// where events may be emitted, or the user's own call, where they wait
/// for a tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Caller {
    Loop,
    User,
}

/// A new stream: its record, and the open job on the pool.
pub(super) fn create(
    path: &std::path::Path,
    options: Result<std::fs::OpenOptions, Error>,
    side: Side,
) -> Id {
    match options {
        Ok(options) => {
            let id = insert_record(path, Phase::Opening, Io::Busy, None, side);
            let path = path.to_path_buf();
            queue_work(move || options.open(&path), move |r| opened(id, r));
            id
        }
        Err(e) => {
            // Bad flags: `error` and `close` in a later turn.
            let id = insert_record(path, Phase::Destroyed, Io::Idle, Some(e), side);
            advance(id, Caller::User);
            id
        }
    }
}

/// A new stream over a file already open (one `send_file` opened and
/// checked against its root): the stream opens on the next tick, as if
/// its open job had come back.
pub(super) fn create_from_file(path: &std::path::Path, file: File, side: Side) -> Id {
    let id = insert_record(path, Phase::Opening, Io::Busy, None, side);
    crate::next_tick(move || opened(id, Ok(file)));
    id
}

/// Puts a new stream's record in this loop's table.
fn insert_record(
    path: &std::path::Path,
    phase: Phase,
    io: Io,
    error: Option<Error>,
    side: Side,
) -> Id {
    let gen = crate::runtime::next_gen();
    let record = Record {
        gen,
        path: super::shown(path),
        fd: None,
        phase,
        io,
        error,
        on_open: Listeners::default(),
        on_ready: Listeners::default(),
        on_error: Listeners::default(),
        on_close: Listeners::default(),
        side,
    };
    let key = with_fs(|s| s.streams.insert(record)).unwrap_or(usize::MAX);
    Id { key, gen }
}

/// Runs `f` on the stream's record, if it is still there.
pub(super) fn with_record<R>(id: Id, f: impl FnOnce(&mut Record) -> R) -> Option<R> {
    with_fs(|s| match s.streams.get_mut(id.key) {
        Some(r) if r.gen == id.gen => Some(f(r)),
        _ => None,
    })
    .flatten()
}

/// Adds a listener to the list `pick` chooses; a closure for a stream
/// that is gone is dropped outside the borrow.
pub(super) fn listen<F: ?Sized + 'static>(
    id: Id,
    pick: fn(&mut Record) -> Option<&mut Listeners<F>>,
    f: Box<F>,
) {
    let mut f = Some(f);
    with_record(id, |r| {
        if let (Some(list), Some(f)) = (pick(r), f.take()) {
            list.push(f);
        }
    });
    drop(f);
}

/// Emits to the list `pick` chooses (see `runtime::listeners::emit`).
/// Returns whether anyone listened.
pub(super) fn emit<F: ?Sized + 'static>(
    id: Id,
    pick: fn(&mut Record) -> Option<&mut Listeners<F>>,
    call: impl FnMut(&mut F),
) -> bool {
    listeners::emit(
        |f| with_record(id, |r| pick(r).map(&mut *f).is_some()).unwrap_or(false),
        call,
    )
}

pub(super) fn on_open(r: &mut Record) -> Option<&mut Listeners<dyn FnMut(Fd)>> {
    Some(&mut r.on_open)
}
pub(super) fn on_ready(r: &mut Record) -> Option<&mut Listeners<dyn FnMut()>> {
    Some(&mut r.on_ready)
}
pub(super) fn on_error(r: &mut Record) -> Option<&mut ErrorListeners> {
    Some(&mut r.on_error)
}
pub(super) fn on_close(r: &mut Record) -> Option<&mut Listeners<dyn FnMut()>> {
    Some(&mut r.on_close)
}

/// The open job came back.
fn opened(id: Id, result: std::io::Result<File>) {
    let mut result = Some(result);
    let outcome = with_fs(|s| {
        let FsState { files, streams } = s;
        let r = streams.get_mut(id.key).filter(|r| r.gen == id.gen)?;
        r.io = Io::Idle;
        match result.take()? {
            Ok(file) => {
                let fd = super::insert_file(files, file);
                r.fd = Some(fd);
                if r.phase == Phase::Opening {
                    r.phase = Phase::Open;
                    return Some(Some(fd));
                }
                // Destroyed while opening: the file is closed next.
                Some(None)
            }
            Err(e) => {
                if r.phase == Phase::Opening {
                    r.phase = Phase::Destroyed;
                    r.error = Some(Error::fs("open", e, &r.path));
                }
                Some(None)
            }
        }
    })
    .flatten();
    // A stream whose record is gone (never, since a close waits for its
    // job) drops the file here, outside the borrow.
    drop(result);
    if let Some(Some(fd)) = outcome {
        emit(id, on_open, |f| f(fd));
        if with_record(id, |r| r.phase == Phase::Open).unwrap_or(false) {
            emit(id, on_ready, |f| f());
        }
    }
    advance(id, Caller::Loop);
}

/// Destroys the stream (Node's `destroy(err)`): pending data is dropped,
/// the job in flight (if any) is waited for, the file is closed, then
/// `error` (with `error`, if given) and `close` are emitted.
pub(super) fn destroy(id: Id, error: Option<Error>) {
    let dropped = with_record(id, |r| {
        if !matches!(r.phase, Phase::Opening | Phase::Open) {
            return None; // done or destroyed already: Node ignores it
        }
        r.phase = Phase::Destroyed;
        r.error = error;
        Some(match &mut r.side {
            Side::Read(side) => match std::mem::take(&mut side.held) {
                Held::Chunk(buf) => buf,
                Held::Nothing | Held::Eof => Vec::new(),
            },
            Side::Write(side) => {
                side.queued -= side.pending.len();
                std::mem::take(&mut side.pending)
            }
        })
    })
    .flatten();
    if let Some(buf) = dropped {
        crate::runtime::give_buf(buf);
        advance(id, Caller::User);
    }
}

/// The next thing a stream does, decided inside the borrow.
enum Step {
    /// Nothing to do now (a job is running, or the stream waits for its
    /// consumer).
    Wait,
    /// Something is to be emitted, but the user's call asked: a tick will.
    Defer,
    /// Decided again (the record changed, say to `Destroyed`).
    Again,
    Data(Vec<u8>),
    End,
    Drain,
    Finish,
    Read {
        file: Arc<File>,
        buf: Vec<u8>,
        len: usize,
        at: Option<u64>,
    },
    Write {
        file: Arc<File>,
        batch: Vec<u8>,
        at: Option<u64>,
    },
    /// Close the file (if the stream still has it), then emit `error` and
    /// `close`.
    Close(Option<Arc<File>>),
}

/// Moves the stream on as far as it can go now: emits what is due (from
/// loop work only) and starts its next job.
pub(super) fn advance(id: Id, caller: Caller) {
    loop {
        let step = with_fs(|s| decide(s, id, caller)).unwrap_or(Step::Wait);
        match step {
            Step::Wait => return,
            Step::Again => continue,
            Step::Defer => {
                crate::next_tick(move || advance(id, Caller::Loop));
                return;
            }
            Step::Data(buf) => {
                emit(id, on_data, |f| f(Chunk::Bytes(&buf)));
                crate::runtime::give_buf(buf);
            }
            Step::End => {
                emit(id, on_end, |f| f());
            }
            Step::Drain => {
                emit(id, on_drain, |f| f());
            }
            Step::Finish => {
                emit(id, on_finish, |f| f());
            }
            Step::Read {
                file,
                mut buf,
                len,
                at,
            } => {
                queue_work(
                    move || {
                        buf.resize(len, 0);
                        let read = super::read_some(&file, &mut buf, at);
                        (buf, read)
                    },
                    move |(buf, read)| read_done(id, buf, read),
                );
                return;
            }
            Step::Write { file, batch, at } => {
                queue_work(
                    move || {
                        let written = super::write_all(&file, &batch, at);
                        (batch, written)
                    },
                    move |(batch, written)| write_done(id, batch, written),
                );
                return;
            }
            Step::Close(Some(file)) => {
                // Dropped on the pool: closing can block.
                queue_work(move || drop(file), move |()| closed(id));
                return;
            }
            Step::Close(None) => {
                match caller {
                    Caller::Loop => closed(id),
                    Caller::User => crate::next_tick(move || closed(id)),
                }
                return;
            }
        }
    }
}

pub(super) fn on_data(r: &mut Record) -> Option<&mut DataListeners> {
    match &mut r.side {
        Side::Read(side) => Some(&mut side.on_data),
        Side::Write(_) => None,
    }
}
pub(super) fn on_end(r: &mut Record) -> Option<&mut Listeners<dyn FnMut()>> {
    match &mut r.side {
        Side::Read(side) => Some(&mut side.on_end),
        Side::Write(_) => None,
    }
}
pub(super) fn on_drain(r: &mut Record) -> Option<&mut Listeners<dyn FnMut()>> {
    match &mut r.side {
        Side::Write(side) => Some(&mut side.on_drain),
        Side::Read(_) => None,
    }
}
pub(super) fn on_finish(r: &mut Record) -> Option<&mut Listeners<dyn FnMut()>> {
    match &mut r.side {
        Side::Write(side) => Some(&mut side.on_finish),
        Side::Read(_) => None,
    }
}

fn decide(s: &mut FsState, id: Id, caller: Caller) -> Step {
    let FsState { files, streams } = s;
    let Some(r) = streams.get_mut(id.key).filter(|r| r.gen == id.gen) else {
        return Step::Wait;
    };
    if r.io != Io::Idle {
        return Step::Wait;
    }
    match r.phase {
        Phase::Opening => Step::Wait,
        Phase::Finished | Phase::Destroyed => {
            r.io = Io::Closing;
            // A file the user closed under the stream (with `fs::close`)
            // is gone from the table already.
            let file =
                r.fd.take()
                    .filter(|fd| files.get(fd.key).is_some_and(|f| f.gen == fd.gen))
                    .map(|fd| files.remove(fd.key).file);
            Step::Close(file)
        }
        Phase::Open => {
            let emit_ok = caller == Caller::Loop;
            let file =
                r.fd.and_then(|fd| files.get(fd.key).filter(|f| f.gen == fd.gen))
                    .map(|f| f.file.clone());
            match &mut r.side {
                Side::Read(side) => {
                    if side.flow != Flow::Flowing {
                        return Step::Wait;
                    }
                    let at_end = side.remaining == Some(0);
                    match &side.held {
                        Held::Chunk(_) | Held::Eof if !emit_ok => return Step::Defer,
                        Held::Nothing if at_end && !emit_ok => return Step::Defer,
                        _ => {}
                    }
                    match std::mem::take(&mut side.held) {
                        Held::Chunk(buf) => return Step::Data(buf),
                        Held::Eof => {
                            r.phase = Phase::Finished;
                            return Step::End;
                        }
                        Held::Nothing if at_end => {
                            // The range is done: no read needed to know.
                            r.phase = Phase::Finished;
                            return Step::End;
                        }
                        Held::Nothing => {}
                    }
                    let Some(file) = file else {
                        r.phase = Phase::Destroyed;
                        r.error = Some(super::bad_fd("read"));
                        return Step::Again;
                    };
                    let len = match side.remaining {
                        Some(left) => usize::try_from(left)
                            .unwrap_or(usize::MAX)
                            .min(side.high_water_mark),
                        None => side.high_water_mark,
                    };
                    r.io = Io::Busy;
                    Step::Read {
                        file,
                        buf: crate::runtime::take_buf(),
                        len,
                        at: side.pos,
                    }
                }
                Side::Write(side) => {
                    if !side.pending.is_empty() && side.corked == 0 {
                        let Some(file) = file else {
                            r.phase = Phase::Destroyed;
                            r.error = Some(super::bad_fd("write"));
                            side.queued -= side.pending.len();
                            side.pending.clear();
                            return Step::Again;
                        };
                        r.io = Io::Busy;
                        let batch = std::mem::take(&mut side.pending);
                        return Step::Write {
                            file,
                            batch,
                            at: side.pos,
                        };
                    }
                    if side.queued > 0 {
                        return Step::Wait; // corked
                    }
                    // Node owes no `drain` once `end` was called: `finish`
                    // says more.
                    if side.drain == Drain::Needed && side.ending == Ending::NotYet {
                        if !emit_ok {
                            return Step::Defer;
                        }
                        side.drain = Drain::NotNeeded;
                        return Step::Drain;
                    }
                    if side.ending == Ending::Called {
                        if !emit_ok {
                            return Step::Defer;
                        }
                        r.phase = Phase::Finished;
                        return Step::Finish;
                    }
                    Step::Wait
                }
            }
        }
    }
}

/// A read came back.
fn read_done(id: Id, mut buf: Vec<u8>, read: std::io::Result<usize>) {
    let mut spare = None;
    with_record(id, |r| {
        r.io = Io::Idle;
        let Side::Read(side) = &mut r.side else {
            return;
        };
        if r.phase != Phase::Open {
            spare = Some(std::mem::take(&mut buf)); // destroyed meanwhile
            return;
        }
        match read {
            Ok(0) => {
                side.held = Held::Eof;
                spare = Some(std::mem::take(&mut buf));
            }
            Ok(n) => {
                buf.truncate(n);
                let n = n as u64;
                side.bytes_read += n;
                side.pos = side.pos.map(|p| p + n);
                side.remaining = side.remaining.map(|left| left.saturating_sub(n));
                side.held = Held::Chunk(std::mem::take(&mut buf));
            }
            Err(e) => {
                r.phase = Phase::Destroyed;
                r.error = Some(Error::fs("read", e, ""));
                spare = Some(std::mem::take(&mut buf));
            }
        }
    });
    if let Some(buf) = spare {
        crate::runtime::give_buf(buf);
    }
    advance(id, Caller::Loop);
}

/// A batch of writes came back.
fn write_done(id: Id, batch: Vec<u8>, written: std::io::Result<()>) {
    with_record(id, |r| {
        r.io = Io::Idle;
        let Side::Write(side) = &mut r.side else {
            return;
        };
        side.queued = side.queued.saturating_sub(batch.len());
        match written {
            Ok(()) => {
                let n = batch.len() as u64;
                side.bytes_written += n;
                side.pos = side.pos.map(|p| p + n);
            }
            Err(e) => {
                if matches!(r.phase, Phase::Open) {
                    r.phase = Phase::Destroyed;
                    r.error = Some(Error::fs("write", e, ""));
                    side.queued -= side.pending.len();
                    side.pending.clear();
                }
            }
        }
    });
    crate::runtime::give_buf(batch);
    advance(id, Caller::Loop);
}

/// The file is closed (or there was none): `error`, if any, then `close`,
/// and the record goes.
fn closed(id: Id) {
    let Some((error, what)) = with_record(id, |r| {
        let what = match r.side {
            Side::Read(_) => ("ReadStream", "ReadStream::on_error"),
            Side::Write(_) => ("WriteStream", "WriteStream::on_error"),
        };
        (r.error.take(), what)
    }) else {
        return;
    };
    if let Some(error) = error {
        if !emit(id, on_error, |f| f(&error)) {
            error.report_unhandled(what.0, what.1);
        }
    }
    let record = with_fs(|s| match s.streams.get(id.key) {
        Some(r) if r.gen == id.gen => Some(s.streams.remove(id.key)),
        _ => None,
    })
    .flatten();
    let Some(mut record) = record else { return };
    // The record is gone before `close` runs (nothing follows `close`);
    // its listeners are called, then dropped, outside every borrow.
    let mut on_close = record.on_close.take();
    crate::runtime::bury(record);
    for f in on_close.iter_mut() {
        f();
    }
    crate::runtime::bury(on_close);
}
