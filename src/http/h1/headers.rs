//! Node's `message.headers`: names lowercased, values untouched,
//! duplicates joined by today's Node rules.

use std::fmt;

/// A header value as Node presents it: most fields are one string;
/// `set-cookie` is always a list.
///
/// ```
/// use nodelike::http::HeaderValue;
/// let v = HeaderValue::List(vec!["a=1".into(), "b=2".into()]);
/// assert_eq!(v.as_str(), "a=1");
/// assert_eq!(v.to_string(), "a=1, b=2");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderValue {
    /// One value (duplicates already joined).
    Single(String),
    /// Every value, in order (`set-cookie`).
    List(Vec<String>),
}

impl HeaderValue {
    /// The value; for a list, its first element.
    ///
    /// ```
    /// assert_eq!(nodelike::http::HeaderValue::Single("x".into()).as_str(), "x");
    /// ```
    pub fn as_str(&self) -> &str {
        match self {
            HeaderValue::Single(s) => s,
            HeaderValue::List(v) => v.first().map(String::as_str).unwrap_or(""),
        }
    }

    /// Every value: one for `Single`, each element for `List`.
    ///
    /// ```
    /// let v = nodelike::http::HeaderValue::List(vec!["a".into(), "b".into()]);
    /// assert_eq!(v.iter().collect::<Vec<_>>(), ["a", "b"]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let (one, many): (Option<&str>, &[String]) = match self {
            HeaderValue::Single(s) => (Some(s.as_str()), &[]),
            HeaderValue::List(v) => (None, v.as_slice()),
        };
        one.into_iter().chain(many.iter().map(String::as_str))
    }
}

impl fmt::Display for HeaderValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderValue::Single(s) => f.write_str(s),
            HeaderValue::List(v) => f.write_str(&v.join(", ")),
        }
    }
}

/// Fields Node keeps only the first of when repeated.
const KEEP_FIRST: &[&str] = &[
    "age",
    "authorization",
    "content-length",
    "content-type",
    "etag",
    "expires",
    "from",
    "host",
    "if-modified-since",
    "if-unmodified-since",
    "last-modified",
    "location",
    "max-forwards",
    "proxy-authorization",
    "referer",
    "retry-after",
    "server",
    "user-agent",
];

/// Node's `message.headers`: lowercased names in arrival order, duplicates
/// joined (`set-cookie` a list, `cookie` joined with `; `, single-value
/// fields keep the first, all others joined with `, `).
///
/// ```
/// use nodelike::http::Headers;
/// let mut h = Headers::new();
/// h.append_field("Accept", "a");
/// h.append_field("accept", "b");
/// h.append_field("Host", "one");
/// h.append_field("Host", "two");
/// assert_eq!(h.get("ACCEPT"), Some("a, b"));
/// assert_eq!(h.get("host"), Some("one"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    entries: Vec<(String, HeaderValue)>,
}

impl Headers {
    /// An empty map.
    ///
    /// ```
    /// assert!(nodelike::http::Headers::new().is_empty());
    /// ```
    pub fn new() -> Self {
        Headers {
            entries: Vec::new(),
        }
    }

