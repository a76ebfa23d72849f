//! The response side: parsing responses off the socket, the
//! `ClientResponse` handle, and the end of an exchange.

use crate::chunk::Chunk;
use crate::encoding::Encoding;
use crate::http::h1;
use crate::http::h1::{Decoded, Decoder, Headers, Limits};
use crate::http::incoming::data_chunk;
use crate::net::{Cause, SockId, Socket};
use crate::{net, Error};

use super::agent::emit_agent_upgrade;
use super::exchange::ClientExchange;
use super::exchange::{emit, fail, free_client, let_go};
use super::pool::{detach_from_agent, release_socket};
use super::{with_state, ClientId, ClientListeners, ClientReading, ClientResponse, ClientState};

enum Step<'a> {
    Stop,
    DiscardAll,
    /// Bytes on a pooled socket that no request asked for: it cannot be
    /// trusted with another request.
    Unsolicited,
    Skip(usize),
    Continue(ClientId, usize),
    Response(ClientId, usize, bool),
    /// A 101, or a 2xx to a CONNECT (`true`): the socket leaves HTTP.
    Upgrade(ClientId, usize, bool),
    Data(ClientId, usize, &'a [u8]),
    End(ClientId, usize),
    Error(ClientId, Error),
}

/// Parses and dispatches response bytes; returns the bytes consumed.
pub(super) fn process_input(sock: SockId, data: &[u8]) -> usize {
    let mut pos = 0;
    loop {
        let Some(socket) = net::read_state(sock) else {
            return data.len();
        };
        let step =
            with_state(|c| next_step(c, sock, socket, &data[pos..])).unwrap_or(Step::DiscardAll);
        match step {
            Step::Stop => return pos,
            Step::DiscardAll => return data.len(),
            Step::Unsolicited => {
                log::debug!(
                    "client: socket {}: bytes nobody asked for; destroying",
                    sock.key
                );
                net::destroy(sock, Cause::Error);
                return data.len();
            }
            Step::Skip(n) => pos += n,
            Step::Continue(ex, n) => {
                pos += n;
                emit(ex, |l| &mut l.continue_, |f| f());
            }
            Step::Response(ex, n, empty) => {
                pos += n;
                emit(ex, |l| &mut l.response, |f| f(ClientResponse::new(ex)));
                if empty {
                    complete_before(sock, ex, &data[pos..]);
                    if pos < data.len() {
                        return data.len();
                    }
                }
            }
            Step::Upgrade(ex, n, connect) => {
                pos += n;
                let head = &data[pos..];
                let res = ClientResponse::new(ex);
                let socket = Socket::from_id(sock);
                // The socket leaves the agent before the `upgrade` (or
                // `connect`) event: it no longer counts as in use (Node
                // counts 0), and it never goes back to the pool. It leaves
                // HTTP before the event too: from now on its bytes are
                // plain `data` events, unless a listener hands the socket
                // to another protocol (WebSocket does), which must not be
                // undone after the listener returns.
                with_state(|c| {
                    detach_from_agent(c, sock);
                    c.conns.remove(sock);
                    net::set_protocol(sock, &net::RAW);
                });
                let handled = if connect {
                    emit(ex, |l| &mut l.connect, |f| f(res, socket, head))
                } else {
                    emit(ex, |l| &mut l.upgrade, |f| f(res, socket, head))
                        || emit_agent_upgrade(ex, |f| f(res, socket, head))
                };
                with_state(|c| {
                    if let Some(e) = c.clients.get_mut(ex) {
                        e.response.end_early();
                    }
                    if !handled {
                        net::destroy(sock, Cause::Aborted);
                    }
                });
                if connect {
                    // Node: the request's life is over once the tunnel is
                    // handed over (`req.destroyed`, then `close`).
                    emit(ex, |l| &mut l.close, |f| f());
                }
                // The record, which the handed-over `res` reads, lives as
                // long as the socket does.
                if handled {
                    socket.on_close(move |_| {
                        with_state(|c| free_client(c, ex));
                    });
                } else {
                    with_state(|c| free_client(c, ex));
                }
                return data.len();
            }
            Step::Data(ex, n, chunk) => {
                pos += n;
                emit_data(ex, chunk);
            }
            Step::End(ex, n) => {
                pos += n;
                complete_before(sock, ex, &data[pos..]);
                if pos < data.len() {
                    return data.len();
                }
            }
            Step::Error(ex, e) => {
                net::destroy(sock, Cause::Error);
                fail(ex, e);
                return data.len();
            }
        }
    }
}

