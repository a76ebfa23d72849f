//! One request and its response: the record behind `IncomingMessage` and
//! `ServerResponse`, and the code that turns response calls into bytes.
//!
//! Records live in an [`Arena`](crate::runtime::arena::Arena) and are reused
//! with their buffers, so steady-state keep-alive serving allocates nothing.

use std::time::Instant;

use crate::chunk::Chunk;
use crate::http::h1::{encode, DateCache, ParsedRequest};
use crate::http::incoming::IncomingBody;
use crate::http::outgoing::{check_header, OutgoingHeaders};
use crate::http::{BodyError, Framing};
use crate::net::SockId;
use crate::runtime::arena::Id;
use crate::runtime::listeners::Listeners;
use crate::{Error, ErrorKind};

pub(crate) type ExId = Id;

/// Why a request ended before its response did (Node's `close` event with
/// `err.code` `'timeout'` or `'aborted'`).
///
/// ```
/// use nodelike::http::CloseReason;
/// assert_eq!(CloseReason::Timeout.code(), "timeout");
/// assert_eq!(CloseReason::Finished.code(), "finished");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseReason {
    /// The life ended well: the response finished (after `end` and the
    /// response's `finish` and `close`, as Node 20 orders them), or an
    /// upgrade handed the connection over.
    Finished,
    /// The connection was idle for longer than the server's timeout.
    Timeout,
    /// The client closed the connection prematurely (or it was destroyed).
    Aborted,
}

impl CloseReason {
    /// Node's `err.code` for this reason.
    ///
    /// ```
    /// assert_eq!(nodelike::http::CloseReason::Aborted.code(), "aborted");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            CloseReason::Finished => "finished",
            CloseReason::Timeout => "timeout",
            CloseReason::Aborted => "aborted",
        }
    }

    /// Whether the request was cut short (`Timeout` or `Aborted`), as the
    /// seed's `close` meant; `false` for a life that ended well.
    ///
    /// ```
    /// use nodelike::http::CloseReason;
    /// assert!(CloseReason::Aborted.is_abnormal());
    /// assert!(!CloseReason::Finished.is_abnormal());
    /// ```
    pub fn is_abnormal(&self) -> bool {
        *self != CloseReason::Finished
    }
}

impl std::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// Where a request is in its life, as Node's `IncomingMessage` tells it
/// (`complete`, `readableEnded`, `destroyed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum RequestLife {
    /// The head arrived; `data` events may follow.
    #[default]
    Receiving,
    /// `end` was emitted: the whole body arrived; `close` is to come.
    Ended,
    /// `close` was emitted after `end`: a life that ended well (or a
    /// connection handed over by an upgrade).
    ClosedAfterEnd,
    /// `close` was emitted before `end`: cut short (aborted, timed out, a
    /// bad body).
    ClosedEarly,
}

impl RequestLife {
    /// The whole body arrived (`end` was emitted).
    pub(crate) fn complete(self) -> bool {
        matches!(self, RequestLife::Ended | RequestLife::ClosedAfterEnd)
    }

    /// No more `data` or `end` will be emitted.
    pub(crate) fn done(self) -> bool {
        self != RequestLife::Receiving
    }

    /// `close` was emitted.
    pub(crate) fn closed(self) -> bool {
        matches!(self, RequestLife::ClosedAfterEnd | RequestLife::ClosedEarly)
    }

    /// Moves to `Ended`; whether it was receiving (so `end` is emitted).
    pub(crate) fn end(&mut self) -> bool {
        let receiving = *self == RequestLife::Receiving;
        if receiving {
            *self = RequestLife::Ended;
        }
        receiving
    }

    /// Moves to a closed state; whether it was not closed yet (so `close`
    /// is emitted, once in every life).
    pub(crate) fn close(&mut self) -> bool {
        let next = match *self {
            RequestLife::Receiving => RequestLife::ClosedEarly,
            RequestLife::Ended => RequestLife::ClosedAfterEnd,
            closed => return closed != *self,
        };
        *self = next;
        true
    }
}

/// The response's head: open to changes until fixed by `write_head` (or
/// the first `write`), then written into the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum ResponseHead {
    /// `set_header` and `write_head` may still change it.
    #[default]
    Open,
    /// Fixed: status and lines decided (Node's `headersSent` is true).
    Fixed,
    /// Serialized into the output, framing decided.
    Written,
}

