//! One WebSocket connection (`ws`'s `WebSocket` class): its record, its
//! handle, and the glue between its socket's events and the protocol core.
//!
//! The record lives in a thread-local slab, like every other record of the
//! crate, and is borrowed only to read or change fields, never while user
//! code runs. Reading works in three steps:
//!
//! 1. the socket's protocol (`PROTOCOL` here: the socket is handed from
//!    HTTP to this layer, no closures hang on it) hands the bytes to
//!    [`feed`];
//! 2. `feed` takes the [`Receiver`] out of the record (so the record is
//!    free while listeners run) and lets it parse;
//! 3. each complete event goes to [`dispatch`], which runs the user's
//!    listeners; a listener that pauses the connection stops delivery, and
//!    the bytes not yet parsed wait in `held` until `resume`.
//!
//! Writing encodes frames straight into the socket's output buffer
//! (`net::write_with`): no copy and, in steady state, no allocation.

use std::cell::RefCell;

use slab::Slab;

use super::data::Data;
use super::protocol::{self, Flow, Incoming, ProtocolError, Receiver, Sender};
use crate::http::{ClientRequest, ClientResponse};
use crate::net::{self, Cause, PerSocket, SockId, Socket};
use crate::runtime::listeners::{self, Listeners};
use crate::runtime::{self, LoopBound, Timer};
use crate::{Error, ErrorKind};

/// How long a close handshake may wait for the peer's answer before the
/// socket is destroyed (`ws`'s `closeTimeout`, 30 s).
const CLOSE_TIMEOUT_MS: u64 = 30_000;

/// The connection's state, as `ws` and the browser's `WebSocket` number
/// them (`readyState`).
///
/// ```
/// use nodelike::ws::ReadyState;
/// assert_eq!(ReadyState::Open as u8, 1);
/// assert_eq!(ReadyState::Closing.to_string(), "CLOSING");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[doc(alias = "readyState")]
pub enum ReadyState {
    /// The opening handshake is in progress (client side).
    Connecting = 0,
    /// Messages flow both ways.
    Open = 1,
    /// A close frame was sent or received; the socket has not closed yet.
    Closing = 2,
    /// The socket has closed (`close` was emitted).
    Closed = 3,
}

impl std::fmt::Display for ReadyState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ReadyState::Connecting => "CONNECTING",
            ReadyState::Open => "OPEN",
            ReadyState::Closing => "CLOSING",
            ReadyState::Closed => "CLOSED",
        })
    }
}

/// Options of [`WebSocket::send_with`] (`ws`'s `send(data, options, cb)`).
///
/// ```
/// let options = nodelike::ws::SendOptions { binary: Some(true), ..Default::default() };
/// assert!(options.fin);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendOptions {
    /// Send as binary (`Some(true)`) or text (`Some(false)`); `None`
    /// decides by the data's type (see [`Data`]).
    pub binary: Option<bool>,
    /// Compress when permessage-deflate was negotiated (`None`: yes, as
    /// `ws`; messages under the threshold are sent as they are anyway).
    pub compress: Option<bool>,
    /// Whether this is the last fragment of the message (default `true`).
    /// `false` sends a fragment; the message goes on with further sends
    /// and ends with one whose `fin` is `true`.
    pub fin: bool,
}

impl Default for SendOptions {
    fn default() -> Self {
        SendOptions {
            binary: None,
            compress: None,
            fin: true,
        }
    }
}

/// A callback of [`WebSocket::send_with`], [`ping_with`](WebSocket::ping_with)
/// and [`pong_with`](WebSocket::pong_with): `None` once the frame is queued
/// on the socket, or the error that kept it from being sent.
pub type SendCallback = Box<dyn FnOnce(Option<&Error>)>;

/// Where the close handshake stands (RFC 6455 §7): which of the two close
/// frames have gone by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CloseHandshake {
    /// Neither side has sent a close frame.
    NotStarted,
    /// We sent ours and wait for the peer's answer (for at most
    /// [`CLOSE_TIMEOUT_MS`]).
    Sent,
    /// The peer sent one; ours follows at once.
    Received,
    /// Both frames went by, or the connection failed: nothing more is
    /// read, and the socket is ending.
    Done,
}

/// Whether a message sent in fragments (`fin: false`) is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outgoing {
    /// The next send starts a new message.
    Idle,
    /// The next send continues the open message.
    Fragmenting,
}

/// What the record is bound to.
enum Link {
    /// A client's opening handshake: the HTTP request asking to upgrade
    /// (`None` for the moment between the record and the request).
    Handshake(Option<ClientRequest>),
    /// Frames flow over the socket. The receiver is taken out while it
    /// parses (so listeners can use the record), and is `None` then.
    Framed {
        socket: Socket,
        receiver: Option<Box<Receiver>>,
        sender: Box<Sender>,
    },
    /// The socket closed.
    Gone,
}

/// A `message` listener: `(data, is_binary)`.
type MessageListener = dyn FnMut(&[u8], bool);
/// A `close` listener: `(code, reason)`.
type CloseListener = dyn FnMut(u16, &str);
/// A `ping` or `pong` listener: the payload.
type ControlListener = dyn FnMut(&[u8]);

#[derive(Default)]
struct WsListeners {
    open: Listeners<dyn FnMut()>,
    message: Listeners<MessageListener>,
    close: Listeners<CloseListener>,
    error: Listeners<dyn FnMut(&Error)>,
    ping: Listeners<ControlListener>,
    pong: Listeners<ControlListener>,
    drain: Listeners<dyn FnMut()>,
    unexpected_response: Listeners<dyn FnMut(&ClientResponse)>,
}

