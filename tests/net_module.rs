//! The public `net` module over real sockets: `create_server`, `connect`,
//! `create_connection`, the socket's events in Node's order, half-open
//! connections both ways, errors, back-pressure, `socket.pipe(socket)`,
//! unix sockets, and interop with Node's own `net` both ways.
//!
//! Several tests port the semantics of Node's `test/parallel/test-net-*.js`
//! (named in each test's comment). Each test runs its own loop on its own
//! thread (`nodelike::run()`), or drives a child process through
//! `ChildGuard`. No assertion is about timing.

mod common;

use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::{Command, Stdio};
use std::rc::Rc;

use common::{have, ChildGuard, ExampleProcess};
use nodelike::net::{self, ConnectOptions, NetServerOptions, ReadyState, Socket};
use nodelike::stream::{self, Readable};
use nodelike::ErrorKind;

type Log = Rc<RefCell<Vec<String>>>;

fn log() -> Log {
    Rc::new(RefCell::new(Vec::new()))
}

fn push(log: &Log, event: impl Into<String>) {
    log.borrow_mut().push(event.into());
}

/// Records a socket's events, in the order they fire.
fn record(socket: Socket, log: &Log, who: &'static str) {
    let l = log.clone();
    socket.on_connect(move || push(&l, format!("{who} connect")));
    let l = log.clone();
    socket.on_ready(move || push(&l, format!("{who} ready")));
    let l = log.clone();
    socket.on_end(move || push(&l, format!("{who} end")));
    let l = log.clone();
    socket.on_finish(move || push(&l, format!("{who} finish")));
    let l = log.clone();
    socket.on_error(move |e| push(&l, format!("{who} error {e}")));
    let l = log.clone();
    socket.on_close(move |had_error| push(&l, format!("{who} close {had_error}")));
}

/// The events of one side, in order.
fn of(log: &Log, who: &str) -> Vec<String> {
    log.borrow()
        .iter()
        .filter_map(|e| e.strip_prefix(&format!("{who} ")).map(str::to_owned))
        .collect()
}

/// test-net-pingpong.js: a client and a server in one loop trade PING and
/// PONG; the client ends, the server's side ends with it, both close
/// without error, and the server's `close` follows its last connection.
#[test]
fn pingpong() {
    const COUNT: usize = 50;
    let events = log();
    let pongs = Rc::new(Cell::new(0));
    let ev = events.clone();
    let server = net::create_server(move |socket| {
        assert_eq!(socket.ready_state(), ReadyState::Open);
        assert_eq!(socket.remote_family(), Some("IPv4"));
        let pending = Rc::new(RefCell::new(Vec::new()));
        socket.on_data(move |chunk| {
            let mut buf = pending.borrow_mut();
            buf.extend_from_slice(&chunk);
            while buf.len() >= 4 {
                assert_eq!(&buf[..4], b"PING");
                buf.drain(..4);
                socket.write("PONG");
            }
        });
        record(socket, &ev, "server");
    });
    let ev = events.clone();
    server.on_close(move || {
        assert_eq!(server.connections(), 0);
        push(&ev, "server-close")
    });
    let (p, ev) = (pongs.clone(), events.clone());
    server.listen(0, "127.0.0.1", move || {
        let port = server.address().unwrap().port();
        let client = net::connect(port, "127.0.0.1", || {});
        assert_eq!(client.ready_state(), ReadyState::Opening);
        assert!(client.pending());
        client.on_connect(move || {
            assert!(!client.pending());
            client.write("PING");
        });
        let got = Rc::new(RefCell::new(Vec::new()));
        let p = p.clone();
        client.on_data(move |chunk| {
            let mut buf = got.borrow_mut();
            buf.extend_from_slice(&chunk);
            while buf.len() >= 4 {
                assert_eq!(&buf[..4], b"PONG");
                buf.drain(..4);
                p.set(p.get() + 1);
                if p.get() < COUNT {
                    client.write("PING");
                } else {
                    assert_eq!(server.connections(), 1);
                    client.end(());
                    assert_eq!(client.ready_state(), ReadyState::ReadOnly);
                    assert_eq!(client.bytes_written(), 4 * COUNT as u64);
                    assert_eq!(client.bytes_read(), 4 * COUNT as u64);
                    // Stops accepting; `close` waits for this connection.
                    server.close();
                }
            }
        });
        record(client, &ev, "client");
    });
    nodelike::run();
    assert_eq!(pongs.get(), COUNT);
    assert_eq!(
        of(&events, "client"),
        ["connect", "ready", "finish", "end", "close false"]
    );
    assert_eq!(of(&events, "server"), ["end", "finish", "close false"]);
    // The server's `close` follows its last connection's.
    let events = events.borrow();
    let at = |e: &str| events.iter().position(|x| x == e).unwrap();
    assert!(at("server close false") < at("server-close"), "{events:?}");
}

