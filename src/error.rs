//! The crate's one error type, with Node's error codes.

use std::fmt;
use std::io;

/// What went wrong, in a form a program can match on.
///
/// Each kind has the `code` Node gives the same failure (`ECONNREFUSED`,
/// `ERR_HTTP_HEADERS_SENT`, `HPE_INVALID_HEADER_TOKEN`, ...), so a Node user
/// recognises it.
///
/// ```
/// use nodelike::{Error, ErrorKind};
/// let e = Error::new(ErrorKind::HeadersSent, "cannot set headers after they are sent");
/// assert_eq!(e.code(), "ERR_HTTP_HEADERS_SENT");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `write_head`, `set_header` or `remove_header` after the head was sent.
    HeadersSent,
    /// `write` or `end` after `end`.
    WriteAfterEnd,
    /// A header name or value, method or path with a forbidden byte.
    InvalidHeader,
    /// More (or fewer) body bytes than the `Content-Length` that was sent.
    ContentLengthMismatch,
    /// A malformed message arrived from the peer (Node's `HPE_*` codes).
    Parse,
    /// A message head over the size limit (`HPE_HEADER_OVERFLOW`, 431).
    HeaderOverflow,
    /// The peer refused the connection (`ECONNREFUSED`).
    ConnectionRefused,
    /// The peer reset the connection (`ECONNRESET`).
    ConnectionReset,
    /// The connection closed before the message was complete (`socket hang up`).
    PrematureClose,
    /// A timeout expired (`ETIMEDOUT`).
    Timeout,
    /// Host-name resolution failed (`ENOTFOUND`).
    Dns,
    /// The request was aborted by the user (`ABORT_ERR`).
    Aborted,
    /// The address is already in use (`EADDRINUSE`).
    AddrInUse,
    /// Any other operating-system error.
    Io,
    /// A TLS handshake failed for a reason other than the certificate
    /// (`ERR_SSL_HANDSHAKE_FAILURE`): no common version or cipher, a bad
    /// record, a peer speaking plain HTTP.
    TlsHandshake,
    /// The peer's certificate is self-signed and not trusted
    /// (`DEPTH_ZERO_SELF_SIGNED_CERT`).
    SelfSignedCert,
    /// The peer's certificate is not issued by a trusted authority
    /// (`UNABLE_TO_VERIFY_LEAF_SIGNATURE`).
    UntrustedCert,
    /// The peer's certificate has expired (`CERT_HAS_EXPIRED`).
    CertExpired,
    /// The peer's certificate is not valid for the name asked for
    /// (`ERR_TLS_CERT_ALTNAME_INVALID`).
    CertNameMismatch,
    /// The peer's certificate was refused for another reason, or none was
    /// presented where one is required (`CERT_REJECTED`).
    CertRejected,
}

/// An error: a kind to match on, Node's code, and a message for people.
///
/// ```
/// use nodelike::{Error, ErrorKind};
/// let e = Error::new(ErrorKind::WriteAfterEnd, "write after end");
/// assert_eq!(e.kind(), ErrorKind::WriteAfterEnd);
/// assert_eq!(e.to_string(), "write after end (ERR_STREAM_WRITE_AFTER_END)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    status: u16,
}

