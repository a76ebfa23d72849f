//! `fs.createReadStream`: a file as a [`Readable`].

use std::path::Path;

use super::streams::{self, Caller, Flow, Held, Id, Phase, ReadSide, Side};
use super::Fd;
use crate::runtime::listeners::Listeners;
use crate::runtime::LoopBound;
use crate::stream::{EndOfStream, Readable, Stream};
use crate::{Chunk, Error};

/// Options of [`create_read_stream`] (Node's `{ start, end,
/// highWaterMark }`).
///
/// ```
/// use nodelike::fs::ReadStreamOptions;
/// // Bytes 10 to 19: `end` is inclusive, as in Node.
/// let range = ReadStreamOptions { start: Some(10), end: Some(19), ..Default::default() };
/// assert_eq!(ReadStreamOptions::default().high_water_mark, 64 * 1024);
/// # let _ = range;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadStreamOptions {
    /// The first byte to read (default: the file's start).
    pub start: Option<u64>,
    /// The last byte to read, **inclusive** (default: the file's end). An
    /// `end` before `start` reads nothing (Node throws `ERR_OUT_OF_RANGE`).
    pub end: Option<u64>,
    /// The size of each read, and so the largest `data` chunk (default
    /// 64 KiB, Node's for file streams).
    pub high_water_mark: usize,
}

impl Default for ReadStreamOptions {
    fn default() -> ReadStreamOptions {
        ReadStreamOptions {
            start: None,
            end: None,
            high_water_mark: 64 * 1024,
        }
    }
}

/// A file being read (Node's `fs.ReadStream`), made by
/// [`create_read_stream`]. It emits `open` (with the [`Fd`]), `ready`,
/// then `data` chunks of at most `high_water_mark` bytes, `end`, and
/// `close` once the file is closed; or `error` then `close`.
///
/// One read runs at a time, on the worker pool, and none is issued while
/// the stream is paused: that is what lets [`pipe`](Readable::pipe) hold a
/// fast disk back for a slow destination. Reading starts when a `data`
/// listener is added or the stream is resumed (or piped). `Copy`; it
/// belongs to the loop of the thread that made it.
///
/// Its events and flow control are the [`Stream`] and [`Readable`]
/// traits' methods (import them).
///
/// ```no_run
/// use nodelike::fs;
/// use nodelike::stream::{Readable, Stream};
/// let file = fs::create_read_stream("Cargo.toml", Default::default());
/// file.on_data(|chunk| print!("{chunk}"));
/// file.on_end(|| println!("-- end"));
/// file.on_error(|e| eprintln!("{e}"));
/// nodelike::run();
/// ```
///
/// It belongs to its loop: moving it to another thread does not compile.
///
/// ```compile_fail
/// let file = nodelike::fs::create_read_stream("Cargo.toml", Default::default());
/// std::thread::spawn(move || drop(file));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReadStream {
    id: Id,
    _loop: LoopBound,
}

/// Opens `path` for reading as a stream (Node's `fs.createReadStream`).
/// The open runs on the pool; a failure (`ENOENT`, `EACCES`, ...) is an
/// `error` event, followed by `close`.
///
/// ```no_run
/// use nodelike::fs::{self, ReadStreamOptions};
/// use nodelike::stream::Readable;
/// // The first kilobyte, in 256-byte chunks.
/// let head = fs::create_read_stream("/var/log/syslog", ReadStreamOptions {
///     start: Some(0),
///     end: Some(1023),
///     high_water_mark: 256,
/// });
/// head.on_data(|chunk| println!("{} bytes", chunk.len()));
/// nodelike::run();
/// ```
#[doc(alias = "createReadStream")]
pub fn create_read_stream(path: impl AsRef<Path>, options: ReadStreamOptions) -> ReadStream {
    let side = read_side(&options);
    let id = streams::create(path.as_ref(), super::open_options("r"), Side::Read(side));
    ReadStream {
        id,
        _loop: LoopBound::default(),
    }
}

/// A read stream over a file already open (Node's `createReadStream` with
/// `fd`): `send_file` opens and checks a file, then reads it through one of
/// these when it compresses. `path` is only what errors name.
pub(crate) fn read_stream_from_file(
    file: std::fs::File,
    path: &Path,
    options: ReadStreamOptions,
) -> ReadStream {
    let side = read_side(&options);
    let id = streams::create_from_file(path, file, Side::Read(side));
    ReadStream {
        id,
        _loop: LoopBound::default(),
    }
}

