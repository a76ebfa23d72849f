//! Node's legacy `url.parse(str, parseQueryString)` and `url.format`.

use std::fmt;

use crate::querystring::{self, Query};

/// A parsed URL with Node's legacy fields.
///
/// ```
/// let u = nodelike::url::parse("/status?name=ryan", true);
/// assert_eq!(u.pathname.as_deref(), Some("/status"));
/// assert_eq!(u.search.as_deref(), Some("?name=ryan"));
/// assert_eq!(u.raw_query.as_deref(), Some("name=ryan"));
/// assert_eq!(u.query.unwrap().get("name"), Some("ryan"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Url {
    /// The whole URL, normalized (`url.format` of the parts).
    pub href: String,
    /// The scheme with its colon, lowercased: `"http:"`.
    pub protocol: Option<String>,
    /// Whether `//` followed the scheme.
    pub slashes: bool,
    /// `user:password` before the `@`.
    pub auth: Option<String>,
    /// `hostname:port`, lowercased.
    pub host: Option<String>,
    /// The host name without port (IPv6 without brackets).
    pub hostname: Option<String>,
    /// The port, as text.
    pub port: Option<String>,
    /// The path before the query: `"/p/a/t/h"`.
    pub pathname: Option<String>,
    /// The query with its `?`: `"?a=b"`.
    pub search: Option<String>,
    /// The query without `?`: `"a=b"` (what Node's `query` holds when
    /// the query is not parsed).
    ///
    /// ```
    /// let u = nodelike::url::parse("/p?a=b&a=c", false);
    /// assert_eq!(u.raw_query.as_deref(), Some("a=b&a=c"));
    /// assert_eq!(u.query, None);
    /// ```
    #[doc(alias = "query")]
    pub raw_query: Option<String>,
    /// The query parsed by [`querystring::parse`], when `parse(s, true)`
    /// (empty if the URL has none), as Node's `url.parse(s, true).query`;
    /// `None` otherwise.
    ///
    /// ```
    /// let u = nodelike::url::parse("http://a.com?x=1&x=2&y", true);
    /// let q = u.query.unwrap();
    /// assert_eq!(q.get_all("x"), ["1", "2"]);
    /// assert_eq!(q.get("y"), Some(""));
    /// assert!(nodelike::url::parse("/only/path", true).query.unwrap().is_empty());
    /// ```
    pub query: Option<Query>,
    /// The fragment with its `#`.
    pub hash: Option<String>,
    /// `pathname` + `search`: what an HTTP request line carries.
    pub path: Option<String>,
}

impl Url {
    /// The port as a number, if there is a valid one.
    ///
    /// ```
    /// assert_eq!(nodelike::url::parse("http://a:8080/", false).port_number(), Some(8080));
    /// ```
    pub fn port_number(&self) -> Option<u16> {
        self.port.as_deref().and_then(|p| p.parse().ok())
    }
}

/// Schemes whose empty path means `/` (Node's "slashed protocols").
const SLASHED: &[&str] = &["http:", "https:", "ftp:", "gopher:", "file:", "ws:", "wss:"];

/// Parses `s` as Node's legacy `url.parse` does; with `parse_query` the
/// query is also parsed into [`Url::query`] (the text stays in
/// [`Url::raw_query`]).
///
/// ```
/// let u = nodelike::url::parse("http://user:pw@Example.com:8080/p/a/t/h?query=string#hash", false);
/// assert_eq!(u.protocol.as_deref(), Some("http:"));
/// assert_eq!(u.auth.as_deref(), Some("user:pw"));
/// assert_eq!(u.host.as_deref(), Some("example.com:8080"));
/// assert_eq!(u.port.as_deref(), Some("8080"));
/// assert_eq!(u.path.as_deref(), Some("/p/a/t/h?query=string"));
/// assert_eq!(u.hash.as_deref(), Some("#hash"));
/// ```
pub fn parse(s: &str, parse_query: bool) -> Url {
    let mut u = Url::default();
    let mut rest = s.trim();
    if let Some(i) = rest.find('#') {
        u.hash = Some(rest[i..].to_owned());
        rest = &rest[..i];
    }
    if let Some(i) = rest.find('?') {
        u.search = Some(rest[i..].to_owned());
        u.raw_query = Some(rest[i + 1..].to_owned());
        rest = &rest[..i];
    }
    if parse_query {
        u.query = Some(querystring::parse(u.raw_query.as_deref().unwrap_or("")));
    }
    // scheme ":"
    if let Some(colon) = rest.find(':') {
        let scheme = &rest[..colon];
        let valid = scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if valid {
            u.protocol = Some(format!("{}:", scheme.to_ascii_lowercase()));
            rest = &rest[colon + 1..];
        }
    }
    if rest.starts_with("//") && (u.protocol.is_some() || rest.len() > 2) {
        u.slashes = true;
        rest = &rest[2..];
        let end = rest.find('/').unwrap_or(rest.len());
        let mut authority = &rest[..end];
        rest = &rest[end..];
        if let Some(at) = authority.rfind('@') {
            u.auth = Some(querystring::unescape(&authority[..at]));
            authority = &authority[at + 1..];
        }
        let (hostname, port) = split_host_port(authority);
        let hostname = hostname.to_ascii_lowercase();
        u.host = Some(match &port {
            Some(p) if hostname.contains(':') => format!("[{hostname}]:{p}"),
            Some(p) => format!("{hostname}:{p}"),
            None if hostname.contains(':') => format!("[{hostname}]"),
            None => hostname.clone(),
        });
        u.hostname = Some(hostname);
        u.port = port;
    }
    if !rest.is_empty() {
        u.pathname = Some(rest.to_owned());
    } else if u.slashes && u.protocol.as_deref().is_some_and(|p| SLASHED.contains(&p)) {
        u.pathname = Some("/".to_owned());
    }
    if u.pathname.is_some() || u.search.is_some() {
        u.path = Some(format!(
            "{}{}",
            u.pathname.as_deref().unwrap_or(""),
            u.search.as_deref().unwrap_or("")
        ));
    }
    u.href = u.to_string();
    u
}

