//! The frame header (RFC 6455 §5.2): opcodes, and writing a header.
//!
//! ```text
//!  0               1               2               3
//!  FIN RSV1-3 opcode | MASK len7 | [len16 | len64] | [masking key]
//! ```
//! Reading headers is the [`Receiver`](super::Receiver)'s job, which checks
//! the first two bytes before the rest arrives.

/// A continuation of a fragmented data message.
pub(crate) const OP_CONTINUATION: u8 = 0x0;
/// A text data frame.
pub(crate) const OP_TEXT: u8 = 0x1;
/// A binary data frame.
pub(crate) const OP_BINARY: u8 = 0x2;
/// A close control frame.
pub(crate) const OP_CLOSE: u8 = 0x8;
/// A ping control frame.
pub(crate) const OP_PING: u8 = 0x9;
/// A pong control frame.
pub(crate) const OP_PONG: u8 = 0xA;

/// FIN bit of the first byte: the last frame of a message.
pub(crate) const FIN: u8 = 0x80;
/// RSV1 bit of the first byte: "compressed" under permessage-deflate.
pub(crate) const RSV1: u8 = 0x40;
/// MASK bit of the second byte.
pub(crate) const MASK: u8 = 0x80;

/// The longest possible header: 2 + 8 (64-bit length) + 4 (masking key).
pub(crate) const MAX_HEADER_LEN: usize = 14;

/// The largest control frame payload (RFC 6455 §5.5).
pub(crate) const MAX_CONTROL_PAYLOAD: usize = 125;

/// Appends a frame header for a `len`-byte payload. `first` is FIN, RSV1
/// and the opcode, already combined; `mask` is the masking key (client
/// frames) or `None` (server frames).
pub(crate) fn write_header(out: &mut Vec<u8>, first: u8, len: usize, mask: Option<[u8; 4]>) {
    let mask_bit = if mask.is_some() { MASK } else { 0 };
    // The shortest length encoding is required (RFC 6455 §5.2).
    if len <= 125 {
        out.extend_from_slice(&[first, mask_bit | len as u8]);
    } else if let Ok(len16) = u16::try_from(len) {
        let l = len16.to_be_bytes();
        out.extend_from_slice(&[first, mask_bit | 126, l[0], l[1]]);
    } else {
        out.extend_from_slice(&[first, mask_bit | 127]);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    if let Some(key) = mask {
        out.extend_from_slice(&key);
    }
}

/// Whether an opcode is a control frame's (close, ping, pong and the
/// reserved 0xB-0xF).
pub(crate) fn is_control(opcode: u8) -> bool {
    opcode & 0x8 != 0
}
