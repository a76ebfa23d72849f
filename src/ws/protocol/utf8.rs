//! Incremental UTF-8 validation: a text message is checked as its bytes
//! arrive (across frames and reads), failing at the first byte that cannot
//! continue any valid UTF-8 sequence, as RFC 6455 §8.1 asks ("fail fast")
//! and Autobahn's section 6 tests.

/// Validates a stream of bytes piece by piece. Between pieces it holds the
/// (at most 3) bytes of a character cut off at the end of the last piece.
#[derive(Debug, Default, Clone)]
pub(crate) struct Utf8Validator {
    /// The start of a character cut off at the end of the previous piece.
    pending: [u8; 4],
    /// How many bytes of `pending` are in use (0 to 3).
    pending_len: usize,
}

impl Utf8Validator {
    /// A validator at the start of a message.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Forgets any cut-off character (a new message starts).
    pub(crate) fn reset(&mut self) {
        self.pending_len = 0;
    }

    /// Feeds the next piece. `false` as soon as the bytes so far cannot be
    /// the start of valid UTF-8.
    pub(crate) fn feed(&mut self, mut bytes: &[u8]) -> bool {
        if self.pending_len > 0 {
            // Finish the character cut off last time, one byte at a time
            // (at most three), so that an impossible byte fails here.
            let need = sequence_len(self.pending[0]);
            while self.pending_len < need {
                let Some((&b, rest)) = bytes.split_first() else {
                    return true; // still cut off, and still possible
                };
                self.pending[self.pending_len] = b;
                self.pending_len += 1;
                bytes = rest;
                match std::str::from_utf8(&self.pending[..self.pending_len]) {
                    Ok(_) => {}
                    // `error_len() == None`: a valid prefix cut short.
                    Err(e) if e.error_len().is_none() => {}
                    Err(_) => return false,
                }
            }
            self.pending_len = 0;
        }
        match std::str::from_utf8(bytes) {
            Ok(_) => true,
            Err(e) => {
                if e.error_len().is_some() {
                    return false;
                }
                // A valid prefix of a character at the very end: keep it.
                let tail = &bytes[e.valid_up_to()..];
                self.pending[..tail.len()].copy_from_slice(tail);
                self.pending_len = tail.len();
                true
            }
        }
    }

    /// The message ended: valid only if no character is left cut off.
    pub(crate) fn finish(&mut self) -> bool {
        let complete = self.pending_len == 0;
        self.pending_len = 0;
        complete
    }
}

/// The length of the sequence a lead byte starts (a byte that can only be
/// invalid counts as 1, and `from_utf8` then rejects it).
fn sequence_len(lead: u8) -> usize {
    match lead {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF7 => 4,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `bytes` split at every point and byte by byte; returns the
    /// verdict, which must not depend on the split.
    fn check(bytes: &[u8]) -> bool {
        let mut whole = Utf8Validator::new();
        let expected = whole.feed(bytes) && whole.finish();
        for split in 0..=bytes.len() {
            let mut v = Utf8Validator::new();
            let got = v.feed(&bytes[..split]) && v.feed(&bytes[split..]) && v.finish();
            assert_eq!(got, expected, "split at {split} of {bytes:x?}");
        }
        let mut v = Utf8Validator::new();
        let got = bytes.iter().all(|b| v.feed(std::slice::from_ref(b))) && v.finish();
        assert_eq!(got, expected, "byte by byte {bytes:x?}");
        expected
    }

    #[test]
    fn valid_text() {
        assert!(check(b""));
        assert!(check(b"Hello"));
        assert!(check("κόσμε".as_bytes()));
        assert!(check("\u{10FFFF}\u{FFFF}\u{7FF}\u{80}".as_bytes()));
        assert!(check("Hello-µ@ßöäüàá-UTF-8!!".as_bytes()));
    }

    #[test]
    fn invalid_text() {
        assert!(!check(
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited"
        ));
        assert!(!check(b"\xf4\x90\x80\x80")); // above U+10FFFF
        assert!(!check(b"\xc0\xaf")); // overlong
        assert!(!check(b"\xed\xa0\x80")); // surrogate
        assert!(!check(b"\xff"));
        assert!(!check(b"abc\xe2\x82")); // cut off at the end
    }

    #[test]
    fn fails_at_the_first_impossible_byte() {
        // "\xf4\x90" can start nothing valid: it must fail before the rest.
        let mut v = Utf8Validator::new();
        assert!(v.feed(b"ok\xf4"));
        assert!(!v.feed(b"\x90"));
        let mut v = Utf8Validator::new();
        assert!(v.feed(b"\xce\xba\xe1"));
        assert!(!v.feed(b"\xbd\x20"));
        // A valid prefix cut at the end stays possible.
        let mut v = Utf8Validator::new();
        assert!(v.feed(b"\xf0\x90\x80"));
        assert!(v.feed(b"\x80"));
        assert!(v.finish());
    }
}
