//! The event loop, the lowest layer: one per thread, created on first use,
//! driven by [`run`].
//!
//! The runtime knows tokens, timers, queued work and threads, and nothing
//! of sockets or HTTP (`tests/layering.rs` checks that). The layers above
//! reach it through functions ([`schedule`], [`defer`], [`cork`],
//! [`register`], ...) and it calls them back only through what they handed
//! it: [`Work`] values and [`IoHandler`]s, always with no state borrowed.
//!
//! Its state lives in thread-locals, so `http::create_server(...)` works
//! before anything runs, exactly as in Node, and handles need no pointer:
//! a handle is a key and a generation. Each layer keeps its own state in a
//! thread-local of its own and borrows it for the length of a closure that
//! never calls user code or a higher layer; while it holds its borrow it may
//! call *down* (into this module's functions), never up. So no borrow is
//! ever taken twice, and user callbacks run only between borrows.

pub(crate) mod arena;
mod io;
// Used by `fs` and `zlib` (landing next).
pub(crate) mod listeners;
pub(crate) mod pool;
mod remote;
pub(crate) mod signals;
mod timers;
mod work;

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

pub(crate) use io::{IoHandler, Readiness, SourceKey};
pub use remote::Remote;
use timers::{Callback, Timers};
pub(crate) use work::{Task, Work};

/// The token of the loop's `mio::Waker` (the remote handle).
const WAKER_TOKEN: Token = Token(usize::MAX);

/// Spare byte buffers kept for reuse, at most this many.
const POOL_MAX: usize = 1024;
/// Buffers larger than this are freed rather than pooled, so one big
/// response does not pin its memory forever.
const POOL_BUF_MAX: usize = 256 * 1024;

/// The state of one thread's loop.
struct Runtime {
    poll: Poll,
    /// Taken out while `run` polls.
    events: Option<Events>,
    sources: io::Sources,
    timers: Timers,
    /// `next_tick` callbacks and deferred work, run before the next poll.
    tasks: VecDeque<Task>,
    /// Work to run at the end of the current phase (corked writes).
    corked: Vec<Work>,
    /// The remote handle's queue and waker, made on first use.
    remote: Option<Arc<remote::Shared>>,
}