struct WsRec {
    gen: u32,
    state: ReadyState,
    link: Link,
    close: CloseHandshake,
    outgoing: Outgoing,
    /// The code and reason `close` reports: 1006 until a close frame
    /// arrives, 1005 when it had no code.
    close_code: u16,
    close_reason: String,
    /// `pause` was called: no events until `resume`.
    paused: bool,
    /// Bytes read but not parsed yet: the head of the upgrade, or what
    /// followed an event whose listener paused the connection.
    held: Vec<u8>,
    close_timer: Option<Timer>,
    error_emitted: bool,
    protocol: String,
    extensions: String,
    url: String,
    /// The server tracking this client (`clients()`), to forget it on
    /// close.
    tracked_by: Option<super::server::ServerKey>,
    listeners: WsListeners,
}

thread_local! {
    static SOCKETS: RefCell<Slab<WsRec>> = const { RefCell::new(Slab::new()) };
}

/// Runs `f` with this thread's WebSocket records borrowed (`None` while
/// the thread-local is being destroyed). `f` never calls user code.
fn with_sockets<R>(f: impl FnOnce(&mut Slab<WsRec>) -> R) -> Option<R> {
    SOCKETS
        .try_with(|cell| {
            let mut sockets = cell
                .try_borrow_mut()
                .expect("nodelike: WebSocket records entered re-entrantly (a bug in nodelike)");
            f(&mut sockets)
        })
        .ok()
}

/// One WebSocket connection (`ws`'s `WebSocket`), server or client side:
/// a `Copy` handle into the loop's records, used on the loop's thread.
///
/// A server gets one per connection from
/// [`on_connection`](super::WebSocketServer::on_connection); a client
/// makes one with [`connect`](WebSocket::connect).
///
/// ```no_run
/// use nodelike::ws::WebSocket;
/// let ws = WebSocket::connect("ws://127.0.0.1:8080/", Default::default());
/// ws.on_open(move || {
///     ws.send("hello");
/// });
/// ws.on_message(move |data, _is_binary| {
///     println!("{}", String::from_utf8_lossy(data));
///     ws.close(Some(1000), "done");
/// });
/// nodelike::run();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WebSocket {
    key: usize,
    gen: u32,
    _loop: LoopBound,
}

// ------------------------------------------------------------ the record

impl WebSocket {
    /// A new record, connecting (its link is set by the client or server
    /// that made it).
    pub(super) fn create(url: String) -> WebSocket {
        let gen = runtime::next_gen();
        let key = with_sockets(|sockets| {
            sockets.insert(WsRec {
                gen,
                state: ReadyState::Connecting,
                link: Link::Handshake(None),
                close: CloseHandshake::NotStarted,
                outgoing: Outgoing::Idle,
                close_code: 1006,
                close_reason: String::new(),
                paused: false,
                held: Vec::new(),
                close_timer: None,
                error_emitted: false,
                protocol: String::new(),
                extensions: String::new(),
                url,
                tracked_by: None,
                listeners: WsListeners::default(),
            })
        })
        .unwrap_or(usize::MAX);
        WebSocket {
            key,
            gen,
            _loop: LoopBound::default(),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut WsRec) -> R) -> Option<R> {
        with_sockets(|sockets| {
            sockets
                .get_mut(self.key)
                .filter(|r| r.gen == self.gen)
                .map(f)
        })
        .flatten()
    }

