//! Message heads: httparse tokenises, this module enforces RFC 9112's
//! framing and line rules (which httparse leaves to its caller).

use std::fmt;
use std::mem::MaybeUninit;
use std::ops::Range;

/// Size limits for a message head (Node's defaults).
///
/// ```
/// let l = nodelike::http::h1::Limits::default();
/// assert_eq!(l.max_head_bytes, 16 * 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest head, request line and all header lines (431 past it).
    pub max_head_bytes: usize,
    /// The most header lines (431 past it; at most 256 are supported).
    pub max_headers: usize,
    /// The longest request-target (414 past it).
    pub max_target_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head_bytes: 16 * 1024,
            max_headers: 100,
            max_target_len: 8 * 1024,
        }
    }
}

/// The most header lines any head may have, whatever the limits say.
const HEADER_CAP: usize = 256;

/// How the body of a message is delimited (RFC 9112 section 6.3).
///
/// ```
/// use nodelike::http::h1::BodyKind;
/// assert_eq!(BodyKind::default(), BodyKind::Empty);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyKind {
    /// No body.
    #[default]
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Until the connection closes (responses only).
    Eof,
}

/// Why a head was rejected; [`status`](ParseError::status) is the response
/// a server sends.
///
/// ```
/// use nodelike::http::h1::ParseError;
/// assert_eq!(ParseError::HeadTooLarge.status(), 431);
/// assert_eq!(ParseError::Malformed("x").status(), 400);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// Not a valid message (400), with what was wrong.
    Malformed(&'static str),
    /// The head is over `max_head_bytes` (431).
    HeadTooLarge,
    /// More header lines than `max_headers` (431).
    TooManyHeaders,
    /// The request-target is over `max_target_len` (414).
    TargetTooLong,
    /// An HTTP version other than 1.0 or 1.1 (505).
    UnsupportedVersion,
    /// A transfer coding other than chunked (501).
    UnsupportedTransferCoding,
}

impl ParseError {
    /// The status a server answers with.
    ///
    /// ```
    /// assert_eq!(nodelike::http::h1::ParseError::UnsupportedVersion.status(), 505);
    /// ```
    pub fn status(&self) -> u16 {
        match self {
            ParseError::Malformed(_) => 400,
            ParseError::HeadTooLarge | ParseError::TooManyHeaders => 431,
            ParseError::TargetTooLong => 414,
            ParseError::UnsupportedVersion => 505,
            ParseError::UnsupportedTransferCoding => 501,
        }
    }

    /// What was wrong, for people.
    ///
    /// ```
    /// assert_eq!(nodelike::http::h1::ParseError::TargetTooLong.reason(), "request-target too long");
    /// ```
    pub fn reason(&self) -> &'static str {
        match self {
            ParseError::Malformed(why) => why,
            ParseError::HeadTooLarge => "header section too large",
            ParseError::TooManyHeaders => "too many header fields",
            ParseError::TargetTooLong => "request-target too long",
            ParseError::UnsupportedVersion => "HTTP version not supported",
            ParseError::UnsupportedTransferCoding => "transfer coding not implemented",
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.reason(), self.status())
    }
}

impl std::error::Error for ParseError {}

/// A parsed request head, reused across requests (its `Vec` keeps its
/// capacity). All ranges are byte offsets into the buffer given to
/// [`parse_request_head`].
///
/// ```
/// use nodelike::http::h1::{parse_request_head, Limits, ParsedRequest};
/// let buf = b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n";
/// let mut p = ParsedRequest::default();
/// parse_request_head(buf, &Limits::default(), &mut p).unwrap();
/// assert_eq!(p.method(buf), "GET");
/// assert_eq!(p.target(buf), "/x");
/// ```
#[derive(Debug, Clone, Default)]
pub struct ParsedRequest {
    /// The method.
    pub method: Range<usize>,
    /// The request-target, as sent.
    pub target: Range<usize>,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version_minor: u8,
    /// (name, value) of each field line, in order; values OWS-trimmed.
    pub headers: Vec<(Range<usize>, Range<usize>)>,
    /// How the body is delimited.
    pub body: BodyKind,
    /// Whether the connection may stay open after this exchange.
    pub keep_alive: bool,
    /// `Expect: 100-continue` (HTTP/1.1).
    pub expect_continue: bool,
    /// Any other expectation: the server answers 417.
    pub expect_other: bool,
    /// An upgrade (Connection: upgrade with an Upgrade field) or CONNECT.
    pub upgrade: bool,
}

impl ParsedRequest {
    /// The method as text.
    ///
    /// ```
    /// # use nodelike::http::h1::*;
    /// let buf = b"PUT / HTTP/1.1\r\nHost: a\r\n\r\n";
    /// let mut p = ParsedRequest::default();
    /// parse_request_head(buf, &Limits::default(), &mut p).unwrap();
    /// assert_eq!(p.method(buf), "PUT");
    /// ```
    pub fn method<'a>(&self, buf: &'a [u8]) -> &'a str {
        text(buf, &self.method)
    }

    /// The request-target as text (lossless for ASCII targets).
    ///
    /// ```
    /// # use nodelike::http::h1::*;
    /// let buf = b"GET /a?b=c HTTP/1.1\r\nHost: a\r\n\r\n";
    /// let mut p = ParsedRequest::default();
    /// parse_request_head(buf, &Limits::default(), &mut p).unwrap();
    /// assert_eq!(p.target(buf), "/a?b=c");
    /// ```
    pub fn target<'a>(&self, buf: &'a [u8]) -> &'a str {
        text(buf, &self.target)
    }
}

fn text<'a>(buf: &'a [u8], r: &Range<usize>) -> &'a str {
    buf.get(r.clone())
        .and_then(|b| std::str::from_utf8(b).ok())
        .unwrap_or("")
}

