//! Node's `http.IncomingMessage` on the server side (the v0.4
//! `http.ServerRequest`).

use super::exchange::{CloseReason, ExId, Exchange, Wire};
use super::with_state;
use crate::chunk::Chunk;
use crate::encoding::Encoding;
use crate::http::h1::Headers;
use crate::net::{SockId, Socket};
use crate::runtime::LoopBound;

/// A request received by the server: its head, and its body as `data`
/// events. A cheap `Copy` handle, valid until the request and its response
/// are both over (afterwards getters return empty values and methods do
/// nothing).
///
/// ```no_run
/// use nodelike::http;
/// http::create_server(|req, res| {
///     println!("{} {} HTTP/{}", req.method(), req.url(), req.http_version());
///     req.on_data(|chunk| println!("{} body bytes", chunk.len()));
///     req.on_end(move || res.end("thanks\n"));
/// })
/// .listen(8000, "127.0.0.1", || {});
/// nodelike::run();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IncomingMessage {
    pub(crate) ex: ExId,
    _loop: LoopBound,
}

impl IncomingMessage {
    pub(crate) fn new(ex: ExId) -> IncomingMessage {
        IncomingMessage {
            ex,
            _loop: LoopBound::default(),
        }
    }

    /// Reads the exchange; a stale handle (its exchange over, after the
    /// response's `finish` and `close`) reads the empty value, and says so
    /// at debug level.
    fn read<R: Default>(&self, f: impl FnOnce(&Exchange) -> R) -> R {
        with_state(|st| st.exchanges.get(self.ex).map(f))
            .flatten()
            .unwrap_or_else(|| {
                log::debug!("IncomingMessage: stale handle (the exchange is over): empty value");
                R::default()
            })
    }

