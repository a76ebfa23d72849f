//! Behind a real load balancer: Debian's nginx, configured with
//! `docs/deploy/nginx.conf` (the file the deployment page shows), in front
//! of three `echo` processes, with keep-alive connections to them. Load runs
//! through nginx (GETs and POSTs, each with its own body) while one backend
//! gets SIGTERM and is started again on its port: a rolling restart. Every
//! request must get a 2xx with its body intact, and the stopped process
//! must exit 0.
//!
//! nginx is installed with apt-get when missing (as root); where that is
//! impossible the test fails saying so.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{example_bin, free_port, have, ChildGuard};

/// Installs nginx if it is missing.
fn ensure_nginx() {
    if have("nginx") || Path::new("/usr/sbin/nginx").exists() {
        return;
    }
    eprintln!("nginx is missing: installing it (apt-get update && apt-get install -y nginx)");
    let installed = Command::new("sh")
        .arg("-c")
        .arg("apt-get update -qq && apt-get install -y -qq nginx")
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        installed,
        "this test needs nginx and could not install it: run `apt-get install -y nginx` as root"
    );
}

fn nginx_bin() -> PathBuf {
    if Path::new("/usr/sbin/nginx").exists() {
        PathBuf::from("/usr/sbin/nginx")
    } else {
        PathBuf::from("nginx")
    }
}

/// Starts `echo` on `port` and waits for its "listening" line. Guarded
/// from the spawn on: killed and reaped however the test ends.
fn start_echo(port: u16) -> ChildGuard {
    let mut child = ChildGuard::spawn(
        Command::new(example_bin("echo"))
            .arg(port.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit()),
    )
    .expect("cannot start examples/echo (cargo test builds examples)");
    let mut out = child.stdout.take().unwrap();
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\n") {
        match out.read(&mut byte) {
            Ok(1) => line.push(byte[0]),
            _ => panic!("echo on port {port} exited before listening"),
        }
    }
    child
}

/// Waits until something accepts connections on `port`.
fn wait_listening(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} never listened on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Writes nginx's main configuration around the deployment page's file,
/// with our ports in place of the page's. One process (`master_process
/// off`), so killing it at the end leaves no orphaned worker behind.
fn nginx_config(dir: &Path, front: u16, backends: &[u16]) -> PathBuf {
    let page = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/deploy/nginx.conf");
    let mut site = std::fs::read_to_string(&page).expect("docs/deploy/nginx.conf");
    site = site.replace("127.0.0.1:8080", &format!("127.0.0.1:{front}"));
    for (i, port) in backends.iter().enumerate() {
        let page_port = format!("127.0.0.1:{}", 8001 + i);
        assert!(site.contains(&page_port), "the page names {page_port}");
        site = site.replace(&page_port, &format!("127.0.0.1:{port}"));
    }
    std::fs::write(dir.join("site.conf"), site).unwrap();
    let d = dir.display();
    let main = format!(
        "daemon off;\n\
         master_process off;\n\
         worker_processes 1;\n\
         pid {d}/nginx.pid;\n\
         error_log {d}/error.log warn;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n\
           access_log off;\n\
           client_body_temp_path {d}/body;\n\
           proxy_temp_path {d}/proxy;\n\
           fastcgi_temp_path {d}/fastcgi;\n\
           uwsgi_temp_path {d}/uwsgi;\n\
           scgi_temp_path {d}/scgi;\n\
           include {d}/site.conf;\n\
         }}\n"
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, main).unwrap();
    path
}

