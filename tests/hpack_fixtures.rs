//! HPACK against the public `hpack-test-case` corpus (github.com/http2jp/
//! hpack-test-case, MIT; a subset is in `tests/data/hpack-test-case`,
//! `HPACK_TEST_CASE_DIR` points at a whole checkout instead):
//!
//! 1. every story of every encoder's directory decodes, block by block on
//!    one decoder per story, to the header list it came from;
//! 2. every `raw-data` story encoded by our encoder decodes back with our
//!    decoder, and the compression ratio is printed next to the other
//!    encoders' on the same stories
//!    (`cargo test --test hpack_fixtures -- --nocapture`);
//! 3. encoding and decoding the same heads again and again allocates
//!    nothing once warm (a counting global allocator, this thread only).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nodelike::http::h2::hpack::{Decoder, Encoder, Field};

// ---- a counting allocator, for test 3 ----

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn note_allocation() {
    if COUNTING.try_with(|c| c.get()).unwrap_or(false) {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
    }
}

// SAFETY: every call is passed straight to the system allocator; counting
// touches only const thread-locals without destructors.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `f` on this thread.
fn allocations_in(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(|n| n.get());
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.with(|n| n.get()) - before
}

// ---- a JSON reader just big enough for the corpus ----

#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn as_array(&self) -> &[Json] {
        match self {
            Json::Array(items) => items,
            other => panic!("not an array: {other:?}"),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            Json::String(s) => s,
            other => panic!("not a string: {other:?}"),
        }
    }
}

struct JsonReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl JsonReader<'_> {
    fn parse(text: &str) -> Json {
        let mut reader = JsonReader {
            bytes: text.as_bytes(),
            pos: 0,
        };
        let value = reader.value();
        reader.skip_space();
        assert_eq!(reader.pos, reader.bytes.len(), "trailing bytes");
        value
    }

    fn skip_space(&mut self) {
        while self
            .bytes
            .get(self.pos)
            .is_some_and(u8::is_ascii_whitespace)
        {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> u8 {
        self.skip_space();
        self.bytes[self.pos]
    }

    fn expect(&mut self, byte: u8) {
        assert_eq!(self.peek(), byte, "at {}", self.pos);
        self.pos += 1;
    }

    fn value(&mut self) -> Json {
        match self.peek() {
            b'{' => {
                self.pos += 1;
                let mut members = Vec::new();
                if self.peek() == b'}' {
                    self.pos += 1;
                    return Json::Object(members);
                }
                loop {
                    let key = self.string();
                    self.expect(b':');
                    members.push((key, self.value()));
                    match self.peek() {
                        b',' => self.pos += 1,
                        _ => {
                            self.expect(b'}');
                            return Json::Object(members);
                        }
                    }
                }
            }
            b'[' => {
                self.pos += 1;
                let mut items = Vec::new();
                if self.peek() == b']' {
                    self.pos += 1;
                    return Json::Array(items);
                }
                loop {
                    items.push(self.value());
                    match self.peek() {
                        b',' => self.pos += 1,
                        _ => {
                            self.expect(b']');
                            return Json::Array(items);
                        }
                    }
                }
            }
            b'"' => Json::String(self.string()),
            b't' => self.word("true", Json::Bool(true)),
            b'f' => self.word("false", Json::Bool(false)),
            b'n' => self.word("null", Json::Null),
            _ => {
                let start = self.pos;
                while self
                    .bytes
                    .get(self.pos)
                    .is_some_and(|b| b"+-.eE0123456789".contains(b))
                {
                    self.pos += 1;
                }
                let text = std::str::from_utf8(&self.bytes[start..self.pos]).unwrap();
                Json::Number(
                    text.parse()
                        .unwrap_or_else(|_| panic!("bad number at {start}")),
                )
            }
        }
    }

    fn word(&mut self, word: &str, value: Json) -> Json {
        assert!(
            self.bytes[self.pos..].starts_with(word.as_bytes()),
            "at {}",
            self.pos
        );
        self.pos += word.len();
        value
    }

    fn string(&mut self) -> String {
        self.expect(b'"');
        let mut out = String::new();
        loop {
            let start = self.pos;
            while !matches!(self.bytes[self.pos], b'"' | b'\\') {
                self.pos += 1;
            }
            out.push_str(std::str::from_utf8(&self.bytes[start..self.pos]).unwrap());
            let byte = self.bytes[self.pos];
            self.pos += 1;
            if byte == b'"' {
                return out;
            }
            let escaped = self.bytes[self.pos];
            self.pos += 1;
            match escaped {
                b'"' => out.push('"'),
                b'\\' => out.push('\\'),
                b'/' => out.push('/'),
                b'b' => out.push('\u{8}'),
                b'f' => out.push('\u{c}'),
                b'n' => out.push('\n'),
                b'r' => out.push('\r'),
                b't' => out.push('\t'),
                b'u' => {
                    let hex = std::str::from_utf8(&self.bytes[self.pos..self.pos + 4]).unwrap();
                    self.pos += 4;
                    let code = u32::from_str_radix(hex, 16).unwrap();
                    out.push(char::from_u32(code).expect("no surrogates in the corpus"));
                }
                other => panic!("bad escape \\{}", other as char),
            }
        }
    }
}

#[test]
fn the_json_reader_reads_what_the_corpus_holds() {
    let json =
        JsonReader::parse(r#" {"a": [1, -2.5e1, "x\"\/\u0026y", null, true, false, {}, []]} "#);
    let items = json.get("a").unwrap().as_array();
    assert_eq!(items[1], Json::Number(-25.0));
    assert_eq!(items[2].as_str(), "x\"/&y");
    assert_eq!(
        items[3..6],
        [Json::Null, Json::Bool(true), Json::Bool(false)]
    );
}

// ---- the corpus ----

fn corpus_dir() -> PathBuf {
    match std::env::var_os("HPACK_TEST_CASE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/hpack-test-case"),
    }
}

/// The story files of one directory, sorted.
fn stories(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

/// The encoders' directories (everything but `raw-data`), sorted.
fn encoder_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.is_dir()
                && p.file_name()
                    .is_some_and(|n| n != "raw-data" && !stories(p).is_empty())
        })
        .collect();
    dirs.sort();
    dirs
}

