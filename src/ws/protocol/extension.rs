//! The `Sec-WebSocket-Extensions` header's grammar (RFC 6455 §9.1), parsed
//! strictly as `ws`'s extension.js does: anything off-grammar is an error,
//! not something to guess around.
//!
//! ```text
//! extension-list  = 1#extension                 ; comma-separated, no empty items
//! extension       = token *( OWS ";" OWS param )
//! param           = token [ OWS "=" OWS ( token | quoted-string ) ]
//! ```
//! A quoted value must itself be a token once unquoted (§9.1).

/// One extension of the list: its name and its parameters in order. A
/// parameter without `=` has no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Extension {
    /// The extension's token, e.g. `permessage-deflate`.
    pub(crate) name: String,
    /// `(name, value)` pairs; quoted values are unquoted.
    pub(crate) params: Vec<(String, Option<String>)>,
}

/// Parses a whole header value (repeated headers joined by ", ").
pub(crate) fn parse(header: &str) -> Result<Vec<Extension>, ()> {
    let mut list = Vec::new();
    // A comma or semicolon inside a quoted string would split it here; the
    // pieces are then malformed and rejected, which is right, since a
    // quoted value must be a token and tokens contain neither.
    for item in header.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().map(trim_ows).unwrap_or("");
        if !is_token(name) {
            return Err(());
        }
        let mut params = Vec::new();
        for part in parts {
            let (key, value) = match part.split_once('=') {
                None => (trim_ows(part), None),
                Some((k, v)) => (trim_ows(k), Some(parse_value(trim_ows(v))?)),
            };
            if !is_token(key) {
                return Err(());
            }
            params.push((key.to_string(), value));
        }
        list.push(Extension {
            name: name.to_string(),
            params,
        });
    }
    Ok(list)
}

/// A parameter's value: a token, or a quoted string whose content (after
/// `\` escapes) is a token.
fn parse_value(v: &str) -> Result<String, ()> {
    let Some(inner) = v.strip_prefix('"') else {
        return if is_token(v) {
            Ok(v.to_string())
        } else {
            Err(())
        };
    };
    let inner = inner.strip_suffix('"').ok_or(())?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next().ok_or(())?),
            '"' => return Err(()),
            c => out.push(c),
        }
    }
    if is_token(&out) {
        Ok(out)
    } else {
        Err(())
    }
}

/// Strips optional whitespace (spaces and tabs) from both ends.
fn trim_ows(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

/// Whether `s` is a non-empty RFC 7230 token.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// RFC 7230 §3.2.6 tchar.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(name: &str, params: &[(&str, Option<&str>)]) -> Extension {
        Extension {
            name: name.into(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.map(String::from)))
                .collect(),
        }
    }

    #[test]
    fn valid_headers() {
        assert_eq!(parse("foo").unwrap(), vec![ext("foo", &[])]);
        assert_eq!(
            parse("permessage-deflate; client_max_window_bits").unwrap(),
            vec![ext(
                "permessage-deflate",
                &[("client_max_window_bits", None)]
            )]
        );
        assert_eq!(
            parse("a;x=1;y, b ;\tz = \"10\" ,c").unwrap(),
            vec![
                ext("a", &[("x", Some("1")), ("y", None)]),
                ext("b", &[("z", Some("10"))]),
                ext("c", &[])
            ]
        );
        assert_eq!(
            parse("a; b=\"\\1\\0\"").unwrap(),
            vec![ext("a", &[("b", Some("10"))])]
        );
    }

    #[test]
    fn malformed_headers() {
        for bad in [
            "",
            " ",
            ",",
            "a,",
            ",a",
            "a,,b",
            "a;",
            "a; ;b",
            "a b",
            "a; b c",
            "a; b=",
            "a; b=\"\"",
            "a; b=\"1",
            "a; b=1\"",
            "a; b=\"1 2\"",
            "a; b=\"x\"y\"",
            "a; b=@",
            "a; =1",
            "a=1",
            "fo\u{e9}",
            "a; b=\"\\\"",
        ] {
            assert_eq!(parse(bad), Err(()), "{bad:?}");
        }
    }
}
