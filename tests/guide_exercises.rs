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

/// Chapter 4: an echo with back-pressure both ways holds little, however
/// big the upload, while its client reads slowly.
#[test]
fn ch04_an_echo_with_back_pressure_holds_little() {
    let server = http::create_server(|req, res| {
        req.on_data(move |chunk| {
            if !res.write(chunk) {
                req.pause(); // stop reading until the answer drains
            }
        });
        res.on_drain(move || req.resume());
        req.on_end(move || res.end(()));
    });
    let conn = server.connect_in_memory();
    conn.set_window(Some(64 * 1024)); // the client reads 64 KiB at a time
    const PIECE: usize = 16 * 1024;
    const PIECES: usize = 64; // 1 MiB
    conn.send(
        format!(
            "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            PIECE * PIECES
        )
        .as_bytes(),
    );
    let (mut most_held, mut echoed) = (0, 0);
    for i in 0..PIECES {
        conn.send(&[b'x'; PIECE]);
        most_held = most_held.max(conn.queued() + conn.held());
        if i % 4 == 3 {
            // The slow reader takes what it has room for, now and then.
            echoed += conn.take_output().len();
        }
    }
    loop {
        let taken = conn.take_output().len();
        if taken == 0 {
            break;
        }
        echoed += taken;
    }
    assert!(
        echoed > PIECE * PIECES,
        "the whole body came back ({echoed} bytes)"
    );
    assert!(most_held <= 64 * 1024, "the server held {most_held} bytes");
}

/// Chapter 5: two different Content-Length values are refused, whole or
/// one byte at a time.
#[test]
fn ch05_two_content_lengths_are_refused_every_way() {
    let request =
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 30\r\n\r\nabc";
    for max_read in [0, 1] {
        let server = http::create_server(|_req, _res| panic!("no request gets through"));
        let conn = server.connect_in_memory();
        conn.set_max_read(max_read); // 0: whole; 1: one byte per read
        conn.send(request);
        nodelike::run();
        let answer = String::from_utf8(conn.take_output()).unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{answer}"
        );
        assert!(conn.output_ended());
    }
}

/// Chapter 6: a `timeout` listener keeps an idle connection open; it closes
/// when the listener destroys it, on the second timeout.
#[test]
fn ch06_a_timeout_listener_decides_when_to_close() {
    let server = http::create_server(|_req, res| res.end(()));
    server.set_timeout(20);
    let timeouts = Rc::new(Cell::new(0));
    let t = timeouts.clone();
    server.on_timeout(move |socket| {
        t.set(t.get() + 1);
        if t.get() == 2 {
            socket.destroy();
        }
    });
    let conn = Rc::new(server.connect_in_memory());
    // The in-memory connection does not keep the loop alive: an interval
    // does, until the connection has closed (or a generous deadline: then
    // the assertions below say what did not happen). Not a fixed delay: a
    // loaded machine may run both timeouts' worth of time in one turn.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let keep = Rc::new(Cell::new(None));
    let (k, c) = (keep.clone(), conn.clone());
    keep.set(Some(nodelike::set_interval(
        move || {
            if c.is_closed() || std::time::Instant::now() > deadline {
                nodelike::clear_interval(k.get().unwrap());
            }
        },
        5,
    )));
    nodelike::run();
    assert_eq!(timeouts.get(), 2);
    assert!(conn.is_closed());
}

/// Chapter 7: an agent capped at one socket answers a queue of requests in
/// order, over one connection.
#[test]
fn ch07_one_socket_serves_a_queue_in_order() {
    let connections = Rc::new(Cell::new(0));
    let c = connections.clone();
    let server = http::create_server(|req, res| res.end(req.url()));
    server.on_connection(move |_socket| c.set(c.get() + 1));
    let answers = Rc::new(RefCell::new(Vec::new()));
    let a = answers.clone();
    server.listen(0, "127.0.0.1", move || {
        let port = server.address().unwrap().port();
        http::get_agent("127.0.0.1", port).set_max_sockets(1);
        for path in ["/1", "/2", "/3"] {
            let a = a.clone();
            http::get(
                format!("http://127.0.0.1:{port}{path}").as_str(),
                move |res| {
                    let a = a.clone();
                    res.on_data(move |chunk| {
                        a.borrow_mut().push(chunk.to_string());
                        if a.borrow().len() == 3 {
                            server.close();
                        }
                    });
                },
            );
        }
    });
    nodelike::run();
    assert_eq!(*answers.borrow(), ["/1", "/2", "/3"]);
    assert_eq!(connections.get(), 1);
}

