//! `pipe`, `pipeline` and `finished` over real sockets, with Node's
//! semantics (ported from Node's `test/parallel/test-stream-pipe-*.js` and
//! `test-stream-pipeline-*.js`): every byte arrives, the destination ends
//! when the source does (unless `end: false`), a full destination pauses
//! the source, a destination that closes unpipes it, and a pipeline's
//! first error destroys every stream and reaches its callback once.
//!
//! The peers are curl and raw TCP clients; no assertion is about time.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{have, TestServer};
use nodelike::http;
use nodelike::stream::{self, PipeOptions, Readable, Writable};

/// A body that shows a lost, duplicated or reordered byte.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

fn temp_file(name: &str, contents: &[u8]) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("nodelike-pipe-{}-{name}", std::process::id()));
    std::fs::write(&path, contents).unwrap();
    path
}

/// curl POSTs `body` to `url` and returns what came back.
fn curl_post(url: &str, body: &[u8], chunked: bool) -> Vec<u8> {
    let file = temp_file(&format!("{}-{}", body.len(), chunked), body);
    let mut cmd = std::process::Command::new("curl");
    cmd.args(["-s", "--fail", "--data-binary"])
        .arg(format!("@{}", file.display()))
        .args(["-H", "Content-Type: application/octet-stream"]);
    if chunked {
        cmd.args(["-H", "Transfer-Encoding: chunked"]);
    }
    let out = cmd.arg(url).output().expect("curl runs");
    let _ = std::fs::remove_file(&file);
    assert!(out.status.success(), "curl failed: {:?}", out.status);
    out.stdout
}

#[test]
fn req_pipe_res_echoes_every_byte_to_curl() {
    if !have("curl") {
        eprintln!("skipped: curl is not installed");
        return;
    }
    let server = TestServer::start(|| {
        http::create_server(|req, res| {
            // Node's `req.pipe(res)`, and `pipe` returns its destination.
            let dst = req.pipe(res);
            assert_eq!(dst, res);
        })
    });
    for (len, chunked) in [(0, false), (1, false), (3 << 20, false), (1 << 20, true)] {
        let body = pattern(len);
        let echoed = curl_post(&server.url("/echo"), &body, chunked);
        assert_eq!(echoed.len(), body.len(), "length of a {len}-byte echo");
        assert!(echoed == body, "the {len}-byte echo differs");
    }
    server.stop();
}

#[test]
fn pipe_with_end_false_leaves_the_destination_open() {
    if !have("curl") {
        eprintln!("skipped: curl is not installed");
        return;
    }
    let server = TestServer::start(|| {
        http::create_server(|req, res| {
            req.pipe_with(res, PipeOptions { end: false });
            req.on_end(move || {
                // Still writable: the pipe did not end it.
                assert!(!Writable::writable_ended(&res));
                res.end("-- the end\n");
            });
        })
    });
    let echoed = curl_post(&server.url("/"), b"some body\n", false);
    assert_eq!(echoed, b"some body\n-- the end\n");
    server.stop();
}

/// A slow reader of the echo: while it does not read, a piped echo must
/// stop reading the request (the response cannot drain), so the client's
/// writes stall long before everything is accepted; once it reads, every
/// byte comes back in order.
#[test]
fn a_full_destination_pauses_the_source_until_it_drains() {
    const TOTAL: usize = 64 << 20;
    // Kernel buffers on loopback (up to 32 MiB of receive window one way,
    // 4 MiB of send buffer the other) are all that may be taken in while
    // the echo is paused; without back-pressure the server takes all 64.
    const MOST_BUFFERED: usize = 48 << 20;
    let (paused_tx, paused_rx) = mpsc::channel();
    let server = TestServer::start(move || {
        http::create_server(move |req, res| {
            let paused_tx = paused_tx.clone();
            req.pipe(res);
            // What pipe did, seen from outside: the source was paused when
            // the response's buffer filled, and resumed on `drain`.
            res.on_drain(move || {
                let _ = paused_tx.send(());
            });
        })
    });
    let mut conn = common::connect(server.port());
    write!(
        conn,
        "POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: {TOTAL}\r\n\r\n"
    )
    .unwrap();
    conn.set_nonblocking(true).unwrap();
    let body = pattern(TOTAL);
    let mut sent = 0;
    let mut last_progress = Instant::now();
    while sent < TOTAL && last_progress.elapsed() < Duration::from_secs(2) {
        match conn.write(&body[sent..(sent + 65536).min(TOTAL)]) {
            Ok(n) => {
                sent += n;
                last_progress = Instant::now();
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(e) => panic!("write: {e}"),
        }
    }
    assert!(
        sent < MOST_BUFFERED,
        "the server took {sent} bytes from a client that reads nothing: the pipe did not pause"
    );
    // Now read while sending the rest: every byte comes back, in order.
    conn.set_nonblocking(false).unwrap();
    let mut reader = conn.try_clone().unwrap();
    let rest = body[sent..].to_vec();
    let writer = std::thread::spawn(move || {
        conn.write_all(&rest).unwrap();
        conn
    });
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        reader.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    let decoded = read_chunked(&mut reader);
    assert_eq!(decoded.len(), TOTAL);
    assert!(decoded == body, "the echo differs");
    let _conn = writer.join().unwrap();
    assert!(
        paused_rx.try_recv().is_ok(),
        "the response drained at least once"
    );
    server.stop();
}

/// Decodes a chunked body off `r`, up to its last chunk.
fn read_chunked(r: &mut impl Read) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while !line.ends_with(b"\r\n") {
            r.read_exact(&mut byte).unwrap();
            line.push(byte[0]);
        }
        let size_text = String::from_utf8_lossy(&line[..line.len() - 2]).to_string();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16)
            .unwrap_or_else(|_| panic!("chunk size {size_text:?}"));
        if size == 0 {
            let mut end = [0u8; 2];
            r.read_exact(&mut end).unwrap();
            return out;
        }
        let start = out.len();
        out.resize(start + size, 0);
        r.read_exact(&mut out[start..]).unwrap();
        let mut crlf = [0u8; 2];
        r.read_exact(&mut crlf).unwrap();
    }
}

