//! `ServerResponse::send_file`: a file as the response, as Express's
//! `res.sendFile` and the `send` module serve one.
//!
//! The file is found and opened on the worker pool (a `stat` or `open` on
//! a slow disk must not stall the loop). Back on the loop the request's
//! validators and range are weighed against the file (RFC 9110 §13 and
//! §14): 412 when If-Match or If-Unmodified-Since fails, 304 when the
//! client's copy is current, 206 for one satisfiable range, 416 for an
//! unsatisfiable one, else 200 with the whole file. The
//! head is written as any response's is; the body is handed to `net` as a
//! file (`net::send_file`), which sends it with `sendfile(2)` on TCP and
//! unix sockets and in pieces read on the pool otherwise (TLS). A response
//! queued behind another on a pipelined connection keeps its file with
//! its held head until its turn.
//!
//! What the pure parts decide (ranges, validators, dates, types) is in
//! plain functions below, unit-tested on their own.

use std::cell::RefCell;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::UNIX_EPOCH;

use super::exchange::{ExId, Exchange, Wire};
use super::response::{send, ServerResponse};
use super::{with_state, ServerState};
use crate::http::compression::would_compress;
use crate::http::h1::encode::format_imf_fixdate;
use crate::http::Framing;
use crate::{fs, net, stream};
use crate::{Error, ErrorKind};

/// How [`ServerResponse::send_file`] serves a file (a subset of Express's
/// `res.sendFile` options).
///
/// ```
/// use nodelike::http::SendFileOptions;
/// let options = SendFileOptions {
///     root: Some("/srv/www".into()),
///     index: Some("index.html".into()),
///     ..SendFileOptions::default()
/// };
/// assert!(options.etag && options.last_modified);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendFileOptions {
    /// The directory the path is relative to (Express's `root`). With a
    /// root, the path must be relative and free of `..` segments, and the
    /// file it resolves to, symbolic links followed, must lie inside the
    /// root: anything else is refused with 403 (`EACCES`), so a link inside
    /// the root cannot serve a file outside it. `None` (the default): the
    /// path is used as given.
    pub root: Option<PathBuf>,
    /// For a path that names a directory: the file inside it to serve
    /// (`index.html`, say). `None` (the default): a directory is an
    /// `EISDIR` error, which the caller answers (or 403 without a
    /// callback).
    pub index: Option<String>,
    /// Send a weak `ETag` (`W/"<size hex>-<mtime ms hex>"`, as `send`
    /// makes it) and honour `If-None-Match` (default `true`).
    pub etag: bool,
    /// Send `Last-Modified` and honour `If-Modified-Since` (default
    /// `true`).
    pub last_modified: bool,
    /// Compress the whole-file answers a client accepts compressed (br,
    /// gzip or deflate, by `Accept-Encoding`), as nginx's `gzip on`: a
    /// compressible type at or over the threshold is read on the worker
    /// pool and streamed through `http::compression` (no `sendfile(2)`,
    /// no `Content-Length`, no range: a `Range` is answered with the whole
    /// file). `None` (the default): never compressed.
    pub compression: Option<crate::http::CompressionOptions>,
}

impl Default for SendFileOptions {
    fn default() -> Self {
        SendFileOptions {
            root: None,
            index: None,
            etag: true,
            last_modified: true,
            compression: None,
        }
    }
}

/// Who hears how a `send_file` went.
enum Report {
    /// `send_file`: errors before the head are answered with their status
    /// (404, 403, 405, 500); nobody is told of the rest.
    Answer,
    /// `send_file_with`: the callback is told once: `Ok` when the response
    /// finished, `Err` when it could not start (nothing was sent; the
    /// caller answers) or was cut short.
    Callback(Box<dyn FnOnce(Result<(), Error>)>),
}

/// A file found and opened on the pool.
struct Opened {
    file: File,
    path: PathBuf,
    size: u64,
    /// Milliseconds since the epoch.
    mtime_ms: u64,
}

impl ServerResponse {
    /// Sends the file at `path` as the response (Express's `res.sendFile`
    /// without a callback): `Content-Type` from the extension,
    /// `Content-Length`, `Last-Modified`, a weak `ETag` and
    /// `Accept-Ranges: bytes`, each unless you set it yourself; 412 when
    /// `If-Match` or `If-Unmodified-Since` fails; 304 for a current
    /// `If-None-Match` or `If-Modified-Since`; 206 for one
    /// satisfiable `Range` (416 for an unsatisfiable one; several ranges,
    /// or a malformed one, get the whole file). HEAD gets the head only.
    /// Only GET and HEAD are served (405 otherwise).
    ///
    /// The file is opened on the worker pool; the body leaves with
    /// `sendfile(2)` over TCP and unix sockets (no copy through the
    /// process), in 64 KiB pieces read on the pool over TLS. A missing
    /// file is answered 404, a directory 403 (unless
    /// [`SendFileOptions::index`] names a file in it), another failure
    /// 500; use [`send_file_with`](Self::send_file_with) to answer those
    /// yourself. A file that shrinks while it is sent ends the response
    /// cut short (the connection is destroyed): the client sees a
    /// truncated body.
    ///
    /// The path is used as given: a server mapping URLs to files must
    /// keep them inside its root itself (see `examples/file_server.rs`).
    ///
    /// ```no_run
    /// use nodelike::http::{self, SendFileOptions};
    /// http::create_server(|_req, res| {
    ///     res.set_header("Cache-Control", "max-age=60");
    ///     res.send_file("/srv/www/index.html", SendFileOptions::default());
    /// })
    /// .listen(8000, "127.0.0.1", || {});
    /// nodelike::run();
    /// ```
    #[doc(alias = "sendFile")]
    pub fn send_file(&self, path: impl AsRef<Path>, options: SendFileOptions) {
        start(*self, path.as_ref().to_path_buf(), options, Report::Answer);
    }

