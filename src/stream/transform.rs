//! `stream.Transform` and `stream.PassThrough`: a duplex whose output is
//! computed from its input, one chunk at a time, possibly later (on the
//! worker pool, for zlib).
//!
//! ```text
//!   write(chunk) ──▶ queue ──(one at a time)──▶ logic.transform(input, done)
//!                    (writable_length)              │ done.push(bytes)
//!                                                   ▼
//!   data ◀── flowing? ◀── out buffer (readable_length) ◀──┘
//!
//!   end() ──▶ queue empties ──▶ logic.flush(done) ──▶ end ──▶ finish ──▶ close
//!             (Node's order: `end` first when the reader took everything,
//!              on the next tick; a paused reader gets `end` when it reads)
//! ```
//!
//! Back-pressure, as Node's Transform keeps it: the next chunk is handed
//! to the logic only while the readable buffer is under its high-water
//! mark (16 KiB), so a paused consumer stops the work, the queue grows, and
//! `write` returns `false` once the queue is over its own mark; `drain`
//! follows when the queue empties again.
//!
//! Every record lives in this thread's slab; the handle is a key and a
//! generation. One function, `pump`, moves the stream along: it decides
//! what to do inside a borrow, then does it (calls the logic, emits `data`)
//! with nothing borrowed, so listeners and logic may call back into the
//! stream. A call made while the pump runs only changes the record; the
//! running pump sees the change on its next step.

use std::cell::RefCell;
use std::collections::VecDeque;

use super::{EndOfStream, Readable, Stream, Writable, DEFAULT_HIGH_WATER_MARK};
use crate::runtime::listeners::{emit, Listeners};
use crate::runtime::{self, LoopBound};
use crate::{Chunk, Error, ErrorKind, IntoChunk};

/// A Transform stream (Node's `stream.Transform`, and
/// `stream.PassThrough` through [`Transform::pass_through`]): what is
/// written is handed to its logic, one chunk at a time, and what the logic
/// pushes is read.
///
/// A `Copy` handle: move it into as many listeners as need it. It belongs
/// to the loop of the thread that made it. Its record is freed once
/// `close` was emitted; the handle then reads as destroyed, not ended and
/// not finished (ask those in the `close` listener, or before).
///
/// ```
/// use nodelike::stream::{Readable, Transform, TransformFns, Writable};
/// let upper = Transform::new(TransformFns {
///     transform: |chunk: &[u8], out: &mut Vec<u8>| {
///         out.extend(chunk.iter().map(u8::to_ascii_uppercase));
///         Ok(())
///     },
///     flush: |_out: &mut Vec<u8>| Ok(()),
/// });
/// let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
/// let s = seen.clone();
/// upper.on_data(move |chunk| s.borrow_mut().extend_from_slice(&chunk));
/// upper.write("hello, ");
/// upper.end("world");
/// nodelike::run();
/// assert_eq!(&*seen.borrow(), b"HELLO, WORLD");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Transform {
    key: u32,
    gen: u32,
    _loop: LoopBound,
}

/// What the logic of a [`Transform`] is handed: a written chunk, or a
/// flush point ([`Transform::flush`]: zlib's `Z_SYNC_FLUSH`).
///
/// ```
/// use nodelike::stream::Input;
/// let input = Input::Chunk(b"abc".to_vec());
/// assert!(matches!(input, Input::Chunk(ref c) if c == b"abc"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A chunk written to the stream, in order.
    Chunk(Vec<u8>),
    /// Push out what is held back without ending the stream.
    Flush,
}

