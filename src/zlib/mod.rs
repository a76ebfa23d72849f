//! Node's `zlib` module: gzip, deflate (zlib and raw) and brotli, as
//! [`Transform`] streams and as one-shot calls, with the work on the worker
//! pool.
//!
//! | Node | nodelike |
//! |---|---|
//! | `zlib.createGzip({ level })` | [`create_gzip`]`(ZlibOptions { level, ..Default::default() })` |
//! | `zlib.createGunzip()` / `createUnzip()` | [`create_gunzip`] / [`create_unzip`] |
//! | `zlib.createDeflate()` / `createInflate()` | [`create_deflate`] / [`create_inflate`] |
//! | `zlib.createDeflateRaw()` / `createInflateRaw()` | [`create_deflate_raw`] / [`create_inflate_raw`] |
//! | `zlib.createBrotliCompress({ params })` | [`create_brotli_compress`]`(BrotliOptions { quality, .. })` |
//! | `zlib.createBrotliDecompress()` | [`create_brotli_decompress`] |
//! | `gzip.flush(callback)` (`Z_SYNC_FLUSH`) | [`Transform::flush`] |
//! | `zlib.gzip(buf, options, cb)` | [`gzip`]`(buf, options, cb)` |
//! | `zlib.gunzipSync(buf, options)` | [`gunzip_sync`]`(&buf, options)` |
//! | `maxOutputLength` | [`ZlibOptions::max_output_length`] |
//!
//! **Where the work runs.** A stream hands its chunks to the codec one at a
//! time (the [`Transform`] queue keeps their order). A chunk above
//! [`INLINE_LIMIT`] (1 KiB) goes to the worker pool (`UV_THREADPOOL_SIZE`
//! threads, as Node's zlib uses libuv's), with one job in flight per
//! stream; a small one is cheaper to do on the loop than to hand over, so
//! it is, up to 1 KiB of input between two jobs on the pool (a codec
//! holds input back until a block is full, so many small chunks add up to
//! real work). A flush or the end builds and writes the block of
//! everything fed since the last one, so it stays on the loop only when
//! that is under 1 KiB too; and the codec (a few hundred KiB of deflate
//! state to allocate and clear) is made by its first step, wherever that
//! runs. The one-shot calls without `_sync` always use the pool.
//!
//! **Bounded memory.** A decompressing stream produces at most 64 KiB (or
//! four `chunk_size`s) per step, then waits for its reader like any
//! Transform: a paused reader stops the decompression, whatever the ratio
//! of the input. Past [`ZlibOptions::max_output_length`] bytes of output in
//! all, the stream fails with `ERR_BUFFER_TOO_LARGE` (Node's guard against
//! decompression bombs). The default is Node's (`buffer.kMaxLength`,
//! 4 GiB); the HTTP helpers use [`HTTP_MAX_OUTPUT_LENGTH`] (64 MiB).
//!
//! **Errors** are `ErrorKind::Zlib` with Node's wording: bytes that are not
//! a gzip or zlib stream give `incorrect header check` (`Z_DATA_ERROR`), a
//! stream cut short gives `unexpected end of file` (`Z_BUF_ERROR`).
//!
//! ```
//! use nodelike::stream::{Readable, Writable};
//! use nodelike::zlib;
//! let gzip = zlib::create_gzip(Default::default());
//! let gunzip = zlib::create_gunzip(Default::default());
//! gzip.pipe(gunzip);
//! let text = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
//! let t = text.clone();
//! gunzip.on_data(move |chunk| t.borrow_mut().extend_from_slice(&chunk));
//! gzip.end("hello, zlib");
//! nodelike::run();
//! assert_eq!(&*text.borrow(), b"hello, zlib");
//! ```
//!
//! The codecs are pure Rust: `flate2` on the `zlib-rs` backend (a port of
//! zlib-ng: no C library to find), and the `brotli` crate.
//!
//! As in Node, bytes after the end of a gzip stream must be another gzip
//! member (else `incorrect header check`), and bytes after the end of a
//! zlib or raw deflate stream are ignored. Not offered: `window_bits`,
//! `mem_level`, `strategy`, dictionaries, `params` beyond quality and
//! window.

mod codec;

use std::cell::Cell;
use std::rc::Rc;

