//! `stream.pipeline` and `stream.finished`: a chain of pipes that fails as
//! one, and "tell me when this stream is done".

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use super::{Duplex, Readable, Stream, Writable};
use crate::{Error, ErrorKind};

/// The callback of `finished` and `pipeline`.
type Done = Box<dyn FnOnce(Option<Error>)>;

/// A stage's `destroy`, kept by the pipeline for its first error.
type Destroyer = Box<dyn Fn(&Error)>;

/// Calls `callback` once when `stream` is done: `None` when it ended
/// (readable) and finished (writable), its error if it failed, and
/// `ERR_STREAM_PREMATURE_CLOSE` if it closed before either (Node's
/// `stream.finished(stream, callback)`).
///
/// ```no_run
/// use nodelike::{http, stream};
/// http::create_server(|_req, res| {
///     stream::finished(res, |err| match err {
///         None => println!("response sent"),
///         Some(e) => println!("response cut short: {e}"),
///     });
///     res.end("hi\n");
/// });
/// ```
pub fn finished<S: Stream>(stream: S, callback: impl FnOnce(Option<Error>) + 'static) {
    stream.end_of_stream(Box::new(callback));
}

/// The "premature close" error, worded as Node words it.
fn premature_close() -> Error {
    Error::new(ErrorKind::StreamPrematureClose, "Premature close")
}

/// A callback that runs at most once, shared by the listeners that may
/// call it.
#[derive(Clone)]
struct Once(Rc<RefCell<Option<Done>>>);

impl Once {
    fn new(callback: Done) -> Once {
        Once(Rc::new(RefCell::new(Some(callback))))
    }

    fn call(&self, result: Option<Error>) {
        // Taken out before it runs: it may touch the stream again.
        let callback = self.0.borrow_mut().take();
        if let Some(callback) = callback {
            callback(result);
        }
    }
}

/// How a stream's end is watched, by the sides it has: what an
/// implementation of [`Stream::end_of_stream`] calls.
///
/// ```no_run
/// use nodelike::stream::{EndOfStream, Readable};
/// # fn f(body: impl Readable) {
/// EndOfStream::readable(body, Box::new(|err| println!("body done: {err:?}")));
/// # }
/// ```
#[derive(Debug)]
pub struct EndOfStream(());

impl EndOfStream {
    /// Done at `end`; failed at `error`, or at a `close` before `end`.
    ///
    /// ```no_run
    /// # use nodelike::stream::{EndOfStream, Readable};
    /// # fn f(s: impl Readable) {
    /// EndOfStream::readable(s, Box::new(|_| {}));
    /// # }
    /// ```
    pub fn readable<R: Readable>(stream: R, callback: Box<dyn FnOnce(Option<Error>)>) {
        let once = Once::new(callback);
        if stream.readable_ended() {
            crate::next_tick(move || once.call(None));
            return;
        }
        if stream.destroyed() {
            crate::next_tick(move || once.call(Some(premature_close())));
            return;
        }
        let ended = Rc::new(Cell::new(false));
        {
            let (once, ended) = (once.clone(), ended.clone());
            stream.on_end(move || {
                ended.set(true);
                once.call(None);
            });
        }
        {
            let once = once.clone();
            stream.on_error(move |e| once.call(Some(e.clone())));
        }
        stream.on_close(move || {
            if !ended.get() {
                once.call(Some(premature_close()));
            }
        });
    }

    /// Done at `finish`; failed at `error`, or at a `close` before
    /// `finish`.
    ///
    /// ```no_run
    /// # use nodelike::stream::{EndOfStream, Writable};
    /// # fn f(s: impl Writable) {
    /// EndOfStream::writable(s, Box::new(|_| {}));
    /// # }
    /// ```
    pub fn writable<W: Writable>(stream: W, callback: Box<dyn FnOnce(Option<Error>)>) {
        let once = Once::new(callback);
        if stream.writable_finished() {
            crate::next_tick(move || once.call(None));
            return;
        }
        if stream.destroyed() {
            crate::next_tick(move || once.call(Some(premature_close())));
            return;
        }
        let finished = Rc::new(Cell::new(false));
        {
            let (once, finished) = (once.clone(), finished.clone());
            stream.on_finish(move || {
                finished.set(true);
                once.call(None);
            });
        }
        {
            let once = once.clone();
            stream.on_error(move |e| once.call(Some(e.clone())));
        }
        stream.on_close(move || {
            if !finished.get() {
                once.call(Some(premature_close()));
            }
        });
    }

    /// Done when both sides are: `end` and `finish`, in either order;
    /// failed at `error`, or at a `close` before both.
    ///
    /// ```no_run
    /// # use nodelike::stream::{Duplex, EndOfStream};
    /// # fn f(s: impl Duplex) {
    /// EndOfStream::duplex(s, Box::new(|_| {}));
    /// # }
    /// ```
    pub fn duplex<D: Duplex>(stream: D, callback: Box<dyn FnOnce(Option<Error>)>) {
        let once = Once::new(callback);
        let both = Rc::new(Cell::new(0u8));
        let side_done = {
            let (once, both) = (once.clone(), both.clone());
            move |result: Option<Error>| match result {
                Some(e) => once.call(Some(e)),
                None => {
                    both.set(both.get() + 1);
                    if both.get() == 2 {
                        once.call(None);
                    }
                }
            }
        };
        let other = side_done.clone();
        EndOfStream::readable(stream, Box::new(side_done));
        EndOfStream::writable(stream, Box::new(other));
    }
}

