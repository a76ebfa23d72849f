//! Node's `stream` module: the contract every stream handle keeps, `pipe`,
//! `pipeline` and `finished`.
//!
//! Every handle that carries bytes is a stream: a request's body arriving
//! ([`IncomingMessage`](crate::http::IncomingMessage),
//! [`ClientResponse`](crate::http::ClientResponse)) is [`Readable`]; a body
//! going out ([`ServerResponse`](crate::http::ServerResponse),
//! [`ClientRequest`](crate::http::ClientRequest)) is [`Writable`]; a
//! [`net::Socket`](crate::net::Socket) is both ([`Duplex`]). The traits
//! name Node's events and properties, so code written against them (a pump,
//! a middleware, [`pipe`](Readable::pipe) itself) works with any handle.
//!
//! | Node | nodelike |
//! |---|---|
//! | `src.pipe(dst)` | [`src.pipe(dst)`](Readable::pipe) (returns `dst`) |
//! | `src.pipe(dst, { end: false })` | [`src.pipe_with(dst, PipeOptions { end: false })`](Readable::pipe_with) |
//! | `stream.pipeline(a, b, c, cb)` | [`stream::pipeline((a, b, c), cb)`](pipeline) |
//! | `stream.finished(s, cb)` | [`stream::finished(s, cb)`](finished) |
//! | `readable.isPaused()` | [`Readable::is_paused`] |
//! | `writable.writableLength` | [`Writable::writable_length`] |
//! | `new stream.Transform({ transform, flush })` | [`Transform::new`]`(TransformFns { transform, flush })` |
//! | `new stream.PassThrough()` | [`Transform::pass_through`] |
//!
//! The handles keep their own inherent methods (`req.on_data(..)` needs no
//! import); the traits are for code generic over streams. Where a handle's
//! own method says more than the trait (the request's `close` listener gets
//! a [`CloseReason`](crate::http::CloseReason)), the trait's is the plain
//! Node form.
//!
//! ```no_run
//! use nodelike::http;
//! use nodelike::stream::Readable;
//! // The echo server: the request's body is the response's.
//! http::create_server(|req, res| {
//!     req.pipe(res);
//! })
//! .listen(8000, "127.0.0.1", || {});
//! nodelike::run();
//! ```

mod delegate;
mod pipe;
mod pipeline;
mod transform;

pub(crate) use delegate::{readable_by_its_own_methods, writable_by_its_own_methods};
pub use pipe::PipeOptions;
pub use pipeline::{finished, pipeline, Chain, EndOfStream};
pub use transform::{Completion, Input, Transform, TransformFns, TransformLogic};

use crate::{Chunk, Error, IntoChunk};

