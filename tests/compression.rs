//! `http::compression` and `http::decompress` over real sockets: curl and
//! Node decode what the server compresses; what is not worth compressing
//! is not; `Accept-Encoding` is negotiated with q-values; server-sent
//! events leave one by one; a compressed request body that expands 1000×
//! stops at its cap.
//!
//! The pumps between the HTTP handles and the Transforms are by hand
//! (`on_data` → `write`, pause on `false`, resume on `drain`); they become
//! `pipe` once the handles are `Readable`/`Writable`.

mod common;

use std::cell::{Cell, RefCell};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::rc::Rc;

use common::{ChildGuard, TestServer};
use nodelike::http::{self, CompressionOptions, DecompressOptions};
use nodelike::stream::{Readable, Stream, Writable};
use nodelike::zlib::{self, ZlibOptions};

/// A JSON document of about `len` bytes.
fn json(len: usize) -> String {
    let mut out = String::from("[");
    let mut n = 0u32;
    while out.len() < len {
        if n > 0 {
            out.push(',');
        }
        out.push_str(&format!(
            "{{\"id\":{n},\"name\":\"user {n}\",\"email\":\"user{n}@example.com\",\"active\":{}}}",
            n % 3 == 0
        ));
        n += 1;
    }
    out.push(']');
    out
}

fn server() -> TestServer {
    TestServer::start(|| {
        http::create_server(|req, res| {
            let url = req.url();
            let opts = CompressionOptions::default();
            match url.as_str() {
                "/json" => {
                    res.set_header("Content-Type", "application/json");
                    let body = http::compression(&req, res, opts);
                    // Written in pieces, with back-pressure.
                    let doc = json(100 * 1024).into_bytes();
                    let pieces: Rc<RefCell<Vec<Vec<u8>>>> = Rc::new(RefCell::new(
                        doc.chunks(8000).rev().map(<[u8]>::to_vec).collect(),
                    ));
                    let more = move || {
                        while let Some(piece) = pieces.borrow_mut().pop() {
                            if !body.write(&piece) {
                                return;
                            }
                        }
                        if !body.writable_ended() {
                            body.end(());
                        }
                    };
                    let more = Rc::new(more);
                    let m = more.clone();
                    body.on_drain(move || m());
                    more();
                }
                "/small" => {
                    res.set_header("Content-Type", "text/plain");
                    let body = http::compression(&req, res, opts);
                    body.write("small ");
                    body.end("body");
                }
                "/known-small" => {
                    res.set_header("Content-Type", "text/plain");
                    res.set_header("Content-Length", "600");
                    let body = http::compression(&req, res, opts);
                    for _ in 0..6 {
                        body.write(&[b'x'; 100][..]);
                    }
                    body.end(());
                }
                "/png" => {
                    res.set_header("Content-Type", "image/png");
                    http::compression(&req, res, opts).end(vec![7u8; 10_000]);
                }
                "/no-transform" => {
                    res.set_header("Content-Type", "text/plain");
                    res.set_header("Cache-Control", "public, no-transform");
                    http::compression(&req, res, opts).end("y".repeat(5000));
                }
                "/encoded" => {
                    res.set_header("Content-Type", "text/plain");
                    res.set_header("Content-Encoding", "gzip");
                    let packed = zlib::gzip_sync(&[b'z'; 5000], ZlibOptions::default()).unwrap();
                    http::compression(&req, res, opts).end(packed);
                }
                "/sse" => {
                    res.set_header("Content-Type", "text/event-stream");
                    let body = http::compression(
                        &req,
                        res,
                        CompressionOptions {
                            flush_each_write: true,
                            ..opts
                        },
                    );
                    body.write("data: 0\n\n");
                    let n = Rc::new(Cell::new(1));
                    let timer = Rc::new(Cell::new(None));
                    let t = timer.clone();
                    timer.set(Some(nodelike::set_interval(
                        move || {
                            body.write(format!("data: {}\n\n", n.get()));
                            n.set(n.get() + 1);
                            if n.get() == 4 {
                                body.end(());
                                nodelike::clear_interval(t.get().unwrap());
                            }
                        },
                        100,
                    )));
                }
                "/upload" => {
                    let body = http::decompress(
                        req,
                        DecompressOptions {
                            max_output_length: 1 << 20,
                        },
                    );
                    let got = Rc::new(Cell::new(0usize));
                    let g = got.clone();
                    body.on_data(move |chunk| g.set(g.get() + chunk.len()));
                    body.on_end(move || res.end(format!("decoded {}", got.get())));
                    body.on_error(move |e| {
                        res.set_status_code(413);
                        res.end(format!("{}\n", e.code()));
                    });
                }
                _ => {
                    res.set_status_code(404);
                    res.end(());
                }
            }
        })
    })
}