    fn emit<F: ?Sized + 'static>(
        &self,
        field: fn(&mut WsListeners) -> &mut Listeners<F>,
        call: impl FnMut(&mut F),
    ) -> bool {
        listeners::emit(
            |f| self.with(|r| f(field(&mut r.listeners))).is_some(),
            call,
        )
    }

    /// Remembers the HTTP request of a client's opening handshake (to
    /// abort it on `close` or `terminate`).
    pub(super) fn set_handshake(&self, request: ClientRequest) {
        self.with(|r| {
            if let Link::Handshake(slot) = &mut r.link {
                *slot = Some(request);
            }
        });
    }

    /// Takes the HTTP request of a client's handshake: whoever takes it
    /// (the upgrade, a refusal, an error, a timeout, `close`) settles the
    /// handshake; `None` once it is settled.
    pub(super) fn take_handshake(&self) -> Option<ClientRequest> {
        self.with(|r| match &mut r.link {
            Link::Handshake(request) if r.state == ReadyState::Connecting => request.take(),
            _ => None,
        })
        .flatten()
    }

    /// Makes `server` the tracker of this client (see `clients()`).
    pub(super) fn set_tracked_by(&self, server: super::server::ServerKey) {
        self.with(|r| r.tracked_by = Some(server));
    }

    /// The opening handshake succeeded: frames flow over `socket` from now
    /// on. `head` (bytes that came with the upgrade) is parsed on the next
    /// turn, after the caller has attached its listeners, as `ws` does by
    /// unshifting it onto the socket.
    pub(super) fn open(
        &self,
        socket: Socket,
        head: &[u8],
        receiver: Receiver,
        sender: Sender,
        protocol: String,
        extensions: String,
    ) {
        let opened = self
            .with(|r| {
                if r.state != ReadyState::Connecting {
                    return false;
                }
                r.state = ReadyState::Open;
                r.link = Link::Framed {
                    socket,
                    receiver: Some(Box::new(receiver)),
                    sender: Box::new(sender),
                };
                r.protocol = protocol;
                r.extensions = extensions;
                r.held.extend_from_slice(head);
                true
            })
            .unwrap_or(false);
        if !opened {
            socket.destroy();
            return;
        }
        // As `ws`: no idle timeout on a WebSocket (the heartbeat is the way
        // to find dead peers), and no Nagle delay on small frames.
        socket.set_timeout(0);
        socket.set_no_delay(true);
        // The socket leaves the protocol it had (HTTP's server connection,
        // or `RAW` on a client) for this layer's: its events come straight
        // here, with no per-connection closures (five of them cost about
        // 500 bytes an idle connection). The old protocol is kept to chain
        // its bookkeeping (HTTP counts and frees its connection on close).
        let ws = *self;
        match net::set_protocol(socket.id, &PROTOCOL) {
            Some(below) => {
                with_carriers(|c| c.insert(socket.id, Carrier { ws, below }));
            }
            // The socket's record is gone already: no close will come
            // from it, so the connection closes now.
            None => return crate::next_tick(move || closed(ws)),
        }
        if !head.is_empty() {
            crate::next_tick(move || process_held(ws));
        }
    }

    /// The opening handshake failed (client side): `error` (when given),
    /// then `close` with 1006, as `ws` emits them.
    pub(super) fn fail_handshake(&self, error: Option<Error>) {
        let gone = self
            .with(|r| {
                if r.state == ReadyState::Closed {
                    return false;
                }
                r.state = ReadyState::Closing;
                true
            })
            .unwrap_or(false);
        if !gone {
            return;
        }
        if let Some(error) = error {
            self.emit_error(&error);
        }
        closed(*self);
    }

    /// Emits `unexpected_response`; returns whether anyone listened.
    pub(super) fn emit_unexpected_response(&self, res: &ClientResponse) -> bool {
        self.emit(|l| &mut l.unexpected_response, |f| f(res))
    }

    /// Emits `error` once per connection, as `ws` does. Nobody listening,
    /// the error is logged: a peer's bad frame must never take the process
    /// down (`ws` throws, as any unhandled `error` event does).
    fn emit_error(&self, error: &Error) {
        let first = self
            .with(|r| !std::mem::replace(&mut r.error_emitted, true))
            .unwrap_or(false);
        if first && !self.emit(|l| &mut l.error, |f| f(error)) {
            log::debug!("websocket {}: unhandled error: {error}", self.key);
        }
    }
}

// ------------------------------------------------------------ the socket

/// A socket carrying a WebSocket: its connection, and the protocol the
/// socket had before the upgrade, whose hooks other than input still run.
struct Carrier {
    ws: WebSocket,
    below: &'static net::Protocol,
}

thread_local! {
    static CARRIERS: RefCell<PerSocket<Carrier>> = RefCell::new(PerSocket::default());
}

/// Runs `f` with the socket table borrowed; `f` never calls user code.
fn with_carriers<R>(f: impl FnOnce(&mut PerSocket<Carrier>) -> R) -> Option<R> {
    CARRIERS
        .try_with(|cell| {
            let mut table = cell
                .try_borrow_mut()
                .expect("nodelike: WebSocket sockets entered re-entrantly (a bug in nodelike)");
            f(&mut table)
        })
        .ok()
}

/// The connection `id` carries, and the protocol below it.
fn carrier(id: SockId) -> Option<(WebSocket, &'static net::Protocol)> {
    with_carriers(|c| c.get(id).map(|c| (c.ws, c.below))).flatten()
}

/// An open WebSocket's socket protocol: frames in, the peer's FIN, drain
/// and close go to the connection; the rest is chained to the protocol
/// below (HTTP's bookkeeping for an upgraded server connection, `net`'s
/// own for a client's socket).
static PROTOCOL: net::Protocol = net::Protocol {
    name: "websocket",
    input: on_input,
    eof: on_eof,
    flushed: |id| {
        if let Some((_, below)) = carrier(id) {
            (below.flushed)(id);
        }
    },
    drain: on_drain,
    connected: |id, result| {
        if let Some((_, below)) = carrier(id) {
            (below.connected)(id, result);
        }
    },
    closed: on_closed,
    failed: |id, e| {
        if let Some((ws, below)) = carrier(id) {
            // `ws` does not re-emit socket errors (a reset peer is a
            // `close` with 1006); the socket is destroyed by `net`.
            log::debug!("websocket {}: socket error: {e}", ws.key);
            ws.with(|r| r.state = ReadyState::Closing);
            (below.failed)(id, e);
        }
    },
    secured: |id| {
        if let Some((_, below)) = carrier(id) {
            (below.secured)(id);
        }
    },
    timeout: |id| carrier(id).is_none_or(|(_, below)| (below.timeout)(id)),
};

/// Bytes from the socket: all are taken (what a paused connection cannot
/// parse yet waits in the record's `held`).
fn on_input(id: SockId, data: &[u8]) -> usize {
    if let Some((ws, _)) = carrier(id) {
        feed(ws, data);
    }
    data.len()
}

/// The peer's FIN: no more frames. Our side ends too (a WebSocket is never
/// half-open); the socket's own `end` listeners still hear it.
fn on_eof(id: SockId) {
    if let Some((ws, _)) = carrier(id) {
        ws.with(|r| {
            if r.state == ReadyState::Open {
                r.state = ReadyState::Closing;
            }
        });
    }
    net::raw_eof(id);
    Socket::from_id(id).end(());
}

/// The socket's output emptied after a send over the high-water mark.
fn on_drain(id: SockId) {
    if let Some((ws, below)) = carrier(id) {
        (below.drain)(id);
        ws.emit(|l| &mut l.drain, |f| f());
    }
}

