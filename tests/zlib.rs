//! `stream::Transform` and `zlib`: round trips for every codec (whole, at
//! every split point, byte by byte), against Node's zlib both ways, a
//! Transform written by the user with its back-pressure and events, and
//! decompression bombs.

mod common;

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::process::{Command, Stdio};
use std::rc::Rc;

use nodelike::stream::{self, Readable, Stream, Transform, TransformFns, Writable};
use nodelike::zlib::{self, BrotliOptions, ZlibOptions};
use nodelike::{Error, ErrorKind};

/// A compressor and its decompressor, by Node's names.
#[derive(Debug, Clone, Copy)]
enum Codec {
    Gzip,
    Deflate,
    DeflateRaw,
    Brotli,
    /// Gzip in, Unzip out.
    GzipUnzip,
    /// Deflate in, Unzip out.
    DeflateUnzip,
}

const CODECS: [Codec; 6] = [
    Codec::Gzip,
    Codec::Deflate,
    Codec::DeflateRaw,
    Codec::Brotli,
    Codec::GzipUnzip,
    Codec::DeflateUnzip,
];

fn compressor(c: Codec) -> Transform {
    match c {
        Codec::Gzip | Codec::GzipUnzip => zlib::create_gzip(ZlibOptions::default()),
        Codec::Deflate | Codec::DeflateUnzip => zlib::create_deflate(ZlibOptions::default()),
        Codec::DeflateRaw => zlib::create_deflate_raw(ZlibOptions::default()),
        Codec::Brotli => zlib::create_brotli_compress(BrotliOptions {
            quality: 5,
            ..Default::default()
        }),
    }
}

fn decompressor(c: Codec, cap: usize) -> Transform {
    let z = ZlibOptions {
        max_output_length: cap,
        ..Default::default()
    };
    match c {
        Codec::Gzip => zlib::create_gunzip(z),
        Codec::Deflate => zlib::create_inflate(z),
        Codec::DeflateRaw => zlib::create_inflate_raw(z),
        Codec::GzipUnzip | Codec::DeflateUnzip => zlib::create_unzip(z),
        Codec::Brotli => zlib::create_brotli_decompress(BrotliOptions {
            max_output_length: cap,
            ..Default::default()
        }),
    }
}

fn compress_sync(c: Codec, data: &[u8]) -> Vec<u8> {
    match c {
        Codec::Gzip | Codec::GzipUnzip => zlib::gzip_sync(data, ZlibOptions::default()),
        Codec::Deflate | Codec::DeflateUnzip => zlib::deflate_sync(data, ZlibOptions::default()),
        Codec::DeflateRaw => {
            return run_through(zlib::create_deflate_raw(ZlibOptions::default()), &[data])
                .expect("deflate raw")
        }
        Codec::Brotli => zlib::brotli_compress_sync(data, BrotliOptions::default()),
    }
    .expect("compresses")
}

/// Text that compresses, with some variety (so blocks are not all alike).
fn sample(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut n: u32 = 7;
    while out.len() < len {
        n = n.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let line = format!(
            "{{\"id\":{},\"name\":\"item {}\",\"ok\":true}}\n",
            n % 1000,
            n >> 20
        );
        out.extend_from_slice(line.as_bytes());
    }
    out.truncate(len);
    out
}

/// Writes `pieces` into `t`, ends it, runs the loop; the output, or the
/// stream's error.
fn run_through(t: Transform, pieces: &[&[u8]]) -> Result<Vec<u8>, Error> {
    let out = Rc::new(RefCell::new(Vec::new()));
    let failed = Rc::new(RefCell::new(None));
    {
        let out = out.clone();
        t.on_data(move |chunk| out.borrow_mut().extend_from_slice(&chunk));
    }
    {
        let failed = failed.clone();
        t.on_error(move |e| *failed.borrow_mut() = Some(e.clone()));
    }
    for piece in pieces {
        t.write(*piece);
    }
    t.end(());
    nodelike::run();
    if let Some(e) = failed.borrow_mut().take() {
        return Err(e);
    }
    Ok(out.take())
}

