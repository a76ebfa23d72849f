//! The server's events and streams: event order, pause/resume, write and
//! drain, timeouts, aborted requests, close, unix sockets, set_encoding.

mod common;

use std::cell::RefCell;
use std::io::{Read, Write};
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

use common::{connect, exchange_until_close, request, Reader, TestServer};
use nodelike::http::{self, CloseReason};

#[test]
fn events_fire_in_order_request_data_end_finish_close() {
    let (tx, rx) = mpsc::channel::<String>();
    let s = TestServer::start(move || {
        http::create_server(move |req, res| {
            let log = tx.clone();
            log.send("request".into()).unwrap();
            let l = log.clone();
            req.on_data(move |c| l.send(format!("data:{}", c)).unwrap());
            let l = log.clone();
            req.on_end(move || {
                l.send("end".into()).unwrap();
                res.end("ok");
            });
            let l = log.clone();
            res.on_finish(move || l.send("finish".into()).unwrap());
            let l = log.clone();
            res.on_close(move || {
                l.send(format!("close:{}", res.writable_finished()))
                    .unwrap()
            });
            let l = log;
            req.on_close(move |r| l.send(format!("req-close:{r}")).unwrap());
        })
    });
    let r = request(
        s.port(),
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
    );
    assert_eq!(r.body, b"ok");
    let events: Vec<String> = (0..6)
        .map(|_| rx.recv_timeout(Duration::from_secs(10)).unwrap())
        .collect();
    // Node 20's order: the request's `close` comes last, once, saying the
    // life ended well.
    assert_eq!(
        events,
        [
            "request",
            "data:abc",
            "end",
            "finish",
            "close:true",
            "req-close:finished"
        ]
    );
    s.stop();
    assert!(rx.try_recv().is_err(), "the request's close fires once");
}

