//! The classic Node program: a proxy that pipes each incoming request into
//! a client request to an upstream server, and the response back:
//! `req.pipe(upstream_req)` and `upstream_res.pipe(res)`, with
//! back-pressure both ways (`pipe` pauses the side that reads when the
//! side that writes says `false`, and resumes it on `drain`).
//! Teaches: a server whose handler is a client, back-pressure across two
//! connections, aborting the upstream when the client goes, a timeout on
//! the upstream, and `res.destroy()` to cut short a response whose
//! upstream failed after the head was sent. Guide: chapters
//! 3, 4 and 7 (the guide's goal is that you can write this one).
//!
//! Run it:   cargo run --example echo -- 8001          (an upstream)
//!           cargo run --example proxy -- 8000 http://127.0.0.1:8001
//! Poke it:  curl -i --data-binary @Cargo.toml http://127.0.0.1:8000/anything
//!
//! Cannot listen (a busy port, ...): `error: listen EADDRINUSE: ...` on
//! stderr and exit status 1.
use nodelike::http::{self, IntoRequestOptions, RequestOptions};
use nodelike::process::{self, Signal};
use nodelike::stream::Readable;
use nodelike::{Error, ErrorKind};

/// How long the upstream may stay silent before its request fails.
const UPSTREAM_TIMEOUT_MS: u64 = 30_000;

/// Hop-by-hop fields are about one connection; they are not forwarded.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
];

fn main() {
    env_logger::init();
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(8000);
    let upstream = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:8001".into());
    let target = match upstream.as_str().into_request_options() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let server = http::create_server(move |req, res| {
        let headers = req
            .raw_headers()
            .into_iter()
            .filter(|(n, _)| !HOP_BY_HOP.contains(&n.to_ascii_lowercase().as_str()))
            .collect();
        let options = RequestOptions {
            method: req.method(),
            path: req.url(),
            headers,
            ..target.clone()
        };
        let upstream_req = http::request(options, move |upstream_res| {
            let headers: Vec<(String, String)> = upstream_res
                .headers()
                .iter()
                .filter(|(n, _)| !HOP_BY_HOP.contains(n))
                .flat_map(|(n, v)| {
                    v.iter()
                        .map(move |v| (n.to_owned(), v.to_owned()))
                        .collect::<Vec<_>>()
                })
                .collect();
            res.write_head(upstream_res.status_code(), &headers);
            // Upstream → client.
            upstream_res.pipe(res);
        });
        // An upstream that stops answering for 30 s is given up on
        // (`timeout`, then `destroy` with ETIMEDOUT, as a Node proxy does)
        // rather than holding a client and a socket forever.
        upstream_req.set_timeout(UPSTREAM_TIMEOUT_MS);
        upstream_req.on_timeout(move || {
            let e = Error::new(ErrorKind::Timeout, "upstream timed out");
            upstream_req.destroy(Some(e));
        });
        upstream_req.on_error(move |e| {
            if res.headers_sent() {
                // The head went out: the client must see a truncated
                // response, never a clean one with an error in its body.
                res.destroy();
                return;
            }
            res.write_head(502, &[("Content-Type", "text/plain")]);
            res.end(format!("upstream error: {e}\n"));
        });
        // Client → upstream.
        req.pipe(upstream_req);
        // The client went away before its answer was complete (mid-upload
        // or mid-download): stop the upstream exchange too, or its
        // connection leaks.
        req.on_close(move |reason| {
            if reason.is_abnormal() {
                upstream_req.abort();
            }
        });
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
    // SIGTERM or SIGINT: stop accepting and let exchanges in flight finish
    // (`run` then returns); a second one exits at once.
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
