//! HTTP/2 on the server side of one connection: the sans-IO core
//! ([`h2::Connection`](crate::http::h2::Connection)) driven by the socket,
//! each stream an exchange behind the same `IncomingMessage` and
//! `ServerResponse` handles as HTTP/1.1 (Node's compatibility API).
//!
//! The core decides what the bytes mean and writes the frames; this file
//! only maps its events to exchanges and their listeners, and the
//! handles' calls back to frames:
//!
//! - a request's HEADERS becomes an exchange whose head is rebuilt in the
//!   form HTTP/1.1's parser leaves (`head` bytes and ranges), so every
//!   request accessor works unchanged; pseudo-headers stay in `headers()`
//!   as Node shows them, and `host` is added from `:authority`;
//! - DATA is the request's `data`; its flow-control window is given back
//!   once the listeners have it, and not while the request is paused (the
//!   connection stops being read), so `pause` holds the peer back;
//! - a response's head becomes HEADERS, its body DATA as far as the
//!   windows allow; the rest waits in the exchange's `pending_out` (which
//!   `write` → `false` and `drain` count) until WINDOW_UPDATE opens them;
//! - `finish` fires once the last frame reached the OS, as for HTTP/1.1.
//!
//! As everywhere in the server, state is examined and changed inside
//! `with_state`, and user callbacks run outside it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::conn::{self, Kind};
use super::exchange::{ExId, Exchange, ResponseBody, StreamReading, StreamTimer, Wire};
use super::{with_state, ServerState};
use crate::http::h1::DateCache;
use crate::http::h2::hpack::Field;
use crate::http::h2::is_connection_specific;
use crate::http::h2::{self, ErrorCode, Event};
use crate::net::{self, Cause, SockId, HIGH_WATER_MARK};
use crate::runtime::{self, Work};
use crate::{Error, ErrorKind};

/// HTTP/2's connection preface, the first bytes a client sends (RFC 9113
/// §3.4): how a cleartext port tells HTTP/2 from HTTP/1.1.
pub(crate) const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What the first bytes of a cleartext connection say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sniffed {
    /// The whole preface: HTTP/2.
    Http2,
    /// A prefix of the preface: wait for more.
    Undecided,
    /// Not the preface: HTTP/1.1.
    Http1,
}

/// Classifies a cleartext connection's first bytes.
pub(crate) fn sniff(input: &[u8]) -> Sniffed {
    let n = input.len().min(PREFACE.len());
    if input[..n] != PREFACE[..n] {
        Sniffed::Http1
    } else if n == PREFACE.len() {
        Sniffed::Http2
    } else {
        Sniffed::Undecided
    }
}

/// The HTTP/2 server protocol, as `net` calls it.
pub(super) static PROTOCOL: net::Protocol = net::Protocol {
    name: "http2-server",
    input: process_input,
    eof: on_eof,
    flushed: after_flush,
    drain: emit_drains,
    connected: |_, _| {},
    closed: on_socket_closed,
    failed: super::on_failed,
    // The handshake finished before the protocol was switched to this.
    secured: |_| {},
    timeout: on_timeout,
};

/// Where an HTTP/2 connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Life {
    /// Serving streams.
    Serving,
    /// Asked to go away (`server.close()`, `session.close()`) before the
    /// client's preface was in: GOAWAY goes once it is (before, it would
    /// be a connection error).
    GoAwayOwed,
    /// GOAWAY was sent (the server is closing): the streams in flight
    /// finish, then the connection closes.
    GoingAway,
    /// A connection error: GOAWAY is queued; the socket closes once it is
    /// written.
    Failed,
}

/// One HTTP/2 connection's state on the server.
pub(crate) struct H2Conn {
    server: (usize, u32),
    core: h2::Connection,
    life: Life,
    /// The streams that have an exchange.
    streams: StreamMap,
    /// Ended responses whose last frame waits to reach the OS: (exchange,
    /// the socket's `written` mark it must pass).
    finishing: VecDeque<(ExId, u64)>,
    /// Streams whose response is complete while their request's body is
    /// still coming.
    draining: Draining,
    /// Response header fields being encoded: names lowercased and values,
    /// back to back (reused; no allocation per response).
    scratch: Vec<u8>,
    /// (name, value) ranges into `scratch`.
    ranges: Vec<(std::ops::Range<usize>, std::ops::Range<usize>)>,
    /// When the core's flood counters were last reset: they count per
    /// second, ticked lazily as input arrives (no timer per connection).
    ticked: std::time::Instant,
    /// When the streams' inactivity timeouts (`set_timeout`) are next
    /// checked: one timer per connection, queued for the earliest due
    /// stream, rather than one per stream (`None`: none queued).
    stream_check_at: Option<Instant>,
    /// Who waits for the client's ACK of our SETTINGS changes
    /// ([`Http2Session::update_settings`](super::Http2Session::update_settings)),
    /// oldest first: the newest of the core's unacknowledged SETTINGS are
    /// theirs (the first, sent by `start`, has nobody waiting), so an ACK
    /// is theirs once the core has fewer unacknowledged than they are.
    settings_waiters: VecDeque<SettingsWaiter>,
    /// The responses `drain` is emitted to, reused (see `emit_drains`).
    drain_list: Vec<ExId>,
}

/// A callback of [`Http2Session::update_settings`](super::Http2Session::update_settings).
pub(super) type SettingsCallback = Box<dyn FnOnce(Result<(h2::Settings, Duration), Error>)>;

/// A SETTINGS change of ours awaiting the client's ACK, and its callback.
struct SettingsWaiter {
    sent: Instant,
    callback: SettingsCallback,
}

impl H2Conn {
    pub(crate) fn server(&self) -> (usize, u32) {
        self.server
    }
}

/// Stream id → exchange, for the streams that have one: at most the
/// concurrency limit (100 by default), so a short list searched in order
/// beats a hash map (no hashing, no allocation once grown).
#[derive(Default)]
struct StreamMap(Vec<(u32, ExId)>);

impl StreamMap {
    fn exchange_of(&self, stream: u32) -> Option<ExId> {
        self.0.iter().find(|(s, _)| *s == stream).map(|&(_, ex)| ex)
    }

    fn insert(&mut self, stream: u32, ex: ExId) {
        self.0.push((stream, ex));
    }

    fn forget(&mut self, stream: u32) {
        self.0.retain(|(s, _)| *s != stream);
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn iter(&self) -> impl Iterator<Item = (u32, ExId)> + '_ {
        self.0.iter().copied()
    }

    /// The `i`th entry (for walks that change the connection as they go).
    fn nth(&self, i: usize) -> Option<(u32, ExId)> {
        self.0.get(i).copied()
    }
}

