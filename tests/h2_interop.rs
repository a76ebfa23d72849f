//! nodelike's HTTP/2 server (Node's `http2` compatibility API) against
//! peers no one here wrote: Node's own `http2` client
//! (`tests/peers/h2/client.js`, which prints what it observes, one event a
//! line), and curl with `--http2` and `--http2-prior-knowledge`. Each
//! scenario runs over TLS (ALPN `h2`) and over cleartext (h2c with prior
//! knowledge). No assertion is about timing; deadlines only turn a hang
//! into a failure.
#![cfg(feature = "tls")]

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::pki::{pki, Pki};
use common::{have, TestServer};
use nodelike::http::{IncomingMessage, Server, ServerResponse};
use nodelike::stream::Readable;
use nodelike::{http2, https};

const MIB: usize = 1 << 20;

/// The handler every scenario talks to; `events` hears what the server
/// side observes where the client cannot tell (a cancelled upload).
fn handler(events: mpsc::Sender<String>) -> impl FnMut(IncomingMessage, ServerResponse) {
    move |req, res| {
        let url = req.url();
        if let Some(n) = url.strip_prefix("/hello/") {
            res.set_header("Content-Type", "text/plain");
            res.end(format!("hello {n}"));
        } else if url.starts_with("/inspect") {
            let h = req.headers();
            res.set_header("Content-Type", "text/plain");
            // Connection-specific fields are dropped over HTTP/2.
            res.set_header("Connection", "keep-alive");
            res.end(format!(
                "{} {} {} host={} authority={} scheme={} custom={} cookie={}",
                req.method(),
                url,
                req.http_version(),
                h.get("host").unwrap_or("-"),
                h.get(":authority").unwrap_or("-"),
                h.get(":scheme").unwrap_or("-"),
                h.get("x-custom").unwrap_or("-"),
                h.get("cookie").unwrap_or("-"),
            ));
        } else if url == "/echo" {
            req.pipe(res);
        } else if url == "/big" {
            // 16 MiB written with back-pressure: write until `false`, go on
            // at `drain`.
            let left = std::rc::Rc::new(std::cell::Cell::new(16 * MIB));
            let chunk = vec![b'x'; 64 * 1024];
            let pump = std::rc::Rc::new(move || loop {
                if left.get() == 0 {
                    res.end(());
                    return;
                }
                left.set(left.get() - chunk.len());
                if !res.write(&chunk[..]) {
                    return;
                }
            });
            res.write_head(200, &[("Content-Length", (16 * MIB).to_string().as_str())]);
            let again = pump.clone();
            res.on_drain(move || again());
            pump();
        } else if url == "/trailers" {
            res.write_head(200, &[("Trailer", "X-Checksum")]);
            res.write("abc");
            res.add_trailers(&[("X-Checksum", "900150983cd24fb0")]);
            res.end(());
        } else if url == "/destroy" {
            res.write("partial");
            res.destroy();
        } else if url == "/slow-upload" {
            let tx = events.clone();
            req.on_close(move |reason| {
                let _ = tx.send(format!("upload closed {reason}"));
            });
        } else if url == "/no-content" {
            res.write_head(204, &[]);
            res.end(());
        } else {
            res.write_head(404, &[]);
            res.end("not found");
        }
    }
}

fn h2c_server(events: mpsc::Sender<String>) -> TestServer {
    TestServer::start(move || -> Server {
        http2::create_server(
            http2::ServerOptions {
                allow_http1: true,
                ..Default::default()
            },
            handler(events),
        )
    })
}

fn tls_server(p: &Pki, events: mpsc::Sender<String>) -> TestServer {
    let tls = https::ServerOptions {
        cert: p.server_cert.clone().into_bytes(),
        key: p.server_key.clone().into_bytes(),
        ..Default::default()
    };
    TestServer::start(move || -> Server {
        http2::create_secure_server(
            tls,
            http2::ServerOptions {
                allow_http1: true,
                ..Default::default()
            },
            handler(events),
        )
        .expect("TLS options")
    })
}

