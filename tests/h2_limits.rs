//! The HTTP/2 server against the known attacks, over real sockets: each
//! test is a hostile client writing frames by hand and asserting what the
//! server answers (GOAWAY ENHANCE_YOUR_CALM, RST_STREAM), and that the
//! server thread is still serving afterwards. The limits and their
//! defaults are in SECURITY.md.
//!
//! No assertion is about timing: the send-timeout test waits (with a
//! deadline that only turns a hang into a failure) for the reset to come.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::TestServer;
use nodelike::http::h2::hpack::{Encoder, Field};
use nodelike::http::Server;
use nodelike::http2;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const DATA: u8 = 0;
const HEADERS: u8 = 1;
const RST_STREAM: u8 = 3;
const SETTINGS: u8 = 4;
const PING: u8 = 6;
const GOAWAY: u8 = 7;
const CONTINUATION: u8 = 9;
const END_STREAM: u8 = 1;
const END_HEADERS: u8 = 4;
const ENHANCE_YOUR_CALM: u32 = 11;
const CANCEL: u32 = 8;

fn frame(out: &mut Vec<u8>, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
    let len = payload.len() as u32;
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
}

fn request_block(encoder: &mut Encoder, path: &str) -> Vec<u8> {
    let mut block = Vec::new();
    encoder.encode(
        [
            Field::new(b":method", b"GET"),
            Field::new(b":scheme", b"http"),
            Field::new(b":path", path.as_bytes()),
            Field::new(b":authority", b"localhost"),
        ],
        &mut block,
    );
    block
}

fn server(options: http2::ServerOptions) -> TestServer {
    TestServer::start(move || -> Server {
        http2::create_server(options, |req, res| {
            if req.url() == "/big" {
                res.end(vec![b'x'; 100 * 1024]);
            } else {
                res.end("ok");
            }
        })
    })
}

/// A hand-driven client: the preface and our SETTINGS (`settings`: the
/// payload), then frames as the test writes them.
struct Client {
    stream: TcpStream,
    input: Vec<u8>,
}

impl Client {
    fn connect(port: u16, settings: &[u8]) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut c = Client {
            stream,
            input: Vec::new(),
        };
        let mut hello = PREFACE.to_vec();
        frame(&mut hello, SETTINGS, 0, 0, settings);
        c.send(&hello);
        c
    }

    fn send(&mut self, bytes: &[u8]) {
        // A server that has already closed may reset a write: that is an
        // answer too, read by `next_frame`.
        let _ = self.stream.write_all(bytes);
    }

    /// The next frame from the server, or `None` once it closed.
    fn next_frame(&mut self, deadline: Instant) -> Option<(u8, u8, u32, Vec<u8>)> {
        loop {
            if self.input.len() >= 9 {
                let len =
                    u32::from_be_bytes([0, self.input[0], self.input[1], self.input[2]]) as usize;
                if self.input.len() >= 9 + len {
                    let kind = self.input[3];
                    let flags = self.input[4];
                    let stream =
                        u32::from_be_bytes(self.input[5..9].try_into().unwrap()) & 0x7fff_ffff;
                    let payload = self.input[9..9 + len].to_vec();
                    self.input.drain(..9 + len);
                    if kind == SETTINGS && flags & 1 == 0 {
                        let mut ack = Vec::new();
                        frame(&mut ack, SETTINGS, 1, 0, &[]);
                        self.send(&ack);
                    }
                    return Some((kind, flags, stream, payload));
                }
            }
            assert!(
                Instant::now() < deadline,
                "no answer from the server in time"
            );
            let mut buf = [0u8; 65536];
            match self.stream.read(&mut buf) {
                Ok(0) | Err(_) if self.closed() => return None,
                Ok(n) => self.input.extend_from_slice(&buf[..n]),
                Err(_) => {}
            }
        }
    }

    fn closed(&mut self) -> bool {
        let mut probe = [0u8; 1];
        self.stream.set_nonblocking(true).unwrap();
        let closed = matches!(self.stream.peek(&mut probe), Ok(0))
            || matches!(self.stream.peek(&mut probe), Err(ref e) if e.kind() == std::io::ErrorKind::ConnectionReset);
        self.stream.set_nonblocking(false).unwrap();
        closed
    }

    /// Reads until a GOAWAY; returns its error code.
    fn goaway_code(&mut self) -> u32 {
        let deadline = Instant::now() + Duration::from_secs(60);
        while let Some((kind, _, _, payload)) = self.next_frame(deadline) {
            if kind == GOAWAY {
                return u32::from_be_bytes(payload[4..8].try_into().unwrap());
            }
        }
        panic!("the server closed without a GOAWAY");
    }
}

/// The server still answers a fresh connection after an attack.
fn still_serving(port: u16) {
    let mut c = Client::connect(port, &[]);
    let mut encoder = Encoder::new();
    let mut out = Vec::new();
    frame(
        &mut out,
        HEADERS,
        END_HEADERS | END_STREAM,
        1,
        &request_block(&mut encoder, "/"),
    );
    c.send(&out);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (kind, flags, stream, payload) = c
            .next_frame(deadline)
            .expect("the server answers after the attack");
        if kind == DATA && stream == 1 {
            assert_eq!(payload, b"ok");
            assert_eq!(flags & END_STREAM, END_STREAM);
            return;
        }
    }
}

