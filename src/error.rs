//! The crate's one error type, with Node's error codes.

use std::fmt;
use std::io;
use std::sync::Arc;

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
    /// The operating system refused for lack of permission (`EACCES`), as
    /// for a non-root `listen` on a port below 1024.
    PermissionDenied,
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
    /// The peer's chain ends in a self-signed root that is not trusted
    /// (`SELF_SIGNED_CERT_IN_CHAIN`).
    SelfSignedCertInChain,
    /// The peer's certificate was refused for another reason, or none was
    /// presented where one is required (`CERT_REJECTED`, or OpenSSL's
    /// more precise code: `CERT_NOT_YET_VALID`, `INVALID_PURPOSE`, ...).
    CertRejected,
    /// `server.close(callback)` on a server that was not listening
    /// (`ERR_SERVER_NOT_RUNNING`).
    ServerNotRunning,
    /// A TLS configuration mistake, found before any connection: a PEM
    /// that cannot be read (`ERR_OSSL_PEM_NO_START_LINE`), a key that does
    /// not match its certificate (`ERR_OSSL_X509_KEY_VALUES_MISMATCH`), an
    /// unusable key (`ERR_OSSL_UNSUPPORTED`), no trusted roots
    /// (`ERR_TLS_NO_TRUSTED_ROOTS`).
    TlsConfig,
    /// A stream closed before it ended or finished, as `pipeline` and
    /// `finished` report it (`ERR_STREAM_PREMATURE_CLOSE`).
    StreamPrematureClose,
    /// A write to, or a pipe into, a stream already destroyed
    /// (`ERR_STREAM_DESTROYED`).
    StreamDestroyed,
    /// Compressed data that cannot be decoded (`Z_DATA_ERROR`, or zlib's
    /// more precise code: `Z_BUF_ERROR`, ...).
    Zlib,
    /// Output past a size cap, such as a decompression bomb stopped at
    /// `max_output_length` (`ERR_BUFFER_TOO_LARGE`).
    BufferTooLarge,
    /// A WebSocket failure: the peer broke the protocol (with `ws`'s
    /// `WS_ERR_*` code in [`code`](Error::code)), the opening handshake
    /// failed, or a send found the connection not open.
    WebSocket,
}

/// An error: a kind to match on, Node's code, a message for people, and
/// its cause as the [`source`](std::error::Error::source): the operating
/// system's [`io::Error`] when a call failed, rustls's error when a TLS
/// handshake or configuration failed.
///
/// ```
/// use nodelike::{Error, ErrorKind};
/// let e = Error::new(ErrorKind::WriteAfterEnd, "write after end");
/// assert_eq!(e.kind(), ErrorKind::WriteAfterEnd);
/// assert_eq!(e.to_string(), "write after end (ERR_STREAM_WRITE_AFTER_END)");
/// ```
///
/// The cause is kept, so the OS's own error (its `kind()`, its errno) is a
/// downcast away:
///
/// ```
/// use std::error::Error as _;
/// let e = nodelike::Error::from(std::io::Error::from(std::io::ErrorKind::AddrInUse));
/// let io = e.source().and_then(|s| s.downcast_ref::<std::io::Error>()).unwrap();
/// assert_eq!(io.kind(), std::io::ErrorKind::AddrInUse);
/// ```
///
/// Why the cause sits behind an `Arc`: listeners receive `&Error` and often
/// keep a copy, and the kinds, messages and copies of errors are compared in
/// tests, so `Error` stays `Clone + PartialEq + Eq` (and `Send + Sync`),
/// which `io::Error` is not. The `Arc` makes a clone share the one cause
/// instead of flattening it to text. Two errors are equal when their kind,
/// message, status and code are, and their causes are both absent, or are
/// I/O errors with the same `io::ErrorKind` and OS error number (an
/// `io::Error` has no equality of its own; those two are what a program can
/// observe and match on), or are other errors with the same text.
#[derive(Debug, Clone)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    status: u16,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
    /// Node's code when it is more precise than the kind says: llhttp's
    /// (`HPE_INVALID_CONSTANT` for bytes that are not a response),
    /// OpenSSL's (`CERT_NOT_YET_VALID`, `ERR_OSSL_PEM_NO_START_LINE`).
    precise_code: Option<&'static str>,
    /// The file a file-system call failed on (Node's `err.path`); set only
    /// by [`Error::fs`].
    path: Option<String>,
    /// The system call that failed (Node's `err.syscall`); set only by
    /// [`Error::fs`].
    syscall_name: Option<&'static str>,
}