    /// [`send_file`](Self::send_file) with a callback, as Express's
    /// `res.sendFile(path, options, fn)`: called once, with `Ok(())` when
    /// the response finished, or an [`Error`] when the file could not be
    /// served. If the head has not been sent
    /// ([`headers_sent`](Self::headers_sent) is `false`) nothing was
    /// written and the answer is yours: [`Error::status`] says what
    /// `send_file` would have sent (404 for `ENOENT`, 403 for `EISDIR`, 405
    /// for a method other than GET and HEAD, 500 otherwise). If it has,
    /// the response was cut short (the client went away, or the file
    /// shrank) and its connection is gone.
    ///
    /// ```no_run
    /// use nodelike::http::{self, SendFileOptions};
    /// http::create_server(|_req, res| {
    ///     res.send_file_with("/srv/www/missing.html", SendFileOptions::default(), move |result| {
    ///         if let Err(e) = result {
    ///             if !res.headers_sent() {
    ///                 res.set_status_code(e.status().unwrap_or(500));
    ///                 res.end(format!("no luck: {}\n", e.code()));
    ///             }
    ///         }
    ///     });
    /// })
    /// .listen(8000, "127.0.0.1", || {});
    /// nodelike::run();
    /// ```
    #[doc(alias = "sendFile")]
    pub fn send_file_with(
        &self,
        path: impl AsRef<Path>,
        options: SendFileOptions,
        callback: impl FnOnce(Result<(), Error>) + 'static,
    ) {
        start(
            *self,
            path.as_ref().to_path_buf(),
            options,
            Report::Callback(Box::new(callback)),
        );
    }
}

/// Checks the method, then finds and opens the file on the pool.
fn start(res: ServerResponse, path: PathBuf, options: SendFileOptions, report: Report) {
    let method = with_state(|st| {
        st.exchanges.get(res.ex).map(|e| {
            if e.is_head_request() {
                Method::Head
            } else if e.method() == b"GET" {
                Method::Get
            } else {
                Method::Other
            }
        })
    })
    .flatten();
    match method {
        None => return, // a stale handle: the response is gone
        Some(Method::Other) => {
            res.set_header("Allow", "GET, HEAD");
            fail(
                res,
                report,
                Error::with_status(ErrorKind::Io, 405, "Method Not Allowed").with_code("EMETHOD"),
            );
            return;
        }
        Some(_) => {}
    }
    let key = OpenKey {
        root: options.root.clone(),
        path,
        index: options.index.clone(),
    };
    // A file opened less than a second ago is served from the loop's
    // cache of open files (nginx's `open_file_cache`): no trip to the pool.
    if let Some(opened) = open_files::lookup(&key) {
        respond(res, opened, &options, report);
        return;
    }
    let asked = key.clone();
    crate::runtime::pool::queue_work(
        move || open_file(key.root.as_deref(), key.path, key.index.as_deref()),
        move |opened| match opened {
            Ok(opened) => {
                open_files::remember(asked, &opened);
                respond(res, opened, &options, report)
            }
            Err(e) => fail(res, report, e),
        },
    );
}

/// What a file was asked by: the same three give the same file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct OpenKey {
    root: Option<PathBuf>,
    path: PathBuf,
    index: Option<String>,
}

/// The loop's cache of files recently opened for `send_file` (nginx's
/// `open_file_cache`, with `open_file_cache_valid 1s`): the descriptor,
/// with the size and time it had, reused for one second, then opened
/// (and checked against its root) again on the pool. So a small file
/// served over and over costs no thread hop per request; a file changed
/// or deleted is seen within a second (as nginx sees it within its
/// validity). Errors are not cached.
mod open_files {
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::time::{Duration, Instant};

    use super::{OpenKey, Opened};

    /// How long an opened file is reused without looking at the disk.
    const VALID: Duration = Duration::from_secs(1);
    /// Entries kept at most (the cache is cleared when it is full).
    const MOST: usize = 256;

    struct Entry {
        opened: Opened,
        at: Instant,
    }

    thread_local! {
        static CACHE: RefCell<HashMap<OpenKey, Entry>> = RefCell::new(HashMap::new());
    }

