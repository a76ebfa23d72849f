//! permessage-deflate (RFC 7692): the options, the negotiation of
//! `Sec-WebSocket-Extensions`, and the per-connection compressor and
//! decompressor.
//!
//! Each message is raw DEFLATE (no zlib header) ended by a sync flush,
//! whose trailing empty stored block `00 00 ff ff` is stripped by the
//! sender and put back by the receiver (§7.2.1-2). With context takeover
//! (the default) the LZ77 window carries over from message to message; a
//! `*_no_context_takeover` parameter makes that side start every message
//! afresh.
//!
//! **Window bits 8.** zlib cannot compress with a 256-byte window (raw
//! deflate with windowBits 8 is refused, and flate2 accepts 9..=15 only),
//! so a peer that asks for 8 gets our 9-bit compressor: zlib's deflate
//! never emits a distance beyond the window size minus 262 bytes (250 for
//! a 512-byte window), which a 256-byte window decodes. Decompressing
//! always works with a window at least as large as the peer's, so our
//! decompressor uses 9 for 8. Node's zlib does the same mapping.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::error::{ProtocolError, INVALID_DEFLATE, MAX_PAYLOAD};
use super::extension::{self, Extension};
use super::Role;

/// The trailer a sync flush ends with (an empty stored block).
const TRAILER: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The extension's token.
const NAME: &str = "permessage-deflate";

/// Options for permessage-deflate: `ws`'s `perMessageDeflate` object
/// (`WebSocketServer` has it off by default, a client offers it by default).
///
/// The `*_max_window_bits` limits are base-2 logarithms of the LZ77 window
/// (8 to 15; `None` leaves it to the peer, up to 15).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerMessageDeflate {
    /// The server starts every message with an empty window (uses less
    /// memory between messages, compresses worse).
    pub server_no_context_takeover: bool,
    /// The client starts every message with an empty window.
    pub client_no_context_takeover: bool,
    /// The largest window the server may compress with.
    pub server_max_window_bits: Option<u8>,
    /// The largest window the client may compress with.
    pub client_max_window_bits: Option<u8>,
    /// Messages smaller than this many bytes are sent uncompressed
    /// (default 1024, as `ws`): compressing a few bytes costs more time
    /// than it saves bandwidth.
    pub threshold: usize,
    /// The zlib compression level, 0 (store) to 9 (best); default 6, zlib's
    /// default, as `ws`.
    pub level: u32,
    /// `ws`'s `concurrencyLimit` (default 10): how many zlib jobs `ws` runs
    /// at once on Node's thread pool. Kept for parity; here compression runs
    /// on the event loop, one message at a time, so it has no effect.
    pub concurrency_limit: usize,
}

impl Default for PerMessageDeflate {
    fn default() -> Self {
        PerMessageDeflate {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: None,
            client_max_window_bits: None,
            threshold: 1024,
            level: 6,
            concurrency_limit: 10,
        }
    }
}

/// What both sides agreed on (RFC 7692 §7.1). Window bits are 8..=15 (15
/// when the parameter was absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DeflateParams {
    /// The server resets its compressor after every message.
    pub(crate) server_no_context_takeover: bool,
    /// The client resets its compressor after every message.
    pub(crate) client_no_context_takeover: bool,
    /// The server's compression window.
    pub(crate) server_max_window_bits: u8,
    /// The client's compression window.
    pub(crate) client_max_window_bits: u8,
}

/// The parameters of one offer or response, checked (`ws`'s
/// `normalizeParams`). `client_max_window_bits` may be present without a
/// value in a client's offer ("I can honour a limit"): `Some(None)`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Params {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    client_max_window_bits: Option<Option<u8>>,
}

/// Checks one permessage-deflate element's parameters: known names only,
/// each at most once, flags without values, window bits 8..=15. A bare
/// `client_max_window_bits` is allowed only in an offer (`from_client`).
fn read_params(ext: &Extension, from_client: bool) -> Result<Params, ()> {
    let mut p = Params::default();
    let mut seen = [false; 4];
    for (key, value) in &ext.params {
        let (slot, v) = (key.as_str(), value.as_deref());
        let index = match (slot, v) {
            ("server_no_context_takeover", None) => {
                p.server_no_context_takeover = true;
                0
            }
            ("client_no_context_takeover", None) => {
                p.client_no_context_takeover = true;
                1
            }
            ("server_max_window_bits", Some(v)) => {
                p.server_max_window_bits = Some(window_bits(v)?);
                2
            }
            ("client_max_window_bits", None) if from_client => {
                p.client_max_window_bits = Some(None);
                3
            }
            ("client_max_window_bits", Some(v)) => {
                p.client_max_window_bits = Some(Some(window_bits(v)?));
                3
            }
            _ => return Err(()),
        };
        if std::mem::replace(&mut seen[index], true) {
            return Err(()); // a parameter twice
        }
    }
    Ok(p)
}

