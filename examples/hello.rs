//! The hello-world server, the one benchmarked against Node. Teaches: a
//! server from scratch; one loop per core (`--workers`); a graceful stop on
//! SIGTERM/SIGINT.
//! Guide: chapters 3 (a server), 8 (benchmarking) and 10 (one loop per
//! core).
//!
//! Run it:   cargo run --release --example hello [PORT] [--workers N] [--close-grace MS]
//!           (default 8000, 1 loop, 2000 ms)
//! Poke it:  curl -i http://127.0.0.1:8000/
//! Load it:  wrk -t1 -c50 -d5s http://127.0.0.1:8000/
//! Stop it:  kill -TERM <pid> (or Ctrl-C): it stops accepting, finishes the
//!           requests in flight, leaves idle connections open for the close
//!           grace (a request arriving on one is answered with
//!           `Connection: close`), closes, and exits 0.
//!
//! With `--workers N` it runs N loops on N threads, all listening on the
//! same port (`SO_REUSEPORT`): the kernel spreads the connections.
//!
//! Like Node's hello world it has no `error` listener, so a busy port ends
//! it as Node's ends: `Error: listen EADDRINUSE: address already in use
//! 127.0.0.1:8000` on stderr and a non-zero exit status (the unhandled
//! error panics out of `nodelike::run`). The other servers handle the error
//! themselves: `error: ...` and exit status 1.
use nodelike::http;
use nodelike::process::{self, Signal};

fn main() {
    env_logger::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| -> Option<u64> {
        let at = args.iter().position(|a| a == name)?;
        args.get(at + 1)?.parse().ok()
    };
    let workers = flag("--workers").unwrap_or(1) as usize;
    // How long a closing server keeps idle connections open for requests
    // already on their way (see `Server::set_close_grace`, docs/deploy.md).
    let grace = flag("--close-grace").unwrap_or(2_000);
    let mut port: u16 = args
        .first()
        .filter(|a| !a.starts_with("--"))
        .and_then(|p| p.parse().ok())
        .unwrap_or(8000);
    if workers == 1 {
        let _server = serve(port, grace, true);
        nodelike::run();
        return;
    }
    if port == 0 {
        // Every loop must listen on the same port: pick a free one first.
        port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or(8000);
    }
    let exit = nodelike::cluster(workers, move |worker| {
        let id = worker.id();
        let server = serve(port, grace, id == 0);
        // How the kernel spread the connections: one line per worker at
        // exit (benches/scaling.py reads it).
        let accepted = std::rc::Rc::new(std::cell::Cell::new(0u64));
        let count = accepted.clone();
        server.on_connection(move |_socket| count.set(count.get() + 1));
        server.on_close(move || eprintln!("worker {id}: {} connections", accepted.get()));
    });
    if !exit.panicked.is_empty() {
        std::process::exit(1);
    }
}

/// One loop's server: hello world, closed gracefully on SIGTERM or SIGINT.
fn serve(port: u16, grace: u64, announce: bool) -> http::Server {
    let server = http::create_server(|_req, res| {
        res.write_head(200, &[("Content-Type", "text/plain")]);
        res.end("Hello, World!");
    });
    server.listen(port, "127.0.0.1", move || {
        if announce {
            // The bound address, so `PORT` 0 (any free port) is useful too.
            println!(
                "listening on http://{}/",
                server.address().expect("listening")
            );
        }
    });
    server.set_close_grace(grace);
    // The first SIGTERM or SIGINT closes gracefully: stop accepting, let
    // requests in flight finish, then `run` returns. A client sending a
    // head or a body very slowly can hold that for minutes, so a second
    // signal stops at once (an operator's Ctrl-C twice, or a supervisor's
    // second TERM before its KILL).
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
    server
}
