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
/// the value `""`), keeping at most 1000 keys, as Node does: the same as
/// [`parse_with`]`(s, "&", "=", ParseOptions::default())`.
///
/// ```
/// let q = nodelike::querystring::parse("q=hello+world&x=%41%42&empty");
/// assert_eq!(q.get("q"), Some("hello world"));
/// assert_eq!(q.get("x"), Some("AB"));
/// assert_eq!(q.get("empty"), Some(""));
/// ```
#[doc(alias = "decode")]
pub fn parse(s: &str) -> Query {
    parse_with(s, "&", "=", ParseOptions::default())
}

/// The options of [`parse_with`] (Node's `{ maxKeys, decodeURIComponent }`).
///
/// ```
/// use nodelike::querystring::ParseOptions;
/// let o = ParseOptions::default();
/// assert_eq!(o.max_keys, 1000);
/// assert!(o.decode.is_none());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ParseOptions {
    /// The most pairs read; `0` reads them all. Node counts the empty
    /// pieces between two separators too (`"&&a=1"` with `max_keys: 2`
    /// gives nothing). Default 1000.
    #[doc(alias = "maxKeys")]
    pub max_keys: usize,
    /// Decodes each key and value instead of [`unescape`]. As in Node, a
    /// `+` reaches it as `%20`, and it is called only on non-empty parts.
    #[doc(alias = "decodeURIComponent")]
    pub decode: Option<fn(&str) -> String>,
}

impl Default for ParseOptions {
    /// `max_keys: 1000` and [`unescape`], Node's defaults.
    fn default() -> Self {
        ParseOptions {
            max_keys: 1000,
            decode: None,
        }
    }
}

/// [`parse`] with separators and options of your own (Node's
/// `querystring.parse(str, sep, eq, options)`). An empty `sep` or `eq` is
/// the default (`&`, `=`), as in Node.
///
/// ```
/// use nodelike::querystring::{parse_with, ParseOptions};
/// let q = parse_with("a:1;b:2;c:3", ";", ":", ParseOptions { max_keys: 2, ..Default::default() });
/// assert_eq!(q.get("b"), Some("2"));
/// assert!(!q.contains_key("c"));
///
/// // A decoder of your own: `+` reaches it as `%20`.
/// let shout = |s: &str| nodelike::querystring::unescape(s).to_uppercase();
/// let q = parse_with("w=a+b", "&", "=", ParseOptions { decode: Some(shout), ..Default::default() });
/// assert_eq!(q.get("W"), Some("A B"));
/// ```
#[doc(alias = "parse")]
#[doc(alias = "decode")]
pub fn parse_with(s: &str, sep: &str, eq: &str, options: ParseOptions) -> Query {
    // A port of Node's scanner (lib/querystring.js), which matches `sep`
    // and `eq` one character at a time without going back, so its results
    // for separators of several characters are Node's own. Node tracks
    // whether a part holds a `%XX` only to skip decoding the others;
    // decoding a part without one changes nothing, so this decodes them all.
    let mut q = Query::new();
    if s.is_empty() {
        return q;
    }
    let sep = if sep.is_empty() { "&" } else { sep };
    let eq = if eq.is_empty() { "=" } else { eq };
    let sep_chars: Vec<char> = sep.chars().collect();
    let eq_chars: Vec<char> = eq.chars().collect();
    let plus = if options.decode.is_some() { "%20" } else { " " };
    let add = |q: &mut Query, key: &str, value: &str| {
        let decode = |part: &str| match options.decode {
            Some(_) if part.is_empty() => String::new(),
            Some(f) => f(part),
            None => unescape(part),
        };
        q.insert(decode(key), decode(value));
    };
    // Pieces left before `max_keys` is reached (`None`: no limit).
    let mut pairs = (options.max_keys > 0).then_some(options.max_keys);
    let mut spend = || match &mut pairs {
        Some(n) => {
            *n -= 1;
            *n == 0
        }
        None => false,
    };
    let (mut last, mut sep_idx, mut eq_idx) = (0, 0, 0);
    let (mut key, mut value) = (String::new(), String::new());
    for (i, c) in s.char_indices() {
        let next = i + c.len_utf8();
        if c == sep_chars[sep_idx] {
            sep_idx += 1;
            if sep_idx == sep_chars.len() {
                let end = next - sep.len();
                if eq_idx < eq_chars.len() {
                    if last < end {
                        key.push_str(&s[last..end]);
                    } else if key.is_empty() {
                        // An empty piece: it counts towards `max_keys`.
                        if spend() {
                            return q;
                        }
                        last = next;
                        (sep_idx, eq_idx) = (0, 0);
                        continue;
                    }
                } else if last < end {
                    value.push_str(&s[last..end]);
                }
                add(&mut q, &key, &value);
                if spend() {
                    return q;
                }
                key.clear();
                value.clear();
                last = next;
                (sep_idx, eq_idx) = (0, 0);
            }
            continue;
        }
        sep_idx = 0;
        if eq_idx < eq_chars.len() {
            if c == eq_chars[eq_idx] {
                eq_idx += 1;
                if eq_idx == eq_chars.len() {
                    let end = next - eq.len();
                    if last < end {
                        key.push_str(&s[last..end]);
                    }
                    last = next;
                }
                continue;
            }
            eq_idx = 0;
            if c == '+' {
                key.push_str(&s[last..i]);
                key.push_str(plus);
                last = next;
                continue;
            }
        }
        if c == '+' {
            value.push_str(&s[last..i]);
            value.push_str(plus);
            last = next;
        }
    }
    if last < s.len() {
        if eq_idx < eq_chars.len() {
            key.push_str(&s[last..]);
        } else if sep_idx < sep_chars.len() {
            value.push_str(&s[last..]);
        }
    } else if eq_idx == 0 && key.is_empty() {
        return q;
    }
    add(&mut q, &key, &value);
    q
}

