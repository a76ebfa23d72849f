//! The header block encoder (RFC 7541 §6), and its indexing policy.
//!
//! Policy, per field, in order:
//!
//! 1. Sensitive (the caller says so): literal never indexed (§6.2.3), the
//!    name by index when a table has it. Never indexed also tells any
//!    intermediary not to index it, which is the point for credentials:
//!    a shared compression context is what CRIME-style attacks probe.
//! 2. Name and value in the static table: one index byte.
//! 3. Name and value in the dynamic table: one index (a byte or two).
//! 4. Otherwise a literal, the name by index when a table has it
//!    (the static index first: it never moves), and the value:
//!    - with incremental indexing (§6.2.1) when the entry is at most a
//!      quarter of the table, so that one field cannot flush everything
//!      else, and the name is not one whose values churn;
//!    - without indexing (§6.2.2) otherwise.
//!
//! Churning names are those whose value is new almost every time, so an
//! entry would only push out others: `content-length`, `etag`,
//! `last-modified`, `age`, `set-cookie`, `content-range`,
//! the conditional request headers (`if-modified-since`, `if-none-match`,
//! `if-range`, `if-unmodified-since`), and `:path` values longer than
//! [`SHORT_PATH`] bytes (short paths like `/` or `/api/items` repeat; long
//! ones mostly carry a file name or a query). `date` *is* indexed: it
//! changes once a second, so a server answering more than once a second
//! on a connection sends it as one byte, and one that answers less often
//! pays a 61-byte entry per second, which is nothing.
//!
//! Measured on the `hpack-test-case` corpus (32 stories of browser
//! traffic, 1.16 MB of header lists; `tests/hpack_fixtures.rs`), blocks
//! are 0.308 of the raw size with this policy, 0.354 with `date` not
//! indexed, 0.309 with `location` not indexed (so it is indexed), and
//! nghttp2's encoder makes 0.310.
//!
//! A string is Huffman-coded when that is strictly shorter (§5.2).
//!
//! The table the encoder uses is at most [`MAX_ENCODER_TABLE_SIZE`] bytes
//! whatever the peer allows: a peer advertising a huge
//! SETTINGS_HEADER_TABLE_SIZE must not make us keep a huge table (§4.2
//! lets an encoder use less than the limit).

use super::huffman;
use super::table::{self, DynamicTable, Match, STATIC_LEN};

/// The most the encoder's dynamic table ever holds, in RFC 7541 §4.1
/// bytes: 4096, HTTP/2's default, which every peer's decoder starts with
/// and most keep.
const MAX_ENCODER_TABLE_SIZE: usize = 4096;

/// `:path` values up to this many bytes are indexed; longer ones are not.
const SHORT_PATH: usize = 32;

/// One header field to encode.
///
/// ```
/// use nodelike::http::h2::hpack::Field;
/// let field = Field { name: b"content-type", value: b"text/plain", sensitive: false };
/// assert_eq!(field, Field::new(b"content-type", b"text/plain"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    /// The name, lowercase (HTTP/2 requires it; the caller lowercases).
    pub name: &'a [u8],
    /// The value.
    pub value: &'a [u8],
    /// Send as "never indexed" (§6.2.3): for credentials such as
    /// `authorization` or a cookie the caller marks.
    pub sensitive: bool,
}

impl<'a> Field<'a> {
    /// A field that may be indexed.
    ///
    /// ```
    /// use nodelike::http::h2::hpack::Field;
    /// assert!(!Field::new(b"server", b"nodelike").sensitive);
    /// ```
    pub fn new(name: &'a [u8], value: &'a [u8]) -> Field<'a> {
        Field {
            name,
            value,
            sensitive: false,
        }
    }

    /// A field sent as never indexed (§6.2.3).
    ///
    /// ```
    /// use nodelike::http::h2::hpack::Field;
    /// assert!(Field::never_indexed(b"authorization", b"Bearer x").sensitive);
    /// ```
    pub fn never_indexed(name: &'a [u8], value: &'a [u8]) -> Field<'a> {
        Field {
            name,
            value,
            sensitive: true,
        }
    }
}