/// The work of a [`Transform`], in the form that may finish later (Node's
/// `_transform(chunk, encoding, callback)` and `_flush(callback)`): each
/// call is given a [`Completion`] to push output through and to finish
/// with, now or from a later callback. The next call comes only after
/// `done`. [`TransformFns`] is the synchronous form.
///
/// ```
/// use nodelike::stream::{Completion, Input, Transform, TransformLogic};
/// /// Answers each chunk on the next tick, reversed.
/// struct Reverse;
/// impl TransformLogic for Reverse {
///     fn transform(&mut self, input: Input, done: Completion) {
///         if let Input::Chunk(mut bytes) = input {
///             nodelike::next_tick(move || {
///                 bytes.reverse();
///                 done.push(bytes);
///                 done.done(Ok(()));
///             });
///         } else {
///             done.done(Ok(()));
///         }
///     }
///     fn flush(&mut self, done: Completion) {
///         done.done(Ok(()));
///     }
/// }
/// let t = Transform::with_logic(Reverse);
/// # let _ = t;
/// ```
pub trait TransformLogic: 'static {
    /// Transforms one input; call `done.done(..)` exactly once, now or
    /// later (dropping it unfinished stalls the stream).
    ///
    /// ```
    /// # use nodelike::stream::{Completion, Input, TransformLogic};
    /// # struct Echo;
    /// # impl TransformLogic for Echo {
    /// fn transform(&mut self, input: Input, done: Completion) {
    ///     if let Input::Chunk(bytes) = input {
    ///         done.push(bytes);
    ///     }
    ///     done.done(Ok(()));
    /// }
    /// # fn flush(&mut self, done: Completion) { done.done(Ok(())) }
    /// # }
    /// ```
    fn transform(&mut self, input: Input, done: Completion);

    /// Called once after the last input, at `end()`: push what is left
    /// (Node's `_flush`). `finish` and `end` follow `done`.
    ///
    /// ```
    /// # use nodelike::stream::{Completion, Input, TransformLogic};
    /// # struct Trailer;
    /// # impl TransformLogic for Trailer {
    /// # fn transform(&mut self, _: Input, done: Completion) { done.done(Ok(())) }
    /// fn flush(&mut self, done: Completion) {
    ///     done.push("-- the end\n");
    ///     done.done(Ok(()));
    /// }
    /// # }
    /// ```
    fn flush(&mut self, done: Completion);

    /// Whether `finish` comes as soon as the last input was handed over,
    /// before the final flush runs (Node's zlib streams, whose `_final`
    /// does nothing: `finish`, then the flush's output, then `end`). By
    /// default `finish` follows the final flush, after `end` if the reader
    /// took everything already (Node's Transform: `end`, `finish`,
    /// `close`).
    ///
    /// ```
    /// # use nodelike::stream::{Completion, Input, TransformLogic};
    /// # struct Z;
    /// # impl TransformLogic for Z {
    /// # fn transform(&mut self, _: Input, done: Completion) { done.done(Ok(())) }
    /// # fn flush(&mut self, done: Completion) { done.done(Ok(())) }
    /// fn finish_before_flush(&self) -> bool {
    ///     true
    /// }
    /// # }
    /// ```
    fn finish_before_flush(&self) -> bool {
        false
    }
}

/// The synchronous form of a [`Transform`]'s work: `transform(chunk, out)`
/// appends the output of one chunk to `out`; `flush(out)` appends what is
/// left at the end. An `Err` destroys the stream with it.
///
/// ```
/// use nodelike::stream::{Transform, TransformFns};
/// let count = std::cell::Cell::new(0usize);
/// let counter = Transform::new(TransformFns {
///     transform: move |chunk: &[u8], _out: &mut Vec<u8>| {
///         count.set(count.get() + chunk.len());
///         Ok(())
///     },
///     flush: |out: &mut Vec<u8>| {
///         out.extend_from_slice(b"done");
///         Ok(())
///     },
/// });
/// # let _ = counter;
/// ```
pub struct TransformFns<T, F> {
    /// Node's `_transform`: one chunk in, its output appended to the `Vec`.
    pub transform: T,
    /// Node's `_flush`: called once after the last chunk.
    pub flush: F,
}

impl<T, F> std::fmt::Debug for TransformFns<T, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransformFns").finish_non_exhaustive()
    }
}

impl<T, F> TransformLogic for TransformFns<T, F>
where
    T: FnMut(&[u8], &mut Vec<u8>) -> Result<(), Error> + 'static,
    F: FnMut(&mut Vec<u8>) -> Result<(), Error> + 'static,
{
    fn transform(&mut self, input: Input, done: Completion) {
        match input {
            Input::Chunk(bytes) => {
                let mut out = runtime::take_buf();
                let result = (self.transform)(&bytes, &mut out);
                runtime::give_buf(bytes);
                done.push(out);
                done.done(result);
            }
            // Synchronous logic holds nothing back.
            Input::Flush => done.done(Ok(())),
        }
    }

    fn flush(&mut self, done: Completion) {
        let mut out = Vec::new();
        let result = (self.flush)(&mut out);
        done.push(out);
        done.done(result);
    }
}

/// The logic of `PassThrough`: every chunk as it came.
struct PassThroughLogic;

impl TransformLogic for PassThroughLogic {
    fn transform(&mut self, input: Input, done: Completion) {
        if let Input::Chunk(bytes) = input {
            done.push(bytes);
        }
        done.done(Ok(()));
    }

    fn flush(&mut self, done: Completion) {
        done.done(Ok(()));
    }
}

