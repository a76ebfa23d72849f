//! The client's body framing (the encoder it shares with the server) and
//! its agent's `upgrade` emit, over real sockets.

mod common;

use std::cell::RefCell;
use std::rc::Rc;

use common::TestServer;
use nodelike::http::{self, RequestOptions};

fn echo_server() -> TestServer {
    TestServer::start(|| {
        http::create_server(|req, res| {
            let body = Rc::new(RefCell::new(Vec::new()));
            let b = body.clone();
            req.on_data(move |c| b.borrow_mut().extend_from_slice(&c));
            req.on_end(move || res.end(body.borrow().clone()));
        })
    })
}

fn post(port: u16, length: usize, chunks: &[&str]) -> (Vec<String>, String) {
    let errors = Rc::new(RefCell::new(Vec::new()));
    let answer = Rc::new(RefCell::new(String::new()));
    let a = answer.clone();
    let req = http::request(
        RequestOptions {
            host: "127.0.0.1".into(),
            port,
            method: "POST".into(),
            headers: vec![("Content-Length".into(), length.to_string())],
            ..Default::default()
        },
        move |res| {
            let a = a.clone();
            res.on_data(move |c| a.borrow_mut().push_str(&String::from_utf8_lossy(&c)));
        },
    );
    let e = errors.clone();
    req.on_error(move |err| e.borrow_mut().push(err.code().to_string()));
    for c in chunks {
        req.write(*c);
    }
    req.end(());
    nodelike::run();
    let out = (errors.borrow().clone(), answer.borrow().clone());
    out
}

#[test]
fn a_request_body_longer_than_its_content_length_is_an_error_and_is_not_sent() {
    let s = echo_server();
    let (errors, answer) = post(s.port(), 5, &["abc", "defgh"]);
    assert_eq!(errors, ["ERR_HTTP_CONTENT_LENGTH_MISMATCH"]);
    assert_eq!(answer, "abcde", "the excess never reached the server");
    s.stop();
}

#[test]
fn a_request_body_shorter_than_its_content_length_is_an_error_and_aborts() {
    let s = echo_server();
    let (errors, answer) = post(s.port(), 10, &["abc"]);
    assert_eq!(errors, ["ERR_HTTP_CONTENT_LENGTH_MISMATCH"]);
    assert_eq!(answer, "", "no answer to a request that cannot complete");
    s.stop();
}

#[test]
fn a_panicking_agent_upgrade_listener_stays_registered() {
    let s = TestServer::start(|| {
        let server = http::create_server(|_req, res| res.end(()));
        server.on_upgrade(|_req, socket, _head| {
            socket.end(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n",
            );
        });
        server
    });
    let port = s.port();
    let agent = http::get_agent("127.0.0.1", port);
    let calls = Rc::new(RefCell::new(0));
    let c = calls.clone();
    agent.on_upgrade(move |_res, socket, _head| {
        *c.borrow_mut() += 1;
        socket.destroy();
        panic!("listener failed");
    });
    for round in 1..=2 {
        let req = http::request(
            RequestOptions {
                host: "127.0.0.1".into(),
                port,
                headers: vec![
                    ("Connection".into(), "Upgrade".into()),
                    ("Upgrade".into(), "x".into()),
                ],
                ..Default::default()
            },
            |_res| {},
        );
        req.end(());
        let outcome = std::panic::catch_unwind(nodelike::run);
        assert!(outcome.is_err(), "round {round}: the panic leaves run");
        assert_eq!(*calls.borrow(), round, "the listener ran again");
        nodelike::run(); // what the panic left is cleaned up
    }
    s.stop();
}
