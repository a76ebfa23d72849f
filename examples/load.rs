//! The client side of the benchmark: `load URL N C` sends N GET requests to
//! URL, C in flight over one keep-alive agent (max_sockets C), reads every
//! body, and prints `requests/sec: <number>`.
//! Teaches: the agent's pool under load, many requests in flight on one
//! loop. Guide: chapters 7 (the client) and 8 (benchmarking).
//!
//! Run it:   cargo run --release --example load -- http://127.0.0.1:8000/ 100000 50
use std::cell::Cell;
use std::rc::Rc;
use std::time::Instant;

use nodelike::http::{self, IntoRequestOptions};

fn main() {
    env_logger::init();
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:8000/".into());
    let total: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let in_flight: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(50);
    let options = match url.as_str().into_request_options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    http::get_agent(&options.host, options.port).set_max_sockets(in_flight as usize);
    let state = Rc::new(State {
        started: Cell::new(0),
        done: Cell::new(0),
        failed: Cell::new(0),
        total,
        options,
    });
    let t0 = Instant::now();
    for _ in 0..in_flight.min(total) {
        one(state.clone());
    }
    nodelike::run();
    let secs = t0.elapsed().as_secs_f64();
    if state.failed.get() > 0 {
        eprintln!("{} requests failed", state.failed.get());
    }
    println!("requests/sec: {:.0}", state.done.get() as f64 / secs);
}

struct State {
    started: Cell<u64>,
    done: Cell<u64>,
    failed: Cell<u64>,
    total: u64,
    options: http::RequestOptions,
}

/// Starts one request; when its body has ended, starts the next.
fn one(state: Rc<State>) {
    if state.started.get() >= state.total {
        return;
    }
    state.started.set(state.started.get() + 1);
    let s = state.clone();
    let req = http::get(state.options.clone(), move |res| {
        res.on_data(|_| {});
        let s = s.clone();
        res.on_end(move || {
            s.done.set(s.done.get() + 1);
            one(s.clone());
        });
    });
    let s = state;
    req.on_error(move |e| {
        eprintln!("error: {e}");
        s.failed.set(s.failed.get() + 1);
        one(s.clone());
    });
}