/// The socket closed: the protocol below does its bookkeeping first (as it
/// did when it was the socket's), then the connection's `close`.
fn on_closed(id: SockId, cause: Cause) {
    let Some(Some(Carrier { ws, below })) = with_carriers(|c| c.remove(id)) else {
        return;
    };
    (below.closed)(id, cause);
    closed(ws);
}

// ------------------------------------------------------------- reading

/// What to do with bytes the socket read.
enum Feed {
    /// Parse them now with this receiver (taken out of the record).
    Parse(Box<Receiver>),
    /// They were appended to `held`, which is parsed now.
    ParseHeld,
    /// Held (paused, or a parse is running) or dropped (closing).
    Nothing,
}

/// Bytes from the socket.
fn feed(ws: WebSocket, data: &[u8]) {
    let step = ws
        .with(|r| {
            let Link::Framed { receiver, .. } = &mut r.link else {
                return Feed::Nothing;
            };
            if r.close == CloseHandshake::Done {
                return Feed::Nothing;
            }
            if r.paused || receiver.is_none() || !r.held.is_empty() {
                r.held.extend_from_slice(data);
                return if r.paused || receiver.is_none() {
                    Feed::Nothing
                } else {
                    Feed::ParseHeld
                };
            }
            match receiver.take() {
                Some(rx) => Feed::Parse(rx),
                None => Feed::Nothing,
            }
        })
        .unwrap_or(Feed::Nothing);
    match step {
        Feed::Parse(mut receiver) => {
            let result = receiver.receive(data, &mut |event| dispatch(ws, event));
            let rest = match &result {
                Ok(n) => data.get(*n..).unwrap_or_default(),
                Err(_) => &[],
            };
            put_back(ws, receiver, rest);
            if let Err(e) = result {
                fail(ws, e);
            }
        }
        Feed::ParseHeld => process_held(ws),
        Feed::Nothing => {}
    }
}

/// Parses the bytes held back (the upgrade's head, or what waited while
/// the connection was paused).
fn process_held(ws: WebSocket) {
    let taken = ws
        .with(|r| {
            if r.paused || r.close == CloseHandshake::Done || r.held.is_empty() {
                return None;
            }
            let Link::Framed { receiver, .. } = &mut r.link else {
                return None;
            };
            let rx = receiver.take()?;
            Some((rx, std::mem::take(&mut r.held)))
        })
        .flatten();
    let Some((mut receiver, mut held)) = taken else {
        return;
    };
    let result = receiver.receive(&held, &mut |event| dispatch(ws, event));
    match result {
        Ok(n) => {
            held.drain(..n.min(held.len()));
        }
        Err(_) => held.clear(),
    }
    ws.with(|r| {
        // Nothing appends to `held` while the receiver is out (socket
        // reads are never re-entrant), so the rest goes back as it is.
        if let Link::Framed { receiver: slot, .. } = &mut r.link {
            *slot = Some(receiver);
        }
        held.extend_from_slice(&r.held);
        r.held = held;
    });
    if let Err(e) = result {
        fail(ws, e);
    }
}

/// Returns the receiver to the record, keeping `rest` (bytes it did not
/// consume because a listener paused) for later.
fn put_back(ws: WebSocket, receiver: Box<Receiver>, rest: &[u8]) {
    ws.with(|r| {
        if let Link::Framed { receiver: slot, .. } = &mut r.link {
            *slot = Some(receiver);
        }
        if !rest.is_empty() && r.close != CloseHandshake::Done {
            r.held.extend_from_slice(rest);
        }
    });
}

/// One event from the receiver: the user's listeners run here.
fn dispatch(ws: WebSocket, event: Incoming<'_>) -> Flow {
    match event {
        Incoming::Message { data, binary } => {
            ws.emit(|l| &mut l.message, |f| f(data, binary));
        }
        Incoming::Ping(payload) => {
            // Every ping is answered (`ws`'s `autoPong`), before the
            // listeners see it.
            send_control(ws, Control::Pong, payload, None);
            ws.emit(|l| &mut l.ping, |f| f(payload));
        }
        Incoming::Pong(payload) => {
            ws.emit(|l| &mut l.pong, |f| f(payload));
        }
        Incoming::Close { code, reason } => received_close(ws, code, reason),
    }
    let go_on = ws
        .with(|r| !r.paused && r.close != CloseHandshake::Done && r.state != ReadyState::Closed)
        .unwrap_or(false);
    if go_on {
        Flow::Continue
    } else {
        Flow::Pause
    }
}

/// The peer's close frame: answered with the same code (`ws`'s rule), or
/// the answer to ours, after which the socket ends.
fn received_close(ws: WebSocket, code: Option<u16>, reason: &str) {
    let answered = ws
        .with(|r| {
            r.close_code = code.unwrap_or(1005);
            r.close_reason.clear();
            r.close_reason.push_str(reason);
            match r.close {
                CloseHandshake::NotStarted => {
                    r.close = CloseHandshake::Received;
                    false
                }
                CloseHandshake::Sent => {
                    r.close = CloseHandshake::Done;
                    true
                }
                CloseHandshake::Received | CloseHandshake::Done => true,
            }
        })
        .unwrap_or(true);
    if answered {
        end_socket(ws);
    } else {
        let reason = reason.to_owned();
        ws.close(code, &reason);
    }
}

