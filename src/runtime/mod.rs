//! The event loop: one per thread, created on first use, driven by [`run`].
//!
//! The loop's state (the [`Core`]) lives in a thread-local, so
//! `http::create_server(...)` works before anything runs, exactly as in Node,
//! and handles need no pointer: a handle is a key and a generation. Every
//! access goes through [`with_core`], which borrows the core for the length
//! of a closure that never calls user code. User callbacks run only between
//! such borrows (see `listeners.rs` for the emit discipline), so a callback
//! may call any handle method, start servers or timers, or destroy the very
//! socket it was called for.

pub(crate) mod arena;
pub(crate) mod listeners;
pub(crate) mod timers;

use std::any::Any;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};

use mio::{Events, Poll, Token};
use slab::Slab;

use crate::http::client::{AgentRec, ClientExchange, Resolved};
use crate::http::h1::DateCache;
use crate::http::server::{Exchange, ServerRec};
use crate::net::{SockId, SocketRec};
use arena::Arena;
use timers::{Callback, Due, Timers};

/// Tokens with this bit set belong to listening sockets.
pub(crate) const LISTENER_BIT: usize = 1 << 63;
/// The token of the loop's `mio::Waker` (name resolution results).
pub(crate) const WAKER_TOKEN: usize = usize::MAX;
/// Size of the shared read buffer every socket reads into.
pub(crate) const READ_BUF_SIZE: usize = 64 * 1024;
/// Node's default `highWaterMark` for writable streams: `write` returns
/// `false` once this many bytes wait to be sent.
pub(crate) const HIGH_WATER_MARK: usize = 16 * 1024;

/// Work the loop does at the start of its next turn, outside any I/O event.
pub(crate) enum Pending {
    /// A `next_tick` callback.
    Tick(Box<dyn FnOnce()>),
    /// Emit `close` for a destroyed socket (and its requests), then drop it.
    Close(SockId),
    /// Input may be waiting for a socket that can read again (resume, drain).
    Resume(SockId),
    /// A server stopped listening and its last connection is gone.
    ServerClosed(usize, u32),
}

/// The state of one thread's event loop.
pub(crate) struct Core {
    pub(crate) poll: Poll,
    events: Option<Events>,
    pub(crate) sockets: Slab<SocketRec>,
    pub(crate) servers: Slab<ServerRec>,
    pub(crate) exchanges: Arena<Exchange>,
    pub(crate) clients: Arena<ClientExchange>,
    pub(crate) agents: Vec<AgentRec>,
    /// Sockets that do not keep the loop alive (idle pooled client sockets).
    pub(crate) unref_sockets: usize,
    /// Woken by name-resolution threads.
    pub(crate) waker: Option<std::sync::Arc<mio::Waker>>,
    pub(crate) resolved: Resolved,
    /// Name resolutions under way (they keep the loop alive).
    pub(crate) resolving: usize,
    pub(crate) timers: Timers,
    pub(crate) pending: VecDeque<Pending>,
    /// Sockets written to outside their own I/O event: flushed at the end of
    /// the turn (corking).
    pub(crate) dirty: Vec<SockId>,
    /// Values holding user closures, dropped outside the borrow (a closure's
    /// `Drop` is user code too).
    pub(crate) graveyard: Vec<Box<dyn Any>>,
    /// The time the last `poll` returned: "now" for this turn.
    pub(crate) now: Instant,
    pub(crate) date: DateCache,
    /// The shared read buffer; taken out while a read is being processed.
    pub(crate) read_buf: Vec<u8>,
    /// Spare byte buffers, so idle connections hold none and busy ones
    /// allocate none.
    pool: Vec<Vec<u8>>,
    next_gen: u32,
}

thread_local! {
    static CORE: RefCell<Core> = RefCell::new(Core::new());
}

/// Runs `f` with the thread's core borrowed. Returns `None` while the
/// thread-local is being destroyed (a closure dropped then must not reach
/// for a loop that no longer exists).
///
/// `f` must not call user code; the borrow would make any handle method it
/// calls panic.
pub(crate) fn with_core<R>(f: impl FnOnce(&mut Core) -> R) -> Option<R> {
    CORE.try_with(|cell| {
        let mut core = cell
            .try_borrow_mut()
            .expect("nodelike: the event loop was entered re-entrantly (a bug in nodelike)");
        f(&mut core)
    })
    .ok()
}

impl Core {
    fn new() -> Core {
        Core {
            poll: Poll::new().expect("nodelike: cannot create the OS poller (epoll/kqueue)"),
            events: Some(Events::with_capacity(1024)),
            sockets: Slab::new(),
            servers: Slab::new(),
            exchanges: Arena::new(),
            clients: Arena::new(),
            agents: Vec::new(),
            unref_sockets: 0,
            waker: None,
            resolved: Resolved::default(),
            resolving: 0,
            timers: Timers::default(),
            pending: VecDeque::new(),
            dirty: Vec::new(),
            graveyard: Vec::new(),
            now: Instant::now(),
            date: DateCache::new(),
            read_buf: Vec::new(),
            pool: Vec::new(),
            next_gen: 0,
        }
    }

