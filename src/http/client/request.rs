//! The request side: `request`, `get`, the `ClientRequest` handle, and
//! encoding the request head and body.

use std::time::Duration;

use crate::chunk::IntoChunk;
use crate::http::h1::encode;
use crate::http::{h1, BodyError, Framing, HeaderList};
use crate::net::{Cause, SockId, Socket, Transport, HIGH_WATER_MARK};
use crate::runtime::arena::Id;
use crate::{net, runtime, Error, ErrorKind};

use super::connect::{start_socket, Start};
use super::exchange::{emit, fail, fail_now, free_client, let_go};
use super::exchange::{ClientExchange, RequestOut, ResponseLife};
use super::options::{IntoRequestOptions, RequestOptions};
use super::pool::{assign, pump};
use super::{
    client_ctx, client_from_ctx, with_state, ClientListeners, ClientRequest, ClientResponse,
};

/// Issues a request (Node's `http.request(options, callback)`): returns the
/// [`ClientRequest`] to write the body to; `on_response` gets the response
/// once its head arrived. Call [`end`](ClientRequest::end) to send it.
///
/// ```no_run
/// let req = nodelike::http::request("http://127.0.0.1:8000/", |res| println!("{}", res.status_code()));
/// req.end(());
/// nodelike::run();
/// ```
pub fn request(
    options: impl IntoRequestOptions,
    on_response: impl FnMut(ClientResponse) + 'static,
) -> ClientRequest {
    request_over(options, on_response, None)
}

/// A request whose connection lives in memory: you play the server through
/// the returned [`MemoryConnection`](crate::net::MemoryConnection) (take
/// what the request wrote, send the response in pieces of your choosing),
/// with no sockets and no timing (Node's `createConnection` option with a
/// duplex of your own). The connection is the request's own (no agent).
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
/// let body = Rc::new(RefCell::new(String::new()));
/// let b = body.clone();
/// let (req, server) = nodelike::http::request_in_memory("http://example.test/hi", move |res| {
///     assert_eq!(res.status_code(), 200);
///     let b = b.clone();
///     res.on_data(move |chunk| b.borrow_mut().push_str(&chunk.to_string()));
/// });
/// req.end(());
/// assert!(server.take_output().starts_with(b"GET /hi HTTP/1.1\r\n"));
/// for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" {
///     server.send(&[*byte]); // one byte at a time
/// }
/// assert_eq!(*body.borrow(), "hello");
/// ```
pub fn request_in_memory(
    options: impl IntoRequestOptions,
    on_response: impl FnMut(ClientResponse) + 'static,
) -> (ClientRequest, crate::net::MemoryConnection) {
    let (pipe, transport) = crate::net::MemoryConnection::pipe();
    let req = request_over(
        options
            .into_request_options()
            .map(|o| RequestOptions { agent: None, ..o }),
        on_response,
        Some(transport),
    );
    let sock = with_state(|c| c.clients.get(req.id).and_then(|e| e.socket))
        .flatten()
        .unwrap_or(SockId::NONE);
    (req, crate::net::MemoryConnection::new(sock, pipe))
}

/// [`request`], over `transport` when one is given instead of a connection
/// found by the agent.
fn request_over(
    options: impl IntoRequestOptions,
    on_response: impl FnMut(ClientResponse) + 'static,
    transport: Option<Box<dyn Transport>>,
) -> ClientRequest {
    let options = options.into_request_options();
    let id = with_state(|c| {
        let (id, ex) = c.clients.insert();
        *ex = ClientExchange::default();
        ex.listeners.response.push(Box::new(on_response));
        match options {
            Ok(o) => {
                let invalid = !encode::is_valid_method(&o.method)
                    || !encode::is_valid_request_target(&o.path)
                    || o.host.bytes().any(|b| b <= b' ' || b == 0x7f)
                    || o.headers.iter().any(|(n, v)| {
                        !encode::is_valid_header_name(n) || !encode::is_valid_header_value(v)
                    });
                ex.set_request(o, host_header);
                if invalid {
                    Err(Error::new(
                        ErrorKind::InvalidHeader,
                        "Invalid character in method, path, host or header",
                    ))
                } else {
                    Ok(id)
                }
            }
            Err(e) => Err(e),
        }
        .map_err(|e| (id, e))
    });
    match id {
        Some(Ok(id)) => {
            with_state(|c| match transport {
                Some(t) => start_socket(c, id, None, Ok((t, None)), Start::InMemory),
                None => assign(c, id),
            });
            let req = ClientRequest::from_id(id);
            let expects = with_state(|c| {
                c.clients
                    .get(id)
                    .is_some_and(|e| e.set_headers.has("expect"))
            });
            if expects == Some(true) {
                req.flush_headers();
            }
            req
        }
        Some(Err((id, e))) => {
            // Nothing is sent; the error arrives on the next turn, so the
            // caller can still add an `error` listener (as in Node).
            crate::next_tick(move || fail(id, e));
            ClientRequest::from_id(id)
        }
        None => ClientRequest::from_id(Id {
            idx: u32::MAX,
            gen: 0,
        }),
    }
}

