use std::ops::Range;
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits { pub max_head_bytes: usize, pub max_headers: usize, pub max_target_len: usize }
impl Default for Limits { fn default() -> Self { todo!() } }
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyKind { #[default] Empty, Length(u64), Chunked, Eof }
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError { Malformed(&'static str), HeadTooLarge, TooManyHeaders, TargetTooLong, UnsupportedVersion, UnsupportedTransferCoding }
impl ParseError { pub fn status(&self) -> u16 { todo!() } pub fn reason(&self) -> &'static str { todo!() } }
impl std::fmt::Display for ParseError { fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { todo!() } }
impl std::error::Error for ParseError {}
#[derive(Debug, Clone, Default)]
pub struct ParsedRequest { pub method: Range<usize>, pub target: Range<usize>, pub version_minor: u8, pub headers: Vec<(Range<usize>, Range<usize>)>, pub body: BodyKind, pub keep_alive: bool, pub expect_continue: bool, pub expect_other: bool, pub upgrade: bool }
pub fn parse_request_head(buf: &[u8], limits: &Limits, out: &mut ParsedRequest) -> Result<Option<usize>, ParseError> { todo!() }
#[derive(Debug, Clone, Default)]
pub struct ParsedResponse { pub status: u16, pub reason: Range<usize>, pub version_minor: u8, pub headers: Vec<(Range<usize>, Range<usize>)>, pub body: BodyKind, pub keep_alive: bool, pub upgrade: bool }
pub fn parse_response_head(buf: &[u8], request_method_is_head: bool, limits: &Limits, out: &mut ParsedResponse) -> Result<Option<usize>, ParseError> { todo!() }
