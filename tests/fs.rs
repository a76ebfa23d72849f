//! `fs`: the callback functions, errors worded as Node's, read and write
//! streams (ranges, events, back-pressure, destroy), `pipe` and
//! `pipeline`, against `std::fs`, curl and Node. Real files in a temporary
//! folder per test; no timing assertions.

use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;

use nodelike::fs::{self, ReadStreamOptions, WriteStreamOptions};
use nodelike::stream::{self, Readable, Stream, Writable};
use nodelike::{http, Error};

/// A folder of its own under the system's temporary folder, removed at
/// the end.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir =
            std::env::temp_dir().join(format!("nodelike-fs-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }

    /// A file of `len` bytes whose bytes do not repeat with a short period
    /// (so a chunk in the wrong place shows).
    fn file_of(&self, file: &str, len: usize) -> (PathBuf, Vec<u8>) {
        let data: Vec<u8> = (0..len)
            .map(|i| (i.wrapping_mul(31) ^ (i >> 8) ^ (i >> 16)) as u8)
            .collect();
        let path = self.path(file);
        std::fs::write(&path, &data).unwrap();
        (path, data)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

type Log = Rc<RefCell<Vec<String>>>;

/// What a read stream delivered: its bytes, its events in order (`data`
/// once per run of chunks), and its chunk sizes.
struct Delivered {
    bytes: Vec<u8>,
    events: Vec<String>,
    chunks: Vec<usize>,
    bytes_read: u64,
}

fn read_through(path: &Path, options: ReadStreamOptions) -> Delivered {
    let rs = fs::create_read_stream(path, options);
    assert!(rs.pending());
    let bytes = Rc::new(RefCell::new(Vec::new()));
    let chunks = Rc::new(RefCell::new(Vec::new()));
    let events: Log = Rc::default();
    let bytes_read = Rc::new(Cell::new(0));
    let push = |events: &Log, name: &str| {
        let mut e = events.borrow_mut();
        if e.last().map(String::as_str) != Some(name) || name != "data" {
            e.push(name.to_owned());
        }
    };
    {
        let events = events.clone();
        rs.on_open(move |fd| {
            assert!(fd.raw().is_some());
            push(&events, "open");
        });
    }
    {
        let events = events.clone();
        rs.on_ready(move || push(&events, "ready"));
    }
    {
        let (events, bytes, chunks) = (events.clone(), bytes.clone(), chunks.clone());
        rs.on_data(move |chunk| {
            push(&events, "data");
            bytes.borrow_mut().extend_from_slice(&chunk);
            chunks.borrow_mut().push(chunk.len());
        });
    }
    {
        let (events, bytes_read) = (events.clone(), bytes_read.clone());
        rs.on_end(move || {
            assert!(rs.readable_ended());
            assert!(rs.destroyed(), "Node's autoDestroy: destroyed after end");
            bytes_read.set(rs.bytes_read());
            push(&events, "end");
        });
    }
    {
        let events = events.clone();
        rs.on_error(move |e| push(&events, &format!("error {}", e.code())));
    }
    {
        let events = events.clone();
        rs.on_close(move || push(&events, "close"));
    }
    nodelike::run();
    let bytes = bytes.take();
    let events = events.take();
    let chunks = chunks.take();
    Delivered {
        bytes,
        events,
        chunks,
        bytes_read: bytes_read.get(),
    }
}

/// The slice Node's `{ start, end }` (inclusive) selects from `data`.
fn node_range(data: &[u8], start: Option<u64>, end: Option<u64>) -> &[u8] {
    let from = (start.unwrap_or(0) as usize).min(data.len());
    let to = end.map_or(data.len(), |e| (e as usize + 1).min(data.len()));
    &data[from..to.max(from)]
}

#[test]
fn callbacks_round_trip() {
    let dir = TempDir::new("callbacks");
    let path = dir.path("a.txt");
    let log: Log = Rc::default();
    {
        let log = log.clone();
        let path = path.clone();
        fs::write_file(path.clone(), "hello, world", move |r| {
            r.unwrap();
            log.borrow_mut().push("written".into());
            let log2 = log.clone();
            let reread = path.clone();
            // The write below must not race this read on the pool (two
            // jobs run in parallel, as in Node): it starts from here.
            fs::read_file(&path, move |r| {
                assert_eq!(r.unwrap(), b"hello, world");
                log2.borrow_mut().push("read".into());
                let log = log2.clone();
                let path = reread;
                let log4 = log.clone();
                fs::open(&path, "r+", move |fd| {
                    let fd = fd.unwrap();
                    let log = log4.clone();
                    fs::write(fd, "WORLD", Some(7), move |n| {
                        assert_eq!(n.unwrap(), 5);
                        let log = log.clone();
                        fs::read(fd, 100, Some(0), move |bytes| {
                            assert_eq!(bytes.unwrap(), b"hello, WORLD");
                            let log = log.clone();
                            // Sequential reads go from the file's position.
                            fs::read(fd, 5, None, move |bytes| {
                                assert_eq!(bytes.unwrap(), b"hello");
                                let log = log.clone();
                                fs::read(fd, 100, Some(12), move |bytes| {
                                    assert!(bytes.unwrap().is_empty(), "at the end");
                                    let log = log.clone();
                                    fs::close(fd, move |r| {
                                        r.unwrap();
                                        assert_eq!(fd.raw(), None);
                                        log.borrow_mut().push("closed".into());
                                        let log = log.clone();
                                        fs::close(fd, move |r| {
                                            let e = r.unwrap_err();
                                            assert_eq!(e.code(), "EBADF");
                                            assert_eq!(
                                                e.message(),
                                                "EBADF: bad file descriptor, close"
                                            );
                                            assert_eq!(e.syscall_name(), Some("close"));
                                            assert_eq!(e.path(), None);
                                            log.borrow_mut().push("closed twice".into());
                                        });
                                    });
                                });
                            });
                        });
                    });
                });
            });
            let log3 = log.clone();
            fs::stat(&path, move |s| {
                let s = s.unwrap();
                assert_eq!(s.size, 12);
                assert!(s.is_file() && !s.is_directory() && !s.is_symbolic_link());
                assert_eq!(s.mode & 0o170000, 0o100000);
                assert!(s.nlink >= 1 && s.ino != 0);
                assert!(s.mtime > std::time::UNIX_EPOCH);
                log3.borrow_mut().push("stat".into());
            });
        });
    }
    nodelike::run();
    let mut seen = log.take();
    seen.sort();
    assert_eq!(seen, ["closed", "closed twice", "read", "stat", "written"]);
    assert_eq!(std::fs::read(&path).unwrap(), b"hello, WORLD");

    // Appending, and lstat of a link.
    let appended = Rc::new(Cell::new(false));
    {
        let (appended, path) = (appended.clone(), path.clone());
        fs::open(&path, "a", move |fd| {
            let fd = fd.unwrap();
            fs::write(fd, "!", None, move |n| {
                assert_eq!(n.unwrap(), 1);
                fs::close(fd, move |r| {
                    r.unwrap();
                    appended.set(true);
                });
            });
        });
    }
    let link = dir.path("link");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    let linked = Rc::new(Cell::new(0));
    {
        let linked = linked.clone();
        fs::lstat(&link, move |s| {
            assert!(s.unwrap().is_symbolic_link());
            linked.set(linked.get() + 1);
        });
    }
    {
        let linked = linked.clone();
        fs::stat(&link, move |s| {
            assert!(s.unwrap().is_file(), "stat follows the link");
            linked.set(linked.get() + 1);
        });
    }
    nodelike::run();
    assert!(appended.get());
    assert_eq!(linked.get(), 2);
    assert_eq!(std::fs::read(&path).unwrap(), b"hello, WORLD!");
}

/// Runs one callback call to its end and returns its error.
fn failure<T: std::fmt::Debug + 'static>(
    call: impl FnOnce(Box<dyn FnOnce(Result<T, Error>)>),
) -> Error {
    let got = Rc::new(RefCell::new(None));
    {
        let got = got.clone();
        call(Box::new(move |r| *got.borrow_mut() = Some(r.unwrap_err())));
    }
    nodelike::run();
    let e = got.borrow_mut().take().expect("the callback ran");
    e
}

#[test]
fn errors_carry_nodes_codes_messages_and_paths() {
    let dir = TempDir::new("errors");
    let missing = dir.path("no-such");
    let shown = missing.to_str().unwrap().to_owned();

    let e = failure(|cb| fs::read_file(&missing, cb));
    assert_eq!(e.code(), "ENOENT");
    assert_eq!(
        e.message(),
        format!("ENOENT: no such file or directory, open '{shown}'")
    );
    assert_eq!(e.to_string(), e.message(), "the message names its code");
    assert_eq!(e.path(), Some(shown.as_str()));
    assert_eq!(e.syscall_name(), Some("open"));
    let io = std::error::Error::source(&e)
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .expect("the OS error is the source");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
    // Errors stay comparable and cloneable.
    assert_eq!(e.clone(), e);

    let e = failure(|cb| fs::stat(&missing, cb));
    assert_eq!(
        e.message(),
        format!("ENOENT: no such file or directory, stat '{shown}'")
    );

    // A directory opens, and its read fails: Node names no path then.
    let e = failure(|cb| fs::read_file(&dir.0, cb));
    assert_eq!(e.code(), "EISDIR");
    assert_eq!(
        e.message(),
        "EISDIR: illegal operation on a directory, read"
    );
    assert_eq!(e.path(), None);
    assert_eq!(e.syscall_name(), Some("read"));

    let dir_shown = dir.0.to_str().unwrap().to_owned();
    let e = failure(|cb| fs::write_file(&dir.0, "x", cb));
    assert_eq!(
        e.message(),
        format!("EISDIR: illegal operation on a directory, open '{dir_shown}'")
    );

    let (file, _) = dir.file_of("plain", 3);
    let under_file = file.join("x");
    let e = failure(|cb| fs::stat(&under_file, cb));
    assert_eq!(e.code(), "ENOTDIR");
    assert_eq!(
        e.message(),
        format!("ENOTDIR: not a directory, stat '{}'", under_file.display())
    );

    let e = failure(|cb| fs::open(&file, "wx", cb));
    assert_eq!(e.code(), "EEXIST");
    assert_eq!(
        e.message(),
        format!("EEXIST: file already exists, open '{}'", file.display())
    );

    let e = failure(|cb| fs::open(&file, "rw", cb));
    assert_eq!(e.code(), "ERR_INVALID_ARG_VALUE");
    assert_eq!(
        e.message(),
        "The argument 'flags' is invalid. Received 'rw'"
    );

    // EACCES: a file nobody may read. Root reads it anyway; then there is
    // nothing to check.
    let locked = dir.path("locked");
    std::fs::write(&locked, "secret").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read(&locked).is_ok() {
        println!("note: running as root (a mode-000 file is readable); EACCES not checked");
    } else {
        let e = failure(|cb| fs::read_file(&locked, cb));
        assert_eq!(e.code(), "EACCES");
        assert_eq!(
            e.message(),
            format!("EACCES: permission denied, open '{}'", locked.display())
        );
    }
}

#[test]
fn read_streams_deliver_nodes_ranges_in_order() {
    let dir = TempDir::new("ranges");
    let (path, data) = dir.file_of("data.bin", 200_000);
    let ranges: [(Option<u64>, Option<u64>); 7] = [
        (None, None),
        (Some(0), Some(0)),
        (Some(10), Some(99)),
        (Some(65_530), Some(131_080)),
        (Some(199_990), Some(1_000_000)), // end past the end of the file
        (None, Some(12_345)),
        (Some(150_000), None),
    ];
    for high_water_mark in [7, 64 * 1024] {
        for (start, end) in ranges {
            let got = read_through(
                &path,
                ReadStreamOptions {
                    start,
                    end,
                    high_water_mark,
                },
            );
            let want = node_range(&data, start, end);
            assert_eq!(
                got.bytes.len(),
                want.len(),
                "hwm {high_water_mark} {start:?}..={end:?}"
            );
            assert!(
                got.bytes == want,
                "hwm {high_water_mark} {start:?}..={end:?}"
            );
            assert_eq!(got.events, ["open", "ready", "data", "end", "close"]);
            assert!(got.chunks.iter().all(|&n| n <= high_water_mark && n > 0));
            assert_eq!(got.bytes_read, want.len() as u64);
        }
    }
    // One byte at a time, over a smaller file.
    let (small, small_data) = dir.file_of("small.bin", 3000);
    let small_ranges: [(Option<u64>, Option<u64>); 6] = [
        (None, None),
        (Some(0), Some(0)),
        (Some(5), Some(2500)),
        (Some(2990), Some(10_000)), // end past the end of the file
        (None, Some(99)),
        (Some(2000), None),
    ];
    for (start, end) in small_ranges {
        let got = read_through(
            &small,
            ReadStreamOptions {
                start,
                end,
                high_water_mark: 1,
            },
        );
        let want = node_range(&small_data, start, end);
        assert!(got.bytes == want, "hwm 1 {start:?}..={end:?}");
        assert_eq!(got.chunks.len(), want.len());
        assert_eq!(got.events, ["open", "ready", "data", "end", "close"]);
    }

    // A start past the end: no data, just `end`.
    let got = read_through(
        &path,
        ReadStreamOptions {
            start: Some(500_000),
            ..Default::default()
        },
    );
    assert!(got.bytes.is_empty());
    assert_eq!(got.events, ["open", "ready", "end", "close"]);

    // An empty file.
    let (empty, _) = dir.file_of("empty", 0);
    let got = read_through(&empty, ReadStreamOptions::default());
    assert_eq!(got.events, ["open", "ready", "end", "close"]);
}

#[test]
fn read_stream_failures_are_error_then_close() {
    let dir = TempDir::new("read-errors");
    let missing = dir.path("missing");
    let got = read_through(&missing, ReadStreamOptions::default());
    assert_eq!(got.events, ["error ENOENT", "close"]);

    // A directory opens, then its first read fails.
    let got = read_through(&dir.0, ReadStreamOptions::default());
    assert_eq!(got.events, ["open", "ready", "error EISDIR", "close"]);

    // The error itself, as Node words it.
    let rs = fs::create_read_stream(&missing, ReadStreamOptions::default());
    let seen = Rc::new(RefCell::new(None));
    {
        let seen = seen.clone();
        rs.on_error(move |e| *seen.borrow_mut() = Some(e.clone()));
    }
    rs.resume();
    nodelike::run();
    let e = seen.take().unwrap();
    assert_eq!(
        e.message(),
        format!(
            "ENOENT: no such file or directory, open '{}'",
            missing.display()
        )
    );
    assert_eq!(e.path(), missing.to_str());
}

#[test]
fn a_paused_read_stream_issues_no_read() {
    let dir = TempDir::new("paused");
    let (path, data) = dir.file_of("data.bin", 10_000);
    let rs = fs::create_read_stream(
        &path,
        ReadStreamOptions {
            high_water_mark: 1000,
            ..Default::default()
        },
    );
    let got = Rc::new(RefCell::new(Vec::new()));
    let checked = Rc::new(Cell::new(false));
    {
        let (got, checked) = (got.clone(), checked.clone());
        rs.on_data(move |chunk| {
            got.borrow_mut().extend_from_slice(&chunk);
            if got.borrow().len() == 3000 {
                rs.pause();
                assert!(rs.is_paused());
                let checked = checked.clone();
                // Several turns later, still the bytes of three reads.
                nodelike::set_timeout(
                    move || {
                        assert_eq!(rs.bytes_read(), 3000);
                        checked.set(true);
                        rs.resume();
                    },
                    20,
                );
            }
        });
    }
    nodelike::run();
    assert!(checked.get());
    assert!(*got.borrow() == data);
}

#[test]
fn destroying_a_read_stream_stops_it_and_closes() {
    let dir = TempDir::new("destroy");
    let (path, _) = dir.file_of("data.bin", 1 << 20);
    let rs = fs::create_read_stream(
        &path,
        ReadStreamOptions {
            high_water_mark: 1024,
            ..Default::default()
        },
    );
    let events: Log = Rc::default();
    {
        let events = events.clone();
        rs.on_data(move |_| {
            events.borrow_mut().push("data".into());
            rs.destroy(None);
            assert!(rs.destroyed());
        });
    }
    {
        let events = events.clone();
        rs.on_end(move || events.borrow_mut().push("end".into()));
    }
    {
        let events = events.clone();
        rs.on_error(move |e| events.borrow_mut().push(format!("error {e}")));
    }
    {
        let events = events.clone();
        rs.on_close(move || events.borrow_mut().push("close".into()));
    }
    nodelike::run();
    assert_eq!(*events.borrow(), ["data", "close"]);

    // With an error: `error`, then `close`.
    let rs = fs::create_read_stream(&path, ReadStreamOptions::default());
    let events: Log = Rc::default();
    {
        let events = events.clone();
        rs.on_error(move |e| events.borrow_mut().push(format!("error {}", e.code())));
    }
    {
        let events = events.clone();
        rs.on_close(move || events.borrow_mut().push("close".into()));
    }
    rs.destroy(Some(Error::new(nodelike::ErrorKind::Aborted, "stop")));
    rs.destroy(None); // a second destroy changes nothing
    nodelike::run();
    assert_eq!(*events.borrow(), ["error ABORT_ERR", "close"]);
}

#[test]
fn piping_a_read_stream_into_a_write_stream_copies_exactly() {
    let dir = TempDir::new("pipe");
    let (src, data) = dir.file_of("src.bin", 5 << 20);
    let dst = dir.path("dst.bin");
    let rs = fs::create_read_stream(&src, ReadStreamOptions::default());
    let ws = fs::create_write_stream(&dst, WriteStreamOptions::default());
    let events: Log = Rc::default();
    {
        let events = events.clone();
        ws.on_finish(move || {
            assert!(ws.writable_finished());
            assert_eq!(ws.writable_length(), 0);
            assert_eq!(ws.bytes_written(), 5 << 20);
            events.borrow_mut().push("finish".into());
        });
    }
    {
        let events = events.clone();
        ws.on_close(move || events.borrow_mut().push("close".into()));
    }
    let last = rs.pipe(ws);
    assert_eq!(last, ws);
    nodelike::run();
    assert_eq!(*events.borrow(), ["finish", "close"]);
    assert!(std::fs::read(&dst).unwrap() == data);

    // The same through `pipeline`, with a small high-water mark on both
    // sides (so the writer pushes back all the time).
    let dst2 = dir.path("dst2.bin");
    let rs = fs::create_read_stream(
        &src,
        ReadStreamOptions {
            high_water_mark: 4096,
            ..Default::default()
        },
    );
    let ws = fs::create_write_stream(
        &dst2,
        WriteStreamOptions {
            high_water_mark: 1024,
            ..Default::default()
        },
    );
    let done = Rc::new(RefCell::new(Vec::new()));
    {
        let done = done.clone();
        stream::pipeline((rs, ws), move |err| done.borrow_mut().push(err));
    }
    nodelike::run();
    assert_eq!(*done.borrow(), [None]);
    assert!(std::fs::read(&dst2).unwrap() == data);
}

#[test]
fn pipeline_reports_a_missing_source_once() {
    let dir = TempDir::new("pipeline");
    let missing = dir.path("missing");
    let dst = dir.path("dst");
    let rs = fs::create_read_stream(&missing, ReadStreamOptions::default());
    let ws = fs::create_write_stream(&dst, WriteStreamOptions::default());
    let calls = Rc::new(RefCell::new(Vec::new()));
    {
        let calls = calls.clone();
        stream::pipeline((rs, ws), move |err| {
            calls.borrow_mut().push(err.map(|e| e.code().to_owned()))
        });
    }
    let closed = Rc::new(Cell::new(0));
    {
        let closed = closed.clone();
        rs.on_close(move || closed.set(closed.get() + 1));
    }
    {
        let closed = closed.clone();
        ws.on_close(move || closed.set(closed.get() + 1));
    }
    nodelike::run();
    assert_eq!(*calls.borrow(), [Some("ENOENT".to_owned())]);
    assert_eq!(closed.get(), 2, "both streams closed");
    assert!(ws.destroyed());
}

#[test]
fn write_streams_push_back_and_finish_in_order() {
    let dir = TempDir::new("write");
    let path = dir.path("out.bin");
    let ws = fs::create_write_stream(&path, WriteStreamOptions::default());
    assert_eq!(ws.writable_high_water_mark(), 16 * 1024);
    let events: Log = Rc::default();
    let expected: Vec<u8> = (0..40_000u32).map(|i| (i % 253) as u8).collect();
    // Written before the file is even open: queued.
    assert!(ws.write(&expected[..10_000]));
    assert_eq!(ws.writable_length(), 10_000);
    assert!(
        !ws.write(&expected[10_000..20_000]),
        "20 000 bytes ≥ 16 KiB"
    );
    assert_eq!(ws.writable_length(), 20_000);
    {
        let (events, expected) = (events.clone(), expected.clone());
        ws.on_drain(move || {
            events.borrow_mut().push("drain".into());
            assert_eq!(ws.writable_length(), 0);
            assert_eq!(ws.bytes_written(), 20_000);
            ws.cork();
            ws.write(&expected[20_000..30_000]);
            ws.write(&expected[30_000..39_999]);
            ws.uncork();
            ws.end(&expected[39_999..]);
            assert!(ws.writable_ended());
            assert!(!ws.writable_finished());
        });
    }
    for (name, which) in [("open", 0), ("ready", 1), ("finish", 2), ("close", 3)] {
        let events = events.clone();
        let push = move || events.borrow_mut().push(name.to_owned());
        match which {
            0 => ws.on_open(move |_| push()),
            1 => ws.on_ready(push),
            2 => ws.on_finish(push),
            _ => ws.on_close(push),
        }
    }
    {
        let events = events.clone();
        ws.on_error(move |e| events.borrow_mut().push(format!("error {e}")));
    }
    nodelike::run();
    assert_eq!(
        *events.borrow(),
        ["open", "ready", "drain", "finish", "close"]
    );
    assert!(std::fs::read(&path).unwrap() == expected);

    // Writing after `end` fails the stream as Node's does.
    let ws = fs::create_write_stream(dir.path("late.txt"), WriteStreamOptions::default());
    let errors: Log = Rc::default();
    {
        let errors = errors.clone();
        ws.on_error(move |e| errors.borrow_mut().push(e.code().to_owned()));
    }
    ws.end("x");
    assert!(!ws.write("y"));
    nodelike::run();
    assert_eq!(*errors.borrow(), ["ERR_STREAM_WRITE_AFTER_END"]);

    // `start` with "r+" writes into the middle of an existing file.
    let (mid, mut data) = dir.file_of("mid.bin", 100);
    let ws = fs::create_write_stream(
        &mid,
        WriteStreamOptions {
            flags: "r+",
            start: Some(40),
            ..Default::default()
        },
    );
    ws.write("abc");
    ws.end("def");
    nodelike::run();
    data[40..46].copy_from_slice(b"abcdef");
    assert!(std::fs::read(&mid).unwrap() == data);

    // A folder that does not exist: `error` then `close`.
    let ws = fs::create_write_stream(dir.path("no/such/file"), WriteStreamOptions::default());
    let events: Log = Rc::default();
    {
        let events = events.clone();
        ws.on_error(move |e| events.borrow_mut().push(e.code().to_owned()));
    }
    {
        let events = events.clone();
        ws.on_close(move || events.borrow_mut().push("close".into()));
    }
    ws.write("lost");
    nodelike::run();
    assert_eq!(*events.borrow(), ["ENOENT", "close"]);
}

#[test]
fn a_read_stream_piped_into_an_http_response_reaches_curl() {
    let dir = TempDir::new("http");
    let (path, data) = dir.file_of("body.bin", 3 << 20);
    let served = Rc::new(Cell::new(false));
    let server = {
        let served = served.clone();
        http::create_server(move |_req, res| {
            let rs = fs::create_read_stream(&path, ReadStreamOptions::default());
            // Node's `fs.createReadStream(path).pipe(res)`.
            rs.pipe(res);
            rs.on_error(move |e| panic!("read failed: {e}"));
            let served = served.clone();
            res.on_finish(move || served.set(true));
        })
    };
    let curl = Rc::new(RefCell::new(None));
    {
        let curl = curl.clone();
        server.listen(0, "127.0.0.1", move || {
            let port = server.address().unwrap().port();
            let remote = nodelike::remote();
            *curl.borrow_mut() = Some(std::thread::spawn(move || {
                let out = Command::new("curl")
                    .args(["-s", "--max-time", "60"])
                    .arg(format!("http://127.0.0.1:{port}/"))
                    .output()
                    .expect("curl runs");
                // Tell the loop curl is done, so the server can close.
                remote.post(|| {});
                out
            }));
        });
    }
    // The server closes once its one response went out.
    {
        let served = served.clone();
        let check = Rc::new(Cell::new(None));
        let check2 = check.clone();
        check.set(Some(nodelike::set_interval(
            move || {
                if served.get() {
                    server.close();
                    if let Some(t) = check2.get() {
                        nodelike::clear_interval(t);
                    }
                }
            },
            5,
        )));
    }
    nodelike::run();
    let out = curl.borrow_mut().take().unwrap().join().unwrap();
    assert!(out.status.success(), "curl failed: {out:?}");
    assert_eq!(out.stdout.len(), data.len());
    assert!(out.stdout == data);
}

#[test]
fn ranges_match_nodes_create_read_stream() {
    let dir = TempDir::new("node");
    let (path, _) = dir.file_of("data.bin", 100_000);
    for (start, end) in [
        (0u64, 0u64),
        (17, 70_000),
        (99_990, 200_000),
        (65_536, 65_536),
    ] {
        let script = format!(
            "const fs = require('fs'); const parts = [];\
             fs.createReadStream(process.argv[1], {{ start: {start}, end: {end} }})\
               .on('data', c => parts.push(c))\
               .on('end', () => process.stdout.write(Buffer.concat(parts)));"
        );
        let node = Command::new("node")
            .args(["-e", &script, path.to_str().unwrap()])
            .output()
            .expect("node runs");
        assert!(node.status.success(), "node failed: {node:?}");
        let ours = read_through(
            &path,
            ReadStreamOptions {
                start: Some(start),
                end: Some(end),
                ..Default::default()
            },
        );
        assert_eq!(ours.bytes.len(), node.stdout.len(), "{start}..={end}");
        assert!(ours.bytes == node.stdout, "{start}..={end}");
    }
}

/// A stream's events, as `name` or `error CODE`, until its `close`.
fn events_of<S: Stream>(s: S) -> Log {
    let events: Log = Rc::default();
    {
        let events = events.clone();
        s.on_error(move |e| events.borrow_mut().push(format!("error {}", e.code())));
    }
    {
        let events = events.clone();
        s.on_close(move || events.borrow_mut().push("close".into()));
    }
    events
}

#[test]
fn a_failed_write_destroys_the_write_stream() {
    // /dev/full refuses every write with ENOSPC.
    if !Path::new("/dev/full").exists() {
        println!("note: no /dev/full here; ENOSPC not checked");
        return;
    }
    let ws = fs::create_write_stream("/dev/full", WriteStreamOptions::default());
    let events = events_of(ws);
    let message = Rc::new(RefCell::new(String::new()));
    {
        let message = message.clone();
        ws.on_error(move |e| *message.borrow_mut() = e.message().to_owned());
    }
    {
        let events = events.clone();
        ws.on_finish(move || events.borrow_mut().push("finish".into()));
    }
    ws.write("no room");
    ws.end(());
    nodelike::run();
    assert_eq!(*events.borrow(), ["error ENOSPC", "close"]);
    assert_eq!(*message.borrow(), "ENOSPC: no space left on device, write");
    assert!(ws.destroyed());
}

#[test]
fn a_file_closed_under_a_read_stream_fails_it_with_ebadf() {
    let dir = TempDir::new("ebadf");
    let (path, _) = dir.file_of("data.bin", 1000);
    let rs = fs::create_read_stream(&path, ReadStreamOptions::default());
    let events = events_of(rs);
    rs.on_open(|fd| fs::close(fd, |r| r.unwrap()));
    rs.on_data(|_| panic!("no data from a closed file"));
    nodelike::run();
    assert_eq!(*events.borrow(), ["error EBADF", "close"]);
}