/// How much of a request body that arrives after its response is complete
/// is read (and thrown away) before the stream is reset with NO_ERROR.
///
/// RFC 9113 §8.1 lets a server that answered early ask the client to stop
/// sending with RST_STREAM NO_ERROR, and after sending RST_STREAM it must
/// ignore the stream's frames (§5.1). Resetting at once would also ignore
/// a malformed rest of the request (a body longer or shorter than its
/// content-length, trailers without END_STREAM, pseudo-headers in
/// trailers), which the core reports as stream errors while the stream
/// lives. So the rest is read and checked, up to the RFC's default stream
/// window (64 KiB); a bigger upload is cut short, so a client uploading a
/// large body to a handler that did not want it stops soon.
const DRAIN_BUDGET: usize = 65_535;

/// The streams being drained (see [`DRAIN_BUDGET`]) and the body bytes
/// thrown away on each: a short list, at most one entry per stream the
/// core still has open.
#[derive(Default)]
struct Draining(Vec<(u32, usize)>);

impl Draining {
    /// What to do with `n` more bytes thrown away on `stream`: whether its
    /// budget is spent (reset it now). An entry leaves at the body's end.
    fn account(&mut self, stream: u32, n: usize, end_stream: bool) -> bool {
        let Some(i) = self.0.iter().position(|&(s, _)| s == stream) else {
            return false;
        };
        let spent = match self.0.get_mut(i) {
            Some((_, taken)) => {
                *taken = taken.saturating_add(n);
                *taken > DRAIN_BUDGET
            }
            None => false,
        };
        if end_stream || spent {
            self.0.swap_remove(i);
        }
        spent && !end_stream
    }

    fn forget(&mut self, stream: u32) {
        self.0.retain(|&(s, _)| s != stream);
    }
}

/// Turns connection `id` over to HTTP/2 (ALPN chose `h2`, or a cleartext
/// connection opened with the preface): the HTTP/1.1 record goes, the
/// core's SETTINGS go out, and the socket's bytes come here from now on.
pub(super) fn start(st: &mut ServerState, id: SockId, server: (usize, u32), config: h2::Config) {
    st.conns.remove(id);
    let mut core = h2::Connection::new(h2::Role::Server, config);
    net::write_with(id, |out| core.start(out));
    st.h2conns.insert(
        id,
        H2Conn {
            server,
            core,
            life: Life::Serving,
            streams: StreamMap::default(),
            finishing: VecDeque::new(),
            draining: Draining::default(),
            scratch: Vec::new(),
            ranges: Vec::new(),
            ticked: runtime::now(),
            stream_check_at: None,
            settings_waiters: VecDeque::new(),
            drain_list: Vec::new(),
        },
    );
    arm_settings_check(id);
    net::set_protocol(id, &PROTOCOL);
    log::trace!("socket {}: HTTP/2", id.key);
}

/// What the core found next in the input, with the exchange it concerns.
enum Step<'a> {
    /// Nothing more until more bytes come; `n` of them were consumed.
    Stop(usize),
    /// Throw the rest away (the socket is gone).
    DiscardAll,
    /// Bytes consumed with nothing for anyone.
    Skip(usize),
    Request {
        server: (usize, u32),
        ex: ExId,
        len: usize,
        end_stream: bool,
        /// `expect: 100-continue`: `check_continue` listeners decide, else
        /// a 100 goes out before `request` (Node's compatibility API).
        expects_continue: bool,
    },
    Data {
        stream: u32,
        ex: Option<ExId>,
        len: usize,
        data: &'a [u8],
        end_stream: bool,
    },
    /// The request's trailers arrived: its end.
    End { ex: ExId, len: usize },
    /// The peer reset a stream (or the core reset it for an error).
    Reset { ex: ExId, len: usize },
    /// A window opened: held response bodies may move.
    WindowOpened(usize),
    /// The client acknowledged a SETTINGS change somebody waits for.
    LocalSettings {
        len: usize,
        callback: SettingsCallback,
        settings: h2::Settings,
        rtt: Duration,
    },
    /// A connection error; GOAWAY is queued and the connection closes.
    Fatal,
}

/// Feeds the core everything in `data` and dispatches its events; returns
/// the bytes consumed (the rest is held by the socket until more come).
pub(super) fn process_input(id: SockId, data: &[u8]) -> usize {
    let mut pos = 0;
    loop {
        let Some(socket) = net::read_state(id) else {
            return data.len();
        };
        if socket.destroyed {
            return data.len();
        }
        if socket.paused {
            // A request was paused: nothing more is read (and no window
            // is given back) until it resumes.
            return pos;
        }
        let step = with_state(|st| next_step(st, id, &data[pos..])).unwrap_or(Step::DiscardAll);
        match step {
            Step::Stop(n) => return pos + n,
            Step::DiscardAll => return data.len(),
            Step::Skip(n) => pos += n,
            Step::Request {
                server,
                ex,
                len,
                end_stream,
                expects_continue,
            } => {
                pos += len;
                emit_stream(server, ex);
                let kind = if expects_continue && !end_stream {
                    Kind::Continue
                } else {
                    Kind::Normal
                };
                conn::dispatch_request(server, ex, kind);
                if end_stream {
                    conn::emit_end(ex);
                }
            }
            Step::Data {
                stream,
                ex,
                len,
                data: chunk,
                end_stream,
            } => {
                pos += len;
                if let Some(ex) = ex {
                    if hold_if_paused(ex, chunk, end_stream) {
                        continue;
                    }
                    conn::emit_data(ex, chunk);
                }
                // The listeners have the bytes (or nobody wants them): the
                // window they took is the peer's again.
                release(id, stream, chunk.len());
                drain(id, stream, chunk.len(), end_stream);
                if let (Some(ex), true) = (ex, end_stream) {
                    conn::emit_end(ex);
                }
            }
            Step::End { ex, len } => {
                pos += len;
                conn::emit_end(ex);
            }
            Step::Reset { ex, len } => {
                pos += len;
                conn::abort_exchange(ex);
                // A reset may take a going-away connection's last stream:
                // close it now rather than count on a later flush.
                close_if_done(id);
            }
            Step::WindowOpened(len) => {
                pos += len;
                flush_blocked(id);
                emit_drains(id);
            }
            Step::LocalSettings {
                len,
                callback,
                settings,
                rtt,
            } => {
                pos += len;
                callback(Ok((settings, rtt)));
            }
            Step::Fatal => return data.len(),
        }
    }
}

/// Gives `n` bytes of a stream's window back to the peer.
fn release(id: SockId, stream: u32, n: usize) {
    with_state(|st| {
        if let Some(c) = st.h2conns.get_mut(id) {
            let core = &mut c.core;
            net::write_with(id, |out| core.release(stream, n, out));
        }
    });
}

