//! The worker pool: blocking work (file system calls, compression) off the
//! loop's thread, as libuv's thread pool does for Node.
//!
//! A loop must never block: one slow disk read would stall every connection
//! it serves. So work that blocks is handed to a small set of threads shared
//! by the whole process (every loop of a cluster uses the same pool), and
//! its result comes back to the loop that asked through that loop's
//! [`Remote`](super::Remote) handle, where the completion runs with no state
//! borrowed, exactly like any other callback.
//!
//! ```text
//!   loop thread                      worker threads (4, or UV_THREADPOOL_SIZE)
//!   queue_work(job, done) ──job──▶  queue ──▶ job() ──result──┐
//!     done kept here, by id                                    │ Remote::post
//!   next turn: done(result) ◀──────────────────────────────────┘
//! ```
//!
//! Only the job and its result cross threads (`Send`); the completion stays
//! on the loop's thread, so it may hold handles and `Rc`s. Work in flight
//! keeps the loop alive, as a pending `fs` request keeps a Node process
//! alive. A job that panics resumes its panic on the loop's thread, where
//! `run` reports it as it reports a callback's.
//!
//! Compression is CPU-bound where file system calls wait: at most all
//! cores but one ([`cpu_limit_for`], at least one) run compression jobs at
//! once, the rest queue (libuv caps its slow I/O jobs the same way), so a
//! core is left for the loop whatever the pool's size.
//!
//! The pool starts its threads on first use. Its size is read once, from
//! `UV_THREADPOOL_SIZE` as libuv reads it (1 to 1024; 4 when unset or not
//! a number).
//!
//! # The loop comes first
//!
//! Each worker lowers its own scheduling priority by [`DEFAULT_NICENESS`]
//! steps (`setpriority(2)` on its own thread: on Linux the nice value is
//! per thread), so that on a machine with fewer free cores than runnable
//! threads the loop always wins the CPU. Work on the pool is throughput
//! (a 100 KiB gzip takes a millisecond either way); the loop is latency
//! (every connection waits while it waits for a core). Measured with
//! `benches/gzip_flood_p99.py` on 2 busy cores: without it, a hello's p99
//! during a gzip flood rose several times over its idle p99, as the loop
//! queued behind four compressing workers; with it, the kernel's
//! scheduler gives the loop its core as soon as it wakes. libuv does not
//! do this, so Node's loop competes with its workers as equals.
//! `NODELIKE_POOL_NICENESS` (0 to 19) sets the steps (0: as the loop);
//! where setting it fails, the workers run at the loop's priority.

use std::any::Any;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, OnceLock};

/// A job for a worker thread: it runs the work and posts the result back.
type Job = Box<dyn FnOnce() + Send>;

/// How many worker threads libuv starts when `UV_THREADPOOL_SIZE` is unset.
pub(crate) const DEFAULT_THREADS: usize = 4;

/// libuv's cap on `UV_THREADPOOL_SIZE`.
const MAX_THREADS: usize = 1024;

/// How many nice steps below the thread that started it a worker runs
/// (see the module's docs), unless `NODELIKE_POOL_NICENESS` says.
pub(crate) const DEFAULT_NICENESS: i32 = 10;

/// The workers' niceness steps by `NODELIKE_POOL_NICENESS` (0 to 19; the
/// default when unset or not a number).
pub(crate) fn niceness_for(setting: Option<&str>) -> i32 {
    setting
        .and_then(|s| s.trim().parse::<i32>().ok())
        .map(|n| n.clamp(0, 19))
        .unwrap_or(DEFAULT_NICENESS)
}

/// Lowers the calling thread's scheduling priority by `steps` nice steps
/// (at most to 19). Linux keeps a nice value per thread, and
/// `setpriority(PRIO_PROCESS, 0)` names the calling thread; a thread
/// starts with its creator's value, which is the base. Failing is not an
/// error: the worker then competes with the loop as libuv's do.
fn lower_own_priority(steps: i32) {
    if steps == 0 {
        return;
    }
    let result = rustix::process::getpriority_process(None).and_then(|base| {
        rustix::process::setpriority_process(None, base.saturating_add(steps).min(19))
    });
    if let Err(e) = result {
        log::debug!("pool: cannot lower a worker's priority: {e}");
    }
}

/// The process's worker threads and their queues.
struct Pool {
    queues: Mutex<Queues>,
    /// Signalled once per queued job.
    ready: Condvar,
    /// How many CPU-bound jobs may run at once (see [`cpu_limit_for`]).
    cpu_limit: usize,
}

