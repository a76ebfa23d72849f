//! Text encodings for `set_encoding`, and a streaming decoder like Node's
//! `StringDecoder`: correct when a multi-byte character is split across
//! chunks.

/// Body encodings a readable stream can be set to (Node's `'utf8'`,
/// `'latin1'`/`'binary'`, `'ascii'`, `'base64'`, `'hex'`).
///
/// ```
/// use nodelike::Encoding;
/// assert_eq!(Encoding::from_name("UTF-8"), Some(Encoding::Utf8));
/// assert_eq!(Encoding::Latin1.name(), "latin1");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// UTF-8; invalid sequences become U+FFFD.
    Utf8,
    /// One char per byte (Node's `'binary'`).
    Latin1,
    /// 7-bit: each byte with its high bit cleared.
    Ascii,
    /// Standard base64 with padding.
    Base64,
    /// Lowercase hexadecimal.
    Hex,
}

impl Encoding {
    /// The encoding Node calls `name` (case-insensitive).
    ///
    /// ```
    /// assert_eq!(nodelike::Encoding::from_name("binary"), Some(nodelike::Encoding::Latin1));
    /// assert_eq!(nodelike::Encoding::from_name("ebcdic"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Encoding> {
        match name.to_ascii_lowercase().as_str() {
            "utf8" | "utf-8" => Some(Encoding::Utf8),
            "latin1" | "binary" => Some(Encoding::Latin1),
            "ascii" => Some(Encoding::Ascii),
            "base64" => Some(Encoding::Base64),
            "hex" => Some(Encoding::Hex),
            _ => None,
        }
    }

    /// Node's name for the encoding.
    ///
    /// ```
    /// assert_eq!(nodelike::Encoding::Utf8.name(), "utf8");
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf8",
            Encoding::Latin1 => "latin1",
            Encoding::Ascii => "ascii",
            Encoding::Base64 => "base64",
            Encoding::Hex => "hex",
        }
    }
}

/// A streaming bytes-to-text decoder (Node's `StringDecoder`). It keeps an
/// incomplete trailing UTF-8 sequence (or base64 group) for the next call.
///
/// ```
/// use nodelike::encoding::StringDecoder;
/// use nodelike::Encoding;
/// let mut d = StringDecoder::new(Encoding::Utf8);
/// let mut out = String::new();
/// d.write(b"caf\xc3", &mut out);
/// assert_eq!(out, "caf");
/// d.write(b"\xa9!", &mut out);
/// assert_eq!(out, "café!");
/// ```
#[derive(Debug, Clone)]
pub struct StringDecoder {
    encoding: Encoding,
    pending: [u8; 4],
    pending_len: usize,
}

impl StringDecoder {
    /// A decoder for `encoding`.
    ///
    /// ```
    /// let d = nodelike::encoding::StringDecoder::new(nodelike::Encoding::Hex);
    /// assert_eq!(d.encoding(), nodelike::Encoding::Hex);
    /// ```
    pub fn new(encoding: Encoding) -> Self {
        StringDecoder {
            encoding,
            pending: [0; 4],
            pending_len: 0,
        }
    }

    /// The encoding decoded.
    ///
    /// ```
    /// let d = nodelike::encoding::StringDecoder::new(nodelike::Encoding::Ascii);
    /// assert_eq!(d.encoding().name(), "ascii");
    /// ```
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// Appends the text for `bytes` to `out`.
    ///
    /// ```
    /// let mut d = nodelike::encoding::StringDecoder::new(nodelike::Encoding::Base64);
    /// let mut out = String::new();
    /// d.write(b"he", &mut out);
    /// d.write(b"llo", &mut out);
    /// d.end(&mut out);
    /// assert_eq!(out, "aGVsbG8=");
    /// ```
    pub fn write(&mut self, bytes: &[u8], out: &mut String) {
        match self.encoding {
            Encoding::Utf8 => self.write_utf8(bytes, out),
            Encoding::Latin1 => out.extend(bytes.iter().map(|&b| b as char)),
            Encoding::Ascii => out.extend(bytes.iter().map(|&b| (b & 0x7f) as char)),
            Encoding::Hex => {
                for &b in bytes {
                    out.push(HEX[(b >> 4) as usize] as char);
                    out.push(HEX[(b & 15) as usize] as char);
                }
            }
            Encoding::Base64 => {
                let mut input = bytes;
                // Complete a group started earlier.
                while self.pending_len > 0 && self.pending_len < 3 && !input.is_empty() {
                    self.pending[self.pending_len] = input[0];
                    self.pending_len += 1;
                    input = &input[1..];
                }
                if self.pending_len == 3 {
                    base64_group(&self.pending[..3], out);
                    self.pending_len = 0;
                }
                let whole = input.len() / 3 * 3;
                for group in input[..whole].chunks(3) {
                    base64_group(group, out);
                }
                for &b in &input[whole..] {
                    self.pending[self.pending_len] = b;
                    self.pending_len += 1;
                }
            }
        }
    }

