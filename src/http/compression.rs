//! Compressed bodies over HTTP: the server's `compression` middleware (as
//! Express's `compression` package does it) and opt-in decompression of a
//! received body.
//!
//! ```text
//!   handler ──write──▶ Compressed (a Transform: hold until the threshold,
//!                      then decide once) ──data──▶ res.write ── false? ──▶ pause
//!                                                   res drain ──▶ resume
//! ```
//!
//! The decision is taken once, when the body passes the threshold, at its
//! end, or at the first flush point, with the response's headers as they
//! are then; compressing means `Content-Encoding` set, `Content-Length`
//! removed (the body goes chunked).
//!
//! A body whose end came with it (`end(body)`, or writes already queued
//! when `end` was called) is held to the end and compressed whole: one job
//! on the worker pool (the gzip header, the deflate stream and the trailer
//! in one pass), then sent with its compressed `Content-Length`, head and
//! body in one write, as `res.end(body)` sends any body. A stream would
//! take a job for the data and another for the end, wake the loop for
//! each, and send the head, the body and the last chunk apart.

use std::cell::RefCell;
use std::rc::Rc;

use super::{ClientResponse, IncomingMessage, ServerResponse};
use crate::stream::{Completion, EndOfStream, Input, Stream, Transform, TransformLogic, Writable};
use crate::zlib::{self, Kind, ZlibLogic};
use crate::{Error, ErrorKind, IntoChunk};

/// Options of [`compression`] (Express's `compression({ level, threshold })`).
///
/// ```
/// use nodelike::http::CompressionOptions;
/// // Server-sent events: every write leaves at once.
/// let sse = CompressionOptions { flush_each_write: true, ..Default::default() };
/// assert_eq!(CompressionOptions::default().threshold, 1024);
/// # let _ = sse;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompressionOptions {
    /// The gzip and deflate level, 0 to 9; -1 is zlib's default (6).
    pub level: i32,
    /// The brotli quality, 0 to 11 (4 by default: Node's default of 11 is
    /// far too slow for responses made on the fly).
    pub brotli_quality: u32,
    /// Bodies under this many bytes go uncompressed (1 KiB, Express's
    /// default): known from `Content-Length`, or by holding the first
    /// writes until this many bytes came or the body ended.
    pub threshold: usize,
    /// Make every write a flush point (`Z_SYNC_FLUSH`): the client can
    /// decode each write as soon as it arrives (server-sent events,
    /// streamed logs), at some cost in size. Writes are then not held for
    /// the threshold either.
    pub flush_each_write: bool,
}

impl Default for CompressionOptions {
    fn default() -> CompressionOptions {
        CompressionOptions {
            level: -1,
            brotli_quality: 4,
            threshold: 1024,
            flush_each_write: false,
        }
    }
}

/// An encoding we can send, in our order of preference on equal `q`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Br,
    Gzip,
    Deflate,
}

impl Coding {
    fn token(self) -> &'static str {
        match self {
            Coding::Br => "br",
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
        }
    }
}

/// The coding to answer `Accept-Encoding` with: the highest `q` above 0
/// among br, gzip and deflate (named, or through `*`), br first on a tie;
/// `None` for identity (no header, nothing acceptable).
fn negotiate(accept: Option<&str>) -> Option<Coding> {
    let accept = accept?;
    let mut star = None;
    let mut named: Vec<(String, f32)> = Vec::new();
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        if coding.is_empty() {
            continue;
        }
        let mut q = 1.0f32;
        for param in parts {
            if let Some((k, v)) = param.split_once('=') {
                if k.trim().eq_ignore_ascii_case("q") {
                    q = v.trim().parse().unwrap_or(0.0);
                }
            }
        }
        if coding == "*" {
            star = Some(q);
        } else {
            // x-gzip is gzip's old name (RFC 9110 §8.4.1.3).
            let coding = if coding == "x-gzip" {
                "gzip".into()
            } else {
                coding
            };
            named.push((coding, q));
        }
    }
    let mut best: Option<(Coding, f32)> = None;
    for coding in [Coding::Br, Coding::Gzip, Coding::Deflate] {
        let q = named
            .iter()
            .filter(|(n, _)| n == coding.token())
            .map(|&(_, q)| q)
            .fold(None, |acc: Option<f32>, q| {
                Some(acc.map_or(q, |a| a.max(q)))
            })
            .or(star)
            .unwrap_or(0.0);
        if q > 0.0 && best.is_none_or(|(_, b)| q > b) {
            best = Some((coding, q));
        }
    }
    best.map(|(coding, _)| coding)
}

