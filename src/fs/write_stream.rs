//! `fs.createWriteStream`: a file as a [`Writable`].

use std::path::Path;

use super::streams::{self, Caller, Drain, Ending, Id, Phase, Side, WriteSide};
use super::Fd;
use crate::runtime::listeners::Listeners;
use crate::runtime::LoopBound;
use crate::stream::{EndOfStream, Stream, Writable, DEFAULT_HIGH_WATER_MARK};
use crate::{Error, ErrorKind, IntoChunk};

/// Options of [`create_write_stream`] (Node's `{ flags, start,
/// highWaterMark }`).
///
/// ```
/// use nodelike::fs::WriteStreamOptions;
/// let append = WriteStreamOptions { flags: "a", ..Default::default() };
/// assert_eq!(WriteStreamOptions::default().flags, "w");
/// assert_eq!(WriteStreamOptions::default().high_water_mark, 16 * 1024);
/// # let _ = append;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteStreamOptions {
    /// How the file is opened, as for [`open`](super::open) (default
    /// `"w"`: created or truncated; `"r+"` writes into an existing file,
    /// `"a"` appends).
    pub flags: &'static str,
    /// Where the first byte goes (default: the file's position, its start
    /// for `"w"`, its end for `"a"`).
    pub start: Option<u64>,
    /// The queued bytes from which `write` returns `false` (default
    /// 16 KiB, Node's).
    pub high_water_mark: usize,
}

impl Default for WriteStreamOptions {
    fn default() -> WriteStreamOptions {
        WriteStreamOptions {
            flags: "w",
            start: None,
            high_water_mark: DEFAULT_HIGH_WATER_MARK,
        }
    }
}

/// A file being written (Node's `fs.WriteStream`), made by
/// [`create_write_stream`]. It emits `open` (with the [`Fd`]) and `ready`,
/// `drain` after a `write` that returned `false` once the queue is empty,
/// `finish` after [`end`](Writable::end) once every byte is written, then
/// `close` once the file is closed; or `error` then `close`.
///
/// Writes are queued in memory (also before the file is open) and go to
/// the pool one batch at a time, in order: everything queued while the
/// previous batch was written leaves as the next. `Copy`; it belongs to the
/// loop of the thread that made it.
///
/// Its events and methods are the [`Stream`] and [`Writable`] traits'
/// (import them).
///
/// ```no_run
/// use nodelike::fs;
/// use nodelike::stream::{Stream, Writable};
/// let log = fs::create_write_stream("/tmp/app.log", fs::WriteStreamOptions {
///     flags: "a",
///     ..Default::default()
/// });
/// log.write("started\n");
/// log.end("stopped\n");
/// log.on_finish(|| println!("all on disk"));
/// log.on_error(|e| eprintln!("{e}"));
/// nodelike::run();
/// ```
///
/// It belongs to its loop: moving it to another thread does not compile.
///
/// ```compile_fail
/// let out = nodelike::fs::create_write_stream("/tmp/out.txt", Default::default());
/// std::thread::spawn(move || drop(out));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WriteStream {
    id: Id,
    _loop: LoopBound,
}

/// Opens `path` for writing as a stream (Node's `fs.createWriteStream`).
/// The open runs on the pool; a failure is an `error` event, followed by
/// `close`.
///
/// ```no_run
/// use nodelike::fs;
/// use nodelike::stream::Writable;
/// let out = fs::create_write_stream("/tmp/out.txt", Default::default());
/// for n in 0..10 {
///     out.write(format!("line {n}\n"));
/// }
/// out.end(());
/// nodelike::run();
/// ```
#[doc(alias = "createWriteStream")]
pub fn create_write_stream(path: impl AsRef<Path>, options: WriteStreamOptions) -> WriteStream {
    let side = WriteSide {
        pending: Vec::new(),
        queued: 0,
        high_water_mark: options.high_water_mark,
        corked: 0,
        ending: Ending::NotYet,
        drain: Drain::NotNeeded,
        pos: options.start,
        bytes_written: 0,
        on_drain: Listeners::default(),
        on_finish: Listeners::default(),
    };
    let id = streams::create(
        path.as_ref(),
        super::open_options(options.flags),
        Side::Write(side),
    );
    WriteStream {
        id,
        _loop: LoopBound::default(),
    }
}