/// What two errors' causes are compared by.
#[derive(PartialEq)]
enum CauseKey {
    Io(io::ErrorKind, Option<i32>),
    Other(String),
}

impl PartialEq for Error {
    fn eq(&self, other: &Error) -> bool {
        let cause = |e: &Error| {
            e.source
                .as_deref()
                .map(|s| match s.downcast_ref::<io::Error>() {
                    Some(io) => CauseKey::Io(io.kind(), io.raw_os_error()),
                    None => CauseKey::Other(s.to_string()),
                })
        };
        self.kind == other.kind
            && self.message == other.message
            && self.status == other.status
            && self.precise_code == other.precise_code
            && self.path == other.path
            && self.syscall_name == other.syscall_name
            && cause(self) == cause(other)
    }
}

impl Eq for Error {}

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
            source: None,
            precise_code: None,
            path: None,
            syscall_name: None,
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
            source: None,
            precise_code: None,
            path: None,
            syscall_name: None,
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
            _ if self.precise_code.is_some() => self.precise_code.unwrap_or_default(),
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
            ErrorKind::PermissionDenied => "EACCES",
            // An OS error with no kind of its own still has its errno's
            // name when we know it (`EADDRNOTAVAIL`, `ENOENT`, ...).
            ErrorKind::Io => self
                .io_source()
                .and_then(os_code)
                .map_or("EIO", |(code, _)| code),
            ErrorKind::TlsHandshake => "ERR_SSL_HANDSHAKE_FAILURE",
            ErrorKind::SelfSignedCert => "DEPTH_ZERO_SELF_SIGNED_CERT",
            ErrorKind::UntrustedCert => "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
            ErrorKind::CertExpired => "CERT_HAS_EXPIRED",
            ErrorKind::CertNameMismatch => "ERR_TLS_CERT_ALTNAME_INVALID",
            ErrorKind::SelfSignedCertInChain => "SELF_SIGNED_CERT_IN_CHAIN",
            ErrorKind::CertRejected => "CERT_REJECTED",
            ErrorKind::TlsConfig => "ERR_TLS_CONFIG",
            ErrorKind::ServerNotRunning => "ERR_SERVER_NOT_RUNNING",
            ErrorKind::StreamPrematureClose => "ERR_STREAM_PREMATURE_CLOSE",
            ErrorKind::StreamDestroyed => "ERR_STREAM_DESTROYED",
            ErrorKind::Zlib => "Z_DATA_ERROR",
            ErrorKind::BufferTooLarge => "ERR_BUFFER_TOO_LARGE",
            ErrorKind::WebSocket => "ERR_WEBSOCKET",
        }
    }

    /// The file a file-system call failed on (Node's `err.path`), for
    /// errors from [`fs`](crate::fs) that name one.
    ///
    /// ```no_run
    /// nodelike::fs::read_file("/no/such", |r| {
    ///     assert_eq!(r.unwrap_err().path(), Some("/no/such"));
    /// });
    /// nodelike::run();
    /// ```
    pub fn path(&self) -> Option<&str> {
        self.path.as_deref()
    }

    /// The system call that failed (Node's `err.syscall`: `"open"`,
    /// `"read"`, `"stat"`, ...), for errors from [`fs`](crate::fs).
    /// (Named so because `syscall` is the crate's constructor for the
    /// network's errors.)
    ///
    /// ```no_run
    /// nodelike::fs::stat("/no/such", |r| {
    ///     assert_eq!(r.unwrap_err().syscall_name(), Some("stat"));
    /// });
    /// nodelike::run();
    /// ```
    #[doc(alias = "syscall")]
    pub fn syscall_name(&self) -> Option<&str> {
        self.syscall_name
    }

    /// The cause, when it is an operating-system error.
    fn io_source(&self) -> Option<&io::Error> {
        self.source.as_deref()?.downcast_ref::<io::Error>()
    }
}

