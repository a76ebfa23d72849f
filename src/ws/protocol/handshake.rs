//! The opening handshake (RFC 6455 §4): the server's checks of an upgrade
//! request, the client's checks of the 101 response, and the keys.
//! Refusal texts are the `ws` package's.

use super::deflate::{accept_server_response, DeflateParams, PerMessageDeflate};
use super::extension::is_token;
use super::sha1::sha1;

/// The GUID RFC 6455 §1.3 appends to the client's key.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key`:
/// base64(SHA-1(key + GUID)).
pub(crate) fn accept_key(client_key: &str) -> String {
    let mut input = Vec::with_capacity(client_key.len() + GUID.len());
    input.extend_from_slice(client_key.as_bytes());
    input.extend_from_slice(GUID.as_bytes());
    base64(&sha1(&input))
}

/// A fresh `Sec-WebSocket-Key`: 16 random bytes, base64 (24 characters).
pub(crate) fn new_client_key() -> String {
    let mut nonce = [0u8; 16];
    fill_random(&mut nonce);
    base64(&nonce)
}

/// Fills `buf` from the kernel's CSPRNG (getrandom(2)). Should that ever
/// fail (it does not on Linux 3.17+), std's randomly keyed SipHash stands
/// in: masking keys must be unpredictable to web content, not secret.
pub(crate) fn fill_random(buf: &mut [u8]) {
    let mut filled = 0;
    let mut failures = 0;
    while filled < buf.len() {
        match rustix::rand::getrandom(&mut buf[filled..], rustix::rand::GetRandomFlags::empty()) {
            Ok(n) if n > 0 => filled += n,
            _ if failures < 3 => failures += 1,
            _ => {
                use std::hash::{BuildHasher, Hasher};
                for chunk in buf[filled..].chunks_mut(8) {
                    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
                    h.write_usize(chunk.as_ptr() as usize);
                    let word = h.finish().to_ne_bytes();
                    chunk.copy_from_slice(&word[..chunk.len()]);
                }
                return;
            }
        }
    }
}

/// Standard base64 with padding (RFC 4648 §4).
pub(crate) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let b = [
            group[0],
            *group.get(1).unwrap_or(&0),
            *group.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= group.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// What the server needs from an acceptable upgrade request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UpgradeRequest<'a> {
    /// `Sec-WebSocket-Key`, for [`accept_key`].
    pub(crate) key: &'a str,
    /// The subprotocols offered, in the client's order (no duplicates).
    pub(crate) protocols: Vec<&'a str>,
    /// `Sec-WebSocket-Extensions`, unparsed (for
    /// [`negotiate_server`](super::negotiate_server)).
    pub(crate) extensions: Option<&'a str>,
}

/// Why an upgrade request is refused: the HTTP status, the body text
/// (`ws`'s message) and any extra headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// 400, 405 or 426.
    pub(crate) status: u16,
    /// The reason, also the response body.
    pub(crate) message: &'static str,
    /// Headers the refusal must carry (426's `Sec-WebSocket-Version`).
    pub(crate) headers: &'static [(&'static str, &'static str)],
}

/// A refusal with no extra headers.
const fn refuse(status: u16, message: &'static str) -> Refusal {
    Refusal {
        status,
        message,
        headers: &[],
    }
}

/// Checks an upgrade request (`ws`'s websocket-server.js and RFC 6455
/// §4.2.1). `header(name)` gives a header's value by lower-case name, with
/// repeated headers joined by ", ".
pub(crate) fn check_upgrade_request<'a>(
    method: &str,
    header: &dyn Fn(&str) -> Option<&'a str>,
) -> Result<UpgradeRequest<'a>, Refusal> {
    if method != "GET" {
        return Err(refuse(405, "Invalid HTTP method"));
    }
    if !header("upgrade").is_some_and(|v| has_token(v, "websocket")) {
        return Err(refuse(400, "Invalid Upgrade header"));
    }
    if !header("connection").is_some_and(|v| has_token(v, "upgrade")) {
        return Err(refuse(400, "Invalid Connection header"));
    }
    let key = match header("sec-websocket-key") {
        Some(k) if is_valid_key(k) => k,
        _ => return Err(refuse(400, "Missing or invalid Sec-WebSocket-Key header")),
    };
    if header("sec-websocket-version").map(trim_ows) != Some("13") {
        return Err(Refusal {
            status: 426,
            message: "Missing or invalid Sec-WebSocket-Version header",
            headers: &[("Sec-WebSocket-Version", "13")],
        });
    }
    let protocols = match header("sec-websocket-protocol") {
        None => Vec::new(),
        Some(v) => {
            parse_protocols(v).ok_or(refuse(400, "Invalid Sec-WebSocket-Protocol header"))?
        }
    };
    Ok(UpgradeRequest {
        key,
        protocols,
        extensions: header("sec-websocket-extensions"),
    })
}