/// Whether a body of `len` bytes and this `Content-Type` would be sent
/// compressed to a client that sent `accept` (`send_file`'s question,
/// before it gives up `sendfile(2)` for a compressed stream).
pub(crate) fn would_compress(
    accept: Option<&str>,
    content_type: Option<&str>,
    len: u64,
    options: &CompressionOptions,
) -> bool {
    len >= options.threshold as u64 && compressible(content_type) && negotiate(accept).is_some()
}

/// Whether a body of this `Content-Type` is worth compressing: not one
/// compressed already (images but SVG, audio, video, archives, web fonts
/// but the old formats, PDF, opaque bytes). A body with no type is
/// compressed (unlike Express, which leaves it alone).
fn compressible(content_type: Option<&str>) -> bool {
    let Some(t) = content_type else { return true };
    let t = t
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if t == "image/svg+xml" || t == "image/bmp" || t == "image/x-icon" {
        return true;
    }
    if t.starts_with("image/") || t.starts_with("video/") || t.starts_with("audio/") {
        return false;
    }
    !matches!(
        t.as_str(),
        "application/zip"
            | "application/gzip"
            | "application/x-gzip"
            | "application/x-bzip2"
            | "application/x-xz"
            | "application/zstd"
            | "application/x-7z-compressed"
            | "application/x-rar-compressed"
            | "application/vnd.rar"
            | "application/pdf"
            | "application/octet-stream"
            | "application/wasm-compressed"
            | "font/woff"
            | "font/woff2"
    )
}

/// What the request said, kept from `compression`'s call.
struct Asked {
    accept: Option<String>,
    head: bool,
}

/// The response's fate, decided once.
enum Mode {
    /// Under the threshold so far: these bytes are held.
    Deciding(Vec<u8>),
    /// Sent as written.
    Identity,
    Compress(Box<ZlibLogic>),
}

/// What the decision looked at the body with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Moment {
    /// A write, with this many bytes held in all.
    Held(usize),
    /// The end, with the whole body held.
    End(usize),
    /// A flush point: the client needs what was written now.
    Flush,
}

/// The decision.
enum Verdict {
    Identity,
    Wait,
    Compress(Coding),
}

/// The Transform's work: hold, decide, then pass through or compress.
struct Negotiate {
    res: ServerResponse,
    asked: Asked,
    options: CompressionOptions,
    mode: Mode,
}

impl Negotiate {
    /// Express's order: the type, `no-transform`, then `Vary`, then the
    /// size, an existing encoding, HEAD, and what the client accepts.
    fn decide(&self, moment: Moment) -> Verdict {
        let res = self.res;
        if res.headers_sent() {
            return Verdict::Identity;
        }
        let header = |name: &str| res.get_header(name).map(|v| v.to_string());
        if matches!(res.status_code(), 204 | 304) || (100..200).contains(&res.status_code()) {
            return Verdict::Identity;
        }
        if !compressible(header("content-type").as_deref()) {
            return Verdict::Identity;
        }
        let no_transform = header("cache-control").is_some_and(|v| {
            v.split(',')
                .any(|d| d.trim().eq_ignore_ascii_case("no-transform"))
        });
        if no_transform {
            return Verdict::Identity;
        }
        add_vary(res);
        let declared = header("content-length").and_then(|v| v.trim().parse::<usize>().ok());
        let threshold = self.options.threshold;
        match (declared, moment) {
            (Some(len), _) if len < threshold => return Verdict::Identity,
            (Some(_), _) | (None, Moment::Flush) => {}
            (None, Moment::End(len)) if len < threshold => return Verdict::Identity,
            (None, Moment::Held(len)) if len < threshold && !self.options.flush_each_write => {
                return Verdict::Wait
            }
            (None, _) => {}
        }
        let encoding = header("content-encoding");
        if encoding.is_some_and(|e| !e.trim().eq_ignore_ascii_case("identity")) {
            return Verdict::Identity;
        }
        if self.asked.head {
            return Verdict::Identity;
        }
        match negotiate(self.asked.accept.as_deref()) {
            Some(coding) => Verdict::Compress(coding),
            None => Verdict::Identity,
        }
    }

