//! `nodelike::ws` as a user sees it, our client against our server in one
//! loop (and raw TCP peers where a well-behaved client cannot show the
//! behaviour): the events in order, the close handshake's codes, the three
//! server modes, subprotocols, `verify_client`, pause and resume,
//! fragmentation, permessage-deflate, `terminate`, the heartbeat, the
//! handshake timeout, `create_web_socket_stream` and `wss://`.
//!
//! Interop with peers no one here wrote (Node's `ws`, a browser,
//! Autobahn|Testsuite) is in `ws_interop.rs`, `ws_browser.rs` and
//! `ws_autobahn.rs`. Each test runs its own loop on its own thread; no
//! assertion is about timing.

mod common;

use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::rc::Rc;

use nodelike::http;
use nodelike::stream::Readable;
use nodelike::ws::{
    self, ClientOptions, PerMessageDeflate, ReadyState, SendOptions, ServerOptions, WebSocket,
    WebSocketServer,
};

type Log = Rc<RefCell<Vec<String>>>;

fn log() -> Log {
    Rc::new(RefCell::new(Vec::new()))
}

fn push(log: &Log, event: impl Into<String>) {
    log.borrow_mut().push(event.into());
}

/// Runs `setup` on a fresh thread's loop until the loop has nothing left,
/// and returns what it logged.
fn in_loop(setup: impl FnOnce(Log) + Send + 'static) -> Vec<String> {
    std::thread::spawn(move || {
        let log = log();
        setup(log.clone());
        nodelike::run();
        let out = log.borrow().clone();
        out
    })
    .join()
    .expect("the loop thread")
}

/// An echo server on a free port (its own HTTP server), with `options`;
/// `then` gets the port once it listens.
fn echo_server(options: ServerOptions, then: impl FnOnce(WebSocketServer, u16) + 'static) {
    let wss = WebSocketServer::new(ServerOptions {
        port: Some(0),
        host: Some("127.0.0.1".into()),
        ..options
    });
    wss.on_connection(|ws, _req| {
        let echo = ws;
        ws.on_message(move |data, is_binary| {
            echo.send_with(
                data,
                SendOptions {
                    binary: Some(is_binary),
                    ..Default::default()
                },
                None,
            );
        });
    });
    let mut then = Some(then);
    wss.on_listening(move || {
        let port = wss.address().expect("listening").port();
        if let Some(f) = then.take() {
            f(wss, port);
        }
    });
}

fn url(port: u16) -> String {
    format!("ws://127.0.0.1:{port}/")
}

