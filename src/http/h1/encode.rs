pub fn reason_phrase(status: u16) -> &'static str { todo!() }
pub fn write_status_line(out: &mut Vec<u8>, status: u16, reason: &str) {}
pub fn write_header(out: &mut Vec<u8>, name: &str, value: &str) {}
pub fn write_decimal(out: &mut Vec<u8>, n: u64) {}
pub fn write_chunk(out: &mut Vec<u8>, data: &[u8]) {}
pub fn write_chunk_head(out: &mut Vec<u8>, len: usize) {}
pub fn write_last_chunk(out: &mut Vec<u8>, trailers: &[(String, String)]) {}
pub fn is_valid_header_name(name: &str) -> bool { todo!() }
pub fn is_valid_header_value(value: &str) -> bool { todo!() }
pub fn is_valid_method(m: &str) -> bool { todo!() }
pub fn is_valid_request_target(t: &str) -> bool { todo!() }
#[derive(Debug)] pub struct DateCache { s: String }
impl DateCache { pub fn new() -> Self { todo!() } pub fn get(&mut self, now: std::time::SystemTime) -> &str { todo!() } }
