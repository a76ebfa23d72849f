//! `readable.pipe(writable)`: the pump every Node program uses, with
//! back-pressure both ways.
//!
//! ```text
//!   src ──data──▶ dst.write(chunk) ── false? ──▶ src.pause()
//!   dst ──drain─▶ src.resume()
//!   src ──end───▶ dst.end()            (unless PipeOptions { end: false })
//!   dst destroyed ──▶ unpipe: src stops feeding dst and is paused
//! ```

use super::{Readable, Writable};

/// Options of [`Readable::pipe_with`] (Node's `pipe(dst, { end })`).
///
/// ```
/// let keep_open = nodelike::stream::PipeOptions { end: false };
/// assert!(nodelike::stream::PipeOptions::default().end);
/// # let _ = keep_open;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipeOptions {
    /// End the destination when the source ends (default `true`).
    pub end: bool,
}

impl Default for PipeOptions {
    fn default() -> PipeOptions {
        PipeOptions { end: true }
    }
}

/// Pipes `src` into `dst` (see [`Readable::pipe`]).
///
/// A pipe is three listeners and no state of its own: whether it still
/// stands is whether `dst` is alive. A destination that closed (or was
/// destroyed by its error) unpipes the source at the source's next chunk:
/// the chunk is dropped and the source paused, as Node's `unpipe` pauses
/// it. Keeping no shared flag is what makes `pipe` cost what the same
/// pump written by hand costs (`benches/pipe_cost.py`).
pub(super) fn pipe<R: Readable, W: Writable>(src: R, dst: W, options: PipeOptions) -> W {
    if dst.destroyed() {
        // Node's pipe into a destroyed stream writes nothing and leaves the
        // source as it was.
        log::debug!("stream: pipe into a destroyed stream ignored");
        return dst;
    }
    src.on_data(move |chunk| {
        if dst.destroyed() {
            // Unpiped: the destination is gone; hold the source.
            src.pause();
        } else if !dst.write(chunk) {
            src.pause();
        }
    });
    dst.on_drain(move || src.resume());
    if options.end {
        src.on_end(move || {
            if !dst.destroyed() {
                dst.end(());
            }
        });
    }
    // A paused source starts flowing when piped, as in Node.
    src.resume();
    dst
}