/// How a [`TransformLogic`] call reports back: `push` output (any number
/// of times), then `done` once. Tied to the one call it was given to: a
/// completion of a stream destroyed meanwhile does nothing.
///
/// ```
/// # use nodelike::stream::{Completion, Input, TransformLogic};
/// # struct Twice;
/// # impl TransformLogic for Twice {
/// fn transform(&mut self, input: Input, done: Completion) {
///     if let Input::Chunk(bytes) = input {
///         done.push(bytes.clone());
///         done.push(bytes);
///     }
///     done.done(Ok(()));
/// }
/// # fn flush(&mut self, done: Completion) { done.done(Ok(())) }
/// # }
/// ```
#[derive(Debug)]
pub struct Completion {
    stream: Transform,
    op: u64,
}

impl Completion {
    /// The stream this call belongs to.
    ///
    /// ```
    /// # use nodelike::stream::{Completion, Writable};
    /// # fn f(done: Completion) {
    /// let queued = done.stream().writable_length();
    /// # }
    /// ```
    pub fn stream(&self) -> Transform {
        self.stream
    }

    /// Adds output to the readable side (Node's `this.push(chunk)`).
    /// Empty chunks are ignored, as Node ignores them on byte streams.
    ///
    /// ```
    /// # use nodelike::stream::Completion;
    /// # fn f(done: Completion) {
    /// done.push("some output");
    /// done.push(vec![1u8, 2, 3]);
    /// # }
    /// ```
    pub fn push(&self, bytes: impl Into<Vec<u8>>) {
        let bytes = bytes.into();
        if bytes.is_empty() {
            return;
        }
        let stray = with_rec(self.stream, |r| {
            if r.life != Life::Alive || !r.op.is(self.op) {
                return Some(bytes);
            }
            r.readable_length += bytes.len();
            r.out.push_back(bytes);
            None
        })
        .flatten();
        if let Some(stray) = stray {
            runtime::give_buf(stray);
        }
    }

    /// Finishes the call: `Ok` hands the next input over (or ends the
    /// stream, after the final flush); `Err` destroys the stream with it
    /// (`error`, then `close`).
    ///
    /// ```
    /// # use nodelike::stream::Completion;
    /// # fn f(done: Completion) {
    /// done.done(Ok(()));
    /// # }
    /// ```
    pub fn done(self, result: Result<(), Error>) {
        self.finish(result, None);
    }

    /// Finishes the call having used only part of its chunk: `rest` goes
    /// back to the front of the queue, and is handed over again once the
    /// readable side has room (how zlib keeps a decompression's output
    /// bounded by the back-pressure, not by the input's ratio). An empty
    /// `rest` asks for a call with no input, to give held output.
    pub(crate) fn done_with_rest(self, rest: Vec<u8>) {
        self.finish(Ok(()), Some(rest));
    }

    fn finish(self, result: Result<(), Error>, rest: Option<Vec<u8>>) {
        let t = self.stream;
        let after = with_rec(t, |r| {
            if r.life != Life::Alive || !r.op.is(self.op) {
                return None;
            }
            let Op::Busy { bytes, kind, .. } = std::mem::replace(&mut r.op, Op::Idle) else {
                return None;
            };
            let mut after = After::default();
            let rest_len = rest.as_ref().map_or(0, Vec::len);
            r.writable_length = r.writable_length.saturating_sub(bytes) + rest_len;
            // An empty rest still comes back: the logic has output left
            // to give without more input.
            if let Some(rest) = rest {
                r.queue.push_front(Entry::Chunk(rest));
            }
            if let Err(e) = result {
                after.error = Some(e);
                after.callback = kind.callback();
                return Some(after);
            }
            match kind {
                OpKind::Chunk => {}
                OpKind::SyncFlush(callback) => after.callback = callback,
                OpKind::Final => {
                    // Node's final: push(null), then `finish` (which the
                    // pump schedules after `end`, if `end` is due now).
                    r.read_side = ReadSide::EofPushed;
                    if r.write_side == WriteSide::Finalizing {
                        r.write_side = WriteSide::FinalDone;
                    }
                }
            }
            if r.drain == Drain::Needed && r.writable_length == 0 {
                r.drain = Drain::Scheduled;
                after.drain = true;
            }
            Some(after)
        })
        .flatten();
        let Some(after) = after else { return };
        if let Some(e) = after.error {
            runtime::bury(after.callback);
            t.destroy_with(Some(e));
            return;
        }
        if let Some(callback) = after.callback {
            crate::next_tick(callback);
        }
        if after.drain {
            crate::next_tick(move || t.emit_drain());
        }
        pump(t);
    }
}

/// What a completed call leads to, decided inside the borrow.
#[derive(Default)]
struct After {
    drain: bool,
    callback: Option<Box<dyn FnOnce()>>,
    error: Option<Error>,
}

// ------------------------------------------------------------------ the record

