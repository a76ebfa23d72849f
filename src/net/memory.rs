//! An in-memory connection: a server's socket whose far end is your code
//! instead of the network (Node's `server.emit('connection', duplex)`).
//!
//! The server side is an ordinary socket record with ordinary protocol
//! state; only its transport is a pair of byte queues. The far end delivers
//! readiness by hand: each method that gives the server something to do
//! (bytes, room to write, a FIN) runs the server's reaction before it
//! returns, so tests and fuzzers drive a connection step by step, with the
//! read sizes and write windows they choose, and no timing.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::rc::Rc;

use super::io::{flush_socket, read_socket};
use super::transport::Transport;
use super::{with_net, Cause, SockId};
use crate::runtime;

/// The shared state of one in-memory connection: what the far end sent and
/// the server has not read, what the server wrote and the far end has not
/// taken.
#[derive(Default)]
pub(crate) struct Pipe {
    /// Bytes for the server to read.
    input: VecDeque<u8>,
    /// At most this many bytes per read (the far end's "packet" size).
    max_read: Option<usize>,
    /// The far end half-closed: once `input` is drained, reads return 0.
    input_ended: bool,
    /// The far end reset the connection: reads and writes fail.
    reset: bool,
    /// Bytes the server wrote.
    output: Vec<u8>,
    /// How many more bytes the server may write before its writes would
    /// block (`None`: unlimited).
    window: Option<usize>,
    /// The server shut down its writing side.
    output_ended: bool,
}

impl Pipe {
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.reset {
            return Err(io::ErrorKind::ConnectionReset.into());
        }
        if self.input.is_empty() {
            return if self.input_ended {
                Ok(0)
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            };
        }
        let n = buf
            .len()
            .min(self.input.len())
            .min(self.max_read.unwrap_or(usize::MAX));
        for (slot, byte) in buf.iter_mut().zip(self.input.drain(..n)) {
            *slot = byte;
        }
        Ok(n)
    }

    pub(crate) fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.reset || self.output_ended {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        let n = buf.len().min(self.window.unwrap_or(usize::MAX));
        if n == 0 && !buf.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.output.extend_from_slice(&buf[..n]);
        if let Some(w) = &mut self.window {
            *w -= n;
        }
        Ok(n)
    }

    pub(crate) fn shutdown_write(&mut self) {
        self.output_ended = true;
    }
}

/// The server side's transport: the shared pipe.
pub(crate) struct MemoryTransport(pub(crate) Rc<RefCell<Pipe>>);

impl Transport for MemoryTransport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.borrow_mut().read(buf)
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().write(buf)
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        self.0.borrow_mut().shutdown_write();
        Ok(())
    }

    fn source(&mut self) -> Option<&mut dyn mio::event::Source> {
        None // the far end drives it by hand
    }
}

/// The far end of a server connection that lives in memory; made by
/// [`Server::connect_in_memory`](crate::http::Server::connect_in_memory).
///
/// Every method that gives the server work ([`send`](Self::send),
/// [`end`](Self::end), [`take_output`](Self::take_output),
/// [`reset`](Self::reset)) lets the server react completely (parse,
/// call your listeners, write) before it returns. Call them from outside
/// the loop's callbacks, not from inside one. Timers (timeouts) only run
/// under [`run`](crate::run); an in-memory connection does not keep `run`
/// going. Dropping the handle resets the connection.
///
/// ```
/// use nodelike::http;
/// let server = http::create_server(|_req, res| res.end("hi"));
/// let conn = server.connect_in_memory();
/// conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
/// let answer = String::from_utf8(conn.take_output()).unwrap();
/// assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"));
/// assert!(answer.ends_with("\r\n\r\nhi"));
/// ```
pub struct MemoryConnection {
    pub(crate) id: SockId,
    pub(crate) pipe: Rc<RefCell<Pipe>>,
}

impl MemoryConnection {
    pub(crate) fn new(id: SockId, pipe: Rc<RefCell<Pipe>>) -> MemoryConnection {
        MemoryConnection { id, pipe }
    }

    /// A new pipe: the far end's share, and the transport for the server's
    /// socket.
    pub(crate) fn pipe() -> (Rc<RefCell<Pipe>>, Box<dyn Transport>) {
        let pipe = Rc::new(RefCell::new(Pipe::default()));
        (pipe.clone(), Box::new(MemoryTransport(pipe)))
    }

    /// Sends bytes to the server, which reads and handles them (in reads of
    /// at most [`set_max_read`](Self::set_max_read) bytes) before this
    /// returns. Bytes the server is not reading now (paused, or its output
    /// is backed up) wait in the connection.
    ///
    /// ```
    /// let server = nodelike::http::create_server(|_req, res| res.end(()));
    /// let conn = server.connect_in_memory();
    /// conn.send(b"GET / HTT");
    /// assert!(conn.take_output().is_empty(), "half a head: nothing yet");
    /// conn.send(b"P/1.1\r\nHost: x\r\n\r\n");
    /// assert!(conn.take_output().starts_with(b"HTTP/1.1 200 OK"));
    /// ```
    pub fn send(&self, bytes: &[u8]) {
        self.pipe.borrow_mut().input.extend(bytes);
        self.readable();
    }

