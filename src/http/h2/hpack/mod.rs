//! HPACK, the header compression of HTTP/2 (RFC 7541), sans-IO: a
//! [`Decoder`] turns a complete header block into `(name, value)` pairs,
//! an [`Encoder`] turns fields into a block. Each side keeps a dynamic
//! table that mirrors the other side's, so one of each per connection,
//! used in the order blocks are sent and received.
//!
//! What this module does not do is HTTP/2's: joining HEADERS and
//! CONTINUATION frames, checking names and pseudo-headers, or deciding
//! which fields are sensitive. It never panics on peer bytes: every
//! malformed block is an [`HpackError`].
//!
//! Memory is bounded by the settings, never by the peer: the decoder's
//! table by our SETTINGS_HEADER_TABLE_SIZE, the encoder's by 4096 bytes,
//! the scratch buffers by the longest string in a block (whose size the
//! connection caps). Both sides reuse their buffers, so encoding and
//! decoding a steady stream of blocks allocates nothing.
//!
//! ```
//! use nodelike::http::h2::hpack::{Decoder, Encoder, Field};
//! let mut encoder = Encoder::new();
//! let mut block = Vec::new();
//! encoder.encode(
//!     [
//!         Field::new(b":status", b"200"),
//!         Field::new(b"content-type", b"text/html; charset=utf-8"),
//!         Field::never_indexed(b"set-cookie", b"id=42"),
//!     ],
//!     &mut block,
//! );
//!
//! let mut decoder = Decoder::new(4096);
//! let mut fields = Vec::new();
//! decoder
//!     .decode(&block, 16 * 1024, &mut |name, value| {
//!         fields.push(format!("{}: {}", String::from_utf8_lossy(name), String::from_utf8_lossy(value)))
//!     })
//!     .unwrap();
//! assert_eq!(fields, [":status: 200", "content-type: text/html; charset=utf-8", "set-cookie: id=42"]);
//! ```

mod decoder;
mod encoder;
mod huffman;
mod table;

pub use decoder::Decoder;
pub use encoder::{Encoder, Field};

/// Why a header block could not be decoded. All but
/// [`ListTooLarge`](HpackError::ListTooLarge) are a COMPRESSION_ERROR for
/// the connection (RFC 9113 §4.3): the decoder's table can no longer be
/// trusted to match the peer's.
///
/// ```
/// use nodelike::http::h2::hpack::{Decoder, HpackError};
/// let mut decoder = Decoder::new(4096);
/// // Index 0 is not a field (RFC 7541 §6.1).
/// assert_eq!(decoder.decode(&[0x80], 1024, &mut |_, _| {}), Err(HpackError::InvalidIndex(0)));
/// assert_eq!(HpackError::InvalidIndex(0).to_string(), "HPACK: invalid index 0");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HpackError {
    /// The block ended inside a representation.
    Truncated,
    /// A prefix integer over `u32::MAX`, or with more than 5 continuation
    /// bytes.
    IntegerOverflow,
    /// An index of 0, or past the static and dynamic tables.
    InvalidIndex(usize),
    /// A Huffman string holding EOS, or padded with more than 7 bits or
    /// with bits that are not all ones (RFC 7541 §5.2).
    InvalidHuffman,
    /// A Dynamic Table Size Update over the limit we advertised.
    TableSizeUpdateTooLarge,
    /// A Dynamic Table Size Update after a field: RFC 7541 §4.2 allows
    /// them only at the start of a block.
    TableSizeUpdateNotAtStart,
    /// The decoded header list passed `max_list_size`. The block was
    /// decoded to its end, so the dynamic table is in step: a stream
    /// error, not a connection error.
    ListTooLarge,
}

impl std::fmt::Display for HpackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HpackError::Truncated => f.write_str("HPACK: header block truncated"),
            HpackError::IntegerOverflow => f.write_str("HPACK: integer overflow"),
            HpackError::InvalidIndex(index) => write!(f, "HPACK: invalid index {index}"),
            HpackError::InvalidHuffman => f.write_str("HPACK: invalid Huffman string"),
            HpackError::TableSizeUpdateTooLarge => {
                f.write_str("HPACK: dynamic table size update over the advertised limit")
            }
            HpackError::TableSizeUpdateNotAtStart => {
                f.write_str("HPACK: dynamic table size update after a header field")
            }
            HpackError::ListTooLarge => f.write_str("HPACK: header list too large"),
        }
    }
}

impl std::error::Error for HpackError {}
