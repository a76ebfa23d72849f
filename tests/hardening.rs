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