#[test]
fn rapid_reset_is_answered_with_goaway_enhance_your_calm() {
    let s = server(http2::ServerOptions::default());
    let mut c = Client::connect(s.port(), &[]);
    let mut encoder = Encoder::new();
    let mut out = Vec::new();
    // CVE-2023-44487: open and cancel streams as fast as the wire allows.
    for i in 0..1000u32 {
        let id = 2 * i + 1;
        frame(
            &mut out,
            HEADERS,
            END_HEADERS,
            id,
            &request_block(&mut encoder, "/"),
        );
        frame(&mut out, RST_STREAM, 0, id, &CANCEL.to_be_bytes());
    }
    c.send(&out);
    assert_eq!(c.goaway_code(), ENHANCE_YOUR_CALM);
    still_serving(s.port());
    s.stop();
}

#[test]
fn a_continuation_flood_is_cut_off_at_the_header_block_cap() {
    let s = server(http2::ServerOptions::default());
    let mut c = Client::connect(s.port(), &[]);
    let mut out = Vec::new();
    // A header block that never ends: HEADERS without END_HEADERS, then
    // CONTINUATION after CONTINUATION (the 2024 CONTINUATION flood).
    frame(&mut out, HEADERS, 0, 1, &[0x82]);
    for _ in 0..200 {
        frame(&mut out, CONTINUATION, 0, 1, &[0x40; 1024]);
    }
    c.send(&out);
    assert_eq!(c.goaway_code(), ENHANCE_YOUR_CALM);
    still_serving(s.port());
    s.stop();
}

#[test]
fn a_ping_flood_is_answered_with_goaway_enhance_your_calm() {
    let s = server(http2::ServerOptions::default());
    let mut c = Client::connect(s.port(), &[]);
    let mut out = Vec::new();
    for i in 0..1000u64 {
        frame(&mut out, PING, 0, 0, &i.to_be_bytes());
    }
    c.send(&out);
    assert_eq!(c.goaway_code(), ENHANCE_YOUR_CALM);
    still_serving(s.port());
    s.stop();
}

#[test]
fn an_hpack_bomb_resets_its_stream_and_the_connection_goes_on() {
    let s = server(http2::ServerOptions::default());
    let mut c = Client::connect(s.port(), &[]);
    let mut encoder = Encoder::new();
    let mut out = Vec::new();
    // One 3,000-byte value put in the dynamic table (it fits the default
    // 4 KiB table), then named 1,000 times by its one-byte index: a 4 KiB
    // block that decodes to 3 MB of headers.
    let mut block = request_block(&mut encoder, "/");
    block.push(0x40); // literal with incremental indexing, new name
    block.push(6);
    block.extend_from_slice(b"x-bomb");
    block.extend_from_slice(&[0x7f, 0xb9, 0x16]); // length 3000 (127 + 2873)
    block.extend_from_slice(&[b'a'; 3000]);
    block.extend(std::iter::repeat_n(0xbe, 1000)); // index 62: the entry above
    frame(&mut out, HEADERS, END_HEADERS | END_STREAM, 1, &block);
    c.send(&out);
    let deadline = Instant::now() + Duration::from_secs(60);
    let answer = loop {
        let (kind, _, stream, payload) = c.next_frame(deadline).expect("an answer");
        if stream == 1 && (kind == RST_STREAM || kind == HEADERS) {
            break (kind, payload);
        }
        assert_ne!(kind, GOAWAY, "the connection itself need not die for it");
    };
    assert_eq!(answer.0, RST_STREAM, "the bombed stream is refused");
    // The same connection serves the next stream: its HPACK state held.
    let mut out = Vec::new();
    frame(
        &mut out,
        HEADERS,
        END_HEADERS | END_STREAM,
        3,
        &request_block(&mut encoder, "/"),
    );
    c.send(&out);
    loop {
        let (kind, _, stream, payload) = c.next_frame(deadline).expect("an answer");
        if kind == DATA && stream == 3 {
            assert_eq!(payload, b"ok");
            break;
        }
    }
    s.stop();
}

#[test]
fn a_window_kept_shut_gets_its_stream_reset_after_the_send_timeout() {
    let s = server(http2::ServerOptions {
        send_timeout: Some(Duration::from_secs(1)),
        ..Default::default()
    });
    // SETTINGS_INITIAL_WINDOW_SIZE = 0: the server may send no DATA.
    let mut c = Client::connect(s.port(), &[0, 4, 0, 0, 0, 0]);
    let mut encoder = Encoder::new();
    let mut out = Vec::new();
    frame(
        &mut out,
        HEADERS,
        END_HEADERS | END_STREAM,
        1,
        &request_block(&mut encoder, "/big"),
    );
    c.send(&out);
    // Keep the connection busy (PINGs) so only the window is stuck.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut pings = 0u64;
    loop {
        let mut ping = Vec::new();
        frame(&mut ping, PING, 0, 0, &pings.to_be_bytes());
        pings += 1;
        c.send(&ping);
        match c.next_frame(deadline) {
            Some((RST_STREAM, _, 1, payload)) => {
                assert_eq!(u32::from_be_bytes(payload[..4].try_into().unwrap()), CANCEL);
                break;
            }
            Some((DATA, _, 1, _)) => panic!("DATA past a zero window"),
            Some(_) => {}
            None => panic!("the connection closed instead of the stream"),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    still_serving(s.port());
    s.stop();
}