/// A GET request, ended at once (Node's `http.get`).
///
/// ```no_run
/// nodelike::http::get("http://127.0.0.1:8000/", |res| println!("{}", res.status_code()))
///     .on_error(|e| eprintln!("{e}"));
/// nodelike::run();
/// ```
pub fn get(
    options: impl IntoRequestOptions,
    on_response: impl FnMut(ClientResponse) + 'static,
) -> ClientRequest {
    let options = options.into_request_options().map(|mut o| {
        o.method = "GET".into();
        o
    });
    let req = match options {
        Ok(o) => request(o, on_response),
        Err(e) => {
            let req = request(
                RequestOptions {
                    host: String::new(),
                    ..Default::default()
                },
                on_response,
            );
            with_state(|c| {
                if let Some(ex) = c.clients.get_mut(req.id) {
                    ex.response.end_early();
                }
            });
            crate::next_tick(move || fail_now(req.id, e));
            return req;
        }
    };
    req.end(());
    req
}

impl ClientRequest {
    /// A request with no response callback yet (Node's
    /// `http.request(options)` without one, or `new http.ClientRequest`):
    /// add it with [`on_response`](Self::on_response).
    ///
    /// ```no_run
    /// use nodelike::http::ClientRequest;
    /// let req = ClientRequest::new("http://127.0.0.1:8000/");
    /// req.on_response(|res| println!("{}", res.status_code()));
    /// req.end(());
    /// nodelike::run();
    /// ```
    #[doc(alias = "ClientRequest")]
    pub fn new(options: impl IntoRequestOptions) -> ClientRequest {
        request_over(options, |_res| {}, None)
    }

    /// Sends a chunk of the body (the head first, if not sent yet).
    /// Returns `false` once more than 16 KiB wait to be sent: wait for
    /// `drain`. The body is chunked unless a `Content-Length` was set.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// req.write("data\n");
    /// # }
    /// ```
    pub fn write(&self, chunk: impl IntoChunk) -> bool {
        let data = chunk.chunk_bytes();
        if data.is_empty() {
            return true;
        }
        self.send(data, false)
    }

    /// Finishes the request, with a last chunk or `()`.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// req.end(());
    /// # }
    /// ```
    pub fn end(&self, chunk: impl IntoChunk) {
        self.send(chunk.chunk_bytes(), true);
    }

    fn send(&self, data: &[u8], end: bool) -> bool {
        let result = with_state(|c| {
            let e = c.clients.get_mut(self.id)?;
            if e.response == (ResponseLife::Over { started: false }) {
                return Some(Ok(false));
            }
            if e.request.ended() {
                // Node: `end()` again is a no-op; data after the end is
                // an error.
                if end && data.is_empty() {
                    return Some(Ok(false));
                }
                return Some(Err((
                    Error::new(ErrorKind::WriteAfterEnd, "write after end"),
                    false,
                )));
            }
            let mut out = e.take_out();
            if !e.request.head_sent() {
                write_request_head(e, &mut out, end.then_some(data.len()));
            }
            // The same encoder as the server's responses: bytes past the
            // Content-Length are not sent, and are an error.
            let encoded = e.framing.encode(&mut out, data, end, &e.trailers_out);
            if end {
                e.request.reach(RequestOut::Ended);
            }
            e.put_out(out);
            let mismatch = match encoded {
                Ok(()) => None,
                Err(BodyError::TooLong) => Some(Error::new(
                    ErrorKind::ContentLengthMismatch,
                    "Request body's content-length of bytes exceeded",
                )),
                Err(BodyError::TooShort(n)) => Some(Error::new(
                    ErrorKind::ContentLengthMismatch,
                    format!("Request ended {n} bytes short of its content-length"),
                )),
            };
            // A body that ended short can never complete: the server waits
            // for the rest. The request is aborted after its error.
            let cut_short = matches!(encoded, Err(BodyError::TooShort(_)));
            let sock = e.socket;
            pump(c, self.id);
            let backlog = sock.map_or(0, net::backlog)
                + c.clients.get(self.id).map(|e| e.out.len()).unwrap_or(0);
            let ok = backlog < HIGH_WATER_MARK;
            if !ok {
                if let Some(e) = c.clients.get_mut(self.id) {
                    e.owe_drain();
                }
                if let Some(s) = sock {
                    net::want_drain(s);
                }
            }
            match mismatch {
                Some(err) => Some(Err((err, cut_short))),
                None => Some(Ok(ok)),
            }
        })
        .flatten();
        match result {
            Some(Ok(ok)) => ok,
            Some(Err((e, abort))) => {
                if !emit(self.id, |l| &mut l.error, |f| f(&e)) {
                    e.report_unhandled("ClientRequest", "ClientRequest::on_error");
                }
                if abort {
                    self.abort();
                }
                false
            }
            None => false,
        }
    }