/// A read side at its start, by the options.
fn read_side(options: &ReadStreamOptions) -> ReadSide {
    let start = options.start;
    let remaining = options
        .end
        .map(|end| (end + 1).saturating_sub(start.unwrap_or(0)));
    ReadSide {
        flow: Flow::Waiting,
        held: Held::Nothing,
        pos: start,
        remaining,
        high_water_mark: options.high_water_mark.max(1),
        bytes_read: 0,
        on_data: Listeners::default(),
        on_end: Listeners::default(),
    }
}

impl ReadStream {
    fn side<R>(&self, f: impl FnOnce(&mut ReadSide, Phase) -> R) -> Option<R> {
        streams::with_record(self.id, |r| match &mut r.side {
            Side::Read(side) => Some(f(side, r.phase)),
            Side::Write(_) => None,
        })
        .flatten()
    }

    /// Adds an `open` listener: the file is open, as this [`Fd`] (Node's
    /// `'open'` event, with the descriptor).
    ///
    /// ```no_run
    /// let file = nodelike::fs::create_read_stream("Cargo.toml", Default::default());
    /// file.on_open(|fd| println!("opened as {:?}", fd.raw()));
    /// nodelike::run();
    /// ```
    pub fn on_open(&self, f: impl FnMut(Fd) + 'static) {
        streams::listen(self.id, streams::on_open, Box::new(f));
    }

    /// Adds a `ready` listener: the stream can be used (right after
    /// `open`, as in Node).
    ///
    /// ```no_run
    /// let file = nodelike::fs::create_read_stream("Cargo.toml", Default::default());
    /// file.on_ready(|| println!("ready"));
    /// nodelike::run();
    /// ```
    pub fn on_ready(&self, f: impl FnMut() + 'static) {
        streams::listen(self.id, streams::on_ready, Box::new(f));
    }

    /// Bytes read from the file so far (Node's `bytesRead`).
    ///
    /// ```no_run
    /// use nodelike::stream::Readable;
    /// let file = nodelike::fs::create_read_stream("Cargo.toml", Default::default());
    /// file.on_end(move || println!("{} bytes", file.bytes_read()));
    /// file.resume();
    /// nodelike::run();
    /// ```
    #[doc(alias = "bytesRead")]
    pub fn bytes_read(&self) -> u64 {
        self.side(|side, _| side.bytes_read).unwrap_or(0)
    }

    /// The path the stream reads (Node's `path`); empty once the stream
    /// closed.
    ///
    /// ```no_run
    /// let file = nodelike::fs::create_read_stream("Cargo.toml", Default::default());
    /// assert_eq!(file.path(), "Cargo.toml");
    /// ```
    pub fn path(&self) -> String {
        streams::with_record(self.id, |r| r.path.clone()).unwrap_or_default()
    }

    /// Whether the file is not open yet (Node's `pending`).
    ///
    /// ```no_run
    /// let file = nodelike::fs::create_read_stream("Cargo.toml", Default::default());
    /// assert!(file.pending());
    /// ```
    pub fn pending(&self) -> bool {
        streams::with_record(self.id, |r| r.phase == Phase::Opening).unwrap_or(false)
    }

    /// Sets the flow (`resume` and the first `data` listener start it,
    /// `pause` stops it).
    fn set_flow(&self, to: Flow, only_from_waiting: bool) {
        let changed = self
            .side(|side, _| {
                if only_from_waiting && side.flow != Flow::Waiting {
                    return false;
                }
                side.flow = to;
                true
            })
            .unwrap_or(false);
        if changed && to == Flow::Flowing {
            streams::advance(self.id, Caller::User);
        }
    }
}

impl Stream for ReadStream {
    /// Stops reading, closes the file, then emits `error` (with `error`,
    /// if given) and `close`. A read in flight finishes first (its bytes
    /// are dropped).
    ///
    /// ```no_run
    /// use nodelike::stream::{Readable, Stream};
    /// let file = nodelike::fs::create_read_stream("/dev/zero", Default::default());
    /// file.on_data(move |_| file.destroy(None)); // one chunk is enough
    /// file.on_close(|| println!("closed"));
    /// nodelike::run();
    /// ```
    fn destroy(&self, error: Option<Error>) {
        streams::destroy(self.id, error);
    }