use crate::runtime;
use crate::stream::{Completion, Input, Transform, TransformLogic};
use crate::Error;

use codec::{Codec, Outcome};
pub(crate) use codec::{CodecOptions, Kind};

/// Chunks up to this size are (de)compressed on the loop's thread, so long
/// as no more than this much input was handled there since the stream's
/// last job on the worker pool (and, for a flush or the end, since the
/// last flush); the rest goes to the pool (handing work over costs more
/// than doing a small chunk, but small chunks add up).
///
/// ```
/// assert_eq!(nodelike::zlib::INLINE_LIMIT, 1024);
/// ```
pub const INLINE_LIMIT: usize = 1024;

/// Node's default `chunkSize`: 16 KiB (`zlib.constants.Z_DEFAULT_CHUNK`).
///
/// ```
/// assert_eq!(nodelike::zlib::Z_DEFAULT_CHUNK, 16 * 1024);
/// ```
pub const Z_DEFAULT_CHUNK: usize = 16 * 1024;

/// Node's smallest `chunkSize` (`Z_MIN_CHUNK`).
///
/// ```
/// assert_eq!(nodelike::zlib::Z_MIN_CHUNK, 64);
/// ```
pub const Z_MIN_CHUNK: usize = 64;

/// Node's default `maxOutputLength`: `buffer.kMaxLength` (4 GiB on 64-bit
/// Node 20).
///
/// ```
/// assert_eq!(nodelike::zlib::MAX_OUTPUT_LENGTH as u64, 1 << 32);
/// ```
// Saturates on 32-bit targets, where no buffer can be larger anyway.
pub const MAX_OUTPUT_LENGTH: usize = (u32::MAX as usize).saturating_add(1);

/// The cap on decompressed output the HTTP helpers use (a compressed
/// request or response body): 64 MiB. A body over it fails with
/// `ERR_BUFFER_TOO_LARGE` instead of filling memory; raise it through
/// their options for larger bodies.
///
/// ```
/// assert_eq!(nodelike::zlib::HTTP_MAX_OUTPUT_LENGTH, 64 << 20);
/// ```
pub const HTTP_MAX_OUTPUT_LENGTH: usize = 64 << 20;

/// Options of the gzip and deflate streams and calls (Node's zlib
/// options).
///
/// ```
/// use nodelike::zlib::ZlibOptions;
/// let fast = ZlibOptions { level: 1, ..Default::default() };
/// assert_eq!(ZlibOptions::default().level, -1); // Z_DEFAULT_COMPRESSION, level 6
/// # let _ = fast;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZlibOptions {
    /// Compression level, 0 (none) to 9 (best); -1 is zlib's default
    /// (6). Ignored when decompressing.
    pub level: i32,
    /// The size of the output chunks (Node's `chunkSize`, 16 KiB; at least
    /// [`Z_MIN_CHUNK`]).
    #[doc(alias = "chunkSize")]
    pub chunk_size: usize,
    /// The most output the stream or call may produce; past it, it fails
    /// with `ERR_BUFFER_TOO_LARGE` (Node's `maxOutputLength`).
    #[doc(alias = "maxOutputLength")]
    pub max_output_length: usize,
}

impl Default for ZlibOptions {
    fn default() -> ZlibOptions {
        ZlibOptions {
            level: -1,
            chunk_size: Z_DEFAULT_CHUNK,
            max_output_length: MAX_OUTPUT_LENGTH,
        }
    }
}

/// Options of the brotli streams and calls (Node's
/// `params: { [BROTLI_PARAM_QUALITY]: q, [BROTLI_PARAM_LGWIN]: w }`).
///
/// ```
/// use nodelike::zlib::BrotliOptions;
/// // Node's default quality is 11, the slowest; servers pick 4 or 5.
/// let for_http = BrotliOptions { quality: 4, ..Default::default() };
/// assert_eq!(BrotliOptions::default().quality, 11);
/// # let _ = for_http;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrotliOptions {
    /// 0 (fastest) to 11 (best, Node's default: `BROTLI_DEFAULT_QUALITY`).
    #[doc(alias = "BROTLI_PARAM_QUALITY")]
    pub quality: u32,
    /// The window's size as a power of two, 10 to 24 (22 by default:
    /// `BROTLI_DEFAULT_WINDOW`).
    #[doc(alias = "BROTLI_PARAM_LGWIN")]
    pub lgwin: u32,
    /// The size of the output chunks (Node's `chunkSize`, 16 KiB).
    pub chunk_size: usize,
    /// The most output the stream or call may produce (Node's
    /// `maxOutputLength`).
    pub max_output_length: usize,
}