    /// Sends the request head now, before any body (Node's
    /// `flushHeaders`). Done automatically when an `Expect` header is set,
    /// so the server can answer `100 Continue` before the body is written.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// req.flush_headers();
    /// # }
    /// ```
    #[doc(alias = "flushHeaders")]
    pub fn flush_headers(&self) {
        with_state(|c| {
            let Some(e) = c.clients.get_mut(self.id) else {
                return;
            };
            if e.request.head_sent() || e.response.is_over() {
                return;
            }
            let mut out = e.take_out();
            write_request_head(e, &mut out, None);
            e.put_out(out);
            pump(c, self.id);
        });
    }

    /// Emits `timeout` ([`on_timeout`](Self::on_timeout)) when the
    /// request's socket has been idle for `ms` milliseconds while the
    /// request waits for or reads its response (Node's
    /// `request.setTimeout`). As in Node, that is all it does: the request
    /// goes on unless the listener ends it, usually with
    /// [`destroy`](Self::destroy). `0` disables it. An agent's
    /// `AgentOptions::timeout` sets it for the agent's requests. For a
    /// deadline that fails the request by itself, see
    /// [`set_deadline`](Self::set_deadline).
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// req.set_timeout(10_000);
    /// req.on_timeout(move || req.destroy(None)); // `error`: ECONNRESET, then `close`
    /// # }
    /// ```
    #[doc(alias = "setTimeout")]
    pub fn set_timeout(&self, ms: u64) {
        with_state(|c| {
            let timeout = (ms > 0).then(|| Duration::from_millis(ms));
            let Some(e) = c.clients.get_mut(self.id) else {
                return;
            };
            e.set_timeout(timeout);
            if let Some(sock) = e.socket {
                net::set_idle_timeout(sock, timeout);
            }
        });
    }

    /// Gives the whole exchange `ms` milliseconds, from now until the
    /// response's end: past that, the request fails with an
    /// [`ErrorKind::Aborted`] error (`ABORT_ERR`, as Node's
    /// `signal: AbortSignal.timeout(ms)` gives), its connection is destroyed,
    /// and `close` follows. Unlike [`set_timeout`](Self::set_timeout), which
    /// fires only when the socket is idle, a response that trickles in
    /// steadily cannot outlast it.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// req.set_deadline(5_000);
    /// req.on_error(|e| if e.code() == "ABORT_ERR" { eprintln!("gave up: {e}") });
    /// # }
    /// ```
    #[doc(alias = "AbortSignal.timeout")]
    pub fn set_deadline(&self, ms: u64) {
        let ctx = client_ctx(self.id);
        runtime::schedule(
            runtime::now() + Duration::from_millis(ms),
            runtime::Work::new(deadline_due, ctx).while_alive(client_alive),
        );
    }