/// Blocking jobs (file system calls: they wait, they don't compute) and
/// CPU-bound ones (compression), kept apart as libuv keeps its slow I/O
/// apart: the CPU-bound ones are capped below the pool's size.
#[derive(Default)]
struct Queues {
    io: VecDeque<Job>,
    cpu: VecDeque<Job>,
    cpu_running: usize,
}

/// How many CPU-bound jobs may run at once with `cores` cores to run on
/// (the process's affinity and quota, as `available_parallelism` counts
/// them): all but one, at least one. The one left is the loop's: with 2
/// cores, two compressing workers took both (and with the process pinned
/// to one core, four took turns on it, each evicting the others' deflate
/// state), and a request waited behind them; measured with
/// `benches/gzip_flood_p99.py` and `benches/gzip_vs_node.py`.
pub(crate) fn cpu_limit_for(cores: usize) -> usize {
    cores.saturating_sub(1).max(1)
}

static POOL: OnceLock<Pool> = OnceLock::new();

/// The pool's size by libuv's rule for `UV_THREADPOOL_SIZE`.
pub(crate) fn threads_for(setting: Option<&str>) -> usize {
    setting
        .and_then(|s| s.trim().parse::<usize>().ok())
        .map(|n| n.clamp(1, MAX_THREADS))
        .unwrap_or(DEFAULT_THREADS)
}

/// The pool, started on first use.
fn pool() -> &'static Pool {
    POOL.get_or_init(|| {
        let threads = threads_for(std::env::var("UV_THREADPOOL_SIZE").ok().as_deref());
        let niceness = niceness_for(std::env::var("NODELIKE_POOL_NICENESS").ok().as_deref());
        log::debug!(
            "pool: starting {threads} worker threads, {niceness} nice steps below the loop"
        );
        for n in 0..threads {
            let spawned = std::thread::Builder::new()
                .name(format!("nodelike-worker-{n}"))
                .spawn(move || {
                    lower_own_priority(niceness);
                    work_forever();
                });
            if let Err(e) = spawned {
                // Fewer threads is slower, not wrong, so long as one runs.
                log::error!("pool: cannot start worker {n}: {e}");
            }
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Pool {
            queues: Mutex::new(Queues::default()),
            ready: Condvar::new(),
            cpu_limit: cpu_limit_for(cores),
        }
    })
}

/// A worker thread's life: take the next job, run it, forever.
fn work_forever() {
    let pool = pool();
    let lock = || pool.queues.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        let (job, cpu) = {
            let mut queues = lock();
            loop {
                // CPU-bound first (a response waits on it), within the cap;
                // a job over the cap waits for a running one to end, whose
                // worker takes it next (no wake-up is needed for it).
                if queues.cpu_running < pool.cpu_limit {
                    if let Some(job) = queues.cpu.pop_front() {
                        queues.cpu_running += 1;
                        break (job, true);
                    }
                }
                if let Some(job) = queues.io.pop_front() {
                    break (job, false);
                }
                queues = pool.ready.wait(queues).unwrap_or_else(|p| p.into_inner());
            }
        };
        job();
        if cpu {
            lock().cpu_running -= 1;
        }
    }
}

thread_local! {
    /// Completions waiting for their job, by id (this loop's only).
    static WAITING: RefCell<slab::Slab<Box<dyn Any>>> = RefCell::new(slab::Slab::new());
}

/// Runs `job` on a worker thread, then `done(result)` on this loop's thread
/// in a later turn. The loop stays alive until `done` has run.
///
/// Jobs run in parallel, so two jobs of one stream must be queued one after
/// the other (queue the next from the first's `done`) to keep their order.
pub(crate) fn queue_work<T: Send + 'static>(
    job: impl FnOnce() -> T + Send + 'static,
    done: impl FnOnce(T) + 'static,
) {
    queue(false, job, done);
}

/// [`queue_work`] for a job that computes rather than waits (compression):
/// at most [`cpu_limit_for`] of them run at once, so a core is left for
/// the loop.
pub(crate) fn queue_cpu_work<T: Send + 'static>(
    job: impl FnOnce() -> T + Send + 'static,
    done: impl FnOnce(T) + 'static,
) {
    queue(true, job, done);
}

fn queue<T: Send + 'static>(
    cpu: bool,
    job: impl FnOnce() -> T + Send + 'static,
    done: impl FnOnce(T) + 'static,
) {
    let loop_handle = super::remote();
    let done: Box<dyn FnOnce(T)> = Box::new(done);
    let Ok(id) = WAITING.try_with(|w| w.borrow_mut().insert(Box::new(done) as Box<dyn Any>)) else {
        return; // the thread is ending: nobody is left to tell
    };
    super::add_ref();
    let pool = pool();
    let work: Job = Box::new(move || {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
        loop_handle.post(move || complete(id, outcome));
    });
    {
        let mut queues = pool.queues.lock().unwrap_or_else(|p| p.into_inner());
        if cpu {
            queues.cpu.push_back(work);
        } else {
            queues.io.push_back(work);
        }
    }
    pool.ready.notify_one();
}

