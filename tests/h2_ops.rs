//! Running an HTTP/2 server: per-stream timeouts (`res.set_timeout` and
//! `req.set_timeout` are the stream's over HTTP/2, as in Node's
//! compatibility API, and `ServerHttp2Stream::set_timeout`), `server.close()`
//! with and without a close grace as Node's `http2` client sees it
//! (`tests/peers/h2/ops.js`), and a cluster of loops serving HTTP/2 to
//! curl, with a rolling restart. No assertion is about timing: deadlines
//! only turn a hang into a failure, and timeouts are small only so the
//! tests are quick.

mod common;

use std::cell::{Cell, RefCell};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use common::{have, output_within, ChildGuard, TestServer};
use nodelike::http::h2::ErrorCode;
use nodelike::http::Server;
use nodelike::http2::{self, ClientHttp2Stream, ClientSessionOptions};

type Log = Rc<RefCell<Vec<String>>>;

/// What one client stream saw, as a line: `PATH STATUS BODY rst=CODE`.
fn watch(stream: ClientHttp2Stream, path: &str, log: &Log, done: impl FnOnce() + 'static) {
    let body = Rc::new(RefCell::new(Vec::new()));
    let status = Rc::new(RefCell::new(String::from("-")));
    let s = status.clone();
    stream.on_response(move |h| *s.borrow_mut() = h.get(":status").unwrap_or("?").to_owned());
    let b = body.clone();
    stream.on_data(move |c| b.borrow_mut().extend_from_slice(&c));
    stream.on_error(|_| {});
    let (log, path) = (log.clone(), path.to_owned());
    let done = RefCell::new(Some(done));
    stream.on_close(move || {
        let rst = match stream.rst_code() {
            None => "none".to_owned(),
            Some(code) => format!("{code:?}"),
        };
        log.borrow_mut().push(format!(
            "{path} {} {} rst={rst}",
            status.borrow(),
            String::from_utf8_lossy(&body.borrow())
        ));
        if let Some(done) = done.borrow_mut().take() {
            done();
        }
    });
}

/// The server of the timeout tests; `events` hears its `timeout`s.
fn timeout_server(events: mpsc::Sender<String>) -> TestServer {
    TestServer::start(move || -> Server {
        let server = http2::create_server(http2::ServerOptions::default(), move |req, res| {
            let say = {
                let tx = events.clone();
                move |what: &str| {
                    let _ = tx.send(what.to_owned());
                }
            };
            match req.url().as_str() {
                "/heard" => {
                    // Quiet until the timeout, which the request and then
                    // the response hear; the response answers then.
                    res.set_timeout(200);
                    let s = say.clone();
                    req.on_timeout(move || s("req timeout /heard"));
                    res.on_timeout(move || {
                        say("res timeout /heard");
                        res.end("timed out");
                    });
                }
                "/twice" => {
                    // Fires once per quiet spell: the write after the
                    // first starts a second one.
                    req.set_timeout(150);
                    let n = Rc::new(Cell::new(0));
                    res.on_timeout(move || {
                        n.set(n.get() + 1);
                        if n.get() == 1 {
                            res.write("a");
                        } else {
                            res.end(format!("b{}", n.get()));
                        }
                    });
                }
                "/unheard" => {
                    // Nobody listens: nothing happens (as in Node), and the
                    // late answer goes out whole.
                    res.set_timeout(100);
                    nodelike::set_timeout(move || res.end("whole"), 500);
                }
                "/busy" => {
                    // A write every 20 ms never leaves the stream quiet
                    // for its 300 ms (the writes' timers come due before
                    // the check's, however late the loop runs them).
                    res.set_timeout(300);
                    res.on_timeout(move || say("busy timed out"));
                    let left = Rc::new(Cell::new(20));
                    let timer = Rc::new(Cell::new(None));
                    let t = timer.clone();
                    timer.set(Some(nodelike::set_interval(
                        move || {
                            left.set(left.get() - 1);
                            if left.get() == 0 {
                                res.end(".");
                                nodelike::clear_interval(t.get().unwrap());
                            } else {
                                res.write(".");
                            }
                        },
                        20,
                    )));
                }
                "/off" => {
                    // Set, then turned off with 0.
                    res.set_timeout(100);
                    res.set_timeout(0);
                    res.on_timeout(move || say("off timed out"));
                    nodelike::set_timeout(move || res.end("off"), 400);
                }
                "/hello" => res.end("hello"),
                // The core API's stream answers (below).
                _ => {}
            }
        });
        server.on_stream(|stream, headers| {
            if headers.get(":path") == Some("/core") {
                stream.respond(&[(":status", "200")]);
                stream.write("before-");
                stream.set_timeout(100);
                stream.on_timeout(move || stream.close(ErrorCode::Cancel));
            }
        });
        server
    })
}