fn get(port: u16, path: &str, accept: Option<&str>) -> common::Response {
    let accept = accept.map_or(String::new(), |a| format!("Accept-Encoding: {a}\r\n"));
    common::request(
        port,
        format!("GET {path} HTTP/1.1\r\nHost: x\r\n{accept}Connection: close\r\n\r\n").as_bytes(),
    )
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    zlib::gunzip_sync(data, ZlibOptions::default()).expect("gzip body")
}

#[test]
fn curl_decodes_gzip_and_brotli() {
    if !common::have("curl") {
        eprintln!("skipped: no curl");
        return;
    }
    let s = server();
    let expected = json(100 * 1024);
    let curl_v = Command::new("curl").arg("-V").output().unwrap();
    let has_br = String::from_utf8_lossy(&curl_v.stdout).contains("brotli");
    let mut encodings = vec!["gzip"];
    if has_br {
        encodings.push("br");
    } else {
        eprintln!("note: this curl has no brotli; br is checked without it");
    }
    for enc in encodings {
        let out = Command::new("curl")
            .args(["-s", "--compressed", "-D", "-", "-H"])
            .arg(format!("Accept-Encoding: {enc}"))
            .arg(s.url("/json"))
            .output()
            .unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let head = head.to_ascii_lowercase();
        assert!(head.contains(&format!("content-encoding: {enc}")), "{head}");
        assert!(head.contains("vary: accept-encoding"), "{head}");
        assert!(!head.contains("content-length"), "{head}");
        assert!(body == expected, "curl's {enc} body differs");
    }
    s.stop();
}

#[test]
fn what_is_not_worth_compressing_is_sent_as_is() {
    let s = server();
    let all = Some("gzip, deflate, br");
    // Small, decided at the end: sent with its length.
    let r = get(s.port(), "/small", all);
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.header("content-length"), Some("10"));
    assert_eq!(r.body, b"small body");
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    // Small by its declared length: not held, not compressed.
    let r = get(s.port(), "/known-small", all);
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.body.len(), 600);
    // A PNG: no encoding, no Vary (its type is never compressed).
    let r = get(s.port(), "/png", all);
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.header("vary"), None);
    assert_eq!(r.body, vec![7u8; 10_000]);
    // no-transform, and a body that is gzip already.
    let r = get(s.port(), "/no-transform", all);
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.body.len(), 5000);
    let r = get(s.port(), "/encoded", all);
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(gunzip(&r.body), vec![b'z'; 5000]);
    // HEAD: headers only, nothing compressed.
    let r = common::request(
        s.port(),
        b"HEAD /json HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.header("content-encoding"), None);
    s.stop();
}

#[test]
fn accept_encoding_is_negotiated_with_q_values() {
    let s = server();
    let expected = json(100 * 1024).into_bytes();
    let r = get(s.port(), "/json", Some("gzip;q=0, br;q=0.5"));
    assert_eq!(r.header("content-encoding"), Some("br"));
    assert_eq!(
        zlib::brotli_decompress_sync(&r.body, Default::default()).unwrap(),
        expected
    );
    let r = get(s.port(), "/json", Some("deflate"));
    assert_eq!(r.header("content-encoding"), Some("deflate"));
    assert_eq!(
        zlib::inflate_sync(&r.body, ZlibOptions::default()).unwrap(),
        expected
    );
    let r = get(s.port(), "/json", Some("gzip"));
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert!(r.body.len() < expected.len() / 3);
    assert_eq!(gunzip(&r.body), expected);
    for only_identity in [Some("identity"), Some("identity;q=1, *;q=0"), None] {
        let r = get(s.port(), "/json", only_identity);
        assert_eq!(r.header("content-encoding"), None, "{only_identity:?}");
        assert_eq!(r.body, expected);
        assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    }
    s.stop();
}