/// Counts body bytes that arrived after the response was complete; resets
/// the stream with NO_ERROR once they pass [`DRAIN_BUDGET`].
fn drain(id: SockId, stream: u32, n: usize, end_stream: bool) {
    with_state(|st| {
        let c = st.h2conns.get_mut(id)?;
        if c.draining.account(stream, n, end_stream) {
            let core = &mut c.core;
            net::write_with(id, |out| core.reset(stream, ErrorCode::NoError, out));
            net::flush_soon(id);
        }
        Some(())
    });
}

/// Keeps a paused request's DATA (and whether its end came) for `resume`;
/// whether it was paused.
fn hold_if_paused(ex: ExId, data: &[u8], end_stream: bool) -> bool {
    with_state(|st| {
        let e = st.exchanges.get_mut(ex)?;
        let StreamReading::Paused { ended } = &mut e.stream_reading else {
            return Some(false);
        };
        *ended |= end_stream;
        e.held_body.extend_from_slice(data);
        Some(true)
    })
    .flatten()
    .unwrap_or(false)
}

/// `req.pause()` over HTTP/2: this stream's DATA is held from now on.
pub(super) fn pause(ex: ExId) {
    with_state(|st| {
        if let Some(e) = st.exchanges.get_mut(ex) {
            if e.stream_reading == StreamReading::Flowing {
                e.stream_reading = StreamReading::Paused { ended: false };
            }
        }
    });
}

/// Whether this stream's request is paused.
pub(super) fn is_paused(ex: ExId) -> bool {
    with_state(|st| {
        st.exchanges
            .get(ex)
            .is_some_and(|e| matches!(e.stream_reading, StreamReading::Paused { .. }))
    })
    .unwrap_or(false)
}

/// `req.resume()` over HTTP/2: what was held is emitted (and its window
/// given back), then the end if it came.
pub(super) fn resume(ex: ExId) {
    let held = with_state(|st| {
        let e = st.exchanges.get_mut(ex)?;
        let StreamReading::Paused { ended } = e.stream_reading else {
            return None;
        };
        e.stream_reading = StreamReading::Flowing;
        let Wire::Http2 { stream } = e.wire else {
            return None;
        };
        Some((std::mem::take(&mut e.held_body), ended, stream, e.socket))
    })
    .flatten();
    let Some((body, ended, stream, socket)) = held else {
        return;
    };
    if !body.is_empty() {
        conn::emit_data(ex, &body);
        if let Some(id) = socket {
            release(id, stream, body.len());
        }
    }
    // The buffer goes back for the next pause (its capacity kept). A
    // listener that paused again while given the held bytes keeps the end
    // held too.
    let end_now = with_state(|st| {
        let e = st.exchanges.get_mut(ex)?;
        if e.held_body.is_empty() {
            let mut body = body;
            body.clear();
            e.held_body = body;
        }
        match &mut e.stream_reading {
            StreamReading::Paused { ended: held_end } => {
                *held_end |= ended;
                Some(false)
            }
            StreamReading::Flowing => Some(ended),
        }
    })
    .flatten()
    .unwrap_or(false);
    if end_now {
        conn::emit_end(ex);
    }
}

fn next_step<'a>(st: &mut ServerState, id: SockId, input: &'a [u8]) -> Step<'a> {
    let ServerState {
        h2conns,
        exchanges,
        servers,
        ..
    } = st;
    let Some(c) = h2conns.get_mut(id) else {
        return Step::DiscardAll;
    };
    if c.life == Life::Failed {
        return Step::DiscardAll;
    }
    let H2Conn {
        core,
        streams,
        finishing,
        draining,
        life,
        server,
        ticked,
        stream_check_at,
        settings_waiters,
        ..
    } = c;
    let now = runtime::now();
    if now.duration_since(*ticked) >= std::time::Duration::from_secs(1) {
        *ticked = now;
        // A SETTINGS timeout fails the core; the poll below reports it.
        let _ = tick(core, id);
        let send_timeout = servers
            .get(server.0)
            .and_then(|srv| srv.http2.as_ref())
            .and_then(|mode| mode.send_timeout);
        if let Some(limit) = send_timeout {
            let stalled = streams.iter().find(|&(_, ex)| {
                exchanges
                    .get(ex)
                    .and_then(|e| e.stalled_since)
                    .is_some_and(|since| now.duration_since(since) >= limit)
            });
            if let Some((stream, ex)) = stalled {
                log::debug!(
                    "socket {}: stream {stream}: no window for {limit:?}; reset",
                    id.key
                );
                net::write_with(id, |out| core.reset(stream, ErrorCode::Cancel, out));
                streams.forget(stream);
                finishing.retain(|&(f, _)| f != ex);
                return Step::Reset { ex, len: 0 };
            }
        }
    }
    let mut polled = None;
    let slot = &mut polled;
    // A reborrow: `core` is still needed once nothing came of the input.
    let polling = &mut *core;
    if net::write_with(id, move |out| *slot = Some(polling.poll(input, out))).is_none() {
        return Step::DiscardAll;
    }
    let Some(polled) = polled else {
        return Step::DiscardAll;
    };
    let (len, event) = match polled {
        Err(e) => {
            log::debug!("socket {}: HTTP/2 connection error: {e}", id.key);
            *life = Life::Failed;
            net::flush_soon(id);
            return Step::Fatal;
        }
        Ok((n, None)) => {
            // GOAWAY owed since before the preface, or the connection
            // became HTTP/2 (its preface, or its TLS handshake, came)
            // after `server.close()`, during the grace: it is told now
            // that its preface and first streams are in.
            let server_closing = servers
                .get(server.0)
                .filter(|srv| srv.closing)
                .map(|srv| srv.close_grace);
            let owed = match *life {
                Life::GoAwayOwed => Some(server_closing.flatten()),
                Life::Serving => server_closing,
                Life::GoingAway | Life::Failed => None,
            };
            if let (Some(grace), h2::ConnState::Open) = (owed, core.state()) {
                log::trace!("socket {}: HTTP/2 on a closing server: GOAWAY", id.key);
                *life = Life::GoingAway;
                net::write_with(id, |out| core.goaway(ErrorCode::NoError, b"", out));
                net::flush_soon(id);
                if let Some(grace) = grace {
                    runtime::schedule(
                        runtime::now() + grace,
                        Work::new(destroy_after_grace, id.ctx()).while_alive(net::socket_alive),
                    );
                }
            }
            return Step::Stop(n);
        }
        Ok((n, Some(event))) => (n, event),
    };
    match event {
        Event::Headers {
            stream,
            fields,
            end_stream,
        } => {
            let (ex_id, ex) = exchanges.insert();
            ex.reset(id);
            ex.wire = Wire::Http2 { stream };
            rebuild_request_head(ex, fields.iter());
            streams.insert(stream, ex_id);
            let expects_continue = fields
                .iter()
                .any(|(n, v)| n == b"expect" && v.eq_ignore_ascii_case(b"100-continue"));
            Step::Request {
                server: *server,
                ex: ex_id,
                len,
                end_stream,
                expects_continue,
            }
        }
        Event::Data {
            stream,
            data,
            end_stream,
        } => {
            let ex = streams.exchange_of(stream);
            if let Some(e) = ex.and_then(|ex| exchanges.get_mut(ex)) {
                touch(stream_check_at, e, id);
            }
            Step::Data {
                stream,
                ex,
                len,
                data,
                end_stream,
            }
        }
        Event::Trailers { stream, fields } => {
            draining.forget(stream);
            match streams.exchange_of(stream) {
                Some(ex) => {
                    if let Some(e) = exchanges.get_mut(ex) {
                        e.incoming.set_trailers(fields.iter());
                        touch(stream_check_at, e, id);
                    }
                    Step::End { ex, len }
                }
                None => Step::Skip(len),
            }
        }
        Event::Reset { stream, .. } => {
            draining.forget(stream);
            let ex = streams.exchange_of(stream);
            streams.forget(stream);
            match ex {
                Some(ex) => {
                    finishing.retain(|&(f, _)| f != ex);
                    Step::Reset { ex, len }
                }
                None => Step::Skip(len),
            }
        }
        Event::WindowOpened { .. } | Event::SettingsChanged => Step::WindowOpened(len),
        // The client is shutting down: it opens no more streams, and it
        // closes the connection once its streams are done. Until then the
        // connection is still answered (PING, SETTINGS, the streams in
        // flight, §6.8), so it is not closed from here; a client that never
        // closes meets the idle timeout like any other.
        Event::GoAway { .. } | Event::PingAck { .. } => Step::Skip(len),
        Event::SettingsAcked => {
            if settings_waiters.len() > core.settings_unacked() {
                match settings_waiters.pop_front() {
                    Some(w) => Step::LocalSettings {
                        len,
                        callback: w.callback,
                        settings: *core.local_settings(),
                        rtt: now.saturating_duration_since(w.sent),
                    },
                    None => Step::Skip(len),
                }
            } else {
                Step::Skip(len)
            }
        }
        Event::StreamClosed { stream } => {
            draining.forget(stream);
            Step::Skip(len)
        }
    }
}