/// A parsed response head (for the HTTP client), same conventions as
/// [`ParsedRequest`].
///
/// ```
/// use nodelike::http::h1::{parse_response_head, BodyKind, Limits, ParsedResponse};
/// let buf = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
/// let mut p = ParsedResponse::default();
/// assert_eq!(parse_response_head(buf, false, &Limits::default(), &mut p), Ok(Some(38)));
/// assert_eq!((p.status, p.body), (200, BodyKind::Length(2)));
/// ```
#[derive(Debug, Clone, Default)]
pub struct ParsedResponse {
    /// The status code.
    pub status: u16,
    /// The reason phrase.
    pub reason: Range<usize>,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version_minor: u8,
    /// (name, value) of each field line, in order.
    pub headers: Vec<(Range<usize>, Range<usize>)>,
    /// How the body is delimited.
    pub body: BodyKind,
    /// Whether the connection may be reused afterwards.
    pub keep_alive: bool,
    /// A 101 with an upgrade, or a successful CONNECT.
    pub upgrade: bool,
}

/// Where `part` (a slice httparse returned) lies in `buf`. httparse may
/// return a static `""` instead of a slice of the input (a reason phrase
/// that is not UTF-8, found by fuzzing), so the arithmetic is checked and
/// such a part becomes an empty range.
fn range_of(buf: &[u8], part: &[u8]) -> Range<usize> {
    let start = (part.as_ptr() as usize).checked_sub(buf.as_ptr() as usize);
    match start {
        Some(start)
            if start
                .checked_add(part.len())
                .is_some_and(|end| end <= buf.len()) =>
        {
            start..start + part.len()
        }
        _ => 0..0,
    }
}

/// How many bytes at the start of `buf` are line breaks (CR or LF) between
/// two requests on a connection: a server consumes them as they arrive
/// (RFC 9112 §2.2 lets it ignore empty lines before a request line; like
/// llhttp it skips lone CRs and LFs there too), so they are never held as
/// a head begun and start no request's clock. Inside a head, bare CR and LF
/// stay errors ([`skip_empty_lines`] and the head checks).
pub(crate) fn line_breaks_between_requests(buf: &[u8]) -> usize {
    buf.iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count()
}

/// Skips empty lines (CRLF) before a message; a bare LF or CR is an error.
/// Returns the offset of the first byte of the start line, or `None` when
/// only (parts of) empty lines were seen.
///
/// The empty lines count towards `max_head_bytes`: without that, a peer
/// sending nothing but CRLFs would be buffered without bound, since no
/// start line (where the other limits are checked) ever begins.
fn skip_empty_lines(buf: &[u8], limits: &Limits) -> Result<Option<usize>, ParseError> {
    let incomplete = || {
        if buf.len() > limits.max_head_bytes {
            Err(ParseError::HeadTooLarge)
        } else {
            Ok(None)
        }
    };
    let mut i = 0;
    loop {
        match buf.get(i) {
            None => return incomplete(),
            Some(b'\r') => match buf.get(i + 1) {
                None => return incomplete(),
                Some(b'\n') => i += 2,
                Some(_) => return Err(ParseError::Malformed("bare CR in head")),
            },
            Some(b'\n') => return Err(ParseError::Malformed("bare LF in head")),
            Some(_) => return Ok(Some(i)),
        }
    }
}

/// Every LF must follow a CR and every CR precede an LF (httparse accepts
/// a lone LF as a line end; a peer could hide a header behind one).
///
/// httparse allows neither CR nor LF inside a method, target, name or
/// value, so in a head it accepted every LF ends a line, and lines end just
/// before each header name and at the end of the head. Checking those
/// places is O(headers), not O(bytes); the byte-by-byte walk only runs to
/// name the fault.
fn check_complete_line_endings(
    head: &[u8],
    name_starts: impl Iterator<Item = usize>,
) -> Result<(), ParseError> {
    let mut ok = head.ends_with(b"\r\n\r\n");
    for at in name_starts {
        ok &= at >= 2 && head.get(at - 2..at) == Some(&b"\r\n"[..]);
    }
    if ok {
        return Ok(());
    }
    check_line_endings(head, false)?;
    Err(ParseError::Malformed("bare LF in head"))
}

/// The byte-by-byte check, which names the fault. `partial`: the head may
/// continue, so a CR at the very end is fine.
fn check_line_endings(head: &[u8], partial: bool) -> Result<(), ParseError> {
    let mut prev = 0u8;
    for (i, &b) in head.iter().enumerate() {
        if b == b'\n' && prev != b'\r' {
            return Err(ParseError::Malformed("bare LF in head"));
        }
        let at_end = i + 1 == head.len();
        if b == b'\r' && !(partial && at_end) && head.get(i + 1) != Some(&b'\n') {
            return Err(ParseError::Malformed("bare CR in head"));
        }
        prev = b;
    }
    Ok(())
}

fn map_httparse(e: httparse::Error) -> ParseError {
    match e {
        httparse::Error::Version => ParseError::UnsupportedVersion,
        httparse::Error::TooManyHeaders => ParseError::TooManyHeaders,
        httparse::Error::HeaderName => ParseError::Malformed("invalid header name"),
        httparse::Error::HeaderValue => ParseError::Malformed("invalid header value"),
        httparse::Error::NewLine => ParseError::Malformed("invalid line ending"),
        httparse::Error::Status => ParseError::Malformed("invalid status"),
        httparse::Error::Token => ParseError::Malformed("invalid token in start line"),
    }
}

