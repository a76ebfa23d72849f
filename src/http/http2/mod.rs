//! Node's `http2` module. On the server, its compatibility API: one
//! `(req, res)` handler serves HTTP/2, and HTTP/1.1 beside it when asked,
//! with the same [`IncomingMessage`] and [`ServerResponse`] handles as
//! [`http`](crate::http). On the client, its core API: [`connect`] opens a
//! [`ClientHttp2Session`], whose [`request`](ClientHttp2Session::request)
//! opens a [`ClientHttp2Stream`].
//!
//! | Node | nodelike |
//! |---|---|
//! | `http2.connect(authority, options)` | [`connect`]`(authority, ClientSessionOptions)` |
//! | `session.request(headers)` | [`ClientHttp2Session::request`] |
//! | `stream.on('response', (headers) => ..)` | [`ClientHttp2Stream::on_response`] |
//! | `stream.on('data' / 'end' / 'trailers' / 'error' / 'close' / 'drain')` | `on_data`, `on_end`, `on_trailers`, `on_error`, `on_close`, `on_drain` |
//! | `stream.write(chunk)` → bool, `stream.end(chunk)`, `stream.sendTrailers(h)` | [`ClientHttp2Stream::write`], [`end`](ClientHttp2Stream::end), [`send_trailers`](ClientHttp2Stream::send_trailers) |
//! | `stream.close(code)`, `stream.rstCode`, `pause()`/`resume()` | [`ClientHttp2Stream::close`], [`rst_code`](ClientHttp2Stream::rst_code), [`pause`](ClientHttp2Stream::pause)/[`resume`](ClientHttp2Stream::resume) |
//! | `session.on('connect' / 'error' / 'close' / 'goaway' / 'remoteSettings')` | `on_connect`, `on_error`, `on_close`, `on_goaway`, `on_remote_settings` |
//! | `session.close()`, `session.destroy()`, `session.ping(cb)` | [`ClientHttp2Session::close`], [`destroy`](ClientHttp2Session::destroy), [`ping`](ClientHttp2Session::ping) |
//! | `session.localSettings`, `session.remoteSettings`, `session.pendingSettingsAck` | [`ClientHttp2Session::local_settings`], [`remote_settings`](ClientHttp2Session::remote_settings), [`pending_settings_ack`](ClientHttp2Session::pending_settings_ack) |
//! | `session.settings(settings, cb)`, `session.on('localSettings')` | [`ClientHttp2Session::update_settings`], [`on_local_settings`](ClientHttp2Session::on_local_settings) |
//! | `session.goaway(code, lastStreamID, opaqueData)` | [`ClientHttp2Session::goaway`] |
//! | `session.setTimeout(ms)` / `stream.setTimeout(ms)`, `on('timeout')` | [`ClientHttp2Session::set_timeout`] / [`ClientHttp2Stream::set_timeout`], `on_timeout` |
//! | `stream.on('headers')` (1xx: 100, 103) | [`ClientHttp2Stream::on_headers`] |
//! | `http2.createServer(handler)` (h2c) | [`create_server`]`(ServerOptions::default(), handler)` |
//! | `http2.createSecureServer({ cert, key, allowHTTP1 }, handler)` | `create_secure_server(tls, ServerOptions { allow_http1: true, .. }, handler)` (the `tls` feature) |
//! | `req.httpVersion` | [`IncomingMessage::http_version`] (`"2.0"`) |
//! | `req.headers[':authority']` | `req.headers().get(":authority")` (and `host`) |
//! | `server.on('stream', (stream, headers) => ..)` | [`Server::on_stream`]`(\|stream, headers\| ..)` |
//! | `stream.respond({ ':status': 200, .. }, { endStream })` | [`ServerHttp2Stream::respond`], [`respond_with`](ServerHttp2Stream::respond_with) |
//! | `stream.write`, `stream.end`, `stream.close(code)` | [`ServerHttp2Stream::write`], [`end`](ServerHttp2Stream::end), [`close`](ServerHttp2Stream::close) |
//! | `server.on('session', f)`, `session.close()` | [`Server::on_session`], [`Http2Session::close`] |
//!
//! The server is an ordinary [`http::Server`](crate::http::Server):
//! `listen`, `close`, `address`, timeouts and one loop per core work as
//! they do for HTTP/1.1. Which protocol a connection speaks is decided when
//! it opens: under TLS by ALPN (`h2`, or `http/1.1` with `allow_http1`), on
//! a cleartext port by the client's first bytes (HTTP/2's connection
//! preface, "prior knowledge"; RFC 9113 §3.3). `server.close()` sends
//! GOAWAY on HTTP/2 connections and lets the streams in flight finish.
//!
//! The protocol itself (frames, HPACK, flow control, the limits against
//! known attacks) is the sans-IO core in [`h2`](crate::http::h2); the glue
//! between it and the handles is `http/server/h2.rs` (server) and
//! `http/http2/client.rs` (client).

