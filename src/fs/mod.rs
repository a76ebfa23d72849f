//! Node's `fs` module: files read and written off the loop, with callbacks
//! and streams.
//!
//! A disk read can block for milliseconds, which a loop serving thousands
//! of connections cannot afford. So every call here runs its blocking
//! system call on the worker pool (4 threads, or `UV_THREADPOOL_SIZE`, as
//! libuv's) and calls back on the loop's thread in a later turn, with no
//! state borrowed: the callback may hold handles and start more work. Work
//! in flight keeps [`run`](crate::run) going, as a pending `fs` request
//! keeps a Node process alive.
//!
//! | Node | nodelike |
//! |---|---|
//! | `fs.readFile(path, cb)` | [`fs::read_file(path, cb)`](read_file) |
//! | `fs.writeFile(path, data, cb)` | [`fs::write_file(path, data, cb)`](write_file) |
//! | `fs.stat(path, cb)`, `fs.lstat` | [`fs::stat`](stat), [`fs::lstat`](lstat) ([`Stats`]) |
//! | `fs.open(path, flags, cb)` | [`fs::open(path, "r+", cb)`](open) (an [`Fd`]) |
//! | `fs.read(fd, buf, 0, length, position, cb)` | [`fs::read(fd, length, Some(position), cb)`](read()) |
//! | `fs.write(fd, data, position, cb)` | [`fs::write(fd, data, None, cb)`](write()) |
//! | `fs.close(fd, cb)` | [`fs::close(fd, cb)`](close) |
//! | `fs.createReadStream(path, { start, end, highWaterMark })` | [`fs::create_read_stream`](create_read_stream) ([`ReadStream`]) |
//! | `fs.createWriteStream(path, { flags, start, highWaterMark })` | [`fs::create_write_stream`](create_write_stream) ([`WriteStream`]) |
//! | `err.code`, `err.path`, `err.syscall` | [`Error::code`], [`Error::path`], [`Error::syscall_name`] |
//!
//! Errors are worded as Node's: `ENOENT: no such file or directory, open
//! '/no/such'`, with the errno's name as the [`code`](Error::code) and the
//! file as the [`path`](Error::path).
//!
//! ```no_run
//! use nodelike::fs;
//! fs::write_file("/tmp/greeting.txt", "hello\n", |r| {
//!     r.unwrap();
//!     fs::read_file("/tmp/greeting.txt", |r| {
//!         assert_eq!(r.unwrap(), b"hello\n");
//!     });
//! });
//! nodelike::run();
//! ```
//!
//! Streams are [`Readable`](crate::stream::Readable) and
//! [`Writable`](crate::stream::Writable), so they pipe, with back-pressure:
//! a read stream reads one chunk at a time and none while paused.
//!
//! ```no_run
//! use nodelike::{fs, stream};
//! let src = fs::create_read_stream("/tmp/in.bin", Default::default());
//! let dst = fs::create_write_stream("/tmp/out.bin", Default::default());
//! stream::pipeline((src, dst), |err| match err {
//!     None => println!("copied"),
//!     Some(e) => eprintln!("copy failed: {e}"),
//! });
//! nodelike::run();
//! ```

mod read_stream;
mod stats;
mod streams;
mod write_stream;

pub(crate) use read_stream::read_stream_from_file;
pub use read_stream::{create_read_stream, ReadStream, ReadStreamOptions};
pub use stats::Stats;
pub use write_stream::{create_write_stream, WriteStream, WriteStreamOptions};

use std::cell::RefCell;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use crate::runtime::pool::queue_work;
use crate::runtime::LoopBound;
use crate::{Error, ErrorKind, IntoChunk};

/// The files this loop opened, by [`Fd`], and its file streams.
struct FsState {
    /// Each open file behind an `Arc`, so a job on the pool can use it
    /// while the loop keeps it in the table; it closes when the last
    /// holder lets go.
    files: slab::Slab<OpenFile>,
    /// The read and write streams' records.
    streams: slab::Slab<streams::Record>,
}

struct OpenFile {
    gen: u32,
    file: Arc<File>,
}

thread_local! {
    static FS: RefCell<FsState> = const {
        RefCell::new(FsState {
            files: slab::Slab::new(),
            streams: slab::Slab::new(),
        })
    };
}