fn peer_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/h2/client.js")
}

/// Runs Node's client through `scenario`; returns its lines.
fn node(url: &str, scenario: &str, ca: Option<&str>) -> Vec<String> {
    assert!(have("node"), "this test needs `node` on the PATH");
    let mut cmd = Command::new("node");
    cmd.arg(peer_script()).arg(url).arg(scenario);
    if let Some(ca) = ca {
        cmd.arg(ca);
    }
    let out = common::output_within(cmd.stdin(Stdio::null()), Duration::from_secs(120));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "node {scenario} failed ({:?}):\n{text}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines().map(str::to_owned).collect()
}

/// Both transports, each scenario: (name, url, ca).
fn each_transport(scenario: &str, check: impl Fn(&[String], &str)) {
    let p = pki();
    let (tx, _rx) = mpsc::channel();
    let clear = h2c_server(tx.clone());
    let lines = node(&clear.url("/"), scenario, None);
    check(&lines, "h2c");
    clear.stop();
    let secure = tls_server(&p, tx);
    let url = format!("https://localhost:{}/", secure.port());
    let lines = node(&url, scenario, Some(&p.path("ca.pem")));
    check(&lines, "tls");
    secure.stop();
}

#[test]
fn node_client_gets_fifty_parallel_streams_on_one_connection() {
    each_transport("parallel", |lines, how| {
        assert!(
            lines.contains(&"settings max_concurrent_streams 100".to_string()),
            "{how}: {lines:?}"
        );
        let responses: Vec<&String> = lines
            .iter()
            .filter(|l| l.starts_with("response "))
            .collect();
        assert_eq!(responses.len(), 50, "{how}: {lines:?}");
        for (i, line) in responses.iter().enumerate() {
            assert_eq!(**line, format!("response {i} 200 hello {i}"), "{how}");
        }
        assert_eq!(lines.last().map(String::as_str), Some("closed"), "{how}");
    });
}

#[test]
fn the_handler_sees_an_http2_request_as_node_shows_it() {
    each_transport("inspect", |lines, how| {
        let authority = if how == "tls" {
            "localhost"
        } else {
            "127.0.0.1"
        };
        let scheme = if how == "tls" { "https" } else { "http" };
        let body = lines
            .iter()
            .find_map(|l| l.strip_prefix("body "))
            .unwrap_or_else(|| panic!("{how}: {lines:?}"));
        assert!(
            body.starts_with(&format!("GET /inspect?x=1 2.0 host={authority}:")),
            "{how}: {body}"
        );
        assert!(
            body.contains(&format!("authority={authority}:")),
            "{how}: {body}"
        );
        assert!(
            body.ends_with(&format!("scheme={scheme} custom=yes cookie=a=1")),
            "{how}: {body}"
        );
        assert!(
            lines.contains(&"status 200".to_string()),
            "{how}: {lines:?}"
        );
        assert!(
            lines.contains(&"content-type text/plain".to_string()),
            "{how}"
        );
    });
}

#[test]
fn a_four_mib_body_goes_up_and_comes_back_through_flow_control() {
    each_transport("echo", |lines, how| {
        assert!(
            lines.contains(&format!("echo 200 {} same", 4 * MIB + 7)),
            "{how}: {lines:?}"
        );
    });
}

#[test]
fn a_sixteen_mib_response_is_written_with_back_pressure() {
    each_transport("big", |lines, how| {
        let n = 16 * MIB;
        assert!(
            lines.contains(&format!("big 200 {n} {n}")),
            "{how}: {lines:?}"
        );
    });
}

#[test]
fn trailers_follow_the_body() {
    each_transport("trailers", |lines, how| {
        assert!(lines.contains(&"body abc".to_string()), "{how}: {lines:?}");
        assert!(
            lines.contains(&"trailer 900150983cd24fb0".to_string()),
            "{how}: {lines:?}"
        );
    });
}