/// A window bits value: decimal 8..=15, no sign, no leading zeros.
fn window_bits(v: &str) -> Result<u8, ()> {
    match v {
        "8" | "9" | "10" | "11" | "12" | "13" | "14" | "15" => v.parse().map_err(|_| ()),
        _ => Err(()),
    }
}

/// Server: the client's offers (every `Sec-WebSocket-Extensions` value,
/// joined by ", ") against our options. `Ok(None)` when no
/// permessage-deflate offer is acceptable (the connection goes on
/// uncompressed), `Ok(Some((params, response header value)))` for the first
/// acceptable one, `Err(())` when the header is malformed or a
/// permessage-deflate offer has a bad parameter (the server answers 400,
/// "Invalid or unacceptable Sec-WebSocket-Extensions header"). Other
/// extensions are ignored.
pub(crate) fn negotiate_server(
    offers: &str,
    opts: &PerMessageDeflate,
) -> Result<Option<(DeflateParams, String)>, ()> {
    let list = extension::parse(offers)?;
    // Every offer is checked first, as ws does: a bad later offer fails the
    // handshake even when an earlier one would do.
    let mut checked = Vec::new();
    for ext in list.iter().filter(|e| e.name == NAME) {
        checked.push(read_params(ext, true)?);
    }
    let acceptable = |p: &Params| {
        // We must use a window no larger than the client allows, and we can
        // only limit the client's window if it says it can honour a limit.
        let server_ok = match (opts.server_max_window_bits, p.server_max_window_bits) {
            (Some(ours), Some(theirs)) => ours <= theirs,
            _ => true,
        };
        let client_ok = opts.client_max_window_bits.is_none() || p.client_max_window_bits.is_some();
        server_ok && client_ok
    };
    let Some(offer) = checked.into_iter().find(acceptable) else {
        return Ok(None);
    };
    let server_bits = opts.server_max_window_bits.or(offer.server_max_window_bits);
    let client_bits = match (opts.client_max_window_bits, offer.client_max_window_bits) {
        (Some(ours), Some(Some(theirs))) => Some(ours.min(theirs)),
        (Some(ours), _) => Some(ours),
        (None, Some(Some(theirs))) => Some(theirs),
        (None, _) => None,
    };
    let params = DeflateParams {
        server_no_context_takeover: offer.server_no_context_takeover
            || opts.server_no_context_takeover,
        client_no_context_takeover: offer.client_no_context_takeover
            || opts.client_no_context_takeover,
        server_max_window_bits: server_bits.unwrap_or(15),
        client_max_window_bits: client_bits.unwrap_or(15),
    };
    let mut response = String::from(NAME);
    if params.server_no_context_takeover {
        response.push_str("; server_no_context_takeover");
    }
    if params.client_no_context_takeover {
        response.push_str("; client_no_context_takeover");
    }
    if let Some(bits) = server_bits {
        response.push_str(&format!("; server_max_window_bits={bits}"));
    }
    if let Some(bits) = client_bits {
        response.push_str(&format!("; client_max_window_bits={bits}"));
    }
    Ok(Some((params, response)))
}

/// Client: our offer's header value, e.g. `permessage-deflate;
/// client_max_window_bits` (the bare parameter says we can honour a limit
/// the server sets).
pub(crate) fn client_offer(opts: &PerMessageDeflate) -> String {
    let mut offer = String::from(NAME);
    if opts.server_no_context_takeover {
        offer.push_str("; server_no_context_takeover");
    }
    if opts.client_no_context_takeover {
        offer.push_str("; client_no_context_takeover");
    }
    if let Some(bits) = opts.server_max_window_bits {
        offer.push_str(&format!("; server_max_window_bits={bits}"));
    }
    match opts.client_max_window_bits {
        Some(bits) => offer.push_str(&format!("; client_max_window_bits={bits}")),
        None => offer.push_str("; client_max_window_bits"),
    }
    offer
}

