//! Decoded header sections: [`HeaderList`], a borrowed view of the
//! fields in a buffer the connection reuses from one section to the next
//! (no allocation per request once it has grown), and the checks of RFC
//! 9113 §8.2–§8.3 that make a section well-formed; and [`ToField`],
//! what the sending calls accept as a field.

use super::hpack::Field;

/// Where one field sits in the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    start: u32,
    name_len: u32,
    value_len: u32,
}

/// The connection's reusable buffer of decoded fields: names and values
/// packed one after the other, and their spans.
#[derive(Debug, Default)]
pub(crate) struct FieldBuf {
    bytes: Vec<u8>,
    spans: Vec<Span>,
}

impl FieldBuf {
    /// Empties the buffer, keeping its capacity.
    pub(crate) fn clear(&mut self) {
        self.bytes.clear();
        self.spans.clear();
    }

    /// Appends one field. The decoder caps the list at
    /// max_header_list_size, far below 4 GiB, so the u32 offsets hold;
    /// a field that would not fit is dropped rather than mis-recorded.
    pub(crate) fn push(&mut self, name: &[u8], value: &[u8]) {
        let (Ok(start), Ok(name_len), Ok(value_len)) = (
            u32::try_from(self.bytes.len()),
            u32::try_from(name.len()),
            u32::try_from(value.len()),
        ) else {
            return;
        };
        self.bytes.extend_from_slice(name);
        self.bytes.extend_from_slice(value);
        self.spans.push(Span {
            start,
            name_len,
            value_len,
        });
    }

    /// Bytes plus spans reserved (tests check they settle).
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.bytes.capacity() + self.spans.capacity()
    }

    pub(crate) fn view(&self) -> HeaderList<'_> {
        HeaderList {
            bytes: &self.bytes,
            spans: &self.spans,
        }
    }
}

/// One header section as received (pseudo-header fields first, as the
/// peer sent them, then regular fields), already checked to be
/// well-formed. Names are lowercase. Iterate for `(name, value)` pairs;
/// [`HeaderList::get`] finds the first field of a name.
///
/// It borrows the [`Connection`](super::Connection) until the next
/// `poll`: copy what must outlive that.
///
/// ```
/// use nodelike::http::h2::{Config, Connection, Event, Role};
/// let (mut client, mut server) = (Connection::new(Role::Client, Config::default()),
///                                 Connection::new(Role::Server, Config::default()));
/// let mut wire = Vec::new();
/// client.start(&mut wire);
/// client.open_stream(&[(&b":method"[..], &b"GET"[..]), (b":scheme", b"https"),
///                      (b":path", b"/"), (b":authority", b"x"), (b"accept", b"*/*")],
///                    true, &mut wire).unwrap();
/// let mut out = Vec::new();
/// let mut pos = 0;
/// loop {
///     let (n, event) = server.poll(&wire[pos..], &mut out).unwrap();
///     pos += n;
///     if let Some(Event::Headers { fields, .. }) = event {
///         assert_eq!(fields.get(b":path"), Some(&b"/"[..]));
///         assert_eq!(fields.iter().last(), Some((&b"accept"[..], &b"*/*"[..])));
///         assert_eq!(fields.len(), 5);
///         break;
///     }
/// }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct HeaderList<'c> {
    bytes: &'c [u8],
    spans: &'c [Span],
}

impl<'c> HeaderList<'c> {
    /// The fields in order, as `(name, value)`.
    ///
    /// See [`HeaderList`] for an example.
    pub fn iter(&self) -> HeaderIter<'c> {
        HeaderIter {
            bytes: self.bytes,
            spans: self.spans.iter(),
        }
    }

    /// The value of the first field named `name` (lowercase).
    ///
    /// See [`HeaderList`] for an example.
    pub fn get(&self, name: &[u8]) -> Option<&'c [u8]> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// How many fields there are.
    ///
    /// See [`HeaderList`] for an example.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether there are none.
    ///
    /// See [`HeaderList`] for an example.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
}

impl<'c> IntoIterator for HeaderList<'c> {
    type Item = (&'c [u8], &'c [u8]);
    type IntoIter = HeaderIter<'c>;
    fn into_iter(self) -> HeaderIter<'c> {
        self.iter()
    }
}