/// Splits `host:port`, `[v6]:port`, `host` or `[v6]`.
fn split_host_port(authority: &str) -> (String, Option<String>) {
    if let Some(v6) = authority.strip_prefix('[') {
        if let Some(close) = v6.find(']') {
            let host = v6[..close].to_owned();
            let port = v6[close + 1..]
                .strip_prefix(':')
                .filter(|p| !p.is_empty())
                .map(str::to_owned);
            return (host, port);
        }
    }
    match authority.rfind(':') {
        Some(i) if authority[i + 1..].chars().all(|c| c.is_ascii_digit()) => {
            let port = &authority[i + 1..];
            (
                authority[..i].to_owned(),
                (!port.is_empty()).then(|| port.to_owned()),
            )
        }
        _ => (authority.to_owned(), None),
    }
}

impl fmt::Display for Url {
    /// Node's `url.format`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.protocol {
            f.write_str(p)?;
        }
        if self.slashes {
            f.write_str("//")?;
        }
        if let Some(a) = &self.auth {
            write!(f, "{a}@")?;
        }
        if let Some(h) = &self.host {
            f.write_str(h)?;
        }
        if let Some(p) = &self.pathname {
            f.write_str(p)?;
        }
        if let Some(s) = &self.search {
            f.write_str(s)?;
        }
        if let Some(h) = &self.hash {
            f.write_str(h)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_legacy_fields() {
        let u = parse("/status?name=ryan", false);
        assert_eq!(u.href, "/status?name=ryan");
        assert_eq!(u.protocol, None);
        assert_eq!(u.path.as_deref(), Some("/status?name=ryan"));
        assert_eq!(u.raw_query.as_deref(), Some("name=ryan"));
        assert_eq!(u.query, None);
        let u = parse("http://127.0.0.1:8000", false);
        assert_eq!(
            (
                u.hostname.as_deref(),
                u.port_number(),
                u.pathname.as_deref()
            ),
            (Some("127.0.0.1"), Some(8000), Some("/"))
        );
        assert_eq!(u.href, "http://127.0.0.1:8000/");
        let u = parse("http://[::1]:8080/x", false);
        assert_eq!(
            (u.hostname.as_deref(), u.host.as_deref()),
            (Some("::1"), Some("[::1]:8080"))
        );
        let u = parse("HTTP://Example.COM/A?b#c", true);
        assert_eq!(u.href, "http://example.com/A?b#c");
        assert_eq!(u.query.unwrap().get("b"), Some(""));
        let u = parse("/only/path", true);
        assert_eq!(u.query, Some(Query::new()));
        assert_eq!(u.search, None);
    }

    /// Node 20's `url.parse(s, b)`: `search`, `query` (text when `b` is
    /// false, an object when true), `path`, `pathname`, `href`.
    #[test]
    fn query_fields_match_node() {
        type Pairs = &'static [(&'static str, &'static [&'static str])];
        type Text = Option<&'static str>;
        /// The URL, search, query text, query parsed, path, href.
        type Case = (&'static str, Text, Text, Pairs, Text, &'static str);
        #[rustfmt::skip]
        let cases: &[Case] = &[
            ("/status?name=ryan", Some("?name=ryan"), Some("name=ryan"), &[("name", &["ryan"])], Some("/status?name=ryan"), "/status?name=ryan"),
            ("/only/path", None, None, &[], Some("/only/path"), "/only/path"),
            ("/p?", Some("?"), Some(""), &[], Some("/p?"), "/p?"),
            ("http://a.com", None, None, &[], Some("/"), "http://a.com/"),
            ("http://a.com?x=1&x=2&y", Some("?x=1&x=2&y"), Some("x=1&x=2&y"), &[("x", &["1", "2"]), ("y", &[""])], Some("/?x=1&x=2&y"), "http://a.com/?x=1&x=2&y"),
            ("?a=%41+b", Some("?a=%41+b"), Some("a=%41+b"), &[("a", &["A b"])], Some("?a=%41+b"), "?a=%41+b"),
            ("http://u@h/p?q=1#f", Some("?q=1"), Some("q=1"), &[("q", &["1"])], Some("/p?q=1"), "http://u@h/p?q=1#f"),
        ];
        for (s, search, raw, pairs, path, href) in cases {
            let text = parse(s, false);
            assert_eq!(text.search.as_deref(), *search, "{s}");
            assert_eq!(text.raw_query.as_deref(), *raw, "{s}");
            assert_eq!(text.query, None, "{s}");
            assert_eq!(text.path.as_deref(), *path, "{s}");
            assert_eq!(text.href, *href, "{s}");
            let parsed = parse(s, true);
            let mut want = Query::new();
            for (k, vs) in pairs.iter() {
                for v in vs.iter() {
                    want.insert(*k, *v);
                }
            }
            assert_eq!(parsed.query, Some(want), "{s}");
            assert_eq!(parsed.raw_query, text.raw_query, "{s}");
            assert_eq!(
                (parsed.search, parsed.path, parsed.href),
                (text.search, text.path, text.href),
                "{s}"
            );
        }
    }
}