/// A Dynamic Table Size Update owed to the peer (§4.2): the smallest size
/// the table went through since the last block, and the size now.
#[derive(Debug, Clone, Copy)]
struct PendingSizeUpdate {
    smallest: usize,
    last: usize,
}

/// Encodes header blocks for one peer: the sending half of HPACK for a
/// connection. It owns the dynamic table the peer's decoder mirrors; see
/// the module docs of [`nodelike::http::h2::hpack`](super) for its policy.
///
/// ```
/// use nodelike::http::h2::hpack::{Decoder, Encoder, Field};
/// let mut encoder = Encoder::new();
/// let head = [
///     Field::new(b":status", b"200"),
///     Field::new(b"content-type", b"text/plain"),
///     Field::new(b"date", b"Thu, 03 Dec 2026 17:00:00 GMT"),
/// ];
/// let mut first = Vec::new();
/// encoder.encode(head, &mut first);
/// let mut again = Vec::new();
/// encoder.encode(head, &mut again);
/// assert_eq!(again.len(), 3); // one index byte per field
///
/// let mut decoder = Decoder::new(4096);
/// for block in [&first, &again] {
///     let mut n = 0;
///     decoder.decode(block, 1 << 14, &mut |_, _| n += 1).unwrap();
///     assert_eq!(n, 3);
/// }
/// ```
#[derive(Debug)]
pub struct Encoder {
    table: DynamicTable,
    pending: Option<PendingSizeUpdate>,
}

impl Default for Encoder {
    /// Same as [`Encoder::new`].
    ///
    /// ```
    /// let _ = nodelike::http::h2::hpack::Encoder::default();
    /// ```
    fn default() -> Encoder {
        Encoder::new()
    }
}

impl Encoder {
    /// An encoder for a peer whose table is 4096 bytes, HTTP/2's initial
    /// value, until [`Encoder::set_max_table_size`] says otherwise.
    ///
    /// ```
    /// let encoder = nodelike::http::h2::hpack::Encoder::new();
    /// # let _ = encoder;
    /// ```
    pub fn new() -> Encoder {
        Encoder {
            table: DynamicTable::new(MAX_ENCODER_TABLE_SIZE),
            pending: None,
        }
    }

    /// Applies the peer's SETTINGS_HEADER_TABLE_SIZE. The table we use is
    /// the smaller of that and 4096; when it changes, entries are evicted
    /// as needed and the next block starts with a Dynamic Table Size
    /// Update (two if the size went down and back up in between, §4.2).
    ///
    /// ```
    /// use nodelike::http::h2::hpack::{Encoder, Field};
    /// let mut encoder = Encoder::new();
    /// encoder.set_max_table_size(0);
    /// let mut out = Vec::new();
    /// encoder.encode([Field::new(b":status", b"200")], &mut out);
    /// assert_eq!(out, [0x20, 0x88]); // size update to 0, then :status 200
    /// ```
    pub fn set_max_table_size(&mut self, n: usize) {
        let size = n.min(MAX_ENCODER_TABLE_SIZE);
        if self.pending.is_none() && size == self.table.capacity() {
            return;
        }
        self.table.set_capacity(size);
        self.pending = Some(match self.pending {
            None => PendingSizeUpdate {
                smallest: size,
                last: size,
            },
            Some(p) => PendingSizeUpdate {
                smallest: p.smallest.min(size),
                last: size,
            },
        });
    }

