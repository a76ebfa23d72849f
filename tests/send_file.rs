//! `ServerResponse::send_file` over real sockets: ranges, validators and
//! HEAD against curl and Node's `http` client; `sendfile(2)` seen under
//! strace; the TLS fallback byte-exact; errors (a missing file, a
//! directory, a file truncated mid-send); the `file_server` example's
//! root containment; a slow reader of a 1 GiB file costing no memory.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{have, ChildGuard, ExampleProcess, Reader, TestServer};
use nodelike::http::{self, SendFileOptions, Server};

/// A fresh folder of its own for one test.
fn temp_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("nodelike-send-file-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Bytes that show any shift or reorder.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

/// A server that answers `/NAME` with `send_file(dir/NAME)`.
fn files_server(dir: PathBuf, options: SendFileOptions) -> TestServer {
    TestServer::start(move || -> Server {
        http::create_server(move |req, res| {
            let name = req.url().trim_start_matches('/').to_owned();
            res.send_file(dir.join(name), options.clone());
        })
    })
}

/// curl's answer: status, head (lower-cased names), body, exit code.
struct Got {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Got {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }
}

fn curl(args: &[&str]) -> Got {
    let out = Command::new("curl")
        .args(["-s", "-i", "--max-time", "60"])
        .args(args)
        .output()
        .expect("curl runs");
    let raw = out.stdout;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no head in {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Got {
        status,
        head,
        body: raw[split + 4..].to_vec(),
    }
}

#[test]
fn curl_ranges_validators_and_head() {
    if !have("curl") {
        eprintln!("skipping: curl is not installed");
        return;
    }
    let dir = temp_dir("curl");
    let data = pattern(10_000);
    std::fs::write(dir.join("data.bin"), &data).unwrap();
    std::fs::write(dir.join("page.html"), b"<p>hi</p>\n").unwrap();
    let s = files_server(dir.clone(), SendFileOptions::default());
    let url = s.url("/data.bin");

    let whole = curl(&[&url]);
    assert_eq!(whole.status, 200);
    assert!(whole.body == data, "the whole file, byte-exact");
    assert_eq!(whole.header("content-length").as_deref(), Some("10000"));
    assert_eq!(
        whole.header("content-type").as_deref(),
        Some("application/octet-stream")
    );
    assert_eq!(whole.header("accept-ranges").as_deref(), Some("bytes"));
    let etag = whole.header("etag").expect("an ETag");
    assert!(etag.starts_with("W/\"2710-"), "{etag}");
    let last_modified = whole.header("last-modified").expect("Last-Modified");
    assert!(last_modified.ends_with(" GMT"), "{last_modified}");

    for (range, expect, content_range) in [
        ("0-99", &data[..100], "bytes 0-99/10000"),
        ("-50", &data[9950..], "bytes 9950-9999/10000"),
        ("100-", &data[100..], "bytes 100-9999/10000"),
        ("9990-20000", &data[9990..], "bytes 9990-9999/10000"),
    ] {
        let got = curl(&["-r", range, &url]);
        assert_eq!(got.status, 206, "{range}");
        assert!(got.body == expect, "{range}: byte-exact");
        assert_eq!(
            got.header("content-range").as_deref(),
            Some(content_range),
            "{range}"
        );
        assert_eq!(
            got.header("content-length"),
            Some(expect.len().to_string()),
            "{range}"
        );
    }

    let head = curl(&["-I", &url]);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(head.header("content-length").as_deref(), Some("10000"));
    assert_eq!(head.header("etag"), Some(etag.clone()));

    let not_modified = curl(&["-H", &format!("If-None-Match: {etag}"), &url]);
    assert_eq!(not_modified.status, 304);
    assert!(not_modified.body.is_empty());
    let listed = curl(&["-H", &format!("If-None-Match: \"x\", {etag}"), &url]);
    assert_eq!(listed.status, 304);
    let star = curl(&["-H", "If-None-Match: *", &url]);
    assert_eq!(star.status, 304);
    let since = curl(&["-H", &format!("If-Modified-Since: {last_modified}"), &url]);
    assert_eq!(since.status, 304);
    // A present If-None-Match that misses wins over a current date.
    let both = curl(&[
        "-H",
        "If-None-Match: \"other\"",
        "-H",
        &format!("If-Modified-Since: {last_modified}"),
        &url,
    ]);
    assert_eq!(both.status, 200);
    let old = curl(&[
        "-H",
        "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT",
        &url,
    ]);
    assert_eq!(old.status, 200);

    let failed = curl(&["-H", "If-Match: \"other\"", &url]);
    assert_eq!(failed.status, 412);
    assert!(failed.body.is_empty());
    let matched = curl(&["-H", &format!("If-Match: {etag}"), &url]);
    assert_eq!(matched.status, 200);
    let unmodified = curl(&[
        "-H",
        "If-Unmodified-Since: Thu, 01 Jan 1970 00:00:00 GMT",
        &url,
    ]);
    assert_eq!(unmodified.status, 412);

    let past = curl(&["-r", "10000-", &url]);
    assert_eq!(past.status, 416);
    assert_eq!(
        past.header("content-range").as_deref(),
        Some("bytes */10000")
    );
    let huge = curl(&["-H", "Range: bytes=99999999999999999999-", &url]);
    assert_eq!(huge.status, 416);

    for range in ["bytes=5-1", "bytes=abc", "lines=0-1", "bytes=0-1,5-6"] {
        let got = curl(&["-H", &format!("Range: {range}"), &url]);
        assert_eq!(got.status, 200, "{range}");
        assert!(got.body == data, "{range}: the whole file");
    }
    let many = format!(
        "Range: bytes={}",
        (0..1000)
            .map(|i| format!("{}-{}", i * 2, i * 2))
            .collect::<Vec<_>>()
            .join(",")
    );
    let got = curl(&["-H", &many, &url]);
    assert_eq!(got.status, 200);
    assert!(got.body == data, "1000 ranges: the whole file");

    // If-Range: the current ETag lets the range apply, a stale one not.
    let if_range = curl(&["-r", "0-9", "-H", &format!("If-Range: {etag}"), &url]);
    assert_eq!(if_range.status, 206);
    let stale = curl(&["-r", "0-9", "-H", "If-Range: \"stale\"", &url]);
    assert_eq!(stale.status, 200);
    assert!(stale.body == data);

    let page = curl(&[&s.url("/page.html")]);
    assert_eq!(
        page.header("content-type").as_deref(),
        Some("text/html; charset=utf-8")
    );

    let post = curl(&["-X", "POST", "-d", "x", &url]);
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow").as_deref(), Some("GET, HEAD"));
    s.stop();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn headers_the_handler_set_are_kept() {
    let dir = temp_dir("own-headers");
    std::fs::write(dir.join("a.txt"), b"hello\n").unwrap();
    let d = dir.clone();
    let s = TestServer::start(move || -> Server {
        http::create_server(move |_req, res| {
            res.set_header("Content-Type", "text/x-mine");
            res.set_header("Cache-Control", "max-age=60");
            res.send_file(d.join("a.txt"), SendFileOptions::default());
        })
    });
    let r = common::request(s.port(), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/x-mine"));
    assert_eq!(r.header("cache-control"), Some("max-age=60"));
    assert_eq!(r.body, b"hello\n");
    s.stop();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn pipelined_files_arrive_in_order_on_one_connection() {
    let dir = temp_dir("pipeline");
    let a = pattern(300_000);
    let b: Vec<u8> = pattern(200_000).into_iter().rev().collect();
    std::fs::write(dir.join("a"), &a).unwrap();
    std::fs::write(dir.join("b"), &b).unwrap();
    let s = files_server(dir.clone(), SendFileOptions::default());
    let mut r = Reader::new(s.port());
    r.send(
        b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nRange: bytes=10-19\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\nHEAD /b HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    let first = r.response(false).unwrap();
    assert_eq!(first.status, 200);
    assert!(first.body == a);
    let second = r.response(false).unwrap();
    assert_eq!(second.status, 206);
    assert_eq!(second.body, &b[10..20]);
    let third = r.response(false).unwrap();
    assert!(third.body == a);
    let fourth = r.response(true).unwrap();
    assert_eq!(fourth.header("content-length"), Some("200000"));
    s.stop();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn node_gets_a_range_and_a_304() {
    if !have("node") {
        eprintln!("skipping: node is not installed");
        return;
    }
    let dir = temp_dir("node");
    let data = pattern(5000);
    std::fs::write(dir.join("f.bin"), &data).unwrap();
    let s = files_server(dir.clone(), SendFileOptions::default());
    let script = r#"
const http = require('http');
const port = process.argv[1];
http.get({ port, path: '/f.bin', headers: { Range: 'bytes=1000-1009' } }, (res) => {
  const chunks = [];
  res.on('data', (c) => chunks.push(c));
  res.on('end', () => {
    const body = Buffer.concat(chunks);
    const etag = res.headers.etag;
    console.log(res.statusCode, res.headers['content-range'], body.toString('hex'));
    http.get({ port, path: '/f.bin', headers: { 'If-None-Match': etag } }, (res2) => {
      res2.resume();
      res2.on('end', () => console.log(res2.statusCode));
    });
  });
});
"#;
    let out = Command::new("node")
        .args(["-e", script, &s.port().to_string()])
        .output()
        .expect("node runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let hex: String = data[1000..1010]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        text,
        format!("206 bytes 1000-1009/5000 {hex}\n304\n"),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    s.stop();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_file_is_404_and_a_directory_follows_the_options() {
    let dir = temp_dir("errors");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("sub/index.html"), b"index\n").unwrap();
    std::fs::create_dir_all(dir.join("bare")).unwrap();
    let plain = files_server(dir.clone(), SendFileOptions::default());
    let get = |port: u16, path: &str| {
        common::request(
            port,
            format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
        )
    };
    assert_eq!(get(plain.port(), "/missing").status, 404);
    assert_eq!(
        get(plain.port(), "/sub").status,
        403,
        "EISDIR without index"
    );
    plain.stop();

    let indexed = files_server(
        dir.clone(),
        SendFileOptions {
            index: Some("index.html".into()),
            ..SendFileOptions::default()
        },
    );
    let r = get(indexed.port(), "/sub");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"index\n");
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(get(indexed.port(), "/bare").status, 404, "no index in it");
    indexed.stop();

    // The callback form: the caller hears the error and answers.
    let d = dir.clone();
    let s = TestServer::start(move || -> Server {
        http::create_server(move |req, res| {
            let path = d.join(req.url().trim_start_matches('/'));
            res.send_file_with(path, SendFileOptions::default(), move |result| {
                if let Err(e) = result {
                    assert!(!res.headers_sent());
                    res.write_head(299, &[("X-Code", e.code())]);
                    res.end(format!("{}", e.status().unwrap_or(0)));
                }
            });
        })
    });
    let r = get(s.port(), "/missing");
    assert_eq!((r.status, r.header("x-code")), (299, Some("ENOENT")));
    assert_eq!(r.body, b"404");
    let r = get(s.port(), "/sub");
    assert_eq!((r.status, r.header("x-code")), (299, Some("EISDIR")));
    let r = get(s.port(), "/sub/index.html");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"index\n"[..]));
    s.stop();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_file_truncated_mid_send_cuts_the_transfer_and_the_server_goes_on() {
    if !have("curl") {
        eprintln!("skipping: curl is not installed");
        return;
    }
    let dir = temp_dir("truncate");
    let path = dir.join("big.bin");
    let size: u64 = 64 * 1024 * 1024;
    std::fs::File::create(&path).unwrap().set_len(size).unwrap();
    std::fs::write(dir.join("small"), b"still here\n").unwrap();
    let s = files_server(dir.clone(), SendFileOptions::default());
    let out_path = dir.join("download");
    let mut download = ChildGuard::spawn(Command::new("curl").args([
        "-s",
        "--limit-rate",
        "2M",
        "-o",
        out_path.to_str().unwrap(),
        &s.url("/big.bin"),
    ]))
    .unwrap();
    // Once bytes arrive, the transfer is under way: cut the file short.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::fs::metadata(&out_path).map_or(0, |m| m.len()) == 0 {
        assert!(std::time::Instant::now() < deadline, "no bytes arrived");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(1024)
        .unwrap();
    let status = download.wait().unwrap();
    assert_eq!(status.code(), Some(18), "curl saw a partial file");
    assert!(std::fs::metadata(&out_path).unwrap().len() < size);
    let r = common::request(s.port(), b"GET /small HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.body, b"still here\n");
    s.stop();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(feature = "tls")]
#[test]
fn over_tls_the_file_goes_in_pieces_byte_exact() {
    use nodelike::https::{self, ServerOptions};
    if !have("curl") {
        eprintln!("skipping: curl is not installed");
        return;
    }
    let p = common::pki::pki();
    let dir = temp_dir("tls");
    let data = pattern(1_000_003);
    std::fs::write(dir.join("f.bin"), &data).unwrap();
    let options = ServerOptions {
        cert: p.server_cert.clone().into_bytes(),
        key: p.server_key.clone().into_bytes(),
        ..Default::default()
    };
    let d = dir.clone();
    let s = TestServer::start(move || -> Server {
        https::create_server(options, move |_req, res| {
            res.send_file(d.join("f.bin"), SendFileOptions::default());
        })
        .expect("a usable certificate")
    });
    let url = format!("https://localhost:{}/f.bin", s.port());
    let ca = p.path("ca.pem");
    let resolve = format!("localhost:{}:127.0.0.1", s.port());
    let whole = curl(&["--cacert", &ca, "--resolve", &resolve, &url]);
    assert_eq!(whole.status, 200);
    assert!(whole.body == data, "{} bytes", whole.body.len());
    let part = curl(&["--cacert", &ca, "--resolve", &resolve, "-r", "70000-", &url]);
    assert_eq!(part.status, 206);
    assert!(part.body == data[70000..]);
    s.stop();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The example, started on DIR.
fn file_server(dir: &Path) -> ExampleProcess {
    ExampleProcess::start_with("file_server", &[dir.display().to_string()])
}

fn status_of(port: u16, path: &str) -> (u16, Vec<u8>, Option<String>) {
    let r = common::request(
        port,
        format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
    );
    let location = r.header("location").map(String::from);
    (r.status, r.body, location)
}

#[test]
fn file_server_keeps_every_path_inside_its_root() {
    let outside = temp_dir("outside");
    std::fs::write(outside.join("secret"), b"secret\n").unwrap();
    let dir = temp_dir("root");
    std::fs::write(dir.join("a.txt"), b"a\n").unwrap();
    std::fs::create_dir_all(dir.join("docs")).unwrap();
    std::fs::write(dir.join("docs/index.html"), b"<h1>docs</h1>\n").unwrap();
    std::os::unix::fs::symlink(outside.join("secret"), dir.join("escape")).unwrap();
    std::os::unix::fs::symlink(&outside, dir.join("escape_dir")).unwrap();
    std::os::unix::fs::symlink(dir.join("a.txt"), dir.join("alias.txt")).unwrap();
    let server = file_server(&dir);
    let port = server.port;

    assert_eq!(status_of(port, "/a.txt").1, b"a\n");
    assert_eq!(status_of(port, "/alias.txt").1, b"a\n", "a link inside");
    let (status, body, _) = status_of(port, "/docs/");
    assert_eq!((status, body.as_slice()), (200, &b"<h1>docs</h1>\n"[..]));
    let (status, _, location) = status_of(port, "/docs?x=1");
    assert_eq!(
        (status, location.as_deref()),
        (301, Some("/docs/?x=1")),
        "a directory without its slash is redirected"
    );
    for path in [
        "/../outside/secret",
        "/docs/../../secret",
        "/%2e%2e/secret",
        "/%2E%2E%2fsecret",
        "/docs%2f..%2fa.txt",
        "/a.txt%00",
        "/escape",
        "/escape_dir/secret",
    ] {
        assert_eq!(status_of(port, path).0, 403, "{path}");
    }
    // An absolute path in the URL stays under the root.
    let secret = outside.join("secret").display().to_string();
    let (status, body, _) = status_of(port, &format!("/{secret}"));
    assert_eq!(status, 404, "{secret}");
    assert_ne!(body, b"secret\n");
    assert_eq!(status_of(port, "/missing").0, 404);
    drop(server);
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&outside).unwrap();
}

#[test]
fn the_body_leaves_with_sendfile_under_strace() {
    if !have("strace") {
        eprintln!("note: strace is not installed; not checking for sendfile(2)");
        return;
    }
    let dir = temp_dir("strace");
    let data = pattern(3_000_000);
    std::fs::write(dir.join("f.bin"), &data).unwrap();
    let log = dir.join("strace.log");
    let bin = common::example_bin("file_server");
    let (_child, port) = {
        let mut child = ChildGuard::spawn(
            Command::new("strace")
                .args(["-f", "-e", "trace=sendfile", "-o"])
                .arg(&log)
                .arg(&bin)
                .args(["0", dir.to_str().unwrap()])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null()),
        )
        .unwrap();
        let mut line = Vec::new();
        let mut out = child.stdout.take().unwrap();
        let mut b = [0u8; 1];
        while !line.ends_with(b"\n") {
            match out.read(&mut b) {
                Ok(1) => line.push(b[0]),
                _ => {
                    // ptrace may be forbidden here (a container): say so.
                    eprintln!(
                        "note: the example did not start under strace; not checking: {}",
                        std::fs::read_to_string(&log).unwrap_or_default()
                    );
                    return;
                }
            }
        }
        let line = String::from_utf8_lossy(&line).into_owned();
        let port: u16 = line
            .trim()
            .trim_end_matches('/')
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap();
        (child, port)
    };
    let mut r = Reader::new(port);
    r.send(b"GET /f.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    let got = r.response(false).unwrap();
    assert!(got.body == data);
    drop(r);
    // Killing strace would leave the example running, detached: end the
    // example (strace's child) first; strace then exits by itself.
    let children = format!("/proc/{0}/task/{0}/children", _child.id());
    for pid in std::fs::read_to_string(children)
        .unwrap_or_default()
        .split_whitespace()
    {
        let _ = Command::new("kill").arg(pid).status();
    }
    drop(_child);
    let traced = std::fs::read_to_string(&log).unwrap();
    assert!(traced.contains("sendfile("), "{traced}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The resident set of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn a_slow_reader_of_a_1_gib_file_costs_the_server_no_memory() {
    let dir = temp_dir("slow");
    let size: u64 = 1 << 30;
    // Sparse: a gigabyte that takes no disk.
    std::fs::File::create(dir.join("huge.bin"))
        .unwrap()
        .set_len(size)
        .unwrap();
    std::fs::write(dir.join("small"), b"warm\n").unwrap();
    let server = file_server(&dir);
    let pid = server.child.id();
    // Warm up (the pool's threads, the buffers) before the baseline.
    assert_eq!(status_of(server.port, "/small").1, b"warm\n");
    let before = rss_kib(pid);
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    conn.write_all(b"GET /huge.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = 0usize;
    let mut peak = before;
    for i in 0..150 {
        let n = conn.read(&mut buf).unwrap();
        assert!(n > 0, "the server closed early");
        got += n;
        if i % 10 == 0 {
            peak = peak.max(rss_kib(pid));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    peak = peak.max(rss_kib(pid));
    assert!(got > 0);
    let growth = peak.saturating_sub(before);
    eprintln!("server RSS {before} KiB before, peak {peak} KiB (+{growth} KiB) while {got} bytes were read");
    assert!(growth < 4 * 1024, "grew by {growth} KiB");
    drop(conn);
    drop(server);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn over_a_unix_socket_the_file_goes_with_sendfile_byte_exact() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    if !have("curl") {
        eprintln!("skipping: curl is not installed");
        return;
    }
    let dir = temp_dir("unix");
    let data = pattern(2_000_001);
    std::fs::write(dir.join("f.bin"), &data).unwrap();
    let sock = dir.join("s.sock");
    let stop = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready) = std::sync::mpsc::channel();
    let thread = {
        let (dir, sock, stop) = (dir.clone(), sock.clone(), stop.clone());
        std::thread::spawn(move || {
            let server = http::create_server(move |_req, res| {
                res.send_file(dir.join("f.bin"), SendFileOptions::default());
            });
            server.listen_path(&sock, move || ready_tx.send(()).unwrap());
            let ticker = std::rc::Rc::new(std::cell::Cell::new(None));
            let t2 = ticker.clone();
            ticker.set(Some(nodelike::set_interval(
                move || {
                    if stop.load(Ordering::SeqCst) {
                        server.close();
                        nodelike::clear_interval(t2.get().unwrap());
                    }
                },
                5,
            )));
            nodelike::run();
        })
    };
    ready.recv_timeout(Duration::from_secs(10)).unwrap();
    let sock_arg = sock.display().to_string();
    let whole = curl(&["--unix-socket", &sock_arg, "http://x/f.bin"]);
    assert_eq!(whole.status, 200);
    assert!(whole.body == data, "{} bytes", whole.body.len());
    let part = curl(&[
        "--unix-socket",
        &sock_arg,
        "-r",
        "1000-1999",
        "http://x/f.bin",
    ]);
    assert_eq!(part.status, 206);
    assert!(part.body == data[1000..2000]);
    stop.store(true, Ordering::SeqCst);
    thread.join().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `file_server --gzip`: what the client accepts compressed (br or gzip,
/// decoded by curl itself) comes compressed and whole; no
/// `Accept-Encoding`, a PNG or a small file comes as it is, with its
/// length (through `sendfile(2)`); the root still holds.
#[test]
fn file_server_with_gzip_compresses_what_the_client_accepts() {
    if !have("curl") {
        eprintln!("skipped: curl is not installed");
        return;
    }
    let outside = temp_dir("gzip-outside");
    std::fs::write(outside.join("secret.txt"), "secret ".repeat(1000)).unwrap();
    let dir = temp_dir("gzip-root");
    let text: String = (0..4000)
        .map(|i| format!("line {i} of the page\n"))
        .collect();
    std::fs::write(dir.join("page.txt"), &text).unwrap();
    std::fs::write(dir.join("small.txt"), "tiny\n").unwrap();
    std::fs::write(dir.join("image.png"), pattern(64 * 1024)).unwrap();
    std::os::unix::fs::symlink(outside.join("secret.txt"), dir.join("escape.txt")).unwrap();
    let server = ExampleProcess::start_with(
        "file_server",
        &[dir.display().to_string(), "--gzip".to_string()],
    );
    let url = |path: &str| format!("http://127.0.0.1:{}{path}", server.port);

    for coding in ["gzip", "br"] {
        let got = curl(&[
            "--compressed",
            "-H",
            &format!("Accept-Encoding: {coding}"),
            &url("/page.txt"),
        ]);
        assert_eq!(got.status, 200, "{}", got.head);
        assert_eq!(got.header("content-encoding").as_deref(), Some(coding));
        assert_eq!(got.header("vary").as_deref(), Some("Accept-Encoding"));
        assert_eq!(got.header("content-length"), None);
        assert!(
            got.body == text.as_bytes(),
            "the {coding} page decodes whole"
        );
    }
    // No Accept-Encoding: as it is, with its length.
    let plain = curl(&[&url("/page.txt")]);
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.header("content-length"), Some(text.len().to_string()));
    assert!(plain.body == text.as_bytes());
    // A type compressed already, and a body under the threshold: as they are.
    let png = curl(&["-H", "Accept-Encoding: gzip", &url("/image.png")]);
    assert_eq!(png.header("content-encoding"), None);
    assert_eq!(png.body.len(), 64 * 1024);
    let small = curl(&["-H", "Accept-Encoding: gzip", &url("/small.txt")]);
    assert_eq!(small.header("content-encoding"), None);
    assert_eq!(small.body, b"tiny\n");
    // Compression does not open a way out of the root.
    let escape = curl(&["-H", "Accept-Encoding: gzip", &url("/escape.txt")]);
    assert_eq!(escape.status, 403);
}

/// The loop's cache of open files: a file served again within a second
/// is the same descriptor (whole, from its start, compressed or not); a
/// file replaced is served anew once a second has passed (nginx's
/// `open_file_cache_valid`).
#[test]
fn a_cached_open_file_is_served_whole_and_a_replaced_one_is_seen_after_a_second() {
    if !have("curl") {
        eprintln!("skipped: curl is not installed");
        return;
    }
    let dir = temp_dir("cache");
    let first: String = (0..2000).map(|i| format!("first {i}\n")).collect();
    std::fs::write(dir.join("page.txt"), &first).unwrap();
    let server = ExampleProcess::start_with(
        "file_server",
        &[dir.display().to_string(), "--gzip".to_string()],
    );
    let url = format!("http://127.0.0.1:{}/page.txt", server.port);
    for _ in 0..3 {
        let plain = curl(&[&url]);
        assert!(
            plain.body == first.as_bytes(),
            "a cached file is sent whole"
        );
        let gzipped = curl(&["--compressed", "-H", "Accept-Encoding: gzip", &url]);
        assert_eq!(gzipped.header("content-encoding").as_deref(), Some("gzip"));
        assert!(gzipped.body == first.as_bytes(), "and read from its start");
    }
    let second: String = (0..3000).map(|i| format!("second {i}\n")).collect();
    let fresh = dir.join("page.txt.new");
    std::fs::write(&fresh, &second).unwrap();
    std::fs::rename(&fresh, dir.join("page.txt")).unwrap();
    // The cache's validity (one second), not a timing assertion: after it,
    // the new file must be what is served.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let after = curl(&[&url]);
    assert!(
        after.body == second.as_bytes(),
        "the replaced file is served"
    );
}