/// Chapter 8: a thousand keep-alive requests, one after the other, over
/// one connection.
#[test]
fn ch08_a_thousand_requests_over_one_connection() {
    const N: usize = 1_000;
    let connections = Rc::new(Cell::new(0));
    let c = connections.clone();
    let server = http::create_server(|_req, res| res.end("Hello, World!"));
    server.on_connection(move |_socket| c.set(c.get() + 1));
    let done = Rc::new(Cell::new(0));
    fn next(port: u16, done: Rc<Cell<usize>>, server: http::Server) {
        http::get(format!("http://127.0.0.1:{port}/").as_str(), move |res| {
            let done = done.clone();
            res.on_data(|_| {});
            res.on_end(move || {
                done.set(done.get() + 1);
                if done.get() == N {
                    server.close();
                } else {
                    next(port, done.clone(), server);
                }
            });
        });
    }
    let d = done.clone();
    server.listen(0, "127.0.0.1", move || {
        next(server.address().unwrap().port(), d.clone(), server)
    });
    nodelike::run();
    assert_eq!(done.get(), N);
    assert_eq!(connections.get(), 1, "no connect or accept per request");
}

/// Chapter 9: a server that asks for a client certificate without
/// requiring one (and with no `ca`: the system's roots would judge one)
/// serves an anonymous client, and says it is not authorized.
#[cfg(feature = "tls")]
#[test]
fn ch09_asking_without_requiring_serves_an_anonymous_client() {
    use nodelike::https;
    let pair = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let options = https::ServerOptions {
        cert: pair.cert.pem().into_bytes(),
        key: pair.key_pair.serialize_pem().into_bytes(),
        ca: None,
        request_cert: true,
        reject_unauthorized: Some(false),
        ..Default::default()
    };
    let server = https::create_server(options, |req, res| {
        let socket = req.connection();
        res.end(format!(
            "authorized={} certificate={}",
            socket.authorized(),
            socket.peer_certificate().is_some()
        ));
    })
    .unwrap();
    let seen = Rc::new(RefCell::new(String::new()));
    let s = seen.clone();
    server.listen(0, "127.0.0.1", move || {
        let options = http::RequestOptions {
            host: "localhost".into(),
            port: server.address().unwrap().port(),
            path: "/".into(),
            tls: Some(https::ClientTlsOptions {
                reject_unauthorized: false,
                ..Default::default()
            }),
            ..Default::default()
        };
        let s = s.clone();
        https::get(options, move |res| {
            let s = s.clone();
            res.on_data(move |chunk| s.borrow_mut().push_str(&chunk.to_string()));
            res.on_end(move || server.close());
        });
    });
    nodelike::run();
    assert_eq!(*seen.borrow(), "authorized=false certificate=false");
}

thread_local! {
    /// Each worker's server, for the broadcast to find on its own loop.
    static SERVER: Cell<Option<http::Server>> = const { Cell::new(None) };
}

/// Chapter 10: worker 0 tells every worker to close its server; `cluster`
/// returns once all have.
#[test]
fn ch10_a_broadcast_closes_every_worker() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let closed = Arc::new(AtomicUsize::new(0));
    let c = closed.clone();
    let exit = nodelike::cluster(2, move |worker| {
        let server = http::create_server(|_req, res| res.end(()));
        let c = c.clone();
        server.on_close(move || {
            c.fetch_add(1, Ordering::SeqCst);
        });
        server.listen(port, "127.0.0.1", || {});
        SERVER.with(|s| s.set(Some(server)));
        if worker.id() == 0 {
            worker.broadcast(|| {
                if let Some(server) = SERVER.with(|s| s.get()) {
                    server.close();
                }
            });
        }
    });
    assert!(exit.panicked.is_empty(), "{exit:?}");
    assert_eq!(closed.load(Ordering::SeqCst), 2);
}

