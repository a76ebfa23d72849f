//! The frame layer of RFC 9113 §4 and §6: the 9-byte header, one parser
//! per frame type with every validity rule of §6 (which mistakes cost the
//! connection and which only the stream), and writers that append frames
//! to a `Vec<u8>`.
//!
//! Parsing borrows the payload: a DATA frame's data and a HEADERS frame's
//! block are slices of the caller's input, never copies.

use super::error::{conn, stream, ErrorCode, H2Error};

/// What a client sends first (RFC 9113 §3.4), before its SETTINGS.
pub(crate) const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Every frame starts with 9 bytes: length (24 bits), type, flags, and a
/// reserved bit plus a 31-bit stream id.
pub(crate) const HEADER_LEN: usize = 9;

/// The initial and smallest SETTINGS_MAX_FRAME_SIZE (§6.5.2).
pub(crate) const DEFAULT_MAX_FRAME_SIZE: u32 = 16_384;
/// The largest SETTINGS_MAX_FRAME_SIZE (§6.5.2): 2^24 - 1.
pub(crate) const MAX_MAX_FRAME_SIZE: u32 = (1 << 24) - 1;
/// The largest stream id, window and window increment: 2^31 - 1.
pub(crate) const MAX_ID: u32 = (1 << 31) - 1;

/// Flag bits (§6): END_STREAM and ACK share bit 0, on different types.
pub(crate) const END_STREAM: u8 = 0x1;
pub(crate) const ACK: u8 = 0x1;
pub(crate) const END_HEADERS: u8 = 0x4;
pub(crate) const PADDED: u8 = 0x8;
pub(crate) const PRIORITY: u8 = 0x20;

/// Frame type numbers (§6).
pub(crate) const TYPE_DATA: u8 = 0x0;
pub(crate) const TYPE_HEADERS: u8 = 0x1;
pub(crate) const TYPE_PRIORITY: u8 = 0x2;
pub(crate) const TYPE_RST_STREAM: u8 = 0x3;
pub(crate) const TYPE_SETTINGS: u8 = 0x4;
pub(crate) const TYPE_PUSH_PROMISE: u8 = 0x5;
pub(crate) const TYPE_PING: u8 = 0x6;
pub(crate) const TYPE_GOAWAY: u8 = 0x7;
pub(crate) const TYPE_WINDOW_UPDATE: u8 = 0x8;
pub(crate) const TYPE_CONTINUATION: u8 = 0x9;

/// The 9-byte frame header, decoded. `kind` stays a number: unknown types
/// must be skipped, not refused (§4.1, §5.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameHeader {
    /// Payload length (24 bits).
    pub(crate) len: u32,
    /// The type byte.
    pub(crate) kind: u8,
    /// The flags byte.
    pub(crate) flags: u8,
    /// The stream id, reserved bit dropped (§4.1: it must be ignored).
    pub(crate) stream: u32,
}

impl FrameHeader {
    /// Decodes the header at the start of `bytes`, or `None` when fewer
    /// than 9 bytes are there.
    pub(crate) fn parse(bytes: &[u8]) -> Option<FrameHeader> {
        let h: &[u8; HEADER_LEN] = bytes.get(..HEADER_LEN)?.try_into().ok()?;
        Some(FrameHeader {
            len: u32::from_be_bytes([0, h[0], h[1], h[2]]),
            kind: h[3],
            flags: h[4],
            stream: u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & MAX_ID,
        })
    }

    fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// A PRIORITY frame's or HEADERS frame's priority fields. RFC 9113
/// deprecates the scheme (§5.3.2): we parse them only to apply the one
/// rule that remains, that a stream cannot depend on itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Priority {
    pub(crate) dependency: u32,
}