    /// Aborts the request: a queued one never reaches the server; one in
    /// flight has its connection destroyed. Emits `abort`, then `close`
    /// (and its response, if any, gets `close`), as Node's documented
    /// sequences say; no `error`.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// nodelike::set_timeout(move || req.abort(), 1000);
    /// # }
    /// ```
    pub fn abort(&self) {
        let state = with_state(|c| {
            let e = c.clients.get_mut(self.id)?;
            if !e.response.end_early() {
                return None;
            }
            let started = e.response.started();
            let_go(c, self.id, Cause::Aborted);
            Some(started)
        })
        .flatten();
        if let Some(started) = state {
            log::debug!("client: request aborted");
            // Node's order: `abort`, the request's `close`, then the
            // response's.
            emit(self.id, |l| &mut l.abort, |f| f());
            emit(self.id, |l| &mut l.close, |f| f());
            if started {
                emit(self.id, |l| &mut l.res_close, |f| f());
            }
            with_state(|c| free_client(c, self.id));
        }
    }

    /// Adds a `timeout` listener: the socket was idle for the
    /// [`set_timeout`](Self::set_timeout) time (Node's
    /// `req.on('timeout')`).
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// req.set_timeout(5_000);
    /// req.on_timeout(move || {
    ///     let e = nodelike::Error::new(nodelike::ErrorKind::Timeout, "upstream too slow");
    ///     req.destroy(Some(e));
    /// });
    /// # }
    /// ```
    #[doc(alias = "timeout")]
    pub fn on_timeout(&self, f: impl FnMut() + 'static) -> &Self {
        self.add(|l| l.timeout.push(Box::new(f)));
        self
    }

    /// Destroys the request (Node's `req.destroy(err)`): its socket is
    /// destroyed, then `error` with `err` (or, without one, Node's
    /// `ECONNRESET` "socket hang up"), `close`, and the response's `close`
    /// if it had begun. A request already over is left alone.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// req.on_error(|e| eprintln!("{e}")); // socket hang up (ECONNRESET)
    /// req.destroy(None);
    /// # }
    /// ```
    pub fn destroy(&self, err: Option<Error>) {
        let live = with_state(|c| {
            let e = c.clients.get_mut(self.id)?;
            if e.response.is_over() {
                return None;
            }
            let_go(c, self.id, Cause::Aborted);
            Some(())
        })
        .flatten();
        if live.is_some() {
            let err =
                err.unwrap_or_else(|| Error::new(ErrorKind::ConnectionReset, "socket hang up"));
            fail(self.id, err);
        }
    }

    /// Whether `end` has been called (Node's `writableEnded`).
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// if !req.writable_ended() { req.end(()) }
    /// # }
    /// ```
    #[doc(alias = "writableEnded")]
    pub fn writable_ended(&self) -> bool {
        with_state(|c| c.clients.get(self.id).is_none_or(|e| e.request.ended())).unwrap_or(true)
    }

    /// Whether the whole request has been handed to its socket (Node's
    /// `writableFinished`; `finish` has been, or is about to be, emitted).
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// req.on_finish(move || assert!(req.writable_finished()));
    /// # }
    /// ```
    #[doc(alias = "writableFinished")]
    pub fn writable_finished(&self) -> bool {
        with_state(|c| c.clients.get(self.id).is_none_or(|e| e.request.finished())).unwrap_or(true)
    }

    /// Whether the request is over: destroyed, aborted, failed, or its
    /// response ended (Node's `req.destroyed`).
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// if !req.destroyed() { req.destroy(None) }
    /// # }
    /// ```
    pub fn destroyed(&self) -> bool {
        with_state(|c| c.clients.get(self.id).is_none_or(|e| e.response.is_over())).unwrap_or(true)
    }

    /// Adds trailer fields, sent after a chunked body (Node's
    /// `request.addTrailers`); announce them with a `Trailer` header, which
    /// also makes the body chunked. A body sent with a length has no room
    /// for them, and they are dropped, as in Node.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// req.set_header("Trailer", "X-Checksum");
    /// req.write("payload");
    /// req.add_trailers(&[("X-Checksum", "abc123")]);
    /// req.end(());
    /// # }
    /// ```
    #[doc(alias = "addTrailers")]
    pub fn add_trailers<H: HeaderList + ?Sized>(&self, trailers: &H) {
        trailers.with_pairs(|trailers| self.add_trailer_pairs(trailers));
    }