fn next_step<'a>(
    c: &mut ClientState,
    sock: SockId,
    socket: net::ReadState,
    input: &'a [u8],
) -> Step<'a> {
    let ClientState { conns, clients, .. } = c;
    if socket.destroyed {
        return Step::DiscardAll;
    }
    if socket.paused {
        return Step::Stop;
    }
    let Some(conn) = conns.get_mut(sock) else {
        return Step::DiscardAll;
    };
    let Some(id) = conn.ex else {
        // Bytes on an idle pooled socket: nothing asked for them.
        return if input.is_empty() {
            Step::Stop
        } else {
            Step::Unsolicited
        };
    };
    let Some(ex) = clients.get_mut(id) else {
        return Step::DiscardAll;
    };
    match &mut conn.reading {
        ClientReading::Head => {
            if input.is_empty() {
                return Step::Stop;
            }
            // The response has begun: the request will not be replayed.
            ex.disarm_replay();
            let head_request = ex.is_head();
            match h1::parse_response_head(input, head_request, &Limits::default(), &mut ex.parsed) {
                Ok(None) => Step::Stop,
                // Not a status line at all: llhttp's HPE_INVALID_CONSTANT.
                Err(_) if !input.starts_with(&b"HTTP/"[..input.len().min(5)]) => Step::Error(
                    id,
                    Error::parse_with_code(
                        "HPE_INVALID_CONSTANT",
                        "Parse Error: Expected HTTP/, RTSP/ or ICE/",
                    ),
                ),
                Err(e) => Step::Error(
                    id,
                    Error::parse(e.status(), format!("Parse Error: {}", e.reason())),
                ),
                Ok(Some(n)) => {
                    let status = ex.parsed.status;
                    // A 2xx to a CONNECT opens a tunnel (RFC 9110 §9.3.6:
                    // such a response has no body, whatever its head
                    // says); any other answer to it is an ordinary
                    // response.
                    let tunnel = ex.is_connect() && (200..300).contains(&status);
                    if status == 101 || tunnel {
                        // Kept, so the `upgrade` (or `connect`) listener
                        // reads the status and headers.
                        ex.parsed.upgrade = true;
                        ex.keep_head(&input[..n]);
                        return Step::Upgrade(id, n, tunnel);
                    }
                    if (100..200).contains(&status) {
                        // An interim response: `continue` for 100, then wait
                        // for the final one.
                        return if status == 100 {
                            Step::Continue(id, n)
                        } else {
                            Step::Skip(n)
                        };
                    }
                    ex.receive_head(&input[..n]);
                    // A socket that carried a refused CONNECT is not
                    // reused: a proxy often answers from the socket it was
                    // handed and ends it, without saying `close` (and
                    // Node's client never pools it either).
                    conn.keep_alive
                        .peer_message(ex.parsed.keep_alive && !ex.is_connect());
                    let empty = matches!(ex.parsed.body, h1::BodyKind::Empty);
                    if !empty {
                        conn.read_body(Decoder::new(ex.parsed.body));
                    }
                    log::trace!(
                        "client: socket {} response {status}, body {:?}",
                        sock.key,
                        ex.parsed.body
                    );
                    Step::Response(id, n, empty)
                }
            }
        }
        ClientReading::Body(decoder) => match decoder.decode(input) {
            Err(e) => Step::Error(
                id,
                Error::parse(400, format!("Parse Error: {}", e.reason())),
            ),
            Ok((n, Decoded::Data(d))) => Step::Data(id, n, d),
            Ok((0, Decoded::NeedMore)) => Step::Stop,
            Ok((n, Decoded::NeedMore)) => Step::Skip(n),
            Ok((n, Decoded::Done)) => {
                ex.incoming.keep_trailers(decoder);
                conn.read_head();
                Step::End(id, n)
            }
        },
    }
}

