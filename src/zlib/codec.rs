//! The codecs behind the zlib streams: plain functions on owned state, with
//! no handle and no loop, so a step can run on a worker thread.
//!
//! Each step gives its output whole; a decompression step stops once it
//! has produced its budget (64 KiB, or four output chunks) and says which
//! input it did not use, so the stream above can wait for its reader
//! before going on. Every byte of output counts against the cap
//! (`max_output_length`).

use std::io::{self, Write};

use brotli::enc::StandardAlloc;
use std::cell::RefCell;

use flate2::write::{DeflateEncoder, GzDecoder, ZlibEncoder};
use flate2::{Compression, Crc, Decompress, FlushDecompress, Status};

use crate::{Error, ErrorKind};

/// Which codec (Node's classes: `Gzip`, `Gunzip`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Gzip,
    Gunzip,
    Deflate,
    Inflate,
    DeflateRaw,
    InflateRaw,
    Unzip,
    BrotliCompress,
    BrotliDecompress,
}

/// Everything a codec is made from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CodecOptions {
    pub(crate) kind: Kind,
    pub(crate) level: i32,
    pub(crate) quality: u32,
    pub(crate) lgwin: u32,
    pub(crate) chunk_size: usize,
    pub(crate) max_output_length: usize,
}

/// What a step produced: its output, and the input it left for later
/// (`Some(empty)`: no input left, but output is still held).
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) output: Vec<u8>,
    pub(crate) rest: Option<Vec<u8>>,
}

/// Where the output goes: a buffer that refuses to grow past the cap.
struct Sink {
    out: Vec<u8>,
    total: usize,
    cap: usize,
    over: bool,
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.total.saturating_add(buf.len()) > self.cap {
            self.over = true;
            return Err(io::Error::other("maxOutputLength exceeded"));
        }
        self.total += buf.len();
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

type BrotliState = brotli::BrotliState<StandardAlloc, StandardAlloc, StandardAlloc>;

/// A raw or zlib-format inflater: flate2's `Decompress` driven by hand, so
/// the end of the stream (and so a truncated one) is seen.
struct Inflater {
    d: Decompress,
    ended: bool,
}

/// The brotli decoder, driven by hand for the same reasons.
struct BrotliDecoder {
    state: Box<BrotliState>,
    ended: bool,
}

/// A gzip member written around a raw deflate stream (RFC 1952: a 10-byte
/// header, the deflate data, the CRC-32 and length of the input), with the
/// header flate2's `GzEncoder` writes. Done by hand so that the deflate
/// state can be reset and used again: making one allocates and clears a
/// few hundred KiB, about a twentieth of compressing a 100 KiB response.
struct GzipEncoder {
    deflate: DeflateEncoder<Sink>,
    crc: Crc,
    level: u32,
}

thread_local! {
    /// The deflate state of the last gzip member finished on this thread,
    /// kept for the next one (one per thread: a worker compresses one
    /// response at a time).
    static SPARE_DEFLATE: RefCell<Option<(u32, DeflateEncoder<Sink>)>> =
        const { RefCell::new(None) };
}

impl GzipEncoder {
    fn new(mut sink: Sink, level: Compression) -> GzipEncoder {
        // flate2's header: no name, no time; XFL says best or fastest;
        // OS 255 (unknown), for streams that are the same everywhere.
        let xfl = if level.level() >= Compression::best().level() {
            2
        } else if level.level() <= Compression::fast().level() {
            4
        } else {
            0
        };
        // Only a cap under 10 bytes refuses the header; the first write
        // then fails the same way.
        let _ = sink.write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 0xff]);
        let spare = SPARE_DEFLATE
            .try_with(|s| s.borrow_mut().take())
            .ok()
            .flatten()
            .filter(|(l, _)| *l == level.level());
        let deflate = match spare {
            Some((_, mut deflate)) => match deflate.reset(sink) {
                Ok(_) => deflate,
                // Not reached: a spare was finished before it was kept.
                Err(_) => unreachable!("a finished deflate stream resets without output"),
            },
            None => DeflateEncoder::new(sink, level),
        };
        GzipEncoder {
            deflate,
            crc: Crc::new(),
            level: level.level(),
        }
    }

    fn write_all(&mut self, input: &[u8]) -> io::Result<()> {
        self.crc.update(input);
        self.deflate.write_all(input)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.deflate.flush()
    }

    fn get_mut(&mut self) -> &mut Sink {
        self.deflate.get_mut()
    }

    /// The deflate stream's end, then the trailer.
    fn try_finish(&mut self) -> io::Result<()> {
        self.deflate.try_finish()?;
        let (sum, amount) = (self.crc.sum(), self.crc.amount());
        let sink = self.deflate.get_mut();
        sink.write_all(&sum.to_le_bytes())?;
        sink.write_all(&amount.to_le_bytes())
    }

    /// Keeps the (finished) deflate state for this thread's next member.
    fn recycle(self) {
        let GzipEncoder {
            mut deflate, level, ..
        } = self;
        deflate.get_mut().out = Vec::new();
        let _ = SPARE_DEFLATE.try_with(|s| *s.borrow_mut() = Some((level, deflate)));
    }
}

