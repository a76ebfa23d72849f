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

/// Why body bytes did not fit the framing the head announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyError {
    /// More bytes than the `Content-Length`: the excess was not sent.
    TooLong,
    /// The body ended this many bytes short of the `Content-Length`.
    TooShort(u64),
}

impl Framing {
    /// Encodes body bytes (and, with `end`, the end of the body, with
    /// `trailers` after a chunked one) into `out`. The one body encoder of
    /// both roles: a body that does not match its `Content-Length` is an
    /// error for the server's responses and the client's requests alike.
    pub(crate) fn encode(
        &mut self,
        out: &mut Vec<u8>,
        data: &[u8],
        end: bool,
        trailers: &[(String, String)],
    ) -> Result<(), BodyError> {
        use crate::http::h1::encode;
        let mut result = Ok(());
        match self {
            Framing::NoBody => {}
            Framing::Length(remaining) => {
                let take = (data.len() as u64).min(*remaining) as usize;
                out.extend_from_slice(&data[..take]);
                *remaining -= take as u64;
                if take < data.len() {
                    result = Err(BodyError::TooLong);
                }
            }
            Framing::Chunked => encode::write_chunk(out, data),
            Framing::Eof => out.extend_from_slice(data),
        }
        if end {
            match *self {
                Framing::Chunked => encode::write_last_chunk(out, trailers),
                Framing::Length(n) if n > 0 => result = Err(BodyError::TooShort(n)),
                _ => {}
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_length_body_takes_what_was_promised_and_reports_the_rest() {
        let mut f = Framing::Length(5);
        let mut out = Vec::new();
        assert_eq!(f.encode(&mut out, b"abc", false, &[]), Ok(()));
        assert_eq!(
            f.encode(&mut out, b"defg", false, &[]),
            Err(BodyError::TooLong)
        );
        assert_eq!(out, b"abcde");
        let mut f = Framing::Length(5);
        assert_eq!(
            f.encode(&mut Vec::new(), b"ab", true, &[]),
            Err(BodyError::TooShort(3))
        );
    }

    #[test]
    fn chunked_bodies_end_with_the_last_chunk_and_trailers() {
        let mut f = Framing::Chunked;
        let mut out = Vec::new();
        f.encode(&mut out, b"hi", false, &[]).unwrap();
        f.encode(&mut out, b"", true, &[("x-t".into(), "1".into())])
            .unwrap();
        assert_eq!(out, b"2\r\nhi\r\n0\r\nx-t: 1\r\n\r\n");
    }

    #[test]
    fn no_body_framing_sends_nothing() {
        let mut out = Vec::new();
        Framing::NoBody
            .encode(&mut out, b"ignored", true, &[])
            .unwrap();
        assert!(out.is_empty());
    }
}
