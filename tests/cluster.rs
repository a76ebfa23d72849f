//! One loop per core and graceful shutdown: `nodelike::cluster`, shared
//! ports, signals in the examples, and `close_with` finishing what is in
//! flight.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use common::{example_bin, free_port, ChildGuard, Reader};
use nodelike::http;

#[test]
fn a_cluster_of_two_serves_ten_thousand_requests_and_both_loops_take_part() {
    let port = free_port();
    let served = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let stop = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready_rx) = mpsc::channel();
    let cluster = {
        let (served, stop) = (served.clone(), stop.clone());
        std::thread::spawn(move || {
            nodelike::cluster(2, move |worker| {
                let id = worker.id();
                let s = served.clone();
                let server = http::create_server(move |_req, res| {
                    s[id].fetch_add(1, Ordering::SeqCst);
                    res.end(format!("worker {id}"));
                });
                let ready = ready_tx.clone();
                server.listen(port, "127.0.0.1", move || ready.send(()).unwrap());
                // The loops have no cross-thread stop of their own here:
                // poll the flag, then close (the loop then returns).
                let stop = stop.clone();
                let timer = std::rc::Rc::new(std::cell::Cell::new(None));
                let t = timer.clone();
                timer.set(Some(nodelike::set_interval(
                    move || {
                        if stop.load(Ordering::SeqCst) {
                            server.close();
                            nodelike::clear_interval(t.get().unwrap());
                        }
                    },
                    5,
                )));
            })
        })
    };
    ready_rx.recv().unwrap();
    ready_rx.recv().unwrap();
    let clients: Vec<_> = (0..20)
        .map(|_| {
            std::thread::spawn(move || {
                for _ in 0..10 {
                    // 10 connections per client, 50 keep-alive requests each.
                    let mut r = Reader::new(port);
                    for _ in 0..50 {
                        r.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
                        let res = r.response(false).expect("an answer");
                        assert_eq!(res.status, 200);
                    }
                }
            })
        })
        .collect();
    for c in clients {
        c.join().expect("a client failed");
    }
    stop.store(true, Ordering::SeqCst);
    let exit = cluster.join().unwrap();
    assert!(exit.panicked.is_empty(), "{exit:?}");
    let (a, b) = (
        served[0].load(Ordering::SeqCst),
        served[1].load(Ordering::SeqCst),
    );
    assert_eq!(a + b, 10_000);
    assert!(a > 0 && b > 0, "both loops served: {a} and {b}");
}

#[test]
fn a_panic_in_one_worker_is_reported_and_the_others_finish() {
    let exit = nodelike::cluster(3, |worker| {
        if worker.id() == 1 {
            panic!("worker one fails");
        }
        nodelike::set_timeout(|| {}, 1);
    });
    assert_eq!(exit.panicked, [(1, "worker one fails".to_string())]);
}

thread_local! {
    /// This loop's keep-alive timer and how many broadcasts it has heard.
    static LOOP: std::cell::Cell<(Option<nodelike::Timer>, usize)> = const { std::cell::Cell::new((None, 0)) };
}

#[test]
fn workers_reach_each_other_through_post_and_broadcast() {
    let heard = Arc::new(AtomicUsize::new(0));
    let h = heard.clone();
    /// One message heard on this loop; the last one lets it finish.
    fn heard_one(expected: usize) {
        LOOP.with(|l| {
            let (keep, n) = l.get();
            l.set((keep, n + 1));
            if n + 1 == expected {
                nodelike::clear_interval(keep.unwrap());
            }
        });
    }
    let exit = nodelike::cluster(3, move |worker| {
        // Stay alive until this loop has heard every worker's broadcast and
        // the direct message from the worker before it (a loop that
        // finished could not be posted to).
        let keep = nodelike::set_interval(|| {}, 1000);
        LOOP.with(|l| l.set((Some(keep), 0)));
        let h = h.clone();
        let count = worker.count();
        let expected = count + 1;
        worker.broadcast(move || {
            h.fetch_add(1, Ordering::SeqCst);
            heard_one(expected);
        });
        // And a direct message to the next worker, which it runs on its
        // own thread.
        let next = (worker.id() + 1) % count;
        let me = std::thread::current().id();
        assert!(worker.post(next, move || {
            assert_ne!(std::thread::current().id(), me);
            heard_one(expected);
        }));
    });
    assert!(exit.panicked.is_empty(), "{exit:?}");
    assert_eq!(
        heard.load(Ordering::SeqCst),
        9,
        "3 broadcasts reached 3 loops each"
    );
}

