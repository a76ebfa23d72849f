//! STUB
#![allow(missing_docs, dead_code, unused_variables)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding { Utf8, Latin1, Ascii, Base64, Hex }
#[derive(Debug, Clone)]
pub struct StringDecoder { e: Encoding }
impl StringDecoder { pub fn new(enc: Encoding) -> Self { todo!() } pub fn encoding(&self) -> Encoding { self.e }
 pub fn write(&mut self, bytes: &[u8], out: &mut String) { todo!() } pub fn end(&mut self, out: &mut String) { todo!() } }
