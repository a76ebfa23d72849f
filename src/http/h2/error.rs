//! [`ErrorCode`] (RFC 9113 §7) and [`H2Error`]: what went wrong, and
//! whether it costs one stream or the whole connection (§5.4).

use std::fmt;

/// An HTTP/2 error code, as carried by RST_STREAM and GOAWAY (RFC 9113
/// §7). Codes we do not know are kept as [`ErrorCode::Unknown`]: §7 says
/// they must not trigger special behaviour, so they are reported as is.
///
/// ```
/// use nodelike::http::h2::ErrorCode;
/// assert_eq!(ErrorCode::from_u32(1), ErrorCode::ProtocolError);
/// assert_eq!(ErrorCode::ProtocolError.to_string(), "PROTOCOL_ERROR");
/// assert_eq!(ErrorCode::from_u32(0xff).to_u32(), 0xff);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 0x0: graceful shutdown, or a stream no longer needed.
    NoError,
    /// 0x1: the peer broke the protocol.
    ProtocolError,
    /// 0x2: something went wrong on our side.
    InternalError,
    /// 0x3: flow-control limits broken.
    FlowControlError,
    /// 0x4: a SETTINGS frame was not acknowledged in time.
    SettingsTimeout,
    /// 0x5: a frame arrived after the stream was half-closed.
    StreamClosed,
    /// 0x6: a frame of the wrong size.
    FrameSizeError,
    /// 0x7: the stream was refused before any processing.
    RefusedStream,
    /// 0x8: the stream is no longer needed.
    Cancel,
    /// 0x9: the header compression context cannot be kept.
    CompressionError,
    /// 0xa: the CONNECT tunnel was reset or closed.
    ConnectError,
    /// 0xb: the peer is generating excessive load.
    EnhanceYourCalm,
    /// 0xc: the transport's security does not meet the minimum.
    InadequateSecurity,
    /// 0xd: HTTP/1.1 is required instead.
    Http11Required,
    /// A code this implementation does not know.
    Unknown(u32),
}

impl ErrorCode {
    /// The code for a number off the wire.
    ///
    /// ```
    /// use nodelike::http::h2::ErrorCode;
    /// assert_eq!(ErrorCode::from_u32(0xb), ErrorCode::EnhanceYourCalm);
    /// assert_eq!(ErrorCode::from_u32(99), ErrorCode::Unknown(99));
    /// ```
    pub fn from_u32(n: u32) -> ErrorCode {
        match n {
            0x0 => ErrorCode::NoError,
            0x1 => ErrorCode::ProtocolError,
            0x2 => ErrorCode::InternalError,
            0x3 => ErrorCode::FlowControlError,
            0x4 => ErrorCode::SettingsTimeout,
            0x5 => ErrorCode::StreamClosed,
            0x6 => ErrorCode::FrameSizeError,
            0x7 => ErrorCode::RefusedStream,
            0x8 => ErrorCode::Cancel,
            0x9 => ErrorCode::CompressionError,
            0xa => ErrorCode::ConnectError,
            0xb => ErrorCode::EnhanceYourCalm,
            0xc => ErrorCode::InadequateSecurity,
            0xd => ErrorCode::Http11Required,
            other => ErrorCode::Unknown(other),
        }
    }

    /// The number that goes on the wire.
    ///
    /// ```
    /// assert_eq!(nodelike::http::h2::ErrorCode::Cancel.to_u32(), 8);
    /// ```
    pub fn to_u32(self) -> u32 {
        match self {
            ErrorCode::NoError => 0x0,
            ErrorCode::ProtocolError => 0x1,
            ErrorCode::InternalError => 0x2,
            ErrorCode::FlowControlError => 0x3,
            ErrorCode::SettingsTimeout => 0x4,
            ErrorCode::StreamClosed => 0x5,
            ErrorCode::FrameSizeError => 0x6,
            ErrorCode::RefusedStream => 0x7,
            ErrorCode::Cancel => 0x8,
            ErrorCode::CompressionError => 0x9,
            ErrorCode::ConnectError => 0xa,
            ErrorCode::EnhanceYourCalm => 0xb,
            ErrorCode::InadequateSecurity => 0xc,
            ErrorCode::Http11Required => 0xd,
            ErrorCode::Unknown(n) => n,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            ErrorCode::NoError => "NO_ERROR",
            ErrorCode::ProtocolError => "PROTOCOL_ERROR",
            ErrorCode::InternalError => "INTERNAL_ERROR",
            ErrorCode::FlowControlError => "FLOW_CONTROL_ERROR",
            ErrorCode::SettingsTimeout => "SETTINGS_TIMEOUT",
            ErrorCode::StreamClosed => "STREAM_CLOSED",
            ErrorCode::FrameSizeError => "FRAME_SIZE_ERROR",
            ErrorCode::RefusedStream => "REFUSED_STREAM",
            ErrorCode::Cancel => "CANCEL",
            ErrorCode::CompressionError => "COMPRESSION_ERROR",
            ErrorCode::ConnectError => "CONNECT_ERROR",
            ErrorCode::EnhanceYourCalm => "ENHANCE_YOUR_CALM",
            ErrorCode::InadequateSecurity => "INADEQUATE_SECURITY",
            ErrorCode::Http11Required => "HTTP_1_1_REQUIRED",
            ErrorCode::Unknown(n) => return write!(f, "UNKNOWN_ERROR(0x{n:x})"),
        };
        f.write_str(name)
    }
}

