//! Shared helpers for the integration tests: a server on its own thread and
//! loop, raw TCP clients that read responses by their framing, and peers
//! that no one here wrote (curl, node, python).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

pub mod browser;
pub mod pki;

use nodelike::http::Server;

/// A server running on its own thread (its own loop), on a free port.
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Builds the server on a fresh thread with `setup`, listens on
    /// 127.0.0.1:0 and runs the loop until [`stop`](Self::stop).
    pub fn start(setup: impl FnOnce() -> Server + Send + 'static) -> TestServer {
        let _ = env_logger::builder().is_test(true).try_init();
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let server = setup();
            server.listen(0, "127.0.0.1", || {});
            tx.send(server.address().expect("listening")).unwrap();
            // The loop has no cross-thread wake-up of its own: poll the flag.
            let ticker = std::rc::Rc::new(std::cell::Cell::new(None));
            let t2 = ticker.clone();
            ticker.set(Some(nodelike::set_interval(
                move || {
                    if flag.load(Ordering::SeqCst) {
                        server.close();
                        nodelike::clear_interval(t2.get().unwrap());
                    }
                },
                5,
            )));
            nodelike::run();
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("server started");
        TestServer {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port(), path)
    }

    /// Closes the server and waits for its loop to return (which it does
    /// only once every connection is gone: a hang here is a bug).
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().expect("server thread panicked");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

pub fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

/// Sends `request` on a new connection and reads until the server closes.
pub fn exchange_until_close(port: u16, request: &[u8]) -> Vec<u8> {
    let mut s = connect(port);
    s.write_all(request).unwrap();
    read_to_close(&mut s)
}

pub fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return out,
            Err(e) => panic!(
                "read failed after {} bytes: {e}: {:?}",
                out.len(),
                String::from_utf8_lossy(&out)
            ),
        }
    }
}

/// A response as read off the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub head: String,
    /// (lowercased name, value) in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub trailers: Vec<(String, String)>,
    /// The raw bytes of the whole response.
    pub raw: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Reads one response from a keep-alive connection, by its framing.
/// `head_request`: the response has no body whatever its headers say.
pub struct Reader {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Reader {
    pub fn new(port: u16) -> Reader {
        Reader {
            stream: connect(port),
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    fn fill(&mut self) -> bool {
        let mut tmp = [0u8; 65536];
        match self.stream.read(&mut tmp) {
            Ok(0) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                true
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => false,
            Err(e) => panic!("read: {e}; have {:?}", String::from_utf8_lossy(&self.buf)),
        }
    }

    fn take_line(&mut self) -> Option<String> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..i]).into_owned();
                self.buf.drain(..i + 2);
                return Some(line);
            }
            if !self.fill() {
                return None;
            }
        }
    }

    /// The next `n` bytes, whatever they are (`None` if the peer closed first).
    pub fn take(&mut self, n: usize) -> Option<Vec<u8>> {
        self.take_n(n)
    }

    fn take_n(&mut self, n: usize) -> Option<Vec<u8>> {
        while self.buf.len() < n {
            if !self.fill() {
                return None;
            }
        }
        Some(self.buf.drain(..n).collect())
    }

    /// Reads the next response; `None` if the connection closed first.
    pub fn response(&mut self, head_request: bool) -> Option<Response> {
        let mut raw = Vec::new();
        let status_line = self.take_line()?;
        raw.extend_from_slice(status_line.as_bytes());
        raw.extend_from_slice(b"\r\n");
        let status: u16 = status_line.split(' ').nth(1)?.parse().ok()?;
        let mut headers = Vec::new();
        loop {
            let line = self.take_line()?;
            raw.extend_from_slice(line.as_bytes());
            raw.extend_from_slice(b"\r\n");
            if line.is_empty() {
                break;
            }
            let (n, v) = line.split_once(':').expect("header line has a colon");
            headers.push((n.to_ascii_lowercase(), v.trim().to_string()));
        }
        let mut r = Response {
            status,
            head: status_line,
            headers,
            body: Vec::new(),
            trailers: Vec::new(),
            raw,
        };
        if status == 100 {
            return Some(r);
        }
        let bodiless =
            head_request || (100..200).contains(&status) || status == 204 || status == 304;
        if bodiless {
            return Some(r);
        }
        if r.header("transfer-encoding")
            .map(|v| v.contains("chunked"))
            .unwrap_or(false)
        {
            loop {
                let size_line = self.take_line()?;
                r.raw.extend_from_slice(size_line.as_bytes());
                r.raw.extend_from_slice(b"\r\n");
                let size =
                    usize::from_str_radix(size_line.split(';').next().unwrap().trim(), 16).unwrap();
                if size == 0 {
                    loop {
                        let t = self.take_line()?;
                        r.raw.extend_from_slice(t.as_bytes());
                        r.raw.extend_from_slice(b"\r\n");
                        if t.is_empty() {
                            break;
                        }
                        let (n, v) = t.split_once(':').unwrap();
                        r.trailers
                            .push((n.to_ascii_lowercase(), v.trim().to_string()));
                    }
                    break;
                }
                let data = self.take_n(size + 2)?;
                r.raw.extend_from_slice(&data);
                r.body.extend_from_slice(&data[..size]);
            }
        } else if let Some(len) = r.header("content-length") {
            let data = self.take_n(len.parse().unwrap())?;
            r.raw.extend_from_slice(&data);
            r.body = data;
        } else {
            while self.fill() {}
            r.body = std::mem::take(&mut self.buf);
            r.raw.extend_from_slice(&r.body);
        }
        Some(r)
    }

    /// Whether the server closed the connection (reads EOF with nothing
    /// left over).
    pub fn closed_by_server(&mut self) -> bool {
        self.buf.is_empty() && !self.fill()
    }
}

