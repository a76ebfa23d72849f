//! Node's `http.ServerResponse`.

use super::conn::{self, complete_front};
use super::exchange::{ExId, Exchange, Wire};
use super::{with_state, ServerState};
use crate::chunk::IntoChunk;
use crate::http::h1::{DateCache, HeaderValue};
use crate::http::outgoing::{check_header, HeaderList};
use crate::net::{self, SockId, Socket, HIGH_WATER_MARK};
use crate::runtime::{self, LoopBound};
use crate::{Error, ErrorKind};

/// The response to one request: a writable stream. A cheap `Copy` handle.
///
/// Headers can be set until the head is sent ([`set_header`],
/// [`write_head`]); the head goes out with the first [`write`] or [`end`],
/// which also decides the framing: a `Content-Length` you set is used;
/// `end(data)` with no earlier `write` sends `Content-Length`; otherwise the
/// body is chunked (HTTP/1.1) or close-delimited (HTTP/1.0). HEAD, 1xx, 204
/// and 304 responses never carry body bytes.
///
/// Misuse (a second `write_head`, `set_header` after the head was sent,
/// `write` after `end`) changes nothing on the wire and is reported as an
/// [`Error`] to [`on_error`](Self::on_error) listeners (or logged at error
/// level when there are none), as Node reports it with an exception.
///
/// [`set_header`]: Self::set_header
/// [`write_head`]: Self::write_head
/// [`write`]: Self::write
/// [`end`]: Self::end
///
/// ```no_run
/// nodelike::http::create_server(|_req, res| {
///     res.set_header("Content-Type", "text/plain");
///     res.set_header("Set-Cookie", ["a=1", "b=2"]);
///     res.write("Hello, ");
///     res.end("World!\n");
/// })
/// .listen(8000, "127.0.0.1", || {});
/// nodelike::run();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ServerResponse {
    pub(crate) ex: ExId,
    _loop: LoopBound,
}

/// Values [`ServerResponse::set_header`] accepts: one value, or a list sent
/// as one header line each.
///
/// ```
/// use nodelike::http::IntoHeaderValues;
/// assert_eq!("a".into_header_values(), vec!["a".to_string()]);
/// assert_eq!(["a", "b"].into_header_values().len(), 2);
/// assert_eq!(42u64.into_header_values(), vec!["42".to_string()]);
/// ```
pub trait IntoHeaderValues {
    /// The values, one per header line.
    fn into_header_values(self) -> Vec<String>;
}

impl IntoHeaderValues for &str {
    fn into_header_values(self) -> Vec<String> {
        vec![self.to_owned()]
    }
}
impl IntoHeaderValues for String {
    fn into_header_values(self) -> Vec<String> {
        vec![self]
    }
}
impl IntoHeaderValues for &String {
    fn into_header_values(self) -> Vec<String> {
        vec![self.clone()]
    }
}
impl IntoHeaderValues for u64 {
    fn into_header_values(self) -> Vec<String> {
        vec![self.to_string()]
    }
}
impl IntoHeaderValues for usize {
    fn into_header_values(self) -> Vec<String> {
        vec![self.to_string()]
    }
}
impl IntoHeaderValues for Vec<String> {
    fn into_header_values(self) -> Vec<String> {
        self
    }
}
impl IntoHeaderValues for &[&str] {
    fn into_header_values(self) -> Vec<String> {
        self.iter().map(|s| s.to_string()).collect()
    }
}
impl<const N: usize> IntoHeaderValues for [&str; N] {
    fn into_header_values(self) -> Vec<String> {
        self.iter().map(|s| s.to_string()).collect()
    }
}
impl IntoHeaderValues for Vec<&str> {
    fn into_header_values(self) -> Vec<String> {
        self.into_iter().map(String::from).collect()
    }
}

macro_rules! header_values_from_integers {
    ($($t:ty),*) => {$(
        impl IntoHeaderValues for $t {
            fn into_header_values(self) -> Vec<String> {
                vec![self.to_string()]
            }
        }
    )*};
}
header_values_from_integers!(u8, u16, u32, u128, i8, i16, i32, i64, i128, isize);