    /// Encodes one header block and appends it to `out` (never clears
    /// it). Names must be lowercase (the caller lowercases). Once the
    /// table is warm, encoding allocates nothing beyond `out`'s growth.
    ///
    /// ```
    /// use nodelike::http::h2::hpack::{Encoder, Field};
    /// let mut encoder = Encoder::new();
    /// let mut out = vec![0xAA];
    /// encoder.encode([Field::new(b":method", b"GET"), Field::new(b":path", b"/")], &mut out);
    /// assert_eq!(out, [0xAA, 0x82, 0x84]); // appended: static indices 2 and 4
    /// ```
    pub fn encode<'a>(&mut self, fields: impl IntoIterator<Item = Field<'a>>, out: &mut Vec<u8>) {
        if let Some(update) = self.pending.take() {
            if update.smallest < update.last {
                encode_int(update.smallest, 5, 0x20, out);
            }
            encode_int(update.last, 5, 0x20, out);
        }
        for field in fields {
            self.encode_field(field, out);
        }
    }

    fn encode_field(&mut self, field: Field<'_>, out: &mut Vec<u8>) {
        let in_static = table::find_static(field.name, field.value);
        if field.sensitive {
            let name_index = match in_static {
                Match::Full(i) | Match::Name(i) => Some(i),
                Match::None => self.dynamic_name_index(field.name),
            };
            // §6.2.3: 0001xxxx, 4-bit prefix.
            write_literal(0x10, 4, name_index, field, out);
            return;
        }
        if let Match::Full(index) = in_static {
            encode_int(index, 7, 0x80, out);
            return;
        }
        let name_index = match self.table.find(field.name, field.value) {
            Match::Full(k) => {
                encode_int(k + STATIC_LEN + 1, 7, 0x80, out);
                return;
            }
            Match::Name(k) => match in_static {
                Match::Name(i) => Some(i),
                _ => Some(k + STATIC_LEN + 1),
            },
            Match::None => match in_static {
                Match::Name(i) => Some(i),
                _ => None,
            },
        };
        if self.should_index(field) {
            // §6.2.1: 01xxxxxx, 6-bit prefix.
            write_literal(0x40, 6, name_index, field, out);
            self.table.insert(field.name, field.value);
        } else {
            // §6.2.2: 0000xxxx, 4-bit prefix.
            write_literal(0x00, 4, name_index, field, out);
        }
    }

    fn dynamic_name_index(&self, name: &[u8]) -> Option<usize> {
        match self.table.find(name, &[]) {
            Match::Full(k) | Match::Name(k) => Some(k + STATIC_LEN + 1),
            Match::None => None,
        }
    }

    /// The policy of the module docs: small enough, and not churning.
    fn should_index(&self, field: Field<'_>) -> bool {
        if table::entry_size(field.name, field.value) > self.table.capacity() / 4 {
            return false;
        }
        let churns = match field.name {
            b":path" => field.value.len() > SHORT_PATH,
            b"content-length"
            | b"content-range"
            | b"etag"
            | b"last-modified"
            | b"age"
            | b"set-cookie"
            | b"if-modified-since"
            | b"if-none-match"
            | b"if-range"
            | b"if-unmodified-since" => true,
            _ => false,
        };
        !churns
    }
}

/// Writes a literal field: the representation's `flags` and prefix with
/// the name index (0: the name follows as a string), then the value.
fn write_literal(
    flags: u8,
    prefix_bits: u8,
    name_index: Option<usize>,
    field: Field<'_>,
    out: &mut Vec<u8>,
) {
    match name_index {
        Some(index) => encode_int(index, prefix_bits, flags, out),
        None => {
            encode_int(0, prefix_bits, flags, out);
            write_string(field.name, out);
        }
    }
    write_string(field.value, out);
}

/// Writes a §5.2 string literal, Huffman-coded when strictly shorter.
fn write_string(bytes: &[u8], out: &mut Vec<u8>) {
    let huffman_len = huffman::encoded_len(bytes);
    if huffman_len < bytes.len() {
        encode_int(huffman_len, 7, 0x80, out);
        huffman::encode(bytes, out);
    } else {
        encode_int(bytes.len(), 7, 0x00, out);
        out.extend_from_slice(bytes);
    }
}

/// Writes a §5.1 integer with a `prefix_bits`-bit prefix; `flags` holds
/// the representation's bits above the prefix.
pub(super) fn encode_int(value: usize, prefix_bits: u8, flags: u8, out: &mut Vec<u8>) {
    let max_prefix = (1usize << prefix_bits) - 1;
    if value < max_prefix {
        out.push(flags | value as u8);
        return;
    }
    out.push(flags | max_prefix as u8);
    let mut rest = value - max_prefix;
    while rest >= 0x80 {
        out.push((rest & 0x7f) as u8 | 0x80);
        rest >>= 7;
    }
    out.push(rest as u8);
}

