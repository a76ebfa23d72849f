//! Counts heap allocations per request on the server's thread while it
//! serves 10 000 keep-alive requests of the hello example's kind, after a
//! warm-up. The runtime reuses its buffers and records, so steady-state
//! serving must not allocate at all over TCP. Over TLS, rustls's buffered
//! API allocates once per record it encrypts and once per record it
//! decrypts (two per request here), and nothing else may.
//!
//! `ALLOC_TRACE=1 cargo test --test allocations -- --nocapture` prints
//! where the first few counted allocations come from.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};
use std::sync::mpsc;

use nodelike::http;

#[cfg(feature = "tls")]
mod common;

struct Counting;

thread_local! {
    /// Only the server thread counts, and only once warmed up.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    /// This thread's count: the tests run side by side, each server on
    /// its own thread.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn note_allocation() {
    if COUNTING.try_with(|c| c.get()).unwrap_or(false) {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        if TRACE.load(std::sync::atomic::Ordering::Relaxed) && ALLOCATIONS.with(|n| n.get()) < 6 {
            COUNTING.with(|c| c.set(false));
            eprintln!("{}", std::backtrace::Backtrace::force_capture());
            COUNTING.with(|c| c.set(true));
        }
    }
}

static TRACE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn allocations() -> u64 {
    ALLOCATIONS.with(|n| n.get())
}

// SAFETY: every call is passed straight to the system allocator; counting
// touches only an atomic and a const thread-local without a destructor.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const WARM_UP: u64 = 1_000;
const MEASURED: u64 = 10_000;

#[test]
fn steady_state_keep_alive_serving_allocates_nothing_per_request() {
    let (addr_tx, addr_rx) = mpsc::channel();
    let (result_tx, result_rx) = mpsc::channel();
    let server_thread = std::thread::spawn(move || {
        let served = Cell::new(0u64);
        let start = Cell::new(0u64);
        let server = http::create_server(move |_req, res| {
            served.set(served.get() + 1);
            if served.get() == WARM_UP {
                start.set(allocations());
                COUNTING.with(|c| c.set(true));
            }
            res.write_head(200, &[("Content-Type", "text/plain")]);
            res.end("Hello, World!");
            if served.get() == WARM_UP + MEASURED {
                let total = allocations() - start.get();
                COUNTING.with(|c| c.set(false));
                result_tx.send(total).unwrap();
            }
        });
        server.listen(0, "127.0.0.1", || {});
        addr_tx.send(server.address().unwrap()).unwrap();
        server.on_connection(move |sock| sock.on_close(move |_| server.close()));
        nodelike::run();
    });
    let addr = addr_rx.recv().unwrap();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    let request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    // Every response has the same length (the Date value is fixed-width).
    s.write_all(request).unwrap();
    let mut first = vec![0u8; 4096];
    let n = s.read(&mut first).unwrap();
    let text = String::from_utf8_lossy(&first[..n]).into_owned();
    assert!(text.ends_with("Hello, World!"), "{text}");
    let mut buf = vec![0u8; n];
    for _ in 1..WARM_UP + MEASURED {
        s.write_all(request).unwrap();
        s.read_exact(&mut buf).unwrap();
    }
    let total = result_rx.recv().unwrap();
    let per_request = total as f64 / MEASURED as f64;
    println!("allocations: {total} in {MEASURED} requests = {per_request:.4} per request");
    assert_eq!(
        total, 0,
        "{per_request} allocations per request in steady state"
    );
    drop(s);
    server_thread.join().unwrap();
}