/// A pipeline in progress: the callback, and how to tear every stage down.
/// (Public only so [`Chain`] can name it; it cannot be made outside.)
pub struct Run {
    callback: Once,
    /// Each stage's `destroy`, called with the first error.
    destroyers: RefCell<Vec<Destroyer>>,
    /// Stages not done yet; the callback runs with `None` at zero.
    remaining: Cell<usize>,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("remaining", &self.remaining.get())
            .finish_non_exhaustive()
    }
}

impl Run {
    /// Watches one stage: its failure fails the whole pipeline.
    fn watch<S: Stream>(self: &Rc<Run>, stage: S) {
        self.remaining.set(self.remaining.get() + 1);
        self.destroyers
            .borrow_mut()
            .push(Box::new(move |e: &Error| stage.destroy(Some(e.clone()))));
        let run = self.clone();
        stage.end_of_stream(Box::new(move |result| run.stage_done(result)));
    }

    fn stage_done(&self, result: Option<Error>) {
        match result {
            None => {
                self.remaining.set(self.remaining.get().saturating_sub(1));
                if self.remaining.get() == 0 {
                    self.callback.call(None);
                }
            }
            Some(error) => {
                if self.remaining.replace(0) == 0 {
                    return; // already reported
                }
                // Every stage is destroyed with the first error, then the
                // callback hears it, once.
                let destroyers = std::mem::take(&mut *self.destroyers.borrow_mut());
                for destroy in &destroyers {
                    destroy(&error);
                }
                crate::runtime::bury(destroyers);
                self.callback.call(Some(error));
            }
        }
    }
}

/// A chain of streams [`pipeline`] can pipe: a tuple of a [`Readable`], any
/// number of [`Duplex`] stages (up to four), and a [`Writable`].
///
/// ```no_run
/// use nodelike::{http, stream};
/// http::create_server(|req, res| {
///     // (Readable, Writable)
///     stream::pipeline((req, res), |_| {});
/// });
/// ```
pub trait Chain {
    /// The last stream of the chain, which `pipeline` returns.
    type Last;

    /// Pipes each stream into the next and watches them all.
    #[doc(hidden)]
    fn link(self, run: &Rc<Run>) -> Self::Last;
}

impl<A: Readable, Z: Writable> Chain for (A, Z) {
    type Last = Z;
    fn link(self, run: &Rc<Run>) -> Z {
        let (a, z) = self;
        run.watch(a);
        run.watch(z);
        a.pipe(z)
    }
}

impl<A: Readable, B: Duplex, Z: Writable> Chain for (A, B, Z) {
    type Last = Z;
    fn link(self, run: &Rc<Run>) -> Z {
        let (a, b, z) = self;
        run.watch(a);
        run.watch(b);
        run.watch(z);
        a.pipe(b).pipe(z)
    }
}

impl<A: Readable, B: Duplex, C: Duplex, Z: Writable> Chain for (A, B, C, Z) {
    type Last = Z;
    fn link(self, run: &Rc<Run>) -> Z {
        let (a, b, c, z) = self;
        run.watch(a);
        run.watch(b);
        run.watch(c);
        run.watch(z);
        a.pipe(b).pipe(c).pipe(z)
    }
}

impl<A: Readable, B: Duplex, C: Duplex, D: Duplex, Z: Writable> Chain for (A, B, C, D, Z) {
    type Last = Z;
    fn link(self, run: &Rc<Run>) -> Z {
        let (a, b, c, d, z) = self;
        run.watch(a);
        run.watch(b);
        run.watch(c);
        run.watch(d);
        run.watch(z);
        a.pipe(b).pipe(c).pipe(d).pipe(z)
    }
}

impl<A: Readable, B: Duplex, C: Duplex, D: Duplex, E: Duplex, Z: Writable> Chain
    for (A, B, C, D, E, Z)
{
    type Last = Z;
    fn link(self, run: &Rc<Run>) -> Z {
        let (a, b, c, d, e, z) = self;
        run.watch(a);
        run.watch(b);
        run.watch(c);
        run.watch(d);
        run.watch(e);
        run.watch(z);
        a.pipe(b).pipe(c).pipe(d).pipe(e).pipe(z)
    }
}

/// Pipes each stream of `streams` into the next, and calls `callback` once:
/// with `None` when every stream is done, or with the first error (a
/// failure, or a stream closed before it was done:
/// `ERR_STREAM_PREMATURE_CLOSE`), after destroying every stream of the
/// chain with it (Node's `stream.pipeline(a, b, ..., callback)`). Returns
/// the last stream.
///
/// ```no_run
/// use nodelike::{http, stream};
/// http::create_server(|req, res| {
///     stream::pipeline((req, res), |err| {
///         if let Some(e) = err {
///             eprintln!("echo failed: {e}");
///         }
///     });
/// });
/// ```
pub fn pipeline<C: Chain>(streams: C, callback: impl FnOnce(Option<Error>) + 'static) -> C::Last {
    let run = Rc::new(Run {
        callback: Once::new(Box::new(callback)),
        destroyers: RefCell::new(Vec::new()),
        remaining: Cell::new(0),
    });
    streams.link(&run)
}