impl Error {
    /// A new error of `kind` with a message.
    ///
    /// ```
    /// let e = nodelike::Error::new(nodelike::ErrorKind::Timeout, "idle for 2 minutes");
    /// assert_eq!(e.message(), "idle for 2 minutes");
    /// ```
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            status: 0,
        }
    }

    /// A protocol error that a server answers with `status` (400, 414, 431, 501, 505).
    ///
    /// ```
    /// let e = nodelike::Error::parse(431, "header section too large");
    /// assert_eq!(e.status(), Some(431));
    /// assert_eq!(e.code(), "HPE_HEADER_OVERFLOW");
    /// ```
    pub fn parse(status: u16, message: impl Into<String>) -> Error {
        let kind = if status == 431 {
            ErrorKind::HeaderOverflow
        } else {
            ErrorKind::Parse
        };
        Error {
            kind,
            message: message.into(),
            status,
        }
    }

    /// The kind, to match on.
    ///
    /// ```
    /// let e = nodelike::Error::new(nodelike::ErrorKind::Dns, "no such host");
    /// assert!(matches!(e.kind(), nodelike::ErrorKind::Dns));
    /// ```
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The human-readable message.
    ///
    /// ```
    /// let e = nodelike::Error::new(nodelike::ErrorKind::Dns, "no such host");
    /// assert_eq!(e.message(), "no such host");
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The HTTP status a server answers a protocol error with, if any.
    ///
    /// ```
    /// assert_eq!(nodelike::Error::parse(400, "bad").status(), Some(400));
    /// assert_eq!(nodelike::Error::new(nodelike::ErrorKind::Io, "x").status(), None);
    /// ```
    pub fn status(&self) -> Option<u16> {
        (self.status != 0).then_some(self.status)
    }

    /// Node's error code for this failure.
    ///
    /// ```
    /// let e = nodelike::Error::new(nodelike::ErrorKind::ConnectionRefused, "refused");
    /// assert_eq!(e.code(), "ECONNREFUSED");
    /// ```
    pub fn code(&self) -> &'static str {
        match self.kind {
            ErrorKind::HeadersSent => "ERR_HTTP_HEADERS_SENT",
            ErrorKind::WriteAfterEnd => "ERR_STREAM_WRITE_AFTER_END",
            ErrorKind::InvalidHeader => "ERR_INVALID_CHAR",
            ErrorKind::ContentLengthMismatch => "ERR_HTTP_CONTENT_LENGTH_MISMATCH",
            ErrorKind::Parse => match self.status {
                414 => "HPE_URI_TOO_LONG",
                501 => "HPE_UNEXPECTED_TRANSFER_ENCODING",
                505 => "HPE_INVALID_VERSION",
                _ => "HPE_INVALID_MESSAGE",
            },
            ErrorKind::HeaderOverflow => "HPE_HEADER_OVERFLOW",
            ErrorKind::ConnectionRefused => "ECONNREFUSED",
            ErrorKind::ConnectionReset => "ECONNRESET",
            ErrorKind::PrematureClose => "ECONNRESET",
            ErrorKind::Timeout if self.status == 408 => "ERR_HTTP_REQUEST_TIMEOUT",
            ErrorKind::Timeout => "ETIMEDOUT",
            ErrorKind::Dns => "ENOTFOUND",
            ErrorKind::Aborted => "ABORT_ERR",
            ErrorKind::AddrInUse => "EADDRINUSE",
            ErrorKind::Io => "EIO",
            ErrorKind::TlsHandshake => "ERR_SSL_HANDSHAKE_FAILURE",
            ErrorKind::SelfSignedCert => "DEPTH_ZERO_SELF_SIGNED_CERT",
            ErrorKind::UntrustedCert => "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
            ErrorKind::CertExpired => "CERT_HAS_EXPIRED",
            ErrorKind::CertNameMismatch => "ERR_TLS_CERT_ALTNAME_INVALID",
            ErrorKind::CertRejected => "CERT_REJECTED",
        }
    }
}

impl Error {
    /// An error of `kind` that a server answers with `status`.
    pub(crate) fn with_status(kind: ErrorKind, status: u16, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            status,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code())
    }
}

impl std::error::Error for Error {}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        let kind = match e.kind() {
            io::ErrorKind::ConnectionRefused => ErrorKind::ConnectionRefused,
            io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => {
                ErrorKind::ConnectionReset
            }
            io::ErrorKind::AddrInUse => ErrorKind::AddrInUse,
            io::ErrorKind::TimedOut => ErrorKind::Timeout,
            _ => ErrorKind::Io,
        };
        Error::new(kind, e.to_string())
    }
}