    /// Applies a verdict to the response's headers; the codec to compress
    /// with, if any.
    fn commit(&mut self, verdict: &Verdict) -> Option<zlib::CodecOptions> {
        let Verdict::Compress(coding) = *verdict else {
            return None;
        };
        self.res.set_header("Content-Encoding", coding.token());
        self.res.remove_header("Content-Length");
        let options = match coding {
            Coding::Br => {
                let mut o = zlib::http_codec(Kind::BrotliCompress, -1, usize::MAX);
                o.quality = self.options.brotli_quality.min(11);
                o
            }
            Coding::Gzip => zlib::http_codec(Kind::Gzip, self.options.level, usize::MAX),
            Coding::Deflate => zlib::http_codec(Kind::Deflate, self.options.level, usize::MAX),
        };
        Some(options)
    }

    /// The streaming codec for a body decided on before its end.
    fn streaming(&self, options: zlib::CodecOptions) -> ZlibLogic {
        ZlibLogic::new(options).flush_each(self.options.flush_each_write)
    }
}

/// Adds `Accept-Encoding` to `Vary`, once.
fn add_vary(res: ServerResponse) {
    match res.get_header("vary").map(|v| v.to_string()) {
        None => res.set_header("Vary", "Accept-Encoding"),
        Some(v)
            if v.split(',').any(|f| {
                let f = f.trim();
                f == "*" || f.eq_ignore_ascii_case("accept-encoding")
            }) => {}
        Some(v) => res.set_header("Vary", format!("{v}, Accept-Encoding")),
    }
}

impl TransformLogic for Negotiate {
    fn transform(&mut self, input: Input, done: Completion) {
        match (&mut self.mode, input) {
            (Mode::Identity, Input::Chunk(bytes)) => {
                done.push(bytes);
                done.done(Ok(()));
            }
            (Mode::Identity, Input::Flush) => done.done(Ok(())),
            (Mode::Compress(logic), input) => logic.transform(input, done),
            (Mode::Deciding(held), input) => {
                let flush = matches!(input, Input::Flush);
                let moment = match input {
                    Input::Chunk(bytes) => {
                        if held.is_empty() {
                            // A body written whole (`end(body)`): its own
                            // buffer is held, not copied.
                            *held = bytes;
                        } else {
                            held.extend_from_slice(&bytes);
                        }
                        Moment::Held(held.len())
                    }
                    Input::Flush => Moment::Flush,
                };
                // `end` was called: every byte still to come is queued
                // already, so the body is held until the end and compressed
                // whole (one job, sent with its length; see `flush`).
                // Deciding now would compress it as a stream: a job for
                // the data, another for the end, and a chunked body.
                let ending = !flush && done.stream().writable_ended();
                let verdict = if ending {
                    Verdict::Wait
                } else {
                    self.decide(moment)
                };
                if let Verdict::Wait = verdict {
                    done.done(Ok(()));
                    return;
                }
                let Mode::Deciding(held) = std::mem::replace(&mut self.mode, Mode::Identity) else {
                    unreachable!("matched above")
                };
                match self.commit(&verdict) {
                    None => {
                        done.push(held);
                        done.done(Ok(()));
                    }
                    Some(options) => {
                        let logic = self.streaming(options);
                        let logic = self.mode_compress(logic);
                        // At a flush point the held bytes go out flushed.
                        logic.feed(held, flush, done);
                    }
                }
            }
        }
    }

