//! `http::get` from the command line: the status code, the response headers
//! (one `name: value` line per value), an empty line, then the body bytes
//! exactly as received. Trailers go to stderr as `trailer <name>: <value>`.
//! On any error: `error: <message>` on stderr and exit status 1.
//! Teaches: the client, its events and errors with Node's codes. Guide:
//! chapter 7.
//!
//! Run it:   cargo run --example get -- http://127.0.0.1:8000/
//!           (with `cargo run --example echo` serving in another terminal)
use std::cell::Cell;
use std::io::Write;
use std::rc::Rc;

use nodelike::http;

fn main() {
    env_logger::init();
    let Some(url) = std::env::args().nth(1) else {
        eprintln!("usage: get URL");
        std::process::exit(2);
    };
    let failed = Rc::new(Cell::new(false));
    let f = failed.clone();
    http::get(url.as_str(), |res| {
        let mut head = format!("{}\n", res.status_code());
        for (name, value) in res.headers().iter() {
            for v in value.iter() {
                head.push_str(&format!("{name}: {v}\n"));
            }
        }
        head.push('\n');
        let _ = std::io::stdout().write_all(head.as_bytes());
        res.on_data(|chunk| {
            let _ = std::io::stdout().write_all(&chunk);
        });
        res.on_end(move || {
            let _ = std::io::stdout().flush();
            for (name, value) in res.trailers().iter() {
                for v in value.iter() {
                    eprintln!("trailer {name}: {v}");
                }
            }
        });
    })
    .on_error(move |e| {
        eprintln!("error: {e}");
        f.set(true);
    });
    nodelike::run();
    if failed.get() {
        std::process::exit(1);
    }
}