enum Engine {
    Gzip(Box<GzipEncoder>),
    Deflate(ZlibEncoder<Sink>),
    DeflateRaw(DeflateEncoder<Sink>),
    Gunzip(GzDecoder<Sink>),
    Inflate(Inflater, Sink),
    /// Before the first byte, which tells gzip from zlib.
    Unzip(Sink),
    BrotliCompress(Box<brotli::CompressorWriter<Sink>>),
    BrotliDecompress(BrotliDecoder, Sink),
    /// After `finish` (or a failure): nothing more comes out.
    Done,
}

/// What the first two bytes of a gzip or zlib stream must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Header {
    Gzip,
    Zlib,
    /// Checked, or nothing to check.
    Fine,
}

pub(crate) struct Codec {
    engine: Engine,
    header: Header,
    /// The header's bytes seen so far (two at most).
    head: Vec<u8>,
    budget: usize,
    /// Scratch output for the hand-driven decoders.
    scratch: Vec<u8>,
    cap: usize,
}

/// Output per decompression step, at least.
const MIN_BUDGET: usize = 64 * 1024;

/// The bytes that are not the stream Node was told to expect.
fn header_error() -> Error {
    Error::new(ErrorKind::Zlib, "incorrect header check")
}

/// A stream cut short (Node's `unexpected end of file`).
fn truncated() -> Error {
    Error::new(ErrorKind::Zlib, "unexpected end of file").with_code("Z_BUF_ERROR")
}

fn too_large(cap: usize) -> Error {
    Error::new(
        ErrorKind::BufferTooLarge,
        format!("Cannot create a Buffer larger than {cap} bytes"),
    )
}

fn level(level: i32) -> Compression {
    match level {
        0..=9 => Compression::new(level as u32),
        _ => Compression::new(6),
    }
}

impl Codec {
    pub(crate) fn new(options: &CodecOptions) -> Codec {
        let sink = Sink {
            out: Vec::new(),
            total: 0,
            cap: options.max_output_length,
            over: false,
        };
        let mut header = Header::Fine;
        let engine = match options.kind {
            Kind::Gzip => Engine::Gzip(Box::new(GzipEncoder::new(sink, level(options.level)))),
            Kind::Deflate => Engine::Deflate(ZlibEncoder::new(sink, level(options.level))),
            Kind::DeflateRaw => Engine::DeflateRaw(DeflateEncoder::new(sink, level(options.level))),
            Kind::Gunzip => {
                header = Header::Gzip;
                Engine::Gunzip(GzDecoder::new(sink))
            }
            Kind::Inflate => {
                header = Header::Zlib;
                Engine::Inflate(Inflater::new(true), sink)
            }
            Kind::InflateRaw => Engine::Inflate(Inflater::new(false), sink),
            Kind::Unzip => Engine::Unzip(sink),
            Kind::BrotliCompress => Engine::BrotliCompress(Box::new(
                brotli::CompressorWriter::new(sink, 4096, options.quality, options.lgwin),
            )),
            Kind::BrotliDecompress => Engine::BrotliDecompress(
                BrotliDecoder {
                    state: Box::new(BrotliState::new_strict(
                        StandardAlloc::default(),
                        StandardAlloc::default(),
                        StandardAlloc::default(),
                    )),
                    ended: false,
                },
                sink,
            ),
        };
        Codec {
            engine,
            header,
            head: Vec::new(),
            budget: (options.chunk_size * 4).max(MIN_BUDGET),
            scratch: Vec::new(),
            cap: options.max_output_length,
        }
    }