/// Runs `f` with the layer's state borrowed; `None` while the thread-local
/// is being destroyed.
fn with_fs<R>(f: impl FnOnce(&mut FsState) -> R) -> Option<R> {
    FS.try_with(|cell| {
        let mut state = cell
            .try_borrow_mut()
            .expect("nodelike: the fs state was entered re-entrantly (a bug in nodelike)");
        f(&mut state)
    })
    .ok()
}

impl FsState {
    fn add_file(&mut self, file: File) -> Fd {
        insert_file(&mut self.files, file)
    }

    fn file(&self, fd: Fd) -> Option<Arc<File>> {
        self.files
            .get(fd.key)
            .filter(|f| f.gen == fd.gen)
            .map(|f| f.file.clone())
    }

    fn remove_file(&mut self, fd: Fd) -> Option<Arc<File>> {
        if self.files.get(fd.key).is_some_and(|f| f.gen == fd.gen) {
            Some(self.files.remove(fd.key).file)
        } else {
            None
        }
    }
}

/// Puts an open file in the table (also while a stream's record is
/// borrowed beside it).
fn insert_file(files: &mut slab::Slab<OpenFile>, file: File) -> Fd {
    let gen = crate::runtime::next_gen();
    let key = files.insert(OpenFile {
        gen,
        file: Arc::new(file),
    });
    Fd {
        key,
        gen,
        _loop: LoopBound::default(),
    }
}

/// A file opened by [`open`] (Node's numeric file descriptor): a key into
/// this loop's table of open files, `Copy`, valid until [`close`]. A
/// closed one is refused with `EBADF`, as a closed descriptor is.
///
/// ```no_run
/// use nodelike::fs;
/// fs::open("Cargo.toml", "r", |fd| {
///     let fd = fd.unwrap();
///     fs::read(fd, 16, Some(0), move |head| {
///         println!("{:?}", head.unwrap());
///         fs::close(fd, |r| r.unwrap());
///     });
/// });
/// nodelike::run();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fd {
    key: usize,
    gen: u32,
    _loop: LoopBound,
}

impl Fd {
    /// The operating system's descriptor number while the file is open
    /// (the number Node shows), `None` once closed.
    ///
    /// ```no_run
    /// nodelike::fs::open("Cargo.toml", "r", |fd| {
    ///     println!("opened as fd {:?}", fd.unwrap().raw());
    /// });
    /// nodelike::run();
    /// ```
    pub fn raw(&self) -> Option<i32> {
        use std::os::fd::AsRawFd;
        with_fs(|s| s.file(*self).map(|f| f.as_raw_fd())).flatten()
    }
}

/// How Node's flags open a file, or the error Node throws for flags it
/// does not know.
fn open_options(flags: &str) -> Result<OpenOptions, Error> {
    /// `O_SYNC` on Linux (the `s` flags); the standard library opens
    /// without it and has no name for it.
    #[cfg(target_os = "linux")]
    const O_SYNC: i32 = 0o4_010_000;
    #[cfg(not(target_os = "linux"))]
    const O_SYNC: i32 = 0;
    use std::os::unix::fs::OpenOptionsExt;
    let mut o = OpenOptions::new();
    match flags {
        "r" => o.read(true),
        "rs" | "sr" => o.read(true).custom_flags(O_SYNC),
        "r+" => o.read(true).write(true),
        "rs+" | "sr+" => o.read(true).write(true).custom_flags(O_SYNC),
        "w" => o.write(true).create(true).truncate(true),
        "wx" | "xw" => o.write(true).create_new(true),
        "w+" => o.read(true).write(true).create(true).truncate(true),
        "wx+" | "xw+" => o.read(true).write(true).create_new(true),
        "a" => o.append(true).create(true),
        "ax" | "xa" => o.append(true).create_new(true),
        "as" | "sa" => o.append(true).create(true).custom_flags(O_SYNC),
        "a+" => o.read(true).append(true).create(true),
        "ax+" | "xa+" => o.read(true).append(true).create_new(true),
        "as+" | "sa+" => o.read(true).append(true).create(true).custom_flags(O_SYNC),
        _ => {
            return Err(Error::new(
                ErrorKind::Io,
                format!("The argument 'flags' is invalid. Received '{flags}'"),
            )
            .with_code("ERR_INVALID_ARG_VALUE"))
        }
    };
    Ok(o)
}