impl ResponseHead {
    /// Node's `headersSent`: no more changes.
    pub(crate) fn is_fixed(self) -> bool {
        self != ResponseHead::Open
    }

    /// The head's bytes are in the output.
    pub(crate) fn is_written(self) -> bool {
        self == ResponseHead::Written
    }
}

/// The response's body, in order: written, ended, handed to the OS. A
/// response whose connection died before it finished is `Abandoned`:
/// nothing more goes out, and it counts as ended and finished, so its
/// record can be freed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) enum ResponseBody {
    /// `write` may be called.
    #[default]
    Writing,
    /// `end` was called (Node's `writableEnded`).
    Ended,
    /// The last byte was handed to the OS (`finish`; `writableFinished`).
    Finished,
    /// The connection ended before the response did (or the socket left
    /// HTTP through an upgrade).
    Abandoned,
}

impl ResponseBody {
    /// `end` was called, or the response was abandoned.
    pub(crate) fn ended(self) -> bool {
        self >= ResponseBody::Ended
    }

    /// The body was handed to the OS, or the response was abandoned.
    pub(crate) fn finished(self) -> bool {
        self >= ResponseBody::Finished
    }

    /// Moves forward to `state` (never back).
    pub(crate) fn reach(&mut self, state: ResponseBody) {
        *self = (*self).max(state);
    }
}

#[derive(Default)]
pub(crate) struct ExListeners {
    pub(crate) data: Listeners<dyn FnMut(Chunk<'_>)>,
    pub(crate) end: Listeners<dyn FnMut()>,
    pub(crate) req_close: Listeners<dyn FnMut(CloseReason)>,
    pub(crate) drain: Listeners<dyn FnMut()>,
    pub(crate) finish: Listeners<dyn FnMut()>,
    pub(crate) res_close: Listeners<dyn FnMut()>,
    pub(crate) error: Listeners<dyn FnMut(&Error)>,
    pub(crate) req_timeout: Listeners<dyn FnMut()>,
    pub(crate) res_timeout: Listeners<dyn FnMut()>,
}

impl ExListeners {
    pub(crate) fn is_empty(&self) -> bool {
        self.data.is_empty()
            && self.end.is_empty()
            && self.req_close.is_empty()
            && self.drain.is_empty()
            && self.finish.is_empty()
            && self.res_close.is_empty()
            && self.error.is_empty()
            && self.req_timeout.is_empty()
            && self.res_timeout.is_empty()
    }
}

/// What the headers the user set say about framing and the connection.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct HeadFlags {
    pub(crate) content_length: Option<u64>,
    pub(crate) transfer_encoding: bool,
    pub(crate) te_chunked: bool,
    pub(crate) connection: bool,
    pub(crate) connection_close: bool,
    pub(crate) date: bool,
    /// A `Trailer` header announces trailers: the body goes chunked so
    /// they can follow it (Node's `state.trailer`).
    pub(crate) trailer: bool,
}

/// The protocol an exchange travels on: the connection's HTTP/1.1 byte
/// stream, or one stream of an HTTP/2 connection (`h2.rs`). The handles
/// (`IncomingMessage`, `ServerResponse`) are the same for both; only the
/// bytes they turn into differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Wire {
    /// Requests and responses in order on the connection (`conn.rs`).
    #[default]
    Http1,
    /// One HTTP/2 stream: frames multiplexed with the connection's others.
    Http2 { stream: u32 },
}

/// Whether an HTTP/2 request's body flows to its listeners. Over HTTP/1.1
/// pausing a request pauses its connection; over HTTP/2 the connection
/// carries other streams and the frames that unblock them (WINDOW_UPDATE),
/// so only the stream pauses: its DATA is held, and its flow-control
/// window is not given back, which stops the peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum StreamReading {
    /// `data` is emitted as it arrives.
    #[default]
    Flowing,
    /// Held in `held_body` until `resume`; `ended`: the body's end
    /// arrived too.
    Paused { ended: bool },
}

