//! One loop per core: Node's `cluster`, as threads.
//!
//! [`cluster`] runs the same setup on several threads, each with its own
//! event loop, and waits for them all. Nothing is shared between the loops
//! on the request path: each has its own sockets, timers and buffers. Their
//! listening sockets share the port (`SO_REUSEPORT`), so the kernel spreads
//! incoming connections among them, with no accept lock and no handoff. A
//! [`Worker`] can post closures to the other loops (Node's `worker.send`),
//! for example to tell them all to close.

use std::sync::{mpsc, Arc, Barrier};

use crate::runtime::Remote;

/// One loop of a [`cluster`]: its number, and a way to reach the others.
///
/// ```
/// nodelike::cluster(2, |worker| {
///     assert!(worker.id() < worker.count());
/// });
/// ```
#[derive(Debug, Clone)]
pub struct Worker {
    id: usize,
    loops: Arc<Vec<Remote>>,
}

impl Worker {
    /// This worker's number, from 0.
    ///
    /// ```
    /// nodelike::cluster(1, |worker| assert_eq!(worker.id(), 0));
    /// ```
    pub fn id(&self) -> usize {
        self.id
    }

    /// How many workers the cluster has.
    ///
    /// ```
    /// nodelike::cluster(3, |worker| assert_eq!(worker.count(), 3));
    /// ```
    pub fn count(&self) -> usize {
        self.loops.len()
    }

    /// Runs `task` on worker `id`'s loop, in its next turn (Node's
    /// `worker.send`). Returns `false` if that loop has ended.
    ///
    /// ```
    /// nodelike::cluster(2, |worker| {
    ///     let me = worker.id();
    ///     worker.post(1 - me, move || println!("worker {me} says hello"));
    /// });
    /// ```
    pub fn post(&self, id: usize, task: impl FnOnce() + Send + 'static) -> bool {
        self.loops.get(id).is_some_and(|l| l.post(task))
    }

    /// Runs `task` on every worker's loop, this one's included (to tell
    /// them all to close, say).
    ///
    /// ```
    /// nodelike::cluster(2, |worker| {
    ///     if worker.id() == 0 {
    ///         worker.broadcast(|| println!("everyone hears this"));
    ///     }
    /// });
    /// ```
    ///
    /// `task` runs on each worker's loop thread, in a later turn of that
    /// loop. It is `Send + Sync` (one closure for every thread), so it
    /// cannot carry a [`Server`](crate::http::Server) or any other handle
    /// (they are `!Send`, and each names records of the loop that made it).
    /// It reaches a loop's server through a `thread_local!` that the worker
    /// set when it created the server: the setup closure runs on the
    /// worker's thread before its loop starts, so the slot is set by the
    /// time `task` runs there.
    ///
    /// ```
    /// use std::cell::Cell;
    /// use nodelike::http;
    ///
    /// thread_local! {
    ///     /// This loop's server, set by the worker that created it.
    ///     static SERVER: Cell<Option<http::Server>> = const { Cell::new(None) };
    /// }
    ///
    /// let exit = nodelike::cluster(2, |worker| {
    ///     let server = http::create_server(|_req, res| res.end("hello"));
    ///     server.listen(0, "127.0.0.1", || {});
    ///     SERVER.with(|slot| slot.set(Some(server)));
    ///     if worker.id() == 0 {
    ///         // Every loop closes its own server; then `cluster` returns.
    ///         worker.broadcast(|| {
    ///             if let Some(server) = SERVER.with(|slot| slot.get()) {
    ///                 server.close();
    ///             }
    ///         });
    ///     }
    /// });
    /// assert!(exit.panicked.is_empty());
    /// ```
    pub fn broadcast(&self, task: impl Fn() + Send + Sync + 'static) {
        let task = Arc::new(task);
        for l in self.loops.iter() {
            let t = task.clone();
            l.post(move || t());
        }
    }
}

/// How a cluster ended: the workers whose loop panicked, with the panic's
/// message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterExit {
    /// `(worker id, panic message)` for each worker that panicked.
    pub panicked: Vec<(usize, String)>,
}

/// Runs `workers` event loops on as many threads (`0`: one per core), each
/// set up by `setup` and then [`run`](crate::run) until it has nothing left
/// to wait for; returns when every loop has finished. Servers that listen
/// on a loop of the cluster share their port with the other loops'
/// (`SO_REUSEPORT`; see [`ListenOptions`](crate::http::ListenOptions)).
///
/// Every worker's `setup` has returned before any loop starts turning, so
/// what one worker's setup registers (a signal listener, say) is in place
/// before another's loop runs a callback (a `listen` callback announcing
/// the port, say): a signal sent on that announcement reaches every worker.
///
/// A panic in one worker ends that worker only: it is printed (by the
/// default panic hook), the others go on, and it is reported in the
/// returned [`ClusterExit`].
///
/// ```no_run
/// use nodelike::{http, process::{self, Signal}};
/// nodelike::cluster(0, |_worker| {
///     let server = http::create_server(|_req, res| res.end("hello\n"));
///     server.listen(8000, "127.0.0.1", || {});
///     let _ = process::on_signal(Signal::Term, move |_| server.close());
/// });
/// ```
pub fn cluster(workers: usize, setup: impl Fn(Worker) + Send + Sync + 'static) -> ClusterExit {
    let workers = if workers == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        workers
    };
    let setup = Arc::new(setup);
    let set_up = Arc::new(Barrier::new(workers));
    let (remote_tx, remote_rx) = mpsc::channel();
    let mut starts = Vec::new();
    let mut threads = Vec::new();
    for id in 0..workers {
        let (start_tx, start_rx) = mpsc::channel::<Arc<Vec<Remote>>>();
        starts.push(start_tx);
        let remote_tx = remote_tx.clone();
        let setup = setup.clone();
        let set_up = set_up.clone();
        let thread = std::thread::Builder::new()
            .name(format!("nodelike-worker-{id}"))
            .spawn(move || {
                crate::net::share_ports_by_default(true);
                let _ = remote_tx.send((id, crate::runtime::remote()));
                // Every loop's handle is known before any setup runs.
                let Ok(loops) = start_rx.recv() else { return };
                // A setup that panics still reaches the barrier (the
                // others would wait for it forever), then goes on
                // unwinding.
                let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    setup(Worker { id, loops })
                }));
                set_up.wait();
                if let Err(panic) = done {
                    std::panic::resume_unwind(panic);
                }
                crate::run();
            })
            .expect("nodelike: cannot start a worker thread");
        threads.push(thread);
    }
    drop(remote_tx);
    let mut remotes: Vec<Option<Remote>> = vec![None; workers];
    for (id, remote) in remote_rx.iter().take(workers) {
        remotes[id] = Some(remote);
    }
    let loops: Arc<Vec<Remote>> = Arc::new(remotes.into_iter().flatten().collect());
    for start in starts {
        let _ = start.send(loops.clone());
    }
    let mut exit = ClusterExit::default();
    for (id, thread) in threads.into_iter().enumerate() {
        if let Err(panic) = thread.join() {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a panic".into());
            log::error!("cluster: worker {id} panicked: {message}");
            exit.panicked.push((id, message));
        }
    }
    exit
}
