//! A [`Socket`] is a [`Duplex`](crate::stream::Duplex): Node's
//! `net.Socket` is a `stream.Duplex`, so code written against the stream
//! traits (`pipe`, `pipeline`, `finished`) takes sockets as they are.
//! `socket.pipe(socket)` is an echo server.
//!
//! The inherent methods say more where Node's socket does (`close`
//! carries `had_error`, `destroy` takes no argument); the trait's forms are
//! the plain stream ones.

use super::socket::{self, Socket};
use crate::stream::{EndOfStream, Readable, Stream, Writable, DEFAULT_HIGH_WATER_MARK};
use crate::{Chunk, Error, IntoChunk};

/// ```no_run
/// use nodelike::net;
/// use nodelike::stream::{self, Stream};
/// let socket = net::connect(7000, "127.0.0.1", || {});
/// stream::finished(socket, |err| println!("socket done: {err:?}"));
/// socket.end("bye\n");
/// nodelike::run();
/// ```
impl Stream for Socket {
    fn destroy(&self, error: Option<Error>) {
        match error {
            Some(e) => socket::destroy_with_error(self.id, e),
            None => Socket::destroy(self),
        }
    }

    fn destroyed(&self) -> bool {
        !socket::is_open(self.id)
    }

    fn on_error(&self, f: impl FnMut(&Error) + 'static) {
        Socket::on_error(self, f);
    }

    fn on_close(&self, mut f: impl FnMut() + 'static) {
        Socket::on_close(self, move |_had_error| f());
    }

    fn end_of_stream(&self, callback: Box<dyn FnOnce(Option<Error>)>) {
        EndOfStream::duplex(*self, callback);
    }
}

/// ```no_run
/// use nodelike::net;
/// use nodelike::stream::Readable;
/// // The echo server: each socket's bytes go back to it.
/// net::create_server(|socket| {
///     socket.pipe(socket);
/// })
/// .listen(7000, "127.0.0.1", || {});
/// nodelike::run();
/// ```
impl Readable for Socket {
    fn on_data(&self, f: impl FnMut(Chunk<'_>) + 'static) {
        Socket::on_data(self, f);
    }

    fn on_end(&self, f: impl FnMut() + 'static) {
        Socket::on_end(self, f);
    }

    fn pause(&self) {
        Socket::pause(self);
    }

    fn resume(&self) {
        Socket::resume(self);
    }

    fn is_paused(&self) -> bool {
        Socket::is_paused(self)
    }

    fn readable_ended(&self) -> bool {
        self.ended_by_peer()
    }
}

/// ```no_run
/// use nodelike::net;
/// use nodelike::stream::Writable;
/// let socket = net::connect(7000, "127.0.0.1", || {});
/// Writable::end(&socket, "hello\n");
/// nodelike::run();
/// ```
impl Writable for Socket {
    fn write(&self, chunk: impl IntoChunk) -> bool {
        Socket::write(self, chunk)
    }

    fn end(&self, chunk: impl IntoChunk) {
        Socket::end(self, chunk);
    }

    fn on_drain(&self, f: impl FnMut() + 'static) {
        Socket::on_drain(self, f);
    }

    fn on_finish(&self, f: impl FnMut() + 'static) {
        Socket::on_finish(self, f);
    }

    fn cork(&self) {
        Socket::cork(self);
    }

    fn uncork(&self) {
        Socket::uncork(self);
    }

    fn writable_ended(&self) -> bool {
        self.ended_by_us()
    }

    fn writable_finished(&self) -> bool {
        self.finished()
    }

    fn writable_length(&self) -> usize {
        self.buffer_size()
    }

    fn writable_high_water_mark(&self) -> usize {
        DEFAULT_HIGH_WATER_MARK
    }
}