/// What a `write` found.
enum Accepted {
    /// Queued; whether the queue is still below the high-water mark.
    Queued(bool),
    /// `end` was called before: `ERR_STREAM_WRITE_AFTER_END`.
    AfterEnd,
    /// Destroyed, finished or gone: dropped.
    Refused,
}

impl WriteStream {
    fn side<R>(&self, f: impl FnOnce(&mut WriteSide, Phase) -> R) -> Option<R> {
        streams::with_record(self.id, |r| match &mut r.side {
            Side::Write(side) => Some(f(side, r.phase)),
            Side::Read(_) => None,
        })
        .flatten()
    }

    /// Adds an `open` listener: the file is open, as this [`Fd`] (Node's
    /// `'open'` event).
    ///
    /// ```no_run
    /// let out = nodelike::fs::create_write_stream("/tmp/out.txt", Default::default());
    /// out.on_open(|fd| println!("opened as {:?}", fd.raw()));
    /// nodelike::run();
    /// ```
    pub fn on_open(&self, f: impl FnMut(Fd) + 'static) {
        streams::listen(self.id, streams::on_open, Box::new(f));
    }

    /// Adds a `ready` listener: right after `open`, as in Node.
    ///
    /// ```no_run
    /// let out = nodelike::fs::create_write_stream("/tmp/out.txt", Default::default());
    /// out.on_ready(|| println!("ready"));
    /// nodelike::run();
    /// ```
    pub fn on_ready(&self, f: impl FnMut() + 'static) {
        streams::listen(self.id, streams::on_ready, Box::new(f));
    }

    /// Bytes written to the file so far (Node's `bytesWritten`); queued
    /// bytes are not counted until they are on disk.
    ///
    /// ```no_run
    /// use nodelike::stream::Writable;
    /// let out = nodelike::fs::create_write_stream("/tmp/out.txt", Default::default());
    /// out.end("12345");
    /// out.on_finish(move || assert_eq!(out.bytes_written(), 5));
    /// nodelike::run();
    /// ```
    #[doc(alias = "bytesWritten")]
    pub fn bytes_written(&self) -> u64 {
        self.side(|side, _| side.bytes_written).unwrap_or(0)
    }

    /// The path the stream writes (Node's `path`); empty once the stream
    /// closed.
    ///
    /// ```no_run
    /// let out = nodelike::fs::create_write_stream("/tmp/out.txt", Default::default());
    /// assert_eq!(out.path(), "/tmp/out.txt");
    /// ```
    pub fn path(&self) -> String {
        streams::with_record(self.id, |r| r.path.clone()).unwrap_or_default()
    }

    /// Whether the file is not open yet (Node's `pending`).
    ///
    /// ```no_run
    /// let out = nodelike::fs::create_write_stream("/tmp/out.txt", Default::default());
    /// assert!(out.pending());
    /// ```
    pub fn pending(&self) -> bool {
        streams::with_record(self.id, |r| r.phase == Phase::Opening).unwrap_or(false)
    }
}

impl Stream for WriteStream {
    /// Drops what is queued, waits for the batch being written, closes
    /// the file, then emits `error` (with `error`, if given) and `close`.
    ///
    /// ```no_run
    /// use nodelike::stream::Stream;
    /// let out = nodelike::fs::create_write_stream("/tmp/out.txt", Default::default());
    /// out.destroy(None);
    /// ```
    fn destroy(&self, error: Option<Error>) {
        streams::destroy(self.id, error);
    }

