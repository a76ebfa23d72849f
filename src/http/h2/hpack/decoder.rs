//! The header block decoder (RFC 7541 §3, §6): one complete block in,
//! `(name, value)` pairs out through a callback, the dynamic table kept in
//! step with the peer's encoder.

use super::huffman;
use super::table::{self, DynamicTable, STATIC_LEN};
use super::HpackError;

/// Decodes header blocks from one peer: the receiving half of HPACK for a
/// connection. It owns the dynamic table and two reusable scratch buffers
/// (for Huffman-coded names and values), so decoding a block allocates
/// nothing once those have grown to the longest string seen.
///
/// Fields are handed out as borrowed slices, never copied into a list: a
/// block that names one big table entry many times (an "HPACK bomb") costs
/// time in proportion to its own length and no memory, and the
/// `max_list_size` of [`Decoder::decode`] stops it being passed on.
///
/// ```
/// use nodelike::http::h2::hpack::Decoder;
/// let mut decoder = Decoder::new(4096);
/// // RFC 7541 C.3.1: :method GET, :scheme http, :path /, :authority www.example.com
/// let block = b"\x82\x86\x84\x41\x0fwww.example.com";
/// let mut fields = Vec::new();
/// decoder
///     .decode(block, 16 * 1024, &mut |name, value| fields.push((name.to_vec(), value.to_vec())))
///     .unwrap();
/// assert_eq!(fields[3], (b":authority".to_vec(), b"www.example.com".to_vec()));
/// ```
#[derive(Debug)]
pub struct Decoder {
    table: DynamicTable,
    /// Our SETTINGS_HEADER_TABLE_SIZE: the most a Dynamic Table Size
    /// Update may ask for (§4.2, §6.3).
    limit: usize,
    /// Scratch for a Huffman-coded name, reused block after block.
    name_buf: Vec<u8>,
    /// Scratch for a Huffman-coded value.
    value_buf: Vec<u8>,
}

/// How a literal field representation treats the dynamic table (§6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Indexing {
    /// §6.2.1: the field is added to the table.
    Incremental,
    /// §6.2.2 and §6.2.3 (never indexed): the table is left alone. A
    /// never-indexed field matters only to intermediaries re-encoding it,
    /// which we are not, so the two are decoded alike.
    None,
}

impl Decoder {
    /// A decoder whose dynamic table may grow to `max_table_size` bytes:
    /// our SETTINGS_HEADER_TABLE_SIZE (4096 by default). The table starts
    /// at that size, as if the setting were already acknowledged; a
    /// connection that advertises something other than 4096 makes its
    /// decoder with 4096 (the protocol's initial value) and calls
    /// [`Decoder::set_max_table_size`] when the peer acknowledges.
    ///
    /// ```
    /// use nodelike::http::h2::hpack::Decoder;
    /// let decoder = Decoder::new(4096);
    /// # let _ = decoder;
    /// ```
    pub fn new(max_table_size: usize) -> Decoder {
        Decoder {
            table: DynamicTable::new(max_table_size),
            limit: max_table_size,
            name_buf: Vec::new(),
            value_buf: Vec::new(),
        }
    }

    /// Changes our limit once the peer has acknowledged a new
    /// SETTINGS_HEADER_TABLE_SIZE. A smaller limit evicts at once (the
    /// peer's encoder must shrink its table too and say so with a size
    /// update in its next block); a larger one only allows the peer to
    /// grow its table with a size update.
    ///
    /// ```
    /// use nodelike::http::h2::hpack::{Decoder, HpackError};
    /// let mut decoder = Decoder::new(4096);
    /// decoder.set_max_table_size(256);
    /// // A size update (§6.3) asking for 4096 is now over the limit.
    /// let err = decoder.decode(b"\x3f\xe1\x1f", 1024, &mut |_, _| {});
    /// assert_eq!(err, Err(HpackError::TableSizeUpdateTooLarge));
    /// ```
    pub fn set_max_table_size(&mut self, n: usize) {
        self.limit = n;
        if self.table.capacity() > n {
            self.table.set_capacity(n);
        }
    }