/// The writable side's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriteSide {
    /// Writes are taken.
    Open,
    /// `end()` was called; queued chunks are still being transformed.
    Ending,
    /// The logic's final flush is running.
    Finalizing,
    /// The final flush is done; the pump schedules `finish` (after `end`,
    /// when the reader took everything: Node's order).
    FinalDone,
    /// `finish` is on the next tick.
    FinishScheduled,
    /// `finish` was emitted.
    Finished,
}

/// The readable side's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadSide {
    /// Output may still come.
    Open,
    /// No more output will come (Node's `push(null)`); some may be
    /// buffered still.
    EofPushed,
    /// Everything was read; `end` is on the next tick.
    EndScheduled,
    /// `end` was emitted.
    Ended,
}

/// Whether output is emitted as `data` (Node's `readableFlowing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    /// Nobody asked for data yet (`readableFlowing === null`): output
    /// waits in the buffer.
    Initial,
    /// Output goes to the `data` listeners as it comes.
    Flowing,
    /// `pause()`: output waits in the buffer.
    Paused,
}

/// The stream as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Life {
    Alive,
    /// `destroy` was called: `error` (if any) and `close` are on the next
    /// tick, and nothing else happens.
    Destroyed,
}

/// Whether `drain` is owed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Drain {
    /// No `write` returned `false` since the last `drain`.
    NotNeeded,
    /// A `write` returned `false`: `drain` once the queue empties.
    Needed,
    /// `drain` is on the next tick.
    Scheduled,
}

/// Whether `pump` is running for this stream (calls made meanwhile leave
/// the work to it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pump {
    Still,
    Running,
}

/// What the logic is doing.
enum Op {
    Idle,
    /// A call is out: its id (so a stale completion is ignored), the bytes
    /// of its chunk (counted in `writable_length` until done) and what it
    /// was.
    Busy {
        id: u64,
        bytes: usize,
        kind: OpKind,
    },
}

impl Op {
    fn is(&self, op: u64) -> bool {
        matches!(*self, Op::Busy { id, .. } if id == op)
    }
}

enum OpKind {
    Chunk,
    /// A flush point, with the callback of `Transform::flush`.
    SyncFlush(Option<Box<dyn FnOnce()>>),
    /// The final flush, at `end()`.
    Final,
}

impl OpKind {
    fn callback(self) -> Option<Box<dyn FnOnce()>> {
        match self {
            OpKind::SyncFlush(callback) => callback,
            _ => None,
        }
    }
}

/// A queued write.
enum Entry {
    Chunk(Vec<u8>),
    Flush(Option<Box<dyn FnOnce()>>),
}

