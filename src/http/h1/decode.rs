//! Message bodies: Content-Length, chunked (extensions and trailers), and
//! close-delimited. The chunked decoder is a state machine with one state
//! per byte-level step, strict about every CRLF.

use std::fmt;

use super::encode::is_token_byte;
use super::parse::{trim_ows, BodyKind};

/// What one [`Decoder::decode`] call produced.
///
/// ```
/// use nodelike::http::h1::{BodyKind, Decoded, Decoder};
/// let mut d = Decoder::new(BodyKind::Length(2));
/// assert_eq!(d.decode(b"hiGET").unwrap(), (2, Decoded::Data(b"hi")));
/// assert_eq!(d.decode(b"GET").unwrap(), (0, Decoded::Done));
/// ```
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// Body bytes (transfer coding removed): a slice of the input.
    Data(&'a [u8]),
    /// All input consumed; nothing to emit yet.
    NeedMore,
    /// The body is complete; the bytes after it belong to the next message.
    Done,
}

/// Why a body was rejected.
///
/// ```
/// use nodelike::http::h1::{BodyKind, DecodeError, Decoder};
/// let mut d = Decoder::new(BodyKind::Chunked);
/// assert_eq!(d.decode(b"zz\r\n"), Err(DecodeError::InvalidChunkSize));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// A chunk-size line that is empty or not hexadecimal, or whitespace
    /// after the size that no `;` follows.
    InvalidChunkSize,
    /// A chunk size that does not fit in 64 bits.
    ChunkSizeOverflow,
    /// A chunk extension that breaks RFC 9112 section 7.1.1's grammar.
    InvalidChunkExtension,
    /// More chunk-extension bytes than allowed.
    ExtensionsTooLong,
    /// Chunk data not followed by exactly CRLF, or a bare CR/LF in framing.
    MissingChunkCrlf,
    /// A malformed trailer field.
    InvalidTrailer,
    /// More trailer bytes than allowed.
    TrailersTooLarge,
}

impl DecodeError {
    /// What was wrong, for people.
    ///
    /// ```
    /// assert_eq!(nodelike::http::h1::DecodeError::ChunkSizeOverflow.reason(), "chunk size overflows");
    /// ```
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::InvalidChunkSize => "invalid chunk size",
            DecodeError::ChunkSizeOverflow => "chunk size overflows",
            DecodeError::InvalidChunkExtension => "invalid chunk extension",
            DecodeError::ExtensionsTooLong => "chunk extensions too long",
            DecodeError::MissingChunkCrlf => "missing CRLF in chunked framing",
            DecodeError::InvalidTrailer => "invalid trailer field",
            DecodeError::TrailersTooLarge => "trailer section too large",
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for DecodeError {}

/// One byte-level step of the chunked decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Hex digits of the chunk size.
    Size,
    /// Whitespace after the size: BWS, so a `;` must follow.
    SizeWs,
    /// After a `;`: BWS, then the extension's name.
    ExtBeforeName,
    /// The extension's name (a token).
    ExtName,
    /// BWS after the name: `=` or the next `;` must follow.
    ExtAfterName,
    /// After `=`: BWS, then a token or a quoted-string.
    ExtBeforeValue,
    /// A token value.
    ExtToken,
    /// Inside a quoted-string value.
    ExtQuoted,
    /// The byte after a backslash in a quoted-string.
    ExtQuotedPair,
    /// Just after a quoted-string's closing quote.
    ExtValueEnd,
    /// BWS after a value: the next `;` must follow.
    ExtAfterValue,
    /// The LF ending the size line.
    SizeLf,
    /// Chunk data; `remaining` bytes to go.
    Data,
    /// The CR after chunk data.
    DataCr,
    /// The LF after chunk data.
    DataLf,
    /// Start of a trailer line (or the final CRLF).
    TrailerStart,
    /// Inside a trailer line.
    Trailer,
    /// The LF ending a trailer line.
    TrailerLf,
    /// The LF of the final empty line.
    EndLf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Length(u64),
    Chunked(Step),
    Eof,
    Done,
}

