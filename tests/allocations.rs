//! Counts heap allocations per request on the server's thread while it
//! serves 10 000 keep-alive requests of the hello example's kind, after a
//! warm-up. The runtime reuses its buffers and records, so steady-state
//! serving must not allocate at all.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use nodelike::http;

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Only the server thread counts, and only once warmed up.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn note_allocation() {
    if COUNTING.try_with(|c| c.get()).unwrap_or(false) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
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
                start.set(ALLOCATIONS.load(Ordering::Relaxed));
                COUNTING.with(|c| c.set(true));
            }
            res.write_head(200, &[("Content-Type", "text/plain")]);
            res.end("Hello, World!");
            if served.get() == WARM_UP + MEASURED {
                let total = ALLOCATIONS.load(Ordering::Relaxed) - start.get();
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