/// The `(name, value)` pairs of a [`HeaderList`], in order (no
/// allocation: it walks the connection's buffer).
///
/// ```
/// # use nodelike::http::h2::{Config, Connection, Event, Role};
/// # let (mut client, mut server) = (Connection::new(Role::Client, Config::default()),
/// #                                 Connection::new(Role::Server, Config::default()));
/// # let mut wire = Vec::new();
/// # client.start(&mut wire);
/// # client.open_stream(&[(&b":method"[..], &b"GET"[..]), (b":scheme", b"https"), (b":path", b"/")],
/// #                    true, &mut wire).unwrap();
/// # let (n, _) = server.poll(&wire, &mut Vec::new()).unwrap();
/// # let (m, _) = server.poll(&wire[n..], &mut Vec::new()).unwrap();
/// # let (_, event) = server.poll(&wire[n + m..], &mut Vec::new()).unwrap();
/// if let Some(Event::Headers { fields, .. }) = event {
///     let names: Vec<&[u8]> = fields.into_iter().map(|(name, _)| name).collect();
///     assert_eq!(names, [&b":method"[..], b":scheme", b":path"]);
/// }
/// # else { panic!() }
/// ```
#[derive(Debug, Clone)]
pub struct HeaderIter<'c> {
    bytes: &'c [u8],
    spans: std::slice::Iter<'c, Span>,
}

impl<'c> Iterator for HeaderIter<'c> {
    type Item = (&'c [u8], &'c [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let s = self.spans.next()?;
        let start = s.start as usize;
        let mid = start + s.name_len as usize;
        let end = mid + s.value_len as usize;
        // Spans were recorded from this very buffer, so they are in
        // bounds; `get` keeps even a bug from panicking.
        Some((
            self.bytes.get(start..mid).unwrap_or_default(),
            self.bytes.get(mid..end).unwrap_or_default(),
        ))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.spans.size_hint()
    }
}

/// Which header section is being checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SectionKind {
    Request,
    Response,
    Trailers,
}

/// What the connection needs from a well-formed section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct SectionInfo {
    pub(crate) content_length: Option<u64>,
    /// A response's status.
    pub(crate) status: u16,
    /// A request with `:method HEAD`.
    pub(crate) head_method: bool,
}

/// The request pseudo-header fields we know, as bits for duplicate checks.
const METHOD: u8 = 1;
const SCHEME: u8 = 2;
const PATH: u8 = 4;
const AUTHORITY: u8 = 8;
const STATUS: u8 = 16;

/// §8.2.1: no control bytes, space, uppercase, DEL or non-ASCII; no colon
/// but the pseudo-header's leading one (stripped before this).
fn valid_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name
            .iter()
            .all(|&b| b > 0x20 && b < 0x7f && !b.is_ascii_uppercase() && b != b':')
}

/// §8.2.1: no NUL, CR or LF, and no leading or trailing space or tab.
fn valid_value(value: &[u8]) -> bool {
    let edge = |b: Option<&u8>| matches!(b, Some(b' ') | Some(b'\t'));
    !value.iter().any(|&b| b == 0 || b == b'\r' || b == b'\n')
        && !edge(value.first())
        && !edge(value.last())
}

/// Whether two authorities (`host[:port]`) name the same entity after
/// the scheme-based normalization RFC 9113 §8.3.1 asks of every server
/// (RFC 3986 §6.2.3): the host compared case-insensitively, and an empty
/// port or the scheme's default port the same as none.
fn same_authority(a: &[u8], b: &[u8], scheme: &[u8]) -> bool {
    let default_port: &[u8] = match scheme {
        b"http" => b"80",
        b"https" => b"443",
        _ => b"",
    };
    let normalize = |v| split_authority(v, default_port);
    let ((ha, pa), (hb, pb)) = (normalize(a), normalize(b));
    ha.eq_ignore_ascii_case(hb) && pa == pb
}

/// `host[:port]` as (host, port), the port empty when absent or the
/// scheme's default. The port follows the last colon unless that colon is
/// inside an IPv6 literal (`[::1]`).
fn split_authority<'v>(v: &'v [u8], default_port: &[u8]) -> (&'v [u8], &'v [u8]) {
    let colon = v
        .iter()
        .rposition(|&c| c == b':')
        .filter(|&i| !v.get(i..).unwrap_or_default().contains(&b']'));
    let (host, port) = match colon {
        Some(i) => (
            v.get(..i).unwrap_or_default(),
            v.get(i + 1..).unwrap_or_default(),
        ),
        None => (v, &b""[..]),
    };
    (host, if port == default_port { &b""[..] } else { port })
}

