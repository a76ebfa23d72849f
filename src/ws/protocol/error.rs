//! [`ProtocolError`]: why the peer's bytes were refused, with the close code
//! to send and the `ws` package's error code and text.

use std::fmt;

/// A violation of RFC 6455 / RFC 7692 by the peer (or a limit of ours, such
/// as `maxPayload`): the connection must be failed with `close_code`.
///
/// `code` and the text are the `ws` package's (`WS_ERR_*`), so that a
/// program ported from Node sees the same `err.code` and `err.message`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProtocolError {
    /// The close code to send (1002 protocol error, 1007 invalid data,
    /// 1009 too big).
    pub(crate) close_code: u16,
    /// The `ws` package's error code, e.g. `"WS_ERR_INVALID_OPCODE"`.
    pub(crate) code: &'static str,
    /// The message without its number, e.g. `"Invalid WebSocket frame:
    /// invalid opcode"`; [`Display`](fmt::Display) appends `detail`.
    pub(crate) message: &'static str,
    /// The number `ws` puts at the end of some messages (the opcode, the
    /// payload length, the close code), when there is one.
    pub(crate) detail: Option<u64>,
}

impl ProtocolError {
    /// An error whose text has no number in it.
    pub(crate) const fn new(close_code: u16, code: &'static str, message: &'static str) -> Self {
        ProtocolError {
            close_code,
            code,
            message,
            detail: None,
        }
    }

    /// An error whose text ends in a number (`"invalid opcode 3"`).
    pub(crate) const fn with_detail(
        close_code: u16,
        code: &'static str,
        message: &'static str,
        detail: u64,
    ) -> Self {
        ProtocolError {
            close_code,
            code,
            message,
            detail: Some(detail),
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.detail {
            Some(n) => write!(f, "{} {}", self.message, n),
            None => f.write_str(self.message),
        }
    }
}

impl fmt::Debug for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ProtocolError({}, {}: {})",
            self.close_code, self.code, self
        )
    }
}

impl std::error::Error for ProtocolError {}

/// RSV2 or RSV3 set: no extension we know of uses them.
pub(crate) const RSV_2_3: ProtocolError = ProtocolError::new(
    1002,
    "WS_ERR_UNEXPECTED_RSV_2_3",
    "Invalid WebSocket frame: RSV2 and RSV3 must be clear",
);
/// RSV1 set without permessage-deflate, on a control frame or on a
/// continuation frame.
pub(crate) const RSV_1: ProtocolError = ProtocolError::new(
    1002,
    "WS_ERR_UNEXPECTED_RSV_1",
    "Invalid WebSocket frame: RSV1 must be clear",
);
/// A fragmented control frame.
pub(crate) const EXPECTED_FIN: ProtocolError = ProtocolError::new(
    1002,
    "WS_ERR_EXPECTED_FIN",
    "Invalid WebSocket frame: FIN must be set",
);
/// A server received an unmasked frame.
pub(crate) const EXPECTED_MASK: ProtocolError = ProtocolError::new(
    1002,
    "WS_ERR_EXPECTED_MASK",
    "Invalid WebSocket frame: MASK must be set",
);
/// A client received a masked frame.
pub(crate) const UNEXPECTED_MASK: ProtocolError = ProtocolError::new(
    1002,
    "WS_ERR_UNEXPECTED_MASK",
    "Invalid WebSocket frame: MASK must be clear",
);
/// A 64-bit length with its top bit set or above 2^53 - 1 (what `ws`, whose
/// numbers are doubles, can represent).
pub(crate) const PAYLOAD_LENGTH_2_53: ProtocolError = ProtocolError::new(
    1009,
    "WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH",
    "Unsupported WebSocket frame: payload length > 2^53 - 1",
);
/// The message (all fragments, after inflation) is over `maxPayload`.
pub(crate) const MAX_PAYLOAD: ProtocolError = ProtocolError::new(
    1009,
    "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH",
    "Max payload size exceeded",
);
/// A text message or close reason that is not UTF-8.
pub(crate) const INVALID_UTF8: ProtocolError = ProtocolError::new(
    1007,
    "WS_ERR_INVALID_UTF8",
    "Invalid WebSocket frame: invalid UTF-8 sequence",
);
/// The compressed payload is not valid raw DEFLATE data. `ws` passes zlib's
/// own error on (its `code` is zlib's, `Z_DATA_ERROR`) with close code 1007.
pub(crate) const INVALID_DEFLATE: ProtocolError =
    ProtocolError::new(1007, "Z_DATA_ERROR", "invalid compressed data");

/// A reserved opcode, a continuation with nothing to continue, or a new data
/// frame while a fragmented message is open.
pub(crate) fn invalid_opcode(opcode: u8) -> ProtocolError {
    ProtocolError::with_detail(
        1002,
        "WS_ERR_INVALID_OPCODE",
        "Invalid WebSocket frame: invalid opcode",
        u64::from(opcode),
    )
}

/// A control frame over 125 bytes, or a close frame with a 1-byte body.
pub(crate) fn invalid_control_length(len: u64) -> ProtocolError {
    ProtocolError::with_detail(
        1002,
        "WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH",
        "Invalid WebSocket frame: invalid payload length",
        len,
    )
}

/// A close code that may not appear on the wire.
pub(crate) fn invalid_close_code(code: u16) -> ProtocolError {
    ProtocolError::with_detail(
        1002,
        "WS_ERR_INVALID_CLOSE_CODE",
        "Invalid WebSocket frame: invalid status code",
        u64::from(code),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_matches_ws() {
        assert_eq!(
            invalid_opcode(3).to_string(),
            "Invalid WebSocket frame: invalid opcode 3"
        );
        assert_eq!(MAX_PAYLOAD.to_string(), "Max payload size exceeded");
        assert_eq!(
            invalid_close_code(1005).to_string(),
            "Invalid WebSocket frame: invalid status code 1005"
        );
    }
}
