//! Connection tests: hand-built frames for every rule (each error with
//! its code and scope), and a client and a server talking through byte
//! buffers, fed whole, split at every offset, and one byte at a time.
//!
//! Header blocks are built as HPACK "literal without indexing, new name"
//! representations, which every HPACK decoder reads, so these tests do
//! not depend on the encoder's choices.

use super::frame::{self, FrameHeader, HEADER_LEN, PREFACE};
use super::*;

// ---- building input ----

/// One HPACK literal field without indexing, new name, no Huffman.
fn lit(block: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    block.push(0);
    int7(block, name.len());
    block.extend_from_slice(name);
    int7(block, value.len());
    block.extend_from_slice(value);
}

fn int7(out: &mut Vec<u8>, mut n: usize) {
    if n < 127 {
        out.push(n as u8);
        return;
    }
    out.push(127);
    n -= 127;
    while n >= 128 {
        out.push((n % 128) as u8 | 0x80);
        n /= 128;
    }
    out.push(n as u8);
}

fn block(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut b = Vec::new();
    for (n, v) in fields {
        lit(&mut b, n.as_bytes(), v.as_bytes());
    }
    b
}

const GET: &[(&str, &str)] = &[
    (":method", "GET"),
    (":scheme", "https"),
    (":path", "/"),
    (":authority", "x"),
];
const POST: &[(&str, &str)] = &[
    (":method", "POST"),
    (":scheme", "https"),
    (":path", "/up"),
    (":authority", "x"),
];

fn raw(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    frame::write_header(&mut out, payload.len(), kind, flags, stream);
    out.extend_from_slice(payload);
    out
}

fn headers(stream: u32, fields: &[(&str, &str)], end_stream: bool) -> Vec<u8> {
    let flags = frame::END_HEADERS | if end_stream { frame::END_STREAM } else { 0 };
    raw(frame::TYPE_HEADERS, flags, stream, &block(fields))
}

fn data(stream: u32, bytes: &[u8], end_stream: bool) -> Vec<u8> {
    raw(
        frame::TYPE_DATA,
        if end_stream { frame::END_STREAM } else { 0 },
        stream,
        bytes,
    )
}

fn settings(entries: &[(u16, u32)]) -> Vec<u8> {
    let mut p = Vec::new();
    for (id, v) in entries {
        p.extend_from_slice(&id.to_be_bytes());
        p.extend_from_slice(&v.to_be_bytes());
    }
    raw(frame::TYPE_SETTINGS, 0, 0, &p)
}

fn window_update(stream: u32, n: u32) -> Vec<u8> {
    raw(frame::TYPE_WINDOW_UPDATE, 0, stream, &n.to_be_bytes())
}

fn rst(stream: u32, code: u32) -> Vec<u8> {
    raw(frame::TYPE_RST_STREAM, 0, stream, &code.to_be_bytes())
}

fn ping(payload: [u8; 8]) -> Vec<u8> {
    raw(frame::TYPE_PING, 0, 0, &payload)
}

fn settings_ack() -> Vec<u8> {
    raw(frame::TYPE_SETTINGS, frame::ACK, 0, b"")
}

fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

/// What a client sends first: the preface and an empty SETTINGS.
fn opening() -> Vec<u8> {
    cat(&[PREFACE.to_vec(), settings(&[])])
}

// ---- reading output ----

/// An event, owned, so a sequence can be compared.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    Headers(u32, Vec<(String, String)>, bool),
    Trailers(u32, Vec<(String, String)>),
    Data(u32, Vec<u8>, bool),
    Reset(u32, ErrorCode, bool),
    WindowOpened(Option<u32>),
    PingAck([u8; 8]),
    SettingsChanged,
    SettingsAcked,
    GoAway(u32, ErrorCode, Vec<u8>),
    StreamClosed(u32),
}

fn owned(list: HeaderList<'_>) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| {
            (
                String::from_utf8_lossy(n).into_owned(),
                String::from_utf8_lossy(v).into_owned(),
            )
        })
        .collect()
}

fn own(e: Event<'_, '_>) -> Ev {
    match e {
        Event::Headers {
            stream,
            fields,
            end_stream,
        } => Ev::Headers(stream, owned(fields), end_stream),
        Event::Trailers { stream, fields } => Ev::Trailers(stream, owned(fields)),
        Event::Data {
            stream,
            data,
            end_stream,
        } => Ev::Data(stream, data.to_vec(), end_stream),
        Event::Reset {
            stream,
            code,
            by_peer,
        } => Ev::Reset(stream, code, by_peer),
        Event::WindowOpened { stream } => Ev::WindowOpened(stream),
        Event::PingAck { payload } => Ev::PingAck(payload),
        Event::SettingsChanged => Ev::SettingsChanged,
        Event::SettingsAcked => Ev::SettingsAcked,
        Event::GoAway {
            last_stream_id,
            code,
            debug,
        } => Ev::GoAway(last_stream_id, code, debug.to_vec()),
        Event::StreamClosed { stream } => Ev::StreamClosed(stream),
    }
}

/// The frames in `bytes`, as (header, payload).
fn frames(bytes: &[u8]) -> Vec<(FrameHeader, Vec<u8>)> {
    let mut pos = 0;
    let mut v = Vec::new();
    while let Some(h) = FrameHeader::parse(&bytes[pos..]) {
        let end = pos + HEADER_LEN + h.len as usize;
        v.push((h, bytes[pos + HEADER_LEN..end].to_vec()));
        pos = end;
    }
    assert_eq!(pos, bytes.len(), "trailing partial frame");
    v
}

fn skip_preface(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(&PREFACE[..]).unwrap_or(bytes)
}

/// The RST_STREAMs in `bytes`, as (stream, code).
fn resets(bytes: &[u8]) -> Vec<(u32, ErrorCode)> {
    frames(skip_preface(bytes))
        .into_iter()
        .filter(|(h, _)| h.kind == frame::TYPE_RST_STREAM)
        .map(|(h, p)| {
            (
                h.stream,
                ErrorCode::from_u32(u32::from_be_bytes(p[..4].try_into().unwrap())),
            )
        })
        .collect()
}

/// The GOAWAYs in `bytes`, as (last stream id, code).
fn goaways(bytes: &[u8]) -> Vec<(u32, ErrorCode)> {
    frames(skip_preface(bytes))
        .into_iter()
        .filter(|(h, _)| h.kind == frame::TYPE_GOAWAY)
        .map(|(_, p)| {
            (
                u32::from_be_bytes(p[..4].try_into().unwrap()),
                ErrorCode::from_u32(u32::from_be_bytes(p[4..8].try_into().unwrap())),
            )
        })
        .collect()
}

fn window_updates(bytes: &[u8]) -> Vec<(u32, u32)> {
    frames(skip_preface(bytes))
        .into_iter()
        .filter(|(h, _)| h.kind == frame::TYPE_WINDOW_UPDATE)
        .map(|(h, p)| (h.stream, u32::from_be_bytes(p[..4].try_into().unwrap())))
        .collect()
}

// ---- feeding ----

/// How input is handed over.
#[derive(Debug, Clone, Copy)]
enum Feed {
    Whole,
    /// Two pieces, split at this offset.
    SplitAt(usize),
    ByteByByte,
}

/// Feeds `input` to `c` the way the I/O layer does (unconsumed bytes are
/// kept and offered again with the next piece), releasing DATA at once.
/// Returns the events, the output, and the error if one ended it.
fn feed(c: &mut Connection, input: &[u8], how: Feed) -> (Vec<Ev>, Vec<u8>, Option<H2Error>) {
    let pieces: Vec<&[u8]> = match how {
        Feed::Whole => vec![input],
        Feed::SplitAt(k) => vec![&input[..k], &input[k..]],
        // An empty input is still offered once: events owed from a
        // sending call come out at the next poll.
        Feed::ByteByByte if input.is_empty() => vec![input],
        Feed::ByteByByte => input.chunks(1).collect(),
    };
    let mut held = Vec::new();
    let mut events = Vec::new();
    let mut out = Vec::new();
    for piece in pieces {
        held.extend_from_slice(piece);
        let mut pos = 0;
        loop {
            match c.poll(&held[pos..], &mut out) {
                Ok((n, Some(e))) => {
                    pos += n;
                    let ev = own(e);
                    if let Ev::Data(stream, d, _) = &ev {
                        let (stream, len) = (*stream, d.len());
                        c.release(stream, len, &mut out);
                    }
                    events.push(ev);
                }
                Ok((n, None)) => {
                    pos += n;
                    break;
                }
                Err(e) => return (events, out, Some(e)),
            }
        }
        held.drain(..pos);
    }
    (events, out, None)
}

fn server() -> Connection {
    Connection::new(Role::Server, Config::default())
}

/// A server fed `input` whole after the opening.
fn serve(input: &[u8]) -> (Vec<Ev>, Vec<u8>, Option<H2Error>) {
    serve_with(Config::default(), input)
}

fn serve_with(config: Config, input: &[u8]) -> (Vec<Ev>, Vec<u8>, Option<H2Error>) {
    let mut s = Connection::new(Role::Server, config);
    let mut start = Vec::new();
    s.start(&mut start);
    let (mut ev, out, err) = feed(&mut s, &cat(&[opening(), input.to_vec()]), Feed::Whole);
    assert_eq!(ev.first(), Some(&Ev::SettingsChanged));
    ev.remove(0);
    (ev, out, err)
}

/// Asserts a connection error with `code`, and a GOAWAY saying so.
#[track_caller]
fn expect_conn_error(input: &[u8], code: ErrorCode) {
    expect_conn_error_with(Config::default(), input, code);
}

#[track_caller]
fn expect_conn_error_with(config: Config, input: &[u8], code: ErrorCode) {
    let (_, out, err) = serve_with(config, input);
    match err {
        Some(H2Error::Connection { code: c, .. }) => assert_eq!(c, code, "{err:?}"),
        other => panic!("expected a connection error {code}, got {other:?}"),
    }
    assert_eq!(goaways(&out).last().map(|g| g.1), Some(code));
}

/// Asserts no connection error and an RST_STREAM on `stream` with `code`.
#[track_caller]
fn expect_stream_error(input: &[u8], stream: u32, code: ErrorCode) -> Vec<Ev> {
    let (ev, out, err) = serve(input);
    assert_eq!(err, None);
    assert_eq!(resets(&out), [(stream, code)], "{ev:?}");
    ev
}

