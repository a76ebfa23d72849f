//! nodelike's HTTP/2 client (Node's `http2` core client API) against real
//! peers: Node's own `http2` server (`tests/peers/h2/server.js`) over h2c
//! and TLS, and nodelike's own HTTP/2 server. The client runs on the test
//! thread's loop and logs what it observes, one event a line; the asserts
//! read the log. No assertion is about timing: a deadline only turns a
//! hang into a failure.
#![cfg(feature = "tls")]

mod common;

use std::cell::RefCell;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

use common::pki::{pki, Pki};
use common::{have, TestServer};
use nodelike::http::h2::ErrorCode;
use nodelike::http::Server;
use nodelike::http2::{self, ClientHttp2Session, ClientHttp2Stream, ClientSessionOptions};
use nodelike::https;
use nodelike::stream::Readable;

const MIB: usize = 1 << 20;

/// Node's http2 server on a free port; stopped (its stdin closed, then
/// killed if need be) when dropped.
struct NodeServer {
    child: Child,
    port: u16,
}

impl NodeServer {
    fn start(tls: Option<&Pki>) -> NodeServer {
        NodeServer::start_mode(if tls.is_some() { "tls" } else { "h2c" }, tls)
    }

    /// `mode`: `h2c`, `tls` (HTTP/2 over TLS) or `h1tls` (HTTPS speaking
    /// only HTTP/1.1).
    fn start_mode(mode: &str, tls: Option<&Pki>) -> NodeServer {
        assert!(have("node"), "this test needs `node` on the PATH");
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/h2/server.js");
        let mut cmd = Command::new("node");
        cmd.arg(script);
        cmd.arg(mode);
        if let Some(p) = tls {
            cmd.args([p.path("server.pem"), p.path("server.key")]);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node starts");
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("node's server said its port");
        let port = line
            .strip_prefix("port ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line: {line}"));
        NodeServer { child, port }
    }
}

impl Drop for NodeServer {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

type Log = Rc<RefCell<Vec<String>>>;

fn say(log: &Log, line: impl Into<String>) {
    log.borrow_mut().push(line.into());
}

/// Runs the loop with a session to `authority` that `script` drives (it
/// must close the session when done); returns the log. A deadline destroys
/// the session (and logs it) so a hang fails instead of sticking.
fn with_session(
    authority: &str,
    options: ClientSessionOptions,
    script: impl FnOnce(ClientHttp2Session, Log),
) -> Vec<String> {
    let _ = env_logger::builder().is_test(true).try_init();
    let log: Log = Rc::default();
    let session = http2::connect(authority, options);
    {
        let log = log.clone();
        session.on_error(move |e| say(&log, format!("session error {} {}", e.code(), e)));
    }
    {
        let log = log.clone();
        session.on_close(move || say(&log, "session closed"));
    }
    {
        let log = log.clone();
        nodelike::set_timeout(
            move || {
                say(&log, "DEADLINE");
                session.destroy();
            },
            90_000,
        )
        .unref();
    }
    script(session, log.clone());
    nodelike::run();
    let lines = log.borrow().clone();
    lines
}

/// FNV-1a, 32 bits, as the peer computes it.
fn fnv(bytes: &[u8]) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for &b in bytes {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("{h:x}")
}

/// The peer's body pattern: byte i is (i * 7 + 3) % 251.
fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| ((i * 7 + 3) % 251) as u8).collect()
}

/// What a finished stream saw.
#[derive(Debug, Default, Clone)]
struct Seen {
    status: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    trailers: Vec<(String, String)>,
    error: Option<String>,
    ended: bool,
}

/// Collects a stream's events; `done` runs at its `close` with what it saw
/// and the stream's `rst_code`.
fn collect(
    stream: ClientHttp2Stream,
    done: impl FnOnce(Seen, Option<ErrorCode>) + 'static,
) -> ClientHttp2Stream {
    let seen = Rc::new(RefCell::new(Seen::default()));
    let s = seen.clone();
    stream.on_response(move |h| {
        let mut s = s.borrow_mut();
        s.status = h.get(":status").unwrap_or("-").to_owned();
        s.headers = h
            .iter()
            .map(|(n, v)| (n.to_owned(), v.to_string()))
            .collect();
    });
    let s = seen.clone();
    stream.on_data(move |c| s.borrow_mut().body.extend_from_slice(&c));
    let s = seen.clone();
    stream.on_trailers(move |t| {
        s.borrow_mut().trailers = t
            .iter()
            .map(|(n, v)| (n.to_owned(), v.to_string()))
            .collect();
    });
    let s = seen.clone();
    stream.on_end(move || s.borrow_mut().ended = true);
    let s = seen.clone();
    stream.on_error(move |e| s.borrow_mut().error = Some(format!("{} {}", e.code(), e)));
    let done = RefCell::new(Some(done));
    stream.on_close(move || {
        if let Some(done) = done.borrow_mut().take() {
            done(seen.borrow().clone(), stream.rst_code());
        }
    });
    stream
}

