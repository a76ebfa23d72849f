//! The HTTPS server over real sockets, against peers no one here wrote:
//! curl and Node's `https` client. Certificates come from a throwaway CA
//! (`common/pki.rs`).
#![cfg(feature = "tls")]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use common::pki::{pki, Pki};
use common::{have, ChildGuard, TestServer};
use nodelike::http::Server;
use nodelike::https::{self, ServerOptions};

fn options(p: &Pki) -> ServerOptions {
    ServerOptions {
        cert: p.server_cert.clone().into_bytes(),
        key: p.server_key.clone().into_bytes(),
        ..Default::default()
    }
}

/// An HTTPS server that answers with what it knows of the connection.
fn who_are_you(options: ServerOptions) -> TestServer {
    TestServer::start(move || -> Server {
        https::create_server(options, |req, res| {
            let socket = req.connection();
            let subject = socket
                .peer_certificate()
                .map(|c| {
                    format!(
                        "CN={} O={} OU={}",
                        c.subject.cn.unwrap_or_default(),
                        c.subject.o.unwrap_or_default(),
                        c.subject.ou.unwrap_or_default()
                    )
                })
                .unwrap_or_else(|| "anonymous".into());
            let verdict = match socket.authorization_error() {
                None if socket.authorized() => "authorized".to_string(),
                None => "unauthorized".to_string(),
                Some(issue) => format!("unauthorized:{}", issue.code()),
            };
            res.end(format!(
                "{} {} {} alpn={:?} {subject} {verdict}",
                req.method(),
                req.url(),
                socket.encrypted(),
                socket.alpn_protocol()
            ));
        })
        .expect("a usable certificate")
    })
}

fn curl(args: &[&str]) -> (bool, String, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20"])
        .args(args)
        .output()
        .expect("curl runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn curl_gets_an_answer_over_tls_with_alpn_http_1_1() {
    if !have("curl") {
        eprintln!("skipping: curl is not installed");
        return;
    }
    let p = pki();
    let s = who_are_you(options(&p));
    let url = format!("https://localhost:{}/hello?x=1", s.port());
    let ca = p.path("ca.pem");
    let (ok, body, err) = curl(&["--cacert", &ca, &url]);
    assert!(ok, "curl failed: {err}");
    assert_eq!(
        body,
        "GET /hello?x=1 true alpn=Some(\"http/1.1\") anonymous unauthorized"
    );
    // Keep-alive across two requests on one TLS connection.
    let (ok, body, err) = curl(&["--cacert", &ca, "-w", "|%{num_connects}", &url, &url]);
    assert!(ok, "{err}");
    assert_eq!(body.matches("GET /hello").count(), 2, "{body}");
    assert!(
        body.ends_with("|0"),
        "the second request reused the connection: {body}"
    );
    s.stop();
}

#[test]
fn node_https_client_posts_a_body_and_reads_the_answer() {
    if !have("node") {
        eprintln!("skipping: node is not installed");
        return;
    }
    let p = pki();
    let s = TestServer::start({
        let o = options(&p);
        move || {
            https::create_server(o, |req, res| {
                let mut body = Vec::new();
                req.on_data(move |c| body.extend_from_slice(&c));
                // Echo the length back once the whole body is in.
                let len = std::rc::Rc::new(std::cell::Cell::new(0));
                let l = len.clone();
                req.on_data(move |c| l.set(l.get() + c.len()));
                req.on_end(move || res.end(format!("got {}", len.get())));
            })
            .unwrap()
        }
    });
    let script = format!(
        r#"
const https = require('https');
const req = https.request({{ host: 'localhost', port: {port}, method: 'POST', path: '/up',
  ca: require('fs').readFileSync({ca:?}) }}, (res) => {{
  let body = '';
  res.setEncoding('utf8');
  res.on('data', (c) => body += c);
  res.on('end', () => {{ console.log(res.statusCode + ' ' + body); }});
}});
req.on('error', (e) => {{ console.log('error ' + e.code); }});
req.end('x'.repeat(200000));
"#,
        port = s.port(),
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
        "200 got 200000",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    s.stop();
}

#[test]
fn mutual_tls_gives_the_client_certificate_and_refuses_clients_without_one() {
    if !have("curl") {
        eprintln!("skipping: curl is not installed");
        return;
    }
    let p = pki();
    let (tx, rx) = mpsc::channel();
    let opts = ServerOptions {
        ca: Some(p.ca_pem.clone().into_bytes()),
        request_cert: true,
        ..options(&p)
    };
    let s = TestServer::start(move || {
        let server = https::create_server(opts, |req, res| {
            let cert = req
                .connection()
                .peer_certificate()
                .expect("a client certificate");
            res.end(format!(
                "hello {} ({} / {}), verified {}, serial {}, sha256 {} bytes",
                cert.subject.cn.unwrap_or_default(),
                cert.subject.o.unwrap_or_default(),
                cert.subject.ou.unwrap_or_default(),
                req.connection().verify_peer(),
                !cert.serial_number.is_empty(),
                cert.fingerprint256.split(':').count()
            ));
        })
        .unwrap();
        let t = tx.clone();
        server.on_tls_client_error(move |err, _socket| t.send(err.code()).unwrap());
        server.on_secure_connection(move |_socket| tx.send("secure").unwrap());
        server
    });
    let url = format!("https://localhost:{}/", s.port());
    let (ca, cert, key) = (p.path("ca.pem"), p.path("client.pem"), p.path("client.key"));
    let (ok, body, err) = curl(&["--cacert", &ca, "--cert", &cert, "--key", &key, &url]);
    assert!(ok, "{err}");
    assert_eq!(
        body,
        "hello alice (Example / Testing), verified true, serial true, sha256 32 bytes"
    );
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), "secure");
    // No certificate: the handshake fails, the server says why.
    let (ok, _body, _err) = curl(&["--cacert", &ca, &url]);
    assert!(!ok, "served without a client certificate");
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        "ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE"
    );
    s.stop();
}