/// Rebuilds a request head from HTTP/2 fields in the form the HTTP/1.1
/// parser leaves: `head` holds the bytes and `parsed` ranges into it.
/// Method and target come from `:method` and `:path` (`:authority` for a
/// CONNECT); every field, pseudo-headers included, is a header as Node's
/// `req.headers` shows them, and `host` is added from `:authority` when the
/// client sent none.
fn rebuild_request_head<'f>(ex: &mut Exchange, fields: impl Iterator<Item = (&'f [u8], &'f [u8])>) {
    let head = &mut ex.head;
    let parsed = &mut ex.parsed;
    head.clear();
    parsed.headers.clear();
    parsed.version_minor = 0;
    parsed.keep_alive = true;
    parsed.upgrade = false;
    parsed.expect_continue = false;
    parsed.expect_other = false;
    let mut authority = None;
    let mut has_host = false;
    let mut path = None;
    let mut method = 0..0;
    for (name, value) in fields {
        let n = head.len()..head.len() + name.len();
        head.extend_from_slice(name);
        let v = head.len()..head.len() + value.len();
        head.extend_from_slice(value);
        match name {
            b":method" => method = v.clone(),
            b":path" => path = Some(v.clone()),
            b":authority" => authority = Some(v.clone()),
            b"host" => has_host = true,
            _ => {}
        }
        parsed.headers.push((n, v));
    }
    if let (Some(a), false) = (authority.clone(), has_host) {
        let n = head.len()..head.len() + 4;
        head.extend_from_slice(b"host");
        parsed.headers.push((n, a));
    }
    parsed.method = method;
    parsed.target = path.or(authority).unwrap_or(0..0);
}

/// A response's `write`/`end` on an HTTP/2 stream: the head as HEADERS the
/// first time, the body as DATA as far as the windows allow (the rest held
/// in `pending_out`), trailers as a last HEADERS. Returns whether the
/// caller may write more now (`false`: wait for `drain`).
pub(super) fn send(
    st: &mut ServerState,
    ex: ExId,
    data: &[u8],
    end: bool,
) -> Option<Result<bool, Error>> {
    let ServerState {
        h2conns,
        exchanges,
        date,
        ..
    } = st;
    let e = exchanges.get_mut(ex)?;
    if e.response_body.ended() {
        return Some(Err(Error::new(ErrorKind::WriteAfterEnd, "write after end")));
    }
    if !e.response_head.is_fixed() {
        let status = e.status;
        if let Err(err) = e.commit_head(status, None, &[]) {
            return Some(Err(err));
        }
    }
    let Wire::Http2 { stream } = e.wire else {
        return None;
    };
    if end {
        e.response_body.reach(ResponseBody::Ended);
    }
    let Some(sock) = e.socket else {
        // The stream was reset or its connection died: the bytes go
        // nowhere (`end` is still `end`), and a write is misuse, as Node's
        // `ERR_HTTP2_INVALID_STREAM` says.
        if end && data.is_empty() {
            return Some(Ok(false));
        }
        return Some(Err(Error::new(
            ErrorKind::WriteAfterEnd,
            "The stream has been destroyed",
        )
        .with_code("ERR_HTTP2_INVALID_STREAM")));
    };
    let Some(c) = h2conns.get_mut(sock) else {
        return Some(Ok(false));
    };
    touch(&mut c.stream_check_at, e, sock);
    let bodiless = e.is_head_request() || matches!(e.status, 100..=199 | 204 | 304);
    let data = if bodiless { &[][..] } else { data };
    if !e.response_head.is_written() {
        let end_len = (end && !bodiless).then_some(data.len());
        let head_ends_stream = end && data.is_empty() && e.trailers_out.is_empty();
        write_head(c, e, sock, stream, end_len, head_ends_stream, date);
        if head_ends_stream {
            return Some(Ok(finish_sending(c, e, sock, ex)));
        }
    }
    if data.is_empty() && !end {
        // `flush_headers`, or an empty write: no DATA frame for nothing.
    } else if e.pending_out.is_empty() {
        // Nothing held before: straight to frames, and only what the
        // windows refuse is kept.
        let sent = send_data(c, sock, stream, data, end && e.trailers_out.is_empty());
        if sent < data.len() {
            hold(e, &data[sent..]);
        }
    } else {
        hold(e, data);
    }
    let ok = push_body(c, e, sock, ex, stream);
    Some(Ok(ok))
}

