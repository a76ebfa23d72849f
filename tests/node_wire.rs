//! Bytes on the wire compared with Node 20's for the same exchange: the
//! server's own error answers, a response's header order, and the head of
//! a request sent through the default agent. Node runs the same handler
//! (or client) and prints what it sent; only the `Date` value and the port
//! are normalised.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

use common::{have, TestServer};
use nodelike::http;

/// Sends `request` on a fresh connection and reads until the server closes.
fn exchange(port: u16, request: &[u8]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    normalise(&String::from_utf8_lossy(&out))
}

/// The `Date` value and Node's `Keep-Alive` line (which nodelike does not
/// send on HTTP/1.1) are left out of the comparison.
fn normalise(text: &str) -> String {
    text.split("\r\n")
        .map(|line| {
            if line.starts_with("Date: ") {
                "Date: -".to_owned()
            } else {
                line.to_owned()
            }
        })
        .filter(|line| !line.starts_with("Keep-Alive: "))
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// The requests both servers are asked, as JSON strings for Node.
const REQUESTS: &[&str] = &[
    // A malformed header line: 400.
    "GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
    // A head over the size limit: 431.
    "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {BIG}\r\n\r\n",
    // A chunked response that closes: `Connection` before `Transfer-Encoding`.
    "GET /chunked HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    // A response whose length the server adds, on a closing connection.
    "GET /length HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    // Framing headers removed by the handler stay removed.
    "GET /removed HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
];

fn requests() -> Vec<String> {
    REQUESTS
        .iter()
        .map(|r| r.replace("{BIG}", &"a".repeat(20_000)))
        .collect()
}

#[test]
fn the_servers_answers_match_nodes_byte_for_byte() {
    if !have("node") {
        eprintln!("skipping: node is not installed");
        return;
    }
    let script = r#"
const http = require('http'), net = require('net');
const requests = JSON.parse(process.argv[1]);
const srv = http.createServer((req, res) => {
  if (req.url === '/chunked') { res.writeHead(200, { 'X-A': 'b' }); res.write('x'); res.end(); }
  else if (req.url === '/head-then-end') { res.writeHead(200, { 'X-A': 'b' }); res.end('hello'); }
  else if (req.url === '/removed') { res.removeHeader('transfer-encoding'); res.removeHeader('content-length'); res.write('a'); res.end('b'); }
  else { res.setHeader('X-A', 'b'); res.end('hello'); }
});
srv.listen(0, '127.0.0.1', async () => {
  const out = [];
  for (const r of requests) {
    out.push(await new Promise((resolve) => {
      const c = net.connect(srv.address().port, '127.0.0.1', () => c.write(r));
      let d = ''; c.on('data', (b) => d += b.toString('latin1'));
      c.on('close', () => resolve(d));
    }));
  }
  console.log(JSON.stringify(out));
  srv.close();
});
"#;
    let requests = requests();
    let json = format!(
        "[{}]",
        requests
            .iter()
            .map(|r| format!("{r:?}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let out = Command::new("node")
        .arg("-e")
        .arg(script)
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let node: Vec<String> = parse_json_strings(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(node.len(), requests.len());

    let s = TestServer::start(|| {
        http::create_server(|req, res| {
            if req.url() == "/chunked" {
                res.write_head(200, &[("X-A", "b")]);
                res.write("x");
                res.end(());
            } else if req.url() == "/head-then-end" {
                res.write_head(200, &[("X-A", "b")]);
                res.end("hello");
            } else if req.url() == "/removed" {
                res.remove_header("transfer-encoding");
                res.remove_header("content-length");
                res.write("a");
                res.end("b");
            } else {
                res.set_header("X-A", "b");
                res.end("hello");
            }
        })
    });
    for (request, theirs) in requests.iter().zip(&node) {
        let ours = exchange(s.port(), request.as_bytes());
        assert_eq!(
            ours,
            normalise(theirs),
            "for {:?}",
            &request[..request.len().min(40)]
        );
    }
    s.stop();
}

/// The head of `http.get` through the default agent: Node 20 sends
/// `Connection: keep-alive` after the caller's headers.
#[test]
fn a_request_through_the_default_agent_has_nodes_head() {
    if !have("node") {
        eprintln!("skipping: node is not installed");
        return;
    }
    let capture = |run: &dyn Fn(u16)| -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let reader = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut head = Vec::new();
            let mut b = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && s.read(&mut b).unwrap_or(0) == 1 {
                head.push(b[0]);
            }
            String::from_utf8_lossy(&head).replace(&port.to_string(), "PORT")
        });
        run(port);
        reader.join().unwrap()
    };
    let node = capture(&|port| {
        Command::new("node")
            .arg("-e")
            .arg(format!(
                "const r = require('http').get({{ host: 'localhost', port: {port}, path: '/p', headers: {{ 'X-A': 'b' }} }}); r.on('error', () => {{}}); setTimeout(() => process.exit(0), 300);"
            ))
            .status()
            .unwrap();
    });
    let ours = capture(&|port| {
        let req = http::request(
            http::RequestOptions {
                host: "localhost".into(),
                port,
                path: "/p".into(),
                headers: vec![("X-A".into(), "b".into())],
                ..Default::default()
            },
            |_| {},
        );
        req.on_error(|_| {});
        req.end(());
        let t = nodelike::set_timeout(move || req.abort(), 300);
        let _ = t;
        nodelike::run();
    });
    assert_eq!(ours, node);
    assert!(ours.contains("Connection: keep-alive\r\n"), "{ours}");
}

/// The strings of a JSON array of strings (what the Node script prints).
fn parse_json_strings(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = text.trim().chars().peekable();
    assert_eq!(chars.next(), Some('['));
    loop {
        match chars.next() {
            Some('"') => {
                let mut s = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => match chars.next() {
                            Some('n') => s.push('\n'),
                            Some('r') => s.push('\r'),
                            Some('t') => s.push('\t'),
                            Some('u') => {
                                let hex: String = (0..4).filter_map(|_| chars.next()).collect();
                                s.push(
                                    char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap(),
                                );
                            }
                            Some(other) => s.push(other),
                            None => break,
                        },
                        c => s.push(c),
                    }
                }
                out.push(s);
            }
            Some(',') | Some(' ') => {}
            Some(']') | None => break,
            Some(other) => panic!("unexpected {other:?} in {text}"),
        }
    }
    out
}