/// Writes `data` with back-pressure: until `write` says `false`, then on
/// at `drain`; `end` after the last byte (with trailers if given).
fn upload(
    stream: ClientHttp2Stream,
    data: Vec<u8>,
    trailers: Option<(&'static str, &'static str)>,
) {
    let at = Rc::new(RefCell::new(0usize));
    let pump: Rc<dyn Fn()> = Rc::new(move || loop {
        let mut pos = at.borrow_mut();
        if *pos >= data.len() {
            return;
        }
        let end = (*pos + 50_000).min(data.len());
        let piece = &data[*pos..end];
        *pos = end;
        if end == data.len() {
            stream.write(piece);
            match trailers {
                Some((n, v)) => stream.send_trailers(&[(n, v)]),
                None => stream.end(()),
            }
            return;
        }
        if !stream.write(piece) {
            return;
        }
    });
    let again = pump.clone();
    stream.on_drain(move || again());
    pump();
}

/// Both transports against Node's server: (label, authority, options).
fn node_peers(check: impl Fn(&str, &str, ClientSessionOptions, &NodeServer)) {
    let clear = NodeServer::start(None);
    check(
        "h2c",
        &format!("http://127.0.0.1:{}", clear.port),
        ClientSessionOptions::default(),
        &clear,
    );
    drop(clear);
    let p = pki();
    let secure = NodeServer::start(Some(&p));
    let options = ClientSessionOptions {
        tls: https::ClientTlsOptions {
            ca: Some(p.ca_pem.clone().into_bytes()),
            ..Default::default()
        },
        ..Default::default()
    };
    check(
        "tls",
        &format!("https://localhost:{}", secure.port),
        options,
        &secure,
    );
}

#[test]
fn eighty_parallel_streams_queue_behind_nodes_limit_of_fifty() {
    node_peers(|how, authority, options, _| {
        let lines = with_session(authority, options, |session, log| {
            let l = log.clone();
            session.on_remote_settings(move |s| {
                say(
                    &l,
                    format!(
                        "remote max_concurrent_streams {:?}",
                        s.max_concurrent_streams
                    ),
                );
            });
            let l = log.clone();
            session.on_connect(move || say(&l, "connect"));
            let ours = session.local_settings();
            say(
                &log,
                format!(
                    "local {} {} {:?}",
                    ours.enable_push, ours.initial_window_size, ours.max_concurrent_streams
                ),
            );
            let left = Rc::new(RefCell::new(80));
            for i in 0..80 {
                let l = log.clone();
                let left = left.clone();
                let stream = session.request(&[(":path", format!("/hello/{i}").as_str())]);
                collect(stream, move |seen, rst| {
                    say(
                        &l,
                        format!(
                            "response {i} {} {} {:?} {:?}",
                            seen.status,
                            String::from_utf8_lossy(&seen.body),
                            seen.error,
                            rst
                        ),
                    );
                    *left.borrow_mut() -= 1;
                    if *left.borrow() == 0 {
                        session.close();
                    }
                });
            }
            // Graceful: the 80 requested (30 of them still queued) finish first.
            session.close();
            assert!(session.closed());
        });
        assert_eq!(
            lines.first().map(String::as_str),
            Some("local false 262144 Some(100)"),
            "{how}: {lines:?}"
        );
        assert_eq!(
            lines.get(1).map(String::as_str),
            Some("connect"),
            "{how}: {lines:?}"
        );
        assert!(
            lines.contains(&"remote max_concurrent_streams Some(50)".to_string()),
            "{how}: {lines:?}"
        );
        let mut responses: Vec<&String> = lines
            .iter()
            .filter(|l| l.starts_with("response "))
            .collect();
        responses.sort_by_key(|l| l.split(' ').nth(1).and_then(|n| n.parse::<u32>().ok()));
        assert_eq!(responses.len(), 80, "{how}: {lines:?}");
        for (i, line) in responses.iter().enumerate() {
            assert_eq!(
                **line,
                format!("response {i} 200 hello {i} None Some(NoError)"),
                "{how}"
            );
        }
        assert_eq!(
            lines.last().map(String::as_str),
            Some("session closed"),
            "{how}: {lines:?}"
        );
    });
}

