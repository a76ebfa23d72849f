//! The HTTP client against our own server, against raw TCP peers that
//! misbehave on purpose, and against servers no one here wrote (Node's
//! `http` and Python's `http.server`). Each test runs its client on the test
//! thread's own loop.

mod common;

use std::cell::RefCell;
use std::io::{Read, Write};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

use common::{have, TestServer};
use nodelike::http::{self, RequestOptions};
use nodelike::ErrorKind;

type Log = Rc<RefCell<Vec<String>>>;
/// A self-restarting write loop, kept where `drain` can reach it.
type Pump = Box<dyn Fn()>;

fn log() -> Log {
    Rc::new(RefCell::new(Vec::new()))
}

/// Ends `res` with `body` once `flag` is set (polled on the server's loop):
/// for an answer that must come only after something the client does, on
/// another thread, however slow the machine (never a fixed delay).
fn end_when(flag: Arc<AtomicBool>, res: http::ServerResponse, body: &'static str) {
    let timer = Rc::new(std::cell::Cell::new(None));
    let t = timer.clone();
    timer.set(Some(nodelike::set_interval(
        move || {
            if flag.load(Ordering::SeqCst) {
                nodelike::clear_interval(t.get().unwrap());
                res.end(body);
            }
        },
        5,
    )));
}

fn opts(port: u16, method: &str, path: &str) -> RequestOptions {
    RequestOptions {
        host: "127.0.0.1".into(),
        port,
        method: method.into(),
        path: path.into(),
        ..Default::default()
    }
}

/// GETs `path` and records "status body" when it ends, or "error CODE".
fn fetch(port: u16, path: &str, out: &Log) {
    let o = out.clone();
    let e = out.clone();
    http::get(opts(port, "GET", path), move |res| {
        let body = Rc::new(RefCell::new(Vec::new()));
        let b = body.clone();
        res.on_data(move |c| b.borrow_mut().extend_from_slice(&c));
        let o = o.clone();
        res.on_end(move || {
            o.borrow_mut().push(format!(
                "{} {}",
                res.status_code(),
                String::from_utf8_lossy(&body.borrow())
            ))
        });
    })
    .on_error(move |err| e.borrow_mut().push(format!("error {}", err.code())));
}

fn echo_server(connections: Arc<AtomicUsize>) -> TestServer {
    TestServer::start(move || {
        let server = http::create_server(|req, res| {
            res.set_header("x-method", req.method());
            res.set_header(
                "x-framing",
                if req.headers().contains("transfer-encoding") {
                    "chunked"
                } else {
                    "length"
                },
            );
            req.on_data(move |c| {
                res.write(c);
            });
            req.on_end(move || {
                let t = req.trailers();
                if let Some(v) = t.get("x-t") {
                    res.add_trailers(&[("x-t", v)]);
                }
                res.end(format!("|{}", req.url()));
            });
        });
        server.on_connection(move |_| {
            connections.fetch_add(1, Ordering::SeqCst);
        });
        server
    })
}

#[test]
fn sequential_requests_reuse_one_keep_alive_socket_and_run_returns() {
    // test-http-keep-alive.js (client side)
    let conns = Arc::new(AtomicUsize::new(0));
    let s = echo_server(conns.clone());
    let out = log();
    let port = s.port();
    let o = out.clone();
    let next = Rc::new(RefCell::new(None::<Box<dyn Fn(u32)>>));
    let n2 = next.clone();
    *next.borrow_mut() = Some(Box::new(move |i| {
        if i == 3 {
            return;
        }
        let o = o.clone();
        let n3 = n2.clone();
        http::get(opts(port, "GET", &format!("/{i}")), move |res| {
            let o = o.clone();
            let n4 = n3.clone();
            res.on_end(move || {
                o.borrow_mut().push(format!("{}", res.status_code()));
                (n4.borrow().as_ref().unwrap())(i + 1);
            });
        });
    }));
    (next.borrow().as_ref().unwrap())(0);
    // Returns although a keep-alive socket stays pooled: idle pooled
    // sockets do not keep the loop alive.
    nodelike::run();
    assert_eq!(*out.borrow(), ["200", "200", "200"]);
    assert_eq!(
        conns.load(Ordering::SeqCst),
        1,
        "one connection for three requests"
    );
    assert_eq!(http::get_agent("127.0.0.1", port).idle_sockets(), 1);
    *next.borrow_mut() = None;
    s.stop();
}

#[test]
fn max_sockets_queues_requests_beyond_the_limit() {
    // v0.4: 100 GETs through the default agent, maxSockets 5; here 2 and 8.
    let conns = Arc::new(AtomicUsize::new(0));
    let s = echo_server(conns.clone());
    let agent = http::get_agent("127.0.0.1", s.port());
    agent.set_max_sockets(2);
    let out = log();
    for i in 0..8 {
        fetch(s.port(), &format!("/{i}"), &out);
    }
    assert_eq!(agent.sockets(), 2);
    assert_eq!(agent.queue(), 6);
    nodelike::run();
    let mut got = out.borrow().clone();
    got.sort();
    let mut want: Vec<String> = (0..8).map(|i| format!("200 |/{i}")).collect();
    want.sort();
    assert_eq!(got, want);
    assert!(
        conns.load(Ordering::SeqCst) <= 2,
        "never more than max_sockets connections"
    );
    assert_eq!(agent.queue(), 0);
    s.stop();
}