/// httparse reports every bad version field as `Error::Version`. One that
/// does not even start with HTTP-name (`HTTP/`) is no version at all (most
/// often a second space, `GET /  HTTP/1.1`, leaving an empty token before
/// it): a malformed request line, 400, not an unsupported version, 505.
///
/// httparse fails at the first byte that differs from `HTTP/1.` (or on the
/// eighth when all seven match), so the bytes it read always include the
/// first that differs from `HTTP/`: the answer is the same however the
/// input was split. `path` is the target httparse had parsed by then.
fn request_version_error(rest: &[u8], path: Option<&str>) -> ParseError {
    let Some(path) = path else {
        return ParseError::UnsupportedVersion;
    };
    // The version field starts after the target and its one SP.
    let field = rest
        .get(range_of(rest, path.as_bytes()).end + 1..)
        .unwrap_or_default();
    let seen = field.len().min(5);
    if field[..seen] == b"HTTP/"[..seen] {
        ParseError::UnsupportedVersion
    } else {
        ParseError::Malformed("invalid HTTP version")
    }
}

/// Strips optional whitespace (SP, HTAB) from both ends.
pub(super) fn trim_ows(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map(|i| i + 1)
        .unwrap_or(start);
    &v[start..end.max(start)]
}

fn eq_token(a: &[u8], b: &str) -> bool {
    a.eq_ignore_ascii_case(b.as_bytes())
}

/// Comma-separated list elements, OWS-trimmed, empty ones skipped.
fn list(v: &[u8]) -> impl Iterator<Item = &[u8]> {
    v.split(|&b| b == b',')
        .map(trim_ows)
        .filter(|t| !t.is_empty())
}

fn parse_content_length(v: &[u8]) -> Result<u64, ParseError> {
    if v.is_empty() {
        return Err(ParseError::Malformed("empty Content-Length"));
    }
    let mut n: u64 = 0;
    for &b in v {
        if !b.is_ascii_digit() {
            return Err(ParseError::Malformed("invalid Content-Length"));
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
            .ok_or(ParseError::Malformed("Content-Length overflows"))?;
    }
    Ok(n)
}

/// A byte of RFC 3986's reg-name: unreserved, sub-delims, or the `%` of
/// a pct-encoding (whose hex digits are unreserved anyway).
fn is_reg_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b'%'
        )
}

fn valid_host(v: &[u8]) -> bool {
    v.iter()
        .all(|&b| is_reg_name_byte(b) || matches!(b, b':' | b'[' | b']'))
}

/// RFC 9112 section 3.2: a request-target has one of four forms, and the
/// method decides which are allowed. httparse only checks that the bytes
/// are visible ASCII or obs-text, so without this `GET u` or `POST :c`
/// would reach the application as a path that is not one.
fn check_target_form(method: &str, target: &[u8]) -> Result<(), ParseError> {
    // asterisk-form (3.2.4) is for a server-wide OPTIONS only.
    if target == b"*" {
        if method != "OPTIONS" {
            return Err(ParseError::Malformed(
                "asterisk-form target with a method other than OPTIONS",
            ));
        }
        return Ok(());
    }
    // authority-form (3.2.3) is for CONNECT only, and CONNECT takes no other.
    if method == "CONNECT" {
        if !is_authority_form(target) {
            return Err(ParseError::Malformed(
                "CONNECT needs an authority-form target",
            ));
        }
        return Ok(());
    }
    // origin-form (3.2.1) or absolute-form (3.2.2). An authority-form
    // target whose host is a name (`a.example:80`) also reads as an
    // absolute-URI with scheme `a.example`, which RFC 3986 allows, so it
    // passes here as one; IP hosts (`127.0.0.1:80`, `[::1]:80`) do not.
    if target.first() == Some(&b'/') || has_scheme(target) {
        return Ok(());
    }
    Err(ParseError::Malformed("invalid request-target"))
}