/// test-net-server-close.js: `close` stops accepting at once, but the
/// server's `close` (and `close_with`'s callback) comes only after its
/// open connections have closed; closing again says the server is not
/// running.
#[test]
fn a_closing_server_waits_for_its_connections() {
    let events = log();
    let ev = events.clone();
    let server = net::create_server(move |socket| {
        let ev = ev.clone();
        push(&ev, "connection");
        socket.on_close(move |_| push(&ev, "socket close"));
    });
    let ev = events.clone();
    server.listen(0, "127.0.0.1", move || {
        assert!(server.listening());
        let port = server.address().unwrap().port();
        let client = net::connect(port, "127.0.0.1", || {});
        let ev = ev.clone();
        client.on_ready(move || {
            // Accepted on this turn's poll at the latest: close once the
            // server has its connection.
            let ev = ev.clone();
            nodelike::set_timeout(
                move || {
                    let ev2 = ev.clone();
                    server.close_with(move |err| {
                        assert!(err.is_none());
                        push(&ev2, "server closed");
                    });
                    assert!(!server.listening());
                    assert_eq!(server.address(), None);
                    push(&ev, "close called");
                    // A second close: not running any more.
                    let ev3 = ev.clone();
                    server.close_with(move |err| {
                        push(&ev3, format!("again: {}", err.unwrap().code()));
                    });
                    // The connection ends a turn later.
                    nodelike::set_timeout(move || client.end(()), 10);
                },
                10,
            );
        });
    });
    nodelike::run();
    let events = events.borrow();
    assert_eq!(
        *events,
        [
            "connection",
            "close called",
            "again: ERR_SERVER_NOT_RUNNING",
            "socket close",
            "server closed"
        ]
    );
}

/// test-net-allow-half-open.js, default side: the peer's FIN ends ours
/// (after the `end` listeners ran), then the socket closes.
#[test]
fn without_allow_half_open_the_peers_end_ends_ours() {
    let events = log();
    let ev = events.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let server = net::create_server(move |socket| {
        assert!(!socket.allow_half_open());
        let ev2 = ev.clone();
        socket.on_data(move |chunk| push(&ev2, format!("server data {chunk}")));
        let ev2 = ev.clone();
        socket.on_end(move || {
            // Our side is still open while `end` listeners run.
            push(
                &ev2,
                format!("server state {}", socket.ready_state().as_str()),
            );
        });
        record(socket, &ev, "server");
    });
    // One connection, then no more.
    server.on_connection(move |_| server.close());
    server.listen(0, "127.0.0.1", move || {
        tx.send(server.address().unwrap().port()).unwrap();
    });
    let client = std::thread::spawn(move || {
        let port = rx.recv().unwrap();
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(b"hello").unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).unwrap(); // our FIN arrives
        rest
    });
    nodelike::run();
    assert_eq!(client.join().unwrap(), b"");
    assert_eq!(
        of(&events, "server"),
        [
            "data hello",
            "state writeOnly",
            "end",
            "finish",
            "close false"
        ]
    );
}