    /// A copy of a fresh entry (its own descriptor, `dup`'d), if any.
    pub(super) fn lookup(key: &OpenKey) -> Option<Opened> {
        let now = crate::runtime::now();
        CACHE
            .try_with(|cache| {
                let mut cache = cache.borrow_mut();
                let entry = cache.get(key)?;
                if now.saturating_duration_since(entry.at) >= VALID {
                    cache.remove(key);
                    return None;
                }
                let file = entry.opened.file.try_clone().ok()?;
                Some(Opened {
                    file,
                    path: entry.opened.path.clone(),
                    size: entry.opened.size,
                    mtime_ms: entry.opened.mtime_ms,
                })
            })
            .ok()
            .flatten()
    }

    /// Keeps a copy of a file just opened on the pool.
    pub(super) fn remember(key: OpenKey, opened: &Opened) {
        let Ok(file) = opened.file.try_clone() else {
            return;
        };
        let entry = Entry {
            opened: Opened {
                file,
                path: opened.path.clone(),
                size: opened.size,
                mtime_ms: opened.mtime_ms,
            },
            at: crate::runtime::now(),
        };
        let _ = CACHE.try_with(|cache| {
            let mut cache = cache.borrow_mut();
            if cache.len() >= MOST && !cache.contains_key(&key) {
                cache.clear();
            }
            cache.insert(key, entry);
        });
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Get,
    Head,
    Other,
}

/// On the pool: the file (or a directory's index), opened, with its size
/// and modification time as the opened descriptor sees them.
fn open_file(root: Option<&Path>, path: PathBuf, index: Option<&str>) -> Result<Opened, Error> {
    let stat_error = |e: io::Error, path: &Path| -> Error {
        let (status, code) = match e.kind() {
            io::ErrorKind::NotFound => (404, "ENOENT"),
            io::ErrorKind::PermissionDenied => (403, "EACCES"),
            _ if e.raw_os_error() == Some(rustix::io::Errno::NOTDIR.raw_os_error()) => {
                (404, "ENOTDIR")
            }
            _ if e.raw_os_error() == Some(rustix::io::Errno::NAMETOOLONG.raw_os_error()) => {
                (404, "ENAMETOOLONG")
            }
            _ => (500, "EIO"),
        };
        Error::with_status(
            ErrorKind::Io,
            status,
            format!("{code}: {e}, stat '{}'", path.display()),
        )
        .with_code(code)
        .with_source(e)
    };
    // With a root, the file is opened under the root's resolved path and
    // then asked where it really is (`/proc/self/fd`): what was opened is
    // what is checked, so a link swapped in between cannot slip past.
    let root = match root {
        Some(root) => {
            use std::path::Component;
            if !path
                .components()
                .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
            {
                return Err(outside_root(&path));
            }
            Some(canonical_root(root).map_err(|e| stat_error(e, root))?)
        }
        None => None,
    };
    let open = |asked: &Path| -> Result<(File, std::fs::Metadata), Error> {
        let full = match &root {
            Some(root) => root.join(asked),
            None => asked.to_path_buf(),
        };
        // Non-blocking: opening a FIFO must not hold the worker (its stat
        // then refuses it); no controlling terminal from a device.
        use std::os::unix::fs::OpenOptionsExt;
        let flags = rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(flags.bits() as i32)
            .open(&full)
            .map_err(|e| stat_error(e, asked))?;
        if let Some(root) = &root {
            let real = real_path(&file, &full).map_err(|e| stat_error(e, asked))?;
            if !real.starts_with(root) {
                return Err(outside_root(asked));
            }
        }
        let meta = file.metadata().map_err(|e| stat_error(e, asked))?;
        Ok((file, meta))
    };
    let mut path = path;
    let (mut file, mut meta) = open(&path)?;
    if meta.is_dir() {
        match index {
            Some(name) => {
                path = path.join(name);
                (file, meta) = open(&path)?;
            }
            None => return Err(is_dir_error(&path)),
        }
    }
    if meta.is_dir() {
        return Err(is_dir_error(&path));
    }
    if !meta.is_file() {
        // A FIFO or a device has no length to announce.
        return Err(Error::with_status(
            ErrorKind::Io,
            403,
            format!("not a regular file, open '{}'", path.display()),
        )
        .with_code("EPERM"));
    }
    let mtime_ms = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as u64);
    Ok(Opened {
        file,
        path,
        size: meta.len(),
        mtime_ms,
    })
}

/// Where an opened file really is, every link resolved: the kernel's name
/// for the descriptor, or (without `/proc`) the path resolved again.
fn real_path(file: &File, opened_as: &Path) -> io::Result<PathBuf> {
    use std::os::fd::AsRawFd;
    std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))
        .or_else(|_| opened_as.canonicalize())
}

/// A root with its links resolved, remembered per root: the root is the
/// server's configuration, not the request's, so it is resolved once, not
/// per file (a root re-pointed later keeps serving where it pointed).
fn canonical_root(root: &Path) -> io::Result<PathBuf> {
    static ROOTS: std::sync::Mutex<Vec<(PathBuf, PathBuf)>> = std::sync::Mutex::new(Vec::new());
    let mut roots = ROOTS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, real)) = roots.iter().find(|(asked, _)| asked == root) {
        return Ok(real.clone());
    }
    let real = root.canonicalize()?;
    if roots.len() >= 64 {
        roots.clear(); // many roots: a cache, not a registry
    }
    roots.push((root.to_path_buf(), real.clone()));
    Ok(real)
}

