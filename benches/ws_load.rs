//! A WebSocket load generator: many connections, each keeping N echo
//! messages in flight, on one thread and one `mio` poll, with its own
//! minimal client handshake and masked frames (no WebSocket library, and not
//! nodelike's: it measures servers, ours and Node's alike).
//!
//! ```text
//! cargo bench --bench ws_load -- --url ws://127.0.0.1:PORT/ [--connections 64] [--in-flight 16]
//!     [--size 32] [--secs 5] [--warmup 1] [--binary] [--server-pid PID]
//! ```
//!
//! Each connection sends `--in-flight` messages of `--size` bytes (text,
//! or binary with `--binary`) and then one more for every echo it gets back,
//! so that the server always has N outstanding per connection. After
//! `--warmup` seconds it counts for `--secs` seconds and prints messages/s,
//! the echo latency (p50, p99), its own CPU time per message (this thread's,
//! from /proc/thread-self/schedstat) and, with `--server-pid`, the server's
//! (utime + stime from /proc/PID/stat over the same window): the fair
//! figure when this client, not the server, is the bottleneck. Its last
//! lines are `key: value` pairs that benches/ws_vs_node.py reads.
//!
//! Frames are masked as RFC 6455 requires, with one random key per
//! connection reused for all its messages (a load generator is no browser:
//! the key protects proxies from crafted payloads, and these are `x`s).

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

struct Args {
    host: String,
    port: u16,
    path: String,
    connections: usize,
    in_flight: usize,
    size: usize,
    secs: f64,
    warmup: f64,
    binary: bool,
    server_pid: Option<u32>,
}

fn usage() -> ! {
    eprintln!(
        "usage: cargo bench --bench ws_load -- --url ws://HOST:PORT/PATH [--connections 64] [--in-flight 16] \
         [--size 32] [--secs 5] [--warmup 1] [--binary] [--server-pid PID]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        host: String::new(),
        port: 0,
        path: "/".into(),
        connections: 64,
        in_flight: 16,
        size: 32,
        secs: 5.0,
        warmup: 1.0,
        binary: false,
        server_pid: None,
    };
    let mut url = None;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next().unwrap_or_else(|| {
                eprintln!("{name} needs a value");
                usage()
            })
        };
        fn num<T: std::str::FromStr>(s: String, name: &str) -> T {
            s.parse().unwrap_or_else(|_| {
                eprintln!("{name}: not a number: {s}");
                usage()
            })
        }
        match arg.as_str() {
            "--url" => url = Some(value("--url")),
            "--connections" | "-c" => a.connections = num(value("--connections"), "--connections"),
            "--in-flight" => a.in_flight = num(value("--in-flight"), "--in-flight"),
            "--size" => a.size = num(value("--size"), "--size"),
            "--secs" | "-d" => a.secs = num(value("--secs"), "--secs"),
            "--warmup" => a.warmup = num(value("--warmup"), "--warmup"),
            "--binary" => a.binary = true,
            "--server-pid" => a.server_pid = Some(num(value("--server-pid"), "--server-pid")),
            // `cargo bench` passes --bench to every bench target.
            "--bench" => {}
            "-h" | "--help" => usage(),
            other => {
                eprintln!("unknown argument: {other}");
                usage()
            }
        }
    }
    let url = url.unwrap_or_else(|| {
        eprintln!("--url is required");
        usage()
    });
    let rest = url.strip_prefix("ws://").unwrap_or_else(|| {
        eprintln!("only ws:// URLs: {url}");
        usage()
    });
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, num_port(p)),
        None => (authority, 80),
    };
    a.host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    a.port = port;
    a.path = path.to_string();
    if a.connections == 0 || a.in_flight == 0 {
        eprintln!("--connections and --in-flight must be at least 1");
        usage()
    }
    a
}

fn num_port(p: &str) -> u16 {
    p.parse().unwrap_or_else(|_| {
        eprintln!("bad port: {p}");
        usage()
    })
}

// ---------------------------------------------------------------- SHA-1, base64, randomness

fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
    let mut msg = data.to_vec();
    let bit_len = (data.len() as u64) * 8;
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_be_bytes());
    for block in msg.chunks(64) {
        let mut w = [0u32; 80];
        for (i, word) in block.chunks(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A827999),
                20..=39 => (b ^ c ^ d, 0x6ED9EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1BBCDC),
                _ => (b ^ c ^ d, 0xCA62C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 20];
    for (i, x) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&x.to_be_bytes());
    }
    out
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                s.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// xorshift64*, seeded from the clock and the pid: keys and masks, not secrets.
struct Rng(u64);
impl Rng {
    fn new() -> Rng {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        Rng(t ^ ((std::process::id() as u64) << 32) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for chunk in out.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        out
    }
}

/// A client frame (FIN set, masked with `key`).
fn masked_frame(opcode: u8, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut f = Vec::with_capacity(payload.len() + 14);
    f.push(0x80 | opcode);
    let n = payload.len();
    if n < 126 {
        f.push(0x80 | n as u8);
    } else if n <= 0xFFFF {
        f.push(0x80 | 126);
        f.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        f.push(0x80 | 127);
        f.extend_from_slice(&(n as u64).to_be_bytes());
    }
    f.extend_from_slice(&key);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    f
}

// ---------------------------------------------------------------- connections

enum Phase {
    Handshake { accept: String },
    Open,
    Dead,
}

struct Conn {
    stream: TcpStream,
    phase: Phase,
    out: Vec<u8>,
    out_pos: usize,
    inbuf: Vec<u8>,
    frame: Vec<u8>,
    /// What every echo must carry (checked: a server that answers with
    /// something else is an error, not a fast server).
    payload: std::rc::Rc<[u8]>,
    key: [u8; 4],
    sent_at: VecDeque<Instant>,
}

#[derive(Default)]
struct Stats {
    received: u64,
    latencies_us: Vec<u32>,
    measuring: bool,
    errors: u64,
}

impl Conn {
    fn queue_message(&mut self) {
        self.out.extend_from_slice(&self.frame);
        self.sent_at.push_back(Instant::now());
    }