#[test]
fn chunked_upload_with_trailers_and_a_length_upload() {
    // test-http-client-upload.js
    let s = echo_server(Arc::new(AtomicUsize::new(0)));
    let out = log();
    let o = out.clone();
    let req = http::request(opts(s.port(), "POST", "/up"), move |res| {
        res.set_encoding(nodelike::Encoding::Utf8);
        let o = o.clone();
        let body = Rc::new(RefCell::new(String::new()));
        let b = body.clone();
        res.on_data(move |c| b.borrow_mut().push_str(c.as_str().unwrap()));
        res.on_end(move || {
            let h = res.headers();
            o.borrow_mut().push(format!(
                "{} {} {}",
                h.get("x-framing").unwrap(),
                body.borrow(),
                res.trailers().get("x-t").unwrap_or("-")
            ));
        });
    });
    req.write("1\n");
    req.write("é2\n");
    req.end("3\n");
    let o = out.clone();
    let req = http::request(opts(s.port(), "PUT", "/len"), move |res| {
        let o = o.clone();
        let body = Rc::new(RefCell::new(Vec::new()));
        let b = body.clone();
        res.on_data(move |c| b.borrow_mut().extend_from_slice(&c));
        res.on_end(move || {
            o.borrow_mut().push(format!(
                "{} {}",
                res.headers().get("x-framing").unwrap(),
                String::from_utf8_lossy(&body.borrow())
            ))
        });
    });
    req.set_header("Content-Length", "5");
    req.write("ab");
    req.end("cde");
    nodelike::run();
    let mut got = out.borrow().clone();
    got.sort();
    assert_eq!(got, ["chunked 1\né2\n3\n|/up -", "length abcde|/len"]);
    s.stop();
}

#[test]
fn connection_refused_is_an_error_event_with_its_kind() {
    let port = common::free_port();
    let kinds = Rc::new(RefCell::new(Vec::new()));
    let k = kinds.clone();
    let messages = log();
    let m = messages.clone();
    http::get(opts(port, "GET", "/"), |_| panic!("no response expected")).on_error(move |e| {
        k.borrow_mut().push(e.kind());
        m.borrow_mut().push(e.to_string());
        // The io error stays reachable.
        assert!(std::error::Error::source(e).is_some());
    });
    nodelike::run();
    assert_eq!(*kinds.borrow(), [ErrorKind::ConnectionRefused]);
    // Node's wording.
    assert_eq!(
        *messages.borrow(),
        [format!("connect ECONNREFUSED 127.0.0.1:{port}")]
    );
}

#[test]
fn unresolvable_host_is_a_dns_error() {
    let kinds = Rc::new(RefCell::new(Vec::new()));
    let k = kinds.clone();
    http::get("http://no-such-host.invalid/", |_| {
        panic!("no response expected")
    })
    .on_error(move |e| k.borrow_mut().push(e.code()));
    nodelike::run();
    assert_eq!(*kinds.borrow(), ["ENOTFOUND"]);
}

/// A TCP peer that reads a request head and answers with `reply`, then
/// closes.
fn raw_peer(reply: &'static [u8]) -> (u16, std::thread::JoinHandle<()>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let t = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut buf = [0u8; 4096];
        let mut got = Vec::new();
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut buf).unwrap();
            if n == 0 {
                return;
            }
            got.extend_from_slice(&buf[..n]);
        }
        s.write_all(reply).unwrap();
    });
    (port, t)
}

#[test]
fn premature_close_and_parse_errors_reach_the_request() {
    let cases: Vec<(&'static [u8], ErrorKind)> = vec![
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
            ErrorKind::PrematureClose,
        ),
        (b"", ErrorKind::PrematureClose),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            ErrorKind::Parse,
        ),
        (b"HTTP/1.1 999 Nope\r\n\r\n", ErrorKind::Parse),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            ErrorKind::Parse,
        ),
        (b"garbage\r\n\r\n", ErrorKind::Parse),
    ];
    for (reply, want) in cases {
        let (port, t) = raw_peer(reply);
        let kinds = Rc::new(RefCell::new(Vec::new()));
        let k = kinds.clone();
        let closes = Rc::new(RefCell::new(0));
        let c2 = closes.clone();
        http::get(opts(port, "GET", "/"), move |res| {
            let c3 = c2.clone();
            res.on_close(move || *c3.borrow_mut() += 1);
        })
        .on_error(move |e| k.borrow_mut().push(e.kind()));
        nodelike::run();
        t.join().unwrap();
        assert_eq!(
            *kinds.borrow(),
            [want],
            "reply {:?}",
            String::from_utf8_lossy(reply)
        );
    }
}

#[test]
fn close_delimited_head_204_and_reuse_after_204() {
    // test-http-no-content-length.js; 204 then a request on the same socket.
    let (port, t) = raw_peer(b"HTTP/1.1 200 OK\r\n\r\nuntil close");
    let out = log();
    fetch(port, "/", &out);
    nodelike::run();
    t.join().unwrap();
    assert_eq!(*out.borrow(), ["200 until close"]);

    let conns = Arc::new(AtomicUsize::new(0));
    let c2 = conns.clone();
    let s = TestServer::start(move || {
        let server = http::create_server(|req, res| {
            if req.url() == "/204" {
                res.write_head(204, &[]);
                res.end(());
            } else {
                res.set_header("Content-Length", "5");
                res.end("hello");
            }
        });
        server.on_connection(move |_| {
            c2.fetch_add(1, Ordering::SeqCst);
        });
        server
    });
    let out = log();
    let port = s.port();
    let o = out.clone();
    http::get(opts(port, "GET", "/204"), move |res| {
        let o = o.clone();
        res.on_end(move || {
            o.borrow_mut().push(res.status_code().to_string());
            fetch(port, "/after", &o);
            let o2 = o.clone();
            http::request(opts(port, "HEAD", "/head"), move |res| {
                let o3 = o2.clone();
                res.on_data(|_| panic!("HEAD has no body"));
                res.on_end(move || {
                    o3.borrow_mut().push(format!(
                        "HEAD {}",
                        res.headers().get("content-length").unwrap()
                    ))
                });
            })
            .end(());
        });
    });
    nodelike::run();
    assert_eq!(out.borrow()[0], "204");
    let mut rest = out.borrow()[1..].to_vec();
    rest.sort();
    assert_eq!(rest, ["200 hello", "HEAD 5"]);
    s.stop();
}