#[test]
fn nodes_http_get_and_gunzip_read_the_body() {
    if !common::have("node") {
        eprintln!("skipped: no node");
        return;
    }
    let s = server();
    let script = format!(
        "const http=require('http'),zlib=require('zlib');\
         http.get('{}',{{headers:{{'accept-encoding':'gzip'}}}},res=>{{\
           const out=[];const z=zlib.createGunzip();res.pipe(z);\
           z.on('data',c=>out.push(c));\
           z.on('end',()=>process.stdout.write(res.headers['content-encoding']+'\\n'+Buffer.concat(out)));\
         }});",
        s.url("/json")
    );
    let mut child = ChildGuard::spawn(
        Command::new("node")
            .arg("-e")
            .arg(&script)
            .stdout(Stdio::piped()),
    )
    .unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(child.wait().unwrap().success());
    let (encoding, body) = out.split_once('\n').unwrap();
    assert_eq!(encoding, "gzip");
    assert!(body == json(100 * 1024));
    s.stop();
}

#[test]
fn server_sent_events_leave_one_by_one() {
    let s = server();
    let mut stream = common::connect(s.port());
    stream
        .write_all(b"GET /sse HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n")
        .unwrap();
    let mut r = BufReader::new(stream);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        head.push_str(&line.to_ascii_lowercase());
    }
    assert!(head.contains("content-encoding: gzip"), "{head}");
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    // A streaming gzip decoder: each event decodes from the chunks
    // received so far, before the response ends.
    let mut decoder = flate2::write::GzDecoder::new(Vec::new());
    let mut events = 0;
    loop {
        let mut size = String::new();
        r.read_line(&mut size).unwrap();
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        let mut data = vec![0u8; size + 2];
        r.read_exact(&mut data).unwrap();
        decoder.write_all(&data[..size]).unwrap();
        decoder.flush().unwrap();
        let text = String::from_utf8_lossy(decoder.get_ref()).into_owned();
        while text.contains(&format!("data: {events}\n\n")) {
            events += 1;
        }
        if events == 1 {
            // The first event arrived whole while the others were not
            // even written.
            assert_eq!(text, "data: 0\n\n");
        }
    }
    assert_eq!(events, 4);
    drop(r);
    s.stop();
}

/// `len` zero bytes, gzipped in one go (level 9: about 1/1000 the size).
fn gzip_zeros(len: usize) -> Vec<u8> {
    zlib::gzip_sync(
        &vec![0u8; len],
        ZlibOptions {
            level: 9,
            ..Default::default()
        },
    )
    .unwrap()
}

fn peak_rss() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<usize>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