/// test-net-allow-half-open.js, the other side: with `allow_half_open` the
/// socket stays writable after the peer's FIN until we end it.
#[test]
fn with_allow_half_open_our_side_stays_writable() {
    let (tx, rx) = std::sync::mpsc::channel();
    let events = log();
    let ev = events.clone();
    let server = net::create_server_with(
        NetServerOptions {
            allow_half_open: true,
            ..Default::default()
        },
        move |socket| {
            assert!(socket.allow_half_open());
            let got = Rc::new(RefCell::new(Vec::new()));
            let g = got.clone();
            socket.on_data(move |chunk| g.borrow_mut().extend_from_slice(&chunk));
            socket.on_end(move || {
                assert_eq!(socket.ready_state(), ReadyState::WriteOnly);
                // Answer later, on another turn: still writable.
                let answer = format!("you sent {}", String::from_utf8_lossy(&got.borrow()));
                nodelike::set_timeout(
                    move || {
                        assert!(socket.write(answer));
                        socket.end(" - bye");
                    },
                    20,
                );
            });
            record(socket, &ev, "server");
        },
    );
    // One connection, then no more.
    server.on_connection(move |_| server.close());
    server.listen(0, "127.0.0.1", move || {
        tx.send(server.address().unwrap().port()).unwrap();
    });
    let client = std::thread::spawn(move || {
        let port = rx.recv().unwrap();
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(b"a question").unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        answer
    });
    nodelike::run();
    assert_eq!(client.join().unwrap(), "you sent a question - bye");
    assert_eq!(of(&events, "server"), ["end", "finish", "close false"]);
}

/// A client with `allow_half_open` (test-net-connect-options-allowhalfopen.js):
/// it ends first and still reads the whole answer; without it, the
/// server's FIN ends the client too.
#[test]
fn a_half_open_client_reads_the_answer_after_its_own_end() {
    let server = net::create_server_with(
        NetServerOptions {
            allow_half_open: true,
            ..Default::default()
        },
        |socket| {
            let got = Rc::new(RefCell::new(Vec::new()));
            let g = got.clone();
            socket.on_data(move |chunk| g.borrow_mut().extend_from_slice(&chunk));
            socket.on_end(move || {
                let n = got.borrow().len();
                socket.end(format!("{n} bytes"));
            });
        },
    );
    let answer = Rc::new(RefCell::new(String::new()));
    let finished = Rc::new(Cell::new(0));
    let (a, f) = (answer.clone(), finished.clone());
    server.listen(0, "127.0.0.1", move || {
        let port = server.address().unwrap().port();
        let client = net::create_connection(
            ConnectOptions {
                port,
                host: "localhost".into(),
                allow_half_open: true,
                timeout: 60_000,
                ..Default::default()
            },
            || {},
        );
        client.end("twelve bytes");
        let a = a.clone();
        client.on_data(move |chunk| a.borrow_mut().push_str(&chunk.to_string()));
        let f = f.clone();
        stream::finished(client, move |err| {
            assert!(err.is_none(), "{err:?}");
            f.set(f.get() + 1);
            server.close();
        });
    });
    nodelike::run();
    assert_eq!(*answer.borrow(), "12 bytes");
    assert_eq!(finished.get(), 1, "finished after end and finish");
}

/// test-net-connect-immediate-finish.js / test-net-better-error-messages:
/// a refused connect is `error` with Node's message, then `close(true)`;
/// no `connect`.
#[test]
fn a_refused_connect_is_error_then_close_with_had_error() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let events = log();
    let socket = net::connect(port, "127.0.0.1", || panic!("not connected"));
    record(socket, &events, "client");
    let kind = Rc::new(Cell::new(None));
    let k = kind.clone();
    socket.on_error(move |e| k.set(Some(e.kind())));
    nodelike::run();
    assert_eq!(
        of(&events, "client"),
        [
            format!("error connect ECONNREFUSED 127.0.0.1:{port}"),
            "close true".to_owned()
        ]
    );
    assert_eq!(kind.get(), Some(ErrorKind::ConnectionRefused));
}