#[test]
fn close_with_finishes_requests_in_flight_closes_idle_connections_and_calls_back_once() {
    let (tx, rx) = mpsc::channel();
    let (port_tx, port_rx) = mpsc::channel();
    let server_thread = std::thread::spawn(move || {
        let server = http::create_server(|req, res| {
            if req.url() == "/slow" {
                // Answers later, after `close` was called.
                nodelike::set_timeout(move || res.end("slow answer, whole"), 300);
            } else {
                res.end("fast");
            }
        });
        let t = tx.clone();
        server.on_request(move |req, _res| {
            if req.url() == "/slow" {
                // The slow request is in: close now.
                let t = t.clone();
                let s = server;
                nodelike::next_tick(move || {
                    s.close_with(move |_| t.send("closed").unwrap());
                });
            }
        });
        server.listen(0, "127.0.0.1", move || {
            port_tx.send(server.address().unwrap().port()).unwrap()
        });
        nodelike::run();
        tx.send("run returned").unwrap();
    });
    let port = port_rx.recv().unwrap();
    // An idle keep-alive connection.
    let mut idle = Reader::new(port);
    idle.send(b"GET /fast HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(idle.response(false).unwrap().body, b"fast");
    // A slow request in flight when the server closes.
    let mut slow = Reader::new(port);
    slow.send(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(
        idle.closed_by_server(),
        "the idle connection closes at once"
    );
    let answer = slow.response(false).expect("the in-flight answer");
    assert_eq!(answer.body, b"slow answer, whole");
    assert_eq!(answer.header("connection"), Some("close"));
    assert!(slow.closed_by_server());
    assert_eq!(rx.recv().unwrap(), "closed");
    assert_eq!(
        rx.recv().unwrap(),
        "run returned",
        "the callback fired once"
    );
    server_thread.join().unwrap();
    // Nothing listens any more.
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
}

/// The race a load balancer loses against Node (issue: rolling restarts):
/// it sends a request on an idle keep-alive connection just as the server
/// closes it. With a close grace, a request that arrives on an idle
/// connection after `close` is answered whole, with `Connection: close`.
#[test]
fn with_a_close_grace_a_post_arriving_on_an_idle_connection_after_close_is_answered() {
    let (tx, rx) = mpsc::channel();
    let (port_tx, port_rx) = mpsc::channel();
    let server_thread = std::thread::spawn(move || {
        let server = http::create_server(|req, res| {
            let body = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
            let b = body.clone();
            req.on_data(move |chunk| b.borrow_mut().extend_from_slice(chunk.as_bytes()));
            req.on_end(move || res.end(std::mem::take(&mut *body.borrow_mut())));
        });
        // Far longer than the test: the connection must close because of
        // its request, not because the grace ran out.
        server.set_close_grace(600_000);
        let t = tx.clone();
        server.on_request(move |req, _res| {
            if req.url() == "/close" {
                let t = t.clone();
                server.close_with(move |_| t.send("closed").unwrap());
            }
        });
        server.listen(0, "127.0.0.1", move || {
            port_tx.send(server.address().unwrap().port()).unwrap()
        });
        nodelike::run();
        tx.send("run returned").unwrap();
    });
    let port = port_rx.recv().unwrap();
    let mut idle = Reader::new(port);
    idle.send(b"POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nfirst");
    let first = idle.response(false).unwrap();
    assert_eq!(first.body, b"first");
    assert_eq!(first.header("connection"), None, "kept alive");
    // Another connection makes the server close; its answer comes after.
    let mut closer = Reader::new(port);
    closer.send(b"GET /close HTTP/1.1\r\nHost: x\r\n\r\n");
    let answer = closer.response(false).unwrap();
    assert_eq!(answer.header("connection"), Some("close"));
    assert!(closer.closed_by_server());
    // The server is closing: no new connections...
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    // ...but the request the balancer had already sent on the idle
    // connection is answered whole, and then that connection closes.
    idle.send(b"POST /late HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\nnot lost, ok");
    let late = idle.response(false).expect("the late POST is answered");
    assert_eq!(late.status, 200);
    assert_eq!(late.body, b"not lost, ok");
    assert_eq!(late.header("connection"), Some("close"));
    assert!(idle.closed_by_server());
    assert_eq!(rx.recv().unwrap(), "closed");
    assert_eq!(
        rx.recv().unwrap(),
        "run returned",
        "the callback fired once"
    );
    server_thread.join().unwrap();
}

/// An idle connection nobody uses during the grace is closed when it ends.
#[test]
fn an_idle_connection_unused_during_the_close_grace_is_closed_when_it_ends() {
    let (tx, rx) = mpsc::channel();
    let (port_tx, port_rx) = mpsc::channel();
    let server_thread = std::thread::spawn(move || {
        let server = http::create_server(|_req, res| res.end("ok"));
        server.set_close_grace(100);
        let t = tx.clone();
        server.on_request(move |req, _res| {
            if req.url() == "/close" {
                let t = t.clone();
                server.close_with(move |_| t.send("closed").unwrap());
            }
        });
        server.listen(0, "127.0.0.1", move || {
            port_tx.send(server.address().unwrap().port()).unwrap()
        });
        nodelike::run();
        tx.send("run returned").unwrap();
    });
    let port = port_rx.recv().unwrap();
    let mut idle = Reader::new(port);
    idle.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(idle.response(false).unwrap().body, b"ok");
    let mut closer = Reader::new(port);
    closer.send(b"GET /close HTTP/1.1\r\nHost: x\r\n\r\n");
    // (Its answer was complete before `close` ran: it is idle too.)
    assert_eq!(closer.response(false).unwrap().body, b"ok");
    assert!(
        idle.closed_by_server(),
        "closed, without a byte, when the grace ends"
    );
    assert!(closer.closed_by_server());
    assert_eq!(rx.recv().unwrap(), "closed");
    assert_eq!(rx.recv().unwrap(), "run returned");
    server_thread.join().unwrap();
}

#[test]
fn the_examples_stop_gracefully_on_sigterm_and_exit_0() {
    for (name, workers) in [("hello", "1"), ("hello", "2"), ("echo", "2")] {
        let mut child = ChildGuard::spawn(
            Command::new(example_bin(name))
                .args(["0", "--workers", workers])
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit()),
        )
        .unwrap_or_else(|e| panic!("cannot start {name}: {e} (cargo test builds examples)"));
        let mut out = child.stdout.take().unwrap();
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while !line.ends_with(b"\n") {
            assert_eq!(out.read(&mut byte).unwrap(), 1, "{name} exited early");
            line.push(byte[0]);
        }
        let line = String::from_utf8(line).unwrap();
        let port: u16 = line
            .trim()
            .trim_end_matches('/')
            .rsplit(':')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut answer = Vec::new();
        c.read_to_end(&mut answer).unwrap();
        assert!(answer.starts_with(b"HTTP/1.1 200 OK"), "{name}");
        let killed = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let status = child.wait().unwrap();
        assert!(
            status.success(),
            "{name} --workers {workers} exited with {status}"
        );
    }
}

#[test]
fn every_workers_setup_is_done_before_any_loop_runs_so_an_early_signal_reaches_all() {
    // Worker 0's loop raises SIGUSR1 as soon as it turns; worker 1's setup
    // is slow to register its listener. Were worker 0's loop to start
    // before worker 1's setup returned, worker 1 would miss the signal and
    // run forever (as `hello --workers 2` once did when signalled on its
    // announcement).
    let heard = Arc::new([AtomicBool::new(false), AtomicBool::new(false)]);
    let (done_tx, done_rx) = mpsc::channel();
    {
        let heard = heard.clone();
        std::thread::spawn(move || {
            let exit = nodelike::cluster(2, move |worker| {
                let id = worker.id();
                if id == 1 {
                    std::thread::sleep(Duration::from_millis(300));
                }
                // Something to keep the loop alive until the signal comes.
                let keep_alive = nodelike::set_interval(|| {}, 60_000);
                let h = heard.clone();
                let _ = nodelike::process::on_signal(nodelike::process::Signal::Usr1, move |_| {
                    h[id].store(true, Ordering::SeqCst);
                    // A signal listener does not keep the loop alive: it
                    // ends now.
                    nodelike::clear_interval(keep_alive);
                });
                if id == 0 {
                    nodelike::next_tick(|| {
                        signal_hook::low_level::raise(signal_hook::consts::SIGUSR1).unwrap()
                    });
                }
            });
            let _ = done_tx.send(exit);
        });
    }
    let exit = done_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("a worker never heard the signal: its loop still runs");
    assert!(exit.panicked.is_empty(), "{:?}", exit.panicked);
    assert!(heard[0].load(Ordering::SeqCst) && heard[1].load(Ordering::SeqCst));
}
