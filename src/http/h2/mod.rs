//! The sans-IO HTTP/2 protocol core (RFC 9113, with HPACK, RFC 7541):
//! bytes in, events and bytes out. Nothing here knows about sockets, the
//! loop, timers or callbacks, so every rule is unit-tested by feeding byte
//! strings whole, split at every offset, and one byte at a time.
//!
//! One [`Connection`] is the whole protocol for one connection, in either
//! [`Role`]: the preface and SETTINGS exchange, streams and their states
//! ([`StreamState`]), flow control in both directions, header blocks
//! across CONTINUATION frames, the well-formedness rules of §8 for
//! requests and responses, and the limits that keep a hostile peer from
//! costing memory or CPU (see [`Config`]). [`hpack`] is the header
//! compression it uses.
//!
//! Not done, on purpose: server push (we never send PUSH_PROMISE, and a
//! client turns it off), the deprecated priority scheme (parsed only to
//! refuse a stream depending on itself, then ignored), extended CONNECT
//! (RFC 8441) and `h2c` upgrade from HTTP/1.1 (prior knowledge or TLS
//! ALPN only).
//!
//! ```
//! use nodelike::http::h2::{Config, Connection, Event, Role};
//! let mut client = Connection::new(Role::Client, Config::default());
//! let mut server = Connection::new(Role::Server, Config::default());
//! let (mut to_server, mut to_client) = (Vec::new(), Vec::new());
//! client.start(&mut to_server);
//! server.start(&mut to_client);
//! let id = client
//!     .open_stream(&[(&b":method"[..], &b"GET"[..]), (b":scheme", b"https"), (b":path", b"/")],
//!                  true, &mut to_server)
//!     .unwrap();
//! // The server answers the request it finds.
//! let mut pos = 0;
//! while let (n, Some(event)) = server.poll(&to_server[pos..], &mut to_client).unwrap() {
//!     pos += n;
//!     if let Event::Headers { stream, .. } = event {
//!         server.send_headers(stream, &[(&b":status"[..], &b"200"[..])], false, &mut to_client).unwrap();
//!         server.send_data(stream, b"hi", true, &mut to_client).unwrap();
//!     }
//! }
//! // The client reads the response.
//! let (mut pos, mut body) = (0, Vec::new());
//! while let (n, Some(event)) = client.poll(&to_client[pos..], &mut to_server).unwrap() {
//!     pos += n;
//!     match event {
//!         Event::Headers { fields, .. } => assert_eq!(fields.get(b":status"), Some(&b"200"[..])),
//!         Event::Data { stream, data, .. } => {
//!             body.extend_from_slice(data);
//!             client.release(stream, data.len(), &mut to_server);
//!         }
//!         _ => {}
//!     }
//! }
//! assert_eq!((id, &body[..]), (1, &b"hi"[..]));
//! ```

mod connection;
mod error;
mod flow;
mod frame;
mod headers;
pub mod hpack;
mod settings;
mod stream;
#[cfg(test)]
mod tests;

pub use connection::{Config, ConnState, Connection, Event, Role};
pub use error::{ErrorCode, H2Error};
pub(crate) use headers::is_connection_specific;
pub use headers::{HeaderIter, HeaderList, ToField};
pub use settings::Settings;
pub use stream::StreamState;
