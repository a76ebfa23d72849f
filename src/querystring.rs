//! Node's `querystring` module: `parse`, `stringify`, `escape`,
//! `unescape`.

/// A parsed query string: keys in first-seen order; a repeated key keeps
/// every value (Node gives an array).
///
/// ```
/// let q = nodelike::querystring::parse("a=1&b=2&a=3");
/// assert_eq!(q.get("a"), Some("1"));
/// assert_eq!(q.get_all("a"), ["1", "3"]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    entries: Vec<(String, Vec<String>)>,
}

impl Query {
    /// An empty query.
    ///
    /// ```
    /// assert!(nodelike::querystring::Query::new().is_empty());
    /// ```
    pub fn new() -> Self {
        Query::default()
    }

    /// The first value of `key`.
    ///
    /// ```
    /// assert_eq!(nodelike::querystring::parse("name=ryan").get("name"), Some("ryan"));
    /// ```
    pub fn get(&self, key: &str) -> Option<&str> {
        self.get_all(key).first().map(String::as_str)
    }

    /// Every value of `key` (empty if absent).
    ///
    /// ```
    /// assert!(nodelike::querystring::parse("").get_all("x").is_empty());
    /// ```
    pub fn get_all(&self, key: &str) -> &[String] {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_slice())
            .unwrap_or(&[])
    }

    /// Whether `key` is present.
    ///
    /// ```
    /// assert!(nodelike::querystring::parse("flag").contains_key("flag"));
    /// ```
    pub fn contains_key(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _)| k == key)
    }

    /// Keys and their values, in order.
    ///
    /// ```
    /// let q = nodelike::querystring::parse("b=1&a=2");
    /// assert_eq!(q.iter().map(|(k, _)| k).collect::<Vec<_>>(), ["b", "a"]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// How many distinct keys.
    ///
    /// ```
    /// assert_eq!(nodelike::querystring::parse("a=1&a=2&b").len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no keys.
    ///
    /// ```
    /// assert!(nodelike::querystring::parse("&&").is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Appends a value for `key`.
    ///
    /// ```
    /// let mut q = nodelike::querystring::Query::new();
    /// q.insert("a", "1");
    /// q.insert("a", "2");
    /// assert_eq!(nodelike::querystring::stringify(&q), "a=1&a=2");
    /// ```
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let key = key.into();
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(value.into()),
            None => self.entries.push((key, vec![value.into()])),
        }
    }
}

/// Parses `a=1&b=2` (`+` is a space, `%XX` decoded; a key without `=` gets
/// the value `""`).
///
/// ```
/// let q = nodelike::querystring::parse("q=hello+world&x=%41%42&empty");
/// assert_eq!(q.get("q"), Some("hello world"));
/// assert_eq!(q.get("x"), Some("AB"));
/// assert_eq!(q.get("empty"), Some(""));
/// ```
pub fn parse(s: &str) -> Query {
    parse_with(s, "&", "=")
}

/// [`parse`] with separators of your own.
///
/// ```
/// let q = nodelike::querystring::parse_with("a:1;b:2", ";", ":");
/// assert_eq!(q.get("b"), Some("2"));
/// ```
pub fn parse_with(s: &str, sep: &str, eq: &str) -> Query {
    let mut q = Query::new();
    if sep.is_empty() || eq.is_empty() {
        return q;
    }
    for piece in s.split(sep).filter(|p| !p.is_empty()) {
        let (k, v) = piece.split_once(eq).unwrap_or((piece, ""));
        q.insert(
            unescape(&k.replace('+', " ")),
            unescape(&v.replace('+', " ")),
        );
    }
    q
}

/// Serializes a query, escaping as `encodeURIComponent` does; repeated
/// values become repeated keys.
///
/// ```
/// let q = nodelike::querystring::parse("a=b c&d=é");
/// assert_eq!(nodelike::querystring::stringify(&q), "a=b%20c&d=%C3%A9");
/// ```
pub fn stringify(q: &Query) -> String {
    let mut out = String::new();
    for (k, vs) in q.iter() {
        for v in vs {
            if !out.is_empty() {
                out.push('&');
            }
            out.push_str(&escape(k));
            out.push('=');
            out.push_str(&escape(v));
        }
    }
    out
}

/// Percent-encodes everything but `A-Z a-z 0-9 - _ . ! ~ * ' ( )`.
///
/// ```
/// assert_eq!(nodelike::querystring::escape("a b&c/é"), "a%20b%26c%2F%C3%A9");
/// ```
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
    out
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Decodes `%XX` sequences; malformed ones are left as they are, and bytes
/// that are not UTF-8 become U+FFFD.
///
/// ```
/// assert_eq!(nodelike::querystring::unescape("a%20b%zz%"), "a b%zz%");
/// ```
pub fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_examples() {
        let q = parse("foo=bar&abc=xyz&abc=123");
        assert_eq!(q.get("foo"), Some("bar"));
        assert_eq!(q.get_all("abc"), ["xyz", "123"]);
        assert_eq!(stringify(&q), "foo=bar&abc=xyz&abc=123");
        assert_eq!(unescape("%E2%82%AC"), "€");
        assert_eq!(unescape("%"), "%");
        assert_eq!(unescape("%4"), "%4");
        assert_eq!(unescape("%41"), "A");
        assert_eq!(parse("=v").get(""), Some("v"));
    }
}