#[test]
fn a_compressed_request_body_is_decoded_with_a_cap() {
    let s = server();
    let post = |body: &[u8]| {
        let mut req = format!(
            "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(body);
        common::request(s.port(), &req)
    };
    // Within the cap: decoded.
    let r = post(&gzip_zeros(500_000));
    assert_eq!(r.status, 200);
    assert_eq!(r.body_str(), "decoded 500000");
    // 100 MiB in about 100 KiB: stopped at 1 MiB.
    let bomb = gzip_zeros(100 << 20);
    assert!(bomb.len() < 200 * 1024);
    let before = peak_rss();
    let r = post(&bomb);
    assert_eq!(r.status, 413);
    assert_eq!(r.body_str(), "ERR_BUFFER_TOO_LARGE\n");
    let grew = peak_rss().saturating_sub(before);
    assert!(grew < 48 << 20, "peak memory grew by {grew} bytes");
    // Not gzip at all.
    let r = post(b"plain text, not gzip");
    assert_eq!(r.status, 413);
    assert_eq!(r.body_str(), "Z_DATA_ERROR\n");
    s.stop();
}

#[test]
fn our_client_decodes_what_our_server_compressed() {
    let s = server();
    let port = s.port();
    let expected = json(100 * 1024).into_bytes();
    for accept in ["gzip", "br", "deflate", "identity"] {
        let got = Rc::new(RefCell::new(Vec::new()));
        let encoding = Rc::new(RefCell::new(None));
        {
            let (got, encoding) = (got.clone(), encoding.clone());
            let options = http::RequestOptions {
                host: "127.0.0.1".into(),
                port,
                path: "/json".into(),
                headers: vec![("Accept-Encoding".into(), accept.into())],
                ..Default::default()
            };
            http::get(options, move |res| {
                *encoding.borrow_mut() = res.headers().get("content-encoding").map(str::to_owned);
                let body = http::decompress(res, DecompressOptions::default());
                let got = got.clone();
                body.on_data(move |chunk| got.borrow_mut().extend_from_slice(&chunk));
                body.on_error(|e| panic!("decoding failed: {e}"));
            });
        }
        nodelike::run();
        let want = (accept != "identity").then(|| accept.to_owned());
        assert_eq!(*encoding.borrow(), want);
        assert!(*got.borrow() == expected, "{accept}: body differs");
    }
    s.stop();
}

#[test]
fn a_client_that_does_not_read_stops_the_handler_through_the_compressor() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    const TOTAL: usize = 64 << 20;
    let written = Arc::new(AtomicUsize::new(0));
    let w = written.clone();
    let s = TestServer::start(move || {
        http::create_server(move |req, res| {
            res.set_header("Content-Type", "text/plain");
            let body = http::compression(&req, res, CompressionOptions::default());
            // Letters at random: about 5 bits each once compressed, so the
            // compressed response is tens of MiB too.
            let seed = Rc::new(Cell::new(12345u32));
            let w = w.clone();
            let more = Rc::new(move || {
                while w.load(Ordering::SeqCst) < TOTAL && !body.writable_ended() {
                    let mut piece = vec![0u8; 16 * 1024];
                    for b in piece.iter_mut() {
                        seed.set(seed.get().wrapping_mul(1_103_515_245).wrapping_add(12_345));
                        *b = b'a' + (seed.get() >> 16) as u8 % 26;
                    }
                    w.fetch_add(piece.len(), Ordering::SeqCst);
                    if !body.write(piece) {
                        return;
                    }
                }
                if !body.writable_ended() {
                    body.end(());
                }
            });
            let m = more.clone();
            body.on_drain(move || m());
            more();
        })
    });
    let mut stream = common::connect(s.port());
    stream
        .write_all(
            b"GET / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
    // Not reading: the handler is held back once the socket, the
    // response, the compressor's output and its queue are full.
    let mut last = 0;
    loop {
        std::thread::sleep(std::time::Duration::from_millis(300));
        let now = written.load(Ordering::SeqCst);
        if now == last {
            break;
        }
        last = now;
    }
    eprintln!("held back after {last} bytes written");
    assert!(
        last < TOTAL / 2,
        "the handler wrote {last} bytes to a client that reads nothing"
    );
    // Then the client reads it all, and it decodes whole.
    let raw = common::read_to_close(&mut stream);
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    assert!(head.contains("content-encoding: gzip"), "{head}");
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    let (mut rest, mut body) = (&raw[split..], Vec::new());
    loop {
        let eol = rest.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(std::str::from_utf8(&rest[..eol]).unwrap(), 16).unwrap();
        if size == 0 {
            break;
        }
        body.extend_from_slice(&rest[eol + 2..eol + 2 + size]);
        rest = &rest[eol + 4 + size..];
    }
    assert_eq!(gunzip(&body).len(), TOTAL);
    s.stop();
}