/// `scheme ":"` at the start (RFC 3986 section 3.1):
/// `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
fn has_scheme(target: &[u8]) -> bool {
    let Some(colon) = target.iter().position(|&b| b == b':') else {
        return false;
    };
    let scheme = &target[..colon];
    scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// `uri-host ":" port` (RFC 9112 section 3.2.3), with a non-empty port:
/// RFC 9110 section 9.3.6 says CONNECT has no default port. No userinfo,
/// path or query. The IP-literal is checked for its characters only.
fn is_authority_form(target: &[u8]) -> bool {
    let (host_ok, port) = if let Some(literal) = target.strip_prefix(b"[") {
        let Some(close) = literal.iter().position(|&b| b == b']') else {
            return false;
        };
        let inside = &literal[..close];
        let ok = !inside.is_empty() && inside.iter().all(|&b| is_reg_name_byte(b) || b == b':');
        (ok, literal[close + 1..].strip_prefix(b":"))
    } else {
        let colon = target.iter().position(|&b| b == b':');
        let host = &target[..colon.unwrap_or(target.len())];
        let ok = !host.is_empty() && host.iter().all(|&b| is_reg_name_byte(b));
        (ok, colon.map(|c| &target[c + 1..]))
    };
    host_ok && port.is_some_and(|p| !p.is_empty() && p.iter().all(u8::is_ascii_digit))
}

/// What the framing-relevant fields said, gathered in one pass.
#[derive(Default)]
struct Fields {
    content_length: Option<u64>,
    cl_count: usize,
    te_seen: bool,
    chunked_count: usize,
    last_chunked: bool,
    other_coding: bool,
    conn_close: bool,
    conn_keep_alive: bool,
    conn_upgrade: bool,
    upgrade_field: bool,
    host_count: usize,
    host_valid: bool,
    expect_continue: bool,
    expect_other: bool,
}

impl Fields {
    fn add(&mut self, name: &[u8], value: &[u8]) -> Result<(), ParseError> {
        if eq_token(name, "content-length") {
            self.cl_count += 1;
            if self.cl_count > 1 {
                return Err(ParseError::Malformed("repeated Content-Length"));
            }
            self.content_length = Some(parse_content_length(value)?);
        } else if eq_token(name, "transfer-encoding") {
            self.te_seen = true;
            for coding in list(value) {
                if self.last_chunked {
                    // Something follows chunked: chunked is not final.
                    return Err(ParseError::Malformed(
                        "chunked is not the final transfer coding",
                    ));
                }
                if eq_token(coding, "chunked") {
                    self.chunked_count += 1;
                    self.last_chunked = true;
                } else {
                    self.other_coding = true;
                }
            }
        } else if eq_token(name, "connection") {
            for t in list(value) {
                if eq_token(t, "close") {
                    self.conn_close = true;
                } else if eq_token(t, "keep-alive") {
                    self.conn_keep_alive = true;
                } else if eq_token(t, "upgrade") {
                    self.conn_upgrade = true;
                }
            }
        } else if eq_token(name, "upgrade") {
            self.upgrade_field = true;
        } else if eq_token(name, "host") {
            self.host_count += 1;
            self.host_valid = valid_host(value);
        } else if eq_token(name, "expect") {
            if eq_token(value, "100-continue") {
                self.expect_continue = true;
            } else {
                self.expect_other = true;
            }
        }
        Ok(())
    }

    /// The body kind from Transfer-Encoding / Content-Length (RFC 9112 6.3).
    fn body(&self, minor: u8) -> Result<BodyKind, ParseError> {
        if self.te_seen {
            if minor == 0 {
                return Err(ParseError::Malformed("Transfer-Encoding in HTTP/1.0"));
            }
            if self.cl_count > 0 {
                return Err(ParseError::Malformed(
                    "Content-Length with Transfer-Encoding",
                ));
            }
            if self.chunked_count > 1 {
                return Err(ParseError::Malformed("chunked applied twice"));
            }
            if !self.last_chunked || self.other_coding {
                return Err(ParseError::UnsupportedTransferCoding);
            }
            return Ok(BodyKind::Chunked);
        }
        Ok(match self.content_length {
            Some(0) | None => BodyKind::Empty,
            Some(n) => BodyKind::Length(n),
        })
    }
}

/// Parses one request head from the start of `buf`.
///
/// * `Ok(Some(n))`: complete; the head (with any leading empty lines, which
///   RFC 9112 section 2.2 lets a server skip) is `buf[..n]`.
/// * `Ok(None)`: incomplete; call again with more bytes.
/// * `Err(e)`: malformed; answer `e.status()` and close.
///
/// ```
/// use nodelike::http::h1::{parse_request_head, BodyKind, Limits, ParseError, ParsedRequest};
/// let mut p = ParsedRequest::default();
/// let l = Limits::default();
/// assert_eq!(parse_request_head(b"GET / HTTP/1.1\r\nHo", &l, &mut p), Ok(None));
/// let buf = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 010\r\n\r\n";
/// assert_eq!(parse_request_head(buf, &l, &mut p), Ok(Some(buf.len())));
/// assert_eq!(p.body, BodyKind::Length(10));
/// let smuggle = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n";
/// assert!(matches!(parse_request_head(smuggle, &l, &mut p), Err(ParseError::Malformed(_))));
/// ```
pub fn parse_request_head(
    buf: &[u8],
    limits: &Limits,
    out: &mut ParsedRequest,
) -> Result<Option<usize>, ParseError> {
    let Some(start) = skip_empty_lines(buf, limits)? else {
        return Ok(None);
    };
    let rest = &buf[start..];
    let cap = limits.max_headers.clamp(1, HEADER_CAP);
    let mut storage = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; HEADER_CAP];
    let mut req = httparse::Request::new(&mut []);
    let n = match req.parse_with_uninit_headers(rest, &mut storage[..cap]) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            // Reject as soon as the limits are known to be broken, so a
            // peer cannot make us buffer without bound.
            let line_done = rest.contains(&b'\n');
            if !line_done && rest.len() > limits.max_target_len + 32 {
                return Err(ParseError::TargetTooLong);
            }
            if buf.len() > limits.max_head_bytes {
                return Err(ParseError::HeadTooLarge);
            }
            check_line_endings(rest, true)?;
            return Ok(None);
        }
        Err(httparse::Error::Version) => return Err(request_version_error(rest, req.path)),
        Err(e) => return Err(map_httparse(e)),
    };
    let head = &rest[..n];
    check_complete_line_endings(
        head,
        req.headers
            .iter()
            .map(|h| range_of(head, h.name.as_bytes()).start),
    )?;
    let method = req.method.unwrap_or("");
    let target = req.path.unwrap_or("");
    let minor = req.version.unwrap_or(1);
    // The more specific limit first: a huge target is a 414, not a 431.
    if target.len() > limits.max_target_len {
        return Err(ParseError::TargetTooLong);
    }
    if start + n > limits.max_head_bytes {
        return Err(ParseError::HeadTooLarge);
    }
    check_target_form(method, target.as_bytes())?;
    out.method = range_of(buf, method.as_bytes());
    out.target = range_of(buf, target.as_bytes());
    out.version_minor = minor;
    out.headers.clear();
    let mut fields = Fields::default();
    for h in req.headers.iter() {
        let value = trim_ows(h.value);
        fields.add(h.name.as_bytes(), value)?;
        out.headers
            .push((range_of(buf, h.name.as_bytes()), range_of(buf, value)));
    }
    if minor == 1 && fields.host_count == 0 {
        return Err(ParseError::Malformed("missing Host header"));
    }
    if fields.host_count > 1 {
        return Err(ParseError::Malformed("repeated Host header"));
    }
    if fields.host_count == 1 && !fields.host_valid {
        return Err(ParseError::Malformed("invalid Host header"));
    }
    out.body = fields.body(minor)?;
    out.keep_alive = !fields.conn_close && (minor == 1 || fields.conn_keep_alive);
    out.expect_continue = minor == 1 && fields.expect_continue && !fields.expect_other;
    out.expect_other = minor == 1 && fields.expect_other;
    out.upgrade = (fields.conn_upgrade && fields.upgrade_field) || method == "CONNECT";
    Ok(Some(start + n))
}

