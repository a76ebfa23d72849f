//! HTTP/2 (RFC 9113), sans-IO. For now only its header compression,
//! [`hpack`] (RFC 7541): bytes in, header fields out, and back.

pub mod hpack;
