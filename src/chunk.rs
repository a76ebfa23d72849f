//! Body chunks: what `data` listeners receive and what `write`/`end` accept.

use std::fmt;
use std::ops::Deref;

/// A piece of a body, lent to a `data` listener for the length of the call.
///
/// Without `set_encoding` it is [`Chunk::Bytes`], a slice of the connection's
/// read buffer (no copy); with an encoding set it is [`Chunk::Text`]. It
/// derefs to bytes, prints as text, and can be written straight back out:
///
/// ```
/// use nodelike::Chunk;
/// let c = Chunk::Bytes(b"hi");
/// assert_eq!(&*c, b"hi");
/// assert_eq!(c.to_string(), "hi");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chunk<'a> {
    /// Raw body bytes (Node's `Buffer`).
    Bytes(&'a [u8]),
    /// Body text decoded by the encoding set with `set_encoding`.
    Text(&'a str),
}

impl<'a> Chunk<'a> {
    /// The bytes of the chunk (text as its UTF-8 bytes).
    ///
    /// ```
    /// assert_eq!(nodelike::Chunk::Text("é").as_bytes(), "é".as_bytes());
    /// ```
    pub fn as_bytes(&self) -> &'a [u8] {
        match *self {
            Chunk::Bytes(b) => b,
            Chunk::Text(s) => s.as_bytes(),
        }
    }

    /// The text, when an encoding was set (or the bytes happen to be UTF-8).
    ///
    /// ```
    /// assert_eq!(nodelike::Chunk::Bytes(b"ok").as_str(), Some("ok"));
    /// assert_eq!(nodelike::Chunk::Bytes(&[0xff]).as_str(), None);
    /// ```
    pub fn as_str(&self) -> Option<&'a str> {
        match *self {
            Chunk::Bytes(b) => std::str::from_utf8(b).ok(),
            Chunk::Text(s) => Some(s),
        }
    }

    /// Copies the chunk out, for keeping it beyond the listener call.
    ///
    /// ```
    /// let kept: Vec<u8> = nodelike::Chunk::Bytes(b"abc").to_vec();
    /// assert_eq!(kept, b"abc");
    /// ```
    pub fn to_vec(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
}

impl Deref for Chunk<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl fmt::Display for Chunk<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Chunk::Bytes(b) => f.write_str(&String::from_utf8_lossy(b)),
            Chunk::Text(s) => f.write_str(s),
        }
    }
}

/// Anything `write` and `end` accept as body data: text, bytes, a received
/// [`Chunk`], or `()` for "no data" (`res.end(())` is Node's `res.end()`).
///
/// ```
/// use nodelike::IntoChunk;
/// assert_eq!("hi".chunk_bytes(), b"hi");
/// assert_eq!(().chunk_bytes(), b"");
/// assert_eq!(vec![1u8, 2].chunk_bytes(), &[1, 2]);
/// ```
pub trait IntoChunk {
    /// The bytes to send.
    fn chunk_bytes(&self) -> &[u8];
}

impl IntoChunk for () {
    fn chunk_bytes(&self) -> &[u8] {
        &[]
    }
}
impl IntoChunk for str {
    fn chunk_bytes(&self) -> &[u8] {
        self.as_bytes()
    }
}
impl IntoChunk for String {
    fn chunk_bytes(&self) -> &[u8] {
        self.as_bytes()
    }
}
impl IntoChunk for [u8] {
    fn chunk_bytes(&self) -> &[u8] {
        self
    }
}
impl IntoChunk for Vec<u8> {
    fn chunk_bytes(&self) -> &[u8] {
        self
    }
}
impl<const N: usize> IntoChunk for [u8; N] {
    fn chunk_bytes(&self) -> &[u8] {
        self
    }
}
impl IntoChunk for Chunk<'_> {
    fn chunk_bytes(&self) -> &[u8] {
        self.as_bytes()
    }
}
impl<T: IntoChunk + ?Sized> IntoChunk for &T {
    fn chunk_bytes(&self) -> &[u8] {
        (**self).chunk_bytes()
    }
}