/// Reads one HTTP/1.1 response (Content-Length or chunked) from `s`.
/// Returns (status, body), or `None` if the connection ended first.
fn read_response(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<(u16, Vec<u8>)> {
    fn fill(s: &mut TcpStream, buf: &mut Vec<u8>) -> bool {
        let mut chunk = [0u8; 16384];
        match s.read(&mut chunk) {
            Ok(n) if n > 0 => {
                buf.extend_from_slice(&chunk[..n]);
                true
            }
            _ => false,
        }
    }
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if !fill(s, buf) {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let status: u16 = head.get(9..12)?.parse().ok()?;
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    let chunked = head
        .lines()
        .any(|l| l.starts_with("transfer-encoding:") && l.contains("chunked"));
    buf.drain(..head_end);
    let mut body = Vec::new();
    if chunked {
        loop {
            let line_end = loop {
                if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
                    break i;
                }
                if !fill(s, buf) {
                    return None;
                }
            };
            let size_text = String::from_utf8_lossy(&buf[..line_end]).into_owned();
            let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
            buf.drain(..line_end + 2);
            if size == 0 {
                // No trailers from nginx: the final CRLF.
                while buf.len() < 2 {
                    if !fill(s, buf) {
                        return None;
                    }
                }
                buf.drain(..2);
                return Some((status, body));
            }
            while buf.len() < size + 2 {
                if !fill(s, buf) {
                    return None;
                }
            }
            body.extend_from_slice(&buf[..size]);
            buf.drain(..size + 2);
        }
    }
    let length = length.unwrap_or(0);
    while buf.len() < length {
        if !fill(s, buf) {
            return None;
        }
    }
    body.extend(buf.drain(..length));
    Some((status, body))
}

#[test]
fn a_rolling_restart_behind_nginx_loses_no_request() {
    let _ = env_logger::builder().is_test(true).try_init();
    ensure_nginx();
    let dir = std::env::temp_dir().join(format!("nodelike-nginx-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    let backends: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut echoes: Vec<ChildGuard> = backends.iter().map(|&p| start_echo(p)).collect();
    let front = free_port();
    let config = nginx_config(&dir, front, &backends);
    let _nginx = ChildGuard::spawn(
        Command::new(nginx_bin())
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(&config)
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit()),
    )
    .expect("cannot start nginx");
    wait_listening(front, "nginx");

    // Clients: keep-alive connections through nginx, POSTs with their own
    // bodies and GETs, each answer checked.
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let clients: Vec<_> = (0..4)
        .map(|t| {
            let (stop, answered, failures) = (stop.clone(), answered.clone(), failures.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let mut s = TcpStream::connect(("127.0.0.1", front)).unwrap();
                    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                    let mut buf = Vec::new();
                    // Up to 50 requests per client connection.
                    for _ in 0..50 {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        n += 1;
                        let body = format!("client {t} request {n}: {}", "x".repeat((n % 7) as usize * 100));
                        let request = if n % 3 == 0 {
                            format!("GET /get/{t}/{n} HTTP/1.1\r\nHost: lb\r\n\r\n")
                        } else {
                            format!(
                                "POST /post/{t}/{n} HTTP/1.1\r\nHost: lb\r\nContent-Length: {}\r\n\r\n{body}",
                                body.len()
                            )
                        };
                        if s.write_all(request.as_bytes()).is_err() {
                            failures.lock().unwrap().push(format!("{t}/{n}: write failed"));
                            break;
                        }
                        match read_response(&mut s, &mut buf) {
                            Some((status, got)) if (200..300).contains(&status) => {
                                let want = if n % 3 == 0 { Vec::new() } else { body.into_bytes() };
                                if got != want {
                                    failures.lock().unwrap().push(format!(
                                        "{t}/{n}: body {:?}",
                                        String::from_utf8_lossy(&got)
                                    ));
                                }
                                answered.fetch_add(1, Ordering::Relaxed);
                            }
                            Some((status, got)) => {
                                failures.lock().unwrap().push(format!(
                                    "{t}/{n}: status {status}: {}",
                                    String::from_utf8_lossy(&got)
                                ));
                            }
                            None => {
                                failures
                                    .lock()
                                    .unwrap()
                                    .push(format!("{t}/{n}: connection to nginx ended"));
                                break;
                            }
                        }
                    }
                }
            })
        })
        .collect();

    let wait_for = |count: usize| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while answered.load(Ordering::Relaxed) < count {
            assert!(Instant::now() < deadline, "the load stalled");
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    // Load for a second, then a rolling restart of all three backends, one
    // after the other, with two seconds of load after each (nginx skips a
    // backend that refused a connection for 1 s: fail_timeout).
    let run_for = |secs: u64, at_least: usize| {
        let until = Instant::now() + Duration::from_secs(secs);
        let before = answered.load(Ordering::Relaxed);
        while Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
        wait_for(before + at_least);
    };
    run_for(1, 100);
    for (i, &port) in backends.iter().enumerate() {
        // SIGTERM: the backend must finish and exit 0 on its own; then a
        // new process on its port.
        let child = &mut echoes[i];
        let killed = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        // (A hang detector, generous for a loaded machine: the backend's
        // own close grace is 2 s.)
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "backend {i} did not exit within 30 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        assert!(status.success(), "backend {i} exited with {status}");
        // (Dropping the old guard sends nothing: that child was reaped.)
        echoes[i] = start_echo(port);
        run_for(2, 100);
    }

    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let failures = failures.lock().unwrap();
    let total = answered.load(Ordering::Relaxed);
    let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
    assert!(
        failures.is_empty(),
        "{} of {} requests failed: {:?}\nnginx error log:\n{log}",
        failures.len(),
        total + failures.len(),
        &failures[..failures.len().min(10)]
    );
    eprintln!("{total} requests through nginx, none lost across the restart");
    drop(echoes);
    let _ = std::fs::remove_dir_all(&dir);
}