/// A name that does not resolve: `getaddrinfo ENOTFOUND`, looked up off
/// the loop, then `close(true)`.
#[test]
fn a_name_that_does_not_resolve_is_enotfound() {
    let events = log();
    let socket = net::connect(80, "no-such-host.invalid", || panic!("not connected"));
    assert_eq!(socket.ready_state(), ReadyState::Opening);
    record(socket, &events, "client");
    nodelike::run();
    let events = of(&events, "client");
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(
        events[0].starts_with("error getaddrinfo ENOTFOUND no-such-host.invalid"),
        "{events:?}"
    );
    assert_eq!(events[1], "close true");
}

/// `listen` on a busy port: Node's message on the server's `error`.
#[test]
fn a_busy_port_is_eaddrinuse_in_nodes_words() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let message = Rc::new(RefCell::new(String::new()));
    let m = message.clone();
    let server = net::create_server(|_| {});
    server.on_error(move |e| *m.borrow_mut() = e.to_string());
    server.listen(port, "127.0.0.1", || panic!("not listening"));
    nodelike::run();
    assert_eq!(
        *message.borrow(),
        format!("listen EADDRINUSE: address already in use 127.0.0.1:{port}")
    );
    // Without a listener it is not dropped: it panics out of `run`.
    let server = net::create_server(|_| {});
    server.listen(port, "127.0.0.1", || {});
    let panic = std::panic::catch_unwind(nodelike::run).unwrap_err();
    let text = panic.downcast_ref::<String>().unwrap();
    assert!(text.starts_with("Error: listen EADDRINUSE"), "{text}");
}

/// test-net-pause-resume-connecting / write-drain: a writer whose `write`
/// returns `false` waits for `drain`; a paused reader gets no `data`
/// until it resumes, and every byte arrives.
#[test]
fn write_false_then_drain_and_pause_resume() {
    const TOTAL: usize = 4 * 1024 * 1024;
    let drains = Rc::new(Cell::new(0));
    let received = Rc::new(Cell::new(0usize));
    let (d, r) = (drains.clone(), received.clone());
    let server = net::create_server(move |socket| {
        // The writer: as much as `write` takes, then wait for `drain`.
        let sent = Rc::new(Cell::new(0usize));
        let chunk = vec![b'x'; 64 * 1024];
        let pump = Rc::new(move || {
            while sent.get() < TOTAL {
                sent.set(sent.get() + chunk.len());
                if !socket.write(&chunk[..]) {
                    assert!(socket.buffer_size() >= 16 * 1024);
                    return;
                }
            }
            socket.end(());
        });
        let again = pump.clone();
        let d = d.clone();
        socket.on_drain(move || {
            d.set(d.get() + 1);
            again()
        });
        pump();
    });
    server.listen(0, "127.0.0.1", move || {
        let port = server.address().unwrap().port();
        let client = net::connect(port, "127.0.0.1", || {});
        // Paused from the start: nothing is read until resumed.
        client.pause();
        assert!(client.is_paused());
        let r = r.clone();
        client.on_data(move |chunk| {
            assert!(!client.is_paused(), "no data while paused");
            r.set(r.get() + chunk.len());
        });
        nodelike::set_timeout(move || client.resume(), 50);
        client.on_close(move |had_error| {
            assert!(!had_error);
            server.close();
        });
    });
    nodelike::run();
    assert_eq!(received.get(), TOTAL);
    assert!(drains.get() > 0, "write returned false and drain followed");
}

