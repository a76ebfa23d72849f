//! Hello world over HTTPS: the same handler as `hello`, the TLS transport
//! under it. Teaches: TLS is one more transport under the same HTTP code
//! (guide: TLS as a transport).
//! Guide: chapter 9.
//!
//! Run it:   cargo run --release --example https_hello -- [PORT] [CERT KEY]
//!           With no CERT/KEY (PEM files) it makes a self-signed pair for
//!           `localhost` and says so.
//! Poke it:  curl -k https://localhost:8443/
//! Load it:  wrk -t1 -c50 -d5s https://localhost:8443/
use nodelike::https::{self, ServerOptions};

fn main() {
    env_logger::init();
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(8443);
    let (cert, key) = match (args.next(), args.next()) {
        (Some(cert), Some(key)) => (read(&cert), read(&key)),
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
    let options = ServerOptions {
        cert,
        key,
        ..Default::default()
    };
    let server = match https::create_server(options, |_req, res| {
        res.write_head(200, &[("Content-Type", "text/plain")]);
        res.end("Hello, World!");
    }) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    server.listen(port, "127.0.0.1", move || {
        println!(
            "listening on https://{}/",
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