/// Keeps body bytes the windows did not take yet (a pooled buffer, so a
/// tiny one never goes back to the pool to be grown by someone else).
fn hold(e: &mut Exchange, data: &[u8]) {
    if e.pending_out.capacity() == 0 {
        e.pending_out = runtime::take_buf();
    }
    e.pending_out.extend_from_slice(data);
}

/// DATA frames for as much of `data` as the windows allow; how much went.
fn send_data(c: &mut H2Conn, sock: SockId, stream: u32, data: &[u8], end: bool) -> usize {
    let core = &mut c.core;
    let mut result = Ok(0);
    net::write_with(sock, |out| {
        result = core.send_data(stream, data, end, out);
    });
    match result {
        Ok(n) => n.min(data.len()),
        Err(err) => {
            // The stream is gone (reset): what is left goes nowhere.
            log::debug!("socket {}: stream {stream}: {err}", sock.key);
            data.len()
        }
    }
}

/// Sends what `pending_out` holds as far as the windows allow; once the
/// response has ended and all of it went, the trailers and the end of the
/// stream. Returns whether the response is under its high-water mark.
fn push_body(c: &mut H2Conn, e: &mut Exchange, sock: SockId, ex: ExId, stream: u32) -> bool {
    let ended = e.response_body.ended();
    let trailers = !e.trailers_out.is_empty();
    if !e.pending_out.is_empty() {
        let sent = send_data(c, sock, stream, &e.pending_out, ended && !trailers);
        e.pending_out.drain(..sent);
        if sent > 0 {
            touch(&mut c.stream_check_at, e, sock);
        }
        // The send timeout counts from the last progress (nginx's
        // `send_timeout`): a peer that keeps a window shut holds a
        // response only so long.
        e.stalled_since = match (e.pending_out.is_empty(), sent > 0, e.stalled_since) {
            (true, _, _) => None,
            (false, true, _) | (false, false, None) => Some(runtime::now()),
            (false, false, since) => since,
        };
    }
    if ended && e.pending_out.is_empty() {
        if trailers {
            write_trailers(c, e, sock, stream);
        }
        return finish_sending(c, e, sock, ex);
    }
    let ok = e.pending_out.len() < HIGH_WATER_MARK && net::backlog(sock) < HIGH_WATER_MARK;
    if !ok {
        e.need_drain = true;
    }
    ok
}

/// The response's last frame is queued: `finish` once it reaches the OS.
fn finish_sending(c: &mut H2Conn, e: &mut Exchange, sock: SockId, ex: ExId) -> bool {
    if !e.request.complete() {
        // The response is whole before the request's body: the rest of the
        // body is read, checked and thrown away, up to DRAIN_BUDGET, then
        // the client is told to stop (RFC 9113 §8.1).
        if let Wire::Http2 { stream } = e.wire {
            if matches!(
                c.core.stream_state(stream),
                h2::StreamState::Open | h2::StreamState::HalfClosedLocal
            ) {
                c.draining.0.push((stream, 0));
            }
        }
    }
    c.finishing.push_back((ex, net::queued_mark(sock)));
    net::flush_soon(sock);
    false
}

/// Writes the response head as HEADERS: `:status`, the handler's headers
/// with names lowercased (connection-specific ones dropped, as Node drops
/// them: HTTP/2 forbids them), `date`, and a `content-length` when the
/// whole body is known now.
fn write_head(
    c: &mut H2Conn,
    e: &mut Exchange,
    sock: SockId,
    stream: u32,
    end_len: Option<usize>,
    end_stream: bool,
    date: &mut DateCache,
) {
    let H2Conn {
        core,
        scratch,
        ranges,
        ..
    } = c;
    scratch.clear();
    ranges.clear();
    let mut push = |scratch: &mut Vec<u8>, name: &[u8], value: &[u8]| {
        let n = scratch.len()..scratch.len() + name.len();
        scratch.extend(name.iter().map(u8::to_ascii_lowercase));
        let v = scratch.len()..scratch.len() + value.len();
        scratch.extend_from_slice(value);
        ranges.push((n, v));
    };
    let mut digits = [0u8; 20];
    push(
        scratch,
        b":status",
        decimal(u64::from(e.status), &mut digits),
    );
    for line in e.head_lines.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let value = value.strip_prefix(b" ").unwrap_or(value);
        if is_connection_specific(name, value) {
            continue;
        }
        push(scratch, name, value);
    }
    if !e.flags.date && e.send_date {
        push(scratch, b"date", date.get_at(runtime::now()).as_bytes());
    }
    if let (Some(n), None, false) = (end_len, e.flags.content_length, e.removed_content_length) {
        push(scratch, b"content-length", decimal(n as u64, &mut digits));
    }
    let fields = ranges.iter().map(|(n, v)| Field {
        name: &scratch[n.clone()],
        value: &scratch[v.clone()],
        sensitive: false,
    });
    let mut result = Ok(());
    net::write_with(sock, |out| {
        result = core.send_headers(stream, fields, end_stream, out);
    });
    if let Err(err) = result {
        log::debug!("socket {}: stream {stream}: {err}", sock.key);
    }
    e.response_head = super::exchange::ResponseHead::Written;
}

/// `n` in decimal, written into `buf` (no allocation).
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

/// The trailers (`add_trailers`) as the stream's last HEADERS.
fn write_trailers(c: &mut H2Conn, e: &mut Exchange, sock: SockId, stream: u32) {
    let H2Conn {
        core,
        scratch,
        ranges,
        ..
    } = c;
    scratch.clear();
    ranges.clear();
    for (name, value) in &e.trailers_out {
        let n = scratch.len()..scratch.len() + name.len();
        scratch.extend(name.bytes().map(|b| b.to_ascii_lowercase()));
        let v = scratch.len()..scratch.len() + value.len();
        scratch.extend_from_slice(value.as_bytes());
        ranges.push((n, v));
    }
    let fields = ranges.iter().map(|(n, v)| Field {
        name: &scratch[n.clone()],
        value: &scratch[v.clone()],
        sensitive: false,
    });
    net::write_with(sock, |out| {
        if let Err(err) = core.send_trailers(stream, fields, out) {
            log::debug!("socket {}: stream {stream}: {err}", sock.key);
        }
    });
}

/// Windows opened: every stream with a held body sends what it now may.
fn flush_blocked(id: SockId) {
    with_state(|st| {
        let ServerState {
            h2conns, exchanges, ..
        } = st;
        let Some(c) = h2conns.get_mut(id) else {
            return;
        };
        // By index, not through a collected list (no allocation per
        // window opened): sending changes `c` but never the stream list.
        let mut i = 0;
        while let Some((stream, ex)) = c.streams.nth(i) {
            i += 1;
            if let Some(e) = exchanges.get_mut(ex) {
                if !e.pending_out.is_empty() && e.response_head.is_written() {
                    push_body(c, e, id, ex, stream);
                }
            }
        }
    });
}

