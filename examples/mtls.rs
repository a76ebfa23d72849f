//! Mutual TLS: a server that requires a client certificate signed by CA and
//! answers with the certificate's subject. Teaches: `request_cert`, and
//! reading the peer's certificate the seed's way
//! (`req.connection().peer_certificate()`, `verify_peer()`).
//! Guide: chapter 9 (TLS as a transport).
//!
//! Run it:   cargo run --example mtls -- PORT CA CERT KEY      (PEM files)
//! Poke it:  curl --cacert CA --cert client.pem --key client.key https://localhost:PORT/
//!           (without --cert the handshake is refused)
use nodelike::https::{self, ServerOptions};

fn main() {
    env_logger::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [port, ca, cert, key] = &args[..] else {
        eprintln!("usage: mtls PORT CA CERT KEY");
        std::process::exit(2);
    };
    let port: u16 = port.parse().unwrap_or(8443);
    let options = ServerOptions {
        cert: read(cert),
        key: read(key),
        ca: Some(read(ca)),
        request_cert: true,
        reject_unauthorized: Some(true),
        ..Default::default()
    };
    let server = https::create_server(options, |req, res| {
        let socket = req.connection();
        match socket.peer_certificate() {
            Some(cert) => {
                let s = &cert.subject;
                res.end(format!(
                    "hello CN={} O={} OU={} (verified: {}, issued by {})\n",
                    s.cn.as_deref().unwrap_or(""),
                    s.o.as_deref().unwrap_or(""),
                    s.ou.as_deref().unwrap_or(""),
                    socket.verify_peer(),
                    cert.issuer.cn.as_deref().unwrap_or("")
                ));
            }
            None => {
                res.write_head(401, &[]);
                res.end("a client certificate is required\n");
            }
        }
    })
    .unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(2);
    });
    server.on_tls_client_error(|err, _socket| eprintln!("refused a client: {}", err.code()));
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