    /// True from [`destroy`](Stream::destroy), a failure, or `finish` on
    /// (Node's `autoDestroy`).
    ///
    /// ```no_run
    /// use nodelike::stream::Stream;
    /// let out = nodelike::fs::create_write_stream("/tmp/out.txt", Default::default());
    /// assert!(!out.destroyed());
    /// ```
    fn destroyed(&self) -> bool {
        streams::with_record(self.id, |r| {
            !matches!(r.phase, Phase::Opening | Phase::Open)
        })
        .unwrap_or(true)
    }

    /// ```no_run
    /// use nodelike::stream::Stream;
    /// let out = nodelike::fs::create_write_stream("/no/such/dir/f", Default::default());
    /// out.on_error(|e| assert_eq!(e.code(), "ENOENT"));
    /// nodelike::run();
    /// ```
    fn on_error(&self, f: impl FnMut(&Error) + 'static) {
        streams::listen(self.id, streams::on_error, Box::new(f));
    }

    /// ```no_run
    /// use nodelike::stream::{Stream, Writable};
    /// let out = nodelike::fs::create_write_stream("/tmp/out.txt", Default::default());
    /// out.end("x");
    /// out.on_close(|| println!("the file is closed"));
    /// nodelike::run();
    /// ```
    fn on_close(&self, f: impl FnMut() + 'static) {
        streams::listen(self.id, streams::on_close, Box::new(f));
    }

    /// ```no_run
    /// use nodelike::stream::{self, Writable};
    /// let out = nodelike::fs::create_write_stream("/tmp/out.txt", Default::default());
    /// stream::finished(out, |err| println!("written: {}", err.is_none()));
    /// out.end("x");
    /// nodelike::run();
    /// ```
    fn end_of_stream(&self, callback: Box<dyn FnOnce(Option<Error>)>) {
        EndOfStream::writable(*self, callback);
    }
}

impl Writable for WriteStream {
    /// Queues `chunk`; returns `false` once the queued bytes reach the
    /// high-water mark (wait for `drain`). After `end` it fails the stream
    /// with `ERR_STREAM_WRITE_AFTER_END`, as Node does.
    ///
    /// ```no_run
    /// use nodelike::stream::Writable;
    /// let out = nodelike::fs::create_write_stream("/tmp/out.txt", Default::default());
    /// assert!(!out.write(vec![0u8; 16 * 1024]));
    /// out.on_drain(move || out.end(()));
    /// nodelike::run();
    /// ```
    fn write(&self, chunk: impl IntoChunk) -> bool {
        let bytes = chunk.chunk_bytes();
        let accepted = self
            .side(|side, phase| match (phase, side.ending) {
                (Phase::Opening | Phase::Open, Ending::NotYet) => {
                    if side.pending.capacity() == 0 {
                        side.pending = crate::runtime::take_buf();
                    }
                    side.pending.extend_from_slice(bytes);
                    side.queued += bytes.len();
                    let below = side.queued < side.high_water_mark;
                    if !below {
                        side.drain = Drain::Needed;
                    }
                    Accepted::Queued(below)
                }
                (Phase::Opening | Phase::Open, Ending::Called) => Accepted::AfterEnd,
                _ => Accepted::Refused,
            })
            .unwrap_or(Accepted::Refused);
        match accepted {
            Accepted::Queued(below) => {
                streams::advance(self.id, Caller::User);
                below
            }
            Accepted::AfterEnd => {
                self.destroy(Some(Error::new(
                    ErrorKind::WriteAfterEnd,
                    "write after end",
                )));
                false
            }
            Accepted::Refused => {
                log::debug!("fs: write to a destroyed WriteStream dropped");
                false
            }
        }
    }