/// Decodes one message body.
///
/// ```
/// use nodelike::http::h1::{BodyKind, Decoded, Decoder};
/// let mut d = Decoder::new(BodyKind::Chunked);
/// let input = b"5\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\nNEXT";
/// assert_eq!(d.decode(input).unwrap(), (8, Decoded::Data(b"hello")));
/// assert_eq!(d.decode(&input[8..]).unwrap(), (17, Decoded::Done));
/// assert_eq!(d.trailers().collect::<Vec<_>>(), vec![(&b"X-Sum"[..], &b"1"[..])]);
/// ```
#[derive(Debug)]
pub struct Decoder {
    mode: Mode,
    chunk_remaining: u64,
    size_digits: u8,
    extension_bytes: usize,
    /// Trailer lines, each ending in `\n`; empty unless trailers came.
    trailers: Vec<u8>,
    max_trailer_bytes: usize,
    max_extension_bytes: usize,
}

impl Decoder {
    /// A decoder for a body of `kind`, with 16 KiB limits on trailers and
    /// chunk extensions.
    ///
    /// ```
    /// use nodelike::http::h1::{BodyKind, Decoded, Decoder};
    /// let mut d = Decoder::new(BodyKind::Empty);
    /// assert_eq!(d.decode(b"x").unwrap(), (0, Decoded::Done));
    /// ```
    pub fn new(kind: BodyKind) -> Decoder {
        Decoder::with_limits(kind, 16 * 1024, 16 * 1024)
    }

    /// A decoder with limits of your own.
    ///
    /// ```
    /// use nodelike::http::h1::{BodyKind, DecodeError, Decoder};
    /// let mut d = Decoder::with_limits(BodyKind::Chunked, 16, 4);
    /// assert_eq!(d.decode(b"1;abcdef\r\n"), Err(DecodeError::ExtensionsTooLong));
    /// ```
    pub fn with_limits(
        kind: BodyKind,
        max_trailer_bytes: usize,
        max_extension_bytes: usize,
    ) -> Decoder {
        let mut d = Decoder {
            mode: Mode::Done,
            chunk_remaining: 0,
            size_digits: 0,
            extension_bytes: 0,
            trailers: Vec::new(),
            max_trailer_bytes,
            max_extension_bytes,
        };
        d.reset(kind);
        d
    }

    /// Reuses the decoder for another body (keeping its trailer storage).
    ///
    /// ```
    /// use nodelike::http::h1::{BodyKind, Decoder};
    /// let mut d = Decoder::new(BodyKind::Empty);
    /// d.reset(BodyKind::Length(3));
    /// assert!(!d.is_done());
    /// ```
    pub fn reset(&mut self, kind: BodyKind) {
        self.mode = match kind {
            BodyKind::Empty | BodyKind::Length(0) => Mode::Done,
            BodyKind::Length(n) => Mode::Length(n),
            BodyKind::Chunked => Mode::Chunked(Step::Size),
            BodyKind::Eof => Mode::Eof,
        };
        self.chunk_remaining = 0;
        self.size_digits = 0;
        self.extension_bytes = 0;
        self.trailers.clear();
    }

    /// Whether the body is complete.
    ///
    /// ```
    /// use nodelike::http::h1::{BodyKind, Decoder};
    /// let mut d = Decoder::new(BodyKind::Length(1));
    /// d.decode(b"x").unwrap();
    /// d.decode(b"").unwrap();
    /// assert!(d.is_done());
    /// ```
    pub fn is_done(&self) -> bool {
        self.mode == Mode::Done
    }

    /// Whether the connection closing now ends the body cleanly (a
    /// close-delimited body, or a complete one) rather than cutting it short.
    ///
    /// ```
    /// use nodelike::http::h1::{BodyKind, Decoder};
    /// assert!(Decoder::new(BodyKind::Eof).eof_is_clean());
    /// assert!(!Decoder::new(BodyKind::Length(5)).eof_is_clean());
    /// ```
    pub fn eof_is_clean(&self) -> bool {
        matches!(self.mode, Mode::Eof | Mode::Done)
    }

