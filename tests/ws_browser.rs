//! A real browser against `nodelike::ws`: Debian's `chromium`, headless,
//! loads a page from an `http::Server` whose attached `ws::WebSocketServer`
//! (permessage-deflate on) echoes every message. The page
//! (`tests/peers/browser/echo.html`) sends 1,000 messages of many sizes,
//! text and binary, checks each echo, closes with 4321, and POSTs what it
//! saw back to the same server; the test asserts that, and what the server
//! saw.
//!
//! The test installs chromium with apt-get when it is missing (as CI does
//! for its other peers); if that fails it says why and fails.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use common::browser::{chromium, Browser};
use nodelike::{http, ws};

const PAGE: &str = include_str!("peers/browser/echo.html");

fn parse(body: &str) -> HashMap<String, String> {
    body.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[test]
fn chromium_echoes_a_thousand_messages_with_permessage_deflate() {
    chromium();
    let _ = env_logger::builder().is_test(true).try_init();
    let (port_tx, port_rx) = mpsc::channel();
    let (result_tx, result_rx) = mpsc::channel::<String>();
    let server_saw: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let (saw, flag) = (server_saw.clone(), stop.clone());
    let thread = std::thread::spawn(move || {
        let server = http::create_server(move |req, res| {
            match (req.method().as_str(), req.url().as_str()) {
                ("GET", "/") => {
                    res.write_head(200, &[("Content-Type", "text/html; charset=utf-8")]);
                    res.end(PAGE);
                }
                ("POST", "/result") => {
                    let body = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
                    let b = body.clone();
                    req.on_data(move |chunk| b.borrow_mut().extend_from_slice(&chunk));
                    let tx = result_tx.clone();
                    req.on_end(move || {
                        let _ = tx.send(String::from_utf8_lossy(&body.borrow()).into_owned());
                        res.write_head(204, &[]);
                        res.end(());
                    });
                }
                _ => {
                    res.write_head(404, &[("Content-Type", "text/plain")]);
                    res.end("not found\n");
                }
            }
        });
        let wss = ws::WebSocketServer::new(ws::ServerOptions {
            server: Some(server),
            path: Some("/ws".into()),
            per_message_deflate: Some(ws::PerMessageDeflate::default()),
            ..Default::default()
        });
        wss.on_connection(move |socket: ws::WebSocket, _req: &http::IncomingMessage| {
            saw.lock()
                .unwrap()
                .push(format!("connection extensions={}", socket.extensions()));
            let (w, count) = (socket, std::rc::Rc::new(std::cell::Cell::new(0)));
            socket.on_message(move |data: &[u8], is_binary: bool| {
                count.set(count.get() + 1);
                if !w.send_with(
                    data.to_vec(),
                    ws::SendOptions {
                        binary: Some(is_binary),
                        compress: None,
                        fin: true,
                    },
                    None,
                ) {
                    w.pause();
                }
            });
            let w = socket;
            socket.on_drain(move || w.resume());
            let saw = saw.clone();
            socket.on_close(move |code: u16, reason: &str| {
                saw.lock().unwrap().push(format!("close {code} {reason}"))
            });
        });
        server.listen(0, "127.0.0.1", || {});
        port_tx.send(server.address().unwrap().port()).unwrap();
        let ticker = std::rc::Rc::new(std::cell::Cell::new(None));
        let t2 = ticker.clone();
        ticker.set(Some(nodelike::set_interval(
            move || {
                if flag.load(Ordering::SeqCst) {
                    for c in wss.clients() {
                        c.terminate();
                    }
                    wss.close();
                    server.close();
                    nodelike::clear_interval(t2.get().unwrap());
                }
            },
            5,
        )));
        nodelike::run();
    });
    let port: u16 = port_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("server");

    let browser = Browser::open(&format!("http://127.0.0.1:{port}/"));
    let body = result_rx
        .recv_timeout(Duration::from_secs(180))
        .expect("the page posted its result (chromium ran the page)");
    drop(browser);
    let result = parse(&body);
    let get = |k: &str| result.get(k).map(String::as_str).unwrap_or("?");
    assert_eq!(get("sent"), "1000", "{body}");
    assert_eq!(get("received"), "1000", "{body}");
    assert_eq!(get("text"), "500", "{body}");
    assert_eq!(get("binary"), "500", "{body}");
    assert_eq!(get("mismatches"), "0", "{body}");
    assert_eq!(get("errors"), "0", "{body}");
    assert!(
        get("extensions").starts_with("permessage-deflate"),
        "the browser negotiated no permessage-deflate: {body}"
    );
    assert_eq!(get("close"), "4321", "{body}");
    assert_eq!(get("reason"), "browser done", "{body}");
    assert_eq!(get("clean"), "true", "{body}");

    stop.store(true, Ordering::SeqCst);
    thread.join().expect("server thread");
    let saw = server_saw.lock().unwrap().clone();
    assert_eq!(saw.len(), 2, "{saw:?}");
    assert!(
        saw[0].starts_with("connection extensions=permessage-deflate"),
        "{saw:?}"
    );
    assert_eq!(saw[1], "close 4321 browser done");
}