impl Error {
    /// A parse error with llhttp's own code (`HPE_INVALID_CONSTANT`, ...).
    pub(crate) fn parse_with_code(code: &'static str, message: impl Into<String>) -> Error {
        Error::parse(400, message).with_code(code)
    }

    /// This error with Node's more precise `code` than its kind gives.
    pub(crate) fn with_code(mut self, code: &'static str) -> Error {
        self.precise_code = Some(code);
        self
    }

    /// This error, caused by `source` (kept for
    /// [`source`](std::error::Error::source)); kind and message unchanged.
    /// For failures worded Node's way whose cause is an I/O error, such as
    /// `getaddrinfo ENOTFOUND host`.
    pub(crate) fn with_source(self, source: io::Error) -> Error {
        self.with_cause(source)
    }

    /// This error, caused by any error (a rustls failure, say), kept as
    /// the [`source`](std::error::Error::source).
    pub(crate) fn with_cause(
        mut self,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        self.source = Some(Arc::new(cause));
        self
    }

    /// An error of `kind` that a server answers with `status`.
    pub(crate) fn with_status(kind: ErrorKind, status: u16, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            status,
            source: None,
            precise_code: None,
            path: None,
            syscall_name: None,
        }
    }
}

impl Error {
    /// The failure of system call `syscall` (`"listen"`, `"connect"`, ...)
    /// on `address` (`"127.0.0.1:8000"`, a socket path, or `""`), worded
    /// as Node words it, with `e` kept as the source:
    /// `listen EADDRINUSE: address already in use 127.0.0.1:8000`.
    ///
    /// Node words `connect` failures without the description
    /// (`connect ECONNREFUSED 127.0.0.1:8000`, its `exceptionWithHostPort`)
    /// and every other call with it (`uvExceptionWithHostPort`); this keeps
    /// that rule in one place so each layer only names its call.
    pub(crate) fn syscall(syscall: &str, e: io::Error, address: &str) -> Error {
        let mut err = Error::from(e);
        let code = err.code();
        let mut message = format!("{syscall} {code}");
        if syscall != "connect" {
            let description = match err.io_source().and_then(os_code) {
                Some((_, description)) => description.to_owned(),
                None => err.message.clone(),
            };
            message.push_str(": ");
            message.push_str(&description);
        }
        if !address.is_empty() {
            message.push(' ');
            message.push_str(address);
        }
        err.message = message;
        err
    }

    /// The failure of file-system call `syscall` on `path` (`""` when the
    /// call names no file, as Node's `read` and `close` errors do), worded
    /// as Node words it, with `e` kept as the source and the errno's name
    /// as the code: `ENOENT: no such file or directory, open '/no/such'`.
    pub(crate) fn fs(syscall: &'static str, e: io::Error, path: &str) -> Error {
        let known = os_code(&e);
        let mut err = Error::from(e);
        let (code, description) = match known {
            Some((code, description)) => (code, description.to_owned()),
            None => (err.code(), err.message.clone()),
        };
        err.message = if path.is_empty() {
            format!("{code}: {description}, {syscall}")
        } else {
            format!("{code}: {description}, {syscall} '{path}'")
        };
        // The errno's own name, even where the kind would say another
        // (EPERM is a `PermissionDenied` as EACCES is).
        err.precise_code = known.map(|(code, _)| code);
        err.path = (!path.is_empty()).then(|| path.to_owned());
        err.syscall_name = Some(syscall);
        err
    }