/// A WebSocket echo without compression: each 32-byte masked text
/// message read, validated, delivered to `on_message` and echoed back
/// must not allocate once the connection is warm (the receiver and the
/// socket reuse their buffers).
#[test]
fn steady_state_websocket_echo_allocates_nothing_per_message() {
    use nodelike::ws;
    let (addr_tx, addr_rx) = mpsc::channel();
    let (result_tx, result_rx) = mpsc::channel();
    let server_thread = std::thread::spawn(move || {
        let wss = ws::WebSocketServer::new(ws::ServerOptions {
            port: Some(0),
            host: Some("127.0.0.1".into()),
            ..Default::default()
        });
        let result_tx = std::rc::Rc::new(result_tx);
        wss.on_connection(move |ws, _req| {
            let echoed = Cell::new(0u64);
            let start = Cell::new(0u64);
            let result_tx = result_tx.clone();
            ws.on_message(move |data, is_binary| {
                echoed.set(echoed.get() + 1);
                if echoed.get() == WARM_UP {
                    start.set(allocations());
                    COUNTING.with(|c| c.set(true));
                }
                ws.send_with(
                    data,
                    ws::SendOptions {
                        binary: Some(is_binary),
                        ..Default::default()
                    },
                    None,
                );
                if echoed.get() == WARM_UP + MEASURED {
                    let total = allocations() - start.get();
                    COUNTING.with(|c| c.set(false));
                    result_tx.send(total).unwrap();
                }
            });
            ws.on_close(move |_, _| wss.close());
        });
        wss.on_listening(move || addr_tx.send(wss.address().unwrap()).unwrap());
        nodelike::run();
    });
    let addr = addr_rx.recv().unwrap();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    s.write_all(
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
          Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    )
    .unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut b).unwrap();
        head.push(b[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101 "));
    // A masked 32-byte text frame (mask 1 2 3 4); the echo is unmasked.
    let payload = [b'a'; 32];
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![0x81, 0x80 | 32];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    let mut echo = [0u8; 34];
    for _ in 0..WARM_UP + MEASURED {
        s.write_all(&frame).unwrap();
        s.read_exact(&mut echo).unwrap();
        assert_eq!(&echo[..2], [0x81, 32]);
        assert_eq!(&echo[2..], payload);
    }
    let total = result_rx.recv().unwrap();
    let per_message = total as f64 / MEASURED as f64;
    println!("allocations: {total} in {MEASURED} messages = {per_message:.4} per message");
    assert_eq!(
        total, 0,
        "{per_message} allocations per message in steady state"
    );
    // A close frame ends it.
    s.write_all(&[0x88, 0x80, 0, 0, 0, 0]).unwrap();
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    assert_eq!(rest, [0x88, 0x00], "the close frame is answered");
    drop(s);
    server_thread.join().unwrap();
}

/// The same over HTTPS: the client is rustls itself, on the test thread, so
/// only the server's allocations are counted. rustls's buffered connection
/// (the API every rustls user on a readiness loop has, tokio-rustls
/// included) makes one `Vec` per encrypted record (`PrefixedPayload`, in
/// `encrypt`) and one per decrypted record (`Payload::into_vec`, in
/// `take_received_plaintext`): two per request-response. Ours add none;
/// the unbuffered rustls API would remove those two.
#[cfg(feature = "tls")]
#[test]
fn steady_state_keep_alive_serving_over_tls_allocates_nothing_per_request() {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    use std::sync::Arc;

    TRACE.store(
        std::env::var_os("ALLOC_TRACE").is_some(),
        std::sync::atomic::Ordering::Relaxed,
    );
    let pki = common::pki::pki();
    let options = nodelike::https::ServerOptions {
        cert: pki.server_cert.clone().into_bytes(),
        key: pki.server_key.clone().into_bytes(),
        ..Default::default()
    };
    let (addr_tx, addr_rx) = mpsc::channel();
    let (result_tx, result_rx) = mpsc::channel();
    let server_thread = std::thread::spawn(move || {
        let served = Cell::new(0u64);
        let start = Cell::new(0u64);
        let server = nodelike::https::create_server(options, move |_req, res| {
            served.set(served.get() + 1);
            if served.get() == WARM_UP {
                start.set(allocations());
                COUNTING.with(|c| c.set(true));
            }
            res.write_head(200, &[("Content-Type", "text/plain")]);
            res.end("Hello, World!");
            if served.get() == WARM_UP + MEASURED {
                let total = allocations() - start.get();
                COUNTING.with(|c| c.set(false));
                result_tx.send(total).unwrap();
            }
        })
        .expect("a usable certificate");
        server.listen(0, "127.0.0.1", || {});
        addr_tx.send(server.address().unwrap()).unwrap();
        server.on_connection(move |sock| sock.on_close(move |_| server.close()));
        nodelike::run();
    });
    let addr = addr_rx.recv().unwrap();

    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pki.ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("localhost").unwrap();
    let tls = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_nodelay(true).unwrap();
    let mut s = rustls::StreamOwned::new(tls, tcp);

    let request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    s.write_all(request).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let mut body = [0u8; 13];
    s.read_exact(&mut body).unwrap();
    assert_eq!(&body, b"Hello, World!");
    // Every response has the same length (the Date value is fixed-width).
    let mut buf = vec![0u8; head.len() + body.len()];
    for _ in 1..WARM_UP + MEASURED {
        s.write_all(request).unwrap();
        s.read_exact(&mut buf).unwrap();
        assert!(buf.ends_with(b"Hello, World!"));
    }
    let total = result_rx.recv().unwrap();
    let per_request = total as f64 / MEASURED as f64;
    println!("allocations over TLS: {total} in {MEASURED} requests = {per_request:.4} per request");
    assert!(
        total <= 2 * MEASURED,
        "{per_request} allocations per TLS request in steady state: rustls makes 2, the rest are ours"
    );
    s.conn.send_close_notify();
    let _ = s.flush();
    drop(s);
    server_thread.join().unwrap();
}

/// HTTP/2 (h2c), one request after another on one connection: each
/// request's stream gets an exchange record (reused from the arena), its
/// head is rebuilt into that record's buffers, the response head is
/// HPACK-encoded from reused scratch space, and the core keeps a 40-byte
/// stream record in a vector that stops growing. So steady state, as for
/// HTTP/1.1, allocates nothing per request. The client is the crate's own
/// sans-IO core in the client role, on a blocking socket.
#[test]
fn steady_state_http2_serving_allocates_nothing_per_request() {
    use nodelike::http::h2::{Config, Connection, Event, Role};
    TRACE.store(
        std::env::var_os("ALLOC_TRACE").is_some(),
        std::sync::atomic::Ordering::Relaxed,
    );
    let (addr_tx, addr_rx) = mpsc::channel();
    let (result_tx, result_rx) = mpsc::channel();
    let server_thread = std::thread::spawn(move || {
        let served = Cell::new(0u64);
        let start = Cell::new(0u64);
        let server = nodelike::http2::create_server(Default::default(), move |_req, res| {
            served.set(served.get() + 1);
            if served.get() == WARM_UP {
                start.set(allocations());
                COUNTING.with(|c| c.set(true));
            }
            // The response encoder's HPACK table grows until it has been
            // full: on a long connection `date` alone fills it, a new
            // entry a second, within its first minutes. Steady state is
            // after that, so the warm-up fills it at once, with a value
            // new on every response (`x-warm`), and then is rid of it.
            if served.get() <= WARM_UP / 2 {
                res.set_header("x-warm", served.get().to_string());
            }
            // A stream timeout per request costs nothing either: one
            // timer per connection, queued for the earliest stream due.
            res.set_timeout(60_000);
            res.write_head(200, &[("Content-Type", "text/plain")]);
            res.end("Hello, World!");
            if served.get() == WARM_UP + MEASURED {
                let total = allocations() - start.get();
                COUNTING.with(|c| c.set(false));
                result_tx.send(total).unwrap();
            }
        });
        server.listen(0, "127.0.0.1", || {});
        addr_tx.send(server.address().unwrap()).unwrap();
        server.on_connection(move |sock| sock.on_close(move |_| server.close()));
        nodelike::run();
    });
    let addr = addr_rx.recv().unwrap();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    let mut client = Connection::new(Role::Client, Config::default());
    let mut out = Vec::new();
    client.start(&mut out);
    let mut input: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let head: [(&[u8], &[u8]); 4] = [
        (b":method", b"GET"),
        (b":scheme", b"http"),
        (b":path", b"/"),
        (b":authority", b"x"),
    ];
    for _ in 0..WARM_UP + MEASURED {
        let id = client.open_stream(&head, true, &mut out).unwrap();
        let mut body_done = false;
        while !body_done {
            if !out.is_empty() {
                s.write_all(&out).unwrap();
                out.clear();
            }
            let mut used = 0;
            loop {
                let (n, event) = client.poll(&input[used..], &mut out).unwrap();
                used += n;
                match event {
                    Some(Event::Data {
                        stream,
                        data,
                        end_stream,
                    }) if stream == id => {
                        assert_eq!(data, b"Hello, World!");
                        let len = data.len();
                        client.release(id, len, &mut out);
                        body_done |= end_stream;
                    }
                    Some(_) => {}
                    None => break,
                }
            }
            input.drain(..used);
            if !body_done {
                if !out.is_empty() {
                    s.write_all(&out).unwrap();
                    out.clear();
                }
                let n = s.read(&mut buf).unwrap();
                assert!(n > 0, "the server closed the connection");
                input.extend_from_slice(&buf[..n]);
            }
        }
    }
    let total = result_rx.recv().unwrap();
    let per_request = total as f64 / MEASURED as f64;
    println!("allocations: {total} in {MEASURED} HTTP/2 requests = {per_request:.4} per request");
    assert_eq!(
        total, 0,
        "{per_request} allocations per HTTP/2 request in steady state"
    );
    drop(s);
    server_thread.join().unwrap();
}