fn outside_root(path: &Path) -> Error {
    Error::with_status(
        ErrorKind::Io,
        403,
        format!("EACCES: outside the root, open '{}'", path.display()),
    )
    .with_code("EACCES")
}

fn is_dir_error(path: &Path) -> Error {
    Error::with_status(
        ErrorKind::Io,
        403,
        format!(
            "EISDIR: illegal operation on a directory, read '{}'",
            path.display()
        ),
    )
    .with_code("EISDIR")
}

/// The file could not be served and nothing was sent: the callback
/// answers, or we do with the error's status.
fn fail(res: ServerResponse, report: Report, e: Error) {
    log::debug!("send_file: {e}");
    match report {
        Report::Callback(f) => f(Err(e)),
        Report::Answer => {
            if res.headers_sent() {
                res.destroy();
                return;
            }
            let status = e.status().unwrap_or(500);
            res.set_status_code(status);
            // The file's own headers do not describe this answer.
            for name in ["Content-Type", "ETag", "Last-Modified", "Content-Length"] {
                res.remove_header_if_set(name);
            }
            res.set_header("Content-Type", "text/plain; charset=utf-8");
            res.end(format!(
                "{}\n",
                crate::http::h1::encode::reason_phrase(status)
            ));
        }
    }
}

impl ServerResponse {
    fn remove_header_if_set(&self, name: &str) {
        if self.has_header(name) {
            self.remove_header(name);
        }
    }
}

/// What the request asks of the file, read from its head.
#[derive(Debug, Default)]
struct Ask {
    head: bool,
    if_match: Option<String>,
    if_unmodified_since: Option<String>,
    if_none_match: Option<String>,
    if_modified_since: Option<String>,
    range: Option<String>,
    if_range: Option<String>,
    accept_encoding: Option<String>,
}

fn ask(e: &Exchange) -> Ask {
    let mut ask = Ask {
        head: e.is_head_request(),
        ..Ask::default()
    };
    for (n, v) in &e.parsed.headers {
        let name = e.head.get(n.clone()).unwrap_or_default();
        let value = || String::from_utf8_lossy(e.head.get(v.clone()).unwrap_or_default());
        let slot = if name.eq_ignore_ascii_case(b"if-match") {
            &mut ask.if_match
        } else if name.eq_ignore_ascii_case(b"if-unmodified-since") {
            &mut ask.if_unmodified_since
        } else if name.eq_ignore_ascii_case(b"if-none-match") {
            &mut ask.if_none_match
        } else if name.eq_ignore_ascii_case(b"if-modified-since") {
            &mut ask.if_modified_since
        } else if name.eq_ignore_ascii_case(b"range") {
            &mut ask.range
        } else if name.eq_ignore_ascii_case(b"if-range") {
            &mut ask.if_range
        } else if name.eq_ignore_ascii_case(b"accept-encoding") {
            &mut ask.accept_encoding
        } else {
            continue;
        };
        // Repeated lines join as one list (RFC 9110 §5.3): an If-None-Match
        // split over lines stays a list; two Range lines make an invalid
        // range, which is ignored.
        match slot {
            Some(s) => {
                s.push_str(", ");
                s.push_str(&value());
            }
            None => *slot = Some(value().into_owned()),
        }
    }
    ask
}

/// The answer for an opened file: status, headers, and the body's part.
fn respond(res: ServerResponse, opened: Opened, options: &SendFileOptions, report: Report) {
    let Some(ask) = with_state(|st| st.exchanges.get(res.ex).map(ask)).flatten() else {
        return; // the response is gone (its client left): the file closes
    };
    if res.headers_sent() {
        let e = Error::new(
            ErrorKind::HeadersSent,
            "Cannot send a file after the headers are sent",
        );
        if let Report::Callback(f) = report {
            f(Err(e));
        }
        return;
    }
    let etag = etag(opened.size, opened.mtime_ms);
    let last_modified = http_date(opened.mtime_ms / 1000);
    if options.etag && !res.has_header("ETag") {
        res.set_header("ETag", etag.as_str());
    }
    if options.last_modified && !res.has_header("Last-Modified") {
        res.set_header("Last-Modified", last_modified.as_str());
    }
    // What the client's validators are compared with: the headers that go
    // out (the caller may have set their own).
    let sent_etag = res
        .get_header("ETag")
        .map(|v| v.as_str().to_owned())
        .filter(|_| options.etag);
    let modified_secs = options.last_modified.then_some(opened.mtime_ms / 1000);
    if precondition_fails(&ask, sent_etag.as_deref(), modified_secs) {
        res.remove_header_if_set("ETag");
        res.remove_header_if_set("Last-Modified");
        finish(res, opened, 412, Some((0, 0)), report);
        return;
    }
    if not_modified(&ask, sent_etag.as_deref(), modified_secs) {
        finish(res, opened, 304, None, report);
        return;
    }
    if !res.has_header("Content-Type") {
        res.set_header("Content-Type", content_type(&opened.path));
    }
    if let Some(compression) = &options.compression {
        let content_type = res
            .get_header("Content-Type")
            .map(|v| v.as_str().to_owned());
        if !ask.head
            && !res.has_header("Content-Encoding")
            && would_compress(
                ask.accept_encoding.as_deref(),
                content_type.as_deref(),
                opened.size,
                compression,
            )
        {
            compress(res, opened, *compression, report);
            return;
        }
    }
    if !res.has_header("Accept-Ranges") {
        res.set_header("Accept-Ranges", "bytes");
    }
    let ranged = match (&ask.range, ask.head) {
        // Range is defined for GET only (RFC 9110 §14.2).
        (Some(range), false)
            if if_range_holds(ask.if_range.as_deref(), sent_etag.as_deref(), modified_secs) =>
        {
            parse_range(range, opened.size)
        }
        _ => Ranged::Full,
    };
    match ranged {
        Ranged::Full => {
            let len = opened.size;
            finish(res, opened, 200, Some((0, len)), report);
        }
        Ranged::Partial { first, last } => {
            res.set_header(
                "Content-Range",
                format!("bytes {first}-{last}/{}", opened.size),
            );
            finish(res, opened, 206, Some((first, last - first + 1)), report);
        }
        Ranged::Unsatisfiable => {
            res.set_header("Content-Range", format!("bytes */{}", opened.size));
            res.remove_header_if_set("Content-Type");
            finish(res, opened, 416, Some((0, 0)), report);
        }
    }
}

