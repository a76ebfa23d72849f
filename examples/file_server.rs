//! A static file server that streams: each file goes out in 64 KiB pieces,
//! the next piece only after `drain` says the previous ones left, so a slow
//! client never makes the server hold a whole file in memory.
//! Teaches: back-pressure on a stream you produce (`write` → `false`,
//! `drain`). Guide: chapter 4.
//!
//! Run it:   cargo run --example file_server [PORT] [DIR]   (default: 8000 and .)
//! Poke it:  curl -i http://127.0.0.1:8000/Cargo.toml
//!           curl -s http://127.0.0.1:8000/target/release/examples/hello | wc -c
//!
//! File reads here are blocking `std::fs` calls: fine for local files and
//! an example, the way Node's `fs.readSync` would be.
//!
//! Cannot listen (a busy port, ...): `error: listen EADDRINUSE: ...` on
//! stderr and exit status 1.
use std::cell::RefCell;
use std::fs::File;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use nodelike::http::{self, ServerResponse};

fn main() {
    env_logger::init();
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(8000);
    let root = PathBuf::from(args.next().unwrap_or_else(|| ".".into()));
    eprintln!("serving {}", root.display());
    let server = http::create_server(move |req, res| {
        let url = nodelike::url::parse(&req.url(), false);
        let path = url.pathname.unwrap_or_else(|| "/".into());
        let decoded = nodelike::querystring::unescape(&path);
        // Refuse `..` and anything that would leave the root.
        let relative = Path::new(decoded.trim_start_matches('/'));
        if relative
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
            && !decoded.eq("/")
        {
            return send_error(res, 403, "forbidden\n");
        }
        let full = root.join(relative);
        let file = match File::open(&full) {
            Ok(f) if full.is_file() => f,
            _ => return send_error(res, 404, "not found\n"),
        };
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        res.write_head(
            200,
            &[
                ("Content-Type", content_type(&full)),
                ("Content-Length", &len.to_string()),
            ],
        );
        if req.method() == "HEAD" {
            res.end(());
            return;
        }
        let file = Rc::new(RefCell::new(file));
        pump(res, file.clone());
        res.on_drain(move || pump(res, file.clone()));
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

/// Writes pieces of the file until `write` asks us to wait (`false`) or the
/// file ends.
fn pump(res: ServerResponse, file: Rc<RefCell<File>>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match file.borrow_mut().read(&mut buf) {
            Ok(0) => return res.end(()),
            Ok(n) => {
                if !res.write(&buf[..n]) {
                    return; // resumed by `drain`
                }
            }
            Err(e) => {
                eprintln!("read error: {e}");
                return res.connection().destroy();
            }
        }
    }
}

fn send_error(res: ServerResponse, status: u16, body: &str) {
    res.write_head(status, &[("Content-Type", "text/plain")]);
    res.end(body);
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("txt" | "md" | "toml" | "rs") => "text/plain; charset=utf-8",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("js") => "text/javascript",
        Some("css") => "text/css",
        _ => "application/octet-stream",
    }
}