fn parse_decimal(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0u64, |n, &b| {
        if !b.is_ascii_digit() {
            return None;
        }
        n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

/// Checks a decoded section (RFC 9113 §8.2, §8.3): the reason when it is
/// malformed, which the connection turns into a stream PROTOCOL_ERROR.
pub(crate) fn check(list: HeaderList<'_>, kind: SectionKind) -> Result<SectionInfo, &'static str> {
    let mut info = SectionInfo::default();
    let mut seen = 0u8;
    let mut regular_seen = false;
    let mut connect = false;
    let (mut scheme, mut authority, mut host) = (None, None, None);
    for (name, value) in list.iter() {
        if !valid_value(value) {
            return Err("invalid field value");
        }
        if let Some(pseudo) = name.strip_prefix(b":") {
            if regular_seen {
                return Err("pseudo-header after a regular field");
            }
            let bit = match (kind, pseudo) {
                (SectionKind::Request, b"method") => METHOD,
                (SectionKind::Request, b"scheme") => SCHEME,
                (SectionKind::Request, b"path") => PATH,
                (SectionKind::Request, b"authority") => AUTHORITY,
                (SectionKind::Response, b"status") => STATUS,
                (SectionKind::Trailers, _) => return Err("pseudo-header in trailers"),
                _ => return Err("unknown pseudo-header"),
            };
            if seen & bit != 0 {
                return Err("duplicate pseudo-header");
            }
            seen |= bit;
            match bit {
                METHOD => {
                    connect = value == b"CONNECT";
                    info.head_method = value == b"HEAD";
                    if value.is_empty() {
                        return Err("empty :method");
                    }
                }
                PATH if value.is_empty() => return Err("empty :path"),
                SCHEME => scheme = Some(value),
                AUTHORITY => authority = Some(value),
                STATUS => {
                    let status = match value {
                        [a, b, c] if value.iter().all(u8::is_ascii_digit) => {
                            u16::from(a - b'0') * 100
                                + u16::from(b - b'0') * 10
                                + u16::from(c - b'0')
                        }
                        _ => return Err("invalid :status"),
                    };
                    // §8.6: 101 does not exist in HTTP/2.
                    if !(100..=999).contains(&status) || status == 101 {
                        return Err("invalid :status");
                    }
                    info.status = status;
                }
                _ => {}
            }
            continue;
        }
        regular_seen = true;
        if !valid_name(name) {
            return Err("invalid field name");
        }
        match name {
            b"connection" | b"keep-alive" | b"proxy-connection" | b"transfer-encoding"
            | b"upgrade" => return Err("connection-specific field"),
            b"te" if value != b"trailers" => return Err("te other than trailers"),
            b"host" if kind == SectionKind::Request && host.is_none() => host = Some(value),
            b"content-length" if kind != SectionKind::Trailers => {
                let n = parse_decimal(value).ok_or("invalid content-length")?;
                if info.content_length.is_some_and(|m| m != n) {
                    return Err("conflicting content-length");
                }
                info.content_length = Some(n);
            }
            _ => {}
        }
    }
    let required = match kind {
        // §8.5: CONNECT names only the authority.
        SectionKind::Request if connect => (METHOD | AUTHORITY, METHOD | AUTHORITY | SCHEME | PATH),
        SectionKind::Request => (METHOD | SCHEME | PATH, METHOD | SCHEME | PATH),
        SectionKind::Response => (STATUS, STATUS),
        SectionKind::Trailers => (0, 0),
    };
    // (what must be there, out of which pseudo-headers checked)
    let (must, among) = required;
    if seen & among != must {
        return Err(match kind {
            SectionKind::Request if connect => "CONNECT needs :authority and no :scheme or :path",
            SectionKind::Request => "missing :method, :scheme or :path",
            _ => "missing :status",
        });
    }
    // §8.3.1: a Host naming another entity than :authority is malformed
    // (a SHOULD): a router or a log that reads one and an origin check that
    // reads the other would otherwise disagree about where the request
    // goes.
    if let (Some(authority), Some(host)) = (authority, host) {
        if !same_authority(authority, host, scheme.unwrap_or_default()) {
            return Err("host differs from :authority");
        }
    }
    Ok(info)
}

/// Something that can be sent as one header field: an HPACK
/// [`Field`](super::hpack::Field) (full control, including `sensitive`),
/// or a `(name, value)` pair of byte slices, for which `authorization`,
/// `proxy-authorization` and `cookie` are sent never-indexed (RFC 7541
/// §7.1.3: a secret kept out of the compression tables cannot be probed
/// by a CRIME-style attack). Names must already be lowercase.
///
/// ```
/// use nodelike::http::h2::ToField;
/// let f = (&b"authorization"[..], &b"secret"[..]).to_field();
/// assert!(f.sensitive);
/// assert!(!(&b"accept"[..], &b"*/*"[..]).to_field().sensitive);
/// ```
pub trait ToField<'a> {
    /// The field to encode.
    ///
    /// See [`ToField`] for an example.
    fn to_field(self) -> Field<'a>;
}

impl<'a> ToField<'a> for Field<'a> {
    fn to_field(self) -> Field<'a> {
        self
    }
}

