//! Signals on the loop: `process::on_signal`. Each test uses a different
//! signal, so tests running at once do not hear each other's.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use nodelike::process::{self, Signal};

#[test]
fn a_signal_listener_runs_on_the_loop_thread_with_the_signal() {
    let heard = Rc::new(RefCell::new(Vec::new()));
    let raiser: Rc<Cell<Option<nodelike::Timer>>> = Rc::new(Cell::new(None));
    let (h, r) = (heard.clone(), raiser.clone());
    let loop_thread = std::thread::current().id();
    process::on_signal(Signal::Usr2, move |signal| {
        h.borrow_mut()
            .push((signal, std::thread::current().id() == loop_thread));
        // Heard: stop raising, and `run` has nothing left to wait for.
        if let Some(t) = r.take() {
            nodelike::clear_interval(t);
        }
    })
    .expect("listening for SIGUSR2");
    // Raise the signal from the loop until it is heard (the handler writes
    // to the loop's pipe; the listener runs in a later turn).
    raiser.set(Some(nodelike::set_interval(
        || signal_hook::low_level::raise(signal_hook::consts::SIGUSR2).unwrap(),
        5,
    )));
    nodelike::run();
    assert_eq!(heard.borrow()[0], (Signal::Usr2, true));
}

#[test]
fn a_signal_listener_alone_does_not_keep_run_alive() {
    process::on_signal(Signal::Hup, |_| {}).expect("listening for SIGHUP");
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    nodelike::set_timeout(move || r.set(true), 1);
    // Returns once the timer has run, although a signal listener remains.
    nodelike::run();
    assert!(ran.get());
}