/// The whole file, compressed: read on the worker pool through a read
/// stream over the file already opened (and checked against its root),
/// piped into `http::compression`, which negotiates the coding and sets
/// `Content-Encoding` and `Vary`. A read error destroys the response.
fn compress(
    res: ServerResponse,
    opened: Opened,
    options: crate::http::CompressionOptions,
    report: Report,
) {
    tell_when_done(res, report);
    let req = super::IncomingMessage::new(res.ex);
    let body = crate::http::compression(&req, res, options);
    // Positional reads from 0: the descriptor may be a copy of a cached
    // one, whose file position other copies share.
    let from_start = fs::ReadStreamOptions {
        start: Some(0),
        ..Default::default()
    };
    let file = fs::read_stream_from_file(opened.file, &opened.path, from_start);
    stream::pipeline((file, body), |err| {
        if let Some(e) = err {
            log::debug!("send_file: compressed body cut short: {e}");
        }
    });
}

/// Tells the callback, once: `finish` says it all went; a `close` before
/// it, that the response was cut short.
fn tell_when_done(res: ServerResponse, report: Report) {
    if let Report::Callback(f) = report {
        // Told once: `finish` says it all went; a `close` before it, that
        // the response was cut short.
        let once = Rc::new(RefCell::new(Some(f)));
        let on_finish = once.clone();
        res.on_finish(move || {
            if let Some(f) = on_finish.borrow_mut().take() {
                f(Ok(()));
            }
        });
        res.on_close(move || {
            if let Some(f) = once.borrow_mut().take() {
                f(Err(Error::new(
                    ErrorKind::Aborted,
                    "the response was cut short before the file was sent",
                )
                .with_code("ECONNABORTED")));
            }
        });
    }
}

/// Writes the head and hands the body (`part`: first byte and length) to
/// the connection; `None` for a bodiless 304.
fn finish(
    res: ServerResponse,
    opened: Opened,
    status: u16,
    part: Option<(u64, u64)>,
    report: Report,
) {
    tell_when_done(res, report);
    let length = part.map(|(_, len)| len.to_string());
    let mut headers: Vec<(&str, &str)> = Vec::with_capacity(1);
    if let Some(len) = &length {
        headers.push(("Content-Length", len));
    }
    let over_http2 = with_state(|st| {
        st.exchanges
            .get(res.ex)
            .map(|e| matches!(e.wire, Wire::Http2 { .. }) && !e.is_head_request())
    })
    .flatten()
    .unwrap_or(false);
    if let (true, Some((first, len @ 1..))) = (over_http2, part) {
        // HTTP/2 frames the body itself (DATA as the windows allow), so
        // the file cannot go to the socket whole: it is read on the pool
        // and piped in, with the response's back-pressure.
        let head = with_state(|st| {
            let e = st.exchanges.get_mut(res.ex)?;
            Some(e.commit_head(status, None, &headers))
        })
        .flatten();
        if let Some(Err(e)) = head {
            res.report(e);
            return;
        }
        let range = fs::ReadStreamOptions {
            start: Some(first),
            end: Some(first + len - 1),
            ..Default::default()
        };
        let file = fs::read_stream_from_file(opened.file, &opened.path, range);
        stream::pipeline((file, res), |err| {
            if let Some(e) = err {
                log::debug!("send_file: HTTP/2 body cut short: {e}");
            }
        });
        return;
    }
    let result = with_state(|st| write_response(st, res.ex, status, &headers, opened, part));
    if let Some(Err(e)) = result {
        // Misuse (a header set meanwhile with a forbidden byte, say):
        // reported as the response's other misuse is.
        res.report(e);
    }
}