/// How long the guide's proxy lets its upstream stay silent (short here, so
/// the test's silent upstream is given up on quickly).
const UPSTREAM_TIMEOUT_MS: u64 = 500;

/// The guide's goal (chapters 3, 4, 6, 7 and 10 together): a streaming
/// proxy to the upstream at `upstream_port`. A server whose handler is a
/// client request to the upstream; bodies piped both ways with
/// back-pressure; an upstream that fails answers 502, or cuts the response
/// short if its head already went out; a silent upstream is given up on;
/// the upstream request is aborted if the client goes.
fn guide_proxy(upstream_port: u16) -> http::Server {
    http::create_server(move |req, res| {
        let options = http::RequestOptions {
            host: "127.0.0.1".into(),
            port: upstream_port,
            method: req.method(),
            path: req.url(),
            ..Default::default()
        };
        let up = http::request(options, move |up_res| {
            let status = up_res.status_code();
            let marker = up_res
                .headers()
                .get("x-upstream")
                .unwrap_or_default()
                .to_string();
            res.write_head(
                status,
                &[("X-Via", "proxy"), ("X-Upstream", marker.as_str())],
            );
            // Downstream is slow? Pause the upstream response.
            up_res.on_data(move |chunk| {
                if !res.write(chunk) {
                    up_res.pause();
                }
            });
            res.on_drain(move || up_res.resume());
            up_res.on_end(move || res.end(()));
        });
        // Silent for too long: `timeout`, and the proxy gives up on the
        // upstream; the error (ETIMEDOUT) arrives at `on_error`, below.
        up.set_timeout(UPSTREAM_TIMEOUT_MS);
        up.on_timeout(move || {
            up.destroy(Some(nodelike::Error::new(
                nodelike::ErrorKind::Timeout,
                "upstream timed out",
            )));
        });
        up.on_error(move |e| {
            if res.headers_sent() {
                // The head went out: the client must see a truncated body,
                // never a clean end.
                res.destroy();
                return;
            }
            res.write_head(502, &[("Content-Type", "text/plain")]);
            res.end(format!("upstream error: {}\n", e.code()));
        });
        // Upstream is slow? Pause the client's body.
        req.on_data(move |chunk| {
            if !up.write(chunk) {
                req.pause();
            }
        });
        up.on_drain(move || req.resume());
        req.on_end(move || up.end(()));
        // The client went away before its answer was complete: so does the
        // upstream request.
        req.on_close(move |reason| {
            if reason.is_abnormal() {
                up.abort();
            }
        });
    })
}

/// The body of a chunked response, and whether its last chunk came.
fn dechunk(mut rest: &[u8]) -> (Vec<u8>, bool) {
    let mut body = Vec::new();
    loop {
        let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") else {
            return (body, false);
        };
        let size = std::str::from_utf8(&rest[..eol])
            .ok()
            .and_then(|line| usize::from_str_radix(line.trim(), 16).ok());
        let Some(size) = size else {
            return (body, false);
        };
        rest = &rest[eol + 2..];
        if size == 0 {
            return (body, rest.starts_with(b"\r\n"));
        }
        if rest.len() < size + 2 {
            body.extend_from_slice(&rest[..size.min(rest.len())]);
            return (body, false);
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// One request on a fresh connection, as a plain TCP client would send it:
/// the response's head (lowercased), its body, and whether the body ended
/// properly (its last chunk came, or all of its `Content-Length`). The read
/// timeout is only a safety net: a proxy that hangs fails the test instead
/// of holding it forever.
fn exchange(port: u16, request: &str) -> (String, String, bool) {
    use std::io::{Read, Write};
    let mut socket = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    socket
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    socket.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let mut buf = [0; 4096];
    loop {
        match socket.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            // A connection destroyed by the proxy may end with a reset.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!(
                "{request:?}: no end within 10 s ({e}): the proxy hangs; got {:?}",
                String::from_utf8_lossy(&raw)
            ),
        }
    }
    let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        panic!(
            "{request:?}: no response head in {:?}",
            String::from_utf8_lossy(&raw)
        );
    };
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let rest = &raw[split + 4..];
    let (body, complete) = if head.contains("transfer-encoding: chunked") {
        dechunk(rest)
    } else {
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok());
        (rest.to_vec(), length == Some(rest.len()))
    };
    (head, String::from_utf8_lossy(&body).into_owned(), complete)
}

