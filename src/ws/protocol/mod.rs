//! The sans-IO WebSocket protocol core: RFC 6455 framing and RFC 7692
//! permessage-deflate, with no sockets, no loop and no timers.
//!
//! Bytes go in and come out as [`Incoming`] events ([`Receiver`]); calls go
//! in and come out as bytes appended to a `Vec<u8>` ([`Sender`]). The
//! opening handshake's checks and keys are in [`handshake`], the
//! `Sec-WebSocket-Extensions` negotiation in [`deflate`]. The I/O layer
//! (server, client, the `WebSocket` handle) is built on top of this and owns
//! every buffer that touches a socket.
//!
//! Errors and their texts are the `ws` npm package's (`WS_ERR_*` codes and
//! messages), so logs read the same as a Node server's.

pub(crate) mod close;
pub(crate) mod deflate;
mod error;
mod extension;
mod frame;
pub(crate) mod handshake;
mod mask;
mod receiver;
mod sender;
mod sha1;
mod utf8;

pub use deflate::PerMessageDeflate;
pub(crate) use deflate::{client_offer, negotiate_server, Deflater, Inflater};
pub(crate) use error::ProtocolError;
pub(crate) use handshake::{
    accept_key, check_upgrade_request, check_upgrade_response, new_client_key,
};
pub(crate) use receiver::{Flow, Incoming, Receiver};
pub(crate) use sender::Sender;

/// Which end of the connection we are. RFC 6455 §5.1: a client masks every
/// frame it sends and a server masks none, and each side fails the
/// connection when the other breaks that rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// We accepted the connection: incoming frames must be masked.
    Server,
    /// We opened the connection: incoming frames must not be masked, and
    /// ours are.
    Client,
}
