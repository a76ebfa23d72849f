//! A chat room over WebSocket: an HTML page at `/` whose script connects to
//! `/chat`, and a `ws::WebSocketServer` attached to the same `http::Server`
//! that broadcasts each message to every client (`wss.clients()`), like
//! the npm `ws` package's broadcast recipe.
//! Teaches: a WebSocket server sharing a port with plain HTTP (`server` +
//! `path`), broadcasting, per-connection state in closures, limits a
//! public server needs (`max_payload`, a client that reads too slowly is
//! dropped rather than buffered for, `heartbeat` for dead peers). Guide:
//! chapters 3 (a server) and 4 (back-pressure).
//!
//! Run it:   cargo run --example ws_chat [PORT]      (default 8080)
//! Use it:   open http://127.0.0.1:8080/ in two browser tabs and talk
//! Poke it:  node -e "const W=require('ws'); const w=new W('ws://127.0.0.1:8080/chat');
//!             w.on('message', m => console.log(String(m))); w.on('open', () => w.send('hi'))"
//!
//! Each line a client sends reaches everyone as `guest-N: line`; joins and
//! leaves are announced as `* guest-N joined (2 online)`. Binary messages
//! are refused (close 1003), messages over 4 KiB end the connection (close
//! 1009).
//!
//! Cannot listen (a busy port, ...): `error: listen EADDRINUSE: ...` on
//! stderr and exit status 1.
use std::cell::Cell;
use std::rc::Rc;

use nodelike::{http, ws};

/// A client this far behind (bytes queued to it) is dropped: a reader that
/// stalls must not make the server hold everyone's messages for it.
const SLOW_CLIENT: usize = 1 << 20;

const PAGE: &str = r#"<!doctype html>
<meta charset="utf-8">
<title>nodelike chat</title>
<style>
  body { font: 16px system-ui, sans-serif; max-width: 40em; margin: 2em auto; }
  #log { height: 60vh; overflow-y: auto; border: 1px solid #ccc; padding: .5em; white-space: pre-wrap; }
  form { display: flex; gap: .5em; margin-top: .5em; } input { flex: 1; }
</style>
<h1>nodelike chat</h1>
<div id="log"></div>
<form id="form"><input id="text" autocomplete="off" placeholder="say something" autofocus><button>Send</button></form>
<script>
  const log = document.getElementById('log');
  const show = (line) => {
    log.textContent += line + '\n';
    log.scrollTop = log.scrollHeight;
  };
  const ws = new WebSocket(`ws://${location.host}/chat`);
  ws.onopen = () => show('* connected');
  ws.onmessage = (e) => show(e.data);
  ws.onclose = (e) => show(`* disconnected (${e.code}${e.reason ? ' ' + e.reason : ''})`);
  document.getElementById('form').onsubmit = (e) => {
    e.preventDefault();
    const text = document.getElementById('text');
    if (text.value && ws.readyState === WebSocket.OPEN) ws.send(text.value);
    text.value = '';
  };
</script>
"#;

/// How many clients are open (a closing one is still in `clients()`).
fn online(wss: &ws::WebSocketServer) -> usize {
    wss.clients()
        .iter()
        .filter(|c| c.ready_state() == ws::ReadyState::Open)
        .count()
}

/// Sends `line` to every open client, dropping those too far behind.
fn broadcast(wss: &ws::WebSocketServer, line: &str) {
    for client in wss.clients() {
        if client.ready_state() != ws::ReadyState::Open {
            continue;
        }
        if client.buffered_amount() > SLOW_CLIENT {
            client.terminate();
            continue;
        }
        client.send(line);
    }
}

fn main() {
    env_logger::init();
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080);
    let server = http::create_server(|req, res| {
        if req.method() == "GET" && req.url() == "/" {
            res.write_head(200, &[("Content-Type", "text/html; charset=utf-8")]);
            res.end(PAGE);
        } else {
            res.write_head(404, &[("Content-Type", "text/plain")]);
            res.end("not found: the chat is at /\n");
        }
    });
    let wss = ws::WebSocketServer::new(ws::ServerOptions {
        server: Some(server),
        path: Some("/chat".into()),
        max_payload: 4096,
        ..Default::default()
    });
    let next_guest = Rc::new(Cell::new(1u64));
    // Handles are `Copy`: `wss` is moved into its own listener as is.
    let room = wss;
    wss.on_connection(move |client: ws::WebSocket, _req: &http::IncomingMessage| {
        let name = format!("guest-{}", next_guest.get());
        next_guest.set(next_guest.get() + 1);
        // Pings every 30 s; a peer that has not answered the previous one
        // is gone (a laptop closed, a network dropped): terminate it.
        client.heartbeat(30_000);
        broadcast(
            &room,
            &format!("* {name} joined ({} online)", online(&room)),
        );

        let (r, n, c) = (room, name.clone(), client);
        client.on_message(move |data: &[u8], is_binary: bool| {
            if is_binary {
                c.close(Some(1003), "text only");
                return;
            }
            // Text messages are valid UTF-8 (the library checked).
            let text = std::str::from_utf8(data).unwrap_or_default();
            broadcast(&r, &format!("{n}: {text}"));
        });
        let (r, n) = (room, name.clone());
        client.on_close(move |_code: u16, _reason: &str| {
            broadcast(&r, &format!("* {n} left ({} online)", online(&r)));
        });
        client.on_error(move |e: &nodelike::Error| eprintln!("{name}: {e}"));
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
    nodelike::run();
}
