//! `ws`'s `createWebSocketStream`: a WebSocket seen as a Node duplex, so
//! it can be piped (`ws_stream.pipe(file)`, `socket.pipe(ws_stream)`).
//!
//! The readable side gives each message as a chunk, and ends when the
//! connection closes; the writable side sends each chunk as a binary
//! message, and `end` starts the close handshake. Back-pressure is the
//! WebSocket's own: `write` returns `false` past the socket's high-water
//! mark and `drain` follows; `pause` stops reading from the socket.

use std::cell::RefCell;

use slab::Slab;

use super::websocket::{ReadyState, WebSocket};
use crate::runtime::listeners::{self, Listeners};
use crate::runtime::{self, LoopBound};
use crate::stream::{Readable, Stream, Writable};
use crate::{Chunk, Error, IntoChunk};

/// The writable side's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WritableSide {
    /// `write` sends messages.
    Open,
    /// `end` was called: the close handshake is under way.
    Ended,
    /// The close frame has gone (or the connection closed): `finish` was
    /// emitted.
    Finished,
}

/// The readable side's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadableSide {
    /// Messages come as `data`.
    Flowing,
    /// The connection closed: `end` was emitted.
    Ended,
}

#[derive(Default)]
struct StreamListeners {
    end: Listeners<dyn FnMut()>,
    finish: Listeners<dyn FnMut()>,
}

struct StreamRec {
    gen: u32,
    readable: ReadableSide,
    writable: WritableSide,
    /// The error the connection failed with, for `finished`.
    error: Option<Error>,
    destroyed: bool,
    listeners: StreamListeners,
}

thread_local! {
    static STREAMS: RefCell<Slab<StreamRec>> = const { RefCell::new(Slab::new()) };
}

fn with_streams<R>(f: impl FnOnce(&mut Slab<StreamRec>) -> R) -> Option<R> {
    STREAMS
        .try_with(|cell| {
            let mut streams = cell
                .try_borrow_mut()
                .expect("nodelike: WebSocket streams entered re-entrantly (a bug in nodelike)");
            f(&mut streams)
        })
        .ok()
}

/// A WebSocket as a [`Duplex`](crate::stream::Duplex) stream, made by [`create_web_socket_stream`].
///
/// ```no_run
/// use nodelike::stream::Readable;
/// use nodelike::ws::{self, WebSocket};
/// let ws = WebSocket::connect("ws://127.0.0.1:8080/", Default::default());
/// let duplex = ws::create_web_socket_stream(ws);
/// // Every message the server sends goes to this file.
/// duplex.pipe(nodelike::fs::create_write_stream("messages.log", Default::default()));
/// nodelike::run();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WebSocketStream {
    key: usize,
    gen: u32,
    ws: WebSocket,
    _loop: LoopBound,
}

/// Wraps `ws` in a duplex stream (`ws`'s `createWebSocketStream(ws)`).
///
/// ```no_run
/// use nodelike::stream::Readable;
/// use nodelike::ws::{self, ServerOptions, WebSocketServer};
/// // An echo server written with `pipe`.
/// let wss = WebSocketServer::new(ServerOptions { port: Some(8080), ..Default::default() });
/// wss.on_connection(|ws, _req| {
///     let duplex = ws::create_web_socket_stream(ws);
///     duplex.pipe(duplex);
/// });
/// nodelike::run();
/// ```
#[doc(alias = "createWebSocketStream")]
pub fn create_web_socket_stream(ws: WebSocket) -> WebSocketStream {
    let gen = runtime::next_gen();
    let key = with_streams(|streams| {
        streams.insert(StreamRec {
            gen,
            readable: ReadableSide::Flowing,
            writable: WritableSide::Open,
            error: None,
            destroyed: false,
            listeners: StreamListeners::default(),
        })
    })
    .unwrap_or(usize::MAX);
    let stream = WebSocketStream {
        key,
        gen,
        ws,
        _loop: LoopBound::default(),
    };
    ws.on_error(move |e| {
        let e = e.clone();
        stream.with(|s| {
            s.error.get_or_insert(e);
        });
    });
    // The connection's end is the end of both sides: `end` and `finish`
    // fire before the stream's `close` (the WebSocket's), as Node's
    // duplex orders them.
    ws.on_close(move |_, _| {
        stream.finish();
        let ended = stream
            .with(|s| {
                std::mem::replace(&mut s.readable, ReadableSide::Ended) == ReadableSide::Flowing
            })
            .unwrap_or(false);
        if ended {
            stream.emit(|l| &mut l.end, |f| f());
        }
        // The record goes once every `close` listener (`finished`'s among
        // them) has read it; handles then answer as for a closed stream.
        crate::next_tick(move || {
            let rec = with_streams(|streams| {
                if streams.get(stream.key).is_some_and(|s| s.gen == stream.gen) {
                    Some(streams.remove(stream.key))
                } else {
                    None
                }
            });
            drop(rec);
        });
    });
    if let Some(socket) = ws.socket() {
        socket.on_finish(move || stream.finish());
    }
    stream
}

impl WebSocketStream {
    fn with<R>(&self, f: impl FnOnce(&mut StreamRec) -> R) -> Option<R> {
        with_streams(|streams| {
            streams
                .get_mut(self.key)
                .filter(|s| s.gen == self.gen)
                .map(f)
        })
        .flatten()
    }