    fn flush(&mut self, done: Completion) {
        match std::mem::replace(&mut self.mode, Mode::Identity) {
            Mode::Identity => done.done(Ok(())),
            Mode::Compress(mut logic) => {
                logic.flush(done);
                self.mode = Mode::Compress(logic);
            }
            Mode::Deciding(held) => {
                let verdict = self.decide(Moment::End(held.len()));
                match self.commit(&verdict) {
                    Some(options) => {
                        // The whole body is here: compressed in one step
                        // (one job on the pool, the loop woken once), and
                        // sent as `res.end(body)` would send it: with its
                        // length, the head and the body in one write.
                        let res = self.res;
                        zlib::convert_whole(options, held, move |outcome| match outcome {
                            Ok(body) => {
                                if !res.headers_sent() && !res.writable_ended() && !res.destroyed()
                                {
                                    // Set, not left to `end`: the length the
                                    // handler gave was removed (it was the
                                    // uncompressed one), and a removed
                                    // length means chunked to `end`.
                                    res.set_header("Content-Length", body.len().to_string());
                                    res.end(&body);
                                } else {
                                    done.push(body);
                                }
                                done.done(Ok(()));
                            }
                            Err(e) => done.done(Err(e)),
                        });
                    }
                    None => {
                        // The whole body is here: sent with its length
                        // (`res.end(body)`), as it would be without us.
                        if !self.res.headers_sent() && !self.res.writable_ended() {
                            self.res.end(&held);
                        } else {
                            done.push(held);
                        }
                        done.done(Ok(()));
                    }
                }
            }
        }
    }
}

impl Negotiate {
    fn mode_compress(&mut self, logic: ZlibLogic) -> &mut ZlibLogic {
        self.mode = Mode::Compress(Box::new(logic));
        match &mut self.mode {
            Mode::Compress(logic) => logic,
            _ => unreachable!("set above"),
        }
    }
}

/// A response body that is compressed when the request and the response
/// allow it: write the body here instead of to the response (what
/// [`compression`] returns). `finish`, `close` and `error` are the
/// response's.
///
/// ```no_run
/// use nodelike::http::{self, CompressionOptions};
/// use nodelike::stream::Writable;
/// http::create_server(|req, res| {
///     res.set_header("Content-Type", "application/json");
///     let body = http::compression(&req, res, CompressionOptions::default());
///     body.end(r#"{"big":"json"}"#);
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compressed {
    t: Transform,
    res: ServerResponse,
}

/// Starts a response body that is compressed if the request accepts br,
/// gzip or deflate (by `Accept-Encoding`, with `q`-values) and the response
/// is worth it (Express's `compression` middleware, per response): not
/// under `threshold`, a type not compressed already, no
/// `Cache-Control: no-transform`, no `Content-Encoding` already, not HEAD,
/// not 204 or 304. Compressing sets `Content-Encoding` and removes
/// `Content-Length` (a body given whole to `end` is sent with its
/// compressed length instead of chunked); `Vary: Accept-Encoding` is added
/// to every response whose type could be compressed.
///
/// Set the status and headers before the first write (they are read when
/// the decision is taken: at the threshold, the end, or a flush); don't
/// write to `res` directly afterwards.
///
/// ```no_run
/// use nodelike::http::{self, CompressionOptions};
/// use nodelike::stream::Writable;
/// http::create_server(|req, res| {
///     res.set_header("Content-Type", "text/plain");
///     let body = http::compression(&req, res, CompressionOptions::default());
///     for n in 0..1000 {
///         body.write(format!("line {n}\n"));
///     }
///     body.end(());
/// });
/// ```
pub fn compression(
    req: &IncomingMessage,
    res: ServerResponse,
    options: CompressionOptions,
) -> Compressed {
    let asked = Asked {
        accept: req.headers().get("accept-encoding").map(str::to_owned),
        head: req.method().eq_ignore_ascii_case("HEAD"),
    };
    let t = Transform::with_logic(Negotiate {
        res,
        asked,
        options,
        mode: Mode::Deciding(Vec::new()),
    });
    // The compressed bytes go to the response, with back-pressure.
    {
        use crate::stream::Readable;
        t.pipe(res);
    }
    // A compression failure cuts the response; a response gone stops the
    // compression.
    t.on_error(move |_| res.destroy());
    res.on_close(move || t.destroy(None));
    Compressed { t, res }
}

impl Compressed {
    /// Pushes out what was written so far, compressed, without ending the
    /// body (Express's `res.flush()`, zlib's `Z_SYNC_FLUSH`). A body still
    /// held for the threshold is decided on the spot.
    ///
    /// ```no_run
    /// # fn f(body: nodelike::http::Compressed) {
    /// use nodelike::stream::Writable;
    /// body.write("data: tick\n\n");
    /// body.flush();
    /// # }
    /// ```
    pub fn flush(&self) {
        self.t.flush(|| {});
    }

