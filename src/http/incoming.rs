//! What a server's request and a client's response have in common as
//! incoming messages (Node's `IncomingMessage`, which is both): the body's
//! text decoding (`set_encoding`) and its trailers. Parsing and framing are
//! `h1`'s; when `data`, `end` and `close` fire is each role's own.

use crate::chunk::Chunk;
use crate::encoding::{Encoding, StringDecoder};
use crate::http::h1::{self, Decoder, Headers};

/// A body's text decoder and its trailers, kept in each incoming
/// message's record.
#[derive(Debug, Default)]
pub(crate) struct IncomingBody {
    /// Set by `set_encoding`: `data` then carries text, a character split
    /// across chunks kept until its end arrives.
    decoder: Option<StringDecoder>,
    trailers: Option<Headers>,
    /// The trailer lines as received, names as sent (Node's `rawTrailers`).
    raw_trailers: Vec<(String, String)>,
}

impl IncomingBody {
    /// Makes `data` carry text in `encoding` (Node's `setEncoding`).
    pub(crate) fn set_encoding(&mut self, encoding: Encoding) {
        self.decoder = Some(StringDecoder::new(encoding));
    }

    /// What a `data` event carries for `bytes`: `None` for the bytes as
    /// they are, or the text decoded so far (perhaps empty, when a
    /// character is split).
    pub(crate) fn text_of(&mut self, bytes: &[u8]) -> Option<String> {
        let decoder = self.decoder.as_mut()?;
        let mut text = String::new();
        decoder.write(bytes, &mut text);
        Some(text)
    }

    /// The last characters a decoder held, for a `data` before `end`
    /// (Node's `StringDecoder.end`).
    pub(crate) fn finish_text(&mut self) -> Option<String> {
        self.decoder.as_mut()?.finish()
    }

    /// Keeps the trailers a chunked body ended with.
    pub(crate) fn keep_trailers(&mut self, decoder: &Decoder) {
        self.set_trailers(decoder.trailers());
    }

    /// Keeps trailer fields (a chunked body's, or an HTTP/2 stream's last
    /// HEADERS).
    pub(crate) fn set_trailers<'a>(
        &mut self,
        fields: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
    ) {
        let mut trailers = None;
        self.raw_trailers.clear();
        for (name, value) in fields {
            trailers
                .get_or_insert_with(Headers::new)
                .append_raw(name, value);
            self.raw_trailers.push((
                h1::latin1(name).into_owned(),
                h1::latin1(value).into_owned(),
            ));
        }
        self.trailers = trailers;
    }

    /// The trailers (Node's `trailers`): empty until the body ended.
    pub(crate) fn trailers(&self) -> Headers {
        self.trailers.clone().unwrap_or_default()
    }

    /// The trailer lines as received (Node's `rawTrailers`).
    pub(crate) fn raw_trailers(&self) -> Vec<(String, String)> {
        self.raw_trailers.clone()
    }

    /// Forgets the last message's decoder and trailers (a record reused),
    /// keeping the memory.
    pub(crate) fn reset(&mut self) {
        self.decoder = None;
        self.trailers = None;
        self.raw_trailers.clear();
    }
}

/// The `data` event's chunk: the text `text_of` gave, else the bytes.
/// `None` when there is nothing to emit (a split character held back).
pub(crate) fn data_chunk<'a>(text: &'a Option<String>, bytes: &'a [u8]) -> Option<Chunk<'a>> {
    match text {
        None => Some(Chunk::Bytes(bytes)),
        Some(t) if t.is_empty() => None,
        Some(t) => Some(Chunk::Text(t)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_decoded_across_chunks_and_bytes_pass_as_they_are() {
        let mut body = IncomingBody::default();
        let bytes = body.text_of(b"\xc3");
        assert_eq!(data_chunk(&bytes, b"\xc3"), Some(Chunk::Bytes(b"\xc3")));
        body.set_encoding(Encoding::Utf8);
        let first = body.text_of(b"caf\xc3");
        assert_eq!(data_chunk(&first, b"caf\xc3"), Some(Chunk::Text("caf")));
        let held = body.text_of(b"");
        assert_eq!(data_chunk(&held, b""), None);
        let rest = body.text_of(b"\xa9!");
        assert_eq!(data_chunk(&rest, b"\xa9!"), Some(Chunk::Text("é!")));
        body.reset();
        assert_eq!(body.text_of(b"x"), None);
    }
}