impl Default for BrotliOptions {
    fn default() -> BrotliOptions {
        BrotliOptions {
            quality: 11,
            lgwin: 22,
            chunk_size: Z_DEFAULT_CHUNK,
            max_output_length: MAX_OUTPUT_LENGTH,
        }
    }
}

impl ZlibOptions {
    fn codec(&self, kind: Kind) -> CodecOptions {
        CodecOptions {
            kind,
            level: self.level,
            quality: 11,
            lgwin: 22,
            chunk_size: self.chunk_size.max(Z_MIN_CHUNK),
            max_output_length: self.max_output_length,
        }
    }
}

impl BrotliOptions {
    fn codec(&self, kind: Kind) -> CodecOptions {
        CodecOptions {
            kind,
            level: -1,
            quality: self.quality.min(11),
            lgwin: self.lgwin.clamp(10, 24),
            chunk_size: self.chunk_size.max(Z_MIN_CHUNK),
            max_output_length: self.max_output_length,
        }
    }
}

// ------------------------------------------------------------------ streams

/// The work of a zlib stream: a codec that travels to a worker and back.
pub(crate) struct ZlibLogic {
    /// The codec, absent while a job has it (one job per stream at a time,
    /// which the Transform's queue guarantees).
    slot: Rc<Cell<Option<Box<LazyCodec>>>>,
    chunk_size: usize,
    /// Input handled on the loop since the last job on the pool.
    since_pool: usize,
    /// Input fed since the last flush point (a sync flush or the end):
    /// what a flush has to turn into blocks, wherever it runs.
    unflushed: usize,
    /// Follow every chunk with a sync flush (a streaming response).
    flush_each: bool,
}

/// A codec made by its first step, so that making it (a deflate state is
/// a few hundred KiB to allocate and clear) happens where that step runs:
/// on the pool for a body above the inline limit, not on the loop.
struct LazyCodec {
    options: CodecOptions,
    codec: Option<Codec>,
}

impl LazyCodec {
    fn get(&mut self) -> &mut Codec {
        let options = &self.options;
        self.codec.get_or_insert_with(|| Codec::new(options))
    }
}

/// One step of a codec.
enum Step {
    /// A chunk, and whether a sync flush follows it.
    Feed(Vec<u8>, bool),
    SyncFlush,
    /// The end, after the bytes given (a caller that held them back).
    Finish(Vec<u8>),
}

impl ZlibLogic {
    pub(crate) fn new(options: CodecOptions) -> ZlibLogic {
        ZlibLogic {
            chunk_size: options.chunk_size,
            slot: Rc::new(Cell::new(Some(Box::new(LazyCodec {
                options,
                codec: None,
            })))),
            since_pool: 0,
            unflushed: 0,
            flush_each: false,
        }
    }

    /// Makes every chunk a flush point (`Z_SYNC_FLUSH` after each).
    pub(crate) fn flush_each(mut self, on: bool) -> ZlibLogic {
        self.flush_each = on;
        self
    }

    /// One chunk, flushed after if `flush` (or every chunk is).
    pub(crate) fn feed(&mut self, bytes: Vec<u8>, flush: bool, done: Completion) {
        let flush = flush || self.flush_each;
        self.run(Step::Feed(bytes, flush), done);
    }