/// A protocol violation: `error`, then the close frame with the
/// violation's code, and the socket ends (RFC 6455 §7.1.7, "Fail the
/// WebSocket Connection"; nothing more is read).
fn fail(ws: WebSocket, e: ProtocolError) {
    log::debug!("websocket {}: {e}", ws.key);
    let send = ws
        .with(|r| {
            let send = matches!(
                r.close,
                CloseHandshake::NotStarted | CloseHandshake::Received
            );
            r.close = CloseHandshake::Done;
            r.held = Vec::new();
            if r.state == ReadyState::Open {
                r.state = ReadyState::Closing;
            }
            send
        })
        .unwrap_or(false);
    if send {
        write_frame(ws, |sender, out| sender.close(out, Some(e.close_code), ""));
    }
    end_socket(ws);
    let error = Error::new(ErrorKind::WebSocket, e.message).with_code(e.code);
    ws.emit_error(&error);
}

/// Ends the socket once everything queued (the close frame) has gone.
/// The close timer stays: a peer that never closes its side is destroyed
/// when it fires, as `ws` does.
fn end_socket(ws: WebSocket) {
    arm_close_timer(ws);
    if let Some(socket) = ws.socket() {
        socket.end(());
    }
}

/// Destroys the socket [`CLOSE_TIMEOUT_MS`] from now unless it closed by
/// then (`ws`'s `setCloseTimer`): the bound on every close handshake, so a
/// peer that neither answers nor closes cannot hold a connection forever.
fn arm_close_timer(ws: WebSocket) {
    let armed = ws.with(|r| r.close_timer.is_some()).unwrap_or(true);
    if armed {
        return;
    }
    let timer = crate::set_timeout(move || ws.destroy_socket(), CLOSE_TIMEOUT_MS);
    if ws.with(|r| r.close_timer = Some(timer)).is_none() {
        crate::clear_timeout(timer);
    }
}

/// The socket closed (or the handshake failed): `close` with the code and
/// reason of the close frame received (1006 without one), and the record
/// is freed.
fn closed(ws: WebSocket) {
    let Some((code, reason, tracker)) = ws.with(|r| {
        if let Some(t) = r.close_timer.take() {
            crate::clear_timeout(t);
        }
        r.state = ReadyState::Closed;
        r.link = Link::Gone;
        (
            r.close_code,
            std::mem::take(&mut r.close_reason),
            r.tracked_by.take(),
        )
    }) else {
        return;
    };
    if let Some(server) = tracker {
        super::server::forget(server, ws);
    }
    ws.emit(|l| &mut l.close, |f| f(code, &reason));
    // Handles outlive the record: they read `Closed` from then on.
    let rec = with_sockets(|sockets| {
        if sockets.get(ws.key).is_some_and(|r| r.gen == ws.gen) {
            Some(sockets.remove(ws.key))
        } else {
            None
        }
    })
    .flatten();
    // Listeners may own handles whose drop runs code: drop them outside
    // the borrow.
    drop(rec);
}

// ------------------------------------------------------------- writing

/// Encodes one frame into the socket's output. Returns whether the
/// output is under the high-water mark (`None`: not open for writing).
fn write_frame(ws: WebSocket, encode: impl FnOnce(&mut Sender, &mut Vec<u8>)) -> Option<bool> {
    ws.with(|r| match &mut r.link {
        Link::Framed { socket, sender, .. } => {
            net::write_with(socket.id, |out| encode(sender, out))
        }
        _ => None,
    })
    .flatten()
}

#[derive(Clone, Copy)]
enum Control {
    Ping,
    Pong,
}

/// `ws`'s error for a send on a connection that is not open.
fn not_open(state: ReadyState) -> Error {
    Error::new(
        ErrorKind::WebSocket,
        format!(
            "WebSocket is not open: readyState {} ({state})",
            state as u8
        ),
    )
}

/// Hands `callback` its outcome on the next turn (`ws` calls it from the
/// socket's write callback, never synchronously).
fn call_back(callback: Option<SendCallback>, error: Option<Error>) {
    if let Some(cb) = callback {
        crate::next_tick(move || cb(error.as_ref()));
    }
}

fn send_control(ws: WebSocket, kind: Control, payload: &[u8], callback: Option<SendCallback>) {
    let state = ws.ready_state();
    if state != ReadyState::Open {
        return call_back(callback, Some(not_open(state)));
    }
    let queued = write_frame(ws, |sender, out| match kind {
        Control::Ping => sender.ping(out, payload),
        Control::Pong => sender.pong(out, payload),
    });
    call_back(
        callback,
        queued.is_none().then(|| not_open(ReadyState::Closing)),
    );
}

fn check_control_payload(payload: &[u8]) {
    assert!(
        payload.len() <= 125,
        "The data size must not be greater than 125 bytes"
    );
}

// ------------------------------------------------------------- the API

impl WebSocket {
    /// Adds an `open` listener: the opening handshake succeeded (client
    /// side; a server's connections are open when handed over).
    ///
    /// ```no_run
    /// let ws = nodelike::ws::WebSocket::connect("ws://127.0.0.1:8080/", Default::default());
    /// ws.on_open(move || { ws.send("hi"); });
    /// nodelike::run();
    /// ```
    #[doc(alias = "open")]
    pub fn on_open(&self, f: impl FnMut() + 'static) -> &Self {
        self.with(|r| r.listeners.open.push(Box::new(f)));
        self
    }

    /// Emits `open` (the client's handshake finished).
    pub(super) fn emit_open(&self) {
        self.emit(|l| &mut l.open, |f| f());
    }