    /// Caps how many bytes one read by the server returns (`0`: no cap),
    /// as a network delivers a stream in packets of its own choosing.
    ///
    /// ```
    /// let server = nodelike::http::create_server(|_req, res| res.end(()));
    /// let conn = server.connect_in_memory();
    /// conn.set_max_read(1); // one byte per read
    /// conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    /// assert!(conn.take_output().starts_with(b"HTTP/1.1 200 OK"));
    /// ```
    pub fn set_max_read(&self, bytes: usize) {
        self.pipe.borrow_mut().max_read = (bytes > 0).then_some(bytes);
    }

    /// Half-closes: the server reads end-of-stream after what was sent.
    ///
    /// ```
    /// let server = nodelike::http::create_server(|_req, res| res.end(()));
    /// let conn = server.connect_in_memory();
    /// conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    /// conn.end();
    /// assert!(conn.take_output().starts_with(b"HTTP/1.1 200 OK"));
    /// assert!(conn.output_ended(), "answered, then the server closed too");
    /// ```
    pub fn end(&self) {
        self.pipe.borrow_mut().input_ended = true;
        self.readable();
    }

    /// Resets the connection, as a peer's RST: the server's next read or
    /// write fails and the socket is destroyed.
    ///
    /// ```
    /// let server = nodelike::http::create_server(|_req, res| res.end(()));
    /// let conn = server.connect_in_memory();
    /// conn.reset();
    /// assert!(conn.is_closed());
    /// ```
    pub fn reset(&self) {
        self.pipe.borrow_mut().reset = true;
        self.readable();
        // A socket that stopped reading (it saw our FIN, or is paused) has
        // not noticed yet; the kernel would fail its next call, so this is
        // where it ends.
        super::destroy(self.id, Cause::Aborted);
        settle();
    }

    /// Limits how many more bytes the server can write before its writes
    /// would block, like a peer that stopped reading (`None`: no limit).
    /// [`take_output`](Self::take_output) opens the window again by as much
    /// as it takes.
    ///
    /// ```
    /// let server = nodelike::http::create_server(|_req, res| res.end("a long answer"));
    /// let conn = server.connect_in_memory();
    /// conn.set_window(Some(10));
    /// conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    /// assert_eq!(conn.take_output().len(), 10);
    /// assert!(conn.queued() > 0, "the rest waits in the server");
    /// ```
    pub fn set_window(&self, bytes: Option<usize>) {
        self.pipe.borrow_mut().window = bytes;
        self.writable();
    }

    /// Takes everything the server has written so far. With a window set,
    /// the window grows by what was taken and the server writes on.
    ///
    /// ```
    /// let server = nodelike::http::create_server(|_req, res| res.end(()));
    /// let conn = server.connect_in_memory();
    /// assert!(conn.take_output().is_empty());
    /// ```
    pub fn take_output(&self) -> Vec<u8> {
        // What the socket has queued but not yet written (corked writes
        // made outside the pipe's own steps) goes into the pipe first.
        self.writable();
        let taken = {
            let mut pipe = self.pipe.borrow_mut();
            let taken = std::mem::take(&mut pipe.output);
            if let Some(w) = &mut pipe.window {
                *w += taken.len();
            }
            taken
        };
        if !taken.is_empty() {
            self.writable();
        }
        taken
    }

    /// Whether the server shut down its writing side (it sent FIN).
    ///
    /// ```
    /// let server = nodelike::http::create_server(|_req, res| res.end(()));
    /// let conn = server.connect_in_memory();
    /// assert!(!conn.output_ended());
    /// ```
    pub fn output_ended(&self) -> bool {
        self.pipe.borrow().output_ended || self.is_closed()
    }

    /// Whether the server's socket is closed (destroyed and gone).
    ///
    /// ```
    /// let server = nodelike::http::create_server(|_req, res| res.end(()));
    /// let conn = server.connect_in_memory();
    /// assert!(!conn.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        !super::is_open(self.id)
    }

    /// Bytes the server has read and holds unparsed (a partial head, say).
    ///
    /// ```
    /// let server = nodelike::http::create_server(|_req, res| res.end(()));
    /// let conn = server.connect_in_memory();
    /// conn.send(b"GET / HT");
    /// assert_eq!(conn.held(), 8);
    /// ```
    pub fn held(&self) -> usize {
        with_net(|net| net.socket(self.id).map_or(0, |s| s.inbuf.len())).unwrap_or(0)
    }

    /// Bytes the server has queued to write and not yet written.
    ///
    /// ```
    /// let server = nodelike::http::create_server(|_req, res| res.end(()));
    /// let conn = server.connect_in_memory();
    /// assert_eq!(conn.queued(), 0);
    /// ```
    pub fn queued(&self) -> usize {
        super::backlog(self.id)
    }

    /// The server's socket, as its `connection` event gave it.
    ///
    /// ```
    /// let server = nodelike::http::create_server(|_req, res| res.end(()));
    /// let conn = server.connect_in_memory();
    /// assert_eq!(conn.socket().remote_address(), None);
    /// ```
    pub fn socket(&self) -> crate::net::Socket {
        super::Socket::from_id(self.id)
    }

    fn readable(&self) {
        runtime::refresh_now();
        read_socket(self.id, true);
        settle();
    }

    fn writable(&self) {
        runtime::refresh_now();
        flush_socket(self.id);
        settle();
    }
}

impl Drop for MemoryConnection {
    fn drop(&mut self) {
        if !self.is_closed() {
            self.reset();
        }
    }
}

impl std::fmt::Debug for MemoryConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryConnection")
            .field("socket", &self.id.key)
            .finish()
    }
}

/// Runs the work a step left behind (deferred closes, resumes, corked
/// writes) until none is left.
fn settle() {
    runtime::settle();
}