/// The guide's goal: the proxy of chapter 7 (see [`guide_proxy`]), driven
/// by a plain TCP client on another thread: a body through and back; an
/// upstream that is down answers 502 at once; a silent upstream answers 502
/// after the upstream timeout; an upstream that fails mid-body gives a
/// truncated response. Then SIGTERM closes every server and `run` returns.
#[test]
fn ch07_a_streaming_proxy_from_the_guide_alone() {
    use nodelike::process::{self, Signal};
    // The upstream: echoes the body back, uppercased, with its own header;
    // `/slow` never answers; `/fail` sends its head and some body, then
    // its connection breaks.
    let upstream = http::create_server(|req, res| match req.url().as_str() {
        "/slow" => {}
        "/fail" => {
            res.write_head(200, &[("X-Upstream", "yes")]);
            res.write("partial ");
            nodelike::set_timeout(move || res.destroy(), 20);
        }
        _ => {
            res.write_head(200, &[("X-Upstream", "yes")]);
            req.on_data(move |chunk| {
                if !res.write(chunk.to_string().to_uppercase()) {
                    req.pause();
                }
            });
            res.on_drain(move || req.resume());
            req.on_end(move || res.end(()));
        }
    });
    // A port nobody listens on: an upstream that is down.
    let down_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let to_nowhere = guide_proxy(down_port);
    // The graceful stop (chapter 10): SIGTERM closes every server; `run`
    // returns once their connections are gone.
    let proxy_slot: Rc<Cell<Option<http::Server>>> = Rc::new(Cell::new(None));
    let p = proxy_slot.clone();
    process::on_signal(Signal::Term, move |_| {
        if let Some(proxy) = p.get() {
            proxy.close();
        }
        to_nowhere.close();
        upstream.close();
    })
    .expect("listening for SIGTERM");

    let client = Rc::new(Cell::new(None));
    let c = client.clone();
    upstream.listen(0, "127.0.0.1", move || {
        let proxy = guide_proxy(upstream.address().unwrap().port());
        proxy_slot.set(Some(proxy));
        let c = c.clone();
        proxy.listen(0, "127.0.0.1", move || {
            let proxy_port = proxy.address().unwrap().port();
            to_nowhere.listen(0, "127.0.0.1", move || {
                let nowhere_port = to_nowhere.address().unwrap().port();
                // The client blocks on its sockets: it runs on a thread of
                // its own, never on the loop's.
                c.set(Some(std::thread::spawn(move || {
                    let outcome =
                        std::panic::catch_unwind(|| client_side(proxy_port, nowhere_port));
                    // Stop the proxy whatever happened, so `run` returns.
                    signal_hook::low_level::raise(signal_hook::consts::SIGTERM).unwrap();
                    if let Err(panic) = outcome {
                        std::panic::resume_unwind(panic);
                    }
                })));
            });
        });
    });
    nodelike::run();
    let client = client.take().expect("the client ran");
    if let Err(panic) = client.join() {
        std::panic::resume_unwind(panic);
    }
}