    /// What to print for this error when it was emitted with nobody
    /// listening, in the form Node prints an uncaught error:
    /// `Error: listen EADDRINUSE: ...` for a system error (whose message
    /// names its code), `Error [ERR_...]: message` otherwise; a second line
    /// names the emitter and the listener that would have handled it.
    pub(crate) fn unhandled_report(&self, emitter: &str, listener: &str) -> String {
        let first = if self.message_names_code() {
            format!("Error: {}", self.message)
        } else {
            format!("Error [{}]: {}", self.code(), self.message)
        };
        format!("{first}\nUnhandled 'error' event on {emitter} (add a listener with {listener})")
    }

    /// Prints `self` to stderr as an `error` event nobody listened to (the
    /// report Node prints for one), whether or not a logger is set up: an
    /// error must never vanish.
    pub(crate) fn report_unhandled(&self, emitter: &str, listener: &str) {
        eprintln!("{}", self.unhandled_report(emitter, listener));
    }

    /// Whether the message already names the code as a word (Node's system
    /// errors do: `listen EADDRINUSE: ...`), so it need not be repeated.
    fn message_names_code(&self) -> bool {
        let code = self.code();
        self.message
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .any(|word| word == code)
    }
}

/// The errno name and libuv's description (what Node prints) of an I/O
/// error, for the kinds the standard library names portably.
fn os_code(e: &io::Error) -> Option<(&'static str, &'static str)> {
    if let Some(named) = e.raw_os_error().and_then(linux_errno) {
        return Some(named);
    }
    Some(match e.kind() {
        io::ErrorKind::AddrInUse => ("EADDRINUSE", "address already in use"),
        io::ErrorKind::AddrNotAvailable => ("EADDRNOTAVAIL", "address not available"),
        io::ErrorKind::PermissionDenied => ("EACCES", "permission denied"),
        io::ErrorKind::ConnectionRefused => ("ECONNREFUSED", "connection refused"),
        io::ErrorKind::ConnectionReset => ("ECONNRESET", "connection reset by peer"),
        io::ErrorKind::ConnectionAborted => ("ECONNABORTED", "software caused connection abort"),
        io::ErrorKind::NotConnected => ("ENOTCONN", "socket is not connected"),
        io::ErrorKind::BrokenPipe => ("EPIPE", "broken pipe"),
        io::ErrorKind::TimedOut => ("ETIMEDOUT", "connection timed out"),
        io::ErrorKind::NotFound => ("ENOENT", "no such file or directory"),
        io::ErrorKind::AlreadyExists => ("EEXIST", "file already exists"),
        io::ErrorKind::InvalidInput => ("EINVAL", "invalid argument"),
        io::ErrorKind::OutOfMemory => ("ENOMEM", "not enough memory"),
        _ => return None,
    })
}

/// The errnos the file system reports that `io::ErrorKind` does not name
/// on the crate's minimum Rust (`IsADirectory`, `NotADirectory` and
/// `StorageFull` are stable only from 1.83; EMFILE, EBADF, EPERM have no
/// kind of their own), by their Linux numbers, with libuv's descriptions.
#[cfg(target_os = "linux")]
fn linux_errno(errno: i32) -> Option<(&'static str, &'static str)> {
    Some(match errno {
        1 => ("EPERM", "operation not permitted"),
        5 => ("EIO", "i/o error"),
        9 => ("EBADF", "bad file descriptor"),
        20 => ("ENOTDIR", "not a directory"),
        21 => ("EISDIR", "illegal operation on a directory"),
        23 => ("ENFILE", "file table overflow"),
        24 => ("EMFILE", "too many open files"),
        27 => ("EFBIG", "file too large"),
        28 => ("ENOSPC", "no space left on device"),
        29 => ("ESPIPE", "invalid seek"),
        30 => ("EROFS", "read-only file system"),
        36 => ("ENAMETOOLONG", "name too long"),
        39 => ("ENOTEMPTY", "directory not empty"),
        40 => ("ELOOP", "too many symbolic links encountered"),
        _ => return None,
    })
}

/// Elsewhere the kinds alone name what they can.
#[cfg(not(target_os = "linux"))]
fn linux_errno(_errno: i32) -> Option<(&'static str, &'static str)> {
    None
}