#[test]
fn listener_added_during_emit_runs_from_the_next_emit() {
    let (tx, rx) = mpsc::channel::<String>();
    let s = TestServer::start(move || {
        http::create_server(move |req, res| {
            let tx = tx.clone();
            let added = Rc::new(std::cell::Cell::new(false));
            req.on_data(move |c| {
                tx.send(format!("first:{c}")).unwrap();
                if !added.get() {
                    added.set(true);
                    let tx = tx.clone();
                    req.on_data(move |c| tx.send(format!("second:{c}")).unwrap());
                }
            });
            req.on_end(move || res.end(()));
        })
    });
    let mut c = Reader::new(s.port());
    c.send(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n");
    assert_eq!(rx.recv().unwrap(), "first:a");
    c.send(b"1\r\nb\r\n0\r\n\r\n");
    c.response(false).unwrap();
    let rest: Vec<String> = rx.try_iter().collect();
    assert_eq!(rest, ["first:b", "second:b"]);
    drop(c);
    s.stop();
}

#[test]
fn pause_stops_data_until_resume() {
    // Node's "pause 1 s then resume 10 MiB" scenario, smaller and untimed.
    let (tx, rx) = mpsc::channel::<String>();
    let s = TestServer::start(move || {
        http::create_server(move |req, res| {
            let tx = tx.clone();
            let total = Rc::new(std::cell::Cell::new(0usize));
            let t = total.clone();
            req.pause();
            tx.send("paused".into()).unwrap();
            nodelike::set_timeout(move || req.resume(), 20);
            req.on_data(move |c| t.set(t.get() + c.len()));
            req.on_end(move || {
                tx.send(format!("end:{}", total.get())).unwrap();
                res.end(total.get().to_string());
            });
        })
    });
    let body = vec![b'x'; 1 << 20];
    let mut c = Reader::new(s.port());
    c.send(
        format!(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    let writer = {
        let mut stream = c.stream.try_clone().unwrap();
        std::thread::spawn(move || stream.write_all(&body).unwrap())
    };
    let r = c.response(false).unwrap();
    writer.join().unwrap();
    assert_eq!(r.body_str(), (1 << 20).to_string());
    assert_eq!(rx.recv().unwrap(), "paused");
    assert_eq!(rx.recv().unwrap(), format!("end:{}", 1 << 20));
    drop(c);
    s.stop();
}

#[test]
fn write_returns_false_past_the_high_water_mark_and_drain_fires() {
    let (tx, rx) = mpsc::channel::<String>();
    let s = TestServer::start(move || {
        http::create_server(move |_req, res| {
            let tx = tx.clone();
            // 4 MiB in 64 KiB pieces, waiting for drain whenever told to.
            let piece = Rc::new(vec![b'z'; 64 * 1024]);
            let sent = Rc::new(std::cell::Cell::new(0usize));
            let falses = Rc::new(std::cell::Cell::new(0usize));
            let pump = Rc::new(RefCell::new(None::<Box<dyn Fn()>>));
            let (p, s2, f2, t2) = (piece.clone(), sent.clone(), falses.clone(), tx.clone());
            *pump.borrow_mut() = Some(Box::new(move || {
                while s2.get() < 64 {
                    s2.set(s2.get() + 1);
                    if !res.write(&p[..]) {
                        f2.set(f2.get() + 1);
                        if f2.get() == 1 {
                            t2.send("backed up".into()).unwrap();
                        }
                        return;
                    }
                }
                t2.send(format!("done; write returned false {} times", f2.get()))
                    .unwrap();
                res.end(());
            }));
            let pump2 = pump.clone();
            res.on_drain(move || (pump2.borrow().as_ref().unwrap())());
            (pump.borrow().as_ref().unwrap())();
        })
    });
    let mut c = connect(s.port());
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    // Read nothing until the server's queue has filled (4 MiB cannot all
    // sit in the kernel's buffers for a peer that does not read).
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(30)).unwrap(),
        "backed up"
    );
    let mut all = Vec::new();
    c.read_to_end(&mut all).unwrap();
    let text = rx.recv_timeout(Duration::from_secs(30)).unwrap();
    let falses: usize = text.split(' ').nth(4).unwrap().parse().unwrap();
    assert!(falses > 0, "{text}");
    let body_start = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    // Decode the chunked body and count.
    let mut rest = &all[body_start..];
    let mut total = 0;
    loop {
        let i = rest.windows(2).position(|w| w == b"\r\n").unwrap();
        let n = usize::from_str_radix(std::str::from_utf8(&rest[..i]).unwrap(), 16).unwrap();
        rest = &rest[i + 2..];
        if n == 0 {
            break;
        }
        assert!(rest[..n].iter().all(|&b| b == b'z'));
        total += n;
        rest = &rest[n + 2..];
    }
    assert_eq!(total, 64 * 64 * 1024);
    s.stop();
}

#[test]
fn echo_with_backpressure_returns_every_byte() {
    let s = TestServer::start(|| {
        http::create_server(|req, res| {
            req.on_data(move |chunk| {
                if !res.write(chunk) {
                    req.pause();
                }
            });
            res.on_drain(move || req.resume());
            req.on_end(move || res.end(()));
        })
    });
    let body: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let mut c = Reader::new(s.port());
    c.send(
        format!(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    let writer = {
        let mut stream = c.stream.try_clone().unwrap();
        let body = body.clone();
        std::thread::spawn(move || stream.write_all(&body).unwrap())
    };
    let r = c.response(false).unwrap();
    writer.join().unwrap();
    assert_eq!(r.body.len(), body.len());
    assert!(r.body == body, "bytes differ");
    drop(c);
    s.stop();
}

#[test]
fn set_encoding_utf8_decodes_characters_split_across_chunks() {
    let s = TestServer::start(|| {
        http::create_server(|req, res| {
            req.set_encoding(nodelike::Encoding::Utf8);
            let pieces = Rc::new(RefCell::new(Vec::new()));
            let p = pieces.clone();
            req.on_data(move |c| p.borrow_mut().push(c.as_str().unwrap().to_owned()));
            req.on_end(move || res.end(pieces.borrow().join("|")));
        })
    });
    // "é" (C3 A9) and "€" (E2 82 AC) split across chunk boundaries.
    let r = request(
        s.port(),
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\na\xc3\r\n3\r\n\xa9\xe2\x82\r\n2\r\n\xacz\r\n0\r\n\r\n",
    );
    assert_eq!(r.body_str(), "a|é|€z");
    s.stop();
}

#[test]
fn idle_connection_is_closed_after_the_server_timeout() {
    // test-http-set-timeout.js, with a short timeout instead of 2 minutes
    // (long enough for a loaded machine to send its request first).
    let s = TestServer::start(|| {
        let server = http::create_server(|_req, res| res.end("ok"));
        server.set_timeout(1_000);
        server
    });
    let mut c = Reader::new(s.port());
    c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(c.response(false).unwrap().body, b"ok");
    assert!(
        c.closed_by_server(),
        "the idle keep-alive connection is closed by the timeout"
    );
    s.stop();
}

#[test]
fn unfinished_request_gets_close_with_timeout() {
    let (tx, rx) = mpsc::channel::<CloseReason>();
    let s = TestServer::start(move || {
        let server = http::create_server(move |req, _res| {
            let tx = tx.clone();
            req.on_close(move |reason| tx.send(reason).unwrap());
        });
        // Long enough for a loaded machine to send the head first.
        server.set_timeout(1_000);
        server
    });
    let mut c = connect(s.port());
    c.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        .unwrap();
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(30)).unwrap(),
        CloseReason::Timeout
    );
    let mut rest = Vec::new();
    let _ = c.read_to_end(&mut rest);
    s.stop();
}

#[test]
fn client_going_away_mid_body_gives_close_with_aborted() {
    // test-http-request-aborted.js
    let (tx, rx) = mpsc::channel::<String>();
    let s = TestServer::start(move || {
        http::create_server(move |req, res| {
            tx.send("request".into()).unwrap();
            let tx2 = tx.clone();
            req.on_close(move |reason| tx2.send(format!("req:{reason}")).unwrap());
            let tx3 = tx.clone();
            res.on_close(move || {
                tx3.send(format!("res:{}", res.writable_finished()))
                    .unwrap()
            });
        })
    });
    let mut c = connect(s.port());
    c.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        .unwrap();
    // Mid-body once the server has the request.
    assert_eq!(rx.recv_timeout(Duration::from_secs(30)).unwrap(), "request");
    drop(c);
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        "req:aborted"
    );
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        "res:false"
    );
    s.stop();
}

