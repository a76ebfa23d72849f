//! The loop's remote handle: how other threads post work to a loop.
//!
//! A loop sleeps in `epoll_wait`; another thread cannot touch its state
//! (everything is thread-local), but it can push a `Send` closure onto a
//! shared queue and wake the loop through a `mio::Waker`. The loop then runs
//! the closures on its own thread. Name resolution (a helper thread per
//! lookup) reports back this way, and so can any thread of yours.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A task posted from another thread.
type RemoteTask = Box<dyn FnOnce() + Send>;

pub(crate) struct Shared {
    tasks: Mutex<Vec<RemoteTask>>,
    /// How many tasks wait: read each turn without taking the lock.
    queued: AtomicUsize,
    waker: mio::Waker,
    /// False once the loop's thread has ended: posts are refused.
    open: AtomicBool,
}

impl Shared {
    pub(crate) fn new(waker: mio::Waker) -> Shared {
        Shared {
            tasks: Mutex::new(Vec::new()),
            queued: AtomicUsize::new(0),
            waker,
            open: AtomicBool::new(true),
        }
    }

    /// Takes every task posted so far.
    pub(crate) fn take_tasks(&self) -> Vec<RemoteTask> {
        let mut tasks = match self.tasks.lock() {
            Ok(tasks) => tasks,
            Err(poisoned) => poisoned.into_inner(),
        };
        self.queued.store(0, Ordering::SeqCst);
        std::mem::take(&mut *tasks)
    }

    /// Whether tasks wait to run (they keep the loop turning until run).
    pub(crate) fn has_tasks(&self) -> bool {
        self.queued.load(Ordering::SeqCst) > 0
    }

    pub(crate) fn close(&self) {
        self.open.store(false, Ordering::SeqCst);
        drop(self.take_tasks());
    }
}

/// A handle to one thread's event loop that other threads can use: it is
/// `Send` and `Sync`, and [`post`](Remote::post) runs a closure on the
/// loop's own thread, waking it if it sleeps. Get one with
/// [`remote`](crate::remote) on the loop's thread. (Node has no direct
/// equivalent; it is what `worker.postMessage` rests on.)
///
/// A posted closure runs in the loop's next turn, in its I/O phase (after
/// that turn's `next_tick` work, before its due timers); one already posted keeps [`run`](crate::run) going until it has
/// run. A handle out there does not keep the loop alive by itself: a loop
/// with nothing to wait for returns, and a post after that runs when `run`
/// is called again.
///
/// ```
/// use std::sync::mpsc;
/// let loop_handle = nodelike::remote();
/// let (tx, rx) = mpsc::channel();
/// std::thread::spawn(move || {
///     loop_handle.post(move || tx.send(std::thread::current().id()).unwrap());
/// })
/// .join()
/// .unwrap();
/// nodelike::run(); // runs the posted closure, then returns
/// assert_eq!(rx.recv().unwrap(), std::thread::current().id());
/// ```
#[derive(Clone)]
pub struct Remote {
    pub(crate) shared: Arc<Shared>,
}

impl Remote {
    /// Runs `task` on the loop's thread in its next turn. Returns `false`
    /// (and drops the task) if the loop's thread has ended.
    ///
    /// ```
    /// let handle = nodelike::remote();
    /// assert!(handle.post(|| println!("hello from the loop")));
    /// nodelike::run();
    /// ```
    pub fn post(&self, task: impl FnOnce() + Send + 'static) -> bool {
        if !self.shared.open.load(Ordering::SeqCst) {
            return false;
        }
        let first = {
            let mut tasks = match self.shared.tasks.lock() {
                Ok(tasks) => tasks,
                Err(poisoned) => poisoned.into_inner(),
            };
            tasks.push(Box::new(task));
            self.shared.queued.fetch_add(1, Ordering::SeqCst) == 0
        };
        // Tasks already queued and not yet taken have had their wake: the
        // loop takes them all at once (and `take_tasks` resets the count
        // under the same lock), so one wake per batch is enough. The worker
        // pool posts one completion per job; this saves a write per job
        // when they come faster than the loop turns.
        if !first {
            return true;
        }
        if let Err(e) = self.shared.waker.wake() {
            log::warn!("remote: cannot wake the loop: {e}");
        }
        true
    }
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("open", &self.shared.open.load(Ordering::SeqCst))
            .finish()
    }
}