#[test]
fn abort_queued_never_reaches_the_server_and_abort_mid_response_closes() {
    // test-http-client-abort*.js, abort-queued.
    let seen = Arc::new(AtomicUsize::new(0));
    let s2 = seen.clone();
    let (tx, rx) = mpsc::channel::<String>();
    let aborted = Arc::new(AtomicBool::new(false));
    let abort_seen = aborted.clone();
    let s = TestServer::start(move || {
        http::create_server(move |req, res| {
            s2.fetch_add(1, Ordering::SeqCst);
            tx.send(req.url()).unwrap();
            if req.url() == "/slow" {
                res.write("partial");
                // The client aborts on the first bytes; the rest, sent only
                // after that (however long it takes), then fails to send and
                // the server drops the connection.
                end_when(abort_seen.clone(), res, "rest");
            } else {
                res.end("ok");
            }
        })
    });
    let agent = http::get_agent("127.0.0.1", s.port());
    agent.set_max_sockets(1);
    let out = log();
    let o = out.clone();
    let slow = http::get(opts(s.port(), "GET", "/slow"), move |res| {
        let o = o.clone();
        res.on_data(move |_| o.borrow_mut().push("data".into()));
        let o = out.clone();
        res.on_close(move || {
            o.borrow_mut()
                .push(format!("close complete={}", res.complete()))
        });
    });
    let queued = http::get(opts(s.port(), "GET", "/queued"), |_| {
        panic!("aborted before sending")
    });
    assert_eq!(agent.queue(), 1);
    queued.abort();
    // Node 20 counts it in `agent.requests` until a socket passes it by.
    assert_eq!(agent.queue(), 1);
    let o = log();
    let o2 = o.clone();
    let slow2 = slow;
    // Abort the slow one once its first bytes arrived.
    slow.on_response(move |res| {
        let o3 = o2.clone();
        let aborted = aborted.clone();
        res.on_data(move |_| {
            o3.borrow_mut().push("abort".into());
            slow2.abort();
            aborted.store(true, Ordering::SeqCst);
        });
    });
    nodelike::run();
    assert_eq!(rx.recv().unwrap(), "/slow");
    assert!(
        rx.try_recv().is_err(),
        "the queued request never reached the server"
    );
    assert_eq!(seen.load(Ordering::SeqCst), 1);
    assert_eq!(*o.borrow(), ["abort"]);
    assert_eq!(agent.queue(), 0, "the slow socket's close passed it by");
    s.stop();
}

#[test]
fn forbidden_bytes_in_request_parts_are_refused_before_sending() {
    let seen = Arc::new(AtomicUsize::new(0));
    let s2 = seen.clone();
    let s = TestServer::start(move || {
        http::create_server(move |_req, res| {
            s2.fetch_add(1, Ordering::SeqCst);
            res.end(());
        })
    });
    let codes = Rc::new(RefCell::new(Vec::new()));
    let bad = [
        RequestOptions {
            path: "/a\r\nX: y".into(),
            ..opts(s.port(), "GET", "/")
        },
        RequestOptions {
            method: "GE T".into(),
            ..opts(s.port(), "GET", "/")
        },
        RequestOptions {
            headers: vec![("X-A".into(), "v\r\nInjected: 1".into())],
            ..opts(s.port(), "GET", "/")
        },
        RequestOptions {
            headers: vec![("Bad Name".into(), "v".into())],
            ..opts(s.port(), "GET", "/")
        },
        RequestOptions {
            path: "/nul\0".into(),
            ..opts(s.port(), "GET", "/")
        },
    ];
    for o in bad {
        let c = codes.clone();
        http::request(o, |_| panic!("must not be sent"))
            .on_error(move |e| c.borrow_mut().push(e.code()))
            .end(());
    }
    nodelike::run();
    assert_eq!(codes.borrow().len(), 5);
    assert!(codes.borrow().iter().all(|c| *c == "ERR_INVALID_CHAR"));
    assert_eq!(seen.load(Ordering::SeqCst), 0);
    s.stop();
}

#[test]
fn continue_and_upgrade_events() {
    let s = TestServer::start(|| {
        let server = http::create_server(|req, res| {
            req.on_end(move || res.end("final"));
        });
        server.on_upgrade(|_req, socket, head| {
            socket.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\nserver-first");
            socket.write(head);
            socket.end(());
        });
        server
    });
    let out = log();
    let o = out.clone();
    let mut o_expect = opts(s.port(), "POST", "/c");
    o_expect.headers = vec![
        ("Expect".into(), "100-continue".into()),
        ("Content-Length".into(), "4".into()),
    ];
    let req = http::request(o_expect, move |res| {
        let o = o.clone();
        res.on_end(move || {
            o.borrow_mut()
                .push(format!("response {}", res.status_code()))
        });
    });
    let o = out.clone();
    req.on_continue(move || {
        o.borrow_mut().push("continue".into());
        req.end("body");
    });
    // The head goes out now; the body waits for `continue`.
    req.write("");
    let o = out.clone();
    let mut o_up = opts(s.port(), "GET", "/u");
    o_up.headers = vec![
        ("Connection".into(), "Upgrade".into()),
        ("Upgrade".into(), "x".into()),
    ];
    o_up.agent = None;
    let up = http::request(o_up, |_| panic!("upgrade, not a response"));
    up.on_upgrade(move |res, socket, head| {
        let o = o.clone();
        o.borrow_mut().push(format!(
            "upgrade {} head={}",
            res.status_code(),
            String::from_utf8_lossy(head)
        ));
        socket.on_data(move |c| o.borrow_mut().push(format!("raw {c}")));
    });
    up.end(());
    nodelike::run();
    let got = out.borrow().clone();
    assert!(got.contains(&"continue".to_string()), "{got:?}");
    assert!(got.contains(&"response 200".to_string()), "{got:?}");
    assert!(
        got.iter().any(|l| l == "upgrade 101 head=server-first"),
        "{got:?}"
    );
    s.stop();
}