/// test-http-client-abort.js, the server's view: a client that resets its
/// connection while its GETs wait for slow handlers. Every unfinished
/// request gets `close` (aborted), its response `close` unfinished, and the
/// server's connection count drops. (A FIN instead is a polite half-close:
/// see the next test, and the README's "Deliberate differences".)
#[test]
fn a_client_reset_with_responses_pending_aborts_each_request() {
    let (tx, rx) = mpsc::channel::<String>();
    let s = TestServer::start(move || {
        let t = tx.clone();
        let server = http::create_server(move |req, res| {
            let (t1, t2) = (tx.clone(), tx.clone());
            let url = req.url();
            tx.send(format!("{url} in")).unwrap();
            req.on_close(move |reason| t1.send(format!("{url} req:{reason}")).unwrap());
            res.on_close(move || t2.send(format!("res:{}", res.writable_finished())).unwrap());
            // Never answered: the client goes first, however slow it is.
        });
        server.on_connection(move |socket| {
            let t = t.clone();
            socket.on_close(move |_| t.send("connection closed".into()).unwrap());
        });
        server
    });
    let c = connect(s.port());
    let mut w = &c;
    w.write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // Both requests are in before the reset.
    for url in ["/a", "/b"] {
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(30)).unwrap(),
            format!("{url} in")
        );
    }
    socket2::SockRef::from(&c)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(c); // RST
    let mut seen: Vec<String> = (0..5)
        .map(|_| rx.recv_timeout(Duration::from_secs(10)).unwrap())
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            "/a req:aborted",
            "/b req:aborted",
            "connection closed",
            "res:false",
            "res:false"
        ]
    );
    s.stop();
}