/// An HTTP/2 stream's inactivity timer (Node's `stream.setTimeout`, which
/// the compatibility API's `req.setTimeout`/`res.setTimeout` call): per
/// stream, where HTTP/1.1's is the connection's. Checked by one timer per
/// connection (`h2.rs`), so a stream costs no timer entry of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum StreamTimer {
    /// No timeout set (or set to 0).
    #[default]
    Off,
    /// `timeout` fires once nothing was sent or received on the stream
    /// for `limit` after `since`.
    Armed {
        limit: std::time::Duration,
        since: std::time::Instant,
    },
    /// `timeout` fired for this quiet spell; the next frame either way
    /// arms it again (as Node's timer is refreshed by activity).
    Fired { limit: std::time::Duration },
}

impl StreamTimer {
    /// A frame went or came on the stream: the quiet spell starts over.
    /// Whether the timer was re-armed from `Fired` (so the connection's
    /// check must be queued again).
    pub(crate) fn touch(&mut self, now: std::time::Instant) -> bool {
        match *self {
            StreamTimer::Off => false,
            StreamTimer::Armed { limit, .. } => {
                *self = StreamTimer::Armed { limit, since: now };
                false
            }
            StreamTimer::Fired { limit } => {
                *self = StreamTimer::Armed { limit, since: now };
                true
            }
        }
    }

    /// When `timeout` is due, if armed.
    pub(crate) fn due(self) -> Option<std::time::Instant> {
        match self {
            StreamTimer::Armed { limit, since } => since.checked_add(limit),
            _ => None,
        }
    }
}

#[derive(Default)]
pub(crate) struct Exchange {
    pub(crate) socket: Option<SockId>,
    /// HTTP/1.1 or an HTTP/2 stream.
    pub(crate) wire: Wire,
    /// An HTTP/2 request body's flow (HTTP/1.1 pauses the socket instead).
    pub(crate) stream_reading: StreamReading,
    /// An HTTP/2 request's body bytes that arrived while it was paused
    /// (at most its stream window).
    pub(crate) held_body: Vec<u8>,
    /// Since when an HTTP/2 response's body has waited on a closed
    /// flow-control window without any of it moving (`None`: not waiting).
    /// Past the server's send timeout the stream is reset.
    pub(crate) stalled_since: Option<std::time::Instant>,
    /// An HTTP/2 stream's own inactivity timeout (`set_timeout`).
    pub(crate) stream_timer: StreamTimer,
    // ---- the request ----
    /// A copy of the request head; `parsed` holds ranges into it.
    pub(crate) head: Vec<u8>,
    pub(crate) parsed: ParsedRequest,
    /// Where the request is in its life: receiving, ended, closed.
    pub(crate) request: RequestLife,
    /// The body's text decoder (`set_encoding`) and trailers.
    pub(crate) incoming: IncomingBody,
    // ---- the response ----
    pub(crate) status: u16,
    pub(crate) reason: Option<String>,
    /// Node's mutable headers (`set_header`): name as given, values.
    pub(crate) set_headers: OutgoingHeaders,
    /// Whether the head can still change, is fixed, or is in the output.
    pub(crate) response_head: ResponseHead,
    /// The committed header lines, already serialized.
    pub(crate) head_lines: Vec<u8>,
    pub(crate) flags: HeadFlags,
    pub(crate) framing: Framing,
    pub(crate) keep_alive: bool,
    /// Whether the body is being written, ended, handed to the OS, or
    /// abandoned with its connection.
    pub(crate) response_body: ResponseBody,
    /// The response's `close` was emitted (it is emitted once, whether the
    /// body finished or was abandoned).
    pub(crate) res_closed: bool,
    /// Output made while an earlier response on the connection is still
    /// going out; moved to the socket when this one's turn comes.
    pub(crate) pending_out: Vec<u8>,
    /// A file body (`send_file`) that goes out after `pending_out`, when
    /// this response's turn comes: the file, its first byte, its length.
    pub(crate) pending_file: Option<(std::fs::File, u64, u64)>,
    pub(crate) trailers_out: Vec<(String, String)>,
    /// `remove_header("content-length")` was called: no automatic length.
    pub(crate) removed_content_length: bool,
    /// `remove_header("transfer-encoding")`: never chunked by us (Node's
    /// `_removedTE`); with no length the body is close-delimited.
    pub(crate) removed_transfer_encoding: bool,
    /// `remove_header("connection")`: no automatic `Connection` line
    /// (Node's `_removedConnection`).
    pub(crate) removed_connection: bool,
    /// Add a `Date` header when the handler set none (Node's `sendDate`).
    pub(crate) send_date: bool,
    pub(crate) need_drain: bool,
    pub(crate) listeners: ExListeners,
}