#[test]
fn four_mib_go_up_and_come_down_through_flow_control_with_trailers() {
    node_peers(|how, authority, options, _| {
        let up = pattern(4 * MIB + 7);
        let expected_up = format!("{} {} abc123", up.len(), fnv(&up));
        let lines = with_session(authority, options, move |session, log| {
            let left = Rc::new(RefCell::new(3));
            let finish = move || {
                *left.borrow_mut() -= 1;
                if *left.borrow() == 0 {
                    session.close();
                }
            };
            let finish = Rc::new(finish);
            // Upload: the server answers with the length, digest and our
            // trailer.
            let (l, f) = (log.clone(), finish.clone());
            let stream = session.request(&[(":method", "POST"), (":path", "/upload")]);
            collect(stream, move |seen, _| {
                say(
                    &l,
                    format!(
                        "upload {} {}",
                        seen.status,
                        String::from_utf8_lossy(&seen.body)
                    ),
                );
                f();
            });
            upload(stream, up, Some(("x-checksum", "abc123")));
            // Download.
            let (l, f) = (log.clone(), finish.clone());
            collect(
                session.request(&[(":path", "/big/4194304")]),
                move |seen, _| {
                    let header = seen
                        .headers
                        .iter()
                        .find(|(n, _)| n == "x-fnv")
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default();
                    say(
                        &l,
                        format!(
                            "download {} {} {}",
                            seen.status,
                            seen.body.len(),
                            if fnv(&seen.body) == header {
                                "same"
                            } else {
                                "different"
                            }
                        ),
                    );
                    f();
                },
            );
            // Trailers from the server.
            let (l, f) = (log.clone(), finish.clone());
            collect(
                session.request(&[(":path", "/trailers")]),
                move |seen, _| {
                    say(
                        &l,
                        format!(
                            "trailers {} {} {:?} ended={}",
                            seen.status,
                            String::from_utf8_lossy(&seen.body),
                            seen.trailers,
                            seen.ended
                        ),
                    );
                    f();
                },
            );
        });
        assert!(
            lines.contains(&format!("upload 200 {expected_up}")),
            "{how}: {lines:?}"
        );
        assert!(
            lines.contains(&format!("download 200 {} same", 4 * MIB)),
            "{how}: {lines:?}"
        );
        assert!(
            lines.contains(
                &"trailers 200 abc [(\"x-checksum\", \"900150983cd24fb0\")] ended=true".to_string()
            ),
            "{how}: {lines:?}"
        );
        assert_eq!(
            lines.last().map(String::as_str),
            Some("session closed"),
            "{how}: {lines:?}"
        );
    });
}

#[test]
fn a_server_reset_fails_only_its_stream_and_ping_answers() {
    node_peers(|how, authority, options, _| {
        let lines = with_session(authority, options, |session, log| {
            let l = log.clone();
            let stream = session.request(&[(":path", "/rst")]);
            collect(stream, move |seen, rst| {
                say(
                    &l,
                    format!("rst {} {:?} {:?}", seen.status, seen.error, rst),
                );
                let l2 = l.clone();
                session.ping(move |rtt| {
                    say(
                        &l2,
                        format!("ping {}", if rtt.is_ok() { "ok" } else { "failed" }),
                    );
                    let l3 = l2.clone();
                    collect(
                        session.request(&[(":path", "/hello/after")]),
                        move |seen, _| {
                            say(
                                &l3,
                                format!(
                                    "after {} {}",
                                    seen.status,
                                    String::from_utf8_lossy(&seen.body)
                                ),
                            );
                            session.close();
                        },
                    );
                });
            });
        });
        let rst = lines
            .iter()
            .find(|l| l.starts_with("rst "))
            .unwrap_or_else(|| panic!("{how}: {lines:?}"));
        assert!(
            rst.starts_with(
                "rst 200 Some(\"ERR_HTTP2_STREAM_ERROR Stream closed with error code NGHTTP2_ENHANCE_YOUR_CALM"
            ),
            "{how}: {rst}"
        );
        assert!(rst.ends_with("Some(EnhanceYourCalm)"), "{how}: {rst}");
        assert!(lines.contains(&"ping ok".to_string()), "{how}: {lines:?}");
        assert!(
            lines.contains(&"after 200 hello after".to_string()),
            "{how}: {lines:?}"
        );
        assert_eq!(
            lines.last().map(String::as_str),
            Some("session closed"),
            "{how}: {lines:?}"
        );
    });
}