/// With `set_allow_half_open(true)` (Node's `httpAllowHalfOpen`) a FIN is
/// RFC 9112's half-close: every request already sent is answered.
#[test]
fn half_closed_client_still_gets_its_responses() {
    let s = TestServer::start(|| {
        let server = http::create_server(|req, res| {
            nodelike::set_timeout(move || res.end(req.url()), 10);
        });
        server.set_allow_half_open(true);
        server
    });
    let mut c = connect(s.port());
    c.write_all(b"GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    let mut all = Vec::new();
    c.read_to_end(&mut all).unwrap();
    let text = String::from_utf8_lossy(&all);
    assert!(text.contains("/one") && text.contains("/two"), "{text}");
    assert!(text.find("/one") < text.find("/two"));
    s.stop();
}

#[test]
fn server_close_closes_idle_connections_and_emits_close() {
    let (tx, rx) = mpsc::channel::<&'static str>();
    let (addr_tx, addr_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let t = std::thread::spawn(move || {
        let server = http::create_server(|_req, res| res.end("ok"));
        let tx2 = tx.clone();
        server.on_close(move || tx2.send("close").unwrap());
        server.listen(0, "127.0.0.1", || {});
        addr_tx.send(server.address().unwrap()).unwrap();
        let timer = Rc::new(std::cell::Cell::new(None));
        let t2 = timer.clone();
        timer.set(Some(nodelike::set_interval(
            move || {
                if go_rx.try_recv().is_ok() {
                    server.close();
                    nodelike::clear_interval(t2.get().unwrap());
                }
            },
            5,
        )));
        nodelike::run();
        tx.send("run returned").unwrap();
    });
    let addr: std::net::SocketAddr = addr_rx.recv().unwrap();
    let mut c = Reader::new(addr.port());
    c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    c.response(false).unwrap();
    go_tx.send(()).unwrap();
    assert!(
        c.closed_by_server(),
        "the idle keep-alive connection is closed, not waited for"
    );
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), "close");
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        "run returned"
    );
    t.join().unwrap();
}

#[test]
fn unix_socket_server_serves_requests() {
    let dir = std::env::temp_dir().join(format!("nodelike-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("http.sock");
    let _ = std::fs::remove_file(&path);
    let p2 = path.clone();
    let (ready_tx, ready_rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        let server = http::create_server(|req, res| res.end(format!("unix {}", req.url())));
        let s2 = server;
        server.listen_path(&p2, move || ready_tx.send(()).unwrap());
        // One request, then close.
        s2.on_connection(move |sock| sock.on_close(move |_| s2.close()));
        nodelike::run();
    });
    ready_rx.recv().unwrap();
    let mut c = std::os::unix::net::UnixStream::connect(&path).unwrap();
    c.write_all(b"GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    assert!(out.ends_with("unix /x"), "{out}");
    t.join().unwrap();
    assert!(!path.exists(), "the socket file is removed on close");
    let _ = std::fs::remove_dir(&dir);
}

#[test]
fn timers_and_next_tick_run_in_node_order() {
    let order = Rc::new(RefCell::new(Vec::new()));
    let o = order.clone();
    nodelike::set_timeout(move || o.borrow_mut().push("timeout 20"), 20);
    let o = order.clone();
    nodelike::set_timeout(move || o.borrow_mut().push("timeout 1"), 1);
    let o = order.clone();
    let cancelled = nodelike::set_timeout(move || o.borrow_mut().push("cancelled"), 5);
    nodelike::clear_timeout(cancelled);
    let o = order.clone();
    nodelike::next_tick(move || o.borrow_mut().push("tick"));
    nodelike::run();
    assert_eq!(*order.borrow(), ["tick", "timeout 1", "timeout 20"]);
}

#[test]
fn connection_event_gives_the_socket_with_its_remote_address() {
    let (tx, rx) = mpsc::channel();
    let s = TestServer::start(move || {
        let server = http::create_server(|req, res| {
            res.end(req.connection().remote_address().unwrap().ip().to_string())
        });
        server.on_connection(move |sock| tx.send(sock.remote_address().unwrap()).unwrap());
        server
    });
    let r = request(s.port(), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.body_str(), "127.0.0.1");
    assert_eq!(rx.recv().unwrap().ip().to_string(), "127.0.0.1");
    s.stop();
}

#[test]
fn upgraded_socket_has_timeout_end_and_close_events() {
    let (tx, rx) = mpsc::channel::<String>();
    let s = TestServer::start(move || {
        let server = http::create_server(|_req, res| res.end(()));
        server.on_upgrade(move |_req, socket, _head| {
            socket.write(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n",
            );
            socket.set_timeout(30);
            let fired = Rc::new(std::cell::Cell::new(false));
            socket.on_timeout(move || {
                // Told once per idle period; answer only the first.
                if !fired.replace(true) {
                    socket.write("idle\n");
                }
            });
            let t = tx.clone();
            socket.on_data(move |c| t.send(format!("data:{c}")).unwrap());
            let t = tx.clone();
            socket.on_end(move || t.send("end".into()).unwrap());
            let t = tx.clone();
            socket.on_close(move |had_error| t.send(format!("close:{had_error}")).unwrap());
        });
        server
    });
    let mut c = Reader::new(s.port());
    c.send(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n");
    assert_eq!(c.response(true).unwrap().status, 101);
    assert_eq!(
        c.take(5).unwrap(),
        b"idle\n",
        "the timeout event fired and the socket stayed open"
    );
    c.send(b"ping");
    assert_eq!(rx.recv().unwrap(), "data:ping");
    c.stream.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(rx.recv().unwrap(), "end");
    assert!(
        c.closed_by_server(),
        "our side ends too (allowHalfOpen: false)"
    );
    assert_eq!(rx.recv().unwrap(), "close:false");
    s.stop();
}

/// Sends `bytes` one at a time, 10 ms apart (cycling, at most 3000 bytes),
/// collecting what the server answers, until `done` says the answer is
/// complete or the server closes. Bounded: a server that never answers fails
/// the test instead of hanging it.
fn trickle(c: &mut std::net::TcpStream, bytes: &[u8], done: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let mut answer = Vec::new();
    for b in bytes.iter().cycle().take(3000) {
        if c.write_all(&[*b]).is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
        c.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 4096];
        let closed = loop {
            match c.read(&mut buf) {
                Ok(0) => break true,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
                Err(_) => break false,
            }
        };
        c.set_nonblocking(false).unwrap();
        if closed || done(&answer) {
            break;
        }
    }
    answer
}

fn ends_a_head(answer: &[u8]) -> bool {
    answer.ends_with(b"\r\n\r\n")
}

#[test]
fn a_head_trickling_in_past_the_headers_timeout_gets_408() {
    let (tx, rx) = mpsc::channel::<&'static str>();
    let s = TestServer::start(move || {
        let server = http::create_server(move |_req, res| {
            tx.send("request").unwrap();
            res.end(());
        });
        server.set_headers_timeout(100);
        server
    });
    let mut c = connect(s.port());
    // Slowloris: a byte at a time, each well within any idle timeout.
    let answer = trickle(
        &mut c,
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ",
        ends_a_head,
    );
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{text}"
    );
    assert!(text.contains("Connection: close"), "{text}");
    assert!(
        rx.try_recv().is_err(),
        "no request event for an incomplete head"
    );
    s.stop();
}

/// Node 20: a connection that never sends a byte meets the headers
/// timeout like a slow head (408, then close), not the shorter keep-alive
/// timeout with a silent close.
#[test]
fn a_connection_that_never_sends_a_byte_gets_408_at_the_headers_timeout() {
    let s = TestServer::start(|| {
        let server = http::create_server(|_req, res| res.end(()));
        // The keep-alive timeout is the shorter: it must not be the one
        // that applies before the first request.
        server.set_keep_alive_timeout(50);
        server.set_headers_timeout(300);
        server
    });
    let mut c = connect(s.port());
    let answer = common::read_to_close(&mut c);
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{text:?}"
    );
    assert!(text.contains("Connection: close"), "{text}");
    s.stop();
}