fn read_story(path: &Path) -> Json {
    JsonReader::parse(&std::fs::read_to_string(path).unwrap())
}

type HeaderList = Vec<(Vec<u8>, Vec<u8>)>;

/// A case's `headers`: a list of one-member objects.
fn headers(case: &Json) -> HeaderList {
    case.get("headers")
        .unwrap()
        .as_array()
        .iter()
        .map(|field| match field {
            Json::Object(members) if members.len() == 1 => (
                members[0].0.as_bytes().to_vec(),
                members[0].1.as_str().as_bytes().to_vec(),
            ),
            other => panic!("not a header: {other:?}"),
        })
        .collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn decode(
    decoder: &mut Decoder,
    block: &[u8],
) -> Result<HeaderList, nodelike::http::h2::hpack::HpackError> {
    let mut list = Vec::new();
    decoder
        .decode(block, usize::MAX, &mut |n, v| {
            list.push((n.to_vec(), v.to_vec()))
        })
        .map(|()| list)
}

/// Σ name + value bytes of a story's lists, and Σ its `wire` bytes: the
/// corpus's own compression ratio measure (its genratiotbl.py).
fn story_sizes(story: &Json) -> (usize, usize) {
    let cases = story.get("cases").unwrap().as_array();
    let raw = cases
        .iter()
        .flat_map(headers)
        .map(|(n, v)| n.len() + v.len())
        .sum();
    let wire = cases
        .iter()
        .filter_map(|c| c.get("wire"))
        .map(|w| w.as_str().len() / 2)
        .sum();
    (raw, wire)
}

#[test]
fn every_encoders_stories_decode() {
    let dirs = encoder_dirs();
    assert!(
        dirs.len() >= 8,
        "the corpus is missing: {}",
        corpus_dir().display()
    );
    let mut report = Vec::new();
    let mut blocks = 0;
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let mut decoded = 0;
        for path in stories(dir) {
            let story = read_story(&path);
            let mut decoder = Decoder::new(4096);
            for (i, case) in story.get("cases").unwrap().as_array().iter().enumerate() {
                if let Some(Json::Number(size)) = case.get("header_table_size") {
                    decoder.set_max_table_size(*size as usize);
                }
                let block = unhex(case.get("wire").unwrap().as_str());
                let list = decode(&mut decoder, &block)
                    .unwrap_or_else(|e| panic!("{}: case {i}: {e}", path.display()));
                assert_eq!(list, headers(case), "{}: case {i}", path.display());
                blocks += 1;
            }
            decoded += 1;
        }
        report.push(format!("{name}: {decoded} stories"));
    }
    println!("decoded {blocks} blocks: {}", report.join(", "));
}