/// Parses one response head from the start of `buf` (for the client).
/// `request_method_is_head`: the request was HEAD, so there is no body.
/// 1xx, 204 and 304 have no body either. Transfer-Encoding wins over
/// Content-Length (and the connection is then not reused); otherwise a
/// body without a length runs to the connection's close.
///
/// ```
/// use nodelike::http::h1::{parse_response_head, BodyKind, Limits, ParsedResponse};
/// let mut p = ParsedResponse::default();
/// let buf = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
/// parse_response_head(buf, false, &Limits::default(), &mut p).unwrap();
/// assert_eq!(p.body, BodyKind::Chunked);
/// parse_response_head(b"HTTP/1.0 200 OK\r\n\r\n", false, &Limits::default(), &mut p).unwrap();
/// assert_eq!((p.body, p.keep_alive), (BodyKind::Eof, false));
/// ```
pub fn parse_response_head(
    buf: &[u8],
    request_method_is_head: bool,
    limits: &Limits,
    out: &mut ParsedResponse,
) -> Result<Option<usize>, ParseError> {
    let Some(start) = skip_empty_lines(buf, limits)? else {
        return Ok(None);
    };
    let rest = &buf[start..];
    let cap = limits.max_headers.clamp(1, HEADER_CAP);
    let mut storage = [httparse::EMPTY_HEADER; HEADER_CAP];
    let mut res = httparse::Response::new(&mut storage[..cap]);
    let n = match res.parse(rest) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            if buf.len() > limits.max_head_bytes {
                return Err(ParseError::HeadTooLarge);
            }
            check_line_endings(rest, true)?;
            return Ok(None);
        }
        Err(e) => return Err(map_httparse(e)),
    };
    let head = &rest[..n];
    check_complete_line_endings(
        head,
        res.headers
            .iter()
            .map(|h| range_of(head, h.name.as_bytes()).start),
    )?;
    if start + n > limits.max_head_bytes {
        return Err(ParseError::HeadTooLarge);
    }
    let status = res.code.unwrap_or(0);
    if !(100..=599).contains(&status) {
        return Err(ParseError::Malformed("status code out of range"));
    }
    let minor = res.version.unwrap_or(1);
    let reason = res.reason.unwrap_or("");
    let reason_range = range_of(buf, reason.as_bytes());
    out.status = status;
    out.reason = reason_range;
    out.version_minor = minor;
    out.headers.clear();
    let mut fields = Fields::default();
    let mut cl_values: Option<u64> = None;
    for h in res.headers.iter() {
        let value = trim_ows(h.value);
        if eq_token(h.name.as_bytes(), "content-length") {
            // Servers may repeat an identical length; differing ones are an error.
            let n = parse_content_length(value)?;
            if cl_values.is_some_and(|prev| prev != n) {
                return Err(ParseError::Malformed("differing Content-Length values"));
            }
            cl_values = Some(n);
        } else if eq_token(h.name.as_bytes(), "transfer-encoding") {
            fields.te_seen = true;
            fields.last_chunked = list(value).last().is_some_and(|c| eq_token(c, "chunked"));
        } else {
            fields.add(h.name.as_bytes(), value)?;
        }
        out.headers
            .push((range_of(buf, h.name.as_bytes()), range_of(buf, value)));
    }
    let mut keep_alive = !fields.conn_close && (minor == 1 || fields.conn_keep_alive);
    out.upgrade = status == 101;
    out.body =
        if request_method_is_head || (100..200).contains(&status) || status == 204 || status == 304
        {
            BodyKind::Empty
        } else if fields.te_seen {
            if cl_values.is_some() {
                keep_alive = false;
            }
            if fields.last_chunked {
                BodyKind::Chunked
            } else {
                keep_alive = false;
                BodyKind::Eof
            }
        } else if let Some(n) = cl_values {
            if n == 0 {
                BodyKind::Empty
            } else {
                BodyKind::Length(n)
            }
        } else {
            keep_alive = false;
            BodyKind::Eof
        };
    out.keep_alive = keep_alive;
    Ok(Some(start + n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_breaks_between_requests_are_counted_up_to_the_request_line() {
        for (input, skipped) in [
            (&b""[..], 0),
            (b"GET / HTTP/1.1\r\n", 0),
            (b"\r\n\r\nGET", 4),
            (b"\n\r\r\n", 4),
            (b"\r", 1),
            (b"\r\n \r\n", 2),
        ] {
            assert_eq!(line_breaks_between_requests(input), skipped, "{input:?}");
        }
    }

    fn parse(buf: &[u8]) -> Result<Option<usize>, ParseError> {
        parse_request_head(buf, &Limits::default(), &mut ParsedRequest::default())
    }

    /// Feeds `msg` whole, in two parts at every offset, and one byte at a
    /// time (as a connection accumulates input); all must agree.
    fn parse_all_ways(msg: &[u8]) -> Result<(usize, ParsedRequest), ParseError> {
        let mut whole = ParsedRequest::default();
        let expected = parse_request_head(msg, &Limits::default(), &mut whole)
            .map(|r| r.map(|n| (n, whole.clone())));
        for split in 0..=msg.len() {
            let mut p = ParsedRequest::default();
            let first = parse_request_head(&msg[..split], &Limits::default(), &mut p);
            match (&first, &expected) {
                (Ok(None), _) => {}
                (Ok(Some(n)), Ok(Some((m, _)))) => assert_eq!(n, m, "split {split}"),
                (Err(a), Err(b)) => {
                    assert_eq!(a, b, "split {split}");
                    continue;
                }
                (got, want) => panic!("split {split}: {got:?} vs {want:?}"),
            }
            let mut p = ParsedRequest::default();
            let second = parse_request_head(msg, &Limits::default(), &mut p);
            assert_eq!(second.is_ok(), expected.is_ok());
        }
        // Byte at a time: the first complete or error result must match.
        let mut p = ParsedRequest::default();
        for end in 1..=msg.len() {
            match parse_request_head(&msg[..end], &Limits::default(), &mut p) {
                Ok(None) => continue,
                Ok(Some(n)) => {
                    let (m, w) = expected
                        .clone()
                        .expect("byte-at-a-time completed but whole failed")
                        .unwrap();
                    assert_eq!((n, &p.headers, p.body), (m, &w.headers, w.body));
                    return Ok((n, p));
                }
                Err(e) => {
                    assert_eq!(Err(e), expected.clone().map(|_| ()));
                    return Err(e);
                }
            }
        }
        expected.map(|r| r.expect("complete"))
    }

    #[test]
    fn valid_requests_parse_the_same_whole_split_and_bytewise() {
        let cases: &[(&[u8], &str, &str, BodyKind, bool)] = &[
            (
                b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                "GET",
                "/",
                BodyKind::Empty,
                true,
            ),
            (
                b"\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n",
                "GET",
                "/a",
                BodyKind::Empty,
                true,
            ),
            (
                b"POST /p?q HTTP/1.1\r\nHost: x\r\nContent-Length: 010\r\n\r\n",
                "POST",
                "/p?q",
                BodyKind::Length(10),
                true,
            ),
            (
                b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n",
                "POST",
                "/",
                BodyKind::Chunked,
                true,
            ),
            (
                b"GET / HTTP/1.0\r\n\r\n",
                "GET",
                "/",
                BodyKind::Empty,
                false,
            ),
            (
                b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
                "GET",
                "/",
                BodyKind::Empty,
                true,
            ),
            (
                b"GET / HTTP/1.1\r\nHost: x\r\nConnection: foo, close\r\n\r\n",
                "GET",
                "/",
                BodyKind::Empty,
                false,
            ),
            (
                b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
                "OPTIONS",
                "*",
                BodyKind::Empty,
                true,
            ),
            (
                b"M-SEARCH * HTTP/1.1\r\nHost: x\r\n\r\n",
                "",
                "",
                BodyKind::Empty,
                true,
            ),
            // The four request-target forms (RFC 9112 section 3.2) that
            // must stay accepted beside the rejections below.
            (
                b"GET http://example.com/x HTTP/1.1\r\nHost: example.com\r\n\r\n",
                "GET",
                "http://example.com/x",
                BodyKind::Empty,
                true,
            ),
            (
                b"GET HTTPS://Example.com HTTP/1.1\r\nHost: example.com\r\n\r\n",
                "GET",
                "HTTPS://Example.com",
                BodyKind::Empty,
                true,
            ),
            (
                b"GET coap+tcp.v-2:x HTTP/1.1\r\nHost: x\r\n\r\n",
                "GET",
                "coap+tcp.v-2:x",
                BodyKind::Empty,
                true,
            ),
            (
                b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
                "CONNECT",
                "example.com:443",
                BodyKind::Empty,
                true,
            ),
            (
                b"CONNECT [::1]:8080 HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
                "CONNECT",
                "[::1]:8080",
                BodyKind::Empty,
                true,
            ),
            (
                b"CONNECT 127.0.0.1:80 HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n",
                "CONNECT",
                "127.0.0.1:80",
                BodyKind::Empty,
                true,
            ),
            (
                b"OPTIONS /x HTTP/1.1\r\nHost: x\r\n\r\n",
                "OPTIONS",
                "/x",
                BodyKind::Empty,
                true,
            ),
            // Extension methods are any token (RFC 9110 section 9.1).
            (
                b"PURGE /cache HTTP/1.1\r\nHost: x\r\n\r\n",
                "PURGE",
                "/cache",
                BodyKind::Empty,
                true,
            ),
            (
                b"M-SEARCH /x HTTP/1.1\r\nHost: x\r\n\r\n",
                "M-SEARCH",
                "/x",
                BodyKind::Empty,
                true,
            ),
        ];
        for (msg, method, target, body, ka) in cases {
            let r = parse_all_ways(msg);
            if method.is_empty() {
                assert!(r.is_err(), "{:?}", String::from_utf8_lossy(msg));
                continue;
            }
            let (n, p) = r.unwrap_or_else(|e| panic!("{e} for {:?}", String::from_utf8_lossy(msg)));
            assert_eq!(n, msg.len());
            assert_eq!(
                (p.method(msg), p.target(msg), p.body, p.keep_alive),
                (*method, *target, *body, *ka)
            );
        }
    }

    #[test]
    fn header_values_are_trimmed_and_obs_text_kept() {
        let msg =
            b"GET / HTTP/1.1\r\nHost: x\r\nX-A:   padded \t \r\nX-B: caf\xe9\r\nX-Empty:\r\n\r\n";
        let (_, p) = parse_all_ways(msg).unwrap();
        let vals: Vec<&[u8]> = p.headers.iter().map(|(_, v)| &msg[v.clone()]).collect();
        assert_eq!(vals, [&b"x"[..], b"padded", b"caf\xe9", b""]);
    }

    #[test]
    fn upgrade_and_expect_are_recognised() {
        let (_, p) =
            parse_all_ways(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n").unwrap();
        assert!(p.upgrade);
        let (_, p) =
            parse_all_ways(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n\r\n").unwrap();
        assert!(!p.upgrade, "no Upgrade field, no upgrade");
        let (_, p) = parse_all_ways(
            b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n",
        )
        .unwrap();
        assert!(p.expect_continue && !p.expect_other);
        let (_, p) =
            parse_all_ways(b"POST / HTTP/1.1\r\nHost: x\r\nExpect: dance\r\n\r\n").unwrap();
        assert!(p.expect_other);
    }

    #[test]
    fn malformed_requests_are_rejected_whole_split_and_bytewise() {
        use ParseError::*;
        let big_target = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(9000));
        let big_head = format!(
            "GET / HTTP/1.1\r\nHost: x\r\nX: {}\r\n\r\n",
            "a".repeat(17000)
        );
        let many: String = (0..101).map(|i| format!("X-{i}: v\r\n")).collect();
        let many = format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n");
        let cases: Vec<(&[u8], ParseError)> = vec![
            (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", Malformed("Content-Length with Transfer-Encoding")),
            (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", Malformed("repeated Content-Length")),
            (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", Malformed("repeated Content-Length")),
            (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\n", Malformed("invalid Content-Length")),
            (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", Malformed("invalid Content-Length")),
            (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x10\r\n\r\n", Malformed("invalid Content-Length")),
            (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\n", Malformed("invalid Content-Length")),
            (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1 2\r\n\r\n", Malformed("invalid Content-Length")),
            (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n", Malformed("empty Content-Length")),
            (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", Malformed("Content-Length overflows")),
            (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", UnsupportedTransferCoding),
            (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", UnsupportedTransferCoding),
            (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n", UnsupportedTransferCoding),
            (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", Malformed("chunked is not the final transfer coding")),
            (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", Malformed("chunked is not the final transfer coding")),
            (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", Malformed("Transfer-Encoding in HTTP/1.0")),
            (b"GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n", Malformed("invalid header value")),
            (b"GET / HTTP/1.1\nHost: x\r\n\r\n", Malformed("bare LF in head")),
            (b"GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n", Malformed("bare LF in head")),
            (b"\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", Malformed("bare LF in head")),
            (b"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n folded\r\n\r\n", Malformed("invalid header name")),
            (b"GET / HTTP/1.1\r\n Host: x\r\n\r\n", Malformed("invalid header name")),
            (b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", Malformed("invalid header name")),
            (b"GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n", Malformed("invalid header value")),
            (b"GET / HTTP/1.1\r\nHost: x\r\nX: a\x7fb\r\n\r\n", Malformed("invalid header value")),
            (b"G@T / HTTP/1.1\r\nHost: x\r\n\r\n", Malformed("invalid token in start line")),
            (b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n", Malformed("invalid token in start line")),
            (b"GET / HTTP/1.1 \r\nHost: x\r\n\r\n", Malformed("invalid line ending")),
            (b"GET / HTTP/1.1\r\n\r\n", Malformed("missing Host header")),
            (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", Malformed("repeated Host header")),
            (b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", Malformed("invalid Host header")),
            (b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", Malformed("invalid Host header")),
            (b"GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", Malformed("invalid Host header")),
            (b"GET * HTTP/1.1\r\nHost: x\r\n\r\n", Malformed("asterisk-form target with a method other than OPTIONS")),
            (b"CONNECT * HTTP/1.1\r\nHost: x\r\n\r\n", Malformed("asterisk-form target with a method other than OPTIONS")),
            // None of RFC 9112 section 3.2's four forms.
            (b"GET u HTTP/1.1\r\nHost: x\r\n\r\n", Malformed("invalid request-target")),
            (b"GET ;a HTTP/1.1\r\nHost: x\r\n\r\n", Malformed("invalid request-target")),
            (b"GET , HTTP/1.1\r\nHost: x\r\n\r\n", Malformed("invalid request-target")),
            (b"GET : HTTP/1.1\r\nHost: x\r\n\r\n", Malformed("invalid request-target")),
            (b"GET +/ HTTP/1.1\r\nHost: x\r\n\r\n", Malformed("invalid request-target")),
            (b"POST :c HTTP/1.1\r\nHost: x\r\n\r\n", Malformed("invalid request-target")),
            (b"GET 1http://x/ HTTP/1.1\r\nHost: x\r\n\r\n", Malformed("invalid request-target")),
            (b"GET ?q HTTP/1.1\r\nHost: x\r\n\r\n", Malformed("invalid request-target")),
            (b"OPTIONS ** HTTP/1.1\r\nHost: x\r\n\r\n", Malformed("invalid request-target")),
            // authority-form is for CONNECT only, and CONNECT takes only it.
            (b"GET 127.0.0.1:80 HTTP/1.1\r\nHost: x\r\n\r\n", Malformed("invalid request-target")),
            (b"GET [::1]:80 HTTP/1.1\r\nHost: x\r\n\r\n", Malformed("invalid request-target")),
            (b"CONNECT / HTTP/1.1\r\nHost: x\r\n\r\n", Malformed("CONNECT needs an authority-form target")),
            (b"CONNECT http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", Malformed("CONNECT needs an authority-form target")),
            (b"CONNECT a HTTP/1.1\r\nHost: a\r\n\r\n", Malformed("CONNECT needs an authority-form target")),
            (b"CONNECT a: HTTP/1.1\r\nHost: a\r\n\r\n", Malformed("CONNECT needs an authority-form target")),
            (b"CONNECT :80 HTTP/1.1\r\nHost: a\r\n\r\n", Malformed("CONNECT needs an authority-form target")),
            (b"CONNECT a:8x HTTP/1.1\r\nHost: a\r\n\r\n", Malformed("CONNECT needs an authority-form target")),
            (b"CONNECT u@a:80 HTTP/1.1\r\nHost: a\r\n\r\n", Malformed("CONNECT needs an authority-form target")),
            (b"CONNECT a/b:80 HTTP/1.1\r\nHost: a\r\n\r\n", Malformed("CONNECT needs an authority-form target")),
            // A version field that does not start with HTTP-name is no
            // version at all: a malformed request line (400), not a 505.
            (b"GET /  HTTP/1.1\r\nHost: x\r\n\r\n", Malformed("invalid HTTP version")),
            (b"GET / \tHTTP/1.1\r\nHost: x\r\n\r\n", Malformed("invalid HTTP version")),
            (b"GET / http/1.1\r\nHost: x\r\n\r\n", Malformed("invalid HTTP version")),
            (b"GET / HTTX/1.1\r\nHost: x\r\n\r\n", Malformed("invalid HTTP version")),
            (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", UnsupportedVersion),
            (b"GET / HTTP/1.2\r\nHost: x\r\n\r\n", UnsupportedVersion),
            (b"GET / HTTP/3\r\nHost: x\r\n\r\n", UnsupportedVersion),
            (big_target.as_bytes(), TargetTooLong),
            (big_head.as_bytes(), HeadTooLarge),
            (many.as_bytes(), TooManyHeaders),
        ];
        for (msg, want) in cases {
            let got = parse_all_ways(msg);
            assert_eq!(
                got.map(|_| ()),
                Err(want),
                "{:?}",
                String::from_utf8_lossy(&msg[..msg.len().min(80)])
            );
        }
    }

    #[test]
    fn partial_heads_over_the_limits_are_rejected_early() {
        let l = Limits::default();
        let long_line = format!("GET /{}", "a".repeat(9000));
        assert_eq!(parse(long_line.as_bytes()), Err(ParseError::TargetTooLong));
        let long_head = format!("GET / HTTP/1.1\r\nHost: x\r\nX: {}", "a".repeat(17000));
        assert_eq!(parse(long_head.as_bytes()), Err(ParseError::HeadTooLarge));
        let crlfs = "\r\n".repeat(l.max_head_bytes);
        assert_eq!(parse(crlfs.as_bytes()), Err(ParseError::HeadTooLarge));
    }

    /// A peer that sends nothing but empty lines must hit the head limit,
    /// not be buffered for ever: the client parsing a response as much as
    /// the server parsing a request.
    #[test]
    fn endless_empty_lines_before_the_start_line_hit_the_head_limit() {
        type Parser = fn(&[u8], &Limits) -> Result<Option<usize>, ParseError>;
        let response: Parser =
            |buf, l| parse_response_head(buf, false, l, &mut ParsedResponse::default());
        let request: Parser = |buf, l| parse_request_head(buf, l, &mut ParsedRequest::default());
        let parsers = [response, request];
        for parse in parsers {
            // The default limit, whole and in a few pieces as a socket
            // delivers them: the end result is the error, never Ok(None).
            let l = Limits::default();
            let crlfs = "\r\n".repeat(l.max_head_bytes + 1);
            let crlfs = crlfs.as_bytes();
            assert_eq!(parse(crlfs, &l), Err(ParseError::HeadTooLarge));
            let mut seen = None;
            for end in (0..crlfs.len()).step_by(4093).chain([crlfs.len()]) {
                match parse(&crlfs[..end], &l) {
                    Ok(None) => assert!(end <= l.max_head_bytes, "Ok(None) at {end}"),
                    Ok(Some(n)) => panic!("complete at {n}"),
                    Err(e) => {
                        seen = Some(e);
                        break;
                    }
                }
            }
            assert_eq!(seen, Some(ParseError::HeadTooLarge));
            // A small limit, split at every offset and one byte at a time:
            // incomplete up to the limit, too large one byte past it.
            let l = Limits {
                max_head_bytes: 64,
                ..Limits::default()
            };
            let crlfs = "\r\n".repeat(l.max_head_bytes + 1);
            let crlfs = crlfs.as_bytes();
            for end in 0..=crlfs.len() {
                let want = if end > l.max_head_bytes {
                    Err(ParseError::HeadTooLarge)
                } else {
                    Ok(None)
                };
                assert_eq!(parse(&crlfs[..end], &l), want, "{end} bytes");
            }
        }
    }

    #[test]
    fn responses_parse_with_framing_rules() {
        let l = Limits::default();
        let mut p = ParsedResponse::default();
        let cases: &[(&[u8], bool, BodyKind, bool)] = &[
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
                false,
                BodyKind::Length(5),
                true,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
                false,
                BodyKind::Length(5),
                true,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
                true,
                BodyKind::Empty,
                true,
            ),
            (
                b"HTTP/1.1 204 No Content\r\n\r\n",
                false,
                BodyKind::Empty,
                true,
            ),
            (
                b"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n",
                false,
                BodyKind::Empty,
                true,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
                false,
                BodyKind::Chunked,
                false,
            ),
            (b"HTTP/1.1 200 OK\r\n\r\n", false, BodyKind::Eof, false),
            (
                b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n",
                false,
                BodyKind::Length(1),
                true,
            ),
        ];
        for (msg, head, body, ka) in cases {
            for split in 0..msg.len() {
                assert_eq!(
                    parse_response_head(&msg[..split], *head, &l, &mut p),
                    Ok(None),
                    "split {split}"
                );
            }
            assert_eq!(
                parse_response_head(msg, *head, &l, &mut p),
                Ok(Some(msg.len()))
            );
            assert_eq!(
                (p.body, p.keep_alive),
                (*body, *ka),
                "{:?}",
                String::from_utf8_lossy(msg)
            );
        }
        // Found by fuzzing: a reason phrase that is not UTF-8 (httparse then
        // returns a static "" that is not a slice of the input).
        let fuzzed = b"HTTP/1.0 111 .P@@M@@@@@@\xff\xff\xff\r\n\r\n";
        assert!(parse_response_head(fuzzed, false, &l, &mut p).is_ok());
        let bad: &[&[u8]] = &[
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            b"HTTP/1.1 099 Low\r\n\r\n",
            b"HTTP/1.1 600 High\r\n\r\n",
            b"HTTP/1.1 200 OK\nX: y\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        ];
        for msg in bad {
            assert!(
                parse_response_head(msg, false, &l, &mut p).is_err(),
                "{:?}",
                String::from_utf8_lossy(msg)
            );
        }
    }
}
