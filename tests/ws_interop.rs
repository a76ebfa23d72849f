//! `nodelike::ws` against peers no one here wrote: the npm `ws` package
//! (pinned in `tests/peers/ws/package.json`, installed by these tests into
//! `<target>/node-peers/ws`) both ways, with and without permessage-deflate,
//! and raw TCP clients that send what no library would (bad frames, bad
//! handshakes, a deflate bomb, a client that never reads, 10,000 idle
//! connections).
//!
//! The Node side is `tests/peers/ws/peer.js`: it runs a plan of steps and
//! prints every event it sees, one per line (`message text 5 "hello"`,
//! `ping 0102`, `close 4999 bye`, ...). Our server (a `ws::WebSocketServer`
//! on its own thread and loop) logs the same lines for each connection, and
//! our client does too, so that each test asserts what a user observes on
//! either side: the events, in order, and the bytes on the wire. No
//! assertion is about timing; deadlines only turn a hang into a failure.

mod common;

use std::cell::RefCell;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{example_bin, have, ChildGuard};
use nodelike::{http, ws};

/// How long anything may take before the test calls it a hang.
const DEADLINE: Duration = Duration::from_secs(120);
const MIB: usize = 1 << 20;

// ---------------------------------------------------------------------------
// The Node peer

fn need(program: &str) {
    assert!(
        have(program),
        "this test needs `{program}` on the PATH (the machine image has it; .ci/run checks)"
    );
}

/// `<target>/node-peers/ws/node_modules`, with the pinned `ws` installed
/// (once per target dir: `npm install` into a fresh folder, then renamed
/// into place, so that concurrent test binaries never see half an install).
fn node_modules() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        need("node");
        if !have("npm") {
            // Debian's nodejs comes without npm: install it as CI installs
            // the other peers.
            let _ = Command::new("sh")
                .arg("-c")
                .arg("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm")
                .stdin(Stdio::null())
                .status();
        }
        need("npm");
        let mut target = std::env::current_exe().unwrap();
        target.pop(); // the test binary
        if target.ends_with("deps") {
            target.pop();
        }
        target.pop(); // debug/ or release/
        let root = target.join("node-peers");
        let dest = root.join("ws");
        let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/ws/package.json");
        let wanted = std::fs::read(&spec).unwrap();
        if std::fs::read(dest.join("package.json")).ok().as_ref() == Some(&wanted)
            && dest.join("node_modules/ws/package.json").exists()
        {
            return dest.join("node_modules");
        }
        let tmp = root.join(format!("ws.tmp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).unwrap();
        std::fs::write(tmp.join("package.json"), &wanted).unwrap();
        let out = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--no-package-lock"])
            .current_dir(&tmp)
            .output()
            .expect("npm runs");
        assert!(
            out.status.success(),
            "npm install of the ws peer failed (the npm registry must be reachable): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let _ = std::fs::remove_dir_all(&dest);
        if std::fs::rename(&tmp, &dest).is_err() {
            // Another test binary got there first.
            let _ = std::fs::remove_dir_all(&tmp);
        }
        assert!(dest.join("node_modules/ws/package.json").exists());
        dest.join("node_modules")
    })
    .clone()
}

fn peer_command() -> Command {
    let mut cmd = Command::new("node");
    cmd.env("NODE_PATH", node_modules())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/ws/peer.js"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    cmd
}

/// Lines from a child's stdout, read on a thread (so that waiting for them
/// can have a deadline).
struct Lines {
    rx: mpsc::Receiver<String>,
}

impl Lines {
    fn of(child: &mut ChildGuard) -> Lines {
        let out = BufReader::new(child.stdout.take().expect("piped"));
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if tx.send(line.trim_end().to_owned()).is_err() {
                    return;
                }
            }
        });
        Lines { rx }
    }

    fn next(&self) -> Option<String> {
        match self.rx.recv_timeout(DEADLINE) {
            Ok(l) => Some(l),
            Err(mpsc::RecvTimeoutError::Disconnected) => None,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("the node peer hung"),
        }
    }

    /// Every line until the peer exits.
    fn rest(&self) -> Vec<String> {
        std::iter::from_fn(|| self.next()).collect()
    }
}

/// Runs `peer.js client URL OPTIONS PLAN` to its end; its lines.
fn node_client(url: &str, options: &str, plan: &str) -> Vec<String> {
    node_client_with_env(url, options, plan, &[])
}

/// [`node_client`] with environment variables for node (a CA to trust).
fn node_client_with_env(url: &str, options: &str, plan: &str, env: &[(&str, &str)]) -> Vec<String> {
    let mut cmd = peer_command();
    cmd.args(["client", url, options, plan]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = ChildGuard::spawn(&mut cmd).expect("node");
    let lines = Lines::of(&mut child).rest();
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "node client: {status}; printed {lines:#?}"
    );
    lines
}

/// A `peer.js server` that has printed its port.
struct NodeServer {
    child: ChildGuard,
    lines: Lines,
    port: u16,
}

impl NodeServer {
    fn start(options: &str, plan: &str) -> NodeServer {
        let mut child =
            ChildGuard::spawn(peer_command().args(["server", options, plan])).expect("node");
        let lines = Lines::of(&mut child);
        let port = lines
            .next()
            .expect("the node server prints its port")
            .parse()
            .expect("a port");
        NodeServer { child, lines, port }
    }

    fn url(&self, path: &str) -> String {
        format!("ws://127.0.0.1:{}{path}", self.port)
    }

    /// What it printed once its connection closed (it exits then).
    fn finish(mut self) -> Vec<String> {
        let lines = self.lines.rest();
        let status = self.child.wait().unwrap();
        assert!(
            status.success(),
            "node server: {status}; printed {lines:#?}"
        );
        lines
    }
}

// ---------------------------------------------------------------------------
// What both sides print, as peer.js prints it

fn text_pattern(n: usize) -> String {
    (0..n).map(|i| (b'a' + (i % 26) as u8) as char).collect()
}

fn binary_pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// peer.js's `describe`: short messages shown, long ones checked against
/// the pattern.
fn describe(data: &[u8], is_binary: bool) -> String {
    let kind = if is_binary { "binary" } else { "text" };
    let shown = if data.len() <= 64 {
        if is_binary {
            hex(data)
        } else {
            format!("{:?}", std::str::from_utf8(data).expect("text is UTF-8"))
        }
    } else {
        let same = if is_binary {
            data == binary_pattern(data.len())
        } else {
            data == text_pattern(data.len()).as_bytes()
        };
        (if same { "pattern" } else { "other" }).to_owned()
    };
    format!("message {kind} {} {shown}", data.len())
        .trim_end()
        .to_owned()
}

/// The lines of `events` without the `open`/`connection` line (whose
/// `extensions` value has parameters that differ between implementations),
/// and that line on its own.
fn split_open(events: &[String]) -> (String, Vec<String>) {
    let (first, rest) = events.split_first().expect("at least one event");
    assert!(
        first.starts_with("open ") || first.starts_with("connection "),
        "{events:#?}"
    );
    (first.clone(), rest.to_vec())
}

fn assert_deflate(open_line: &str, deflate: bool) {
    let ext = open_line
        .split(' ')
        .find_map(|w| w.strip_prefix("extensions="))
        .unwrap_or_else(|| panic!("no extensions in {open_line:?}"));
    if deflate {
        assert!(ext.starts_with("permessage-deflate"), "{open_line}");
    } else {
        assert_eq!(ext, "", "{open_line}");
    }
}

// ---------------------------------------------------------------------------
// Our server, on its own thread and loop

type Shared = Arc<Mutex<Vec<(String, String)>>>;