impl ServerResponse {
    pub(crate) fn new(ex: ExId) -> ServerResponse {
        ServerResponse {
            ex,
            _loop: LoopBound::default(),
        }
    }

    fn read<R: Default>(&self, f: impl FnOnce(&Exchange) -> R) -> R {
        with_state(|st| st.exchanges.get(self.ex).map(f))
            .flatten()
            .unwrap_or_default()
    }

    /// Runs `f` on the exchange; an error it returns goes to `error`.
    fn mutate(&self, f: impl FnOnce(&mut Exchange) -> Result<(), Error>) {
        let result = with_state(|st| st.exchanges.get_mut(self.ex).map(f)).flatten();
        if let Some(Err(e)) = result {
            self.report(e);
        }
    }

    pub(super) fn report(&self, e: Error) {
        if !conn::emit_ex(self.ex, |l| &mut l.error, |f| f(&e)) {
            e.report_unhandled("ServerResponse", "ServerResponse::on_error");
        }
    }

    /// Sends `100 Continue` (for a request with `Expect: 100-continue`, from
    /// a `check_continue` listener).
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ServerResponse) {
    /// res.write_continue();
    /// # }
    /// ```
    #[doc(alias = "writeContinue")]
    pub fn write_continue(&self) {
        if self.read(|e| matches!(e.wire, Wire::Http2 { .. })) {
            super::h2::write_continue(self.ex);
            return;
        }
        with_state(|st| {
            let e = st.exchanges.get(self.ex);
            if matches!(e, Some(e) if !e.response_head.is_written() && e.wire == Wire::Http1) {
                output(st, self.ex, |_, out, _| {
                    out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n")
                });
            }
        });
    }

    /// Fixes the status and headers (Node's `writeHead`); headers set with
    /// [`set_header`](Self::set_header) are merged in, these win. Repeat a
    /// name to send several lines. The head goes out with the first
    /// `write`/`end`.
    ///
    /// The list is any [`HeaderList`]: `&[]` for none, a literal of `&str`
    /// pairs, or a slice or `Vec` of pairs of `&str` and `String` built at
    /// run time. In a literal, a `String` value is written `.as_str()`
    /// (the compiler points there); any other iterator of pairs goes
    /// through [`write_head_from`](Self::write_head_from).
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ServerResponse) {
    /// let body = "hello world";
    /// let length = body.len().to_string();
    /// res.write_head(200, &[("Content-Length", length.as_str()), ("Content-Type", "text/plain")]);
    /// res.end(body);
    /// # }
    /// ```
    #[doc(alias = "writeHead")]
    pub fn write_head<H: HeaderList + ?Sized>(&self, status: u16, headers: &H) {
        headers.with_pairs(|headers| self.mutate(|e| e.commit_head(status, None, headers)));
    }

    /// [`write_head`](Self::write_head) with headers from any iterator of
    /// name/value pairs: a `Vec<(String, String)>` built at run time, a
    /// map, pairs of `&str` and `String`.
    ///
    /// ```
    /// let server = nodelike::http::create_server(|req, res| {
    ///     let headers: Vec<(String, String)> =
    ///         vec![("X-Url".into(), req.url()), ("X-Count".into(), 2.to_string())];
    ///     res.write_head_from(200, headers);
    ///     res.end(());
    /// });
    /// let conn = server.connect_in_memory();
    /// conn.send(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    /// let answer = String::from_utf8(conn.take_output()).unwrap();
    /// assert!(answer.contains("X-Url: /a\r\n") && answer.contains("X-Count: 2\r\n"));
    /// ```
    #[doc(alias = "writeHead")]
    pub fn write_head_from<K: AsRef<str>, V: AsRef<str>>(
        &self,
        status: u16,
        headers: impl IntoIterator<Item = (K, V)>,
    ) {
        let owned: Vec<(K, V)> = headers.into_iter().collect();
        self.write_head(status, &owned);
    }

    /// [`write_head`](Self::write_head) with a reason phrase of your own.
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ServerResponse) {
    /// res.write_head_with_reason(404, "Nothing Here", &[]);
    /// res.end(());
    /// # }
    /// ```
    #[doc(alias = "writeHead")]
    pub fn write_head_with_reason<H: HeaderList + ?Sized>(
        &self,
        status: u16,
        reason: &str,
        headers: &H,
    ) {
        headers.with_pairs(|headers| self.mutate(|e| e.commit_head(status, Some(reason), headers)));
    }

    /// The status code that implicit headers will send (default 200).
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ServerResponse) {
    /// assert_eq!(res.status_code(), 200);
    /// # }
    /// ```
    #[doc(alias = "statusCode")]
    pub fn status_code(&self) -> u16 {
        self.read(|e| e.status)
    }

    /// Sets the status code for implicit headers (Node's
    /// `response.statusCode = 404`). Over HTTP/2 only a final status
    /// (200 to 599) is accepted; any other is reported to `on_error` and
    /// the status stays as it was (Node throws).
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ServerResponse) {
    /// res.set_status_code(404);
    /// res.end("not found\n");
    /// # }
    /// ```
    #[doc(alias = "statusCode")]
    pub fn set_status_code(&self, status: u16) {
        self.mutate(|e| {
            if e.response_head.is_fixed() {
                return Err(Error::new(
                    ErrorKind::HeadersSent,
                    "Cannot set the status after headers are sent",
                ));
            }
            // Over HTTP/2 a status that cannot be sent is refused here,
            // as Node's setter does; HTTP/1.1 checks it with the head.
            if matches!(e.wire, Wire::Http2 { .. }) {
                e.check_status(status)?;
            }
            e.status = status;
            Ok(())
        });
    }

    /// Sets the reason phrase for implicit headers (Node's `statusMessage`).
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ServerResponse) {
    /// res.set_status_code(599);
    /// res.set_status_message("Custom");
    /// # }
    /// ```
    #[doc(alias = "statusMessage")]
    pub fn set_status_message(&self, reason: &str) {
        let reason = reason.to_owned();
        self.mutate(move |e| {
            if e.response_head.is_fixed() {
                return Err(Error::new(
                    ErrorKind::HeadersSent,
                    "Cannot set the status after headers are sent",
                ));
            }
            if reason.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                return Err(Error::new(
                    ErrorKind::InvalidHeader,
                    "Invalid character in statusMessage",
                ));
            }
            e.reason = Some(reason);
            Ok(())
        });
    }

    /// Sets a header for implicit sending, replacing one of the same name
    /// (case-insensitively). A list sends one line per element.
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ServerResponse) {
    /// res.set_header("Content-Type", "text/html");
    /// res.set_header("Set-Cookie", ["type=ninja", "language=javascript"]);
    /// # }
    /// ```
    #[doc(alias = "setHeader")]
    pub fn set_header(&self, name: &str, value: impl IntoHeaderValues) {
        let values = value.into_header_values();
        self.mutate(|e| {
            if e.response_head.is_fixed() {
                return Err(Error::new(
                    ErrorKind::HeadersSent,
                    "Cannot set headers after they are sent to the client",
                ));
            }
            e.set_headers.set(name, values)
        });
    }

    /// A header queued with [`set_header`](Self::set_header), by
    /// case-insensitive name.
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ServerResponse) {
    /// res.set_header("Content-Type", "text/plain");
    /// assert_eq!(res.get_header("content-type").unwrap().as_str(), "text/plain");
    /// # }
    /// ```
    #[doc(alias = "getHeader")]
    pub fn get_header(&self, name: &str) -> Option<HeaderValue> {
        self.read(|e| e.set_headers.get(name))
    }

    /// Every header queued with [`set_header`](Self::set_header), names in
    /// lower case (Node's `getHeaders()`).
    ///
    /// ```
    /// let server = nodelike::http::create_server(|_req, res| {
    ///     res.set_header("X-A", "1");
    ///     res.set_header("Set-Cookie", ["a=1", "b=2"]);
    ///     let names: Vec<String> = res.get_headers().into_iter().map(|(n, _)| n).collect();
    ///     assert_eq!(names, ["x-a", "set-cookie"]);
    ///     res.end(());
    /// });
    /// let conn = server.connect_in_memory();
    /// conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    /// assert!(conn.take_output().starts_with(b"HTTP/1.1 200 OK"));
    /// ```
    #[doc(alias = "getHeaders")]
    pub fn get_headers(&self) -> Vec<(String, HeaderValue)> {
        self.read(|e| e.set_headers.all())
    }

    /// The names of the queued headers, in lower case (Node's
    /// `getHeaderNames()`).
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ServerResponse) {
    /// res.set_header("Content-Type", "text/plain");
    /// assert_eq!(res.get_header_names(), ["content-type"]);
    /// # }
    /// ```
    #[doc(alias = "getHeaderNames")]
    pub fn get_header_names(&self) -> Vec<String> {
        self.read(|e| e.set_headers.names())
    }

    /// The reason phrase that goes (or went) out with the status (Node's
    /// `statusMessage`): the one set, or the standard one for the code.
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ServerResponse) {
    /// res.set_status_code(404);
    /// assert_eq!(res.status_message(), "Not Found");
    /// # }
    /// ```
    #[doc(alias = "statusMessage")]
    pub fn status_message(&self) -> String {
        self.read(|e| {
            e.reason
                .clone()
                .unwrap_or_else(|| crate::http::h1::encode::reason_phrase(e.status).to_owned())
        })
    }

    /// Whether a `Date` header is added when the handler set none (Node's
    /// `sendDate`, default `true`).
    ///
    /// ```
    /// let server = nodelike::http::create_server(|_req, res| {
    ///     res.set_send_date(false);
    ///     res.end(());
    /// });
    /// let conn = server.connect_in_memory();
    /// conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    /// assert!(!String::from_utf8(conn.take_output()).unwrap().contains("Date:"));
    /// ```
    #[doc(alias = "setSendDate")]
    pub fn set_send_date(&self, send: bool) {
        self.mutate(|e| {
            e.send_date = send;
            Ok(())
        });
    }

    /// Whether a header is queued under `name`.
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ServerResponse) {
    /// if !res.has_header("content-type") { res.set_header("Content-Type", "text/plain") }
    /// # }
    /// ```
    #[doc(alias = "hasHeader")]
    pub fn has_header(&self, name: &str) -> bool {
        self.read(|e| e.set_headers.has(name))
    }

    /// Removes a header queued for implicit sending.
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ServerResponse) {
    /// res.remove_header("Content-Encoding");
    /// # }
    /// ```
    #[doc(alias = "removeHeader")]
    pub fn remove_header(&self, name: &str) {
        self.mutate(|e| {
            if e.response_head.is_fixed() {
                return Err(Error::new(
                    ErrorKind::HeadersSent,
                    "Cannot remove headers after they are sent",
                ));
            }
            e.set_headers.remove(name);
            // As in Node, removing a header the server would add keeps it
            // out: no automatic length (chunked instead), no chunked
            // framing (the body then runs to the close), no `Connection`
            // or `Date` line.
            if name.eq_ignore_ascii_case("content-length") {
                e.removed_content_length = true;
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                e.removed_transfer_encoding = true;
            } else if name.eq_ignore_ascii_case("connection") {
                e.removed_connection = true;
            } else if name.eq_ignore_ascii_case("date") {
                e.send_date = false;
            }
            Ok(())
        });
    }

    /// Whether the head has been fixed (`write_head`, `write` or `end` was
    /// called): headers can no longer change (Node's `headersSent`).
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ServerResponse) {
    /// if !res.headers_sent() { res.set_header("X-Late", "ok") }
    /// # }
    /// ```
    #[doc(alias = "headersSent")]
    pub fn headers_sent(&self) -> bool {
        self.read(|e| e.response_head.is_fixed())
    }

    /// Whether `end` has been called (Node's `writableEnded`).
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ServerResponse) {
    /// if !res.writable_ended() { res.end(()) }
    /// # }
    /// ```
    #[doc(alias = "writableEnded")]
    pub fn writable_ended(&self) -> bool {
        self.read(|e| e.response_body.ended())
    }

    /// Whether the last byte has been handed to the OS (Node's
    /// `writableFinished`).
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ServerResponse) {
    /// res.on_close(move || println!("complete: {}", res.writable_finished()));
    /// # }
    /// ```
    #[doc(alias = "writableFinished")]
    pub fn writable_finished(&self) -> bool {
        with_state(|st| match st.exchanges.get(self.ex) {
            Some(e) => e.response_body.finished(),
            // Freed: it finished (or its connection died, which emitted close).
            None => true,
        })
        .unwrap_or(true)
    }

    /// Sends a chunk of the body (the head first, if not sent yet). Returns
    /// `false` when the data had to be queued beyond the high-water mark
    /// (16 KiB): wait for `drain` before writing more. An empty chunk sends
    /// nothing.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::IncomingMessage, res: nodelike::http::ServerResponse) {
    /// req.on_data(move |chunk| if !res.write(chunk) { req.pause() });
    /// res.on_drain(move || req.resume());
    /// # }
    /// ```
    pub fn write(&self, chunk: impl IntoChunk) -> bool {
        let data = chunk.chunk_bytes();
        if data.is_empty() {
            // Node sends nothing for an empty write, not even the head.
            return self.read(|e| !e.response_body.ended());
        }
        self.send(data, false)
    }

    /// Finishes the response, with a last chunk of data or `()` for none.
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ServerResponse) {
    /// res.end("bye\n");
    /// # }
    /// ```
    pub fn end(&self, chunk: impl IntoChunk) {
        let data = chunk.chunk_bytes();
        if data.is_empty() && self.writable_ended() {
            // Node: `end()` again, with no data, is a no-op (data after
            // the end is an error).
            return;
        }
        self.send(data, true);
    }

    /// Sends the head now, before any body (Node's `res.flushHeaders()`):
    /// a client waiting on a slow body sees the status at once. The body
    /// that follows is then chunked unless a `Content-Length` was set.
    ///
    /// ```
    /// let server = nodelike::http::create_server(|_req, res| {
    ///     res.set_header("X-Early", "yes");
    ///     res.flush_headers(); // the body comes later
    /// });
    /// let conn = server.connect_in_memory();
    /// conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    /// let head = String::from_utf8(conn.take_output()).unwrap();
    /// assert!(head.starts_with("HTTP/1.1 200 OK\r\nX-Early: yes\r\n"));
    /// assert!(head.ends_with("Transfer-Encoding: chunked\r\n\r\n"));
    /// ```
    #[doc(alias = "flushHeaders")]
    pub fn flush_headers(&self) {
        if self.read(|e| e.response_head.is_written() || e.response_body.ended()) {
            return;
        }
        // An empty chunk of body: the head goes out, nothing else.
        self.send(&[], false);
    }

    fn send(&self, data: &[u8], end: bool) -> bool {
        let result = with_state(|st| send(st, self.ex, data, end)).flatten();
        match result {
            Some(Ok(ok)) => ok,
            Some(Err(e)) => {
                self.report(e);
                false
            }
            None => false,
        }
    }

    /// Adds trailer fields, sent after a chunked body (and silently dropped
    /// otherwise, as Node does). Announce them with a `Trailer` header.
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ServerResponse) {
    /// res.write_head(200, &[("Content-Type", "text/plain"), ("Trailer", "Content-MD5")]);
    /// res.write("data");
    /// res.add_trailers(&[("Content-MD5", "7895bf4b8828b55ceaf47747b4bca667")]);
    /// res.end(());
    /// # }
    /// ```
    #[doc(alias = "addTrailers")]
    pub fn add_trailers<H: HeaderList + ?Sized>(&self, trailers: &H) {
        trailers.with_pairs(|trailers| self.add_trailer_pairs(trailers));
    }

    fn add_trailer_pairs(&self, trailers: &[(&str, &str)]) {
        self.mutate(|e| {
            for (n, v) in trailers {
                check_header(n, v)?;
            }
            e.trailers_out
                .extend(trailers.iter().map(|(n, v)| (n.to_string(), v.to_string())));
            Ok(())
        });
    }

    /// Destroys the response's connection (Node's `res.destroy()`, which
    /// destroys `res.socket`): what is unsent is dropped, the request gets
    /// `close` with `aborted` and the response its `close`. This is how a
    /// handler tells the client that a response whose head already went
    /// out is cut short: the client sees a truncated body (a chunked body
    /// without its last chunk, or fewer bytes than `Content-Length`),
    /// never a clean end.
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ServerResponse) {
    /// res.write_head(200, &[("Content-Type", "text/plain")]);
    /// res.write("the first half...");
    /// // The rest cannot be had (an upstream failed): cut it short.
    /// res.destroy();
    /// # }
    /// ```
    pub fn destroy(&self) {
        if self.read(|e| matches!(e.wire, Wire::Http2 { .. })) {
            // Over HTTP/2 only this stream ends (RST_STREAM), not the
            // connection its neighbours share.
            super::h2::reset_stream(self.ex);
            return;
        }
        let socket = self.connection();
        if socket.is_open() {
            socket.destroy();
        }
    }

    /// Whether the response's `close` has been emitted, after it finished
    /// or because its connection died (Node's `res.destroyed`, which Node
    /// sets as it emits `close`). A stale handle says `true`.
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ServerResponse) {
    /// res.on_finish(move || println!("destroyed yet: {}", res.destroyed()));
    /// # }
    /// ```
    pub fn destroyed(&self) -> bool {
        with_state(|st| st.exchanges.get(self.ex).is_none_or(|e| e.res_closed)).unwrap_or(true)
    }

    /// Whether `close` has been emitted (Node's `res.closed`); the same as
    /// [`destroyed`](Self::destroyed).
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ServerResponse) {
    /// res.on_close(move || assert!(res.closed()));
    /// # }
    /// ```
    pub fn closed(&self) -> bool {
        self.destroyed()
    }

    /// The connection the response goes out on.
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ServerResponse) {
    /// res.connection().set_timeout(10_000);
    /// # }
    /// ```
    pub fn connection(&self) -> Socket {
        let id = with_state(|st| st.exchanges.get(self.ex).and_then(|e| e.socket)).flatten();
        Socket::from_id(id.unwrap_or(SockId::NONE))
    }

    /// Adds a `drain` listener: the output queue emptied after `write`
    /// returned `false`.
    ///
    /// ```no_run
    /// # fn f(req: nodelike::http::IncomingMessage, res: nodelike::http::ServerResponse) {
    /// res.on_drain(move || req.resume());
    /// # }
    /// ```
    #[doc(alias = "drain")]
    pub fn on_drain(&self, f: impl FnMut() + 'static) {
        self.add(|e| e.listeners.drain.push(Box::new(f)));
    }

    /// Adds a `finish` listener: the last byte of the response was handed to
    /// the OS.
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ServerResponse) {
    /// res.on_finish(|| println!("sent"));
    /// # }
    /// ```
    #[doc(alias = "finish")]
    pub fn on_finish(&self, f: impl FnMut() + 'static) {
        self.add(|e| e.listeners.finish.push(Box::new(f)));
    }

    /// Adds a `close` listener: the response is over, either finished
    /// (after `finish`) or cut off because the connection closed first
    /// (check [`writable_finished`](Self::writable_finished)).
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ServerResponse) {
    /// res.on_close(move || if !res.writable_finished() { eprintln!("client went away") });
    /// # }
    /// ```
    #[doc(alias = "close")]
    pub fn on_close(&self, f: impl FnMut() + 'static) {
        self.add(|e| e.listeners.res_close.push(Box::new(f)));
    }

    /// Adds an `error` listener: misuse of the response (see the type's
    /// docs) is reported here.
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ServerResponse) {
    /// res.on_error(|e| eprintln!("{e}"));
    /// # }
    /// ```
    #[doc(alias = "error")]
    pub fn on_error(&self, f: impl FnMut(&Error) + 'static) {
        self.add(|e| e.listeners.error.push(Box::new(f)));
    }

    /// Sets the idle timeout, in milliseconds (`0` turns it off; Node's
    /// `response.setTimeout`); see [`on_timeout`](Self::on_timeout).
    /// Over HTTP/1.1 it is the connection's. Over HTTP/2 it is this
    /// stream's alone (Node's `stream.setTimeout`): `timeout` fires when no
    /// frame of this stream was sent or received for `ms`, while the
    /// connection's other streams go on.
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ServerResponse) {
    /// res.set_timeout(5_000);
    /// # }
    /// ```
    #[doc(alias = "setTimeout")]
    pub fn set_timeout(&self, ms: u64) {
        if super::h2::set_stream_timeout(self.ex, ms).is_none() {
            self.connection().set_timeout(ms);
        }
    }

    /// Adds a `timeout` listener: the connection (over HTTP/2, this
    /// stream: see [`set_timeout`](Self::set_timeout)) was idle too long
    /// while this response was in progress (a client not reading, say).
    /// Over HTTP/1.1, with a listener the connection is not destroyed for
    /// it: that is up to you. Over HTTP/2 nothing is done for it either
    /// way, as in Node: reset the stream yourself (`res.destroy()`).
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ServerResponse) {
    /// res.on_timeout(move || res.connection().destroy());
    /// # }
    /// ```
    #[doc(alias = "timeout")]
    pub fn on_timeout(&self, f: impl FnMut() + 'static) {
        self.add(|e| e.listeners.res_timeout.push(Box::new(f)));
    }

    fn add(&self, f: impl FnOnce(&mut Exchange)) {
        with_state(|st| {
            if let Some(e) = st.exchanges.get_mut(self.ex) {
                f(e);
            }
        });
    }
}