impl Exchange {
    /// Readies a recycled record for a new request (buffers keep their
    /// capacity).
    pub(crate) fn reset(&mut self, socket: SockId) {
        debug_assert!(self.listeners.is_empty());
        self.socket = Some(socket);
        self.wire = Wire::Http1;
        self.stream_reading = StreamReading::Flowing;
        self.held_body.clear();
        self.stalled_since = None;
        self.stream_timer = StreamTimer::Off;
        self.head.clear();
        self.request = RequestLife::Receiving;
        self.incoming.reset();
        self.status = 200;
        self.reason = None;
        self.set_headers.clear();
        self.response_head = ResponseHead::Open;
        self.head_lines.clear();
        self.flags = HeadFlags::default();
        self.framing = Framing::NoBody;
        self.keep_alive = false;
        self.response_body = ResponseBody::Writing;
        self.res_closed = false;
        self.pending_out.clear();
        self.pending_file = None;
        self.trailers_out.clear();
        self.removed_content_length = false;
        self.removed_transfer_encoding = false;
        self.removed_connection = false;
        self.send_date = true;
        self.need_drain = false;
    }

    pub(crate) fn method(&self) -> &[u8] {
        self.head
            .get(self.parsed.method.clone())
            .unwrap_or_default()
    }

    pub(crate) fn is_head_request(&self) -> bool {
        self.method() == b"HEAD"
    }

