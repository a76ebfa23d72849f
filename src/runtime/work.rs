//! Work the loop runs for the layers above it, named by a plain function and
//! a context value.
//!
//! The runtime knows nothing of sockets or HTTP. A higher layer that wants
//! to be called back (a socket's idle check, a deferred `close`, a request
//! deadline) hands the loop a [`Work`]: a function pointer of its own and a
//! `u64` it chooses (usually a record's key and generation). The loop calls
//! it with no state borrowed, exactly as it calls user callbacks. This is
//! how calls go *up* the layers without the lower one naming the higher.

/// A call the loop makes later: `run(ctx)`, and `on_panic(ctx)` if a user
/// callback panics inside it (so the layer that owns the work can tear down
/// what the panic left half-done, such as destroying the socket whose
/// exchange stopped mid-step).
#[derive(Clone, Copy)]
pub(crate) struct Work {
    /// What to do.
    pub(crate) run: fn(u64),
    /// The owner's context: a key, a key and generation, whatever it needs.
    pub(crate) ctx: u64,
    /// Cleans up after a panic inside `run`.
    pub(crate) on_panic: fn(u64),
    /// Whether the owner still waits for this work (asked, with no state
    /// borrowed, when the timer heap is compacted): `false` for a timer of
    /// a socket that is gone. The default says always.
    pub(crate) alive: fn(u64) -> bool,
}

impl Work {
    /// Work whose panic leaves nothing to clean up.
    pub(crate) fn new(run: fn(u64), ctx: u64) -> Work {
        Work {
            run,
            ctx,
            on_panic: nothing,
            alive: always,
        }
    }

    /// Work owned by something that must be torn down if it panics.
    pub(crate) fn owned(run: fn(u64), ctx: u64, on_panic: fn(u64)) -> Work {
        Work {
            run,
            ctx,
            on_panic,
            alive: always,
        }
    }

    /// The same work, dropped from the timer heap when it is compacted if
    /// `alive(ctx)` says its owner is gone (a closed socket's idle check):
    /// so entries nobody waits for do not pile up until they come due.
    pub(crate) fn while_alive(self, alive: fn(u64) -> bool) -> Work {
        Work { alive, ..self }
    }
}

impl std::fmt::Debug for Work {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Work(ctx {:#x})", self.ctx)
    }
}

/// The `on_panic` of work that owns nothing.
pub(crate) fn nothing(_ctx: u64) {}

/// The `alive` of work that is always waited for.
pub(crate) fn always(_ctx: u64) -> bool {
    true
}

/// An entry of the loop's queue of things to do before it next polls.
pub(crate) enum Task {
    /// A `next_tick` callback.
    Tick(Box<dyn FnOnce()>),
    /// Work a layer deferred to the next turn (a `close`, a resume).
    Call(Work),
}