#[test]
fn asking_without_requiring_serves_everyone_and_says_who_checked_out() {
    if !have("curl") {
        eprintln!("skipping: curl is not installed");
        return;
    }
    let p = pki();
    let s = who_are_you(ServerOptions {
        ca: Some(p.ca_pem.clone().into_bytes()),
        request_cert: true,
        reject_unauthorized: Some(false),
        ..options(&p)
    });
    let url = format!("https://localhost:{}/", s.port());
    let ca = p.path("ca.pem");
    let (ok, body, err) = curl(&["--cacert", &ca, &url]);
    assert!(ok, "{err}");
    assert!(
        body.ends_with("anonymous unauthorized:UNABLE_TO_GET_ISSUER_CERT"),
        "{body}"
    );
    let (ok, body, err) = curl(&[
        "--cacert",
        &ca,
        "--cert",
        &p.path("stranger.pem"),
        "--key",
        &p.path("stranger.key"),
        &url,
    ]);
    assert!(ok, "{err}");
    assert!(
        body.ends_with("CN=mallory O= OU= unauthorized:DEPTH_ZERO_SELF_SIGNED_CERT"),
        "{body}"
    );
    let (ok, body, err) = curl(&[
        "--cacert",
        &ca,
        "--cert",
        &p.path("client.pem"),
        "--key",
        &p.path("client.key"),
        &url,
    ]);
    assert!(ok, "{err}");
    assert!(
        body.ends_with("CN=alice O=Example OU=Testing authorized"),
        "{body}"
    );
    s.stop();
}

#[test]
fn a_bad_handshake_is_a_tls_client_error_and_the_server_goes_on() {
    let p = pki();
    let (tx, rx) = mpsc::channel();
    let opts = options(&p);
    let s = TestServer::start(move || {
        let server = https::create_server(opts, |_req, res| res.end("ok")).unwrap();
        server.on_tls_client_error(move |err, _socket| tx.send(err.code()).unwrap());
        server
    });
    // Plain HTTP to the TLS port.
    let mut c = TcpStream::connect(("127.0.0.1", s.port())).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    let _ = c.read_to_end(&mut answer);
    assert!(
        !answer.starts_with(b"HTTP/1.1 200"),
        "no HTTP over a TLS port"
    );
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        "ERR_SSL_HANDSHAKE_FAILURE"
    );
    // Half a ClientHello, then the peer goes: closed quietly.
    let mut c = TcpStream::connect(("127.0.0.1", s.port())).unwrap();
    c.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00])
        .unwrap();
    drop(c);
    // Still serving.
    if have("curl") {
        let url = format!("https://localhost:{}/", s.port());
        let (ok, body, err) = curl(&["--cacert", &p.path("ca.pem"), &url]);
        assert!(ok && body == "ok", "{err}");
    }
    s.stop();
}

