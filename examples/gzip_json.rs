//! A JSON API whose answers are gzipped: the server `benches/gzip_vs_node.py`
//! measures against Node's `zlib.createGzip()` pipe. Teaches:
//! `http::compression` (negotiation, the threshold, the pool).
//!
//! Run it:   cargo run --release --example gzip_json [PORT] [--kib N]
//!           (default 8000, a 100 KiB document)
//! Poke it:  curl -s --compressed -D - -o /dev/null http://127.0.0.1:8000/
//!           curl -s http://127.0.0.1:8000/hello   (small, uncompressed)
use std::rc::Rc;

use nodelike::http::{self, CompressionOptions};
use nodelike::stream::Writable;

/// A JSON document of about `len` bytes (users, as an API would list them).
fn document(len: usize) -> Vec<u8> {
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
    out.into_bytes()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port: u16 = args.first().and_then(|p| p.parse().ok()).unwrap_or(8000);
    let kib: usize = args
        .iter()
        .position(|a| a == "--kib")
        .and_then(|at| args.get(at + 1)?.parse().ok())
        .unwrap_or(100);
    let doc = Rc::new(document(kib * 1024));
    let server = http::create_server(move |req, res| {
        if req.url() == "/hello" {
            // A small answer beside the compressed ones:
            // `benches/gzip_flood_p99.py` times it during a flood of them.
            return res.end("hello\n");
        }
        res.set_header("Content-Type", "application/json");
        // Given whole to `end`, the document is compressed whole: one job
        // on the worker pool (off the loop), then sent with its
        // compressed Content-Length, head and body in one write.
        http::compression(&req, res, CompressionOptions::default()).end(&*doc);
    });
    server.on_error(|e| {
        eprintln!("error: {e}");
        std::process::exit(1);
    });
    server.listen(port, "127.0.0.1", move || {
        println!("listening on http://{}/", server.address().expect("bound"));
    });
    nodelike::run();
}