    /// A fresh generation for a new socket or server record.
    pub(crate) fn next_gen(&mut self) -> u32 {
        self.next_gen = self.next_gen.wrapping_add(1) & 0x7fff_ffff;
        self.next_gen
    }

    /// A byte buffer from the pool (or a new one).
    pub(crate) fn take_buf(&mut self) -> Vec<u8> {
        self.pool.pop().unwrap_or_default()
    }

    /// Returns a buffer to the pool; huge ones are freed so one big response
    /// does not pin its memory forever.
    pub(crate) fn give_buf(&mut self, mut buf: Vec<u8>) {
        if buf.capacity() == 0 {
            return;
        }
        if buf.capacity() <= 256 * 1024 && self.pool.len() < 1024 {
            buf.clear();
            self.pool.push(buf);
        }
    }

    /// Queues `value` to be dropped outside the borrow, if it holds anything.
    pub(crate) fn bury<T: 'static>(&mut self, value: T) {
        self.graveyard.push(Box::new(value));
    }
}

/// Runs the event loop until nothing is left to wait for: no listening
/// server, open socket, pending timer or `next_tick` callback (Node's rule
/// for when a process exits).
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
    let Some(Some(mut events)) = with_core(|c| c.events.take()) else {
        log::warn!("nodelike::run called while the loop is already running; ignored");
        return;
    };
    log::trace!("loop: start");
    let mut panicked = None;
    loop {
        if let Some(payload) = panicked.take() {
            with_core(|c| c.events = Some(events));
            log::trace!("loop: a callback panicked; run unwinds");
            std::panic::resume_unwind(payload);
        }
        run_pending_contained(&mut panicked);
        let Some((alive, timeout)) = with_core(|c| {
            let alive = c.sockets.len() > c.unref_sockets
                || c.resolving > 0
                || c.servers.iter().any(|(_, s)| s.is_listening())
                || c.timers.has_user_timers()
                || !c.pending.is_empty();
            let timeout = if !c.pending.is_empty() {
                Some(Duration::ZERO)
            } else {
                c.timers
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
        let polled = with_core(|c| {
            let r = c.poll.poll(&mut events, timeout);
            c.now = Instant::now();
            r
        });
        match polled {
            Some(Ok(())) => {}
            Some(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
            Some(Err(e)) => panic!("nodelike: poll failed: {e}"),
            None => break,
        }
        for event in events.iter() {
            let socket = socket_of(event.token());
            contain(&mut panicked, socket, || dispatch(event));
        }
        fire_timers(&mut panicked);
        contain(&mut panicked, None, flush_dirty);
        bury_dead();
    }
    with_core(|c| c.events = Some(events));
    log::trace!("loop: nothing left to wait for; run returns");
}

/// A panic caught by [`contain`], to be resumed at the end of the turn.
type Panic = Box<dyn Any + Send>;

/// Runs one unit of the loop's work, catching a panic from a user callback:
/// the socket the work was for is destroyed (its protocol state stopped
/// mid-step) and the first panic of the turn is kept for `run` to resume
/// once the turn's other work is done.
fn contain(panicked: &mut Option<Panic>, socket: Option<SockId>, work: impl FnOnce()) {
    let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)) else {
        return;
    };
    log::error!(
        "a callback panicked{}; run will unwind after this turn",
        socket.map_or(String::new(), |id| format!(
            " (socket {} destroyed)",
            id.key
        ))
    );
    if let Some(id) = socket {
        with_core(|c| c.destroy(id, crate::net::Cause::Aborted));
    }
    panicked.get_or_insert(payload);
}

/// The connection socket an event token names, if it names one.
fn socket_of(Token(token): Token) -> Option<SockId> {
    (token != WAKER_TOKEN && token & LISTENER_BIT == 0).then(|| SockId::from_token(token))
}

fn dispatch(event: &mio::event::Event) {
    let Token(token) = event.token();
    if token == WAKER_TOKEN {
        crate::http::client::on_wake();
    } else if token & LISTENER_BIT != 0 {
        crate::net::on_listener_ready(token & !LISTENER_BIT);
    } else {
        crate::net::on_socket_ready(SockId::from_token(token), event);
    }
    bury_dead();
}

/// Runs `next_tick` callbacks and deferred work until none is left (work
/// queued while running runs in this same pass, as Node drains its tick
/// queue), flushing corked writes after each item. Panics propagate (for
/// drivers outside `run`, such as in-memory connections).
pub(crate) fn run_pending() {
    while let Some(Some(item)) = with_core(|c| c.pending.pop_front()) {
        run_pending_item(item);
    }
}

/// [`run_pending`] inside the loop, each item [`contain`]ed.
fn run_pending_contained(panicked: &mut Option<Panic>) {
    while let Some(Some(item)) = with_core(|c| c.pending.pop_front()) {
        let socket = match item {
            Pending::Close(id) | Pending::Resume(id) => Some(id),
            Pending::Tick(_) | Pending::ServerClosed(..) => None,
        };
        contain(panicked, socket, || run_pending_item(item));
    }
}

fn run_pending_item(item: Pending) {
    match item {
        Pending::Tick(f) => f(),
        Pending::Close(id) => crate::net::finish_close(id),
        Pending::Resume(id) => crate::net::resume_reading(id),
        Pending::ServerClosed(key, gen) => crate::http::server::emit_server_close(key, gen),
    }
    flush_dirty();
    bury_dead();
}

fn fire_timers(panicked: &mut Option<Panic>) {
    while let Some(Some(due)) = with_core(|c| {
        let now = c.now;
        c.timers.pop_due(now)
    }) {
        let socket = match due {
            Due::SocketIdle(id, _) | Due::RequestDeadline(id, _) | Due::Linger(id) => Some(id),
            Due::User(..) | Due::AcceptRetry(..) => None,
        };
        contain(panicked, socket, || {
            match due {
                Due::User(key, gen) => run_user_timer(key, gen),
                Due::SocketIdle(id, at) => crate::net::check_idle(id, at),
                Due::RequestDeadline(id, at) => crate::http::conn::request_deadline_due(id, at),
                Due::Linger(id) => crate::net::destroy_socket(id),
                Due::AcceptRetry(key, _gen) => crate::net::on_listener_ready(key),
            }
            flush_dirty();
        });
        bury_dead();
    }
}

fn run_user_timer(key: usize, gen: u32) {
    let taken = with_core(|c| match c.timers.user.get_mut(key) {
        Some(t) if t.gen == gen => Some(std::mem::replace(&mut t.callback, Callback::Running)),
        _ => None,
    })
    .flatten();
    match taken {
        Some(Callback::Once(f)) => {
            with_core(|c| c.timers.user.remove(key));
            f();
        }
        Some(Callback::Repeat(mut f, period)) => {
            // A panicking interval stays scheduled, as a throwing listener
            // stays registered; the panic goes on once it is put back.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(&mut f));
            // Put it back unless the callback cleared its own interval.
            let dropped = with_core(move |c| {
                let now = c.now;
                match c.timers.user.get_mut(key) {
                    Some(t) if t.gen == gen => {
                        t.callback = Callback::Repeat(f, period);
                        c.timers.push(now + period, Due::User(key, gen));
                        None
                    }
                    _ => Some(f),
                }
            });
            drop(dropped);
            if let Err(payload) = outcome {
                std::panic::resume_unwind(payload);
            }
        }
        Some(Callback::Running) | None => {}
    }
}

/// Writes out what callbacks corked into sockets outside their own events.
pub(crate) fn flush_dirty() {
    while let Some(Some(id)) = with_core(|c| c.dirty.pop()) {
        crate::net::flush_socket(id);
    }
}

/// Drops, outside the borrow, what records being freed held.
pub(crate) fn bury_dead() {
    loop {
        let Some(dead) = with_core(|c| {
            if c.graveyard.is_empty() {
                None
            } else {
                Some(std::mem::take(&mut c.graveyard))
            }
        })
        .flatten() else {
            return;
        };
        drop(dead);
    }
}

/// A timer started by [`set_timeout`] or [`set_interval`]; pass it to
/// [`clear_timeout`]/[`clear_interval`] to cancel it. Cheap to copy.
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
pub fn set_timeout(callback: impl FnOnce() + 'static, ms: u64) -> Timer {
    let (key, gen) = with_core(|c| {
        let at = Instant::now() + Duration::from_millis(ms);
        c.timers.add_user(at, Callback::Once(Box::new(callback)))
    })
    .unwrap_or((usize::MAX, 0));
    Timer { key, gen }
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
pub fn set_interval(callback: impl FnMut() + 'static, ms: u64) -> Timer {
    let period = Duration::from_millis(ms.max(1));
    let (key, gen) = with_core(|c| {
        let at = Instant::now() + period;
        c.timers
            .add_user(at, Callback::Repeat(Box::new(callback), period))
    })
    .unwrap_or((usize::MAX, 0));
    Timer { key, gen }
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
pub fn clear_timeout(timer: Timer) {
    let removed = with_core(|c| match c.timers.user.get(timer.key) {
        Some(t) if t.gen == timer.gen => Some(c.timers.user.remove(timer.key)),
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
pub fn next_tick(callback: impl FnOnce() + 'static) {
    with_core(|c| c.pending.push_back(Pending::Tick(Box::new(callback))));
}