pub(super) fn emit_data(ex: ClientId, data: &[u8]) {
    // With an encoding set, decode (keeping a split character for later).
    let text = with_state(|c| c.clients.get_mut(ex)?.incoming.text_of(data)).flatten();
    if let Some(chunk) = data_chunk(&text, data) {
        emit(ex, |l| &mut l.data, |f| f(chunk));
    }
}

/// The response is complete, and `after` are the bytes that followed it in
/// the same read. None: the socket may be pooled. Some: garbage, or a
/// response nobody asked for; the socket cannot be reused, and garbage is a
/// parse error for the request, as in Node (a second response only loses
/// the socket).
fn complete_before(sock: SockId, ex: ClientId, after: &[u8]) {
    if after.is_empty() {
        complete(sock, ex, None);
        return;
    }
    let garbage = !after.starts_with(&b"HTTP/"[..after.len().min(5)]);
    let err = garbage.then(|| {
        Error::parse_with_code(
            "HPE_INVALID_CONSTANT",
            "Parse Error: Expected HTTP/ after a complete response",
        )
    });
    complete(sock, ex, Some(err));
}

/// The response is complete: `end`, then the socket goes back to the pool
/// (or closes). `poisoned`: bytes followed the response, so the socket is
/// destroyed instead, after the request's parse error if there is one.
pub(super) fn complete(sock: SockId, ex: ClientId, poisoned: Option<Option<Error>>) {
    let tail = with_state(|c| c.clients.get_mut(ex)?.incoming.finish_text()).flatten();
    if let Some(s) = tail {
        emit(ex, |l| &mut l.data, |f| f(Chunk::Text(&s)));
    }
    let first =
        with_state(|c| c.clients.get_mut(ex).is_some_and(|e| e.complete())).unwrap_or(false);
    if !first {
        return;
    }
    match poisoned {
        None => {
            // The socket goes back to the pool before `end`, so a request
            // made in an `end` listener reuses it.
            with_state(|c| release_socket(c, sock, ex));
        }
        Some(err) => {
            with_state(|c| {
                if let Some(conn) = c.conns.get_mut(sock) {
                    conn.release();
                }
                detach_from_agent(c, sock);
            });
            net::destroy(sock, Cause::Error);
            if let Some(err) = err {
                if !emit(ex, |l| &mut l.error, |f| f(&err)) {
                    err.report_unhandled("ClientRequest", "ClientRequest::on_error");
                }
            }
        }
    }
    emit(ex, |l| &mut l.end, |f| f());
    // Node's order: the request's `close`, then the response's.
    emit(ex, |l| &mut l.close, |f| f());
    emit(ex, |l| &mut l.res_close, |f| f());
    with_state(|c| free_client(c, ex));
}

/// The peer closed: a close-delimited body ends here; anything else in
/// flight was cut short.
pub(super) fn on_eof(sock: SockId) {
    let state = with_state(|c| {
        let conn = c.conns.get_mut(sock)?;
        let clean = match &conn.reading {
            // A TLS stream cut without close_notify is not a clean end of
            // a close-delimited body: the request fails.
            ClientReading::Body(d) => d.eof_is_clean() && !net::eof_was_truncated(sock),
            ClientReading::Head => false,
        };
        Some((conn.ex, clean))
    })
    .flatten();
    match state {
        Some((Some(ex), true)) => complete(sock, ex, None),
        _ => net::destroy(sock, Cause::Aborted),
    }
}

