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

pub mod decode;
pub mod encode;
pub mod headers;
pub mod parse;

pub use decode::{DecodeError, Decoded, Decoder};
pub use encode::DateCache;
pub use headers::{HeaderValue, Headers};
pub use parse::{
    parse_request_head, parse_response_head, BodyKind, Limits, ParseError, ParsedRequest,
    ParsedResponse,
};
