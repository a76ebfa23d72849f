//! Echoes every request back: its method, URL, version and headers as
//! `x-` response headers, its body streamed back as it arrives (with
//! back-pressure: `req.pipe_with(res, ..)`), its trailers as `x-trailer-`
//! trailers.
//! Teaches: streaming with `pipe` (back-pressure both ways), trailers, one loop per
//! core behind a balancer. Guide: chapters 3 (a server), 4 (back-pressure)
//! and 10 (`docs/deploy.md` puts it behind nginx).
//!
//! Run it:   cargo run --example echo [PORT] [--workers N] [--close-grace MS]
//!           (default 8000, 1 loop, 2000 ms)
//! Poke it:  curl -i http://127.0.0.1:8000/status/404
//!           curl -i --data-binary @Cargo.toml http://127.0.0.1:8000/upload
//!           curl -i -H 'Transfer-Encoding: chunked' --data-binary @README.md http://127.0.0.1:8000/
//!
//! Stop it:  kill -TERM <pid> (or Ctrl-C): it stops accepting, finishes the
//!           requests in flight, answers any request that reaches an idle
//!           keep-alive connection within the close grace (with
//!           `Connection: close`), closes, and exits 0. With `--workers N`,
//!           N loops share the port. This is the process docs/deploy.md puts
//!           behind nginx.
//!
//! Cannot listen (a busy port, ...): `error: listen EADDRINUSE: ...` on
//! stderr and exit status 1.
use nodelike::http;
use nodelike::process::{self, Signal};
use nodelike::stream::{PipeOptions, Readable};

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
        serve(port, grace, true);
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
    let exit = nodelike::cluster(workers, move |worker| serve(port, grace, worker.id() == 0));
    if !exit.panicked.is_empty() {
        std::process::exit(1);
    }
}

/// One loop's echo server, closed gracefully on SIGTERM or SIGINT.
fn serve(port: u16, grace: u64, announce: bool) {
    let server = http::create_server(|req, res| {
        let url = req.url();
        // `/status/NNN` answers NNN; anything else 200.
        let path = url.split('?').next().unwrap_or("");
        let status = path
            .strip_prefix("/status/")
            .and_then(|s| s.parse::<u16>().ok())
            .filter(|s| (200..=599).contains(s))
            .unwrap_or(200);
        res.set_header("content-type", "application/octet-stream");
        res.set_header("x-method", req.method());
        res.set_header("x-url", url);
        res.set_header("x-http-version", req.http_version());
        for (name, value) in req.headers().iter() {
            res.set_header(&format!("x-req-{name}"), value.iter().collect::<Vec<_>>());
        }
        res.write_head(status, &[]);

        // The body, streamed back with back-pressure: `pipe` pauses the
        // request while the response's buffer is full and resumes it on
        // `drain`. `end: false` because the response ends below, after
        // the request's trailers are known.
        req.pipe_with(res, PipeOptions { end: false });
        req.on_end(move || {
            let trailers: Vec<(String, String)> = req
                .trailers()
                .iter()
                .flat_map(|(name, value)| {
                    value
                        .iter()
                        .map(move |v| (format!("x-trailer-{name}"), v.to_owned()))
                })
                .collect();
            res.add_trailers(&trailers);
            res.end(());
        });
    });
    // A listen failure (a busy port, ...): say so and exit 1. Without an
    // `error` listener it would panic out of `run` instead, as `hello` shows.
    server.on_error(|e| {
        eprintln!("error: {e}");
        std::process::exit(1);
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
}