/// test-net-socket-timeout.js: `set_timeout` fires `timeout` after idle
/// time; the socket stays open until the listener acts.
#[test]
fn set_timeout_fires_timeout_and_leaves_the_socket_open() {
    let events = log();
    let ev = events.clone();
    let server = net::create_server(move |socket| {
        socket.set_timeout(30);
        let fired = Rc::new(Cell::new(0));
        let ev2 = ev.clone();
        socket.on_timeout(move || {
            fired.set(fired.get() + 1);
            // Told, not closed: still open until we act (twice here).
            assert!(socket.is_open());
            push(&ev2, format!("server timeout {}", fired.get()));
            if fired.get() == 2 {
                socket.end(());
            }
        });
        record(socket, &ev, "server");
    });
    server.listen(0, "127.0.0.1", move || {
        let port = server.address().unwrap().port();
        let client = net::connect(port, "127.0.0.1", || {});
        client.on_close(move |_| server.close());
    });
    nodelike::run();
    assert_eq!(
        of(&events, "server"),
        ["timeout 1", "timeout 2", "finish", "end", "close false"]
    );
}

/// `destroy_with_error` and `destroy_soon`: the error goes to `error`,
/// then `close(true)`; `destroy_soon` sends what was queued first.
#[test]
fn destroy_with_an_error_and_destroy_soon() {
    let events = log();
    let ev = events.clone();
    let server = net::create_server(move |socket| {
        socket.write("last words");
        socket.destroy_soon();
        record(socket, &ev, "server");
    });
    let (ev, got) = (events.clone(), Rc::new(RefCell::new(String::new())));
    let g = got.clone();
    server.listen(0, "127.0.0.1", move || {
        let port = server.address().unwrap().port();
        let client = net::connect(port, "127.0.0.1", || {});
        let g = g.clone();
        client.on_data(move |chunk| g.borrow_mut().push_str(&chunk.to_string()));
        client.on_end(move || {
            client.destroy_with_error(nodelike::Error::new(ErrorKind::Aborted, "enough"));
        });
        record(client, &ev, "client");
        client.on_close(move |_| server.close());
    });
    nodelike::run();
    assert_eq!(*got.borrow(), "last words");
    assert_eq!(of(&events, "server"), ["finish", "close false"]);
    let client = of(&events, "client");
    assert_eq!(client[..3], ["connect", "ready", "end"]);
    assert!(client[3].starts_with("error enough"), "{client:?}");
    assert_eq!(client[4], "close true");
}

/// `pause_on_connect`: an accepted socket starts paused and reads nothing
/// until resumed; a write after `end` is Node's `write after end`.
#[test]
fn pause_on_connect_and_write_after_end() {
    let events = log();
    let ev = events.clone();
    let server = net::create_server_with(
        NetServerOptions {
            pause_on_connect: true,
            ..Default::default()
        },
        move |socket| {
            assert!(socket.is_paused());
            let ev2 = ev.clone();
            socket.on_data(move |chunk| {
                assert!(!socket.is_paused());
                push(&ev2, format!("server data {chunk}"));
            });
            let ev2 = ev.clone();
            nodelike::set_timeout(
                move || {
                    push(&ev2, "server resume");
                    socket.resume();
                },
                30,
            );
            socket.on_end(move || {
                socket.end("ok");
                assert!(!socket.write("more"), "write after end");
            });
            record(socket, &ev, "server");
        },
    );
    server.on_connection(move |_| server.close());
    let got = Rc::new(RefCell::new(String::new()));
    let g = got.clone();
    server.listen(0, "127.0.0.1", move || {
        let port = server.address().unwrap().port();
        let client = net::connect(port, "127.0.0.1", || {});
        client.end("early bytes");
        let g = g.clone();
        client.on_data(move |chunk| g.borrow_mut().push_str(&chunk.to_string()));
    });
    nodelike::run();
    let server = of(&events, "server");
    assert_eq!(
        server[..3],
        ["resume", "data early bytes", "end"],
        "{server:?}"
    );
    assert!(server[3].starts_with("error write after end"), "{server:?}");
    assert_eq!(server[4], "close true");
}

