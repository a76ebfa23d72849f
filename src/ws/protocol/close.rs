//! Close codes (RFC 6455 §7.4) and the close frame's body.

/// Whether a close code may appear in a close frame on the wire
/// (RFC 6455 §7.4.1-2 and IANA's registry, as `ws`'s `isValidStatusCode`):
/// 1000-1003 and 1007-1014 are defined, 3000-4999 belong to libraries and
/// applications. 1004 is reserved, 1005/1006/1015 are for reporting only
/// (they mean "no code", "dropped" and "TLS failed") and never sent; the
/// rest of 1000-2999 is reserved for future RFCs.
pub(crate) fn is_valid_wire_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// Appends a close frame's body: the code big-endian, then the reason.
/// No code means an empty body (and then there can be no reason).
pub(crate) fn write_body(out: &mut Vec<u8>, code: Option<u16>, reason: &str) {
    if let Some(code) = code {
        out.extend_from_slice(&code.to_be_bytes());
        out.extend_from_slice(reason.as_bytes());
    }
}

/// The length of the body [`write_body`] writes.
pub(crate) fn body_len(code: Option<u16>, reason: &str) -> usize {
    if code.is_some() {
        2 + reason.len()
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_codes() {
        for ok in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999,
        ] {
            assert!(is_valid_wire_code(ok), "{ok}");
        }
        for bad in [
            0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ] {
            assert!(!is_valid_wire_code(bad), "{bad}");
        }
    }
}