#[test]
fn a_server_goaway_refuses_later_streams_and_ends_the_session() {
    node_peers(|how, authority, options, _| {
        let lines = with_session(authority, options, |session, log| {
            let l = log.clone();
            session.on_goaway(move |code, last, debug| {
                say(
                    &l,
                    format!("goaway {code} {last} {}", String::from_utf8_lossy(debug)),
                );
                // Too late for new streams.
                let l2 = l.clone();
                collect(
                    session.request(&[(":path", "/hello/late")]),
                    move |seen, _| {
                        say(
                            &l2,
                            format!(
                                "late {:?}",
                                seen.error
                                    .map(|e| e.split(' ').next().unwrap_or("").to_owned())
                            ),
                        );
                    },
                );
            });
            let l = log.clone();
            collect(session.request(&[(":path", "/goaway")]), move |seen, _| {
                say(
                    &l,
                    format!(
                        "goaway-stream {} {}",
                        seen.status,
                        String::from_utf8_lossy(&seen.body)
                    ),
                );
            });
        });
        assert!(
            lines.contains(&"goaway-stream 200 bye".to_string()),
            "{how}: {lines:?}"
        );
        assert!(
            lines.contains(&"goaway NO_ERROR 1 maintenance".to_string()),
            "{how}: {lines:?}"
        );
        assert!(
            lines.contains(&"late Some(\"ERR_HTTP2_GOAWAY_SESSION\")".to_string()),
            "{how}: {lines:?}"
        );
        assert!(
            !lines.iter().any(|l| l.starts_with("session error")),
            "{how}: {lines:?}"
        );
        assert_eq!(
            lines.last().map(String::as_str),
            Some("session closed"),
            "{how}: {lines:?}"
        );
    });
}

#[test]
fn a_paused_stream_holds_the_server_back_until_resumed() {
    node_peers(|how, authority, options, _| {
        let lines = with_session(authority, options, |session, log| {
            let l = log.clone();
            let stall = session.request(&[(":path", "/stall")]);
            let total = Rc::new(RefCell::new(0usize));
            let t = total.clone();
            stall.on_data(move |c| *t.borrow_mut() += c.len());
            stall.on_response(move |_| {
                stall.pause();
                let l = l.clone();
                // A round trip (the stream's window is spent meanwhile or
                // the server is still writing), then ask how far it got.
                session.ping(move |_| {
                    let l = l.clone();
                    collect(
                        session.request(&[(":path", "/stall-progress")]),
                        move |seen, _| {
                            say(
                                &l,
                                format!("progress {}", String::from_utf8_lossy(&seen.body)),
                            );
                            say(&l, format!("paused {}", stall.is_paused()));
                            stall.resume();
                        },
                    );
                });
            });
            let l = log.clone();
            stall.on_end(move || {
                say(&l, format!("stall total {}", total.borrow()));
                session.close();
            });
        });
        let progress: usize = lines
            .iter()
            .find_map(|l| l.strip_prefix("progress "))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{how}: {lines:?}"));
        // The stream window is 256 KiB and nothing of it came back while
        // paused: the server cannot have handed over much more than that.
        assert!(
            progress < MIB,
            "{how}: the server wrote {progress} bytes to a paused stream"
        );
        assert!(
            lines.contains(&"paused true".to_string()),
            "{how}: {lines:?}"
        );
        assert!(
            lines.contains(&format!("stall total {}", 4 * MIB)),
            "{how}: {lines:?}"
        );
        assert_eq!(
            lines.last().map(String::as_str),
            Some("session closed"),
            "{how}: {lines:?}"
        );
    });
}

#[test]
fn request_headers_get_nodes_defaults() {
    node_peers(|how, authority, options, node| {
        let lines = with_session(authority, options, |session, log| {
            let l = log.clone();
            collect(
                session.request(&[
                    (":path", "/inspect"),
                    ("X-Custom", "yes"),
                    ("Connection", "close"),
                ]),
                move |seen, _| {
                    say(
                        &l,
                        format!("inspect {}", String::from_utf8_lossy(&seen.body)),
                    );
                    session.close();
                },
            );
            assert!(session.connecting());
        });
        let (scheme, host) = if how == "tls" {
            ("https", "localhost")
        } else {
            ("http", "127.0.0.1")
        };
        assert!(
            lines.contains(&format!("inspect GET {scheme} {host}:{} yes", node.port)),
            "{how}: {lines:?}"
        );
    });
}

#[test]
fn a_refused_connect_is_the_sessions_error_then_close() {
    let port = common::free_port();
    let lines = with_session(
        &format!("http://127.0.0.1:{port}"),
        Default::default(),
        |session, log| {
            let l = log.clone();
            collect(session.request(&[(":path", "/")]), move |seen, _| {
                say(
                    &l,
                    format!(
                        "stream {:?}",
                        seen.error
                            .map(|e| e.split(' ').next().unwrap_or("").to_owned())
                    ),
                );
            });
        },
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("session error ECONNREFUSED")),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"stream Some(\"ECONNREFUSED\")".to_string()),
        "{lines:?}"
    );
    assert_eq!(
        lines.last().map(String::as_str),
        Some("session closed"),
        "{lines:?}"
    );
}

