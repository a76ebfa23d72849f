//! # nodelike: Node's `http` module for Rust, callback for callback
//!
//! A single-threaded event loop (mio underneath) running Node-style
//! servers: you register closures for the events Node has (`request`,
//! `data`, `end`, `close`, `drain`, ...) under Node's names in snake_case,
//! and [`run`] drives them until nothing is left to wait for.
//!
//! ```no_run
//! use nodelike::http;
//!
//! let server = http::create_server(|_req, res| {
//!     res.write_head(200, &[("Content-Type", "text/plain")]);
//!     res.end("Hello, World!\n");
//! });
//! server.listen(8000, "127.0.0.1", || println!("listening on http://127.0.0.1:8000"));
//! nodelike::run(); // returns when nothing is left to wait for
//! ```
//!
//! Streaming with back-pressure, as Node users write it:
//!
//! ```no_run
//! use nodelike::http;
//! http::create_server(|req, res| {
//!     req.on_data(move |chunk| if !res.write(chunk) { req.pause() });
//!     res.on_drain(move || req.resume());
//!     req.on_end(move || res.end(()));
//! })
//! .listen(8000, "127.0.0.1", || {});
//! nodelike::run();
//! ```
//!
//! ## Names
//!
//! | Node | nodelike |
//! |---|---|
//! | `http.createServer(cb)` | [`http::create_server`] |
//! | `server.listen(port, host, cb)` / `listen(path, cb)` | [`http::Server::listen`] / [`listen_path`](http::Server::listen_path) |
//! | `server.on('checkContinue' \| 'checkExpectation' \| 'upgrade' \| 'clientError', f)` | `on_check_continue`, `on_check_expectation`, `on_upgrade`, `on_client_error` |
//! | `server.on('connect', f)`, `req.on('connect', f)` | [`on_connect`](http::Server::on_connect), [`on_connect`](http::ClientRequest::on_connect) |
//! | `net.connect(port, host, cb)`, `net.createConnection(options, cb)` | [`net::connect`], [`net::create_connection`] |
//! | `net.createServer(options, cb)` | [`net::create_server`], [`net::create_server_with`] |
//! | `req.method`, `req.url`, `req.headers`, `req.httpVersion` | `req.method()`, `req.url()`, `req.headers()`, `req.http_version()` |
//! | `req.setEncoding('utf8')` | `req.set_encoding(Encoding::Utf8)` |
//! | `res.writeHead(code, headers)` | `res.write_head(code, &[(name, value)])` |
//! | `res.statusCode = 404` | `res.set_status_code(404)` |
//! | `res.setHeader / getHeader / removeHeader` | `set_header` / `get_header` / `remove_header` |
//! | `res.write(chunk)`, `res.end()`, `res.end(data)` | `res.write(chunk)`, `res.end(())`, `res.end(data)` |
//! | `setTimeout(f, ms)`, `setInterval`, `clearTimeout`, `process.nextTick` | [`set_timeout`], [`set_interval`], [`clear_timeout`], [`next_tick`] |
//! | `url.parse(s, true)`, `querystring.parse(s)` | [`url::parse`], [`querystring::parse`] |
//! | `http2.createSecureServer(options, cb)`, `http2.createServer(cb)` | `http2::create_secure_server`, [`http2::create_server`] (the same `req`/`res` handles) |
//!
//! ## The rules of the loop
//!
//! Handles (`Server`, `IncomingMessage`, `ServerResponse`, `net::Socket`)
//! are small `Copy` values: copy them into as many closures as you like.
//! Each thread has its own loop, created on first use. Callbacks may call
//! anything, including methods on the object that is emitting; a listener
//! added during an emit runs from the next one on. `close` events fire on
//! the loop turn after the close, never inside the call that caused it.
//! A panic in a callback unwinds out of [`run`], as an uncaught exception
//! ends a Node process.
//!
//! ## Errors
//!
//! Every failure is an [`Error`]: an [`ErrorKind`] to match on, Node's
//! [`code`](Error::code) (`EADDRINUSE`, `ECONNREFUSED`,
//! `ERR_HTTP_HEADERS_SENT`, ...), a message worded as Node words it, and,
//! when the operating system refused, its [`std::io::Error`] as the
//! [`source`](std::error::Error::source), so its `kind()` and errno are a
//! downcast away.
//!
//! An `error` event nobody listens to is never silent. A server that cannot
//! listen and has no [`on_error`](http::Server::on_error) listener panics
//! out of [`run`] with Node's text for an uncaught error,
//! `Error: listen EADDRINUSE: address already in use 127.0.0.1:8000`, so
//! the program ends non-zero with the reason on stderr, as Node's does. With
//! a listener the error is the program's to handle:
//!
//! ```
//! use std::error::Error as _;
//! # let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
//! # let port = holder.local_addr().unwrap().port();
//! let server = nodelike::http::create_server(|_req, res| res.end(()));
//! server.on_error(|e| {
//!     let io = e.source().and_then(|s| s.downcast_ref::<std::io::Error>()).unwrap();
//!     assert_eq!(io.kind(), std::io::ErrorKind::AddrInUse);
//!     eprintln!("error: {e}"); // listen EADDRINUSE: address already in use 127.0.0.1:...
//! });
//! server.listen(port, "127.0.0.1", || println!("listening"));
//! nodelike::run(); // returns: nothing listens, and the error was handled
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations, rust_2018_idioms)]

mod chunk;
mod cluster;
pub mod encoding;
mod error;
pub mod fs;
pub mod guide;
pub mod http;
pub use http::http2;
#[cfg(feature = "tls")]
pub use http::https;
pub mod net;
pub mod querystring;
mod runtime;
pub mod stream;
pub mod zlib;

/// Node's `process` events: signals on the loop.
///
/// | Node | nodelike |
/// |---|---|
/// | `process.on('SIGTERM', f)` | [`process::on_signal`]`(Signal::Term, f)` |
pub mod process {
    pub use crate::runtime::signals::{on_signal, Signal};
}

/// TLS details of a connection: the peer's certificate, why one did not
/// check out, and Node's `tls.checkServerIdentity` (Node's `tls` module's
/// objects).
///
/// | Node | nodelike |
/// |---|---|
/// | `tls.checkServerIdentity(host, cert)` | [`tls::check_server_identity`]`(host, &cert)` |
/// | `socket.getPeerCertificate(true)` | [`net::Socket::peer_certificate`] (with `issuer_certificate`) |
/// | `socket.authorizationError` | [`tls::CertIssue`] |
#[cfg(feature = "tls")]
pub mod tls {
    pub use crate::net::tls::{
        check_server_identity, CertIssue, DistinguishedName, PeerCertificate,
    };
}
pub mod url;
pub mod ws;

pub use chunk::{Chunk, IntoChunk};
pub use cluster::{cluster, ClusterExit, Worker};
pub use encoding::Encoding;
pub use error::{Error, ErrorKind};
pub use runtime::{
    clear_interval, clear_timeout, next_tick, remote, run, set_interval, set_timeout, Remote, Timer,
};