struct Record {
    gen: u32,
    /// Taken out while a call runs (never borrowed across user code).
    logic: Option<Box<dyn TransformLogic>>,
    queue: VecDeque<Entry>,
    /// Bytes queued or being transformed (Node's `writableLength`).
    writable_length: usize,
    corked: u32,
    op: Op,
    next_op: u64,
    write_side: WriteSide,
    drain: Drain,
    out: VecDeque<Vec<u8>>,
    /// Bytes pushed and not yet emitted (Node's `readableLength`).
    readable_length: usize,
    flow: Flow,
    read_side: ReadSide,
    life: Life,
    pump: Pump,
    on_data: Listeners<dyn FnMut(Chunk<'_>)>,
    on_end: Listeners<dyn FnMut()>,
    on_finish: Listeners<dyn FnMut()>,
    on_drain: Listeners<dyn FnMut()>,
    on_close: Listeners<dyn FnMut()>,
    on_error: Listeners<dyn FnMut(&Error)>,
}

thread_local! {
    static TRANSFORMS: RefCell<slab::Slab<Record>> = const { RefCell::new(slab::Slab::new()) };
}

/// Runs `f` on `t`'s record; `None` if it is gone (closed, or the thread
/// is ending).
fn with_rec<R>(t: Transform, f: impl FnOnce(&mut Record) -> R) -> Option<R> {
    TRANSFORMS
        .try_with(|cell| {
            let mut slab = cell.try_borrow_mut().expect(
                "nodelike: a Transform's state was entered re-entrantly (a bug in nodelike)",
            );
            match slab.get_mut(t.key as usize) {
                Some(r) if r.gen == t.gen => Some(f(r)),
                _ => None,
            }
        })
        .ok()
        .flatten()
}

/// What the pump does next, decided inside the borrow.
enum Step {
    Data(Vec<u8>),
    Run(Box<dyn TransformLogic>, Input, Completion),
    Final(Box<dyn TransformLogic>, Completion),
    Idle,
}

impl Record {
    fn next_step(&mut self, t: Transform) -> Step {
        if self.life != Life::Alive {
            return Step::Idle;
        }
        if self.flow == Flow::Flowing {
            if let Some(bytes) = self.out.pop_front() {
                self.readable_length -= bytes.len();
                return Step::Data(bytes);
            }
        }
        // Node's Transform holds the next chunk while the readable side is
        // at its mark: a consumer that stops reading stops the work.
        let room = self.readable_length < DEFAULT_HIGH_WATER_MARK;
        if matches!(self.op, Op::Idle) && room && self.logic.is_some() {
            let corked = self.corked > 0 && self.write_side == WriteSide::Open;
            if !corked {
                if let Some(entry) = self.queue.pop_front() {
                    let id = self.next_op;
                    self.next_op += 1;
                    let (input, bytes, kind) = match entry {
                        Entry::Chunk(bytes) => {
                            let n = bytes.len();
                            (Input::Chunk(bytes), n, OpKind::Chunk)
                        }
                        Entry::Flush(callback) => (Input::Flush, 0, OpKind::SyncFlush(callback)),
                    };
                    self.op = Op::Busy { id, bytes, kind };
                    let logic = self.logic.take().expect("checked above");
                    return Step::Run(logic, input, Completion { stream: t, op: id });
                }
            }
            if self.queue.is_empty() && self.write_side == WriteSide::Ending {
                let id = self.next_op;
                self.next_op += 1;
                let logic = self.logic.take().expect("checked above");
                if logic.finish_before_flush() {
                    self.write_side = WriteSide::FinishScheduled;
                    crate::next_tick(move || t.emit_finish());
                } else {
                    self.write_side = WriteSide::Finalizing;
                }
                self.op = Op::Busy {
                    id,
                    bytes: 0,
                    kind: OpKind::Final,
                };
                return Step::Final(logic, Completion { stream: t, op: id });
            }
        }
        if self.read_side == ReadSide::EofPushed
            && self.out.is_empty()
            && self.flow == Flow::Flowing
        {
            // Node's endReadable: `end` on the next tick, once all was read.
            self.read_side = ReadSide::EndScheduled;
            crate::next_tick(move || t.emit_end());
        }
        if self.write_side == WriteSide::FinalDone {
            self.write_side = WriteSide::FinishScheduled;
            crate::next_tick(move || t.emit_finish());
        }
        Step::Idle
    }
}

/// Sets the pump back to still when it returns, or unwinds from a
/// listener's panic (the stream stays usable, as a Node stream does after
/// a throwing listener).
struct PumpExit(Transform);

impl Drop for PumpExit {
    fn drop(&mut self) {
        with_rec(self.0, |r| r.pump = Pump::Still);
    }
}

/// Moves the stream along until there is nothing to do now: emits buffered
/// output while flowing, hands queued chunks to the logic while the
/// readable side has room, runs the final flush after `end`.
fn pump(t: Transform) {
    let entered = with_rec(t, |r| {
        if r.pump == Pump::Running || r.life != Life::Alive {
            return false;
        }
        r.pump = Pump::Running;
        true
    })
    .unwrap_or(false);
    if !entered {
        return;
    }
    let _exit = PumpExit(t);
    loop {
        match with_rec(t, |r| r.next_step(t)).unwrap_or(Step::Idle) {
            Step::Idle => return,
            Step::Data(bytes) => {
                emit(
                    |f| with_rec(t, |r| f(&mut r.on_data)).is_some(),
                    |l| l(Chunk::Bytes(&bytes)),
                );
                runtime::give_buf(bytes);
            }
            Step::Run(logic, input, done) => {
                // The guard puts the logic back even if it panics.
                let mut call = Restore(t, Some(logic));
                if let Some(logic) = call.1.as_mut() {
                    logic.transform(input, done);
                }
            }
            Step::Final(logic, done) => {
                let mut call = Restore(t, Some(logic));
                if let Some(logic) = call.1.as_mut() {
                    logic.flush(done);
                }
            }
        }
    }
}

/// Puts the logic back into its record after a call (or buries it, if the
/// stream was destroyed meanwhile).
struct Restore(Transform, Option<Box<dyn TransformLogic>>);

impl Drop for Restore {
    fn drop(&mut self) {
        let Some(logic) = self.1.take() else { return };
        let mut logic = Some(logic);
        with_rec(self.0, |r| {
            if r.life == Life::Alive {
                r.logic = logic.take();
            }
        });
        if let Some(logic) = logic {
            runtime::bury(logic);
        }
    }
}

// ------------------------------------------------------------------ the handle

impl Transform {
    /// A Transform whose work is `fns` (the synchronous form).
    ///
    /// ```
    /// use nodelike::stream::{Transform, TransformFns};
    /// let rot13 = Transform::new(TransformFns {
    ///     transform: |chunk: &[u8], out: &mut Vec<u8>| {
    ///         out.extend(chunk.iter().map(|&b| match b {
    ///             b'a'..=b'z' => (b - b'a' + 13) % 26 + b'a',
    ///             b'A'..=b'Z' => (b - b'A' + 13) % 26 + b'A',
    ///             _ => b,
    ///         }));
    ///         Ok(())
    ///     },
    ///     flush: |_: &mut Vec<u8>| Ok(()),
    /// });
    /// # let _ = rot13;
    /// ```
    pub fn new<T, F>(fns: TransformFns<T, F>) -> Transform
    where
        T: FnMut(&[u8], &mut Vec<u8>) -> Result<(), Error> + 'static,
        F: FnMut(&mut Vec<u8>) -> Result<(), Error> + 'static,
    {
        Transform::with_logic(fns)
    }

