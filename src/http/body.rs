//! How a message body is delimited on the wire, shared by both roles: the
//! server frames responses with it, the client frames requests.

/// How a body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Framing {
    /// HEAD, 1xx, 204, 304 (or a request without a body): no body bytes,
    /// whatever the writer sends.
    #[default]
    NoBody,
    /// Content-Length; the bytes still owed.
    Length(u64),
    Chunked,
    /// Close-delimited (HTTP/1.0 without a length).
    Eof,
}
