//! Issue 19's findings, over real sockets: the global agent cannot be
//! frozen by slow readers, and a proxied response whose upstream fails
//! after the head reaches curl truncated, never as a clean 200.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use common::{have, ExampleProcess, TestServer};
use nodelike::http;

/// An upstream that serves `/big` as 10 MB, written with back-pressure,
/// and anything else as a short answer.
fn upstream() -> TestServer {
    TestServer::start(|| {
        http::create_server(|req, res| {
            if req.url() != "/big" {
                res.end("small\n");
                return;
            }
            let block = std::rc::Rc::new(vec![b'x'; 64 * 1024]);
            let left = std::rc::Rc::new(std::cell::Cell::new(160usize));
            res.set_header("Content-Length", 160 * 64 * 1024);
            let pump = {
                let (res, block, left) = (res, block.clone(), left.clone());
                move || {
                    while left.get() > 0 {
                        left.set(left.get() - 1);
                        let ok = res.write(block.as_slice());
                        if left.get() == 0 {
                            res.end(());
                            return;
                        }
                        if !ok {
                            return; // drain calls again
                        }
                    }
                }
            };
            res.on_drain(pump.clone());
            pump();
        })
    })
}

/// Sends a GET and returns the stream without reading the answer.
fn never_read(port: u16, path: &str) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .unwrap();
    s
}

/// Node 20's global agent has no limit on sockets per host: five (or
/// twenty) clients fetching a large file through the proxy and never
/// reading hold five (twenty) upstream sockets, and a sixth request still
/// goes straight through. With the seed's 5 per host it waited forever.
#[test]
fn slow_readers_cannot_freeze_the_proxys_agent() {
    let up = upstream();
    let proxy = ExampleProcess::start_with("proxy", &[format!("http://127.0.0.1:{}", up.port())]);
    let slow: Vec<TcpStream> = (0..20).map(|_| never_read(proxy.port, "/big")).collect();
    // Each slow reader is under way (its head has arrived) before the probe.
    for s in &slow {
        let mut s = s.try_clone().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut first = [0u8; 12];
        s.read_exact(&mut first).unwrap();
        assert_eq!(&first, b"HTTP/1.1 200");
    }
    let mut probe = never_read(proxy.port, "/probe");
    probe
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !answer.ends_with(b"small\n") {
        match probe.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) => panic!("the probe was not answered behind 20 slow readers: {e}"),
        }
    }
    assert!(
        answer.starts_with(b"HTTP/1.1 200 OK"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    drop(slow);
    drop(proxy);
    up.stop();
}

/// An upstream that sends a head and part of its body, then resets: the
/// proxy's client must see a truncated transfer (curl fails), not a clean
/// 200 whose body ends in an error message.
#[test]
fn an_upstream_failing_mid_body_truncates_the_proxied_response() {
    if !have("curl") {
        eprintln!("skipping: curl is not installed");
        return;
    }
    let up = TestServer::start(|| {
        http::create_server(|_req, res| {
            res.write_head(200, &[("Content-Type", "text/plain")]);
            res.write("the first half\n");
            nodelike::set_timeout(move || res.destroy(), 50);
        })
    });
    let proxy = ExampleProcess::start_with("proxy", &[format!("http://127.0.0.1:{}", up.port())]);
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "30"])
        .arg(format!("http://127.0.0.1:{}/", proxy.port))
        .output()
        .unwrap();
    let body = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "curl saw a clean response: {body:?}");
    // 18: partial file (the chunked body never ended).
    assert_eq!(
        out.status.code(),
        Some(18),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(body, "the first half\n");
    assert!(!body.contains("upstream error"));
    drop(proxy);
    up.stop();
}

