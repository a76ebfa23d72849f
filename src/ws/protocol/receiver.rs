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
    /// The decompressor, when permessage-deflate was negotiated.
    inflater: Option<Inflater>,
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
            inflater,
            state: State::Header,
            head: [0; MAX_HEADER_LEN],
            head_len: 0,
            frame: Frame { fin: false, rsv1: false, opcode: 0, mask: None, remaining: 0, offset: 0 },
            message: Message::Idle,
            wire_len: 0,
            data: Vec::new(),
            control: Vec::with_capacity(MAX_CONTROL_PAYLOAD),
            scratch: Vec::new(),
            utf8: Utf8Validator::new(),
        }
    }

    /// Bytes held for a message or frame not yet complete.
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
                            return Ok(if self.state == State::Closed { input.len() } else { pos })
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
                return Ok(on(Incoming::Message { data: chunk, binary }));
            }
            let start = self.data.len();
            if compressed {
                self.scratch.clear();
                append_unmasked(&mut self.scratch, chunk, frame.mask, frame.offset);
                if let Some(inflater) = self.inflater.as_mut() {
                    inflater.inflate(&self.scratch, &mut self.data, self.max_payload)?;
                    if frame.fin && complete {
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
        let flow = on(Incoming::Message { data: &self.data, binary });
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
    Ok(Some((Frame { fin, rsv1, opcode, mask, remaining, offset: 0 }, header_len)))
}