    /// Checks the first bytes against the format's header, with zlib's
    /// own words for a mismatch.
    fn check_header(&mut self, input: &[u8]) -> Result<(), Error> {
        if self.header == Header::Fine {
            return Ok(());
        }
        let take = (2 - self.head.len()).min(input.len());
        self.head.extend_from_slice(&input[..take]);
        let ok = match (self.header, self.head.as_slice()) {
            (Header::Gzip, [a]) => *a == 0x1f,
            (Header::Gzip, [a, b]) => *a == 0x1f && *b == 0x8b,
            (Header::Zlib, [cmf, flg]) => {
                (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0 && cmf & 0x0f == 8
            }
            _ => true,
        };
        if !ok {
            return Err(header_error());
        }
        if self.head.len() == 2 {
            self.header = Header::Fine;
        }
        Ok(())
    }

    fn sink(&mut self) -> Option<&mut Sink> {
        Some(match &mut self.engine {
            Engine::Gzip(e) => e.get_mut(),
            Engine::Deflate(e) => e.get_mut(),
            Engine::DeflateRaw(e) => e.get_mut(),
            Engine::Gunzip(d) => d.get_mut(),
            Engine::Inflate(_, sink) | Engine::Unzip(sink) | Engine::BrotliDecompress(_, sink) => {
                sink
            }
            Engine::BrotliCompress(e) => e.get_mut(),
            Engine::Done => return None,
        })
    }

    fn take_output(&mut self) -> Vec<u8> {
        self.sink()
            .map(|s| std::mem::take(&mut s.out))
            .unwrap_or_default()
    }

    /// An I/O error from a codec: the cap, or bad data.
    fn failure(&mut self, e: io::Error) -> Error {
        self.fail(Error::new(ErrorKind::Zlib, e.to_string()))
    }

    /// Ends the codec with `error`, or with the cap's error if the cap is
    /// what stopped it.
    fn fail(&mut self, error: Error) -> Error {
        let over = self.sink().is_some_and(|s| s.over);
        self.engine = Engine::Done;
        if over {
            too_large(self.cap)
        } else {
            error
        }
    }

    /// One chunk in (with a sync flush after it when `flush_each`).
    pub(crate) fn feed(&mut self, input: Vec<u8>, flush_each: bool) -> Result<Outcome, Error> {
        let budget = self.budget;
        let outcome = self.feed_within(input, budget)?;
        if flush_each && outcome.rest.is_none() {
            let mut flushed = self.sync_flush()?;
            let mut output = outcome.output;
            output.append(&mut flushed.output);
            return Ok(Outcome { output, rest: None });
        }
        Ok(outcome)
    }

    fn feed_within(&mut self, input: Vec<u8>, budget: usize) -> Result<Outcome, Error> {
        if let Err(e) = self.check_header(&input) {
            return Err(self.fail(e));
        }
        if let Engine::Unzip(_) = self.engine {
            if let Some(&first) = input.first() {
                let Engine::Unzip(sink) = std::mem::replace(&mut self.engine, Engine::Done) else {
                    unreachable!("matched above")
                };
                // Node's Unzip: a gzip member starts with 0x1f, anything
                // else is read as zlib format.
                if first == 0x1f {
                    self.header = Header::Gzip;
                    self.engine = Engine::Gunzip(GzDecoder::new(sink));
                } else {
                    self.header = Header::Zlib;
                    self.engine = Engine::Inflate(Inflater::new(true), sink);
                }
                if let Err(e) = self.check_header(&input) {
                    return Err(self.fail(e));
                }
            }
        }
        let consumed = match self.feed_engine(&input, budget) {
            Ok(n) => n,
            Err(e) => return Err(self.fail(e)),
        };
        let output = self.take_output();
        let rest = match consumed {
            Consumed::All => None,
            Consumed::Part(n) => Some(input[n..].to_vec()),
        };
        Ok(Outcome { output, rest })
    }

    fn feed_engine(&mut self, input: &[u8], budget: usize) -> Result<Consumed, Error> {
        if let Engine::Gunzip(_) = self.engine {
            return self.gunzip(input, budget);
        }
        let scratch = &mut self.scratch;
        let result = match &mut self.engine {
            Engine::Gzip(e) => e.write_all(input).map(|()| Consumed::All),
            Engine::Deflate(e) => e.write_all(input).map(|()| Consumed::All),
            Engine::DeflateRaw(e) => e.write_all(input).map(|()| Consumed::All),
            Engine::BrotliCompress(e) => e.write_all(input).map(|()| Consumed::All),
            Engine::Gunzip(_) => unreachable!("handled above"),
            Engine::Inflate(i, sink) => return i.run(input, sink, scratch, budget),
            Engine::BrotliDecompress(b, sink) => return b.run(input, sink, scratch, budget),
            Engine::Unzip(_) | Engine::Done => Ok(Consumed::All),
        };
        result.map_err(|e| Error::new(ErrorKind::Zlib, e.to_string()))
    }

    /// Pushes out what the codec holds (`Z_SYNC_FLUSH`,
    /// `BROTLI_OPERATION_FLUSH`).
    pub(crate) fn sync_flush(&mut self) -> Result<Outcome, Error> {
        let result = match &mut self.engine {
            Engine::Gzip(e) => e.flush(),
            Engine::Deflate(e) => e.flush(),
            Engine::DeflateRaw(e) => e.flush(),
            Engine::BrotliCompress(e) => e.flush(),
            Engine::Gunzip(d) => d.flush(),
            // The hand-driven decoders give all they can at each step.
            _ => Ok(()),
        };
        if let Err(e) = result {
            return Err(self.failure(e));
        }
        Ok(Outcome {
            output: self.take_output(),
            rest: None,
        })
    }

    /// The end: what is left, with the format's trailer (encoders), or
    /// the check that the stream was complete (decoders).
    pub(crate) fn finish(&mut self) -> Result<Outcome, Error> {
        let scratch = &mut self.scratch;
        let result: Result<(), Error> = match &mut self.engine {
            Engine::Gzip(e) => e
                .try_finish()
                .map_err(|e| Error::new(ErrorKind::Zlib, e.to_string())),
            Engine::Deflate(e) => e
                .try_finish()
                .map_err(|e| Error::new(ErrorKind::Zlib, e.to_string())),
            Engine::DeflateRaw(e) => e
                .try_finish()
                .map_err(|e| Error::new(ErrorKind::Zlib, e.to_string())),
            Engine::BrotliCompress(_) => Ok(()),
            // flate2's gzip decoder refuses a member without its trailer.
            Engine::Gunzip(d) => d.try_finish().map_err(|_| truncated()),
            Engine::Inflate(i, sink) => i.run(&[], sink, scratch, usize::MAX).and_then(|_| {
                if i.ended {
                    Ok(())
                } else {
                    Err(truncated())
                }
            }),
            Engine::BrotliDecompress(b, sink) => b
                .run(&[], sink, scratch, usize::MAX)
                .and_then(|_| if b.ended { Ok(()) } else { Err(truncated()) }),
            // Node's Unzip of nothing is nothing.
            Engine::Unzip(_) => Ok(()),
            Engine::Done => Ok(()),
        };
        if let Err(e) = result {
            return Err(self.fail(e));
        }
        let output = match std::mem::replace(&mut self.engine, Engine::Done) {
            // The deflate state stays on this thread for the next member.
            Engine::Gzip(mut e) => {
                let out = std::mem::take(&mut e.get_mut().out);
                e.recycle();
                out
            }
            // Brotli writes its last block when it lets go of the sink.
            Engine::BrotliCompress(e) => {
                let sink = e.into_inner();
                if sink.over {
                    return Err(too_large(self.cap));
                }
                sink.out
            }
            mut other => {
                let out = match &mut other {
                    Engine::Gzip(e) => std::mem::take(&mut e.get_mut().out),
                    Engine::Deflate(e) => std::mem::take(&mut e.get_mut().out),
                    Engine::DeflateRaw(e) => std::mem::take(&mut e.get_mut().out),
                    Engine::Gunzip(d) => std::mem::take(&mut d.get_mut().out),
                    Engine::Inflate(_, s) | Engine::Unzip(s) | Engine::BrotliDecompress(_, s) => {
                        std::mem::take(&mut s.out)
                    }
                    _ => Vec::new(),
                };
                out
            }
        };
        Ok(Outcome { output, rest: None })
    }

    /// `input` (whole, whatever its output), then [`finish`](Self::finish).
    pub(crate) fn finish_after(&mut self, input: Vec<u8>) -> Result<Outcome, Error> {
        let mut output = if input.is_empty() {
            Vec::new()
        } else {
            self.feed_within(input, usize::MAX)?.output
        };
        output.append(&mut self.finish()?.output);
        Ok(Outcome { output, rest: None })
    }

    /// The whole of `data`, start to end (the one-shot calls).
    pub(crate) fn convert(mut self, data: &[u8]) -> Result<Vec<u8>, Error> {
        self.finish_after(data.to_vec()).map(|o| o.output)
    }
}

/// How much of a step's input was used.
enum Consumed {
    All,
    Part(usize),
}

impl Codec {
    /// Feeds the gzip decoder until the input is used or the budget
    /// reached (each `write` gives at most flate2's 32 KiB buffer of
    /// output). A member that ends with input left starts the next one,
    /// whose header is checked as the first's was (Node's gunzip reads
    /// concatenated members, and calls junk after one a header error).
    fn gunzip(&mut self, input: &[u8], budget: usize) -> Result<Consumed, Error> {
        let zerr = |e: io::Error| Error::new(ErrorKind::Zlib, e.to_string());
        let mut used = 0;
        loop {
            let Engine::Gunzip(d) = &mut self.engine else {
                return Ok(Consumed::All);
            };
            if used >= input.len() || d.get_ref().out.len() >= budget {
                break;
            }
            let n = d.write(&input[used..]).map_err(zerr)?;
            if n > 0 {
                used += n;
                continue;
            }
            // The member is complete (its trailer read): the next begins.
            let Engine::Gunzip(d) = std::mem::replace(&mut self.engine, Engine::Done) else {
                unreachable!("matched above")
            };
            let sink = d.finish().map_err(zerr)?;
            self.engine = Engine::Gunzip(GzDecoder::new(sink));
            self.header = Header::Gzip;
            self.head.clear();
            self.check_header(&input[used..])?;
        }
        if let Engine::Gunzip(d) = &mut self.engine {
            d.flush().map_err(zerr)?;
        }
        Ok(if used >= input.len() {
            Consumed::All
        } else {
            Consumed::Part(used)
        })
    }
}

impl Inflater {
    fn new(zlib_header: bool) -> Inflater {
        Inflater {
            d: Decompress::new(zlib_header),
            ended: false,
        }
    }