#[test]
fn interop_with_node_and_python_servers() {
    assert!(
        have("node") && have("python3"),
        "this test needs node and python3 on the PATH"
    );
    let node = r#"
const http = require('http');
const s = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => body += c);
  req.on('end', () => {
    res.setHeader('Set-Cookie', ['a=1', 'b=2']);
    res.setHeader('Trailer', 'X-Sum');
    res.write('node:' + req.method + ':' + body);
    res.addTrailers({ 'X-Sum': String(body.length) });
    res.end();
  });
});
s.listen(0, '127.0.0.1', () => console.log(s.address().port));
"#;
    let python = r#"
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.0'
    def do_GET(self):
        self.send_response(200)
        self.send_header('X-Py', 'yes')
        self.end_headers()
        self.wfile.write(b'python body')
    def log_message(self, *a): pass
s = http.server.HTTPServer(('127.0.0.1', 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"#;
    // Guarded: killed and reaped however the test ends.
    let mut node = common::ChildGuard::spawn(
        std::process::Command::new("node")
            .args(["-e", node])
            .stdout(std::process::Stdio::piped()),
    )
    .unwrap();
    let mut py = common::ChildGuard::spawn(
        std::process::Command::new("python3")
            .args(["-c", python])
            .stdout(std::process::Stdio::piped()),
    )
    .unwrap();
    let port_of = |child: &mut std::process::Child| {
        let mut line = String::new();
        let mut out = child.stdout.take().unwrap();
        let mut b = [0u8; 1];
        while !line.ends_with('\n') {
            out.read_exact(&mut b).unwrap();
            line.push(b[0] as char);
        }
        line.trim().parse::<u16>().unwrap()
    };
    let (node_port, py_port) = (port_of(&mut node), port_of(&mut py));
    let out = log();
    let o = out.clone();
    let req = http::request(opts(node_port, "PATCH", "/n"), move |res| {
        let o = o.clone();
        let body = Rc::new(RefCell::new(Vec::new()));
        let b = body.clone();
        res.on_data(move |c| b.borrow_mut().extend_from_slice(&c));
        res.on_end(move || {
            let cookies: Vec<String> = res
                .headers()
                .get_value("set-cookie")
                .unwrap()
                .iter()
                .map(String::from)
                .collect();
            o.borrow_mut().push(format!(
                "{} {} {:?} {}",
                res.status_code(),
                String::from_utf8_lossy(&body.borrow()),
                cookies,
                res.trailers().get("x-sum").unwrap()
            ));
        });
    });
    req.write("x=");
    req.end("1");
    let o = out.clone();
    http::get(format!("http://127.0.0.1:{py_port}/p"), move |res| {
        let o = o.clone();
        let body = Rc::new(RefCell::new(Vec::new()));
        let b = body.clone();
        res.on_data(move |c| b.borrow_mut().extend_from_slice(&c));
        res.on_end(move || {
            o.borrow_mut().push(format!(
                "{} {} {}",
                res.http_version(),
                res.headers().get("x-py").unwrap(),
                String::from_utf8_lossy(&body.borrow())
            ));
        });
    });
    nodelike::run();
    drop((node, py));
    let mut got = out.borrow().clone();
    got.sort();
    assert_eq!(
        got,
        [
            "1.0 yes python body",
            "200 node:PATCH:x=1 [\"a=1\", \"b=2\"] 3"
        ]
    );
}

#[test]
fn get_example_prints_status_headers_body_and_trailers() {
    let server = common::ExampleProcess::start("echo");
    let out = std::process::Command::new(common::example_bin("get"))
        .arg(format!("http://127.0.0.1:{}/status/202", server.port))
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let (head, body) = text.split_once("\n\n").unwrap();
    let mut lines = head.lines();
    assert_eq!(lines.next(), Some("202"));
    assert!(head.contains("\nx-method: GET\n"), "{head}");
    assert!(head.contains("\ncontent-length: 0"), "{head}");
    assert_eq!(body, "");
    let refused = std::process::Command::new(common::example_bin("get"))
        .arg(format!("http://127.0.0.1:{}/", common::free_port()))
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).starts_with("error: "));
}

/// Node's `req.setTimeout`: the `timeout` event, and the listener decides.
/// Destroying with an error gives `error` with it, then `close` (Node 20's
/// sequence for `req.destroy(err)`).
#[test]
fn timeout_emits_timeout_and_the_listener_destroys_the_request() {
    // The server answers only after the client gave up.
    let timed_out = Arc::new(AtomicBool::new(false));
    let late = timed_out.clone();
    let s = TestServer::start(move || {
        http::create_server(move |_req, res| end_when(late.clone(), res, "late"))
    });
    let log = Rc::new(RefCell::new(Vec::new()));
    let req = http::get(opts(s.port(), "GET", "/"), |_| panic!("no response"));
    req.set_timeout(50);
    let l = log.clone();
    req.on_timeout(move || {
        l.borrow_mut().push("timeout".to_string());
        req.destroy(Some(nodelike::Error::new(ErrorKind::Timeout, "too slow")));
    });
    let l = log.clone();
    req.on_error(move |e| {
        l.borrow_mut()
            .push(format!("error {:?} {}", e.kind(), e.message()));
        timed_out.store(true, Ordering::SeqCst);
    });
    let l = log.clone();
    req.on_close(move || l.borrow_mut().push("close".to_string()));
    nodelike::run();
    assert_eq!(
        *log.borrow(),
        ["timeout", "error Timeout too slow", "close"]
    );
    assert!(req.destroyed());
    s.stop();
}