mod client;

pub use crate::http::h2::{ErrorCode, Settings};
pub use client::{connect, ClientHttp2Session, ClientHttp2Stream, ClientSessionOptions};

use crate::http::h2::Config;
use crate::http::{IncomingMessage, Server, ServerResponse};

pub use crate::http::{Http2Session, RespondOptions, ServerHttp2Stream};
#[cfg(feature = "tls")]
use crate::Error;

/// How an HTTP/2 server serves: whether HTTP/1.1 is served beside it, and
/// the protocol's settings and limits.
///
/// ```
/// let options = nodelike::http2::ServerOptions { allow_http1: true, ..Default::default() };
/// assert_eq!(options.settings.max_concurrent_streams, 100);
/// ```
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Serve HTTP/1.1 too (Node's `allowHTTP1`, off by default as in
    /// Node): under TLS a client that does not choose `h2` by ALPN, on a
    /// cleartext port a connection that does not open with the HTTP/2
    /// preface. Without it such a connection is closed.
    #[doc(alias = "allowHTTP1")]
    pub allow_http1: bool,
    /// The settings we advertise and the limits we hold the peer to (Node's
    /// `settings` and `maxSessionMemory`-style limits).
    pub settings: Config,
    /// How long a response may wait on a flow-control window the client
    /// keeps shut, with none of its body moving, before its stream is
    /// reset (nginx's `send_timeout`; default 60 s; `None`: forever). A
    /// client cannot hold a response's memory by never opening its window.
    pub send_timeout: Option<std::time::Duration>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            allow_http1: false,
            settings: Config::default(),
            send_timeout: Some(DEFAULT_SEND_TIMEOUT),
        }
    }
}

/// The default [`ServerOptions::send_timeout`]: 60 seconds, nginx's.
pub const DEFAULT_SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// What an HTTP/2 server does with a connection: kept on the server's
/// record (`http/server/mod.rs`).
#[derive(Debug, Clone)]
pub(crate) struct Http2Mode {
    pub(crate) allow_http1: bool,
    pub(crate) config: Config,
    pub(crate) send_timeout: Option<std::time::Duration>,
}

/// An HTTP/2 server without TLS ("h2c" with prior knowledge; Node's
/// `http2.createServer`). Browsers speak HTTP/2 only over TLS; h2c is for
/// servers behind a proxy, gRPC, and tools (`curl --http2-prior-knowledge`,
/// `h2load`).
///
/// ```no_run
/// use nodelike::http2;
/// let server = http2::create_server(http2::ServerOptions::default(), |req, res| {
///     res.set_header("Content-Type", "text/plain");
///     res.end(format!("HTTP/{} {}\n", req.http_version(), req.url()));
/// });
/// server.listen(8080, "127.0.0.1", || {});
/// nodelike::run();
/// ```
#[doc(alias = "createServer")]
pub fn create_server(
    options: ServerOptions,
    request_listener: impl FnMut(IncomingMessage, ServerResponse) + 'static,
) -> Server {
    let server = crate::http::create_server(request_listener);
    server.set_http2(Http2Mode {
        allow_http1: options.allow_http1,
        config: options.settings,
        send_timeout: options.send_timeout,
    });
    server
}

/// An HTTP/2 server over TLS (Node's `http2.createSecureServer`): ALPN
/// offers `h2`, and `http/1.1` after it with `allow_http1`.
///
/// ```no_run
/// use nodelike::{http2, https};
/// let tls = https::ServerOptions {
///     cert: std::fs::read("cert.pem").unwrap(),
///     key: std::fs::read("key.pem").unwrap(),
///     ..Default::default()
/// };
/// let options = http2::ServerOptions { allow_http1: true, ..Default::default() };
/// let server = http2::create_secure_server(tls, options, |req, res| {
///     res.end(format!("HTTP/{}\n", req.http_version()));
/// })
/// .unwrap();
/// server.listen(8443, "127.0.0.1", || {});
/// nodelike::run();
/// ```
///
/// # Errors
///
/// The TLS options' errors, as [`https::create_server`](crate::https::create_server)
/// reports them.
#[cfg(feature = "tls")]
#[doc(alias = "createSecureServer")]
pub fn create_secure_server(
    mut tls: crate::https::ServerOptions,
    options: ServerOptions,
    request_listener: impl FnMut(IncomingMessage, ServerResponse) + 'static,
) -> Result<Server, Error> {
    tls.alpn_protocols = if options.allow_http1 {
        vec!["h2".into(), "http/1.1".into()]
    } else {
        vec!["h2".into()]
    };
    let server = crate::https::create_server(tls, request_listener)?;
    server.set_http2(Http2Mode {
        allow_http1: options.allow_http1,
        config: options.settings,
        send_timeout: options.send_timeout,
    });
    Ok(server)
}