    /// Decodes one complete header block (HEADERS and its CONTINUATIONs
    /// already joined), calling `emit(name, value)` for each field in
    /// order.
    ///
    /// `max_list_size` is the RFC 9113 header list size (Σ name length +
    /// value length + 32). Once the fields pass it, decoding goes on to
    /// the end of the block, so that the dynamic table stays in step with
    /// the peer's, but nothing more is emitted, and the result is
    /// `Err(ListTooLarge)`: a stream error, where every other error breaks
    /// the connection (COMPRESSION_ERROR). Names are not checked here
    /// (lowercase, pseudo-headers): that is HTTP/2's business, not HPACK's.
    ///
    /// ```
    /// use nodelike::http::h2::hpack::{Decoder, HpackError};
    /// let mut decoder = Decoder::new(4096);
    /// let mut count = 0;
    /// // :status 200, then the same again: 2 × (7 + 3 + 32) = 84 bytes of list.
    /// assert_eq!(decoder.decode(b"\x88\x88", 84, &mut |_, _| count += 1), Ok(()));
    /// assert_eq!(
    ///     decoder.decode(b"\x88\x88", 83, &mut |_, _| count += 1),
    ///     Err(HpackError::ListTooLarge)
    /// );
    /// assert_eq!(count, 3);
    /// ```
    pub fn decode(
        &mut self,
        block: &[u8],
        max_list_size: usize,
        emit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<(), HpackError> {
        let Decoder {
            table,
            limit,
            name_buf,
            value_buf,
        } = self;
        let mut list = ListBudget {
            used: 0,
            max: max_list_size,
            exceeded: false,
        };
        let mut fields_seen = false;
        let mut pos = 0;
        while let Some(&first) = block.get(pos) {
            if first & 0x80 != 0 {
                // §6.1 Indexed Header Field.
                let (index, next) = decode_int(block, pos, 7)?;
                pos = next;
                let (name, value) = lookup(table, index)?;
                list.emit(name, value, emit);
            } else if first & 0xe0 == 0x20 {
                // §6.3 Dynamic Table Size Update: only before the first
                // field (§4.2), at most our limit.
                if fields_seen {
                    return Err(HpackError::TableSizeUpdateNotAtStart);
                }
                let (size, next) = decode_int(block, pos, 5)?;
                pos = next;
                if size > *limit {
                    return Err(HpackError::TableSizeUpdateTooLarge);
                }
                table.set_capacity(size);
                continue;
            } else {
                // §6.2 Literal Header Field: with incremental indexing
                // (01), without indexing (0000) or never indexed (0001).
                let (prefix, indexing) = if first & 0x40 != 0 {
                    (6, Indexing::Incremental)
                } else {
                    (4, Indexing::None)
                };
                let (index, next) = decode_int(block, pos, prefix)?;
                pos = next;
                if index == 0 {
                    let (name, next) = read_string(block, pos, name_buf)?;
                    let (value, next) = read_string(block, next, value_buf)?;
                    pos = next;
                    list.emit(name, value, emit);
                    if indexing == Indexing::Incremental {
                        table.insert(name, value);
                    }
                } else {
                    let (value, next) = read_string(block, pos, value_buf)?;
                    pos = next;
                    if let Some((name, _)) = table::static_entry(index) {
                        list.emit(name, value, emit);
                        if indexing == Indexing::Incremental {
                            table.insert(name, value);
                        }
                    } else {
                        let k = index
                            .checked_sub(STATIC_LEN + 1)
                            .ok_or(HpackError::InvalidIndex(index))?;
                        let (name, _) = table.get(k).ok_or(HpackError::InvalidIndex(index))?;
                        list.emit(name, value, emit);
                        if indexing == Indexing::Incremental {
                            table.insert_with_name_of(k, value)?;
                        }
                    }
                }
            }
            fields_seen = true;
        }
        if list.exceeded {
            Err(HpackError::ListTooLarge)
        } else {
            Ok(())
        }
    }
}

/// The header list size counted so far against its maximum.
struct ListBudget {
    used: usize,
    max: usize,
    exceeded: bool,
}

impl ListBudget {
    /// Counts a field and passes it on, unless the list has gone over its
    /// maximum (this field or an earlier one).
    fn emit(&mut self, name: &[u8], value: &[u8], emit: &mut dyn FnMut(&[u8], &[u8])) {
        self.used = self.used.saturating_add(table::entry_size(name, value));
        if self.used > self.max {
            self.exceeded = true;
        }
        if !self.exceeded {
            emit(name, value);
        }
    }
}

/// The field at HPACK index `index`: 1 to 61 static, then dynamic, newest
/// first. 0 and anything past the dynamic table are errors.
fn lookup(table: &DynamicTable, index: usize) -> Result<(&[u8], &[u8]), HpackError> {
    if let Some(entry) = table::static_entry(index) {
        return Ok(entry);
    }
    index
        .checked_sub(STATIC_LEN + 1)
        .and_then(|k| table.get(k))
        .ok_or(HpackError::InvalidIndex(index))
}

/// Decodes a §5.1 integer with an `prefix_bits`-bit prefix starting at
/// `block[pos]`, returning it and the position after it. Values over
/// `u32::MAX`, or more than 5 continuation bytes (even of zeros), are
/// `IntegerOverflow`: no field of HTTP/2 needs more, and the cap keeps the
/// loop and the arithmetic bounded.
pub(super) fn decode_int(
    block: &[u8],
    pos: usize,
    prefix_bits: u8,
) -> Result<(usize, usize), HpackError> {
    let mask = (1u8 << prefix_bits) - 1;
    let first = *block.get(pos).ok_or(HpackError::Truncated)?;
    let mut pos = pos + 1;
    let mut value = u64::from(first & mask);
    if value < u64::from(mask) {
        return Ok((value as usize, pos));
    }
    for shift in [0, 7, 14, 21, 28] {
        let byte = *block.get(pos).ok_or(HpackError::Truncated)?;
        pos += 1;
        value += u64::from(byte & 0x7f) << shift;
        if value > u64::from(u32::MAX) {
            return Err(HpackError::IntegerOverflow);
        }
        if byte & 0x80 == 0 {
            // Fits: at most u32::MAX, and usize is at least 32 bits here.
            return usize::try_from(value)
                .map(|v| (v, pos))
                .map_err(|_| HpackError::IntegerOverflow);
        }
    }
    Err(HpackError::IntegerOverflow)
}

/// Reads a §5.2 string literal at `block[pos]`: a slice of the block when
/// it is raw, the Huffman decoding in `scratch` when it is not. Returns it
/// and the position after it.
fn read_string<'s>(
    block: &'s [u8],
    pos: usize,
    scratch: &'s mut Vec<u8>,
) -> Result<(&'s [u8], usize), HpackError> {
    let huffman_coded = block.get(pos).ok_or(HpackError::Truncated)? & 0x80 != 0;
    let (len, start) = decode_int(block, pos, 7)?;
    let end = start.checked_add(len).ok_or(HpackError::Truncated)?;
    let raw = block.get(start..end).ok_or(HpackError::Truncated)?;
    if huffman_coded {
        scratch.clear();
        huffman::decode(raw, scratch)?;
        Ok((scratch.as_slice(), end))
    } else {
        Ok((raw, end))
    }
}
