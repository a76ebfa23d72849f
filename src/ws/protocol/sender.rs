//! [`Sender`]: messages and control frames out, as bytes appended to the
//! caller's buffer.

use super::close;
use super::deflate::Deflater;
use super::frame::{
    write_header, FIN, OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_PING, OP_PONG, OP_TEXT, RSV1,
};
use super::handshake::fill_random;
use super::mask::apply_mask;
use super::Role;

/// Whether a fragmented message is being sent ([`Sender::fragment`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outgoing {
    /// The next fragment opens a message.
    Idle,
    /// A message is open: the next fragments are continuations.
    Open {
        /// Its first frame had RSV1: every fragment goes through the
        /// compressor.
        compressed: bool,
    },
}

/// Masking keys from the kernel's CSPRNG, fetched 64 at a time so that a
/// client does not make a syscall per frame.
struct MaskKeys {
    /// Random bytes, four per key.
    pool: [u8; 256],
    /// Bytes of `pool` already used.
    used: usize,
}

impl MaskKeys {
    /// An empty pool (filled on first use: servers never need one).
    fn new() -> Self {
        MaskKeys {
            pool: [0; 256],
            used: 256,
        }
    }

    /// The next key.
    fn next(&mut self) -> [u8; 4] {
        if self.used + 4 > self.pool.len() {
            fill_random(&mut self.pool);
            self.used = 0;
        }
        let k = &self.pool[self.used..self.used + 4];
        self.used += 4;
        [k[0], k[1], k[2], k[3]]
    }
}

/// Whether our frames are masked (RFC 6455 §5.3: a client's always are, a
/// server's never).
enum Masking {
    /// We are the server: frames go out unmasked.
    Server,
    /// We are the client: each frame takes the next key from the pool.
    Client(Box<MaskKeys>),
}

/// The outgoing half of a WebSocket connection: encodes frames (masked in
/// the client role, compressed when permessage-deflate was negotiated)
/// straight into the caller's buffer.
pub(crate) struct Sender {
    /// How our frames are masked: a client masks every frame, a server
    /// none (and so holds no key pool: 256 bytes less per connection).
    masking: Masking,
    /// The compressor, when permessage-deflate was negotiated (boxed: a
    /// connection without it keeps 180 bytes less).
    deflater: Option<Box<Deflater>>,
    /// The fragmented message being sent, if any.
    outgoing: Outgoing,
}

impl Sender {
    /// A sender for `role`, with a compressor when permessage-deflate was
    /// negotiated.
    pub(crate) fn new(role: Role, deflater: Option<Deflater>) -> Sender {
        let masking = match role {
            Role::Client => Masking::Client(Box::new(MaskKeys::new())),
            Role::Server => Masking::Server,
        };
        Sender {
            masking,
            deflater: deflater.map(Box::new),
            outgoing: Outgoing::Idle,
        }
    }

    /// One whole message as one frame, compressed when `compress`, a
    /// compressor exists and the message is at least its threshold.
    pub(crate) fn message(&mut self, out: &mut Vec<u8>, data: &[u8], binary: bool, compress: bool) {
        let opcode = if binary { OP_BINARY } else { OP_TEXT };
        let mask = self.mask();
        match self.deflater.as_mut() {
            Some(d) if compress && data.len() >= d.threshold() => {
                write_frame(out, FIN | RSV1 | opcode, d.compress(data, true), mask);
                d.trim();
            }
            _ => write_frame(out, FIN | opcode, data, mask),
        }
    }