#[test]
fn a_tls_server_that_does_not_choose_h2_fails_the_session() {
    let p = pki();
    let options = || ClientSessionOptions {
        tls: https::ClientTlsOptions {
            ca: Some(p.ca_pem.clone().into_bytes()),
            ..Default::default()
        },
        ..Default::default()
    };
    // Node's HTTPS server: the handshake completes without ALPN.
    let node = NodeServer::start_mode("h1tls", Some(&p));
    let lines = with_session(
        &format!("https://localhost:{}", node.port),
        options(),
        |session, log| {
            let l = log.clone();
            collect(session.request(&[(":path", "/")]), move |seen, _| {
                say(
                    &l,
                    format!(
                        "stream {:?}",
                        seen.error
                            .map(|e| e.split(' ').next().unwrap_or("").to_owned())
                    ),
                );
            });
        },
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("session error ERR_HTTP2_ERROR")),
        "node: {lines:?}"
    );
    assert!(
        lines.contains(&"stream Some(\"ERR_HTTP2_ERROR\")".to_string()),
        "node: {lines:?}"
    );
    assert_eq!(
        lines.last().map(String::as_str),
        Some("session closed"),
        "{lines:?}"
    );
    drop(node);
    // nodelike's HTTPS server (rustls): the handshake is refused with
    // `no_application_protocol`; the same error.
    let tls = https::ServerOptions {
        cert: p.server_cert.clone().into_bytes(),
        key: p.server_key.clone().into_bytes(),
        ..Default::default()
    };
    let server = TestServer::start(move || -> Server {
        https::create_server(tls, |_req, res| res.end("http/1.1 only")).expect("TLS options")
    });
    let lines = with_session(
        &format!("https://localhost:{}", server.port()),
        options(),
        |_, _| {},
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("session error ERR_HTTP2_ERROR")),
        "ours: {lines:?}"
    );
    assert_eq!(
        lines.last().map(String::as_str),
        Some("session closed"),
        "{lines:?}"
    );
    server.stop();
}

/// nodelike's own HTTP/2 server, for our client.
fn own_handler(req: nodelike::http::IncomingMessage, res: nodelike::http::ServerResponse) {
    let url = req.url();
    if let Some(n) = url.strip_prefix("/hello/") {
        res.end(format!("hello {n} over {}", req.http_version()));
    } else if url == "/echo" {
        req.pipe(res);
    } else if url == "/trailers" {
        res.write_head(200, &[("Trailer", "X-Checksum")]);
        res.write("abc");
        res.add_trailers(&[("X-Checksum", "900150983cd24fb0")]);
        res.end(());
    } else if url == "/destroy" {
        res.write("partial");
        res.destroy();
    } else {
        res.write_head(404, &[]);
        res.end(());
    }
}

#[test]
fn our_client_talks_to_our_server_over_h2c_and_tls() {
    let p = pki();
    let clear = TestServer::start(|| -> Server {
        http2::create_server(http2::ServerOptions::default(), own_handler)
    });
    let tls = https::ServerOptions {
        cert: p.server_cert.clone().into_bytes(),
        key: p.server_key.clone().into_bytes(),
        ..Default::default()
    };
    let secure = TestServer::start(move || -> Server {
        http2::create_secure_server(tls, http2::ServerOptions::default(), own_handler).expect("TLS")
    });
    let secure_options = ClientSessionOptions {
        tls: https::ClientTlsOptions {
            ca: Some(p.ca_pem.clone().into_bytes()),
            ..Default::default()
        },
        ..Default::default()
    };
    for (how, authority, options) in [
        (
            "h2c",
            format!("http://127.0.0.1:{}", clear.port()),
            ClientSessionOptions::default(),
        ),
        (
            "tls",
            format!("https://localhost:{}", secure.port()),
            secure_options,
        ),
    ] {
        let up = pattern(4 * MIB + 3);
        let up_fnv = fnv(&up);
        let lines = with_session(&authority, options, move |session, log| {
            let left = Rc::new(RefCell::new(23));
            let finish = Rc::new(move || {
                *left.borrow_mut() -= 1;
                if *left.borrow() == 0 {
                    session.close();
                }
            });
            for i in 0..20 {
                let (l, f) = (log.clone(), finish.clone());
                collect(
                    session.request(&[(":path", format!("/hello/{i}").as_str())]),
                    move |seen, _| {
                        say(
                            &l,
                            format!(
                                "hello {} {}",
                                seen.status,
                                String::from_utf8_lossy(&seen.body)
                            ),
                        );
                        f();
                    },
                );
            }
            let (l, f) = (log.clone(), finish.clone());
            let echo = session.request(&[(":method", "PUT"), (":path", "/echo")]);
            collect(echo, move |seen, _| {
                say(
                    &l,
                    format!(
                        "echo {} {} {}",
                        seen.status,
                        seen.body.len(),
                        fnv(&seen.body)
                    ),
                );
                f();
            });
            upload(echo, up, None);
            let (l, f) = (log.clone(), finish.clone());
            collect(
                session.request(&[(":path", "/trailers")]),
                move |seen, _| {
                    say(
                        &l,
                        format!(
                            "trailers {} {:?}",
                            String::from_utf8_lossy(&seen.body),
                            seen.trailers
                        ),
                    );
                    f();
                },
            );
            let (l, f) = (log.clone(), finish.clone());
            collect(
                session.request(&[(":path", "/destroy")]),
                move |seen, rst| {
                    say(&l, format!("destroy {:?} {rst:?}", seen.error.is_some()));
                    f();
                },
            );
        });
        let hellos = lines
            .iter()
            .filter(|l| l.starts_with("hello 200 hello "))
            .count();
        assert_eq!(hellos, 20, "{how}: {lines:?}");
        assert!(
            lines.contains(&"hello 200 hello 7 over 2.0".to_string()),
            "{how}: {lines:?}"
        );
        assert!(
            lines.contains(&format!("echo 200 {} {up_fnv}", 4 * MIB + 3)),
            "{how}: {lines:?}"
        );
        assert!(
            lines.contains(&"trailers abc [(\"x-checksum\", \"900150983cd24fb0\")]".to_string()),
            "{how}: {lines:?}"
        );
        assert!(
            lines.contains(&"destroy true Some(Cancel)".to_string()),
            "{how}: {lines:?}"
        );
        assert_eq!(
            lines.last().map(String::as_str),
            Some("session closed"),
            "{how}: {lines:?}"
        );
    }
    clear.stop();
    secure.stop();
}