#[test]
fn every_codec_round_trips_through_piped_streams() {
    for codec in CODECS {
        for len in [0, 1, 100, 1500, 200 * 1024] {
            let data = sample(len);
            let (c, d) = (compressor(codec), decompressor(codec, usize::MAX));
            c.pipe(d);
            let out = Rc::new(RefCell::new(Vec::new()));
            let o = out.clone();
            d.on_data(move |chunk| o.borrow_mut().extend_from_slice(&chunk));
            let ended = Rc::new(Cell::new(false));
            let e = ended.clone();
            d.on_end(move || e.set(true));
            // Several writes, some above the inline limit (the pool).
            for piece in data.chunks(7000) {
                c.write(piece);
            }
            c.end(());
            nodelike::run();
            assert!(ended.get(), "{codec:?} {len}: no end");
            assert!(*out.borrow() == data, "{codec:?} {len}: round trip differs");
        }
    }
}

#[test]
fn one_shot_calls_round_trip_on_the_pool_and_inline() {
    let data = sample(50_000);
    let got = Rc::new(RefCell::new(Vec::new()));
    let g = got.clone();
    zlib::gzip(data.clone(), ZlibOptions::default(), move |packed| {
        zlib::gunzip(packed.unwrap(), ZlibOptions::default(), move |plain| {
            *g.borrow_mut() = plain.unwrap();
        });
    });
    nodelike::run();
    assert!(*got.borrow() == data);
    let z = zlib::deflate_sync(&data, ZlibOptions::default()).unwrap();
    assert_eq!(
        zlib::inflate_sync(&z, ZlibOptions::default()).unwrap(),
        data
    );
    let br = zlib::brotli_compress_sync(&data, BrotliOptions::default()).unwrap();
    assert_eq!(
        zlib::brotli_decompress_sync(&br, BrotliOptions::default()).unwrap(),
        data
    );
    let got = Rc::new(RefCell::new(Vec::new()));
    let g = got.clone();
    zlib::brotli_compress(data.clone(), BrotliOptions::default(), move |packed| {
        zlib::brotli_decompress(packed.unwrap(), BrotliOptions::default(), move |plain| {
            *g.borrow_mut() = plain.unwrap();
        });
    });
    nodelike::run();
    assert!(*got.borrow() == data);
}

#[test]
fn decompressors_take_their_input_split_anywhere_and_byte_by_byte() {
    let message = b"The quick brown fox jumps over the lazy dog, twice: the quick brown fox.";
    for codec in CODECS {
        let packed = compress_sync(codec, message);
        for split in 0..=packed.len() {
            let (a, b) = packed.split_at(split);
            let out = run_through(decompressor(codec, usize::MAX), &[a, b])
                .unwrap_or_else(|e| panic!("{codec:?} split at {split}: {e}"));
            assert_eq!(out, message, "{codec:?} split at {split}");
        }
        let bytes: Vec<&[u8]> = packed.chunks(1).collect();
        let out = run_through(decompressor(codec, usize::MAX), &bytes).unwrap();
        assert_eq!(out, message, "{codec:?} byte by byte");
    }
}

/// Runs `node -e script` with `input` on stdin; its stdout.
fn node(script: &str, input: &[u8]) -> Vec<u8> {
    let mut child = common::ChildGuard::spawn(
        Command::new("node")
            .arg("-e")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped()),
    )
    .expect("node starts");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    assert!(child.wait().unwrap().success(), "node failed on {script}");
    out
}

const NODE_STDIN: &str = "const z=require('zlib');const b=require('fs').readFileSync(0);";

