//! Protocol upgrade: a request with `Connection: Upgrade` leaves HTTP and
//! the socket becomes an echo service (the seed's `upgrade` example), with
//! back-pressure: a peer that sends and never reads is not echoed into an
//! ever-growing queue, it is stopped by its own TCP window instead.
//! Teaches: a socket leaving HTTP (`upgrade`), raw `data` events on the
//! same loop, back-pressure on a raw socket (`write` returning `false`,
//! `pause`, `drain`, `resume`). Guide: chapters 2 (handles), 3 (server
//! events) and 4 (back-pressure).
//!
//! Run it:   cargo run --example upgrade_echo [PORT]      (default 8000)
//! Poke it:  printf 'GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nhello\n' \
//!             | nc -q1 127.0.0.1 8000
//!
//! Cannot listen (a busy port, ...): `error: listen EADDRINUSE: ...` on
//! stderr and exit status 1.
use nodelike::http;

fn main() {
    env_logger::init();
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(8000);
    let server = http::create_server(|_req, res| {
        res.write_head(200, &[("Content-Type", "text/plain")]);
        res.end("ask for an upgrade\n");
    });
    server.on_upgrade(|req, socket, head| {
        let protocol = req.headers().get("upgrade").unwrap_or("echo").to_owned();
        socket.write(format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: {protocol}\r\nConnection: Upgrade\r\n\r\n"
        ));
        // Bytes that came in the same packet as the request head.
        if !socket.write(head) {
            socket.pause();
        }
        // Echo with back-pressure. `write` returns `false` once more than
        // 16 KiB wait to be sent: the peer is not reading its echo. Stop
        // reading from it until that queue has drained; meanwhile the
        // kernel's receive window fills and pushes back on the peer, and
        // this process holds a few KiB, not everything the peer sent.
        // Ignoring `false` would queue every byte a non-reading peer sends.
        socket.on_data(move |chunk| {
            if !socket.write(chunk) {
                socket.pause();
            }
        });
        // Everything queued went out: read (and echo) again.
        socket.on_drain(move || socket.resume());
    });
    // A listen failure (a busy port, ...): say so and exit 1. Without an
    // `error` listener it would panic out of `run` instead, as `hello` shows.
    server.on_error(|e| {
        eprintln!("error: {e}");
        std::process::exit(1);
    });
    server.listen(port, "127.0.0.1", move || {
        println!(
            "listening on http://{}/",
            server.address().expect("listening")
        );
    });
    nodelike::run();
}
