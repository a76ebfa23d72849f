//! Node's `net` layer: sockets and listeners, under every protocol.
//!
//! Used directly, it is Node's `net` module: [`create_server`] for a TCP
//! or unix-socket server whose connections are [`Socket`]s, [`connect`]
//! and [`create_connection`] for clients. A `Socket` is a
//! [`Duplex`](crate::stream::Duplex) stream with Node's events (`connect`,
//! `ready`, `data`, `end`, `finish`, `error`, `close(had_error)`, `drain`,
//! `timeout`) in Node's order.
//!
//! | Node | nodelike |
//! |---|---|
//! | `net.createServer({ allowHalfOpen, pauseOnConnect }, cb)` | [`create_server_with`] |
//! | `server.listen(port, host, cb)`, `listen(path, cb)` | [`Server::listen`], [`Server::listen_path`] |
//! | `server.close(cb)`, `getConnections`, `maxConnections` | [`Server::close_with`], [`Server::connections`], [`Server::set_max_connections`] |
//! | `net.connect(port, host, cb)`, `net.connect(path, cb)` | [`connect`], [`connect_path`] |
//! | `net.createConnection(options, cb)` | [`create_connection`] with [`ConnectOptions`] |
//! | `socket.readyState`, `bytesRead`, `bytesWritten` | [`Socket::ready_state`], [`Socket::bytes_read`], [`Socket::bytes_written`] |
//! | `socket.destroy(err)`, `destroySoon()`, `end(data, cb)` | [`Socket::destroy_with_error`], [`Socket::destroy_soon`], [`Socket::end_with_callback`] |
//!
//! ```no_run
//! use nodelike::net;
//! use nodelike::stream::Readable;
//! // An echo server, and a client that says hello to it.
//! let server = net::create_server(|socket| {
//!     socket.pipe(socket);
//! });
//! server.listen(7000, "127.0.0.1", || {
//!     let client = net::connect(7000, "127.0.0.1", || println!("connected"));
//!     client.on_data(|chunk| print!("{chunk}"));
//!     client.end("hello\n");
//! });
//! nodelike::run();
//! ```
//!
//! Inside, a socket is a record in this layer's slab (`SocketRec`, in
//! `src/net/socket.rs`); a [`Socket`] is a handle to it (key and generation, `Copy`). This layer
//! owns the I/O paths every protocol shares: reading into one shared
//! buffer, corked writes and their flush, pause/resume and back-pressure,
//! idle timeouts, half-close, linger and the deferred `close`.
//!
//! It knows nothing of HTTP. What a socket's bytes mean is up to its
//! `Protocol`, a table of functions the layer above hands in when it
//! opens the socket: `input`, `eof`, `flushed`, `drain`, `connected`,
//! `closed`. A plain `net` socket's protocol is `RAW`: bytes become
//! `data` events. What the bytes travel over is a `Transport`: TCP, a
//! unix socket, TLS, or memory. (These are crate-internal: see
//! ARCHITECTURE.md.)
//!
//! | file | what |
//! |---|---|
//! | `socket.rs` | the socket record, the functions protocols call on it, the `Socket` handle |
//! | `io.rs` | readiness, the read path, flush, resume, end of stream, idle checks, close |
//! | `listener.rs` | listening sockets and the accept loop |
//! | `transport.rs` | the `Transport` trait; TCP and unix streams |
//! | `connect.rs` | `connect`, `create_connection`: the name looked up off the loop |
//! | `server.rs` | `create_server`: the public `net::Server` |
//! | `stream.rs` | `Socket` as a `stream::Duplex` |
//! | `memory.rs` | in-memory connections (`MemoryConnection`) |
//! | `send_file.rs` | files as socket output: `sendfile(2)`, or pieces read on the pool |

mod connect;
mod io;
mod lifecycle;
mod listener;
mod memory;
mod send_file;
mod server;
mod socket;
mod stream;
#[cfg(feature = "tls")]
pub(crate) mod tls;
mod transport;

use std::cell::RefCell;

use slab::Slab;