fn fields(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

// ---- the opening ----

#[test]
fn a_request_is_read_whole_split_and_byte_by_byte() {
    let input = cat(&[
        opening(),
        headers(1, POST, false),
        data(1, b"hello", false),
        data(1, b"", true),
    ]);
    let expected = vec![
        Ev::SettingsChanged,
        Ev::Headers(1, fields(POST), false),
        Ev::Data(1, b"hello".to_vec(), false),
        Ev::Data(1, b"".to_vec(), true),
    ];
    let mut modes = vec![Feed::Whole, Feed::ByteByByte];
    modes.extend((0..=input.len()).map(Feed::SplitAt));
    for how in modes {
        let mut s = server();
        let (ev, out, err) = feed(&mut s, &input, how);
        assert_eq!((ev, err), (expected.clone(), None), "{how:?}");
        // The SETTINGS ACK went out.
        assert!(frames(&out)
            .iter()
            .any(|(h, _)| h.kind == frame::TYPE_SETTINGS && h.flags == frame::ACK));
    }
}

#[test]
fn a_bad_preface_is_a_protocol_error_as_soon_as_a_byte_differs() {
    let mut s = server();
    let mut out = Vec::new();
    assert_eq!(s.poll(b"PRI * HTTP/2", &mut out).unwrap().0, 0);
    assert_eq!(s.state(), ConnState::Handshaking);
    let err = s.poll(b"PRI * HTTP/1.1", &mut out).unwrap_err();
    assert_eq!(err.code(), ErrorCode::ProtocolError);
    assert_eq!(goaways(&out), [(0, ErrorCode::ProtocolError)]);
    // Every later call reports the same error.
    assert_eq!(s.poll(b"", &mut out).unwrap_err(), err);
    assert_eq!(s.state(), ConnState::Closed);
}

#[test]
fn the_first_frame_must_be_settings() {
    let mut s = server();
    let (_, out, err) = feed(&mut s, &cat(&[PREFACE.to_vec(), ping([0; 8])]), Feed::Whole);
    assert_eq!(err.map(|e| e.code()), Some(ErrorCode::ProtocolError));
    assert_eq!(goaways(&out), [(0, ErrorCode::ProtocolError)]);
    // Even a frame whose own error would only cost a stream.
    let mut s = server();
    let prio = raw(frame::TYPE_PRIORITY, 0, 1, &[0; 4]);
    let (_, _, err) = feed(&mut s, &cat(&[PREFACE.to_vec(), prio]), Feed::Whole);
    assert_eq!(err.map(|e| e.code()), Some(ErrorCode::ProtocolError));
    // A client expects the server's SETTINGS first too.
    let mut c = Connection::new(Role::Client, Config::default());
    let (_, _, err) = feed(&mut c, &settings_ack(), Feed::Whole);
    assert_eq!(err.map(|e| e.code()), Some(ErrorCode::ProtocolError));
}

#[test]
fn start_sends_preface_settings_and_the_connection_window() {
    let mut c = Connection::new(Role::Client, Config::default());
    let mut out = Vec::new();
    c.start(&mut out);
    assert!(out.starts_with(PREFACE));
    let f = frames(&out[PREFACE.len()..]);
    assert_eq!(f[0].0.kind, frame::TYPE_SETTINGS);
    let mut advertised = Settings::default();
    advertised.apply(&f[0].1).unwrap();
    assert!(!advertised.enable_push);
    assert_eq!(advertised.max_concurrent_streams, Some(100));
    assert_eq!(advertised.initial_window_size, 256 * 1024);
    assert_eq!(advertised.max_header_list_size, Some(16 * 1024));
    assert_eq!(window_updates(&out), [(0, 1024 * 1024 - 65_535)]);
    // Calling it again writes nothing.
    let mut again = Vec::new();
    c.start(&mut again);
    assert!(again.is_empty());
}

// ---- frame-level rules through the connection ----

#[test]
fn a_frame_over_our_max_frame_size_is_a_frame_size_error() {
    let big = data(1, &vec![0; 16_385], false);
    expect_conn_error(
        &cat(&[headers(1, POST, false), big]),
        ErrorCode::FrameSizeError,
    );
    // The header alone is enough to decide: the payload need not arrive.
    let mut s = server();
    let mut input = opening();
    input.extend_from_slice(&raw(frame::TYPE_DATA, 0, 1, &[])[..]);
    let n = input.len();
    input[n - 9..n - 6].copy_from_slice(&[0x01, 0x00, 0x00]);
    let (_, _, err) = feed(&mut s, &input, Feed::Whole);
    assert_eq!(err.map(|e| e.code()), Some(ErrorCode::FrameSizeError));
}

#[test]
fn frame_validity_rules_of_section_6() {
    use frame::*;
    expect_conn_error(
        &raw(TYPE_SETTINGS, ACK, 0, &[0; 6]),
        ErrorCode::FrameSizeError,
    );
    expect_conn_error(
        &raw(TYPE_SETTINGS, 0, 0, &[0; 7]),
        ErrorCode::FrameSizeError,
    );
    expect_conn_error(&raw(TYPE_SETTINGS, 0, 1, &[]), ErrorCode::ProtocolError);
    expect_conn_error(&raw(TYPE_PING, 0, 0, &[0; 7]), ErrorCode::FrameSizeError);
    expect_conn_error(&raw(TYPE_PING, 0, 1, &[0; 8]), ErrorCode::ProtocolError);
    expect_conn_error(&raw(TYPE_GOAWAY, 0, 1, &[0; 8]), ErrorCode::ProtocolError);
    expect_conn_error(&raw(TYPE_GOAWAY, 0, 0, &[0; 7]), ErrorCode::FrameSizeError);
    expect_conn_error(
        &raw(TYPE_RST_STREAM, 0, 1, &[0; 5]),
        ErrorCode::FrameSizeError,
    );
    expect_conn_error(
        &raw(TYPE_WINDOW_UPDATE, 0, 0, &[0; 3]),
        ErrorCode::FrameSizeError,
    );
    expect_conn_error(&raw(TYPE_DATA, 0, 0, b"x"), ErrorCode::ProtocolError);
    expect_conn_error(
        &raw(TYPE_HEADERS, END_HEADERS, 0, &block(GET)),
        ErrorCode::ProtocolError,
    );
    let mut padded = vec![10u8];
    padded.extend_from_slice(&block(GET));
    padded.truncate(9);
    expect_conn_error(
        &raw(TYPE_HEADERS, END_HEADERS | PADDED, 1, &padded),
        ErrorCode::ProtocolError,
    );
    expect_conn_error(
        &cat(&[
            headers(1, POST, false),
            raw(TYPE_DATA, PADDED, 1, &[5, 1, 2, 3, 4]),
        ]),
        ErrorCode::ProtocolError,
    );
}

#[test]
fn settings_values_are_checked() {
    expect_conn_error(&settings(&[(2, 2)]), ErrorCode::ProtocolError);
    expect_conn_error(&settings(&[(4, 1 << 31)]), ErrorCode::FlowControlError);
    expect_conn_error(&settings(&[(5, 16_383)]), ErrorCode::ProtocolError);
    expect_conn_error(&settings(&[(5, 1 << 24)]), ErrorCode::ProtocolError);
    // Unknown settings are ignored, and the change is acknowledged.
    let (ev, out, err) = serve(&settings(&[(0x77, 5), (5, 20_000)]));
    assert_eq!((ev, err), (vec![Ev::SettingsChanged], None));
    let acks = frames(&out)
        .into_iter()
        .filter(|(h, _)| h.kind == frame::TYPE_SETTINGS)
        .count();
    assert_eq!(acks, 2);
}

#[test]
fn unknown_frame_types_are_ignored() {
    let input = cat(&[
        raw(0x42, 0xff, 0, b"whatever"),
        raw(0x42, 0, 7, b""),
        headers(1, GET, true),
    ]);
    let (ev, _, err) = serve(&input);
    assert_eq!((ev, err), (vec![Ev::Headers(1, fields(GET), true)], None));
}

#[test]
fn ping_is_answered_and_a_ping_ack_is_reported() {
    let (ev, out, _) = serve(&ping(*b"abcdefgh"));
    assert!(ev.is_empty());
    let pings: Vec<_> = frames(&out)
        .into_iter()
        .filter(|(h, _)| h.kind == frame::TYPE_PING)
        .collect();
    assert_eq!(pings.len(), 1);
    assert_eq!(
        (pings[0].0.flags, &pings[0].1[..]),
        (frame::ACK, &b"abcdefgh"[..])
    );
    let (ev, out, _) = serve(&raw(frame::TYPE_PING, frame::ACK, 0, b"12345678"));
    assert_eq!(ev, [Ev::PingAck(*b"12345678")]);
    assert!(!frames(&out).iter().any(|(h, _)| h.kind == frame::TYPE_PING));
}

// ---- header blocks and CONTINUATION ----

#[test]
fn a_header_block_across_continuations() {
    let b = block(GET);
    let (a, rest) = b.split_at(5);
    let (m, z) = rest.split_at(3);
    let input = cat(&[
        raw(frame::TYPE_HEADERS, frame::END_STREAM, 1, a),
        raw(frame::TYPE_CONTINUATION, 0, 1, m),
        raw(frame::TYPE_CONTINUATION, frame::END_HEADERS, 1, z),
    ]);
    let (ev, _, err) = serve(&input);
    assert_eq!((ev, err), (vec![Ev::Headers(1, fields(GET), true)], None));
}

#[test]
fn only_continuation_of_the_same_stream_may_follow_headers() {
    let start = raw(frame::TYPE_HEADERS, 0, 1, &block(GET)[..4]);
    for next in [
        ping([0; 8]),
        raw(
            frame::TYPE_CONTINUATION,
            frame::END_HEADERS,
            3,
            &block(GET)[4..],
        ),
        raw(0x42, 0, 0, b""),
        headers(3, GET, true),
        data(1, b"x", false),
    ] {
        expect_conn_error(&cat(&[start.clone(), next]), ErrorCode::ProtocolError);
    }
    expect_conn_error(
        &raw(frame::TYPE_CONTINUATION, frame::END_HEADERS, 1, b""),
        ErrorCode::ProtocolError,
    );
    expect_conn_error(
        &cat(&[
            headers(1, GET, true),
            raw(frame::TYPE_CONTINUATION, frame::END_HEADERS, 1, b""),
        ]),
        ErrorCode::ProtocolError,
    );
}

#[test]
fn a_continuation_flood_is_stopped_at_the_block_cap() {
    let mut input = raw(frame::TYPE_HEADERS, 0, 1, &block(GET));
    for _ in 0..3 {
        input.extend_from_slice(&raw(frame::TYPE_CONTINUATION, 0, 1, &[0; 10_000]));
    }
    expect_conn_error(&input, ErrorCode::EnhanceYourCalm);
}

#[test]
fn an_undecodable_block_is_a_compression_error() {
    // Indexed field 0 does not exist (RFC 7541 §6.1).
    expect_conn_error(
        &raw(frame::TYPE_HEADERS, frame::END_HEADERS, 1, &[0x80]),
        ErrorCode::CompressionError,
    );
    expect_conn_error(
        &raw(
            frame::TYPE_HEADERS,
            frame::END_HEADERS,
            1,
            &[0x00, 0x05, b'a'],
        ),
        ErrorCode::CompressionError,
    );
}

#[test]
fn a_header_list_over_the_limit_resets_the_stream_only() {
    let config = Config {
        max_header_list_size: 200,
        ..Config::default()
    };
    let long = "v".repeat(300);
    let mut list = GET.to_vec();
    list.push(("x-long", &long));
    let mut s = Connection::new(Role::Server, config);
    let input = cat(&[opening(), headers(1, &list, true), headers(3, GET, true)]);
    let (ev, out, err) = feed(&mut s, &input, Feed::Whole);
    assert_eq!(err, None);
    assert_eq!(resets(&out), [(1, ErrorCode::ProtocolError)]);
    assert_eq!(ev, [Ev::SettingsChanged, Ev::Headers(3, fields(GET), true)]);
}

// ---- request well-formedness (§8) ----

#[test]
fn malformed_requests_reset_their_stream() {
    let cases: &[&[(&str, &str)]] = &[
        &[(":method", "GET"), (":path", "/"), (":authority", "x")],
        &[
            (":method", "GET"),
            (":scheme", "https"),
            (":path", ""),
            (":authority", "x"),
        ],
        &[
            (":method", "GET"),
            (":scheme", "https"),
            (":path", "/"),
            (":status", "200"),
        ],
        &[
            (":method", "GET"),
            (":scheme", "https"),
            ("x", "1"),
            (":path", "/"),
        ],
        &[
            (":method", "GET"),
            (":method", "GET"),
            (":scheme", "https"),
            (":path", "/"),
        ],
        &[
            (":method", "GET"),
            (":scheme", "https"),
            (":path", "/"),
            ("Upper", "1"),
        ],
        &[
            (":method", "GET"),
            (":scheme", "https"),
            (":path", "/"),
            ("connection", "keep-alive"),
        ],
        &[
            (":method", "GET"),
            (":scheme", "https"),
            (":path", "/"),
            ("te", "gzip"),
        ],
        &[
            (":method", "GET"),
            (":scheme", "https"),
            (":path", "/"),
            ("x", "a\r\nb"),
        ],
        &[
            (":method", "CONNECT"),
            (":scheme", "https"),
            (":path", "/"),
            (":authority", "x"),
        ],
    ];
    for list in cases {
        let ev = expect_stream_error(&headers(1, list, true), 1, ErrorCode::ProtocolError);
        assert!(ev.is_empty(), "{list:?}: {ev:?}");
    }
}

#[test]
fn content_length_must_match_the_data() {
    let mut list = POST.to_vec();
    list.push(("content-length", "3"));
    // Longer.
    expect_stream_error(
        &cat(&[headers(1, &list, false), data(1, b"abcd", true)]),
        1,
        ErrorCode::ProtocolError,
    );
    // Shorter.
    expect_stream_error(
        &cat(&[headers(1, &list, false), data(1, b"ab", true)]),
        1,
        ErrorCode::ProtocolError,
    );
    // None at all.
    expect_stream_error(&headers(1, &list, true), 1, ErrorCode::ProtocolError);
    // Ended by trailers too early.
    expect_stream_error(
        &cat(&[
            headers(1, &list, false),
            data(1, b"a", false),
            headers(1, &[("x", "y")], true),
        ]),
        1,
        ErrorCode::ProtocolError,
    );
    // Exact: fine, in pieces.
    let (ev, out, err) = serve(&cat(&[
        headers(1, &list, false),
        data(1, b"ab", false),
        data(1, b"c", true),
    ]));
    assert_eq!((err, resets(&out)), (None, vec![]));
    assert_eq!(ev.last(), Some(&Ev::Data(1, b"c".to_vec(), true)));
}

#[test]
fn trailers_end_the_stream_and_carry_no_pseudo_headers() {
    let (ev, _, err) = serve(&cat(&[
        headers(1, POST, false),
        data(1, b"x", false),
        headers(1, &[("x-sum", "1")], true),
    ]));
    assert_eq!(err, None);
    assert_eq!(ev.last(), Some(&Ev::Trailers(1, fields(&[("x-sum", "1")]))));
    expect_stream_error(
        &cat(&[
            headers(1, POST, false),
            headers(1, &[("x-sum", "1")], false),
        ]),
        1,
        ErrorCode::ProtocolError,
    );
    expect_stream_error(
        &cat(&[headers(1, POST, false), headers(1, &[(":path", "/")], true)]),
        1,
        ErrorCode::ProtocolError,
    );
}

#[test]
fn a_host_naming_another_entity_than_the_authority_resets_the_stream() {
    // §8.3.1 (httpwg: "sends headers frame with mismatched host authority").
    let mut list = POST.to_vec();
    list.push(("host", "x.different"));
    let ev = expect_stream_error(&headers(1, &list, true), 1, ErrorCode::ProtocolError);
    assert!(ev.is_empty(), "{ev:?}");
    // The same authority, written differently, is fine.
    let mut list = POST.to_vec();
    list.push(("host", "X:443"));
    let (ev, out, err) = serve(&headers(1, &list, true));
    assert_eq!((err, resets(&out)), (None, vec![]));
    assert_eq!(ev, [Ev::Headers(1, fields(&list), true)]);
}

/// A server that got stream 1's head (POST with `extra` fields, no
/// END_STREAM) and already sent a whole response: the stream is
/// half-closed (local), the request body still to come.
fn server_after_early_response(extra: &[(&str, &str)]) -> Connection {
    let mut s = server();
    let mut list = POST.to_vec();
    list.extend_from_slice(extra);
    let (ev, _, err) = feed(
        &mut s,
        &cat(&[opening(), headers(1, &list, false)]),
        Feed::Whole,
    );
    assert_eq!((err, ev.len()), (None, 2), "{ev:?}");
    let mut out = Vec::new();
    s.send_headers(1, &[(&b":status"[..], &b"200"[..])], false, &mut out)
        .unwrap();
    s.send_data(1, b"hi", true, &mut out).unwrap();
    assert_eq!(s.stream_state(1), StreamState::HalfClosedLocal);
    s
}

#[test]
fn the_rest_of_a_request_answered_early_is_still_checked() {
    // §8.1 lets the server answer before the body; until it resets the
    // stream, what the client still sends is held to the same rules
    // (httpwg's content-length, trailer and flow-control cases against a
    // handler that answers at once).
    // (extra request fields, what the client sends next, the reset expected)
    type Case = (&'static [(&'static str, &'static str)], Vec<u8>, ErrorCode);
    let cases: &[Case] = &[
        (
            &[("content-length", "10")],
            cat(&[
                data(1, b"te", false),
                data(1, b"st", false),
                data(1, b"ing", true),
            ]),
            ErrorCode::ProtocolError,
        ),
        (
            &[("content-length", "10")],
            data(1, b"test", true),
            ErrorCode::ProtocolError,
        ),
        (
            &[],
            cat(&[
                data(1, b"test", false),
                headers(1, &[(":method", "POST")], true),
            ]),
            ErrorCode::ProtocolError,
        ),
        (
            &[],
            cat(&[
                data(1, b"test", false),
                headers(1, &[("x-test", "ok")], false),
            ]),
            ErrorCode::ProtocolError,
        ),
        (
            &[],
            cat(&[window_update(1, 0x7fff_ffff), window_update(1, 0x7fff_ffff)]),
            ErrorCode::FlowControlError,
        ),
    ];
    for (extra, rest, code) in cases {
        for how in [Feed::Whole, Feed::ByteByByte] {
            let mut s = server_after_early_response(extra);
            let (_, out, err) = feed(&mut s, rest, how);
            assert_eq!(err, None, "{extra:?}");
            assert_eq!(resets(&out), [(1, *code)], "{extra:?}");
        }
    }
    // A well-formed rest closes the stream normally.
    let mut s = server_after_early_response(&[("content-length", "4")]);
    let (ev, out, err) = feed(&mut s, &data(1, b"test", true), Feed::Whole);
    assert_eq!((err, resets(&out)), (None, vec![]));
    assert_eq!(
        ev,
        [Ev::Data(1, b"test".to_vec(), true), Ev::StreamClosed(1)]
    );
}

#[test]
fn after_the_peers_goaway_the_connection_still_answers() {
    // §6.8: GOAWAY stops new streams from the receiver, it does not end
    // the connection; an unknown error code is no error (§7) (httpwg:
    // "sends goaway frame with unknown error code").
    let mut payload = 0u32.to_be_bytes().to_vec();
    payload.extend_from_slice(&0xffu32.to_be_bytes());
    let (ev, out, err) = serve(&cat(&[
        raw(frame::TYPE_GOAWAY, 0, 0, &payload),
        ping(*b"pingpong"),
    ]));
    assert_eq!(err, None);
    assert_eq!(ev, [Ev::GoAway(0, ErrorCode::Unknown(0xff), vec![])]);
    let acks: Vec<_> = frames(&out)
        .into_iter()
        .filter(|(h, p)| h.kind == frame::TYPE_PING && h.flags == frame::ACK && p == b"pingpong")
        .collect();
    assert_eq!(acks.len(), 1);
}

// ---- stream states (§5.1) ----

#[test]
fn client_stream_ids_must_be_odd_and_increasing() {
    expect_conn_error(&headers(2, GET, true), ErrorCode::ProtocolError);
    expect_conn_error(
        &cat(&[headers(5, GET, true), headers(3, GET, true)]),
        ErrorCode::ProtocolError,
    );
    // Skipped ids are closed: a frame on one is not "idle".
    let (ev, _, err) = serve(&cat(&[headers(1, GET, true), headers(7, GET, true)]));
    assert_eq!((ev.len(), err), (2, None));
}

#[test]
fn frames_on_idle_streams_are_protocol_errors() {
    expect_conn_error(&data(1, b"x", false), ErrorCode::ProtocolError);
    expect_conn_error(&rst(1, 8), ErrorCode::ProtocolError);
    expect_conn_error(&window_update(1, 5), ErrorCode::ProtocolError);
    // PRIORITY is allowed on an idle stream and does not open it.
    let (ev, out, err) = serve(&cat(&[
        raw(frame::TYPE_PRIORITY, 0, 3, &[0, 0, 0, 1, 16]),
        headers(1, GET, true),
    ]));
    assert_eq!((ev.len(), err, resets(&out)), (1, None, vec![]));
}

#[test]
fn data_after_end_stream_is_stream_closed() {
    let ev = expect_stream_error(
        &cat(&[headers(1, GET, true), data(1, b"x", false)]),
        1,
        ErrorCode::StreamClosed,
    );
    assert_eq!(ev[1], Ev::Reset(1, ErrorCode::StreamClosed, false));
}

#[test]
fn frames_for_a_stream_we_reset_are_ignored() {
    let mut s = server();
    let (ev, _, _) = feed(
        &mut s,
        &cat(&[opening(), headers(1, POST, false)]),
        Feed::Whole,
    );
    assert_eq!(ev.len(), 2);
    let mut out = Vec::new();
    s.reset(1, ErrorCode::Cancel, &mut out);
    assert_eq!(resets(&out), [(1, ErrorCode::Cancel)]);
    assert!(s.is_idle());
    let late = cat(&[
        data(1, &[0; 16_000], false),
        window_update(1, 10),
        rst(1, 0),
        headers(1, &[("x", "y")], true),
        raw(frame::TYPE_PRIORITY, 0, 1, &[0, 0, 0, 3, 1]),
    ]);
    let (ev, out, err) = feed(&mut s, &late, Feed::Whole);
    assert_eq!((ev, err, resets(&out)), (vec![], None, vec![]));
    assert_eq!(s.stream_state(1), StreamState::Closed);
}

#[test]
fn a_reset_stream_is_remembered_while_many_others_end() {
    let mut s = server();
    let (_, _, _) = feed(
        &mut s,
        &cat(&[opening(), headers(1, POST, false)]),
        Feed::Whole,
    );
    s.reset(1, ErrorCode::Cancel, &mut Vec::new());
    // Forty requests come and go.
    for id in (3..83).step_by(2) {
        let (ev, _, err) = feed(&mut s, &headers(id, GET, true), Feed::Whole);
        assert_eq!(err, None);
        assert!(ev.contains(&Ev::Headers(id, fields(GET), true)));
        s.send_headers(id, &[(&b":status"[..], &b"204"[..])], true, &mut Vec::new())
            .unwrap();
    }
    // The reset stream's late trailers are still ignored.
    let (ev, out, err) = feed(&mut s, &headers(1, &[("x", "y")], true), Feed::Whole);
    assert_eq!(err, None);
    assert!(
        ev.iter().all(|e| matches!(e, Ev::StreamClosed(_))),
        "{ev:?}"
    );
    assert_eq!(resets(&out), []);
}

#[test]
fn frames_after_both_ends_are_connection_errors() {
    let mut s = server_after_stream_1_ended();
    assert_eq!(s.stream_state(1), StreamState::Closed);
    // WINDOW_UPDATE and RST_STREAM after the end are ignored (§5.1).
    let (ev, _, err) = feed(&mut s, &cat(&[window_update(1, 1), rst(1, 0)]), Feed::Whole);
    assert_eq!((ev, err), (vec![], None));
    // DATA on it is a connection error.
    let mut t = server_after_stream_1_ended();
    let (_, out, err) = feed(&mut t, &data(1, b"x", false), Feed::Whole);
    assert_eq!(err.map(|e| e.code()), Some(ErrorCode::StreamClosed));
    assert_eq!(goaways(&out), [(1, ErrorCode::StreamClosed)]);
    // HEADERS on it is a connection error.
    let (_, out, err) = feed(&mut s, &headers(1, GET, true), Feed::Whole);
    assert_eq!(err.map(|e| e.code()), Some(ErrorCode::StreamClosed));
    assert_eq!(goaways(&out), [(1, ErrorCode::StreamClosed)]);
}

/// A server whose stream 1 ended both ways.
fn server_after_stream_1_ended() -> Connection {
    let mut s = server();
    let (_, _, _) = feed(
        &mut s,
        &cat(&[opening(), headers(1, GET, true)]),
        Feed::Whole,
    );
    let mut out = Vec::new();
    s.send_headers(1, &[(&b":status"[..], &b"204"[..])], true, &mut out)
        .unwrap();
    // StreamClosed comes at the next poll.
    let (ev, _, _) = feed(&mut s, b"", Feed::Whole);
    assert_eq!(ev, [Ev::StreamClosed(1)]);
    s
}

#[test]
fn frames_after_the_peers_reset_are_stream_errors() {
    let ev = expect_stream_error(
        &cat(&[headers(1, POST, false), rst(1, 8), data(1, b"x", false)]),
        1,
        ErrorCode::StreamClosed,
    );
    assert_eq!(
        ev,
        [
            Ev::Headers(1, fields(POST), false),
            Ev::Reset(1, ErrorCode::Cancel, true)
        ]
    );
    expect_stream_error(
        &cat(&[
            headers(1, POST, false),
            rst(1, 8),
            headers(1, &[("x", "y")], true),
        ]),
        1,
        ErrorCode::StreamClosed,
    );
}

#[test]
fn a_peer_reset_is_reported_and_frees_the_stream() {
    let (ev, _, err) = serve(&cat(&[headers(1, POST, false), rst(1, 8)]));
    assert_eq!(err, None);
    assert_eq!(ev[1], Ev::Reset(1, ErrorCode::Cancel, true));
}

#[test]
fn streams_over_the_limit_are_refused() {
    let config = Config {
        max_concurrent_streams: 2,
        ..Config::default()
    };
    let input = cat(&[
        headers(1, POST, false),
        headers(3, POST, false),
        headers(5, POST, false),
        data(5, b"x", false),
    ]);
    let (ev, out, err) = serve_with(config, &input);
    assert_eq!(err, None);
    assert_eq!(ev.len(), 2);
    // Its DATA is ignored: the stream was reset by us.
    assert_eq!(resets(&out), [(5, ErrorCode::RefusedStream)]);
}

#[test]
fn a_stream_depending_on_itself_is_a_stream_error() {
    expect_stream_error(
        &raw(frame::TYPE_PRIORITY, 0, 1, &[0, 0, 0, 1, 16]),
        1,
        ErrorCode::ProtocolError,
    );
    let mut payload = vec![0x80, 0, 0, 3, 16];
    payload.extend_from_slice(&block(GET));
    let input = cat(&[
        raw(
            frame::TYPE_HEADERS,
            frame::END_HEADERS | frame::PRIORITY,
            3,
            &payload,
        ),
        headers(5, GET, true),
    ]);
    let ev = expect_stream_error(&input, 3, ErrorCode::ProtocolError);
    // The block was still decoded: the next stream is fine.
    assert_eq!(ev, [Ev::Headers(5, fields(GET), true)]);
    // PRIORITY of the wrong size is a stream FRAME_SIZE_ERROR.
    expect_stream_error(
        &raw(frame::TYPE_PRIORITY, 0, 1, &[0, 0, 0, 3]),
        1,
        ErrorCode::FrameSizeError,
    );
}

#[test]
fn push_promise_is_refused_by_both_roles() {
    expect_conn_error(
        &raw(
            frame::TYPE_PUSH_PROMISE,
            frame::END_HEADERS,
            1,
            &[0, 0, 0, 2],
        ),
        ErrorCode::ProtocolError,
    );
    let (mut c, _) = client_with_server_settings(&[]);
    let (_, _, err) = feed(
        &mut c,
        &raw(
            frame::TYPE_PUSH_PROMISE,
            frame::END_HEADERS,
            1,
            &[0, 0, 0, 2],
        ),
        Feed::Whole,
    );
    assert_eq!(err.map(|e| e.code()), Some(ErrorCode::ProtocolError));
    // A server may not turn push on either.
    let mut c = Connection::new(Role::Client, Config::default());
    let (_, _, err) = feed(&mut c, &settings(&[(2, 1)]), Feed::Whole);
    assert_eq!(err.map(|e| e.code()), Some(ErrorCode::ProtocolError));
}

// ---- flow control ----

#[test]
fn window_update_of_zero_is_a_protocol_error_in_its_scope() {
    expect_conn_error(&window_update(0, 0), ErrorCode::ProtocolError);
    expect_stream_error(
        &cat(&[headers(1, POST, false), window_update(1, 0)]),
        1,
        ErrorCode::ProtocolError,
    );
}

#[test]
fn windows_past_2_pow_31_minus_1_are_flow_control_errors() {
    expect_conn_error(
        &window_update(0, (1 << 31) - 1),
        ErrorCode::FlowControlError,
    );
    expect_stream_error(
        &cat(&[headers(1, POST, false), window_update(1, (1 << 31) - 1)]),
        1,
        ErrorCode::FlowControlError,
    );
    // A SETTINGS_INITIAL_WINDOW_SIZE that pushes an open stream past it.
    let input = cat(&[
        headers(1, POST, false),
        window_update(1, (1 << 31) - 1 - 65_535),
        settings(&[(4, 65_536)]),
    ]);
    expect_conn_error(&input, ErrorCode::FlowControlError);
}

#[test]
fn data_past_our_windows_is_a_flow_control_error() {
    // Connection window: 65 535 when we open no more.
    let config = Config {
        connection_window_size: 65_535,
        initial_window_size: 1 << 20,
        ..Config::default()
    };
    let mut input = cat(&[settings_ack(), headers(1, POST, false)]);
    for _ in 0..4 {
        input.extend_from_slice(&data(1, &[0; 16_384], false));
    }
    let mut s = Connection::new(Role::Server, config);
    s.start(&mut Vec::new());
    // No release: the window is spent, not given back.
    let mut out = Vec::new();
    let full = cat(&[opening(), input]);
    let mut pos = 0;
    let err = loop {
        match s.poll(&full[pos..], &mut out) {
            Ok((n, Some(_))) => pos += n,
            Ok((_, None)) => panic!("no error"),
            Err(e) => break e,
        }
    };
    assert_eq!(err.code(), ErrorCode::FlowControlError);
    // Stream window: ours once acknowledged.
    let config = Config {
        initial_window_size: 100,
        ..Config::default()
    };
    let mut s = Connection::new(Role::Server, config);
    s.start(&mut Vec::new());
    let input = cat(&[
        opening(),
        settings_ack(),
        headers(1, POST, false),
        data(1, &[0; 101], false),
    ]);
    let (_, out, err) = feed(&mut s, &input, Feed::Whole);
    assert_eq!(
        (err, resets(&out)),
        (None, vec![(1, ErrorCode::FlowControlError)])
    );
}

#[test]
fn before_our_settings_are_acknowledged_the_default_window_applies() {
    let config = Config {
        initial_window_size: 100,
        ..Config::default()
    };
    let mut s = Connection::new(Role::Server, config);
    s.start(&mut Vec::new());
    let input = cat(&[
        opening(),
        headers(1, POST, false),
        data(1, &[0; 1000], false),
    ]);
    let (ev, out, err) = feed(&mut s, &input, Feed::Whole);
    assert_eq!((err, resets(&out)), (None, vec![]));
    assert_eq!(ev.len(), 3);
}

#[test]
fn padding_is_given_back_and_data_when_released() {
    let config = Config {
        initial_window_size: 65_535,
        connection_window_size: 65_535,
        ..Config::default()
    };
    let mut padded = vec![200u8];
    padded.extend_from_slice(&[1; 16_000]);
    padded.extend_from_slice(&[0; 200]);
    let mut input = cat(&[settings_ack(), headers(1, POST, false)]);
    for _ in 0..3 {
        input.extend_from_slice(&raw(frame::TYPE_DATA, frame::PADDED, 1, &padded));
    }
    let (ev, out, err) = serve_with(config, &input);
    assert_eq!(err, None);
    assert_eq!(ev.len(), 5, "{ev:?}"); // our SETTINGS acked, HEADERS, 3 DATA
                                       // 3 × 16 201 bytes counted (padding given back by the connection,
                                       // data by the test's release); past half the window (32 767), one
                                       // update each.
    let updates = window_updates(&out);
    assert_eq!(updates, [(1, 48_603), (0, 48_603)]);
}

#[test]
fn our_sends_respect_both_windows_and_the_frame_size() {
    let (mut c, _) = client_with_server_settings(&[(4, 20_000)]);
    let mut out = Vec::new();
    let id = c.open_stream(&req(b"POST"), false, &mut out).unwrap();
    out.clear();
    assert_eq!(
        c.send_data(id, &[7; 50_000], false, &mut out).unwrap(),
        20_000
    );
    let sizes: Vec<u32> = frames(&out).iter().map(|(h, _)| h.len).collect();
    assert_eq!(sizes, [16_384, 3_616]);
    assert_eq!(c.send_data(id, b"x", true, &mut out).unwrap(), 0);
    // The peer lowers the initial window: the stream goes negative.
    let (ev, _, _) = feed(&mut c, &settings(&[(4, 10_000)]), Feed::Whole);
    assert_eq!(ev, [Ev::SettingsChanged]);
    let (ev, _, _) = feed(&mut c, &window_update(id, 10_001), Feed::Whole);
    assert_eq!(ev, [Ev::WindowOpened(Some(id))]);
    let mut out = Vec::new();
    assert_eq!(c.send_data(id, b"xy", true, &mut out).unwrap(), 1);
    // The connection window (65 535 - 20 001) limits next.
    let (ev, _, _) = feed(&mut c, &window_update(id, 1 << 20), Feed::Whole);
    assert_eq!(ev, [Ev::WindowOpened(Some(id))]);
    assert_eq!(
        c.send_data(id, &[0; 100_000], true, &mut out).unwrap(),
        65_535 - 20_001
    );
    let (ev, _, _) = feed(&mut c, &window_update(0, 5), Feed::Whole);
    assert_eq!(ev, [Ev::WindowOpened(None)]);
}

// ---- floods ----

#[test]
fn floods_end_in_enhance_your_calm_and_tick_resets_the_count() {
    let config = Config {
        max_resets_per_tick: 3,
        max_settings_per_tick: 3,
        max_pings_per_tick: 3,
        max_empty_data_per_tick: 3,
        ..Config::default()
    };
    let mut resets_flood = Vec::new();
    for id in (1..=9).step_by(2) {
        resets_flood.extend_from_slice(&headers(id, POST, false));
        resets_flood.extend_from_slice(&rst(id, 8));
    }
    expect_conn_error_with(config, &resets_flood, ErrorCode::EnhanceYourCalm);
    // The opening SETTINGS counts as one.
    expect_conn_error_with(
        config,
        &[settings(&[]), settings(&[]), settings(&[])].concat(),
        ErrorCode::EnhanceYourCalm,
    );
    expect_conn_error_with(
        config,
        &[ping([0; 8]), ping([0; 8]), ping([0; 8]), ping([0; 8])].concat(),
        ErrorCode::EnhanceYourCalm,
    );
    let mut empty = headers(1, POST, false);
    for _ in 0..4 {
        empty.extend_from_slice(&data(1, b"", false));
    }
    expect_conn_error_with(config, &empty, ErrorCode::EnhanceYourCalm);
    // Refused streams count as resets.
    let config2 = Config {
        max_concurrent_streams: 0,
        ..config
    };
    let mut refused = Vec::new();
    for id in (1..=9).step_by(2) {
        refused.extend_from_slice(&headers(id, GET, true));
    }
    expect_conn_error_with(config2, &refused, ErrorCode::EnhanceYourCalm);
    // The same pings spread over ticks are fine.
    let mut s = Connection::new(Role::Server, config);
    let (_, _, err) = feed(&mut s, &opening(), Feed::Whole);
    assert_eq!(err, None);
    for _ in 0..5 {
        let (_, _, err) = feed(
            &mut s,
            &[ping([0; 8]), ping([0; 8]), ping([0; 8])].concat(),
            Feed::Whole,
        );
        assert_eq!(err, None);
        s.tick(&mut Vec::new()).unwrap();
    }
}

// ---- goaway ----

#[test]
fn graceful_goaway_lets_open_streams_finish_and_ignores_new_ones() {
    let mut s = server();
    let (_, _, _) = feed(
        &mut s,
        &cat(&[opening(), headers(1, POST, false)]),
        Feed::Whole,
    );
    let mut out = Vec::new();
    s.goaway(ErrorCode::NoError, b"", &mut out);
    assert_eq!(goaways(&out), [(1, ErrorCode::NoError)]);
    assert_eq!(
        s.state(),
        ConnState::GoingAway {
            sent: Some(1),
            received: None
        }
    );
    let (ev, _, err) = feed(
        &mut s,
        &cat(&[
            headers(3, GET, true),
            data(3, b"x", true),
            data(1, b"end", true),
        ]),
        Feed::Whole,
    );
    assert_eq!((ev, err), (vec![Ev::Data(1, b"end".to_vec(), true)], None));
    assert!(!s.is_idle());
    let mut out = Vec::new();
    s.send_headers(1, &[(&b":status"[..], &b"200"[..])], true, &mut out)
        .unwrap();
    assert!(s.is_idle());
}

#[test]
fn a_goaway_from_the_server_drops_the_clients_unprocessed_streams() {
    let (mut c, _) = client_with_server_settings(&[]);
    let mut out = Vec::new();
    let a = c.open_stream(&req(b"GET"), true, &mut out).unwrap();
    let b = c.open_stream(&req(b"GET"), true, &mut out).unwrap();
    let mut payload = a.to_be_bytes().to_vec();
    payload.extend_from_slice(&0u32.to_be_bytes());
    payload.extend_from_slice(b"bye");
    let (ev, _, err) = feed(
        &mut c,
        &raw(frame::TYPE_GOAWAY, 0, 0, &payload),
        Feed::Whole,
    );
    assert_eq!(err, None);
    assert_eq!(
        ev,
        [
            Ev::GoAway(a, ErrorCode::NoError, b"bye".to_vec()),
            Ev::Reset(b, ErrorCode::RefusedStream, true)
        ]
    );
    assert_eq!(
        c.state(),
        ConnState::GoingAway {
            sent: None,
            received: Some(a)
        }
    );
    assert!(c.open_stream(&req(b"GET"), true, &mut out).is_err());
    assert_eq!(c.stream_state(a), StreamState::HalfClosedLocal);
}

// ---- client side ----

fn req(method: &'static [u8]) -> [(&'static [u8], &'static [u8]); 4] {
    [
        (b":method", method),
        (b":scheme", b"https"),
        (b":path", b"/"),
        (b":authority", b"x"),
    ]
}

/// A started client that has read the server's SETTINGS (`entries`).
fn client_with_server_settings(entries: &[(u16, u32)]) -> (Connection, Vec<u8>) {
    let mut c = Connection::new(Role::Client, Config::default());
    let mut out = Vec::new();
    c.start(&mut out);
    let (ev, o, err) = feed(&mut c, &settings(entries), Feed::Whole);
    assert_eq!((ev, err), (vec![Ev::SettingsChanged], None));
    out.extend_from_slice(&o);
    (c, out)
}

#[test]
fn the_client_reads_informational_then_final_responses() {
    let (mut c, _) = client_with_server_settings(&[]);
    let mut out = Vec::new();
    let id = c.open_stream(&req(b"GET"), true, &mut out).unwrap();
    let input = cat(&[
        headers(id, &[(":status", "103"), ("link", "</a>")], false),
        headers(id, &[(":status", "200")], true),
    ]);
    let (ev, _, err) = feed(&mut c, &input, Feed::Whole);
    assert_eq!(err, None);
    assert_eq!(
        ev,
        [
            Ev::Headers(id, fields(&[(":status", "103"), ("link", "</a>")]), false),
            Ev::Headers(id, fields(&[(":status", "200")]), true),
            Ev::StreamClosed(id),
        ]
    );
}

#[test]
fn the_client_checks_responses() {
    for (list, end) in [
        (&[(":status", "200"), (":path", "/")][..], true),
        (&[("x", "y")][..], true),
        (&[(":status", "101")][..], true),
        (&[(":status", "100")][..], true), // informational with END_STREAM
        (&[(":status", "200"), ("content-length", "5")][..], true),
    ] {
        let (mut c, _) = client_with_server_settings(&[]);
        let mut out = Vec::new();
        let id = c.open_stream(&req(b"GET"), true, &mut out).unwrap();
        let (ev, out, err) = feed(&mut c, &headers(id, list, end), Feed::Whole);
        assert_eq!(err, None);
        assert_eq!(
            ev,
            [Ev::Reset(id, ErrorCode::ProtocolError, false)],
            "{list:?}"
        );
        assert_eq!(resets(&out), [(id, ErrorCode::ProtocolError)]);
    }
    // DATA before the response head.
    let (mut c, _) = client_with_server_settings(&[]);
    let id = c.open_stream(&req(b"GET"), true, &mut Vec::new()).unwrap();
    let (ev, _, _) = feed(&mut c, &data(id, b"x", true), Feed::Whole);
    assert_eq!(ev, [Ev::Reset(id, ErrorCode::ProtocolError, false)]);
    // A server may not open streams, nor answer one we did not open.
    let (mut c, _) = client_with_server_settings(&[]);
    let (_, _, err) = feed(
        &mut c,
        &headers(2, &[(":status", "200")], true),
        Feed::Whole,
    );
    assert_eq!(err.map(|e| e.code()), Some(ErrorCode::ProtocolError));
    let (mut c, _) = client_with_server_settings(&[]);
    let (_, _, err) = feed(
        &mut c,
        &headers(1, &[(":status", "200")], true),
        Feed::Whole,
    );
    assert_eq!(err.map(|e| e.code()), Some(ErrorCode::ProtocolError));
}

#[test]
fn a_response_to_head_or_a_304_carries_no_body_whatever_its_content_length() {
    for (method, status) in [(&b"HEAD"[..], "200"), (&b"GET"[..], "304")] {
        let (mut c, _) = client_with_server_settings(&[]);
        let mut out = Vec::new();
        let id = c.open_stream(&req(method), true, &mut out).unwrap();
        let (ev, _, err) = feed(
            &mut c,
            &headers(id, &[(":status", status), ("content-length", "10")], true),
            Feed::Whole,
        );
        assert_eq!(err, None);
        assert_eq!(ev.len(), 2, "{ev:?}");
    }
}

#[test]
fn the_peer_stream_limit_holds_new_streams_back() {
    let (mut c, _) = client_with_server_settings(&[(3, 1)]);
    let mut out = Vec::new();
    let id = c.open_stream(&req(b"GET"), true, &mut out).unwrap();
    let err = c.open_stream(&req(b"GET"), true, &mut out).unwrap_err();
    assert_eq!(err.code(), ErrorCode::RefusedStream);
    let (_, _, _) = feed(
        &mut c,
        &headers(id, &[(":status", "204")], true),
        Feed::Whole,
    );
    assert_eq!(c.open_stream(&req(b"GET"), true, &mut out).unwrap(), 3);
}

#[test]
fn sending_on_a_stream_that_is_not_open_is_refused() {
    let mut s = server();
    let mut out = Vec::new();
    assert!(s
        .send_headers(1, &[(&b":status"[..], &b"200"[..])], true, &mut out)
        .is_err());
    assert!(s.send_data(1, b"x", true, &mut out).is_err());
    assert!(s
        .send_trailers(1, &[(&b"x"[..], &b"y"[..])], &mut out)
        .is_err());
    assert_eq!(
        s.open_stream(&req(b"GET"), true, &mut out)
            .unwrap_err()
            .code(),
        ErrorCode::RefusedStream
    );
    assert!(out.is_empty());
    let (_, _, _) = feed(
        &mut s,
        &cat(&[opening(), headers(1, GET, true)]),
        Feed::Whole,
    );
    // Body before head; informational head ending the stream.
    assert!(s.send_data(1, b"x", true, &mut out).is_err());
    assert!(s
        .send_headers(1, &[(&b":status"[..], &b"100"[..])], true, &mut out)
        .is_err());
    s.send_headers(1, &[(&b":status"[..], &b"100"[..])], false, &mut out)
        .unwrap();
    s.send_headers(1, &[(&b":status"[..], &b"200"[..])], false, &mut out)
        .unwrap();
    assert!(s
        .send_headers(1, &[(&b":status"[..], &b"200"[..])], false, &mut out)
        .is_err());
}

// ---- client ↔ server through byte buffers ----

/// A client and a server joined by two byte buffers. Each `step` moves
/// what one side wrote to the other, in the given pieces, and answers
/// events with `on_server` / `on_client`.
struct Pair {
    client: Connection,
    server: Connection,
    to_server: Vec<u8>,
    to_client: Vec<u8>,
    server_events: Vec<Ev>,
    client_events: Vec<Ev>,
}

impl Pair {
    fn new() -> Pair {
        let mut p = Pair {
            client: Connection::new(Role::Client, Config::default()),
            server: Connection::new(Role::Server, Config::default()),
            to_server: Vec::new(),
            to_client: Vec::new(),
            server_events: Vec::new(),
            client_events: Vec::new(),
        };
        p.client.start(&mut p.to_server);
        p.server.start(&mut p.to_client);
        p
    }

    /// Delivers everything written so far, both ways, until quiet.
    fn settle(&mut self, how: Feed) {
        for _ in 0..1000 {
            if self.to_server.is_empty() && self.to_client.is_empty() {
                return;
            }
            let bytes = std::mem::take(&mut self.to_server);
            let how_now = clamp(how, bytes.len());
            let (ev, out, err) = feed(&mut self.server, &bytes, how_now);
            assert_eq!(err, None);
            self.to_client.extend_from_slice(&out);
            self.server_events.extend(ev);
            let bytes = std::mem::take(&mut self.to_client);
            let (ev, out, err) = feed(&mut self.client, &bytes, clamp(how, bytes.len()));
            assert_eq!(err, None);
            self.to_server.extend_from_slice(&out);
            self.client_events.extend(ev);
        }
        panic!("never settled");
    }
}

fn clamp(how: Feed, len: usize) -> Feed {
    match how {
        Feed::SplitAt(k) => Feed::SplitAt(k.min(len)),
        other => other,
    }
}

/// Request/response exchanges: a GET, a POST with a body bigger than
/// every window (so WINDOW_UPDATEs must flow), trailers, and a reset.
fn conversation(how: Feed) -> (Vec<Ev>, Vec<Ev>) {
    let mut p = Pair::new();
    let get = p
        .client
        .open_stream(&req(b"GET"), true, &mut p.to_server)
        .unwrap();
    let post = p
        .client
        .open_stream(&req(b"POST"), false, &mut p.to_server)
        .unwrap();
    let upload: Vec<u8> = (0..600_000u32).map(|i| i as u8).collect();
    let mut sent = p
        .client
        .send_data(post, &upload, false, &mut p.to_server)
        .unwrap();
    let doomed = p
        .client
        .open_stream(&req(b"GET"), false, &mut p.to_server)
        .unwrap();
    p.client.reset(doomed, ErrorCode::Cancel, &mut p.to_server);
    for _ in 0..100 {
        p.settle(how);
        if sent == upload.len() {
            break;
        }
        sent += p
            .client
            .send_data(post, &upload[sent..], false, &mut p.to_server)
            .unwrap();
    }
    p.client
        .send_trailers(post, &[(&b"x-sum"[..], &b"ok"[..])], &mut p.to_server)
        .unwrap();
    p.settle(how);
    // The server answers both.
    p.server
        .send_headers(
            get,
            &[(&b":status"[..], &b"200"[..]), (b"content-length", b"2")],
            false,
            &mut p.to_client,
        )
        .unwrap();
    p.server
        .send_data(get, b"hi", true, &mut p.to_client)
        .unwrap();
    p.server
        .send_headers(
            post,
            &[(&b":status"[..], &b"201"[..])],
            false,
            &mut p.to_client,
        )
        .unwrap();
    let download = vec![9u8; 300_000];
    let mut sent = 0;
    for _ in 0..100 {
        sent += p
            .server
            .send_data(post, &download[sent..], true, &mut p.to_client)
            .unwrap();
        p.settle(how);
        if sent == download.len() {
            break;
        }
    }
    assert_eq!(sent, download.len());
    assert!(p.client.is_idle() && p.server.is_idle());
    (p.server_events, p.client_events)
}

/// Joins DATA events into one per stream (pieces depend on windows, not
/// on how the bytes were fed) and drops window events.
fn summarize(events: &[Ev]) -> Vec<Ev> {
    let mut out: Vec<Ev> = Vec::new();
    for e in events {
        match e {
            Ev::WindowOpened(_) | Ev::SettingsChanged => {}
            Ev::Data(s, d, end) => {
                if let Some(Ev::Data(ps, pd, pend)) = out
                    .iter_mut()
                    .rev()
                    .find(|e| matches!(e, Ev::Data(x, _, _) if x == s))
                {
                    if !*pend {
                        let _ = ps;
                        pd.extend_from_slice(d);
                        *pend = *end;
                        continue;
                    }
                }
                out.push(Ev::Data(*s, d.clone(), *end));
            }
            other => out.push(other.clone()),
        }
    }
    out
}

/// Events with DATA shown by length and checksum, for readable failures.
fn compact(events: &[Ev]) -> Vec<String> {
    events
        .iter()
        .map(|e| match e {
            Ev::Data(s, d, end) => {
                let sum = d
                    .iter()
                    .fold(0u64, |a, &b| a.wrapping_mul(31).wrapping_add(u64::from(b)));
                format!("Data({s}, {} bytes, {sum:x}, {end})", d.len())
            }
            other => format!("{other:?}"),
        })
        .collect()
}

#[test]
fn client_and_server_converse_whole_split_and_byte_by_byte() {
    let (server_ev, client_ev) = conversation(Feed::Whole);
    let server_sum = summarize(&server_ev);
    let client_sum = summarize(&client_ev);
    let upload: Vec<u8> = (0..600_000u32).map(|i| i as u8).collect();
    assert!(server_sum.contains(&Ev::Headers(
        1,
        fields(&[
            (":method", "GET"),
            (":scheme", "https"),
            (":path", "/"),
            (":authority", "x")
        ]),
        true
    )));
    assert!(server_sum.contains(&Ev::Data(3, upload, false)));
    assert!(server_sum.contains(&Ev::Trailers(3, fields(&[("x-sum", "ok")]))));
    assert!(server_sum.contains(&Ev::Reset(5, ErrorCode::Cancel, true)));
    assert!(client_sum.contains(&Ev::Data(1, b"hi".to_vec(), true)));
    assert!(client_sum.contains(&Ev::Data(3, vec![9; 300_000], true)));
    assert!(client_sum.contains(&Ev::StreamClosed(1)));
    assert!(server_sum.contains(&Ev::StreamClosed(3)));
    // Same outcome however the bytes are cut.
    for how in [
        Feed::ByteByByte,
        Feed::SplitAt(1),
        Feed::SplitAt(9),
        Feed::SplitAt(10),
        Feed::SplitAt(100),
        Feed::SplitAt(16_393),
    ] {
        let (s, c) = conversation(how);
        assert_eq!(compact(&summarize(&s)), compact(&server_sum), "{how:?}");
        assert_eq!(compact(&summarize(&c)), compact(&client_sum), "{how:?}");
    }
}

#[test]
fn a_small_exchange_at_every_split() {
    let exchange = |how: Feed| {
        let mut p = Pair::new();
        let id = p
            .client
            .open_stream(&req(b"POST"), false, &mut p.to_server)
            .unwrap();
        p.client
            .send_data(id, b"body", false, &mut p.to_server)
            .unwrap();
        p.client
            .send_trailers(id, &[(&b"t"[..], &b"1"[..])], &mut p.to_server)
            .unwrap();
        p.client.ping(*b"pingpong", &mut p.to_server);
        p.settle(how);
        p.server
            .send_headers(
                id,
                &[(&b":status"[..], &b"200"[..])],
                false,
                &mut p.to_client,
            )
            .unwrap();
        p.server
            .send_trailers(id, &[(&b"t"[..], &b"2"[..])], &mut p.to_client)
            .unwrap();
        p.server
            .goaway(ErrorCode::NoError, b"done", &mut p.to_client);
        p.settle(how);
        (p.server_events, p.client_events)
    };
    let whole = exchange(Feed::Whole);
    assert!(whole.1.contains(&Ev::PingAck(*b"pingpong")));
    assert!(whole
        .1
        .contains(&Ev::GoAway(1, ErrorCode::NoError, b"done".to_vec())));
    // The client's first flight is about 150 bytes: every split of it.
    for k in 0..200 {
        assert_eq!(exchange(Feed::SplitAt(k)), whole, "split at {k}");
    }
    assert_eq!(exchange(Feed::ByteByByte), whole);
}

// ---- hostile input ----

/// A tiny deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// A random frame: plausible types, flags, streams and lengths, with
/// payloads that are sometimes valid and sometimes cut or wrong.
fn random_frame(rng: &mut Rng) -> Vec<u8> {
    let kind = rng.below(12) as u8;
    let flags = [0, 1, 4, 5, 8, 0x20, 0x2d, 0xff][rng.below(8) as usize];
    let stream = [0, 1, 2, 3, 5, 7, 0x7fff_ffff, rng.next() as u32][rng.below(8) as usize];
    let payload: Vec<u8> = match rng.below(4) {
        0 => block(GET),
        1 => (0..rng.below(20)).map(|_| rng.next() as u8).collect(),
        2 => [0, 0, 0, 1, 0, 4, 0, 0, 0xff, 0xff][..rng.below(11) as usize].to_vec(),
        _ => vec![0; rng.below(70_000) as usize],
    };
    let mut f = raw(kind, flags, stream, &payload);
    if rng.below(10) == 0 {
        f.truncate(rng.below(f.len() as u64) as usize);
    }
    f
}

#[test]
fn random_frame_soup_only_ever_gets_errors() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..3000 {
        let role = if round % 2 == 0 {
            Role::Server
        } else {
            Role::Client
        };
        let mut c = Connection::new(role, Config::default());
        let mut out = Vec::new();
        c.start(&mut out);
        let mut input = if role == Role::Server && rng.below(8) != 0 {
            opening()
        } else {
            settings(&[])
        };
        for _ in 0..rng.below(12) {
            input.extend_from_slice(&random_frame(&mut rng));
        }
        if role == Role::Client && rng.below(2) == 0 {
            let _ = c.open_stream(&req(b"POST"), false, &mut out);
        }
        let how = match rng.below(3) {
            0 => Feed::Whole,
            1 => Feed::SplitAt(rng.below(input.len() as u64 + 1) as usize),
            _ => Feed::ByteByByte,
        };
        let (events, out, err) = feed(&mut c, &input, how);
        // Whatever happened, sending calls keep working or refuse cleanly.
        let mut more = Vec::new();
        let _ = c.send_data(1, b"x", true, &mut more);
        let _ = c.send_headers(1, &[(&b":status"[..], &b"200"[..])], false, &mut more);
        c.reset(3, ErrorCode::Cancel, &mut more);
        if let Some(H2Error::Connection { code, .. }) = err {
            assert_eq!(goaways(&out).last().map(|g| g.1), Some(code), "{events:?}");
        }
    }
}

#[test]
fn random_bytes_only_ever_get_errors() {
    let mut rng = Rng(12345);
    for _ in 0..2000 {
        let mut c = server();
        let mut input = opening();
        input.extend((0..rng.below(300)).map(|_| rng.next() as u8));
        let _ = feed(&mut c, &input, Feed::Whole);
        let mut c = Connection::new(Role::Client, Config::default());
        let input: Vec<u8> = (0..rng.below(300)).map(|_| rng.next() as u8).collect();
        let _ = feed(&mut c, &input, Feed::Whole);
    }
}

#[test]
fn steady_state_reuses_the_buffers() {
    // Capacities settle after the first exchange: later requests grow
    // nothing (the core allocates nothing per request).
    let mut s = server();
    let (_, _, _) = feed(&mut s, &opening(), Feed::Whole);
    let mut caps = Vec::new();
    for i in 0..20u32 {
        let id = 1 + 2 * i;
        let (ev, _, err) = feed(&mut s, &headers(id, GET, true), Feed::Whole);
        assert_eq!((ev.len(), err), (1, None));
        let mut out = Vec::with_capacity(256);
        s.send_headers(
            id,
            &[(&b":status"[..], &b"200"[..]), (b"content-length", b"2")],
            false,
            &mut out,
        )
        .unwrap();
        s.send_data(id, b"ok", true, &mut out).unwrap();
        let (ev, _, _) = feed(&mut s, b"", Feed::Whole);
        assert_eq!(ev, [Ev::StreamClosed(id)]);
        caps.push(s.capacities());
    }
    assert!(caps.windows(2).skip(1).all(|w| w[0] == w[1]), "{caps:?}");
}

#[test]
fn records_are_small() {
    // An idle connection allocates nothing of its own; these are its
    // inline sizes (the HPACK tables aside).
    let stream = std::mem::size_of::<super::stream::Stream>();
    let connection = std::mem::size_of::<Connection>();
    println!("Stream {stream} bytes, Connection {connection} bytes");
    assert!(stream <= 48, "{stream}");
}

// ---- our SETTINGS mid-session ----

/// As [`feed`], without releasing DATA: windows stay spent.
fn feed_unreleased(c: &mut Connection, input: &[u8], how: Feed) -> (Vec<Ev>, Option<H2Error>) {
    let pieces: Vec<&[u8]> = match how {
        Feed::Whole => vec![input],
        Feed::SplitAt(k) => vec![&input[..k], &input[k..]],
        Feed::ByteByByte => input.chunks(1).collect(),
    };
    let (mut held, mut events, mut out) = (Vec::new(), Vec::new(), Vec::new());
    for piece in pieces {
        held.extend_from_slice(piece);
        let mut pos = 0;
        loop {
            match c.poll(&held[pos..], &mut out) {
                Ok((n, Some(e))) => {
                    pos += n;
                    events.push(own(e));
                }
                Ok((n, None)) => {
                    pos += n;
                    break;
                }
                Err(e) => return (events, Some(e)),
            }
        }
        held.drain(..pos);
    }
    (events, None)
}

/// The entries of the SETTINGS frames (not ACKs) in `bytes`.
fn settings_sent(bytes: &[u8]) -> Vec<Vec<(u16, u32)>> {
    frames(skip_preface(bytes))
        .into_iter()
        .filter(|(h, _)| h.kind == frame::TYPE_SETTINGS && h.flags & frame::ACK == 0)
        .map(|(_, p)| {
            p.chunks_exact(6)
                .map(|e| {
                    (
                        u16::from_be_bytes([e[0], e[1]]),
                        u32::from_be_bytes([e[2], e[3], e[4], e[5]]),
                    )
                })
                .collect()
        })
        .collect()
}

fn status(s: &str) -> [(&str, &str); 1] {
    [(":status", s)]
}

#[test]
fn an_acked_window_change_moves_the_windows_of_open_streams() {
    // Our first SETTINGS (256 KiB) and a change to 100 000 both await
    // their ACKs while a stream is open at the RFC's 65 535: after both,
    // exactly 100 000 bytes fit and one more is a FLOW_CONTROL_ERROR.
    let body = vec![9u8; 100_000];
    let mut input = cat(&[
        settings_ack(),
        settings_ack(),
        headers(1, &status("200"), false),
    ]);
    for piece in body.chunks(16_384) {
        input.extend_from_slice(&data(1, piece, false));
    }
    input.extend_from_slice(&data(1, b"!", false));
    let mut expected = vec![
        Ev::SettingsAcked,
        Ev::SettingsAcked,
        Ev::Headers(1, fields(&status("200")), false),
    ];
    expected.extend(body.chunks(16_384).map(|p| Ev::Data(1, p.to_vec(), false)));
    expected.push(Ev::Reset(1, ErrorCode::FlowControlError, false));
    let mut modes = vec![Feed::Whole, Feed::ByteByByte];
    modes.extend((0..=120).map(Feed::SplitAt));
    modes.extend((1..=7).map(|k| Feed::SplitAt(input.len() - k * 9_000)));
    for how in modes {
        let (mut c, _) = client_with_server_settings(&[]);
        let mut out = Vec::new();
        assert_eq!(c.open_stream(&req(b"GET"), true, &mut out).unwrap(), 1);
        let update = Settings {
            initial_window_size: 100_000,
            ..*c.local_settings()
        };
        let mut sent = Vec::new();
        c.send_settings(update, &mut sent).unwrap();
        assert_eq!(
            settings_sent(&sent),
            [vec![(4, 100_000)]],
            "only the change"
        );
        assert_eq!(c.settings_unacked(), 2);
        let (ev, err) = feed_unreleased(&mut c, &input, how);
        assert_eq!((ev, err), (expected.clone(), None), "{how:?}");
        assert_eq!(c.local_settings().initial_window_size, 100_000);
        assert_eq!(c.settings_unacked(), 0);
    }
}

#[test]
fn acks_apply_our_settings_in_the_order_they_were_sent() {
    let first = Settings {
        max_concurrent_streams: Some(1),
        max_header_list_size: Some(8_000),
        ..Settings::default()
    };
    let second = Settings {
        max_concurrent_streams: Some(2),
        ..first
    };
    let input = cat(&[opening(), settings_ack(), settings_ack()]);
    let mut modes = vec![Feed::Whole, Feed::ByteByByte];
    modes.extend((0..=input.len()).map(Feed::SplitAt));
    for how in modes {
        let mut s = server();
        let mut out = Vec::new();
        s.start(&mut out);
        s.send_settings(first, &mut out).unwrap();
        s.send_settings(second, &mut out).unwrap();
        assert_eq!(s.settings_unacked(), 3);
        // Two ACKs: ours from `start`, then `first`.
        let (ev, out, err) = feed(&mut s, &input, how);
        assert_eq!(err, None);
        assert_eq!(
            ev,
            [Ev::SettingsChanged, Ev::SettingsAcked, Ev::SettingsAcked],
            "{how:?}"
        );
        assert_eq!(*s.local_settings(), first, "{how:?}");
        // Until `second` is acked the peer may act on it: two streams.
        let (ev, _, err) = feed(
            &mut s,
            &cat(&[headers(1, GET, false), headers(3, GET, false)]),
            Feed::Whole,
        );
        assert_eq!(err, None);
        assert!(matches!(ev[..], [Ev::Headers(1, ..), Ev::Headers(3, ..)]));
        // Its ACK; an ACK nobody asked for is ignored; then a third
        // stream is refused.
        let (ev, out2, err) = feed(
            &mut s,
            &cat(&[settings_ack(), settings_ack(), headers(5, GET, false)]),
            Feed::Whole,
        );
        assert_eq!((ev, err), (vec![Ev::SettingsAcked], None));
        assert_eq!(*s.local_settings(), second);
        assert_eq!(resets(&out2), [(5, ErrorCode::RefusedStream)]);
        assert!(resets(&out).is_empty());
    }
}

#[test]
fn a_settings_ack_timeout_fires_after_n_ticks_and_not_before() {
    let config = Config {
        settings_timeout_ticks: 3,
        ..Config::default()
    };
    // Our first SETTINGS, never acknowledged: two ticks are fine, the
    // third fails the connection with GOAWAY SETTINGS_TIMEOUT.
    let mut c = Connection::new(Role::Client, config);
    let mut out = Vec::new();
    c.start(&mut out);
    out.clear();
    for _ in 0..2 {
        c.tick(&mut out).unwrap();
    }
    assert!(out.is_empty());
    let e = c.tick(&mut out).unwrap_err();
    assert_eq!(e.code(), ErrorCode::SettingsTimeout);
    assert_eq!(goaways(&out), [(0, ErrorCode::SettingsTimeout)]);
    assert_eq!(c.state(), ConnState::Closed);
    assert!(c.poll(&[], &mut out).is_err());
    assert!(c.tick(&mut out).is_err());

    // An ACK in time stops the clock; a later change starts its own.
    let mut c = Connection::new(Role::Client, config);
    c.start(&mut Vec::new());
    feed(&mut c, &settings(&[]), Feed::Whole);
    c.tick(&mut out).unwrap();
    c.tick(&mut out).unwrap();
    let (ev, _, _) = feed(&mut c, &settings_ack(), Feed::Whole);
    assert_eq!(ev, [Ev::SettingsAcked]);
    for _ in 0..10 {
        c.tick(&mut out).unwrap();
    }
    let update = Settings {
        max_concurrent_streams: Some(9),
        ..*c.local_settings()
    };
    c.send_settings(update, &mut Vec::new()).unwrap();
    c.tick(&mut out).unwrap();
    c.tick(&mut out).unwrap();
    assert_eq!(
        c.tick(&mut out).unwrap_err().code(),
        ErrorCode::SettingsTimeout
    );

    // 0: no timeout.
    let mut c = Connection::new(
        Role::Server,
        Config {
            settings_timeout_ticks: 0,
            ..Config::default()
        },
    );
    c.start(&mut Vec::new());
    for _ in 0..1000 {
        c.tick(&mut out).unwrap();
    }
}

#[test]
fn our_invalid_settings_are_refused_before_anything_is_sent() {
    let (mut c, _) = client_with_server_settings(&[]);
    let base = *c.local_settings();
    let mut out = Vec::new();
    let bad = [
        (
            Settings {
                initial_window_size: 1 << 31,
                ..base
            },
            ErrorCode::FlowControlError,
        ),
        (
            Settings {
                max_frame_size: 1 << 24,
                ..base
            },
            ErrorCode::ProtocolError,
        ),
        (
            Settings {
                enable_push: true,
                ..base
            },
            ErrorCode::ProtocolError,
        ),
    ];
    for (settings, code) in bad {
        assert_eq!(
            c.send_settings(settings, &mut out).unwrap_err().code(),
            code
        );
    }
    assert!(out.is_empty());
    // Ten awaiting acknowledgment (ours from `start` and nine more), then
    // no more.
    for n in 0..9 {
        let s = Settings {
            max_concurrent_streams: Some(n),
            ..base
        };
        c.send_settings(s, &mut out).unwrap();
    }
    assert_eq!(c.settings_unacked(), 10);
    out.clear();
    assert!(c.send_settings(base, &mut out).is_err());
    assert!(out.is_empty());
    // Before `start`, a change only edits what `start` sends.
    let mut c = Connection::new(Role::Client, Config::default());
    let s = Settings {
        initial_window_size: 70_000,
        ..*c.local_settings()
    };
    c.send_settings(s, &mut out).unwrap();
    assert!(out.is_empty());
    c.start(&mut out);
    assert!(settings_sent(&out)[0].contains(&(4, 70_000)));
    assert_eq!(c.settings_unacked(), 1);
}

#[test]
fn a_smaller_hpack_table_applies_only_once_acknowledged() {
    // RFC 7541 §4.2: until the peer acknowledges our smaller
    // HEADER_TABLE_SIZE it may still use the old one.
    let size_update_4096 = [0x3f, 0xe1, 0x1f];
    let head = |stream| {
        let mut b = size_update_4096.to_vec();
        lit(&mut b, b":status", b"200");
        raw(
            frame::TYPE_HEADERS,
            frame::END_HEADERS | frame::END_STREAM,
            stream,
            &b,
        )
    };
    let (mut c, _) = client_with_server_settings(&[]);
    let mut out = Vec::new();
    let (ev, _, _) = feed(&mut c, &settings_ack(), Feed::Whole);
    assert_eq!(ev, [Ev::SettingsAcked]);
    let one = c.open_stream(&req(b"GET"), true, &mut out).unwrap();
    let three = c.open_stream(&req(b"GET"), true, &mut out).unwrap();
    let update = Settings {
        header_table_size: 0,
        ..*c.local_settings()
    };
    c.send_settings(update, &mut out).unwrap();
    let (ev, _, err) = feed(&mut c, &cat(&[head(one), settings_ack()]), Feed::Whole);
    assert_eq!(err, None);
    assert_eq!(
        ev,
        [
            Ev::Headers(one, fields(&status("200")), true),
            Ev::StreamClosed(one),
            Ev::SettingsAcked
        ]
    );
    let (_, _, err) = feed(&mut c, &head(three), Feed::Whole);
    assert_eq!(err.map(|e| e.code()), Some(ErrorCode::CompressionError));
}

#[test]
fn a_goaway_of_our_choosing_keeps_the_connection_and_never_promises_more() {
    let mut s = server();
    let mut start = Vec::new();
    s.start(&mut start);
    let (_, _, err) = feed(
        &mut s,
        &cat(&[opening(), headers(3, POST, false)]),
        Feed::Whole,
    );
    assert_eq!(err, None);
    let mut out = Vec::new();
    // An error code does not close it (Node's session.goaway); the id is
    // capped at the highest stream the peer opened, then never grows.
    s.send_goaway(ErrorCode::EnhanceYourCalm, 99, b"x", &mut out)
        .unwrap();
    s.send_goaway(ErrorCode::NoError, 5, b"", &mut out).unwrap();
    assert!(s.send_goaway(ErrorCode::NoError, 2, b"", &mut out).is_err()); // even: ours
    assert_eq!(
        goaways(&out),
        [(3, ErrorCode::EnhanceYourCalm), (3, ErrorCode::NoError)]
    );
    assert_eq!(
        s.state(),
        ConnState::GoingAway {
            sent: Some(3),
            received: None
        }
    );
    // Stream 3 goes on; a new one is ignored.
    let (ev, out, err) = feed(
        &mut s,
        &cat(&[data(3, b"on", true), headers(5, GET, true)]),
        Feed::Whole,
    );
    assert_eq!((ev, err), (vec![Ev::Data(3, b"on".to_vec(), true)], None));
    assert!(resets(&out).is_empty());
}

#[test]
fn a_larger_frame_size_is_accepted_as_soon_as_it_is_sent() {
    // The peer may use our larger MAX_FRAME_SIZE once it reads it, before
    // its ACK reaches us; a smaller one holds only after the ACK.
    let big = vec![1u8; 20_000];
    let input = cat(&[
        opening(),
        settings_ack(),
        headers(1, POST, false),
        data(1, &big, false),
    ]);
    let mut s = server();
    s.start(&mut Vec::new());
    let update = Settings {
        max_frame_size: 32_768,
        ..*s.local_settings()
    };
    s.send_settings(update, &mut Vec::new()).unwrap();
    let (ev, _, err) = feed(&mut s, &input, Feed::Whole);
    assert_eq!(err, None);
    assert_eq!(ev.last(), Some(&Ev::Data(1, big.clone(), false)));
    // Back down to 16 384: still 32 768 until acknowledged.
    s.send_settings(
        Settings {
            max_frame_size: 16_384,
            ..update
        },
        &mut Vec::new(),
    )
    .unwrap();
    let (_, _, err) = feed(&mut s, &data(1, &big, false), Feed::Whole);
    assert_eq!(err, None);
    let (ev, _, err) = feed(
        &mut s,
        &cat(&[settings_ack(), settings_ack(), data(1, &big, false)]),
        Feed::Whole,
    );
    assert_eq!(ev, [Ev::SettingsAcked, Ev::SettingsAcked]);
    assert_eq!(err.map(|e| e.code()), Some(ErrorCode::FrameSizeError));
}