#[test]
fn node_decodes_ours_and_we_decode_nodes() {
    if !common::have("node") {
        eprintln!("skipped: no node on the PATH");
        return;
    }
    let data = sample(100 * 1024);
    for (ours, theirs) in [
        (Codec::Gzip, "gunzipSync"),
        (Codec::Deflate, "inflateSync"),
        (Codec::DeflateRaw, "inflateRawSync"),
        (Codec::Brotli, "brotliDecompressSync"),
    ] {
        // Ours, as a stream (fed in pieces, some on the pool).
        let pieces: Vec<&[u8]> = data.chunks(10_000).collect();
        let packed = run_through(compressor(ours), &pieces).unwrap();
        let decoded = node(
            &format!("{NODE_STDIN}process.stdout.write(z.{theirs}(b));"),
            &packed,
        );
        assert!(decoded == data, "node's {theirs} of our {ours:?}");
    }
    for (theirs, ours) in [
        ("gzipSync", Codec::Gzip),
        ("deflateSync", Codec::Deflate),
        ("deflateRawSync", Codec::DeflateRaw),
        ("brotliCompressSync", Codec::Brotli),
        ("gzipSync", Codec::GzipUnzip),
    ] {
        let packed = node(
            &format!("{NODE_STDIN}process.stdout.write(z.{theirs}(b));"),
            &data,
        );
        let pieces: Vec<&[u8]> = packed.chunks(3000).collect();
        let decoded = run_through(decompressor(ours, usize::MAX), &pieces).unwrap();
        assert!(decoded == data, "our {ours:?} of node's {theirs}");
    }
}

#[test]
fn a_flush_pushes_out_what_was_written_so_far() {
    // Server-sent events through gzip: each event must be decodable
    // before the stream ends.
    let gzip = zlib::create_gzip(ZlibOptions::default());
    let gunzip = zlib::create_gunzip(ZlibOptions::default());
    let packed = Rc::new(RefCell::new(Vec::new()));
    let p = packed.clone();
    gzip.on_data(move |chunk| p.borrow_mut().extend_from_slice(&chunk));
    gzip.write("data: one\n\n");
    let seen = Rc::new(RefCell::new(Vec::new()));
    {
        let (packed, seen) = (packed.clone(), seen.clone());
        gzip.flush(move || {
            let s = seen.clone();
            gunzip.on_data(move |chunk| s.borrow_mut().extend_from_slice(&chunk));
            gunzip.write(&*packed.borrow());
        });
    }
    nodelike::run();
    assert_eq!(&*seen.borrow(), b"data: one\n\n");
}

#[test]
fn garbage_is_a_data_error_worded_as_node_words_it() {
    for t in [
        zlib::create_gunzip(ZlibOptions::default()),
        zlib::create_inflate(ZlibOptions::default()),
        zlib::create_unzip(ZlibOptions::default()),
    ] {
        let e = run_through(t, &[b"hello, this is not compressed"]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Zlib);
        assert_eq!(e.code(), "Z_DATA_ERROR");
        assert_eq!(e.message(), "incorrect header check");
        assert!(t.destroyed());
    }
    let e = run_through(
        zlib::create_brotli_decompress(BrotliOptions::default()),
        &[b"\xff\xff\xff\xff not brotli"],
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Zlib);
    let e = zlib::gunzip_sync(b"\x1f\x8bnope", ZlibOptions::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Zlib);
}

#[test]
fn a_stream_cut_short_is_unexpected_end_of_file() {
    let data = sample(5000);
    for codec in [
        Codec::Gzip,
        Codec::Deflate,
        Codec::DeflateRaw,
        Codec::Brotli,
    ] {
        let packed = compress_sync(codec, &data);
        let cut = &packed[..packed.len() / 2];
        let e = run_through(decompressor(codec, usize::MAX), &[cut]).unwrap_err();
        assert_eq!(e.code(), "Z_BUF_ERROR", "{codec:?}: {e}");
        assert_eq!(e.message(), "unexpected end of file");
    }
}