#[test]
fn a_stream_timeout_concerns_its_stream_alone_and_fires_once_per_quiet_spell() {
    let _ = env_logger::builder().is_test(true).try_init();
    let (tx, rx) = mpsc::channel();
    let server = timeout_server(tx);
    let log: Log = Rc::default();
    let session = http2::connect(
        &format!("http://127.0.0.1:{}", server.port()),
        ClientSessionOptions::default(),
    );
    {
        let log = log.clone();
        session.on_error(move |e| log.borrow_mut().push(format!("session error {e}")));
    }
    {
        let log = log.clone();
        nodelike::set_timeout(
            move || {
                log.borrow_mut().push("DEADLINE".into());
                session.destroy();
            },
            60_000,
        )
        .unref();
    }
    let paths = ["/heard", "/twice", "/unheard", "/busy", "/off", "/core"];
    let left = Rc::new(Cell::new(paths.len() + 1));
    let finish = Rc::new(move || {
        left.set(left.get() - 1);
        if left.get() == 0 {
            session.close();
        }
    });
    for path in paths {
        let stream = session.request(&[(":path", path)]);
        let f = finish.clone();
        let after: Box<dyn FnOnce()> = if path == "/heard" {
            // Once /heard timed out, the connection still serves a new
            // stream: only the stream timed out.
            let log = log.clone();
            Box::new(move || {
                let again = session.request(&[(":path", "/hello")]);
                let g = f.clone();
                watch(again, "/hello", &log, move || g());
                f();
            })
        } else {
            Box::new(move || f())
        };
        watch(stream, path, &log, after);
    }
    nodelike::run();
    let lines = log.borrow().clone();
    let has = |line: &str| lines.iter().any(|l| l == line);
    assert!(has("/heard 200 timed out rst=NoError"), "{lines:?}");
    assert!(has("/twice 200 ab2 rst=NoError"), "{lines:?}");
    assert!(has("/unheard 200 whole rst=NoError"), "{lines:?}");
    assert!(
        has("/busy 200 .................... rst=NoError"),
        "{lines:?}"
    );
    assert!(has("/off 200 off rst=NoError"), "{lines:?}");
    assert!(has("/core 200 before- rst=Cancel"), "{lines:?}");
    assert!(has("/hello 200 hello rst=NoError"), "{lines:?}");
    assert_eq!(lines.len(), 7, "{lines:?}");
    server.stop();
    let events: Vec<String> = rx.try_iter().collect();
    assert_eq!(
        events,
        ["req timeout /heard", "res timeout /heard"],
        "the request hears it first; /busy and /off never time out"
    );
}

fn ops_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/h2/ops.js")
}

/// Runs Node's client through `scenario`; its lines, or `None` without
/// `node`.
fn node_ops(port: u16, scenario: &str) -> Option<Vec<String>> {
    if !have("node") {
        eprintln!("skipped: this test needs `node` on the PATH");
        return None;
    }
    let mut cmd = Command::new("node");
    cmd.arg(ops_script())
        .arg(format!("http://127.0.0.1:{port}"))
        .arg(scenario);
    let out = output_within(cmd.stdin(Stdio::null()), Duration::from_secs(60));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "node {scenario} failed ({:?}):\n{text}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Some(text.lines().map(str::to_owned).collect())
}

/// A server whose handler closes it (with `grace` ms of close grace, 0 for
/// none) on `/slow` (answered later) and `/stuck` (never answered);
/// `events` hears the request's close and the server's.
fn closing_server(grace: u64, events: mpsc::Sender<String>) -> TestServer {
    TestServer::start(move || -> Server {
        let me: Rc<Cell<Option<Server>>> = Rc::default();
        let handle = me.clone();
        let tx = events.clone();
        let server = http2::create_server(http2::ServerOptions::default(), move |req, res| {
            let t = tx.clone();
            let url = req.url();
            req.on_close(move |reason| {
                let _ = t.send(format!("{url} closed {reason}"));
            });
            res.write_head(200, &[("Content-Type", "text/plain")]);
            res.write("first-");
            if let Some(server) = handle.get() {
                server.close();
            }
            if req.url() == "/slow" {
                nodelike::set_timeout(move || res.end("second"), 300);
            }
        });
        server.set_close_grace(grace);
        let t = events.clone();
        server.on_close(move || {
            let _ = t.send("server closed".into());
        });
        me.set(Some(server));
        server
    })
}

