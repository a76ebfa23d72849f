//! Echoes every request back: its method, URL, version and headers as
//! `x-` response headers, its body streamed back as it arrives (with
//! back-pressure), its trailers as `x-trailer-` trailers.
//!
//! Run it:   cargo run --example echo [PORT]      (default 8000)
//! Poke it:  curl -i http://127.0.0.1:8000/status/404
//!           curl -i --data-binary @Cargo.toml http://127.0.0.1:8000/upload
//!           curl -i -H 'Transfer-Encoding: chunked' --data-binary @README.md http://127.0.0.1:8000/
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

        // The body, streamed back with back-pressure.
        req.on_data(move |chunk| {
            if !res.write(chunk) {
                req.pause();
            }
        });
        res.on_drain(move || req.resume());
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
            let borrowed: Vec<(&str, &str)> = trailers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            res.add_trailers(&borrowed);
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
        // The bound address, so `PORT` 0 (any free port) is useful too.
        println!(
            "listening on http://{}/",
            server.address().expect("listening")
        );
    });
    nodelike::run();
}
