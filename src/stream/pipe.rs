//! `readable.pipe(writable)`: the pump every Node program uses, with
//! back-pressure both ways.
//!
//! ```text
//!   src ──data──▶ dst.write(chunk) ── false? ──▶ src.pause()
//!   dst ──drain─▶ src.resume()
//!   src ──end───▶ dst.end()            (unless PipeOptions { end: false })
//!   dst ──close/error──▶ unpipe: src stops feeding dst and is paused
//! ```

use std::cell::Cell;
use std::rc::Rc;

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

/// Where a pipe is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// Chunks flow from the source to the destination.
    Piped,
    /// The destination closed or failed: the source no longer feeds it.
    Unpiped,
}

/// Pipes `src` into `dst` (see [`Readable::pipe`]).
pub(super) fn pipe<R: Readable, W: Writable>(src: R, dst: W, options: PipeOptions) -> W {
    if dst.destroyed() {
        // Node's pipe into a destroyed stream writes nothing and leaves the
        // source as it was.
        log::debug!("stream: pipe into a destroyed stream ignored");
        return dst;
    }
    // One small shared cell per pipe: the listeners below cannot be taken
    // off one by one, so they ask it whether the pipe still stands.
    let link = Rc::new(Cell::new(Link::Piped));
    {
        let link = link.clone();
        src.on_data(move |chunk| {
            if link.get() == Link::Piped && !dst.write(chunk) {
                src.pause();
            }
        });
    }
    {
        let link = link.clone();
        dst.on_drain(move || {
            if link.get() == Link::Piped {
                src.resume();
            }
        });
    }
    if options.end {
        let link = link.clone();
        src.on_end(move || {
            if link.get() == Link::Piped {
                dst.end(());
            }
        });
    }
    {
        let link = link.clone();
        dst.on_error(move |_| unpipe(&link, src));
    }
    dst.on_close(move || unpipe(&link, src));
    // A paused source starts flowing when piped, as in Node.
    src.resume();
    dst
}

/// The destination is gone: stop feeding it, and stop the source (its
/// data would have nowhere to go).
fn unpipe<R: Readable>(link: &Cell<Link>, src: R) {
    if link.replace(Link::Unpiped) == Link::Piped && !src.readable_ended() {
        src.pause();
    }
}