#[test]
fn our_encoder_round_trips_raw_data_and_compresses() {
    let raw_dir = corpus_dir().join("raw-data");
    let files = stories(&raw_dir);
    assert!(!files.is_empty());
    let (mut raw_total, mut ours_total) = (0usize, 0usize);
    let mut block = Vec::new();
    let mut blocks = 0;
    for path in &files {
        let story = read_story(path);
        let mut encoder = Encoder::new();
        let mut decoder = Decoder::new(4096);
        for case in story.get("cases").unwrap().as_array() {
            let list = headers(case);
            block.clear();
            encoder.encode(list.iter().map(|(n, v)| Field::new(n, v)), &mut block);
            assert_eq!(
                decode(&mut decoder, &block).unwrap(),
                list,
                "{}",
                path.display()
            );
            raw_total += list.iter().map(|(n, v)| n.len() + v.len()).sum::<usize>();
            ours_total += block.len();
            blocks += 1;
        }
    }
    println!(
        "raw-data ({} stories, {blocks} blocks): ours {:.3} ({ours_total}/{raw_total})",
        files.len(),
        ours_total as f64 / raw_total as f64
    );
    // The other encoders on the same stories.
    let mut ratios = BTreeMap::new();
    for dir in encoder_dirs() {
        let (mut raw, mut wire) = (0, 0);
        for path in &files {
            let theirs = dir.join(path.file_name().unwrap());
            if let Ok(text) = std::fs::read_to_string(&theirs) {
                let (r, w) = story_sizes(&JsonReader::parse(&text));
                raw += r;
                wire += w;
            }
        }
        if raw == raw_total {
            ratios.insert(
                dir.file_name().unwrap().to_string_lossy().into_owned(),
                (wire, raw),
            );
        }
    }
    for (name, (wire, raw)) in &ratios {
        println!("  {name}: {:.3} ({wire}/{raw})", *wire as f64 / *raw as f64);
    }
    // No worse than nghttp2 by more than a few percent.
    if let Some(&(wire, _)) = ratios.get("nghttp2") {
        assert!(
            ours_total * 100 <= wire * 105,
            "ours {ours_total} vs nghttp2 {wire}"
        );
    }
}

#[test]
fn steady_state_encoding_and_decoding_allocate_nothing() {
    let response = [
        Field::new(b":status", b"200"),
        Field::new(b"content-type", b"text/plain; charset=utf-8"),
        Field::new(b"content-length", b"12"),
        Field::new(b"date", b"Thu, 03 Dec 2026 17:00:00 GMT"),
    ];
    let request = [
        Field::new(b":method", b"GET"),
        Field::new(b":scheme", b"https"),
        Field::new(b":authority", b"example.com"),
        Field::new(b":path", b"/api/items?page=2&sort=name&limit=100"),
        Field::new(
            b"user-agent",
            b"Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0",
        ),
        Field::never_indexed(b"authorization", b"Bearer 0123456789abcdef"),
        Field::new(b"accept-encoding", b"gzip, deflate, br"),
    ];
    let mut encoder = Encoder::new();
    let mut decoder = Decoder::new(4096);
    let mut block = Vec::with_capacity(1024);
    let mut fields = 0usize;
    let mut round = |encoder: &mut Encoder, decoder: &mut Decoder| {
        for head in [&response[..], &request[..]] {
            block.clear();
            encoder.encode(head.iter().copied(), &mut block);
            decoder
                .decode(&block, 16 * 1024, &mut |_, _| fields += 1)
                .unwrap();
        }
    };
    for _ in 0..10 {
        round(&mut encoder, &mut decoder);
    }
    let counted = allocations_in(|| {
        for _ in 0..1000 {
            round(&mut encoder, &mut decoder);
        }
    });
    assert_eq!(counted, 0);
    assert_eq!(fields, 1010 * 11);
}