    /// The response this body goes to.
    ///
    /// ```no_run
    /// # fn f(body: nodelike::http::Compressed) {
    /// let encoding = body.response().get_header("content-encoding");
    /// # }
    /// ```
    pub fn response(&self) -> ServerResponse {
        self.res
    }
}

impl Stream for Compressed {
    fn destroy(&self, error: Option<Error>) {
        self.t.destroy(error);
        self.res.destroy();
    }

    fn destroyed(&self) -> bool {
        self.res.destroyed()
    }

    fn on_error(&self, f: impl FnMut(&Error) + 'static) {
        // Both can fail: the compression, and the response under it.
        let f = Rc::new(RefCell::new(f));
        let g = f.clone();
        self.t.on_error(move |e| (g.borrow_mut())(e));
        self.res.on_error(move |e| (f.borrow_mut())(e));
    }

    fn on_close(&self, f: impl FnMut() + 'static) {
        self.res.on_close(f);
    }

    fn end_of_stream(&self, callback: Box<dyn FnOnce(Option<Error>)>) {
        EndOfStream::writable(*self, callback);
    }
}

impl Writable for Compressed {
    fn write(&self, chunk: impl IntoChunk) -> bool {
        self.t.write(chunk)
    }

    fn end(&self, chunk: impl IntoChunk) {
        // Corked, the last chunk reaches the compressor only once `end`
        // has marked the stream ending (`end` uncorks), so a body written
        // whole with `end(body)` is compressed whole, in one job.
        let bytes = chunk.chunk_bytes();
        if !bytes.is_empty() {
            self.t.cork();
            self.t.write(bytes);
        }
        self.t.end(());
    }

    fn on_drain(&self, f: impl FnMut() + 'static) {
        self.t.on_drain(f);
    }

    /// The response's `finish`: all of it was handed to the socket.
    fn on_finish(&self, f: impl FnMut() + 'static) {
        self.res.on_finish(f);
    }

    fn cork(&self) {
        self.t.cork();
    }

    fn uncork(&self) {
        self.t.uncork();
    }

    fn writable_ended(&self) -> bool {
        self.t.writable_ended()
    }

    fn writable_finished(&self) -> bool {
        self.res.writable_finished()
    }

    fn writable_length(&self) -> usize {
        self.t.writable_length()
    }

    fn writable_high_water_mark(&self) -> usize {
        self.t.writable_high_water_mark()
    }
}

// ------------------------------------------------------------------ decoding

/// A received HTTP body that may be compressed: the server's
/// [`IncomingMessage`] and the client's [`ClientResponse`] (what
/// [`decompress`] reads).
///
/// ```no_run
/// use nodelike::http::{self, EncodedBody};
/// http::create_server(|req, _res| {
///     println!("sent as {:?}", req.content_encoding());
/// });
/// ```
pub trait EncodedBody: Copy + 'static + sealed::Sealed {
    /// The `Content-Encoding` header, if any.
    ///
    /// ```no_run
    /// # use nodelike::http::EncodedBody;
    /// # fn f(b: impl EncodedBody) {
    /// let gzipped = b.content_encoding().as_deref() == Some("gzip");
    /// # }
    /// ```
    fn content_encoding(&self) -> Option<String>;
}

mod sealed {
    use crate::Chunk;

