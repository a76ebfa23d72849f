//! Writing messages: status lines, header lines, chunk framing, and the
//! `Date` header value (formatted at most once per second).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The standard reason phrase of a status code ("unknown" when there is
/// none).
///
/// ```text
/// assert_eq!(nodelike::http::h1::encode::reason_phrase(404), "Not Found");
/// ```
pub fn reason_phrase(status: u16) -> &'static str {
    match STATUS_CODES.binary_search_by_key(&status, |&(code, _)| code) {
        Ok(i) => STATUS_CODES[i].1,
        Err(_) => "unknown",
    }
}

/// Every status code Node knows and its reason phrase, in code order
/// (Node's `http.STATUS_CODES`, as of Node 20).
///
/// ```
/// use nodelike::http::STATUS_CODES;
/// assert!(STATUS_CODES.contains(&(418, "I'm a Teapot")));
/// assert!(STATUS_CODES.windows(2).all(|w| w[0].0 < w[1].0));
/// ```
pub const STATUS_CODES: &[(u16, &str)] = &[
    (100, "Continue"),
    (101, "Switching Protocols"),
    (102, "Processing"),
    (103, "Early Hints"),
    (200, "OK"),
    (201, "Created"),
    (202, "Accepted"),
    (203, "Non-Authoritative Information"),
    (204, "No Content"),
    (205, "Reset Content"),
    (206, "Partial Content"),
    (207, "Multi-Status"),
    (208, "Already Reported"),
    (226, "IM Used"),
    (300, "Multiple Choices"),
    (301, "Moved Permanently"),
    (302, "Found"),
    (303, "See Other"),
    (304, "Not Modified"),
    (305, "Use Proxy"),
    (307, "Temporary Redirect"),
    (308, "Permanent Redirect"),
    (400, "Bad Request"),
    (401, "Unauthorized"),
    (402, "Payment Required"),
    (403, "Forbidden"),
    (404, "Not Found"),
    (405, "Method Not Allowed"),
    (406, "Not Acceptable"),
    (407, "Proxy Authentication Required"),
    (408, "Request Timeout"),
    (409, "Conflict"),
    (410, "Gone"),
    (411, "Length Required"),
    (412, "Precondition Failed"),
    (413, "Payload Too Large"),
    (414, "URI Too Long"),
    (415, "Unsupported Media Type"),
    (416, "Range Not Satisfiable"),
    (417, "Expectation Failed"),
    (418, "I'm a Teapot"),
    (421, "Misdirected Request"),
    (422, "Unprocessable Entity"),
    (423, "Locked"),
    (424, "Failed Dependency"),
    (425, "Too Early"),
    (426, "Upgrade Required"),
    (428, "Precondition Required"),
    (429, "Too Many Requests"),
    (431, "Request Header Fields Too Large"),
    (451, "Unavailable For Legal Reasons"),
    (500, "Internal Server Error"),
    (501, "Not Implemented"),
    (502, "Bad Gateway"),
    (503, "Service Unavailable"),
    (504, "Gateway Timeout"),
    (505, "HTTP Version Not Supported"),
    (506, "Variant Also Negotiates"),
    (507, "Insufficient Storage"),
    (508, "Loop Detected"),
    (509, "Bandwidth Limit Exceeded"),
    (510, "Not Extended"),
    (511, "Network Authentication Required"),
];

/// The request methods Node's parser knows, sorted (Node's
/// `http.METHODS`, as of Node 20). Any other token is accepted too, as RFC
/// 9110 allows.
///
/// ```
/// assert!(nodelike::http::METHODS.contains(&"PATCH"));
/// ```
pub const METHODS: &[&str] = &[
    "ACL",
    "BIND",
    "CHECKOUT",
    "CONNECT",
    "COPY",
    "DELETE",
    "GET",
    "HEAD",
    "LINK",
    "LOCK",
    "M-SEARCH",
    "MERGE",
    "MKACTIVITY",
    "MKCALENDAR",
    "MKCOL",
    "MOVE",
    "NOTIFY",
    "OPTIONS",
    "PATCH",
    "POST",
    "PROPFIND",
    "PROPPATCH",
    "PURGE",
    "PUT",
    "QUERY",
    "REBIND",
    "REPORT",
    "SEARCH",
    "SOURCE",
    "SUBSCRIBE",
    "TRACE",
    "UNBIND",
    "UNLINK",
    "UNLOCK",
    "UNSUBSCRIBE",
];