#[test]
fn destroy_closes_every_stream_without_an_error() {
    let clear = NodeServer::start(None);
    let lines = with_session(
        &format!("http://127.0.0.1:{}", clear.port),
        Default::default(),
        |session, log| {
            let l = log.clone();
            session.on_connect(move || {
                say(&l, "connect");
            });
            let l = log.clone();
            let hang = session.request(&[(":path", "/hang")]);
            collect(hang, move |seen, rst| {
                say(&l, format!("hang closed {:?} {rst:?}", seen.error));
            });
            let l = log.clone();
            session.ping(move |r| {
                say(&l, format!("ping {}", r.is_ok()));
                session.destroy();
                say(&l, format!("destroyed {}", session.destroyed()));
            });
        },
    );
    assert!(lines.contains(&"ping true".to_string()), "{lines:?}");
    assert!(lines.contains(&"destroyed true".to_string()), "{lines:?}");
    assert!(
        lines.contains(&"hang closed None Some(Cancel)".to_string()),
        "{lines:?}"
    );
    assert_eq!(
        lines.last().map(String::as_str),
        Some("session closed"),
        "{lines:?}"
    );
}

#[test]
fn closing_a_stream_resets_only_it_and_unref_lets_the_loop_end() {
    let node = NodeServer::start(None);
    let authority = format!("http://127.0.0.1:{}", node.port);
    let lines = with_session(&authority, Default::default(), |session, log| {
        let l = log.clone();
        let big = session.request(&[(":path", "/stall")]);
        big.on_response(move |_| big.close(ErrorCode::Cancel));
        collect(big, move |seen, rst| {
            say(&l, format!("cancelled {:?} {rst:?}", seen.error));
            let l2 = l.clone();
            let post = session.request(&[(":method", "POST"), (":path", "/upload")]);
            collect(post, move |seen, _| {
                say(
                    &l2,
                    format!("after {}", String::from_utf8_lossy(&seen.body)),
                );
                session.close();
            });
            post.end("abc");
            say(&l, format!("write after end {}", post.write("more")));
        });
    });
    assert!(
        lines.contains(&"cancelled None Some(Cancel)".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"write after end false".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&format!("after 3 {} -", fnv(b"abc"))),
        "{lines:?}"
    );
    assert_eq!(
        lines.last().map(String::as_str),
        Some("session closed"),
        "{lines:?}"
    );
    // An unref'd session does not hold the loop once it is idle.
    let lines = with_session(&authority, Default::default(), |session, log| {
        let l = log.clone();
        session.on_connect(move || {
            say(&l, "connect");
            session.unref();
        });
    });
    assert_eq!(lines, ["connect"]);
}