fn position(lines: &[String], line: &str) -> usize {
    lines
        .iter()
        .position(|l| l == line)
        .unwrap_or_else(|| panic!("no {line:?} in {lines:?}"))
}

#[test]
fn close_sends_goaway_refuses_new_connections_and_lets_the_stream_in_flight_finish() {
    // With and without a grace (far longer than the stream takes): the
    // stream finishes whole either way.
    for grace in [0, 60_000] {
        let (tx, rx) = mpsc::channel();
        let server = closing_server(grace, tx);
        let Some(lines) = node_ops(server.port(), "inflight") else {
            return;
        };
        let goaway = position(&lines, "goaway 0 1");
        let refused = position(&lines, "second-session-error ECONNREFUSED");
        let body = position(&lines, "slow body first-second");
        let closed = position(&lines, "slow close 0 12");
        let session_closed = position(&lines, "closed");
        assert!(goaway < body && body < closed && closed < session_closed);
        assert!(goaway < refused, "{lines:?}");
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(30)).unwrap(),
            "/slow closed finished"
        );
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(30)).unwrap(),
            "server closed",
            "grace {grace}"
        );
        server.stop();
    }
}

#[test]
fn a_stream_that_never_finishes_is_cut_when_the_close_grace_ends() {
    let (tx, rx) = mpsc::channel();
    let server = closing_server(300, tx);
    let Some(lines) = node_ops(server.port(), "stuck") else {
        return;
    };
    let goaway = position(&lines, "goaway 0 1");
    let status = position(&lines, "stuck status 200");
    // The stream got its head and first bytes, never the rest: when the
    // grace ends the connection goes, and Node closes the stream as
    // cancelled (rstCode 8, NGHTTP2_CANCEL) with its 6 bytes.
    let stream_closed = position(&lines, "stuck close 8 6");
    let session_closed = position(&lines, "closed");
    assert!(
        status < stream_closed && goaway < stream_closed,
        "{lines:?}"
    );
    assert!(stream_closed < session_closed, "{lines:?}");
    assert!(
        !lines.iter().any(|l| l.contains("first-second")),
        "{lines:?}"
    );
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(30)).unwrap(),
        "/stuck closed aborted"
    );
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(30)).unwrap(),
        "server closed"
    );
    server.stop();
}

thread_local! {
    /// This loop's `/slow` response, answered once its server is closing.
    static SLOW: RefCell<Option<nodelike::http::ServerResponse>> = const { RefCell::new(None) };
}

/// A cluster of two loops serving HTTP/2 on `port` (h2c, or TLS with
/// `tls`'s certificate and key), each answering `NAME WORKER`; `/slow` is
/// held until its server closes (then answered `NAME slow`), so it is in
/// flight during the close. `stop` makes every loop close its server;
/// `events` hears `listening`, `slow in` and `closing`.
fn h2_cluster(
    name: &'static str,
    port: u16,
    tls: Option<(String, String)>,
    stop: Arc<AtomicBool>,
    events: mpsc::Sender<String>,
) -> std::thread::JoinHandle<nodelike::ClusterExit> {
    let events = std::sync::Mutex::new(events);
    std::thread::spawn(move || {
        nodelike::cluster(2, move |worker| {
            let id = worker.id();
            let tx = events.lock().unwrap().clone();
            let t = tx.clone();
            let handler = move |req: nodelike::http::IncomingMessage,
                                res: nodelike::http::ServerResponse| {
                if req.url() == "/slow" {
                    SLOW.with(|s| *s.borrow_mut() = Some(res));
                    let _ = t.send("slow in".into());
                } else {
                    res.end(format!("{name} {id}"));
                }
            };
            let server = match &tls {
                None => http2::create_server(http2::ServerOptions::default(), handler),
                #[cfg(feature = "tls")]
                Some((cert, key)) => http2::create_secure_server(
                    nodelike::https::ServerOptions {
                        cert: cert.clone().into_bytes(),
                        key: key.clone().into_bytes(),
                        ..Default::default()
                    },
                    http2::ServerOptions::default(),
                    handler,
                )
                .expect("TLS options"),
                #[cfg(not(feature = "tls"))]
                Some(_) => unreachable!("TLS needs the `tls` feature"),
            };
            let t = tx.clone();
            server.listen(port, "127.0.0.1", move || {
                let _ = t.send("listening".into());
            });
            // No cross-thread stop of its own here: poll the flag, then
            // close (the loop returns once its connections are gone).
            let stop = stop.clone();
            let timer = Rc::new(Cell::new(None));
            let tm = timer.clone();
            timer.set(Some(nodelike::set_interval(
                move || {
                    if !stop.load(Ordering::SeqCst) {
                        return;
                    }
                    nodelike::clear_interval(tm.get().unwrap());
                    server.close();
                    let _ = tx.send("closing".into());
                    // The stream in flight is answered after the close.
                    if let Some(res) = SLOW.with(|s| s.borrow_mut().take()) {
                        nodelike::set_timeout(move || res.end(format!("{name} slow")), 100);
                    }
                },
                5,
            )));
        })
    })
}

