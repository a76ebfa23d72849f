//! Criterion micro-benchmarks of the sans-IO protocol core, with throughput
//! in bytes: parsing request heads and decoding chunked bodies.
//!
//!     cargo bench --bench protocol
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use nodelike::http::h1::{parse_request_head, BodyKind, Decoded, Decoder, Limits, ParsedRequest};

const WRK_GET: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n";
const BROWSER_GET: &[u8] = b"GET /assets/app.js?v=3 HTTP/1.1\r\nHost: www.example.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\
Accept: */*\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\n\
Referer: https://www.example.com/\r\nConnection: keep-alive\r\nCookie: session=abc123; theme=dark\r\n\
Sec-Fetch-Dest: script\r\nSec-Fetch-Mode: no-cors\r\nSec-Fetch-Site: same-origin\r\n\r\n";

fn parse_heads(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_request_head");
    let limits = Limits::default();
    for (name, head) in [("wrk_get", WRK_GET), ("browser_get", BROWSER_GET)] {
        group.throughput(Throughput::Bytes(head.len() as u64));
        let mut parsed = ParsedRequest::default();
        group.bench_function(name, |b| {
            b.iter(|| {
                parse_request_head(black_box(head), &limits, &mut parsed)
                    .unwrap()
                    .unwrap()
            })
        });
    }
    group.finish();
}

fn chunked_body(chunk: usize, chunks: usize) -> Vec<u8> {
    let mut body = Vec::new();
    for _ in 0..chunks {
        body.extend_from_slice(format!("{chunk:x}\r\n").as_bytes());
        body.extend(std::iter::repeat_n(b'x', chunk));
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    body
}

fn decode_chunked(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode_chunked");
    for (name, chunk, chunks) in [("64B_chunks", 64, 1024), ("16KiB_chunks", 16 * 1024, 64)] {
        let body = chunked_body(chunk, chunks);
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut d = Decoder::new(BodyKind::Chunked);
                let mut input = black_box(&body[..]);
                let mut total = 0;
                loop {
                    let (n, out) = d.decode(input).unwrap();
                    input = &input[n..];
                    match out {
                        Decoded::Data(data) => total += data.len(),
                        Decoded::NeedMore => unreachable!("the whole body is there"),
                        Decoded::Done => break total,
                    }
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, parse_heads, decode_chunked);
criterion_main!(benches);