    fn flush(&mut self) -> io::Result<()> {
        while self.out_pos < self.out.len() {
            match self.stream.write(&self.out[self.out_pos..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.out_pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.out_pos == self.out.len() {
            self.out.clear();
            self.out_pos = 0;
        }
        Ok(())
    }

    /// Reads what is there; returns Ok(false) at end of stream.
    fn fill(&mut self, chunk: &mut [u8]) -> io::Result<bool> {
        loop {
            match self.stream.read(chunk) {
                Ok(0) => return Ok(false),
                Ok(n) => self.inbuf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Parses the handshake response and then frames; `sending` says
    /// whether each echo is answered with a new message.
    fn process(
        &mut self,
        stats: &mut Stats,
        sending: bool,
        in_flight: usize,
    ) -> Result<(), String> {
        if let Phase::Handshake { accept } = &self.phase {
            let Some(end) = self.inbuf.windows(4).position(|w| w == b"\r\n\r\n") else {
                return Ok(());
            };
            let head = String::from_utf8_lossy(&self.inbuf[..end]).to_string();
            if !head.starts_with("HTTP/1.1 101") {
                return Err(format!(
                    "handshake refused: {}",
                    head.lines().next().unwrap_or("")
                ));
            }
            let ok = head.lines().any(|l| {
                l.split_once(':').is_some_and(|(k, v)| {
                    k.trim().eq_ignore_ascii_case("sec-websocket-accept") && v.trim() == accept
                })
            });
            if !ok {
                return Err("handshake: wrong or missing Sec-WebSocket-Accept".into());
            }
            self.inbuf.drain(..end + 4);
            self.phase = Phase::Open;
            for _ in 0..in_flight {
                self.queue_message();
            }
        }
        let mut pos = 0;
        loop {
            let b = &self.inbuf[pos..];
            if b.len() < 2 {
                break;
            }
            let fin = b[0] & 0x80 != 0;
            let opcode = b[0] & 0x0F;
            if b[1] & 0x80 != 0 {
                return Err("the server sent a masked frame".into());
            }
            let (len, hlen) = match b[1] & 0x7F {
                126 if b.len() >= 4 => (u16::from_be_bytes([b[2], b[3]]) as usize, 4),
                127 if b.len() >= 10 => (
                    u64::from_be_bytes(b[2..10].try_into().unwrap()) as usize,
                    10,
                ),
                126 | 127 => break,
                n => (n as usize, 2),
            };
            if b.len() < hlen + len {
                break;
            }
            let payload_start = pos + hlen;
            pos += hlen + len;
            match opcode {
                // A message ends with its FIN frame (echoes of ours are one frame each).
                0x0..=0x2 => {
                    if fin {
                        if opcode == 0
                            || self.inbuf[payload_start..payload_start + len] != self.payload[..]
                        {
                            return Err(format!(
                                "an echo that is not what was sent ({len} bytes, opcode {opcode})"
                            ));
                        }
                        let sent = self.sent_at.pop_front();
                        if stats.measuring {
                            stats.received += 1;
                            if let Some(t) = sent {
                                stats
                                    .latencies_us
                                    .push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
                            }
                        }
                        if sending {
                            self.queue_message();
                        }
                    }
                }
                0x9 => {
                    let payload = self.inbuf[payload_start..payload_start + len].to_vec();
                    let pong = masked_frame(0xA, &payload, self.key);
                    self.out.extend_from_slice(&pong);
                }
                0xA => {}
                0x8 => {
                    let code = if len >= 2 {
                        u16::from_be_bytes([
                            self.inbuf[payload_start],
                            self.inbuf[payload_start + 1],
                        ])
                    } else {
                        1005
                    };
                    return Err(format!("the server closed the connection ({code})"));
                }
                other => return Err(format!("unknown opcode {other}")),
            }
        }
        self.inbuf.drain(..pos);
        Ok(())
    }
}

// ---------------------------------------------------------------- CPU readings

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// utime + stime of a process, in seconds.
fn process_cpu(pid: u32, ticks: f64) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / ticks)
}

/// CPU time of this thread in seconds (nanoseconds from schedstat).
fn own_cpu() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map(|ns| ns / 1e9)
        .unwrap_or(0.0)
}

// ---------------------------------------------------------------- main

fn main() {
    let a = parse_args();
    let addr: SocketAddr = (a.host.as_str(), a.port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut it| it.next())
        .unwrap_or_else(|| {
            eprintln!("cannot resolve {}:{}", a.host, a.port);
            std::process::exit(2)
        });
    let ticks = clock_ticks();
    let mut rng = Rng::new();
    let payload: std::rc::Rc<[u8]> = vec![b'x'; a.size].into();
    let opcode = if a.binary { 0x2 } else { 0x1 };

    let mut poll = Poll::new().expect("poll");
    let mut conns = Vec::with_capacity(a.connections);
    for i in 0..a.connections {
        let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| {
            eprintln!("connect {addr}: {e}");
            std::process::exit(1)
        });
        poll.registry()
            .register(
                &mut stream,
                Token(i),
                Interest::READABLE | Interest::WRITABLE,
            )
            .expect("register");
        let key = base64(&rng.bytes::<16>());
        let accept = base64(&sha1(
            format!("{key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11").as_bytes(),
        ));
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: {}:{}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n",
            a.path, a.host, a.port
        );
        let mask = rng.bytes::<4>();
        conns.push(Conn {
            stream,
            phase: Phase::Handshake { accept },
            out: request.into_bytes(),
            out_pos: 0,
            inbuf: Vec::with_capacity(64 * 1024),
            frame: masked_frame(opcode, &payload, mask),
            payload: payload.clone(),
            key: mask,
            sent_at: VecDeque::with_capacity(a.in_flight + 1),
        });
    }

    let mut stats = Stats::default();
    let mut events = Events::with_capacity(1024);
    // One read buffer for every connection (zeroed once, not per read).
    let mut scratch = vec![0u8; 64 * 1024];
    let started = Instant::now();
    let mut open_at: Option<Instant> = None;
    let mut measure_start: Option<(Instant, f64, Option<f64>)> = None;
    let mut measure_end: Option<(Instant, f64, Option<f64>)> = None;
    let handshake_deadline = started + Duration::from_secs(20);

    while measure_end.is_none() {
        let now = Instant::now();
        let open = conns
            .iter()
            .filter(|c| matches!(c.phase, Phase::Open))
            .count();
        let alive = conns
            .iter()
            .filter(|c| !matches!(c.phase, Phase::Dead))
            .count();
        if alive == 0 {
            eprintln!("every connection failed");
            std::process::exit(1);
        }
        if open_at.is_none() {
            if open == alive {
                open_at = Some(now);
            } else if now > handshake_deadline {
                eprintln!(
                    "only {open} of {} connections opened within 20 s",
                    a.connections
                );
                std::process::exit(1);
            }
        }
        if let Some(t0) = open_at {
            if measure_start.is_none() && now >= t0 + Duration::from_secs_f64(a.warmup) {
                stats.measuring = true;
                measure_start = Some((
                    now,
                    own_cpu(),
                    a.server_pid.and_then(|p| process_cpu(p, ticks)),
                ));
            }
        }
        if let Some((t1, _, _)) = measure_start {
            if now >= t1 + Duration::from_secs_f64(a.secs) {
                stats.measuring = false;
                measure_end = Some((
                    now,
                    own_cpu(),
                    a.server_pid.and_then(|p| process_cpu(p, ticks)),
                ));
                break;
            }
        }
        poll.poll(&mut events, Some(Duration::from_millis(5)))
            .or_else(|e| {
                if e.kind() == io::ErrorKind::Interrupted {
                    Ok(())
                } else {
                    Err(e)
                }
            })
            .expect("poll");
        for ev in events.iter() {
            let c = &mut conns[ev.token().0];
            if matches!(c.phase, Phase::Dead) {
                continue;
            }
            let result = (|| -> Result<(), String> {
                if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                    let more = c.fill(&mut scratch).map_err(|e| e.to_string())?;
                    c.process(&mut stats, true, a.in_flight)?;
                    if !more {
                        return Err("the server closed the TCP connection".into());
                    }
                }
                c.flush().map_err(|e| e.to_string())
            })();
            if let Err(e) = result {
                if stats.errors < 5 {
                    eprintln!("connection {}: {e}", ev.token().0);
                }
                stats.errors += 1;
                c.phase = Phase::Dead;
                let _ = poll.registry().deregister(&mut c.stream);
            }
        }
    }

