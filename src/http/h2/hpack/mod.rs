//! THROWAWAY STUB of HPACK (RFC 7541), replaced at merge by the real
//! module (Part A of the contract). It has exactly Part A's API; the
//! encoder emits only "literal without indexing, new name, no Huffman"
//! (or "never indexed" for sensitive fields) and the decoder decodes only
//! those, so the connection can be built and tested against it.

use std::fmt;

/// Why a header block could not be decoded.
///
/// ```
/// use nodelike::http::h2::hpack::HpackError;
/// assert_eq!(HpackError::Truncated.to_string(), "header block truncated");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HpackError {
    /// The block ended inside a representation.
    Truncated,
    /// A prefix integer too large.
    IntegerOverflow,
    /// An index of 0 or past the tables.
    InvalidIndex(usize),
    /// A bad Huffman string.
    InvalidHuffman,
    /// A table size update over our limit.
    TableSizeUpdateTooLarge,
    /// A table size update not at the start of a block.
    TableSizeUpdateNotAtStart,
    /// The decoded list passed `max_list_size`.
    ListTooLarge,
}

impl fmt::Display for HpackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HpackError::Truncated => "header block truncated",
            HpackError::IntegerOverflow => "integer overflow",
            HpackError::InvalidIndex(_) => "invalid index",
            HpackError::InvalidHuffman => "invalid huffman",
            HpackError::TableSizeUpdateTooLarge => "table size update too large",
            HpackError::TableSizeUpdateNotAtStart => "table size update not at start",
            HpackError::ListTooLarge => "header list too large",
        })
    }
}

impl std::error::Error for HpackError {}

/// One field to encode.
///
/// ```
/// let f = nodelike::http::h2::hpack::Field { name: b"a", value: b"b", sensitive: false };
/// assert_eq!(f.name, b"a");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Field<'a> {
    /// Lowercase name.
    pub name: &'a [u8],
    /// Value.
    pub value: &'a [u8],
    /// Never indexed.
    pub sensitive: bool,
}

/// Stub decoder.
///
/// ```
/// let mut d = nodelike::http::h2::hpack::Decoder::new(4096);
/// d.decode(b"", 100, &mut |_, _| {}).unwrap();
/// ```
#[derive(Debug)]
pub struct Decoder {
    max_table_size: usize,
}

fn read_int(block: &[u8], pos: &mut usize, prefix_bits: u32) -> Result<usize, HpackError> {
    let first = *block.get(*pos).ok_or(HpackError::Truncated)?;
    *pos += 1;
    let mask = (1u32 << prefix_bits) - 1;
    let mut value = (first as u32 & mask) as usize;
    if value < mask as usize {
        return Ok(value);
    }
    let mut shift = 0u32;
    loop {
        let b = *block.get(*pos).ok_or(HpackError::Truncated)?;
        *pos += 1;
        if shift > 28 {
            return Err(HpackError::IntegerOverflow);
        }
        value = value
            .checked_add(((b & 0x7f) as usize) << shift)
            .ok_or(HpackError::IntegerOverflow)?;
        shift += 7;
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
}

fn read_str<'b>(block: &'b [u8], pos: &mut usize) -> Result<&'b [u8], HpackError> {
    let huffman = block.get(*pos).ok_or(HpackError::Truncated)? & 0x80 != 0;
    let len = read_int(block, pos, 7)?;
    if huffman {
        return Err(HpackError::InvalidHuffman);
    }
    let end = pos.checked_add(len).ok_or(HpackError::Truncated)?;
    let s = block.get(*pos..end).ok_or(HpackError::Truncated)?;
    *pos = end;
    Ok(s)
}

fn write_int(out: &mut Vec<u8>, first: u8, prefix_bits: u32, mut n: usize) {
    let mask = (1usize << prefix_bits) - 1;
    if n < mask {
        out.push(first | n as u8);
        return;
    }
    out.push(first | mask as u8);
    n -= mask;
    while n >= 128 {
        out.push((n % 128) as u8 | 0x80);
        n /= 128;
    }
    out.push(n as u8);
}

impl Decoder {
    /// A decoder.
    ///
    /// ```
    /// nodelike::http::h2::hpack::Decoder::new(4096);
    /// ```
    pub fn new(max_table_size: usize) -> Decoder {
        Decoder { max_table_size }
    }

    /// Our table size setting.
    ///
    /// ```
    /// nodelike::http::h2::hpack::Decoder::new(4096).set_max_table_size(0);
    /// ```
    pub fn set_max_table_size(&mut self, n: usize) {
        self.max_table_size = n;
    }

    /// Decodes one block.
    ///
    /// ```
    /// let mut d = nodelike::http::h2::hpack::Decoder::new(4096);
    /// d.decode(b"\x00\x01a\x01b", 100, &mut |n, v| assert_eq!((n, v), (&b"a"[..], &b"b"[..]))).unwrap();
    /// ```
    pub fn decode(
        &mut self,
        block: &[u8],
        max_list_size: usize,
        emit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<(), HpackError> {
        let _ = self.max_table_size;
        let mut pos = 0;
        let mut size = 0usize;
        let mut too_large = false;
        while pos < block.len() {
            let first = block[pos];
            if first != 0x00 && first != 0x10 {
                return Err(HpackError::InvalidIndex(0));
            }
            pos += 1;
            let name = read_str(block, &mut pos)?;
            let value = read_str(block, &mut pos)?;
            size = size.saturating_add(name.len() + value.len() + 32);
            if size > max_list_size {
                too_large = true;
            }
            if !too_large {
                emit(name, value);
            }
        }
        if too_large {
            Err(HpackError::ListTooLarge)
        } else {
            Ok(())
        }
    }
}

/// Stub encoder.
///
/// ```
/// let mut out = Vec::new();
/// nodelike::http::h2::hpack::Encoder::new().encode(
///     [nodelike::http::h2::hpack::Field { name: b"a", value: b"b", sensitive: false }], &mut out);
/// assert_eq!(out, b"\x00\x01a\x01b");
/// ```
#[derive(Debug, Default)]
pub struct Encoder {
    _max_table_size: usize,
}

impl Encoder {
    /// An encoder.
    ///
    /// ```
    /// nodelike::http::h2::hpack::Encoder::new();
    /// ```
    pub fn new() -> Encoder {
        Encoder {
            _max_table_size: 4096,
        }
    }

    /// The peer's table size setting.
    ///
    /// ```
    /// nodelike::http::h2::hpack::Encoder::new().set_max_table_size(0);
    /// ```
    pub fn set_max_table_size(&mut self, n: usize) {
        self._max_table_size = n;
    }

    /// Encodes one block.
    ///
    /// ```
    /// let mut out = Vec::new();
    /// nodelike::http::h2::hpack::Encoder::new().encode([], &mut out);
    /// assert!(out.is_empty());
    /// ```
    pub fn encode<'a>(&mut self, fields: impl IntoIterator<Item = Field<'a>>, out: &mut Vec<u8>) {
        for f in fields {
            out.push(if f.sensitive { 0x10 } else { 0x00 });
            write_int(out, 0, 7, f.name.len());
            out.extend_from_slice(f.name);
            write_int(out, 0, 7, f.value.len());
            out.extend_from_slice(f.value);
        }
    }
}