#[test]
fn a_client_and_a_server_trade_messages_pings_and_the_close_codes() {
    let events = in_loop(|log| {
        let l = log.clone();
        let wss = WebSocketServer::new(ServerOptions {
            port: Some(0),
            host: Some("127.0.0.1".into()),
            ..Default::default()
        });
        wss.on_connection(move |ws, req| {
            push(&l, format!("server connection {}", req.url()));
            let l2 = l.clone();
            ws.on_message(move |data, is_binary| {
                push(
                    &l2,
                    format!(
                        "server message {:?} {is_binary}",
                        String::from_utf8_lossy(data)
                    ),
                );
                ws.send_with(
                    data,
                    SendOptions {
                        binary: Some(is_binary),
                        ..Default::default()
                    },
                    None,
                );
            });
            let l2 = l.clone();
            ws.on_ping(move |p| push(&l2, format!("server ping {:?}", String::from_utf8_lossy(p))));
            let l2 = l.clone();
            ws.on_close(move |code, reason| {
                push(&l2, format!("server close {code} {reason}"));
                wss.close();
            });
        });
        let l = log.clone();
        wss.on_listening(move || {
            let port = wss.address().unwrap().port();
            let ws = WebSocket::connect(
                &format!("ws://127.0.0.1:{port}/room?x=1"),
                ClientOptions::default(),
            );
            assert_eq!(ws.ready_state(), ReadyState::Connecting);
            let l2 = l.clone();
            ws.on_open(move || {
                push(&l2, format!("client open {}", ws.ready_state()));
                ws.send("héllo");
                ws.send(&[0u8, 1, 2][..]);
                ws.send("");
                ws.ping("p1");
            });
            let l2 = l.clone();
            let mut seen = 0;
            ws.on_message(move |data, is_binary| {
                push(&l2, format!("client message {data:?} {is_binary}"));
                seen += 1;
                if seen == 3 {
                    ws.close(Some(4001), "bye now");
                    assert_eq!(ws.ready_state(), ReadyState::Closing);
                }
            });
            let l2 = l.clone();
            ws.on_pong(move |p| push(&l2, format!("client pong {:?}", String::from_utf8_lossy(p))));
            let l2 = l.clone();
            ws.on_close(move |code, reason| {
                push(
                    &l2,
                    format!("client close {code} {reason} {}", ws.ready_state()),
                );
            });
        });
    });
    let of = |who: &str| -> Vec<String> {
        events
            .iter()
            .filter_map(|e| e.strip_prefix(&format!("{who} ")).map(str::to_owned))
            .collect()
    };
    assert_eq!(
        of("client"),
        [
            "open OPEN",
            "message [104, 195, 169, 108, 108, 111] false",
            "message [0, 1, 2] true",
            "message [] false",
            "pong \"p1\"",
            "close 4001 bye now CLOSED",
        ]
    );
    assert_eq!(
        of("server"),
        [
            "connection /room?x=1",
            "message \"héllo\" false",
            "message \"\\0\\u{1}\\u{2}\" true",
            "message \"\" false",
            "ping \"p1\"",
            "close 4001 bye now",
        ]
    );
}

#[test]
fn permessage_deflate_is_negotiated_and_carries_large_and_fragmented_messages() {
    let events = in_loop(|log| {
        let deflate = Some(PerMessageDeflate::default());
        echo_server(
            ServerOptions {
                per_message_deflate: deflate,
                ..Default::default()
            },
            move |wss, port| {
                let ws = WebSocket::connect(&url(port), ClientOptions::default());
                let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
                let expected = big.clone();
                ws.on_open(move || {
                    push(&log, format!("extensions {}", ws.extensions()));
                    ws.send(big.clone());
                    let part = SendOptions {
                        fin: false,
                        ..Default::default()
                    };
                    ws.send_with("frag", part, None);
                    ws.send_with("ment", part, None);
                    ws.send_with("ed", SendOptions::default(), None);
                    let l = log.clone();
                    let expected = expected.clone();
                    let mut n = 0;
                    ws.on_message(move |data, is_binary| {
                        n += 1;
                        if n == 1 {
                            push(&l, format!("big {} {}", data == &expected[..], is_binary));
                        } else {
                            push(&l, format!("text {}", String::from_utf8_lossy(data)));
                            ws.close(Some(1000), "");
                        }
                    });
                    ws.on_close(move |code, _| {
                        assert_eq!(code, 1000);
                        wss.close();
                    });
                });
            },
        );
    });
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(
        events[0].starts_with("extensions permessage-deflate"),
        "{events:?}"
    );
    assert_eq!(events[1..], ["big true true", "text fragmented"]);
}

#[test]
fn a_paused_connection_delivers_nothing_until_resumed_and_loses_nothing() {
    let events = in_loop(|log| {
        let wss = WebSocketServer::new(ServerOptions {
            port: Some(0),
            host: Some("127.0.0.1".into()),
            ..Default::default()
        });
        let l = log.clone();
        wss.on_connection(move |ws, _req| {
            let l = l.clone();
            ws.on_message(move |data, _| {
                let text = String::from_utf8_lossy(data).into_owned();
                push(&l, format!("got {text} paused={}", ws.is_paused()));
                if text == "0" {
                    ws.pause();
                    push(&l, "pause".to_string());
                    let l = l.clone();
                    nodelike::set_timeout(
                        move || {
                            push(&l, "resume".to_string());
                            ws.resume();
                        },
                        50,
                    );
                }
                if text == "9" {
                    ws.close(Some(1000), "");
                }
            });
            ws.on_close(move |_, _| wss.close());
        });
        wss.on_listening(move || {
            let ws = WebSocket::connect(
                &url(wss.address().unwrap().port()),
                ClientOptions::default(),
            );
            ws.on_open(move || {
                // All ten go out in one write, so they arrive together.
                for i in 0..10 {
                    ws.send(i.to_string());
                }
            });
        });
    });
    let mut expected = vec![
        "got 0 paused=false".to_string(),
        "pause".into(),
        "resume".into(),
    ];
    expected.extend((1..10).map(|i| format!("got {i} paused=false")));
    assert_eq!(events, expected);
}