    /// The trailer fields that followed the last chunk, in order.
    ///
    /// ```
    /// use nodelike::http::h1::{BodyKind, Decoder};
    /// let mut d = Decoder::new(BodyKind::Chunked);
    /// d.decode(b"0\r\nA: 1\r\nB:2\r\n\r\n").unwrap();
    /// assert_eq!(d.trailers().count(), 2);
    /// ```
    pub fn trailers(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.trailers
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .filter_map(|line| {
                let colon = line.iter().position(|&b| b == b':')?;
                Some((&line[..colon], trim_ows(&line[colon + 1..])))
            })
    }

    /// Decodes from the start of `input`: returns how many bytes were
    /// consumed and what they produced. Call again with the rest until
    /// [`Decoded::NeedMore`] (then wait for more input) or [`Decoded::Done`].
    ///
    /// ```
    /// use nodelike::http::h1::{BodyKind, Decoded, Decoder};
    /// let mut d = Decoder::new(BodyKind::Chunked);
    /// assert_eq!(d.decode(b"3\r\nab").unwrap(), (5, Decoded::Data(b"ab")));
    /// assert_eq!(d.decode(b"").unwrap(), (0, Decoded::NeedMore));
    /// ```
    pub fn decode<'a>(&mut self, input: &'a [u8]) -> Result<(usize, Decoded<'a>), DecodeError> {
        match self.mode {
            Mode::Done => Ok((0, Decoded::Done)),
            Mode::Eof if input.is_empty() => Ok((0, Decoded::NeedMore)),
            Mode::Eof => Ok((input.len(), Decoded::Data(input))),
            Mode::Length(_) if input.is_empty() => Ok((0, Decoded::NeedMore)),
            Mode::Length(remaining) => {
                let take = remaining.min(input.len() as u64) as usize;
                let left = remaining - take as u64;
                self.mode = if left == 0 {
                    Mode::Done
                } else {
                    Mode::Length(left)
                };
                Ok((take, Decoded::Data(&input[..take])))
            }
            Mode::Chunked(step) => self.decode_chunked(step, input),
        }
    }

    fn decode_chunked<'a>(
        &mut self,
        mut step: Step,
        input: &'a [u8],
    ) -> Result<(usize, Decoded<'a>), DecodeError> {
        let mut i = 0;
        while i < input.len() {
            if matches!(step, Step::ExtName | Step::ExtToken) {
                // A run of tchars leaves these steps as they are: take it
                // whole rather than a byte per turn.
                let start = i;
                while i < input.len() && is_token_byte(input[i]) {
                    i += 1;
                }
                if i > start {
                    self.extension_bytes += i - start;
                    if self.extension_bytes > self.max_extension_bytes {
                        return Err(DecodeError::ExtensionsTooLong);
                    }
                    continue;
                }
            }
            let b = input[i];
            step = match step {
                Step::Size => match hex(b) {
                    Some(v) => {
                        self.size_digits += 1;
                        if self.size_digits > 16 {
                            return Err(DecodeError::ChunkSizeOverflow);
                        }
                        self.chunk_remaining = self
                            .chunk_remaining
                            .checked_mul(16)
                            .and_then(|n| n.checked_add(u64::from(v)))
                            .ok_or(DecodeError::ChunkSizeOverflow)?;
                        Step::Size
                    }
                    None if self.size_digits == 0 => return Err(DecodeError::InvalidChunkSize),
                    None => match b {
                        b' ' | b'\t' => self.count_extension_byte(Step::SizeWs)?,
                        b';' => self.count_extension_byte(Step::ExtBeforeName)?,
                        b'\r' => Step::SizeLf,
                        _ => return Err(DecodeError::InvalidChunkSize),
                    },
                },
                // BWS belongs to a chunk-ext, so it must lead to a `;`:
                // `3 \r\n` is not a chunk-size line (RFC 9112 7.1.1).
                Step::SizeWs => match b {
                    b' ' | b'\t' => self.count_extension_byte(Step::SizeWs)?,
                    b';' => self.count_extension_byte(Step::ExtBeforeName)?,
                    _ => return Err(DecodeError::InvalidChunkSize),
                },
                Step::ExtBeforeName
                | Step::ExtName
                | Step::ExtAfterName
                | Step::ExtBeforeValue
                | Step::ExtToken
                | Step::ExtQuoted
                | Step::ExtQuotedPair
                | Step::ExtValueEnd
                | Step::ExtAfterValue => self.extension(step, b)?,
                Step::SizeLf => match b {
                    b'\n' if self.chunk_remaining == 0 => Step::TrailerStart,
                    b'\n' => Step::Data,
                    _ => return Err(DecodeError::MissingChunkCrlf),
                },
                Step::Data => {
                    let take = self.chunk_remaining.min((input.len() - i) as u64) as usize;
                    self.chunk_remaining -= take as u64;
                    let next = if self.chunk_remaining == 0 {
                        Step::DataCr
                    } else {
                        Step::Data
                    };
                    self.mode = Mode::Chunked(next);
                    return Ok((i + take, Decoded::Data(&input[i..i + take])));
                }
                Step::DataCr => match b {
                    b'\r' => Step::DataLf,
                    _ => return Err(DecodeError::MissingChunkCrlf),
                },
                Step::DataLf => match b {
                    b'\n' => {
                        self.size_digits = 0;
                        Step::Size
                    }
                    _ => return Err(DecodeError::MissingChunkCrlf),
                },
                Step::TrailerStart => match b {
                    b'\r' => Step::EndLf,
                    b' ' | b'\t' | b'\n' => return Err(DecodeError::InvalidTrailer),
                    _ => {
                        self.push_trailer(b)?;
                        Step::Trailer
                    }
                },
                Step::Trailer => match b {
                    b'\r' => Step::TrailerLf,
                    b'\n' => return Err(DecodeError::InvalidTrailer),
                    _ => {
                        self.push_trailer(b)?;
                        Step::Trailer
                    }
                },
                Step::TrailerLf => match b {
                    b'\n' => {
                        self.push_trailer(b'\n')?;
                        Step::TrailerStart
                    }
                    _ => return Err(DecodeError::InvalidTrailer),
                },
                Step::EndLf => match b {
                    b'\n' => {
                        self.validate_trailers()?;
                        self.mode = Mode::Done;
                        return Ok((i + 1, Decoded::Done));
                    }
                    _ => return Err(DecodeError::InvalidTrailer),
                },
            };
            i += 1;
        }
        self.mode = Mode::Chunked(step);
        Ok((input.len(), Decoded::NeedMore))
    }

    /// One byte of the chunk extensions, per RFC 9112 section 7.1.1:
    /// `*( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )`.
    /// BWS may come before or after a `;` or `=` but not before the CR, a
    /// name or value may not be empty, and a token value may not hold
    /// obs-text (only a quoted-string may). Extensions are checked, not
    /// kept: nothing in Node's API exposes them.
    fn extension(&mut self, step: Step, b: u8) -> Result<Step, DecodeError> {
        use Step::*;
        let ws = b == b' ' || b == b'\t';
        let tchar = is_token_byte(b);
        let next = match (step, b) {
            (ExtName | ExtToken | ExtValueEnd, b'\r') => return Ok(SizeLf),
            (ExtBeforeName, _) if ws => ExtBeforeName,
            (ExtBeforeName | ExtName, _) if tchar => ExtName,
            (ExtName | ExtAfterName, _) if ws => ExtAfterName,
            (ExtName | ExtAfterName, b'=') => ExtBeforeValue,
            (ExtName | ExtAfterName | ExtToken | ExtValueEnd | ExtAfterValue, b';') => {
                ExtBeforeName
            }
            (ExtBeforeValue, _) if ws => ExtBeforeValue,
            (ExtBeforeValue | ExtToken, _) if tchar => ExtToken,
            (ExtBeforeValue, b'"') => ExtQuoted,
            (ExtToken | ExtValueEnd | ExtAfterValue, _) if ws => ExtAfterValue,
            // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
            (ExtQuoted, b'"') => ExtValueEnd,
            (ExtQuoted, b'\\') => ExtQuotedPair,
            (ExtQuoted, b'\t' | b' ' | 0x21 | 0x23..=0x5b | 0x5d..=0x7e | 0x80..=0xff) => ExtQuoted,
            // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
            (ExtQuotedPair, b'\t' | b' '..=0x7e | 0x80..=0xff) => ExtQuoted,
            _ => return Err(DecodeError::InvalidChunkExtension),
        };
        self.count_extension_byte(next)
    }

    /// Counts one byte against `max_extension_bytes` (whitespace after the
    /// size included, so a peer cannot stream it for ever) and moves to
    /// `next`.
    fn count_extension_byte(&mut self, next: Step) -> Result<Step, DecodeError> {
        self.extension_bytes += 1;
        if self.extension_bytes > self.max_extension_bytes {
            return Err(DecodeError::ExtensionsTooLong);
        }
        Ok(next)
    }

    fn push_trailer(&mut self, b: u8) -> Result<(), DecodeError> {
        if self.trailers.len() >= self.max_trailer_bytes {
            return Err(DecodeError::TrailersTooLarge);
        }
        self.trailers.push(b);
        Ok(())
    }

    /// Each trailer line must be `token ":" value` with a valid value.
    fn validate_trailers(&self) -> Result<(), DecodeError> {
        for line in self
            .trailers
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
        {
            let colon = line
                .iter()
                .position(|&b| b == b':')
                .ok_or(DecodeError::InvalidTrailer)?;
            let (name, value) = (&line[..colon], &line[colon + 1..]);
            if name.is_empty() || !name.iter().all(|&b| is_token_byte(b)) {
                return Err(DecodeError::InvalidTrailer);
            }
            if !value.iter().all(|&b| b == b'\t' || b >= 0x20 && b != 0x7f) {
                return Err(DecodeError::InvalidTrailer);
            }
        }
        Ok(())
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Body bytes, trailer pairs, and bytes consumed.
    type Outcome = (Vec<u8>, Vec<(Vec<u8>, Vec<u8>)>, usize);

    /// Decodes `input` fed as the given pieces, the way a connection does:
    /// unconsumed bytes are kept and prepended to the next piece.
    fn run(kind: BodyKind, pieces: &[&[u8]]) -> Result<Outcome, DecodeError> {
        let mut d = Decoder::new(kind);
        let mut body = Vec::new();
        let mut held: Vec<u8> = Vec::new();
        let mut total_consumed = 0;
        for piece in pieces {
            held.extend_from_slice(piece);
            let mut pos = 0;
            loop {
                let (n, out) = d.decode(&held[pos..])?;
                pos += n;
                total_consumed += n;
                match out {
                    Decoded::Data(b) => body.extend_from_slice(b),
                    Decoded::NeedMore => break,
                    Decoded::Done => {
                        let t = d
                            .trailers()
                            .map(|(a, b)| (a.to_vec(), b.to_vec()))
                            .collect();
                        return Ok((body, t, total_consumed));
                    }
                }
            }
            held.drain(..pos);
        }
        panic!("the test input ended before the body did")
    }

    fn all_ways(kind: BodyKind, msg: &[u8]) -> Result<Outcome, DecodeError> {
        let whole = run(kind, &[msg]);
        for split in 0..=msg.len() {
            assert_eq!(
                run(kind, &[&msg[..split], &msg[split..]]),
                whole,
                "split at {split}"
            );
        }
        let bytes: Vec<&[u8]> = msg.chunks(1).collect();
        assert_eq!(run(kind, &bytes), whole, "byte at a time");
        whole
    }

    #[test]
    fn valid_bodies_decode_the_same_every_way() {
        let (b, t, n) = all_ways(
            BodyKind::Chunked,
            b"5\r\nhello\r\n6;a=b;c\r\n world\r\n0\r\n\r\nGET",
        )
        .unwrap();
        assert_eq!((b.as_slice(), t.len(), n), (&b"hello world"[..], 0, 32));
        let (b, t, _) = all_ways(
            BodyKind::Chunked,
            b"A \t; x=\"y z\"\r\n0123456789\r\n0\r\nX-A: 1\r\nX-B:two  \r\n\r\n",
        )
        .unwrap();
        assert_eq!(b, b"0123456789");
        assert_eq!(
            t,
            vec![
                (b"X-A".to_vec(), b"1".to_vec()),
                (b"X-B".to_vec(), b"two".to_vec())
            ]
        );
        let (b, _, n) = all_ways(BodyKind::Length(5), b"helloGET /").unwrap();
        assert_eq!((b.as_slice(), n), (&b"hello"[..], 5));
        let (b, _, _) = all_ways(BodyKind::Chunked, b"000\r\n\r\n").unwrap();
        assert!(b.is_empty());
        // Chunk extensions in every shape RFC 9112 section 7.1.1 allows:
        // `*( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )`.
        let extensions: &[&[u8]] = &[
            b"3;name\r\nabc\r\n0\r\n\r\n",
            b"3;name=value\r\nabc\r\n0\r\n\r\n",
            b"3;name=\"quoted value\"\r\nabc\r\n0\r\n\r\n",
            b"3 ;name=v\r\nabc\r\n0\r\n\r\n",
            b"3;a=b;c=d\r\nabc\r\n0\r\n\r\n",
            b"3 \t; \ta \t= \tb \t; c\r\nabc\r\n0\r\n\r\n",
            b"3;a=b ;c ;d=\"e\" ;f\r\nabc\r\n0\r\n\r\n",
            b"3;a=\"\"\r\nabc\r\n0\r\n\r\n",
            b"3;a=\"q\\\"uo\\\\te;=\tcaf\xe9\"\r\nabc\r\n0\r\n\r\n",
            b"3;!#$%&'*+-.^_`|~09AZaz=!#$%&'*+-.^_`|~09AZaz\r\nabc\r\n0\r\n\r\n",
            b"3;a=\"b\";c=\"d\"\r\nabc\r\n0;last=\"yes\"\r\n\r\n",
        ];
        for msg in extensions {
            let (b, t, n) = all_ways(BodyKind::Chunked, msg)
                .unwrap_or_else(|e| panic!("{e} for {:?}", String::from_utf8_lossy(msg)));
            assert_eq!((b.as_slice(), t.len(), n), (&b"abc"[..], 0, msg.len()));
        }
    }

    #[test]
    fn malformed_chunked_bodies_are_rejected_every_way() {
        use DecodeError::*;
        let ext = format!("1;{}\r\na\r\n0\r\n\r\n", "e".repeat(20 * 1024));
        let trailer = format!("0\r\nX: {}\r\n\r\n", "t".repeat(20 * 1024));
        let cases: Vec<(&[u8], DecodeError)> = vec![
            (b"\r\nhello\r\n0\r\n\r\n", InvalidChunkSize),
            (b"g\r\n", InvalidChunkSize),
            (b"-1\r\n", InvalidChunkSize),
            (b"0x5\r\n", InvalidChunkSize),
            (b"11111111111111111\r\n", ChunkSizeOverflow),
            (b"ffffffffffffffffff\r\n", ChunkSizeOverflow),
            (b"5\r\nhelloX\r\n0\r\n\r\n", MissingChunkCrlf),
            (b"5\r\nhello0\r\n\r\n", MissingChunkCrlf),
            (b"5\nhello\r\n0\r\n\r\n", InvalidChunkSize),
            (b"5\r\rhello", MissingChunkCrlf),
            (b"5;a\x00b\r\nhello\r\n", InvalidChunkExtension),
            (b"5;a\nb\r\nhello\r\n", InvalidChunkExtension),
            // BWS is only allowed before ";": not between size and CRLF.
            (b"3 \r\nabc\r\n0\r\n\r\n", InvalidChunkSize),
            (b"3\t\r\nabc\r\n0\r\n\r\n", InvalidChunkSize),
            (b"3 x\r\nabc\r\n0\r\n\r\n", InvalidChunkSize),
            // Extensions that break RFC 9112 section 7.1.1's grammar.
            (b"3;\r\nabc\r\n0\r\n\r\n", InvalidChunkExtension),
            (b"3; \r\nabc\r\n0\r\n\r\n", InvalidChunkExtension),
            (b"3;;a\r\nabc\r\n0\r\n\r\n", InvalidChunkExtension),
            (b"3;=v\r\nabc\r\n0\r\n\r\n", InvalidChunkExtension),
            (b"3;e=\r\nabc\r\n0\r\n\r\n", InvalidChunkExtension),
            (b"3;e=\t\r\nabc\r\n0\r\n\r\n", InvalidChunkExtension),
            (b"3;e= \r\nabc\r\n0\r\n\r\n", InvalidChunkExtension),
            (b"3;e=;f\r\nabc\r\n0\r\n\r\n", InvalidChunkExtension),
            (b"3;a \r\nabc\r\n0\r\n\r\n", InvalidChunkExtension),
            (b"3;a b\r\nabc\r\n0\r\n\r\n", InvalidChunkExtension),
            (b"3;a=b \r\nabc\r\n0\r\n\r\n", InvalidChunkExtension),
            (b"3;a=b c\r\nabc\r\n0\r\n\r\n", InvalidChunkExtension),
            (b"3;a@b\r\nabc\r\n0\r\n\r\n", InvalidChunkExtension),
            (b"3;a=b@c\r\nabc\r\n0\r\n\r\n", InvalidChunkExtension),
            (b"3;a=\xff\r\nabc\r\n0\r\n\r\n", InvalidChunkExtension),
            (b"3;\xff\r\nabc\r\n0\r\n\r\n", InvalidChunkExtension),
            (b"3;a=b\"c\"\r\nabc\r\n0\r\n\r\n", InvalidChunkExtension),
            (b"3;a=\"b\"c\r\nabc\r\n0\r\n\r\n", InvalidChunkExtension),
            (b"3;a=\"b\" \r\nabc\r\n0\r\n\r\n", InvalidChunkExtension),
            (b"3;a=\"b\r\nabc\r\n0\r\n\r\n", InvalidChunkExtension),
            (b"3;a=\"b\x7f\"\r\nabc\r\n0\r\n\r\n", InvalidChunkExtension),
            (
                b"3;a=\"b\\\r\n\"\r\nabc\r\n0\r\n\r\n",
                InvalidChunkExtension,
            ),
            (b"0;\r\n\r\n", InvalidChunkExtension),
            (ext.as_bytes(), ExtensionsTooLong),
            (trailer.as_bytes(), TrailersTooLarge),
            (b"0\r\nBad Name: x\r\n\r\n", InvalidTrailer),
            (b"0\r\nNoColon\r\n\r\n", InvalidTrailer),
            (b"0\r\n folded: x\r\n\r\n", InvalidTrailer),
            (b"0\r\nX: a\nY: b\r\n\r\n", InvalidTrailer),
            (b"0\r\n\rX", InvalidTrailer),
        ];
        for (msg, want) in cases {
            assert_eq!(
                all_ways(BodyKind::Chunked, msg).map(|_| ()),
                Err(want),
                "{:?}",
                String::from_utf8_lossy(&msg[..msg.len().min(40)])
            );
        }
    }

    #[test]
    fn eof_bodies_take_everything_and_are_clean_at_close() {
        let mut d = Decoder::new(BodyKind::Eof);
        assert_eq!(d.decode(b"abc").unwrap(), (3, Decoded::Data(b"abc")));
        assert!(d.eof_is_clean());
        let mut d = Decoder::new(BodyKind::Length(4));
        d.decode(b"ab").unwrap();
        assert!(!d.eof_is_clean());
    }
}