/// Client: the server's `Sec-WebSocket-Extensions` against our offer. An
/// error is the text the client fails the connection with (`ws`'s).
pub(crate) fn accept_server_response(
    value: &str,
    opts: &PerMessageDeflate,
) -> Result<DeflateParams, &'static str> {
    const INVALID: &str = "Invalid Sec-WebSocket-Extensions header";
    let list = extension::parse(value).map_err(|_| INVALID)?;
    if list.iter().any(|e| e.name != NAME) {
        return Err("Server indicated an extension that was not requested");
    }
    let [ext] = list.as_slice() else {
        return Err(INVALID); // permessage-deflate accepted twice
    };
    let p = read_params(ext, false).map_err(|_| INVALID)?;
    // The server may not raise the limits we set (RFC 7692 §7.1.2).
    let client_bits = match (
        p.client_max_window_bits.flatten(),
        opts.client_max_window_bits,
    ) {
        (Some(theirs), Some(ours)) if theirs > ours => return Err(INVALID),
        (Some(theirs), _) => theirs,
        (None, ours) => ours.unwrap_or(15),
    };
    let server_bits = match (p.server_max_window_bits, opts.server_max_window_bits) {
        (Some(theirs), Some(ours)) if theirs > ours => return Err(INVALID),
        (theirs, _) => theirs.unwrap_or(15),
    };
    Ok(DeflateParams {
        server_no_context_takeover: p.server_no_context_takeover,
        client_no_context_takeover: p.client_no_context_takeover || opts.client_no_context_takeover,
        server_max_window_bits: server_bits,
        client_max_window_bits: client_bits,
    })
}

/// flate2 (like zlib for raw deflate) takes 9..=15; see the module docs for
/// why 9 stands in for 8.
fn zlib_window_bits(bits: u8) -> u8 {
    bits.clamp(9, 15)
}

/// Decompresses the peer's messages.
pub(crate) struct Inflater {
    /// Raw inflate state (the window, with context takeover), made by the
    /// first compressed message: an idle connection holds none (as `ws`,
    /// which makes its zlib streams lazily too). Boxed: flate2 keeps a
    /// 150-byte `z_stream` inline.
    zlib: Option<Box<Decompress>>,
    /// The window the state is made with.
    window_bits: u8,
    /// The peer resets its compressor after each message, so we reset ours.
    no_context_takeover: bool,
    /// Where the current message's deflate stream stands.
    stream: StreamState,
}

/// A message's deflate stream: normally open until the message ends; a
/// peer may end it with a final block (BFINAL), after which the rest of the
/// message (the trailer we append, padding) is not deflate data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StreamState {
    /// Still decoding.
    Open,
    /// A final block ended the stream; the decompressor has been reset and
    /// the rest of this message is ignored.
    Ended,
}

impl Inflater {
    /// A decompressor for the messages `role`'s peer sends.
    pub(crate) fn new(params: &DeflateParams, role: Role) -> Inflater {
        // We decode what the other side compresses.
        let (bits, no_context_takeover) = match role {
            Role::Server => (
                params.client_max_window_bits,
                params.client_no_context_takeover,
            ),
            Role::Client => (
                params.server_max_window_bits,
                params.server_no_context_takeover,
            ),
        };
        Inflater {
            zlib: None,
            window_bits: zlib_window_bits(bits),
            no_context_takeover,
            stream: StreamState::Open,
        }
    }

    /// The inflate state, made on first use.
    fn zlib(&mut self) -> &mut Decompress {
        let bits = self.window_bits;
        self.zlib
            .get_or_insert_with(|| Box::new(Decompress::new_with_window_bits(false, bits)))
    }

    /// Inflates part of a compressed message (a frame's payload, unmasked),
    /// appending to `out`; fails with 1009 as soon as `out` passes `cap`
    /// (`0` for no limit), having produced at most about `cap` extra bytes,
    /// so a deflate bomb costs bounded memory and time.
    pub(crate) fn inflate(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        cap: usize,
    ) -> Result<(), ProtocolError> {
        let mut input = input;
        while self.stream == StreamState::Open {
            // Room to write into: about what the input could expand to,
            // bounded by the cap so one call cannot overshoot it by much.
            if out.capacity() - out.len() < 256 {
                let want = (input.len() * 4).clamp(4096, 1 << 20);
                let room = if cap > 0 {
                    want.min(cap.saturating_sub(out.len()) + 1).max(256)
                } else {
                    want
                };
                out.reserve(room);
            }
            let zlib = self.zlib();
            let before_in = zlib.total_in();
            let len_before = out.len();
            let status = zlib
                .decompress_vec(input, out, FlushDecompress::Sync)
                .map_err(|_| INVALID_DEFLATE)?;
            let used = (zlib.total_in() - before_in) as usize;
            input = input.get(used..).unwrap_or(&[]);
            let produced = out.len() != len_before;
            if cap > 0 && out.len() > cap {
                return Err(MAX_PAYLOAD);
            }
            if status == Status::StreamEnd {
                self.zlib().reset(false);
                self.stream = StreamState::Ended;
                break;
            }
            // Done when the input is used up and the output did not fill
            // the room it had (so nothing more is waiting inside zlib).
            if input.is_empty() && out.len() < out.capacity() {
                break;
            }
            // No progress with room and input to spare: zlib wants more
            // input than this frame has (the next frame brings it).
            if used == 0 && !produced {
                break;
            }
        }
        Ok(())
    }