    /// A Transform whose work may finish later (see [`TransformLogic`]).
    ///
    /// ```
    /// use nodelike::stream::{Completion, Input, Transform, TransformLogic};
    /// struct Drop0;
    /// impl TransformLogic for Drop0 {
    ///     fn transform(&mut self, input: Input, done: Completion) {
    ///         if let Input::Chunk(b) = input {
    ///             done.push(b.into_iter().filter(|&x| x != 0).collect::<Vec<u8>>());
    ///         }
    ///         done.done(Ok(()));
    ///     }
    ///     fn flush(&mut self, done: Completion) { done.done(Ok(())) }
    /// }
    /// let t = Transform::with_logic(Drop0);
    /// # let _ = t;
    /// ```
    pub fn with_logic(logic: impl TransformLogic) -> Transform {
        let gen = runtime::next_gen();
        let record = Record {
            gen,
            logic: Some(Box::new(logic)),
            queue: VecDeque::new(),
            writable_length: 0,
            corked: 0,
            op: Op::Idle,
            next_op: 1,
            write_side: WriteSide::Open,
            drain: Drain::NotNeeded,
            out: VecDeque::new(),
            readable_length: 0,
            flow: Flow::Initial,
            read_side: ReadSide::Open,
            life: Life::Alive,
            pump: Pump::Still,
            on_data: Listeners::default(),
            on_end: Listeners::default(),
            on_finish: Listeners::default(),
            on_drain: Listeners::default(),
            on_close: Listeners::default(),
            on_error: Listeners::default(),
        };
        let key = TRANSFORMS
            .try_with(|cell| cell.borrow_mut().insert(record))
            .expect("nodelike: the loop of this thread has ended");
        Transform {
            key: u32::try_from(key).expect("fewer than 2^32 streams"),
            gen,
            _loop: LoopBound::default(),
        }
    }

    /// A Transform that passes every chunk on as it is (Node's
    /// `new stream.PassThrough()`).
    ///
    /// ```
    /// use nodelike::stream::{Readable, Transform, Writable};
    /// let p = Transform::pass_through();
    /// p.on_data(|chunk| assert_eq!(&*chunk, b"as is"));
    /// p.end("as is");
    /// nodelike::run();
    /// ```
    #[doc(alias = "PassThrough")]
    pub fn pass_through() -> Transform {
        Transform::with_logic(PassThroughLogic)
    }

    /// Queues a flush point after the chunks written so far; `callback`
    /// runs once the logic has pushed everything it held back (zlib's
    /// `flush(Z_SYNC_FLUSH, callback)`; for synchronous logic it is only a
    /// marker).
    ///
    /// ```
    /// use nodelike::stream::Writable;
    /// let gzip = nodelike::zlib::create_gzip(Default::default());
    /// gzip.write("event: tick\n\n");
    /// gzip.flush(|| println!("the event is out"));
    /// ```
    pub fn flush(&self, callback: impl FnOnce() + 'static) {
        let mut callback: Option<Box<dyn FnOnce()>> = Some(Box::new(callback));
        let queued = with_rec(*self, |r| {
            if r.life != Life::Alive || r.write_side != WriteSide::Open {
                return false;
            }
            r.queue.push_back(Entry::Flush(callback.take()));
            true
        });
        if queued == Some(true) {
            pump(*self);
        } else if let Some(callback) = callback {
            // Nothing left to flush on an ended or gone stream: the
            // callback runs on the next tick, as Node's does.
            crate::next_tick(callback);
        }
    }

    /// Bytes pushed and not yet read (Node's `readableLength`).
    ///
    /// ```
    /// use nodelike::stream::{Readable, Transform, Writable};
    /// let p = Transform::pass_through();
    /// p.pause();
    /// p.write("abc");
    /// assert_eq!(p.readable_length(), 3);
    /// ```
    pub fn readable_length(&self) -> usize {
        with_rec(*self, |r| r.readable_length).unwrap_or(0)
    }

