//! The whole server connection, driven through in-memory connections
//! (`Server::connect_in_memory`): every malformed request of the hardening
//! table is fed whole, split at every byte offset, and one byte at a time,
//! and must get exactly one error response with `Connection: close`, no
//! request event, and nothing parsed after it.

use std::cell::RefCell;
use std::rc::Rc;

use nodelike::http::{self, Server};
use nodelike::net::MemoryConnection;

/// (what it is, the bytes, the status the server must answer with)
const MALFORMED: &[(&str, &[u8], u16)] = &[
    (
        "Content-Length with Transfer-Encoding",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    (
        "differing Content-Length",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        400,
    ),
    (
        "signed Content-Length",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc",
        400,
    ),
    (
        "overflowing Content-Length",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
        400,
    ),
    (
        "unknown transfer coding",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
        501,
    ),
    (
        "chunked not last",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        400,
    ),
    (
        "Transfer-Encoding in HTTP/1.0",
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    (
        "bare CR in a value",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n",
        400,
    ),
    (
        "space before a colon",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-A : a\r\n\r\n",
        400,
    ),
    (
        "obs-fold",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n",
        400,
    ),
    (
        "NUL in a value",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n",
        400,
    ),
    (
        "junk in the request line",
        b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n",
        400,
    ),
    ("missing Host", b"GET / HTTP/1.1\r\n\r\n", 400),
    (
        "repeated Host",
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        400,
    ),
    (
        "asterisk with GET",
        b"GET * HTTP/1.1\r\nHost: x\r\n\r\n",
        400,
    ),
    (
        "HTTP/2.0 request line",
        b"GET / HTTP/2.0\r\nHost: x\r\n\r\n",
        505,
    ),
];

/// Bodies that go wrong after the handler already has the request.
const MALFORMED_BODIES: &[(&str, &[u8])] = &[
    (
        "invalid chunk size",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ),
    (
        "overflowing chunk size",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n",
    ),
    (
        "data overruns its size",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
    ),
    (
        "empty size line",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
    ),
];

const SMUGGLED: &[u8] = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";

/// A server that logs every request event and answers at the body's end.
fn logging_server() -> (Server, Rc<RefCell<Vec<String>>>) {
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    let server = http::create_server(move |req, res| {
        l.borrow_mut().push(format!("request {}", req.url()));
        let l2 = l.clone();
        req.on_close(move |reason| l2.borrow_mut().push(format!("close:{reason}")));
        req.on_end(move || res.end("ok"));
    });
    (server, log)
}

/// Sends `parts` in order on `conn`, reading the server's answers as they
/// come; returns them.
fn send_parts(conn: &MemoryConnection, parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in parts {
        conn.send(part);
        out.extend(conn.take_output());
    }
    out
}

/// Feeds `parts` in order (then the smuggled request, then FIN) and returns
/// everything the server wrote.
fn feed(server: &Server, parts: &[&[u8]], max_read: usize) -> (Vec<u8>, bool) {
    let conn = server.connect_in_memory();
    conn.set_max_read(max_read);
    let mut out = send_parts(&conn, parts);
    conn.send(SMUGGLED);
    conn.end();
    out.extend(conn.take_output());
    let ended = conn.output_ended();
    (out, ended)
}

/// Whole, split in two at every offset, and one byte at a time.
fn every_way(bytes: &[u8]) -> Vec<(String, Vec<&[u8]>, usize)> {
    let mut ways = vec![("whole".to_string(), vec![bytes], 0)];
    for k in 1..bytes.len() {
        ways.push((format!("split at {k}"), vec![&bytes[..k], &bytes[k..]], 0));
    }
    ways.push(("bytewise".to_string(), bytes.chunks(1).collect(), 1));
    ways
}

#[test]
fn every_malformed_head_gets_one_error_response_every_way() {
    let (server, log) = logging_server();
    for (what, bytes, status) in MALFORMED {
        for (how, parts, max_read) in every_way(bytes) {
            let (out, ended) = feed(&server, &parts, max_read);
            let text = String::from_utf8_lossy(&out);
            assert!(
                text.starts_with(&format!("HTTP/1.1 {status} ")),
                "{what} ({how}): {text}"
            );
            assert!(
                text.contains("\r\nConnection: close\r\n"),
                "{what} ({how}): {text}"
            );
            assert_eq!(
                text.matches("HTTP/1.1 ").count(),
                1,
                "{what} ({how}): {text}"
            );
            assert!(ended, "{what} ({how}): the server closed its side");
            assert!(
                log.borrow().is_empty(),
                "{what} ({how}): {:?}",
                log.borrow()
            );
        }
    }
    assert_eq!(server.connections(), 0);
}

#[test]
fn every_malformed_body_ends_its_request_and_nothing_follows_every_way() {
    let (server, log) = logging_server();
    for (what, bytes) in MALFORMED_BODIES {
        for (how, parts, max_read) in every_way(bytes) {
            log.borrow_mut().clear();
            let (out, ended) = feed(&server, &parts, max_read);
            let text = String::from_utf8_lossy(&out);
            assert!(text.starts_with("HTTP/1.1 400 "), "{what} ({how}): {text}");
            assert_eq!(
                text.matches("HTTP/1.1 ").count(),
                1,
                "{what} ({how}): {text}"
            );
            assert!(ended, "{what} ({how})");
            assert_eq!(
                *log.borrow(),
                ["request /", "close:aborted"],
                "{what} ({how}): the handler saw the request, then its close; never /smuggled"
            );
        }
    }
    assert_eq!(server.connections(), 0);
}

#[test]
fn a_good_request_before_a_bad_one_is_answered_first() {
    let (server, log) = logging_server();
    let mut bytes = b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
    bytes.extend_from_slice(b"GET / HTTP/1.1\r\nHost: x\r\nX-A : b\r\n\r\n");
    for (how, parts, max_read) in every_way(&bytes) {
        log.borrow_mut().clear();
        let (out, _) = feed(&server, &parts, max_read);
        let text = String::from_utf8_lossy(&out);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{how}: {text}");
        let error = text.find("HTTP/1.1 400 ").expect("a 400 after the 200");
        assert!(text[..error].ends_with("ok"), "{how}: {text}");
        assert_eq!(text.matches("HTTP/1.1 ").count(), 2, "{how}: {text}");
        // The first request's life ended well: its `close` says so.
        assert_eq!(*log.borrow(), ["request /first", "close:finished"], "{how}");
    }
}

#[test]
fn valid_pipelined_requests_give_the_same_answers_every_way() {
    let (server, log) = logging_server();
    let bytes: &[u8] = b"\r\nPOST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 010\r\n\r\n0123456789\
GET /b HTTP/1.1\r\nHost: x\r\nX-Obs: caf\xe9  \r\n\r\n\
POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nT: 1\r\n\r\n";
    for (how, parts, max_read) in every_way(bytes) {
        log.borrow_mut().clear();
        let conn = server.connect_in_memory();
        conn.set_max_read(max_read);
        let out = send_parts(&conn, &parts);
        let text = String::from_utf8_lossy(&out);
        assert_eq!(
            text.matches("HTTP/1.1 200 OK\r\n").count(),
            3,
            "{how}: {text}"
        );
        assert!(!text.contains("Connection: close"), "{how}: {text}");
        // Each request's `close` (finished) follows its response's
        // flush, which interleaves with the requests as the split allows.
        let requests: Vec<String> = log
            .borrow()
            .iter()
            .filter(|l| l.starts_with("request"))
            .cloned()
            .collect();
        assert_eq!(
            requests,
            ["request /a", "request /b", "request /c"],
            "{how}"
        );
        let closes = log
            .borrow()
            .iter()
            .filter(|l| *l == "close:finished")
            .count();
        assert_eq!(
            closes + requests.len(),
            log.borrow().len(),
            "{how}: {:?}",
            log.borrow()
        );
        assert_eq!(closes, 3, "{how}");
        assert!(!conn.is_closed(), "{how}: the connection stays open");
    }
    assert_eq!(server.connections(), 0, "dropped connections are gone");
}

#[test]
fn a_partial_head_then_end_of_stream_gets_400_at_once() {
    let (server, log) = logging_server();
    let conn = server.connect_in_memory();
    conn.send(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHo");
    conn.end();
    let text = String::from_utf8(conn.take_output()).unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("HTTP/1.1 400 Bad Request\r\n"), "{text}");
    assert!(conn.output_ended());
    assert_eq!(*log.borrow(), ["request /first", "close:finished"]);
}

#[test]
fn a_slow_reader_holds_the_servers_reading_not_its_memory() {
    // 64 KiB answers to a pipelined flood; the client reads nothing.
    let big = "x".repeat(64 * 1024);
    let server = http::create_server(move |_req, res| res.end(big.as_str()));
    let conn = server.connect_in_memory();
    conn.set_window(Some(0));
    let request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    for _ in 0..1000 {
        conn.send(request);
    }
    // Reading stopped at the high-water mark: the flood waits unread in the
    // connection, not in the server's buffers.
    assert!(conn.queued() < 256 * 1024, "queued {}", conn.queued());
    assert!(conn.held() < 64 * 1024, "held {}", conn.held());
    // Reading everything, every answer arrives intact and in order.
    conn.set_window(None);
    let mut out = Vec::new();
    loop {
        let chunk = conn.take_output();
        if chunk.is_empty() {
            break;
        }
        out.extend(chunk);
    }
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.matches("HTTP/1.1 200 OK\r\n").count(), 1000);
    assert_eq!(
        text.matches('x').count(),
        1000 * 64 * 1024,
        "every body byte"
    );
}
