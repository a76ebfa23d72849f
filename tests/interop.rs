//! Interop with clients no one here wrote: curl, Node's `http` module and
//! Python's `http.client`, each against the examples (`cargo test` builds
//! them). A test whose client is missing says so and fails: CI installs
//! them (see `.ci/run`).

mod common;

use std::process::Command;

use common::{have, ChildGuard, ExampleProcess};

fn need(program: &str) {
    assert!(
        have(program),
        "this test needs `{program}` on the PATH (the machine image has it; .ci/run checks)"
    );
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

#[test]
fn curl_gets_hello_and_reuses_the_connection() {
    need("curl");
    let server = ExampleProcess::start("hello");
    let url = format!("http://127.0.0.1:{}/", server.port);
    let out = Command::new("curl")
        .args(["-sv", &url, &url])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Hello, World!Hello, World!"
    );
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("< Content-Length: 13"), "{log}");
    assert!(
        log.contains("Re-using existing connection") || log.contains("Reusing existing"),
        "keep-alive reuse: {log}"
    );
}

#[test]
fn curl_http10_and_head() {
    need("curl");
    let server = ExampleProcess::start("hello");
    let url = format!("http://127.0.0.1:{}/", server.port);
    assert_eq!(
        run(Command::new("curl").args(["-s", "--http1.0", &url])),
        "Hello, World!"
    );
    let head = run(Command::new("curl").args(["-sI", &url]));
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
}