    /// Adds a listener, or drops it outside every borrow if the stream is
    /// gone.
    fn listen<F: ?Sized + 'static>(
        &self,
        f: Box<F>,
        list: impl FnOnce(&mut Record) -> &mut Listeners<F>,
    ) {
        let mut f = Some(f);
        with_rec(*self, |r| list(r).push(f.take().expect("once")));
        if let Some(f) = f {
            runtime::bury(f);
        }
    }

    fn emit_plain(&self, list: fn(&mut Record) -> &mut Listeners<dyn FnMut()>) {
        let t = *self;
        emit(|f| with_rec(t, |r| f(list(r))).is_some(), |l| l());
    }

    fn emit_drain(&self) {
        let go = with_rec(*self, |r| {
            let go = r.life == Life::Alive && r.drain == Drain::Scheduled;
            if go {
                r.drain = Drain::NotNeeded;
            }
            go
        });
        if go == Some(true) {
            self.emit_plain(|r| &mut r.on_drain);
        }
    }

    fn emit_finish(&self) {
        let go = with_rec(*self, |r| {
            let go = r.life == Life::Alive && r.write_side == WriteSide::FinishScheduled;
            if go {
                r.write_side = WriteSide::Finished;
            }
            go
        });
        if go == Some(true) {
            self.emit_plain(|r| &mut r.on_finish);
            self.autodestroy();
        }
    }

    fn emit_end(&self) {
        let go = with_rec(*self, |r| {
            let go = r.life == Life::Alive && r.read_side == ReadSide::EndScheduled;
            if go {
                r.read_side = ReadSide::Ended;
            }
            go
        });
        if go == Some(true) {
            self.emit_plain(|r| &mut r.on_end);
            self.autodestroy();
        }
    }

    /// Node's `autoDestroy`: once both sides are done, the stream closes.
    fn autodestroy(&self) {
        let done = with_rec(*self, |r| {
            r.write_side == WriteSide::Finished && r.read_side == ReadSide::Ended
        });
        if done == Some(true) {
            self.destroy_with(None);
        }
    }

    fn destroy_with(&self, error: Option<Error>) {
        let t = *self;
        let dead = with_rec(t, |r| {
            if r.life != Life::Alive {
                return None;
            }
            r.life = Life::Destroyed;
            r.writable_length = 0;
            r.readable_length = 0;
            r.corked = 0;
            let op = std::mem::replace(&mut r.op, Op::Idle);
            Some((
                std::mem::take(&mut r.queue),
                std::mem::take(&mut r.out),
                r.logic.take(),
                op,
            ))
        })
        .flatten();
        let Some(dead) = dead else { return };
        // Queued flush callbacks and the logic are user code: dropped
        // outside the borrow.
        runtime::bury(dead);
        crate::next_tick(move || {
            if let Some(e) = error {
                let heard = emit(|f| with_rec(t, |r| f(&mut r.on_error)).is_some(), |l| l(&e));
                if !heard {
                    e.report_unhandled("Transform", "Transform::on_error");
                }
            }
            t.emit_plain(|r| &mut r.on_close);
            // The record goes with its listeners, outside the borrow.
            let record = TRANSFORMS
                .try_with(|cell| {
                    let mut slab = cell.borrow_mut();
                    match slab.get(t.key as usize) {
                        Some(r) if r.gen == t.gen => Some(slab.remove(t.key as usize)),
                        _ => None,
                    }
                })
                .ok()
                .flatten();
            runtime::bury(record);
        });
    }
}

impl Stream for Transform {
    /// Destroys the stream: queued and buffered bytes are dropped, work in
    /// flight is ignored when it comes back, `error` (with `error`, if
    /// given) and `close` follow on the next tick.
    fn destroy(&self, error: Option<Error>) {
        self.destroy_with(error);
    }

    /// `true` from the `destroy` call (or the error that caused it) on; a
    /// handle whose stream closed answers `true` too.
    fn destroyed(&self) -> bool {
        with_rec(*self, |r| r.life != Life::Alive).unwrap_or(true)
    }

    fn on_error(&self, f: impl FnMut(&Error) + 'static) {
        self.listen(Box::new(f) as Box<dyn FnMut(&Error)>, |r| &mut r.on_error);
    }

    fn on_close(&self, f: impl FnMut() + 'static) {
        self.listen(Box::new(f) as Box<dyn FnMut()>, |r| &mut r.on_close);
    }

    fn end_of_stream(&self, callback: Box<dyn FnOnce(Option<Error>)>) {
        EndOfStream::duplex(*self, callback);
    }
}