    fn add_trailer_pairs(&self, trailers: &[(&str, &str)]) {
        let bad = trailers
            .iter()
            .find(|(n, v)| !encode::is_valid_header_name(n) || !encode::is_valid_header_value(v));
        if let Some((n, _)) = bad {
            let e = Error::new(
                ErrorKind::InvalidHeader,
                format!("Invalid character in trailer {n:?}"),
            );
            if !emit(self.id, |l| &mut l.error, |f| f(&e)) {
                e.report_unhandled("ClientRequest", "ClientRequest::on_error");
            }
            return;
        }
        with_state(|c| {
            if let Some(e) = c.clients.get_mut(self.id) {
                e.trailers_out
                    .extend(trailers.iter().map(|(n, v)| (n.to_string(), v.to_string())));
            }
        });
    }

    /// Sets a header until the head is sent (a list sends one line each).
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// req.set_header("Content-Type", "application/json");
    /// # }
    /// ```
    #[doc(alias = "setHeader")]
    pub fn set_header(&self, name: &str, value: impl crate::http::IntoHeaderValues) {
        let values = value.into_header_values();
        let err = with_state(|c| {
            let e = c.clients.get_mut(self.id)?;
            if e.request.head_sent() {
                return Some(Error::new(
                    ErrorKind::HeadersSent,
                    "Cannot set headers after they are sent",
                ));
            }
            e.set_headers.set(name, values).err()
        })
        .flatten();
        if let Some(e) = err {
            if !emit(self.id, |l| &mut l.error, |f| f(&e)) {
                e.report_unhandled("ClientRequest", "ClientRequest::on_error");
            }
        }
    }

    /// A header set for sending, by case-insensitive name.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// req.set_header("X-A", "1");
    /// assert_eq!(req.get_header("x-a").unwrap().as_str(), "1");
    /// # }
    /// ```
    #[doc(alias = "getHeader")]
    pub fn get_header(&self, name: &str) -> Option<h1::HeaderValue> {
        with_state(|c| c.clients.get(self.id)?.set_headers.get(name)).flatten()
    }

    /// Whether a header is set for sending (Node's `hasHeader`).
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// if !req.has_header("user-agent") {
    ///     req.set_header("User-Agent", "nodelike");
    /// }
    /// # }
    /// ```
    #[doc(alias = "hasHeader")]
    pub fn has_header(&self, name: &str) -> bool {
        with_state(|c| {
            c.clients
                .get(self.id)
                .is_some_and(|e| e.set_headers.has(name))
        })
        .unwrap_or(false)
    }

    /// Every header set for sending, names in lower case (Node's
    /// `getHeaders`), `Host` included.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// for (name, value) in req.get_headers() {
    ///     println!("{name}: {}", value.as_str());
    /// }
    /// # }
    /// ```
    #[doc(alias = "getHeaders")]
    pub fn get_headers(&self) -> Vec<(String, h1::HeaderValue)> {
        with_state(|c| c.clients.get(self.id).map(|e| e.set_headers.all()))
            .flatten()
            .unwrap_or_default()
    }

    /// The names of the headers set for sending, in lower case (Node's
    /// `getHeaderNames`).
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// assert!(req.get_header_names().contains(&"host".to_string()));
    /// # }
    /// ```
    #[doc(alias = "getHeaderNames")]
    pub fn get_header_names(&self) -> Vec<String> {
        with_state(|c| c.clients.get(self.id).map(|e| e.set_headers.names()))
            .flatten()
            .unwrap_or_default()
    }

    /// Removes a header before the head is sent.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// req.remove_header("User-Agent");
    /// # }
    /// ```
    #[doc(alias = "removeHeader")]
    pub fn remove_header(&self, name: &str) {
        with_state(|c| {
            if let Some(e) = c.clients.get_mut(self.id) {
                if !e.request.head_sent() {
                    e.set_headers.remove(name);
                }
            }
        });
    }

    /// Adds a `response` listener (besides the one given to `request`).
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// req.on_response(|res| println!("{}", res.status_code()));
    /// # }
    /// ```
    #[doc(alias = "response")]
    pub fn on_response(&self, f: impl FnMut(ClientResponse) + 'static) -> &Self {
        self.add(|l| l.response.push(Box::new(f)));
        self
    }

    /// Adds an `error` listener: connection refused or reset, name not
    /// found, a malformed response, or the connection closing early
    /// ("socket hang up"). [`Error::kind`] tells which.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// req.on_error(|e| eprintln!("problem with request: {e}"));
    /// # }
    /// ```
    #[doc(alias = "error")]
    pub fn on_error(&self, f: impl FnMut(&Error) + 'static) -> &Self {
        self.add(|l| l.error.push(Box::new(f)));
        self
    }

