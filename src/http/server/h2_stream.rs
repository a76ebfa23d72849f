//! Node's `http2` core API on the server: [`ServerHttp2Stream`] (one
//! stream: `respond`, `write`, `end`, `close(code)`, the request's body as
//! `data`/`end`) and [`Http2Session`] (one connection: `close`, `destroy`,
//! settings). A stream is the same exchange record the compatibility API's
//! `IncomingMessage`/`ServerResponse` pair stands for; this is a third
//! handle on it, with Node's core-API names.

use super::exchange::{CloseReason, ExId, Wire};
use super::{with_state, IncomingMessage, ServerResponse};
use crate::chunk::{Chunk, IntoChunk};
use crate::http::h2::{ErrorCode, Settings};
use crate::http::outgoing::HeaderList;
use crate::http::Headers;
use crate::net::{SockId, Socket};
use crate::runtime::LoopBound;
use crate::Error;

/// One HTTP/2 stream on the server (Node's `ServerHttp2Stream`), as
/// [`Server::on_stream`](crate::http::Server::on_stream) hands it over with
/// the request's headers. A cheap `Copy` handle.
///
/// ```no_run
/// use nodelike::http2;
/// let server = http2::create_server(http2::ServerOptions::default(), |_req, _res| {});
/// server.on_stream(|stream, headers| {
///     let path = headers.get(":path").unwrap_or("/").to_owned();
///     stream.respond(&[(":status", "200"), ("content-type", "text/plain")]);
///     stream.end(format!("stream {} asked for {path}\n", stream.id()));
/// });
/// server.listen(8080, "127.0.0.1", || {});
/// nodelike::run();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ServerHttp2Stream {
    ex: ExId,
    _loop: LoopBound,
}

/// Options of [`ServerHttp2Stream::respond_with`] (Node's
/// `stream.respond(headers, options)`).
///
/// ```
/// let o = nodelike::http2::RespondOptions { end_stream: true };
/// assert!(o.end_stream);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RespondOptions {
    /// No body follows: the HEADERS frame ends the stream (Node's
    /// `endStream`).
    #[doc(alias = "endStream")]
    pub end_stream: bool,
}

impl ServerHttp2Stream {
    pub(crate) fn new(ex: ExId) -> ServerHttp2Stream {
        ServerHttp2Stream {
            ex,
            _loop: LoopBound::default(),
        }
    }

    fn req(&self) -> IncomingMessage {
        IncomingMessage::new(self.ex)
    }

    fn res(&self) -> ServerResponse {
        ServerResponse::new(self.ex)
    }

    /// The stream's id (Node's `stream.id`): odd, as clients open them; `0`
    /// once the stream is gone.
    ///
    /// ```no_run
    /// # fn f(stream: nodelike::http2::ServerHttp2Stream) {
    /// assert_eq!(stream.id() % 2, 1);
    /// # }
    /// ```
    pub fn id(&self) -> u32 {
        with_state(|st| match st.exchanges.get(self.ex).map(|e| e.wire) {
            Some(Wire::Http2 { stream }) => stream,
            _ => 0,
        })
        .unwrap_or(0)
    }

    /// Sends the response head (Node's `stream.respond(headers)`): `:status`
    /// among the fields (200 when missing), the rest as headers. The body
    /// follows with [`write`](Self::write)/[`end`](Self::end).
    ///
    /// ```no_run
    /// # fn f(stream: nodelike::http2::ServerHttp2Stream) {
    /// stream.respond(&[(":status", "404"), ("content-type", "text/plain")]);
    /// stream.end("not here\n");
    /// # }
    /// ```
    pub fn respond<H: HeaderList + ?Sized>(&self, headers: &H) {
        self.respond_with(headers, RespondOptions::default());
    }

    /// [`respond`](Self::respond) with options: `end_stream` sends the head
    /// alone and ends the stream.
    ///
    /// ```no_run
    /// # fn f(stream: nodelike::http2::ServerHttp2Stream) {
    /// use nodelike::http2::RespondOptions;
    /// stream.respond_with(&[(":status", "204")], RespondOptions { end_stream: true });
    /// # }
    /// ```
    pub fn respond_with<H: HeaderList + ?Sized>(&self, headers: &H, options: RespondOptions) {
        headers.with_pairs(|pairs| {
            let status = pairs
                .iter()
                .find(|(n, _)| *n == ":status")
                .and_then(|(_, v)| v.trim().parse().ok())
                .unwrap_or(200);
            let rest: Vec<(&str, &str)> = pairs
                .iter()
                .copied()
                .filter(|(n, _)| !n.starts_with(':'))
                .collect();
            let res = self.res();
            res.write_head(status, rest.as_slice());
            if options.end_stream {
                res.end(());
            } else {
                res.flush_headers();
            }
        });
    }