impl Readable for Transform {
    /// Adds a `data` listener; the first one starts the flow (on the next
    /// tick, as Node's `resume`), unless the stream was paused.
    fn on_data(&self, f: impl FnMut(Chunk<'_>) + 'static) {
        self.listen(Box::new(f) as Box<dyn for<'a> FnMut(Chunk<'a>)>, |r| {
            &mut r.on_data
        });
        let start = with_rec(*self, |r| {
            let start = r.flow == Flow::Initial;
            if start {
                r.flow = Flow::Flowing;
            }
            start
        });
        if start == Some(true) {
            let t = *self;
            crate::next_tick(move || pump(t));
        }
    }

    fn on_end(&self, f: impl FnMut() + 'static) {
        self.listen(Box::new(f) as Box<dyn FnMut()>, |r| &mut r.on_end);
    }

    fn pause(&self) {
        with_rec(*self, |r| r.flow = Flow::Paused);
    }

    fn resume(&self) {
        let changed = with_rec(*self, |r| {
            let changed = r.flow != Flow::Flowing;
            r.flow = Flow::Flowing;
            changed
        });
        if changed == Some(true) {
            let t = *self;
            crate::next_tick(move || pump(t));
        }
    }

    fn is_paused(&self) -> bool {
        with_rec(*self, |r| r.flow == Flow::Paused).unwrap_or(false)
    }

    fn readable_ended(&self) -> bool {
        with_rec(*self, |r| r.read_side == ReadSide::Ended).unwrap_or(false)
    }
}

/// What a `write` found.
enum Accepted {
    Queued(bool),
    AfterEnd,
    Destroyed,
}

impl Writable for Transform {
    /// Queues a chunk and hands it to the logic if it is idle. Returns
    /// `false` once the queue holds 16 KiB or more (`drain` follows when
    /// it empties). A write after `end` destroys the stream with
    /// `ERR_STREAM_WRITE_AFTER_END`; one after `destroy` is dropped.
    fn write(&self, chunk: impl IntoChunk) -> bool {
        let bytes = chunk.chunk_bytes();
        let accepted = with_rec(*self, |r| {
            if r.life != Life::Alive {
                return Accepted::Destroyed;
            }
            if r.write_side != WriteSide::Open {
                return Accepted::AfterEnd;
            }
            if !bytes.is_empty() {
                let mut copy = runtime::take_buf();
                copy.extend_from_slice(bytes);
                r.queue.push_back(Entry::Chunk(copy));
                r.writable_length += bytes.len();
            }
            let below = r.writable_length < DEFAULT_HIGH_WATER_MARK;
            if !below && r.drain == Drain::NotNeeded {
                r.drain = Drain::Needed;
            }
            Accepted::Queued(below)
        })
        .unwrap_or(Accepted::Destroyed);
        match accepted {
            Accepted::Queued(below) => {
                pump(*self);
                below
            }
            Accepted::AfterEnd => {
                self.destroy_with(Some(Error::new(
                    ErrorKind::WriteAfterEnd,
                    "write after end",
                )));
                false
            }
            Accepted::Destroyed => false,
        }
    }

    fn end(&self, chunk: impl IntoChunk) {
        if !chunk.chunk_bytes().is_empty() {
            self.write(chunk);
        }
        let ended = with_rec(*self, |r| {
            if r.life != Life::Alive || r.write_side != WriteSide::Open {
                return false;
            }
            // Node's end() uncorks fully.
            r.corked = 0;
            r.write_side = WriteSide::Ending;
            true
        });
        if ended == Some(true) {
            pump(*self);
        }
    }

    fn on_drain(&self, f: impl FnMut() + 'static) {
        self.listen(Box::new(f) as Box<dyn FnMut()>, |r| &mut r.on_drain);
    }

    fn on_finish(&self, f: impl FnMut() + 'static) {
        self.listen(Box::new(f) as Box<dyn FnMut()>, |r| &mut r.on_finish);
    }

    fn cork(&self) {
        with_rec(*self, |r| {
            if r.life == Life::Alive && r.write_side == WriteSide::Open {
                r.corked += 1;
            }
        });
    }

    fn uncork(&self) {
        let go = with_rec(*self, |r| {
            if r.corked == 0 {
                return false;
            }
            r.corked -= 1;
            r.corked == 0
        });
        if go == Some(true) {
            pump(*self);
        }
    }

    fn writable_ended(&self) -> bool {
        with_rec(*self, |r| r.write_side != WriteSide::Open).unwrap_or(false)
    }

    fn writable_finished(&self) -> bool {
        with_rec(*self, |r| r.write_side == WriteSide::Finished).unwrap_or(false)
    }

    fn writable_length(&self) -> usize {
        with_rec(*self, |r| r.writable_length).unwrap_or(0)
    }

    fn writable_high_water_mark(&self) -> usize {
        DEFAULT_HIGH_WATER_MARK
    }
}
