//! The answers to the guide's exercises (`src/guide/`), one test each,
//! named after its chapter: run them to check your own answer against ours.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use nodelike::http;

/// Chapter 1: a countdown with one `set_interval` that clears itself, so
/// `run` returns.
#[test]
fn ch01_a_countdown_stops_its_own_interval() {
    let printed = Rc::new(RefCell::new(Vec::new()));
    let p = printed.clone();
    let left = Rc::new(Cell::new(3));
    let timer = Rc::new(Cell::new(None));
    let t = timer.clone();
    timer.set(Some(nodelike::set_interval(
        move || {
            p.borrow_mut().push(left.get());
            left.set(left.get() - 1);
            if left.get() == 0 {
                nodelike::clear_interval(t.get().expect("set before the first tick"));
            }
        },
        1,
    )));
    nodelike::run(); // returns: no timer is left
    assert_eq!(*printed.borrow(), [3, 2, 1]);
}

/// Chapter 2: a request handle kept past its exchange reads the empty
/// value; it does not reach whatever reuses its slot, and does not panic.
#[test]
fn ch02_a_stale_request_reads_the_empty_url() {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    let server = http::create_server(move |req, res| {
        res.end(());
        let s = s.clone();
        nodelike::set_timeout(move || s.borrow_mut().push(req.url()), 5);
    });
    let conn = server.connect_in_memory();
    conn.send(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n");
    // A second request may take the first one's slot: still "".
    conn.send(b"GET /second HTTP/1.1\r\nHost: x\r\n\r\n");
    conn.end();
    nodelike::run();
    assert_eq!(*seen.borrow(), ["", ""]);
}

/// Chapter 3: 413 as soon as a body passes 10 bytes, and the connection
/// closes without reading the rest.
#[test]
fn ch03_a_body_over_the_limit_gets_413() {
    const LIMIT: usize = 10;
    let server = http::create_server(|req, res| {
        let received = Rc::new(Cell::new(0));
        req.on_data(move |chunk| {
            received.set(received.get() + chunk.as_bytes().len());
            if received.get() > LIMIT && !res.headers_sent() {
                // `Connection: close` makes the server close after this
                // answer instead of reading the rest of the body.
                res.write_head(413, &[("Connection", "close")]);
                res.end("too large\n");
            }
        });
        req.on_end(move || {
            if !res.headers_sent() {
                res.end("ok\n");
            }
        });
    });
    let small = server.connect_in_memory();
    small.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
    assert!(small.take_output().ends_with(b"ok\n"));

    let big = server.connect_in_memory();
    big.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n");
    big.send(&[b'x'; 64]);
    nodelike::run();
    let answer = String::from_utf8(big.take_output()).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 413 Payload Too Large\r\n"),
        "{answer}"
    );
    assert!(answer.ends_with("too large\n"), "{answer}");
    assert!(big.output_ended(), "the server closed its side");
}