    /// The message's last frame has been inflated: puts back the stripped
    /// trailer (flushing the last bytes out) and resets for the next
    /// message when the peer does not take context over.
    pub(crate) fn finish_message(
        &mut self,
        out: &mut Vec<u8>,
        cap: usize,
    ) -> Result<(), ProtocolError> {
        let result = self.inflate(&TRAILER, out, cap);
        if self.no_context_takeover || result.is_err() {
            if let Some(zlib) = &mut self.zlib {
                zlib.reset(false);
            }
        }
        self.stream = StreamState::Open;
        result
    }
}

/// Compresses our messages.
pub(crate) struct Deflater {
    /// Raw deflate state, made by the first message compressed (an idle
    /// connection holds none). Boxed, as the inflater's.
    zlib: Option<Box<Compress>>,
    /// The level and window the state is made with.
    level: u32,
    window_bits: u8,
    /// We reset the compressor after each message.
    no_context_takeover: bool,
    /// Messages under this many bytes are sent uncompressed.
    threshold: usize,
    /// The compressed bytes of the message being sent (reused).
    buf: Vec<u8>,
}

impl Deflater {
    /// A compressor for `role`'s messages at zlib `level` (0-9).
    pub(crate) fn new(
        params: &DeflateParams,
        role: Role,
        level: u32,
        threshold: usize,
    ) -> Deflater {
        let (bits, no_context_takeover) = match role {
            Role::Server => (
                params.server_max_window_bits,
                params.server_no_context_takeover,
            ),
            Role::Client => (
                params.client_max_window_bits,
                params.client_no_context_takeover,
            ),
        };
        Deflater {
            zlib: None,
            level: level.min(9),
            window_bits: zlib_window_bits(bits.min(DEFAULT_COMPRESS_WINDOW_BITS)),
            no_context_takeover,
            threshold,
            buf: Vec::new(),
        }
    }

    /// When the user set our side's `*_max_window_bits`, we compress with
    /// the whole window negotiated, as asked, rather than
    /// [`DEFAULT_COMPRESS_WINDOW_BITS`].
    pub(crate) fn configured(
        mut self,
        params: &DeflateParams,
        role: Role,
        ours: Option<u8>,
    ) -> Deflater {
        if ours.is_some() {
            let bits = match role {
                Role::Server => params.server_max_window_bits,
                Role::Client => params.client_max_window_bits,
            };
            self.window_bits = zlib_window_bits(bits);
        }
        self
    }

    /// The deflate state, made on first use.
    fn zlib(&mut self) -> &mut Compress {
        let (level, bits) = (self.level, self.window_bits);
        self.zlib.get_or_insert_with(|| {
            Box::new(Compress::new_with_window_bits(
                Compression::new(level),
                false,
                bits,
            ))
        })
    }

    /// Messages (first fragments) shorter than this go uncompressed.
    pub(crate) fn threshold(&self) -> usize {
        self.threshold
    }

    /// Compresses one frame's worth of a message; `fin` for its last
    /// frame, whose trailer is stripped. The bytes stay valid until the next
    /// call.
    pub(crate) fn compress(&mut self, data: &[u8], fin: bool) -> &[u8] {
        self.buf.clear();
        if !self.deflate_into_buf(data) {
            // zlib failed (it should not): reset it and send the data as
            // stored blocks, which any inflater accepts at this point (the
            // output so far ended on a sync flush, so it is byte-aligned)
            // and which refer to no earlier data.
            self.zlib().reset();
            self.buf.clear();
            write_stored(&mut self.buf, data);
        }
        if fin {
            if self.buf.ends_with(&TRAILER) {
                self.buf.truncate(self.buf.len() - TRAILER.len());
            } else if self.buf.is_empty() {
                // zlib emits nothing for a flush with no new input (the
                // last fragment ended on a flush already, or this message
                // is empty and the previous one just ended). The receiver
                // will append `00 00 ff ff`, so the message must end with
                // the first byte of an empty stored block, the lone `00`
                // RFC 7692 §7.2.3.6 shows for an empty message.
                self.buf.push(0x00);
            }
            if self.no_context_takeover {
                if let Some(zlib) = &mut self.zlib {
                    zlib.reset();
                }
            }
        }
        &self.buf
    }

