//! A TCP echo server on the public `net` module: every byte a client sends
//! comes back, through `socket.pipe(socket)`, so a client that reads slowly
//! pauses its own socket (back-pressure) instead of growing the server's
//! memory. When the client ends its side (FIN), the server ends its own
//! after the last echoed byte (Node's default `allowHalfOpen: false`).
//! Teaches: `net::create_server`, sockets as streams, back-pressure, FIN.
//!
//! Run it:   cargo run --example tcp_echo [PORT]   (default 7000; 0 picks a
//!           free port, printed as `listening on tcp://127.0.0.1:PORT`)
//! Poke it:  printf 'hello\n' | nc -N 127.0.0.1 7000
//!           node -e "const s=require('net').connect(7000,()=>s.end('hi\n'));s.pipe(process.stdout)"
//!
//! Stop it:  kill -TERM <pid> (or Ctrl-C): it stops accepting, lets the
//!           open connections finish, and exits 0; a second signal exits
//!           at once.
//!
//! Cannot listen (a busy port, ...): `error: listen EADDRINUSE: ...` on
//! stderr and exit status 1.
use nodelike::net;
use nodelike::process::{self, Signal};
use nodelike::stream::Readable;

fn main() {
    env_logger::init();
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(7000);
    let server = net::create_server(|socket| {
        // A client that resets is its own business: say so in the log only
        // (without a listener the error would be printed on stderr).
        socket.on_error(|e| log::debug!("client: {e}"));
        socket.pipe(socket);
    });
    server.on_error(|e| {
        eprintln!("error: {e}");
        std::process::exit(1);
    });
    server.listen(port, "127.0.0.1", move || {
        // The bound address, so `PORT` 0 (any free port) is useful too.
        println!(
            "listening on tcp://{}",
            server.address().expect("listening")
        );
    });
    // The first SIGTERM or SIGINT closes: no new connections; `run`
    // returns once the open ones have ended. A second signal exits now.
    let signalled = std::rc::Rc::new(std::cell::Cell::new(false));
    for signal in [Signal::Term, Signal::Int] {
        let signalled = signalled.clone();
        let _ = process::on_signal(signal, move |signal| {
            if signalled.replace(true) {
                eprintln!("{signal:?} again: exiting without waiting");
                std::process::exit(1);
            }
            server.close();
        });
    }
    nodelike::run();
}