/// One request on a fresh connection, response read by its framing.
pub fn request(port: u16, bytes: &[u8]) -> Response {
    let mut r = Reader::new(port);
    r.send(bytes);
    let head = bytes.starts_with(b"HEAD ");
    r.response(head).expect("a response")
}

/// Whether a program is on the PATH (tests that need one say so when not).
pub fn have(program: &str) -> bool {
    std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Path of a built example binary (`cargo test` builds examples).
pub fn example_bin(name: &str) -> std::path::PathBuf {
    let mut p = std::env::current_exe().unwrap();
    p.pop();
    if p.ends_with("deps") {
        p.pop();
    }
    p.join("examples").join(name)
}

/// A child process that is killed and reaped when dropped: at the end of
/// the test, or while a failed assertion unwinds. Every test that starts a
/// long-lived child (a server, nginx, node) holds it in one, so that no
/// failure leaves a process behind holding a port. Derefs to the
/// [`Child`](std::process::Child), so `id`, `wait`, `try_wait`, `stdout`...
/// work as before; a child already waited for is left alone (std knows it
/// was reaped and sends no signal to a pid that may have been reused).
pub struct ChildGuard(std::process::Child);

impl ChildGuard {
    pub fn new(child: std::process::Child) -> ChildGuard {
        ChildGuard(child)
    }

    /// Spawns `cmd`, guarded from the start.
    pub fn spawn(cmd: &mut std::process::Command) -> std::io::Result<ChildGuard> {
        cmd.spawn().map(ChildGuard)
    }

    /// Spawns a peer server (`node -e ...`, `python3 -c ...`) whose first
    /// line on stdout is the port it listens on; returns it with the port.
    pub fn spawn_listening(cmd: &mut std::process::Command) -> (ChildGuard, u16) {
        let mut child = ChildGuard::spawn(cmd.stdout(std::process::Stdio::piped()))
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().expect("piped")),
            &mut line,
        )
        .expect("the peer prints its port");
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("no port in {line:?}"));
        (child, port)
    }
}

impl From<std::process::Child> for ChildGuard {
    fn from(child: std::process::Child) -> ChildGuard {
        ChildGuard(child)
    }
}

impl std::ops::Deref for ChildGuard {
    type Target = std::process::Child;
    fn deref(&self) -> &std::process::Child {
        &self.0
    }
}

impl std::ops::DerefMut for ChildGuard {
    fn deref_mut(&mut self) -> &mut std::process::Child {
        &mut self.0
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs an example on a free port; killed (and reaped) on drop, and also
/// when it fails to start properly.
pub struct ExampleProcess {
    pub child: ChildGuard,
    pub port: u16,
}

impl ExampleProcess {
    /// Starts `name` with port 0 and reads the port from the
    /// `listening on http://ADDR/` line it prints.
    pub fn start(name: &str) -> ExampleProcess {
        Self::start_with(name, &[])
    }

    /// [`start`](Self::start) with arguments after the port.
    pub fn start_with(name: &str, args: &[String]) -> ExampleProcess {
        let mut child = ChildGuard::spawn(
            std::process::Command::new(example_bin(name))
                .arg("0")
                .args(args)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::inherit()),
        )
        .unwrap_or_else(|e| {
            panic!("cannot start example {name}: {e} (cargo test builds examples)")
        });
        // It prints its URL once listening.
        let mut out = child.stdout.take().unwrap();
        let mut seen = Vec::new();
        let mut b = [0u8; 1];
        while !seen.ends_with(b"\n") {
            match out.read(&mut b) {
                Ok(1) => seen.push(b[0]),
                _ => panic!("example {name} exited before listening"),
            }
        }
        let line = String::from_utf8_lossy(&seen).into_owned();
        let port = line
            .trim()
            .trim_end_matches('/')
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        ExampleProcess { child, port }
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs `cmd` to completion and returns its output, killing it if it is
/// still running after `deadline` (a hang becomes a failure, not a stuck
/// test run).
pub fn output_within(cmd: &mut std::process::Command, deadline: Duration) -> std::process::Output {
    use std::process::Stdio;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v);
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stderr.read_to_end(&mut v);
        v
    });
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let status = child.wait().expect("wait");
            let out = out_reader.join().unwrap_or_default();
            panic!(
                "{cmd:?} still running after {deadline:?}; killed ({status:?}); it printed:\n{}",
                String::from_utf8_lossy(&out)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    std::process::Output {
        status,
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
    }
}
