//! WebSocket on the same loop: the npm `ws` package's API (RFC 6455, with
//! RFC 7692's permessage-deflate).
//!
//! - [`WebSocketServer`] accepts connections in each of `ws`'s three modes:
//!   on its own port, attached to an [`http::Server`](crate::http::Server)
//!   (or an HTTPS one) with optional `path` matching, or with `no_server`
//!   and [`handle_upgrade`](WebSocketServer::handle_upgrade) called from
//!   your own `upgrade` listener.
//! - [`WebSocket`] is one connection, server or client side
//!   ([`WebSocket::connect`]): `send`, `ping`, `close`, `terminate`,
//!   `pause`/`resume` and the `message`, `close`, `error`, `ping`, `pong`
//!   and `drain` events.
//! - [`create_web_socket_stream`] wraps one in a `Readable + Writable`
//!   duplex, so it can be piped.
//!
//! The layout follows the layers: `protocol/` is the sans-IO core (frames,
//! masking, UTF-8, the close codes, permessage-deflate and the handshake's
//! rules: bytes in, events and bytes out, no I/O); `websocket.rs` binds it
//! to a [`net::Socket`](crate::net::Socket) handed over by an HTTP
//! upgrade; `server.rs` and `client.rs` make those upgrades.
//!
//! ```no_run
//! use nodelike::ws;
//! // An echo server on port 8080.
//! let wss = ws::WebSocketServer::new(ws::ServerOptions { port: Some(8080), ..Default::default() });
//! wss.on_connection(|ws, _req| {
//!     let echo = ws.clone();
//!     ws.on_message(move |data, is_binary| {
//!         echo.send_with(data, ws::SendOptions { binary: Some(is_binary), ..Default::default() }, None);
//!     });
//! });
//! nodelike::run();
//! ```

mod client;
mod data;
mod heartbeat;
pub(crate) mod protocol;
mod server;
mod stream;
mod websocket;

pub use client::ClientOptions;
pub use data::Data;
pub use heartbeat::Heartbeat;
pub use protocol::PerMessageDeflate;
pub use server::{HandleProtocols, ServerOptions, VerifyClient, WebSocketServer};
pub use stream::{create_web_socket_stream, WebSocketStream};
pub use websocket::{ReadyState, SendCallback, SendOptions, WebSocket};
