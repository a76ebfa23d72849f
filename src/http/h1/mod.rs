//! The sans-IO HTTP/1.1 protocol core: bytes in, parsed heads, body slices
//! and encoded bytes out. Nothing here knows about sockets, the loop or
//! callbacks, so every rule is unit-tested by feeding byte strings, whole,
//! split at every offset, and one byte at a time.
//!
//! httparse tokenises heads (fast, SIMD where available); this module
//! decides what they mean: RFC 9112's framing rules (Content-Length versus
//! Transfer-Encoding, duplicates, Host), strict CRLF line endings, and the
//! chunked decoder, which is entirely our own.
//!
//! ```
//! use nodelike::http::h1::{parse_request_head, BodyKind, Decoded, Decoder, Limits, ParsedRequest};
//! let input = b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
//! let mut head = ParsedRequest::default();
//! let n = parse_request_head(input, &Limits::default(), &mut head).unwrap().unwrap();
//! assert_eq!(head.body, BodyKind::Chunked);
//! let mut body = Decoder::new(head.body);
//! assert_eq!(body.decode(&input[n..]).unwrap().1, Decoded::Data(b"abc"));
//! ```

// The public surface is the sans-IO core: parsing heads and decoding
// bodies. The encoder's helpers and the header types' modules are the
// crate's own (`Headers`, `HeaderValue`, `STATUS_CODES` and `METHODS` are
// public at `nodelike::http`, their one path).
mod decode;
pub(crate) mod encode;
mod headers;
mod parse;

pub use decode::{DecodeError, Decoded, Decoder};
pub(crate) use encode::DateCache;
pub(crate) use headers::{latin1, HeaderValue, Headers};

/// The header types, for `nodelike::http` to re-export: their one public
/// path is `nodelike::http::{Headers, HeaderValue}`.
#[doc(hidden)]
pub mod headers_public {
    pub use super::headers::{HeaderValue, Headers};
}
pub(crate) use parse::line_breaks_between_requests;
pub use parse::{
    parse_request_head, parse_response_head, BodyKind, Limits, ParseError, ParsedRequest,
    ParsedResponse,
};