/// Waits for `n` events `what` (others are kept in order in `seen`).
fn wait_for(rx: &mpsc::Receiver<String>, what: &str, n: usize, seen: &mut Vec<String>) {
    let mut got = 0;
    while got < n {
        let e = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no {what:?}; seen {seen:?}"));
        if e == what {
            got += 1;
        }
        seen.push(e);
    }
}

/// curl's arguments for HTTP/2 to `port`: prior knowledge over cleartext,
/// ALPN over TLS (trusting `ca`).
fn curl_args(port: u16, ca: Option<&str>) -> (Vec<String>, String) {
    match ca {
        None => (
            vec!["--http2-prior-knowledge".into()],
            format!("http://127.0.0.1:{port}"),
        ),
        Some(ca) => (
            vec!["--http2".into(), "--cacert".into(), ca.into()],
            format!("https://localhost:{port}"),
        ),
    }
}

/// Node's client: `sessions` connections at once with `streams` parallel
/// streams each; every answer's body.
fn node_many(port: u16, ca: Option<&str>, sessions: usize, streams: usize) -> Vec<String> {
    let url = match ca {
        None => format!("http://127.0.0.1:{port}"),
        Some(_) => format!("https://localhost:{port}"),
    };
    let mut cmd = Command::new("node");
    cmd.arg(ops_script())
        .arg(url)
        .arg("many")
        .arg(sessions.to_string())
        .arg(streams.to_string());
    if let Some(ca) = ca {
        cmd.arg(ca);
    }
    let out = output_within(cmd.stdin(Stdio::null()), Duration::from_secs(60));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "node many: {out:?}");
    text.lines()
        .map(|l| l.strip_prefix("answer ").unwrap_or(l).to_owned())
        .collect()
}

