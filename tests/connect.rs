//! CONNECT both ways over real sockets (issue 18 §2): a tunnelling proxy
//! written with `server.on_connect` and `net::connect`, crossed by Node's
//! `https` client to our HTTPS server; our `req.on_connect` through Node's
//! own proxy and through ours; a proxy's refusal as an ordinary response;
//! and a server without a `connect` listener closing the connection.

mod common;

use std::cell::{Cell, RefCell};
use std::io::Read;
use std::process::Command;
use std::rc::Rc;

use common::{exchange_until_close, have, ChildGuard, TestServer};
use nodelike::http::{self, RequestOptions, Server};
use nodelike::net;

/// A tunnelling proxy written with this crate's API: `CONNECT host:port`
/// opens `net::connect(port, host)` and pipes bytes both ways. Port 1 is
/// refused with a 407 (written and ended on the handed-over socket without
/// `Connection: close`, as Node proxies often do); a target that cannot be
/// reached gets a 502.
fn proxy() -> Server {
    let server = http::create_server(|_req, res| {
        res.write_head(405, &[]);
        res.end("CONNECT only");
    });
    server.on_connect(|req, client, head| {
        let url = req.url();
        let Some((host, port)) = url.rsplit_once(':') else {
            client.destroy();
            return;
        };
        let port: u16 = port.parse().unwrap_or(0);
        if port == 1 {
            client
                .end("HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 4\r\n\r\nwho?");
            return;
        }
        let connected = Rc::new(Cell::new(false));
        let up = connected.clone();
        let upstream = net::connect(port, host, move || {
            up.set(true);
            client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
        });
        // A failed connect is an `error`, then `close(true)` (below).
        upstream.on_error(|e| log::debug!("upstream: {e}"));
        upstream.write(head);
        upstream.on_data(move |chunk| {
            client.write(chunk);
        });
        client.on_data(move |chunk| {
            upstream.write(chunk);
        });
        upstream.on_end(move || client.end(()));
        client.on_end(move || upstream.end(()));
        upstream.on_close(move |had_error| {
            if !connected.get() {
                client.end(
                    "HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
                );
            } else if had_error {
                client.destroy();
            }
        });
        client.on_close(move |_| upstream.destroy());
    });
    server
}

/// A plain HTTP server that says what it was asked.
fn target() -> TestServer {
    TestServer::start(|| {
        http::create_server(|req, res| {
            res.end(format!("hello through the tunnel, {}", req.url()));
        })
    })
}