#[test]
fn the_timeouts_default_to_node_20s() {
    let server = http::create_server(|_req, res| res.end(()));
    assert_eq!(server.headers_timeout(), 60_000);
    assert_eq!(server.request_timeout(), 300_000);
    assert_eq!(server.keep_alive_timeout(), 5_000);
    server.set_request_timeout(0);
    assert_eq!(server.request_timeout(), 0);
}

#[test]
fn a_head_trickling_in_behind_a_pipelined_request_gets_408_after_its_answer() {
    let s = TestServer::start(|| {
        let server = http::create_server(|_req, res| res.end("ok"));
        server.set_headers_timeout(100);
        server
    });
    let mut c = connect(s.port());
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nG").unwrap();
    let answer = trickle(&mut c, b"ET / HTTP/1.1\r\nX-Slow: ", |a| {
        String::from_utf8_lossy(a).matches("\r\n\r\n").count() >= 2
    });
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    let second = text.find("HTTP/1.1 408").expect("a 408 after the 200");
    assert!(text[..second].ends_with("ok"), "{text}");
    s.stop();
}

#[test]
fn a_body_trickling_past_the_request_timeout_gets_408_and_the_request_closes() {
    let (tx, rx) = mpsc::channel::<String>();
    let s = TestServer::start(move || {
        let server = http::create_server(move |req, res| {
            tx.send("request".into()).unwrap();
            let t = tx.clone();
            // The handler answers only at the end of the body, which the
            // deadline never lets come.
            req.on_end(move || {
                t.send("end".into()).unwrap();
                res.end("late");
            });
            let t = tx.clone();
            req.on_close(move |reason| t.send(format!("close:{reason}")).unwrap());
        });
        // The head alone would be fine; the whole request is not.
        server.set_headers_timeout(10_000);
        server.set_request_timeout(150);
        server
    });
    let mut c = connect(s.port());
    c.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
        .unwrap();
    let answer = trickle(&mut c, b"0123456789", ends_a_head);
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{text}"
    );
    assert!(text.contains("Connection: close"), "{text}");
    assert_eq!(rx.recv().unwrap(), "request");
    assert_eq!(rx.recv().unwrap(), "close:timeout");
    assert!(rx.try_recv().is_err(), "no end, and nothing written late");
    assert!(!text.contains("late"), "{text}");
    s.stop();
}