/// A cluster of two loops serves HTTP/2 from many connections (both loops
/// take part); then a rolling restart: a second cluster starts on the same
/// port, the first closes with a stream in flight, which finishes, and
/// new connections reach the second.
fn rolling_restart(ca: Option<&str>, tls: Option<(String, String)>) {
    let _ = env_logger::builder().is_test(true).try_init();
    let port = common::free_port();
    let (tx, rx) = mpsc::channel();
    let mut seen = Vec::new();
    let stop_a = Arc::new(AtomicBool::new(false));
    let a = h2_cluster("A", port, tls.clone(), stop_a.clone(), tx.clone());
    wait_for(&rx, "listening", 2, &mut seen);
    // 40 connections at once, 5 streams on each.
    let answers = node_many(port, ca, 40, 5);
    assert_eq!(answers.len(), 200, "{answers:?}");
    assert!(
        answers.iter().all(|l| l == "A 0" || l == "A 1"),
        "every answer from cluster A: {answers:?}"
    );
    let zero = answers.iter().filter(|l| *l == "A 0").count();
    assert!(
        zero > 0 && zero < 200,
        "both loops served: {zero} and {}",
        200 - zero
    );

    // A stream in flight on cluster A.
    let (args, base) = curl_args(port, ca);
    let mut slow = ChildGuard::spawn(
        Command::new("curl")
            .args(["-s", "--max-time", "60", "-w", " %{http_version}"])
            .args(args)
            .arg(format!("{base}/slow"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped()),
    )
    .expect("curl starts");
    wait_for(&rx, "slow in", 1, &mut seen);
    // The new cluster comes up beside it on the same port...
    let stop_b = Arc::new(AtomicBool::new(false));
    let b = h2_cluster("B", port, tls, stop_b.clone(), tx);
    wait_for(&rx, "listening", 2, &mut seen);
    // ...and the old one closes: no new connection reaches it.
    stop_a.store(true, Ordering::SeqCst);
    wait_for(&rx, "closing", 2, &mut seen);
    let after = node_many(port, ca, 4, 2);
    assert!(
        after.iter().all(|l| l == "B 0" || l == "B 1") && after.len() == 8,
        "{after:?}"
    );
    // The stream in flight finished whole, and cluster A returned once its
    // connections were gone.
    let mut body = String::new();
    std::io::Read::read_to_string(slow.stdout.as_mut().unwrap(), &mut body).unwrap();
    assert!(slow.wait().unwrap().success());
    assert_eq!(body, "A slow 2");
    let exit = a.join().unwrap();
    assert!(exit.panicked.is_empty(), "{exit:?}");
    stop_b.store(true, Ordering::SeqCst);
    let exit = b.join().unwrap();
    assert!(exit.panicked.is_empty(), "{exit:?}");
}

#[test]
fn a_cluster_serves_h2c_from_both_loops_and_restarts_without_losing_a_stream() {
    if !have("curl") || !have("node") {
        eprintln!("skipped: this test needs `curl` and `node` on the PATH");
        return;
    }
    rolling_restart(None, None);
}

#[cfg(feature = "tls")]
#[test]
fn a_cluster_serves_tls_h2_from_both_loops_and_restarts_without_losing_a_stream() {
    if !have("curl") || !have("node") {
        eprintln!("skipped: this test needs `curl` and `node` on the PATH");
        return;
    }
    let p = common::pki::pki();
    rolling_restart(
        Some(&p.path("ca.pem")),
        Some((p.server_cert.clone(), p.server_key.clone())),
    );
}

/// A connection accepted before `close` that speaks HTTP/2 only during
/// the grace (its preface came late) is told with GOAWAY too: its first
/// stream is answered, then it closes, and so does the server.
#[test]
fn a_connection_that_turns_http2_during_the_close_grace_gets_goaway_and_closes() {
    late_http2(false);
}

/// The same for one that had sent its preface but not its SETTINGS when
/// the server closed: GOAWAY then would be a connection error, so it waits
/// for them.
#[test]
fn a_connection_between_preface_and_settings_at_close_gets_goaway_once_they_come() {
    late_http2(true);
}

fn late_http2(preface_first: bool) {
    use nodelike::http::h2::{Config, Connection, Event, Role};
    use std::io::{Read, Write};
    let (tx, rx) = mpsc::channel();
    let server = TestServer::start(move || -> Server {
        let me: Rc<Cell<Option<Server>>> = Rc::default();
        let handle = me.clone();
        let server = http2::create_server(
            http2::ServerOptions {
                allow_http1: true,
                ..Default::default()
            },
            move |req, res| {
                if req.url() == "/close" {
                    if let Some(server) = handle.get() {
                        server.close();
                    }
                }
                res.end(format!("answer {}", req.url()));
            },
        );
        // Far longer than the test: the late connection must close because
        // of its GOAWAY, not because the grace ran out.
        server.set_close_grace(600_000);
        server.on_close(move || {
            let _ = tx.send("server closed");
        });
        me.set(Some(server));
        server
    });
    // Accepted, silent for now (or with its preface alone, which makes
    // it HTTP/2: the server's SETTINGS come back).
    let mut late = std::net::TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    late.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    let mut input = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    if preface_first {
        late.write_all(PREFACE).unwrap();
        let n = late.read(&mut buf).unwrap();
        assert!(n > 0, "the server's SETTINGS");
        input.extend_from_slice(&buf[..n]);
    }
    // Another connection (HTTP/1.1) closes the server.
    let mut closer = common::Reader::new(server.port());
    closer.send(b"GET /close HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(closer.response(false).unwrap().body, b"answer /close");
    assert!(closer.closed_by_server());
    // Now the preface and a first stream.
    let mut client = Connection::new(Role::Client, Config::default());
    let mut out = Vec::new();
    client.start(&mut out);
    if preface_first {
        out.drain(..PREFACE.len());
    }
    let head: [(&[u8], &[u8]); 4] = [
        (b":method", b"GET"),
        (b":scheme", b"http"),
        (b":path", b"/late"),
        (b":authority", b"x"),
    ];
    let id = client.open_stream(&head, true, &mut out).unwrap();
    let mut seen = Vec::new();
    loop {
        if !out.is_empty() {
            // The server may be gone already: it only matters what came.
            let _ = late.write_all(&out);
            out.clear();
        }
        let n = late
            .read(&mut buf)
            .expect("the server closes, not the deadline");
        if n == 0 {
            seen.push("eof".to_owned());
            break;
        }
        input.extend_from_slice(&buf[..n]);
        let mut used = 0;
        loop {
            let Ok((n, event)) = client.poll(&input[used..], &mut out) else {
                seen.push("connection error".into());
                break;
            };
            used += n;
            match event {
                Some(Event::Headers { stream, fields, .. }) if stream == id => {
                    let status = fields
                        .iter()
                        .find(|(n, _)| *n == b":status")
                        .map(|(_, v)| String::from_utf8_lossy(v).into_owned());
                    seen.push(format!("status {}", status.unwrap_or_default()));
                }
                Some(Event::Data { stream, data, .. }) if stream == id => {
                    seen.push(format!("data {}", String::from_utf8_lossy(data)));
                }
                Some(Event::GoAway {
                    last_stream_id,
                    code,
                    ..
                }) => seen.push(format!("goaway {code:?} {last_stream_id}")),
                Some(_) => {}
                None => break,
            }
        }
        input.drain(..used);
    }
    assert!(seen.contains(&"goaway NoError 1".to_owned()), "{seen:?}");
    assert!(seen.contains(&"status 200".to_owned()), "{seen:?}");
    assert!(seen.contains(&"data answer /late".to_owned()), "{seen:?}");
    assert_eq!(seen.last().map(String::as_str), Some("eof"), "{seen:?}");
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(30)).unwrap(),
        "server closed"
    );
    drop(late);
    server.stop();
}