    /// Sets `TCP_NODELAY` on the request's socket, now or once it has one
    /// (Node's `request.setNoDelay`).
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// req.set_no_delay(true);
    /// # }
    /// ```
    #[doc(alias = "setNoDelay")]
    pub fn set_no_delay(&self, no_delay: bool) {
        if let Some(socket) = self.remember_socket_option(|e| e.set_no_delay(no_delay)) {
            socket.set_no_delay(no_delay);
        }
    }

    /// Turns TCP keep-alive probes on or off for the request's socket, now
    /// or once it has one (Node's `request.setSocketKeepAlive`).
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// req.set_socket_keep_alive(true, 30_000);
    /// # }
    /// ```
    #[doc(alias = "setSocketKeepAlive")]
    pub fn set_socket_keep_alive(&self, enable: bool, initial_delay_ms: u64) {
        let option = Some((enable, initial_delay_ms));
        if let Some(socket) = self.remember_socket_option(|e| e.set_socket_keep_alive(option)) {
            socket.set_keep_alive(enable, initial_delay_ms);
        }
    }

    /// Records a socket option for the socket the request gets (applied
    /// with its `socket` event); returns the socket it already has, to
    /// apply it now.
    fn remember_socket_option(&self, record: impl FnOnce(&mut ClientExchange)) -> Option<Socket> {
        with_state(|c| {
            let e = c.clients.get_mut(self.id)?;
            record(e);
            e.socket.map(Socket::from_id)
        })
        .flatten()
    }

    /// Adds a `socket` listener: the socket the request was given (a new
    /// connection or a pooled one), on the tick after.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// req.on_socket(|socket| println!("on {:?}", socket.local_port()));
    /// # }
    /// ```
    #[doc(alias = "socket")]
    pub fn on_socket(&self, f: impl FnMut(Socket) + 'static) -> &Self {
        self.add(|l| l.socket.push(Box::new(f)));
        self
    }

    /// Adds a `finish` listener: the whole request (head and body) has been
    /// handed to its socket.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// req.on_finish(|| println!("sent"));
    /// # }
    /// ```
    #[doc(alias = "finish")]
    pub fn on_finish(&self, f: impl FnMut() + 'static) -> &Self {
        self.add(|l| l.finish.push(Box::new(f)));
        self
    }

    /// Adds a `close` listener: the exchange is over (its response ended,
    /// it failed, or it was aborted). Fires once, before the response's own
    /// `close`.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// req.on_close(|| println!("done"));
    /// # }
    /// ```
    #[doc(alias = "close")]
    pub fn on_close(&self, f: impl FnMut() + 'static) -> &Self {
        self.add(|l| l.close.push(Box::new(f)));
        self
    }

    /// Adds an `abort` listener: [`abort`](Self::abort) was called.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// req.on_abort(|| println!("given up"));
    /// # }
    /// ```
    #[doc(alias = "abort")]
    pub fn on_abort(&self, f: impl FnMut() + 'static) -> &Self {
        self.add(|l| l.abort.push(Box::new(f)));
        self
    }

    /// Adds a `drain` listener (after `write` returned `false`).
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// req.on_drain(|| println!("write more"));
    /// # }
    /// ```
    #[doc(alias = "drain")]
    pub fn on_drain(&self, f: impl FnMut() + 'static) -> &Self {
        self.add(|l| l.drain.push(Box::new(f)));
        self
    }

    /// Adds a `continue` listener: the server sent `100 Continue`.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// req.on_continue(move || req.end("the body"));
    /// # }
    /// ```
    #[doc(alias = "continue")]
    pub fn on_continue(&self, f: impl FnMut() + 'static) -> &Self {
        self.add(|l| l.continue_.push(Box::new(f)));
        self
    }

    /// Adds an `upgrade` listener: the server switched protocols (101); the
    /// socket and the bytes after the head are yours. Without a listener
    /// the connection is closed.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// req.on_upgrade(|_res, socket, _head| socket.end("bye"));
    /// # }
    /// ```
    #[doc(alias = "upgrade")]
    pub fn on_upgrade(&self, f: impl FnMut(ClientResponse, Socket, &[u8]) + 'static) -> &Self {
        self.add(|l| l.upgrade.push(Box::new(f)));
        self
    }