/// Serializes a query, escaping as `encodeURIComponent` does; repeated
/// values become repeated keys. The same as
/// [`stringify_with`]`(q, "&", "=", escape)`.
///
/// ```
/// let q = nodelike::querystring::parse("a=b c&d=é");
/// assert_eq!(nodelike::querystring::stringify(&q), "a=b%20c&d=%C3%A9");
/// ```
#[doc(alias = "encode")]
pub fn stringify(q: &Query) -> String {
    stringify_with(q, "&", "=", escape)
}

/// [`stringify()`] with separators and an encoder of your own (Node's
/// `querystring.stringify(obj, sep, eq, { encodeURIComponent })`). An
/// empty `sep` or `eq` is the default (`&`, `=`), as in Node; `encode` is
/// applied to every key and value.
///
/// ```
/// use nodelike::querystring::{parse, stringify_with};
/// let q = parse("w=中文&foo=bar");
/// assert_eq!(stringify_with(&q, ";", ":", nodelike::querystring::escape), "w:%E4%B8%AD%E6%96%87;foo:bar");
/// // Keep non-ASCII as is (Node's example uses a GBK encoder here).
/// assert_eq!(stringify_with(&q, "&", "=", |s| s.replace(' ', "%20")), "w=中文&foo=bar");
/// ```
#[doc(alias = "stringify")]
#[doc(alias = "encode")]
pub fn stringify_with(q: &Query, sep: &str, eq: &str, encode: impl Fn(&str) -> String) -> String {
    let sep = if sep.is_empty() { "&" } else { sep };
    let eq = if eq.is_empty() { "=" } else { eq };
    let mut out = String::new();
    for (k, vs) in q.iter() {
        let k = encode(k);
        for v in vs {
            if !out.is_empty() {
                out.push_str(sep);
            }
            out.push_str(&k);
            out.push_str(eq);
            out.push_str(&encode(v));
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
/// that are not UTF-8 become U+FFFD (Node's `decodeURIComponent`, falling
/// back to [`unescape_buffer`] as Node's `querystring.unescape` does).
///
/// ```
/// assert_eq!(nodelike::querystring::unescape("a%20b%zz%"), "a b%zz%");
/// ```
pub fn unescape(s: &str) -> String {
    String::from_utf8_lossy(&unescape_buffer(s, false)).into_owned()
}

/// Decodes `%XX` sequences to raw bytes, which need not be UTF-8 (Node's
/// `querystring.unescapeBuffer(str, decodeSpaces)`); with `decode_spaces`,
/// `+` becomes a space. Malformed sequences are left as they are.
///
/// Node writes each UTF-16 unit of a non-ASCII character as one byte (its
/// low 8 bits); here such a character keeps its UTF-8 bytes.
///
/// ```
/// use nodelike::querystring::unescape_buffer;
/// assert_eq!(unescape_buffer("%FF%41+b%zz", false), b"\xffA+b%zz");
/// assert_eq!(unescape_buffer("a+b", true), b"a b");
/// ```
#[doc(alias = "unescapeBuffer")]
pub fn unescape_buffer(s: &str, decode_spaces: bool) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' if decode_spaces => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
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

    /// Keys and values in order, a repeated key's values together.
    fn entries(q: &Query) -> Vec<(&str, Vec<&str>)> {
        q.iter()
            .map(|(k, vs)| (k, vs.iter().map(String::as_str).collect()))
            .collect()
    }

    fn opts(max_keys: usize) -> ParseOptions {
        ParseOptions {
            max_keys,
            ..Default::default()
        }
    }

    fn tag(s: &str) -> String {
        format!("<{s}>")
    }

    /// Each expected value is what Node 20 prints for
    /// `querystring.parse(s, sep, eq, options)` (as JSON).
    #[test]
    fn parse_with_matches_node() {
        let d = ParseOptions::default;
        type Expected = &'static [(&'static str, &'static [&'static str])];
        let cases: &[(&str, &str, &str, ParseOptions, Expected)] = &[
            (
                "a=1&b=2&a=3",
                "&",
                "=",
                d(),
                &[("a", &["1", "3"]), ("b", &["2"])],
            ),
            ("&&&a=1&&b", "&", "=", d(), &[("a", &["1"]), ("b", &[""])]),
            (
                "a=1&b=2&c=3",
                "&",
                "=",
                opts(2),
                &[("a", &["1"]), ("b", &["2"])],
            ),
            // Empty pieces count towards maxKeys.
            ("&&&a=1", "&", "=", opts(2), &[]),
            ("&&&a=1", "&", "=", opts(4), &[("a", &["1"])]),
            (
                "x=1&y=2&",
                "&",
                "=",
                opts(2),
                &[("x", &["1"]), ("y", &["2"])],
            ),
            ("k=v", "&", "=", opts(0), &[("k", &["v"])]),
            ("a=1&b=2", "", "", d(), &[("a", &["1"]), ("b", &["2"])]),
            ("a:1;b:2", ";", ":", d(), &[("a", &["1"]), ("b", &["2"])]),
            (
                "a=>1&&b=>2",
                "&&",
                "=>",
                d(),
                &[("a", &["1"]), ("b", &["2"])],
            ),
            (
                "a=1&&&b=2",
                "&&",
                "=",
                d(),
                &[("a", &["1"]), ("&b", &["2"])],
            ),
            ("a==b", "==", "=", d(), &[("a", &[""]), ("b", &[""])]),
            ("a==1", "&", "==", d(), &[("a", &["1"])]),
            ("a=b=c", "&", "=", d(), &[("a", &["b=c"])]),
            ("=x", "&", "=", d(), &[("", &["x"])]),
            ("a=", "&", "=", d(), &[("a", &[""])]),
            ("a", "&", "=", d(), &[("a", &[""])]),
            ("a&&", "&", "=", d(), &[("a", &[""])]),
            ("&", "&", "=", d(), &[]),
            ("=", "&", "=", d(), &[("", &[""])]),
            (
                "a=1&=&b=",
                "&",
                "=",
                d(),
                &[("a", &["1"]), ("", &[""]), ("b", &[""])],
            ),
            ("+a+=+b+", "&", "=", d(), &[(" a ", &[" b "])]),
            ("a%20b=c%2Bd+e", "&", "=", d(), &[("a b", &["c+d e"])]),
            ("a=%zz%4", "&", "=", d(), &[("a", &["%zz%4"])]),
            ("a=%E2%82%AC", "&", "=", d(), &[("a", &["€"])]),
            ("a=%FF", "&", "=", d(), &[("a", &["\u{fffd}"])]),
        ];
        for (s, sep, eq, o, want) in cases {
            let q = parse_with(s, sep, eq, *o);
            let want: Vec<(&str, Vec<&str>)> = want.iter().map(|(k, v)| (*k, v.to_vec())).collect();
            assert_eq!(entries(&q), want, "parse({s:?}, {sep:?}, {eq:?})");
        }
    }

    #[test]
    fn a_decoder_of_ones_own_sees_plus_as_percent_20_and_no_empty_part() {
        let custom = ParseOptions {
            decode: Some(tag),
            ..Default::default()
        };
        // Node: {"<a%20b>":"<c%20d>"} and {"<a>":"","":"<b>","<c>":""}
        let q = parse_with("a+b=c+d", "&", "=", custom);
        assert_eq!(entries(&q), [("<a%20b>", vec!["<c%20d>"])]);
        let q = parse_with("a=&=b&c", "&", "=", custom);
        assert_eq!(
            entries(&q),
            [("<a>", vec![""]), ("", vec!["<b>"]), ("<c>", vec![""])]
        );
    }

    #[test]
    fn stringify_with_matches_node() {
        let mut q = Query::new();
        q.insert("a", "1");
        q.insert("a", "2");
        q.insert("b", "x y");
        q.insert("c", "é");
        assert_eq!(
            stringify_with(&q, ";", ":", escape),
            "a:1;a:2;b:x%20y;c:%C3%A9"
        );
        assert_eq!(
            stringify_with(&q, "", "", escape),
            "a=1&a=2&b=x%20y&c=%C3%A9"
        );
        assert_eq!(
            stringify_with(&q, "&", "=", |s| s.to_uppercase()),
            "A=1&A=2&B=X Y&C=É"
        );
        let q = parse("w=%E4%B8%AD%E6%96%87&foo=bar");
        assert_eq!(stringify_with(&q, "&", "=", tag), "<w>=<中文>&<foo>=<bar>");
        assert_eq!(stringify_with(&Query::new(), "&", "=", tag), "");
    }

    /// Node's `[...querystring.unescapeBuffer(s, decodeSpaces)]`.
    #[test]
    fn unescape_buffer_matches_node() {
        let cases: &[(&str, &[u8], &[u8])] = &[
            ("a%20b+c", &[97, 32, 98, 43, 99], &[97, 32, 98, 32, 99]),
            ("%", &[37], &[37]),
            ("%4", &[37, 52], &[37, 52]),
            ("%41", &[65], &[65]),
            (
                "%zz%4g%41",
                &[37, 122, 122, 37, 52, 103, 65],
                &[37, 122, 122, 37, 52, 103, 65],
            ),
            ("abc", &[97, 98, 99], &[97, 98, 99]),
            ("%e2%82%ac", &[226, 130, 172], &[226, 130, 172]),
            ("x%", &[120, 37], &[120, 37]),
            ("x%4", &[120, 37, 52], &[120, 37, 52]),
        ];
        for (s, plain, spaces) in cases {
            assert_eq!(unescape_buffer(s, false), *plain, "{s:?}");
            assert_eq!(unescape_buffer(s, true), *spaces, "{s:?}, true");
        }
    }
}