/// Appends `HTTP/1.1 {status} {reason}\r\n`.
///
/// ```text
/// let mut out = Vec::new();
/// nodelike::http::h1::encode::write_status_line(&mut out, 200, "OK");
/// assert_eq!(out, b"HTTP/1.1 200 OK\r\n");
/// ```
pub fn write_status_line(out: &mut Vec<u8>, status: u16, reason: &str) {
    out.extend_from_slice(b"HTTP/1.1 ");
    let s = status.min(999);
    out.extend_from_slice(&[
        b'0' + (s / 100) as u8,
        b'0' + (s / 10 % 10) as u8,
        b'0' + (s % 10) as u8,
        b' ',
    ]);
    out.extend_from_slice(reason.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Appends `name: value\r\n` (validate first with
/// [`is_valid_header_name`] and [`is_valid_header_value`]).
///
/// ```text
/// let mut out = Vec::new();
/// nodelike::http::h1::encode::write_header(&mut out, "Content-Type", "text/plain");
/// assert_eq!(out, b"Content-Type: text/plain\r\n");
/// ```
pub fn write_header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    write_header_value(out, value);
    out.extend_from_slice(b"\r\n");
}

/// Appends a header value as Node writes one: latin-1, one byte per char,
/// when every char fits (so a value read from the wire goes back
/// byte-identical, `é` as `0xE9`); otherwise (a char past U+00FF, which
/// Node would refuse) its UTF-8 bytes.
pub fn write_header_value(out: &mut Vec<u8>, value: &str) {
    if value.is_ascii() || value.chars().any(|c| u32::from(c) > 0xFF) {
        out.extend_from_slice(value.as_bytes());
    } else {
        out.extend(value.chars().map(|c| u32::from(c) as u8));
    }
}

/// Appends `n` in decimal, without allocating.
///
/// ```text
/// let mut out = Vec::new();
/// nodelike::http::h1::encode::write_decimal(&mut out, 1234);
/// assert_eq!(out, b"1234");
/// ```
pub fn write_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Appends `{hex len}\r\n` (the head of one chunk).
///
/// ```text
/// let mut out = Vec::new();
/// nodelike::http::h1::encode::write_chunk_head(&mut out, 255);
/// assert_eq!(out, b"ff\r\n");
/// ```
pub fn write_chunk_head(out: &mut Vec<u8>, len: usize) {
    let mut digits = [0u8; 16];
    let mut i = digits.len();
    let mut n = len;
    loop {
        i -= 1;
        digits[i] = b"0123456789abcdef"[n & 15];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
    out.extend_from_slice(b"\r\n");
}

/// Appends one chunk: size line, data, CRLF. Empty data writes nothing (an
/// empty chunk would end the body).
///
/// ```text
/// let mut out = Vec::new();
/// nodelike::http::h1::encode::write_chunk(&mut out, b"hello");
/// nodelike::http::h1::encode::write_chunk(&mut out, b"");
/// assert_eq!(out, b"5\r\nhello\r\n");
/// ```
pub fn write_chunk(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    write_chunk_head(out, data.len());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Appends the last chunk, trailer lines, and the final CRLF.
///
/// ```text
/// let mut out = Vec::new();
/// nodelike::http::h1::encode::write_last_chunk(&mut out, &[("X-Sum".into(), "1".into())]);
/// assert_eq!(out, b"0\r\nX-Sum: 1\r\n\r\n");
/// ```
pub fn write_last_chunk(out: &mut Vec<u8>, trailers: &[(String, String)]) {
    out.extend_from_slice(b"0\r\n");
    for (n, v) in trailers {
        write_header(out, n, v);
    }
    out.extend_from_slice(b"\r\n");
}

/// Whether `b` may appear in an RFC 9110 token (method, header name).
///
/// ```text
/// assert!(nodelike::http::h1::encode::is_token_byte(b'-'));
/// assert!(!nodelike::http::h1::encode::is_token_byte(b':'));
/// ```
pub fn is_token_byte(b: u8) -> bool {
    TOKEN[b as usize]
}

/// RFC 9110 `tchar`, as a table: one load per byte on the hot path.
static TOKEN: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        i += 1;
    }
    t
};

/// Whether `name` is a valid header name (a non-empty token).
///
/// ```text
/// use nodelike::http::h1::encode::is_valid_header_name;
/// assert!(is_valid_header_name("X-Test"));
/// assert!(!is_valid_header_name("Bad Name"));
/// assert!(!is_valid_header_name(""));
/// ```
pub fn is_valid_header_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(is_token_byte)
}

/// Whether `value` may be sent as a header value: no CR, LF, NUL or other
/// control bytes except HTAB (which would let a value smuggle a header).
///
/// ```text
/// use nodelike::http::h1::encode::is_valid_header_value;
/// assert!(is_valid_header_value("text/plain; q=1"));
/// assert!(!is_valid_header_value("a\r\nX-Evil: 1"));
/// ```
pub fn is_valid_header_value(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// Whether `m` is a valid method (a non-empty token).
///
/// ```text
/// assert!(nodelike::http::h1::encode::is_valid_method("PROPFIND"));
/// assert!(!nodelike::http::h1::encode::is_valid_method("GET /"));
/// ```
pub fn is_valid_method(m: &str) -> bool {
    is_valid_header_name(m)
}

/// Whether `t` may be sent as a request-target: non-empty, no whitespace or
/// control bytes.
///
/// ```text
/// assert!(nodelike::http::h1::encode::is_valid_request_target("/a?b=c"));
/// assert!(!nodelike::http::h1::encode::is_valid_request_target("/a b"));
/// ```
pub fn is_valid_request_target(t: &str) -> bool {
    !t.is_empty() && t.bytes().all(|b| b > 0x20 && b != 0x7f)
}

/// The `Date` header value (IMF-fixdate, 29 bytes), formatted at most once
/// per second however many responses ask for it.
///
/// ```text
/// use std::time::{Duration, UNIX_EPOCH};
/// let mut cache = nodelike::http::h1::DateCache::new();
/// let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
/// assert_eq!(cache.get(t), "Sun, 06 Nov 1994 08:49:37 GMT");
/// ```
#[derive(Debug)]
pub struct DateCache {
    second: u64,
    text: String,
    /// Until this instant the cached second is still current, so the wall
    /// clock need not be read (see [`get_at`](DateCache::get_at)).
    valid_until: Option<Instant>,
}

impl Default for DateCache {
    fn default() -> Self {
        DateCache::new()
    }
}

impl DateCache {
    /// An empty cache (the first `get` formats).
    ///
    /// ```text
    /// let _cache = nodelike::http::h1::DateCache::new();
    /// ```
    pub fn new() -> Self {
        DateCache {
            second: u64::MAX,
            text: String::with_capacity(29),
            valid_until: None,
        }
    }

    /// The value for `now`, reformatted only when the second changed.
    ///
    /// ```text
    /// let mut cache = nodelike::http::h1::DateCache::new();
    /// assert!(cache.get(std::time::SystemTime::now()).ends_with(" GMT"));
    /// ```
    pub fn get(&mut self, now: SystemTime) -> &str {
        let secs = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        if secs != self.second {
            self.second = secs;
            self.text.clear();
            let formatted = format_imf_fixdate(secs);
            self.text.push_str(
                std::str::from_utf8(&formatted).unwrap_or("Thu, 01 Jan 1970 00:00:00 GMT"),
            );
        }
        &self.text
    }

    /// The value at monotonic instant `now` (the event loop's cached time):
    /// the wall clock is read only when a new second may have begun, so a
    /// busy server pays one comparison per response.
    ///
    /// ```text
    /// let mut cache = nodelike::http::h1::DateCache::new();
    /// let now = std::time::Instant::now();
    /// let first = cache.get_at(now).to_owned();
    /// assert_eq!(cache.get_at(now), first);
    /// ```
    pub fn get_at(&mut self, now: Instant) -> &str {
        if self.valid_until.is_none_or(|until| now >= until) {
            let wall = SystemTime::now();
            let into_second = wall
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .subsec_nanos();
            self.valid_until =
                Some(now + Duration::from_nanos(u64::from(1_000_000_000 - into_second)));
            self.get(wall);
        }
        &self.text
    }
}

pub(crate) fn format_imf_fixdate(secs: u64) -> [u8; 29] {
    const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (hh, mm, ss) = (rem / 3600, rem / 60 % 60, rem % 60);
    // Civil-from-days (Howard Hinnant's algorithm), days since 1970-01-01.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u64;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as usize;
    let year = (yoe + era * 400 + i64::from(month <= 2)).clamp(0, 9999) as u64;
    let mut t = [0u8; 29];
    t[..3].copy_from_slice(DAYS[(days % 7) as usize]);
    t[3..5].copy_from_slice(b", ");
    let two = |n: u64| [b'0' + (n / 10) as u8, b'0' + (n % 10) as u8];
    t[5..7].copy_from_slice(&two(day));
    t[7] = b' ';
    t[8..11].copy_from_slice(MONTHS[month - 1]);
    t[11] = b' ';
    t[12..14].copy_from_slice(&two(year / 100));
    t[14..16].copy_from_slice(&two(year % 100));
    t[16] = b' ';
    t[17..19].copy_from_slice(&two(hh));
    t[19] = b':';
    t[20..22].copy_from_slice(&two(mm));
    t[22] = b':';
    t[23..25].copy_from_slice(&two(ss));
    t[25..29].copy_from_slice(b" GMT");
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_format_like_rfc_9110() {
        let at = |s| {
            DateCache::new()
                .get(UNIX_EPOCH + Duration::from_secs(s))
                .to_owned()
        };
        assert_eq!(at(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(at(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(at(1_798_761_599), "Thu, 31 Dec 2026 23:59:59 GMT");
        assert_eq!(at(4_107_542_400), "Mon, 01 Mar 2100 00:00:00 GMT");
    }

    #[test]
    fn decimal_and_hex_framing() {
        for n in [0u64, 9, 10, 12345, u64::MAX] {
            let mut out = Vec::new();
            write_decimal(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
        for n in [0usize, 1, 15, 16, 4096, usize::MAX] {
            let mut out = Vec::new();
            write_chunk_head(&mut out, n);
            assert_eq!(out, format!("{n:x}\r\n").as_bytes());
        }
    }
}

/// The examples of this module's docs (its items are the crate's own, so
/// they cannot be doctests), run as unit tests.
#[cfg(test)]
mod doc_examples {
    #[test]
    fn doc_example_1() {
        assert_eq!(super::reason_phrase(404), "Not Found");
    }

    #[test]
    fn doc_example_2() {
        use crate::http::STATUS_CODES;
        assert!(STATUS_CODES.contains(&(418, "I'm a Teapot")));
        assert!(STATUS_CODES.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn doc_example_3() {
        assert!(crate::http::METHODS.contains(&"PATCH"));
    }

    #[test]
    fn doc_example_4() {
        let mut out = Vec::new();
        super::write_status_line(&mut out, 200, "OK");
        assert_eq!(out, b"HTTP/1.1 200 OK\r\n");
    }

    #[test]
    fn doc_example_5() {
        let mut out = Vec::new();
        super::write_header(&mut out, "Content-Type", "text/plain");
        assert_eq!(out, b"Content-Type: text/plain\r\n");
    }

    #[test]
    fn doc_example_6() {
        let mut out = Vec::new();
        super::write_decimal(&mut out, 1234);
        assert_eq!(out, b"1234");
    }

    #[test]
    fn doc_example_7() {
        let mut out = Vec::new();
        super::write_chunk_head(&mut out, 255);
        assert_eq!(out, b"ff\r\n");
    }

    #[test]
    fn doc_example_8() {
        let mut out = Vec::new();
        super::write_chunk(&mut out, b"hello");
        super::write_chunk(&mut out, b"");
        assert_eq!(out, b"5\r\nhello\r\n");
    }

    #[test]
    fn doc_example_9() {
        let mut out = Vec::new();
        super::write_last_chunk(&mut out, &[("X-Sum".into(), "1".into())]);
        assert_eq!(out, b"0\r\nX-Sum: 1\r\n\r\n");
    }

    #[test]
    fn doc_example_10() {
        assert!(super::is_token_byte(b'-'));
        assert!(!super::is_token_byte(b':'));
    }

    #[test]
    fn doc_example_11() {
        use super::is_valid_header_name;
        assert!(is_valid_header_name("X-Test"));
        assert!(!is_valid_header_name("Bad Name"));
        assert!(!is_valid_header_name(""));
    }

    #[test]
    fn doc_example_12() {
        use super::is_valid_header_value;
        assert!(is_valid_header_value("text/plain; q=1"));
        assert!(!is_valid_header_value("a\r\nX-Evil: 1"));
    }

    #[test]
    fn doc_example_13() {
        assert!(super::is_valid_method("PROPFIND"));
        assert!(!super::is_valid_method("GET /"));
    }

    #[test]
    fn doc_example_14() {
        assert!(super::is_valid_request_target("/a?b=c"));
        assert!(!super::is_valid_request_target("/a b"));
    }

    #[test]
    fn doc_example_15() {
        use std::time::{Duration, UNIX_EPOCH};
        let mut cache = super::DateCache::new();
        let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(cache.get(t), "Sun, 06 Nov 1994 08:49:37 GMT");
    }

    #[test]
    fn doc_example_16() {
        let _cache = super::DateCache::new();
    }

    #[test]
    fn doc_example_17() {
        let mut cache = super::DateCache::new();
        assert!(cache.get(std::time::SystemTime::now()).ends_with(" GMT"));
    }

    #[test]
    fn doc_example_18() {
        let mut cache = super::DateCache::new();
        let now = std::time::Instant::now();
        let first = cache.get_at(now).to_owned();
        assert_eq!(cache.get_at(now), first);
    }

    #[test]
    fn header_values_are_written_as_latin1_when_every_char_fits() {
        let mut out = Vec::new();
        super::write_header(&mut out, "X-A", "café");
        assert_eq!(out, b"X-A: caf\xe9\r\n");
        out.clear();
        // A char past U+00FF (Node refuses it): its UTF-8 bytes.
        super::write_header(&mut out, "X-B", "€1");
        assert_eq!(out, "X-B: €1\r\n".as_bytes());
        // Every byte read as latin-1 goes back as the same byte.
        let bytes: Vec<u8> = (0x20..=0xff).filter(|&b| b != 0x7f).collect();
        let text = crate::http::h1::latin1(&bytes).into_owned();
        out.clear();
        super::write_header_value(&mut out, &text);
        assert_eq!(out, bytes);
    }
}