    // A clean goodbye: a close frame (1000) on every live connection.
    for c in conns.iter_mut().filter(|c| matches!(c.phase, Phase::Open)) {
        c.out
            .extend_from_slice(&masked_frame(0x8, &1000u16.to_be_bytes(), c.key));
        let _ = c.flush();
    }

    let (t1, own1, srv1) = measure_start.expect("measured");
    let (t2, own2, srv2) = measure_end.expect("measured");
    let secs = (t2 - t1).as_secs_f64();
    let n = stats.received.max(1) as f64;
    stats.latencies_us.sort_unstable();
    let pct = |p: f64| -> u32 {
        if stats.latencies_us.is_empty() {
            return 0;
        }
        stats.latencies_us[((stats.latencies_us.len() as f64 - 1.0) * p).round() as usize]
    };
    println!(
        "ws_load: {} connections x {} in flight, {}-byte {} messages, {:.1} s after {:.1} s warmup, {}",
        a.connections,
        a.in_flight,
        a.size,
        if a.binary { "binary" } else { "text" },
        secs,
        a.warmup,
        addr
    );
    println!("messages: {}", stats.received);
    println!("messages/s: {:.0}", stats.received as f64 / secs);
    println!("latency p50 us: {}", pct(0.50));
    println!("latency p99 us: {}", pct(0.99));
    println!("client cpu us/msg: {:.3}", (own2 - own1) * 1e6 / n);
    if let (Some(s1), Some(s2)) = (srv1, srv2) {
        println!("server cpu us/msg: {:.3}", (s2 - s1) * 1e6 / n);
        println!("server cpu %: {:.0}", (s2 - s1) * 100.0 / secs);
    } else if let Some(pid) = a.server_pid {
        println!("server cpu us/msg: n/a (no /proc/{pid}/stat)");
    }
    println!("errors: {}", stats.errors);
    if stats.received == 0 {
        std::process::exit(1);
    }
}