/// A `ws::WebSocketServer` attached to an `http::Server` on a thread of its
/// own. Each connection logs its events (tagged with its request path):
/// `connection ...`, the messages it receives (which it echoes with their
/// type, pausing while the echo waits to be sent), `ping`/`pong` payloads,
/// `close CODE REASON`. A text message `cmd ...` is a command instead:
/// `cmd ping HEX`, `cmd close [CODE [REASON]]`, `cmd fragments` (sends
/// "frag1" + "frag2" as one fragmented message), `cmd binary N`.
struct OurServer {
    port: u16,
    events: Shared,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

fn on_connection(ws: ws::WebSocket, path: String, events: Shared) {
    let log = {
        let events = events.clone();
        let path = path.clone();
        move |line: String| {
            events
                .lock()
                .unwrap()
                .push((path.clone(), line.trim_end().to_owned()))
        }
    };
    log(format!(
        "connection protocol={} extensions={} path={path}",
        ws.protocol(),
        ws.extensions()
    ));
    let l = log.clone();
    let w = ws;
    ws.on_message(move |data: &[u8], is_binary: bool| {
        if !is_binary && data.starts_with(b"cmd ") {
            let cmd = std::str::from_utf8(&data[4..]).unwrap().to_owned();
            let words: Vec<&str> = cmd.splitn(3, ' ').collect();
            match words[..] {
                ["ping", payload] => w.ping(unhex(payload)),
                ["close"] => w.close(None, ""),
                ["close", code] => w.close(Some(code.parse().unwrap()), ""),
                ["close", code, reason] => w.close(Some(code.parse().unwrap()), reason),
                ["fragments"] => {
                    let part = |fin| ws::SendOptions {
                        binary: Some(false),
                        compress: None,
                        fin,
                    };
                    w.send_with("frag1", part(false), None);
                    w.send_with("frag2", part(true), None);
                }
                ["binary", n] => {
                    w.send(binary_pattern(n.parse().unwrap()));
                }
                _ => panic!("unknown command {cmd:?}"),
            }
            return;
        }
        l(describe(data, is_binary));
        let sent = w.send_with(
            data.to_vec(),
            ws::SendOptions {
                binary: Some(is_binary),
                compress: None,
                fin: true,
            },
            None,
        );
        if !sent {
            w.pause();
        }
    });
    let w = ws;
    ws.on_drain(move || w.resume());
    let l = log.clone();
    ws.on_ping(move |d: &[u8]| l(format!("ping {}", hex(d))));
    let l = log.clone();
    ws.on_pong(move |d: &[u8]| l(format!("pong {}", hex(d))));
    let l = log.clone();
    ws.on_error(move |e: &nodelike::Error| l(format!("error {e}")));
    ws.on_close(move |code: u16, reason: &str| log(format!("close {code} {reason}")));
}

impl OurServer {
    fn start(options: impl FnOnce() -> ws::ServerOptions + Send + 'static) -> OurServer {
        OurServer::start_with(None, options)
    }