#[test]
fn a_request_timeout_after_the_response_started_destroys_the_connection() {
    let (tx, rx) = mpsc::channel::<String>();
    let s = TestServer::start(move || {
        let server = http::create_server(move |req, res| {
            res.write("started");
            let t = tx.clone();
            req.on_close(move |reason| t.send(format!("close:{reason}")).unwrap());
        });
        server.set_request_timeout(150);
        server
    });
    let mut c = connect(s.port());
    c.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
        .unwrap();
    // Until the server closes: no 408 can follow a response under way.
    let answer = trickle(&mut c, b"0123456789", |_| false);
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("started"), "{text}");
    assert!(!text.contains("408"), "{text}");
    assert_eq!(rx.recv().unwrap(), "close:timeout");
    s.stop();
}

#[test]
fn a_request_within_the_request_timeout_is_served_and_keeps_the_connection() {
    let s = TestServer::start(|| {
        let server = http::create_server(|req, res| {
            let body = Rc::new(RefCell::new(Vec::new()));
            let b = body.clone();
            req.on_data(move |chunk| b.borrow_mut().extend_from_slice(chunk.as_bytes()));
            req.on_end(move || res.end(body.borrow().as_slice()));
        });
        server.set_request_timeout(60_000);
        server
    });
    let mut c = Reader::new(s.port());
    for _ in 0..3 {
        c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
        assert_eq!(c.response(false).unwrap().body, b"hello");
    }
    s.stop();
}

