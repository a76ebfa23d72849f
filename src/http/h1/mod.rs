//! STUB: replaced by the real sans-IO core.
#![allow(missing_docs, dead_code, unused_variables, clippy::all)]
pub mod decode;
pub mod encode;
pub mod headers;
pub mod parse;
pub use decode::{DecodeError, Decoded, Decoder};
pub use encode::DateCache;
pub use headers::{HeaderValue, Headers};
pub use parse::{parse_request_head, parse_response_head, BodyKind, Limits, ParseError, ParsedRequest, ParsedResponse};