    /// Adds a `message` listener: `(data, is_binary)` for each whole
    /// message. A text message's bytes are valid UTF-8 (the connection is
    /// failed with 1007 otherwise), so `std::str::from_utf8` cannot fail
    /// on them.
    ///
    /// ```no_run
    /// # fn f(ws: nodelike::ws::WebSocket) {
    /// ws.on_message(|data, is_binary| {
    ///     if !is_binary {
    ///         println!("{}", std::str::from_utf8(data).unwrap());
    ///     }
    /// });
    /// # }
    /// ```
    #[doc(alias = "message")]
    pub fn on_message(&self, f: impl FnMut(&[u8], bool) + 'static) -> &Self {
        self.with(|r| r.listeners.message.push(Box::new(f)));
        self
    }

    /// Adds a `close` listener: `(code, reason)` once the socket has closed.
    /// The code is the close frame's, 1005 when it had none, and 1006 when
    /// no close frame came (the connection dropped).
    ///
    /// ```no_run
    /// # fn f(ws: nodelike::ws::WebSocket) {
    /// ws.on_close(|code, reason| println!("closed: {code} {reason}"));
    /// # }
    /// ```
    #[doc(alias = "close")]
    pub fn on_close(&self, f: impl FnMut(u16, &str) + 'static) -> &Self {
        self.with(|r| r.listeners.close.push(Box::new(f)));
        self
    }

    /// Adds an `error` listener: a protocol violation by the peer (with
    /// `ws`'s message and its `WS_ERR_*` code), or a failed handshake. It
    /// fires at most once, before `close`. Unlike `ws`, an error nobody
    /// listens for is logged, not thrown.
    ///
    /// ```no_run
    /// # fn f(ws: nodelike::ws::WebSocket) {
    /// ws.on_error(|e| eprintln!("{}: {e}", e.code()));
    /// # }
    /// ```
    #[doc(alias = "error")]
    pub fn on_error(&self, f: impl FnMut(&Error) + 'static) -> &Self {
        self.with(|r| r.listeners.error.push(Box::new(f)));
        self
    }

    /// Adds a `ping` listener (the pong answering it is already queued).
    ///
    /// ```no_run
    /// # fn f(ws: nodelike::ws::WebSocket) {
    /// ws.on_ping(|payload| println!("ping {payload:?}"));
    /// # }
    /// ```
    #[doc(alias = "ping")]
    pub fn on_ping(&self, f: impl FnMut(&[u8]) + 'static) -> &Self {
        self.with(|r| r.listeners.ping.push(Box::new(f)));
        self
    }

    /// Adds a `pong` listener.
    ///
    /// ```no_run
    /// # fn f(ws: nodelike::ws::WebSocket) {
    /// ws.on_pong(|payload| println!("pong {payload:?}"));
    /// # }
    /// ```
    #[doc(alias = "pong")]
    pub fn on_pong(&self, f: impl FnMut(&[u8]) + 'static) -> &Self {
        self.with(|r| r.listeners.pong.push(Box::new(f)));
        self
    }

    /// Adds a `drain` listener: the socket's output emptied after a
    /// [`send`](Self::send) returned `false`.
    ///
    /// ```no_run
    /// # fn f(ws: nodelike::ws::WebSocket) {
    /// ws.on_drain(|| println!("send more"));
    /// # }
    /// ```
    #[doc(alias = "drain")]
    pub fn on_drain(&self, f: impl FnMut() + 'static) -> &Self {
        self.with(|r| r.listeners.drain.push(Box::new(f)));
        self
    }

    /// Adds an `unexpected-response` listener (client side): the server
    /// answered the handshake with something other than 101. With a
    /// listener, no `error` is emitted for it (as `ws`).
    ///
    /// ```no_run
    /// # fn f(ws: nodelike::ws::WebSocket) {
    /// ws.on_unexpected_response(|res| println!("refused: {}", res.status_code()));
    /// # }
    /// ```
    #[doc(alias = "unexpected-response")]
    pub fn on_unexpected_response(&self, f: impl FnMut(&ClientResponse) + 'static) -> &Self {
        self.with(|r| r.listeners.unexpected_response.push(Box::new(f)));
        self
    }

    /// Sends a message: text for `&str`/`String`, binary for bytes (see
    /// [`Data`]). Returns `false` once more than the high-water mark
    /// (16 KiB) waits in the socket; `drain` follows when it has gone.
    /// On a connection that is not open, nothing is sent and it returns
    /// `false` (`ws` reports that through the send callback: see
    /// [`send_with`](Self::send_with)).
    ///
    /// ```no_run
    /// # fn f(ws: nodelike::ws::WebSocket) {
    /// ws.send("text");
    /// ws.send(&[1u8, 2, 3]);
    /// # }
    /// ```
    pub fn send(&self, data: impl Data) -> bool {
        self.send_with(data, SendOptions::default(), None)
    }

