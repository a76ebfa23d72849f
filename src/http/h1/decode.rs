use super::parse::BodyKind;
#[derive(Debug)]
pub struct Decoder { k: BodyKind }
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<'a> { Data(&'a [u8]), NeedMore, Done }
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError { InvalidChunkSize }
impl DecodeError { pub fn reason(&self) -> &'static str { todo!() } }
impl std::fmt::Display for DecodeError { fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { todo!() } }
impl Decoder { pub fn new(kind: BodyKind) -> Decoder { todo!() }
 pub fn decode<'a>(&mut self, input: &'a [u8]) -> Result<(usize, Decoded<'a>), DecodeError> { todo!() }
 pub fn is_done(&self) -> bool { todo!() } pub fn eof_is_clean(&self) -> bool { todo!() }
 pub fn trailers(&self) -> impl Iterator<Item = (&[u8], &[u8])> { std::iter::empty() } pub fn reset(&mut self, kind: BodyKind) {} }
