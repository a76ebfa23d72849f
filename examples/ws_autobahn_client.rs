//! Our WebSocket client against Autobahn|Testsuite's fuzzing server: the
//! client half of the conformance run (benches/autobahn/run.py client).
//! Teaches: `ws::WebSocket::connect`, echoing each message with its type
//! through `send_with`, and chaining connections one after another from
//! `on_close`. Guide: chapter 12 (WebSocket).
//!
//! Run it:   cargo run --release --example ws_autobahn_client [URL] [AGENT]
//!           (URL defaults to ws://127.0.0.1:9001, AGENT to nodelike)
//! Usually:  python3 benches/autobahn/run.py client   (starts wstest, then this)
//!
//! It asks GET /getCaseCount, then for each case N connects to
//! /runCase?case=N&agent=AGENT and echoes every message back (text as text,
//! binary as binary) until the server closes, then asks
//! /updateReports?agent=AGENT, which writes the reports. It prints one line
//! at the end (`ran N cases`); exit status 1 when the case count could not
//! be had.
use std::cell::Cell;
use std::rc::Rc;

use nodelike::ws::{self, SendOptions};

fn main() {
    env_logger::init();
    let mut args = std::env::args().skip(1);
    let base = args.next().unwrap_or_else(|| "ws://127.0.0.1:9001".into());
    let agent = args.next().unwrap_or_else(|| "nodelike".into());
    let base: Rc<str> = base.trim_end_matches('/').into();
    let agent: Rc<str> = agent.into();

    let count = Rc::new(Cell::new(0u32));
    let ws = ws::WebSocket::connect(
        &format!("{base}/getCaseCount"),
        ws::ClientOptions::default(),
    );
    ws.on_error(|e| eprintln!("getCaseCount: {e}"));
    let c = count.clone();
    ws.on_message(move |data, _is_binary| {
        c.set(
            std::str::from_utf8(data)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0),
        );
    });
    let c = count.clone();
    ws.on_close(move |_code, _reason| {
        let n = c.get();
        if n == 0 {
            eprintln!("the fuzzing server at {base} reported no cases");
            std::process::exit(1);
        }
        run_case(base.clone(), agent.clone(), 1, n);
    });
    nodelike::run();
    eprintln!("ran {} cases", count.get());
}

/// Case `i` of `n`: echo everything until the server closes, then the next
/// (after the last, the reports).
fn run_case(base: Rc<str>, agent: Rc<str>, i: u32, n: u32) {
    if i > n {
        let ws = ws::WebSocket::connect(
            &format!("{base}/updateReports?agent={agent}"),
            ws::ClientOptions::default(),
        );
        ws.on_error(|e| eprintln!("updateReports: {e}"));
        return;
    }
    let ws = ws::WebSocket::connect(
        &format!("{base}/runCase?case={i}&agent={agent}"),
        ws::ClientOptions::default(),
    );
    // Failing the connection is what many cases expect: the close follows.
    ws.on_error(move |e| log::debug!("case {i}: {e}"));
    ws.on_message(move |data, is_binary| {
        let options = SendOptions {
            binary: Some(is_binary),
            ..Default::default()
        };
        ws.send_with(data, options, None);
    });
    let done = Cell::new(false);
    ws.on_close(move |_code, _reason| {
        if !done.replace(true) {
            run_case(base.clone(), agent.clone(), i + 1, n);
        }
    });
}