/// ... and without a listener that ends it, the request goes on: a slow
/// answer still arrives after `timeout` (Node's behaviour).
#[test]
fn timeout_alone_does_not_fail_the_request() {
    let timed_out = Arc::new(AtomicBool::new(false));
    let late = timed_out.clone();
    let s = TestServer::start(move || {
        http::create_server(move |_req, res| end_when(late.clone(), res, "late"))
    });
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    let req = http::get(opts(s.port(), "GET", "/"), move |res| {
        let l = l.clone();
        res.on_data(move |c| {
            l.borrow_mut()
                .push(String::from_utf8_lossy(&c).into_owned())
        });
    });
    req.set_timeout(50);
    let l = log.clone();
    req.on_timeout(move || {
        l.borrow_mut().push("timeout".to_string());
        timed_out.store(true, Ordering::SeqCst); // now the server answers
    });
    req.on_error(|e| panic!("{e}"));
    nodelike::run();
    assert_eq!(log.borrow()[0], "timeout");
    assert_eq!(log.borrow().last().map(String::as_str), Some("late"));
    s.stop();
}

/// `destroy()` without an error: Node's `ECONNRESET` "socket hang up".
#[test]
fn destroy_without_an_error_is_a_socket_hang_up() {
    let s = TestServer::start(|| http::create_server(|_req, _res| {}));
    let code = Rc::new(RefCell::new(String::new()));
    let c = code.clone();
    let req = http::get(opts(s.port(), "GET", "/"), |_| panic!("no response"));
    req.on_error(move |e| *c.borrow_mut() = format!("{} {}", e.code(), e.message()));
    req.on_socket(move |_| req.destroy(None));
    nodelike::run();
    assert_eq!(*code.borrow(), "ECONNRESET socket hang up");
    s.stop();
}

#[test]
fn abort_before_connect_and_mid_upload() {
    let (tx, rx) = mpsc::channel::<String>();
    let (in_tx, in_rx) = mpsc::channel::<String>();
    let s = TestServer::start(move || {
        http::create_server(move |req, res| {
            in_tx.send(req.url()).unwrap();
            let tx = tx.clone();
            let url = req.url();
            req.on_close(move |reason| tx.send(format!("{url} {reason}")).unwrap());
            req.on_end(move || res.end(()));
        })
    });
    // Before the connection is even made: nothing reaches the server.
    let early = http::request(opts(s.port(), "POST", "/early"), |_| panic!("aborted"));
    early.abort();
    // Mid-upload: the server sees the request close as aborted.
    let mid = http::request(opts(s.port(), "POST", "/mid"), |_| panic!("aborted"));
    mid.write("part of a body");
    // Abort once the server has the request (polled: the server is on
    // another thread), not after a fixed delay.
    let poll = Rc::new(std::cell::Cell::new(None));
    let p = poll.clone();
    poll.set(Some(nodelike::set_interval(
        move || {
            if let Ok(url) = in_rx.try_recv() {
                assert_eq!(url, "/mid");
                nodelike::clear_interval(p.get().unwrap());
                mid.abort();
            }
        },
        5,
    )));
    nodelike::run();
    assert_eq!(
        rx.recv_timeout(std::time::Duration::from_secs(30)).unwrap(),
        "/mid aborted"
    );
    assert!(rx.try_recv().is_err());
    s.stop();
}

#[test]
fn agent_upgrade_event_as_in_the_seed() {
    // The seed's example: the server echoes on the upgraded socket; the
    // client listens on the agent, not the request.
    let s = TestServer::start(|| {
        let server = http::create_server(|_req, res| res.end("okay"));
        server.on_upgrade(|_req, socket, _head| {
            socket.write("HTTP/1.1 101 Web Socket Protocol Handshake\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n\r\n");
            socket.on_data(move |c| {
                socket.write(c);
            });
        });
        server
    });
    let agent = http::get_agent("127.0.0.1", s.port());
    let out = log();
    let o = out.clone();
    agent.on_upgrade(move |res, socket, _head| {
        o.borrow_mut()
            .push(format!("got upgraded! {}", res.status_code()));
        // The 101's own head, and the socket no longer the agent's.
        o.borrow_mut().push(format!(
            "{} upgrade={:?} in use={}",
            res.status_message(),
            res.headers().get("upgrade"),
            agent.sockets()
        ));
        socket.write("ping");
        let o = o.clone();
        socket.on_data(move |c| {
            o.borrow_mut().push(format!("echo {c}"));
            socket.destroy();
        });
    });
    let mut o = opts(s.port(), "GET", "/");
    o.headers = vec![
        ("Connection".into(), "Upgrade".into()),
        ("Upgrade".into(), "websocket".into()),
    ];
    http::request(o, |_| panic!("an upgrade, not a response")).end(());
    nodelike::run();
    assert_eq!(
        *out.borrow(),
        [
            "got upgraded! 101",
            "Web Socket Protocol Handshake upgrade=Some(\"WebSocket\") in use=0",
            "echo ping"
        ]
    );
    s.stop();
}

