//! `net::Socket`'s addresses and options, and the response getters Node
//! users reach for, over real sockets.

mod common;

use std::sync::mpsc;

use common::{Reader, TestServer};
use nodelike::http;

#[test]
fn a_connection_knows_both_of_its_ends() {
    let (tx, rx) = mpsc::channel();
    let s = TestServer::start(move || {
        let server = http::create_server(|_req, res| res.end("ok"));
        server.on_connection(move |socket| {
            socket.set_no_delay(true);
            socket.set_keep_alive(true, 30_000);
            tx.send((
                socket.local_port(),
                socket.remote_port(),
                socket.remote_address(),
            ))
            .unwrap();
        });
        server
    });
    let mut c = Reader::new(s.port());
    c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(c.response(false).unwrap().body, b"ok");
    let (local, remote, remote_addr) = rx.recv().unwrap();
    assert_eq!(
        local,
        Some(s.port()),
        "the server's end is the listening port"
    );
    let client_end = c.stream.local_addr().unwrap();
    assert_eq!(remote, Some(client_end.port()));
    assert_eq!(remote_addr, Some(client_end));
    s.stop();
}

#[test]
fn status_message_header_names_and_send_date_as_in_node() {
    let s = TestServer::start(|| {
        http::create_server(|req, res| {
            res.set_header("X-One", "1");
            res.set_header("x-two", ["a", "b"]);
            res.set_status_code(404);
            let names = res.get_header_names().join(",");
            let message = res.status_message();
            if req.url() == "/nodate" {
                res.set_send_date(false);
            }
            res.end(format!("{message}|{names}"));
        })
    });
    let mut c = Reader::new(s.port());
    c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /nodate HTTP/1.1\r\nHost: x\r\n\r\n");
    let first = c.response(false).unwrap();
    assert_eq!(first.status, 404);
    assert_eq!(first.body_str(), "Not Found|x-one,x-two");
    assert!(first.header("date").is_some());
    let second = c.response(false).unwrap();
    assert!(second.header("date").is_none(), "{:?}", second.headers);
    s.stop();
}

#[test]
fn an_idle_timeout_goes_to_the_response_and_server_timeout_listeners() {
    // Node's socketOnTimeout: `timeout` on the request (if incomplete), the
    // response and the server; a listener means the user decides.
    let (tx, rx) = mpsc::channel();
    let s = TestServer::start(move || {
        let t = tx.clone();
        let server = http::create_server(move |req, res| {
            let t1 = t.clone();
            req.on_timeout(move || t1.send("req-timeout").unwrap());
            let t2 = t.clone();
            res.on_timeout(move || t2.send("res-timeout").unwrap());
            res.write("partial"); // and never more
        });
        // Long enough for a loaded machine to send the request first.
        server.set_timeout(1_000);
        server.on_timeout(move |socket| {
            tx.send("server-timeout").unwrap();
            socket.destroy();
        });
        server
    });
    let mut c = Reader::new(s.port());
    c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let head = c.take(20).expect("the response started");
    assert!(head.starts_with(b"HTTP/1.1 200 OK"));
    assert_eq!(
        rx.recv().unwrap(),
        "res-timeout",
        "the GET was complete: no req-timeout"
    );
    assert_eq!(rx.recv().unwrap(), "server-timeout");
    // The server's listener destroyed it.
    let mut rest = Vec::new();
    while let Some(b) = c.take(1) {
        rest.extend(b);
    }
    assert!(
        rest.ends_with(b"partial\r\n"),
        "{:?}",
        String::from_utf8_lossy(&rest)
    );
    s.stop();
}

#[test]
fn a_request_reusing_a_pooled_socket_between_two_runs_is_sent_at_once() {
    // Found by the HTTPS tests: a write made outside any loop work (before
    // `run`) onto an idle pooled socket waited for an unrelated event.
    let s = TestServer::start(|| http::create_server(|req, res| res.end(req.url())));
    let port = s.port();
    let get = |path: &str| {
        let got = std::rc::Rc::new(std::cell::RefCell::new(String::new()));
        let g = got.clone();
        http::get(format!("http://127.0.0.1:{port}{path}"), move |res| {
            let g = g.clone();
            res.on_data(move |c| g.borrow_mut().push_str(&String::from_utf8_lossy(&c)));
        });
        // A lost write would wait for the pooled socket's idle timeout,
        // which closes it: the request would fail instead of answering.
        nodelike::run();
        let out = got.borrow().clone();
        out
    };
    assert_eq!(get("/first"), "/first");
    assert_eq!(http::get_agent("127.0.0.1", port).idle_sockets(), 1);
    assert_eq!(get("/second"), "/second");
    s.stop();
}