    /// Runs `data` and a sync flush through zlib into `buf`; false on error.
    fn deflate_into_buf(&mut self, data: &[u8]) -> bool {
        let mut input = data;
        loop {
            if self.buf.capacity() - self.buf.len() < 64 {
                self.buf.reserve(input.len() / 2 + 64);
            }
            let before_in = self.zlib().total_in();
            let mut buf = std::mem::take(&mut self.buf);
            let result = self
                .zlib()
                .compress_vec(input, &mut buf, FlushCompress::Sync);
            self.buf = buf;
            if result.is_err() {
                return false;
            }
            let used = (self.zlib().total_in() - before_in) as usize;
            input = input.get(used..).unwrap_or(&[]);
            // The flush is complete once zlib has room left over.
            if input.is_empty() && self.buf.len() < self.buf.capacity() {
                return true;
            }
        }
    }

    /// Frees the compression buffer if one huge message grew it.
    pub(crate) fn trim(&mut self) {
        if self.buf.capacity() > KEEP_CAPACITY {
            self.buf = Vec::new();
        }
    }
}

/// The window we compress with when the user left our side's
/// `*_max_window_bits` unset: 4 KiB rather than the 32 KiB negotiated.
/// A sender may always use a smaller window than the limit (the peer's
/// decompressor, with the full window, reads it all the same), and zlib-rs
/// zeroes its window and chain table (four bytes a window byte) when the
/// state is made: 32 KiB costs 256 KiB a compressing connection, 4 KiB
/// 144 KiB (the hash table's 128 KiB is fixed). Node's `ws` with C zlib
/// holds about 250 KiB a connection after one compressed message; we hold
/// less. Messages up to a few KiB, and repeats within 4 KiB across
/// messages, compress as well.
pub(crate) const DEFAULT_COMPRESS_WINDOW_BITS: u8 = 12;

/// Buffers larger than this are freed after their message rather than kept
/// for the next one.
pub(crate) const KEEP_CAPACITY: usize = 256 * 1024;