#[test]
fn subprotocols_are_chosen_by_handle_protocols_and_seen_by_the_client() {
    let events = in_loop(|log| {
        let choose: ws::HandleProtocols =
            Rc::new(|offered: &[&str], _req: &http::IncomingMessage| {
                offered.iter().find(|p| **p == "b").map(|p| p.to_string())
            });
        echo_server(
            ServerOptions {
                handle_protocols: Some(choose),
                ..Default::default()
            },
            move |wss, port| {
                let ws = WebSocket::connect(
                    &url(port),
                    ClientOptions {
                        protocols: vec!["a".into(), "b".into()],
                        ..Default::default()
                    },
                );
                ws.on_open(move || {
                    push(&log, format!("protocol {}", ws.protocol()));
                    ws.terminate();
                });
                ws.on_close(move |code, _| {
                    assert_eq!(code, 1006, "terminate sends no close frame");
                    wss.close();
                });
            },
        );
    });
    assert_eq!(events, ["protocol b"]);
}

#[test]
fn verify_client_refuses_with_its_status_and_the_client_reports_it() {
    let events = in_loop(|log| {
        let verify: ws::VerifyClient = Rc::new(|req: &http::IncomingMessage| {
            if req.headers().get("authorization") == Some("Bearer ok") {
                Ok(())
            } else {
                Err((401, "who are you?".to_string()))
            }
        });
        echo_server(
            ServerOptions {
                verify_client: Some(verify),
                ..Default::default()
            },
            move |wss, port| {
                let refused = WebSocket::connect(&url(port), ClientOptions::default());
                let l = log.clone();
                refused.on_error(move |e| push(&l, format!("refused error {}", e.message())));
                let l = log.clone();
                refused.on_close(move |code, _| {
                    push(&l, format!("refused close {code}"));
                    let ok = WebSocket::connect(
                        &url(port),
                        ClientOptions {
                            headers: vec![("Authorization".into(), "Bearer ok".into())],
                            ..Default::default()
                        },
                    );
                    let l = l.clone();
                    ok.on_open(move || {
                        push(&l, "accepted open".to_string());
                        ok.close(None, "");
                    });
                    ok.on_close(move |code, _| {
                        assert_eq!(code, 1005, "a close frame without a code");
                        wss.close();
                    });
                });
            },
        );
    });
    assert_eq!(
        events,
        [
            "refused error Unexpected server response: 401",
            "refused close 1006",
            "accepted open"
        ]
    );
}