/// One parsed frame; slices borrow the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Frame<'a> {
    Data {
        stream: u32,
        /// The data, padding removed.
        data: &'a [u8],
        /// The whole payload length: padding counts against flow control
        /// (§6.1), so this is what the windows lose.
        flow_len: u32,
        end_stream: bool,
    },
    Headers {
        stream: u32,
        block: &'a [u8],
        priority: Option<Priority>,
        end_stream: bool,
        end_headers: bool,
    },
    Priority {
        stream: u32,
        priority: Priority,
    },
    RstStream {
        stream: u32,
        code: ErrorCode,
    },
    Settings {
        ack: bool,
        /// Whole 6-byte entries (checked).
        payload: &'a [u8],
    },
    PushPromise {
        stream: u32,
    },
    Ping {
        ack: bool,
        payload: [u8; 8],
    },
    GoAway {
        last_stream_id: u32,
        code: ErrorCode,
        debug: &'a [u8],
    },
    WindowUpdate {
        stream: u32,
        increment: u32,
    },
    Continuation {
        stream: u32,
        block: &'a [u8],
        end_headers: bool,
    },
    /// A type this implementation does not know: skipped (§5.5).
    Unknown,
}

fn be32(b: &[u8]) -> u32 {
    match b {
        [a, b, c, d, ..] => u32::from_be_bytes([*a, *b, *c, *d]),
        _ => 0,
    }
}

/// Strips the padding of a PADDED frame: the Pad Length byte, then the
/// padding at the end. §6.1: padding as long as the payload or longer is
/// a connection PROTOCOL_ERROR.
fn unpad<'a>(h: &FrameHeader, payload: &'a [u8]) -> Result<&'a [u8], H2Error> {
    if !h.has(PADDED) {
        return Ok(payload);
    }
    let (&pad, rest) = payload.split_first().ok_or(conn(
        ErrorCode::FrameSizeError,
        "padded frame without a pad length",
    ))?;
    rest.len()
        .checked_sub(pad as usize)
        .map(|end| &rest[..end])
        .ok_or(conn(
            ErrorCode::ProtocolError,
            "padding longer than the payload",
        ))
}

fn require_stream(h: &FrameHeader, what: &'static str) -> Result<(), H2Error> {
    if h.stream == 0 {
        return Err(conn(ErrorCode::ProtocolError, what));
    }
    Ok(())
}

fn require_stream_zero(h: &FrameHeader, what: &'static str) -> Result<(), H2Error> {
    if h.stream != 0 {
        return Err(conn(ErrorCode::ProtocolError, what));
    }
    Ok(())
}