/// Appends `data` as non-final stored DEFLATE blocks (RFC 1951 §3.2.4),
/// ending with an empty one so the output looks like a sync flush's.
fn write_stored(out: &mut Vec<u8>, data: &[u8]) {
    for chunk in data.chunks(0xffff) {
        let len = chunk.len() as u16;
        out.push(0x00); // BFINAL 0, BTYPE 00, then padding to the byte
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&[0x00, 0x00, 0x00, 0xff, 0xff]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws::protocol::receiver::tests::{check_all, masked, Ev};
    use crate::ws::protocol::Sender;

    fn params() -> DeflateParams {
        DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        }
    }

    fn hello() -> Ev {
        Ev::Text("Hello".into())
    }

    #[test]
    fn rfc7692_examples_received() {
        let p = Some(params());
        let c = Role::Client;
        // §7.2.3.1: "Hello" compressed, whole and in two fragments.
        let one = [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        assert_eq!(check_all(c, p, 0, &one), (vec![hello()], Ok(())));
        let frag = [
            0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00,
        ];
        assert_eq!(check_all(c, p, 0, &frag), (vec![hello()], Ok(())));
        // §7.2.3.2: the second "Hello" uses the first one's window.
        let mut two = one.to_vec();
        two.extend([0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00]);
        assert_eq!(check_all(c, p, 0, &two), (vec![hello(), hello()], Ok(())));
        // §7.2.3.3: a stored (uncompressed) block.
        let stored = [
            0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
        ];
        assert_eq!(check_all(c, p, 0, &stored), (vec![hello()], Ok(())));
        // §7.2.3.4: a block with BFINAL set; the next message starts afresh.
        let mut bfinal = vec![0xc1, 0x08, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
        bfinal.extend(one);
        assert_eq!(
            check_all(c, p, 0, &bfinal),
            (vec![hello(), hello()], Ok(()))
        );
        // §7.2.3.5: two DEFLATE blocks in one message.
        let blocks = [
            0xc1, 0x0d, 0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07,
            0x00,
        ];
        assert_eq!(check_all(c, p, 0, &blocks), (vec![hello()], Ok(())));
        // An empty message compressed to a single 0x00 byte (§7.2.3.6).
        assert_eq!(
            check_all(c, p, 0, &[0xc2, 0x01, 0x00]),
            (vec![Ev::Binary(vec![])], Ok(()))
        );
        // A ping between the fragments of a compressed message.
        let mut with_ping = vec![0x41, 0x03, 0xf2, 0x48, 0xcd, 0x89, 0x01, b'p'];
        with_ping.extend([0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00]);
        assert_eq!(
            check_all(c, p, 0, &with_ping),
            (vec![Ev::Ping(b"p".to_vec()), hello()], Ok(()))
        );
    }

    #[test]
    fn rfc7692_examples_sent() {
        let d = Deflater::new(&params(), Role::Server, 6, 0);
        let mut s = Sender::new(Role::Server, Some(d));
        let mut out = Vec::new();
        s.message(&mut out, b"Hello", false, true);
        assert_eq!(out, [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
        out.clear();
        s.message(&mut out, b"Hello", false, true);
        assert_eq!(out, [0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00]);
        // Without context takeover every message is compressed afresh.
        let mut p = params();
        p.server_no_context_takeover = true;
        let mut s = Sender::new(Role::Server, Some(Deflater::new(&p, Role::Server, 6, 0)));
        for _ in 0..3 {
            out.clear();
            s.message(&mut out, b"Hello", false, true);
            assert_eq!(out, [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
        }
        // Below the threshold, or without `compress`, nothing is compressed.
        let mut s = Sender::new(
            Role::Server,
            Some(Deflater::new(&params(), Role::Server, 6, 1024)),
        );
        out.clear();
        s.message(&mut out, b"Hello", false, true);
        assert_eq!(out, [0x81, 0x05, b'H', b'e', b'l', b'l', b'o']);
        out.clear();
        s.message(&mut out, &[b'a'; 2000], true, false);
        assert_eq!(out[0], 0x82);
    }

    /// Messages sent by a client with `p` read back by a server with `p`.
    fn round_trip(p: DeflateParams, messages: &[Vec<u8>]) {
        let mut s = Sender::new(Role::Client, Some(Deflater::new(&p, Role::Client, 6, 0)));
        let mut out = Vec::new();
        let mut expected = Vec::new();
        for (i, m) in messages.iter().enumerate() {
            if i % 3 == 2 {
                // Some as fragments, with a ping in between.
                let half = m.len() / 2;
                s.fragment(&mut out, &m[..half], true, false, true);
                s.ping(&mut out, b"");
                expected.push(Ev::Ping(vec![]));
                s.fragment(&mut out, &m[half..], true, false, true);
                s.fragment(&mut out, &[], true, true, true);
            } else {
                s.message(&mut out, m, true, true);
            }
            expected.push(Ev::Binary(m.clone()));
        }
        assert_eq!(
            check_all(Role::Server, Some(p), 0, &out),
            (expected, Ok(()))
        );
    }

    #[test]
    fn round_trips_with_every_parameter() {
        let text: Vec<u8> = b"The quick brown fox jumps over the lazy dog. ".repeat(40);
        let noise: Vec<u8> = (0..3000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let messages = vec![
            text.clone(),
            noise,
            text[..100].to_vec(),
            vec![],
            text.clone(),
            text,
        ];
        for bits in [8, 9, 12, 15] {
            for no_takeover in [false, true] {
                let p = DeflateParams {
                    client_no_context_takeover: no_takeover,
                    client_max_window_bits: bits,
                    ..params()
                };
                round_trip(p, &messages);
            }
        }
    }

    #[test]
    fn window_bits_8_stays_within_256_bytes() {
        // A 9-bit zlib window stands in for 8. zlib (and zlib-rs, whose
        // `max_dist` is the window minus 262) never refers further back
        // than 250 bytes with it: repeats 200 bytes apart compress, repeats
        // 300 bytes apart do not, so a 256-byte window decodes everything.
        let mut p = params();
        p.server_max_window_bits = 8;
        let pattern = |n: u32| -> Vec<u8> {
            let unit: Vec<u8> = (0..n)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8)
                .collect();
            unit.repeat(6000 / n as usize)
        };
        let near = pattern(200);
        let far = pattern(300);
        let mut d = Deflater::new(&p, Role::Server, 9, 0);
        assert!(d.compress(&near, true).len() < near.len() / 4);
        let mut d = Deflater::new(&p, Role::Server, 9, 0);
        assert!(d.compress(&far, true).len() > far.len() / 2);
        // With 15 bits the far repeats compress too.
        let mut d15 = Deflater::new(&params(), Role::Server, 9, 0);
        assert!(d15.compress(&far, true).len() < far.len() / 4);
    }

    #[test]
    fn empty_messages() {
        // An empty compressed message is the single byte 00, also right
        // after another message (zlib then emits nothing by itself).
        let mut s = Sender::new(
            Role::Server,
            Some(Deflater::new(&params(), Role::Server, 6, 0)),
        );
        let mut out = Vec::new();
        s.message(&mut out, b"", true, true);
        s.message(&mut out, b"Hello", false, true);
        s.message(&mut out, b"", true, true);
        s.fragment(&mut out, b"Hel", false, false, true);
        s.fragment(&mut out, b"lo", false, false, true);
        s.fragment(&mut out, b"", false, true, true);
        s.message(&mut out, b"Hello", false, true);
        assert_eq!(&out[..3], &[0xc2, 0x01, 0x00]);
        let empty = Ev::Binary(vec![]);
        let events = vec![empty.clone(), hello(), empty, hello(), hello()];
        assert_eq!(
            check_all(Role::Client, Some(params()), 0, &out),
            (events, Ok(()))
        );
        // A compressed frame with no payload at all reads as empty too,
        // and leaves the stream intact.
        let mut input = vec![0xc2, 0x00];
        input.extend([0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
        assert_eq!(
            check_all(Role::Client, Some(params()), 0, &input),
            (vec![Ev::Binary(vec![]), hello()], Ok(()))
        );
    }

    #[test]
    fn deflate_bomb_is_capped() {
        // 100 MiB of zeros compresses to about 100 KiB.
        let zeros = vec![0u8; 100 << 20];
        let mut d = Deflater::new(&params(), Role::Client, 6, 0);
        let bomb = d.compress(&zeros, true).to_vec();
        drop(zeros);
        assert!(bomb.len() < 200_000);
        let mut inflater = Inflater::new(&params(), Role::Server);
        let mut out = Vec::new();
        let cap = 1 << 20;
        assert_eq!(inflater.inflate(&bomb, &mut out, cap), Err(MAX_PAYLOAD));
        assert!(out.capacity() <= 3 * cap, "capacity {}", out.capacity());
        // Through the receiver, as one masked frame.
        let mut frame = masked(0xc2, &bomb);
        frame.truncate(frame.len());
        let mut r = crate::ws::protocol::Receiver::new(
            Role::Server,
            cap,
            Some(Inflater::new(&params(), Role::Server)),
        );
        let err = r
            .receive(&frame, &mut |_| crate::ws::protocol::Flow::Continue)
            .unwrap_err();
        assert_eq!(
            (err.close_code, err.code),
            (1009, "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH")
        );
    }

    #[test]
    fn bad_deflate_data_and_utf8_after_inflation() {
        let p = Some(params());
        // BTYPE 11 is invalid.
        let (_, r) = check_all(Role::Client, p, 0, &[0xc2, 0x01, 0xff]);
        assert_eq!(r.unwrap_err().close_code, 1007);
        // Invalid UTF-8 inside compressed text.
        let mut d = Deflater::new(&params(), Role::Server, 6, 0);
        let c = d.compress(b"ok \xf4\x90 no", true).to_vec();
        let mut frame = vec![0xc1, c.len() as u8];
        frame.extend(c);
        let (_, r) = check_all(Role::Client, p, 0, &frame);
        assert_eq!(r.unwrap_err().code, "WS_ERR_INVALID_UTF8");
        // RSV1 on a continuation frame.
        let (_, r) = check_all(Role::Client, p, 0, &[0x41, 0x01, 0x00, 0xc0, 0x00]);
        assert_eq!(r.unwrap_err().code, "WS_ERR_UNEXPECTED_RSV_1");
        // RSV1 on a control frame.
        let (_, r) = check_all(Role::Client, p, 0, &[0xc9, 0x00]);
        assert_eq!(r.unwrap_err().code, "WS_ERR_UNEXPECTED_RSV_1");
    }

    fn server(
        offer: &str,
        opts: &PerMessageDeflate,
    ) -> Result<Option<(DeflateParams, String)>, ()> {
        negotiate_server(offer, opts)
    }

    #[test]
    fn server_negotiation() {
        let default = PerMessageDeflate::default();
        let (p, resp) = server("permessage-deflate", &default).unwrap().unwrap();
        assert_eq!(resp, "permessage-deflate");
        assert_eq!(p, params());
        let (p, resp) = server("permessage-deflate; client_max_window_bits", &default)
            .unwrap()
            .unwrap();
        assert_eq!((p, resp.as_str()), (params(), "permessage-deflate"));
        let (p, resp) = server(
            "x-webkit-deflate-frame, permessage-deflate; client_max_window_bits=10; server_max_window_bits=12; server_no_context_takeover",
            &default,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            resp,
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=12; client_max_window_bits=10"
        );
        assert_eq!(
            (p.client_max_window_bits, p.server_max_window_bits),
            (10, 12)
        );
        assert!(p.server_no_context_takeover && !p.client_no_context_takeover);
        // Our options: limits the client can honour.
        let opts = PerMessageDeflate {
            client_max_window_bits: Some(11),
            server_max_window_bits: Some(10),
            client_no_context_takeover: true,
            ..Default::default()
        };
        // The first offer cannot take a client limit, the second can.
        let (p, resp) = server(
            "permessage-deflate, permessage-deflate; client_max_window_bits=9",
            &opts,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            resp,
            "permessage-deflate; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9"
        );
        assert_eq!(
            (p.client_max_window_bits, p.server_max_window_bits),
            (9, 10)
        );
        // The client wants a smaller server window than ours: declined.
        assert_eq!(
            server(
                "permessage-deflate; server_max_window_bits=9; client_max_window_bits",
                &opts
            ),
            Ok(None)
        );
        // No permessage-deflate offer at all.
        assert_eq!(server("x-foo; bar=1", &default), Ok(None));
        // A client asking for window 8 gets it (we compress with 9).
        let (p, resp) = server("permessage-deflate; server_max_window_bits=8", &default)
            .unwrap()
            .unwrap();
        assert_eq!(
            (p.server_max_window_bits, resp.as_str()),
            (8, "permessage-deflate; server_max_window_bits=8")
        );
        // Malformed or bad parameters: 400.
        for bad in [
            "permessage-deflate; foo",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; client_max_window_bits=010",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; client_max_window_bits; client_max_window_bits=9",
            "permessage-deflate, permessage-deflate; bad",
            "permessage-deflate;",
            "permessage-deflate,",
        ] {
            assert_eq!(server(bad, &default), Err(()), "{bad}");
        }
        // A quoted value is its token.
        let (p, _) = server("permessage-deflate; client_max_window_bits=\"9\"", &default)
            .unwrap()
            .unwrap();
        assert_eq!(p.client_max_window_bits, 9);
    }

    #[test]
    fn client_negotiation() {
        let default = PerMessageDeflate::default();
        assert_eq!(
            client_offer(&default),
            "permessage-deflate; client_max_window_bits"
        );
        let opts = PerMessageDeflate {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: Some(10),
            client_max_window_bits: Some(12),
            ..Default::default()
        };
        assert_eq!(
            client_offer(&opts),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12"
        );
        assert_eq!(
            accept_server_response("permessage-deflate", &default),
            Ok(params())
        );
        let p = accept_server_response(
            "permessage-deflate; server_no_context_takeover; client_max_window_bits=9; server_max_window_bits=10",
            &default,
        )
        .unwrap();
        assert!(p.server_no_context_takeover);
        assert_eq!(
            (p.client_max_window_bits, p.server_max_window_bits),
            (9, 10)
        );
        // Our own limit applies when the server names none.
        let p = accept_server_response("permessage-deflate", &opts).unwrap();
        assert_eq!(
            (p.client_max_window_bits, p.client_no_context_takeover),
            (12, true)
        );
        const INVALID: &str = "Invalid Sec-WebSocket-Extensions header";
        for (bad, why) in [
            ("permessage-deflate; client_max_window_bits", INVALID),
            ("permessage-deflate; client_max_window_bits=13", INVALID),
            ("permessage-deflate; server_max_window_bits=11", INVALID),
            ("permessage-deflate; foo", INVALID),
            ("permessage-deflate, permessage-deflate", INVALID),
            ("permessage-deflate;", INVALID),
            (
                "x-foo",
                "Server indicated an extension that was not requested",
            ),
            (
                "permessage-deflate, x-foo",
                "Server indicated an extension that was not requested",
            ),
        ] {
            assert_eq!(accept_server_response(bad, &opts), Err(why), "{bad}");
        }
    }
}