    /// ```no_run
    /// use nodelike::stream::Stream;
    /// let file = nodelike::fs::create_read_stream("Cargo.toml", Default::default());
    /// file.destroy(None);
    /// assert!(file.destroyed());
    /// ```
    fn destroyed(&self) -> bool {
        streams::with_record(self.id, |r| {
            !matches!(r.phase, Phase::Opening | Phase::Open)
        })
        .unwrap_or(true)
    }

    /// ```no_run
    /// use nodelike::stream::Stream;
    /// let file = nodelike::fs::create_read_stream("/no/such", Default::default());
    /// file.on_error(|e| assert_eq!(e.code(), "ENOENT"));
    /// nodelike::run();
    /// ```
    fn on_error(&self, f: impl FnMut(&Error) + 'static) {
        streams::listen(self.id, streams::on_error, Box::new(f));
    }

    /// ```no_run
    /// use nodelike::stream::Stream;
    /// let file = nodelike::fs::create_read_stream("Cargo.toml", Default::default());
    /// file.on_close(|| println!("the file is closed"));
    /// nodelike::run();
    /// ```
    fn on_close(&self, f: impl FnMut() + 'static) {
        streams::listen(self.id, streams::on_close, Box::new(f));
    }

    /// ```no_run
    /// use nodelike::{fs, stream};
    /// let file = fs::create_read_stream("Cargo.toml", Default::default());
    /// stream::finished(file, |err| println!("read all: {}", err.is_none()));
    /// nodelike::run();
    /// ```
    fn end_of_stream(&self, callback: Box<dyn FnOnce(Option<Error>)>) {
        EndOfStream::readable(*self, callback);
    }
}

impl Readable for ReadStream {
    /// Adds a `data` listener; the first one starts the flow unless the
    /// stream was paused (Node's rule).
    ///
    /// ```no_run
    /// use nodelike::stream::Readable;
    /// let file = nodelike::fs::create_read_stream("Cargo.toml", Default::default());
    /// file.on_data(|chunk| println!("{} bytes", chunk.len()));
    /// nodelike::run();
    /// ```
    fn on_data(&self, f: impl FnMut(Chunk<'_>) + 'static) {
        streams::listen(self.id, streams::on_data, Box::new(f));
        self.set_flow(Flow::Flowing, true);
    }

    /// ```no_run
    /// use nodelike::stream::Readable;
    /// let file = nodelike::fs::create_read_stream("Cargo.toml", Default::default());
    /// file.on_end(|| println!("all read"));
    /// file.resume();
    /// nodelike::run();
    /// ```
    fn on_end(&self, f: impl FnMut() + 'static) {
        streams::listen(self.id, streams::on_end, Box::new(f));
    }

    /// No read is issued until [`resume`](Readable::resume); a read already
    /// running finishes and its chunk waits.
    ///
    /// ```no_run
    /// use nodelike::stream::Readable;
    /// let file = nodelike::fs::create_read_stream("Cargo.toml", Default::default());
    /// file.pause();
    /// assert!(file.is_paused());
    /// ```
    fn pause(&self) {
        self.set_flow(Flow::Paused, false);
    }

    /// ```no_run
    /// use nodelike::stream::Readable;
    /// let file = nodelike::fs::create_read_stream("Cargo.toml", Default::default());
    /// file.resume(); // read to the end, dropping the data
    /// nodelike::run();
    /// ```
    fn resume(&self) {
        self.set_flow(Flow::Flowing, false);
    }

    /// ```no_run
    /// use nodelike::stream::Readable;
    /// let file = nodelike::fs::create_read_stream("Cargo.toml", Default::default());
    /// assert!(!file.is_paused());
    /// ```
    fn is_paused(&self) -> bool {
        self.side(|side, _| side.flow == Flow::Paused)
            .unwrap_or(false)
    }

    /// True from `end` on (until the stream's `close`, after which its
    /// record is gone and this answers `false`).
    ///
    /// ```no_run
    /// use nodelike::stream::Readable;
    /// let file = nodelike::fs::create_read_stream("Cargo.toml", Default::default());
    /// file.on_end(move || assert!(file.readable_ended()));
    /// file.resume();
    /// nodelike::run();
    /// ```
    fn readable_ended(&self) -> bool {
        // A read stream is `Finished` only once `end` was emitted.
        self.side(|_, phase| phase == Phase::Finished)
            .unwrap_or(false)
    }
}
