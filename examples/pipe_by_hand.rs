//! What `pipe` does, written out: one server with two echoes, `/pipe`
//! (`req.pipe(res)`) and `/hand` (the same pump by hand: `write` until it
//! says `false`, `pause`, `resume` on `drain`, `end` on `end`). Both send
//! every byte back with the same back-pressure; `benches/pipe_cost.py`
//! measures that the first costs nothing over the second.
//! Teaches: what a pipe is made of. Guide: chapter 11 (streams).
//!
//! Run it:   cargo run --release --example pipe_by_hand [PORT]   (default 8000)
//! Poke it:  curl --data-binary @Cargo.toml http://127.0.0.1:8000/pipe
//!           curl --data-binary @Cargo.toml http://127.0.0.1:8000/hand
//!
//! Stop it:  Ctrl-C (SIGINT) or SIGTERM: the server closes and `run`
//!           returns once the requests in flight are answered.
use nodelike::http;
use nodelike::process::{self, Signal};
use nodelike::stream::Readable;

fn main() {
    env_logger::init();
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(8000);
    let server = http::create_server(|req, res| {
        if req.url() == "/hand" {
            // The pump `pipe` is: a full response pauses the request...
            req.on_data(move |chunk| {
                if !res.write(chunk) {
                    req.pause();
                }
            });
            // ...its `drain` resumes it, and the request's end ends it.
            res.on_drain(move || req.resume());
            req.on_end(move || res.end(()));
        } else {
            req.pipe(res);
        }
    });
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
    for signal in [Signal::Term, Signal::Int] {
        let _ = process::on_signal(signal, move |_| server.close());
    }
    nodelike::run();
}