    /// One fragment (`ws`'s `send(data, { fin })`): the first call opens a
    /// message (text or binary, compressed or not for all its fragments),
    /// later calls are continuations, `fin` ends it.
    pub(crate) fn fragment(
        &mut self,
        out: &mut Vec<u8>,
        data: &[u8],
        binary: bool,
        fin: bool,
        compress: bool,
    ) {
        let (opcode, compressed, rsv1) = match self.outgoing {
            Outgoing::Idle => {
                let compressed = compress
                    && self
                        .deflater
                        .as_ref()
                        .is_some_and(|d| data.len() >= d.threshold());
                let opcode = if binary { OP_BINARY } else { OP_TEXT };
                (opcode, compressed, if compressed { RSV1 } else { 0 })
            }
            // RSV1 goes on a message's first frame only (RFC 7692 §6.1).
            Outgoing::Open { compressed } => (OP_CONTINUATION, compressed, 0),
        };
        self.outgoing = if fin {
            Outgoing::Idle
        } else {
            Outgoing::Open { compressed }
        };
        let first = if fin { FIN } else { 0 } | rsv1 | opcode;
        let mask = self.mask();
        match self.deflater.as_mut() {
            Some(d) if compressed => {
                write_frame(out, first, d.compress(data, fin), mask);
                if fin {
                    d.trim();
                }
            }
            _ => write_frame(out, first, data, mask),
        }
    }

    /// A ping (the caller keeps the payload within 125 bytes).
    pub(crate) fn ping(&mut self, out: &mut Vec<u8>, payload: &[u8]) {
        let mask = self.mask();
        write_frame(out, FIN | OP_PING, payload, mask);
    }

    /// A pong (the caller keeps the payload within 125 bytes).
    pub(crate) fn pong(&mut self, out: &mut Vec<u8>, payload: &[u8]) {
        let mask = self.mask();
        write_frame(out, FIN | OP_PONG, payload, mask);
    }

    /// A close frame: no body without a code (the caller checks the code
    /// and the reason's length).
    pub(crate) fn close(&mut self, out: &mut Vec<u8>, code: Option<u16>, reason: &str) {
        let mask = self.mask();
        write_header(out, FIN | OP_CLOSE, close::body_len(code, reason), mask);
        let start = out.len();
        close::write_body(out, code, reason);
        if let Some(key) = mask {
            apply_mask(&mut out[start..], key, 0);
        }
    }

    /// A fresh masking key in the client role, none in the server role.
    fn mask(&mut self) -> Option<[u8; 4]> {
        match &mut self.masking {
            Masking::Client(keys) => Some(keys.next()),
            Masking::Server => None,
        }
    }
}

/// Appends a frame: header, then the payload (masked in place when `mask`).
fn write_frame(out: &mut Vec<u8>, first: u8, payload: &[u8], mask: Option<[u8; 4]>) {
    write_header(out, first, payload.len(), mask);
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        apply_mask(&mut out[start..], key, 0);
    }
}