#[cfg(test)]
mod tests {
    use super::super::Decoder;
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
        digits
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
            .collect()
    }

    fn encode(encoder: &mut Encoder, list: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        encoder.encode(
            list.iter()
                .map(|&(n, v)| Field::new(n.as_bytes(), v.as_bytes())),
            &mut out,
        );
        out
    }

    fn decode(decoder: &mut Decoder, block: &[u8]) -> Vec<(String, String)> {
        let mut out = Vec::new();
        decoder
            .decode(block, usize::MAX, &mut |n, v| {
                out.push((
                    String::from_utf8_lossy(n).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                ))
            })
            .unwrap();
        out
    }

    fn owned(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|&(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn integers_rfc_7541_c1() {
        let mut out = Vec::new();
        encode_int(10, 5, 0xe0, &mut out);
        assert_eq!(out, [0xea]);
        out.clear();
        encode_int(1337, 5, 0, &mut out);
        assert_eq!(out, [0x1f, 0x9a, 0x0a]);
        out.clear();
        encode_int(31, 5, 0, &mut out);
        assert_eq!(out, [0x1f, 0x00]);
    }

    #[test]
    fn rfc_7541_c4_byte_for_byte() {
        // The RFC's Huffman request examples are exactly what our policy
        // produces: static indices, :authority, cache-control and a
        // custom field indexed, Huffman where shorter.
        let requests: [&[(&str, &str)]; 3] = [
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
        let blocks = [
            "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
            "8286 84be 5886 a8eb 1064 9cbf",
            "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
        ];
        let mut encoder = Encoder::new();
        for (list, block) in requests.iter().zip(blocks) {
            assert_eq!(encode(&mut encoder, list), hex(block));
        }
    }

    #[test]
    fn rfc_7541_c6_responses_round_trip_on_a_256_byte_table() {
        let date_1 = "Mon, 21 Oct 2013 20:13:21 GMT";
        let cookie = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";
        let responses: [&[(&str, &str)]; 3] = [
            &[
                (":status", "302"),
                ("cache-control", "private"),
                ("date", date_1),
                ("location", "https://www.example.com"),
            ],
            &[
                (":status", "307"),
                ("cache-control", "private"),
                ("date", date_1),
                ("location", "https://www.example.com"),
            ],
            &[
                (":status", "200"),
                ("cache-control", "private"),
                ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
                ("location", "https://www.example.com"),
                ("content-encoding", "gzip"),
                ("set-cookie", cookie),
            ],
        ];
        let mut encoder = Encoder::new();
        encoder.set_max_table_size(256);
        let mut decoder = Decoder::new(4096);
        decoder.set_max_table_size(256);
        for (i, list) in responses.iter().enumerate() {
            let block = encode(&mut encoder, list);
            if i == 0 {
                assert_eq!(block[..3], [0x3f, 0xe1, 0x01], "a size update to 256 first");
            }
            assert_eq!(decode(&mut decoder, &block), owned(list));
        }
    }

    #[test]
    fn a_hello_response_is_a_few_bytes_once_warm() {
        let head = [
            (":status", "200"),
            ("content-type", "text/plain; charset=utf-8"),
            ("content-length", "12"),
            ("date", "Thu, 03 Dec 2026 17:00:00 GMT"),
        ];
        let mut encoder = Encoder::new();
        let mut decoder = Decoder::new(4096);
        let first = encode(&mut encoder, &head);
        assert_eq!(decode(&mut decoder, &first), owned(&head));
        let again = encode(&mut encoder, &head);
        // :status, content-type and date one byte each; content-length
        // (not indexed: it churns) is 0f0d, a length and "12".
        assert_eq!(again, [0x88, 0xbf, 0x0f, 0x0d, 0x02, b'1', b'2', 0xbe]);
        assert_eq!(decode(&mut decoder, &again), owned(&head));
    }

    #[test]
    fn sensitive_fields_are_never_indexed() {
        let mut encoder = Encoder::new();
        let mut decoder = Decoder::new(4096);
        for _ in 0..2 {
            let mut out = Vec::new();
            encoder.encode(
                [
                    Field::never_indexed(b"authorization", b"Bearer secret"),
                    Field::never_indexed(b"x-token", b"t"),
                ],
                &mut out,
            );
            // 0001 + static name index 23 (15 + continuation 8).
            assert_eq!(out[..2], [0x1f, 0x08]);
            assert_eq!(decode(&mut decoder, &out).len(), 2);
            assert_eq!(encoder.table.len(), 0);
            assert_eq!(
                decoder.decode(&[0xbe], 1024, &mut |_, _| {}),
                Err(super::super::HpackError::InvalidIndex(62))
            );
        }
        // A sensitive field with a name in the dynamic table names it by index.
        encode(&mut encoder, &[("x-token", "public")]);
        let mut out = Vec::new();
        encoder.encode([Field::never_indexed(b"x-token", b"t")], &mut out);
        assert_eq!(out, [0x1f, 0x2f, 0x01, b't']); // index 62
    }

    #[test]
    fn the_policy_skips_churning_and_large_fields() {
        let mut encoder = Encoder::new();
        let churning = [
            ("content-length", "1234"),
            ("etag", "\"abc\""),
            ("last-modified", "Thu, 03 Dec 2026 17:00:00 GMT"),
            ("set-cookie", "a=b"),
            (":path", "/a/rather/long/path/with/a/file/name.png"),
        ];
        encode(&mut encoder, &churning);
        assert_eq!(encoder.table.len(), 0);
        let large = "x".repeat(1024 - 32 - 5);
        encode(&mut encoder, &[("x-big", &large)]);
        assert_eq!(encoder.table.len(), 1, "exactly a quarter is indexed");
        let larger = "x".repeat(1024 - 32 - 4);
        encode(&mut encoder, &[("x-big", &larger)]);
        assert_eq!(encoder.table.len(), 1, "over a quarter is not");
        encode(&mut encoder, &[(":path", "/api/items"), ("x-custom", "1")]);
        assert_eq!(encoder.table.len(), 3);
        // A new value of an indexed name names the dynamic entry.
        let block = encode(&mut encoder, &[("x-custom", "2")]);
        assert_eq!(block, [0x40 | 62, 0x01, b'2']);
    }

    #[test]
    fn table_size_changes_are_announced() {
        let mut encoder = Encoder::new();
        encode(&mut encoder, &[("x-a", "1")]);
        // Larger than 4096, or unchanged: we keep 4096 and say nothing.
        encoder.set_max_table_size(1 << 20);
        encoder.set_max_table_size(4096);
        assert_eq!(encode(&mut encoder, &[(":method", "GET")]), [0x82]);
        assert_eq!(encoder.table.len(), 1);
        // Down to 0 and back up before the next block: both are said.
        encoder.set_max_table_size(0);
        encoder.set_max_table_size(8192);
        assert_eq!(encoder.table.len(), 0);
        assert_eq!(
            encode(&mut encoder, &[(":method", "GET")]),
            [0x20, 0x3f, 0xe1, 0x1f, 0x82]
        );
        // Only once.
        assert_eq!(encode(&mut encoder, &[(":method", "GET")]), [0x82]);
        // Down to 100: one update.
        encoder.set_max_table_size(100);
        let block = encode(&mut encoder, &[("x-b", "2")]);
        // x-b: 2 (36 bytes) is over a quarter of 100, so it is not indexed.
        assert_eq!(block[..3], [0x3f, 0x45, 0x00]);
        let mut decoder = Decoder::new(4096);
        decoder.set_max_table_size(100);
        assert_eq!(decode(&mut decoder, &block), owned(&[("x-b", "2")]));
    }

    #[test]
    fn huffman_only_when_shorter() {
        let mut out = Vec::new();
        write_string(b"www.example.com", &mut out);
        assert_eq!(out[0], 0x80 | 12);
        out.clear();
        // '&' is 8 bits, '{' 15: Huffman is longer, so raw.
        write_string(b"&{", &mut out);
        assert_eq!(out, [0x02, b'&', b'{']);
    }
}