    /// With `tls` (certificate and key, PEM), attached to an HTTPS server:
    /// its URLs are then `wss://localhost:PORT/...`.
    fn start_with(
        tls: Option<(Vec<u8>, Vec<u8>)>,
        options: impl FnOnce() -> ws::ServerOptions + Send + 'static,
    ) -> OurServer {
        let _ = env_logger::builder().is_test(true).try_init();
        let events: Shared = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let (ev, flag) = (events.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let not_found = |_req: http::IncomingMessage, res: http::ServerResponse| {
                res.write_head(404, &[("Content-Type", "text/plain")]);
                res.end("not a websocket\n");
            };
            let server = match tls {
                #[cfg(feature = "tls")]
                Some((cert, key)) => nodelike::https::create_server(
                    nodelike::https::ServerOptions {
                        cert,
                        key,
                        ..Default::default()
                    },
                    not_found,
                )
                .expect("an HTTPS server"),
                #[cfg(not(feature = "tls"))]
                Some(_) => panic!("TLS needs the `tls` feature"),
                None => http::create_server(not_found),
            };
            let mut opts = options();
            opts.server = Some(server);
            let wss = ws::WebSocketServer::new(opts);
            wss.on_connection(move |ws: ws::WebSocket, req: &http::IncomingMessage| {
                on_connection(ws, req.url(), ev.clone())
            });
            server.listen(0, "127.0.0.1", || {});
            tx.send(server.address().expect("listening").port())
                .unwrap();
            let ticker = Rc::new(std::cell::Cell::new(None));
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
        let port = rx.recv_timeout(DEADLINE).expect("server started");
        OurServer {
            port,
            events,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("ws://127.0.0.1:{}{path}", self.port)
    }

    #[cfg(feature = "tls")]
    fn secure_url(&self, path: &str) -> String {
        format!("wss://localhost:{}{path}", self.port)
    }

    /// The events of the connection to `path`, once it has closed.
    fn events_until_close(&self, path: &str) -> Vec<String> {
        let until = Instant::now() + DEADLINE;
        loop {
            let lines: Vec<String> = self
                .events
                .lock()
                .unwrap()
                .iter()
                .filter(|(p, _)| p == path)
                .map(|(_, l)| l.clone())
                .collect();
            if lines.iter().any(|l| l.starts_with("close ")) {
                return lines;
            }
            assert!(
                Instant::now() < until,
                "the server's connection to {path} never closed: {lines:#?}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Stops it and waits for its loop to return.
    fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().expect("server thread panicked");
        }
    }
}

impl Drop for OurServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn deflate_options(on: bool) -> ws::ServerOptions {
    ws::ServerOptions {
        per_message_deflate: on.then(ws::PerMessageDeflate::default),
        ..Default::default()
    }
}

// ---------------------------------------------------------------------------
// The harness itself: Node to Node

/// The peer script against itself: what every test below expects of a
/// `ws` peer holds between two `ws` peers.
#[test]
fn the_node_peers_talk_to_each_other() {
    let server = NodeServer::start(
        r#"{"perMessageDeflate":true,"handleProtocols":"first"}"#,
        r#"[{"echo":true},{"ping":"0102"},{"wait":"pong","count":1}]"#,
    );
    let client = node_client(
        &server.url("/harness"),
        r#"{"protocols":["chat","superchat"]}"#,
        r#"[{"wait":"ping","count":1},{"send":"hello"},{"send":{"hex":""}},{"send":{"binary":1048576}},
            {"send":"frag1","fin":false},{"send":"frag2"},{"ping":"abcd"},{"wait":"message","count":4},
            {"wait":"pong","count":1},{"close":[4999,"bye"]}]"#,
    );
    assert_eq!(
        client,
        [
            "open protocol=chat extensions=permessage-deflate",
            "ping 0102",
            "message text 5 \"hello\"",
            "message binary 0",
            "message binary 1048576 pattern",
            "message text 10 \"frag1frag2\"",
            "pong abcd",
            "close 4999 bye",
        ]
    );
    assert_eq!(
        server.finish(),
        [
            "connection protocol=chat extensions=permessage-deflate path=/harness",
            "pong 0102",
            "message text 5 \"hello\"",
            "message binary 0",
            "message binary 1048576 pattern",
            "message text 10 \"frag1frag2\"",
            "ping abcd",
            "close 4999 bye",
        ]
    );
}

// ---------------------------------------------------------------------------
// A Node `ws` client against our server

fn node_client_echo(deflate: bool) {
    let server = OurServer::start(move || deflate_options(deflate));
    let options = format!(r#"{{"perMessageDeflate":{deflate}}}"#);
    let sixteen = 16 * MIB;
    let plan = format!(
        r#"[{{"send":"hello"}},{{"send":""}},{{"send":{{"hex":"00ff10"}}}},{{"send":{{"hex":""}}}},
            {{"send":{{"binary":{sixteen}}}}},{{"send":{{"text":{sixteen}}}}},
            {{"send":"frag1 ","fin":false}},{{"send":"frag2 ","fin":false}},{{"send":"frag3"}},
            {{"send":{{"hex":"0102"}},"fin":false}},{{"send":{{"hex":"0304"}}}},
            {{"wait":"message","count":8}},
            {{"ping":"c0ffee"}},{{"wait":"pong","count":1}},
            {{"send":"cmd ping 0a0b"}},{{"wait":"ping","count":1}},
            {{"send":"cmd fragments"}},{{"wait":"message","count":9}},
            {{"close":[1000,"done"]}}]"#
    );
    let client = node_client(&server.url("/echo"), &options, &plan);
    let (open, client) = split_open(&client);
    assert_deflate(&open, deflate);
    assert!(open.starts_with("open protocol= "), "{open}");
    let echoed = [
        "message text 5 \"hello\"".to_owned(),
        "message text 0 \"\"".to_owned(),
        "message binary 3 00ff10".to_owned(),
        "message binary 0".to_owned(),
        format!("message binary {sixteen} pattern"),
        format!("message text {sixteen} pattern"),
        "message text 17 \"frag1 frag2 frag3\"".to_owned(),
        "message binary 4 01020304".to_owned(),
    ];
    let mut want = echoed.to_vec();
    want.extend(
        [
            "pong c0ffee",
            "ping 0a0b",
            "message text 10 \"frag1frag2\"",
            "close 1000 done",
        ]
        .map(String::from),
    );
    assert_eq!(client, want);

    let (connection, ours) = split_open(&server.events_until_close("/echo"));
    assert_deflate(&connection, deflate);
    assert!(connection.ends_with(" path=/echo"), "{connection}");
    let mut want = echoed.to_vec();
    want.extend(["ping c0ffee", "pong 0a0b", "close 1000 done"].map(String::from));
    assert_eq!(ours, want);
    server.stop();
}

#[test]
fn a_node_client_is_echoed_by_our_server() {
    node_client_echo(false);
}

#[test]
fn a_node_client_is_echoed_by_our_server_with_permessage_deflate() {
    node_client_echo(true);
}

/// `wss://`: a Node `ws` client over TLS (trusting the test CA through
/// `NODE_EXTRA_CA_CERTS`) is echoed by our server attached to an HTTPS
/// server, compressed, with fragments, a ping and the close handshake.
#[cfg(feature = "tls")]
#[test]
fn a_node_client_is_echoed_by_our_server_over_tls() {
    let pki = common::pki::pki();
    let tls = (
        pki.server_cert.clone().into_bytes(),
        pki.server_key.clone().into_bytes(),
    );
    let server = OurServer::start_with(Some(tls), || deflate_options(true));
    let big = MIB;
    let plan = format!(
        r#"[{{"send":"hello"}},{{"send":{{"hex":"00ff10"}}}},{{"send":{{"text":{big}}}}},
            {{"send":"frag1 ","fin":false}},{{"send":"frag2"}},
            {{"wait":"message","count":4}},
            {{"ping":"c0ffee"}},{{"wait":"pong","count":1}},
            {{"close":[1000,"secure"]}}]"#
    );
    let ca = pki.path("ca.pem");
    let client = node_client_with_env(
        &server.secure_url("/tls"),
        r#"{"perMessageDeflate":true}"#,
        &plan,
        &[("NODE_EXTRA_CA_CERTS", &ca)],
    );
    let (open, client) = split_open(&client);
    assert_deflate(&open, true);
    let echoed = [
        "message text 5 \"hello\"".to_owned(),
        "message binary 3 00ff10".to_owned(),
        format!("message text {big} pattern"),
        "message text 11 \"frag1 frag2\"".to_owned(),
    ];
    let mut want = echoed.to_vec();
    want.extend(["pong c0ffee", "close 1000 secure"].map(String::from));
    assert_eq!(client, want);
    let (connection, ours) = split_open(&server.events_until_close("/tls"));
    assert_deflate(&connection, true);
    let mut want = echoed.to_vec();
    want.extend(["ping c0ffee", "close 1000 secure"].map(String::from));
    assert_eq!(ours, want);
    server.stop();
}

const CODES: [u16; 8] = [1000, 1001, 1003, 1007, 1008, 1011, 3000, 4999];

/// Each close code, with a reason, both ways: the side that closes sees its
/// own code come back (both `ws` and we answer a close with its code).
#[test]
fn close_codes_between_a_node_client_and_our_server() {
    let server = OurServer::start(|| deflate_options(false));
    for code in CODES {
        // Node closes.
        let path = format!("/node-closes-{code}");
        let client = node_client(
            &server.url(&path),
            "{}",
            &format!(r#"[{{"close":[{code},"reason {code}"]}}]"#),
        );
        assert_eq!(client[1..], [format!("close {code} reason {code}")]);
        assert_eq!(
            server.events_until_close(&path)[1..],
            [format!("close {code} reason {code}")]
        );
        // We close.
        let path = format!("/we-close-{code}");
        let client = node_client(
            &server.url(&path),
            "{}",
            &format!(r#"[{{"send":"cmd close {code} reason {code}"}}]"#),
        );
        assert_eq!(client[1..], [format!("close {code} reason {code}")]);
        assert_eq!(
            server.events_until_close(&path)[1..],
            [format!("close {code} reason {code}")]
        );
    }
    // A close without a code: 1005 on both sides, as in ws.
    let client = node_client(&server.url("/no-code"), "{}", r#"[{"close":[]}]"#);
    assert_eq!(client[1..], ["close 1005"]);
    assert_eq!(server.events_until_close("/no-code")[1..], ["close 1005"]);
    server.stop();
}

#[test]
fn our_server_chooses_a_subprotocol_for_a_node_client() {
    let server = OurServer::start(|| ws::ServerOptions {
        handle_protocols: Some(Rc::new(|offered: &[&str], _req: &http::IncomingMessage| {
            offered
                .iter()
                .find(|p| **p == "chat")
                .map(|p| p.to_string())
        })),
        ..Default::default()
    });
    let client = node_client(
        &server.url("/proto"),
        r#"{"protocols":["superchat","chat"]}"#,
        r#"[{"close":[1000,""]}]"#,
    );
    assert!(client[0].starts_with("open protocol=chat "), "{client:?}");
    let ours = server.events_until_close("/proto");
    assert!(ours[0].starts_with("connection protocol=chat "), "{ours:?}");
    server.stop();
}

#[test]
fn verify_client_refuses_a_node_client_with_401() {
    let server = OurServer::start(|| ws::ServerOptions {
        verify_client: Some(Rc::new(|req: &http::IncomingMessage| {
            if req.headers().get("x-token") == Some("let-me-in") {
                Ok(())
            } else {
                Err((401, "Unauthorized".to_owned()))
            }
        })),
        ..Default::default()
    });
    let refused = node_client(&server.url("/refused"), "{}", "[]");
    assert_eq!(refused, ["unexpected-response 401"]);
    let welcome = node_client(
        &server.url("/welcome"),
        r#"{"headers":{"x-token":"let-me-in"}}"#,
        r#"[{"close":[1000,"ok"]}]"#,
    );
    assert_eq!(welcome[1..], ["close 1000 ok"]);
    // The refused one never became a connection.
    let ours = server.events_until_close("/welcome");
    assert_eq!(ours[1..], ["close 1000 ok"]);
    assert!(server
        .events
        .lock()
        .unwrap()
        .iter()
        .all(|(p, _)| p != "/refused"));
    // What the refusal is on the wire.
    let res = common::request(server.port, &upgrade_request("/refused", ""));
    assert_eq!(res.status, 401, "{}", String::from_utf8_lossy(&res.raw));
    server.stop();
}

// ---------------------------------------------------------------------------
// Our client against a Node `ws` server

type Log = Rc<RefCell<Vec<String>>>;

fn record(ws: &ws::WebSocket, log: &Log) {
    record_with(ws, log, || {}, || {});
}

/// Records every event of `ws` in `log` (one listener per event), then
/// calls `then_open` after `open` and `then_message` after each message.
fn record_with(
    ws: &ws::WebSocket,
    log: &Log,
    then_open: impl Fn() + 'static,
    then_message: impl Fn() + 'static,
) {
    let push = {
        let log = log.clone();
        move |line: String| log.borrow_mut().push(line.trim_end().to_owned())
    };
    let (p, w) = (push.clone(), *ws);
    ws.on_open(move || {
        p(format!(
            "open protocol={} extensions={}",
            w.protocol(),
            w.extensions()
        ));
        then_open();
    });
    let p = push.clone();
    ws.on_message(move |d: &[u8], b: bool| {
        p(describe(d, b));
        then_message();
    });
    let p = push.clone();
    ws.on_ping(move |d: &[u8]| p(format!("ping {}", hex(d))));
    let p = push.clone();
    ws.on_pong(move |d: &[u8]| p(format!("pong {}", hex(d))));
    let p = push.clone();
    ws.on_error(move |e: &nodelike::Error| p(format!("error {e}")));
    let p = push.clone();
    ws.on_unexpected_response(move |res: &http::ClientResponse| {
        p(format!("unexpected-response {}", res.status_code()))
    });
    ws.on_close(move |code: u16, reason: &str| push(format!("close {code} {reason}")));
}

fn client_options(deflate: bool) -> ws::ClientOptions {
    ws::ClientOptions {
        per_message_deflate: deflate.then(ws::PerMessageDeflate::default),
        ..Default::default()
    }
}

fn our_client_echo(deflate: bool) {
    need("node");
    let node = NodeServer::start(
        &format!(r#"{{"perMessageDeflate":{deflate}}}"#),
        r#"[{"echo":true},{"wait":"message","count":7},{"wait":"ping","count":1},
            {"send":"node1 ","fin":false},{"send":"node2"},{"ping":"0102"},{"wait":"pong","count":1},
            {"close":[1000,"done"]}]"#,
    );
    let sixteen = 16 * MIB;
    let log: Log = Rc::default();
    let ws = ws::WebSocket::connect(&node.url("/ours"), client_options(deflate));
    let (w, w2, seen) = (ws, ws, Rc::new(std::cell::Cell::new(0)));
    record_with(
        &ws,
        &log,
        move || {
            w.send("hello");
            w.send("");
            w.send([0u8, 0xff, 0x10]);
            w.send(Vec::<u8>::new());
            w.send(binary_pattern(sixteen));
            w.send(text_pattern(sixteen));
            let part = |binary, fin| ws::SendOptions {
                binary: Some(binary),
                compress: None,
                fin,
            };
            w.send_with("ours1 ", part(false, false), None);
            w.send_with("ours2", part(false, true), None);
        },
        move || {
            seen.set(seen.get() + 1);
            if seen.get() == 7 {
                w2.ping([0xab, 0xcd]);
            }
        },
    );
    nodelike::run();
    let log = log.borrow().clone();
    let (open, ours) = split_open(&log);
    assert_deflate(&open, deflate);
    let echoed = [
        "message text 5 \"hello\"".to_owned(),
        "message text 0 \"\"".to_owned(),
        "message binary 3 00ff10".to_owned(),
        "message binary 0".to_owned(),
        format!("message binary {sixteen} pattern"),
        format!("message text {sixteen} pattern"),
        "message text 11 \"ours1 ours2\"".to_owned(),
    ];
    let mut want = echoed.to_vec();
    want.extend(
        [
            "pong abcd",
            "message text 11 \"node1 node2\"",
            "ping 0102",
            "close 1000 done",
        ]
        .map(String::from),
    );
    assert_eq!(ours, want);
    let (connection, theirs) = split_open(&node.finish());
    assert_deflate(&connection, deflate);
    let mut want = echoed.to_vec();
    want.extend(["ping abcd", "pong 0102", "close 1000 done"].map(String::from));
    assert_eq!(theirs, want);
}

#[test]
fn our_client_is_echoed_by_a_node_server() {
    our_client_echo(false);
}

#[test]
fn our_client_is_echoed_by_a_node_server_with_permessage_deflate() {
    our_client_echo(true);
}

/// Each close code both ways between our client and Node servers (one
/// server per connection, all in one loop of ours).
#[test]
fn close_codes_between_our_client_and_a_node_server() {
    need("node");
    struct Case {
        code: u16,
        we_close: bool,
        node: NodeServer,
        log: Log,
    }
    let mut cases = Vec::new();
    for code in CODES {
        for we_close in [false, true] {
            let plan = if we_close {
                "[]".to_owned()
            } else {
                format!(r#"[{{"close":[{code},"reason {code}"]}}]"#)
            };
            cases.push(Case {
                code,
                we_close,
                node: NodeServer::start("{}", &plan),
                log: Rc::default(),
            });
        }
    }
    for case in &cases {
        let ws = ws::WebSocket::connect(&case.node.url("/"), client_options(false));
        let (w, code, we_close) = (ws, case.code, case.we_close);
        record_with(
            &ws,
            &case.log,
            move || {
                if we_close {
                    w.close(Some(code), &format!("reason {code}"))
                }
            },
            || {},
        );
    }
    nodelike::run();
    for case in cases {
        let code = case.code;
        let log = case.log.borrow().clone();
        assert_eq!(
            log[1..],
            [format!("close {code} reason {code}")],
            "we_close={}",
            case.we_close
        );
        assert_eq!(
            case.node.finish()[1..],
            [format!("close {code} reason {code}")],
            "we_close={}",
            case.we_close
        );
    }
}

/// The sizes of the messages of the deflate-parameter tests: each repeats
/// the last one's start, so a side that kept its window where it agreed
/// not to would send back-references the other could not resolve.
const DEFLATE_SIZES: [usize; 10] = [
    1000, 1500, 2000, 4000, 8000, 16000, 33000, 65536, 70000, 200000,
];

/// The echoes: each size as text and as binary, then a text and a binary
/// message sent compressed in two fragments each (5,200 + 5,200 and
/// 5,020 + 5,020 bytes, which continue the pattern).
fn deflate_echoes() -> Vec<String> {
    let mut echoes: Vec<String> = DEFLATE_SIZES
        .iter()
        .flat_map(|&n| {
            [
                format!("message text {n} pattern"),
                format!("message binary {n} pattern"),
            ]
        })
        .collect();
    echoes.push("message text 10400 pattern".into());
    echoes.push("message binary 10040 pattern".into());
    echoes
}

/// permessage-deflate with every parameter a Node `ws` server can ask
/// for (no context takeover either way, 10-bit windows, compress all):
/// our client complies, each echo comes back whole.
#[test]
fn our_client_follows_a_node_servers_deflate_parameters() {
    need("node");
    let node = NodeServer::start(
        r#"{"perMessageDeflate":{"serverNoContextTakeover":true,"clientNoContextTakeover":true,
            "serverMaxWindowBits":10,"clientMaxWindowBits":10,"threshold":0}}"#,
        r#"[{"echo":true},{"wait":"message","count":22},{"close":[1000,"done"]}]"#,
    );
    let log: Log = Rc::default();
    let ws = ws::WebSocket::connect(&node.url("/deflate?params=all"), client_options(true));
    let w = ws;
    record_with(
        &ws,
        &log,
        move || {
            for n in DEFLATE_SIZES {
                w.send(text_pattern(n));
                w.send(binary_pattern(n));
            }
            let part = |fin| ws::SendOptions {
                fin,
                ..Default::default()
            };
            w.send_with(text_pattern(5200), part(false), None);
            w.send_with(text_pattern(5200), part(true), None);
            w.send_with(binary_pattern(5020), part(false), None);
            w.send_with(binary_pattern(5020), part(true), None);
        },
        || {},
    );
    nodelike::run();
    let log = log.borrow().clone();
    let (open, ours) = split_open(&log);
    // (Whether `extensions` shows the parameters is not asserted: ws's
    // shows the names only, a browser's the whole header. That they were
    // followed shows in the echoes: Node inflates with 10-bit windows and
    // no context, and fails on anything else.)
    assert_deflate(&open, true);
    let mut want = deflate_echoes();
    want.push("close 1000 done".into());
    assert_eq!(ours, want);
    let (connection, theirs) = split_open(&node.finish());
    assert!(
        connection.ends_with(" path=/deflate?params=all"),
        "{connection}"
    );
    assert_eq!(theirs, want);
}

/// The same parameters set on our server, with Node's `ws` client.
#[test]
fn a_node_client_follows_our_servers_deflate_parameters() {
    let server = OurServer::start(|| ws::ServerOptions {
        per_message_deflate: Some(ws::PerMessageDeflate {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: Some(10),
            client_max_window_bits: Some(10),
            threshold: 0,
            ..Default::default()
        }),
        ..Default::default()
    });
    let mut plan: Vec<String> = DEFLATE_SIZES
        .iter()
        .flat_map(|n| {
            [
                format!(r#"{{"send":{{"text":{n}}}}}"#),
                format!(r#"{{"send":{{"binary":{n}}}}}"#),
            ]
        })
        .collect();
    plan.push(
        r#"{"send":{"text":5200},"fin":false},{"send":{"text":5200}},
           {"send":{"binary":5020},"fin":false},{"send":{"binary":5020}}"#
            .into(),
    );
    plan.push(r#"{"wait":"message","count":22}"#.into());
    plan.push(r#"{"close":[1000,"done"]}"#.into());
    let client = node_client(
        &server.url("/deflate"),
        r#"{"perMessageDeflate":{"threshold":0}}"#,
        &format!("[{}]", plan.join(",")),
    );
    let (open, theirs) = split_open(&client);
    assert_deflate(&open, true);
    let mut want = deflate_echoes();
    want.push("close 1000 done".into());
    assert_eq!(theirs, want);
    let (_, ours) = split_open(&server.events_until_close("/deflate"));
    assert_eq!(ours, want);
    // What it answers an offer with, on the wire (ws's `extensions` on the
    // Node side shows only the name).
    let (_, head) = RawWs::handshake(
        server.port,
        "/deflate",
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n",
    );
    let accepted = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("sec-websocket-extensions:")
                .map(|v| v.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("no extension accepted: {head}"));
    for param in [
        "server_no_context_takeover",
        "client_no_context_takeover",
        "server_max_window_bits=10",
        "client_max_window_bits=10",
    ] {
        assert!(accepted.contains(param), "{param} in {accepted:?}");
    }
    server.stop();
}

/// Many small messages sent at once keep their order both ways.
#[test]
fn ten_thousand_small_messages_keep_their_order() {
    let server = OurServer::start(|| deflate_options(true));
    let client = node_client(
        &server.url("/many"),
        "{}",
        r#"[{"sendMany":{"prefix":"m","count":10000}},{"wait":"message","count":10000},
            {"close":[1000,""]}]"#,
    );
    let want: Vec<String> = (0..10_000)
        .map(|i| {
            let m = format!("m{i}");
            format!("message text {} {m:?}", m.len())
        })
        .collect();
    assert_eq!(client[1..10_001], want[..]);
    assert_eq!(client[10_001..], ["close 1000"]);
    server.stop();
}

/// A close with no code is 1005 on both sides; a connection that ends
/// without a close frame is 1006; a message over our client's max_payload
/// is refused with 1009, which the server sees.
#[test]
fn our_client_sees_1005_1006_and_refuses_an_oversized_message_with_1009() {
    need("node");
    let no_code = NodeServer::start("{}", r#"[{"close":[]}]"#);
    let cut = NodeServer::start("{}", r#"[{"terminate":true}]"#);
    let big = NodeServer::start("{}", r#"[{"send":{"binary":2097152}}]"#);
    let logs: Vec<Log> = (0..3).map(|_| Log::default()).collect();
    for (node, log) in [&no_code, &cut, &big].iter().zip(&logs) {
        let ws = ws::WebSocket::connect(
            &node.url("/"),
            ws::ClientOptions {
                max_payload: MIB,
                ..client_options(false)
            },
        );
        record(&ws, log);
    }
    nodelike::run();
    let log = |i: usize| logs[i].borrow()[1..].to_vec();
    assert_eq!(log(0), ["close 1005"]);
    assert_eq!(no_code.finish()[1..], ["close 1005"]);
    assert_eq!(log(1), ["close 1006"]);
    assert_eq!(cut.finish()[1..], ["close 1006"]);
    // ws reports the error, then the close.
    let l = log(2);
    assert_eq!(l.last().map(String::as_str), Some("close 1006"), "{l:?}");
    assert!(
        l[..l.len() - 1].iter().all(|e| e.starts_with("error ")),
        "{l:?}"
    );
    assert_eq!(big.finish()[1..], ["close 1009"]);
}

/// A server that picks a subprotocol the client did not offer fails the
/// handshake (RFC 6455 4.1, as ws): an error, close 1006, never `open`.
#[test]
fn our_client_refuses_a_subprotocol_it_did_not_offer() {
    need("node");
    let node = NodeServer::start(r#"{"handleProtocols":"bogus"}"#, "[]");
    let log: Log = Rc::default();
    let ws = ws::WebSocket::connect(
        &node.url("/"),
        ws::ClientOptions {
            protocols: vec!["chat".into()],
            ..client_options(false)
        },
    );
    record(&ws, &log);
    nodelike::run();
    let log = log.borrow().clone();
    assert!(!log.iter().any(|l| l.starts_with("open")), "{log:?}");
    assert!(log[0].starts_with("error "), "{log:?}");
    assert_eq!(
        log.last().map(String::as_str),
        Some("close 1006"),
        "{log:?}"
    );
}

/// Node's client going away without a close frame: 1006 at our server.
#[test]
fn our_server_sees_1006_when_a_node_client_just_goes() {
    let server = OurServer::start(|| deflate_options(false));
    let client = node_client(&server.url("/gone"), "{}", r#"[{"terminate":true}]"#);
    assert_eq!(client[1..], ["close 1006"]);
    assert_eq!(server.events_until_close("/gone")[1..], ["close 1006"]);
    server.stop();
}

#[test]
fn our_client_offers_subprotocols_and_a_node_server_picks_one() {
    need("node");
    let node = NodeServer::start(r#"{"handleProtocols":"first"}"#, r#"[{"close":[1000,""]}]"#);
    let log: Log = Rc::default();
    let ws = ws::WebSocket::connect(
        &node.url("/"),
        ws::ClientOptions {
            protocols: vec!["superchat".into(), "chat".into()],
            ..Default::default()
        },
    );
    record(&ws, &log);
    nodelike::run();
    assert!(
        log.borrow()[0].starts_with("open protocol=superchat "),
        "{log:?}"
    );
    assert!(node.finish()[0].starts_with("connection protocol=superchat "));
}

#[test]
fn our_client_sees_a_refusal_as_an_unexpected_response() {
    let server = OurServer::start(|| ws::ServerOptions {
        verify_client: Some(Rc::new(|_req: &http::IncomingMessage| {
            Err((401, "Unauthorized".to_owned()))
        })),
        ..Default::default()
    });
    let log: Log = Rc::default();
    let ws = ws::WebSocket::connect(&server.url("/"), client_options(false));
    record(&ws, &log);
    nodelike::run();
    let log = log.borrow().clone();
    assert_eq!(
        log.first().map(String::as_str),
        Some("unexpected-response 401"),
        "{log:?}"
    );
    assert!(!log.iter().any(|l| l.starts_with("open")), "{log:?}");
    server.stop();
}

// ---------------------------------------------------------------------------
// Raw TCP clients: handshakes and frames no library would send

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
/// RFC 6455's own example: the accept value for [`KEY`].
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

fn upgrade_request(path: &str, extra: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
    .into_bytes()
}

#[test]
fn handshake_refusals_on_the_wire() {
    let server = OurServer::start(|| deflate_options(false));
    // Version 12: 426 Upgrade Required, naming the version we speak.
    let req = String::from_utf8(upgrade_request("/", ""))
        .unwrap()
        .replace("Version: 13", "Version: 12");
    let res = common::request(server.port, req.as_bytes());
    assert_eq!(res.status, 426, "{}", String::from_utf8_lossy(&res.raw));
    assert_eq!(res.header("sec-websocket-version"), Some("13"));
    // No key: 400.
    let req = String::from_utf8(upgrade_request("/", ""))
        .unwrap()
        .replace(&format!("Sec-WebSocket-Key: {KEY}\r\n"), "");
    let res = common::request(server.port, req.as_bytes());
    assert_eq!(res.status, 400, "{}", String::from_utf8_lossy(&res.raw));
    // A key that is not 16 bytes of base64: 400.
    let req = String::from_utf8(upgrade_request("/", ""))
        .unwrap()
        .replace(KEY, "c2hvcnQ=");
    let res = common::request(server.port, req.as_bytes());
    assert_eq!(res.status, 400, "{}", String::from_utf8_lossy(&res.raw));
    // And the right one: 101 with RFC 6455's accept value.
    let (_, head) = RawWs::handshake(server.port, "/", "");
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    server.stop();
}

/// Peers that finish the close handshake but never close their TCP
/// connection are let go anyway: ws keeps its 30 s close timer until the
/// socket has closed and destroys the socket when it runs out, so `close`
/// is emitted and the connection does not stay forever. Three such peers,
/// all at once: one answers our close, one starts the close, one breaks
/// the protocol (we close with 1002).
#[test]
fn peers_that_keep_their_socket_after_the_close_handshake_are_let_go() {
    let server = OurServer::start(|| deflate_options(false));
    // We close, it answers.
    let (mut answers, _) = RawWs::handshake(server.port, "/answers", "");
    answers.send(&frame(0x81, b"cmd close 4000 go", true));
    let (first, payload) = answers.frame().expect("our close frame");
    assert_eq!((first, payload.as_slice()), (0x88, &b"\x0f\xa0go"[..]));
    answers.send(&frame(0x88, &payload, true));
    // It closes, we answer.
    let (mut starts, _) = RawWs::handshake(server.port, "/starts", "");
    let mut bye = 1000u16.to_be_bytes().to_vec();
    bye.extend_from_slice(b"bye");
    starts.send(&frame(0x88, &bye, true));
    // It breaks the protocol (an unmasked frame).
    let (mut breaks, _) = RawWs::handshake(server.port, "/breaks", "");
    breaks.send(&frame(0x81, b"unmasked", false));
    // Each gets the server's end of the stream (its FIN), and keeps its
    // own socket open.
    assert_eq!(starts.expect_close().0, 1000);
    assert_eq!(breaks.expect_close().0, 1002);
    assert!(answers.frame().is_none());
    assert_eq!(
        server.events_until_close("/answers")[1..],
        ["close 4000 go"]
    );
    assert_eq!(
        server.events_until_close("/starts")[1..],
        ["close 1000 bye"]
    );
    let broke = server.events_until_close("/breaks");
    assert!(broke.last().unwrap().starts_with("close "), "{broke:?}");
    drop((answers, starts, breaks));
    server.stop();
}

/// A client speaking frames by hand.
struct RawWs {
    s: TcpStream,
    buf: Vec<u8>,
}

impl RawWs {
    /// Upgrades a new connection; the response head.
    fn handshake(port: u16, path: &str, extra: &str) -> (RawWs, String) {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        s.write_all(&upgrade_request(path, extra)).unwrap();
        let mut buf = Vec::new();
        let mut tmp = [0u8; 4096];
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = s.read(&mut tmp).expect("read the handshake");
            assert!(n > 0, "closed during the handshake: {buf:?}");
            buf.extend_from_slice(&tmp[..n]);
        };
        let head = String::from_utf8(buf.drain(..end).collect()).unwrap();
        assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
        assert!(
            head.to_ascii_lowercase().contains(&format!(
                "sec-websocket-accept: {}",
                ACCEPT.to_ascii_lowercase()
            )),
            "{head}"
        );
        (RawWs { s, buf }, head)
    }

    fn send(&mut self, bytes: &[u8]) {
        // The server may have closed already (it answers a bad header
        // before the payload has arrived): what it sent is still readable.
        let _ = self.s.write_all(bytes);
    }

    fn fill(&mut self) -> bool {
        let mut tmp = [0u8; 65536];
        match self.s.read(&mut tmp) {
            Ok(0) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                true
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => false,
            Err(e) => panic!("read: {e}"),
        }
    }

    /// The next frame from the server: (first byte, payload); `None` at
    /// the end of the stream.
    fn frame(&mut self) -> Option<(u8, Vec<u8>)> {
        loop {
            if self.buf.len() >= 2 {
                assert_eq!(self.buf[1] & 0x80, 0, "a server frame is never masked");
                let (len, at) = match self.buf[1] & 0x7f {
                    126 if self.buf.len() >= 4 => {
                        (u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize, 4)
                    }
                    127 if self.buf.len() >= 10 => (
                        u64::from_be_bytes(self.buf[2..10].try_into().unwrap()) as usize,
                        10,
                    ),
                    126 | 127 => (usize::MAX, 0),
                    n => (n as usize, 2),
                };
                if len != usize::MAX && self.buf.len() >= at + len {
                    let first = self.buf[0];
                    let payload = self.buf[at..at + len].to_vec();
                    self.buf.drain(..at + len);
                    return Some((first, payload));
                }
            }
            if !self.fill() {
                assert!(self.buf.is_empty(), "a partial frame: {:?}", self.buf);
                return None;
            }
        }
    }

    /// Reads frames up to a close frame the server started (as the
    /// application asked), answers it as a client must, and returns its
    /// code; then the stream must end. (Unanswered, the server would wait
    /// for the answer, 30 s as ws, before it gives up on the connection.)
    fn answer_close(&mut self) -> u16 {
        loop {
            let (first, payload) = self.frame().expect("a close frame before the end");
            if first == 0x88 {
                self.send(&frame(0x88, &payload[..2.min(payload.len())], true));
                assert!(self.frame().is_none(), "the server closes after the answer");
                return u16::from_be_bytes([payload[0], payload[1]]);
            }
        }
    }

    /// Reads frames up to a close frame: its code and reason; then the
    /// stream must end.
    fn expect_close(&mut self) -> (u16, String) {
        loop {
            let (first, payload) = self.frame().expect("a close frame before the end");
            if first & 0x0f == 8 {
                assert_eq!(first, 0x88, "a close frame is final, without RSV bits");
                assert!(payload.len() >= 2, "a close frame with a code: {payload:?}");
                let code = u16::from_be_bytes([payload[0], payload[1]]);
                let reason = String::from_utf8(payload[2..].to_vec()).unwrap();
                assert!(
                    self.frame().is_none(),
                    "the server closes after its close frame"
                );
                return (code, reason);
            }
        }
    }
}

const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A client frame: masked unless `masked` is false.
fn frame(first: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut f = vec![first];
    let m = if masked { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => f.push(m | n as u8),
        n if n < 65536 => {
            f.push(m | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(m | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    if masked {
        f.extend_from_slice(&MASK);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    } else {
        f.extend_from_slice(payload);
    }
    f
}

/// Sends `bytes` after a handshake and returns the close frame's code.
fn close_code_for(port: u16, extra: &str, bytes: &[u8]) -> u16 {
    let (mut c, _) = RawWs::handshake(port, "/raw", extra);
    c.send(bytes);
    c.expect_close().0
}

/// Bad frames on connections to `port`, each answered with a close frame
/// and the end of the stream.
fn bad_frames(port: u16) {
    // An unmasked client frame.
    assert_eq!(close_code_for(port, "", &frame(0x81, b"hi", false)), 1002);
    // A 2^63-byte frame (only its header is sent).
    let mut huge = vec![0x82, 0x80 | 127];
    huge.extend_from_slice(&(1u64 << 63).to_be_bytes());
    huge.extend_from_slice(&MASK);
    assert_eq!(close_code_for(port, "", &huge), 1009);
    // A continuation with nothing to continue.
    assert_eq!(close_code_for(port, "", &frame(0x80, b"more", true)), 1002);
    // A fragmented ping.
    assert_eq!(close_code_for(port, "", &frame(0x09, b"pi", true)), 1002);
    // A ping of 126 bytes (control frames carry at most 125).
    assert_eq!(
        close_code_for(port, "", &frame(0x89, &[7u8; 126], true)),
        1002
    );
    // Invalid UTF-8 split across fragments: "a" + 0xce, then 0x41 (0xce
    // needs a continuation byte).
    let mut split = frame(0x01, b"a\xce", true);
    split.extend(frame(0x80, b"A", true));
    assert_eq!(close_code_for(port, "", &split), 1007);
    // The same bytes as a binary message are fine: echoed.
    let (mut c, _) = RawWs::handshake(port, "/raw", "");
    let mut ok = frame(0x02, b"a\xce", true);
    ok.extend(frame(0x80, b"A", true));
    c.send(&ok);
    assert_eq!(c.frame(), Some((0x82, b"a\xceA".to_vec())));
    // A reserved opcode.
    assert_eq!(close_code_for(port, "", &frame(0x83, b"", true)), 1002);
    // RSV1 without permessage-deflate negotiated; RSV2; RSV3.
    assert_eq!(close_code_for(port, "", &frame(0xc1, b"x", true)), 1002);
    assert_eq!(close_code_for(port, "", &frame(0xa1, b"x", true)), 1002);
    assert_eq!(close_code_for(port, "", &frame(0x91, b"x", true)), 1002);
    // Invalid UTF-8 in one text frame.
    assert_eq!(
        close_code_for(port, "", &frame(0x81, b"ok \xff", true)),
        1007
    );
    // A new message while a fragmented one is unfinished.
    let mut interleaved = frame(0x01, b"part", true);
    interleaved.extend(frame(0x81, b"new", true));
    assert_eq!(close_code_for(port, "", &interleaved), 1002);
    // Close frames the RFC forbids: one byte of payload, codes no one may
    // send (999, 1004, 1005, 1006, 1016, 2000, 5000), a reason that is not
    // UTF-8.
    assert_eq!(close_code_for(port, "", &frame(0x88, &[3], true)), 1002);
    for code in [999u16, 1004, 1005, 1006, 1016, 2000, 5000] {
        assert_eq!(
            close_code_for(port, "", &frame(0x88, &code.to_be_bytes(), true)),
            1002,
            "close code {code}"
        );
    }
    let mut bad_reason = 1000u16.to_be_bytes().to_vec();
    bad_reason.extend_from_slice(b"\xc3\x28");
    assert_eq!(
        close_code_for(port, "", &frame(0x88, &bad_reason, true)),
        1007
    );
    // Over max_payload (1 MiB here): one frame's header says so; or
    // fragments that add up to more.
    let mut over = vec![0x82, 0x80 | 127];
    over.extend_from_slice(&(MIB as u64 + 1).to_be_bytes());
    over.extend_from_slice(&MASK);
    assert_eq!(close_code_for(port, "", &over), 1009);
    let mut parts = frame(0x02, &vec![1u8; 600 * 1024], true);
    parts.extend(frame(0x80, &vec![2u8; 600 * 1024], true));
    assert_eq!(close_code_for(port, "", &parts), 1009);
}

/// What the same servers accept from a raw client: a frame in the same
/// packet as the handshake, a ping between two fragments, a close with a
/// reason (answered with the same code).
fn good_frames(port: u16) {
    // The first frame right behind the request head, in one write.
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut bytes = upgrade_request("/raw", "");
    bytes.extend(frame(0x81, b"right behind the head", true));
    s.write_all(&bytes).unwrap();
    let mut c = RawWs { s, buf: Vec::new() };
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        if c.buf.is_empty() {
            assert!(c.fill(), "closed during the handshake");
        }
        head.push(c.buf.remove(0));
    }
    assert!(head.starts_with(b"HTTP/1.1 101 "));
    assert_eq!(c.frame(), Some((0x81, b"right behind the head".to_vec())));
    // A ping between fragments: its pong first, then the whole message.
    let mut f = frame(0x01, b"one ", true);
    f.extend(frame(0x89, b"between", true));
    f.extend(frame(0x80, b"two", true));
    c.send(&f);
    assert_eq!(c.frame(), Some((0x8a, b"between".to_vec())));
    assert_eq!(c.frame(), Some((0x81, b"one two".to_vec())));
    // A close with a code and a reason.
    let mut close = 4001u16.to_be_bytes().to_vec();
    close.extend_from_slice(b"raw bye");
    c.send(&frame(0x88, &close, true));
    assert_eq!(c.expect_close().0, 4001);
}

/// The server for the raw tests: permessage-deflate on (for the bomb; a
/// client that does not offer it gets none), max_payload 1 MiB.
fn raw_test_server() -> OurServer {
    OurServer::start(|| ws::ServerOptions {
        max_payload: MIB,
        ..deflate_options(true)
    })
}

/// The same for the Node peer: what `ws` itself does with the same bytes.
fn raw_test_node_server() -> NodeServer {
    NodeServer::start(
        r#"{"serveAll":true,"perMessageDeflate":true,"maxPayload":1048576}"#,
        "[]",
    )
}

#[test]
fn bad_frames_are_answered_with_the_right_close_code() {
    let server = raw_test_server();
    bad_frames(server.port);
    server.stop();
}

#[test]
fn good_frames_from_a_raw_client() {
    let server = raw_test_server();
    good_frames(server.port);
    server.stop();
}

#[test]
fn good_frames_from_a_raw_client_to_node_ws() {
    let node = raw_test_node_server();
    good_frames(node.port);
}

/// The control: `ws` answers the same bytes with the same codes.
#[test]
fn bad_frames_get_the_same_close_codes_from_node_ws() {
    let node = raw_test_node_server();
    bad_frames(node.port);
}

/// Raw deflate of `data` as permessage-deflate sends it (a sync flush,
/// without its final 00 00 ff ff).
fn deflate_message(data: &[u8]) -> Vec<u8> {
    let mut c = flate2::Compress::new(flate2::Compression::best(), false);
    let mut out = Vec::with_capacity(data.len() / 100 + 1024);
    let mut input = data;
    loop {
        let before = c.total_in();
        c.compress_vec(input, &mut out, flate2::FlushCompress::Sync)
            .unwrap();
        input = &input[(c.total_in() - before) as usize..];
        if input.is_empty() && out.len() < out.capacity() {
            break;
        }
        out.reserve(out.capacity());
    }
    assert!(out.ends_with(&[0, 0, 0xff, 0xff]), "a sync flush");
    out.truncate(out.len() - 4);
    out
}

/// A compressed message that inflates past max_payload (1 MiB) on a
/// connection to `port`: 1009.
fn deflate_bomb(port: u16) {
    let offer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";
    // A small compressed message first: negotiated and understood.
    let (mut c, head) = RawWs::handshake(port, "/bomb", offer);
    assert!(
        head.to_ascii_lowercase()
            .contains("sec-websocket-extensions: permessage-deflate"),
        "{head}"
    );
    c.send(&frame(0xc1, &deflate_message(b"hello, deflate"), true));
    let (first, payload) = c.frame().expect("the echo");
    assert_eq!(first & 0x0f, 1);
    if first & 0x40 != 0 {
        let mut d = flate2::Decompress::new(false);
        let mut out = Vec::with_capacity(1024);
        let mut input = payload.clone();
        input.extend_from_slice(&[0, 0, 0xff, 0xff]);
        d.decompress_vec(&input, &mut out, flate2::FlushDecompress::Sync)
            .unwrap();
        assert_eq!(out, b"hello, deflate");
    } else {
        assert_eq!(payload, b"hello, deflate");
    }
    // 64 MiB of zeros in about 64 KiB: over max_payload once inflated.
    let bomb = deflate_message(&vec![0u8; 64 * MIB]);
    assert!(bomb.len() < MIB / 4, "{}", bomb.len());
    c.send(&frame(0xc2, &bomb, true));
    assert_eq!(c.expect_close().0, 1009);
}

#[test]
fn a_deflate_bomb_is_stopped_at_max_payload() {
    let server = raw_test_server();
    deflate_bomb(server.port);
    server.stop();
}

#[test]
fn a_deflate_bomb_is_stopped_at_max_payload_by_node_ws_too() {
    let node = raw_test_node_server();
    deflate_bomb(node.port);
}

// ---------------------------------------------------------------------------
// The ws_echo example: a client that never reads, 10,000 idle connections

/// `ws_echo PORT`, reachable.
struct WsEcho {
    child: ChildGuard,
    port: u16,
}

impl WsEcho {
    /// Starts it on port 0 (under `ulimit -n nofile` if given) and reads
    /// the port from its `listening on ws://ADDR` line.
    fn start(nofile: Option<u64>) -> WsEcho {
        let bin = example_bin("ws_echo");
        assert!(
            bin.exists(),
            "{} (cargo test builds examples)",
            bin.display()
        );
        // (`exec`: the guarded pid is the server's, not a shell's.)
        let script = match nofile {
            Some(n) => format!("ulimit -n {n} && exec {} 0", bin.display()),
            None => format!("exec {} 0", bin.display()),
        };
        let mut child = ChildGuard::spawn(
            Command::new("sh")
                .arg("-c")
                .arg(script)
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit()),
        )
        .unwrap();
        let line = Lines::of(&mut child)
            .next()
            .expect("ws_echo prints its address");
        let port = line
            .rsplit(':')
            .next()
            .and_then(|p| p.trim_end_matches('/').parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        WsEcho { child, port }
    }

    /// Resident memory, from /proc.
    fn rss(&self) -> usize {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kb: usize = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .expect("VmRSS")
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .unwrap();
        kb * 1024
    }
}

/// A client that sends 1 MiB messages and never reads the echoes: once the
/// echoes fill the socket, the server stops reading (back-pressure through
/// `send` returning false, `pause`, `drain`), so the client's writes stall
/// and the server's memory stays where it was, not 256 MiB on.
#[test]
fn a_client_that_never_reads_leaves_the_servers_memory_bounded() {
    let server = WsEcho::start(None);
    let (mut c, _) = RawWs::handshake(server.port, "/", "");
    // Warm up: one echo read back.
    c.send(&frame(0x82, &[1, 2, 3], true));
    assert_eq!(c.frame(), Some((0x82, vec![1, 2, 3])));
    let before = server.rss();
    // A zero mask key leaves the payload as it is: cheap to send.
    let mut message = vec![0x82, 0x80 | 127];
    message.extend_from_slice(&(MIB as u64).to_be_bytes());
    message.extend_from_slice(&[0, 0, 0, 0]);
    message.extend(binary_pattern(MIB));
    c.s.set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let limit = 256 * MIB;
    let mut sent = 0usize;
    let mut stalls = 0;
    while sent < limit && stalls < 6 {
        match c.s.write(&message[sent % message.len()..]) {
            Ok(n) => {
                sent += n;
                stalls = 0;
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                stalls += 1
            }
            Err(e) => panic!("write after {sent} bytes: {e}"),
        }
    }
    let after = server.rss();
    assert!(
        after < before + 64 * MIB,
        "the server grew from {} MiB to {} MiB while a client sent {} MiB and read nothing",
        before / MIB,
        after / MIB,
        sent / MIB
    );
    assert!(
        sent < limit,
        "the server read all {} MiB from a client that reads nothing",
        sent / MIB
    );
}

/// The `ws_echo` example's contract, with Node's `ws` client (which offers
/// permessage-deflate, as browsers do): each message back with its type,
/// pings answered, a close answered with its code.
#[test]
fn a_node_client_is_echoed_by_the_ws_echo_example() {
    let server = WsEcho::start(None);
    let client = node_client(
        &format!("ws://127.0.0.1:{}/", server.port),
        "{}",
        r#"[{"send":"hello"},{"send":{"binary":1048576}},{"send":{"text":100000}},
            {"send":"a ","fin":false},{"send":"b"},{"ping":"01"},
            {"wait":"message","count":4},{"wait":"pong","count":1},{"close":[4000,"bye"]}]"#,
    );
    let (open, client) = split_open(&client);
    assert_deflate(&open, true);
    assert_eq!(
        client,
        [
            "message text 5 \"hello\"",
            "message binary 1048576 pattern",
            "message text 100000 pattern",
            "message text 3 \"a b\"",
            "pong 01",
            "close 4000 bye",
        ]
    );
}

/// The soft limit on open files (from /proc), raised to the hard one with
/// `prlimit` when lower than `want`.
fn raise_nofile(want: u64) -> u64 {
    let read = || -> (u64, u64) {
        let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
        let line = limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .unwrap()
            .to_owned();
        let nums: Vec<u64> = line
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        (nums[0], nums[1])
    };
    let (soft, hard) = read();
    if soft >= want {
        return soft;
    }
    let _ = Command::new("prlimit")
        .arg(format!("--pid={}", std::process::id()))
        .arg(format!("--nofile={hard}:{hard}"))
        .status();
    read().0
}

/// 10,000 idle WebSocket connections to ws_echo, all open at once: each is
/// accepted (101), each still echoes once they all are, and each closes
/// cleanly (our close 1000 answered with 1000, then the end of the stream).
#[test]
fn ten_thousand_idle_connections_are_accepted_and_closed_cleanly() {
    const N: usize = 10_000;
    let limit = raise_nofile(N as u64 + 512);
    assert!(
        limit >= N as u64 + 512,
        "this test needs {} open files, the limit is {limit} (hard limit too low for prlimit)",
        N + 512
    );
    let server = WsEcho::start(Some(N as u64 + 512));
    let mut conns: Vec<RawWs> = (0..N)
        .map(|i| {
            let (c, _) = RawWs::handshake(server.port, &format!("/idle/{i}"), "");
            c
        })
        .collect();
    for (i, c) in conns.iter_mut().enumerate() {
        let n = (i as u32).to_be_bytes();
        c.send(&frame(0x82, &n, true));
        assert_eq!(c.frame(), Some((0x82, n.to_vec())), "connection {i}");
    }
    for (i, c) in conns.iter_mut().enumerate() {
        c.send(&frame(0x88, &1000u16.to_be_bytes(), true));
        assert_eq!(c.expect_close(), (1000, String::new()), "connection {i}");
    }
    // And the server still takes a new one.
    let (mut c, _) = RawWs::handshake(server.port, "/after", "");
    c.send(&frame(0x81, b"still here", true));
    assert_eq!(c.frame(), Some((0x81, b"still here".to_vec())));
}

// ---------------------------------------------------------------------------
// The ws_chat example

/// Reads text frames until one equals `line` (others are announcements).
fn read_until_text(c: &mut RawWs, line: &str) {
    let mut seen = Vec::new();
    let until = Instant::now() + DEADLINE;
    loop {
        assert!(Instant::now() < until, "no {line:?} came; saw {seen:?}");
        let (first, payload) = c
            .frame()
            .unwrap_or_else(|| panic!("closed before {line:?}; saw {seen:?}"));
        if first == 0x89 {
            // The chat's heartbeat (every 30 s, so only on a slow run).
            c.send(&frame(0x8a, &payload, true));
            continue;
        }
        assert_eq!(first, 0x81, "text frames only");
        let text = String::from_utf8(payload).unwrap();
        if text == line {
            return;
        }
        seen.push(text);
    }
}

#[test]
fn ws_chat_serves_its_page_and_broadcasts_to_every_client() {
    let chat = common::ExampleProcess::start("ws_chat");
    let page = common::request(chat.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(page.status, 200);
    assert!(
        page.body_str().contains("new WebSocket("),
        "{}",
        page.body_str()
    );
    let (mut a, _) = RawWs::handshake(chat.port, "/chat", "");
    read_until_text(&mut a, "* guest-1 joined (1 online)");
    let (mut b, _) = RawWs::handshake(chat.port, "/chat", "");
    read_until_text(&mut b, "* guest-2 joined (2 online)");
    read_until_text(&mut a, "* guest-2 joined (2 online)");
    a.send(&frame(0x81, b"hello, room", true));
    read_until_text(&mut a, "guest-1: hello, room");
    read_until_text(&mut b, "guest-1: hello, room");
    // A Node `ws` client is in the room too.
    let node = node_client(
        &format!("ws://127.0.0.1:{}/chat", chat.port),
        "{}",
        r#"[{"wait":"message","count":1},{"send":"hi from node"},{"wait":"message","count":2},{"close":[1000,"bye"]}]"#,
    );
    // (Without the heartbeat's pings, on a slow run.)
    let node: Vec<&String> = node.iter().filter(|l| !l.starts_with("ping ")).collect();
    assert_eq!(
        node[1..],
        [
            "message text 27 \"* guest-3 joined (3 online)\"",
            "message text 21 \"guest-3: hi from node\"",
            "close 1000 bye",
        ]
    );
    read_until_text(&mut b, "guest-3: hi from node");
    read_until_text(&mut b, "* guest-3 left (2 online)");
    // Binary is refused with 1003.
    b.send(&frame(0x82, b"\x00", true));
    assert_eq!(b.answer_close(), 1003);
    drop(b);
    read_until_text(&mut a, "* guest-2 left (1 online)");
}