#[test]
fn unix_socket_requests_and_response_pause_resume() {
    let dir = std::env::temp_dir().join(format!("nodelike-client-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.sock");
    let _ = std::fs::remove_file(&path);
    let p2 = path.clone();
    let (ready_tx, ready_rx) = mpsc::channel();
    let server = std::thread::spawn(move || {
        let server = http::create_server(|req, res| {
            res.write(vec![b'u'; 100_000]);
            res.end(req.url());
        });
        server.listen_path(&p2, move || ready_tx.send(()).unwrap());
        server.on_connection(move |sock| sock.on_close(move |_| server.close()));
        nodelike::run();
    });
    ready_rx.recv().unwrap();
    let out = log();
    let o = out.clone();
    let options = RequestOptions {
        socket_path: Some(path.clone()),
        path: "/via-unix".into(),
        ..Default::default()
    };
    http::get(options, move |res| {
        let total = Rc::new(RefCell::new(0usize));
        let paused_once = Rc::new(std::cell::Cell::new(false));
        let (t, p) = (total.clone(), paused_once.clone());
        res.on_data(move |c| {
            *t.borrow_mut() += c.len();
            if !p.replace(true) {
                // Pause on the first chunk; resume a little later.
                res.pause();
                nodelike::set_timeout(move || res.resume(), 20);
            }
        });
        let o = o.clone();
        res.on_end(move || {
            o.borrow_mut().push(format!(
                "{} bytes, paused once: {}",
                total.borrow(),
                paused_once.get()
            ))
        });
    });
    nodelike::run();
    server.join().unwrap();
    assert_eq!(
        *out.borrow(),
        [format!(
            "{} bytes, paused once: true",
            100_000 + "/via-unix".len()
        )]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn request_write_returns_false_and_drain_fires_for_a_large_upload() {
    let s = echo_server(Arc::new(AtomicUsize::new(0)));
    let out = log();
    let o = out.clone();
    let req = http::request(opts(s.port(), "POST", "/big"), move |res| {
        let total = Rc::new(RefCell::new(0usize));
        let t = total.clone();
        res.on_data(move |c| *t.borrow_mut() += c.len());
        let o = o.clone();
        res.on_end(move || o.borrow_mut().push(format!("echoed {}", total.borrow())));
    });
    let piece = vec![b'p'; 64 * 1024];
    let sent = Rc::new(std::cell::Cell::new(0usize));
    let falses = Rc::new(std::cell::Cell::new(0usize));
    let pump: Rc<RefCell<Option<Pump>>> = Rc::new(RefCell::new(None));
    let (s2, f2) = (sent.clone(), falses.clone());
    *pump.borrow_mut() = Some(Box::new(move || {
        while s2.get() < 32 {
            s2.set(s2.get() + 1);
            if !req.write(&piece[..]) {
                f2.set(f2.get() + 1);
                return;
            }
        }
        req.end(());
    }));
    let p2 = pump.clone();
    req.on_drain(move || (p2.borrow().as_ref().unwrap())());
    (pump.borrow().as_ref().unwrap())();
    nodelike::run();
    assert!(falses.get() > 0, "write said to wait at least once");
    assert_eq!(
        *out.borrow(),
        [format!("echoed {}", 32 * 64 * 1024 + "|/big".len())]
    );
    *pump.borrow_mut() = None;
    s.stop();
}

/// Node's event order for a request (test-http-client-*-event-order):
/// `socket`, `finish`, `response`, the response's `end`, the request's
/// `close`, the response's `close`. And for `abort()` before the response:
/// `abort`, `close`, with no `error`.
#[test]
fn request_events_come_in_nodes_order_and_abort_emits_abort_then_close() {
    // `/slow` is answered only once the client has aborted it.
    let abort_flag = Arc::new(AtomicBool::new(false));
    let abort_seen = abort_flag.clone();
    let s = TestServer::start(move || {
        http::create_server(move |req, res| {
            if req.url() == "/slow" {
                end_when(abort_seen.clone(), res, "late");
            } else {
                res.end("ok");
            }
        })
    });
    let out = log();
    let push = |out: &Log, what: &str| out.borrow_mut().push(what.to_string());
    let o = out.clone();
    let req = http::request(opts(s.port(), "GET", "/"), move |res| {
        push(&o, "response");
        let (o1, o2) = (o.clone(), o.clone());
        res.on_data(|_| {});
        res.on_end(move || push(&o1, "end"));
        res.on_close(move || push(&o2, "res close"));
    });
    let (o1, o2, o3, o4) = (out.clone(), out.clone(), out.clone(), out.clone());
    req.on_socket(move |_| push(&o1, "socket"));
    req.on_finish(move || push(&o2, "finish"));
    req.on_close(move || push(&o3, "close"));
    req.on_error(move |e| push(&o4, &format!("error {}", e.code())));
    req.end(());

    let aborted = log();
    let slow = http::request(opts(s.port(), "GET", "/slow"), |_| panic!("aborted first"));
    let (a1, a2, a3) = (aborted.clone(), aborted.clone(), aborted.clone());
    slow.on_abort(move || {
        push(&a1, "abort");
        abort_flag.store(true, Ordering::SeqCst);
    });
    slow.on_close(move || push(&a2, "close"));
    slow.on_error(move |e| push(&a3, &format!("error {}", e.code())));
    slow.end(());
    nodelike::set_timeout(move || slow.abort(), 100);
    nodelike::run();
    assert_eq!(
        *out.borrow(),
        ["socket", "finish", "response", "end", "close", "res close"]
    );
    assert_eq!(*aborted.borrow(), ["abort", "close"]);
    s.stop();
}

/// Node's `http.request(options)` with no callback: the response listener
/// comes later.
#[test]
fn a_request_made_without_a_callback_gets_its_response_listener_later() {
    let s = TestServer::start(|| http::create_server(|req, res| res.end(req.url())));
    let out = log();
    let req = http::ClientRequest::new(format!("http://127.0.0.1:{}/later", s.port()).as_str());
    let o = out.clone();
    req.on_response(move |res| {
        let o = o.clone();
        res.on_data(move |chunk| o.borrow_mut().push(chunk.to_string()));
    });
    req.end(());
    nodelike::run();
    assert_eq!(*out.borrow(), ["/later"]);
    s.stop();
}

/// A deadline bounds the whole exchange: a response that trickles in, never
/// idle long enough for `set_timeout`, still ends in `ABORT_ERR`.
#[test]
fn a_deadline_ends_a_trickling_response_with_abort_err() {
    let s = TestServer::start(|| {
        http::create_server(|_req, res| {
            res.write_head(200, &[]);
            let timer = nodelike::set_interval(
                move || {
                    res.write("x");
                },
                10,
            );
            // Give up on our own after a while, whatever the client does.
            let give_up = nodelike::set_timeout(move || nodelike::clear_interval(timer), 30_000);
            res.on_close(move || {
                nodelike::clear_interval(timer);
                nodelike::clear_timeout(give_up);
            });
        })
    });
    let out = log();
    let o = out.clone();
    let req = http::get(opts(s.port(), "GET", "/slow"), move |res| {
        let o = o.clone();
        res.on_data(move |_| {
            if o.borrow().is_empty() {
                o.borrow_mut().push("data".into());
            }
        });
    });
    // Idle: never reached, bytes keep coming (generous for a loaded
    // machine). The deadline leaves a loaded machine time for a first byte.
    req.set_timeout(10_000);
    req.set_deadline(1_000);
    let (o1, o2) = (out.clone(), out.clone());
    req.on_error(move |e| o1.borrow_mut().push(format!("error {}", e.code())));
    req.on_close(move || o2.borrow_mut().push("close".into()));
    nodelike::run();
    assert_eq!(*out.borrow(), ["data", "error ABORT_ERR", "close"]);
    s.stop();
}

/// GETs `path` through `agent`, recording "path status body" when it ends
/// or "path error CODE message".
fn fetch_with(agent: http::Agent, port: u16, path: &str, out: &Log) -> http::ClientRequest {
    let (o, e, p) = (out.clone(), out.clone(), path.to_string());
    let o_path = p.clone();
    let req = http::request(
        RequestOptions {
            agent: Some(agent),
            ..opts(port, "GET", path)
        },
        move |res| {
            let body = Rc::new(RefCell::new(Vec::new()));
            let b = body.clone();
            res.on_data(move |c| b.borrow_mut().extend_from_slice(&c));
            let (o, p) = (o.clone(), o_path.clone());
            res.on_end(move || {
                o.borrow_mut().push(format!(
                    "{p} {} {}",
                    res.status_code(),
                    String::from_utf8_lossy(&body.borrow())
                ))
            });
        },
    );
    req.on_error(move |err| {
        e.borrow_mut()
            .push(format!("{p} error {} {}", err.code(), err.message()))
    });
    req.end(());
    req
}

/// A server that never answers `/hold` and answers anything else "ok",
/// counting connections.
fn holding_server(connections: Arc<AtomicUsize>) -> TestServer {
    TestServer::start(move || {
        let server = http::create_server(|req, res| {
            if req.url() != "/hold" {
                res.end("ok");
            }
        });
        server.on_connection(move |_| {
            connections.fetch_add(1, Ordering::SeqCst);
        });
        server
    })
}

#[test]
fn agent_destroy_fails_the_request_in_flight_and_the_queue_goes_on_new_connections() {
    // Node 20, `new http.Agent({ keepAlive: true, maxSockets: 1 })`, /1 in
    // flight and /2, /3 queued, then `agent.destroy()`: /1 gets
    // "ECONNRESET socket hang up", /2 and /3 are answered on a new
    // connection. Here /hold runs on a reused socket, which is not sent
    // again on a fresh one (what a closing keep-alive socket would get).
    let conns = Arc::new(AtomicUsize::new(0));
    let s = holding_server(conns.clone());
    let port = s.port();
    let out = log();
    let agent = http::Agent::new(http::AgentOptions {
        keep_alive: true,
        max_sockets: 1,
        ..Default::default()
    });
    let o = out.clone();
    let first = fetch_with(agent, port, "/0", &out);
    first.on_close(move || {
        let hold = fetch_with(agent, port, "/hold", &o);
        fetch_with(agent, port, "/2", &o);
        fetch_with(agent, port, "/3", &o);
        assert_eq!((agent.sockets(), agent.queue()), (1, 2));
        hold.on_finish(move || agent.destroy());
    });
    nodelike::run();
    assert_eq!(
        *out.borrow(),
        [
            "/0 200 ok",
            "/hold error ECONNRESET socket hang up",
            "/2 200 ok",
            "/3 200 ok"
        ]
    );
    assert_eq!(conns.load(Ordering::SeqCst), 2, "one new connection");
    assert_eq!((agent.sockets(), agent.idle_sockets()), (0, 1));
    s.stop();
}

#[test]
fn agent_destroy_closes_free_sockets_and_leaves_other_agents_alone() {
    let conns = Arc::new(AtomicUsize::new(0));
    let s = holding_server(conns.clone());
    let port = s.port();
    let out = log();
    let ours = http::Agent::new(http::AgentOptions {
        keep_alive: true,
        ..Default::default()
    });
    let other = http::Agent::new(http::AgentOptions {
        keep_alive: true,
        ..Default::default()
    });
    fetch_with(ours, port, "/a", &out);
    fetch_with(ours, port, "/b", &out);
    fetch_with(other, port, "/c", &out);
    nodelike::run();
    assert_eq!((ours.idle_sockets(), other.idle_sockets()), (2, 1));
    ours.destroy();
    // The sockets close on the next turn, as in Node.
    assert_eq!(ours.idle_sockets(), 2);
    nodelike::run();
    assert_eq!((ours.idle_sockets(), other.idle_sockets()), (0, 1));
    // Still usable: a new connection.
    fetch_with(ours, port, "/d", &out);
    fetch_with(other, port, "/e", &out);
    nodelike::run();
    assert_eq!(out.borrow().len(), 5);
    assert_eq!(conns.load(Ordering::SeqCst), 4, "/e reused its socket");
    s.stop();
}

#[test]
fn an_aborted_queued_request_is_counted_as_node_counts_it() {
    // Node 20 (`new http.Agent({ keepAlive: true, maxSockets: 1 })`, /1 in
    // flight, /2 queued and aborted) reports (sockets, freeSockets,
    // requests): (1, 0, 1) before the abort, after it and on the next
    // turn, then (0, 1, 0) once /1's socket is free: it passes /2 by, which
    // never reaches the server. (At /1's `end` Node still says (1, 0, 1);
    // here the socket is back before `end`: see the README.)
    let conns = Arc::new(AtomicUsize::new(0));
    let s = holding_server(conns.clone());
    let port = s.port();
    let out = log();
    let agent = http::Agent::new(http::AgentOptions {
        keep_alive: true,
        max_sockets: 1,
        ..Default::default()
    });
    let counts = move || (agent.sockets(), agent.idle_sockets(), agent.queue());
    let seen = Rc::new(RefCell::new(Vec::new()));
    fetch_with(agent, port, "/1", &out);
    let queued = fetch_with(agent, port, "/2", &out);
    seen.borrow_mut().push(counts());
    queued.abort();
    seen.borrow_mut().push(counts());
    let s2 = seen.clone();
    nodelike::next_tick(move || s2.borrow_mut().push(counts()));
    nodelike::run();
    seen.borrow_mut().push(counts());
    assert_eq!(*seen.borrow(), [(1, 0, 1), (1, 0, 1), (1, 0, 1), (0, 1, 0)]);
    assert_eq!(*out.borrow(), ["/1 200 ok"], "no error for an abort");
    assert_eq!(conns.load(Ordering::SeqCst), 1);
    // The free socket carries the next request.
    fetch_with(agent, port, "/3", &out);
    nodelike::run();
    assert_eq!(*out.borrow(), ["/1 200 ok", "/3 200 ok"]);
    assert_eq!(conns.load(Ordering::SeqCst), 1);
    s.stop();
}

#[test]
fn agent_destroy_fails_a_request_whose_host_is_still_being_looked_up() {
    // Node 20: `agent.sockets` counts a socket while its lookup runs, and
    // `agent.destroy()` then fails the request with "ECONNRESET socket
    // hang up" (not the lookup's ENOTFOUND).
    let out = log();
    let agent = http::Agent::new(http::AgentOptions {
        keep_alive: true,
        ..Default::default()
    });
    let req = http::get(
        RequestOptions {
            host: "nodelike.invalid".into(),
            port: 80,
            agent: Some(agent),
            ..Default::default()
        },
        |_| panic!("no response"),
    );
    let (e, c) = (out.clone(), out.clone());
    req.on_error(move |err| {
        e.borrow_mut()
            .push(format!("error {} {}", err.code(), err.message()))
    });
    req.on_close(move || c.borrow_mut().push("close".into()));
    assert_eq!(agent.sockets(), 1);
    agent.destroy();
    assert_eq!(agent.sockets(), 1, "until the next turn, as in Node");
    nodelike::run();
    assert_eq!(*out.borrow(), ["error ECONNRESET socket hang up", "close"]);
    assert_eq!(agent.sockets(), 0);
}

/// A queue behind a failing lookup is not stranded: with one socket per
/// host, two GETs to a name that does not resolve both fail with
/// `ENOTFOUND`, as in Node 20 (the second used to wait forever).
#[test]
fn a_queue_behind_a_failed_lookup_fails_too() {
    let agent = http::Agent::new(http::AgentOptions {
        max_sockets: 1,
        ..Default::default()
    });
    let codes = Rc::new(RefCell::new(Vec::new()));
    for path in ["/1", "/2"] {
        let req = http::request(
            RequestOptions {
                host: "nodelike.invalid".into(),
                path: path.into(),
                agent: Some(agent),
                ..Default::default()
            },
            |_| panic!("no response"),
        );
        let c = codes.clone();
        req.on_error(move |e| c.borrow_mut().push(format!("{path} {}", e.code())));
        req.end(());
    }
    nodelike::run();
    assert_eq!(*codes.borrow(), ["/1 ENOTFOUND", "/2 ENOTFOUND"]);
}

/// Node sets `Host` when the request is made: `get_header` reads it, the
/// scheme's default port is left out, and `remove_header` takes it away.
#[test]
fn the_host_header_is_set_at_creation_as_in_node() {
    let s = TestServer::start(|| {
        http::create_server(|req, res| {
            res.end(format!("{:?}", req.headers().get("host")));
        })
    });
    let req = http::request(opts(s.port(), "GET", "/"), |_| {});
    assert_eq!(
        req.get_header("host").map(|v| v.to_string()),
        Some(format!("127.0.0.1:{}", s.port()))
    );
    req.abort();
    let plain = http::request(
        RequestOptions {
            host: "example.test".into(),
            port: 80,
            ..Default::default()
        },
        |_| {},
    );
    assert_eq!(
        plain.get_header("host").map(|v| v.to_string()).as_deref(),
        Some("example.test")
    );
    plain.abort();
    // Without one, the server sees none (and answers 400, as HTTP/1.1 says).
    let bare = http::request(opts(s.port(), "GET", "/"), |res| {
        assert_eq!(res.status_code(), 400);
        res.resume();
    });
    bare.remove_header("host");
    bare.on_error(|e| panic!("{e}"));
    bare.end(());
    nodelike::run();
    s.stop();
}

/// `AgentOptions::timeout` is the agent's requests' `set_timeout`: the
/// request hears `timeout` (Node's agent `timeout` option); and
/// `writable_ended`/`writable_finished` follow `end` and `finish`.
#[test]
fn an_agents_timeout_reaches_its_requests_and_writable_flags_follow_the_request() {
    let answered = Arc::new(AtomicBool::new(false));
    let late = answered.clone();
    let s = TestServer::start(move || {
        http::create_server(move |_req, res| end_when(late.clone(), res, "late"))
    });
    let agent = http::Agent::new(http::AgentOptions {
        keep_alive: true,
        timeout: Some(50),
        ..Default::default()
    });
    let log = Rc::new(RefCell::new(Vec::new()));
    let req = http::request(
        RequestOptions {
            agent: Some(agent),
            ..opts(s.port(), "GET", "/")
        },
        |res| res.resume(),
    );
    assert!(!req.writable_ended() && !req.writable_finished());
    let l = log.clone();
    req.on_finish(move || {
        l.borrow_mut()
            .push(format!("finish {}", req.writable_finished()))
    });
    let l = log.clone();
    req.on_timeout(move || {
        l.borrow_mut().push("timeout".to_string());
        answered.store(true, Ordering::SeqCst);
    });
    req.on_error(|e| panic!("{e}"));
    req.end(());
    assert!(req.writable_ended());
    nodelike::run();
    assert_eq!(*log.borrow(), ["finish true", "timeout"]);
    s.stop();
}
