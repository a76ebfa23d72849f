//! Errors keep their cause and are never silent: an `Error` made from an
//! I/O error hands it back through `source()`, a listen failure reads like
//! Node's, reaches an `error` listener when there is one, and ends `run`
//! (and an example's process, non-zero, with the message) when there is
//! none.

mod common;

use std::cell::RefCell;
use std::error::Error as _;
use std::io;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::rc::Rc;

use common::example_bin;
use nodelike::http;
use nodelike::{Error, ErrorKind};

/// A port that a socket of ours holds (listening) for as long as the
/// returned listener lives.
fn busy_port() -> (TcpListener, u16) {
    let holder = TcpListener::bind("127.0.0.1:0").expect("bind a port to hold");
    let port = holder.local_addr().unwrap().port();
    (holder, port)
}

#[test]
fn an_error_from_an_io_error_keeps_it_as_its_source() {
    let e = Error::from(io::Error::from(io::ErrorKind::AddrInUse));
    assert_eq!(e.kind(), ErrorKind::AddrInUse);
    let source = e.source().expect("the io::Error is the source");
    let io = source
        .downcast_ref::<io::Error>()
        .expect("the source is an io::Error");
    assert_eq!(io.kind(), io::ErrorKind::AddrInUse);
}

#[test]
fn an_os_error_keeps_its_errno_through_the_source() {
    // 98 is EADDRINUSE on Linux; any errno will do, it only has to come back.
    let e = Error::from(io::Error::from_raw_os_error(98));
    let io = e
        .source()
        .and_then(|s| s.downcast_ref::<io::Error>())
        .expect("an io::Error source");
    assert_eq!(io.raw_os_error(), Some(98));
}

#[test]
fn a_clone_shares_the_source_and_compares_equal() {
    let e = Error::from(io::Error::from(io::ErrorKind::AddrInUse));
    let copy = e.clone();
    assert_eq!(copy, e);
    assert!(copy.source().is_some());
    // Same kind and message, but one has lost its cause: not the same error.
    let bare = Error::new(e.kind(), e.message());
    assert_ne!(bare, e);
}

#[test]
fn errors_without_an_io_cause_have_no_source() {
    let e = Error::new(ErrorKind::WriteAfterEnd, "write after end");
    assert!(e.source().is_none());
}

#[test]
fn errors_can_cross_threads() {
    fn send_sync<T: Send + Sync + 'static>() {}
    send_sync::<Error>();
}

#[test]
fn a_listen_on_a_busy_port_reaches_the_error_listener_with_nodes_message() {
    let (_holder, port) = busy_port();
    let got: Rc<RefCell<Vec<Error>>> = Rc::default();
    let listened = Rc::new(std::cell::Cell::new(false));
    let server = http::create_server(|_req, res| res.end(()));
    let g = got.clone();
    server.on_error(move |e| g.borrow_mut().push(e.clone()));
    let l = listened.clone();
    server.listen(port, "127.0.0.1", move || l.set(true));
    // With a listener the error is handled: `run` returns normally.
    nodelike::run();

    assert!(!listened.get(), "the listening callback must not run");
    let got = got.borrow();
    assert_eq!(got.len(), 1, "{got:?}");
    let e = &got[0];
    assert_eq!(e.kind(), ErrorKind::AddrInUse);
    assert_eq!(e.code(), "EADDRINUSE");
    assert_eq!(
        e.message(),
        format!("listen EADDRINUSE: address already in use 127.0.0.1:{port}")
    );
    assert_eq!(
        e.to_string(),
        format!("listen EADDRINUSE: address already in use 127.0.0.1:{port}"),
        "the code is already in the message: no `(EADDRINUSE)` after it"
    );
    let io = e
        .source()
        .and_then(|s| s.downcast_ref::<io::Error>())
        .expect("the bind's io::Error is the source");
    assert_eq!(io.kind(), io::ErrorKind::AddrInUse);
    assert!(server.address().is_none());
}

#[test]
fn a_listen_failure_nobody_listens_to_panics_out_of_run_with_nodes_message() {
    let (_holder, port) = busy_port();
    let outcome = std::thread::spawn(move || {
        let server = http::create_server(|_req, res| res.end(()));
        server.listen(port, "127.0.0.1", || {});
        std::panic::catch_unwind(nodelike::run)
    })
    .join()
    .expect("the thread returns what run did");
    let payload = outcome.expect_err("an unhandled error must not let run return normally");
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .expect("the panic carries a message");
    assert!(
        message.starts_with(&format!(
            "Error: listen EADDRINUSE: address already in use 127.0.0.1:{port}"
        )),
        "{message}"
    );
}

#[test]
fn a_unix_socket_path_in_use_says_so_with_the_path() {
    let dir = std::env::temp_dir().join(format!("nodelike-errors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("taken.sock");
    std::fs::write(&path, b"not a socket").unwrap();
    let got: Rc<RefCell<Vec<Error>>> = Rc::default();
    let server = http::create_server(|_req, res| res.end(()));
    let g = got.clone();
    server.on_error(move |e| g.borrow_mut().push(e.clone()));
    server.listen_path(&path, || {});
    nodelike::run();
    let _ = std::fs::remove_dir_all(&dir);

    let got = got.borrow();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].kind(), ErrorKind::AddrInUse);
    assert_eq!(
        got[0].message(),
        format!(
            "listen EADDRINUSE: address already in use {}",
            path.display()
        )
    );
    assert!(got[0].source().is_some());
}

#[test]
fn a_host_that_does_not_resolve_is_enotfound_with_its_cause() {
    let got: Rc<RefCell<Vec<Error>>> = Rc::default();
    let server = http::create_server(|_req, res| res.end(()));
    let g = got.clone();
    server.on_error(move |e| g.borrow_mut().push(e.clone()));
    // Not a host name at all, so no resolver is asked: fails the same
    // everywhere.
    server.listen(8000, "not a host name!", || {});
    nodelike::run();
    let got = got.borrow();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].code(), "ENOTFOUND");
    assert_eq!(got[0].message(), "getaddrinfo ENOTFOUND not a host name!");
    assert!(
        got[0].source().is_some(),
        "the resolver's io::Error is kept"
    );
}

/// Runs example `name` on `port` and returns its exit status and stderr.
/// The process is waited for (the listen fails at once, so it ends by
/// itself; a hang is a bug the test harness's timeout reports).
fn run_example_on(name: &str, port: u16) -> (std::process::ExitStatus, String) {
    let out = Command::new(example_bin(name))
        .arg(port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot start example {name}: {e} (cargo test builds examples)")
        });
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn hello_on_a_busy_port_exits_non_zero_with_eaddrinuse_on_stderr() {
    let (_holder, port) = busy_port();
    let (status, stderr) = run_example_on("hello", port);
    assert!(
        !status.success(),
        "exit status {status:?}; stderr: {stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "Error: listen EADDRINUSE: address already in use 127.0.0.1:{port}"
        )),
        "{stderr}"
    );
}

#[test]
fn the_other_servers_on_a_busy_port_exit_1_with_the_message() {
    let (_holder, port) = busy_port();
    for name in ["echo", "file_server", "proxy", "upgrade_echo"] {
        let (status, stderr) = run_example_on(name, port);
        assert_eq!(status.code(), Some(1), "{name}: stderr: {stderr}");
        assert!(
            stderr.contains(&format!(
                "error: listen EADDRINUSE: address already in use 127.0.0.1:{port}"
            )),
            "{name}: {stderr}"
        );
    }
}