#[test]
fn a_client_that_never_finishes_the_handshake_meets_the_headers_timeout() {
    let p = pki();
    let opts = options(&p);
    let s = TestServer::start(move || {
        let server = https::create_server(opts, |_req, res| res.end("ok")).unwrap();
        server.set_headers_timeout(200);
        server
    });
    let mut c = TcpStream::connect(("127.0.0.1", s.port())).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    // Say nothing: the server closes the connection on its own (at most a
    // TLS alert goes out; never a plain-text answer).
    let mut got = Vec::new();
    c.read_to_end(&mut got).expect("closed by the server");
    assert!(got.len() < 64, "{} bytes", got.len());
    assert!(!got.windows(4).any(|w| w == b"HTTP"), "{got:?}");
    s.stop();
}

#[test]
fn the_mtls_example_greets_a_certified_client_by_name_and_refuses_others() {
    if !have("curl") {
        eprintln!("skipping: curl is not installed");
        return;
    }
    let p = pki();
    let args = [p.path("ca.pem"), p.path("server.pem"), p.path("server.key")];
    let example = common::ExampleProcess::start_with("mtls", &args);
    let url = format!("https://localhost:{}/", example.port);
    let ca = p.path("ca.pem");
    let (ok, body, err) = curl(&[
        "--cacert",
        &ca,
        "--cert",
        &p.path("client.pem"),
        "--key",
        &p.path("client.key"),
        "-w",
        "%{http_code}",
        &url,
    ]);
    assert!(ok, "{err}");
    assert!(
        body.starts_with("hello CN=alice O=Example OU=Testing (verified: true"),
        "{body}"
    );
    assert!(body.ends_with("200"), "{body}");
    let (ok, _body, _err) = curl(&["--cacert", &ca, &url]);
    assert!(!ok, "a client without a certificate is refused");
}

#[test]
fn the_https_hello_example_makes_its_own_certificate_when_given_none() {
    if !have("curl") {
        eprintln!("skipping: curl is not installed");
        return;
    }
    let example = common::ExampleProcess::start("https_hello");
    let url = format!("https://localhost:{}/", example.port);
    let (ok, body, err) = curl(&["-k", &url]);
    assert!(ok, "{err}");
    assert_eq!(body, "Hello, World!");
}

// ------------------------------------------------------------ the client

use nodelike::http::{self, RequestOptions};
use nodelike::https::ClientTlsOptions;
use std::cell::RefCell;
use std::rc::Rc;

/// Runs HTTPS requests on this thread's loop; returns per request
/// `Ok(body)` or `Err(code)`.
fn fetch_all(requests: Vec<RequestOptions>) -> Vec<Result<String, String>> {
    let results = Rc::new(RefCell::new(vec![None; requests.len()]));
    for (i, o) in requests.into_iter().enumerate() {
        let r = results.clone();
        let req = https::request(o, move |res| {
            let body = Rc::new(RefCell::new(String::new()));
            let b = body.clone();
            res.on_data(move |c| b.borrow_mut().push_str(&String::from_utf8_lossy(&c)));
            let r = r.clone();
            res.on_end(move || r.borrow_mut()[i] = Some(Ok(body.borrow().clone())));
        });
        let r = results.clone();
        req.on_error(move |e| r.borrow_mut()[i] = Some(Err(e.code().to_string())));
        req.end(());
    }
    nodelike::run();
    let out = results
        .borrow()
        .iter()
        .map(|r| r.clone().expect("an outcome"))
        .collect();
    out
}

fn to(port: u16, tls: ClientTlsOptions) -> RequestOptions {
    RequestOptions {
        host: "localhost".into(),
        port,
        path: "/x".into(),
        tls: Some(tls),
        ..Default::default()
    }
}