/// Head, file, end, in one borrow: the head goes to the socket (or is held
/// behind an earlier response), the file right after it.
fn write_response(
    st: &mut ServerState,
    ex: ExId,
    status: u16,
    headers: &[(&str, &str)],
    opened: Opened,
    part: Option<(u64, u64)>,
) -> Result<(), Error> {
    let Some(e) = st.exchanges.get_mut(ex) else {
        return Ok(());
    };
    e.commit_head(status, None, headers)?;
    send(st, ex, &[], false).unwrap_or(Ok(true))?;
    let Some(e) = st.exchanges.get_mut(ex) else {
        return Ok(());
    };
    if let (Some((first, len)), Framing::Length(owed), Some(sock)) = (part, e.framing, e.socket) {
        if owed == len && len > 0 {
            // The body is the file's: `net` sends it, the framing counts it
            // as sent.
            e.framing = Framing::Length(0);
            let front = st
                .conns
                .get(sock)
                .is_some_and(|conn| conn.queue.front() == Some(&ex));
            if front {
                net::send_file(sock, opened.file, first, len);
            } else {
                e.pending_file = Some((opened.file, first, len));
            }
        }
    }
    send(st, ex, &[], true).unwrap_or(Ok(true))?;
    Ok(())
}

/// `send`'s ETag: weak, from the size and the modification time in
/// milliseconds, both in hex.
fn etag(size: u64, mtime_ms: u64) -> String {
    format!("W/\"{size:x}-{mtime_ms:x}\"")
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
fn http_date(secs: u64) -> String {
    String::from_utf8_lossy(&format_imf_fixdate(secs)).into_owned()
}

/// Whether the request's preconditions on the current file fail (RFC 9110
/// §13.2.2, steps 1 and 2): If-Match names none of its tags (compared
/// weakly, as `send` compares them: our tag is weak), or, without
/// If-Match, the file changed after If-Unmodified-Since. 412 then.
fn precondition_fails(ask: &Ask, etag: Option<&str>, modified_secs: Option<u64>) -> bool {
    if let Some(im) = &ask.if_match {
        let any = im.split(',').any(|t| t.trim() == "*");
        return !(any || etag.is_some_and(|tag| none_match_hits(im, tag)));
    }
    match (&ask.if_unmodified_since, modified_secs) {
        (Some(ius), Some(modified)) => parse_http_date(ius).is_some_and(|since| modified > since),
        _ => false,
    }
}

/// Whether the client's copy is current (RFC 9110 §13.2.2: If-None-Match
/// decides when present, else If-Modified-Since).
fn not_modified(ask: &Ask, etag: Option<&str>, modified_secs: Option<u64>) -> bool {
    if let Some(inm) = &ask.if_none_match {
        return etag.is_some_and(|tag| none_match_hits(inm, tag));
    }
    match (&ask.if_modified_since, modified_secs) {
        (Some(ims), Some(modified)) => parse_http_date(ims).is_some_and(|since| modified <= since),
        _ => false,
    }
}

/// Whether an If-None-Match list (or `*`) names `etag`, by the weak
/// comparison (RFC 9110 §8.8.3.2: `W/` prefixes ignored).
fn none_match_hits(list: &str, etag: &str) -> bool {
    let opaque = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    let ours = opaque(etag);
    list.split(',').any(|t| {
        let t = t.trim();
        t == "*" || opaque(t) == ours
    })
}

/// Whether If-Range lets the Range apply: absent, or naming the current
/// validator (the ETag exactly, as `send` compares it, or the exact
/// Last-Modified date).
fn if_range_holds(if_range: Option<&str>, etag: Option<&str>, modified_secs: Option<u64>) -> bool {
    let Some(v) = if_range.map(str::trim) else {
        return true;
    };
    if v.starts_with('"') || v.starts_with("W/") {
        return etag.is_some_and(|tag| tag == v);
    }
    match (parse_http_date(v), modified_secs) {
        (Some(date), Some(modified)) => date == modified,
        _ => false,
    }
}

/// What a Range header asks of a file of `size` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ranged {
    /// No usable range (malformed, several, another unit): the whole file.
    Full,
    /// One range, both ends inclusive and inside the file.
    Partial { first: u64, last: u64 },
    /// A well-formed range that selects nothing: 416.
    Unsatisfiable,
}