/// The client's side of [`ch07_a_streaming_proxy_from_the_guide_alone`].
fn client_side(proxy_port: u16, nowhere_port: u16) {
    // A body through the proxy and back.
    let body = "hello through the proxy";
    let (head, answer, complete) = exchange(
        proxy_port,
        &format!(
            "POST /shout HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    assert!(head.starts_with("http/1.1 200 "), "{head}");
    assert!(head.contains("\r\nx-via: proxy"), "{head}");
    assert!(head.contains("\r\nx-upstream: yes"), "{head}");
    assert_eq!(answer, "HELLO THROUGH THE PROXY");
    assert!(complete);

    // The upstream is down: 502 at once, not a hang.
    let (head, answer, complete) = exchange(
        nowhere_port,
        "GET /anything HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(head.starts_with("http/1.1 502 "), "{head}");
    assert_eq!(answer, "upstream error: ECONNREFUSED\n");
    assert!(complete);

    // The upstream accepts but never answers: 502 once its timeout fires.
    let (head, answer, _) = exchange(
        proxy_port,
        "GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(head.starts_with("http/1.1 502 "), "{head}");
    assert_eq!(answer, "upstream error: ETIMEDOUT\n");

    // The upstream breaks after the head went out: the client sees the
    // connection close before the last chunk, a truncated body.
    let (head, answer, complete) = exchange(
        proxy_port,
        "GET /fail HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(head.starts_with("http/1.1 200 "), "{head}");
    assert_eq!(answer, "partial ");
    assert!(!complete, "a truncated body, not a clean end");
}

/// Chapter 11: a proxy's download sent on with `stream::pipeline`; the
/// client leaves mid-download: the callback hears it once, and the
/// upstream's response is destroyed (its server sees it close unfinished).
#[test]
fn ch11_a_pipeline_tears_down_a_download_its_client_left() {
    use std::io::{Read, Write};
    use std::sync::mpsc;
    use std::time::Duration;

    /// A server on its own thread and loop: `setup` makes it; it listens
    /// on a free port, which is sent back.
    fn serve(setup: impl FnOnce() -> http::Server + Send + 'static) -> u16 {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let server = setup();
            server.listen(0, "127.0.0.1", || {});
            tx.send(server.address().unwrap().port()).unwrap();
            nodelike::run();
        });
        rx.recv_timeout(Duration::from_secs(10)).unwrap()
    }

    // The upstream: an endless download, written as fast as it drains.
    let (upstream_tx, upstream_rx) = mpsc::channel::<bool>();
    let upstream_port = serve(move || {
        http::create_server(move |_req, res| {
            let finished = upstream_tx.clone();
            let piece = vec![b'x'; 16 * 1024];
            let pump = Rc::new(move || while res.write(&piece[..]) {});
            let again = pump.clone();
            res.on_drain(move || again());
            pump();
            res.on_close(move || {
                let _ = finished.send(res.writable_finished());
            });
        })
    });
    // The proxy: its download goes on through a pipeline.
    let (report_tx, report_rx) = mpsc::channel::<Option<&'static str>>();
    let proxy_port = serve(move || {
        http::create_server(move |_req, res| {
            let report = report_tx.clone();
            http::get(format!("http://127.0.0.1:{upstream_port}/"), move |up| {
                let report = report.clone();
                nodelike::stream::pipeline((up, res), move |err| {
                    let _ = report.send(err.map(|e| e.code()));
                });
            });
        })
    });
    // A client that reads 1 MiB, then leaves.
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", proxy_port)).unwrap();
    conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (mut got, mut buf) = (0, vec![0u8; 65536]);
    while got < 1 << 20 {
        let n = conn.read(&mut buf).unwrap();
        assert!(n > 0, "the proxy closed early");
        got += n;
    }
    drop(conn);
    let first = report_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(first, Some("ERR_STREAM_PREMATURE_CLOSE"));
    let upstream_finished = upstream_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(!upstream_finished, "the upstream response was destroyed");
    assert!(
        report_rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "the callback ran once"
    );
}

/// Chapter 12: a broadcast server that terminates a client with more than
/// 64 KiB waiting in its socket instead of queueing without end. A client
/// that never reads is cut off; a client that reads gets every message.
#[test]
fn ch12_a_broadcast_drops_the_client_that_does_not_read() {
    use nodelike::ws::{self, WebSocket};
    use std::io::Write;

    const MESSAGES: usize = 300;
    const LIMIT: usize = 64 * 1024;
    let log = std::thread::spawn(|| {
        let log = Rc::new(RefCell::new(Vec::<String>::new()));
        let wss = ws::WebSocketServer::new(ws::ServerOptions {
            port: Some(0),
            host: Some("127.0.0.1".into()),
            ..Default::default()
        });
        // The answer: every message goes to every client, except that a
        // client too far behind is terminated.
        let l = log.clone();
        wss.on_connection(move |ws, req| {
            let who = req.url();
            let l = l.clone();
            ws.on_close(move |code, _| l.borrow_mut().push(format!("{who} closed {code}")));
            ws.on_message(move |data, _| {
                for client in wss.clients() {
                    if client.buffered_amount() > LIMIT {
                        client.terminate();
                    } else {
                        client.send(data);
                    }
                }
            });
        });
        let l = log.clone();
        let slow_socket = Rc::new(RefCell::new(None));
        let keep = slow_socket.clone();
        wss.on_listening(move || {
            let port = wss.address().unwrap().port();
            // The slow client: it asks to upgrade, then never reads.
            let mut slow = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            slow.write_all(
                b"GET /slow HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
                  Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
            )
            .unwrap();
            // The reader: one 32 KiB message at a time, the next once the
            // broadcast of the last came back.
            let reader =
                WebSocket::connect(&format!("ws://127.0.0.1:{port}/reader"), Default::default());
            let piece = vec![b'x'; 32 * 1024];
            let first = piece.clone();
            reader.on_open(move || {
                reader.send(&first[..]);
            });
            let mut got = 0;
            let l = l.clone();
            reader.on_message(move |data, _| {
                assert_eq!(data.len(), piece.len());
                got += 1;
                if got < MESSAGES {
                    reader.send(&piece[..]);
                } else {
                    l.borrow_mut().push(format!("reader got {got}"));
                    reader.close(Some(1000), "");
                    wss.close();
                }
            });
            // Kept open (and unread) while the loop runs.
            *keep.borrow_mut() = Some(slow);
        });
        nodelike::run();
        drop(slow_socket.borrow_mut().take());
        let out = log.borrow().clone();
        out
    })
    .join()
    .unwrap();
    assert!(log.contains(&"/slow closed 1006".to_string()), "{log:?}");
    assert!(log.contains(&"reader got 300".to_string()), "{log:?}");
    assert_eq!(
        log.last().map(String::as_str),
        Some("/reader closed 1000"),
        "{log:?}"
    );
}

/// Chapter 13: on one h2c connection, an upload whose handler paused it
/// does not hold up a second request; its client can send no more than the
/// stream's window; once the handler resumes, the upload completes.
#[test]
fn ch13_a_paused_stream_does_not_hold_up_its_neighbour() {
    use nodelike::http::h2::{Config, Connection, Event, Role};
    use std::io::{Read, Write};

    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let server_thread = std::thread::spawn(move || {
        let parked: Rc<RefCell<Option<http::IncomingMessage>>> = Rc::default();
        let server = nodelike::http2::create_server(Default::default(), move |req, res| {
            match req.url().as_str() {
                "/upload" => {
                    // Paused from the start: nothing is read until /release.
                    req.pause();
                    let got = Rc::new(Cell::new(0usize));
                    let g = got.clone();
                    req.on_data(move |chunk| g.set(g.get() + chunk.len()));
                    req.on_end(move || res.end(format!("got {}", got.get())));
                    *parked.borrow_mut() = Some(req);
                }
                "/release" => {
                    if let Some(upload) = parked.borrow_mut().take() {
                        upload.resume();
                    }
                    res.end("released");
                }
                _ => res.end("hello"),
            }
        });
        server.listen(0, "127.0.0.1", || {});
        addr_tx.send(server.address().unwrap()).unwrap();
        server.on_connection(move |sock| sock.on_close(move |_| server.close()));
        nodelike::run();
    });
    let addr = addr_rx.recv().unwrap();
    let mut socket = std::net::TcpStream::connect(addr).unwrap();
    let mut client = Connection::new(Role::Client, Config::default());
    let (mut out, mut input) = (Vec::new(), Vec::new());
    client.start(&mut out);
    let head =
        |path: &'static [u8], method: &'static [u8]| -> [(&'static [u8], &'static [u8]); 4] {
            [
                (b":method", method),
                (b":scheme", b"http"),
                (b":path", path),
                (b":authority", b"x"),
            ]
        };
    // Sends what is queued, reads once, and returns every stream's body
    // bytes that came with it (and which streams ended).
    let mut pump = |client: &mut Connection, out: &mut Vec<u8>| -> Vec<(u32, Vec<u8>, bool)> {
        socket.write_all(out).unwrap();
        out.clear();
        let mut buf = [0u8; 65536];
        let n = socket.read(&mut buf).unwrap();
        assert!(n > 0, "the server closed the connection");
        input.extend_from_slice(&buf[..n]);
        let (mut used, mut got) = (0, Vec::new());
        loop {
            let (n, event) = client.poll(&input[used..], out).unwrap();
            used += n;
            match event {
                Some(Event::Data {
                    stream,
                    data,
                    end_stream,
                }) => {
                    got.push((stream, data.to_vec(), end_stream));
                    let len = data.len();
                    client.release(stream, len, out);
                }
                Some(_) => {}
                None => break,
            }
        }
        input.drain(..used);
        got
    };
    // The upload: a 1 MiB body offered; the windows take what they allow.
    let body = vec![b'u'; 1 << 20];
    let upload = client
        .open_stream(&head(b"/upload", b"POST"), false, &mut out)
        .unwrap();
    let mut sent = 0;
    let offer = |client: &mut Connection, out: &mut Vec<u8>, sent: &mut usize| {
        let n = client.send_data(upload, &body[*sent..], true, out).unwrap();
        *sent += n;
    };
    offer(&mut client, &mut out, &mut sent);
    let first_offer = sent;
    // The neighbour on the same connection is answered meanwhile.
    let hello = client
        .open_stream(&head(b"/", b"GET"), true, &mut out)
        .unwrap();
    let mut answered = Vec::new();
    while !answered.iter().any(|(s, _, end)| *s == hello && *end) {
        answered.extend(pump(&mut client, &mut out));
        offer(&mut client, &mut out, &mut sent);
    }
    let hello_body: Vec<u8> = answered
        .iter()
        .filter(|(s, _, _)| *s == hello)
        .flat_map(|(_, d, _)| d.clone())
        .collect();
    assert_eq!(hello_body, b"hello");
    // The paused upload could send no more than the stream window the
    // server advertised (the RFC's 64 KiB until its SETTINGS arrived, then
    // 256 KiB): the server gave nothing back.
    let window = Config::default().initial_window_size as usize;
    assert!(first_offer <= window);
    assert_eq!(sent, window, "the paused stream's window stayed shut");
    // Release it; the rest of the body goes, and the answer counts it all.
    client
        .open_stream(&head(b"/release", b"GET"), true, &mut out)
        .unwrap();
    let mut upload_answer = Vec::new();
    loop {
        for (stream, data, end) in pump(&mut client, &mut out) {
            if stream == upload {
                upload_answer.extend_from_slice(&data);
                if end {
                    assert_eq!(
                        String::from_utf8_lossy(&upload_answer),
                        format!("got {}", 1 << 20)
                    );
                    drop(socket);
                    server_thread.join().unwrap();
                    return;
                }
            }
        }
        if sent < body.len() {
            offer(&mut client, &mut out, &mut sent);
        }
    }
}