/// Appends output for exchange `ex`: to the socket when it is the front of
/// the connection's queue, else to the exchange's own held output.
/// Returns whether the buffer written to is under the high-water mark.
fn output(
    st: &mut ServerState,
    ex: ExId,
    write: impl FnOnce(&mut Exchange, &mut Vec<u8>, &mut DateCache),
) -> Option<bool> {
    let ServerState {
        conns,
        exchanges,
        date,
        ..
    } = st;
    let e = exchanges.get_mut(ex)?;
    let sock = e.socket?;
    let conn = conns.get_mut(sock);
    let front = conn
        .as_ref()
        .is_some_and(|conn| conn.queue.front() == Some(&ex));
    if front {
        let mut write = Some(write);
        let ok = net::write_with(sock, |out| {
            if let Some(write) = write.take() {
                write(e, out, date)
            }
        });
        if let Some(write) = write {
            // The connection is gone (or shut down): the bytes go nowhere,
            // but the state still advances (so `end` is `end`).
            write(e, &mut Vec::new(), date);
        }
        let ok = ok.unwrap_or(false);
        if !ok {
            e.need_drain = true;
        }
        Some(ok)
    } else {
        if e.pending_out.capacity() == 0 {
            e.pending_out = runtime::take_buf();
        }
        let mut out = std::mem::take(&mut e.pending_out);
        let before = out.len();
        write(e, &mut out, date);
        if let Some(conn) = conn {
            conn.held_behind += out.len() - before;
        }
        let ok = out.len() < HIGH_WATER_MARK;
        e.pending_out = out;
        if !ok {
            e.need_drain = true;
        }
        Some(ok)
    }
}