/// Over HTTP/1.1 (here on the same server, which allows it beside h2c)
/// the same call is still the connection's idle timeout, heard by the
/// response in progress.
#[test]
fn over_http1_the_same_set_timeout_is_the_connections() {
    let server = TestServer::start(|| -> Server {
        http2::create_server(
            http2::ServerOptions {
                allow_http1: true,
                ..Default::default()
            },
            |_req, res| {
                res.set_timeout(100);
                res.on_timeout(move || res.end("the connection was idle"));
            },
        )
    });
    let mut r = common::Reader::new(server.port());
    r.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let answer = r.response(false).expect("an answer");
    assert_eq!(answer.body, b"the connection was idle");
    server.stop();
}

/// A closing server's connection whose last stream the client resets
/// closes then: the client need not close it.
#[test]
fn a_going_away_connection_closes_when_the_client_resets_its_last_stream() {
    use nodelike::http::h2::{Config, Connection, Event, Role};
    use std::io::{Read, Write};
    let server = TestServer::start(move || -> Server {
        let me: Rc<Cell<Option<Server>>> = Rc::default();
        let handle = me.clone();
        // Never answers; closes the server.
        let server = http2::create_server(http2::ServerOptions::default(), move |_req, _res| {
            if let Some(server) = handle.get() {
                server.close();
            }
        });
        me.set(Some(server));
        server
    });
    let mut sock = std::net::TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut client = Connection::new(Role::Client, Config::default());
    let mut out = Vec::new();
    client.start(&mut out);
    let head: [(&[u8], &[u8]); 4] = [
        (b":method", b"GET"),
        (b":scheme", b"http"),
        (b":path", b"/"),
        (b":authority", b"x"),
    ];
    let id = client.open_stream(&head, true, &mut out).unwrap();
    let (mut input, mut buf, mut seen) = (Vec::new(), vec![0u8; 16 * 1024], Vec::new());
    loop {
        if !out.is_empty() {
            let _ = sock.write_all(&out);
            out.clear();
        }
        let n = sock
            .read(&mut buf)
            .expect("the server closes, not the deadline");
        if n == 0 {
            seen.push("eof".to_owned());
            break;
        }
        input.extend_from_slice(&buf[..n]);
        let mut used = 0;
        while let Ok((n, event)) = client.poll(&input[used..], &mut out) {
            used += n;
            match event {
                Some(Event::GoAway {
                    last_stream_id,
                    code,
                    ..
                }) => {
                    seen.push(format!("goaway {code:?} {last_stream_id}"));
                    // Give up on the stream the server will not answer.
                    client.reset(id, ErrorCode::Cancel, &mut out);
                }
                Some(_) => {}
                None => break,
            }
        }
        input.drain(..used);
    }
    assert_eq!(seen, ["goaway NoError 1", "eof"]);
    drop(sock);
    server.stop();
}

