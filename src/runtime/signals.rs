//! Signals on the loop (Node's `process.on('SIGTERM', f)`).
//!
//! signal-hook's handler only writes to a pipe; the loop watches the pipe
//! as one more I/O source and runs your listeners on its own thread, in a
//! loop turn like any other event. Each loop that listens has its own pipe,
//! so with one loop per core every loop hears a SIGTERM. As in Node, a
//! signal listener does not keep [`run`](crate::run) alive, and a signal
//! nobody listens for keeps its default action (SIGTERM and SIGINT end the
//! process): the handler is installed only when the first listener for that
//! signal is added.

use std::cell::RefCell;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2};
use signal_hook_mio::v1_0::Signals;

use super::listeners::{emit, Listeners};
use super::{IoHandler, Readiness};

/// A signal a program can listen for (the ones a server's life is made
/// of: stop, interrupt, reload, and two for your own use).
///
/// ```
/// use nodelike::process::Signal;
/// assert_eq!(Signal::Term.name(), "SIGTERM");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    /// `SIGTERM`: stop (what systemd, Kubernetes and `kill` send).
    Term,
    /// `SIGINT`: interrupt (Ctrl-C).
    Int,
    /// `SIGHUP`: the terminal hung up; by convention, reload.
    Hup,
    /// `SIGUSR1`.
    Usr1,
    /// `SIGUSR2`.
    Usr2,
}

const ALL: [Signal; 5] = [
    Signal::Term,
    Signal::Int,
    Signal::Hup,
    Signal::Usr1,
    Signal::Usr2,
];

impl Signal {
    /// The signal's name, as Node spells it in `process.on(name, ..)`.
    ///
    /// ```
    /// assert_eq!(nodelike::process::Signal::Usr2.name(), "SIGUSR2");
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            Signal::Term => "SIGTERM",
            Signal::Int => "SIGINT",
            Signal::Hup => "SIGHUP",
            Signal::Usr1 => "SIGUSR1",
            Signal::Usr2 => "SIGUSR2",
        }
    }

    fn number(self) -> i32 {
        match self {
            Signal::Term => SIGTERM,
            Signal::Int => SIGINT,
            Signal::Hup => SIGHUP,
            Signal::Usr1 => SIGUSR1,
            Signal::Usr2 => SIGUSR2,
        }
    }

    fn from_number(n: i32) -> Option<Signal> {
        ALL.into_iter().find(|s| s.number() == n)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// This loop's signal pipe and listeners.
struct SignalState {
    signals: Signals,
    listeners: [Listeners<dyn FnMut(Signal)>; 5],
}

thread_local! {
    static STATE: RefCell<Option<SignalState>> = const { RefCell::new(None) };
}

static SIGNAL_IO: IoHandler = IoHandler {
    ready: on_ready,
    on_panic: |_| {},
};

/// Adds a listener for `signal` on this thread's loop (Node's
/// `process.on('SIGTERM', listener)`). The listener runs on the loop's
/// thread, in a loop turn, with the signal as its argument. From then on
/// the signal no longer has its default action in this process.
///
/// A signal listener does not keep [`run`](crate::run) alive: a server
/// that closes on SIGTERM lets `run` return once its last connection is
/// gone.
///
/// ```no_run
/// use nodelike::{http, process::{self, Signal}};
/// let server = http::create_server(|_req, res| res.end("hi"));
/// server.listen(8000, "127.0.0.1", || {});
/// process::on_signal(Signal::Term, move |_| server.close());
/// nodelike::run(); // returns once the server has closed
/// ```
///
/// # Errors
///
/// Returns the OS error if the signal's pipe cannot be made or
/// registered.
pub fn on_signal(signal: Signal, listener: impl FnMut(Signal) + 'static) -> std::io::Result<()> {
    STATE.with(|cell| {
        let mut state = cell.borrow_mut();
        if state.is_none() {
            let mut signals = Signals::new(std::iter::empty::<i32>())?;
            // Registered for the loop's life; not a reference: it does not
            // keep `run` alive.
            super::register(&mut signals, mio::Interest::READABLE, &SIGNAL_IO, 0)?;
            *state = Some(SignalState {
                signals,
                listeners: Default::default(),
            });
        }
        let st = state.as_mut().expect("made above");
        if st.listeners[signal.index()].is_empty() {
            st.signals.add_signal(signal.number())?;
            log::debug!("process: listening for {}", signal.name());
        }
        st.listeners[signal.index()].push(Box::new(listener));
        Ok(())
    })
}

/// The signal pipe is readable: run the listeners of every signal that
/// arrived.
fn on_ready(_ctx: u64, _ready: Readiness) {
    let arrived: Vec<Signal> = STATE
        .with(|cell| {
            cell.borrow_mut().as_mut().map(|st| {
                st.signals
                    .pending()
                    .filter_map(Signal::from_number)
                    .collect()
            })
        })
        .unwrap_or_default();
    for signal in arrived {
        log::debug!("process: {}", signal.name());
        emit(
            |f| {
                STATE
                    .try_with(|cell| match cell.borrow_mut().as_mut() {
                        Some(st) => {
                            f(&mut st.listeners[signal.index()]);
                            true
                        }
                        None => false,
                    })
                    .unwrap_or(false)
            },
            |listener| listener(signal),
        );
    }
}