    /// Writes `chunk` (unless empty), then ends: what is corked goes, and
    /// `finish` follows once every byte is written, then `close`.
    ///
    /// ```no_run
    /// use nodelike::stream::Writable;
    /// let out = nodelike::fs::create_write_stream("/tmp/out.txt", Default::default());
    /// out.end("the only line\n");
    /// nodelike::run();
    /// ```
    fn end(&self, chunk: impl IntoChunk) {
        if !chunk.chunk_bytes().is_empty() {
            self.write(chunk);
        }
        let ended = self
            .side(|side, phase| {
                if matches!(phase, Phase::Opening | Phase::Open) && side.ending == Ending::NotYet {
                    side.ending = Ending::Called;
                    side.corked = 0; // Node's `end` uncorks
                    true
                } else {
                    false
                }
            })
            .unwrap_or(false);
        if ended {
            streams::advance(self.id, Caller::User);
        }
    }

    /// ```no_run
    /// use nodelike::stream::Writable;
    /// let out = nodelike::fs::create_write_stream("/tmp/out.txt", Default::default());
    /// out.on_drain(|| println!("write more"));
    /// ```
    fn on_drain(&self, f: impl FnMut() + 'static) {
        streams::listen(self.id, streams::on_drain, Box::new(f));
    }

    /// ```no_run
    /// use nodelike::stream::Writable;
    /// let out = nodelike::fs::create_write_stream("/tmp/out.txt", Default::default());
    /// out.on_finish(|| println!("every byte is in the file"));
    /// out.end("x");
    /// nodelike::run();
    /// ```
    fn on_finish(&self, f: impl FnMut() + 'static) {
        streams::listen(self.id, streams::on_finish, Box::new(f));
    }

    /// ```no_run
    /// use nodelike::stream::Writable;
    /// let out = nodelike::fs::create_write_stream("/tmp/out.txt", Default::default());
    /// out.cork();
    /// out.write("a");
    /// out.write("b");
    /// out.uncork(); // "ab" goes to the pool as one write
    /// ```
    fn cork(&self) {
        self.side(|side, _| side.corked += 1);
    }

    /// ```no_run
    /// use nodelike::stream::Writable;
    /// let out = nodelike::fs::create_write_stream("/tmp/out.txt", Default::default());
    /// out.cork();
    /// out.uncork();
    /// ```
    fn uncork(&self) {
        let released = self
            .side(|side, _| {
                let was = side.corked;
                side.corked = side.corked.saturating_sub(1);
                was == 1
            })
            .unwrap_or(false);
        if released {
            streams::advance(self.id, Caller::User);
        }
    }

    /// ```no_run
    /// use nodelike::stream::Writable;
    /// let out = nodelike::fs::create_write_stream("/tmp/out.txt", Default::default());
    /// out.end(());
    /// assert!(out.writable_ended());
    /// ```
    fn writable_ended(&self) -> bool {
        self.side(|side, phase| side.ending == Ending::Called || phase == Phase::Finished)
            .unwrap_or(false)
    }

    /// ```no_run
    /// use nodelike::stream::Writable;
    /// let out = nodelike::fs::create_write_stream("/tmp/out.txt", Default::default());
    /// out.on_finish(move || assert!(out.writable_finished()));
    /// out.end(());
    /// nodelike::run();
    /// ```
    fn writable_finished(&self) -> bool {
        self.side(|_, phase| phase == Phase::Finished)
            .unwrap_or(false)
    }

    /// The bytes queued or being written (Node's `writableLength`).
    ///
    /// ```no_run
    /// use nodelike::stream::Writable;
    /// let out = nodelike::fs::create_write_stream("/tmp/out.txt", Default::default());
    /// out.write("abc");
    /// assert_eq!(out.writable_length(), 3);
    /// ```
    fn writable_length(&self) -> usize {
        self.side(|side, _| side.queued).unwrap_or(0)
    }

    /// ```no_run
    /// use nodelike::stream::Writable;
    /// let out = nodelike::fs::create_write_stream("/tmp/out.txt", Default::default());
    /// assert_eq!(out.writable_high_water_mark(), 16 * 1024);
    /// ```
    fn writable_high_water_mark(&self) -> usize {
        self.side(|side, _| side.high_water_mark)
            .unwrap_or(DEFAULT_HIGH_WATER_MARK)
    }
}