    fn emit<F: ?Sized + 'static>(
        &self,
        field: fn(&mut StreamListeners) -> &mut Listeners<F>,
        call: impl FnMut(&mut F),
    ) -> bool {
        listeners::emit(
            |f| self.with(|s| f(field(&mut s.listeners))).is_some(),
            call,
        )
    }

    fn ws(&self) -> Option<WebSocket> {
        Some(self.ws)
    }

    /// The writable side is done: `finish`, once.
    fn finish(&self) {
        let first = self
            .with(|s| {
                std::mem::replace(&mut s.writable, WritableSide::Finished) != WritableSide::Finished
            })
            .unwrap_or(false);
        if first {
            self.emit(|l| &mut l.finish, |f| f());
        }
    }

    /// The WebSocket under the stream.
    ///
    /// ```no_run
    /// # fn f(duplex: nodelike::ws::WebSocketStream) {
    /// println!("{}", duplex.web_socket().protocol());
    /// # }
    /// ```
    pub fn web_socket(&self) -> WebSocket {
        self.ws
    }
}

impl Stream for WebSocketStream {
    fn destroy(&self, error: Option<Error>) {
        self.with(|s| {
            s.destroyed = true;
            if let Some(e) = error {
                s.error.get_or_insert(e);
            }
        });
        self.ws.terminate();
    }

    fn destroyed(&self) -> bool {
        self.with(|s| s.destroyed).unwrap_or(true)
            || self
                .ws()
                .is_none_or(|ws| ws.ready_state() == ReadyState::Closed)
    }

    fn on_error(&self, f: impl FnMut(&Error) + 'static) {
        if let Some(ws) = self.ws() {
            ws.on_error(f);
        }
    }

    fn on_close(&self, mut f: impl FnMut() + 'static) {
        if let Some(ws) = self.ws() {
            ws.on_close(move |_, _| f());
        }
    }

    fn end_of_stream(&self, callback: Box<dyn FnOnce(Option<Error>)>) {
        let stream = *self;
        let mut callback = Some(callback);
        let Some(ws) = self.ws() else {
            crate::next_tick(move || {
                if let Some(cb) = callback.take() {
                    cb(None);
                }
            });
            return;
        };
        if ws.ready_state() == ReadyState::Closed {
            crate::next_tick(move || {
                if let Some(cb) = callback.take() {
                    cb(None);
                }
            });
            return;
        }
        ws.on_close(move |code, _| {
            let error = stream.with(|s| s.error.clone()).flatten().or_else(|| {
                // A connection that dropped without a close frame ends
                // the stream early, as a socket reset ends a Node stream.
                (code == 1006)
                    .then(|| Error::new(crate::ErrorKind::StreamPrematureClose, "Premature close"))
            });
            if let Some(cb) = callback.take() {
                cb(error);
            }
        });
    }
}

impl Readable for WebSocketStream {
    fn on_data(&self, mut f: impl FnMut(Chunk<'_>) + 'static) {
        if let Some(ws) = self.ws() {
            ws.on_message(move |data, _is_binary| f(Chunk::Bytes(data)));
        }
    }

    fn on_end(&self, f: impl FnMut() + 'static) {
        self.with(|s| s.listeners.end.push(Box::new(f)));
    }

    fn pause(&self) {
        if let Some(ws) = self.ws() {
            ws.pause();
        }
    }

    fn resume(&self) {
        if let Some(ws) = self.ws() {
            ws.resume();
        }
    }

    fn is_paused(&self) -> bool {
        self.ws().is_some_and(|ws| ws.is_paused())
    }

    fn readable_ended(&self) -> bool {
        self.with(|s| s.readable == ReadableSide::Ended)
            .unwrap_or(true)
    }
}

impl Writable for WebSocketStream {
    fn write(&self, chunk: impl IntoChunk) -> bool {
        match self.with(|s| s.writable) {
            Some(WritableSide::Open) => self.ws.send(chunk.chunk_bytes()),
            _ => false,
        }
    }

    fn end(&self, chunk: impl IntoChunk) {
        let ws = self.ws;
        if self.with(|s| s.writable) != Some(WritableSide::Open) {
            return;
        }
        let bytes = chunk.chunk_bytes();
        if !bytes.is_empty() {
            ws.send(bytes);
        }
        self.with(|s| s.writable = WritableSide::Ended);
        ws.close(None, "");
    }

    fn on_drain(&self, f: impl FnMut() + 'static) {
        if let Some(ws) = self.ws() {
            ws.on_drain(f);
        }
    }

    fn on_finish(&self, f: impl FnMut() + 'static) {
        self.with(|s| s.listeners.finish.push(Box::new(f)));
    }

    fn cork(&self) {
        if let Some(socket) = self.ws().and_then(|ws| ws.socket()) {
            socket.cork();
        }
    }

    fn uncork(&self) {
        if let Some(socket) = self.ws().and_then(|ws| ws.socket()) {
            socket.uncork();
        }
    }

    fn writable_ended(&self) -> bool {
        self.with(|s| s.writable != WritableSide::Open)
            .unwrap_or(true)
    }

    fn writable_finished(&self) -> bool {
        self.with(|s| s.writable == WritableSide::Finished)
            .unwrap_or(true)
    }

    fn writable_length(&self) -> usize {
        self.ws().map_or(0, |ws| ws.buffered_amount())
    }

    fn writable_high_water_mark(&self) -> usize {
        crate::net::HIGH_WATER_MARK
    }
}