    /// Writes body bytes; `false` once 16 KiB wait for the client's window
    /// (then wait for [`on_drain`](Self::on_drain)).
    ///
    /// ```no_run
    /// # fn f(stream: nodelike::http2::ServerHttp2Stream) {
    /// if !stream.write("part") { stream.on_drain(|| println!("go on")); }
    /// # }
    /// ```
    pub fn write(&self, chunk: impl IntoChunk) -> bool {
        self.res().write(chunk)
    }

    /// Ends the stream, with a last chunk of data or `()` for none.
    ///
    /// ```no_run
    /// # fn f(stream: nodelike::http2::ServerHttp2Stream) {
    /// stream.end("bye\n");
    /// # }
    /// ```
    pub fn end(&self, chunk: impl IntoChunk) {
        self.res().end(chunk)
    }

    /// Resets the stream with `code` (Node's `stream.close(code)`): an
    /// RST_STREAM; the connection's other streams go on.
    ///
    /// ```no_run
    /// # fn f(stream: nodelike::http2::ServerHttp2Stream) {
    /// stream.close(nodelike::http::h2::ErrorCode::RefusedStream);
    /// # }
    /// ```
    pub fn close(&self, code: ErrorCode) {
        super::h2::reset_stream_with(self.ex, code);
    }

    /// Whether the head was sent (Node's `stream.headersSent`).
    ///
    /// ```no_run
    /// # fn f(stream: nodelike::http2::ServerHttp2Stream) {
    /// if !stream.headers_sent() { stream.respond(&[(":status", "200")]); }
    /// # }
    /// ```
    #[doc(alias = "headersSent")]
    pub fn headers_sent(&self) -> bool {
        self.res().headers_sent()
    }

    /// Whether the stream is over (Node's `stream.destroyed`).
    ///
    /// ```no_run
    /// # fn f(stream: nodelike::http2::ServerHttp2Stream) {
    /// stream.on_close(move |_| assert!(stream.destroyed()));
    /// # }
    /// ```
    pub fn destroyed(&self) -> bool {
        self.res().destroyed()
    }

