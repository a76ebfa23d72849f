//! What [`WebSocket::send`](super::WebSocket::send) takes: text or bytes,
//! and which of the two, as `ws` decides from the argument's type (a
//! string is a text message, a `Buffer` a binary one).

/// A message to send: its bytes, and whether it is binary. Text types
/// (`&str`, `String`) send text messages; byte types (`&[u8]`, `Vec<u8>`,
/// `[u8; N]`) send binary ones, as `ws` does with strings and `Buffer`s.
///
/// ```
/// use nodelike::ws::Data;
/// assert_eq!("hi".message(), (&b"hi"[..], false));
/// assert_eq!(b"hi".message(), (&b"hi"[..], true));
/// assert_eq!(vec![1u8, 2].message(), (&[1u8, 2][..], true));
/// ```
pub trait Data {
    /// The payload and whether it is binary (`false`: text, valid UTF-8).
    fn message(&self) -> (&[u8], bool);
}

impl Data for str {
    fn message(&self) -> (&[u8], bool) {
        (self.as_bytes(), false)
    }
}

impl Data for String {
    fn message(&self) -> (&[u8], bool) {
        (self.as_bytes(), false)
    }
}

impl Data for [u8] {
    fn message(&self) -> (&[u8], bool) {
        (self, true)
    }
}

impl Data for Vec<u8> {
    fn message(&self) -> (&[u8], bool) {
        (self, true)
    }
}

impl<const N: usize> Data for [u8; N] {
    fn message(&self) -> (&[u8], bool) {
        (self, true)
    }
}

impl<T: Data + ?Sized> Data for &T {
    fn message(&self) -> (&[u8], bool) {
        (**self).message()
    }
}