/// The message, then the code in parentheses unless the message already
/// names it (`listen EADDRINUSE: address already in use 127.0.0.1:8000`
/// reads as Node's; `write after end (ERR_STREAM_WRITE_AFTER_END)`).
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message_names_code() {
            f.write_str(&self.message)
        } else {
            write!(f, "{} ({})", self.message, self.code())
        }
    }
}

/// The cause: the operating system's [`io::Error`] for errors made from
/// one, rustls's error for TLS failures, `None` for the crate's own
/// (protocol, misuse, timeouts).
impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Classifies the I/O error by its kind and keeps it as the source; the
/// message is the I/O error's own text.
impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        let kind = match e.kind() {
            io::ErrorKind::ConnectionRefused => ErrorKind::ConnectionRefused,
            io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => {
                ErrorKind::ConnectionReset
            }
            io::ErrorKind::AddrInUse => ErrorKind::AddrInUse,
            io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
            io::ErrorKind::TimedOut => ErrorKind::Timeout,
            _ => ErrorKind::Io,
        };
        Error {
            kind,
            message: e.to_string(),
            status: 0,
            source: Some(Arc::new(e)),
            precise_code: None,
            path: None,
            syscall_name: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_failures_read_like_nodes() {
        let busy = Error::syscall("listen", io::ErrorKind::AddrInUse.into(), "127.0.0.1:8000");
        assert_eq!(
            busy.message(),
            "listen EADDRINUSE: address already in use 127.0.0.1:8000"
        );
        assert_eq!(busy.kind(), ErrorKind::AddrInUse);
        assert_eq!(busy.to_string(), busy.message());

        let denied = Error::syscall(
            "listen",
            io::ErrorKind::PermissionDenied.into(),
            "0.0.0.0:80",
        );
        assert_eq!(
            denied.message(),
            "listen EACCES: permission denied 0.0.0.0:80"
        );
        assert_eq!(denied.kind(), ErrorKind::PermissionDenied);
        assert_eq!(denied.code(), "EACCES");
        let source = std::error::Error::source(&denied).unwrap();
        let io = source.downcast_ref::<io::Error>().unwrap();
        assert_eq!(io.kind(), io::ErrorKind::PermissionDenied);
    }

    #[test]
    fn an_os_error_without_a_kind_of_its_own_keeps_its_errno_name() {
        let e = Error::syscall(
            "listen",
            io::ErrorKind::AddrNotAvailable.into(),
            "10.9.9.9:80",
        );
        assert_eq!(e.kind(), ErrorKind::Io);
        assert_eq!(e.code(), "EADDRNOTAVAIL");
        assert_eq!(
            e.message(),
            "listen EADDRNOTAVAIL: address not available 10.9.9.9:80"
        );
    }

    #[test]
    fn an_unnamed_os_error_keeps_its_own_text() {
        let e = Error::syscall("listen", io::Error::other("weird"), "");
        assert_eq!(e.message(), "listen EIO: weird");
    }

    #[test]
    fn connect_failures_read_like_nodes() {
        let e = Error::syscall(
            "connect",
            io::ErrorKind::ConnectionRefused.into(),
            "127.0.0.1:8000",
        );
        assert_eq!(e.message(), "connect ECONNREFUSED 127.0.0.1:8000");
        assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
    }

    #[test]
    fn unhandled_reports_read_like_nodes_uncaught_errors() {
        let busy = Error::syscall("listen", io::ErrorKind::AddrInUse.into(), "127.0.0.1:8000");
        assert_eq!(
            busy.unhandled_report("Server", "Server::on_error"),
            "Error: listen EADDRINUSE: address already in use 127.0.0.1:8000\n\
             Unhandled 'error' event on Server (add a listener with Server::on_error)"
        );
        let late = Error::new(ErrorKind::WriteAfterEnd, "write after end");
        assert!(late
            .unhandled_report("ServerResponse", "ServerResponse::on_error")
            .starts_with("Error [ERR_STREAM_WRITE_AFTER_END]: write after end\n"));
    }
}