#[test]
fn a_paused_stream_keeps_body_trailers_and_end_in_order() {
    let node = NodeServer::start(None);
    let lines = with_session(
        &format!("http://127.0.0.1:{}", node.port),
        Default::default(),
        |session, log| {
            let stream = session.request(&[(":path", "/trailers")]);
            let l = log.clone();
            stream.on_response(move |_| {
                stream.pause();
                say(&l, "response, paused");
                let l = l.clone();
                // A round trip: the body, trailers and end are here by then.
                session.ping(move |_| {
                    say(&l, "resume");
                    stream.resume();
                });
            });
            let l = log.clone();
            stream.on_data(move |c| say(&l, format!("data {c}")));
            let l = log.clone();
            stream.on_trailers(move |t| {
                say(
                    &l,
                    format!("trailers {}", t.get("x-checksum").unwrap_or("-")),
                )
            });
            let l = log.clone();
            stream.on_end(move || say(&l, "end"));
            let l = log.clone();
            stream.on_close(move || {
                say(&l, "close");
                session.close();
            });
        },
    );
    assert_eq!(
        lines,
        [
            "response, paused",
            "resume",
            "data abc",
            "trailers 900150983cd24fb0",
            "end",
            "close",
            "session closed"
        ]
    );
}

/// The body of `path` on a fresh session to `authority`, logged as
/// `"{label} {body}"`; the session closes after.
fn fetch_into(
    authority: &str,
    options: ClientSessionOptions,
    path: &str,
    label: &'static str,
    log: &Log,
) {
    let session = http2::connect(authority, options);
    let l = log.clone();
    collect(session.request(&[(":path", path)]), move |seen, _| {
        say(
            &l,
            format!("{label} {}", String::from_utf8_lossy(&seen.body)),
        );
        session.close();
    });
}

#[test]
fn changed_settings_apply_once_node_acknowledges_them() {
    use nodelike::http::h2::Settings;
    node_peers(|how, authority, options, _| {
        let lines = with_session(authority, options, |session, log| {
            let l = log.clone();
            session.on_local_settings(move |s| {
                say(&l, format!("local-settings {}", s.initial_window_size));
            });
            let l = log.clone();
            session.on_connect(move || {
                let bad = Settings {
                    max_frame_size: 1,
                    ..session.local_settings()
                };
                let refused = session.update_settings(bad, |_| panic!("refused: never called"));
                say(
                    &l,
                    format!("bad {:?}", refused.map_err(|e| e.code().to_owned())),
                );
                let update = Settings {
                    initial_window_size: 1 << 20,
                    max_concurrent_streams: Some(7),
                    ..session.local_settings()
                };
                let l2 = l.clone();
                let sent = session.update_settings(update, move |acked| {
                    let (settings, _rtt) = acked.expect("acknowledged");
                    say(
                        &l2,
                        format!(
                            "acked {} {:?} in effect {} pending {}",
                            settings.initial_window_size,
                            settings.max_concurrent_streams,
                            session.local_settings().initial_window_size,
                            session.pending_settings_ack()
                        ),
                    );
                    // What Node has now, on the same session.
                    let l3 = l2.clone();
                    collect(
                        session.request(&[(":path", "/remote-settings")]),
                        move |seen, _| {
                            say(&l3, format!("node {}", String::from_utf8_lossy(&seen.body)));
                            session.close();
                        },
                    );
                });
                say(
                    &l,
                    format!(
                        "sent {:?} pending {}",
                        sent.is_ok(),
                        session.pending_settings_ack()
                    ),
                );
            });
        });
        assert_eq!(
            lines,
            [
                "bad Err(\"ERR_HTTP2_INVALID_SETTING_VALUE\")",
                "sent true pending true",
                "local-settings 262144",
                "local-settings 1048576",
                "acked 1048576 Some(7) in effect 1048576 pending false",
                "node 1048576 7 seen=262144,1048576",
                "session closed",
            ],
            "{how}"
        );
    });
}

#[test]
fn a_clients_goaway_reaches_node_without_closing_the_session_itself() {
    node_peers(|how, authority, options, _| {
        let auth = authority.to_owned();
        let opts = options.clone();
        let lines = with_session(authority, options, |session, log| {
            let l = log.clone();
            collect(session.request(&[(":path", "/hello/x")]), move |seen, _| {
                say(&l, format!("hello {}", String::from_utf8_lossy(&seen.body)));
                // The last stream id names the server's streams: ours is refused.
                say(
                    &l,
                    format!("own id {}", session.goaway(ErrorCode::NoError, 1, b"")),
                );
                say(
                    &l,
                    format!(
                        "goaway {}",
                        session.goaway(ErrorCode::NoError, 0, b"client done")
                    ),
                );
                // Still open on our side: Node is the one to close it.
                say(&l, format!("closed {}", session.closed()));
                // But it opens no stream again, and says why.
                let l2 = l.clone();
                session
                    .request(&[(":path", "/hello/late")])
                    .on_error(move |e| say(&l2, format!("after goaway {}", e.code())));
            });
            let l = log.clone();
            session.on_close(move || fetch_into(&auth, opts.clone(), "/goaways", "node saw", &l));
        });
        // The late request's error comes in a later turn, before or after
        // Node closes the session.
        let (late, lines): (Vec<String>, Vec<String>) = lines
            .into_iter()
            .partition(|l| l.starts_with("after goaway"));
        assert_eq!(late, ["after goaway ERR_HTTP2_GOAWAY_SESSION"], "{how}");
        assert_eq!(
            lines,
            [
                "hello hello x",
                "own id false",
                "goaway true",
                "closed false",
                "session closed",
                "node saw 0 0 client done",
            ],
            "{how}"
        );
    });
}

