//! [`Receiver`]: bytes from the peer in, [`Incoming`] events out.
//!
//! Frames may arrive in any pieces: the header is gathered across reads,
//! payload bytes are unmasked into the receiver's own buffer as they come,
//! text is UTF-8-checked as it comes, and a message is delivered once its
//! last frame is complete. Every rule of RFC 6455 §5 is checked at the
//! first byte that breaks it, with `ws`'s error for it.

use super::close::is_valid_wire_code;
use super::deflate::{Inflater, KEEP_CAPACITY};
use super::error::{self, ProtocolError};
use super::frame::{
    is_control, FIN, MASK, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN, OP_BINARY, OP_CLOSE,
    OP_CONTINUATION, OP_PING, OP_PONG, OP_TEXT, RSV1,
};
use super::mask::apply_mask;
use super::utf8::Utf8Validator;
use super::Role;

/// An event from the peer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Incoming<'a> {
    /// A whole message. Text is already validated UTF-8.
    Message {
        /// The payload (inflated, when the message was compressed).
        data: &'a [u8],
        /// Binary (opcode 2) rather than text (opcode 1).
        binary: bool,
    },
    /// A ping's payload (at most 125 bytes).
    Ping(&'a [u8]),
    /// A pong's payload (at most 125 bytes).
    Pong(&'a [u8]),
    /// A close frame: `code` is `None` when the frame had no body; the
    /// reason is validated UTF-8.
    Close {
        /// The close code, a valid wire code when present.
        code: Option<u16>,
        /// The reason, possibly empty.
        reason: &'a str,
    },
}

/// The caller's answer to an event: go on, or stop here (back-pressure;
/// [`Receiver::receive`] then returns how far it got).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Keep parsing the input.
    Continue,
    /// Return now; the caller hands the rest over later.
    Pause,
}

/// Where the receiver is in the byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Expecting (the rest of) a frame header; `head_len` bytes of it are
    /// gathered in `head`.
    Header,
    /// Inside the payload of `frame`.
    Payload,
    /// A close frame was delivered: everything after it is ignored.
    Closed,
    /// The peer broke the protocol; every later call fails the same way.
    Failed(ProtocolError),
}

/// Whether a data message is in progress (RFC 6455 §5.4: a fragmented
/// message's frames may be interleaved with control frames only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Message {
    /// No data message is open: the next data frame must be text or
    /// binary, not a continuation.
    Idle,
    /// A message is open until a frame with FIN ends it.
    Open {
        /// Opcode 2 rather than 1.
        binary: bool,
        /// RSV1 was set on its first frame (permessage-deflate).
        compressed: bool,
    },
}

/// The frame being read, from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Frame {
    /// The last frame of its message.
    fin: bool,
    /// RSV1: on a message's first frame, "compressed".
    rsv1: bool,
    /// Its opcode (continuation frames keep 0).
    opcode: u8,
    /// The masking key, when masked.
    mask: Option<[u8; 4]>,
    /// Payload bytes not yet read.
    remaining: usize,
    /// Payload bytes already read (the masking key's phase).
    offset: usize,
}

/// What the header check needs to know about the receiver.
#[derive(Debug, Clone, Copy)]
struct Context {
    /// Our role (decides whether frames must be masked).
    role: Role,
    /// permessage-deflate was negotiated (RSV1 allowed on first frames).
    deflate: bool,
    /// Whether a fragmented message is open.
    message: Message,
}

/// The incoming half of a WebSocket connection. See the module docs.
pub(crate) struct Receiver {
    /// Our role.
    role: Role,
    /// The largest message accepted (after inflation), 0 for no limit (as
    /// `ws`'s `maxPayload: 0`).
    max_payload: usize,
    /// The decompressor, when permessage-deflate was negotiated (boxed: a
    /// connection without it keeps 150 bytes less).
    inflater: Option<Box<Inflater>>,
    /// Where we are.
    state: State,
    /// A header cut off at the end of a read.
    head: [u8; MAX_HEADER_LEN],
    /// How many bytes of `head` are in use.
    head_len: usize,
    /// The current frame (meaningful in [`State::Payload`]).
    frame: Frame,
    /// The open data message, if any.
    message: Message,
    /// Payload bytes of the open message so far (frame payloads on the
    /// wire, for `maxPayload` as `ws` counts them).
    wire_len: usize,
    /// The open message's payload so far: unmasked (and inflated). Reused
    /// from message to message.
    data: Vec<u8>,
    /// The current control frame's payload (at most 125 bytes).
    control: Vec<u8>,
    /// Unmasked compressed bytes on their way to the inflater (reused).
    scratch: Vec<u8>,
    /// Checks a text message's UTF-8 as it arrives.
    utf8: Utf8Validator,
}