    /// What `decompress` needs of a body besides its encoding.
    pub trait Sealed {
        fn data(&self, f: Box<dyn FnMut(Chunk<'_>)>);
        fn end(&self, f: Box<dyn FnMut()>);
        fn close(&self, f: Box<dyn FnMut()>);
        fn pause_body(&self);
        fn resume_body(&self);
        fn complete_body(&self) -> bool;
    }
}

macro_rules! encoded_body {
    ($t:ty, $close:expr) => {
        impl EncodedBody for $t {
            fn content_encoding(&self) -> Option<String> {
                self.headers().get("content-encoding").map(str::to_owned)
            }
        }
        impl sealed::Sealed for $t {
            fn data(&self, f: Box<dyn FnMut(crate::Chunk<'_>)>) {
                self.on_data(f);
            }
            fn end(&self, f: Box<dyn FnMut()>) {
                self.on_end(f);
            }
            fn close(&self, f: Box<dyn FnMut()>) {
                ($close)(self, f);
            }
            fn pause_body(&self) {
                self.pause();
            }
            fn resume_body(&self) {
                self.resume();
            }
            fn complete_body(&self) -> bool {
                self.complete()
            }
        }
    };
}

encoded_body!(
    IncomingMessage,
    |m: &IncomingMessage, mut f: Box<dyn FnMut()>| { m.on_close(move |_| f()) }
);
encoded_body!(ClientResponse, |m: &ClientResponse, f: Box<dyn FnMut()>| {
    m.on_close(f)
});

/// Options of [`decompress`].
///
/// ```
/// use nodelike::http::DecompressOptions;
/// let big = DecompressOptions { max_output_length: 1 << 30 };
/// assert_eq!(DecompressOptions::default().max_output_length, 64 << 20);
/// # let _ = big;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecompressOptions {
    /// The most bytes the decoded body may have; past it the stream fails
    /// with `ERR_BUFFER_TOO_LARGE` ([`zlib::HTTP_MAX_OUTPUT_LENGTH`],
    /// 64 MiB, by default).
    pub max_output_length: usize,
}

impl Default for DecompressOptions {
    fn default() -> DecompressOptions {
        DecompressOptions {
            max_output_length: zlib::HTTP_MAX_OUTPUT_LENGTH,
        }
    }
}

/// The body decoded by its `Content-Encoding` (gzip, x-gzip, deflate, br;
/// anything else, or none, as it came), as a stream to read instead of
/// `body` (what browsers and `fetch` do; Node's `http` leaves it to the
/// program). The decoding stops with `ERR_BUFFER_TOO_LARGE` past
/// `max_output_length`, and with `Z_DATA_ERROR` on bytes that are not
/// what the header says; a body cut short fails with
/// `ERR_STREAM_PREMATURE_CLOSE`. A reader that pauses pauses the body.
///
/// ```no_run
/// use nodelike::http::{self, DecompressOptions, RequestOptions};
/// use nodelike::stream::{Readable, Stream};
/// let options = RequestOptions {
///     port: 8000,
///     headers: vec![("Accept-Encoding".into(), "br, gzip".into())],
///     ..Default::default()
/// };
/// http::get(options, |res| {
///     let body = http::decompress(res, DecompressOptions::default());
///     body.on_data(|chunk| print!("{chunk}"));
///     body.on_error(|e| eprintln!("bad body: {e}"));
/// });
/// ```
pub fn decompress<B: EncodedBody>(body: B, options: DecompressOptions) -> Transform {
    let z = zlib::ZlibOptions {
        max_output_length: options.max_output_length,
        ..Default::default()
    };
    let encoding = body.content_encoding().unwrap_or_default();
    let t = match encoding.trim().to_ascii_lowercase().as_str() {
        "gzip" | "x-gzip" => zlib::create_gunzip(z),
        // Unzip: deflate is zlib format, and a gzip stream is read too.
        "deflate" => zlib::create_unzip(z),
        "br" => zlib::create_brotli_decompress(zlib::BrotliOptions {
            max_output_length: options.max_output_length,
            ..Default::default()
        }),
        _ => Transform::pass_through(),
    };
    // The pump from the body, not `body.pipe(t)`: once the stream failed,
    // the rest of the body is read and dropped (where a pipe would pause
    // it), so the connection stays usable.
    body.data(Box::new(move |chunk| {
        if !t.destroyed() && !t.write(chunk) && !t.destroyed() {
            body.pause_body();
        }
    }));
    t.on_drain(move || body.resume_body());
    t.on_error(move |_| body.resume_body());
    body.end(Box::new(move || t.end(())));
    body.close(Box::new(move || {
        if !body.complete_body() {
            t.destroy(Some(Error::new(
                ErrorKind::StreamPrematureClose,
                "Premature close",
            )));
        }
    }));
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding_is_negotiated_by_q_then_our_order() {
        assert_eq!(negotiate(None), None);
        assert_eq!(negotiate(Some("")), None);
        assert_eq!(negotiate(Some("gzip")), Some(Coding::Gzip));
        assert_eq!(negotiate(Some("gzip, deflate, br")), Some(Coding::Br));
        assert_eq!(negotiate(Some("gzip;q=0, br;q=0.5")), Some(Coding::Br));
        assert_eq!(negotiate(Some("br;q=0.5, gzip;q=0.8")), Some(Coding::Gzip));
        assert_eq!(negotiate(Some("identity")), None);
        assert_eq!(negotiate(Some("identity;q=0")), None);
        assert_eq!(negotiate(Some("*")), Some(Coding::Br));
        assert_eq!(negotiate(Some("*;q=0.1, br;q=0")), Some(Coding::Gzip));
        assert_eq!(negotiate(Some("x-gzip")), Some(Coding::Gzip));
        assert_eq!(negotiate(Some("DEFLATE;Q=1")), Some(Coding::Deflate));
        assert_eq!(negotiate(Some("compress, zstd")), None);
    }

    /// The body of the in-memory answer `out`, after its head; and the head.
    fn split(out: &[u8]) -> (String, &[u8]) {
        let at = out
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a head")
            + 4;
        (
            String::from_utf8_lossy(&out[..at]).to_ascii_lowercase(),
            &out[at..],
        )
    }

    #[test]
    fn a_body_given_whole_to_end_is_compressed_whole_and_sent_with_its_length() {
        let doc: Vec<u8> = (0..2000u32)
            .flat_map(|n| format!("{{\"id\":{n},\"name\":\"user {n}\"}},").into_bytes())
            .collect();
        let body = doc.clone();
        let server = crate::http::create_server(move |req, res| {
            res.set_header("Content-Type", "application/json");
            // A length the handler knew: the uncompressed one, replaced.
            res.set_header("Content-Length", body.len().to_string());
            compression(&req, res, CompressionOptions::default()).end(&body);
        });
        for (accept, coding) in [("gzip", "gzip"), ("deflate", "deflate"), ("br", "br")] {
            let conn = server.connect_in_memory();
            conn.send(
                format!("GET / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: {accept}\r\n\r\n")
                    .as_bytes(),
            );
            // The body is compressed on the pool; its completion comes
            // back through the loop.
            crate::run();
            let out = conn.take_output();
            let (head, packed) = split(&out);
            assert!(
                head.contains(&format!("content-encoding: {coding}\r\n")),
                "{head}"
            );
            assert!(
                head.contains(&format!("content-length: {}\r\n", packed.len())),
                "{head}"
            );
            assert!(!head.contains("transfer-encoding"), "{head}");
            let plain = match coding {
                "gzip" => zlib::gunzip_sync(packed, Default::default()),
                "deflate" => zlib::inflate_sync(packed, Default::default()),
                _ => zlib::brotli_decompress_sync(packed, Default::default()),
            };
            assert_eq!(plain.expect("decodes"), doc, "{coding}");
            assert!(!conn.is_closed(), "kept alive");
        }
    }

    #[test]
    fn a_body_written_before_its_end_still_streams() {
        let server = crate::http::create_server(|req, res| {
            res.set_header("Content-Type", "text/plain");
            let body = compression(&req, res, CompressionOptions::default());
            body.write(vec![b'a'; 4000]);
            body.end(vec![b'b'; 4000]);
        });
        let conn = server.connect_in_memory();
        conn.send(b"GET / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n");
        crate::run();
        let out = conn.take_output();
        let (head, _) = split(&out);
        assert!(head.contains("content-encoding: gzip"), "{head}");
        assert!(head.contains("transfer-encoding: chunked"), "{head}");
    }

    #[test]
    fn types_already_compressed_are_left_alone() {
        assert!(compressible(None));
        assert!(compressible(Some("text/html; charset=utf-8")));
        assert!(compressible(Some("application/json")));
        assert!(compressible(Some("image/svg+xml")));
        assert!(!compressible(Some("image/png")));
        assert!(!compressible(Some("video/mp4")));
        assert!(!compressible(Some("application/zip")));
        assert!(!compressible(Some("application/gzip")));
        assert!(!compressible(Some("font/woff2")));
    }
}
