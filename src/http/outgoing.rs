//! What a server's response and a client's request have in common as
//! outgoing messages (Node's `OutgoingMessage`): the header fields a
//! program sets, reads and removes until the head goes out. The framing
//! both use is `body.rs`'s; the head each writes is its own (a status line
//! or a request line, and the fields each adds).

use crate::http::h1::encode;
use crate::http::HeaderValue;
use crate::{Error, ErrorKind};

/// The header fields set on an outgoing message (`set_header` and
/// friends): each name once, as first given, with its values in order.
/// Names compare without regard to case, as Node's do.
#[derive(Debug, Default, Clone)]
pub(crate) struct OutgoingHeaders {
    fields: Vec<(String, Vec<String>)>,
}

impl OutgoingHeaders {
    /// Sets `name` to `values`, replacing what it had (Node's
    /// `setHeader`); a bad name or value changes nothing.
    pub(crate) fn set(&mut self, name: &str, values: Vec<String>) -> Result<(), Error> {
        for value in &values {
            check_header(name, value)?;
        }
        match self.position(name) {
            Some(i) => self.fields[i].1 = values,
            None => self.fields.push((name.to_owned(), values)),
        }
        Ok(())
    }

    /// Adds one more value to `name` (the request options' header list,
    /// where a name may repeat). Checked by the caller.
    pub(crate) fn append(&mut self, name: &str, value: &str) {
        match self.position(name) {
            Some(i) => self.fields[i].1.push(value.to_owned()),
            None => self.fields.push((name.to_owned(), vec![value.to_owned()])),
        }
    }

    /// The value of `name`, one or a list (Node's `getHeader`).
    pub(crate) fn get(&self, name: &str) -> Option<HeaderValue> {
        self.position(name).map(|i| value_of(&self.fields[i].1))
    }

    /// The first value of `name` (the client's TLS server name reads
    /// `Host` with it).
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    pub(crate) fn first(&self, name: &str) -> Option<&str> {
        self.position(name)
            .and_then(|i| self.fields[i].1.first())
            .map(String::as_str)
    }

    /// Whether `name` is set (Node's `hasHeader`).
    pub(crate) fn has(&self, name: &str) -> bool {
        self.position(name).is_some()
    }

    /// Unsets `name` (Node's `removeHeader`).
    pub(crate) fn remove(&mut self, name: &str) {
        self.fields.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// Every field, names in lower case (Node's `getHeaders`).
    pub(crate) fn all(&self) -> Vec<(String, HeaderValue)> {
        self.fields
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), value_of(v)))
            .collect()
    }

    /// The names set, in lower case (Node's `getHeaderNames`).
    pub(crate) fn names(&self) -> Vec<String> {
        self.fields
            .iter()
            .map(|(n, _)| n.to_ascii_lowercase())
            .collect()
    }

    /// The fields as set: names as given, values in order (what the head
    /// is written from).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.fields.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }

    /// Forgets every field, keeping the memory (a record reused).
    pub(crate) fn clear(&mut self) {
        self.fields.clear();
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.fields
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(name))
    }
}

fn value_of(values: &[String]) -> HeaderValue {
    if values.len() == 1 {
        HeaderValue::Single(values[0].clone())
    } else {
        HeaderValue::List(values.to_vec())
    }
}