/// Test hook: a sender whose masking keys are all `key` (RFC examples use
/// fixed keys).
#[cfg(test)]
impl Sender {
    pub(crate) fn with_fixed_mask(role: Role, deflater: Option<Deflater>, key: [u8; 4]) -> Sender {
        let mut s = Sender::new(role, deflater);
        if let Masking::Client(keys) = &mut s.masking {
            keys.pool = [key; 64].concat().try_into().unwrap_or([0; 256]);
            keys.used = 0;
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws::protocol::receiver::tests::{check_all, Ev};

    const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    fn server() -> Sender {
        Sender::new(Role::Server, None)
    }

    fn client() -> Sender {
        Sender::with_fixed_mask(Role::Client, None, KEY)
    }

    #[test]
    fn rfc6455_examples() {
        let mut out = Vec::new();
        server().message(&mut out, b"Hello", false, true);
        assert_eq!(out, [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        out.clear();
        client().message(&mut out, b"Hello", false, false);
        assert_eq!(
            out,
            [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
        );
        out.clear();
        let mut s = server();
        s.fragment(&mut out, b"Hel", false, false, false);
        s.fragment(&mut out, b"lo", false, true, false);
        assert_eq!(out, [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f]);
        out.clear();
        server().ping(&mut out, b"Hello");
        assert_eq!(out, [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        out.clear();
        client().pong(&mut out, b"Hello");
        assert_eq!(
            out,
            [0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
        );
        let data: Vec<u8> = (0..65536u32).map(|i| (i * 13) as u8).collect();
        out.clear();
        server().message(&mut out, &data[..256], true, false);
        assert_eq!(&out[..4], &[0x82, 0x7e, 0x01, 0x00]);
        assert_eq!(&out[4..], &data[..256]);
        out.clear();
        server().message(&mut out, &data, true, false);
        assert_eq!(&out[..10], &[0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00]);
        assert_eq!(&out[10..], &data[..]);
        // The client's masked frames read back in the server role.
        out.clear();
        client().message(&mut out, &data, true, false);
        assert_eq!(
            &out[..14],
            &[0x82, 0xff, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00, 0x37, 0xfa, 0x21, 0x3d]
        );
        assert_eq!(
            check_all(Role::Server, None, 0, &out),
            (vec![Ev::Binary(data)], Ok(()))
        );
    }

    #[test]
    fn close_frames() {
        let mut out = Vec::new();
        server().close(&mut out, Some(1000), "bye");
        assert_eq!(out, [0x88, 0x05, 0x03, 0xe8, b'b', b'y', b'e']);
        out.clear();
        server().close(&mut out, None, "");
        assert_eq!(out, [0x88, 0x00]);
        out.clear();
        client().close(&mut out, Some(4000), "é");
        assert_eq!(
            check_all(Role::Server, None, 0, &out),
            (vec![Ev::Close(Some(4000), "é".into())], Ok(()))
        );
    }

    #[test]
    fn client_keys_change_per_frame() {
        let mut c = Sender::new(Role::Client, None);
        let mut a = Vec::new();
        let mut b = Vec::new();
        c.message(&mut a, b"same", false, false);
        c.message(&mut b, b"same", false, false);
        assert_ne!(a[2..6], b[2..6]);
        for _ in 0..200 {
            a.clear();
            c.message(&mut a, b"same", false, false);
            assert_eq!(
                check_all(Role::Server, None, 0, &a).0,
                vec![Ev::Text("same".into())]
            );
        }
    }

    #[test]
    fn no_allocation_when_out_has_room() {
        let mut s = client();
        let mut out = Vec::with_capacity(1024);
        let ptr = out.as_ptr();
        for _ in 0..10 {
            out.clear();
            s.message(&mut out, &[1; 32], true, false);
        }
        assert_eq!(out.as_ptr(), ptr);
    }
}

/// A rough per-message cost, for a release build:
/// `cargo test --release --lib ws::protocol::sender::speed -- --ignored --nocapture`.
#[cfg(test)]
mod speed {
    use super::*;
    use crate::ws::protocol::{Flow, Incoming, Receiver};

    #[test]
    #[ignore = "a timing, meaningful in release builds only"]
    fn echo_32_byte_messages() {
        // A client's stream of 32-byte masked text frames, read by a
        // server that echoes each one.
        let mut client = Sender::new(Role::Client, None);
        let mut wire = Vec::new();
        let n = 100_000;
        for _ in 0..n {
            client.message(&mut wire, b"0123456789abcdef0123456789abcdef", false, false);
        }
        let mut server = Sender::new(Role::Server, None);
        let mut receiver = Receiver::new(Role::Server, 100 << 20, None);
        let mut out = Vec::with_capacity(64 << 10);
        let start = std::time::Instant::now();
        for chunk in wire.chunks(16 << 10) {
            let used = receiver
                .receive(chunk, &mut |e| {
                    if let Incoming::Message { data, binary } = e {
                        server.message(&mut out, data, binary, false);
                    }
                    Flow::Continue
                })
                .unwrap();
            assert_eq!(used, chunk.len());
            out.clear();
        }
        let per = start.elapsed() / n;
        eprintln!("receive + echo of a 32-byte message: {per:?}");
    }
}