/// A server whose `/settings` handler lowers the session's concurrent
/// streams to 7 and answers once the client acknowledged it, and whose
/// `/goaway` handler sends a GOAWAY of its choosing (last stream 3, the
/// one in flight) and answers after it.
fn session_server() -> TestServer {
    TestServer::start(move || -> Server {
        let session: Rc<Cell<Option<http2::Http2Session>>> = Rc::default();
        let current = session.clone();
        let server = http2::create_server(http2::ServerOptions::default(), move |req, res| {
            let Some(session) = current.get() else {
                return res.end("no session");
            };
            match req.url().as_str() {
                "/settings" => {
                    let fewer = nodelike::http::h2::Settings {
                        max_concurrent_streams: Some(7),
                        ..session.local_settings()
                    };
                    let sent = session.update_settings(fewer, move |acked| match acked {
                        Ok((settings, _rtt)) => res.end(format!(
                            "acked {:?} pending {}",
                            settings.max_concurrent_streams,
                            session.pending_settings_ack()
                        )),
                        Err(e) => res.end(format!("error {e}")),
                    });
                    assert!(sent.is_ok(), "{sent:?}");
                    assert!(session.pending_settings_ack());
                }
                "/goaway" => {
                    let sent = session.goaway(ErrorCode::NoError, 3, b"calm");
                    res.end(format!("goaway sent {sent}"));
                }
                _ => res.end("?"),
            }
        });
        server.on_session(move |s| session.set(Some(s)));
        server
    })
}

#[test]
fn a_session_changes_its_settings_on_the_clients_ack_and_sends_a_goaway_of_its_choosing() {
    let server = session_server();
    let Some(lines) = node_ops(server.port(), "session") else {
        return;
    };
    // Node saw our first SETTINGS, then the change; our callback ran once
    // Node acknowledged it (its answer comes after Node applied it).
    let first = position(&lines, "remote-settings 100 262144");
    let changed = position(&lines, "remote-settings 7 262144");
    let acked = position(&lines, "settings body acked Some(7) pending false");
    assert!(first < changed && changed < acked, "{lines:?}");
    // The GOAWAY reached Node with our code, last stream and data, and the
    // stream it spared (3) was answered whole after it.
    let goaway = position(&lines, "goaway 0 3 calm");
    let answered = position(&lines, "goaway-stream body goaway sent true");
    assert!(acked < goaway && goaway < answered, "{lines:?}");
    position(&lines, "closed");
    server.stop();
}

/// Reads HTTP/2 frames from `sock` until a GOAWAY: its error code, or
/// `None` if the connection ended first.
fn goaway_code(sock: &mut std::net::TcpStream) -> Option<u32> {
    use std::io::Read;
    let mut header = [0u8; 9];
    loop {
        sock.read_exact(&mut header).ok()?;
        let len = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
        let mut payload = vec![0u8; len];
        sock.read_exact(&mut payload).ok()?;
        if header[3] == 7 && len >= 8 {
            return Some(u32::from_be_bytes([
                payload[4], payload[5], payload[6], payload[7],
            ]));
        }
    }
}

#[test]
fn a_client_that_never_acknowledges_our_settings_gets_goaway_settings_timeout() {
    use std::io::{Read, Write};
    let server = TestServer::start(|| -> Server {
        let options = http2::ServerOptions {
            settings: nodelike::http::h2::Config {
                settings_timeout_ticks: 2,
                ..Default::default()
            },
            ..Default::default()
        };
        http2::create_server(options, |_req, res| res.end("hi"))
    });
    let mut sock = std::net::TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    // The preface and an empty SETTINGS; then silence: ours is never
    // acknowledged, and nothing we send would tick the server's core.
    sock.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").unwrap();
    sock.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).unwrap();
    assert_eq!(goaway_code(&mut sock), Some(0x4), "GOAWAY SETTINGS_TIMEOUT");
    // Then the server closes the connection.
    let mut rest = Vec::new();
    let _ = sock.read_to_end(&mut rest);
    server.stop();
}