/// Our client: `CONNECT` through the proxy at `proxy_port` to
/// `127.0.0.1:target_port`, then a GET written into the tunnel. Returns
/// what happened, in order, once the loop has nothing left to do.
fn tunnel_get(proxy_port: u16, target: &str) -> Vec<String> {
    let events = Rc::new(RefCell::new(Vec::new()));
    let ev = events.clone();
    let req = http::request(
        RequestOptions {
            host: "127.0.0.1".into(),
            port: proxy_port,
            method: "CONNECT".into(),
            path: target.into(),
            ..Default::default()
        },
        move |res| {
            ev.borrow_mut()
                .push(format!("response {}", res.status_code()));
            let body = Rc::new(RefCell::new(String::new()));
            let b = body.clone();
            res.on_data(move |c| b.borrow_mut().push_str(&c.to_string()));
            let ev = ev.clone();
            res.on_end(move || ev.borrow_mut().push(format!("body {}", body.borrow())));
        },
    );
    let guard = nodelike::set_timeout(|| panic!("the tunnel stalled"), 20_000);
    let tunnel = Rc::new(Cell::new(false));
    let t = tunnel.clone();
    let ev = events.clone();
    req.on_connect(move |res, socket, head| {
        t.set(true);
        ev.borrow_mut()
            .push(format!("connect {} head={}", res.status_code(), head.len()));
        // The tunnel's socket left the agent: nothing in use, nothing
        // pooled.
        let agent = http::get_agent("127.0.0.1", proxy_port);
        ev.borrow_mut().push(format!(
            "agent {} in use, {} idle",
            agent.sockets(),
            agent.idle_sockets()
        ));
        socket.write("GET /secret HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let answer = Rc::new(RefCell::new(String::new()));
        let a = answer.clone();
        socket.on_data(move |c| a.borrow_mut().push_str(&c.to_string()));
        socket.on_end(move || socket.end(()));
        let ev = ev.clone();
        socket.on_close(move |_| {
            let answer = answer.borrow();
            let status = answer.lines().next().unwrap_or_default().to_string();
            let body = answer.rsplit("\r\n\r\n").next().unwrap_or_default();
            ev.borrow_mut().push(format!("tunnel {status} | {body}"));
            nodelike::clear_timeout(guard);
        });
    });
    let ev = events.clone();
    req.on_error(move |e| ev.borrow_mut().push(format!("error {}", e.code())));
    let ev = events.clone();
    req.on_close(move || {
        ev.borrow_mut().push("close".into());
        if !tunnel.get() {
            nodelike::clear_timeout(guard);
        }
    });
    req.end(());
    nodelike::run();
    let out = events.borrow().clone();
    out
}

#[test]
fn our_client_tunnels_through_our_proxy_to_our_server() {
    let target = target();
    let p = TestServer::start(proxy);
    let events = tunnel_get(p.port(), &format!("127.0.0.1:{}", target.port()));
    assert_eq!(
        events,
        [
            "connect 200 head=0",
            "agent 0 in use, 0 idle",
            "close",
            "tunnel HTTP/1.1 200 OK | hello through the tunnel, /secret",
        ]
    );
    p.stop();
    target.stop();
}

#[test]
fn a_refused_connect_is_an_ordinary_response() {
    let p = TestServer::start(proxy);
    // The proxy refuses (407): a response with its body, no tunnel.
    let events = tunnel_get(p.port(), "127.0.0.1:1");
    assert_eq!(events, ["response 407", "body who?", "close"]);
    // Its socket is not pooled: the next CONNECT gets a fresh one.
    assert_eq!(http::get_agent("127.0.0.1", p.port()).idle_sockets(), 0);
    // The target cannot be reached: `net::connect`'s socket closes with an
    // error before it connected, and the proxy answers 502.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let events = tunnel_get(p.port(), &format!("127.0.0.1:{port}"));
    assert_eq!(events, ["response 502", "body ", "close"]);
    p.stop();
}

#[test]
fn connect_goes_to_neither_request_nor_upgrade_and_is_closed_without_a_listener() {
    let s = TestServer::start(|| {
        let server = http::create_server(|_req, res| {
            res.end("the request listener answered");
        });
        server.on_upgrade(|_req, socket, _head| {
            socket.end("HTTP/1.1 101 Switching Protocols\r\n\r\nthe upgrade listener answered");
        });
        server
    });
    let raw = exchange_until_close(
        s.port(),
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    );
    assert!(
        raw.is_empty(),
        "no response, just a close: {:?}",
        String::from_utf8_lossy(&raw)
    );
    s.stop();
}

#[test]
fn our_client_tunnels_through_nodes_proxy() {
    if !have("node") {
        eprintln!("skipping: node is not installed");
        return;
    }
    let target = target();
    let script = r#"
const http = require('http');
const net = require('net');
const proxy = http.createServer((req, res) => { res.writeHead(405); res.end(); });
proxy.on('connect', (req, client, head) => {
  const i = req.url.lastIndexOf(':');
  const upstream = net.connect(+req.url.slice(i + 1), req.url.slice(0, i), () => {
    client.write('HTTP/1.1 200 Connection Established\r\nProxy-Agent: node\r\n\r\n');
    upstream.write(head);
    upstream.pipe(client);
    client.pipe(upstream);
  });
  upstream.on('error', () => client.destroy());
  client.on('error', () => upstream.destroy());
});
proxy.listen(0, '127.0.0.1', () => { console.log(proxy.address().port); });
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
"#;
    let mut node = ChildGuard::spawn(
        Command::new("node")
            .arg("-e")
            .arg(script)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped()),
    )
    .expect("node runs");
    let mut line = String::new();
    let mut out = node.stdout.take().unwrap();
    let mut byte = [0u8; 1];
    while !line.ends_with('\n') {
        assert_eq!(out.read(&mut byte).unwrap(), 1, "node exited early");
        line.push(byte[0] as char);
    }
    let proxy_port: u16 = line.trim().parse().unwrap();
    let events = tunnel_get(proxy_port, &format!("127.0.0.1:{}", target.port()));
    drop(node.stdin.take());
    drop(node);
    assert_eq!(
        events,
        [
            "connect 200 head=0",
            "agent 0 in use, 0 idle",
            "close",
            "tunnel HTTP/1.1 200 OK | hello through the tunnel, /secret",
        ]
    );
    target.stop();
}

#[cfg(feature = "tls")]
#[test]
fn nodes_https_client_tunnels_through_our_proxy_to_our_https_server() {
    use common::pki::pki;
    use nodelike::https::{self, ServerOptions};
    if !have("node") {
        eprintln!("skipping: node is not installed");
        return;
    }
    let p = pki();
    let options = ServerOptions {
        cert: p.server_cert.clone().into_bytes(),
        key: p.server_key.clone().into_bytes(),
        ..Default::default()
    };
    let secure = TestServer::start(move || {
        https::create_server(options, |req, res| {
            let encrypted = req.connection().encrypted();
            res.end(format!("secret {} (encrypted: {encrypted})", req.url()));
        })
        .expect("a usable certificate")
    });
    let proxy = TestServer::start(proxy);
    let script = format!(
        r#"
const http = require('http');
const https = require('https');
const fs = require('fs');
setTimeout(() => {{ console.log('timeout'); process.exit(2); }}, 15000).unref();
const req = http.request({{ host: '127.0.0.1', port: {proxy}, method: 'CONNECT', path: 'localhost:{secure}' }});
req.on('connect', (res, socket, head) => {{
  console.log('connect ' + res.statusCode);
  https.get({{ host: 'localhost', path: '/vault', socket, servername: 'localhost', agent: false,
    ca: fs.readFileSync({ca:?}) }}, (r) => {{
    let body = '';
    r.setEncoding('utf8');
    r.on('data', (c) => body += c);
    r.on('end', () => {{ console.log(r.statusCode + ' ' + body); process.exit(0); }});
  }}).on('error', (e) => {{ console.log('https error ' + e.code + ' ' + e.message); process.exit(1); }});
}});
req.on('response', (res) => {{ console.log('response ' + res.statusCode); process.exit(1); }});
req.on('error', (e) => {{ console.log('proxy error ' + e.code); process.exit(1); }});
req.end();
"#,
        proxy = proxy.port(),
        secure = secure.port(),
        ca = p.path("ca.pem"),
    );
    let out = Command::new("node")
        .arg("-e")
        .arg(&script)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.trim(),
        "connect 200\n200 secret /vault (encrypted: true)",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    proxy.stop();
    secure.stop();
}
