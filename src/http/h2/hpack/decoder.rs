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
    /// update in its next block; that is not enforced, since the eviction
    /// already keeps the table within our limit); a larger one only allows
    /// the peer to grow its table with a size update.
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
    let mut value = u64::from(first & mask);
    if value < u64::from(mask) {
        return Ok((value as usize, pos + 1));
    }
    let continuation = block.get(pos + 1..).unwrap_or_default();
    for (i, &byte) in continuation.iter().take(5).enumerate() {
        value += u64::from(byte & 0x7f) << (7 * i);
        if value > u64::from(u32::MAX) {
            return Err(HpackError::IntegerOverflow);
        }
        if byte & 0x80 == 0 {
            // At most u32::MAX, and usize is at least 32 bits here.
            let value = usize::try_from(value).map_err(|_| HpackError::IntegerOverflow)?;
            return Ok((value, pos + 2 + i));
        }
    }
    if continuation.len() < 5 {
        Err(HpackError::Truncated)
    } else {
        Err(HpackError::IntegerOverflow)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
        digits
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
            .collect()
    }

    type Fields = Vec<(String, String)>;

    fn fields(list: &[(&str, &str)]) -> Fields {
        list.iter()
            .map(|&(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn decode(decoder: &mut Decoder, block: &[u8]) -> Result<Fields, HpackError> {
        let mut out = Vec::new();
        decoder
            .decode(block, usize::MAX, &mut |n, v| {
                out.push((
                    String::from_utf8(n.to_vec()).unwrap(),
                    String::from_utf8(v.to_vec()).unwrap(),
                ))
            })
            .map(|()| out)
    }

    /// The dynamic table as (name, value, size), newest first, as the RFC
    /// prints it.
    fn table_of(decoder: &Decoder) -> Vec<(String, String, usize)> {
        (0..decoder.table.len())
            .map(|k| {
                let (n, v) = decoder.table.get(k).unwrap();
                let (n, v) = (
                    String::from_utf8(n.to_vec()).unwrap(),
                    String::from_utf8(v.to_vec()).unwrap(),
                );
                let size = n.len() + v.len() + 32;
                (n, v, size)
            })
            .collect()
    }

    fn rows(list: &[(&str, &str, usize)]) -> Vec<(String, String, usize)> {
        list.iter()
            .map(|&(n, v, s)| (n.to_string(), v.to_string(), s))
            .collect()
    }

    #[test]
    fn integers_rfc_7541_c1_and_edges() {
        // C.1.1: 10 in a 5-bit prefix; C.1.2: 1337 in 5 bits; C.1.3: 42 in 8 bits (7 here + flag 0).
        assert_eq!(decode_int(&[0x0a], 0, 5), Ok((10, 1)));
        assert_eq!(decode_int(&[0x1f, 0x9a, 0x0a], 0, 5), Ok((1337, 3)));
        assert_eq!(
            decode_int(&[0xe0 | 0x0a], 0, 5),
            Ok((10, 1)),
            "bits above the prefix are ignored"
        );
        assert_eq!(decode_int(&[0x2a], 0, 7), Ok((42, 1)));
        // The prefix's maximum itself needs a continuation byte of 0.
        assert_eq!(decode_int(&[0x1f, 0x00], 0, 5), Ok((31, 2)));
        assert_eq!(decode_int(&[0x1f], 0, 5), Err(HpackError::Truncated));
        assert_eq!(decode_int(&[0x1f, 0x80], 0, 5), Err(HpackError::Truncated));
        assert_eq!(decode_int(&[], 0, 5), Err(HpackError::Truncated));
        // u32::MAX fits (5 continuation bytes); one more does not.
        let mut max = Vec::new();
        super::super::encoder::encode_int(u32::MAX as usize, 5, 0, &mut max);
        assert_eq!(max.len(), 6);
        assert_eq!(decode_int(&max, 0, 5), Ok((u32::MAX as usize, 6)));
        let mut over = Vec::new();
        super::super::encoder::encode_int(u32::MAX as usize + 1, 5, 0, &mut over);
        assert_eq!(decode_int(&over, 0, 5), Err(HpackError::IntegerOverflow));
        // Five continuation bytes of zeros are fine, six are not.
        assert_eq!(
            decode_int(&[0x1f, 0x80, 0x80, 0x80, 0x80, 0x00], 0, 5),
            Ok((31, 6))
        );
        assert_eq!(
            decode_int(&[0x1f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00], 0, 5),
            Err(HpackError::IntegerOverflow)
        );
        // Every prefix size round-trips every boundary value.
        for prefix in 1..=7u8 {
            for value in [
                0usize,
                1,
                (1 << prefix) - 2,
                (1 << prefix) - 1,
                1 << prefix,
                127,
                128,
                16_383,
                16_384,
                1 << 21,
                u32::MAX as usize,
            ] {
                let mut out = vec![0xAA];
                super::super::encoder::encode_int(value, prefix, 0, &mut out);
                assert_eq!(
                    decode_int(&out, 1, prefix),
                    Ok((value, out.len())),
                    "{value} in {prefix} bits"
                );
            }
        }
    }

    #[test]
    fn rfc_7541_c2_one_representation_each() {
        // C.2.1 literal with indexing.
        let mut decoder = Decoder::new(4096);
        let block = hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572");
        assert_eq!(
            decode(&mut decoder, &block),
            Ok(fields(&[("custom-key", "custom-header")]))
        );
        assert_eq!(
            table_of(&decoder),
            rows(&[("custom-key", "custom-header", 55)])
        );
        assert_eq!(decoder.table.size(), 55);
        // C.2.2 literal without indexing.
        let mut decoder = Decoder::new(4096);
        let block = hex("040c 2f73 616d 706c 652f 7061 7468");
        assert_eq!(
            decode(&mut decoder, &block),
            Ok(fields(&[(":path", "/sample/path")]))
        );
        assert_eq!(table_of(&decoder), []);
        // C.2.3 literal never indexed.
        let mut decoder = Decoder::new(4096);
        let block = hex("1008 7061 7373 776f 7264 0673 6563 7265 74");
        assert_eq!(
            decode(&mut decoder, &block),
            Ok(fields(&[("password", "secret")]))
        );
        assert_eq!(table_of(&decoder), []);
        // C.2.4 indexed.
        let mut decoder = Decoder::new(4096);
        assert_eq!(
            decode(&mut decoder, &hex("82")),
            Ok(fields(&[(":method", "GET")]))
        );
        assert_eq!(table_of(&decoder), []);
    }

    const REQUESTS: [&[(&str, &str)]; 3] = [
        &[
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            (":authority", "www.example.com"),
        ],
        &[
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            (":authority", "www.example.com"),
            ("cache-control", "no-cache"),
        ],
        &[
            (":method", "GET"),
            (":scheme", "https"),
            (":path", "/index.html"),
            (":authority", "www.example.com"),
            ("custom-key", "custom-value"),
        ],
    ];
    const REQUEST_TABLES: [&[(&str, &str, usize)]; 3] = [
        &[(":authority", "www.example.com", 57)],
        &[
            ("cache-control", "no-cache", 53),
            (":authority", "www.example.com", 57),
        ],
        &[
            ("custom-key", "custom-value", 54),
            ("cache-control", "no-cache", 53),
            (":authority", "www.example.com", 57),
        ],
    ];
    const C3: [&str; 3] = [
        "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
        "8286 84be 5808 6e6f 2d63 6163 6865",
        "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
    ];
    const C4: [&str; 3] = [
        "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
        "8286 84be 5886 a8eb 1064 9cbf",
        "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
    ];

    const DATE_1: &str = "Mon, 21 Oct 2013 20:13:21 GMT";
    const DATE_2: &str = "Mon, 21 Oct 2013 20:13:22 GMT";
    const COOKIE: &str = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";
    const URL: &str = "https://www.example.com";
    const RESPONSES: [&[(&str, &str)]; 3] = [
        &[
            (":status", "302"),
            ("cache-control", "private"),
            ("date", DATE_1),
            ("location", URL),
        ],
        &[
            (":status", "307"),
            ("cache-control", "private"),
            ("date", DATE_1),
            ("location", URL),
        ],
        &[
            (":status", "200"),
            ("cache-control", "private"),
            ("date", DATE_2),
            ("location", URL),
            ("content-encoding", "gzip"),
            ("set-cookie", COOKIE),
        ],
    ];
    const RESPONSE_TABLES: [&[(&str, &str, usize)]; 3] = [
        &[
            ("location", URL, 63),
            ("date", DATE_1, 65),
            ("cache-control", "private", 52),
            (":status", "302", 42),
        ],
        &[
            (":status", "307", 42),
            ("location", URL, 63),
            ("date", DATE_1, 65),
            ("cache-control", "private", 52),
        ],
        &[
            ("set-cookie", COOKIE, 98),
            ("content-encoding", "gzip", 52),
            ("date", DATE_2, 65),
        ],
    ];
    const C5: [&str; 3] = [
        "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 \
         3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
        "4803 3330 37c1 c0bf",
        "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 \
         7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 \
         6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31",
    ];
    const C6: [&str; 3] = [
        "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad \
         1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
        "4883 640e ffc1 c0bf",
        "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 \
         e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
    ];

    fn run_chain(
        table_size: usize,
        blocks: &[&str; 3],
        lists: &[&[(&str, &str)]; 3],
        tables: &[&[(&str, &str, usize)]; 3],
    ) {
        let mut decoder = Decoder::new(table_size);
        for i in 0..3 {
            assert_eq!(
                decode(&mut decoder, &hex(blocks[i])),
                Ok(fields(lists[i])),
                "block {i}"
            );
            let want = rows(tables[i]);
            assert_eq!(table_of(&decoder), want, "table after block {i}");
            assert_eq!(
                decoder.table.size(),
                want.iter().map(|r| r.2).sum::<usize>()
            );
        }
    }

    #[test]
    fn rfc_7541_c3_requests_without_huffman() {
        run_chain(4096, &C3, &REQUESTS, &REQUEST_TABLES);
    }

    #[test]
    fn rfc_7541_c4_requests_with_huffman() {
        run_chain(4096, &C4, &REQUESTS, &REQUEST_TABLES);
    }

    #[test]
    fn rfc_7541_c5_responses_without_huffman_and_eviction() {
        run_chain(256, &C5, &RESPONSES, &RESPONSE_TABLES);
    }

    #[test]
    fn rfc_7541_c6_responses_with_huffman_and_eviction() {
        run_chain(256, &C6, &RESPONSES, &RESPONSE_TABLES);
    }

    #[test]
    fn plain_and_huffman_blocks_share_one_decoder() {
        // The plain and the Huffman chain alternate on one table: C.3.1
        // then C.4.2 (which names C.3.1's entry), and so on.
        let mut decoder = Decoder::new(4096);
        assert_eq!(decode(&mut decoder, &hex(C3[0])), Ok(fields(REQUESTS[0])));
        assert_eq!(decode(&mut decoder, &hex(C4[1])), Ok(fields(REQUESTS[1])));
        assert_eq!(decode(&mut decoder, &hex(C3[2])), Ok(fields(REQUESTS[2])));
        assert_eq!(table_of(&decoder), rows(REQUEST_TABLES[2]));
    }

    #[test]
    fn each_error() {
        let d = || Decoder::new(4096);
        let cases: [(&str, HpackError); 14] = [
            ("80", HpackError::InvalidIndex(0)),
            ("be", HpackError::InvalidIndex(62)),
            (
                "ff80 80 80 80 0f",
                HpackError::InvalidIndex(127 + (15 << 28)),
            ),
            ("7e 01 61", HpackError::InvalidIndex(62)), // literal naming a dynamic entry that is not there
            ("0f 2f 01 61", HpackError::InvalidIndex(62)), // the same, without indexing
            ("41", HpackError::Truncated),
            ("400a 6375", HpackError::Truncated),
            ("4001 61", HpackError::Truncated),
            ("ffff ffff ffff 0f", HpackError::IntegerOverflow),
            ("0081 18 00", HpackError::InvalidHuffman), // name: 'a' padded with zeros
            ("4181 ff", HpackError::InvalidHuffman),    // value: eight bits of padding
            ("3fe21f", HpackError::TableSizeUpdateTooLarge), // 4097
            ("8220", HpackError::TableSizeUpdateNotAtStart),
            ("7f80 80 80 80 80 00", HpackError::IntegerOverflow),
        ];
        for (block, want) in cases {
            assert_eq!(decode(&mut d(), &hex(block)), Err(want), "{block}");
        }
        // Every error has a message.
        for (_, error) in cases {
            assert!(error.to_string().starts_with("HPACK: "));
        }
    }

    #[test]
    fn size_updates_at_the_start_are_applied() {
        let mut decoder = Decoder::new(4096);
        decode(&mut decoder, &hex(C3[0])).unwrap();
        assert_eq!(decoder.table.len(), 1);
        // Two updates (down to 0, back to 4096: exactly the limit), then a field.
        assert_eq!(
            decode(&mut decoder, &hex("20 3fe11f 82")),
            Ok(fields(&[(":method", "GET")]))
        );
        assert_eq!(decoder.table.len(), 0);
        assert_eq!(decoder.table.capacity(), 4096);
        // A block of nothing but an update is fine too, and so is an empty one.
        assert_eq!(decode(&mut decoder, &hex("3f e1 01")), Ok(Vec::new()));
        assert_eq!(decoder.table.capacity(), 256);
        assert_eq!(decode(&mut decoder, &[]), Ok(Vec::new()));
    }

    #[test]
    fn a_lower_limit_evicts_at_once_and_bounds_updates() {
        let mut decoder = Decoder::new(4096);
        decode(&mut decoder, &hex(C3[0])).unwrap();
        decode(&mut decoder, &hex(C3[1])).unwrap();
        assert_eq!(decoder.table.size(), 110);
        decoder.set_max_table_size(60);
        assert_eq!(
            table_of(&decoder),
            rows(&[("cache-control", "no-cache", 53)])
        );
        assert_eq!(decode(&mut decoder, &hex("3f1d")), Ok(Vec::new())); // 60
        assert_eq!(
            decode(&mut decoder, &hex("3f1e")),
            Err(HpackError::TableSizeUpdateTooLarge)
        );
        // Raising the limit lets the peer grow its table, but does not grow it.
        decoder.set_max_table_size(8192);
        assert_eq!(decoder.table.capacity(), 60);
        assert_eq!(decode(&mut decoder, &hex("3fe13f")), Ok(Vec::new())); // 8192
        assert_eq!(decoder.table.capacity(), 8192);
    }

    #[test]
    fn a_list_too_large_is_decoded_to_the_end_and_keeps_the_table() {
        let mut decoder = Decoder::new(4096);
        let block = hex(C3[0]);
        // The list is 4 fields: 42 + 43 + 38 + 57 = 180 bytes.
        let mut emitted = Vec::new();
        let result = decoder.decode(&block, 100, &mut |n, _| emitted.push(n.to_vec()));
        assert_eq!(result, Err(HpackError::ListTooLarge));
        assert_eq!(emitted, [b":method".to_vec(), b":scheme".to_vec()]);
        // :authority was still added: the next block names it.
        assert_eq!(decode(&mut decoder, &hex(C3[1])), Ok(fields(REQUESTS[1])));
        assert_eq!(decoder.decode(&block, 180, &mut |_, _| {}), Ok(()));
        // A later compression error wins over the list size.
        assert_eq!(
            decoder.decode(&hex("8280"), 10, &mut |_, _| {}),
            Err(HpackError::InvalidIndex(0))
        );
    }

    #[test]
    fn an_hpack_bomb_is_stopped_by_the_list_size() {
        let mut decoder = Decoder::new(4096);
        // One 4000-byte entry, then a block naming it 16 000 times: 64 MB
        // of header list from 16 kB of block.
        let mut block = vec![0x40, 0x01, b'x'];
        super::super::encoder::encode_int(4000, 7, 0, &mut block);
        block.extend_from_slice(&[b'v'; 4000]);
        decoder.decode(&block, usize::MAX, &mut |_, _| {}).unwrap();
        let bomb = vec![0xbe; 16_000];
        let mut emitted = 0usize;
        let result = decoder.decode(&bomb, 16 * 1024, &mut |_, v| emitted += v.len());
        assert_eq!(result, Err(HpackError::ListTooLarge));
        assert_eq!(emitted, 4 * 4000);
    }

    /// A tiny xorshift generator: the same "random" blocks every run.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    #[test]
    fn malformed_blocks_only_ever_return_errors() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let mut decoder = Decoder::new(4096);
        let valid: Vec<Vec<u8>> = C3
            .iter()
            .chain(&C4)
            .chain(&C5)
            .chain(&C6)
            .map(|b| hex(b))
            .collect();
        // Every truncation and every single-bit flip of every RFC block.
        for block in &valid {
            for end in 0..=block.len() {
                let _ = decoder.decode(&block[..end], 4096, &mut |_, _| {});
            }
            for bit in 0..block.len() * 8 {
                let mut flipped = block.clone();
                flipped[bit / 8] ^= 1 << (bit % 8);
                let _ = decoder.decode(&flipped, 4096, &mut |_, _| {});
            }
        }
        // Random blocks, biased towards the interesting first bits, on
        // decoders of random table sizes (0 included).
        for round in 0..50_000 {
            if round % 1000 == 0 {
                decoder = Decoder::new((rng.next() % 5000) as usize * (round % 3000 / 1000));
            }
            let len = (rng.next() % 48) as usize;
            let block: Vec<u8> = (0..len)
                .map(|_| match rng.next() % 8 {
                    0 => 0xff,
                    1 => 0x80 | (rng.next() % 70) as u8,
                    2 => 0x40 | (rng.next() % 64) as u8,
                    3 => (rng.next() % 0x20) as u8,
                    _ => rng.next() as u8,
                })
                .collect();
            let mut seen = 0usize;
            let _ = decoder.decode(&block, (rng.next() % 8192) as usize, &mut |n, v| {
                seen += n.len() + v.len()
            });
        }
    }
}
