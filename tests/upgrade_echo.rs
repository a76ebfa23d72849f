//! `examples/upgrade_echo` against a peer that sends and does not read:
//! the example's back-pressure (`write` → `false` → `pause`, `drain` →
//! `resume`) must keep the server's memory bounded, and every byte must
//! still come back, in order, once the peer reads.
//!
//! No assertion here is about time. The server's resident memory (VmRSS in
//! `/proc/PID/status`) is checked after every MiB sent; the sending phase
//! ends when the peer has sent 256 MiB (impossible with back-pressure: the
//! kernel's buffers hold a few MiB) or when its writes stop going through,
//! whichever comes first. On a loaded machine that second condition may
//! come early, which makes the run less demanding, never a false failure.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::ExampleProcess;

/// What the peer sends: 256 MiB, a pattern that shows a lost, duplicated
/// or reordered byte.
const TOTAL: usize = 256 << 20;
/// The server's resident memory must stay under this (it is a few MiB
/// with back-pressure; without, it grows with everything sent).
const RSS_LIMIT_KIB: u64 = 64 << 10;
/// Writes going nowhere for this long end the sending phase (see above).
const STALLED: Duration = Duration::from_secs(2);
/// The deadline for any single step of progress once the peer reads.
const DEADLINE: Duration = Duration::from_secs(60);

fn byte_at(i: usize) -> u8 {
    (i % 251) as u8
}

/// The resident memory of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("reading /proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in /proc/{pid}/status"))
}

#[test]
fn a_peer_that_writes_and_never_reads_does_not_grow_the_server() {
    let server = ExampleProcess::start("upgrade_echo");
    let pid = server.child.id();
    let check_rss = |sent: usize, phase: &str| {
        let rss = rss_kib(pid);
        assert!(
            rss < RSS_LIMIT_KIB,
            "{phase}: the server holds {rss} KiB after {} MiB sent: back-pressure did not hold",
            sent >> 20
        );
        rss
    };
    let baseline = check_rss(0, "at the start");

    let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
        .unwrap();
    // The 101 head (and nothing after it: we have sent nothing yet).
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut b).unwrap(), 1, "closed during the 101");
        head.push(b[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(
        head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{head}"
    );
    s.set_nonblocking(true).unwrap();

    let pattern: Vec<u8> = (0..(1 << 20) + 251).map(byte_at).collect();
    // Sends what the socket takes now, from byte `sent` on.
    let send = |s: &mut TcpStream, sent: &mut usize| -> bool {
        let at = *sent % 251;
        let n = (TOTAL - *sent).min(1 << 20);
        match s.write(&pattern[at..at + n]) {
            Ok(n) => {
                *sent += n;
                n > 0
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => false,
            Err(e) => panic!("write after {sent} bytes: {e}"),
        }
    };

    // Phase 1: send, never read.
    let mut sent = 0usize;
    let mut checked_at = 0usize;
    let mut progress = Instant::now();
    let mut peak = baseline;
    while sent < TOTAL {
        if send(&mut s, &mut sent) {
            progress = Instant::now();
            if sent - checked_at >= 1 << 20 {
                peak = peak.max(check_rss(sent, "not reading"));
                checked_at = sent;
            }
        } else if progress.elapsed() >= STALLED {
            break;
        } else {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    peak = peak.max(check_rss(sent, "not reading, writes stalled"));
    assert!(
        sent < TOTAL,
        "all 256 MiB went through to a server whose echo nobody read"
    );
    eprintln!(
        "not reading: {} MiB sent before the writes stalled; server RSS {baseline} KiB at the start, \
         {peak} KiB at most",
        sent >> 20
    );

    // Phase 2: read the echo while sending the rest: everything comes
    // back, in order, and the server resumed after each drain.
    let mut got = 0usize;
    let mut checked_got = 0usize;
    let mut buf = vec![0u8; 1 << 20];
    let mut progress = Instant::now();
    while got < TOTAL {
        let mut moved = sent < TOTAL && send(&mut s, &mut sent);
        match s.read(&mut buf) {
            Ok(0) => panic!("the server closed after echoing {got} bytes"),
            Ok(n) => {
                let want = &pattern[got % 251..got % 251 + n];
                if buf[..n] != *want {
                    let bad = (0..n).find(|&k| buf[k] != want[k]).unwrap();
                    panic!("echoed byte {} is wrong", got + bad);
                }
                got += n;
                moved = true;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => panic!("read after {got} bytes: {e}"),
        }
        if moved {
            progress = Instant::now();
            if got - checked_got >= 16 << 20 {
                peak = peak.max(check_rss(sent, "reading"));
                checked_got = got;
            }
        } else {
            assert!(
                progress.elapsed() < DEADLINE,
                "no progress for {DEADLINE:?}: {got} of {sent} bytes echoed"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    assert_eq!(got, TOTAL);
    peak = peak.max(check_rss(sent, "at the end"));
    eprintln!("echoed all 256 MiB; server RSS {peak} KiB at most");
}