#[test]
fn curl_uploads_to_echo_chunked_and_with_length() {
    need("curl");
    let server = ExampleProcess::start("echo");
    let dir = std::env::temp_dir().join(format!("nodelike-interop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("upload.bin");
    let body: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 % 256) as u8).collect();
    std::fs::write(&file, &body).unwrap();
    let url = format!("http://127.0.0.1:{}/status/201?q=1", server.port);
    for extra in [&["-H", "Transfer-Encoding: chunked"][..], &[][..]] {
        let out = Command::new("curl")
            .args(["-s", "-D", "-", "--data-binary"])
            .arg(format!("@{}", file.display()))
            .args(extra)
            .arg(&url)
            .output()
            .unwrap();
        assert!(out.status.success());
        let split = out
            .stdout
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap();
        let head = String::from_utf8_lossy(&out.stdout[..split]).to_string();
        assert!(head.starts_with("HTTP/1.1 201 Created"), "{head}");
        assert!(head.contains("x-method: POST"), "{head}");
        assert!(head.contains("x-url: /status/201?q=1"), "{head}");
        assert!(head.contains("x-http-version: 1.1"), "{head}");
        assert!(head.contains("x-req-user-agent: curl/"), "{head}");
        assert!(out.stdout[split + 4..] == body[..], "body echoed intact");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Header bytes round-trip (Node sends `café` as latin-1, byte 0xE9): the
/// echo example's copy comes back byte-identical, so Node reads `café`,
/// and a UTF-8 value comes back as the same UTF-8 bytes.
#[test]
fn node_client_header_values_round_trip_through_echo_byte_for_byte() {
    need("node");
    let server = ExampleProcess::start("echo");
    let script = r#"
const http = require('http');
const net = require('net');
const port = Number(process.argv[1]);
http.get({ host: '127.0.0.1', port, path: '/h', headers: { 'X-Name': 'café' } }, (res) => {
  res.resume();
  res.on('end', () => {
    // Raw bytes too: UTF-8 "é" (C3 A9) sent by hand.
    const c = net.connect(port, '127.0.0.1', () =>
      c.write(Buffer.concat([Buffer.from('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Utf: caf'),
                             Buffer.from([0xc3, 0xa9]), Buffer.from('\r\n\r\n')])));
    const chunks = [];
    c.on('data', (d) => chunks.push(d));
    c.on('end', () => {
      const all = Buffer.concat(chunks);
      const at = all.indexOf('x-req-x-utf: ');
      const line = all.subarray(at + 13, all.indexOf('\r\n', at));
      console.log(JSON.stringify({ latin1: res.headers['x-req-x-name'], utf8: line.toString('hex') }));
    });
  });
});
"#;
    let out = run(Command::new("node").args(["-e", script, &server.port.to_string()]));
    assert_eq!(out.trim(), r#"{"latin1":"café","utf8":"636166c3a9"}"#);
}

#[test]
fn node_client_talks_to_echo_keep_alive_chunked_and_trailers() {
    need("node");
    let server = ExampleProcess::start("echo");
    let script = r#"
const http = require('http');
const port = Number(process.argv[1]);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const results = [];
let sockets = new Set();
function one(i, done) {
  const req = http.request({ host: '127.0.0.1', port, method: 'PUT', path: '/n/' + i, agent,
                             headers: { 'X-Test': 'v' + i, 'Trailer': 'X-Check' } }, (res) => {
    sockets.add(res.socket);
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (c) => body += c);
    res.on('end', () => {
      results.push({ status: res.statusCode, url: res.headers['x-url'], test: res.headers['x-req-x-test'],
                     body, trailer: res.trailers['x-trailer-x-check'] });
      done();
    });
  });
  req.write('hello ');
  req.write('é ' + i);
  req.addTrailers({ 'X-Check': 'ok' + i });
  req.end();
}
one(1, () => one(2, () => one(3, () => {
  console.log(JSON.stringify({ results, sockets: sockets.size }));
  agent.destroy();
})));
"#;
    let out = run(Command::new("node").args(["-e", script, &server.port.to_string()]));
    assert_eq!(
        out.trim(),
        r#"{"results":[{"status":200,"url":"/n/1","test":"v1","body":"hello é 1","trailer":"ok1"},{"status":200,"url":"/n/2","test":"v2","body":"hello é 2","trailer":"ok2"},{"status":200,"url":"/n/3","test":"v3","body":"hello é 3","trailer":"ok3"}],"sockets":1}"#
    );
}

#[test]
fn python_http_client_against_echo() {
    need("python3");
    let server = ExampleProcess::start("echo");
    let script = r#"
import http.client, sys, json
c = http.client.HTTPConnection('127.0.0.1', int(sys.argv[1]))
out = []
c.request('GET', '/status/404', headers={'X-A': '1'})
r = c.getresponse(); out.append([r.status, r.getheader('x-req-x-a'), r.read().decode()])
c.request('POST', '/p', body=b'x' * 70000)
r = c.getresponse(); out.append([r.status, r.getheader('x-method'), len(r.read())])
c.request('HEAD', '/h')
r = c.getresponse(); out.append([r.status, r.getheader('x-method'), r.read().decode()])
c.request('GET', '/again')
r = c.getresponse(); out.append([r.status, r.getheader('x-url'), r.read().decode()])
print(json.dumps(out))
"#;
    let out = run(Command::new("python3").args(["-c", script, &server.port.to_string()]));
    assert_eq!(
        out.trim(),
        r#"[[404, "1", ""], [200, "POST", 70000], [200, "HEAD", ""], [200, "/again", ""]]"#
    );
}

#[test]
fn upgrade_echo_example_echoes_after_switching() {
    let server = ExampleProcess::start("upgrade_echo");
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nhello")
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while !got.ends_with(b"hello") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed early: {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{text}"
    );
}

#[test]
fn proxy_example_streams_both_ways_through_to_echo() {
    need("curl");
    let upstream = ExampleProcess::start("echo");
    let proxy =
        ExampleProcess::start_with("proxy", &[format!("http://127.0.0.1:{}", upstream.port)]);
    let dir = std::env::temp_dir().join(format!("nodelike-proxy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("body.bin");
    let body: Vec<u8> = (0..2_000_000u32).map(|i| (i * 13 % 251) as u8).collect();
    std::fs::write(&file, &body).unwrap();
    let out = Command::new("curl")
        .args(["-s", "-D", "-", "--data-binary"])
        .arg(format!("@{}", file.display()))
        .arg(format!(
            "http://127.0.0.1:{}/status/203?via=proxy",
            proxy.port
        ))
        .output()
        .unwrap();
    assert!(out.status.success());
    // curl sends `Expect: 100-continue` for a large body: skip the interim
    // response the proxy answered it with.
    let interim = b"HTTP/1.1 100 Continue\r\n\r\n";
    assert!(
        out.stdout.starts_with(interim),
        "the proxy answered 100-continue"
    );
    let stdout = &out.stdout[interim.len()..];
    let split = stdout.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&stdout[..split]).to_string();
    assert!(head.starts_with("HTTP/1.1 203 "), "{head}");
    assert!(head.contains("x-url: /status/203?via=proxy"), "{head}");
    assert!(
        stdout[split + 4..] == body[..],
        "body intact through the proxy"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn file_server_example_streams_files_and_refuses_escapes() {
    need("curl");
    let dir = std::env::temp_dir().join(format!("nodelike-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data: Vec<u8> = (0..700_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(dir.join("big.bin"), &data).unwrap();
    let server = ExampleProcess::start_with("file_server", &[dir.display().to_string()]);
    let base = format!("http://127.0.0.1:{}", server.port);
    let out = Command::new("curl")
        .args(["-s", &format!("{base}/big.bin")])
        .output()
        .unwrap();
    assert!(
        out.stdout == data,
        "file streamed intact ({} bytes)",
        out.stdout.len()
    );
    let code = |path: &str| {
        run(Command::new("curl").args([
            "-s",
            "--path-as-is",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("{base}{path}"),
        ]))
    };
    assert_eq!(code("/missing"), "404");
    assert_eq!(code("/../etc/passwd"), "403");
    assert_eq!(code("/%2e%2e/etc/passwd"), "403");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn out_of_file_descriptors_the_server_keeps_serving_and_recovers() {
    // EMFILE on accept: the server stops accepting, retries on a timer, and
    // keeps serving the connections it has. Every step waits for something
    // it can observe (the server's own warning, an answer), with a generous
    // deadline, and never for a length of time: a loaded machine only makes
    // it slower.
    use std::io::{BufRead, Read, Write};
    use std::net::TcpStream;
    use std::time::{Duration, Instant};
    const DEADLINE: Duration = Duration::from_secs(30);
    const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    const ANSWER_END: &[u8] = b"Hello, World!";

    let bin = common::example_bin("hello");
    // (`exec`: the guarded pid is the server's, not a shell's.)
    let mut child = ChildGuard::spawn(
        Command::new("sh")
            .arg("-c")
            .arg(format!("ulimit -n 16 && exec {} 0", bin.display()))
            // The accept loop's warning says when descriptors ran out.
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped()),
    )
    .unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let (warned_tx, warned) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if line.contains("accept:") && line.contains("retrying") {
                let _ = warned_tx.send(line);
            }
        }
    });
    let mut line = Vec::new();
    let mut out = child.stdout.take().unwrap();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\n") {
        out.read_exact(&mut byte).unwrap();
        line.push(byte[0]);
    }
    let line = String::from_utf8(line).unwrap();
    let port: u16 = line
        .trim()
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();

    /// A connection and what it has read so far.
    struct Conn {
        stream: TcpStream,
        got: Vec<u8>,
    }
    impl Conn {
        fn answered(&self) -> bool {
            self.got.ends_with(ANSWER_END)
        }
        /// Reads what has arrived without waiting; panics if the server
        /// closed the connection before answering.
        fn poll(&mut self) {
            let mut buf = [0u8; 512];
            while !self.answered() {
                match self.stream.read(&mut buf) {
                    Ok(0) => panic!(
                        "closed before answering: {:?}",
                        String::from_utf8_lossy(&self.got)
                    ),
                    Ok(n) => self.got.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                    Err(e) => panic!("read: {e}"),
                }
            }
        }
    }
    let open = || {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.write_all(REQUEST).unwrap();
        stream.set_nonblocking(true).unwrap();
        Conn {
            stream,
            got: Vec::new(),
        }
    };
    // Waits until `done` holds, polling every connection meanwhile.
    let wait_until = |conns: &mut Vec<Conn>, what: &str, done: &dyn Fn(&[Conn]) -> bool| {
        let until = Instant::now() + DEADLINE;
        loop {
            conns.iter_mut().for_each(Conn::poll);
            if done(conns) {
                return;
            }
            assert!(Instant::now() < until, "{what}: not within {DEADLINE:?}");
            std::thread::sleep(Duration::from_millis(5));
        }
    };

    // Far more connections than descriptors, each with a request: the
    // kernel queues those the server cannot accept.
    let mut conns: Vec<Conn> = (0..24).map(|_| open()).collect();
    let warning = warned
        .recv_timeout(DEADLINE)
        .expect("the server ran out of descriptors accepting 24 connections under `ulimit -n 16`");
    assert!(warning.contains("Too many open files"), "{warning}");
    wait_until(&mut conns, "a first answer", &|c| {
        c.iter().any(Conn::answered)
    });

    // The accepted ones keep being served: a second request on one.
    let first = conns.iter().position(Conn::answered).unwrap();
    let mut again = conns.remove(first);
    again.got.clear();
    again.stream.write_all(REQUEST).unwrap();
    wait_until(
        &mut vec![again],
        "a second answer on a served connection",
        &|c| c[0].answered(),
    );

    // Free descriptors by closing every connection as soon as it is
    // answered: the retry timer must get to each one still waiting in the
    // backlog (its request sent long ago), however many that is.
    let waiting = conns.len();
    let mut answered = 0;
    let mut until = Instant::now() + DEADLINE;
    while !conns.is_empty() {
        conns.iter_mut().for_each(Conn::poll);
        let before = conns.len();
        conns.retain(|c| !c.answered());
        answered += before - conns.len();
        if before != conns.len() {
            // Progress: the deadline is for the next answer.
            until = Instant::now() + DEADLINE;
        } else {
            assert!(
                Instant::now() < until,
                "{answered} of {waiting} connections answered, the rest never were: \
                 accepting did not resume as descriptors were freed"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    // And a fresh connection is accepted and served.
    let mut fresh = vec![open()];
    wait_until(&mut fresh, "a fresh connection's answer", &|c| {
        c[0].answered()
    });
    drop(child);
}

#[test]
fn a_failing_test_leaves_no_child_behind() {
    // What every test that starts a server relies on: the guard kills and
    // reaps its child while a panic unwinds.
    let pid = std::thread::spawn(|| {
        let child = ChildGuard::spawn(Command::new("sleep").arg("1000")).expect("sleep runs");
        let pid = child.id();
        std::panic::panic_any(pid)
    })
    .join()
    .expect_err("the thread panicked")
    .downcast::<u32>()
    .expect("with the pid");
    // Reaped, not just killed: no zombie left under our pid either.
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "child {pid} survived the panic"
    );
}