/// The peak resident memory of this process so far (Linux), in bytes.
fn peak_rss() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<usize>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// 100 MiB of zeros, gzipped (about 100 KiB: a 1000× bomb).
fn gzip_bomb() -> Vec<u8> {
    let gzip = zlib::create_gzip(ZlibOptions {
        level: 9,
        ..Default::default()
    });
    let packed = Rc::new(RefCell::new(Vec::new()));
    let p = packed.clone();
    gzip.on_data(move |chunk| p.borrow_mut().extend_from_slice(&chunk));
    let zeros = vec![0u8; 1 << 20];
    let written = Rc::new(Cell::new(0));
    // Written with back-pressure, so the bomb itself never sits in memory.
    fn more(gzip: Transform, zeros: Rc<Vec<u8>>, written: Rc<Cell<usize>>) {
        while written.get() < 100 {
            written.set(written.get() + 1);
            if !gzip.write(&*zeros) {
                return;
            }
        }
        gzip.end(());
    }
    let zeros = Rc::new(zeros);
    {
        let (zeros, written) = (zeros.clone(), written.clone());
        gzip.on_drain(move || more(gzip, zeros.clone(), written.clone()));
    }
    more(gzip, zeros, written);
    nodelike::run();
    packed.take()
}

#[test]
fn a_gzip_bomb_stops_at_the_cap_with_buffer_too_large_and_bounded_memory() {
    let bomb = gzip_bomb();
    assert!(
        bomb.len() < 200 * 1024,
        "a 1000x bomb: {} bytes",
        bomb.len()
    );
    let before = peak_rss();
    let cap = 1 << 20;
    let gunzip = zlib::create_gunzip(ZlibOptions {
        max_output_length: cap,
        ..Default::default()
    });
    let got = Rc::new(Cell::new(0usize));
    let g = got.clone();
    gunzip.on_data(move |chunk| g.set(g.get() + chunk.len()));
    let failed = Rc::new(RefCell::new(None));
    let f = failed.clone();
    gunzip.on_error(move |e| *f.borrow_mut() = Some(e.clone()));
    let closed = Rc::new(Cell::new(false));
    let c = closed.clone();
    gunzip.on_close(move || c.set(true));
    for piece in bomb.chunks(16 * 1024) {
        gunzip.write(piece);
    }
    gunzip.end(());
    nodelike::run();
    let e = failed.borrow_mut().take().expect("the bomb fails");
    assert_eq!(e.kind(), ErrorKind::BufferTooLarge);
    assert_eq!(e.code(), "ERR_BUFFER_TOO_LARGE");
    assert!(got.get() <= cap, "{} bytes past a {cap} cap", got.get());
    assert!(closed.get());
    let grew = peak_rss().saturating_sub(before);
    assert!(grew < 48 << 20, "peak memory grew by {grew} bytes");

    // The one-shot call too.
    let e = zlib::gunzip_sync(
        &bomb,
        ZlibOptions {
            max_output_length: cap,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(e.code(), "ERR_BUFFER_TOO_LARGE");
}

#[test]
fn a_paused_reader_stops_the_decompression_of_a_bomb() {
    // No cap at all: only the back-pressure bounds what is produced.
    let bomb = gzip_bomb();
    let gunzip = zlib::create_gunzip(ZlibOptions::default());
    gunzip.pause();
    let mut accepted = true;
    for piece in bomb.chunks(16 * 1024) {
        accepted &= gunzip.write(piece);
    }
    nodelike::run();
    // Decompression stopped one step past the reader's mark, with the
    // compressed input waiting.
    assert!(
        gunzip.readable_length() <= 128 * 1024,
        "{} bytes decompressed for a paused reader",
        gunzip.readable_length()
    );
    assert!(gunzip.writable_length() > 0);
    assert!(!accepted, "write never said stop");
    // Resumed, it goes on to the end.
    let got = Rc::new(Cell::new(0usize));
    let g = got.clone();
    gunzip.on_data(move |chunk| g.set(g.get() + chunk.len()));
    gunzip.resume();
    gunzip.end(());
    nodelike::run();
    assert_eq!(got.get(), 100 << 20);
}

#[test]
fn brotli_and_inflate_bombs_stop_at_the_cap() {
    let zeros = vec![0u8; 32 << 20];
    let br = zlib::brotli_compress_sync(
        &zeros,
        BrotliOptions {
            quality: 5,
            ..Default::default()
        },
    )
    .unwrap();
    let z = zlib::deflate_sync(&zeros, ZlibOptions::default()).unwrap();
    drop(zeros);
    let cap = 1 << 20;
    for (t, input) in [
        (decompressor(Codec::Brotli, cap), br),
        (decompressor(Codec::Deflate, cap), z),
    ] {
        let e = run_through(t, &[&input]).unwrap_err();
        assert_eq!(e.code(), "ERR_BUFFER_TOO_LARGE");
    }
}

// ------------------------------------------------------------------ Transform

fn upper() -> Transform {
    Transform::new(TransformFns {
        transform: |chunk: &[u8], out: &mut Vec<u8>| {
            out.extend(chunk.iter().map(u8::to_ascii_uppercase));
            Ok(())
        },
        flush: |out: &mut Vec<u8>| {
            out.extend_from_slice(b"!");
            Ok(())
        },
    })
}

#[test]
fn a_user_transform_piped_between_two_streams_keeps_nodes_event_order() {
    let src = Transform::pass_through();
    let up = upper();
    let dst = Transform::pass_through();
    src.pipe(up).pipe(dst);
    let events = Rc::new(RefCell::new(Vec::<String>::new()));
    let out = Rc::new(RefCell::new(Vec::new()));
    {
        let out = out.clone();
        dst.on_data(move |chunk| out.borrow_mut().extend_from_slice(&chunk));
    }
    for (name, which) in [("finish", 0), ("end", 1), ("close", 2)] {
        let events = events.clone();
        let push = move || events.borrow_mut().push(name.to_owned());
        match which {
            0 => up.on_finish(push),
            1 => up.on_end(push),
            _ => up.on_close(push),
        }
    }
    src.write("hello ");
    src.write("world");
    src.end(());
    let done = Rc::new(RefCell::new(None));
    let d = done.clone();
    stream::finished(up, move |err| *d.borrow_mut() = Some(err));
    nodelike::run();
    assert_eq!(&*out.borrow(), b"HELLO WORLD!");
    // Node 20's order for a Transform whose reader took everything.
    assert_eq!(*events.borrow(), ["end", "finish", "close"]);
    assert!(up.destroyed());
    assert_eq!(done.borrow_mut().take(), Some(None));
}

#[test]
fn a_paused_consumer_stops_the_transform_and_write_says_so() {
    let up = upper();
    let transformed = Rc::new(Cell::new(0usize));
    let t = transformed.clone();
    let counting = Transform::new(TransformFns {
        transform: move |chunk: &[u8], out: &mut Vec<u8>| {
            t.set(t.get() + chunk.len());
            out.extend_from_slice(chunk);
            Ok(())
        },
        flush: |_: &mut Vec<u8>| Ok(()),
    });
    counting.pipe(up);
    up.pause();
    let chunk = vec![b'a'; 4096];
    let mut writes = 0;
    while counting.write(&chunk) {
        writes += 1;
        assert!(writes < 1000, "write never returned false");
    }
    nodelike::run();
    assert!(up.is_paused());
    // `up` holds its mark; `counting` holds its own, its queue is full.
    assert!(up.readable_length() >= 16 * 1024);
    assert!(counting.writable_length() >= 16 * 1024);
    let before = transformed.get();
    let drained = Rc::new(Cell::new(false));
    let d = drained.clone();
    counting.on_drain(move || d.set(true));
    let got = Rc::new(Cell::new(0usize));
    let g = got.clone();
    up.on_data(move |c| g.set(g.get() + c.len()));
    up.resume();
    nodelike::run();
    assert!(drained.get(), "no drain after the consumer resumed");
    assert!(transformed.get() > before);
    assert_eq!(got.get(), (writes + 1) * 4096);
}

#[test]
fn errors_destroy_cork_holds_and_write_after_end_fails() {
    // An error from the logic: `error`, then `close`, nothing else.
    let failing = Transform::new(TransformFns {
        transform: |_: &[u8], _: &mut Vec<u8>| Err(Error::new(ErrorKind::Zlib, "no")),
        flush: |_: &mut Vec<u8>| Ok(()),
    });
    let events = Rc::new(RefCell::new(Vec::<&str>::new()));
    {
        let e = events.clone();
        failing.on_error(move |_| e.borrow_mut().push("error"));
        let e = events.clone();
        failing.on_close(move || e.borrow_mut().push("close"));
        let e = events.clone();
        failing.on_finish(move || e.borrow_mut().push("finish"));
    }
    failing.write("x");
    failing.end(());
    assert!(failing.destroyed());
    nodelike::run();
    assert_eq!(*events.borrow(), ["error", "close"]);

    // Cork holds writes until uncork.
    let p = Transform::pass_through();
    p.pause();
    p.cork();
    p.write("a");
    p.write("b");
    assert_eq!(p.readable_length(), 0);
    assert_eq!(p.writable_length(), 2);
    p.uncork();
    assert_eq!(p.readable_length(), 2);
    assert_eq!(p.writable_length(), 0);

    // Write after end: ERR_STREAM_WRITE_AFTER_END, and the stream is gone.
    let q = Transform::pass_through();
    let seen = Rc::new(RefCell::new(None));
    let s = seen.clone();
    q.on_error(move |e| *s.borrow_mut() = Some(e.code()));
    q.end(());
    assert!(q.writable_ended());
    assert!(!q.write("late"));
    nodelike::run();
    assert_eq!(*seen.borrow(), Some("ERR_STREAM_WRITE_AFTER_END"));
}

#[test]
fn a_listener_may_write_to_the_stream_it_listens_to() {
    // Re-entrancy: `data` listeners and logic call back into the stream.
    let p = Transform::pass_through();
    let out = Rc::new(RefCell::new(Vec::new()));
    let o = out.clone();
    p.on_data(move |chunk| {
        o.borrow_mut().extend_from_slice(&chunk);
        if &*chunk == b"ping" {
            p.write("pong");
            p.end(());
        }
    });
    p.write("ping");
    nodelike::run();
    assert_eq!(&*out.borrow(), b"pingpong");
    assert!(p.destroyed(), "closed after end and finish");
}

#[test]
fn pipeline_runs_through_zlib_stages_and_fails_as_one() {
    // Success: every stage done, the callback hears None.
    let (src, dst) = (Transform::pass_through(), Transform::pass_through());
    let gzip = zlib::create_gzip(ZlibOptions::default());
    let gunzip = zlib::create_gunzip(ZlibOptions::default());
    let out = Rc::new(RefCell::new(Vec::new()));
    let o = out.clone();
    dst.on_data(move |chunk| o.borrow_mut().extend_from_slice(&chunk));
    let result = Rc::new(RefCell::new(None));
    let r = result.clone();
    stream::pipeline((src, gzip, gunzip, dst), move |err| {
        *r.borrow_mut() = Some(err)
    });
    let data = sample(300_000);
    src.end(&data);
    nodelike::run();
    assert_eq!(result.borrow_mut().take(), Some(None));
    assert!(*out.borrow() == data);

    // Garbage in the middle: every stage destroyed with Z_DATA_ERROR.
    let (src, dst) = (Transform::pass_through(), Transform::pass_through());
    let gunzip = zlib::create_gunzip(ZlibOptions::default());
    dst.on_data(|_| {});
    let r = result.clone();
    stream::pipeline((src, gunzip, dst), move |err| *r.borrow_mut() = Some(err));
    src.write("certainly not gzip");
    nodelike::run();
    let err = result
        .borrow_mut()
        .take()
        .flatten()
        .expect("the pipeline fails");
    assert_eq!(err.code(), "Z_DATA_ERROR");
    assert!(src.destroyed() && gunzip.destroyed() && dst.destroyed());
}

#[test]
fn a_stream_destroyed_while_its_job_is_on_the_pool_just_closes() {
    let gzip = zlib::create_gzip(ZlibOptions::default());
    let events = Rc::new(RefCell::new(Vec::<&str>::new()));
    {
        let e = events.clone();
        gzip.on_data(move |_| e.borrow_mut().push("data"));
        let e = events.clone();
        gzip.on_close(move || e.borrow_mut().push("close"));
        let e = events.clone();
        gzip.on_error(move |_| e.borrow_mut().push("error"));
    }
    // Above the inline limit: the chunk is on a worker when destroy comes.
    gzip.write(sample(64 * 1024));
    gzip.destroy(None);
    assert!(gzip.destroyed());
    nodelike::run();
    assert_eq!(*events.borrow(), ["close"]);
}

#[test]
fn trailing_bytes_after_a_stream_as_node_treats_them() {
    // Another member is read on; anything else fails the stream.
    let mut two = zlib::gzip_sync(b"one ", ZlibOptions::default()).unwrap();
    two.extend(zlib::gzip_sync(b"two", ZlibOptions::default()).unwrap());
    let out = run_through(zlib::create_gunzip(ZlibOptions::default()), &[&two]).unwrap();
    assert_eq!(out, b"one two");
    let bytes: Vec<&[u8]> = two.chunks(1).collect();
    let out = run_through(zlib::create_gunzip(ZlibOptions::default()), &bytes).unwrap();
    assert_eq!(out, b"one two", "two members, byte by byte");
    let mut junk = zlib::gzip_sync(b"one", ZlibOptions::default()).unwrap();
    junk.extend_from_slice(b"junk");
    let e = run_through(zlib::create_gunzip(ZlibOptions::default()), &[&junk]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Zlib);
    assert_eq!(e.message(), "incorrect header check");
    // After a zlib stream, Node ignores what follows; so do we.
    let mut z = zlib::deflate_sync(b"one", ZlibOptions::default()).unwrap();
    z.extend_from_slice(b"junk");
    assert_eq!(
        zlib::inflate_sync(&z, ZlibOptions::default()).unwrap(),
        b"one"
    );
}

#[test]
fn zlib_streams_finish_before_their_last_output_as_in_node() {
    // Node 20: gzip's `finish` comes once its input is taken, before the
    // end of its output: `finish`, `end`, `close`.
    let gzip = zlib::create_gzip(ZlibOptions::default());
    let events = Rc::new(RefCell::new(Vec::<&str>::new()));
    {
        let e = events.clone();
        gzip.on_data(move |_| e.borrow_mut().push("data"));
        for (name, which) in [("finish", 0), ("end", 1), ("close", 2)] {
            let e = events.clone();
            let push = move || e.borrow_mut().push(name);
            match which {
                0 => gzip.on_finish(push),
                1 => gzip.on_end(push),
                _ => gzip.on_close(push),
            }
        }
    }
    gzip.write("a".repeat(5000));
    gzip.end(());
    nodelike::run();
    let events = events.borrow();
    let at = |name| events.iter().position(|e| *e == name).unwrap();
    assert!(at("finish") < at("end"), "{events:?}");
    assert_eq!(events.last(), Some(&"close"));
    assert_eq!(events[events.len() - 2], "end");
}

#[test]
fn a_paused_reader_gets_finish_first_and_end_when_it_reads() {
    // Node: `finish` at once, `end` only once the buffered data was read.
    let p = Transform::pass_through();
    p.pause();
    p.write("x");
    p.end(());
    let events = Rc::new(RefCell::new(Vec::<&str>::new()));
    let e = events.clone();
    p.on_finish(move || e.borrow_mut().push("finish"));
    let e = events.clone();
    p.on_end(move || e.borrow_mut().push("end"));
    nodelike::run();
    assert_eq!(*events.borrow(), ["finish"]);
    assert!(p.writable_finished() && !p.readable_ended());
    let e = events.clone();
    p.on_data(move |_| e.borrow_mut().push("data"));
    p.resume();
    nodelike::run();
    assert_eq!(*events.borrow(), ["finish", "data", "end"]);
}