/// `drain` for every response that asked for it and is under its mark.
fn emit_drains(id: SockId) {
    // The list is the connection's own, lent out while the listeners run
    // (they may write, and so come back here): no allocation once grown.
    let mut ready = with_state(|st| {
        let ServerState {
            h2conns, exchanges, ..
        } = st;
        let c = h2conns.get_mut(id)?;
        if net::backlog(id) >= HIGH_WATER_MARK {
            return None;
        }
        let mut ready = std::mem::take(&mut c.drain_list);
        for (_, ex) in c.streams.iter() {
            if let Some(e) = exchanges.get_mut(ex) {
                if e.need_drain && e.pending_out.len() < HIGH_WATER_MARK {
                    e.need_drain = false;
                    ready.push(ex);
                }
            }
        }
        Some(ready)
    })
    .flatten()
    .unwrap_or_default();
    for &ex in &ready {
        conn::emit_ex(ex, |l| &mut l.drain, |f| f());
    }
    ready.clear();
    with_state(|st| {
        if let Some(c) = st.h2conns.get_mut(id) {
            if c.drain_list.capacity() < ready.capacity() {
                c.drain_list = ready;
            }
        }
    });
}

/// A frame went or came on `e`'s stream: its quiet spell starts over (and
/// a timer that had fired is armed again, with the connection's check).
fn touch(check_at: &mut Option<Instant>, e: &mut Exchange, sock: SockId) {
    if e.stream_timer.touch(runtime::now()) {
        if let Some(at) = e.stream_timer.due() {
            arm_stream_check(check_at, sock, at);
        }
    }
}

/// Queues the connection's stream-timeout check for `at`, unless one at or
/// before it is queued already (that one re-arms for the rest).
fn arm_stream_check(check_at: &mut Option<Instant>, id: SockId, at: Instant) {
    if check_at.is_some_and(|queued| queued <= at) {
        return;
    }
    *check_at = Some(at);
    runtime::schedule(
        at,
        Work::owned(stream_timeouts_due, id.ctx(), net::destroy_ctx).while_alive(net::socket_alive),
    );
}

/// `set_timeout(ms)` on an HTTP/2 exchange's handles (Node's
/// `stream.setTimeout`, which the compatibility API's `req.setTimeout` and
/// `res.setTimeout` call): the stream's own inactivity timeout, not the
/// connection's (its other streams may be busy). `0` turns it off.
/// `None`: not an HTTP/2 exchange (HTTP/1.1 sets the connection's).
pub(super) fn set_stream_timeout(ex: ExId, ms: u64) -> Option<()> {
    with_state(|st| {
        let ServerState {
            h2conns, exchanges, ..
        } = st;
        let e = exchanges.get_mut(ex)?;
        let Wire::Http2 { .. } = e.wire else {
            return None;
        };
        if ms == 0 {
            e.stream_timer = StreamTimer::Off;
            return Some(());
        }
        let now = runtime::now();
        e.stream_timer = StreamTimer::Armed {
            limit: Duration::from_millis(ms),
            since: now,
        };
        // A stream already over (reset, or its connection gone) keeps the
        // setting and never times out.
        let at = e.stream_timer.due();
        if let (Some(sock), Some(at)) = (e.socket, at) {
            if let Some(c) = h2conns.get_mut(sock) {
                arm_stream_check(&mut c.stream_check_at, sock, at);
            }
        }
        Some(())
    })
    .flatten()
}

