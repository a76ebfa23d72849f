//! A static file server on `res.send_file`: files leave with `sendfile(2)`
//! (no copy through the process, nothing buffered for a slow client),
//! with `ETag`/`Last-Modified`, 304s, single byte ranges (206/416) and
//! HEAD, as the `send`/`serve-static` modules serve them for Express.
//! Teaches: `send_file_with` and answering its errors yourself; keeping a
//! URL inside a root. Guide: chapter 4.
//!
//! Run it:   cargo run --example file_server [PORT] [DIR] [--gzip]   (default: 8000 and .)
//! Poke it:  curl -i http://127.0.0.1:8000/Cargo.toml
//!           curl -s -r 0-99 http://127.0.0.1:8000/Cargo.toml
//!           curl -s http://127.0.0.1:8000/target/release/examples/hello | wc -c
//!
//! Every path that would leave DIR is refused with 403: `..` segments
//! (plain or percent-encoded), an encoded `/` or `\`, a NUL byte, and a
//! symbolic link that resolves outside DIR (`SendFileOptions::root`
//! resolves links on the worker pool and checks the result). A directory
//! is served by its `index.html`; `/dir` is redirected to `/dir/` first
//! (301), as `serve-static` does, so the page's relative links work.
//!
//! `--gzip` compresses what a client accepts compressed (br, gzip or
//! deflate, by `Accept-Encoding`): text, JSON, JS, SVG and other
//! compressible types of 1 KiB or more are read on the worker pool and
//! streamed through `http::compression` (`SendFileOptions::compression`);
//! everything else still leaves with `sendfile(2)`.
//!           curl -s --compressed -D - http://127.0.0.1:8000/README.md   (with --gzip)
//!
//! Cannot listen (a busy port, ...): `error: listen EADDRINUSE: ...` on
//! stderr and exit status 1.
use std::path::PathBuf;

use nodelike::http::{self, CompressionOptions, SendFileOptions, ServerResponse};

fn main() {
    env_logger::init();
    let mut positional = Vec::new();
    let mut gzip = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--gzip" => gzip = true,
            _ => positional.push(arg),
        }
    }
    let mut positional = positional.into_iter();
    let port: u16 = positional
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8000);
    let root = PathBuf::from(positional.next().unwrap_or_else(|| ".".into()));
    eprintln!("serving {}", root.display());
    let server = http::create_server(move |req, res| {
        let url = nodelike::url::parse(&req.url(), false);
        let pathname = url.pathname.unwrap_or_else(|| "/".into());
        let Some(relative) = relative_path(&pathname) else {
            return send_error(res, 403, "forbidden\n");
        };
        // `/dir` is a directory's page only as `/dir/`: without the slash
        // its relative links would resolve against the parent. So a path
        // without one gets no index, and a directory there is redirected.
        let options = SendFileOptions {
            root: Some(root.clone()),
            index: pathname.ends_with('/').then(|| "index.html".to_owned()),
            compression: gzip.then(CompressionOptions::default),
            ..SendFileOptions::default()
        };
        let search = url.search.unwrap_or_default();
        res.send_file_with(relative, options, move |result| {
            let Err(e) = result else { return };
            if res.headers_sent() {
                return; // cut short mid-body: the connection is gone
            }
            if e.code() == "EISDIR" && !pathname.ends_with('/') {
                let location = format!("{pathname}/{search}");
                res.write_head(301, &[("Location", location.as_str())]);
                return res.end(());
            }
            match e.status() {
                Some(405) => {
                    res.write_head(405, &[("Allow", "GET, HEAD")]);
                    res.end(())
                }
                Some(403) => send_error(res, 403, "forbidden\n"),
                Some(404) => send_error(res, 404, "not found\n"),
                _ => {
                    eprintln!("{e}");
                    send_error(res, 500, "internal error\n")
                }
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
    nodelike::run();
}

/// The URL's path as a path under the root, or `None` if it tries to
/// leave it. Checked on the encoded form (an encoded `/` or `\` would make
/// one segment two) and on the decoded one (`..`, `.`, NUL); the symbolic
/// links are `SendFileOptions::root`'s to check.
fn relative_path(pathname: &str) -> Option<String> {
    let lower = pathname.to_ascii_lowercase();
    if lower.contains("%2f") || lower.contains("%5c") || pathname.contains('\\') {
        return None;
    }
    let decoded = nodelike::querystring::unescape(pathname);
    if decoded.contains('\0') || decoded.contains('\\') {
        return None;
    }
    let mut parts = Vec::new();
    for segment in decoded.split('/') {
        match segment {
            "" => {}
            "." | ".." => return None,
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

fn send_error(res: ServerResponse, status: u16, body: &str) {
    res.write_head(status, &[("Content-Type", "text/plain")]);
    res.end(body);
}