impl ClientResponse {
    fn read<R: Default>(&self, f: impl FnOnce(&ClientExchange) -> R) -> R {
        with_state(|c| c.clients.get(self.id).map(f))
            .flatten()
            .unwrap_or_default()
    }

    /// The status code, e.g. `404`.
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ClientResponse) {
    /// if res.status_code() == 200 { /* ... */ }
    /// # }
    /// ```
    #[doc(alias = "statusCode")]
    pub fn status_code(&self) -> u16 {
        self.read(|e| e.parsed.status)
    }

    /// The reason phrase of the status line, e.g. `"Not Found"` (Node's
    /// `statusMessage`).
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ClientResponse) {
    /// println!("{} {}", res.status_code(), res.status_message());
    /// # }
    /// ```
    #[doc(alias = "statusMessage")]
    pub fn status_message(&self) -> String {
        self.read(|e| {
            String::from_utf8_lossy(e.res_head.get(e.parsed.reason.clone()).unwrap_or_default())
                .into_owned()
        })
    }

    /// The header lines as received, in order, names in their original
    /// case (Node's `rawHeaders`, as pairs).
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ClientResponse) {
    /// for (name, value) in res.raw_headers() { println!("{name}: {value}") }
    /// # }
    /// ```
    #[doc(alias = "rawHeaders")]
    pub fn raw_headers(&self) -> Vec<(String, String)> {
        self.read(|e| {
            let text = |r: &std::ops::Range<usize>| {
                h1::latin1(e.res_head.get(r.clone()).unwrap_or_default()).into_owned()
            };
            e.parsed
                .headers
                .iter()
                .map(|(n, v)| (text(n), text(v)))
                .collect()
        })
    }

    /// The server's HTTP version, `"1.1"` or `"1.0"`.
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ClientResponse) {
    /// println!("HTTP/{}", res.http_version());
    /// # }
    /// ```
    #[doc(alias = "httpVersion")]
    pub fn http_version(&self) -> String {
        format!("1.{}", self.read(|e| e.parsed.version_minor))
    }

    /// The response headers, with the same rules as the server's
    /// `req.headers()`.
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ClientResponse) {
    /// println!("{:?}", res.headers().get("content-type"));
    /// # }
    /// ```
    pub fn headers(&self) -> Headers {
        self.read(|e| Headers::from_fields(&e.res_head, &e.parsed.headers))
    }

    /// The trailers of a chunked body; empty until `end`.
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ClientResponse) {
    /// res.on_end(move || println!("{:?}", res.trailers()));
    /// # }
    /// ```
    pub fn trailers(&self) -> Headers {
        self.read(|e| e.incoming.trailers())
    }

    /// The trailer lines as received, names with their case (Node's
    /// `res.rawTrailers`, as pairs); empty until `end`.
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ClientResponse) {
    /// res.on_end(move || println!("{:?}", res.raw_trailers()));
    /// # }
    /// ```
    #[doc(alias = "rawTrailers")]
    pub fn raw_trailers(&self) -> Vec<(String, String)> {
        self.read(|e| e.incoming.raw_trailers())
    }

    /// Makes `data` events carry decoded text.
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ClientResponse) {
    /// res.set_encoding(nodelike::Encoding::Utf8);
    /// # }
    /// ```
    #[doc(alias = "setEncoding")]
    pub fn set_encoding(&self, encoding: Encoding) {
        with_state(|c| {
            if let Some(e) = c.clients.get_mut(self.id) {
                e.incoming.set_encoding(encoding);
            }
        });
    }

    /// The socket the response arrives on (Node's `res.socket`), `None`
    /// once the exchange let go of it. Over TLS it tells whether the
    /// server's certificate checked out, even when the request was told
    /// not to reject it:
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ClientResponse) {
    /// if let Some(socket) = res.socket() {
    ///     println!("from {:?}", socket.remote_address());
    ///     #[cfg(feature = "tls")]
    ///     if !socket.authorized() {
    ///         eprintln!("untrusted server: {:?}", socket.authorization_error());
    ///     }
    /// }
    /// # }
    /// ```
    pub fn socket(&self) -> Option<Socket> {
        with_state(|c| c.clients.get(self.id).and_then(|e| e.socket))
            .flatten()
            .map(Socket::from_id)
    }

    /// Stops reading the connection until [`resume`](Self::resume).
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ClientResponse) {
    /// res.pause();
    /// nodelike::set_timeout(move || res.resume(), 100);
    /// # }
    /// ```
    pub fn pause(&self) {
        if let Some(s) = self.socket() {
            s.pause();
        }
    }

    /// Resumes a paused response.
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ClientResponse) {
    /// res.resume();
    /// # }
    /// ```
    pub fn resume(&self) {
        if let Some(s) = self.socket() {
            s.resume();
        }
    }

    /// Adds a `data` listener.
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ClientResponse) {
    /// res.on_data(|chunk| print!("{chunk}"));
    /// # }
    /// ```
    #[doc(alias = "data")]
    pub fn on_data(&self, f: impl FnMut(Chunk<'_>) + 'static) {
        self.add(|l| l.data.push(Box::new(f)));
    }

    /// Adds an `end` listener: the whole body arrived.
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ClientResponse) {
    /// res.on_end(|| println!("done"));
    /// # }
    /// ```
    #[doc(alias = "end")]
    pub fn on_end(&self, f: impl FnMut() + 'static) {
        self.add(|l| l.end.push(Box::new(f)));
    }

    /// Adds a `close` listener: the response is over, complete (after
    /// `end`) or cut off (the request's `error` says why).
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ClientResponse) {
    /// res.on_close(|| println!("closed"));
    /// # }
    /// ```
    #[doc(alias = "close")]
    pub fn on_close(&self, f: impl FnMut() + 'static) {
        self.add(|l| l.res_close.push(Box::new(f)));
    }

    /// Whether reading is paused (Node's `readable.isPaused()`).
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ClientResponse) {
    /// res.pause();
    /// assert!(res.is_paused());
    /// # }
    /// ```
    #[doc(alias = "isPaused")]
    pub fn is_paused(&self) -> bool {
        self.socket()
            .and_then(|s| net::read_state(s.id))
            .is_some_and(|state| state.paused)
    }

    /// Whether `end` was emitted: the whole body was delivered (Node's
    /// `readableEnded`). A stale handle says `true`.
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ClientResponse) {
    /// res.on_close(move || println!("read it all: {}", res.readable_ended()));
    /// # }
    /// ```
    #[doc(alias = "readableEnded")]
    pub fn readable_ended(&self) -> bool {
        self.complete()
    }

    /// Whether the whole body arrived (Node's `message.complete`).
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ClientResponse) {
    /// res.on_close(move || if !res.complete() { eprintln!("cut short") });
    /// # }
    /// ```
    pub fn complete(&self) -> bool {
        with_state(|c| c.clients.get(self.id).map(|e| e.response.is_complete()))
            .flatten()
            .unwrap_or(true)
    }

    /// Destroys the response (Node's `res.destroy()`): a response still
    /// arriving has its socket destroyed (it never goes back to the pool),
    /// then the request gets `close` and the response its own `close`; no
    /// `end`, no `error`. A response already complete is left alone.
    ///
    /// ```no_run
    /// nodelike::http::get("http://127.0.0.1:8000/huge", |res| {
    ///     if res.headers().get("content-type") != Some("text/plain") {
    ///         res.destroy(); // not what we want: stop the download
    ///     }
    /// });
    /// nodelike::run();
    /// ```
    pub fn destroy(&self) {
        let live = with_state(|c| {
            let e = c.clients.get_mut(self.id)?;
            if !e.response.end_early() {
                return None;
            }
            let_go(c, self.id, Cause::Aborted);
            Some(())
        })
        .flatten();
        if live.is_some() {
            log::debug!("client: response destroyed");
            // Node's order: the request's `close`, then the response's.
            emit(self.id, |l| &mut l.close, |f| f());
            emit(self.id, |l| &mut l.res_close, |f| f());
            with_state(|c| free_client(c, self.id));
        }
    }

    /// Whether the response is over: destroyed, cut off, or read to its
    /// end (Node's `res.destroyed`, which a response that ended also
    /// says).
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ClientResponse) {
    /// if !res.destroyed() { res.destroy() }
    /// # }
    /// ```
    pub fn destroyed(&self) -> bool {
        with_state(|c| c.clients.get(self.id).is_none_or(|e| e.response.is_over())).unwrap_or(true)
    }

    fn add(&self, f: impl FnOnce(&mut ClientListeners)) {
        with_state(|c| {
            if let Some(e) = c.clients.get_mut(self.id) {
                f(&mut e.listeners);
            }
        });
    }
}

/// Responses fed to a client through in-memory connections: whole, split
/// at every offset, and one byte at a time.
/// The response's body as a Node `Readable`: `pipe` it into a file, a
/// server's response (the proxy), a transform. Its `error` is the
/// request's: why the response was cut off.
///
/// ```no_run
/// use nodelike::http;
/// use nodelike::stream::Readable;
/// http::create_server(|_req, res| {
///     http::get("http://127.0.0.1:9000/", move |up| {
///         up.pipe(res);
///     });
/// });
/// ```
impl crate::stream::Stream for ClientResponse {
    fn destroy(&self, _error: Option<Error>) {
        ClientResponse::destroy(self);
    }

    fn destroyed(&self) -> bool {
        ClientResponse::destroyed(self)
    }

    fn on_error(&self, f: impl FnMut(&Error) + 'static) {
        self.add(|l| l.error.push(Box::new(f)));
    }

    fn on_close(&self, f: impl FnMut() + 'static) {
        ClientResponse::on_close(self, f);
    }

    fn end_of_stream(&self, callback: Box<dyn FnOnce(Option<Error>)>) {
        crate::stream::EndOfStream::readable(*self, callback);
    }
}

crate::stream::readable_by_its_own_methods!(ClientResponse);

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use crate::http::request_in_memory;

    /// What a request saw: status, body, trailers, errors, in order.
    #[derive(Debug, Default, Clone, PartialEq, Eq)]
    struct Seen {
        status: u16,
        body: String,
        trailer: Option<String>,
        ended: bool,
        errors: Vec<String>,
    }

    /// Sends `response` in `pieces` (byte offsets) to a fresh request.
    fn feed(response: &[u8], cuts: &[usize]) -> Seen {
        let seen = Rc::new(RefCell::new(Seen::default()));
        let s = seen.clone();
        let (req, server) = request_in_memory("http://test.invalid/x", move |res| {
            s.borrow_mut().status = res.status_code();
            let (s1, s2) = (s.clone(), s.clone());
            res.on_data(move |c| s1.borrow_mut().body.push_str(&c.to_string()));
            res.on_end(move || {
                let mut s = s2.borrow_mut();
                s.ended = true;
                s.trailer = res.trailers().get("x-sum").map(str::to_owned);
            });
        });
        let s = seen.clone();
        req.on_error(move |e| s.borrow_mut().errors.push(e.code().to_string()));
        req.end(());
        assert!(server.take_output().starts_with(b"GET /x HTTP/1.1\r\n"));
        let mut at = 0;
        for &cut in cuts.iter().chain(std::iter::once(&response.len())) {
            server.send(&response[at..cut]);
            at = cut;
        }
        let out = seen.borrow().clone();
        out
    }

    fn every_way(response: &[u8]) -> Seen {
        let whole = feed(response, &[]);
        for cut in 1..response.len() {
            assert_eq!(feed(response, &[cut]), whole, "split at {cut}");
        }
        let bytewise: Vec<usize> = (1..response.len()).collect();
        assert_eq!(feed(response, &bytewise), whole, "one byte at a time");
        whole
    }

    #[test]
    fn a_length_response_is_read_the_same_every_way() {
        let seen = every_way(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world");
        assert_eq!(
            (seen.status, seen.body.as_str(), seen.ended),
            (200, "hello world", true)
        );
        assert!(seen.errors.is_empty());
    }

    #[test]
    fn a_chunked_response_with_trailers_is_read_the_same_every_way() {
        let seen = every_way(
            b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n\
              5\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 42\r\n\r\n",
        );
        assert_eq!(seen.status, 201);
        assert_eq!(seen.body, "hello world");
        assert_eq!(seen.trailer.as_deref(), Some("42"));
        assert!(seen.ended);
    }

    #[test]
    fn interim_responses_are_skipped_and_the_final_one_read() {
        let seen = every_way(
            b"HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        );
        assert_eq!((seen.status, seen.body.as_str()), (200, "ok"));
    }

    #[test]
    fn a_malformed_response_is_an_error_every_way() {
        for bad in [
            &b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok"[..],
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\nContent-Length: 2\r\n\r\nok",
        ] {
            let seen = every_way(bad);
            assert_eq!(seen.errors.len(), 1, "{seen:?}");
            assert!(seen.errors[0].starts_with("HPE_"), "{seen:?}");
            assert!(!seen.ended);
        }
    }

    #[test]
    fn garbage_right_after_a_response_is_a_parse_error_and_the_body_still_arrives() {
        // Node: the request gets HPE_INVALID_CONSTANT, the response its
        // data and end, and the socket is destroyed.
        let seen = feed(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokGARBAGE\r\n",
            &[],
        );
        assert_eq!(seen.errors, ["HPE_INVALID_CONSTANT"]);
        assert_eq!((seen.body.as_str(), seen.ended), ("ok", true));
    }

    #[test]
    fn bytes_that_are_not_a_response_are_hpe_invalid_constant_every_way() {
        let seen = every_way(b"SSH-2.0-OpenSSH_9.2\r\n");
        assert_eq!(seen.errors, ["HPE_INVALID_CONSTANT"]);
        assert!(!seen.ended);
    }

    #[test]
    fn the_status_message_and_raw_headers_are_as_received() {
        let (req, server) = request_in_memory("http://test.invalid/x", |res| {
            assert_eq!(res.status_message(), "Not Quite Found");
            assert_eq!(
                res.raw_headers(),
                [
                    ("X-Mixed-Case".to_string(), "a".to_string()),
                    ("content-length".to_string(), "0".to_string()),
                    ("X-Mixed-Case".to_string(), "b".to_string()),
                ]
            );
        });
        let seen = Rc::new(RefCell::new(false));
        let s = seen.clone();
        req.on_response(move |_| *s.borrow_mut() = true);
        req.end(());
        server.take_output();
        server.send(b"HTTP/1.1 404 Not Quite Found\r\nX-Mixed-Case: a\r\ncontent-length: 0\r\nX-Mixed-Case: b\r\n\r\n");
        assert!(*seen.borrow());
    }

    fn connect_options() -> crate::http::RequestOptions {
        crate::http::RequestOptions {
            host: "proxy.invalid".into(),
            method: "CONNECT".into(),
            path: "example.com:443".into(),
            agent: None,
            ..Default::default()
        }
    }

    #[test]
    fn a_2xx_to_connect_hands_over_the_socket_and_is_no_response() {
        let events = Rc::new(RefCell::new(Vec::new()));
        let ev = events.clone();
        let (req, server) = request_in_memory(connect_options(), move |res| {
            ev.borrow_mut()
                .push(format!("response {}", res.status_code()));
        });
        let ev = events.clone();
        req.on_connect(move |res, socket, head| {
            ev.borrow_mut().push(format!(
                "connect {} {:?}",
                res.status_code(),
                String::from_utf8_lossy(head)
            ));
            let ev = ev.clone();
            socket.on_data(move |c| ev.borrow_mut().push(format!("data {c}")));
            socket.write("through the tunnel");
        });
        let ev = events.clone();
        req.on_close(move || ev.borrow_mut().push("close".into()));
        req.end(());
        let sent = server.take_output();
        assert!(
            sent.starts_with(b"CONNECT example.com:443 HTTP/1.1\r\n"),
            "{}",
            String::from_utf8_lossy(&sent)
        );
        // The head says a body follows; a tunnel has none (RFC 9110).
        server.send(b"HTTP/1.1 200 Connection Established\r\nContent-Length: 5\r\n\r\nfirst");
        server.send(b"more");
        assert_eq!(
            *events.borrow(),
            ["connect 200 \"first\"", "close", "data more"]
        );
        assert_eq!(server.take_output(), b"through the tunnel");
        assert!(req.destroyed());
        // The exchange's record goes when the tunnel's socket closes.
        let live = || super::with_state(|c| c.clients.len()).unwrap();
        let before = live();
        server.end();
        crate::runtime::settle();
        assert_eq!(live(), before - 1);
    }

    #[test]
    fn a_non_2xx_to_connect_is_an_ordinary_response() {
        let seen = Rc::new(RefCell::new(String::new()));
        let s = seen.clone();
        let (req, server) = request_in_memory(connect_options(), move |res| {
            s.borrow_mut().push_str(&format!("{} ", res.status_code()));
            let s = s.clone();
            res.on_data(move |c| s.borrow_mut().push_str(&c.to_string()));
        });
        let tunnel = Rc::new(RefCell::new(false));
        let t = tunnel.clone();
        req.on_connect(move |_, _, _| *t.borrow_mut() = true);
        req.end(());
        server.take_output();
        server.send(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 4\r\n\r\nwho?");
        assert_eq!(*seen.borrow(), "407 who?");
        assert!(!*tunnel.borrow());
    }

    #[test]
    fn destroying_a_response_mid_body_closes_it_without_end_or_error() {
        let events = Rc::new(RefCell::new(Vec::new()));
        let ev = events.clone();
        let (req, server) = request_in_memory("http://test.invalid/x", move |res| {
            let e = ev.clone();
            res.on_data(move |c| {
                e.borrow_mut().push(format!("data {c}"));
                res.destroy();
                assert!(res.destroyed());
            });
            let e = ev.clone();
            res.on_end(move || e.borrow_mut().push("end".into()));
            let e = ev.clone();
            res.on_close(move || e.borrow_mut().push("res close".into()));
        });
        let ev = events.clone();
        req.on_error(move |e| ev.borrow_mut().push(format!("error {}", e.code())));
        let ev = events.clone();
        req.on_close(move || ev.borrow_mut().push("req close".into()));
        req.end(());
        server.take_output();
        server.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf");
        crate::runtime::settle();
        assert_eq!(*events.borrow(), ["data half", "req close", "res close"]);
        assert!(server.is_closed());
        assert!(req.destroyed());
    }

    #[test]
    fn end_again_is_a_no_op_and_data_after_the_end_an_error() {
        // Node: a second `end()` emits nothing; `end("b")` after the end is
        // ERR_STREAM_WRITE_AFTER_END.
        let (req, _server) = request_in_memory("http://test.invalid/x", |_| {});
        let errors = Rc::new(RefCell::new(Vec::new()));
        let e = errors.clone();
        req.on_error(move |err| e.borrow_mut().push(err.code()));
        req.end(());
        req.end(());
        assert!(errors.borrow().is_empty());
        req.end("b");
        assert_eq!(*errors.borrow(), ["ERR_STREAM_WRITE_AFTER_END"]);
    }
}
