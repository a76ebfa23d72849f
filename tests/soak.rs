//! A long mixed load over real sockets: many clients at once, each mixing
//! large and small uploads, Content-Length and chunked framing in odd
//! pieces, pipelined batches, `Connection: close`, and clients that vanish
//! mid-body. The echo server streams every byte back with backpressure
//! (pause while a write returns false, resume on `drain`); every answer
//! must come back intact, and the server must still serve at the end.

mod common;

use std::io::Write;
use std::net::TcpStream;

use common::{Reader, TestServer};
use nodelike::http;

const CLIENTS: u64 = 12;
const ROUNDS: u64 = 250;

/// A small deterministic generator, one per client.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> usize {
        (self.next() % n) as usize
    }
}

fn body(rng: &mut Rng, max: u64) -> Vec<u8> {
    let len = rng.below(max);
    let seed = rng.next();
    (0..len)
        .map(|i| (seed as usize + (i * 31) % 251) as u8)
        .collect()
}

fn echo_server() -> TestServer {
    TestServer::start(|| {
        http::create_server(|req, res| {
            res.set_header("Content-Type", "application/octet-stream");
            if let Some(n) = req.url().strip_prefix("/big/") {
                // A large answer in one `end`: pipelined, these stop the
                // server's reading for back-pressure.
                res.end(big_body(n.parse().unwrap()));
                return;
            }
            req.on_data(move |chunk| {
                if !res.write(chunk.as_bytes()) {
                    req.pause();
                }
            });
            res.on_drain(move || req.resume());
            req.on_end(move || res.end(()));
        })
    })
}

/// The body `GET /big/N` is answered with.
fn big_body(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 253) as u8).collect()
}

/// Sends `head` and `payload` from a second thread (so a large upload and
/// its echo flow at once), reads one response, and checks it is the echo.
fn round_trip(reader: &mut Reader, head: Vec<u8>, payload: Vec<u8>, expect: &[u8], what: &str) {
    let mut writer = reader.stream.try_clone().unwrap();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            writer.write_all(&head).unwrap();
            writer.write_all(&payload).unwrap();
        });
        let r = reader.response(false).expect(what);
        assert_eq!(r.status, 200, "{what}");
        assert!(
            r.body == expect,
            "{what}: {} bytes back, {} sent",
            r.body.len(),
            expect.len()
        );
    });
}

fn chunked(rng: &mut Rng, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let n = (1 + rng.below(40_000)).min(rest.len());
        out.extend_from_slice(format!("{n:x}\r\n").as_bytes());
        out.extend_from_slice(&rest[..n]);
        out.extend_from_slice(b"\r\n");
        rest = &rest[n..];
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

fn client(port: u16, id: u64) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((id + 1) * 0x1000_0001));
    let mut reader = Reader::new(port);
    for round in 0..ROUNDS {
        let what = format!("client {id} round {round}");
        match rng.below(5) {
            0 => {
                let data = body(&mut rng, 256 * 1024);
                let head = format!(
                    "POST /cl HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
                    data.len()
                );
                round_trip(&mut reader, head.into_bytes(), data.clone(), &data, &what);
            }
            1 => {
                let data = body(&mut rng, 256 * 1024);
                let head = b"POST /te HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
                let framed = chunked(&mut rng, &data);
                round_trip(&mut reader, head.to_vec(), framed, &data, &what);
            }
            2 => {
                // A pipelined batch in one write, large enough that the
                // server stops reading for back-pressure part-way (the
                // pipelining stall of the fidelity issue), read while it
                // is still being written.
                let count = 2 + rng.below(60);
                let bodies: Vec<Vec<u8>> = (0..count).map(|_| body(&mut rng, 32 * 1024)).collect();
                let mut batch = Vec::new();
                for b in &bodies {
                    batch.extend_from_slice(
                        format!(
                            "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
                            b.len()
                        )
                        .as_bytes(),
                    );
                    batch.extend_from_slice(b);
                }
                // Large GET answers between the echoes, pipelined too.
                let sizes: Vec<usize> = (0..count).map(|_| rng.below(40 * 1024)).collect();
                for n in &sizes {
                    batch.extend_from_slice(
                        format!("GET /big/{n} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
                    );
                }
                let mut writer = reader.stream.try_clone().unwrap();
                std::thread::scope(|scope| {
                    scope.spawn(move || writer.write_all(&batch).unwrap());
                    for (i, b) in bodies.iter().enumerate() {
                        let r = reader.response(false).expect(&what);
                        assert!(r.body == *b, "{what}: pipelined echo {i} of {count}");
                    }
                    for (i, &n) in sizes.iter().enumerate() {
                        let r = reader.response(false).expect(&what);
                        assert!(
                            r.body == big_body(n),
                            "{what}: pipelined GET {i} of {count}"
                        );
                    }
                });
            }
            3 => {
                // Vanish mid-body on a second connection.
                let mut gone = TcpStream::connect(("127.0.0.1", port)).unwrap();
                let _ = gone.write_all(
                    b"POST /gone HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\npartial",
                );
                drop(gone);
            }
            _ => {
                // A last request on this connection, then a fresh one.
                let data = body(&mut rng, 10_000);
                let head = format!(
                    "POST /close HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
                    data.len()
                );
                round_trip(&mut reader, head.into_bytes(), data.clone(), &data, &what);
                assert!(reader.closed_by_server(), "{what}: closed after the answer");
                reader = Reader::new(port);
            }
        }
    }
}

#[test]
fn mixed_load_from_many_clients_echoes_every_byte_intact() {
    let s = echo_server();
    let port = s.port();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|id| std::thread::spawn(move || client(port, id)))
        .collect();
    for (id, c) in clients.into_iter().enumerate() {
        c.join()
            .unwrap_or_else(|_| panic!("client {id} failed (its message is above)"));
    }
    // Still serving after all that.
    let mut r = Reader::new(port);
    r.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nlast");
    assert_eq!(r.response(false).unwrap().body, b"last");
    s.stop();
}