#[test]
fn destroying_a_response_resets_only_its_stream() {
    each_transport("reset", |lines, how| {
        let first = lines
            .iter()
            .find(|l| l.starts_with("first "))
            .unwrap_or_else(|| panic!("{how}: {lines:?}"));
        // Node reports the reset (CANCEL is 8) as the stream's error.
        assert!(first.ends_with(" 8"), "{how}: {first}");
        assert!(
            lines.contains(&"second 200 hello after".to_string()),
            "{how}: {lines:?}"
        );
    });
}

#[test]
fn expect_100_continue_gets_an_informational_head_first() {
    each_transport("continue", |lines, how| {
        let order: Vec<&str> = lines
            .iter()
            .map(String::as_str)
            .filter(|l| *l == "continue" || l.starts_with("status") || l.starts_with("echo"))
            .collect();
        assert_eq!(
            order,
            ["continue", "status 200", "echo the body"],
            "{how}: {lines:?}"
        );
    });
}

#[test]
fn head_and_no_content_answers_have_no_body() {
    each_transport("head", |lines, how| {
        // As Node's HTTP/1.1 does for HEAD: no body, and no length made up
        // from the body the handler passed to `end`.
        assert!(
            lines.contains(&"head 200 0 ".to_string()),
            "{how}: {lines:?}"
        );
        assert!(
            lines.contains(&"no-content 204 0".to_string()),
            "{how}: {lines:?}"
        );
    });
}

#[test]
fn a_cancelled_upload_closes_its_request_as_aborted() {
    let (tx, rx) = mpsc::channel();
    let server = h2c_server(tx);
    let lines = node(&server.url("/"), "cancel", None);
    assert!(lines.contains(&"cancelled".to_string()), "{lines:?}");
    assert!(lines.contains(&"after 200".to_string()), "{lines:?}");
    let seen = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the server saw the upload close");
    assert_eq!(seen, "upload closed aborted");
    server.stop();
}

#[test]
fn server_close_sends_goaway_and_the_stream_in_flight_finishes() {
    // The handler closes the server while its own response is half sent:
    // GOAWAY goes out (last stream 1), the response still completes, then
    // the connection closes (and with it the server's loop).
    let server = TestServer::start(|| -> Server {
        let me: std::rc::Rc<std::cell::Cell<Option<Server>>> = Default::default();
        let handle = me.clone();
        let server = http2::create_server(http2::ServerOptions::default(), move |_req, res| {
            res.write_head(200, &[("Content-Type", "text/plain")]);
            res.write("first-");
            if let Some(server) = handle.get() {
                server.close();
            }
            nodelike::set_timeout(move || res.end("second"), 50);
        });
        me.set(Some(server));
        server
    });
    let lines = node(&server.url("/"), "graceful", None);
    let goaway = lines.iter().position(|l| l == "goaway 0 1");
    let answer = lines.iter().position(|l| l == "answer 200 first-second");
    assert!(goaway.is_some() && answer.is_some(), "{lines:?}");
    assert_eq!(
        lines.last().map(String::as_str),
        Some("closed"),
        "{lines:?}"
    );
    server.stop();
}