/// A request asking to upgrade, to a server with no `upgrade` listener, is
/// an ordinary request (Node sets `req.upgrade` only when somebody listens):
/// `curl --http2` over cleartext gets its 200.
#[test]
fn an_upgrade_nobody_listens_for_is_served_as_an_ordinary_request() {
    if !have("curl") {
        eprintln!("skipping: curl is not installed");
        return;
    }
    let s = TestServer::start(|| {
        http::create_server(|req, res| res.end(format!("plain {}", req.url())))
    });
    let out = Command::new("curl")
        .args(["-sS", "--http2", "--max-time", "30", "-i"])
        .arg(s.url("/h2c"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    assert!(text.ends_with("plain /h2c"), "{text}");
    // The connection stays usable: a raw client asks twice on one.
    let mut c = common::Reader::new(s.port());
    c.send(b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
    assert_eq!(c.response(false).unwrap().body_str(), "plain /a");
    c.send(b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(c.response(false).unwrap().body_str(), "plain /b");
    s.stop();
}

/// A Python server: on its first connection it answers one request with a
/// keep-alive response, reads the next request and closes without an
/// answer; later connections are answered and closed.
fn drop_second_request_server() -> (common::ChildGuard, u16) {
    let script = r#"
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(16)
print(s.getsockname()[1], flush=True)
def head(c):
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = c.recv(4096)
        if not d: return None
        buf += d
    return buf
first = True
while True:
    c, _ = s.accept()
    req = head(c)
    if req is None: c.close(); continue
    path = req.split(b" ")[1]
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(path), path))
    if first:
        first = False
        head(c)  # the request on the reused socket: read, never answered
    c.close()
"#;
    common::ChildGuard::spawn_listening(Command::new("python3").arg("-c").arg(script))
}

/// Two requests in turn over the global agent; the second reuses the
/// first's socket, which the server closes without answering. Returns
/// the second's body or error code.
fn second_request_on_a_closing_socket(port: u16, method: &'static str) -> Result<String, String> {
    let out = std::rc::Rc::new(std::cell::RefCell::new(None));
    let o = out.clone();
    let first = http::get(
        format!("http://127.0.0.1:{port}/first").as_str(),
        move |res| {
            let o = o.clone();
            res.on_data(|_| {});
            res.on_end(move || {
                let o2 = o.clone();
                let req = http::request(
                    http::RequestOptions {
                        method: method.into(),
                        port,
                        host: "127.0.0.1".into(),
                        path: "/second".into(),
                        ..Default::default()
                    },
                    move |res| {
                        let body = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
                        let b = body.clone();
                        res.on_data(move |c| b.borrow_mut().extend_from_slice(&c));
                        let o3 = o2.clone();
                        res.on_end(move || {
                            *o3.borrow_mut() =
                                Some(Ok(String::from_utf8_lossy(&body.borrow()).into_owned()))
                        });
                    },
                );
                let o4 = o.clone();
                req.on_error(move |e| *o4.borrow_mut() = Some(Err(e.code().to_owned())));
                req.end(());
            });
        },
    );
    first.on_error(|e| panic!("the first request: {e}"));
    nodelike::run();
    let result = out.borrow_mut().take().expect("an outcome");
    result
}

/// The FIN race's other half: an idempotent request on a reused socket
/// that closes before any byte of the response is sent again, once, on a
/// fresh connection (as hyper and undici do); a POST is not.
#[test]
fn an_idempotent_request_on_a_socket_closed_under_it_is_sent_again_once() {
    if !have("python3") {
        eprintln!("skipping: python3 is not installed");
        return;
    }
    let (_server, port) = drop_second_request_server();
    assert_eq!(
        second_request_on_a_closing_socket(port, "GET"),
        Ok("/second".into())
    );
    let (_server, port) = drop_second_request_server();
    assert_eq!(
        second_request_on_a_closing_socket(port, "POST"),
        Err("ECONNRESET".into())
    );
}

/// Against a server that closes after every keep-alive response, 1,000
/// requests one after another on the global agent all succeed (issue 19:
/// 10 of 20 failed with `socket hang up`).
#[test]
fn a_server_closing_after_every_response_fails_no_request() {
    if !have("python3") {
        eprintln!("skipping: python3 is not installed");
        return;
    }
    let script = r#"
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(128)
print(s.getsockname()[1], flush=True)
def serve(c):
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = c.recv(4096)
        if not d: c.close(); return
        buf += d
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"#;
    let (_child, port) =
        common::ChildGuard::spawn_listening(Command::new("python3").arg("-c").arg(script));
    let failures = std::rc::Rc::new(std::cell::Cell::new(0u32));
    let done = std::rc::Rc::new(std::cell::Cell::new(0u32));
    fn next(
        port: u16,
        left: u32,
        failures: std::rc::Rc<std::cell::Cell<u32>>,
        done: std::rc::Rc<std::cell::Cell<u32>>,
    ) {
        if left == 0 {
            return;
        }
        let (f, d) = (failures.clone(), done.clone());
        let req = http::get(format!("http://127.0.0.1:{port}/").as_str(), move |res| {
            let (f, d) = (f.clone(), d.clone());
            res.on_data(|_| {});
            res.on_end(move || {
                d.set(d.get() + 1);
                next(port, left - 1, f.clone(), d.clone());
            });
        });
        req.on_error(move |_| {
            failures.set(failures.get() + 1);
            done.set(done.get() + 1);
            next(port, left - 1, failures.clone(), done.clone());
        });
    }
    next(port, 1000, failures.clone(), done.clone());
    nodelike::run();
    assert_eq!(done.get(), 1000);
    assert_eq!(failures.get(), 0, "requests failed with socket hang up");
}