pub(super) fn send(
    st: &mut ServerState,
    ex: ExId,
    data: &[u8],
    end: bool,
) -> Option<Result<bool, Error>> {
    let e = st.exchanges.get_mut(ex)?;
    if let Wire::Http2 { .. } = e.wire {
        return super::h2::send(st, ex, data, end);
    }
    if e.response_body.ended() {
        return Some(Err(Error::new(ErrorKind::WriteAfterEnd, "write after end")));
    }
    if !e.response_head.is_fixed() {
        let status = e.status;
        if let Err(err) = e.commit_head(status, None, &[]) {
            return Some(Err(err));
        }
    }
    let sock = e.socket?;
    let conn_keep_alive = st
        .conns
        .get(sock)
        .is_some_and(|conn| conn.keep_alive.persistent());
    let mut result = Ok(());
    let now = runtime::now();
    let ok = output(st, ex, |e, out, date| {
        if !e.response_head.is_written() {
            let end_len = end.then_some(data.len());
            e.write_head_bytes(out, end_len, conn_keep_alive, date, now);
        }
        result = e.write_body_bytes(out, data, end);
    });
    if end {
        complete_front(st, sock);
    }
    Some(result.map(|()| ok.unwrap_or(false)))
}

impl ServerResponse {
    /// Holds the connection's writes until [`uncork`](Self::uncork)
    /// (Node's `res.cork()`, which corks the socket).
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ServerResponse) {
    /// res.cork();
    /// res.write("a");
    /// nodelike::set_timeout(move || { res.write("b"); res.uncork(); }, 5);
    /// # }
    /// ```
    pub fn cork(&self) {
        self.connection().cork();
    }

    /// Undoes one [`cork`](Self::cork) (Node's `res.uncork()`).
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ServerResponse) {
    /// res.uncork();
    /// # }
    /// ```
    pub fn uncork(&self) {
        self.connection().uncork();
    }

    /// The buffer size past which `write` returns `false`: 16 KiB (Node's
    /// `writableHighWaterMark`).
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ServerResponse) {
    /// assert_eq!(res.writable_high_water_mark(), 16 * 1024);
    /// # }
    /// ```
    #[doc(alias = "writableHighWaterMark")]
    pub fn writable_high_water_mark(&self) -> usize {
        HIGH_WATER_MARK
    }

    /// Bytes written but not yet handed to the OS (Node's
    /// `writableLength`): this response's output waiting behind an earlier
    /// one on the connection, or the connection's backlog while it is the
    /// one on the wire.
    ///
    /// ```no_run
    /// # fn f(res: nodelike::http::ServerResponse) {
    /// if res.writable_length() > 1 << 20 { res.destroy() }
    /// # }
    /// ```
    #[doc(alias = "writableLength")]
    pub fn writable_length(&self) -> usize {
        with_state(|st| {
            let e = st.exchanges.get(self.ex)?;
            let sock = e.socket?;
            let on_wire = st
                .conns
                .get(sock)
                .is_some_and(|conn| conn.queue.front() == Some(&self.ex));
            Some(e.pending_out.len() + if on_wire { net::backlog(sock) } else { 0 })
        })
        .flatten()
        .unwrap_or(0)
    }
}

/// The response as a Node `Writable`: what `pipe` and `pipeline` write to.
/// `cork` holds the connection's writes, as Node's `res.cork()` corks its
/// socket.
///
/// ```no_run
/// use nodelike::http;
/// use nodelike::stream::Readable;
/// http::create_server(|req, res| {
///     req.pipe(res);
/// });
/// ```
impl crate::stream::Stream for ServerResponse {
    fn destroy(&self, _error: Option<Error>) {
        ServerResponse::destroy(self);
    }

    fn destroyed(&self) -> bool {
        ServerResponse::destroyed(self)
    }

    fn on_error(&self, f: impl FnMut(&Error) + 'static) {
        ServerResponse::on_error(self, f);
    }

    fn on_close(&self, f: impl FnMut() + 'static) {
        ServerResponse::on_close(self, f);
    }

    fn end_of_stream(&self, callback: Box<dyn FnOnce(Option<Error>)>) {
        crate::stream::EndOfStream::writable(*self, callback);
    }
}

crate::stream::writable_by_its_own_methods!(ServerResponse);