impl Receiver {
    /// A receiver for `role`; `max_payload` 0 means no limit; `inflater`
    /// when permessage-deflate was negotiated.
    pub(crate) fn new(role: Role, max_payload: usize, inflater: Option<Inflater>) -> Receiver {
        Receiver {
            role,
            max_payload,
            inflater: inflater.map(Box::new),
            state: State::Header,
            head: [0; MAX_HEADER_LEN],
            head_len: 0,
            frame: Frame {
                fin: false,
                rsv1: false,
                opcode: 0,
                mask: None,
                remaining: 0,
                offset: 0,
            },
            message: Message::Idle,
            wire_len: 0,
            data: Vec::new(),
            // Made by the first control frame: an idle connection that
            // never sees one holds nothing for it.
            control: Vec::new(),
            scratch: Vec::new(),
            utf8: Utf8Validator::new(),
        }
    }

    /// Bytes held for a message or frame not yet complete (the tests'
    /// view of memory held).
    #[cfg(test)]
    pub(crate) fn buffered(&self) -> usize {
        self.data.len() + self.control.len() + self.head_len
    }

    /// Consumes `input` (partial frames too), calling `on` for every
    /// complete event. Stops early, returning the bytes consumed so far,
    /// when `on` returns [`Flow::Pause`] (the caller keeps the rest and
    /// hands it over again later). After a close event every further byte
    /// is consumed and ignored. An error is final: the connection must be
    /// failed with its close code.
    pub(crate) fn receive(
        &mut self,
        input: &[u8],
        on: &mut dyn FnMut(Incoming<'_>) -> Flow,
    ) -> Result<usize, ProtocolError> {
        let mut pos = 0;
        loop {
            match self.state {
                State::Closed => return Ok(input.len()),
                State::Failed(e) => return Err(e),
                State::Header => {
                    if pos == input.len() {
                        return Ok(pos);
                    }
                    match self.read_header(&input[pos..]) {
                        Ok(n) => pos += n,
                        Err(e) => return Err(self.fail(e)),
                    }
                }
                State::Payload => {
                    // A frame whose payload is complete (possibly empty) is
                    // finished even when the input is used up.
                    let take = self.frame.remaining.min(input.len() - pos);
                    if take == 0 && self.frame.remaining > 0 {
                        return Ok(pos);
                    }
                    let chunk = &input[pos..pos + take];
                    pos += take;
                    match self.read_payload(chunk, on) {
                        Ok(Flow::Continue) => {}
                        Ok(Flow::Pause) => {
                            return Ok(if self.state == State::Closed {
                                input.len()
                            } else {
                                pos
                            })
                        }
                        Err(e) => return Err(self.fail(e)),
                    }
                }
            }
        }
    }

    /// Records a fatal error and gives it back.
    fn fail(&mut self, e: ProtocolError) -> ProtocolError {
        self.state = State::Failed(e);
        self.data = Vec::new();
        self.scratch = Vec::new();
        e
    }

    /// Reads (more of) a header from `input`; returns the bytes used. On a
    /// complete header the state moves to [`State::Payload`].
    fn read_header(&mut self, input: &[u8]) -> Result<usize, ProtocolError> {
        let ctx = Context {
            role: self.role,
            deflate: self.inflater.is_some(),
            message: self.message,
        };
        let (parsed, used) = if self.head_len == 0 {
            // The usual case: the whole header is in this read.
            match parse_header(input, ctx)? {
                Some((frame, n)) => (Some(frame), n),
                None => {
                    // Cut off (so shorter than a header): keep it.
                    self.head[..input.len()].copy_from_slice(input);
                    self.head_len = input.len();
                    (None, input.len())
                }
            }
        } else {
            let old = self.head_len;
            let take = (MAX_HEADER_LEN - old).min(input.len());
            self.head[old..old + take].copy_from_slice(&input[..take]);
            let head = self.head;
            match parse_header(&head[..old + take], ctx)? {
                Some((frame, n)) => {
                    self.head_len = 0;
                    (Some(frame), n - old)
                }
                None => {
                    self.head_len = old + take;
                    (None, take)
                }
            }
        };
        if let Some(frame) = parsed {
            self.begin_frame(frame)?;
        }
        Ok(used)
    }

    /// Acts on a complete header: opens a message, checks `maxPayload`.
    fn begin_frame(&mut self, frame: Frame) -> Result<(), ProtocolError> {
        match frame.opcode {
            OP_TEXT | OP_BINARY => {
                // parse_header let RSV1 through only where it may be set.
                self.message = Message::Open {
                    binary: frame.opcode == OP_BINARY,
                    compressed: frame.rsv1,
                };
                self.wire_len = 0;
                self.data.clear();
                self.utf8.reset();
            }
            OP_CONTINUATION => {}
            _ => self.control.clear(),
        }
        if !is_control(frame.opcode) && frame.remaining > 0 {
            self.wire_len = self.wire_len.saturating_add(frame.remaining);
            if self.max_payload > 0 && self.wire_len > self.max_payload {
                return Err(error::MAX_PAYLOAD);
            }
        }
        self.frame = frame;
        self.state = State::Payload;
        Ok(())
    }

    /// Takes the next piece of the current frame's payload (`chunk` may be
    /// empty when the payload is complete or empty) and, when the frame is
    /// complete, finishes it: delivers a control frame, or the message when
    /// this was its last frame.
    fn read_payload(
        &mut self,
        chunk: &[u8],
        on: &mut dyn FnMut(Incoming<'_>) -> Flow,
    ) -> Result<Flow, ProtocolError> {
        let frame = self.frame;
        let complete = chunk.len() == frame.remaining;
        if is_control(frame.opcode) {
            append_unmasked(&mut self.control, chunk, frame.mask, frame.offset);
        } else if let Message::Open { binary, compressed } = self.message {
            if !compressed
                && frame.fin
                && complete
                && frame.offset == 0
                && frame.mask.is_none()
                && self.data.is_empty()
            {
                // Fast path (client role): a whole unfragmented message in
                // this read needs no copy at all.
                if !binary && std::str::from_utf8(chunk).is_err() {
                    return Err(error::INVALID_UTF8);
                }
                self.end_frame();
                self.message = Message::Idle;
                return Ok(on(Incoming::Message {
                    data: chunk,
                    binary,
                }));
            }
            let start = self.data.len();
            if compressed {
                self.scratch.clear();
                append_unmasked(&mut self.scratch, chunk, frame.mask, frame.offset);
                if let Some(inflater) = self.inflater.as_mut() {
                    inflater.inflate(&self.scratch, &mut self.data, self.max_payload)?;
                    // A compressed message with no payload bytes at all
                    // (which a conforming sender does not produce: an empty
                    // message compresses to `00`) is taken as empty rather
                    // than feeding the trailer alone, which would leave the
                    // inflater inside a stored block.
                    if frame.fin && complete && self.wire_len > 0 {
                        inflater.finish_message(&mut self.data, self.max_payload)?;
                    }
                }
            } else {
                append_unmasked(&mut self.data, chunk, frame.mask, frame.offset);
            }
            // Fail fast: check each piece as it arrives.
            if !binary && !self.utf8.feed(&self.data[start..]) {
                return Err(error::INVALID_UTF8);
            }
        }
        self.frame.remaining -= chunk.len();
        self.frame.offset += chunk.len();
        if !complete {
            return Ok(Flow::Continue);
        }
        self.end_frame();
        match frame.opcode {
            OP_PING => Ok(on(Incoming::Ping(&self.control))),
            OP_PONG => Ok(on(Incoming::Pong(&self.control))),
            OP_CLOSE => self.deliver_close(on),
            _ if frame.fin => self.deliver_message(on),
            _ => Ok(Flow::Continue),
        }
    }

    /// The current frame is complete: the next bytes are a header.
    fn end_frame(&mut self) {
        self.state = State::Header;
    }

    /// The last frame of a data message is in: checks the text is complete
    /// UTF-8 and delivers the message.
    fn deliver_message(
        &mut self,
        on: &mut dyn FnMut(Incoming<'_>) -> Flow,
    ) -> Result<Flow, ProtocolError> {
        let Message::Open { binary, .. } = self.message else {
            return Ok(Flow::Continue);
        };
        if !binary && !self.utf8.finish() {
            return Err(error::INVALID_UTF8);
        }
        self.message = Message::Idle;
        let flow = on(Incoming::Message {
            data: &self.data,
            binary,
        });
        self.data.clear();
        if self.data.capacity() > KEEP_CAPACITY {
            // One huge message should not pin its memory for the
            // connection's lifetime.
            self.data = Vec::new();
            self.scratch = Vec::new();
        }
        Ok(flow)
    }

    /// A close frame is in: checks its code and reason, delivers it, and
    /// ignores everything after it.
    fn deliver_close(
        &mut self,
        on: &mut dyn FnMut(Incoming<'_>) -> Flow,
    ) -> Result<Flow, ProtocolError> {
        let (code, reason) = match self.control.as_slice() {
            [] => (None, ""),
            [hi, lo, reason @ ..] => {
                let code = u16::from_be_bytes([*hi, *lo]);
                if !is_valid_wire_code(code) {
                    return Err(error::invalid_close_code(code));
                }
                let reason = std::str::from_utf8(reason).map_err(|_| error::INVALID_UTF8)?;
                (Some(code), reason)
            }
            // A 1-byte body was refused with the header.
            [_] => return Err(error::invalid_control_length(1)),
        };
        self.state = State::Closed;
        Ok(on(Incoming::Close { code, reason }))
    }
}

/// Appends `chunk` to `buf` and unmasks the appended bytes, `offset` bytes
/// into the frame's payload.
fn append_unmasked(buf: &mut Vec<u8>, chunk: &[u8], mask: Option<[u8; 4]>, offset: usize) {
    let start = buf.len();
    buf.extend_from_slice(chunk);
    if let Some(key) = mask {
        apply_mask(&mut buf[start..], key, offset);
    }
}

/// Parses a frame header at the start of `buf`: `Ok(None)` when more bytes
/// are needed, else the frame and the header's length. The first two bytes
/// are checked as soon as they are there (in `ws`'s order), so a bad frame
/// fails before the rest of its header arrives.
fn parse_header(buf: &[u8], ctx: Context) -> Result<Option<(Frame, usize)>, ProtocolError> {
    let [b0, b1, ..] = *buf else {
        return Ok(None);
    };
    let fin = b0 & FIN != 0;
    let rsv1 = b0 & RSV1 != 0;
    let opcode = b0 & 0x0f;
    let masked = b1 & MASK != 0;
    let len7 = b1 & 0x7f;
    if b0 & 0x30 != 0 {
        return Err(error::RSV_2_3);
    }
    if rsv1 && !ctx.deflate {
        return Err(error::RSV_1);
    }
    match opcode {
        OP_CONTINUATION => {
            if rsv1 {
                return Err(error::RSV_1);
            }
            if ctx.message == Message::Idle {
                return Err(error::invalid_opcode(opcode));
            }
        }
        OP_TEXT | OP_BINARY => {
            if ctx.message != Message::Idle {
                return Err(error::invalid_opcode(opcode));
            }
        }
        OP_CLOSE | OP_PING | OP_PONG => {
            if !fin {
                return Err(error::EXPECTED_FIN);
            }
            if rsv1 {
                return Err(error::RSV_1);
            }
            if usize::from(len7) > MAX_CONTROL_PAYLOAD || (opcode == OP_CLOSE && len7 == 1) {
                return Err(error::invalid_control_length(u64::from(len7)));
            }
        }
        _ => return Err(error::invalid_opcode(opcode)),
    }
    match (ctx.role, masked) {
        (Role::Server, false) => return Err(error::EXPECTED_MASK),
        (Role::Client, true) => return Err(error::UNEXPECTED_MASK),
        _ => {}
    }
    let len_bytes = match len7 {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let header_len = 2 + len_bytes + if masked { 4 } else { 0 };
    if buf.len() < header_len {
        return Ok(None);
    }
    let len: u64 = match len7 {
        126 => u64::from(u16::from_be_bytes([buf[2], buf[3]])),
        127 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[2..10]);
            u64::from_be_bytes(b)
        }
        n => u64::from(n),
    };
    // ws's numbers are doubles: it refuses lengths past 2^53 - 1 (which
    // covers a set top bit, forbidden by RFC 6455 §5.2).
    if len > (1 << 53) - 1 {
        return Err(error::PAYLOAD_LENGTH_2_53);
    }
    let remaining = usize::try_from(len).map_err(|_| error::PAYLOAD_LENGTH_2_53)?;
    let mask = masked.then(|| {
        let k = 2 + len_bytes;
        [buf[k], buf[k + 1], buf[k + 2], buf[k + 3]]
    });
    Ok(Some((
        Frame {
            fin,
            rsv1,
            opcode,
            mask,
            remaining,
            offset: 0,
        },
        header_len,
    )))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ws::protocol::deflate::DeflateParams;
    use crate::ws::protocol::frame::write_header;

    /// An owned copy of an event, for comparing.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(crate) enum Ev {
        Text(String),
        Binary(Vec<u8>),
        Ping(Vec<u8>),
        Pong(Vec<u8>),
        Close(Option<u16>, String),
    }

    fn own(e: Incoming<'_>) -> Ev {
        match e {
            Incoming::Message { data, binary: true } => Ev::Binary(data.to_vec()),
            Incoming::Message {
                data,
                binary: false,
            } => Ev::Text(String::from_utf8(data.to_vec()).expect("validated text")),
            Incoming::Ping(p) => Ev::Ping(p.to_vec()),
            Incoming::Pong(p) => Ev::Pong(p.to_vec()),
            Incoming::Close { code, reason } => Ev::Close(code, reason.to_string()),
        }
    }

    /// The receiver's verdict on some input: its events and how it ended.
    type Outcome = (Vec<Ev>, Result<(), ProtocolError>);

    /// Feeds `pieces` in turn to a fresh receiver.
    fn feed(role: Role, deflate: Option<DeflateParams>, max: usize, pieces: &[&[u8]]) -> Outcome {
        let inflater = deflate.map(|p| Inflater::new(&p, role));
        let mut r = Receiver::new(role, max, inflater);
        let mut events = Vec::new();
        for piece in pieces {
            let mut on = |e: Incoming<'_>| {
                events.push(own(e));
                Flow::Continue
            };
            match r.receive(piece, &mut on) {
                Ok(n) => assert_eq!(n, piece.len(), "without Pause everything is consumed"),
                Err(e) => return (events, Err(e)),
            }
        }
        (events, Ok(()))
    }

    /// Feeds `input` whole, split at every point, and byte by byte; all
    /// must give the same outcome, which is returned.
    pub(crate) fn check_all(
        role: Role,
        deflate: Option<DeflateParams>,
        max: usize,
        input: &[u8],
    ) -> Outcome {
        let whole = feed(role, deflate, max, &[input]);
        // Every split point (for long inputs, a sample of them).
        let step = if input.len() > 2000 {
            input.len() / 97
        } else {
            1
        };
        for split in (0..=input.len()).step_by(step) {
            let (a, b) = input.split_at(split);
            assert_eq!(feed(role, deflate, max, &[a, b]), whole, "split at {split}");
        }
        if input.len() <= 70_000 {
            let bytes: Vec<&[u8]> = input.chunks(1).collect();
            assert_eq!(feed(role, deflate, max, &bytes), whole, "byte by byte");
        }
        whole
    }

    /// A frame as a client sends it (masked with a fixed key).
    pub(crate) fn masked(first: u8, payload: &[u8]) -> Vec<u8> {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let mut out = Vec::new();
        write_header(&mut out, first, payload.len(), Some(key));
        let start = out.len();
        out.extend_from_slice(payload);
        apply_mask(&mut out[start..], key, 0);
        out
    }

    /// A frame as a server sends it.
    pub(crate) fn plain(first: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_header(&mut out, first, payload.len(), None);
        out.extend_from_slice(payload);
        out
    }

    fn ok(events: Vec<Ev>) -> Outcome {
        (events, Ok(()))
    }

    fn text(s: &str) -> Ev {
        Ev::Text(s.into())
    }

    /// The error code (close code, `ws` code) an input fails with.
    fn fails(role: Role, input: &[u8]) -> (u16, &'static str) {
        let (_, r) = check_all(role, None, 0, input);
        let e = r.expect_err("must fail");
        (e.close_code, e.code)
    }

    #[test]
    fn rfc6455_examples() {
        // §5.7: a single-frame unmasked text message.
        let hello = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        assert_eq!(
            check_all(Role::Client, None, 0, &hello),
            ok(vec![text("Hello")])
        );
        // A single-frame masked text message.
        let masked_hello = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        assert_eq!(
            check_all(Role::Server, None, 0, &masked_hello),
            ok(vec![text("Hello")])
        );
        // A fragmented unmasked text message.
        let fragmented = [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f];
        assert_eq!(
            check_all(Role::Client, None, 0, &fragmented),
            ok(vec![text("Hello")])
        );
        // Unmasked ping, masked pong.
        let ping = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        assert_eq!(
            check_all(Role::Client, None, 0, &ping),
            ok(vec![Ev::Ping(b"Hello".to_vec())])
        );
        let pong = [
            0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        assert_eq!(
            check_all(Role::Server, None, 0, &pong),
            ok(vec![Ev::Pong(b"Hello".to_vec())])
        );
        // 256 bytes and 64 KiB binary messages in one unmasked frame.
        let data: Vec<u8> = (0..65536u32).map(|i| (i * 7) as u8).collect();
        let mut f256 = vec![0x82, 0x7e, 0x01, 0x00];
        f256.extend_from_slice(&data[..256]);
        assert_eq!(
            check_all(Role::Client, None, 0, &f256),
            ok(vec![Ev::Binary(data[..256].to_vec())])
        );
        let mut f64k = vec![0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00];
        f64k.extend_from_slice(&data);
        assert_eq!(
            check_all(Role::Client, None, 0, &f64k),
            ok(vec![Ev::Binary(data.clone())])
        );
        // The same masked, as a server receives them.
        let m = masked(0x82, &data);
        assert_eq!(&m[..10], &[0x82, 0xff, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00]);
        assert_eq!(
            check_all(Role::Server, None, 0, &m),
            ok(vec![Ev::Binary(data)])
        );
    }

    #[test]
    fn a_stream_of_mixed_frames() {
        let mut input = Vec::new();
        input.extend(masked(0x01, "κό".as_bytes()));
        input.extend(masked(0x89, b"p1")); // a ping inside the fragmented message
        input.extend(masked(0x00, "σμ".as_bytes()));
        input.extend(masked(0x80, "ε".as_bytes()));
        input.extend(masked(0x82, b""));
        input.extend(masked(0x81, b""));
        input.extend(masked(0x8a, b""));
        input.extend(masked(0x88, &[0x03, 0xe8, b'b', b'y', b'e']));
        input.extend(b"ignored after close");
        assert_eq!(
            check_all(Role::Server, None, 0, &input),
            ok(vec![
                Ev::Ping(b"p1".to_vec()),
                text("κόσμε"),
                Ev::Binary(vec![]),
                text(""),
                Ev::Pong(vec![]),
                Ev::Close(Some(1000), "bye".into()),
            ])
        );
        // A close with no body.
        assert_eq!(
            check_all(Role::Client, None, 0, &[0x88, 0x00]),
            ok(vec![Ev::Close(None, String::new())])
        );
    }

    #[test]
    fn bad_frames_fail_with_ws_errors() {
        let s = Role::Server;
        let c = Role::Client;
        assert_eq!(
            fails(s, &[0x81, 0x05, b'H', b'e', b'l', b'l', b'o']),
            (1002, "WS_ERR_EXPECTED_MASK")
        );
        assert_eq!(
            fails(c, &masked(0x81, b"Hello")),
            (1002, "WS_ERR_UNEXPECTED_MASK")
        );
        let huge = [0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
        assert_eq!(
            fails(s, &huge),
            (1009, "WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH")
        );
        let past_2_53 = [0x82, 0x7f, 0x00, 0x20, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            fails(c, &past_2_53),
            (1009, "WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH")
        );
        assert_eq!(
            fails(s, &masked(0x80, b"x")),
            (1002, "WS_ERR_INVALID_OPCODE")
        );
        assert_eq!(fails(s, &masked(0x09, b"x")), (1002, "WS_ERR_EXPECTED_FIN"));
        assert_eq!(
            fails(s, &masked(0x89, &[0; 126])),
            (1002, "WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH")
        );
        assert_eq!(
            fails(s, &masked(0x88, &[3])),
            (1002, "WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH")
        );
        assert_eq!(
            fails(s, &masked(0xc1, b"x")),
            (1002, "WS_ERR_UNEXPECTED_RSV_1")
        );
        assert_eq!(
            fails(s, &masked(0xa1, b"x")),
            (1002, "WS_ERR_UNEXPECTED_RSV_2_3")
        );
        assert_eq!(
            fails(s, &masked(0x91, b"x")),
            (1002, "WS_ERR_UNEXPECTED_RSV_2_3")
        );
        for op in [3u8, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf] {
            assert_eq!(
                fails(s, &masked(0x80 | op, b"")),
                (1002, "WS_ERR_INVALID_OPCODE"),
                "{op}"
            );
        }
        // A new data frame while a fragmented message is open.
        let mut two = masked(0x01, b"a");
        two.extend(masked(0x81, b"b"));
        assert_eq!(fails(s, &two), (1002, "WS_ERR_INVALID_OPCODE"));
        for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
            let body = code.to_be_bytes();
            assert_eq!(
                fails(s, &masked(0x88, &body)),
                (1002, "WS_ERR_INVALID_CLOSE_CODE"),
                "{code}"
            );
        }
        assert_eq!(
            fails(s, &masked(0x88, &[0x03, 0xe8, 0xff])),
            (1007, "WS_ERR_INVALID_UTF8")
        );
        assert_eq!(
            fails(s, &masked(0x81, b"\xce\xba\xe1\xbd")),
            (1007, "WS_ERR_INVALID_UTF8")
        );
        let e = check_all(s, None, 0, &masked(0x89, &[0; 126]))
            .1
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Invalid WebSocket frame: invalid payload length 126"
        );
    }

    #[test]
    fn errors_come_at_the_first_bad_byte() {
        // A 126-byte ping fails on its second byte.
        let (_, r) = feed(Role::Server, None, 0, &[&[0x89, 0xfe]]);
        assert_eq!(r.unwrap_err().code, "WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH");
        // Invalid UTF-8 split across fragments fails at the first
        // impossible byte, before the frame holding it is complete.
        let mut input = plain(0x01, b"ok \xf4");
        input.extend(plain(0x80, b"\x90 and a lot more text after it"));
        let bad_at = input.iter().position(|&b| b == 0x90).unwrap();
        let (events, r) = feed(Role::Client, None, 0, &[&input[..=bad_at]]);
        assert!(events.is_empty());
        assert_eq!(r.unwrap_err().close_code, 1007);
        let (_, r) = feed(Role::Client, None, 0, &[&input[..bad_at]]);
        assert!(r.is_ok());
        // The whole input fails the same way fed in any pieces.
        assert_eq!(
            check_all(Role::Client, None, 0, &input)
                .1
                .unwrap_err()
                .close_code,
            1007
        );
        // An error is final.
        let mut r = Receiver::new(Role::Server, 0, None);
        let mut on = |_: Incoming<'_>| Flow::Continue;
        assert!(r.receive(&[0x81, 0x05], &mut on).is_err());
        assert_eq!(
            r.receive(&masked(0x81, b"x"), &mut on).unwrap_err().code,
            "WS_ERR_EXPECTED_MASK"
        );
    }

    #[test]
    fn max_payload() {
        let data = [b'x'; 100];
        assert_eq!(
            check_all(Role::Server, None, 100, &masked(0x82, &data)),
            ok(vec![Ev::Binary(data.to_vec())])
        );
        let (_, r) = check_all(Role::Server, None, 99, &masked(0x82, &data));
        assert_eq!(r.unwrap_err(), error::MAX_PAYLOAD);
        // Across fragments.
        let mut input = masked(0x02, &data[..60]);
        input.extend(masked(0x80, &data[60..]));
        let (_, r) = check_all(Role::Server, None, 99, &input);
        assert_eq!(r.unwrap_err().close_code, 1009);
        // Refused at the header, before any payload arrives.
        let (_, r) = feed(Role::Client, None, 1000, &[&[0x82, 0x7e, 0x10, 0x00]]);
        assert_eq!(r.unwrap_err().close_code, 1009);
    }

    #[test]
    fn pause_stops_delivery_and_returns_bytes_consumed() {
        let mut input = masked(0x81, b"one");
        let first_len = input.len();
        input.extend(masked(0x81, b"two"));
        input.extend(masked(0x89, b""));
        let mut r = Receiver::new(Role::Server, 0, None);
        let mut got = Vec::new();
        let n = r
            .receive(&input, &mut |e| {
                got.push(own(e));
                Flow::Pause
            })
            .unwrap();
        assert_eq!(n, first_len);
        assert_eq!(got, vec![text("one")]);
        let rest = &input[n..];
        let m = r
            .receive(rest, &mut |e| {
                got.push(own(e));
                Flow::Continue
            })
            .unwrap();
        assert_eq!(m, rest.len());
        assert_eq!(got, vec![text("one"), text("two"), Ev::Ping(vec![])]);
    }

    #[test]
    fn buffers_are_reused_across_messages() {
        let mut r = Receiver::new(Role::Server, 0, None);
        let frame = masked(0x82, &[7; 32]);
        let mut on = |_: Incoming<'_>| Flow::Continue;
        r.receive(&frame, &mut on).unwrap();
        let cap = r.data.capacity();
        let ptr = r.data.as_ptr();
        for _ in 0..100 {
            r.receive(&frame, &mut on).unwrap();
        }
        assert_eq!((r.data.capacity(), r.data.as_ptr()), (cap, ptr));
        assert_eq!(r.buffered(), 0);
    }

    #[test]
    fn random_and_mutated_input_never_panics() {
        // xorshift: a fixed, dependency-free stream of pseudo-random bytes.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let params = DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        };
        // A valid stream to mutate: compressed and plain, fragmented,
        // with control frames.
        let mut valid = Vec::new();
        valid.extend([0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
        valid.extend([
            0x41, 0x03, 0xf2, 0x48, 0xcd, 0x89, 0x01, b'p', 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00,
        ]);
        valid.extend(plain(0x82, &[9; 300]));
        valid.extend(plain(0x88, &[0x03, 0xe8, b'o', b'k']));
        for round in 0..3000 {
            let input: Vec<u8> = if round % 2 == 0 {
                let len = (next() % 200) as usize;
                (0..len).map(|_| next() as u8).collect()
            } else {
                let mut v = valid.clone();
                for _ in 0..1 + next() % 4 {
                    let i = (next() as usize) % v.len();
                    v[i] = next() as u8;
                }
                v
            };
            for role in [Role::Server, Role::Client] {
                for deflate in [None, Some(params)] {
                    let mut r =
                        Receiver::new(role, 1 << 16, deflate.map(|p| Inflater::new(&p, role)));
                    let mut pos = 0;
                    while pos < input.len() {
                        let end = (pos + 1 + (next() % 40) as usize).min(input.len());
                        match r.receive(&input[pos..end], &mut |_| Flow::Continue) {
                            Ok(n) => assert_eq!(n, end - pos),
                            Err(e) => {
                                assert!(matches!(e.close_code, 1002 | 1007 | 1009));
                                break;
                            }
                        }
                        pos = end;
                    }
                }
            }
        }
    }
}