#[test]
fn nghttp_fetches_over_tls_and_h2c() {
    // nghttp (nghttp2's client), installed with apt-get when missing.
    if !have("nghttp") {
        let status = Command::new("sh")
            .arg("-c")
            .arg("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nghttp2-client")
            .stdin(Stdio::null())
            .status();
        assert!(
            matches!(status, Ok(s) if s.success()) && have("nghttp"),
            "this test needs `nghttp` (Debian's nghttp2-client), and apt-get failed ({status:?})"
        );
    }
    let p = pki();
    let (tx, _rx) = mpsc::channel();
    let nghttp = |url: &str| -> String {
        let out = common::output_within(
            Command::new("nghttp")
                .args(["-v", "-n", url])
                .stdin(Stdio::null()),
            Duration::from_secs(60),
        );
        assert!(
            out.status.success(),
            "nghttp {url}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let clear = h2c_server(tx.clone());
    let log = nghttp(&clear.url("/hello/1"));
    assert!(log.contains(":status: 200"), "{log}");
    assert!(log.contains("recv DATA frame"), "{log}");
    assert!(log.contains("recv SETTINGS frame"), "{log}");
    clear.stop();
    let secure = tls_server(&p, tx);
    // nghttp checks no certificate: the TLS part is ALPN and the frames.
    let log = nghttp(&format!("https://localhost:{}/hello/2", secure.port()));
    assert!(log.contains("The negotiated protocol: h2"), "{log}");
    assert!(log.contains(":status: 200"), "{log}");
    secure.stop();
}

#[test]
fn curl_speaks_http2_by_alpn_and_with_prior_knowledge_and_http1_still_works() {
    assert!(have("curl"), "this test needs `curl` on the PATH");
    let p = pki();
    let (tx, _rx) = mpsc::channel();
    let clear = h2c_server(tx.clone());
    let curl = |args: &[&str]| -> String {
        let out = common::output_within(
            Command::new("curl")
                .args(["-sS", "-o", "-", "-w", " %{http_version} %{response_code}"])
                .args(args)
                .stdin(Stdio::null()),
            Duration::from_secs(60),
        );
        assert!(
            out.status.success(),
            "curl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(
        curl(&["--http2-prior-knowledge", &clear.url("/hello/1")]),
        "hello 1 2 200"
    );
    // The same port answers HTTP/1.1 (`allow_http1`).
    assert_eq!(
        curl(&["--http1.1", &clear.url("/hello/2")]),
        "hello 2 1.1 200"
    );
    clear.stop();
    let secure = tls_server(&p, tx);
    let url = format!("https://localhost:{}/hello/3", secure.port());
    let ca = p.path("ca.pem");
    assert_eq!(curl(&["--http2", "--cacert", &ca, &url]), "hello 3 2 200");
    assert_eq!(
        curl(&["--http1.1", "--cacert", &ca, &url]),
        "hello 3 1.1 200"
    );
    secure.stop();
}

#[test]
fn an_http2_only_cleartext_server_refuses_http1_with_505() {
    let server = TestServer::start(|| -> Server {
        http2::create_server(http2::ServerOptions::default(), |_req, res| res.end("h2"))
    });
    let answer = common::exchange_until_close(server.port(), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.starts_with("HTTP/1.1 505 HTTP Version Not Supported\r\n"),
        "{text}"
    );
    server.stop();
}

#[test]
fn the_core_api_serves_node_client_streams_with_respond_and_end() {
    // Node's core API on our side: `on_stream` with `respond`/`end`, no
    // request handler at work; `on_session` sees the one connection.
    let sessions = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = sessions.clone();
    let server = TestServer::start(move || -> Server {
        let server = http2::create_server(http2::ServerOptions::default(), |_req, _res| {});
        server.on_session(move |_session| {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        });
        server.on_stream(|stream, headers| {
            let path = headers.get(":path").unwrap_or("/").to_owned();
            let n = path.strip_prefix("/hello/").unwrap_or("?").to_owned();
            assert_eq!(stream.id() % 2, 1, "client streams are odd");
            stream.respond(&[(":status", "200"), ("content-type", "text/plain")]);
            stream.end(format!("hello {n}"));
        });
        server
    });
    let lines = node(&server.url("/"), "parallel", None);
    let responses: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("response "))
        .collect();
    assert_eq!(responses.len(), 50, "{lines:?}");
    for (i, line) in responses.iter().enumerate() {
        assert_eq!(**line, format!("response {i} 200 hello {i}"));
    }
    assert_eq!(sessions.load(std::sync::atomic::Ordering::SeqCst), 1);
    server.stop();
}