#[test]
fn our_client_talks_to_our_server_reuses_sockets_and_resumes_sessions() {
    let p = pki();
    let (tx, rx) = mpsc::channel();
    let opts = options(&p);
    let s = TestServer::start(move || {
        https::create_server(opts, move |req, res| {
            tx.send(req.connection().is_session_reused()).unwrap();
            res.end(format!("secure {}", req.url()));
        })
        .unwrap()
    });
    let ca = ClientTlsOptions {
        ca: Some(p.ca_pem.clone().into_bytes()),
        ..Default::default()
    };
    // Pooled: two requests in turn share one connection.
    let out = fetch_all(vec![to(s.port(), ca.clone())]);
    assert_eq!(out, [Ok("secure /x".to_string())]);
    assert!(!rx.recv().unwrap(), "the first handshake is a full one");
    // Unpooled: a fresh connection resumes the session of the first.
    let fresh = RequestOptions {
        agent: None,
        ..to(s.port(), ca.clone())
    };
    assert_eq!(fetch_all(vec![fresh]), [Ok("secure /x".to_string())]);
    assert!(
        rx.recv().unwrap(),
        "the second connection resumed the session"
    );
    // An https:// URL works through http::get too.
    let url = format!("https://localhost:{}/url", s.port());
    let mut url_opts = http::IntoRequestOptions::into_request_options(url.as_str()).unwrap();
    url_opts.tls = Some(ca);
    assert_eq!(fetch_all(vec![url_opts]), [Ok("secure /url".to_string())]);
    s.stop();
}

#[test]
fn certificate_failures_reach_the_request_with_nodes_codes() {
    let p = pki();
    let s = who_are_you(options(&p));
    let stranger = TestServer::start({
        let o = ServerOptions {
            cert: p.stranger_cert.clone().into_bytes(),
            key: p.stranger_key.clone().into_bytes(),
            ..Default::default()
        };
        move || https::create_server(o, |_req, res| res.end("hi")).unwrap()
    });
    let ca = || ClientTlsOptions {
        ca: Some(p.ca_pem.clone().into_bytes()),
        ..Default::default()
    };
    let out = fetch_all(vec![
        // A self-signed certificate nobody vouches for.
        to(stranger.port(), ca()),
        // Signed by a CA the client does not trust (the stranger as CA).
        to(
            s.port(),
            ClientTlsOptions {
                ca: Some(p.stranger_cert.clone().into_bytes()),
                ..Default::default()
            },
        ),
        // The right CA, the wrong name.
        to(
            s.port(),
            ClientTlsOptions {
                servername: Some("example.com".into()),
                ..ca()
            },
        ),
        // Told not to check: served.
        to(
            stranger.port(),
            ClientTlsOptions {
                reject_unauthorized: false,
                ..Default::default()
            },
        ),
    ]);
    assert_eq!(out[0], Err("DEPTH_ZERO_SELF_SIGNED_CERT".into()));
    assert_eq!(out[1], Err("UNABLE_TO_VERIFY_LEAF_SIGNATURE".into()));
    assert_eq!(out[2], Err("ERR_TLS_CERT_ALTNAME_INVALID".into()));
    assert_eq!(out[3], Ok("hi".into()));
    s.stop();
    stranger.stop();
}

#[test]
fn an_expired_certificate_is_refused_as_expired() {
    let p = pki();
    // Re-issue the server certificate, expired, from the same CA key is not
    // kept; a self-contained expired pair with its own CA does the job.
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "old CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut leaf = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    leaf.not_before = rcgen::date_time_ymd(2020, 1, 1);
    leaf.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let leaf = leaf.signed_by(&key, &ca_cert, &ca_key).unwrap();
    let s = TestServer::start({
        let o = ServerOptions {
            cert: leaf.pem().into_bytes(),
            key: key.serialize_pem().into_bytes(),
            ..Default::default()
        };
        move || https::create_server(o, |_req, res| res.end("stale")).unwrap()
    });
    let out = fetch_all(vec![to(
        s.port(),
        ClientTlsOptions {
            ca: Some(ca_cert.pem().into_bytes()),
            ..Default::default()
        },
    )]);
    assert_eq!(out, [Err("CERT_HAS_EXPIRED".to_string())]);
    drop(p);
    s.stop();
}