/// A list of header fields `write_head` takes: `&[]`, a literal of `&str`
/// pairs, or any slice or `Vec` of pairs of `&str` and `String` (a list
/// built at run time, with no copy into `&str` pairs by hand).
///
/// ```
/// let server = nodelike::http::create_server(|req, res| {
///     let built: Vec<(String, String)> = vec![("X-Url".into(), req.url())];
///     match req.url().as_str() {
///         "/none" => res.write_head(204, &[]),
///         "/literal" => res.write_head(200, &[("X-A", "1"), ("X-B", "2")]),
///         _ => res.write_head(200, &built),
///     }
///     res.end(());
/// });
/// let conn = server.connect_in_memory();
/// conn.send(b"GET /built HTTP/1.1\r\nHost: x\r\n\r\n");
/// assert!(String::from_utf8(conn.take_output()).unwrap().contains("X-Url: /built\r\n"));
/// ```
///
/// A literal whose values are `&String`s (`&[("Content-Length",
/// &len.to_string())]`) is not one: say `.as_str()` (or build a `Vec`);
/// the compiler says so too ("is not a list of header fields ... write
/// `String` values as `value.as_str()`"):
///
/// ```compile_fail
/// nodelike::http::create_server(|_req, res| {
///     let length = 5.to_string();
///     res.write_head(200, &[("Content-Length", &length)]);
///     res.end("hello");
/// });
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a list of header fields",
    label = "a header list is `&[]`, `&[(&str, &str)]`, or a slice or `Vec` of pairs of `&str`/`String`",
    note = "in a literal, write `String` values as `value.as_str()`: `&[(\"Content-Length\", len.as_str())]`; or pass a `Vec<(String, String)>` (or use `write_head_from` for any iterator of pairs)"
)]
pub trait HeaderList {
    /// Calls `f` with the fields as `&str` pairs (no copy for `&str`
    /// pairs; a small `Vec` of borrows otherwise).
    ///
    /// ```
    /// use nodelike::http::HeaderList;
    /// let fields = vec![("X-A".to_string(), "1".to_string())];
    /// fields.with_pairs(|pairs| assert_eq!(pairs, &[("X-A", "1")]));
    /// ```
    fn with_pairs<R>(&self, f: impl FnOnce(&[(&str, &str)]) -> R) -> R;
}

/// Literals of `&str` pairs, `&[]` included (the one array form, so an
/// empty `&[]` has a type to infer).
impl<const N: usize> HeaderList for [(&str, &str); N] {
    fn with_pairs<R>(&self, f: impl FnOnce(&[(&str, &str)]) -> R) -> R {
        f(self)
    }
}

impl<K: AsRef<str>, V: AsRef<str>> HeaderList for [(K, V)] {
    fn with_pairs<R>(&self, f: impl FnOnce(&[(&str, &str)]) -> R) -> R {
        let pairs: Vec<(&str, &str)> = self.iter().map(|(k, v)| (k.as_ref(), v.as_ref())).collect();
        f(&pairs)
    }
}

impl<K: AsRef<str>, V: AsRef<str>> HeaderList for Vec<(K, V)> {
    fn with_pairs<R>(&self, f: impl FnOnce(&[(&str, &str)]) -> R) -> R {
        self.as_slice().with_pairs(f)
    }
}

/// Refuses a header field Node's `validateHeaderName`/`validateHeaderValue`
/// refuse, with Node's words.
pub(crate) fn check_header(name: &str, value: &str) -> Result<(), Error> {
    if !encode::is_valid_header_name(name) {
        return Err(Error::new(
            ErrorKind::InvalidHeader,
            format!("Header name must be a valid HTTP token [\"{name}\"]"),
        ));
    }
    if !encode::is_valid_header_value(value) {
        return Err(Error::new(
            ErrorKind::InvalidHeader,
            format!("Invalid character in header content [\"{name}\"]"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_compare_without_case_and_keep_their_first_spelling() {
        let mut h = OutgoingHeaders::default();
        h.set("Content-Type", vec!["text/plain".into()]).unwrap();
        h.set("content-type", vec!["text/html".into()]).unwrap();
        h.append("X-Tag", "a");
        h.append("x-tag", "b");
        assert_eq!(h.first("CONTENT-TYPE"), Some("text/html"));
        assert_eq!(
            h.get("x-tag"),
            Some(HeaderValue::List(vec!["a".into(), "b".into()]))
        );
        assert_eq!(h.names(), vec!["content-type", "x-tag"]);
        let written: Vec<&str> = h.iter().map(|(n, _)| n).collect();
        assert_eq!(written, vec!["Content-Type", "X-Tag"]);
        h.remove("X-TAG");
        assert!(!h.has("x-tag"));
    }

    #[test]
    fn a_bad_field_changes_nothing_and_says_why_as_node_does() {
        let mut h = OutgoingHeaders::default();
        h.set("X-Ok", vec!["1".into()]).unwrap();
        let e = h.set("X-Ok", vec!["a\r\nInjected: 1".into()]).unwrap_err();
        assert_eq!(
            e.message(),
            "Invalid character in header content [\"X-Ok\"]"
        );
        assert_eq!(h.first("x-ok"), Some("1"));
        let e = h.set("Bad Name", vec!["v".into()]).unwrap_err();
        assert_eq!(e.code(), "ERR_INVALID_CHAR");
    }
}