    /// Adds a `connect` listener: a 2xx answer to this `CONNECT` request
    /// opened a tunnel; the socket and the bytes after the head are yours
    /// (raw `data` from now on). The response is never a `response` event,
    /// and its socket never goes back to the agent's pool. Without a
    /// listener the connection is closed. Unlike Node, which hands every
    /// answer to a `CONNECT` to `connect`, a non-2xx answer (a proxy's
    /// `407`, say) is an ordinary response, body and all; its socket is
    /// closed after it, never pooled.
    ///
    /// ```no_run
    /// use nodelike::http::{self, RequestOptions};
    /// let req = http::request(
    ///     RequestOptions {
    ///         port: 8080, // the proxy
    ///         method: "CONNECT".into(),
    ///         path: "example.com:80".into(),
    ///         ..Default::default()
    ///     },
    ///     |res| eprintln!("the proxy refused: {}", res.status_code()),
    /// );
    /// req.on_connect(|res, socket, _head| {
    ///     println!("tunnel open ({})", res.status_code());
    ///     socket.write("GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n");
    ///     socket.on_data(|chunk| print!("{chunk}"));
    /// });
    /// req.end(());
    /// nodelike::run();
    /// ```
    #[doc(alias = "connect")]
    pub fn on_connect(&self, f: impl FnMut(ClientResponse, Socket, &[u8]) + 'static) -> &Self {
        self.add(|l| l.connect.push(Box::new(f)));
        self
    }

    fn add(&self, f: impl FnOnce(&mut ClientListeners)) {
        with_state(|c| {
            if let Some(e) = c.clients.get_mut(self.id) {
                f(&mut e.listeners);
            }
        });
    }
}

/// The `Host` header Node computes: the host (an IPv6 address in
/// brackets), with the port unless it is the scheme's default.
fn host_header(o: &RequestOptions) -> String {
    #[cfg(feature = "tls")]
    let default_port = if o.tls.is_some() { 443 } else { 80 };
    #[cfg(not(feature = "tls"))]
    let default_port = 80;
    let host = if o.host.contains(':') && !o.host.starts_with('[') {
        format!("[{}]", o.host)
    } else {
        o.host.clone()
    };
    if o.port == default_port {
        host
    } else {
        format!("{host}:{}", o.port)
    }
}