/// The one deliberate difference in framing: after an explicit
/// `write_head` without a length, `end(data)` with no earlier `write` sends
/// `Content-Length` where Node (which fixes the framing inside `writeHead`)
/// sends the body chunked. The length lets the client see the whole body
/// at once and costs no chunk framing; both are valid HTTP/1.1, and every
/// other header is as Node writes it (README, "Deliberate differences").
#[test]
fn write_head_then_end_sends_a_length_where_node_chunks() {
    let s = TestServer::start(|| {
        http::create_server(|_req, res| {
            res.write_head(200, &[("X-A", "b")]);
            res.end("hello");
        })
    });
    let ours = exchange(
        s.port(),
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(
        ours,
        "HTTP/1.1 200 OK\r\nX-A: b\r\nDate: -\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello"
    );
    s.stop();
}

/// `http.get` against Node's server sending a chunked body with trailers:
/// they reach `res.trailers()` by `end`, as Node's client sees them.
#[test]
fn trailers_from_nodes_server_reach_the_response() {
    if !have("node") {
        eprintln!("skipping: node is not installed");
        return;
    }
    let (_child, port) = common::ChildGuard::spawn_listening(Command::new("node").arg("-e").arg(
        "const s = require('http').createServer((req, res) => {
                   res.writeHead(200, { 'Trailer': 'X-Sum' });
                   res.write('body');
                   res.addTrailers({ 'X-Sum': 'abc123' });
                   res.end();
                 }).listen(0, '127.0.0.1', () => console.log(s.address().port));",
    ));
    let seen = std::rc::Rc::new(std::cell::RefCell::new(None));
    let s = seen.clone();
    let req = http::get(format!("http://127.0.0.1:{port}/").as_str(), move |res| {
        let s = s.clone();
        res.on_data(|_| {});
        res.on_end(move || {
            *s.borrow_mut() = Some((
                res.trailers().get("x-sum").map(str::to_owned),
                res.raw_trailers(),
            ))
        });
    });
    req.on_error(|e| panic!("{e}"));
    nodelike::run();
    let (sum, raw) = seen.borrow_mut().take().expect("the response ended");
    assert_eq!(sum.as_deref(), Some("abc123"));
    assert_eq!(raw, [("X-Sum".to_string(), "abc123".to_string())]);
}

/// `add_trailers` on a request: Node's server reads them as
/// `req.trailers` after a chunked body.
#[test]
fn request_trailers_reach_nodes_server() {
    if !have("node") {
        eprintln!("skipping: node is not installed");
        return;
    }
    let (_child, port) = common::ChildGuard::spawn_listening(Command::new("node").arg("-e").arg(
        "const s = require('http').createServer((req, res) => {
                   let body = '';
                   req.on('data', (c) => body += c);
                   req.on('end', () => res.end(body + ' ' + JSON.stringify(req.trailers)));
                 }).listen(0, '127.0.0.1', () => console.log(s.address().port));",
    ));
    let body = std::rc::Rc::new(std::cell::RefCell::new(String::new()));
    let b = body.clone();
    let req = http::request(
        http::RequestOptions {
            method: "POST".into(),
            host: "127.0.0.1".into(),
            port,
            ..Default::default()
        },
        move |res| {
            let b = b.clone();
            res.on_data(move |c| b.borrow_mut().push_str(&String::from_utf8_lossy(&c)));
        },
    );
    req.on_error(|e| panic!("{e}"));
    req.set_header("Trailer", "X-Checksum");
    req.write("payload");
    req.add_trailers(&[("X-Checksum", "abc123")]);
    req.end(());
    nodelike::run();
    assert_eq!(*body.borrow(), r#"payload {"x-checksum":"abc123"}"#);
}

/// An HTTP/0.9-style answer (a body with no status line): llhttp's verdict
/// in Node 20, `HPE_INVALID_CONSTANT` "Parse Error: Expected HTTP/, RTSP/
/// or ICE/", and no response.
#[test]
fn a_reply_without_a_status_line_is_llhttps_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf);
        s.write_all(b"hello world\n").unwrap();
    });
    let seen = std::rc::Rc::new(std::cell::RefCell::new(String::new()));
    let s = seen.clone();
    let req = http::get(format!("http://127.0.0.1:{port}/").as_str(), |_| {
        panic!("no response")
    });
    req.on_error(move |e| *s.borrow_mut() = format!("{} {}", e.code(), e.message()));
    nodelike::run();
    server.join().unwrap();
    assert_eq!(
        *seen.borrow(),
        "HPE_INVALID_CONSTANT Parse Error: Expected HTTP/, RTSP/ or ICE/"
    );
}