impl Runtime {
    fn new() -> Runtime {
        Runtime {
            poll: Poll::new().expect("nodelike: cannot create the OS poller (epoll/kqueue)"),
            events: Some(Events::with_capacity(1024)),
            sources: io::Sources::default(),
            timers: Timers::default(),
            tasks: VecDeque::new(),
            corked: Vec::new(),
            remote: None,
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(shared) = &self.remote {
            shared.close();
        }
    }
}

thread_local! {
    static RUNTIME: RefCell<Runtime> = RefCell::new(Runtime::new());
    /// "Now" for this loop turn: the time the last poll returned.
    static NOW: Cell<Instant> = Cell::new(Instant::now());
    /// Generations for records of every layer (a stale handle's generation
    /// never matches a reused slot's).
    static GENERATION: Cell<u32> = const { Cell::new(0) };
    /// Things that keep `run` going: open sockets, listening servers,
    /// name resolutions in flight (Node's ref'd handles).
    static REFS: Cell<usize> = const { Cell::new(0) };
    /// Spare byte buffers, so idle connections hold none and busy ones
    /// allocate none.
    static POOL: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
    /// Values holding user closures, dropped outside every borrow (a
    /// closure's `Drop` is user code too).
    static GRAVEYARD: RefCell<Vec<Box<dyn Any>>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with the runtime's state borrowed; `None` while the
/// thread-local is being destroyed (a closure dropped then must not reach
/// for a loop that no longer exists).
fn with_rt<R>(f: impl FnOnce(&mut Runtime) -> R) -> Option<R> {
    RUNTIME
        .try_with(|cell| {
            let mut rt = cell
                .try_borrow_mut()
                .expect("nodelike: the runtime was entered re-entrantly (a bug in nodelike)");
            f(&mut rt)
        })
        .ok()
}

// ------------------------------------------------------------------ services

/// Marks a handle as belonging to the loop of the thread that made it: it
/// makes the handle neither `Send` nor `Sync`, so moving a `Server` or a
/// `Socket` to another thread (where it would name that thread's records)
/// is a compile error, not a silent mix-up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub(crate) struct LoopBound(std::marker::PhantomData<*const ()>);

/// The time the last poll returned: "now" for this loop turn.
pub(crate) fn now() -> Instant {
    NOW.try_with(Cell::get).unwrap_or_else(|_| Instant::now())
}

/// Sets "now" to the clock (for work driven outside the loop, such as an
/// in-memory connection's).
pub(crate) fn refresh_now() {
    let _ = NOW.try_with(|n| n.set(Instant::now()));
}

/// A fresh generation for a new record (31 bits, never 0).
pub(crate) fn next_gen() -> u32 {
    GENERATION
        .try_with(|g| {
            let next = (g.get().wrapping_add(1) & 0x7fff_ffff).max(1);
            g.set(next);
            next
        })
        .unwrap_or(1)
}

/// Something that keeps the loop alive started (a socket opened, a server
/// listens, a lookup began).
pub(crate) fn add_ref() {
    let _ = REFS.try_with(|r| r.set(r.get() + 1));
}

/// Something that kept the loop alive ended.
pub(crate) fn release_ref() {
    let _ = REFS.try_with(|r| r.set(r.get().saturating_sub(1)));
}

/// A byte buffer from the pool (or a new, empty one).
pub(crate) fn take_buf() -> Vec<u8> {
    POOL.try_with(|p| p.borrow_mut().pop())
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Returns a buffer to the pool (huge ones, and any beyond the pool's
/// size, are freed).
pub(crate) fn give_buf(mut buf: Vec<u8>) {
    if buf.capacity() == 0 || buf.capacity() > POOL_BUF_MAX {
        return;
    }
    buf.clear();
    let _ = POOL.try_with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < POOL_MAX {
            p.push(buf);
        }
    });
}

/// Queues `value` to be dropped outside every borrow (it holds user
/// closures).
pub(crate) fn bury<T: 'static>(value: T) {
    let _ = GRAVEYARD.try_with(|g| g.borrow_mut().push(Box::new(value)));
}

/// Drops what records being freed left in the graveyard.
pub(crate) fn bury_dead() {
    loop {
        let dead = GRAVEYARD
            .try_with(|g| std::mem::take(&mut *g.borrow_mut()))
            .unwrap_or_default();
        if dead.is_empty() {
            return;
        }
        drop(dead);
    }
}

/// Runs `work` once `at` has passed.
pub(crate) fn schedule(at: Instant, work: Work) {
    with_rt(|rt| rt.timers.push(at, work));
}

/// Runs `work` at the start of the next loop turn, before any I/O (where
/// Node runs its `close` events and `nextTick` queue).
pub(crate) fn defer(work: Work) {
    with_rt(|rt| rt.tasks.push_back(Task::Call(work)));
}

/// Runs `work` at the end of the current phase of the turn: after the
/// readiness events of this poll, or after the deferred item or timer being
/// run. Writes are corked this way, so the responses to a batch of
/// pipelined requests leave in one `write`.
pub(crate) fn cork(work: Work) {
    with_rt(|rt| rt.corked.push(work));
}

/// Registers an I/O source for both directions (mio is edge-triggered, so
/// interest never changes per request: no `epoll_ctl` per request).
/// `handler.ready(ctx, ..)` is called on its readiness.
pub(crate) fn register(
    source: &mut dyn mio::event::Source,
    interest: Interest,
    handler: &'static IoHandler,
    ctx: u64,
) -> std::io::Result<SourceKey> {
    with_rt(|rt| {
        let Runtime { poll, sources, .. } = rt;
        sources.register(poll.registry(), source, interest, handler, ctx)
    })
    .unwrap_or_else(|| Err(std::io::ErrorKind::NotConnected.into()))
}

/// Stops readiness for a source registered with [`register`].
pub(crate) fn deregister(source: &mut dyn mio::event::Source, key: SourceKey) {
    with_rt(|rt| {
        let Runtime { poll, sources, .. } = rt;
        sources.deregister(poll.registry(), source, key);
    });
}

/// A handle to this thread's loop that other threads can post work to
/// (see [`Remote`]).
///
/// ```
/// let handle = nodelike::remote();
/// std::thread::spawn(move || handle.post(|| println!("on the loop"))).join().unwrap();
/// nodelike::run(); // runs the posted closure, then returns
/// ```
///
/// # Panics
///
/// If the OS cannot make the loop's wake-up descriptor (an eventfd).
pub fn remote() -> Remote {
    let shared = with_rt(|rt| {
        if rt.remote.is_none() {
            let waker = mio::Waker::new(rt.poll.registry(), WAKER_TOKEN)
                .expect("nodelike: cannot create the loop's waker");
            rt.remote = Some(Arc::new(remote::Shared::new(waker)));
        }
        rt.remote.clone()
    })
    .flatten()
    .expect("nodelike: the loop of this thread has ended");
    Remote { shared }
}

// ------------------------------------------------------------------ the loop

/// Runs the event loop until nothing is left to wait for: no listening
/// server, open socket, pending timer (but an [unref'd](Timer::unref) one)
/// or `next_tick` callback (Node's rule for when a process exits).
///
/// ```no_run
/// use nodelike::http;
/// let server = http::create_server(|_req, res| res.end("hi\n"));
/// server.listen(8000, "127.0.0.1", || println!("listening"));
/// nodelike::run();
/// ```
///
/// # Panics
///
/// A panic in a user callback comes out of `run`, as an uncaught exception
/// ends a Node process. Before it does, the loop contains it: the socket the
/// callback ran for (if any) is destroyed, since its exchange stopped
/// half-way, and the rest of that loop turn's work is done, so no readiness
/// is lost. The runtime's state stays whole, and calling `run` again (after
/// `std::panic::catch_unwind`, Node's `uncaughtException` handler) goes on
/// serving every other connection. Calling `run` from inside a callback
/// does nothing.
///
/// ```no_run
/// // Keep serving through panics, logging each (not Node's default).
/// while let Err(panic) = std::panic::catch_unwind(nodelike::run) {
///     eprintln!("a callback panicked: {panic:?}");
/// }
/// ```
pub fn run() {
    let Some(Some(mut events)) = with_rt(|rt| rt.events.take()) else {
        log::warn!("nodelike::run called while the loop is already running; ignored");
        return;
    };
    log::trace!("loop: start");
    let mut panicked = None;
    loop {
        if let Some(payload) = panicked.take() {
            with_rt(|rt| rt.events = Some(events));
            log::trace!("loop: a callback panicked; run unwinds");
            std::panic::resume_unwind(payload);
        }
        run_tasks_contained(&mut panicked);
        // Writes made outside any loop work (before `run`, or between two
        // calls of it) are flushed before the loop sleeps.
        flush_corked(&mut panicked);
        let refs = REFS.try_with(Cell::get).unwrap_or(0);
        let Some((alive, timeout)) = with_rt(|rt| {
            let remote_tasks = rt.remote.as_ref().is_some_and(|r| r.has_tasks());
            let alive = refs > 0
                || rt.timers.has_refed_user_timers()
                || !rt.tasks.is_empty()
                || remote_tasks;
            let timeout = if !rt.tasks.is_empty() || remote_tasks {
                Some(Duration::ZERO)
            } else {
                rt.timers
                    .next_deadline()
                    .map(|at| at.saturating_duration_since(Instant::now()))
            };
            (alive, timeout)
        }) else {
            break;
        };
        if !alive {
            break;
        }
        let polled = with_rt(|rt| rt.poll.poll(&mut events, timeout));
        refresh_now();
        match polled {
            Some(Ok(())) => {}
            Some(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Some(Err(e)) => panic!("nodelike: poll failed: {e}"),
            None => break,
        }
        for event in events.iter() {
            dispatch(&mut panicked, event);
        }
        fire_timers(&mut panicked);
        flush_corked(&mut panicked);
        bury_dead();
    }
    with_rt(|rt| rt.events = Some(events));
    // A panic from the last turn's work (a `next_tick` callback, say) goes
    // on even though nothing else is left to do.
    if let Some(payload) = panicked.take() {
        log::trace!("loop: a callback panicked; run unwinds");
        std::panic::resume_unwind(payload);
    }
    log::trace!("loop: nothing left to wait for; run returns");
}

/// A panic caught by [`contain`], to be resumed at the end of the turn.
type Panic = Box<dyn Any + Send>;

/// Runs one unit of the loop's work, catching a panic from a user callback:
/// the owner's `on_panic` tears down what the panic left half-done, and the
/// first panic of the turn is kept for `run` to resume once the turn's other
/// work is done (readiness is edge-triggered: a skipped event is lost).
fn contain(panicked: &mut Option<Panic>, on_panic: Option<(fn(u64), u64)>, work: impl FnOnce()) {
    let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)) else {
        return;
    };
    log::error!("a callback panicked; run will unwind after this turn");
    if let Some((clean_up, ctx)) = on_panic {
        clean_up(ctx);
    }
    panicked.get_or_insert(payload);
}