    fn run(&mut self, step: Step, done: Completion) {
        let Some(mut codec) = self.slot.take() else {
            // The queue hands one input at a time; a second while the
            // codec is out would be a bug in the Transform.
            debug_assert!(false, "zlib: a step while another is in flight");
            return;
        };
        // A codec holds input back until a block is full, so the step that
        // fills one (or flushes, or ends) compresses everything fed since:
        // at most INLINE_LIMIT bytes of input are handled on the loop
        // between two jobs on the pool, whatever the sizes of the chunks.
        // And a flush (or the end) turns everything fed since the last one
        // into blocks, which is work in proportion to all of it (a 100 KiB
        // body's single block is built and written by its `finish`): it
        // runs inline only when that is small too.
        let (bytes, flushes) = match &step {
            Step::Feed(bytes, flush) => (bytes.len(), *flush),
            Step::Finish(bytes) => (bytes.len(), true),
            Step::SyncFlush => (0, true),
        };
        self.since_pool += bytes;
        self.unflushed += bytes;
        let weight = if flushes {
            self.unflushed
        } else {
            self.since_pool
        };
        let inline = weight <= INLINE_LIMIT;
        if !inline {
            self.since_pool = 0;
        }
        if flushes {
            self.unflushed = 0;
        }
        let work = move |codec: &mut LazyCodec| match step {
            Step::Feed(bytes, flush) => codec.get().feed(bytes, flush),
            Step::SyncFlush => codec.get().sync_flush(),
            Step::Finish(pending) => codec.get().finish_after(pending),
        };
        let chunk_size = self.chunk_size;
        if inline {
            let outcome = work(&mut codec);
            self.slot.set(Some(codec));
            deliver(outcome, done, chunk_size);
        } else {
            let slot = self.slot.clone();
            runtime::pool::queue_cpu_work(
                move || {
                    let outcome = work(&mut codec);
                    (codec, outcome)
                },
                move |(codec, outcome)| {
                    slot.set(Some(codec));
                    deliver(outcome, done, chunk_size);
                },
            );
        }
    }
}

/// Compresses (or decompresses) `input` whole, start to end, and gives
/// `done` the whole output on the loop's thread: the body of an
/// `end(body)`, known whole before its first byte is compressed. It is ONE
/// step, so it is one job on the pool (the codec made, fed, finished and
/// its gzip trailer written there, in one pass), or none when `input` is
/// at most [`INLINE_LIMIT`]: a stream would take a job for the data and
/// another for the end, and wake the loop between them.
pub(crate) fn convert_whole(
    options: CodecOptions,
    input: Vec<u8>,
    done: impl FnOnce(Result<Vec<u8>, Error>) + 'static,
) {
    let inline = input.len() <= INLINE_LIMIT;
    let work = move || Codec::new(&options).finish_after(input).map(|o| o.output);
    if inline {
        done(work());
    } else {
        runtime::pool::queue_cpu_work(work, done);
    }
}

/// Pushes a step's output in `chunk_size` pieces, then completes it.
fn deliver(outcome: Result<Outcome, Error>, done: Completion, chunk_size: usize) {
    match outcome {
        Err(e) => done.done(Err(e)),
        Ok(Outcome { output, rest }) => {
            if output.is_empty() {
                // Nothing to push: a deflate step that only filled the
                // codec's block. Pushing an empty chunk would still make a
                // piped response write (and send) its head early.
            } else if output.len() <= chunk_size {
                done.push(output);
            } else {
                for piece in output.chunks(chunk_size) {
                    done.push(piece);
                }
            }
            match rest {
                Some(rest) => done.done_with_rest(rest),
                None => done.done(Ok(())),
            }
        }
    }
}

impl TransformLogic for ZlibLogic {
    fn transform(&mut self, input: Input, done: Completion) {
        match input {
            Input::Chunk(bytes) => self.run(Step::Feed(bytes, self.flush_each), done),
            Input::Flush => self.run(Step::SyncFlush, done),
        }
    }

    fn flush(&mut self, done: Completion) {
        self.run(Step::Finish(Vec::new()), done);
    }

    /// Node's zlib streams finish as soon as their input was taken; the
    /// end of the compressed output follows.
    fn finish_before_flush(&self) -> bool {
        true
    }
}

fn stream(options: CodecOptions) -> Transform {
    Transform::with_logic(ZlibLogic::new(options))
}

/// A gzip compressor (Node's `zlib.createGzip(options)`).
///
/// ```
/// use nodelike::stream::Writable;
/// let gzip = nodelike::zlib::create_gzip(Default::default());
/// gzip.end("to be compressed");
/// ```
#[doc(alias = "createGzip")]
pub fn create_gzip(options: ZlibOptions) -> Transform {
    stream(options.codec(Kind::Gzip))
}