/// Parses one frame's payload (exactly `h.len` bytes) with the rules of
/// RFC 9113 §6 that need nothing but the frame itself. Rules that depend
/// on the connection (stream states, windows, CONTINUATION order) are the
/// connection's.
pub(crate) fn parse<'a>(h: &FrameHeader, payload: &'a [u8]) -> Result<Frame<'a>, H2Error> {
    match h.kind {
        TYPE_DATA => {
            require_stream(h, "DATA on stream 0")?;
            let data = unpad(h, payload)?;
            Ok(Frame::Data {
                stream: h.stream,
                data,
                flow_len: h.len,
                end_stream: h.has(END_STREAM),
            })
        }
        TYPE_HEADERS => {
            require_stream(h, "HEADERS on stream 0")?;
            let mut block = unpad(h, payload)?;
            let mut priority = None;
            if h.has(PRIORITY) {
                if block.len() < 5 {
                    return Err(conn(
                        ErrorCode::FrameSizeError,
                        "HEADERS too short for priority",
                    ));
                }
                priority = Some(Priority {
                    dependency: be32(block) & MAX_ID,
                });
                block = &block[5..];
            }
            Ok(Frame::Headers {
                stream: h.stream,
                block,
                priority,
                end_stream: h.has(END_STREAM),
                end_headers: h.has(END_HEADERS),
            })
        }
        TYPE_PRIORITY => {
            require_stream(h, "PRIORITY on stream 0")?;
            if payload.len() != 5 {
                // §6.3: a stream error, the only frame-size mistake that is.
                return Err(stream(
                    h.stream,
                    ErrorCode::FrameSizeError,
                    "PRIORITY length not 5",
                ));
            }
            Ok(Frame::Priority {
                stream: h.stream,
                priority: Priority {
                    dependency: be32(payload) & MAX_ID,
                },
            })
        }
        TYPE_RST_STREAM => {
            require_stream(h, "RST_STREAM on stream 0")?;
            if payload.len() != 4 {
                return Err(conn(ErrorCode::FrameSizeError, "RST_STREAM length not 4"));
            }
            Ok(Frame::RstStream {
                stream: h.stream,
                code: ErrorCode::from_u32(be32(payload)),
            })
        }
        TYPE_SETTINGS => {
            require_stream_zero(h, "SETTINGS on a stream")?;
            let ack = h.has(ACK);
            if ack && !payload.is_empty() {
                return Err(conn(
                    ErrorCode::FrameSizeError,
                    "SETTINGS ack with a payload",
                ));
            }
            if payload.len() % 6 != 0 {
                return Err(conn(
                    ErrorCode::FrameSizeError,
                    "SETTINGS length not a multiple of 6",
                ));
            }
            Ok(Frame::Settings { ack, payload })
        }
        TYPE_PUSH_PROMISE => {
            require_stream(h, "PUSH_PROMISE on stream 0")?;
            Ok(Frame::PushPromise { stream: h.stream })
        }
        TYPE_PING => {
            require_stream_zero(h, "PING on a stream")?;
            let payload: [u8; 8] = payload
                .try_into()
                .map_err(|_| conn(ErrorCode::FrameSizeError, "PING length not 8"))?;
            Ok(Frame::Ping {
                ack: h.has(ACK),
                payload,
            })
        }
        TYPE_GOAWAY => {
            require_stream_zero(h, "GOAWAY on a stream")?;
            if payload.len() < 8 {
                return Err(conn(ErrorCode::FrameSizeError, "GOAWAY shorter than 8"));
            }
            Ok(Frame::GoAway {
                last_stream_id: be32(payload) & MAX_ID,
                code: ErrorCode::from_u32(be32(&payload[4..])),
                debug: &payload[8..],
            })
        }
        TYPE_WINDOW_UPDATE => {
            if payload.len() != 4 {
                return Err(conn(
                    ErrorCode::FrameSizeError,
                    "WINDOW_UPDATE length not 4",
                ));
            }
            let increment = be32(payload) & MAX_ID;
            if increment == 0 {
                // §6.9: on a stream, only that stream is in error.
                return Err(if h.stream == 0 {
                    conn(ErrorCode::ProtocolError, "WINDOW_UPDATE of 0")
                } else {
                    stream(h.stream, ErrorCode::ProtocolError, "WINDOW_UPDATE of 0")
                });
            }
            Ok(Frame::WindowUpdate {
                stream: h.stream,
                increment,
            })
        }
        TYPE_CONTINUATION => {
            require_stream(h, "CONTINUATION on stream 0")?;
            Ok(Frame::Continuation {
                stream: h.stream,
                block: payload,
                end_headers: h.has(END_HEADERS),
            })
        }
        _ => Ok(Frame::Unknown),
    }
}

/// Appends a frame header. `len` must fit 24 bits: every caller passes a
/// length bounded by a max frame size.
pub(crate) fn write_header(out: &mut Vec<u8>, len: usize, kind: u8, flags: u8, stream: u32) {
    let len = (len as u32).min(MAX_MAX_FRAME_SIZE).to_be_bytes();
    out.extend_from_slice(&[len[1], len[2], len[3], kind, flags]);
    out.extend_from_slice(&(stream & MAX_ID).to_be_bytes());
}