fn dispatch(panicked: &mut Option<Panic>, event: &mio::event::Event) {
    if event.token() == WAKER_TOKEN {
        let tasks = with_rt(|rt| rt.remote.as_ref().map(|r| r.take_tasks()))
            .flatten()
            .unwrap_or_default();
        for task in tasks {
            contain(panicked, None, task);
            flush_corked(panicked);
        }
        return;
    }
    let Some(Some((handler, ctx))) = with_rt(|rt| rt.sources.lookup(event.token())) else {
        return; // a source deregistered earlier in this batch
    };
    let readiness = Readiness::of(event);
    contain(panicked, Some((handler.on_panic, ctx)), || {
        (handler.ready)(ctx, readiness)
    });
    bury_dead();
}

/// Runs `next_tick` callbacks and deferred work until none is left (work
/// queued while running runs in this same pass, as Node drains its tick
/// queue), flushing corked writes after each item, then drops the dead.
/// Panics propagate (for drivers outside `run`, such as in-memory
/// connections).
pub(crate) fn settle() {
    while let Some(Some(task)) = with_rt(|rt| rt.tasks.pop_front()) {
        match task {
            Task::Tick(f) => f(),
            Task::Call(work) => (work.run)(work.ctx),
        }
        while let Some(Some(work)) = with_rt(|rt| rt.corked.pop()) {
            (work.run)(work.ctx);
        }
        bury_dead();
    }
    while let Some(Some(work)) = with_rt(|rt| rt.corked.pop()) {
        (work.run)(work.ctx);
    }
    bury_dead();
}