/// Checks the server's answer to our upgrade request (`ws`'s websocket.js):
/// the status, `Upgrade`, `Sec-WebSocket-Accept` against our `key`, the
/// subprotocol against the ones we offered, and the extensions against our
/// permessage-deflate offer (`deflate`, when we made one). Gives the chosen
/// subprotocol ("" for none) and the deflate parameters when the server
/// accepted compression.
pub(crate) fn check_upgrade_response<'a>(
    status: u16,
    header: &dyn Fn(&str) -> Option<&'a str>,
    key: &str,
    protocols: &[String],
    deflate: Option<&PerMessageDeflate>,
) -> Result<(String, Option<DeflateParams>), String> {
    if status != 101 {
        return Err(format!("Unexpected server response: {status}"));
    }
    if !header("upgrade").is_some_and(|v| trim_ows(v).eq_ignore_ascii_case("websocket")) {
        return Err("Invalid Upgrade header".into());
    }
    if header("sec-websocket-accept") != Some(accept_key(key).as_str()) {
        return Err("Invalid Sec-WebSocket-Accept header".into());
    }
    let protocol = match header("sec-websocket-protocol") {
        Some(_) if protocols.is_empty() => {
            return Err("Server sent a subprotocol but none was requested".into())
        }
        Some(p) if !protocols.iter().any(|ours| ours == p) => {
            return Err("Server sent an invalid subprotocol".into())
        }
        Some(p) => p.to_string(),
        None if !protocols.is_empty() => return Err("Server sent no subprotocol".into()),
        None => String::new(),
    };
    let params = match (header("sec-websocket-extensions"), deflate) {
        (None, _) => None,
        (Some(_), None) => {
            return Err(
                "Server sent a Sec-WebSocket-Extensions header but no extension was requested"
                    .into(),
            )
        }
        (Some(value), Some(opts)) => {
            Some(accept_server_response(value, opts).map_err(String::from)?)
        }
    };
    Ok((protocol, params))
}

/// `^[+/0-9A-Za-z]{22}==$`: base64 of 16 bytes, as `ws` checks it.
fn is_valid_key(key: &str) -> bool {
    let b = key.as_bytes();
    b.len() == 24
        && b.ends_with(b"==")
        && b[..22]
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/')
}

/// Whether a comma-separated header value has `token`, case-insensitively.
fn has_token(value: &str, token: &str) -> bool {
    value
        .split(',')
        .any(|t| trim_ows(t).eq_ignore_ascii_case(token))
}

/// `Sec-WebSocket-Protocol`: comma-separated tokens with optional
/// whitespace; `None` when one is empty, not a token, or repeated.
fn parse_protocols(value: &str) -> Option<Vec<&str>> {
    let mut out: Vec<&str> = Vec::new();
    for p in value.split(',').map(trim_ows) {
        if !is_token(p) || out.contains(&p) {
            return None;
        }
        out.push(p);
    }
    Some(out)
}