impl<'a> ToField<'a> for (&'a [u8], &'a [u8]) {
    fn to_field(self) -> Field<'a> {
        let (name, value) = self;
        let sensitive = matches!(name, b"authorization" | b"proxy-authorization" | b"cookie");
        Field {
            name,
            value,
            sensitive,
        }
    }
}

impl<'a> ToField<'a> for &(&'a [u8], &'a [u8]) {
    fn to_field(self) -> Field<'a> {
        (*self).to_field()
    }
}

/// Whether a field is one HTTP/2 forbids (RFC 9113 §8.2.2): it describes
/// one HTTP/1.1 hop (`connection`, `keep-alive`, `proxy-connection`,
/// `transfer-encoding`, `upgrade`, `http2-settings`), or is `te` with any
/// value but `trailers`. Names compare case-insensitively, so the server
/// and the client can drop such fields a handler set before lowercasing.
pub(crate) fn is_connection_specific(name: &[u8], value: &[u8]) -> bool {
    if name.eq_ignore_ascii_case(b"te") {
        return !value.eq_ignore_ascii_case(b"trailers");
    }
    [
        &b"connection"[..],
        b"keep-alive",
        b"proxy-connection",
        b"transfer-encoding",
        b"upgrade",
        b"http2-settings",
    ]
    .iter()
    .any(|n| n.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_fields_are_told_apart_whatever_their_case() {
        for name in [
            "Connection",
            "keep-alive",
            "Proxy-Connection",
            "Transfer-Encoding",
            "upgrade",
            "HTTP2-Settings",
        ] {
            assert!(is_connection_specific(name.as_bytes(), b"x"), "{name}");
        }
        assert!(is_connection_specific(b"TE", b"gzip"));
        assert!(!is_connection_specific(b"te", b"Trailers"));
        assert!(!is_connection_specific(b"content-type", b"text/plain"));
    }

    fn section(fields: &[(&str, &str)], kind: SectionKind) -> Result<SectionInfo, &'static str> {
        let mut buf = FieldBuf::default();
        for (n, v) in fields {
            buf.push(n.as_bytes(), v.as_bytes());
        }
        check(buf.view(), kind)
    }

    const GET: [(&str, &str); 4] = [
        (":method", "GET"),
        (":scheme", "https"),
        (":path", "/"),
        (":authority", "example.com"),
    ];

    fn request_with(extra: &[(&str, &str)]) -> Result<SectionInfo, &'static str> {
        let mut fields = GET.to_vec();
        fields.extend_from_slice(extra);
        section(&fields, SectionKind::Request)
    }

    #[test]
    fn a_plain_request_and_response_pass() {
        assert_eq!(
            request_with(&[("accept", "*/*")]),
            Ok(SectionInfo::default())
        );
        let info = section(
            &[(":status", "200"), ("content-length", "5")],
            SectionKind::Response,
        )
        .unwrap();
        assert_eq!((info.status, info.content_length), (200, Some(5)));
        assert!(section(&[("x-checksum", "abc")], SectionKind::Trailers).is_ok());
    }

    #[test]
    fn a_host_naming_another_entity_than_the_authority_is_malformed() {
        // RFC 9113 §8.3.1, with the scheme-based normalization it asks for.
        let same = [
            "example.com",
            "EXAMPLE.com",
            "example.com:443",
            "example.com:",
        ];
        for host in same {
            assert!(request_with(&[("host", host)]).is_ok(), "{host}");
        }
        let differ = ["example.com.different", "example.com:8443", "other"];
        for host in differ {
            assert_eq!(
                request_with(&[("host", host)]),
                Err("host differs from :authority"),
                "{host}"
            );
        }
        // http's default port is 80, not 443.
        let http = |authority: &str, host: &str| {
            section(
                &[
                    (":method", "GET"),
                    (":scheme", "http"),
                    (":path", "/"),
                    (":authority", authority),
                    ("host", host),
                ],
                SectionKind::Request,
            )
        };
        assert!(http("a:80", "a").is_ok());
        assert!(http("a:443", "a").is_err());
        assert!(http("[::1]:80", "[::1]").is_ok());
        assert!(http("[::1]", "[::2]").is_err());
        // Host alone, or :authority alone, is fine.
        let mut no_authority = GET.to_vec();
        no_authority.pop();
        no_authority.push(("host", "anything"));
        assert!(section(&no_authority, SectionKind::Request).is_ok());
    }

    #[test]
    fn malformed_requests() {
        let cases: &[&[(&str, &str)]] = &[
            &[(":method", "GET"), (":path", "/")],       // no :scheme
            &[(":method", "GET"), (":scheme", "https")], // no :path
            &[(":scheme", "https"), (":path", "/")],     // no :method
            &[(":method", "GET"), (":scheme", "h"), (":path", "")], // empty path
            &[(":method", "CONNECT"), (":authority", "a"), (":path", "/")],
            &[(":method", "CONNECT")],
            &[
                (":method", "GET"),
                (":method", "GET"),
                (":scheme", "h"),
                (":path", "/"),
            ],
            &[
                (":method", "GET"),
                (":scheme", "h"),
                (":path", "/"),
                (":status", "200"),
            ],
            &[
                (":method", "GET"),
                (":scheme", "h"),
                (":path", "/"),
                (":foo", "x"),
            ],
            &[
                (":method", "GET"),
                (":scheme", "h"),
                ("a", "b"),
                (":path", "/"),
            ],
        ];
        for fields in cases {
            assert!(section(fields, SectionKind::Request).is_err(), "{fields:?}");
        }
        assert!(section(
            &[(":method", "CONNECT"), (":authority", "a:443")],
            SectionKind::Request
        )
        .is_ok());
    }

    #[test]
    fn malformed_fields() {
        for extra in [
            ("Accept", "x"),
            ("a b", "x"),
            ("a:b", "x"),
            ("caf\u{e9}", "x"),
            ("x", "a\rb"),
            ("x", "a\nb"),
            ("x", "a\0b"),
            ("x", " a"),
            ("x", "a\t"),
            ("connection", "close"),
            ("keep-alive", "5"),
            ("proxy-connection", "x"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "h2c"),
            ("te", "gzip"),
            ("content-length", "x"),
            ("content-length", ""),
            ("content-length", "99999999999999999999999"),
        ] {
            assert!(request_with(&[extra]).is_err(), "{extra:?}");
        }
        assert!(request_with(&[("te", "trailers")]).is_ok());
        assert!(request_with(&[("x", "")]).is_ok());
        assert!(request_with(&[("content-length", "3"), ("content-length", "4")]).is_err());
        assert_eq!(
            request_with(&[("content-length", "3"), ("content-length", "3")])
                .unwrap()
                .content_length,
            Some(3)
        );
    }

    #[test]
    fn malformed_responses_and_trailers() {
        for status in ["", "20", "2000", "abc", "101", "099"] {
            assert!(
                section(&[(":status", status)], SectionKind::Response).is_err(),
                "{status}"
            );
        }
        assert!(section(&[("a", "b")], SectionKind::Response).is_err());
        assert!(section(
            &[(":status", "200"), (":status", "200")],
            SectionKind::Response
        )
        .is_err());
        assert!(section(&[(":method", "GET")], SectionKind::Response).is_err());
        assert!(section(&[(":status", "200")], SectionKind::Trailers).is_err());
        assert!(section(&[("connection", "x")], SectionKind::Trailers).is_err());
    }
}
