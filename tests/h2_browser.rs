//! A real browser over HTTP/2: Debian's `chromium`, headless, loads a page
//! from an `http2::create_secure_server` (ALPN `h2`, HTTP/1.1 allowed
//! beside it) whose script loads fifty images, then POSTs back which
//! protocol the browser used for each (Resource Timing's
//! `nextHopProtocol`). The test asserts that report and the server's own
//! log: every request, the page's included, came as HTTP/2.
//!
//! The certificate is the test PKI's; chromium is told to accept it
//! (`--ignore-certificate-errors`), as it cannot be taught a CA from the
//! command line.
#![cfg(feature = "tls")]

mod common;

use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use common::browser::{chromium, Browser};
use common::pki::pki;
use common::TestServer;
use nodelike::http::Server;
use nodelike::{http2, https};

const PAGE: &str = include_str!("peers/browser/h2_page.html");

#[test]
fn chromium_loads_fifty_images_over_one_http2_connection() {
    chromium();
    let p = pki();
    let versions: Arc<Mutex<Vec<String>>> = Arc::default();
    let (result_tx, result_rx) = mpsc::channel::<String>();
    let tls = https::ServerOptions {
        cert: p.server_cert.clone().into_bytes(),
        key: p.server_key.clone().into_bytes(),
        ..Default::default()
    };
    let seen = versions.clone();
    let server = TestServer::start(move || -> Server {
        let options = http2::ServerOptions {
            allow_http1: true,
            ..Default::default()
        };
        http2::create_secure_server(tls, options, move |req, res| {
            let url = req.url();
            seen.lock()
                .unwrap()
                .push(format!("{} {url}", req.http_version()));
            if url == "/" {
                res.write_head(200, &[("Content-Type", "text/html; charset=utf-8")]);
                res.end(PAGE);
            } else if url.starts_with("/img/") {
                res.write_head(200, &[("Content-Type", "image/svg+xml")]);
                res.end(
                    "<svg xmlns='http://www.w3.org/2000/svg' width='4' height='4'>\
                     <rect width='4' height='4' fill='teal'/></svg>",
                );
            } else if url == "/result" {
                let body = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
                let b = body.clone();
                req.on_data(move |chunk| b.borrow_mut().extend_from_slice(&chunk));
                let tx = result_tx.clone();
                req.on_end(move || {
                    let _ = tx.send(String::from_utf8_lossy(&body.borrow()).into_owned());
                    res.write_head(204, &[]);
                    res.end(());
                });
            } else {
                res.write_head(404, &[]);
                res.end(());
            }
        })
        .expect("TLS options")
    });
    let url = format!("https://localhost:{}/", server.port());
    let browser = Browser::open_with(&url, &["--ignore-certificate-errors"]);
    let report = result_rx
        .recv_timeout(Duration::from_secs(120))
        .expect("the page reported back");
    drop(browser);
    assert!(report.contains("loaded=50"), "{report}");
    assert!(report.contains("protocols=h2:50"), "{report}");
    assert!(report.contains("page=h2"), "{report}");
    let log = versions.lock().unwrap().clone();
    let images = log.iter().filter(|l| l.contains(" /img/")).count();
    assert_eq!(images, 50, "{log:?}");
    assert!(
        log.iter().all(|l| l.starts_with("2.0 ")),
        "every request came over HTTP/2: {log:?}"
    );
    server.stop();
}