    /// [`send`](Self::send) with options (binary or text, compress,
    /// `fin`) and a callback, `ws`'s `send(data, options, cb)`.
    ///
    /// ```no_run
    /// use nodelike::ws::SendOptions;
    /// # fn f(ws: nodelike::ws::WebSocket) {
    /// // A message in two fragments.
    /// ws.send_with("Hel", SendOptions { fin: false, ..Default::default() }, None);
    /// ws.send_with("lo", SendOptions::default(), Some(Box::new(|err| {
    ///     if let Some(e) = err { eprintln!("not sent: {e}"); }
    /// })));
    /// # }
    /// ```
    pub fn send_with(
        &self,
        data: impl Data,
        options: SendOptions,
        callback: Option<SendCallback>,
    ) -> bool {
        let (bytes, is_binary) = data.message();
        let binary = options.binary.unwrap_or(is_binary);
        let compress = options.compress.unwrap_or(true);
        let state = self.ready_state();
        if state != ReadyState::Open {
            call_back(callback, Some(not_open(state)));
            return false;
        }
        let ok = self
            .with(|r| {
                let fragmenting = r.outgoing == Outgoing::Fragmenting;
                r.outgoing = if options.fin {
                    Outgoing::Idle
                } else {
                    Outgoing::Fragmenting
                };
                match &mut r.link {
                    Link::Framed { socket, sender, .. } => net::write_with(socket.id, |out| {
                        if options.fin && !fragmenting {
                            sender.message(out, bytes, binary, compress);
                        } else {
                            sender.fragment(out, bytes, binary, options.fin, compress);
                        }
                    }),
                    _ => None,
                }
            })
            .flatten();
        call_back(
            callback,
            ok.is_none().then(|| not_open(ReadyState::Closing)),
        );
        ok.unwrap_or(false)
    }

    /// Sends a ping (`ws`'s `ping(data)`); the peer answers with a pong
    /// carrying the same payload.
    ///
    /// # Panics
    ///
    /// When `payload` is over 125 bytes (control frames cannot be longer;
    /// `ws` throws the same `RangeError`).
    ///
    /// ```no_run
    /// # fn f(ws: nodelike::ws::WebSocket) {
    /// ws.ping(b"are you there?");
    /// # }
    /// ```
    pub fn ping(&self, payload: impl Data) {
        self.ping_with(payload, None);
    }

    /// [`ping`](Self::ping) with a callback.
    ///
    /// # Panics
    ///
    /// As [`ping`](Self::ping).
    ///
    /// ```no_run
    /// # fn f(ws: nodelike::ws::WebSocket) {
    /// ws.ping_with("", Some(Box::new(|err| assert!(err.is_none()))));
    /// # }
    /// ```
    #[doc(alias = "ping")]
    pub fn ping_with(&self, payload: impl Data, callback: Option<SendCallback>) {
        let (bytes, _) = payload.message();
        check_control_payload(bytes);
        send_control(*self, Control::Ping, bytes, callback);
    }

    /// Sends an unsolicited pong (`ws`'s `pong(data)`; pings are answered
    /// without it).
    ///
    /// # Panics
    ///
    /// When `payload` is over 125 bytes.
    ///
    /// ```no_run
    /// # fn f(ws: nodelike::ws::WebSocket) {
    /// ws.pong("");
    /// # }
    /// ```
    pub fn pong(&self, payload: impl Data) {
        self.pong_with(payload, None);
    }

    /// [`pong`](Self::pong) with a callback.
    ///
    /// # Panics
    ///
    /// When `payload` is over 125 bytes.
    ///
    /// ```no_run
    /// # fn f(ws: nodelike::ws::WebSocket) {
    /// ws.pong_with("", None);
    /// # }
    /// ```
    #[doc(alias = "pong")]
    pub fn pong_with(&self, payload: impl Data, callback: Option<SendCallback>) {
        let (bytes, _) = payload.message();
        check_control_payload(bytes);
        send_control(*self, Control::Pong, bytes, callback);
    }

    /// Starts the close handshake (`ws`'s `close(code, reason)`): sends a
    /// close frame and ends the socket once the peer answers, or destroys
    /// it after 30 s without an answer. `None` sends a close frame with no
    /// code (the peer sees 1005). Closing while still connecting aborts the
    /// handshake with `ws`'s error.
    ///
    /// # Panics
    ///
    /// When `code` is not one a close frame may carry (1000–1003,
    /// 1007–1014, 3000–4999), or `reason` is over 123 bytes: `ws` throws
    /// for both.
    ///
    /// ```no_run
    /// # fn f(ws: nodelike::ws::WebSocket) {
    /// ws.close(Some(1000), "bye");
    /// # }
    /// ```
    pub fn close(&self, code: Option<u16>, reason: &str) {
        if let Some(code) = code {
            assert!(
                protocol::close::is_valid_wire_code(code),
                "First argument must be a valid error code number"
            );
        }
        assert!(
            reason.len() <= 123,
            "The message must not be greater than 123 bytes"
        );
        match self.ready_state() {
            ReadyState::Closed => return,
            ReadyState::Connecting => {
                return self
                    .abort_handshake("WebSocket was closed before the connection was established")
            }
            ReadyState::Open | ReadyState::Closing => {}
        }
        let step = self
            .with(|r| {
                r.state = ReadyState::Closing;
                match r.close {
                    CloseHandshake::NotStarted => {
                        r.close = CloseHandshake::Sent;
                        Some(false)
                    }
                    CloseHandshake::Received => {
                        r.close = CloseHandshake::Done;
                        Some(true)
                    }
                    CloseHandshake::Sent | CloseHandshake::Done => None,
                }
            })
            .flatten();
        let Some(answered) = step else { return };
        write_frame(*self, |sender, out| sender.close(out, code, reason));
        if answered {
            end_socket(*self);
        } else {
            arm_close_timer(*self);
        }
    }

    /// Destroys the connection at once (`ws`'s `terminate()`): no close
    /// frame; `close` follows with 1006.
    ///
    /// ```no_run
    /// # fn f(ws: nodelike::ws::WebSocket) {
    /// ws.terminate();
    /// # }
    /// ```
    pub fn terminate(&self) {
        match self.ready_state() {
            ReadyState::Closed => {}
            ReadyState::Connecting => {
                self.abort_handshake("WebSocket was closed before the connection was established")
            }
            ReadyState::Open | ReadyState::Closing => {
                self.with(|r| r.state = ReadyState::Closing);
                self.destroy_socket();
            }
        }
    }