    fn run(
        &mut self,
        input: &[u8],
        sink: &mut Sink,
        scratch: &mut Vec<u8>,
        budget: usize,
    ) -> Result<Consumed, Error> {
        scratch.resize(32 * 1024, 0);
        let mut used = 0;
        loop {
            if self.ended {
                return Ok(Consumed::All);
            }
            let (in_before, out_before) = (self.d.total_in(), self.d.total_out());
            let status = self
                .d
                .decompress(&input[used..], scratch, FlushDecompress::None)
                .map_err(|e| {
                    let message = e.message().unwrap_or("invalid deflate data").to_owned();
                    Error::new(ErrorKind::Zlib, message)
                })?;
            let took = (self.d.total_in() - in_before) as usize;
            let made = (self.d.total_out() - out_before) as usize;
            used += took;
            sink.write_all(&scratch[..made])
                .map_err(|_| Error::new(ErrorKind::BufferTooLarge, ""))?;
            if status == Status::StreamEnd {
                self.ended = true;
                return Ok(Consumed::All);
            }
            if took == 0 && made == 0 {
                return Ok(Consumed::All);
            }
            if sink.out.len() >= budget {
                // More may come from this input: the rest, even if empty,
                // comes back once the reader has room.
                return Ok(Consumed::Part(used));
            }
        }
    }
}

impl BrotliDecoder {
    fn run(
        &mut self,
        input: &[u8],
        sink: &mut Sink,
        scratch: &mut Vec<u8>,
        budget: usize,
    ) -> Result<Consumed, Error> {
        scratch.resize(32 * 1024, 0);
        let mut available_in = input.len();
        let mut input_offset = 0;
        loop {
            if self.ended {
                return Ok(Consumed::All);
            }
            let mut available_out = scratch.len();
            let mut output_offset = 0;
            let mut total_out = 0;
            let result = brotli::BrotliDecompressStream(
                &mut available_in,
                &mut input_offset,
                input,
                &mut available_out,
                &mut output_offset,
                scratch,
                &mut total_out,
                &mut self.state,
            );
            sink.write_all(&scratch[..output_offset])
                .map_err(|_| Error::new(ErrorKind::BufferTooLarge, ""))?;
            match result {
                brotli::BrotliResult::ResultSuccess => {
                    self.ended = true;
                    return Ok(Consumed::All);
                }
                brotli::BrotliResult::NeedsMoreInput => return Ok(Consumed::All),
                brotli::BrotliResult::NeedsMoreOutput => {
                    if sink.out.len() >= budget {
                        return Ok(Consumed::Part(input_offset));
                    }
                }
                brotli::BrotliResult::ResultFailure => {
                    return Err(Error::new(ErrorKind::Zlib, "Decompression failed"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gzip_options(level: i32) -> CodecOptions {
        CodecOptions {
            kind: Kind::Gzip,
            level,
            quality: 4,
            lgwin: 22,
            chunk_size: 16 * 1024,
            max_output_length: usize::MAX,
        }
    }

    /// A gzip member of `data`, fed in 40,000-byte pieces.
    fn gzip(data: &[u8], level: i32) -> Vec<u8> {
        let mut codec = Codec::new(&gzip_options(level));
        let mut out = Vec::new();
        for piece in data.chunks(40_000) {
            out.append(&mut codec.feed(piece.to_vec(), false).unwrap().output);
        }
        out.append(&mut codec.finish().unwrap().output);
        out
    }

    fn gunzip(data: &[u8]) -> Vec<u8> {
        let mut d = flate2::write::GzDecoder::new(Vec::new());
        d.write_all(data).unwrap();
        d.finish().unwrap()
    }

    #[test]
    fn a_reused_deflate_state_writes_what_a_fresh_one_does() {
        let doc: Vec<u8> = (0..20_000u32)
            .flat_map(|n| format!("{{\"id\":{n},\"name\":\"user {n}\"}},").into_bytes())
            .collect();
        // Each member leaves its state to the next on this thread (a
        // member at another level makes its own); a new thread has none.
        for (level, len) in [
            (6, doc.len()),
            (6, 5000),
            (1, doc.len()),
            (6, 0),
            (6, doc.len()),
        ] {
            let data = doc[..len].to_vec();
            let reused = gzip(&data, level);
            let fresh = std::thread::spawn(move || gzip(&data, level))
                .join()
                .unwrap();
            assert_eq!(reused, fresh, "level {level}, {len} bytes");
            assert_eq!(gunzip(&reused), &doc[..len]);
        }
        // flate2's own header, byte for byte.
        assert_eq!(gzip(b"", 6)[..10], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
    }

    #[test]
    fn a_gzip_member_flushed_midway_still_decodes() {
        let mut codec = Codec::new(&gzip_options(-1));
        let mut out = codec.feed(b"hello ".to_vec(), true).unwrap().output;
        out.append(&mut codec.finish_after(b"world".to_vec()).unwrap().output);
        let mut d = flate2::write::GzDecoder::new(Vec::new());
        d.write_all(&out).unwrap();
        assert_eq!(d.finish().unwrap(), b"hello world");
    }
}