/// The path as Node prints it in messages.
fn shown(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// `EBADF` for a closed or unknown [`Fd`], worded for `syscall`.
fn bad_fd(syscall: &'static str) -> Error {
    // EBADF's number is 9 on every Unix.
    Error::fs(syscall, io::Error::from_raw_os_error(9), "")
}

/// One read at `at` (or at the file's position), retried when a signal
/// interrupts it. Returns how many bytes it read (`0` at the end).
fn read_some(file: &File, buf: &mut [u8], at: Option<u64>) -> io::Result<usize> {
    loop {
        let read = match at {
            Some(at) => file.read_at(buf, at),
            None => (&mut &*file).read(buf),
        };
        match read {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Writes all of `data` at `at` (or at the file's position).
fn write_all(file: &File, data: &[u8], at: Option<u64>) -> io::Result<()> {
    match at {
        Some(at) => file.write_all_at(data, at),
        None => (&mut &*file).write_all(data),
    }
}

/// Reads a whole file (Node's `fs.readFile`).
///
/// ```no_run
/// nodelike::fs::read_file("/no/such", |r| {
///     let e = r.unwrap_err();
///     assert_eq!(e.code(), "ENOENT");
///     assert_eq!(e.message(), "ENOENT: no such file or directory, open '/no/such'");
/// });
/// nodelike::run();
/// ```
#[doc(alias = "readFile")]
pub fn read_file(path: impl AsRef<Path>, callback: impl FnOnce(Result<Vec<u8>, Error>) + 'static) {
    let path = path.as_ref().to_path_buf();
    queue_work(
        move || {
            let mut file = File::open(&path).map_err(|e| Error::fs("open", e, &shown(&path)))?;
            let mut data = Vec::new();
            if let Ok(meta) = file.metadata() {
                // One allocation for a regular file (the size may change
                // meanwhile; `read_to_end` copes either way).
                data.reserve(usize::try_from(meta.len()).unwrap_or(0));
            }
            file.read_to_end(&mut data)
                .map_err(|e| Error::fs("read", e, ""))?;
            Ok(data)
        },
        callback,
    );
}

/// Writes `data` to a file, creating it or replacing its contents (Node's
/// `fs.writeFile`, flags `"w"`, mode `0o666` less the umask).
///
/// ```no_run
/// nodelike::fs::write_file("/tmp/out.txt", "data", |r| r.unwrap());
/// nodelike::run();
/// ```
#[doc(alias = "writeFile")]
pub fn write_file(
    path: impl AsRef<Path>,
    data: impl IntoChunk,
    callback: impl FnOnce(Result<(), Error>) + 'static,
) {
    let path = path.as_ref().to_path_buf();
    let data = data.chunk_bytes().to_vec();
    queue_work(
        move || {
            let mut file = File::create(&path).map_err(|e| Error::fs("open", e, &shown(&path)))?;
            file.write_all(&data).map_err(|e| Error::fs("write", e, ""))
        },
        callback,
    );
}

/// Describes a file, following symbolic links (Node's `fs.stat`).
///
/// ```no_run
/// nodelike::fs::stat("Cargo.toml", |s| println!("{} bytes", s.unwrap().size));
/// nodelike::run();
/// ```
pub fn stat(path: impl AsRef<Path>, callback: impl FnOnce(Result<Stats, Error>) + 'static) {
    let path = path.as_ref().to_path_buf();
    queue_work(
        move || {
            std::fs::metadata(&path)
                .map(|m| Stats::from_metadata(&m))
                .map_err(|e| Error::fs("stat", e, &shown(&path)))
        },
        callback,
    );
}

/// Describes a file, or the symbolic link itself when it is one (Node's
/// `fs.lstat`).
///
/// ```no_run
/// nodelike::fs::lstat("/proc/self", |s| assert!(s.unwrap().is_symbolic_link()));
/// nodelike::run();
/// ```
pub fn lstat(path: impl AsRef<Path>, callback: impl FnOnce(Result<Stats, Error>) + 'static) {
    let path = path.as_ref().to_path_buf();
    queue_work(
        move || {
            std::fs::symlink_metadata(&path)
                .map(|m| Stats::from_metadata(&m))
                .map_err(|e| Error::fs("lstat", e, &shown(&path)))
        },
        callback,
    );
}

/// Opens a file with Node's `flags`: `"r"`, `"r+"`, `"w"`, `"w+"`, `"wx"`
/// (fails with `EEXIST` if the file exists), `"a"`, `"a+"`, `"ax"`, and
/// the `s` (synchronous) forms; new files get mode `0o666` less the umask
/// (Node's `fs.open`). Unknown flags fail with `ERR_INVALID_ARG_VALUE`.
///
/// ```no_run
/// use nodelike::fs;
/// fs::open("/tmp/log.txt", "a", |fd| {
///     let fd = fd.unwrap();
///     fs::write(fd, "one more line\n", None, move |_| fs::close(fd, |_| {}));
/// });
/// nodelike::run();
/// ```
pub fn open(
    path: impl AsRef<Path>,
    flags: &str,
    callback: impl FnOnce(Result<Fd, Error>) + 'static,
) {
    let options = match open_options(flags) {
        Ok(o) => o,
        Err(e) => {
            // Reported in a later turn, as every other outcome is.
            crate::next_tick(move || callback(Err(e)));
            return;
        }
    };
    let path = path.as_ref().to_path_buf();
    queue_work(
        move || {
            options
                .open(&path)
                .map_err(|e| Error::fs("open", e, &shown(&path)))
        },
        move |opened: Result<File, Error>| {
            // The file enters the table on the loop's thread (its owner);
            // if the loop is gone, dropping it here closes it.
            let fd = opened.and_then(|file| {
                let mut file = Some(file);
                let fd = with_fs(|s| file.take().map(|f| s.add_file(f))).flatten();
                fd.ok_or_else(|| bad_fd("open"))
            });
            callback(fd);
        },
    );
}

/// Closes a file opened by [`open`] (Node's `fs.close`); `EBADF` if it
/// was closed already. A read or write still running on it finishes
/// first: the file closes when the last one lets go.
///
/// ```no_run
/// # fn f(fd: nodelike::fs::Fd) {
/// nodelike::fs::close(fd, |r| r.unwrap());
/// # }
/// ```
pub fn close(fd: Fd, callback: impl FnOnce(Result<(), Error>) + 'static) {
    match with_fs(|s| s.remove_file(fd)).flatten() {
        // Dropped on the pool: closing can block (NFS flushes on close).
        Some(file) => queue_work(move || drop(file), move |()| callback(Ok(()))),
        None => crate::next_tick(move || callback(Err(bad_fd("close")))),
    }
}

/// Reads up to `length` bytes at `position` (or from the file's current
/// position with `None`) (Node's `fs.read`). The bytes come back in a new
/// vector, shorter than `length` near the end and empty at it.
///
/// ```no_run
/// # fn f(fd: nodelike::fs::Fd) {
/// nodelike::fs::read(fd, 4096, Some(0), |r| {
///     let bytes = r.unwrap();
///     if bytes.is_empty() { println!("end of file"); }
/// });
/// # }
/// ```
pub fn read(
    fd: Fd,
    length: usize,
    position: Option<u64>,
    callback: impl FnOnce(Result<Vec<u8>, Error>) + 'static,
) {
    let Some(file) = with_fs(|s| s.file(fd)).flatten() else {
        crate::next_tick(move || callback(Err(bad_fd("read"))));
        return;
    };
    queue_work(
        move || {
            let mut buf = vec![0; length];
            let n = read_some(&file, &mut buf, position).map_err(|e| Error::fs("read", e, ""))?;
            buf.truncate(n);
            Ok(buf)
        },
        callback,
    );
}

/// Writes all of `data` at `position` (or at the file's current position,
/// or its end for a file opened to append, with `None`) and reports how
/// many bytes were written (Node's `fs.write`, which this calls until
/// every byte is written).
///
/// ```no_run
/// # fn f(fd: nodelike::fs::Fd) {
/// nodelike::fs::write(fd, "header", Some(0), |r| assert_eq!(r.unwrap(), 6));
/// # }
/// ```
pub fn write(
    fd: Fd,
    data: impl IntoChunk,
    position: Option<u64>,
    callback: impl FnOnce(Result<usize, Error>) + 'static,
) {
    let Some(file) = with_fs(|s| s.file(fd)).flatten() else {
        crate::next_tick(move || callback(Err(bad_fd("write"))));
        return;
    };
    let data = data.chunk_bytes().to_vec();
    queue_work(
        move || {
            write_all(&file, &data, position)
                .map(|()| data.len())
                .map_err(|e| Error::fs("write", e, ""))
        },
        callback,
    );
}