/// Parses `bytes=a-b`, `bytes=a-` or `bytes=-n` (RFC 9110 §14.1.2). Only
/// one range is served: a list (however long) gets the whole file, which
/// RFC 9110 §14.2 allows. Numbers too large for `u64` saturate, so
/// `bytes=99999999999999999999-` is past the end (416), never an overflow.
fn parse_range(header: &str, size: u64) -> Ranged {
    let header = header.trim();
    let Some((unit, set)) = header.split_once('=') else {
        return Ranged::Full;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") || set.contains(',') {
        return Ranged::Full;
    }
    let Some((a, b)) = set.trim().split_once('-') else {
        return Ranged::Full;
    };
    let number = |s: &str| -> Option<u64> {
        let s = s.trim();
        if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        Some(s.bytes().fold(0u64, |n, d| {
            n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
        }))
    };
    match (a.trim().is_empty(), b.trim().is_empty()) {
        // `-n`: the last n bytes (all of them if the file is shorter).
        (true, false) => match number(b) {
            None => Ranged::Full,
            Some(0) => Ranged::Unsatisfiable,
            Some(_) if size == 0 => Ranged::Unsatisfiable,
            Some(n) => Ranged::Partial {
                first: size - n.min(size),
                last: size - 1,
            },
        },
        // `a-`: from a to the end.
        (false, true) => match number(a) {
            None => Ranged::Full,
            Some(first) if first >= size => Ranged::Unsatisfiable,
            Some(first) => Ranged::Partial {
                first,
                last: size - 1,
            },
        },
        // `a-b`: both ends, the last clamped to the file.
        (false, false) => match (number(a), number(b)) {
            (Some(first), Some(last)) if first <= last => {
                if first >= size {
                    Ranged::Unsatisfiable
                } else {
                    Ranged::Partial {
                        first,
                        last: last.min(size - 1),
                    }
                }
            }
            _ => Ranged::Full,
        },
        (true, true) => Ranged::Full,
    }
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) to seconds
/// since the epoch; `None` for anything else (an invalid date is ignored,
/// RFC 9110 §13.1.3).
fn parse_http_date(s: &str) -> Option<u64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let s = s.trim();
    let (_, rest) = s.split_once(", ")?;
    let mut parts = rest.split(' ');
    let day: u64 = parts.next()?.parse().ok()?;
    let month_name = parts.next()?;
    let month = MONTHS.iter().position(|m| *m == month_name)? as u64 + 1;
    let year: u64 = parts.next()?.parse().ok()?;
    let mut clock = parts.next()?.split(':');
    let hh: u64 = clock.next()?.parse().ok()?;
    let mm: u64 = clock.next()?.parse().ok()?;
    let ss: u64 = clock.next()?.parse().ok()?;
    if parts.next()? != "GMT" || parts.next().is_some() || clock.next().is_some() {
        return None;
    }
    if !(1..=31).contains(&day) || hh > 23 || mm > 59 || ss > 60 || !(1970..=9999).contains(&year) {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe).checked_sub(719_468)?;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// `Content-Type` by extension: the common web types, text ones in UTF-8,