/// A gzip decompressor (Node's `zlib.createGunzip(options)`); concatenated
/// gzip members are decoded one after the other, as Node does.
///
/// ```
/// use nodelike::zlib::{create_gunzip, ZlibOptions};
/// // At most 16 MiB of output, then ERR_BUFFER_TOO_LARGE.
/// let gunzip = create_gunzip(ZlibOptions { max_output_length: 16 << 20, ..Default::default() });
/// # let _ = gunzip;
/// ```
#[doc(alias = "createGunzip")]
pub fn create_gunzip(options: ZlibOptions) -> Transform {
    stream(options.codec(Kind::Gunzip))
}

/// A zlib-format (RFC 1950) compressor (Node's `zlib.createDeflate`).
///
/// ```
/// let deflate = nodelike::zlib::create_deflate(Default::default());
/// # let _ = deflate;
/// ```
#[doc(alias = "createDeflate")]
pub fn create_deflate(options: ZlibOptions) -> Transform {
    stream(options.codec(Kind::Deflate))
}

/// A zlib-format decompressor (Node's `zlib.createInflate`).
///
/// ```
/// let inflate = nodelike::zlib::create_inflate(Default::default());
/// # let _ = inflate;
/// ```
#[doc(alias = "createInflate")]
pub fn create_inflate(options: ZlibOptions) -> Transform {
    stream(options.codec(Kind::Inflate))
}

/// A raw deflate (RFC 1951, no header) compressor (Node's
/// `zlib.createDeflateRaw`).
///
/// ```
/// let raw = nodelike::zlib::create_deflate_raw(Default::default());
/// # let _ = raw;
/// ```
#[doc(alias = "createDeflateRaw")]
pub fn create_deflate_raw(options: ZlibOptions) -> Transform {
    stream(options.codec(Kind::DeflateRaw))
}

/// A raw deflate decompressor (Node's `zlib.createInflateRaw`).
///
/// ```
/// let raw = nodelike::zlib::create_inflate_raw(Default::default());
/// # let _ = raw;
/// ```
#[doc(alias = "createInflateRaw")]
pub fn create_inflate_raw(options: ZlibOptions) -> Transform {
    stream(options.codec(Kind::InflateRaw))
}

/// A decompressor for gzip or zlib format, told apart by the first byte
/// (Node's `zlib.createUnzip`).
///
/// ```
/// let unzip = nodelike::zlib::create_unzip(Default::default());
/// # let _ = unzip;
/// ```
#[doc(alias = "createUnzip")]
pub fn create_unzip(options: ZlibOptions) -> Transform {
    stream(options.codec(Kind::Unzip))
}

/// A brotli compressor (Node's `zlib.createBrotliCompress`).
///
/// ```
/// use nodelike::zlib::{create_brotli_compress, BrotliOptions};
/// let br = create_brotli_compress(BrotliOptions { quality: 4, ..Default::default() });
/// # let _ = br;
/// ```
#[doc(alias = "createBrotliCompress")]
pub fn create_brotli_compress(options: BrotliOptions) -> Transform {
    stream(options.codec(Kind::BrotliCompress))
}

/// A brotli decompressor (Node's `zlib.createBrotliDecompress`).
///
/// ```
/// let unbr = nodelike::zlib::create_brotli_decompress(Default::default());
/// # let _ = unbr;
/// ```
#[doc(alias = "createBrotliDecompress")]
pub fn create_brotli_decompress(options: BrotliOptions) -> Transform {
    stream(options.codec(Kind::BrotliDecompress))
}

// ------------------------------------------------------------------ one-shot

/// The whole of `data` through a codec of `options`, on this thread.
fn convert(data: &[u8], options: &CodecOptions) -> Result<Vec<u8>, Error> {
    Codec::new(options).convert(data)
}

/// The whole of `data` through a codec, on the worker pool; `callback`
/// gets the result on the loop.
fn convert_on_pool(
    data: Vec<u8>,
    options: CodecOptions,
    callback: impl FnOnce(Result<Vec<u8>, Error>) + 'static,
) {
    runtime::pool::queue_cpu_work(move || convert(&data, &options), callback);
}