/// The connection's stream-timeout check: every stream quiet for its
/// timeout gets `timeout` (once per quiet spell), and the check is queued
/// again for the next stream due.
///
/// Node's compatibility API forwards a stream's `timeout` to its request
/// and its response; with no listener anywhere nothing happens: Node
/// neither resets the stream nor closes the connection (whatever its docs
/// say, `res.setTimeout(ms)` alone leaves the response to finish, as
/// `node` 20 shows), so neither does this.
fn stream_timeouts_due(ctx: u64) {
    let id = SockId::from_ctx(ctx);
    let now = runtime::now();
    let due = with_state(|st| {
        let ServerState {
            h2conns, exchanges, ..
        } = st;
        let c = h2conns.get_mut(id)?;
        if c.stream_check_at.is_none_or(|queued| queued > now) {
            return None; // stale: a later check replaced this one
        }
        c.stream_check_at = None;
        let mut due = Vec::new();
        let mut next: Option<Instant> = None;
        for (_, ex) in c.streams.iter() {
            let Some(e) = exchanges.get_mut(ex) else {
                continue;
            };
            let (StreamTimer::Armed { limit, .. }, Some(at)) =
                (e.stream_timer, e.stream_timer.due())
            else {
                continue;
            };
            if at <= now {
                e.stream_timer = StreamTimer::Fired { limit };
                due.push(ex);
            } else {
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        }
        if let Some(at) = next {
            arm_stream_check(&mut c.stream_check_at, id, at);
        }
        Some(due)
    })
    .flatten()
    .unwrap_or_default();
    for ex in due {
        conn::emit_ex(ex, |l| &mut l.req_timeout, |f| f());
        conn::emit_ex(ex, |l| &mut l.res_timeout, |f| f());
    }
}

/// The socket's output went out: `finish` for responses whose last frame
/// left; close a connection going away once its streams are done.
fn after_flush(id: SockId) {
    let written = net::written(id);
    loop {
        let next = with_state(|st| {
            let c = st.h2conns.get_mut(id)?;
            let &(ex, mark) = c.finishing.front()?;
            if mark > written {
                return None;
            }
            c.finishing.pop_front();
            if let Some(Wire::Http2 { stream }) = st.exchanges.get(ex).map(|e| e.wire) {
                c.streams.forget(stream);
            }
            let e = st.exchanges.get_mut(ex)?;
            e.response_body.reach(ResponseBody::Finished);
            if !e.request.complete() {
                // The stream was reset: no more of its body will come.
                e.request.end();
            }
            Some(ex)
        })
        .flatten();
        let Some(ex) = next else { break };
        conn::emit_ex(ex, |l| &mut l.finish, |f| f());
        conn::emit_res_close(ex);
        conn::close_request_after_response(ex);
        with_state(|st| conn::free_if_done(st, ex));
    }
    close_if_done(id);
}

/// Queues a look at connection `id`'s SETTINGS in a second: input ticks
/// the core as it comes, but a client that sends nothing more would never
/// be timed out for leaving our SETTINGS unacknowledged
/// (`Config::settings_timeout_ticks`). Armed when SETTINGS go out; it
/// lapses once none awaits its ACK, so an ordinary connection costs one
/// timer, at its start.
fn arm_settings_check(id: SockId) {
    runtime::schedule(
        runtime::now() + Duration::from_secs(1),
        Work::new(settings_check, id.ctx()).while_alive(net::socket_alive),
    );
}

/// The timer of [`arm_settings_check`]: ticks the core if input has not
/// this past second, and fails the connection when the SETTINGS timeout
/// has run out.
fn settings_check(ctx: u64) {
    let id = SockId::from_ctx(ctx);
    let again = with_state(|st| {
        let c = st.h2conns.get_mut(id)?;
        if c.life == Life::Failed || c.core.settings_unacked() == 0 {
            return Some(false);
        }
        let now = runtime::now();
        if now.duration_since(c.ticked) >= Duration::from_secs(1) {
            c.ticked = now;
            if tick(&mut c.core, id).is_err() {
                log::debug!("socket {}: SETTINGS not acknowledged in time", id.key);
                c.life = Life::Failed;
                net::flush_soon(id);
                return Some(false);
            }
        }
        Some(true)
    })
    .flatten();
    // A failed connection closes once its GOAWAY has gone out (the flush
    // ends in `after_flush`, which closes it).
    if again == Some(true) {
        arm_settings_check(id);
    }
}

/// Ticks the core (the flood counters' second, the SETTINGS timeout). Its
/// output, a GOAWAY when the timeout ran out, goes through a local buffer:
/// asking the socket for its own every second could take a buffer from the
/// pool (and so allocate) for nothing.
fn tick(core: &mut h2::Connection, id: SockId) -> Result<(), h2::H2Error> {
    let mut goaway = Vec::new();
    let ticked = core.tick(&mut goaway);
    if !goaway.is_empty() {
        net::write_owned(id, &mut goaway);
    }
    ticked
}

/// The error a SETTINGS callback gets when its connection closes first.
fn settings_cancelled() -> Error {
    Error::new(
        ErrorKind::Aborted,
        "The pending settings acknowledgment was cancelled",
    )
    .with_code("ERR_HTTP2_SETTINGS_CANCEL")
}

/// `Http2Session::update_settings`: our SETTINGS changed mid-session.
pub(super) fn update_settings(
    id: SockId,
    settings: h2::Settings,
    callback: SettingsCallback,
) -> Result<(), Error> {
    let invalid_session = || {
        Error::new(ErrorKind::Aborted, "The session has been destroyed")
            .with_code("ERR_HTTP2_INVALID_SESSION")
    };
    let sent = with_state(|st| {
        let c = st.h2conns.get_mut(id).filter(|c| c.life != Life::Failed)?;
        let core = &mut c.core;
        let mut result = None;
        net::write_with(id, |out| result = Some(core.send_settings(settings, out)));
        match result? {
            Err(e) => {
                // The core says INTERNAL_ERROR for "too many awaiting
                // acknowledgment", the RFC's codes for bad values.
                let code = if e.code() == ErrorCode::InternalError {
                    "ERR_HTTP2_MAX_PENDING_SETTINGS_ACK"
                } else {
                    "ERR_HTTP2_INVALID_SETTING_VALUE"
                };
                Some(Err(Error::new(
                    ErrorKind::Parse,
                    format!("Invalid settings: {e}"),
                )
                .with_code(code)))
            }
            Ok(()) => {
                c.settings_waiters.push_back(SettingsWaiter {
                    sent: runtime::now(),
                    callback,
                });
                Some(Ok(()))
            }
        }
    })
    .flatten();
    match sent {
        Some(Ok(())) => {
            net::flush_soon(id);
            arm_settings_check(id);
            Ok(())
        }
        Some(Err(e)) => Err(e),
        None => Err(invalid_session()),
    }
}

/// `Http2Session::goaway`: a GOAWAY of the application's choosing. As in
/// Node it closes nothing by itself.
pub(super) fn send_goaway(id: SockId, code: ErrorCode, last_stream_id: u32, debug: &[u8]) -> bool {
    let sent = with_state(|st| {
        let c = st.h2conns.get_mut(id).filter(|c| c.life != Life::Failed)?;
        if c.core.state() == h2::ConnState::Handshaking {
            return None;
        }
        let core = &mut c.core;
        let mut result = None;
        net::write_with(id, |out| {
            result = Some(core.send_goaway(code, last_stream_id, debug, out).is_ok());
        });
        result
    })
    .flatten()
    .unwrap_or(false);
    if sent {
        net::flush_soon(id);
    }
    sent
}

/// Our settings in effect on connection `id`, and whether a change of
/// them awaits the client's ACK.
pub(super) fn local_settings(id: SockId) -> Option<(h2::Settings, bool)> {
    with_state(|st| {
        st.h2conns
            .get(id)
            .map(|c| (*c.core.local_settings(), c.core.settings_unacked() > 0))
    })
    .flatten()
}

/// Closes a connection that failed, or that is going away and has no
/// stream left.
fn close_if_done(id: SockId) {
    let close = with_state(|st| {
        let c = st.h2conns.get(id)?;
        Some(c.life == Life::Failed || (c.life == Life::GoingAway && c.streams.is_empty()))
    })
    .flatten()
    .unwrap_or(false);
    if close {
        net::shutdown_and_linger(id);
    }
}

/// The server's close grace ended (see `Server::set_close_grace`): a
/// connection still there is destroyed, and its streams in flight are
/// aborted (as is one whose client never finished its preface).
pub(super) fn destroy_after_grace(ctx: u64) {
    let id = SockId::from_ctx(ctx);
    let busy = with_state(|st| st.h2conns.get(id).is_some()).unwrap_or(false);
    if busy && net::is_open(id) {
        log::debug!("socket {}: close grace over with streams in flight", id.key);
        net::destroy(id, Cause::Aborted);
    }
}

/// The server is closing: GOAWAY (the streams in flight finish), and the
/// connection closes as soon as none is left.
pub(super) fn go_away(st: &mut ServerState, id: SockId) -> bool {
    let Some(c) = st.h2conns.get_mut(id) else {
        return false;
    };
    if c.life != Life::Serving {
        return false;
    }
    if c.core.state() == h2::ConnState::Handshaking {
        c.life = Life::GoAwayOwed;
        return true;
    }
    c.life = Life::GoingAway;
    let core = &mut c.core;
    net::write_with(id, |out| core.goaway(ErrorCode::NoError, b"", out));
    net::flush_soon(id);
    true
}

/// Whether connection `id` was asked to go away before its client's
/// preface came (so its GOAWAY has not gone yet).
pub(super) fn owes_goaway(st: &ServerState, id: SockId) -> bool {
    st.h2conns
        .get(id)
        .is_some_and(|c| c.life == Life::GoAwayOwed)
}

/// `res.write_continue()` over HTTP/2: an informational HEADERS with
/// `:status 100`, before the final head.
pub(super) fn write_continue(ex: ExId) {
    with_state(|st| {
        let ServerState {
            h2conns, exchanges, ..
        } = st;
        let e = exchanges.get(ex)?;
        let (Wire::Http2 { stream }, Some(sock)) = (e.wire, e.socket) else {
            return None;
        };
        if e.response_head.is_written() {
            return None;
        }
        let core = &mut h2conns.get_mut(sock)?.core;
        let status: [(&[u8], &[u8]); 1] = [(b":status", b"100")];
        net::write_with(sock, |out| {
            if let Err(err) = core.send_headers(stream, &status, false, out) {
                log::debug!("socket {}: stream {stream}: 100: {err}", sock.key);
            }
        });
        Some(())
    });
}

/// The core API's `stream` event, when anyone listens.
fn emit_stream(server: (usize, u32), ex: ExId) {
    let listens = with_state(|st| {
        st.servers
            .get(server.0)
            .is_some_and(|srv| !srv.listeners.stream.is_empty())
    })
    .unwrap_or(false);
    if listens {
        let headers = super::h2_stream::stream_headers(ex);
        let stream = super::ServerHttp2Stream::new(ex);
        super::emit_server(server, |l| &mut l.stream, |f| f(stream, headers.clone()));
    }
}

/// The `session` event of a connection that just switched to HTTP/2.
pub(super) fn emit_session(server: (usize, u32), id: SockId) {
    let session = super::Http2Session::new(id);
    super::emit_server(server, |l| &mut l.session, |f| f(session));
}

impl H2Conn {
    /// The settings the peer sent.
    pub(crate) fn peer_settings(&self) -> crate::http::h2::Settings {
        *self.core.peer_settings()
    }
}

/// Resets one stream (the handler's `destroy`): the stream ends with
/// RST_STREAM CANCEL; the connection and its other streams go on.
pub(super) fn reset_stream(ex: ExId) {
    reset_stream_with(ex, ErrorCode::Cancel);
}

/// Resets one stream with `code` (the core API's `stream.close(code)`).
pub(super) fn reset_stream_with(ex: ExId, code: ErrorCode) {
    let found = with_state(|st| {
        let ServerState {
            h2conns, exchanges, ..
        } = st;
        let e = exchanges.get(ex)?;
        let (Wire::Http2 { stream }, Some(sock)) = (e.wire, e.socket) else {
            return None;
        };
        let c = h2conns.get_mut(sock)?;
        let core = &mut c.core;
        net::write_with(sock, |out| core.reset(stream, code, out));
        c.streams.forget(stream);
        c.finishing.retain(|&(f, _)| f != ex);
        net::flush_soon(sock);
        Some(())
    })
    .flatten();
    if found.is_some() {
        conn::abort_exchange(ex);
    }
}

/// The peer closed its side: HTTP/2 has no half-closed connection, so the
/// streams still open are cut short.
fn on_eof(id: SockId) {
    net::destroy(id, Cause::Aborted);
}

/// The idle timeout: the server's `timeout` listeners decide; without one
/// the connection is closed.
fn on_timeout(id: SockId) -> bool {
    let Some(server) = with_state(|st| st.h2conns.get(id).map(H2Conn::server)).flatten() else {
        return false;
    };
    let socket = net::Socket::from_id(id);
    super::emit_server(server, |l| &mut l.timeout, |f| f(socket))
}

/// The socket is gone: every stream still open is aborted (`close` on
/// both handles), then the server counts one connection fewer.
fn on_socket_closed(id: SockId, cause: Cause) {
    let Some(Some(mut c)) = with_state(|st| st.h2conns.remove(id)) else {
        return;
    };
    for w in c.settings_waiters.drain(..) {
        (w.callback)(Err(settings_cancelled()));
    }
    let reason = if cause == Cause::Timeout {
        super::CloseReason::Timeout
    } else {
        super::CloseReason::Aborted
    };
    let mut all: Vec<ExId> = c.finishing.drain(..).map(|(ex, _)| ex).collect();
    all.extend(c.streams.iter().map(|(_, ex)| ex));
    all.dedup();
    for ex in all {
        let req_open = with_state(|st| match st.exchanges.get_mut(ex) {
            Some(e) if !(e.request.done() && e.response_body.finished()) => e.request.close(),
            _ => false,
        })
        .unwrap_or(false);
        if req_open {
            conn::emit_ex(ex, |l| &mut l.req_close, |f| f(reason));
        }
        conn::emit_res_close(ex);
        with_state(|st| {
            if let Some(e) = st.exchanges.get_mut(ex) {
                e.response_body.reach(ResponseBody::Abandoned);
            }
            conn::free_if_done(st, ex);
        });
    }
    with_state(|st| super::connection_closed(st, c.server));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_written_without_allocating() {
        let mut buf = [0u8; 20];
        assert_eq!(decimal(0, &mut buf), b"0");
        assert_eq!(decimal(200, &mut buf), b"200");
        assert_eq!(decimal(u64::MAX, &mut buf), b"18446744073709551615");
    }

    #[test]
    fn a_body_after_an_early_response_is_drained_up_to_the_budget() {
        let mut d = Draining::default();
        // Streams not being drained are none of its business.
        assert!(!d.account(1, DRAIN_BUDGET + 1, false));
        d.0.push((1, 0));
        d.0.push((3, 0));
        assert!(!d.account(1, DRAIN_BUDGET, false));
        // One byte past the budget: reset it, and forget it.
        assert!(d.account(1, 1, false));
        assert!(!d.account(1, 1, false));
        // A body that ends within the budget leaves quietly, as does
        // one that ends on the very frame that passes it (nothing to stop).
        assert!(!d.account(3, 10, true));
        assert!(d.0.is_empty());
        d.0.push((5, 0));
        assert!(!d.account(5, DRAIN_BUDGET + 1, true));
        d.0.push((7, 0));
        d.forget(7);
        assert!(d.0.is_empty());
    }

    #[test]
    fn the_preface_is_told_from_http1_at_every_length() {
        for n in 0..PREFACE.len() {
            assert_eq!(sniff(&PREFACE[..n]), Sniffed::Undecided, "{n} bytes");
        }
        assert_eq!(sniff(PREFACE), Sniffed::Http2);
        assert_eq!(
            sniff(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0"),
            Sniffed::Http2
        );
        assert_eq!(sniff(b"GET / HTTP/1.1\r\n"), Sniffed::Http1);
        assert_eq!(sniff(b"PRI * HTTP/1.1\r\n"), Sniffed::Http1);
    }
}