/// Appends one DATA frame (`data` no longer than the peer's max frame
/// size: the caller splits).
pub(crate) fn write_data(out: &mut Vec<u8>, stream: u32, data: &[u8], end_stream: bool) {
    let flags = if end_stream { END_STREAM } else { 0 };
    write_header(out, data.len(), TYPE_DATA, flags, stream);
    out.extend_from_slice(data);
}

/// Appends a header block as one HEADERS frame and as many CONTINUATION
/// frames as `max_frame_size` requires (§4.3: the frames of one block are
/// contiguous, which they are here since they are written together).
pub(crate) fn write_header_block(
    out: &mut Vec<u8>,
    stream: u32,
    block: &[u8],
    end_stream: bool,
    max_frame_size: u32,
) {
    let max =
        (max_frame_size.max(DEFAULT_MAX_FRAME_SIZE) as usize).min(MAX_MAX_FRAME_SIZE as usize);
    let mut chunks = block.chunks(max);
    let first = chunks.next().unwrap_or(&[]);
    let mut kind = TYPE_HEADERS;
    let mut flags = if end_stream { END_STREAM } else { 0 };
    let mut current = first;
    loop {
        let next = chunks.next();
        if next.is_none() {
            flags |= END_HEADERS;
        }
        write_header(out, current.len(), kind, flags, stream);
        out.extend_from_slice(current);
        match next {
            Some(chunk) => {
                current = chunk;
                kind = TYPE_CONTINUATION;
                flags = 0;
            }
            None => return,
        }
    }
}

/// Appends RST_STREAM.
pub(crate) fn write_rst_stream(out: &mut Vec<u8>, stream: u32, code: ErrorCode) {
    write_header(out, 4, TYPE_RST_STREAM, 0, stream);
    out.extend_from_slice(&code.to_u32().to_be_bytes());
}

/// Appends an empty SETTINGS with ACK.
pub(crate) fn write_settings_ack(out: &mut Vec<u8>) {
    write_header(out, 0, TYPE_SETTINGS, ACK, 0);
}

/// Appends PING (or its ACK).
pub(crate) fn write_ping(out: &mut Vec<u8>, ack: bool, payload: [u8; 8]) {
    write_header(out, 8, TYPE_PING, if ack { ACK } else { 0 }, 0);
    out.extend_from_slice(&payload);
}

/// Appends GOAWAY. The debug data is cut so the frame fits the smallest
/// max frame size every peer accepts.
pub(crate) fn write_goaway(out: &mut Vec<u8>, last_stream_id: u32, code: ErrorCode, debug: &[u8]) {
    let debug = &debug[..debug.len().min(DEFAULT_MAX_FRAME_SIZE as usize - 8)];
    write_header(out, 8 + debug.len(), TYPE_GOAWAY, 0, 0);
    out.extend_from_slice(&(last_stream_id & MAX_ID).to_be_bytes());
    out.extend_from_slice(&code.to_u32().to_be_bytes());
    out.extend_from_slice(debug);
}