macro_rules! one_shot {
    ($(#[$doc:meta])* $name:ident, $sync:ident, $options:ty, $kind:expr, [$($alias:literal)?], $alias_sync:literal) => {
        $(#[$doc])*
        #[doc = ""]
        #[doc = "Runs on the worker pool; `callback` gets the result on the loop."]
        $(#[doc(alias = $alias)])?
        pub fn $name(
            data: impl Into<Vec<u8>>,
            options: $options,
            callback: impl FnOnce(Result<Vec<u8>, Error>) + 'static,
        ) {
            convert_on_pool(data.into(), options.codec($kind), callback);
        }

        $(#[$doc])*
        #[doc = ""]
        #[doc = "Runs on the calling thread (it blocks the loop for its length)."]
        #[doc(alias = $alias_sync)]
        pub fn $sync(data: &[u8], options: $options) -> Result<Vec<u8>, Error> {
            convert(data, &options.codec($kind))
        }
    };
}

one_shot!(
    /// Gzips `data` (Node's `zlib.gzip(buffer, options, callback)` and
    /// `zlib.gzipSync`).
    ///
    /// ```
    /// use nodelike::zlib;
    /// let packed = zlib::gzip_sync(b"abc", Default::default()).unwrap();
    /// zlib::gunzip(packed, Default::default(), |plain| assert_eq!(plain.unwrap(), b"abc"));
    /// nodelike::run();
    /// ```
    gzip, gzip_sync, ZlibOptions, Kind::Gzip, [], "gzipSync"
);
one_shot!(
    /// Gunzips `data`, stopping at `max_output_length` (Node's
    /// `zlib.gunzip` and `zlib.gunzipSync`).
    ///
    /// ```
    /// use nodelike::zlib::{self, ZlibOptions};
    /// let bomb = zlib::gzip_sync(&vec![0u8; 1 << 20], Default::default()).unwrap();
    /// let capped = ZlibOptions { max_output_length: 1024, ..Default::default() };
    /// let e = zlib::gunzip_sync(&bomb, capped).unwrap_err();
    /// assert_eq!(e.code(), "ERR_BUFFER_TOO_LARGE");
    /// ```
    gunzip, gunzip_sync, ZlibOptions, Kind::Gunzip, [], "gunzipSync"
);
one_shot!(
    /// Compresses `data` in zlib format (Node's `zlib.deflate` and
    /// `zlib.deflateSync`).
    ///
    /// ```
    /// let z = nodelike::zlib::deflate_sync(b"abc", Default::default()).unwrap();
    /// assert_eq!(z[0], 0x78);
    /// ```
    deflate, deflate_sync, ZlibOptions, Kind::Deflate, [], "deflateSync"
);
one_shot!(
    /// Decompresses zlib-format `data` (Node's `zlib.inflate` and
    /// `zlib.inflateSync`).
    ///
    /// ```
    /// let e = nodelike::zlib::inflate_sync(b"not zlib", Default::default()).unwrap_err();
    /// assert_eq!(e.message(), "incorrect header check");
    /// assert_eq!(e.code(), "Z_DATA_ERROR");
    /// ```
    inflate, inflate_sync, ZlibOptions, Kind::Inflate, [], "inflateSync"
);
one_shot!(
    /// Compresses `data` with brotli (Node's `zlib.brotliCompress` and
    /// `zlib.brotliCompressSync`).
    ///
    /// ```
    /// use nodelike::zlib;
    /// let br = zlib::brotli_compress_sync(b"abc", Default::default()).unwrap();
    /// assert_eq!(zlib::brotli_decompress_sync(&br, Default::default()).unwrap(), b"abc");
    /// ```
    brotli_compress, brotli_compress_sync, BrotliOptions, Kind::BrotliCompress,
    ["brotliCompress"], "brotliCompressSync"
);
one_shot!(
    /// Decompresses brotli `data` (Node's `zlib.brotliDecompress` and
    /// `zlib.brotliDecompressSync`).
    ///
    /// ```
    /// let e = nodelike::zlib::brotli_decompress_sync(b"\xff\xff", Default::default());
    /// assert!(e.is_err());
    /// ```
    brotli_decompress, brotli_decompress_sync, BrotliOptions, Kind::BrotliDecompress,
    ["brotliDecompress"], "brotliDecompressSync"
);

/// The codec options for `kind` from zlib options (brotli kinds take the
/// HTTP defaults: quality 4), for the HTTP helpers.
pub(crate) fn http_codec(kind: Kind, level: i32, max_output_length: usize) -> CodecOptions {
    let mut options = ZlibOptions {
        level,
        max_output_length,
        ..Default::default()
    }
    .codec(kind);
    options.quality = 4;
    options
}