    /// Fixes the response head: status, reason and header lines (Node's
    /// `writeHead`; mutable headers merged under the explicit ones).
    pub(crate) fn commit_head(
        &mut self,
        status: u16,
        reason: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Result<(), Error> {
        if self.response_head.is_fixed() {
            return Err(Error::new(
                ErrorKind::HeadersSent,
                "Cannot write headers after they are sent to the client",
            ));
        }
        self.check_status(status)?;
        for (name, value) in headers {
            check_header(name, value)?;
        }
        if let Some(r) = reason {
            if r.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                return Err(Error::new(
                    ErrorKind::InvalidHeader,
                    "Invalid character in statusMessage",
                ));
            }
        }
        self.status = status;
        if let Some(r) = reason {
            self.reason = Some(r.to_owned());
        }
        self.head_lines.clear();
        self.flags = HeadFlags::default();
        let set = std::mem::take(&mut self.set_headers);
        for (name, values) in set.iter() {
            if headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                continue;
            }
            for v in values {
                self.add_line(name, v);
            }
        }
        self.set_headers = set;
        for (name, value) in headers {
            self.add_line(name, value);
        }
        self.response_head = ResponseHead::Fixed;
        Ok(())
    }

    /// Whether `status` can be this response's status: 100 to 999 over
    /// HTTP/1.1 (Node's `ERR_HTTP_INVALID_STATUS_CODE` range); over HTTP/2
    /// a final status, 200 to 599, since a 1xx cannot end a stream and
    /// HTTP/2 carries no other (Node's `ERR_HTTP2_INFO_STATUS_NOT_ALLOWED`
    /// and `ERR_HTTP2_STATUS_INVALID`).
    pub(crate) fn check_status(&self, status: u16) -> Result<(), Error> {
        let (range, what) = match self.wire {
            Wire::Http2 { .. } if (100..200).contains(&status) => (
                200..=599,
                "Informational status codes cannot be used as the response's status",
            ),
            Wire::Http2 { .. } => (200..=599, "Invalid status code"),
            _ => (100..=999, "Invalid status code"),
        };
        if range.contains(&status) {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::InvalidHeader,
                format!("{what}: {status}"),
            ))
        }
    }

    fn add_line(&mut self, name: &str, value: &str) {
        let f = &mut self.flags;
        // Dispatch on length first: most names are none of these four.
        match name.len() {
            14 if name.eq_ignore_ascii_case("content-length") => {
                f.content_length = value.trim().parse().ok();
            }
            17 if name.eq_ignore_ascii_case("transfer-encoding") => {
                f.transfer_encoding = true;
                f.te_chunked = value
                    .rsplit(',')
                    .next()
                    .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
            }
            10 if name.eq_ignore_ascii_case("connection") => {
                f.connection = true;
                f.connection_close |= value
                    .split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("close"));
            }
            4 if name.eq_ignore_ascii_case("date") => f.date = true,
            7 if name.eq_ignore_ascii_case("trailer") => f.trailer = true,
            _ => {}
        }
        encode::write_header(&mut self.head_lines, name, value);
    }

    /// Writes the status line and headers to `out`, deciding the framing.
    /// `end_len` is the body length when the whole body is known now
    /// (`end(data)` with no earlier `write`).
    pub(crate) fn write_head_bytes(
        &mut self,
        out: &mut Vec<u8>,
        end_len: Option<usize>,
        conn_keep_alive: bool,
        date: &mut DateCache,
        now: Instant,
    ) {
        let status = self.status;
        let bodiless = self.is_head_request()
            || (100..200).contains(&status)
            || status == 204
            || status == 304;
        let http10 = self.parsed.version_minor == 0;
        let mut keep_alive =
            conn_keep_alive && self.parsed.keep_alive && !self.flags.connection_close;
        let mut extra_length = None;
        let mut extra_chunked = false;
        self.framing = if bodiless {
            if self.flags.transfer_encoding && !self.is_head_request() {
                // A 204 or 304 that claims a chunked body can't be delimited
                // for the client: close afterwards (Node's
                // test-http-chunked-304).
                keep_alive = false;
            }
            Framing::NoBody
        } else if let (Some(n), false) = (self.flags.content_length, self.flags.transfer_encoding) {
            Framing::Length(n)
        } else if self.flags.transfer_encoding {
            if self.flags.te_chunked {
                Framing::Chunked
            } else {
                keep_alive = false;
                Framing::Eof
            }
        } else if let (Some(n), false, false) =
            (end_len, self.flags.trailer, self.removed_content_length)
        {
            // The whole body is known: a length, unless trailers are
            // announced (they need chunked framing) or the handler removed
            // `Content-Length` (Node's `_removedContLen`).
            extra_length = Some(n as u64);
            Framing::Length(n as u64)
        } else if !http10 && !self.removed_transfer_encoding {
            extra_chunked = true;
            Framing::Chunked
        } else {
            // HTTP/1.0, or both framing headers removed by the handler
            // (Node's test-http-remove-header-stays-removed): the body
            // runs to the close.
            keep_alive = false;
            Framing::Eof
        };
        self.keep_alive = keep_alive;
        let reason = self
            .reason
            .as_deref()
            .unwrap_or_else(|| encode::reason_phrase(status));
        encode::write_status_line(out, status, reason);
        out.extend_from_slice(&self.head_lines);
        // Node's order: the handler's headers, `Date`, `Connection`, then
        // the framing the server added.
        if !self.flags.date && self.send_date {
            out.extend_from_slice(b"Date: ");
            out.extend_from_slice(date.get_at(now).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if !self.flags.connection && !self.removed_connection {
            if !keep_alive {
                out.extend_from_slice(b"Connection: close\r\n");
            } else if http10 {
                out.extend_from_slice(b"Connection: keep-alive\r\n");
            }
        }
        if let Some(n) = extra_length {
            out.extend_from_slice(b"Content-Length: ");
            encode::write_decimal(out, n);
            out.extend_from_slice(b"\r\n");
        }
        if extra_chunked {
            out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
        }
        out.extend_from_slice(b"\r\n");
        self.response_head = ResponseHead::Written;
        log::trace!(
            "response: head written, status {status}, {:?}, keep-alive {keep_alive}",
            self.framing
        );
    }

    /// Encodes body bytes (and, with `end`, the message end) into `out`.
    pub(crate) fn write_body_bytes(
        &mut self,
        out: &mut Vec<u8>,
        data: &[u8],
        end: bool,
    ) -> Result<(), Error> {
        let result = self.framing.encode(out, data, end, &self.trailers_out);
        if end {
            self.response_body.reach(ResponseBody::Ended);
        }
        result.map_err(|e| match e {
            BodyError::TooLong => Error::new(
                ErrorKind::ContentLengthMismatch,
                "Response body's content-length of bytes exceeded",
            ),
            BodyError::TooShort(n) => {
                // The body is short of what was promised: the client can
                // only tell by the connection closing.
                self.keep_alive = false;
                Error::new(
                    ErrorKind::ContentLengthMismatch,
                    format!("Response ended {n} bytes short of its content-length"),
                )
            }
        })
    }
}
