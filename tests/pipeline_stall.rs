//! Regression tests for the pipelining stall (fidelity issue, items 1 and
//! 10): a server that stopped reading (output over the high-water mark, or
//! too many responses pending) must read again once its output drains,
//! even when the bytes it holds end in a partial request. The data is
//! already in the socket then, so no new readiness edge will announce it.
//!
//! Ported from Node's test-http-pipeline-requests-connection-leak: one
//! connection, 10,000 GETs in one write, each answered with a 16 KiB body,
//! the client reading while it writes.

mod common;

use std::io::{Read, Write};

use common::{connect, TestServer};
use nodelike::http;

/// Counts the complete `Content-Length` responses in a byte stream read in
/// pieces; keeps a partial response for the next piece.
struct ResponseCounter {
    buf: Vec<u8>,
    responses: usize,
    bytes: u64,
}

impl ResponseCounter {
    fn feed(&mut self, data: &[u8]) {
        self.bytes += data.len() as u64;
        self.buf.extend_from_slice(data);
        let mut pos = 0;
        loop {
            let rest = &self.buf[pos..];
            let Some(end) = rest.windows(4).position(|w| w == b"\r\n\r\n") else {
                break;
            };
            let head = std::str::from_utf8(&rest[..end]).expect("ASCII head");
            assert!(
                head.starts_with("HTTP/1.1 200 "),
                "unexpected head {head:?}"
            );
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (n, v) = l.split_once(':')?;
                    n.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().unwrap())
                })
                .expect("Content-Length");
            if rest.len() < end + 4 + len {
                break;
            }
            pos += end + 4 + len;
            self.responses += 1;
        }
        self.buf.drain(..pos);
    }
}

/// `count` pipelined requests of `request` in one write from one thread,
/// responses read on another; returns the responses counted.
fn pipeline(port: u16, request: &[u8], count: usize) -> usize {
    let mut stream = connect(port);
    let mut writer = stream.try_clone().unwrap();
    let batch: Vec<u8> = request.repeat(count);
    let sender = std::thread::spawn(move || {
        writer.write_all(&batch).expect("all requests sent");
    });
    let mut counter = ResponseCounter {
        buf: Vec::new(),
        responses: 0,
        bytes: 0,
    };
    let mut buf = vec![0u8; 65536];
    while counter.responses < count {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => counter.feed(&buf[..n]),
            Err(e) => panic!(
                "stalled after {} of {count} responses ({} bytes): {e}",
                counter.responses, counter.bytes
            ),
        }
    }
    sender.join().unwrap();
    counter.responses
}

#[test]
fn ten_thousand_pipelined_gets_with_16k_bodies_are_all_answered() {
    let server = TestServer::start(|| {
        let body: &'static [u8] = Box::leak(vec![b'x'; 16 * 1024].into_boxed_slice());
        http::create_server(move |_req, res| res.end(body))
    });
    let n = pipeline(
        server.port(),
        b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
        10_000,
    );
    assert_eq!(n, 10_000);
    server.stop();
}

/// Item 10's trigger: large heads, so a stop for back-pressure leaves a
/// partial head held, which only more reading can complete.
#[test]
fn pipelined_large_heads_with_large_responses_are_all_answered() {
    let server = TestServer::start(|| {
        let body: &'static [u8] = Box::leak(vec![b'y'; 40 * 1024].into_boxed_slice());
        http::create_server(move |_req, res| res.end(body))
    });
    let filler = "a".repeat(15_000);
    let request = format!("GET /x HTTP/1.1\r\nHost: localhost\r\nX-Filler: {filler}\r\n\r\n");
    let n = pipeline(server.port(), request.as_bytes(), 400);
    assert_eq!(n, 400);
    server.stop();
}