/// A job came back (on the loop's thread): run its completion, or resume
/// its panic here, where `run` reports panics.
fn complete<T: 'static>(id: usize, outcome: std::thread::Result<T>) {
    super::release_ref();
    let done = WAITING
        .try_with(|w| w.borrow_mut().try_remove(id))
        .ok()
        .flatten()
        .and_then(|d| d.downcast::<Box<dyn FnOnce(T)>>().ok());
    match outcome {
        Ok(result) => {
            if let Some(done) = done {
                done(result);
            }
        }
        Err(panic) => {
            // The completion (user code) is dropped outside every borrow.
            drop(done);
            std::panic::resume_unwind(panic);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;

    #[test]
    fn the_pool_size_follows_libuvs_rule() {
        assert_eq!(threads_for(None), 4);
        assert_eq!(threads_for(Some("8")), 8);
        assert_eq!(threads_for(Some(" 2 ")), 2);
        assert_eq!(threads_for(Some("0")), 1);
        assert_eq!(threads_for(Some("5000")), 1024);
        assert_eq!(threads_for(Some("many")), 4);
    }

    #[test]
    fn cpu_bound_jobs_leave_a_core_to_the_loop() {
        assert_eq!(cpu_limit_for(1), 1);
        assert_eq!(cpu_limit_for(2), 1);
        assert_eq!(cpu_limit_for(8), 7);
        assert_eq!(cpu_limit_for(0), 1);
    }

    #[test]
    fn cpu_bound_and_blocking_jobs_all_complete() {
        let seen = Rc::new(Cell::new(0));
        for n in 0..16u64 {
            let seen = seen.clone();
            let done = move |n| seen.set(seen.get() + n);
            if n % 2 == 0 {
                queue_cpu_work(move || n, done);
            } else {
                queue_work(move || n, done);
            }
        }
        crate::run();
        assert_eq!(seen.get(), (0..16).sum::<u64>());
    }

    #[test]
    fn the_workers_niceness_is_clamped_to_what_nice_allows() {
        assert_eq!(niceness_for(None), DEFAULT_NICENESS);
        assert_eq!(niceness_for(Some("0")), 0);
        assert_eq!(niceness_for(Some(" 19 ")), 19);
        assert_eq!(niceness_for(Some("40")), 19);
        assert_eq!(niceness_for(Some("-5")), 0);
        assert_eq!(niceness_for(Some("low")), DEFAULT_NICENESS);
    }

    #[test]
    fn a_worker_runs_below_the_loops_priority() {
        let base = rustix::process::getpriority_process(None).expect("getpriority");
        let seen = Rc::new(Cell::new(None));
        let s = seen.clone();
        queue_work(
            || rustix::process::getpriority_process(None).expect("getpriority"),
            move |nice| s.set(Some(nice)),
        );
        crate::run();
        let steps = niceness_for(std::env::var("NODELIKE_POOL_NICENESS").ok().as_deref());
        // The pool may have been started by another test's thread (same
        // base in this process); the loop's own priority is untouched.
        assert_eq!(seen.get(), Some((base + steps).min(19)));
        assert_eq!(rustix::process::getpriority_process(None).ok(), Some(base));
    }

    #[test]
    fn work_runs_off_the_loop_and_completes_on_it() {
        let loop_thread = std::thread::current().id();
        let seen = Rc::new(Cell::new(0));
        for n in 0..32u64 {
            let seen = seen.clone();
            queue_work(
                move || (n, std::thread::current().id()),
                move |(n, worker)| {
                    assert_ne!(worker, std::thread::current().id());
                    assert_eq!(std::thread::current().id(), loop_thread);
                    seen.set(seen.get() + n);
                },
            );
        }
        // Work in flight keeps the loop alive until every completion ran.
        crate::run();
        assert_eq!(seen.get(), (0..32).sum::<u64>());
    }

    #[test]
    fn a_job_that_panics_resumes_its_panic_on_the_loop() {
        queue_work(|| -> u8 { panic!("job failed") }, |_| unreachable!());
        let caught = std::panic::catch_unwind(crate::run).expect_err("the panic comes out of run");
        assert_eq!(caught.downcast_ref::<&str>(), Some(&"job failed"));
    }
}