    /// Adds a `data` listener: a chunk of the request's body.
    ///
    /// ```no_run
    /// # fn f(stream: nodelike::http2::ServerHttp2Stream) {
    /// stream.on_data(|chunk| println!("{} bytes", chunk.len()));
    /// # }
    /// ```
    #[doc(alias = "data")]
    pub fn on_data(&self, f: impl FnMut(Chunk<'_>) + 'static) {
        self.req().on_data(f)
    }

    /// Adds an `end` listener: the request's body is complete.
    ///
    /// ```no_run
    /// # fn f(stream: nodelike::http2::ServerHttp2Stream) {
    /// stream.on_end(move || stream.end("got it\n"));
    /// # }
    /// ```
    #[doc(alias = "end")]
    pub fn on_end(&self, f: impl FnMut() + 'static) {
        self.req().on_end(f)
    }

    /// Adds a `close` listener: the stream is over, finished
    /// ([`CloseReason::Finished`]) or reset and cut short.
    ///
    /// ```no_run
    /// # fn f(stream: nodelike::http2::ServerHttp2Stream) {
    /// stream.on_close(|reason| println!("stream closed: {reason}"));
    /// # }
    /// ```
    #[doc(alias = "close")]
    pub fn on_close(&self, f: impl FnMut(CloseReason) + 'static) {
        self.req().on_close(f)
    }

    /// Adds a `drain` listener (see [`write`](Self::write)).
    ///
    /// ```no_run
    /// # fn f(stream: nodelike::http2::ServerHttp2Stream) {
    /// stream.on_drain(|| println!("the window opened"));
    /// # }
    /// ```
    #[doc(alias = "drain")]
    pub fn on_drain(&self, f: impl FnMut() + 'static) {
        self.res().on_drain(f)
    }

    /// Adds an `error` listener: misuse of the stream (a write after the
    /// end, a second head), as Node throws it.
    ///
    /// ```no_run
    /// # fn f(stream: nodelike::http2::ServerHttp2Stream) {
    /// stream.on_error(|e| eprintln!("{e}"));
    /// # }
    /// ```
    #[doc(alias = "error")]
    pub fn on_error(&self, f: impl FnMut(&Error) + 'static) {
        self.res().on_error(f)
    }

    /// Stops delivering the request's body: the stream's window is not
    /// given back, which holds the client back (the connection's other
    /// streams go on).
    ///
    /// ```no_run
    /// # fn f(stream: nodelike::http2::ServerHttp2Stream) {
    /// stream.pause();
    /// nodelike::set_timeout(move || stream.resume(), 100);
    /// # }
    /// ```
    pub fn pause(&self) {
        self.req().pause()
    }

    /// Delivers what was held while paused, and goes on.
    ///
    /// ```no_run
    /// # fn f(stream: nodelike::http2::ServerHttp2Stream) {
    /// stream.resume();
    /// # }
    /// ```
    pub fn resume(&self) {
        self.req().resume()
    }

    /// Sets the stream's inactivity timeout, in milliseconds (Node's
    /// `stream.setTimeout`; `0` turns it off): once no frame of this stream
    /// was sent or received for `ms`, [`on_timeout`](Self::on_timeout)'s
    /// listeners run (once per quiet spell; the next frame either way
    /// starts a new one). The connection's other streams are not
    /// concerned. Nothing else happens, as in Node: a listener decides.
    ///
    /// ```no_run
    /// # fn f(stream: nodelike::http2::ServerHttp2Stream) {
    /// use nodelike::http::h2::ErrorCode;
    /// stream.set_timeout(5_000);
    /// stream.on_timeout(move || stream.close(ErrorCode::Cancel));
    /// # }
    /// ```
    #[doc(alias = "setTimeout")]
    pub fn set_timeout(&self, ms: u64) {
        super::h2::set_stream_timeout(self.ex, ms);
    }

    /// Adds a `timeout` listener (see [`set_timeout`](Self::set_timeout)).
    /// It is the same event the request's and the response's `timeout`
    /// listeners hear (Node's compatibility API forwards the stream's to
    /// both): it runs after the request's, among the response's in the
    /// order they were added.
    ///
    /// ```no_run
    /// # fn f(stream: nodelike::http2::ServerHttp2Stream) {
    /// stream.on_timeout(|| eprintln!("stream quiet too long"));
    /// # }
    /// ```
    #[doc(alias = "timeout")]
    pub fn on_timeout(&self, f: impl FnMut() + 'static) {
        // The response's list: one event, heard in the order Node's
        // listeners would hear it (the compatibility layer's forwarding
        // listeners were added first).
        self.res().on_timeout(f)
    }

    /// The connection's session (Node's `stream.session`).
    ///
    /// ```no_run
    /// # fn f(stream: nodelike::http2::ServerHttp2Stream) {
    /// stream.session().close(); // no new streams; this one finishes
    /// # }
    /// ```
    pub fn session(&self) -> Http2Session {
        let id = with_state(|st| st.exchanges.get(self.ex).and_then(|e| e.socket)).flatten();
        Http2Session::new(id.unwrap_or(SockId::NONE))
    }
}

/// One HTTP/2 connection on the server (Node's `ServerHttp2Session`), as
/// [`Server::on_session`](crate::http::Server::on_session) hands it over.
/// A cheap `Copy` handle.
///
/// ```no_run
/// use nodelike::http2;
/// let server = http2::create_server(http2::ServerOptions::default(), |_req, res| res.end("hi"));
/// server.on_session(|session| {
///     println!("HTTP/2 from {:?}", session.socket().remote_address());
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Http2Session {
    id: SockId,
    _loop: LoopBound,
}

impl Http2Session {
    pub(crate) fn new(id: SockId) -> Http2Session {
        Http2Session {
            id,
            _loop: LoopBound::default(),
        }
    }

    /// Closes gracefully (Node's `session.close()`): GOAWAY, the streams in
    /// flight finish, then the connection closes.
    ///
    /// ```no_run
    /// # fn f(session: nodelike::http2::Http2Session) {
    /// session.close();
    /// # }
    /// ```
    pub fn close(&self) {
        with_state(|st| super::h2::go_away(st, self.id));
    }

    /// Destroys the connection at once (Node's `session.destroy()`): every
    /// stream is cut short.
    ///
    /// ```no_run
    /// # fn f(session: nodelike::http2::Http2Session) {
    /// session.destroy();
    /// # }
    /// ```
    pub fn destroy(&self) {
        let socket = self.socket();
        if socket.is_open() {
            socket.destroy();
        }
    }

    /// The connection's socket (Node's `session.socket`).
    ///
    /// ```no_run
    /// # fn f(session: nodelike::http2::Http2Session) {
    /// println!("{:?}", session.socket().remote_address());
    /// # }
    /// ```
    pub fn socket(&self) -> Socket {
        Socket::from_id(self.id)
    }

