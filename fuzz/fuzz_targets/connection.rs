//! A whole server connection driven through an in-memory socket
//! (`Server::connect_in_memory`): the fuzzer chooses the bytes, the read
//! sizes, when the client reads (a write window, so the server's output
//! backs up), and what the handler does with each request (by its path).
//!
//! Checked after every step: no panic; the server holds at most one head
//! limit plus one read of unparsed input. At the end: the output is a clean
//! sequence of responses, one per answered request, in order; an error
//! response (4xx/5xx) is the last thing the server ever writes and says
//! `Connection: close`, so nothing after a fault was parsed as a request;
//! and the connection record is gone once the client hangs up.
#![no_main]
use std::cell::RefCell;

use libfuzzer_sys::fuzz_target;
use nodelike::http::h1::{parse_response_head, BodyKind, Decoded, Decoder, Limits, ParsedResponse};
use nodelike::http::{self, Server};

/// What the handler saw, in order.
#[derive(Default)]
struct Seen {
    /// Method of every request the handler answered (or will answer), in
    /// request order.
    answered: Vec<String>,
}

thread_local! {
    static SEEN: RefCell<Seen> = RefCell::new(Seen::default());
    static SERVER: Server = make_server();
}

fn make_server() -> Server {
    http::create_server(|req, res| {
        let method = req.method().to_string();
        let path = req.url().to_string();
        SEEN.with(|s| s.borrow_mut().answered.push(method));
        match path.as_bytes().get(1) {
            // Answer at once, never reading the body: it must still be
            // consumed exactly.
            Some(b'i') => res.end("ignored"),
            // Start streaming at once, finish at the body's end.
            Some(b's') => {
                res.write("streaming ");
                req.on_data(move |chunk| {
                    res.write(chunk.as_bytes());
                });
                req.on_end(move || res.end(()));
            }
            // Echo the body once it is complete.
            _ => {
                let body = std::rc::Rc::new(RefCell::new(Vec::new()));
                let b = body.clone();
                req.on_data(move |chunk| b.borrow_mut().extend_from_slice(chunk.as_bytes()));
                req.on_end(move || res.end(body.borrow().as_slice()));
            }
        }
    })
}

/// A tiny deterministic generator for the fuzzer-seeded choices.
struct Choices(u32);
impl Choices {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }
}

const READ_BUF: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let (config, input) = data.split_at(4);
    let mut choices = Choices(u32::from_le_bytes([config[0], config[1], config[2], config[3]]) | 1);
    SEEN.with(|s| *s.borrow_mut() = Seen::default());
    let server = SERVER.with(|s| *s);
    let conn = server.connect_in_memory();
    conn.set_max_read(1 + (choices.next() % 64) as usize);
    let slow_reader = choices.next() % 4 == 0;
    if slow_reader {
        conn.set_window(Some(1 + (choices.next() % 512) as usize));
    }
    let limits = Limits::default();
    let mut output = Vec::new();
    let mut rest = input;
    while !rest.is_empty() {
        let n = (1 + (choices.next() % 300) as usize).min(rest.len());
        conn.send(&rest[..n]);
        rest = &rest[n..];
        assert!(
            conn.held() <= limits.max_head_bytes + READ_BUF,
            "unparsed input beyond its limit: {}",
            conn.held()
        );
        if !slow_reader || choices.next() % 3 == 0 {
            output.extend(conn.take_output());
        }
    }
    // The client has sent everything: read all that comes, then hang up.
    conn.set_window(None);
    output.extend(conn.take_output());
    conn.end();
    output.extend(conn.take_output());
    drop(conn);
    assert_eq!(
        server.connections(),
        0,
        "the connection record outlived its socket"
    );

    let answered = SEEN.with(|s| std::mem::take(&mut s.borrow_mut().answered));
    check_responses(&output, &answered);
});

/// The output is a clean sequence of responses: final responses in request
/// order (interim 100s allowed before one), at most one error response and
/// nothing at all after it.
fn check_responses(mut output: &[u8], answered: &[String]) {
    let limits = Limits {
        max_head_bytes: 1 << 20,
        ..Limits::default()
    };
    let mut finals = 0;
    while !output.is_empty() {
        let is_head = answered.get(finals).is_some_and(|m| m == "HEAD");
        let mut head = ParsedResponse::default();
        let len = match parse_response_head(output, is_head, &limits, &mut head) {
            Ok(Some(len)) => len,
            // The connection closed mid-response: a response that was
            // streaming when the client went away. Nothing may follow.
            Ok(None) => return,
            Err(e) => panic!(
                "the server wrote a malformed response ({e}): {:?}",
                String::from_utf8_lossy(output)
            ),
        };
        let text = String::from_utf8_lossy(&output[..len]).to_string();
        output = &output[len..];
        if head.status == 100 {
            continue;
        }
        if head.status == 417 && !text.contains("Connection: close") {
            // An unknown expectation, refused without the handler: the
            // connection goes on.
            continue;
        }
        if head.status >= 400 {
            assert!(text.contains("Connection: close"), "{text}");
            assert!(
                output.is_empty(),
                "bytes after an error response: {:?}",
                String::from_utf8_lossy(output)
            );
            return;
        }
        assert!(
            finals < answered.len(),
            "a response no handler wrote: {text}"
        );
        finals += 1;
        output = skip_body(output, head.body);
    }
}

/// Skips one response body; returns what follows it (empty if the body
/// was cut off by the close).
fn skip_body(output: &[u8], body: BodyKind) -> &[u8] {
    match body {
        BodyKind::Empty => output,
        BodyKind::Length(n) => &output[(n as usize).min(output.len())..],
        BodyKind::Eof => &[],
        BodyKind::Chunked => {
            let mut decoder = Decoder::new(BodyKind::Chunked);
            let mut pos = 0;
            loop {
                match decoder.decode(&output[pos..]) {
                    Ok((n, Decoded::Data(_))) => pos += n,
                    Ok((n, Decoded::Done)) => return &output[pos + n..],
                    Ok((_, Decoded::NeedMore)) => return &[],
                    Err(e) => panic!("the server wrote a malformed chunked body: {e}"),
                }
            }
        }
    }
}