/// An HTTP/2 error: a connection error ends the connection (GOAWAY), a
/// stream error ends one stream (RST_STREAM) and the rest go on (§5.4).
///
/// [`Connection::poll`](super::Connection::poll) returns only connection
/// errors (it handles stream errors itself and reports them as
/// [`Event::Reset`](super::Event::Reset)); the `send_*` calls return stream
/// errors for a misuse that concerns one stream (sending on a closed one).
///
/// ```
/// use nodelike::http::h2::{ErrorCode, H2Error};
/// let e = H2Error::Connection { code: ErrorCode::FrameSizeError, reason: "frame too large" };
/// assert_eq!(e.code(), ErrorCode::FrameSizeError);
/// assert_eq!(e.to_string(), "connection error FRAME_SIZE_ERROR: frame too large");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum H2Error {
    /// The whole connection is done: GOAWAY with `code` was written.
    Connection {
        /// The code sent (or that would be sent) in GOAWAY.
        code: ErrorCode,
        /// What was wrong, for logs.
        reason: &'static str,
    },
    /// One stream is done.
    Stream {
        /// The stream.
        id: u32,
        /// The code for RST_STREAM.
        code: ErrorCode,
        /// What was wrong, for logs.
        reason: &'static str,
    },
}

impl H2Error {
    /// The error code, whichever the scope.
    ///
    /// ```
    /// use nodelike::http::h2::{ErrorCode, H2Error};
    /// let e = H2Error::Stream { id: 1, code: ErrorCode::StreamClosed, reason: "closed" };
    /// assert_eq!(e.code(), ErrorCode::StreamClosed);
    /// ```
    pub fn code(&self) -> ErrorCode {
        match *self {
            H2Error::Connection { code, .. } | H2Error::Stream { code, .. } => code,
        }
    }

    /// What was wrong, for logs.
    ///
    /// ```
    /// use nodelike::http::h2::{ErrorCode, H2Error};
    /// let e = H2Error::Connection { code: ErrorCode::ProtocolError, reason: "bad preface" };
    /// assert_eq!(e.reason(), "bad preface");
    /// ```
    pub fn reason(&self) -> &'static str {
        match *self {
            H2Error::Connection { reason, .. } | H2Error::Stream { reason, .. } => reason,
        }
    }
}

impl fmt::Display for H2Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            H2Error::Connection { code, reason } => write!(f, "connection error {code}: {reason}"),
            H2Error::Stream { id, code, reason } => {
                write!(f, "stream {id} error {code}: {reason}")
            }
        }
    }
}

impl std::error::Error for H2Error {}

/// A connection error (shorthand for the parsers).
pub(crate) const fn conn(code: ErrorCode, reason: &'static str) -> H2Error {
    H2Error::Connection { code, reason }
}

/// A stream error (shorthand for the parsers).
pub(crate) const fn stream(id: u32, code: ErrorCode, reason: &'static str) -> H2Error {
    H2Error::Stream { id, code, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_and_has_its_rfc_name() {
        let names = [
            "NO_ERROR",
            "PROTOCOL_ERROR",
            "INTERNAL_ERROR",
            "FLOW_CONTROL_ERROR",
            "SETTINGS_TIMEOUT",
            "STREAM_CLOSED",
            "FRAME_SIZE_ERROR",
            "REFUSED_STREAM",
            "CANCEL",
            "COMPRESSION_ERROR",
            "CONNECT_ERROR",
            "ENHANCE_YOUR_CALM",
            "INADEQUATE_SECURITY",
            "HTTP_1_1_REQUIRED",
        ];
        for (n, name) in names.iter().enumerate() {
            let code = ErrorCode::from_u32(n as u32);
            assert_eq!(code.to_u32(), n as u32);
            assert_eq!(code.to_string(), *name);
            assert!(!matches!(code, ErrorCode::Unknown(_)));
        }
        assert_eq!(ErrorCode::from_u32(0xe), ErrorCode::Unknown(0xe));
        assert_eq!(ErrorCode::Unknown(0xe).to_string(), "UNKNOWN_ERROR(0xe)");
        assert_eq!(ErrorCode::from_u32(u32::MAX).to_u32(), u32::MAX);
    }

    #[test]
    fn stream_errors_name_the_stream() {
        let e = stream(3, ErrorCode::StreamClosed, "closed");
        assert_eq!(e.to_string(), "stream 3 error STREAM_CLOSED: closed");
        assert_eq!(e.reason(), "closed");
    }
}
