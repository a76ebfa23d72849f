//! TEMPORARY stub (lead's branch only, replaced by helper A's sender).
use super::{Deflater, Role};
pub(crate) struct Sender;
impl Sender {
    pub(crate) fn new(_role: Role, _d: Option<Deflater>) -> Sender {
        Sender
    }
    pub(crate) fn message(
        &mut self,
        _out: &mut Vec<u8>,
        _data: &[u8],
        _binary: bool,
        _compress: bool,
    ) {
    }
    pub(crate) fn fragment(
        &mut self,
        _out: &mut Vec<u8>,
        _data: &[u8],
        _binary: bool,
        _fin: bool,
        _compress: bool,
    ) {
    }
    pub(crate) fn ping(&mut self, _out: &mut Vec<u8>, _p: &[u8]) {}
    pub(crate) fn pong(&mut self, _out: &mut Vec<u8>, _p: &[u8]) {}
    pub(crate) fn close(&mut self, _out: &mut Vec<u8>, _code: Option<u16>, _reason: &str) {}
}