/// What every stream has, readable or writable (Node's `Stream` and
/// EventEmitter parts both sides share): `error`, `close`, `destroy`.
///
/// Handles are `Copy` (a key and a generation), so a stream can be moved
/// into as many listeners as need it.
pub trait Stream: Copy + 'static {
    /// Destroys the stream: no more events but `error` (with `error`, if
    /// given) and `close`; its resources are released (Node's
    /// `stream.destroy(err)`).
    ///
    /// ```no_run
    /// # use nodelike::stream::Stream;
    /// # fn f(s: impl Stream) {
    /// s.destroy(None);
    /// # }
    /// ```
    fn destroy(&self, error: Option<Error>);

    /// Whether [`destroy`](Self::destroy) was called, or the stream was
    /// torn down under it (Node's `destroyed`).
    ///
    /// ```no_run
    /// # use nodelike::stream::Stream;
    /// # fn f(s: impl Stream) {
    /// if s.destroyed() { return; }
    /// # }
    /// ```
    fn destroyed(&self) -> bool;

    /// Adds an `error` listener.
    ///
    /// ```no_run
    /// # use nodelike::stream::Stream;
    /// # fn f(s: impl Stream) {
    /// s.on_error(|e| eprintln!("stream failed: {e}"));
    /// # }
    /// ```
    fn on_error(&self, f: impl FnMut(&Error) + 'static);

    /// Adds a `close` listener: the stream and its resources are gone.
    /// Fires once, last.
    ///
    /// ```no_run
    /// # use nodelike::stream::Stream;
    /// # fn f(s: impl Stream) {
    /// s.on_close(|| println!("closed"));
    /// # }
    /// ```
    fn on_close(&self, f: impl FnMut() + 'static);

    /// Calls `callback` once, when the stream is done (Node's
    /// `stream.finished(stream, callback)`, which [`finished`] calls):
    /// `None` after `end` (readable) and `finish` (writable), the error
    /// after an `error`, and `ERR_STREAM_PREMATURE_CLOSE` for a `close`
    /// that came first.
    ///
    /// An implementation says which sides it has by calling one of
    /// [`EndOfStream`]'s functions.
    ///
    /// ```no_run
    /// # use nodelike::stream::Stream;
    /// # fn f(s: impl Stream) {
    /// s.end_of_stream(Box::new(|err| println!("done: {err:?}")));
    /// # }
    /// ```
    fn end_of_stream(&self, callback: Box<dyn FnOnce(Option<Error>)>);
}

/// A source of bytes (Node's `stream.Readable`): `data` events until `end`,
/// with `pause`/`resume` for back-pressure.
pub trait Readable: Stream {
    /// Adds a `data` listener. The chunk is lent for the call (copy it with
    /// [`Chunk::to_vec`] to keep it).
    ///
    /// ```no_run
    /// # use nodelike::stream::Readable;
    /// # fn f(s: impl Readable) {
    /// s.on_data(|chunk| println!("{} bytes", chunk.len()));
    /// # }
    /// ```
    fn on_data(&self, f: impl FnMut(Chunk<'_>) + 'static);

    /// Adds an `end` listener: every byte was delivered.
    ///
    /// ```no_run
    /// # use nodelike::stream::Readable;
    /// # fn f(s: impl Readable) {
    /// s.on_end(|| println!("that was all"));
    /// # }
    /// ```
    fn on_end(&self, f: impl FnMut() + 'static);

    /// Stops `data` events until [`resume`](Self::resume); what arrives
    /// meanwhile waits (in the kernel, for a socket).
    ///
    /// ```no_run
    /// # use nodelike::stream::Readable;
    /// # fn f(s: impl Readable) {
    /// s.pause();
    /// # }
    /// ```
    fn pause(&self);

    /// Starts `data` events again after [`pause`](Self::pause).
    ///
    /// ```no_run
    /// # use nodelike::stream::Readable;
    /// # fn f(s: impl Readable) {
    /// s.resume();
    /// # }
    /// ```
    fn resume(&self);

    /// Whether the stream is paused (Node's `isPaused()`).
    ///
    /// ```no_run
    /// # use nodelike::stream::Readable;
    /// # fn f(s: impl Readable) {
    /// s.pause();
    /// assert!(s.is_paused());
    /// # }
    /// ```
    fn is_paused(&self) -> bool;

    /// Whether `end` was emitted (Node's `readableEnded`).
    ///
    /// ```no_run
    /// # use nodelike::stream::Readable;
    /// # fn f(s: impl Readable) {
    /// if !s.readable_ended() { s.resume(); }
    /// # }
    /// ```
    fn readable_ended(&self) -> bool;

    /// Sends every chunk to `dst`, pausing this stream while `dst`'s
    /// buffer is full (its `write` returned `false`) until `dst` drains,
    /// and ends `dst` when this stream ends. Stops (unpipes) when `dst`
    /// closes or fails. Returns `dst`, so pipes chain (Node's
    /// `readable.pipe(destination)`).
    ///
    /// ```no_run
    /// use nodelike::http;
    /// use nodelike::stream::Readable;
    /// http::create_server(|req, res| {
    ///     req.pipe(res);
    /// });
    /// ```
    fn pipe<W: Writable>(&self, dst: W) -> W {
        pipe::pipe(*self, dst, PipeOptions::default())
    }

    /// [`pipe`](Self::pipe) with options: `PipeOptions { end: false }`
    /// leaves `dst` open when this stream ends.
    ///
    /// ```no_run
    /// use nodelike::http;
    /// use nodelike::stream::{PipeOptions, Readable};
    /// http::create_server(|req, res| {
    ///     req.pipe_with(res, PipeOptions { end: false });
    ///     req.on_end(move || res.end("-- the end\n"));
    /// });
    /// ```
    fn pipe_with<W: Writable>(&self, dst: W, options: PipeOptions) -> W {
        pipe::pipe(*self, dst, options)
    }
}

/// A destination of bytes (Node's `stream.Writable`): `write` until `end`,
/// with `drain` for back-pressure and `finish` once everything was handed
/// on.
pub trait Writable: Stream {
    /// Writes a chunk. Returns `false` when the stream's buffer is over its
    /// high-water mark: stop writing until `drain` (the data is kept
    /// either way).
    ///
    /// ```no_run
    /// # use nodelike::stream::Writable;
    /// # fn f(s: impl Writable) {
    /// if !s.write("more") { /* wait for on_drain */ }
    /// # }
    /// ```
    fn write(&self, chunk: impl IntoChunk) -> bool;

    /// Writes a last chunk (`()` for none) and ends the stream; `finish`
    /// follows once all is handed on.
    ///
    /// ```no_run
    /// # use nodelike::stream::Writable;
    /// # fn f(s: impl Writable) {
    /// s.end(());
    /// # }
    /// ```
    fn end(&self, chunk: impl IntoChunk);

    /// Adds a `drain` listener: the buffer went below the high-water mark
    /// after a `write` returned `false`.
    ///
    /// ```no_run
    /// # use nodelike::stream::Writable;
    /// # fn f(s: impl Writable) {
    /// s.on_drain(|| println!("write more"));
    /// # }
    /// ```
    fn on_drain(&self, f: impl FnMut() + 'static);

    /// Adds a `finish` listener: `end` was called and every byte was
    /// handed on (to the kernel, for a socket).
    ///
    /// ```no_run
    /// # use nodelike::stream::Writable;
    /// # fn f(s: impl Writable) {
    /// s.on_finish(|| println!("all sent"));
    /// # }
    /// ```
    fn on_finish(&self, f: impl FnMut() + 'static);

    /// Holds writes in memory until [`uncork`](Self::uncork), so small
    /// writes leave together (Node's `cork()`). Calls nest.
    ///
    /// ```no_run
    /// # use nodelike::stream::Writable;
    /// # fn f(s: impl Writable) {
    /// s.cork();
    /// s.write("a");
    /// s.write("b");
    /// s.uncork(); // "ab" leaves in one piece
    /// # }
    /// ```
    fn cork(&self);

    /// Undoes one [`cork`](Self::cork); the last one lets the writes go.
    ///
    /// ```no_run
    /// # use nodelike::stream::Writable;
    /// # fn f(s: impl Writable) {
    /// s.uncork();
    /// # }
    /// ```
    fn uncork(&self);

    /// Whether `end` was called (Node's `writableEnded`).
    ///
    /// ```no_run
    /// # use nodelike::stream::Writable;
    /// # fn f(s: impl Writable) {
    /// if !s.writable_ended() { s.end(()); }
    /// # }
    /// ```
    fn writable_ended(&self) -> bool;

    /// Whether `finish` was emitted (Node's `writableFinished`).
    ///
    /// ```no_run
    /// # use nodelike::stream::Writable;
    /// # fn f(s: impl Writable) {
    /// let all_sent = s.writable_finished();
    /// # }
    /// ```
    fn writable_finished(&self) -> bool;

    /// Bytes written but not yet handed on (Node's `writableLength`).
    ///
    /// ```no_run
    /// # use nodelike::stream::Writable;
    /// # fn f(s: impl Writable) {
    /// println!("{} bytes queued", s.writable_length());
    /// # }
    /// ```
    fn writable_length(&self) -> usize;

    /// The buffer size above which `write` returns `false` (Node's
    /// `writableHighWaterMark`; 16 KiB for sockets and HTTP messages).
    ///
    /// ```no_run
    /// # use nodelike::stream::Writable;
    /// # fn f(s: impl Writable) {
    /// assert_eq!(s.writable_high_water_mark(), 16 * 1024);
    /// # }
    /// ```
    fn writable_high_water_mark(&self) -> usize;
}

/// Both sides at once (Node's `stream.Duplex`): a socket, a transform.
/// Every type that is [`Readable`] and [`Writable`] is one.
pub trait Duplex: Readable + Writable {}

impl<T: Readable + Writable> Duplex for T {}

/// The high-water mark of sockets and HTTP messages: 16 KiB, Node's
/// default for byte streams.
pub const DEFAULT_HIGH_WATER_MARK: usize = 16 * 1024;