/// [`settle`]'s task pass inside the loop, each item [`contain`]ed.
fn run_tasks_contained(panicked: &mut Option<Panic>) {
    while let Some(Some(task)) = with_rt(|rt| rt.tasks.pop_front()) {
        match task {
            Task::Tick(f) => contain(panicked, None, f),
            Task::Call(work) => contain(panicked, Some((work.on_panic, work.ctx)), || {
                (work.run)(work.ctx)
            }),
        }
        flush_corked(panicked);
        bury_dead();
    }
}

fn fire_timers(panicked: &mut Option<Panic>) {
    while let Some(Some(work)) = with_rt(|rt| rt.timers.pop_due(now())) {
        contain(panicked, Some((work.on_panic, work.ctx)), || {
            (work.run)(work.ctx)
        });
        flush_corked(panicked);
        bury_dead();
    }
    compact_timers();
}

/// Drops timer entries whose owners are gone, once the heap has doubled
/// (see `timers.rs`). The `alive` checks look into the layers above, so
/// they run with the runtime's state not borrowed.
fn compact_timers() {
    let Some(Some(mut taken)) = with_rt(|rt| rt.timers.take_if_due_for_compaction()) else {
        return;
    };
    taken.retain_alive();
    with_rt(|rt| rt.timers.put_back(taken));
}

/// Whether user timer `ctx` (key and generation) is still set.
pub(crate) fn user_timer_alive(ctx: u64) -> bool {
    let (key, gen) = ((ctx & 0xffff_ffff) as usize, (ctx >> 32) as u32);
    with_rt(|rt| rt.timers.user.get(key).is_some_and(|t| t.gen == gen)).unwrap_or(false)
}

/// Runs the corked work (flushes of sockets written outside their own
/// events).
fn flush_corked(panicked: &mut Option<Panic>) {
    while let Some(Some(work)) = with_rt(|rt| rt.corked.pop()) {
        contain(panicked, Some((work.on_panic, work.ctx)), || {
            (work.run)(work.ctx)
        });
    }
}