/// `application/octet-stream` for the rest.
fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" | "map" => "application/json; charset=utf-8",
        "txt" | "text" | "log" => "text/plain; charset=utf-8",
        "md" | "markdown" => "text/markdown; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "xml" => "text/xml; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "pdf" => "application/pdf",
        "wasm" => "application/wasm",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "tar" => "application/x-tar",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "ogg" => "audio/ogg",
        "wav" => "audio/wav",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_ranges_of_each_form_are_served_and_clamped() {
        use Ranged::*;
        assert_eq!(
            parse_range("bytes=0-99", 1000),
            Partial { first: 0, last: 99 }
        );
        assert_eq!(
            parse_range("bytes=-50", 1000),
            Partial {
                first: 950,
                last: 999
            }
        );
        assert_eq!(
            parse_range("bytes=100-", 1000),
            Partial {
                first: 100,
                last: 999
            }
        );
        assert_eq!(
            parse_range("bytes=990-5000", 1000),
            Partial {
                first: 990,
                last: 999
            }
        );
        assert_eq!(
            parse_range("bytes=-5000", 1000),
            Partial {
                first: 0,
                last: 999
            }
        );
        assert_eq!(
            parse_range("Bytes = 1-1", 10),
            Partial { first: 1, last: 1 }
        );
    }

    #[test]
    fn ranges_past_the_end_are_unsatisfiable_and_huge_numbers_saturate() {
        use Ranged::*;
        assert_eq!(parse_range("bytes=1000-", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=5000-6000", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-", 0), Unsatisfiable);
        assert_eq!(
            parse_range("bytes=99999999999999999999-", 1000),
            Unsatisfiable
        );
        assert_eq!(
            parse_range("bytes=0-99999999999999999999", 1000),
            Partial {
                first: 0,
                last: 999
            }
        );
        assert_eq!(
            parse_range("bytes=-99999999999999999999", 1000),
            Partial {
                first: 0,
                last: 999
            }
        );
    }

    #[test]
    fn malformed_or_multiple_ranges_get_the_whole_file() {
        for h in [
            "bytes=5-1",
            "bytes=a-b",
            "bytes=-",
            "bytes=1",
            "items=0-1",
            "bytes 0-1",
            "bytes=0-1,5-6",
            "bytes=+1-2",
            "",
        ] {
            assert_eq!(parse_range(h, 1000), Ranged::Full, "{h}");
        }
        let many = format!("bytes={}", vec!["0-0"; 10_000].join(","));
        assert_eq!(parse_range(&many, 1000), Ranged::Full);
    }

    #[test]
    fn dates_round_trip_through_imf_fixdate() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        for secs in [0, 784_111_777, 1_700_000_000, 4_102_444_800] {
            assert_eq!(parse_http_date(&http_date(secs)), Some(secs));
        }
        for bad in [
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "garbage",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn if_none_match_compares_weakly_and_takes_lists_and_star() {
        let tag = etag(0x10, 0x20);
        assert_eq!(tag, "W/\"10-20\"");
        assert!(none_match_hits("W/\"10-20\"", &tag));
        assert!(none_match_hits("\"10-20\"", &tag));
        assert!(none_match_hits("\"x\", W/\"10-20\"", &tag));
        assert!(none_match_hits("*", &tag));
        assert!(!none_match_hits("\"x\"", &tag));
    }

    #[test]
    fn if_none_match_decides_over_if_modified_since() {
        let tag = etag(1, 2000);
        let date = http_date(2);
        let ask = |inm: Option<&str>, ims: Option<&str>| Ask {
            if_none_match: inm.map(String::from),
            if_modified_since: ims.map(String::from),
            ..Ask::default()
        };
        assert!(not_modified(&ask(None, Some(&date)), Some(&tag), Some(2)));
        assert!(!not_modified(
            &ask(None, Some(&http_date(1))),
            Some(&tag),
            Some(2)
        ));
        // A present, non-matching If-None-Match wins over a current date.
        assert!(!not_modified(
            &ask(Some("\"other\""), Some(&date)),
            Some(&tag),
            Some(2)
        ));
        assert!(not_modified(&ask(Some(&tag), None), Some(&tag), Some(2)));
        assert!(!not_modified(
            &ask(None, Some("bad date")),
            Some(&tag),
            Some(2)
        ));
    }

    #[test]
    fn if_match_and_if_unmodified_since_fail_preconditions() {
        let tag = etag(1, 2000);
        let ask = |im: Option<&str>, ius: Option<&str>| Ask {
            if_match: im.map(String::from),
            if_unmodified_since: ius.map(String::from),
            ..Ask::default()
        };
        assert!(!precondition_fails(&ask(None, None), Some(&tag), Some(2)));
        assert!(!precondition_fails(
            &ask(Some(&tag), None),
            Some(&tag),
            Some(2)
        ));
        assert!(!precondition_fails(
            &ask(Some("*"), None),
            Some(&tag),
            Some(2)
        ));
        assert!(precondition_fails(
            &ask(Some("\"x\""), None),
            Some(&tag),
            Some(2)
        ));
        assert!(!precondition_fails(&ask(Some("*"), None), None, Some(2)));
        assert!(!precondition_fails(
            &ask(None, Some(&http_date(2))),
            Some(&tag),
            Some(2)
        ));
        assert!(precondition_fails(
            &ask(None, Some(&http_date(1))),
            Some(&tag),
            Some(2)
        ));
        // An If-Match present decides; the date is not looked at.
        assert!(!precondition_fails(
            &ask(Some(&tag), Some(&http_date(1))),
            Some(&tag),
            Some(2)
        ));
    }

    #[test]
    fn if_range_takes_the_exact_etag_or_date() {
        let tag = etag(1, 2000);
        assert!(if_range_holds(None, Some(&tag), Some(2)));
        assert!(if_range_holds(Some(&tag), Some(&tag), Some(2)));
        assert!(!if_range_holds(Some("\"old\""), Some(&tag), Some(2)));
        assert!(if_range_holds(Some(&http_date(2)), Some(&tag), Some(2)));
        assert!(!if_range_holds(Some(&http_date(1)), Some(&tag), Some(2)));
        assert!(!if_range_holds(Some("nonsense"), Some(&tag), Some(2)));
    }

    /// An in-memory connection has no descriptor: the file goes in pieces
    /// read on the pool, and pipelined responses keep their order.
    #[test]
    fn over_an_in_memory_connection_files_go_in_pieces_in_order() {
        let dir =
            std::env::temp_dir().join(format!("nodelike-send-file-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(dir.join("f.bin"), &data).unwrap();
        let d = dir.clone();
        let server = crate::http::create_server(move |req, res| {
            let name = req.url().trim_start_matches('/').to_owned();
            res.send_file(d.join(name), SendFileOptions::default());
        });
        let conn = server.connect_in_memory();
        conn.send(
            b"GET /f.bin HTTP/1.1\r\nHost: x\r\n\r\n\
              GET /f.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=-3\r\n\r\n\
              GET /nope HTTP/1.1\r\nHost: x\r\n\r\n",
        );
        // The pool's work keeps the loop alive until the last piece is out.
        crate::run();
        let out = conn.take_output();
        let text = String::from_utf8_lossy(&out);
        let first_body = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{}", &text[..200]);
        assert!(out[first_body..first_body + data.len()] == data[..]);
        let rest = String::from_utf8_lossy(&out[first_body + data.len()..]).into_owned();
        assert!(
            rest.starts_with("HTTP/1.1 206 Partial Content\r\n"),
            "{rest}"
        );
        let tail = format!(
            "\r\n\r\n{}",
            String::from_utf8_lossy(&data[data.len() - 3..])
        );
        assert!(rest.contains(&tail), "{rest}");
        assert!(rest.contains("HTTP/1.1 404 Not Found\r\n"), "{rest}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn types_come_from_the_extension_with_utf_8_for_text() {
        assert_eq!(
            content_type(Path::new("a/b.HTML")),
            "text/html; charset=utf-8"
        );
        assert_eq!(content_type(Path::new("x.png")), "image/png");
        assert_eq!(content_type(Path::new("x")), "application/octet-stream");
        assert_eq!(
            content_type(Path::new("x.unknown")),
            "application/octet-stream"
        );
    }
}
