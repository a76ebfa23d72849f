//! The hello-world server, the one benchmarked against Node.
//!
//! Run it:   cargo run --release --example hello [PORT]      (default 8000)
//! Poke it:  curl -i http://127.0.0.1:8000/
//! Load it:  wrk -t1 -c50 -d5s http://127.0.0.1:8000/
//!
//! Like Node's hello world it has no `error` listener, so a busy port ends
//! it as Node's ends: `Error: listen EADDRINUSE: address already in use
//! 127.0.0.1:8000` on stderr and a non-zero exit status (the unhandled
//! error panics out of `nodelike::run`). The other servers handle the error
//! themselves: `error: ...` and exit status 1.
use nodelike::http;

fn main() {
    env_logger::init();
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(8000);
    let server = http::create_server(|_req, res| {
        res.write_head(200, &[("Content-Type", "text/plain")]);
        res.end("Hello, World!");
    });
    server.listen(port, "127.0.0.1", move || {
        // The bound address, so `PORT` 0 (any free port) is useful too.
        println!(
            "listening on http://{}/",
            server.address().expect("listening")
        );
    });
    nodelike::run();
}