// ------------------------------------------------------------------ timers

/// A user timer came due (`ctx`: key and generation).
fn run_user_timer(ctx: u64) {
    let (key, gen) = ((ctx & 0xffff_ffff) as usize, (ctx >> 32) as u32);
    let taken = with_rt(|rt| match rt.timers.user.get_mut(key) {
        Some(t) if t.gen == gen => Some(std::mem::replace(&mut t.callback, Callback::Running)),
        _ => None,
    })
    .flatten();
    match taken {
        Some(Callback::Once(f)) => {
            with_rt(|rt| rt.timers.remove_user(key));
            f();
        }
        Some(Callback::Repeat(mut f, period)) => {
            // A panicking interval stays scheduled, as a throwing listener
            // stays registered; the panic goes on once it is put back.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(&mut f));
            // Put it back unless the callback cleared its own interval.
            let dropped = with_rt(move |rt| match rt.timers.user.get_mut(key) {
                Some(t) if t.gen == gen => {
                    t.callback = Callback::Repeat(f, period);
                    rt.timers
                        .push(now() + period, timers::user_timer_work(key, gen));
                    None
                }
                _ => Some(f),
            });
            drop(dropped);
            if let Err(payload) = outcome {
                std::panic::resume_unwind(payload);
            }
        }
        Some(Callback::Running) | None => {}
    }
}

/// A timer started by [`set_timeout`] or [`set_interval`]; pass it to
/// [`clear_timeout`]/[`clear_interval`] to cancel it. Cheap to copy; it
/// belongs to the loop of the thread that made it (it is not `Send`).
///
/// ```
/// let t = nodelike::set_timeout(|| unreachable!(), 10);
/// nodelike::clear_timeout(t);
/// nodelike::run(); // returns at once: nothing left to wait for
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timer {
    key: usize,
    gen: u32,
    _loop: LoopBound,
}

impl Timer {
    /// Lets [`run`] return while this timer is pending (Node's
    /// `timeout.unref()`): it still fires if something else (a server, a
    /// socket, a ref'd timer) keeps the loop going. Returns the timer, so
    /// it chains as in Node. A timer that ran or was cleared is ignored.
    ///
    /// ```
    /// // A heartbeat that must not keep the program alive on its own.
    /// let beat = nodelike::set_interval(|| println!("still here"), 1000).unref();
    /// assert!(!beat.has_ref());
    /// nodelike::run(); // returns at once: nothing else to wait for
    /// ```
    pub fn unref(self) -> Timer {
        with_rt(|rt| rt.timers.set_ref(self.key, self.gen, false));
        self
    }

    /// Makes an [unref'd](Timer::unref) timer keep [`run`] going again
    /// (Node's `timeout.ref()`; timers start ref'd). Returns the timer.
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    /// let fired = Rc::new(Cell::new(false));
    /// let f = fired.clone();
    /// let t = nodelike::set_timeout(move || f.set(true), 1).unref();
    /// nodelike::run(); // returns without waiting for it
    /// assert!(!fired.get());
    /// t.ref_();
    /// nodelike::run(); // waits for it now
    /// assert!(fired.get());
    /// ```
    #[doc(alias = "ref")]
    pub fn ref_(self) -> Timer {
        with_rt(|rt| rt.timers.set_ref(self.key, self.gen, true));
        self
    }

    /// Whether this timer keeps [`run`] going (Node's `timeout.hasRef()`):
    /// it is pending and not [unref'd](Timer::unref). Unlike Node, which
    /// keeps the flag on the object, a timeout that has run (already in its
    /// own callback) or a timer that was cleared answers `false`.
    ///
    /// ```
    /// let t = nodelike::set_timeout(|| {}, 10);
    /// assert!(t.has_ref());
    /// assert!(!t.unref().has_ref());
    /// assert!(t.ref_().has_ref());
    /// nodelike::clear_timeout(t);
    /// assert!(!t.has_ref());
    /// ```
    #[doc(alias = "hasRef")]
    pub fn has_ref(self) -> bool {
        with_rt(|rt| rt.timers.has_ref(self.key, self.gen)).unwrap_or(false)
    }
}