/// A peer that resets the connection: `error` with Node's `read
/// ECONNRESET`, then `close(true)` (test-net-error-twice.js's shape).
#[test]
fn a_reset_is_error_then_close_with_had_error() {
    let (tx, rx) = std::sync::mpsc::channel();
    let (got_tx, got_rx) = std::sync::mpsc::channel::<()>();
    let events = log();
    let ev = events.clone();
    let server = net::create_server(move |socket| {
        let got_tx = got_tx.clone();
        socket.on_data(move |_| {
            let _ = got_tx.send(());
        });
        record(socket, &ev, "server");
    });
    server.on_connection(move |_| server.close());
    server.listen(0, "127.0.0.1", move || {
        tx.send(server.address().unwrap().port()).unwrap();
    });
    let client = std::thread::spawn(move || {
        let port = rx.recv().unwrap();
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(b"x").unwrap();
        got_rx.recv().unwrap();
        // Linger 0: closing sends a reset, not a FIN.
        socket2::SockRef::from(&s)
            .set_linger(Some(std::time::Duration::ZERO))
            .unwrap();
        drop(s);
    });
    nodelike::run();
    client.join().unwrap();
    let server = of(&events, "server");
    assert_eq!(server.len(), 2, "{server:?}");
    assert!(server[0].starts_with("error read ECONNRESET"), "{server:?}");
    assert_eq!(server[1], "close true");
}

/// test-net-server-max-connections.js: over the cap, a connection is
/// closed as soon as it is accepted; under it again, accepted.
#[test]
fn max_connections_refuses_the_extra_connection() {
    let accepted = Rc::new(Cell::new(0));
    let a = accepted.clone();
    let server = net::create_server(move |socket| {
        a.set(a.get() + 1);
        socket.write("welcome");
    });
    server.set_max_connections(Some(1));
    let outcome = Rc::new(RefCell::new(Vec::new()));
    let o = outcome.clone();
    server.listen(0, "127.0.0.1", move || {
        let port = server.address().unwrap().port();
        let first = net::connect(port, "127.0.0.1", || {});
        let o = o.clone();
        first.on_data(move |chunk| {
            o.borrow_mut().push(format!("first {chunk}"));
            // The first is in: a second is over the cap.
            let second = net::connect(port, "127.0.0.1", || {});
            second.on_error(|_| {});
            let o2 = o.clone();
            second.on_data(move |chunk| o2.borrow_mut().push(format!("second {chunk}")));
            let o = o.clone();
            second.on_close(move |_| {
                o.borrow_mut().push("second closed".into());
                assert_eq!(server.connections(), 1);
                first.end_with_callback((), move || {
                    server.close();
                });
            });
        });
    });
    nodelike::run();
    assert_eq!(accepted.get(), 1);
    assert_eq!(*outcome.borrow(), ["first welcome", "second closed"]);
}

/// `cork` holds writes until `uncork` (nested), and `end` undoes every
/// cork; the trait's view (`writable_ended`, `writable_finished`) follows.
#[test]
fn cork_holds_writes_until_uncork_or_end() {
    use nodelike::stream::Writable;
    let (tx, rx) = std::sync::mpsc::channel();
    let server = net::create_server(move |socket| {
        socket.cork();
        socket.cork();
        socket.write("a");
        socket.write("b");
        socket.uncork();
        nodelike::set_timeout(
            move || {
                // Still corked once: nothing has left yet.
                assert_eq!(socket.buffer_size(), 2);
                socket.write("c");
                assert!(!Writable::writable_ended(&socket));
                socket.end("d"); // uncorks all
                assert!(Writable::writable_ended(&socket));
                assert!(!Writable::writable_finished(&socket));
                socket.on_finish(move || assert!(Writable::writable_finished(&socket)));
            },
            20,
        );
    });
    server.on_connection(move |_| server.close());
    server.listen(0, "127.0.0.1", move || {
        tx.send(server.address().unwrap().port()).unwrap();
    });
    let client = std::thread::spawn(move || {
        let mut s = TcpStream::connect(("127.0.0.1", rx.recv().unwrap())).unwrap();
        let mut all = String::new();
        s.read_to_string(&mut all).unwrap();
        all
    });
    nodelike::run();
    assert_eq!(client.join().unwrap(), "abcd");
}