/// Appends WINDOW_UPDATE (`increment` between 1 and 2^31 - 1: callers
/// never ask for more than a window can hold).
pub(crate) fn write_window_update(out: &mut Vec<u8>, stream: u32, increment: u32) {
    write_header(out, 4, TYPE_WINDOW_UPDATE, 0, stream);
    out.extend_from_slice(&(increment & MAX_ID).to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_header(&mut out, payload.len(), kind, flags, stream);
        out.extend_from_slice(payload);
        out
    }

    fn parse_bytes(bytes: &[u8]) -> Result<Frame<'_>, H2Error> {
        let h = FrameHeader::parse(bytes).unwrap();
        parse(&h, &bytes[HEADER_LEN..])
    }

    fn conn_code(r: Result<Frame<'_>, H2Error>) -> ErrorCode {
        match r {
            Err(H2Error::Connection { code, .. }) => code,
            other => panic!("expected a connection error, got {other:?}"),
        }
    }

    fn stream_code(r: Result<Frame<'_>, H2Error>) -> (u32, ErrorCode) {
        match r {
            Err(H2Error::Stream { id, code, .. }) => (id, code),
            other => panic!("expected a stream error, got {other:?}"),
        }
    }

    #[test]
    fn header_round_trips_and_ignores_the_reserved_bit() {
        let mut out = Vec::new();
        write_header(&mut out, 0x12345, TYPE_DATA, 0x9, 7);
        out[5] |= 0x80; // the reserved bit
        let h = FrameHeader::parse(&out).unwrap();
        assert_eq!((h.len, h.kind, h.flags, h.stream), (0x12345, 0, 9, 7));
        assert_eq!(FrameHeader::parse(&out[..8]), None);
    }

    #[test]
    fn data_padding_is_removed_but_counts_for_flow_control() {
        let bytes = frame(TYPE_DATA, PADDED | END_STREAM, 1, b"\x02abcXX");
        assert_eq!(
            parse_bytes(&bytes).unwrap(),
            Frame::Data {
                stream: 1,
                data: b"abc",
                flow_len: 6,
                end_stream: true
            }
        );
        // Padding of the whole rest leaves empty data.
        let bytes = frame(TYPE_DATA, PADDED, 1, b"\x02XX");
        assert!(matches!(
            parse_bytes(&bytes),
            Ok(Frame::Data { data: b"", .. })
        ));
    }

    #[test]
    fn padding_as_long_as_the_payload_is_a_protocol_error() {
        let bytes = frame(TYPE_DATA, PADDED, 1, b"\x03XX");
        assert_eq!(conn_code(parse_bytes(&bytes)), ErrorCode::ProtocolError);
        let bytes = frame(TYPE_HEADERS, PADDED | END_HEADERS, 1, b"\x05ab");
        assert_eq!(conn_code(parse_bytes(&bytes)), ErrorCode::ProtocolError);
        let bytes = frame(TYPE_DATA, PADDED, 1, b"");
        assert_eq!(conn_code(parse_bytes(&bytes)), ErrorCode::FrameSizeError);
    }

    #[test]
    fn stream_bound_frames_on_stream_zero_are_protocol_errors() {
        for kind in [
            TYPE_DATA,
            TYPE_HEADERS,
            TYPE_PRIORITY,
            TYPE_RST_STREAM,
            TYPE_PUSH_PROMISE,
            TYPE_CONTINUATION,
        ] {
            let bytes = frame(kind, 0, 0, &[0; 5]);
            assert_eq!(
                conn_code(parse_bytes(&bytes)),
                ErrorCode::ProtocolError,
                "type {kind}"
            );
        }
    }

    #[test]
    fn connection_frames_on_a_stream_are_protocol_errors() {
        for (kind, len) in [(TYPE_SETTINGS, 0), (TYPE_PING, 8), (TYPE_GOAWAY, 8)] {
            let bytes = frame(kind, 0, 1, &vec![0; len]);
            assert_eq!(
                conn_code(parse_bytes(&bytes)),
                ErrorCode::ProtocolError,
                "type {kind}"
            );
        }
    }

    #[test]
    fn wrong_lengths_are_frame_size_errors() {
        assert_eq!(
            conn_code(parse_bytes(&frame(TYPE_RST_STREAM, 0, 1, &[0; 3]))),
            ErrorCode::FrameSizeError
        );
        assert_eq!(
            conn_code(parse_bytes(&frame(TYPE_PING, 0, 0, &[0; 7]))),
            ErrorCode::FrameSizeError
        );
        assert_eq!(
            conn_code(parse_bytes(&frame(TYPE_PING, 0, 0, &[0; 9]))),
            ErrorCode::FrameSizeError
        );
        assert_eq!(
            conn_code(parse_bytes(&frame(TYPE_GOAWAY, 0, 0, &[0; 7]))),
            ErrorCode::FrameSizeError
        );
        assert_eq!(
            conn_code(parse_bytes(&frame(TYPE_WINDOW_UPDATE, 0, 0, &[0; 5]))),
            ErrorCode::FrameSizeError
        );
        assert_eq!(
            conn_code(parse_bytes(&frame(TYPE_SETTINGS, 0, 0, &[0; 5]))),
            ErrorCode::FrameSizeError
        );
        assert_eq!(
            conn_code(parse_bytes(&frame(TYPE_SETTINGS, ACK, 0, &[0; 6]))),
            ErrorCode::FrameSizeError
        );
        assert_eq!(
            conn_code(parse_bytes(&frame(TYPE_HEADERS, PRIORITY, 1, &[0; 4]))),
            ErrorCode::FrameSizeError
        );
        // PRIORITY of the wrong size is only the stream's problem.
        assert_eq!(
            stream_code(parse_bytes(&frame(TYPE_PRIORITY, 0, 3, &[0; 4]))),
            (3, ErrorCode::FrameSizeError)
        );
    }

    #[test]
    fn window_update_of_zero_is_scoped_to_its_stream() {
        assert_eq!(
            conn_code(parse_bytes(&frame(TYPE_WINDOW_UPDATE, 0, 0, &[0; 4]))),
            ErrorCode::ProtocolError
        );
        assert_eq!(
            stream_code(parse_bytes(&frame(
                TYPE_WINDOW_UPDATE,
                0,
                5,
                &[0x80, 0, 0, 0]
            ))),
            (5, ErrorCode::ProtocolError)
        );
        assert_eq!(
            parse_bytes(&frame(TYPE_WINDOW_UPDATE, 0, 5, &[0x80, 0, 0, 9])).unwrap(),
            Frame::WindowUpdate {
                stream: 5,
                increment: 9
            }
        );
    }

    #[test]
    fn headers_priority_and_goaway_fields() {
        let bytes = frame(
            TYPE_HEADERS,
            PRIORITY | PADDED | END_HEADERS,
            3,
            b"\x01\x80\x00\x00\x03\x10blkP",
        );
        assert_eq!(
            parse_bytes(&bytes).unwrap(),
            Frame::Headers {
                stream: 3,
                block: b"blk",
                priority: Some(Priority { dependency: 3 }),
                end_stream: false,
                end_headers: true
            }
        );
        let bytes = frame(TYPE_GOAWAY, 0, 0, b"\x80\x00\x00\x07\x00\x00\x00\x0bdebug");
        assert_eq!(
            parse_bytes(&bytes).unwrap(),
            Frame::GoAway {
                last_stream_id: 7,
                code: ErrorCode::EnhanceYourCalm,
                debug: b"debug"
            }
        );
        assert_eq!(
            parse_bytes(&frame(0xfa, 0xff, 0, b"anything")).unwrap(),
            Frame::Unknown
        );
    }

    #[test]
    fn header_blocks_are_split_into_continuations() {
        let block = vec![7u8; 40_000];
        let mut out = Vec::new();
        write_header_block(&mut out, 1, &block, true, 16_384);
        let mut pos = 0;
        let mut kinds = Vec::new();
        let mut joined = Vec::new();
        while pos < out.len() {
            let h = FrameHeader::parse(&out[pos..]).unwrap();
            kinds.push((h.kind, h.flags));
            joined.extend_from_slice(&out[pos + 9..pos + 9 + h.len as usize]);
            pos += 9 + h.len as usize;
        }
        assert_eq!(
            kinds,
            [
                (TYPE_HEADERS, END_STREAM),
                (TYPE_CONTINUATION, 0),
                (TYPE_CONTINUATION, END_HEADERS)
            ]
        );
        assert_eq!(joined, block);
        let mut out = Vec::new();
        write_header_block(&mut out, 1, b"", false, 16_384);
        assert_eq!(out, frame(TYPE_HEADERS, END_HEADERS, 1, b""));
    }
}
