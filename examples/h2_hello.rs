//! Hello world over HTTP/2: the same handler as `hello`, served by Node's
//! `http2` compatibility API. With CERT and KEY it is HTTPS with ALPN
//! (`h2`, and `http/1.1` beside it, Node's `allowHTTP1`); with `--h2c` it
//! is cleartext HTTP/2 with prior knowledge (and HTTP/1.1 on the same
//! port). Teaches: HTTP/2 is one more protocol under the same handles.
//! Guide: chapter 13.
//!
//! Run it:   cargo run --release --example h2_hello -- [PORT] [CERT KEY | --h2c]
//!           With neither, it makes a self-signed pair for `localhost`.
//! Poke it:  curl -k --http2 https://localhost:8443/
//!           curl --http2-prior-knowledge http://localhost:8443/   (with --h2c)
//! Load it:  h2load -c100 -m100 -n1000000 https://localhost:8443/
use nodelike::{http2, https};

fn main() {
    env_logger::init();
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(8443);
    let rest: Vec<String> = args.collect();
    let options = http2::ServerOptions {
        allow_http1: true,
        ..Default::default()
    };
    let handler = |_req: nodelike::http::IncomingMessage, res: nodelike::http::ServerResponse| {
        res.write_head(200, &[("Content-Type", "text/plain")]);
        res.end("Hello, World!");
    };
    let (server, scheme) = if rest.first().map(String::as_str) == Some("--h2c") {
        (http2::create_server(options, handler), "http")
    } else {
        let (cert, key) = match (rest.first(), rest.get(1)) {
            (Some(cert), Some(key)) => (read(cert), read(key)),
            _ => {
                let pair = rcgen::generate_simple_self_signed(vec![
                    "localhost".to_string(),
                    "127.0.0.1".to_string(),
                ])
                .expect("a self-signed certificate");
                eprintln!("no CERT KEY given: serving a self-signed certificate for localhost");
                (
                    pair.cert.pem().into_bytes(),
                    pair.key_pair.serialize_pem().into_bytes(),
                )
            }
        };
        let tls = https::ServerOptions {
            cert,
            key,
            ..Default::default()
        };
        match http2::create_secure_server(tls, options, handler) {
            Ok(s) => (s, "https"),
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(2);
            }
        }
    };
    server.listen(port, "127.0.0.1", move || {
        println!(
            "listening on {scheme}://{}/",
            server.address().expect("listening")
        );
    });
    nodelike::run();
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| {
        eprintln!("error: cannot read {path}: {e}");
        std::process::exit(2);
    })
}
