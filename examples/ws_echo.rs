//! A WebSocket echo server: every message comes back with its type (text
//! or binary), and a close is answered with the same code. permessage-
//! deflate is offered, so browsers and Autobahn|Testsuite negotiate it.
//! Teaches: `ws::WebSocketServer` on its own port, `on_message`,
//! `send_with` keeping the message's type, and what the close handshake
//! does by itself. Guide: chapter 12 (WebSocket).
//!
//! Run it:   cargo run --release --example ws_echo [PORT]      (default 8080)
//! Poke it:  node -e "const W=require('ws');const w=new W('ws://127.0.0.1:8080');\
//!             w.on('open',()=>w.send('hi'));w.on('message',m=>{console.log(''+m);w.close()})"
//!
//! It prints `listening on ws://127.0.0.1:PORT` once listening (scripts
//! read the port from it); a SIGTERM or SIGINT closes it.
//!
//! Cannot listen (a busy port, ...): `error: listen EADDRINUSE: ...` on
//! stderr and exit status 1.
use nodelike::process::{self, Signal};
use nodelike::ws::{self, PerMessageDeflate, SendOptions};

fn main() {
    env_logger::init();
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080);
    let wss = ws::WebSocketServer::new(ws::ServerOptions {
        port: Some(port),
        host: Some("127.0.0.1".into()),
        per_message_deflate: Some(PerMessageDeflate::default()),
        ..Default::default()
    });
    wss.on_connection(|ws, _req| {
        // A peer breaking the protocol is its own business: the log says
        // so (the connection is already failed with the right close code).
        ws.on_error(|e| log::debug!("client: {}: {e}", e.code()));
        let echo = ws;
        ws.on_message(move |data, is_binary| {
            let options = SendOptions {
                binary: Some(is_binary),
                ..Default::default()
            };
            echo.send_with(data, options, None);
        });
    });
    wss.on_error(|e| {
        eprintln!("error: {e}");
        std::process::exit(1);
    });
    wss.on_listening(move || {
        let address = wss.address().expect("listening");
        println!("listening on ws://{address}");
    });
    for signal in [Signal::Term, Signal::Int] {
        let _ = process::on_signal(signal, move |_| {
            for client in wss.clients() {
                client.close(Some(1001), "server going away");
            }
            wss.close();
        });
    }
    nodelike::run();
}