pub use connect::{connect, connect_path, create_connection, ConnectOptions};
pub(crate) use io::{emit_raw_data, raw_eof};
pub(crate) use listener::{
    accept_pending, close_listener, listen, listener_address, Acceptor, ListenerId,
};
pub use memory::MemoryConnection;
pub(crate) use send_file::send_file;
pub use server::{create_server, create_server_with, NetServerOptions, Server};
pub(crate) use socket::*;
pub use socket::{ReadyState, Socket};
#[cfg(feature = "tls")]
pub(crate) use tls::connect_tls;
pub(crate) use transport::{
    bind_tcp, connect_tcp, connect_unix, ports_shared_by_default, share_ports_by_default,
    BindOptions, Listener, Transport,
};

/// Node's default `highWaterMark` for writable streams: `write` returns
/// `false` once this many bytes wait to be sent.
pub(crate) const HIGH_WATER_MARK: usize = 16 * 1024;

/// Size of the shared read buffer every socket reads into.
const READ_BUF_SIZE: usize = 64 * 1024;

/// The state of this layer on one thread.
struct Net {
    sockets: Slab<socket::SocketRec>,
    listeners: Slab<listener::ListenerRec>,
    /// The shared read buffer; taken out while a read is being processed.
    read_buf: Vec<u8>,
}

thread_local! {
    static NET: RefCell<Net> = const {
        RefCell::new(Net {
            sockets: Slab::new(),
            listeners: Slab::new(),
            read_buf: Vec::new(),
        })
    };
}

/// Runs `f` with this layer's state borrowed; `None` while the thread-local
/// is being destroyed. `f` may call down into the runtime, never up (no
/// protocol hook, no user code).
fn with_net<R>(f: impl FnOnce(&mut Net) -> R) -> Option<R> {
    NET.try_with(|cell| {
        let mut net = cell
            .try_borrow_mut()
            .expect("nodelike: the net layer was entered re-entrantly (a bug in nodelike)");
        f(&mut net)
    })
    .ok()
}

/// Key and generation of a socket record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct SockId {
    pub(crate) key: u32,
    pub(crate) gen: u32,
}

impl SockId {
    /// An id no socket has (for handles made when there is no loop).
    pub(crate) const NONE: SockId = SockId {
        key: u32::MAX,
        gen: 0,
    };

    /// The id as a context value for runtime work.
    pub(crate) fn ctx(self) -> u64 {
        u64::from(self.key) | (u64::from(self.gen) << 32)
    }

    pub(crate) fn from_ctx(ctx: u64) -> SockId {
        SockId {
            key: ctx as u32,
            gen: (ctx >> 32) as u32,
        }
    }
}

/// Why a socket was destroyed, as its protocol sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cause {
    /// The peer went away, or the user destroyed it.
    Aborted,
    /// The idle timeout expired.
    Timeout,
    /// An I/O error.
    Error,
}

/// What a socket's bytes mean: the functions of the protocol above that
/// `net` calls. Each is called with no state borrowed, so it may call
/// anything (including user code).
#[derive(Debug)]
pub(crate) struct Protocol {
    /// For logs.
    pub(crate) name: &'static str,
    /// Bytes arrived; returns how many were consumed. The rest is held and
    /// handed over again, with more, once reading goes on.
    pub(crate) input: fn(SockId, &[u8]) -> usize,
    /// The peer finished sending, and every byte before its FIN was
    /// consumed.
    pub(crate) eof: fn(SockId),
    /// Everything queued has been handed to the OS.
    pub(crate) flushed: fn(SockId),
    /// The output emptied after a write went over the high-water mark.
    pub(crate) drain: fn(SockId),
    /// A connection being set up finished: connected, or failed (the
    /// socket is destroyed right after a failure).
    pub(crate) connected: fn(SockId, Result<(), std::io::Error>),
    /// The socket closed (on the turn after it was destroyed), just before
    /// its own `close` listeners run.
    pub(crate) closed: fn(SockId, Cause),
    /// Reading or writing failed (the socket is destroyed right after):
    /// a reset, or a TLS handshake that failed.
    pub(crate) failed: fn(SockId, &std::io::Error),
    /// A TLS handshake finished: the connection is secure.
    pub(crate) secured: fn(SockId),
    /// The idle timeout passed (after the socket's own `timeout`
    /// listeners ran). Returns whether the protocol's listeners took it;
    /// if not, and the socket has no `timeout` listener either, the socket
    /// is destroyed.
    pub(crate) timeout: fn(SockId) -> bool,
}