/// Serializes the request line and headers, deciding the framing.
pub(super) fn write_request_head(
    e: &mut ClientExchange,
    out: &mut Vec<u8>,
    end_len: Option<usize>,
) {
    let Some(o) = &e.options else { return };
    out.extend_from_slice(o.method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(o.path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let has = |name: &str| e.set_headers.has(name);
    let mut length = None;
    let mut chunked_by_user = false;
    for (n, values) in e.set_headers.iter() {
        for v in values {
            if n.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse::<u64>().ok();
            }
            if n.eq_ignore_ascii_case("transfer-encoding")
                && v.to_ascii_lowercase().contains("chunked")
            {
                chunked_by_user = true;
            }
            encode::write_header(out, n, v);
        }
    }
    // Node's order: the caller's headers, `Connection`, then the framing.
    // A pooling agent says `keep-alive` (Node 20's default agent does).
    if !has("connection") {
        if o.agent.is_none() || e.close_after {
            out.extend_from_slice(b"Connection: close\r\n");
        } else {
            out.extend_from_slice(b"Connection: keep-alive\r\n");
        }
    }
    // GET, HEAD, DELETE, OPTIONS, TRACE and CONNECT have no body unless
    // one is written (Node's useChunkedEncodingByDefault).
    let bodiless_method = ["GET", "HEAD", "DELETE", "OPTIONS", "TRACE", "CONNECT"]
        .iter()
        .any(|m| o.method.eq_ignore_ascii_case(m));
    let framing = if chunked_by_user {
        Framing::Chunked
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        match end_len {
            Some(0) if bodiless_method && !has("trailer") => Framing::NoBody,
            // Announced trailers need chunked framing (Node's rule).
            Some(n) if !has("trailer") => {
                out.extend_from_slice(b"Content-Length: ");
                encode::write_decimal(out, n as u64);
                out.extend_from_slice(b"\r\n");
                Framing::Length(n as u64)
            }
            _ => {
                out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
                Framing::Chunked
            }
        }
    };
    out.extend_from_slice(b"\r\n");
    e.head_written(framing);
}

/// `drain` for the request on a client socket.
pub(super) fn emit_request_drain(sock: SockId) {
    let ex = with_state(|c| {
        c.conns
            .get(sock)
            .and_then(|conn| conn.ex)
            .filter(|ex| c.clients.get(*ex).is_some())
    })
    .flatten();
    if let Some(ex) = ex {
        let wanted = with_state(|c| c.clients.get_mut(ex).map(|e| e.take_drain()))
            .flatten()
            .unwrap_or(false);
        if wanted {
            emit(ex, |l| &mut l.drain, |f| f());
        }
    }
}

/// `Work::alive` for a request's deadline: whether the exchange is still
/// there (a finished one's deadline is dropped when the heap is compacted).
fn client_alive(ctx: u64) -> bool {
    with_state(|c| {
        c.clients
            .get(client_from_ctx(ctx))
            .is_some_and(|e| !e.response.is_over())
    })
    .unwrap_or(false)
}

/// A request's deadline came: fail it unless it is over.
fn deadline_due(ctx: u64) {
    let id = client_from_ctx(ctx);
    let live = with_state(|c| {
        let e = c.clients.get(id)?;
        if e.response.is_over() {
            return None;
        }
        let_go(c, id, Cause::Timeout);
        Some(())
    })
    .flatten();
    if live.is_none() {
        return;
    }
    log::debug!("client: request past its deadline");
    fail(
        id,
        Error::new(
            ErrorKind::Aborted,
            "The operation was aborted due to timeout",
        ),
    );
}

impl ClientRequest {
    /// Bytes written but not yet handed to the OS (Node's
    /// `writableLength`): what waits for a socket, and the socket's
    /// backlog.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// println!("{} bytes queued", req.writable_length());
    /// # }
    /// ```
    #[doc(alias = "writableLength")]
    pub fn writable_length(&self) -> usize {
        with_state(|c| {
            let e = c.clients.get(self.id)?;
            Some(e.out.len() + e.socket.map_or(0, net::backlog))
        })
        .flatten()
        .unwrap_or(0)
    }

    /// Holds the socket's writes until [`uncork`](Self::uncork) (Node's
    /// `req.cork()`); before the request has a socket, nothing is written
    /// anyway.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// req.cork();
    /// req.write("a");
    /// req.write("b");
    /// req.uncork();
    /// # }
    /// ```
    pub fn cork(&self) {
        if let Some(socket) = self.socket_now() {
            socket.cork();
        }
    }

    /// Undoes one [`cork`](Self::cork) (Node's `req.uncork()`).
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// req.uncork();
    /// # }
    /// ```
    pub fn uncork(&self) {
        if let Some(socket) = self.socket_now() {
            socket.uncork();
        }
    }

    /// The buffer size past which `write` returns `false`: 16 KiB (Node's
    /// `writableHighWaterMark`).
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::ClientRequest) {
    /// assert_eq!(req.writable_high_water_mark(), 16 * 1024);
    /// # }
    /// ```
    #[doc(alias = "writableHighWaterMark")]
    pub fn writable_high_water_mark(&self) -> usize {
        HIGH_WATER_MARK
    }

    /// The request's socket, once it has one.
    fn socket_now(&self) -> Option<Socket> {
        with_state(|c| c.clients.get(self.id).and_then(|e| e.socket))
            .flatten()
            .map(Socket::from_id)
    }
}

/// The request's body as a Node `Writable`: `pipe` a file, an upload, a
/// server's request into it (the proxy).
///
/// ```no_run
/// use nodelike::http;
/// use nodelike::stream::Readable;
/// http::create_server(|req, res| {
///     let upstream = http::request("http://127.0.0.1:9000/", move |up| {
///         up.pipe(res);
///     });
///     req.pipe(upstream);
/// });
/// ```
impl crate::stream::Stream for ClientRequest {
    fn destroy(&self, error: Option<Error>) {
        ClientRequest::destroy(self, error);
    }

    fn destroyed(&self) -> bool {
        ClientRequest::destroyed(self)
    }

    fn on_error(&self, f: impl FnMut(&Error) + 'static) {
        ClientRequest::on_error(self, f);
    }

    fn on_close(&self, f: impl FnMut() + 'static) {
        ClientRequest::on_close(self, f);
    }

    fn end_of_stream(&self, callback: Box<dyn FnOnce(Option<Error>)>) {
        crate::stream::EndOfStream::writable(*self, callback);
    }
}

crate::stream::writable_by_its_own_methods!(ClientRequest);