    fn destroy_socket(&self) {
        let socket = self
            .with(|r| match &r.link {
                Link::Framed { socket, .. } => Some(*socket),
                _ => None,
            })
            .flatten();
        if let Some(socket) = socket {
            socket.destroy();
        }
    }

    /// A client's handshake cut short: the request is aborted, then
    /// `error` and `close` (1006) follow on the next turn.
    fn abort_handshake(&self, message: &'static str) {
        let Some(request) = self.take_handshake() else {
            return;
        };
        request.destroy(None);
        let ws = *self;
        self.with(|r| r.state = ReadyState::Closing);
        crate::next_tick(move || {
            ws.fail_handshake(Some(Error::new(ErrorKind::WebSocket, message)));
        });
    }

    /// Stops reading (`ws`'s `pause()`): no more events until
    /// [`resume`](Self::resume), and the socket stops reading, so the
    /// peer is held back by TCP.
    ///
    /// ```no_run
    /// # fn f(ws: nodelike::ws::WebSocket) {
    /// ws.pause();
    /// nodelike::set_timeout(move || ws.resume(), 1000);
    /// # }
    /// ```
    pub fn pause(&self) {
        let socket = self
            .with(|r| match &r.link {
                Link::Framed { socket, .. } => {
                    r.paused = true;
                    Some(*socket)
                }
                _ => None,
            })
            .flatten();
        if let Some(s) = socket {
            s.pause();
        }
    }

    /// Starts reading again after [`pause`](Self::pause); messages that
    /// arrived meanwhile are delivered on the next turn.
    ///
    /// ```no_run
    /// # fn f(ws: nodelike::ws::WebSocket) {
    /// ws.resume();
    /// # }
    /// ```
    pub fn resume(&self) {
        let socket = self
            .with(|r| match &r.link {
                Link::Framed { socket, .. } if r.paused => {
                    r.paused = false;
                    Some(*socket)
                }
                _ => None,
            })
            .flatten();
        if let Some(s) = socket {
            s.resume();
            let ws = *self;
            crate::next_tick(move || process_held(ws));
        }
    }

    /// Whether [`pause`](Self::pause) is in effect (`ws`'s `isPaused`).
    ///
    /// ```no_run
    /// # fn f(ws: nodelike::ws::WebSocket) {
    /// ws.pause();
    /// assert!(ws.is_paused());
    /// # }
    /// ```
    #[doc(alias = "isPaused")]
    pub fn is_paused(&self) -> bool {
        self.with(|r| r.paused).unwrap_or(false)
    }

    /// The connection's state (`readyState`); `Closed` once the record is
    /// gone.
    ///
    /// ```no_run
    /// use nodelike::ws::{ReadyState, WebSocket};
    /// let ws = WebSocket::connect("ws://127.0.0.1:8080/", Default::default());
    /// assert_eq!(ws.ready_state(), ReadyState::Connecting);
    /// ```
    #[doc(alias = "readyState")]
    pub fn ready_state(&self) -> ReadyState {
        self.with(|r| r.state).unwrap_or(ReadyState::Closed)
    }

    /// The subprotocol the server chose (`""` for none).
    ///
    /// ```no_run
    /// # fn f(ws: nodelike::ws::WebSocket) {
    /// println!("speaking {}", ws.protocol());
    /// # }
    /// ```
    pub fn protocol(&self) -> String {
        self.with(|r| r.protocol.clone()).unwrap_or_default()
    }

    /// The extensions in use, as the handshake's `Sec-WebSocket-Extensions`
    /// gave them (`""` for none; `"permessage-deflate"` with parameters
    /// when compression was negotiated).
    ///
    /// ```no_run
    /// # fn f(ws: nodelike::ws::WebSocket) {
    /// let compressed = ws.extensions().starts_with("permessage-deflate");
    /// # }
    /// ```
    pub fn extensions(&self) -> String {
        self.with(|r| r.extensions.clone()).unwrap_or_default()
    }

    /// Bytes sent but not yet handed to the OS (`bufferedAmount`).
    ///
    /// ```no_run
    /// # fn f(ws: nodelike::ws::WebSocket) {
    /// if ws.buffered_amount() > 1 << 20 { ws.pause(); }
    /// # }
    /// ```
    #[doc(alias = "bufferedAmount")]
    pub fn buffered_amount(&self) -> usize {
        self.with(|r| match &r.link {
            Link::Framed { socket, .. } => net::backlog(socket.id),
            _ => 0,
        })
        .unwrap_or(0)
    }

    /// The URL a client connected to (`""` on the server side).
    ///
    /// ```no_run
    /// # fn f(ws: nodelike::ws::WebSocket) {
    /// println!("{}", ws.url());
    /// # }
    /// ```
    pub fn url(&self) -> String {
        self.with(|r| r.url.clone()).unwrap_or_default()
    }

    /// The socket under the connection, once open.
    ///
    /// ```no_run
    /// # fn f(ws: nodelike::ws::WebSocket) {
    /// if let Some(socket) = ws.socket() { println!("{:?}", socket.remote_address()); }
    /// # }
    /// ```
    #[doc(alias = "_socket")]
    pub fn socket(&self) -> Option<Socket> {
        self.with(|r| match &r.link {
            Link::Framed { socket, .. } => Some(*socket),
            _ => None,
        })
        .flatten()
    }
}