    /// Our settings in effect on this connection (Node's
    /// `session.localSettings`): the server's [`Config`](crate::http::h2::Config)
    /// once the client acknowledged them, then each change it acknowledged;
    /// the protocol's defaults before that, or once the session is gone.
    ///
    /// ```no_run
    /// # fn f(session: nodelike::http2::Http2Session) {
    /// println!("streams allowed: {:?}", session.local_settings().max_concurrent_streams);
    /// # }
    /// ```
    #[doc(alias = "localSettings")]
    pub fn local_settings(&self) -> Settings {
        super::h2::local_settings(self.id)
            .map(|(settings, _)| settings)
            .unwrap_or_default()
    }

    /// Whether a SETTINGS of ours awaits the client's acknowledgment
    /// (Node's `session.pendingSettingsAck`).
    ///
    /// ```no_run
    /// # fn f(session: nodelike::http2::Http2Session) {
    /// if session.pending_settings_ack() { println!("the client has not acknowledged yet"); }
    /// # }
    /// ```
    #[doc(alias = "pendingSettingsAck")]
    pub fn pending_settings_ack(&self) -> bool {
        super::h2::local_settings(self.id).is_some_and(|(_, pending)| pending)
    }

    /// Changes our settings on this connection (Node's
    /// `session.settings(settings, callback)`): a SETTINGS frame with what
    /// differs from the last one sent. The changes apply once the client
    /// acknowledges them; then `callback` runs with the settings now in
    /// effect and the time the acknowledgment took. A connection that
    /// closes first calls it with `ERR_HTTP2_SETTINGS_CANCEL`; one that
    /// leaves it unacknowledged for `Config::settings_timeout_ticks`
    /// seconds is closed (GOAWAY SETTINGS_TIMEOUT). Start from
    /// [`local_settings`](Self::local_settings) and change what you need.
    ///
    /// Refused (the callback is then not called): a value the client would
    /// refuse, or push turned on (`ERR_HTTP2_INVALID_SETTING_VALUE`), 10
    /// changes already awaiting acknowledgment
    /// (`ERR_HTTP2_MAX_PENDING_SETTINGS_ACK`), a closed session
    /// (`ERR_HTTP2_INVALID_SESSION`).
    ///
    /// ```no_run
    /// # fn f(session: nodelike::http2::Http2Session) {
    /// use nodelike::http::h2::Settings;
    /// let fewer = Settings { max_concurrent_streams: Some(10), ..session.local_settings() };
    /// session
    ///     .update_settings(fewer, |acked| match acked {
    ///         Ok((settings, rtt)) => println!("{:?} after {rtt:?}", settings.max_concurrent_streams),
    ///         Err(e) => eprintln!("{e}"),
    ///     })
    ///     .unwrap();
    /// # }
    /// ```
    #[doc(alias = "settings")]
    pub fn update_settings(
        &self,
        settings: Settings,
        callback: impl FnOnce(Result<(Settings, std::time::Duration), Error>) + 'static,
    ) -> Result<(), Error> {
        super::h2::update_settings(self.id, settings, Box::new(callback))
    }

    /// Sends GOAWAY with `code`, the last stream id we will answer, and
    /// `opaque_data` (Node's `session.goaway(code, lastStreamID,
    /// opaqueData)`). As in Node it closes nothing by itself (use
    /// [`close`](Self::close) for the graceful end, [`destroy`](Self::destroy)
    /// for the abrupt one); the id is capped at the highest stream the
    /// client opened and never grows. `false`: not sent (the session is
    /// gone, still in its handshake, or the id names none of the client's
    /// streams).
    ///
    /// ```no_run
    /// # fn f(session: nodelike::http2::Http2Session) {
    /// use nodelike::http::h2::ErrorCode;
    /// session.goaway(ErrorCode::EnhanceYourCalm, 0, b"slow down");
    /// # }
    /// ```
    pub fn goaway(&self, code: ErrorCode, last_stream_id: u32, opaque_data: &[u8]) -> bool {
        super::h2::send_goaway(self.id, code, last_stream_id, opaque_data)
    }

    /// The settings the client sent (Node's `session.remoteSettings`);
    /// the protocol's defaults until its SETTINGS arrived, or once the
    /// session is gone.
    ///
    /// ```no_run
    /// # fn f(session: nodelike::http2::Http2Session) {
    /// println!("client window: {}", session.remote_settings().initial_window_size);
    /// # }
    /// ```
    #[doc(alias = "remoteSettings")]
    pub fn remote_settings(&self) -> Settings {
        with_state(|st| {
            st.h2conns
                .get(self.id)
                .map(super::h2::H2Conn::peer_settings)
        })
        .flatten()
        .unwrap_or_default()
    }
}

/// The headers a stream's handlers get: the request's, pseudo-headers
/// included.
pub(super) fn stream_headers(ex: ExId) -> Headers {
    IncomingMessage::new(ex).headers()
}