/// A proxy written the Node way: `req.pipe(upstream_req)` and
/// `upstream_res.pipe(res)`, carrying a 5 MiB upload both ways.
#[test]
fn a_proxy_of_two_pipes_carries_a_large_body_both_ways() {
    if !have("curl") {
        eprintln!("skipped: curl is not installed");
        return;
    }
    let upstream = TestServer::start(|| {
        http::create_server(|req, res| {
            res.set_header("X-Upstream", "yes");
            req.pipe(res);
        })
    });
    let upstream_port = upstream.port();
    let proxy = TestServer::start(move || {
        http::create_server(move |req, res| {
            let options = http::RequestOptions {
                host: "127.0.0.1".into(),
                port: upstream_port,
                method: req.method(),
                path: req.url(),
                ..Default::default()
            };
            let upstream_req = http::request(options, move |up| {
                res.set_header("X-Via", "proxy");
                if let Some(v) = up.headers().get("x-upstream") {
                    res.set_header("X-Upstream", v);
                }
                up.pipe(res);
            });
            req.pipe(upstream_req);
        })
    });
    let body = pattern(5 << 20);
    let echoed = curl_post(&proxy.url("/through"), &body, false);
    assert!(echoed == body, "the proxied echo differs");
    proxy.stop();
    upstream.stop();
}

/// `stream::finished` on a response: `None` when it was sent; Node's
/// premature close when its client left first.
#[test]
fn finished_tells_a_sent_response_from_one_cut_short() {
    let (tx, rx) = mpsc::channel::<(String, Option<String>)>();
    let server = TestServer::start(move || {
        http::create_server(move |req, res| {
            let tx = tx.clone();
            let url = req.url();
            stream::finished(res, move |err| {
                let _ = tx.send((url, err.map(|e| e.code().to_string())));
            });
            if req.url() == "/whole" {
                res.end("all of it\n");
            } else {
                // Never ends: the client will leave.
                res.write("a start...");
            }
        })
    });
    let whole = common::request(server.port(), b"GET /whole HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(whole.body_str(), "all of it\n");
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        ("/whole".into(), None)
    );

    let mut conn = common::connect(server.port());
    conn.write_all(b"GET /cut HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut some = [0u8; 64];
    let _ = conn.read(&mut some).unwrap();
    drop(conn);
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        ("/cut".into(), Some("ERR_STREAM_PREMATURE_CLOSE".into()))
    );
    server.stop();
}

/// `stream::pipeline((upstream_response, response), cb)`: when the client
/// leaves mid-download, the callback hears it once, and the upstream
/// response is destroyed with it (its server sees its response closed
/// before it finished): the first error tears the whole chain down.
#[test]
fn a_pipelines_first_error_destroys_every_stream_and_is_reported_once() {
    let (upstream_closed_tx, upstream_closed_rx) = mpsc::channel::<bool>();
    let upstream = TestServer::start(move || {
        http::create_server(move |_req, res| {
            let tx = upstream_closed_tx.clone();
            // An endless body, written as fast as it drains.
            let piece = vec![b'x'; 16 * 1024];
            let pump = std::rc::Rc::new(move || while res.write(&piece[..]) {});
            let again = pump.clone();
            res.on_drain(move || again());
            pump();
            res.on_close(move || {
                let _ = tx.send(res.writable_finished());
            });
        })
    });
    let upstream_port = upstream.port();
    let (reports_tx, reports_rx) = mpsc::channel::<String>();
    let proxy = TestServer::start(move || {
        http::create_server(move |_req, res| {
            let reports = reports_tx.clone();
            http::get(
                format!("http://127.0.0.1:{upstream_port}/endless"),
                move |up| {
                    let reports = reports.clone();
                    stream::pipeline((up, res), move |err| {
                        let code = err.map_or("none".to_string(), |e| e.code().to_string());
                        let _ = reports.send(code);
                    });
                },
            );
        })
    });
    let mut conn = common::connect(proxy.port());
    conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut got = 0;
    let mut buf = [0u8; 65536];
    while got < (1 << 20) {
        let n = conn.read(&mut buf).unwrap();
        assert!(n > 0, "the proxy closed early");
        got += n;
    }
    drop(conn);
    let code = reports_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(code, "ERR_STREAM_PREMATURE_CLOSE");
    assert!(
        !upstream_closed_rx
            .recv_timeout(Duration::from_secs(10))
            .unwrap(),
        "the upstream response closed without finishing (destroyed by the pipeline)"
    );
    // Exactly once.
    assert!(reports_rx.recv_timeout(Duration::from_millis(300)).is_err());
    proxy.stop();
    upstream.stop();
}