/// Strips optional whitespace (spaces and tabs).
fn trim_ows(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers<'a>(list: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<&'a str> + 'a {
        move |name: &str| list.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
    }

    /// Headers to replace (`Some`) or remove (`None`).
    type Changes<'a> = &'a [(&'static str, Option<&'static str>)];

    const GOOD: &[(&str, &str)] = &[
        ("upgrade", "websocket"),
        ("connection", "Upgrade"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("sec-websocket-version", "13"),
    ];

    fn with(changes: &[(&'static str, Option<&'static str>)]) -> Vec<(&'static str, &'static str)> {
        let mut list: Vec<_> = GOOD.to_vec();
        for (name, value) in changes {
            list.retain(|(k, _)| k != name);
            if let Some(v) = value {
                list.push((name, v));
            }
        }
        list
    }

    #[test]
    fn rfc_accept_key_example() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn base64_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn client_keys_are_valid_and_fresh() {
        let a = new_client_key();
        let b = new_client_key();
        assert!(is_valid_key(&a), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn accepts_a_good_request() {
        let list = with(&[
            ("sec-websocket-protocol", Some("chat, superchat")),
            ("sec-websocket-extensions", Some("permessage-deflate")),
            ("connection", Some("keep-alive, Upgrade")),
            ("upgrade", Some("WebSocket")),
        ]);
        let req = check_upgrade_request("GET", &headers(&list)).unwrap();
        assert_eq!(req.key, "dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(req.protocols, ["chat", "superchat"]);
        assert_eq!(req.extensions, Some("permessage-deflate"));
        let req = check_upgrade_request("GET", &headers(GOOD)).unwrap();
        assert!(req.protocols.is_empty() && req.extensions.is_none());
    }

    #[test]
    fn refusals() {
        let r = check_upgrade_request("POST", &headers(GOOD)).unwrap_err();
        assert_eq!((r.status, r.message), (405, "Invalid HTTP method"));
        let cases: &[(Changes<'_>, u16, &str)] = &[
            (&[("upgrade", None)], 400, "Invalid Upgrade header"),
            (&[("upgrade", Some("h2c"))], 400, "Invalid Upgrade header"),
            (&[("connection", None)], 400, "Invalid Connection header"),
            (
                &[("connection", Some("keep-alive"))],
                400,
                "Invalid Connection header",
            ),
            (
                &[("sec-websocket-key", None)],
                400,
                "Missing or invalid Sec-WebSocket-Key header",
            ),
            (
                &[("sec-websocket-key", Some("dGhlIHNhbXBsZSBub25jZQ="))],
                400,
                "Missing or invalid Sec-WebSocket-Key header",
            ),
            (
                &[("sec-websocket-key", Some("dGhlIHNhbXBsZSBub25jZ!=="))],
                400,
                "Missing or invalid Sec-WebSocket-Key header",
            ),
            (
                &[("sec-websocket-version", None)],
                426,
                "Missing or invalid Sec-WebSocket-Version header",
            ),
            (
                &[("sec-websocket-version", Some("8"))],
                426,
                "Missing or invalid Sec-WebSocket-Version header",
            ),
            (
                &[("sec-websocket-protocol", Some(""))],
                400,
                "Invalid Sec-WebSocket-Protocol header",
            ),
            (
                &[("sec-websocket-protocol", Some("a,,b"))],
                400,
                "Invalid Sec-WebSocket-Protocol header",
            ),
            (
                &[("sec-websocket-protocol", Some("a, a"))],
                400,
                "Invalid Sec-WebSocket-Protocol header",
            ),
            (
                &[("sec-websocket-protocol", Some("a b"))],
                400,
                "Invalid Sec-WebSocket-Protocol header",
            ),
        ];
        for (changes, status, message) in cases {
            let list = with(changes);
            let r = check_upgrade_request("GET", &headers(&list)).unwrap_err();
            assert_eq!((r.status, r.message), (*status, *message), "{changes:?}");
            if r.status == 426 {
                assert_eq!(r.headers, &[("Sec-WebSocket-Version", "13")]);
            } else {
                assert!(r.headers.is_empty());
            }
        }
    }

    #[test]
    fn response_checks() {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let good = [
            ("upgrade", "websocket"),
            ("sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        ];
        let check = |status,
                     list: &[(&str, &str)],
                     protocols: &[&str],
                     deflate: Option<&PerMessageDeflate>| {
            let protocols: Vec<String> = protocols.iter().map(|s| s.to_string()).collect();
            check_upgrade_response(status, &headers(list), key, &protocols, deflate)
        };
        assert_eq!(check(101, &good, &[], None), Ok((String::new(), None)));
        assert_eq!(
            check(200, &good, &[], None).unwrap_err(),
            "Unexpected server response: 200"
        );
        assert_eq!(
            check(101, &good[1..], &[], None).unwrap_err(),
            "Invalid Upgrade header"
        );
        let bad_accept = [("upgrade", "websocket"), ("sec-websocket-accept", "x")];
        assert_eq!(
            check(101, &bad_accept, &[], None).unwrap_err(),
            "Invalid Sec-WebSocket-Accept header"
        );
        let mut with_proto = good.to_vec();
        with_proto.push(("sec-websocket-protocol", "chat"));
        assert_eq!(
            check(101, &with_proto, &["x", "chat"], None),
            Ok(("chat".into(), None))
        );
        assert_eq!(
            check(101, &with_proto, &[], None).unwrap_err(),
            "Server sent a subprotocol but none was requested"
        );
        assert_eq!(
            check(101, &with_proto, &["x"], None).unwrap_err(),
            "Server sent an invalid subprotocol"
        );
        assert_eq!(
            check(101, &good, &["x"], None).unwrap_err(),
            "Server sent no subprotocol"
        );
        let mut with_ext = good.to_vec();
        with_ext.push((
            "sec-websocket-extensions",
            "permessage-deflate; server_no_context_takeover",
        ));
        assert_eq!(
            check(101, &with_ext, &[], None).unwrap_err(),
            "Server sent a Sec-WebSocket-Extensions header but no extension was requested"
        );
        let opts = PerMessageDeflate::default();
        let (_, params) = check(101, &with_ext, &[], Some(&opts)).unwrap();
        assert!(params.unwrap().server_no_context_takeover);
        let mut other_ext = good.to_vec();
        other_ext.push(("sec-websocket-extensions", "x-foo"));
        assert_eq!(
            check(101, &other_ext, &[], Some(&opts)).unwrap_err(),
            "Server indicated an extension that was not requested"
        );
        let mut bad_ext = good.to_vec();
        bad_ext.push(("sec-websocket-extensions", "permessage-deflate; foo"));
        assert_eq!(
            check(101, &bad_ext, &[], Some(&opts)).unwrap_err(),
            "Invalid Sec-WebSocket-Extensions header"
        );
    }
}