/// Calls `callback` once, after `ms` milliseconds (Node's `setTimeout`).
///
/// ```
/// use std::{cell::Cell, rc::Rc};
/// let fired = Rc::new(Cell::new(false));
/// let f = fired.clone();
/// nodelike::set_timeout(move || f.set(true), 1);
/// nodelike::run();
/// assert!(fired.get());
/// ```
#[doc(alias = "setTimeout")]
pub fn set_timeout(callback: impl FnOnce() + 'static, ms: u64) -> Timer {
    let (key, gen) = with_rt(|rt| {
        let at = Instant::now() + Duration::from_millis(ms);
        rt.timers.add_user(at, Callback::Once(Box::new(callback)))
    })
    .unwrap_or((usize::MAX, 0));
    Timer {
        key,
        gen,
        _loop: LoopBound::default(),
    }
}

/// Calls `callback` every `ms` milliseconds until cleared (Node's
/// `setInterval`). An interval of 0 is treated as 1 ms, as Node does.
///
/// ```
/// use std::{cell::Cell, rc::Rc};
/// let n = Rc::new(Cell::new(0));
/// let m = n.clone();
/// let t = Rc::new(Cell::new(None));
/// let t2 = t.clone();
/// t.set(Some(nodelike::set_interval(move || {
///     m.set(m.get() + 1);
///     if m.get() == 3 { nodelike::clear_interval(t2.get().unwrap()) }
/// }, 1)));
/// nodelike::run();
/// assert_eq!(n.get(), 3);
/// ```
#[doc(alias = "setInterval")]
pub fn set_interval(callback: impl FnMut() + 'static, ms: u64) -> Timer {
    let period = Duration::from_millis(ms.max(1));
    let (key, gen) = with_rt(|rt| {
        let at = Instant::now() + period;
        rt.timers
            .add_user(at, Callback::Repeat(Box::new(callback), period))
    })
    .unwrap_or((usize::MAX, 0));
    Timer {
        key,
        gen,
        _loop: LoopBound::default(),
    }
}

/// Cancels a timer from [`set_timeout`]; a timer that already ran or was
/// cleared is ignored.
///
/// ```
/// let t = nodelike::set_timeout(|| panic!("cancelled"), 5);
/// nodelike::clear_timeout(t);
/// nodelike::clear_timeout(t); // twice is fine
/// nodelike::run();
/// ```
#[doc(alias = "clearTimeout")]
pub fn clear_timeout(timer: Timer) {
    let removed = with_rt(|rt| match rt.timers.user.get(timer.key) {
        Some(t) if t.gen == timer.gen => Some(rt.timers.remove_user(timer.key)),
        _ => None,
    })
    .flatten();
    // The callback is dropped here, outside the borrow.
    drop(removed);
}

/// Cancels an interval from [`set_interval`] (the same as [`clear_timeout`]).
///
/// ```
/// let t = nodelike::set_interval(|| {}, 5);
/// nodelike::clear_interval(t);
/// nodelike::run();
/// ```
#[doc(alias = "clearInterval")]
pub fn clear_interval(timer: Timer) {
    clear_timeout(timer)
}

/// Calls `callback` at the start of the next loop turn, before any I/O
/// (Node's `process.nextTick`).
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
/// let order = Rc::new(RefCell::new(Vec::new()));
/// let o = order.clone();
/// nodelike::next_tick(move || o.borrow_mut().push("tick"));
/// order.borrow_mut().push("now");
/// nodelike::run();
/// assert_eq!(*order.borrow(), ["now", "tick"]);
/// ```
#[doc(alias = "nextTick")]
pub fn next_tick(callback: impl FnOnce() + 'static) {
    with_rt(|rt| rt.tasks.push_back(Task::Tick(Box::new(callback))));
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_panic_in_the_last_turn_still_leaves_run_and_the_loop_stays_whole() {
        super::next_tick(|| panic!("boom"));
        let outcome = std::panic::catch_unwind(super::run);
        assert!(outcome.is_err(), "the panic was lost");
        let ran = std::rc::Rc::new(std::cell::Cell::new(false));
        let r = ran.clone();
        super::next_tick(move || r.set(true));
        super::run();
        assert!(ran.get());
    }
}