#[test]
fn a_103_early_hint_comes_to_on_headers_before_the_response() {
    node_peers(|how, authority, options, _| {
        let lines = with_session(authority, options, |session, log| {
            let req = session.request(&[(":path", "/early-hints")]);
            let l = log.clone();
            req.on_headers(move |h| {
                say(
                    &l,
                    format!(
                        "headers {} {}",
                        h.get(":status").unwrap_or("-"),
                        h.get("link").unwrap_or("-")
                    ),
                );
            });
            let l = log.clone();
            collect(req, move |seen, _| {
                say(
                    &l,
                    format!(
                        "response {} {}",
                        seen.status,
                        String::from_utf8_lossy(&seen.body)
                    ),
                );
                session.close();
            });
        });
        assert_eq!(
            lines,
            [
                "headers 103 </style.css>; rel=preload",
                "response 200 hinted",
                "session closed",
            ],
            "{how}"
        );
    });
}

#[test]
fn an_idle_stream_times_out_and_a_busy_neighbour_does_not() {
    node_peers(|how, authority, options, _| {
        let lines = with_session(authority, options, |session, log| {
            let idle = session.request(&[(":path", "/hang")]);
            idle.set_timeout(200);
            let l = log.clone();
            idle.on_timeout(move || {
                say(&l, "idle timeout");
                idle.close(ErrorCode::Cancel);
            });
            let l = log.clone();
            collect(idle, move |seen, code| {
                say(&l, format!("idle closed {:?} {:?}", code, seen.error));
            });
            // 60 bytes 50 ms apart: busy for about 3 s, never idle for 1 s.
            let busy = session.request(&[(":path", "/drip/60")]);
            busy.set_timeout(1_000);
            let l = log.clone();
            busy.on_timeout(move || say(&l, "busy timeout"));
            let l = log.clone();
            collect(busy, move |seen, _| {
                say(&l, format!("busy done {}", seen.body.len()));
                session.close();
            });
        });
        assert_eq!(
            lines,
            [
                "idle timeout",
                "idle closed Some(Cancel) None",
                "busy done 60",
                "session closed",
            ],
            "{how}"
        );
    });
}

#[test]
fn an_idle_session_emits_timeout_and_its_listener_decides() {
    node_peers(|how, authority, options, _| {
        let lines = with_session(authority, options, |session, log| {
            session.set_timeout(200);
            let l = log.clone();
            session.on_timeout(move || {
                say(&l, "session timeout");
                session.destroy();
            });
            let l = log.clone();
            collect(session.request(&[(":path", "/hang")]), move |seen, code| {
                say(&l, format!("hang closed {:?} {:?}", code, seen.error));
            });
        });
        assert_eq!(
            lines,
            [
                "session timeout",
                "hang closed Some(Cancel) None",
                "session closed",
            ],
            "{how}"
        );
    });
}

#[test]
fn settings_changes_queue_up_to_ten_unacknowledged_then_cancel_at_close() {
    use nodelike::http::h2::Settings;
    node_peers(|how, authority, options, _| {
        let lines = with_session(authority, options, |session, log| {
            let l = log.clone();
            session.on_connect(move || {
                // Our first SETTINGS is in flight: nine more fit.
                for n in 1..=10 {
                    let update = Settings {
                        max_concurrent_streams: Some(n),
                        ..session.local_settings()
                    };
                    let l2 = l.clone();
                    let sent = session.update_settings(update, move |acked| {
                        say(
                            &l2,
                            match acked {
                                Ok((s, _)) => format!("acked {:?}", s.max_concurrent_streams),
                                Err(e) => format!("cancelled {}", e.code()),
                            },
                        );
                    });
                    if let Err(e) = sent {
                        say(&l, format!("refused {n} {}", e.code()));
                    }
                }
                // Closed before the server can answer: every one waiting
                // hears so.
                session.destroy();
            });
        });
        let mut expected = vec!["refused 10 ERR_HTTP2_MAX_PENDING_SETTINGS_ACK".to_owned()];
        expected.extend((1..=9).map(|_| "cancelled ERR_HTTP2_SETTINGS_CANCEL".to_owned()));
        expected.push("session closed".to_owned());
        assert_eq!(lines, expected, "{how}");
    });
}