#[test]
fn an_attached_server_answers_only_its_path_and_no_server_mode_hands_upgrades_over() {
    let events = in_loop(|log| {
        let server = http::create_server(|_req, res| res.end("a page\n"));
        let attached = WebSocketServer::new(ServerOptions {
            server: Some(server),
            path: Some("/chat".into()),
            ..Default::default()
        });
        let l = log.clone();
        attached.on_connection(move |ws, req| {
            push(&l, format!("attached {}", req.url()));
            ws.close(Some(1000), "");
        });
        // A second, plain server in `no_server` mode.
        let plain = http::create_server(|_req, res| res.end("a page\n"));
        let manual = WebSocketServer::new(ServerOptions {
            no_server: true,
            ..Default::default()
        });
        let l = log.clone();
        plain.on_upgrade(move |req, socket, head| {
            let l = l.clone();
            manual.handle_upgrade(req, socket, head, move |ws, req| {
                push(&l, format!("manual {}", req.url()));
                ws.close(Some(1000), "");
            });
        });
        let l = log.clone();
        server.listen(0, "127.0.0.1", move || {
            let port = server.address().unwrap().port();
            let wrong =
                WebSocket::connect(&format!("ws://127.0.0.1:{port}/other"), Default::default());
            let l2 = l.clone();
            wrong.on_error(move |e| push(&l2, format!("wrong path: {}", e.message())));
            let l2 = l.clone();
            wrong.on_close(move |_, _| {
                let right = WebSocket::connect(
                    &format!("ws://127.0.0.1:{port}/chat?a=b"),
                    Default::default(),
                );
                let l3 = l2.clone();
                right.on_close(move |code, _| {
                    push(&l3, format!("right close {code}"));
                    server.close();
                    server.close_all_connections();
                    let port = plain.address().unwrap().port();
                    let m =
                        WebSocket::connect(&format!("ws://127.0.0.1:{port}/m"), Default::default());
                    m.on_close(move |_, _| {
                        plain.close();
                        plain.close_all_connections();
                    });
                });
            });
        });
        plain.listen(0, "127.0.0.1", || {});
    });
    assert_eq!(
        events,
        [
            "wrong path: Unexpected server response: 400",
            "attached /chat?a=b",
            "right close 1000",
            "manual /m",
        ]
    );
}

/// A raw TCP client completes the handshake by hand, so the test can
/// send frames no well-behaved client sends.
fn raw_handshake(port: u16) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
          Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    )
    .unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(
            s.read(&mut b).unwrap(),
            1,
            "the server closed mid-handshake"
        );
        head.push(b[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(
        head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{head}"
    );
    assert!(
        head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
        "{head}"
    );
    s
}

/// Runs a server on its own thread's loop; returns its port.
fn server_thread(setup: impl FnOnce(WebSocketServer) + Send + 'static) -> u16 {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let wss = WebSocketServer::new(ServerOptions {
            port: Some(0),
            host: Some("127.0.0.1".into()),
            ..Default::default()
        });
        setup(wss);
        wss.on_listening(move || tx.send(wss.address().unwrap().port()).unwrap());
        nodelike::run();
    });
    rx.recv().unwrap()
}

#[test]
fn the_heartbeat_terminates_a_peer_that_never_answers_pings() {
    let (tx, rx) = std::sync::mpsc::channel();
    let port = server_thread(move |wss| {
        wss.on_connection(move |ws, _req| {
            ws.heartbeat(30);
            let tx = tx.clone();
            ws.on_close(move |code, _| {
                tx.send(code).unwrap();
                wss.close();
            });
        });
    });
    let mut s = raw_handshake(port);
    // The peer reads (pings arrive) but never answers them.
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    assert_eq!(&got[..2], [0x89, 0x00], "an empty ping came first");
    assert_eq!(rx.recv().unwrap(), 1006, "terminated: no close frame");
}

#[test]
fn a_close_frame_is_answered_with_the_same_code_and_the_server_closes_the_tcp_connection() {
    let port = server_thread(|wss| {
        wss.on_connection(move |ws, _req| {
            ws.on_close(move |_, _| wss.close());
        });
    });
    let mut s = raw_handshake(port);
    // A masked close frame: code 4321, reason "ok" (mask 0).
    s.write_all(&[0x88, 0x84, 0, 0, 0, 0, 0x10, 0xe1, b'o', b'k'])
        .unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap();
    assert_eq!(got, [0x88, 0x04, 0x10, 0xe1, b'o', b'k']);
}

#[test]
fn a_handshake_that_never_gets_an_answer_times_out() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = std::thread::spawn(move || listener.accept().map(|(s, _)| s));
    let events = in_loop(move |log| {
        let ws = WebSocket::connect(
            &url(port),
            ClientOptions {
                handshake_timeout: Some(100),
                ..Default::default()
            },
        );
        let l = log.clone();
        ws.on_error(move |e| push(&l, format!("error {}", e.message())));
        ws.on_close(move |code, _| push(&log, format!("close {code}")));
    });
    drop(silent.join());
    assert_eq!(
        events,
        ["error Opening handshake has timed out", "close 1006"]
    );
}