/// A server on a unix socket, and `connect_path` to it.
#[test]
fn a_unix_socket_server_and_client() {
    let dir = std::env::temp_dir().join(format!("nodelike-net-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("echo.sock");
    let _ = std::fs::remove_file(&path);
    let server = net::create_server(|socket| {
        socket.pipe(socket);
    });
    let got = Rc::new(RefCell::new(Vec::new()));
    let g = got.clone();
    let p = path.clone();
    server.listen_path(&path, move || {
        assert_eq!(server.address(), None, "no IP address for a path");
        let client = net::connect_path(p.clone(), || {});
        client.end("over a unix socket");
        let g = g.clone();
        client.on_data(move |chunk| g.borrow_mut().extend_from_slice(&chunk));
        client.on_close(move |had_error| {
            assert!(!had_error);
            server.close();
        });
    });
    nodelike::run();
    assert_eq!(*got.borrow(), b"over a unix socket");
    assert!(!path.exists(), "the socket file goes with the server");
    // A path nobody listens on: `connect ENOENT`, then close(true).
    let events = log();
    let missing = dir.join("nobody.sock");
    record(net::connect_path(&missing, || {}), &events, "client");
    nodelike::run();
    assert_eq!(
        of(&events, "client"),
        [
            format!("error connect ENOENT {}", missing.display()),
            "close true".to_owned()
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `socket.pipe(socket)` echoes 10 MiB to a client that reads slowly: the
/// pipe pauses the socket while its output is over the high-water mark,
/// so what the server holds stays bounded (a read's worth plus the mark),
/// however much the client sends.
#[test]
fn a_piped_echo_holds_bounded_memory_for_a_slow_reader() {
    const TOTAL: usize = 10 * 1024 * 1024;
    let (tx, rx) = std::sync::mpsc::channel();
    let most = Rc::new(Cell::new(0usize));
    let paused = Rc::new(Cell::new(false));
    let (m, pz) = (most.clone(), paused.clone());
    let server = net::create_server(move |socket| {
        socket.pipe(socket);
        let (m, pz) = (m.clone(), pz.clone());
        // After the pipe's own listener: the output right after each write.
        socket.on_data(move |_| {
            m.set(m.get().max(socket.buffer_size()));
            pz.set(pz.get() || socket.is_paused());
        });
    });
    // One connection, then no more.
    server.on_connection(move |_| server.close());
    server.listen(0, "127.0.0.1", move || {
        tx.send(server.address().unwrap().port()).unwrap();
    });
    let client = std::thread::spawn(move || {
        let port = rx.recv().unwrap();
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        // A small receive window, so the echo backs up into the server.
        socket2::SockRef::from(&s)
            .set_recv_buffer_size(64 * 1024)
            .unwrap();
        let mut w = s.try_clone().unwrap();
        let writer = std::thread::spawn(move || {
            let block: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
            for _ in 0..TOTAL / block.len() {
                w.write_all(&block).unwrap();
            }
            w.shutdown(Shutdown::Write).unwrap();
        });
        let mut r = s;
        let mut buf = vec![0u8; 16 * 1024];
        let mut n = 0usize;
        let mut ok = true;
        loop {
            let k = r.read(&mut buf).unwrap();
            if k == 0 {
                break;
            }
            ok &= buf[..k]
                .iter()
                .enumerate()
                .all(|(i, &b)| b == (((n + i) % (64 * 1024)) % 251) as u8);
            n += k;
            // The slow reader.
            if n % (256 * 1024) < 16 * 1024 {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        }
        writer.join().unwrap();
        (n, ok)
    });
    nodelike::run();
    let (n, ok) = client.join().unwrap();
    assert_eq!(n, TOTAL);
    assert!(ok, "bytes echoed exactly, in order");
    assert!(paused.get(), "the pipe paused the socket");
    assert!(
        most.get() <= 16 * 1024 + 64 * 1024,
        "at most a read over the mark was held: {}",
        most.get()
    );
}

/// Our `net::connect` against Node's `net.createServer` echo: the bytes
/// come back exact, and Node's FIN (after ours) ends and closes us.
#[test]
fn our_client_against_nodes_echo_server() {
    if !have("node") {
        eprintln!("skipped: no node");
        return;
    }
    let (_node, port) = ChildGuard::spawn_listening(Command::new("node").arg("-e").arg(
        "const net = require('net');
         net.createServer(s => s.pipe(s)).listen(0, '127.0.0.1', function () {
           console.log(this.address().port);
         });",
    ));
    let sent: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let got = Rc::new(RefCell::new(Vec::new()));
    let events = log();
    let client = net::connect(port, "127.0.0.1", || {});
    record(client, &events, "client");
    client.write(&sent[..]);
    client.end(());
    let g = got.clone();
    client.on_data(move |chunk| g.borrow_mut().extend_from_slice(&chunk));
    nodelike::run();
    assert!(*got.borrow() == sent, "{} bytes back", got.borrow().len());
    assert_eq!(
        of(&events, "client"),
        ["connect", "ready", "finish", "end", "close false"]
    );
}

/// Node's `net.connect` against our `tcp_echo` example: bytes exact both
/// ways; our FIN follows Node's (the default), and a half-open Node client
/// still reads everything after ending first.
#[test]
fn nodes_client_against_our_tcp_echo() {
    if !have("node") {
        eprintln!("skipped: no node");
        return;
    }
    let echo = ExampleProcess::start("tcp_echo");
    let out = Command::new("node")
        .arg("-e")
        .arg(
            "const net = require('net');
             const port = +process.argv[1];
             const sent = Buffer.alloc(1 << 20, 0);
             for (let i = 0; i < sent.length; i++) sent[i] = i % 241;
             const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
             const got = [];
             let ended = false;
             s.on('data', d => got.push(d));
             s.on('end', () => { ended = true; });
             s.on('close', hadError => {
               const all = Buffer.concat(got);
               console.log(JSON.stringify({ same: all.equals(sent), len: all.length, ended, hadError }));
             });
             s.end(sent);",
        )
        .arg(echo.port.to_string())
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        r#"{"same":true,"len":1048576,"ended":true,"hadError":false}"#
    );
}

/// Node's `net.connect(path)` against our server on a unix socket.
#[test]
fn nodes_client_against_our_unix_socket_server() {
    if !have("node") {
        eprintln!("skipped: no node");
        return;
    }
    let dir = std::env::temp_dir().join(format!("nodelike-net-node-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("echo.sock");
    let _ = std::fs::remove_file(&path);
    let server = net::create_server(|socket| {
        socket.pipe(socket);
    });
    server.on_connection(move |_| server.close());
    let node = Rc::new(RefCell::new(None));
    let (n, p) = (node.clone(), path.clone());
    server.listen_path(&path, move || {
        let child = ChildGuard::spawn(
            Command::new("node")
                .arg("-e")
                .arg(
                    "const s = require('net').connect(process.argv[1]);
                     const got = [];
                     s.on('data', d => got.push(d));
                     s.on('end', () => console.log(Buffer.concat(got).toString()));
                     s.end('over a unix socket, from node');",
                )
                .arg(&p)
                .stdout(Stdio::piped()),
        )
        .unwrap();
        *n.borrow_mut() = Some(child);
    });
    nodelike::run();
    let mut child = node.borrow_mut().take().unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(out.trim(), "over a unix socket, from node");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `tcp_echo` closes on SIGTERM and exits 0.
#[test]
fn tcp_echo_stops_on_sigterm() {
    let mut echo = ExampleProcess::start("tcp_echo");
    // It echoes first.
    let mut s = TcpStream::connect(("127.0.0.1", echo.port)).unwrap();
    s.write_all(b"ping").unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut back = Vec::new();
    s.read_to_end(&mut back).unwrap();
    assert_eq!(back, b"ping");
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(echo.child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let exit = echo.child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
}