#[test]
fn our_client_presents_a_certificate_to_a_server_that_requires_one() {
    let p = pki();
    let s = who_are_you(ServerOptions {
        ca: Some(p.ca_pem.clone().into_bytes()),
        request_cert: true,
        ..options(&p)
    });
    let ca = ClientTlsOptions {
        ca: Some(p.ca_pem.clone().into_bytes()),
        ..Default::default()
    };
    let out = fetch_all(vec![
        to(
            s.port(),
            ClientTlsOptions {
                cert: Some(p.client_cert.clone().into_bytes()),
                key: Some(p.client_key.clone().into_bytes()),
                ..ca.clone()
            },
        ),
        to(s.port(), ca),
    ]);
    let first = out[0].as_ref().expect("served with a certificate");
    assert!(
        first.ends_with("CN=alice O=Example OU=Testing authorized"),
        "{first}"
    );
    assert!(out[1].is_err(), "refused without one: {:?}", out[1]);
    s.stop();
}

#[test]
fn our_client_talks_to_nodes_https_server() {
    if !have("node") {
        eprintln!("skipping: node is not installed");
        return;
    }
    let p = pki();
    let script = format!(
        r#"
const https = require('https');
const fs = require('fs');
const server = https.createServer({{ cert: fs.readFileSync({cert:?}), key: fs.readFileSync({key:?}) }},
  (req, res) => {{ res.end('node says ' + req.url); }});
server.listen(0, '127.0.0.1', () => {{ console.log(server.address().port); }});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
"#,
        cert = p.path("server.pem"),
        key = p.path("server.key"),
    );
    let mut node = ChildGuard::spawn(
        Command::new("node")
            .arg("-e")
            .arg(&script)
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
    let port: u16 = line.trim().parse().unwrap();
    let result = fetch_all(vec![to(
        port,
        ClientTlsOptions {
            ca: Some(p.ca_pem.clone().into_bytes()),
            ..Default::default()
        },
    )]);
    drop(node.stdin.take());
    drop(node);
    assert_eq!(result, [Ok("node says /x".to_string())]);
}

/// The process's peak resident memory, in KiB (Linux).
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[test]
fn back_pressure_holds_through_tls_for_a_64_mib_echo() {
    if !have("python3") {
        eprintln!("skipping: python3 is not installed");
        return;
    }
    let p = pki();
    let opts = options(&p);
    let s = TestServer::start(move || {
        https::create_server(opts, |req, res| {
            // Echo with back-pressure: pause the upload while the answer
            // is backed up, resume on drain.
            req.on_data(move |chunk| {
                if !res.write(chunk) {
                    req.pause();
                }
            });
            res.on_drain(move || req.resume());
            req.on_end(move || res.end(()));
        })
        .unwrap()
    });
    let before = peak_rss_kib();
    let script = format!(
        r#"
# One event loop drives both directions: an SSL object must not be used by
# two threads at once (OpenSSL's rule), which a sending thread beside a
# receiving one would do.
import asyncio, hashlib, ssl
size = 64 * 1024 * 1024
block = bytes(range(256)) * 256
async def main():
    ctx = ssl.create_default_context(cafile={ca:?})
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", {port}, ssl=ctx, server_hostname="localhost", limit=1 << 20)
    sent = hashlib.sha256()
    async def upload():
        writer.write(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size)
        for _ in range(size // len(block)):
            sent.update(block)
            writer.write(block)
            await writer.drain()
    up = asyncio.create_task(upload())
    head = await reader.readuntil(b"\r\n\r\n")
    assert b"chunked" in head.lower(), head
    # Read the chunked echo slowly at first (the server must pause the upload).
    await asyncio.sleep(0.5)
    received = hashlib.sha256()
    total = 0
    while True:
        line = await reader.readuntil(b"\r\n")
        n = int(line.split(b";")[0], 16)
        chunk = await reader.readexactly(n + 2)
        if n == 0:
            break
        received.update(chunk[:n])
        total += n
    await up
    assert total == size, total
    assert received.digest() == sent.digest()
    print("ok", total)
asyncio.run(main())
"#,
        ca = p.path("ca.pem"),
        port = s.port()
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(&script)
        .output()
        .expect("python3 runs");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "ok 67108864",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let grown = peak_rss_kib().saturating_sub(before);
    assert!(
        grown < 32 * 1024,
        "the server's memory grew by {grown} KiB echoing 64 MiB: back-pressure did not hold"
    );
    s.stop();
}