    /// Flushes what is held at end of stream: an incomplete UTF-8 sequence
    /// becomes U+FFFD; a partial base64 group is padded.
    ///
    /// ```
    /// let mut d = nodelike::encoding::StringDecoder::new(nodelike::Encoding::Utf8);
    /// let mut out = String::new();
    /// d.write(b"\xe2\x82", &mut out);
    /// d.end(&mut out);
    /// assert_eq!(out, "\u{fffd}");
    /// ```
    pub fn end(&mut self, out: &mut String) {
        if self.pending_len == 0 {
            return;
        }
        let held = self.pending;
        let n = std::mem::take(&mut self.pending_len);
        match self.encoding {
            Encoding::Base64 => base64_group(&held[..n], out),
            _ => out.push_str(&String::from_utf8_lossy(&held[..n])),
        }
    }

    /// [`end`](Self::end) into a new string: `None` when nothing was held.
    ///
    /// ```
    /// let mut d = nodelike::encoding::StringDecoder::new(nodelike::Encoding::Utf8);
    /// assert_eq!(d.finish(), None);
    /// d.write(b"\xc3", &mut String::new());
    /// assert_eq!(d.finish().as_deref(), Some("\u{fffd}"));
    /// ```
    pub fn finish(&mut self) -> Option<String> {
        let mut s = String::new();
        self.end(&mut s);
        (!s.is_empty()).then_some(s)
    }

    fn write_utf8(&mut self, mut bytes: &[u8], out: &mut String) {
        // Finish a character held from the previous chunk, byte by byte.
        while self.pending_len > 0 && !bytes.is_empty() {
            self.pending[self.pending_len] = bytes[0];
            self.pending_len += 1;
            bytes = &bytes[1..];
            let held = &self.pending[..self.pending_len];
            match std::str::from_utf8(held) {
                Ok(s) => {
                    out.push_str(s);
                    self.pending_len = 0;
                }
                Err(e) if e.error_len().is_some() => {
                    // Not a valid sequence after all: U+FFFD for the maximal
                    // invalid prefix, then decode the rest afresh.
                    let bad = e.error_len().unwrap_or(1);
                    out.push('\u{fffd}');
                    let rest: Vec<u8> = held[bad..].to_vec();
                    self.pending_len = 0;
                    self.write_utf8(&rest, out);
                }
                Err(_) if self.pending_len == 4 => {
                    out.push('\u{fffd}');
                    self.pending_len = 0;
                }
                Err(_) => {}
            }
        }
        if bytes.is_empty() {
            return;
        }
        match std::str::from_utf8(bytes) {
            Ok(s) => out.push_str(s),
            Err(e) => {
                let valid = e.valid_up_to();
                match e.error_len() {
                    // An incomplete sequence at the end: keep it.
                    None => {
                        out.push_str(std::str::from_utf8(&bytes[..valid]).unwrap_or_default());
                        let tail = &bytes[valid..];
                        self.pending[..tail.len()].copy_from_slice(tail);
                        self.pending_len = tail.len();
                    }
                    Some(bad) => {
                        out.push_str(std::str::from_utf8(&bytes[..valid]).unwrap_or_default());
                        out.push('\u{fffd}');
                        self.write_utf8(&bytes[valid + bad..], out);
                    }
                }
            }
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";
const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_group(g: &[u8], out: &mut String) {
    let b = [
        g.first().copied().unwrap_or(0),
        g.get(1).copied().unwrap_or(0),
        g.get(2).copied().unwrap_or(0),
    ];
    let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
    for i in 0..4 {
        if i <= g.len() {
            out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
        } else {
            out.push('=');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_pieces(enc: Encoding, pieces: &[&[u8]]) -> String {
        let mut d = StringDecoder::new(enc);
        let mut out = String::new();
        for p in pieces {
            d.write(p, &mut out);
        }
        d.end(&mut out);
        out
    }

    #[test]
    fn utf8_split_anywhere_matches_whole_lossy_decoding() {
        let samples: &[&[u8]] = &[
            "héllo wörld €𝄞 done".as_bytes(),
            b"a\x80b\xc3\x28c\xe2\x82\xe2\x82\xacd\xed\xa0\x80e\xf0\x9f\x98",
            b"\xc0\xaf overlong \xf4\x90\x80\x80 too high",
        ];
        for s in samples {
            let want = String::from_utf8_lossy(s).into_owned();
            assert_eq!(decode_pieces(Encoding::Utf8, &[s]), want);
            for split in 0..=s.len() {
                assert_eq!(
                    decode_pieces(Encoding::Utf8, &[&s[..split], &s[split..]]),
                    want,
                    "split {split}"
                );
            }
            let bytes: Vec<&[u8]> = s.chunks(1).collect();
            assert_eq!(
                decode_pieces(Encoding::Utf8, &bytes),
                want,
                "byte at a time"
            );
        }
    }

    #[test]
    fn base64_hex_latin1_ascii() {
        let s = b"any carnal pleasure.";
        for split in 0..=s.len() {
            assert_eq!(
                decode_pieces(Encoding::Base64, &[&s[..split], &s[split..]]),
                "YW55IGNhcm5hbCBwbGVhc3VyZS4="
            );
        }
        assert_eq!(decode_pieces(Encoding::Base64, &[b"ab"]), "YWI=");
        assert_eq!(decode_pieces(Encoding::Hex, &[b"\x00\xff", b"A"]), "00ff41");
        assert_eq!(decode_pieces(Encoding::Latin1, &[b"caf\xe9"]), "café");
        assert_eq!(decode_pieces(Encoding::Ascii, &[b"\xe9a"]), "ia");
    }
}