/// The protocol of a plain `net` socket (or an HTTP connection handed over
/// by an upgrade): bytes are `data` events, a FIN is `end`.
pub(crate) static RAW: Protocol = Protocol {
    name: "raw",
    input: io::raw_input,
    eof: raw_eof,
    flushed: ignore,
    drain: ignore,
    connected: raw_connected,
    closed: |_, _| {},
    failed: raw_failed,
    secured: |_| {},
    // A raw socket is only told (Node's `net` rule).
    timeout: |_| true,
};

fn ignore(_: SockId) {}

/// A socket opened by [`connect`] is up: `connect` (its callback), then
/// `ready`. A failed connect keeps Node's `connect ECONNREFUSED
/// 127.0.0.1:PORT` for the `error` event; the socket is destroyed right
/// after, so `error` and then `close(true)` follow on the next turn.
fn raw_connected(id: SockId, result: Result<(), std::io::Error>) {
    match result {
        Ok(()) => {
            socket::emit_socket(id, |l| &mut l.connect, |f| f());
            socket::emit_socket(id, |l| &mut l.ready, |f| f());
        }
        Err(e) => {
            log::debug!("socket {}: connect failed: {e}", id.key);
            let address = Socket::from_id(id)
                .remote_address()
                .map(connect::host_port)
                .unwrap_or_default();
            socket::set_error(id, crate::Error::syscall("connect", e, &address));
        }
    }
}

/// Reading a raw socket failed (a reset): Node's `read ECONNRESET` goes to
/// `error`, before `close(true)`.
fn raw_failed(id: SockId, e: &std::io::Error) {
    let copy = e
        .raw_os_error()
        .map(std::io::Error::from_raw_os_error)
        .unwrap_or_else(|| std::io::Error::new(e.kind(), e.to_string()));
    socket::set_error(id, crate::Error::syscall("read", copy, ""));
}

/// Protocol state kept per socket by a layer above: a table indexed by the
/// socket's key, checked against its generation. O(1) both ways, with no
/// pointer from the socket up to the protocol's record.
pub(crate) struct PerSocket<T> {
    slots: Vec<Option<(u32, T)>>,
}

impl<T> Default for PerSocket<T> {
    fn default() -> Self {
        PerSocket { slots: Vec::new() }
    }
}

impl<T> PerSocket<T> {
    pub(crate) fn insert(&mut self, id: SockId, value: T) {
        let i = id.key as usize;
        if self.slots.len() <= i {
            self.slots.resize_with(i + 1, || None);
        }
        self.slots[i] = Some((id.gen, value));
    }

    pub(crate) fn get(&self, id: SockId) -> Option<&T> {
        match self.slots.get(id.key as usize) {
            Some(Some((gen, v))) if *gen == id.gen => Some(v),
            _ => None,
        }
    }

    pub(crate) fn get_mut(&mut self, id: SockId) -> Option<&mut T> {
        match self.slots.get_mut(id.key as usize) {
            Some(Some((gen, v))) if *gen == id.gen => Some(v),
            _ => None,
        }
    }

    pub(crate) fn remove(&mut self, id: SockId) -> Option<T> {
        let slot = self.slots.get_mut(id.key as usize)?;
        if slot.as_ref().is_some_and(|(gen, _)| *gen == id.gen) {
            slot.take().map(|(_, v)| v)
        } else {
            None
        }
    }

    /// Every entry with its socket id.
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (SockId, &mut T)> {
        self.slots.iter_mut().enumerate().filter_map(|(key, slot)| {
            slot.as_mut().map(|(gen, v)| {
                (
                    SockId {
                        key: key as u32,
                        gen: *gen,
                    },
                    v,
                )
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_socket_entries_are_found_only_by_their_generation() {
        let mut t = PerSocket::default();
        let a = SockId { key: 3, gen: 7 };
        t.insert(a, "a");
        assert_eq!(t.get(a), Some(&"a"));
        assert_eq!(t.get(SockId { key: 3, gen: 8 }), None, "a reused slot");
        assert_eq!(t.remove(SockId { key: 3, gen: 8 }), None);
        assert_eq!(t.iter_mut().map(|(id, _)| id).collect::<Vec<_>>(), [a]);
        assert_eq!(t.remove(a), Some("a"));
        assert_eq!(t.iter_mut().count(), 0);
    }

    #[test]
    fn socket_ids_round_trip_through_a_context_value() {
        let id = SockId {
            key: 12,
            gen: 0x7fff_0001,
        };
        assert_eq!(SockId::from_ctx(id.ctx()), id);
    }
}