/// A response that ends early, while the request's body is still piped
/// into it, unpipes the request; the connection goes on serving (Node
/// dumps the rest of the body).
#[test]
fn a_destination_that_ends_early_does_not_stall_the_connection() {
    let server = TestServer::start(|| {
        http::create_server(|req, res| {
            if req.url() == "/early" {
                req.pipe(res);
                res.end("enough\n");
            } else {
                res.end("next\n");
            }
        })
    });
    let mut reader = common::Reader::new(server.port());
    let body = pattern(256 * 1024);
    let mut request = format!(
        "POST /early HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    request.extend_from_slice(b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n");
    reader.send(&request);
    let first = reader.response(false).expect("the first response");
    assert_eq!(first.body_str(), "enough\n");
    let second = reader.response(false).expect("the second response");
    assert_eq!(second.body_str(), "next\n");
    server.stop();
}

/// Node's unpipe: once the destination is gone (its client left), the
/// source feeds it no more and is paused, so an endless upstream is no
/// longer read. Seen from a `data` listener added after the pipe's: the
/// first chunk after the close finds the source paused.
#[test]
fn a_destination_that_closes_unpipes_and_pauses_the_source() {
    let upstream = TestServer::start(|| {
        http::create_server(|_req, res| {
            let piece = vec![b'y'; 16 * 1024];
            let pump = std::rc::Rc::new(move || while res.write(&piece[..]) {});
            let again = pump.clone();
            res.on_drain(move || again());
            pump();
        })
    });
    let upstream_port = upstream.port();
    let (tx, rx) = mpsc::channel::<bool>();
    let proxy = TestServer::start(move || {
        http::create_server(move |_req, res| {
            let tx = tx.clone();
            http::get(format!("http://127.0.0.1:{upstream_port}/"), move |up| {
                up.pipe(res);
                let tx = tx.clone();
                res.on_close(move || {
                    let tx = tx.clone();
                    let reported = std::rc::Rc::new(std::cell::Cell::new(false));
                    up.on_data(move |_| {
                        if !reported.replace(true) {
                            let _ = tx.send(up.is_paused());
                            up.destroy();
                        }
                    });
                    // The source may have nothing more to say (it was
                    // paused by a full destination): let it speak once.
                    up.resume();
                });
            });
        })
    });
    let mut conn = common::connect(proxy.port());
    conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut got = 0;
    let mut buf = [0u8; 65536];
    while got < (256 << 10) {
        let n = conn.read(&mut buf).unwrap();
        assert!(n > 0);
        got += n;
    }
    drop(conn);
    assert!(
        rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        "the source is paused once its destination closed"
    );
    proxy.stop();
    upstream.stop();
}

/// A request whose client leaves mid-body is, as a `Readable`, an error:
/// Node 20's `ECONNRESET` "aborted", then `close`; `finished` reports it.
/// A request read to its end is `finished` with no error.
#[test]
fn a_request_cut_off_mid_body_finishes_with_nodes_aborted_error() {
    use std::cell::RefCell;
    use std::rc::Rc;
    let seen = Rc::new(RefCell::new(Vec::new()));
    let log = seen.clone();
    let server = http::create_server(move |req, res| {
        let log = log.clone();
        stream::finished(req, move |err| {
            log.borrow_mut()
                .push(err.map(|e| format!("{} {}", e.code(), e.message())));
        });
        let body = std::rc::Rc::new(std::cell::Cell::new(0));
        req.on_data(move |chunk| body.set(body.get() + chunk.len()));
        req.on_end(move || res.end("ok\n"));
    });
    let whole = server.connect_in_memory();
    whole.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
    nodelike::run();
    let cut = server.connect_in_memory();
    cut.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
    cut.reset();
    nodelike::run();
    assert_eq!(
        *seen.borrow(),
        vec![None, Some("ECONNRESET aborted".to_string())]
    );
}