    /// The request method, e.g. `"GET"` (Node's `request.method`).
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::IncomingMessage) {
    /// if req.method() == "POST" { /* ... */ }
    /// # }
    /// ```
    pub fn method(&self) -> String {
        self.read(|e| String::from_utf8_lossy(e.method()).into_owned())
    }

    /// The request-target exactly as sent, undecoded (Node's `request.url`),
    /// e.g. `"/status?name=ryan"`. Parse it with [`crate::url::parse`].
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::IncomingMessage) {
    /// let url = nodelike::url::parse(&req.url(), true);
    /// println!("{:?}", url.pathname);
    /// # }
    /// ```
    pub fn url(&self) -> String {
        self.read(|e| {
            String::from_utf8_lossy(e.head.get(e.parsed.target.clone()).unwrap_or_default())
                .into_owned()
        })
    }

    /// The request headers (Node's `request.headers`): names lowercased,
    /// values untouched, duplicates joined as Node joins them (`set-cookie`
    /// a list, `cookie` joined with `; `, single-value fields such as `host`
    /// keep the first, others joined with `, `).
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::IncomingMessage) {
    /// let host = req.headers().get("host").unwrap_or("").to_owned();
    /// # }
    /// ```
    pub fn headers(&self) -> Headers {
        self.read(|e| Headers::from_fields(&e.head, &e.parsed.headers))
    }

    /// The header lines as received, in order, names in their original case
    /// (Node's `request.rawHeaders`, as pairs).
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::IncomingMessage) {
    /// for (name, value) in req.raw_headers() { println!("{name}: {value}") }
    /// # }
    /// ```
    #[doc(alias = "rawHeaders")]
    pub fn raw_headers(&self) -> Vec<(String, String)> {
        self.read(|e| {
            e.parsed
                .headers
                .iter()
                .map(|(n, v)| {
                    let text = |r: &std::ops::Range<usize>| {
                        crate::http::h1::latin1(e.head.get(r.clone()).unwrap_or_default())
                            .into_owned()
                    };
                    (text(n), text(v))
                })
                .collect()
        })
    }

    /// The trailer fields of a chunked body (Node's `request.trailers`);
    /// empty until `end` has fired.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::IncomingMessage) {
    /// req.on_end(move || println!("{:?}", req.trailers().get("x-checksum")));
    /// # }
    /// ```
    pub fn trailers(&self) -> Headers {
        self.read(|e| e.incoming.trailers())
    }

    /// The trailer lines as received, names with their case (Node's
    /// `request.rawTrailers`, as pairs); empty until `end` has fired.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::IncomingMessage) {
    /// req.on_end(move || {
    ///     for (name, value) in req.raw_trailers() { println!("{name}: {value}") }
    /// });
    /// # }
    /// ```
    #[doc(alias = "rawTrailers")]
    pub fn raw_trailers(&self) -> Vec<(String, String)> {
        self.read(|e| e.incoming.raw_trailers())
    }

    /// The HTTP version, `"1.1"`, `"1.0"`, or `"2.0"` for a request that
    /// came over HTTP/2 (Node's `request.httpVersion`).
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::IncomingMessage) {
    /// assert!(req.http_version() == "1.1" || req.http_version() == "1.0");
    /// # }
    /// ```
    #[doc(alias = "httpVersion")]
    pub fn http_version(&self) -> String {
        format!(
            "{}.{}",
            self.http_version_major(),
            self.http_version_minor()
        )
    }

    /// The major version number (1, or 2 over HTTP/2).
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::IncomingMessage) {
    /// assert!(matches!(req.http_version_major(), 1 | 2));
    /// # }
    /// ```
    #[doc(alias = "httpVersionMajor")]
    pub fn http_version_major(&self) -> u8 {
        self.read(|e| match e.wire {
            Wire::Http1 => 1,
            Wire::Http2 { .. } => 2,
        })
    }

    /// The minor version number (0 or 1; 0 over HTTP/2).
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::IncomingMessage) {
    /// let keep_alive_by_default = req.http_version_minor() == 1;
    /// # }
    /// ```
    #[doc(alias = "httpVersionMinor")]
    pub fn http_version_minor(&self) -> u8 {
        self.read(|e| match e.wire {
            Wire::Http1 => e.parsed.version_minor,
            Wire::Http2 { .. } => 0,
        })
    }

    /// Whether the whole body has arrived (Node's `message.complete`).
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::IncomingMessage) {
    /// req.on_close(move |_| assert!(!req.complete()));
    /// # }
    /// ```
    pub fn complete(&self) -> bool {
        self.read(|e| e.request.complete())
    }

    /// Makes `data` events carry text in `encoding` ([`Chunk::Text`]),
    /// correctly decoding characters split across chunks.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::IncomingMessage) {
    /// req.set_encoding(nodelike::Encoding::Utf8);
    /// req.on_data(|chunk| print!("{chunk}"));
    /// # }
    /// ```
    #[doc(alias = "setEncoding")]
    pub fn set_encoding(&self, encoding: Encoding) {
        with_state(|st| {
            if let Some(e) = st.exchanges.get_mut(self.ex) {
                e.incoming.set_encoding(encoding);
            }
        });
    }

    /// Stops reading the connection: no `data` until [`resume`](Self::resume)
    /// (Node pauses the socket the same way; the client is held back by TCP).
    /// Over HTTP/2 only this request's stream pauses: its flow-control
    /// window is not given back, which holds the client back, and the
    /// connection's other streams go on.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::IncomingMessage, res: nodelike::http::ServerResponse) {
    /// req.on_data(move |chunk| if !res.write(chunk) { req.pause() });
    /// res.on_drain(move || req.resume());
    /// # }
    /// ```
    pub fn pause(&self) {
        if self.over_http2() {
            super::h2::pause(self.ex);
            return;
        }
        if let Some(s) = self.socket() {
            s.pause();
        }
    }

    /// Resumes a paused request.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::IncomingMessage) {
    /// req.resume();
    /// # }
    /// ```
    pub fn resume(&self) {
        if self.over_http2() {
            super::h2::resume(self.ex);
            return;
        }
        if let Some(s) = self.socket() {
            s.resume();
        }
    }

    /// Whether reading is paused (Node's `readable.isPaused()`): by
    /// [`pause`](Self::pause), or by a `pipe` waiting for its destination
    /// to drain.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::IncomingMessage) {
    /// req.pause();
    /// assert!(req.is_paused());
    /// # }
    /// ```
    #[doc(alias = "isPaused")]
    pub fn is_paused(&self) -> bool {
        if self.over_http2() {
            return super::h2::is_paused(self.ex);
        }
        self.socket()
            .and_then(|s| crate::net::read_state(s.id))
            .is_some_and(|state| state.paused)
    }

    /// Whether `end` was emitted: the whole body was delivered (Node's
    /// `readableEnded`). A stale handle says `true`.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::IncomingMessage) {
    /// req.on_close(move |_| println!("read it all: {}", req.readable_ended()));
    /// # }
    /// ```
    #[doc(alias = "readableEnded")]
    pub fn readable_ended(&self) -> bool {
        with_state(|st| {
            st.exchanges
                .get(self.ex)
                .is_none_or(|e| e.request.complete())
        })
        .unwrap_or(true)
    }

    /// Whether the request came on an HTTP/2 stream (which pauses alone,
    /// not with its connection).
    fn over_http2(&self) -> bool {
        self.read(|e| matches!(e.wire, Wire::Http2 { .. }))
    }

    fn socket(&self) -> Option<Socket> {
        with_state(|st| st.exchanges.get(self.ex).and_then(|e| e.socket))
            .flatten()
            .map(Socket::from_id)
    }

    /// The connection the request came on (Node's `request.connection`).
    /// After the request is over, a handle that does nothing.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::IncomingMessage) {
    /// println!("from {:?}", req.connection().remote_address());
    /// # }
    /// ```
    pub fn connection(&self) -> Socket {
        self.socket().unwrap_or(Socket::from_id(SockId::NONE))
    }

    /// Destroys the request's connection (Node's `req.destroy()`): the
    /// response is cut short, and `close` follows on both with
    /// [`CloseReason::Aborted`].
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::IncomingMessage) {
    /// if req.headers().get("content-length") == Some("999999999") {
    ///     req.destroy(); // not worth reading
    /// }
    /// # }
    /// ```
    pub fn destroy(&self) {
        if self.over_http2() {
            // Over HTTP/2 only this stream ends (RST_STREAM).
            super::h2::reset_stream(self.ex);
            return;
        }
        let socket = self.connection();
        if socket.is_open() {
            socket.destroy();
        }
    }

    /// Whether the request's `close` has been emitted (Node's
    /// `req.destroyed`, and `req.closed`: they agree for a request, which
    /// is destroyed as its life ends). A stale handle says `true`.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::IncomingMessage) {
    /// req.on_end(move || println!("closed yet: {}", req.destroyed()));
    /// # }
    /// ```
    pub fn destroyed(&self) -> bool {
        with_state(|st| st.exchanges.get(self.ex).is_none_or(|e| e.request.closed()))
            .unwrap_or(true)
    }

    /// Whether `close` has been emitted (Node's `req.closed`); the same as
    /// [`destroyed`](Self::destroyed).
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::IncomingMessage) {
    /// assert!(!req.closed() || req.destroyed());
    /// # }
    /// ```
    pub fn closed(&self) -> bool {
        self.destroyed()
    }

    /// Adds a `data` listener: a chunk of the decoded body.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::IncomingMessage) {
    /// let mut body = Vec::new();
    /// req.on_data(move |chunk| body.extend_from_slice(&chunk));
    /// # }
    /// ```
    #[doc(alias = "data")]
    pub fn on_data(&self, f: impl FnMut(Chunk<'_>) + 'static) {
        self.add(|e| e.listeners.data.push(Box::new(f)));
    }

    /// Adds an `end` listener: the whole body arrived. Fires once.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::IncomingMessage, res: nodelike::http::ServerResponse) {
    /// req.on_end(move || res.end("done\n"));
    /// # }
    /// ```
    #[doc(alias = "end")]
    pub fn on_end(&self, f: impl FnMut() + 'static) {
        self.add(|e| e.listeners.end.push(Box::new(f)));
    }

    /// Adds a `close` listener: fires exactly once in every request's life,
    /// as in Node 20. When all went well, after the response finished
    /// (`end`, the response's `finish` and `close`, then this), or after an
    /// upgrade handed the connection over, with [`CloseReason::Finished`].
    /// The seed's abnormal closes keep their reasons: the connection was
    /// terminated before the response was ended or could be flushed,
    /// because it timed out ([`CloseReason::Timeout`]) or the client went
    /// away ([`CloseReason::Aborted`]), whether or not the request's body
    /// had arrived (a GET whose client leaves mid-download gets it).
    /// [`CloseReason::is_abnormal`] tells the two kinds apart.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::IncomingMessage) {
    /// req.on_close(|reason| eprintln!("request {reason}"));
    /// # }
    /// ```
    #[doc(alias = "close")]
    pub fn on_close(&self, f: impl FnMut(CloseReason) + 'static) {
        self.add(|e| e.listeners.req_close.push(Box::new(f)));
    }

    /// Sets the idle timeout, in milliseconds (`0` turns it off; Node's
    /// `request.setTimeout`); see [`on_timeout`](Self::on_timeout). Over
    /// HTTP/1.1 it is the connection's; over HTTP/2 it is this stream's
    /// alone (Node's `stream.setTimeout`), as for
    /// [`ServerResponse::set_timeout`](crate::http::ServerResponse::set_timeout).
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::IncomingMessage) {
    /// req.set_timeout(5_000);
    /// req.on_timeout(move || req.connection().destroy());
    /// # }
    /// ```
    #[doc(alias = "setTimeout")]
    pub fn set_timeout(&self, ms: u64) {
        if super::h2::set_stream_timeout(self.ex, ms).is_some() {
            return;
        }
        if let Some(s) = self.socket() {
            s.set_timeout(ms);
        }
    }

    /// Adds a `timeout` listener: the connection was idle too long while
    /// this request's body was still arriving. With a listener the
    /// connection is not destroyed for it: that is up to you. Over HTTP/2
    /// it is the stream's timeout (see [`set_timeout`](Self::set_timeout)),
    /// heard by the request and the response alike, body complete or not,
    /// as Node's compatibility API forwards it; nothing is done for it
    /// without a listener either.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::IncomingMessage) {
    /// req.on_timeout(|| eprintln!("the upload stalled"));
    /// # }
    /// ```
    #[doc(alias = "timeout")]
    pub fn on_timeout(&self, f: impl FnMut() + 'static) {
        self.add(|e| e.listeners.req_timeout.push(Box::new(f)));
    }

    fn add(&self, f: impl FnOnce(&mut Exchange)) {
        with_state(|st| {
            if let Some(e) = st.exchanges.get_mut(self.ex) {
                f(e);
            }
        });
    }
}

/// The request's body as a Node `Readable`: `pipe` it into a response, a
/// file, a transform. Its `error` is Node 20's `ECONNRESET` `aborted`, for a
/// request whose connection ended before its life did; `close` is the
/// request's `close`, whatever its reason.
///
/// ```no_run
/// use nodelike::http;
/// use nodelike::stream::Readable;
/// http::create_server(|req, res| {
///     req.pipe(res); // the echo server
/// });
/// ```
impl crate::stream::Stream for IncomingMessage {
    fn destroy(&self, _error: Option<crate::Error>) {
        IncomingMessage::destroy(self);
    }

    fn destroyed(&self) -> bool {
        IncomingMessage::destroyed(self)
    }

    fn on_error(&self, mut f: impl FnMut(&crate::Error) + 'static) {
        IncomingMessage::on_close(self, move |reason| {
            if reason.is_abnormal() {
                f(&crate::Error::new(
                    crate::ErrorKind::ConnectionReset,
                    "aborted",
                ));
            }
        });
    }

    fn on_close(&self, mut f: impl FnMut() + 'static) {
        IncomingMessage::on_close(self, move |_| f());
    }

    fn end_of_stream(&self, callback: Box<dyn FnOnce(Option<crate::Error>)>) {
        crate::stream::EndOfStream::readable(*self, callback);
    }
}

crate::stream::readable_by_its_own_methods!(IncomingMessage);