#[test]
fn a_bad_chunk_mid_body_answers_400_and_closes_the_waiting_request() {
    let (tx, rx) = mpsc::channel::<String>();
    let s = TestServer::start(move || {
        http::create_server(move |req, res| {
            let t = tx.clone();
            req.on_data(move |chunk| t.send(format!("data:{chunk}")).unwrap());
            let t = tx.clone();
            req.on_end(move || {
                t.send("end".into()).unwrap();
                res.end(());
            });
            let t = tx.clone();
            req.on_close(move |reason| t.send(format!("close:{reason}")).unwrap());
        })
    });
    let mut c = connect(s.port());
    c.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
        .unwrap();
    assert_eq!(rx.recv().unwrap(), "data:abc");
    c.write_all(b"zz\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let answer = common::read_to_close(&mut c);
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
    assert_eq!(text.matches("HTTP/1.1").count(), 1, "{text}");
    assert_eq!(rx.recv().unwrap(), "close:aborted");
    assert!(rx.try_recv().is_err(), "no end");
    s.stop();
}

#[test]
fn an_idle_keep_alive_connection_closes_after_the_keep_alive_timeout() {
    let s = TestServer::start(|| {
        let server = http::create_server(|_req, res| res.end("ok"));
        // Long enough for a loaded machine to send its second request in
        // time, short enough for the test.
        server.set_keep_alive_timeout(1_000);
        server
    });
    let mut c = Reader::new(s.port());
    c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(c.response(false).unwrap().body, b"ok");
    // A prompt second request is still served on the same connection...
    c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(c.response(false).unwrap().body, b"ok");
    // ...and then, idle, the connection is closed without a response.
    assert!(c.closed_by_server());
    s.stop();
}

#[test]
fn a_panicking_handler_loses_its_connection_only_and_run_can_go_on() {
    let (addr_tx, addr_rx) = mpsc::channel();
    let (panic_tx, panic_rx) = mpsc::channel::<String>();
    let server_thread = std::thread::spawn(move || {
        let server = http::create_server(|req, res| {
            if req.url() == "/boom" {
                panic!("boom");
            }
            res.end("fine");
        });
        server.listen(0, "127.0.0.1", || {});
        addr_tx.send(server.address().unwrap()).unwrap();
        let stop = server;
        let mut panics = 0;
        // Node's `uncaughtException` handler: log and go on.
        while let Err(p) = std::panic::catch_unwind(nodelike::run) {
            panics += 1;
            let msg = p.downcast_ref::<&str>().copied().unwrap_or("?").to_string();
            panic_tx.send(msg).unwrap();
            if panics == 2 {
                stop.close();
            }
        }
    });
    let port = addr_rx.recv().unwrap().port();
    // A keep-alive connection that is mid-conversation when the panic hits.
    let mut bystander = Reader::new(port);
    bystander.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(bystander.response(false).unwrap().body, b"fine");

    // The panicking request's connection is destroyed: closed, no answer.
    let mut victim = Reader::new(port);
    victim.send(b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(
        victim.response(false).is_none(),
        "no answer on that connection"
    );
    assert_eq!(panic_rx.recv().unwrap(), "boom");

    // Everyone else is served, and the handler is still registered.
    bystander.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(bystander.response(false).unwrap().body, b"fine");
    let fresh = request(
        port,
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(fresh.body, b"fine");

    // A second panic; then the server closes and run returns.
    let mut victim = Reader::new(port);
    victim.send(b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(victim.response(false).is_none());
    assert_eq!(panic_rx.recv().unwrap(), "boom");
    drop(bystander);
    server_thread.join().unwrap();
}

#[test]
fn a_panicking_interval_stays_scheduled_and_run_goes_on() {
    let calls = std::thread::spawn(|| {
        let calls = Rc::new(std::cell::Cell::new(0));
        let c = calls.clone();
        let timer = Rc::new(std::cell::Cell::new(None));
        let t = timer.clone();
        timer.set(Some(nodelike::set_interval(
            move || {
                c.set(c.get() + 1);
                match c.get() {
                    1 => panic!("first tick"),
                    3 => nodelike::clear_interval(t.get().unwrap()),
                    _ => {}
                }
            },
            1,
        )));
        let mut panics = 0;
        while std::panic::catch_unwind(nodelike::run).is_err() {
            panics += 1;
        }
        (panics, calls.get())
    })
    .join()
    .unwrap();
    assert_eq!(
        calls,
        (1, 3),
        "one panic, then the interval ran on until cleared"
    );
}

/// Request fields stay readable while the exchange's last events run (the
/// response's `finish` and `close`); after that a stale handle reads the
/// documented empty values.
#[test]
fn request_fields_are_readable_in_the_responses_finish_and_close_listeners() {
    let (tx, rx) = mpsc::channel::<String>();
    let s = TestServer::start(move || {
        http::create_server(move |req, res| {
            let (t1, t2, t3) = (tx.clone(), tx.clone(), tx.clone());
            res.on_finish(move || {
                t1.send(format!("finish {} {}", req.method(), req.url()))
                    .unwrap()
            });
            res.on_close(move || {
                t2.send(format!("close {} {}", req.method(), req.url()))
                    .unwrap();
                // Later, the handle is stale: empty values, no panic.
                let t3 = t3.clone();
                nodelike::set_timeout(
                    move || {
                        t3.send(format!("later {:?} {:?}", req.method(), req.url()))
                            .unwrap()
                    },
                    10,
                );
            });
            res.end("ok");
        })
    });
    let r = common::request(
        s.port(),
        b"PUT /thing?x=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(r.status, 200);
    assert_eq!(rx.recv().unwrap(), "finish PUT /thing?x=1");
    assert_eq!(rx.recv().unwrap(), "close PUT /thing?x=1");
    assert_eq!(rx.recv().unwrap(), "later \"\" \"\"");
    s.stop();
}

/// Node's default: a client's FIN with requests unanswered aborts them:
/// each response gets `close`, then its request `close` with `aborted`,
/// and the connection closes at once, so `server.close()` is not held.
/// (Node 20 on the same bytes: `request /a, request /b, res close
/// finished=false, req close aborted=true` twice, then the connection
/// closes.)
#[test]
fn a_clients_fin_aborts_what_it_asked_and_was_not_answered() {
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let s = TestServer::start(move || {
        let on_conn = tx.clone();
        let server = http::create_server(move |req, res| {
            let url = req.url();
            tx.send(format!("request {url}")).unwrap();
            let t = tx.clone();
            let u = url.clone();
            res.on_close(move || t.send(format!("res close {u}")).unwrap());
            let t = tx.clone();
            req.on_close(move |reason| t.send(format!("req close {url} {reason}")).unwrap());
            // Never answered: the handler waits on something slow.
        });
        server.on_connection(move |socket| {
            let t = on_conn.clone();
            socket.on_close(move |_| t.send("connection closed".into()).unwrap());
        });
        server
    });
    let mut c = connect(s.port());
    c.write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let first = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let second = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!([first, second], ["request /a", "request /b"]);
    c.shutdown(std::net::Shutdown::Write).unwrap();
    let mut all = Vec::new();
    c.read_to_end(&mut all).unwrap();
    assert!(
        all.is_empty(),
        "nothing was answered: {:?}",
        String::from_utf8_lossy(&all)
    );
    let seen: Vec<String> = (0..5)
        .map(|_| rx.recv_timeout(Duration::from_secs(10)).unwrap())
        .collect();
    assert_eq!(
        seen,
        [
            "res close /a",
            "req close /a aborted",
            "res close /b",
            "req close /b aborted",
            "connection closed"
        ]
    );
    s.stop(); // not held by the aborted requests
}

/// `destroyed()`/`closed()` follow the `close` events, and
/// `IncomingMessage::destroy()` aborts the exchange as Node's
/// `req.destroy()` does.
#[test]
fn destroyed_follows_close_and_req_destroy_aborts() {
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let s = TestServer::start(move || {
        http::create_server(move |req, res| {
            let t = tx.clone();
            t.send(format!(
                "in handler: {} {}",
                req.destroyed(),
                res.destroyed()
            ))
            .unwrap();
            if req.url() == "/destroy" {
                let t = tx.clone();
                req.on_close(move |reason| t.send(format!("req close {reason}")).unwrap());
                req.destroy();
                return;
            }
            let t = tx.clone();
            res.on_close(move || {
                t.send(format!("res close: {} {}", res.destroyed(), res.closed()))
                    .unwrap()
            });
            let t = tx.clone();
            req.on_close(move |reason| {
                t.send(format!("req close {reason}: {}", req.closed()))
                    .unwrap()
            });
            res.end("ok");
        })
    });
    let r = request(s.port(), b"GET /fine HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.body, b"ok");
    let seen: Vec<String> = (0..3)
        .map(|_| rx.recv_timeout(Duration::from_secs(10)).unwrap())
        .collect();
    assert_eq!(
        seen,
        [
            "in handler: false false",
            "res close: true true",
            "req close finished: true"
        ]
    );
    let raw = exchange_until_close(s.port(), b"GET /destroy HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(raw.is_empty(), "destroyed before any answer");
    let seen: Vec<String> = (0..2)
        .map(|_| rx.recv_timeout(Duration::from_secs(10)).unwrap())
        .collect();
    assert_eq!(seen, ["in handler: false false", "req close aborted"]);
    s.stop();
}

/// Node: a second `end()` with no data is a no-op (a pipe's end after the
/// handler ended the response, say); data after the end is
/// `ERR_STREAM_WRITE_AFTER_END`.
#[test]
fn end_again_without_data_is_quiet_and_data_after_end_is_an_error() {
    let errors = Rc::new(RefCell::new(Vec::new()));
    let seen = errors.clone();
    let server = http::create_server(move |req, res| {
        let seen = seen.clone();
        res.on_error(move |e| seen.borrow_mut().push(e.code()));
        res.end("once\n");
        res.end(());
        if req.url() == "/data-after-end" {
            res.end("twice\n");
        }
    });
    let conn = server.connect_in_memory();
    conn.send(b"GET /quiet HTTP/1.1\r\nHost: x\r\n\r\n");
    nodelike::run();
    let answer = String::from_utf8(conn.take_output()).unwrap();
    assert!(answer.ends_with("\r\n\r\nonce\n"), "{answer}");
    assert!(errors.borrow().is_empty(), "{:?}", errors.borrow());
    conn.send(b"GET /data-after-end HTTP/1.1\r\nHost: x\r\n\r\n");
    nodelike::run();
    let answer = String::from_utf8(conn.take_output()).unwrap();
    assert!(answer.ends_with("\r\n\r\nonce\n"), "{answer}");
    assert_eq!(*errors.borrow(), vec!["ERR_STREAM_WRITE_AFTER_END"]);
}