    /// The value of `name` (case-insensitive); for `set-cookie`, the first.
    ///
    /// ```
    /// let mut h = nodelike::http::Headers::new();
    /// h.append_field("Content-Type", "text/plain");
    /// assert_eq!(h.get("content-type"), Some("text/plain"));
    /// ```
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_value(name).map(HeaderValue::as_str)
    }

    /// The whole value of `name`, list or single.
    ///
    /// ```
    /// let mut h = nodelike::http::Headers::new();
    /// h.append_field("Set-Cookie", "a=1");
    /// assert!(matches!(h.get_value("set-cookie"), Some(nodelike::http::HeaderValue::List(_))));
    /// ```
    pub fn get_value(&self, name: &str) -> Option<&HeaderValue> {
        self.entries
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Whether `name` is present.
    ///
    /// ```
    /// let mut h = nodelike::http::Headers::new();
    /// h.append_field("X", "");
    /// assert!(h.contains("x"));
    /// ```
    pub fn contains(&self, name: &str) -> bool {
        self.get_value(name).is_some()
    }

    /// The entries in arrival order.
    ///
    /// ```
    /// let mut h = nodelike::http::Headers::new();
    /// h.append_field("B", "2");
    /// h.append_field("A", "1");
    /// assert_eq!(h.iter().map(|(n, _)| n).collect::<Vec<_>>(), ["b", "a"]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&str, &HeaderValue)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v))
    }

    /// How many distinct names.
    ///
    /// ```
    /// let mut h = nodelike::http::Headers::new();
    /// h.append_field("A", "1");
    /// h.append_field("a", "2");
    /// assert_eq!(h.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    ///
    /// ```
    /// assert!(nodelike::http::Headers::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds one received field line, applying Node's joining rules.
    ///
    /// ```
    /// let mut h = nodelike::http::Headers::new();
    /// h.append_field("Cookie", "a=1");
    /// h.append_field("Cookie", "b=2");
    /// assert_eq!(h.get("cookie"), Some("a=1; b=2"));
    /// ```
    pub fn append_field(&mut self, name: &str, value: &str) {
        let lower = name.to_ascii_lowercase();
        match self.entries.iter_mut().find(|(n, _)| *n == lower) {
            None => {
                let v = if lower == "set-cookie" {
                    HeaderValue::List(vec![value.to_owned()])
                } else {
                    HeaderValue::Single(value.to_owned())
                };
                self.entries.push((lower, v));
            }
            Some((_, existing)) => match existing {
                HeaderValue::List(list) => list.push(value.to_owned()),
                HeaderValue::Single(s) => {
                    if KEEP_FIRST.contains(&lower.as_str()) {
                        return;
                    }
                    s.push_str(if lower == "cookie" { "; " } else { ", " });
                    s.push_str(value);
                }
            },
        }
    }

    /// The map of a parsed head: `fields` are (name, value) byte ranges into
    /// `head`, as [`ParsedRequest`](super::ParsedRequest) and
    /// [`ParsedResponse`](super::ParsedResponse) hold them.
    ///
    /// ```
    /// let head = b"X-A: 1\r\nx-a: 2";
    /// let h = nodelike::http::Headers::from_fields(head, &[(0..3, 5..6), (8..11, 13..14)]);
    /// assert_eq!(h.get("x-a"), Some("1, 2"));
    /// ```
    pub fn from_fields(
        head: &[u8],
        fields: &[(std::ops::Range<usize>, std::ops::Range<usize>)],
    ) -> Headers {
        let mut h = Headers::new();
        for (name, value) in fields {
            h.append_raw(
                head.get(name.clone()).unwrap_or_default(),
                head.get(value.clone()).unwrap_or_default(),
            );
        }
        h
    }

    /// [`append_field`](Self::append_field) from raw bytes, decoded as
    /// latin-1 (one char per byte), as Node does. Written back, such a
    /// value gives the same bytes (header values are written as latin-1
    /// when every char fits), so a received value round-trips
    /// byte-identical. A UTF-8 value reads as its bytes do in latin-1, as
    /// in Node (`"café"` sent as UTF-8 reads `"cafÃ©"`).
    ///
    /// ```
    /// let mut h = nodelike::http::Headers::new();
    /// h.append_raw(b"X-Name", b"caf\xe9");
    /// assert_eq!(h.get("x-name"), Some("café"));
    /// h.append_raw(b"X-Utf8", "café".as_bytes());
    /// assert_eq!(h.get("x-utf8"), Some("cafÃ©"));
    /// ```
    pub fn append_raw(&mut self, name: &[u8], value: &[u8]) {
        let name = latin1(name);
        let value = latin1(value);
        self.append_field(&name, &value);
    }
}

/// Header bytes as text, the way Node reads them: latin-1, one char per
/// byte (borrowed when they are ASCII, the common case).
pub(crate) fn latin1(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) if s.is_ascii() => std::borrow::Cow::Borrowed(s),
        _ => std::borrow::Cow::Owned(bytes.iter().map(|&b| b as char).collect()),
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = (&'a str, &'a HeaderValue);
    type IntoIter = Box<dyn Iterator<Item = (&'a str, &'a HeaderValue)> + 'a>;
    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_joining_rules() {
        let mut h = Headers::new();
        for (n, v) in [
            ("Set-Cookie", "a=1"),
            ("Host", "first"),
            ("host", "second"),
            ("X-Dup", "1"),
            ("x-dup", "2"),
            ("Cookie", "c=1"),
            ("cookie", "d=2"),
            ("Content-Type", "t1"),
            ("Content-Type", "t2"),
            ("X-Empty", ""),
        ] {
            h.append_field(n, v);
        }
        assert_eq!(
            h.get_value("set-cookie"),
            Some(&HeaderValue::List(vec!["a=1".into()]))
        );
        assert_eq!(h.get("host"), Some("first"));
        assert_eq!(h.get("x-dup"), Some("1, 2"));
        assert_eq!(h.get("cookie"), Some("c=1; d=2"));
        assert_eq!(h.get("content-type"), Some("t1"));
        assert_eq!(h.get("x-empty"), Some(""));
        assert_eq!(h.len(), 6);
    }
}