#[test]
fn a_web_socket_stream_pipes_to_itself_as_an_echo() {
    let events = in_loop(|log| {
        let wss = WebSocketServer::new(ServerOptions {
            port: Some(0),
            host: Some("127.0.0.1".into()),
            ..Default::default()
        });
        wss.on_connection(|ws, _req| {
            let duplex = ws::create_web_socket_stream(ws);
            duplex.pipe(duplex);
        });
        wss.on_listening(move || {
            let ws = WebSocket::connect(&url(wss.address().unwrap().port()), Default::default());
            ws.on_open(move || {
                ws.send("one");
                ws.send("two");
            });
            let l = log.clone();
            let mut n = 0;
            ws.on_message(move |data, is_binary| {
                push(&l, format!("{} {is_binary}", String::from_utf8_lossy(data)));
                n += 1;
                if n == 2 {
                    ws.close(Some(1000), "");
                }
            });
            let l = log.clone();
            ws.on_close(move |code, _| {
                push(&l, format!("close {code}"));
                wss.close();
            });
        });
    });
    // A stream's chunks are bytes: they come back as binary messages (as
    // `ws`'s `createWebSocketStream` sends them).
    assert_eq!(events, ["one true", "two true", "close 1000"]);
}

#[test]
fn send_on_a_closed_connection_reports_ws_error_to_its_callback() {
    let events = in_loop(|log| {
        echo_server(ServerOptions::default(), move |wss, port| {
            let ws = WebSocket::connect(&url(port), Default::default());
            let l = log.clone();
            assert!(!ws.send_with(
                "early",
                SendOptions::default(),
                Some(Box::new(move |e| push(
                    &l,
                    format!("early: {}", e.unwrap().message())
                ))),
            ));
            ws.on_open(move || ws.close(Some(1000), ""));
            let l = log.clone();
            ws.on_close(move |_, _| {
                let l = l.clone();
                ws.send_with(
                    "late",
                    SendOptions::default(),
                    Some(Box::new(move |e| {
                        push(&l, format!("late: {}", e.unwrap().message()))
                    })),
                );
                wss.close();
            });
        });
    });
    assert_eq!(
        events,
        [
            "early: WebSocket is not open: readyState 0 (CONNECTING)",
            "late: WebSocket is not open: readyState 3 (CLOSED)"
        ]
    );
}

#[cfg(feature = "tls")]
#[test]
fn wss_works_over_an_https_server_with_the_clients_trust_options() {
    let pki = common::pki::pki();
    let cert = pki.server_cert.clone().into_bytes();
    let key = pki.server_key.clone().into_bytes();
    let ca = pki.ca_pem.clone().into_bytes();
    let events = in_loop(move |log| {
        let server = nodelike::https::create_server(
            nodelike::https::ServerOptions {
                cert,
                key,
                ..Default::default()
            },
            |_req, res| res.end("page"),
        )
        .unwrap();
        let wss = WebSocketServer::new(ServerOptions {
            server: Some(server),
            ..Default::default()
        });
        wss.on_connection(|ws, _req| {
            ws.on_message(move |data, _| {
                ws.send(format!("secure {}", String::from_utf8_lossy(data)));
            });
        });
        server.listen(0, "127.0.0.1", move || {
            let port = server.address().unwrap().port();
            let ws = WebSocket::connect(
                &format!("wss://localhost:{port}/"),
                ClientOptions {
                    tls: Some(nodelike::https::ClientTlsOptions {
                        ca: Some(ca.clone()),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            );
            ws.on_open(move || {
                ws.send("hello");
            });
            let l = log.clone();
            ws.on_message(move |data, _| {
                push(&l, String::from_utf8_lossy(data).into_owned());
                ws.close(Some(1000), "");
            });
            ws.on_close(move |_, _| {
                server.close();
                server.close_all_connections();
            });
        });
    });
    assert_eq!(events, ["secure hello"]);
}
