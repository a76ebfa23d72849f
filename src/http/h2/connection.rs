//! [`Connection`]: the whole of RFC 9113 for one connection, either role,
//! with no I/O. Bytes from the peer go into [`Connection::poll`], which
//! returns one [`Event`] at a time; calls such as
//! [`Connection::send_headers`] append frames to an output buffer that the
//! caller writes to the socket.
//!
//! The I/O layer runs user code between events with the connection not
//! borrowed: an [`Event::Data`] slice borrows only the input, and header
//! fields live in a buffer the connection reuses, so steady-state traffic
//! allocates nothing here.

use std::collections::VecDeque;

use super::error::{conn, stream, ErrorCode, H2Error};
use super::flow::{RecvWindow, Window};
use super::frame::{self, Frame, FrameHeader, HEADER_LEN, MAX_ID, PREFACE};
use super::headers::{check, FieldBuf, HeaderList, SectionKind, ToField};
use super::hpack::{Decoder, Encoder, HpackError};
use super::settings::Settings;
use super::stream::{BodyLength, HeadPhase, Stream, StreamState};

/// Which end of the connection we are.
///
/// ```
/// use nodelike::http::h2::{Config, Connection, Role};
/// let c = Connection::new(Role::Server, Config::default());
/// assert!(c.is_idle());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// We accepted the connection: the peer sends the preface and opens
    /// (odd-numbered) streams.
    Server,
    /// We opened the connection: we send the preface and open streams.
    Client,
}

/// Limits and the settings we advertise. Every default is chosen for a
/// server facing the open Internet; the reason is beside each.
///
/// ```
/// use nodelike::http::h2::Config;
/// let c = Config { max_concurrent_streams: 10, ..Config::default() };
/// assert_eq!(c.max_frame_size, 16_384);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// SETTINGS_MAX_CONCURRENT_STREAMS: streams the peer may have open at
    /// once; more are refused with REFUSED_STREAM. Default 100: what RFC
    /// 9113 §6.5.2 recommends as a minimum and what Node assumes of its
    /// peers (nginx uses 128).
    pub max_concurrent_streams: u32,
    /// SETTINGS_INITIAL_WINDOW_SIZE: how much each stream may send before
    /// the application releases some. Default 256 KiB: four times the
    /// RFC's 64 KiB, so one upload is not capped at 64 KiB per round trip;
    /// the memory it can pin is bounded by the connection window below,
    /// not by this times the number of streams.
    pub initial_window_size: u32,
    /// The connection-wide window we open to at the start (one
    /// WINDOW_UPDATE): all streams together never have more unreleased
    /// bytes in flight than this. Default 1 MiB.
    pub connection_window_size: u32,
    /// SETTINGS_MAX_FRAME_SIZE: the largest frame payload we accept.
    /// Default 16 384, the protocol's floor: frames are parsed whole, so
    /// this is also the largest piece of input the caller must hold.
    pub max_frame_size: u32,
    /// SETTINGS_MAX_HEADER_LIST_SIZE: the largest decoded header section
    /// (names + values + 32 per field), advertised and enforced (a bigger
    /// one resets its stream). Default 16 KiB, as HTTP/1's head limit.
    pub max_header_list_size: u32,
    /// SETTINGS_HEADER_TABLE_SIZE: the HPACK table we keep for the peer.
    /// Default 4096, the protocol's default.
    pub header_table_size: u32,
    /// The largest encoded header block (HEADERS plus CONTINUATIONs) we
    /// buffer; more is ENHANCE_YOUR_CALM for the connection (a
    /// CONTINUATION flood cannot grow memory). Default 20 KiB: the list
    /// limit plus slack for encoding overhead.
    pub max_header_block_bytes: usize,
    /// RST_STREAM frames from the peer, plus streams we refused or reset
    /// for its mistakes, per [`Connection::tick`]; past it, GOAWAY
    /// ENHANCE_YOUR_CALM. Stops rapid reset (CVE-2023-44487) and provoked
    /// resets (CVE-2025-8671), which make a server start and drop work
    /// for free. Default 200 a second: far above any browser's
    /// cancellations.
    pub max_resets_per_tick: u32,
    /// SETTINGS frames from the peer per tick (each costs an ACK and may
    /// touch every stream). Default 32.
    pub max_settings_per_tick: u32,
    /// PINGs from the peer per tick (each costs an ACK). Default 32.
    pub max_pings_per_tick: u32,
    /// Empty DATA frames without END_STREAM per tick (they cost work and
    /// carry nothing). Default 64.
    pub max_empty_data_per_tick: u32,
    /// Ticks a SETTINGS frame of ours may wait for its acknowledgment;
    /// then GOAWAY SETTINGS_TIMEOUT and the connection fails (RFC 9113
    /// §6.5.3 allows it). A peer that never acknowledges would otherwise
    /// hold us to the old values for ever. Default 10 (about ten seconds
    /// at one tick a second; the first tick may come at once after the
    /// frame, so at least nine); 0: wait for ever.
    pub settings_timeout_ticks: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_concurrent_streams: 100,
            initial_window_size: 256 * 1024,
            connection_window_size: 1024 * 1024,
            max_frame_size: frame::DEFAULT_MAX_FRAME_SIZE,
            max_header_list_size: 16 * 1024,
            header_table_size: 4096,
            max_header_block_bytes: 20 * 1024,
            max_resets_per_tick: 200,
            max_settings_per_tick: 32,
            max_pings_per_tick: 32,
            max_empty_data_per_tick: 64,
            settings_timeout_ticks: 10,
        }
    }
}

/// Where the connection is in its life.
///
/// ```
/// use nodelike::http::h2::{Config, ConnState, Connection, ErrorCode, Role};
/// let mut c = Connection::new(Role::Server, Config::default());
/// assert_eq!(c.state(), ConnState::Handshaking);
/// c.goaway(ErrorCode::NoError, b"", &mut Vec::new());
/// assert_eq!(c.state(), ConnState::Closed); // still handshaking: nothing to drain
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnState {
    /// The peer's preface (server) or first SETTINGS has not arrived.
    Handshaking,
    /// Streams come and go.
    Open,
    /// A GOAWAY was sent (`sent`: the last stream id we promised to
    /// process) or received (`received`: the last of ours the peer will
    /// process). Streams under those numbers finish; no new ones start.
    GoingAway {
        /// The last-stream-id of our GOAWAY.
        sent: Option<u32>,
        /// The last-stream-id of the peer's GOAWAY.
        received: Option<u32>,
    },
    /// A connection error, or a GOAWAY with an error code: only flushing
    /// the output and closing remain.
    Closed,
}

/// What [`Connection::poll`] found in the input.
///
/// ```
/// use nodelike::http::h2::{Config, Connection, Event, Role};
/// let mut client = Connection::new(Role::Client, Config::default());
/// let mut server = Connection::new(Role::Server, Config::default());
/// let mut wire = Vec::new();
/// client.start(&mut wire);
/// let (n, event) = server.poll(&wire, &mut Vec::new()).unwrap();
/// assert!(matches!(event, Some(Event::SettingsChanged)));
/// assert!(n < wire.len()); // the WINDOW_UPDATE after the SETTINGS is left for the next poll
/// ```
#[derive(Debug)]
pub enum Event<'i, 'c> {
    /// A request head (server) or response head (client; 1xx
    /// informational heads come first, never with `end_stream`).
    Headers {
        /// The stream.
        stream: u32,
        /// The fields, checked (RFC 9113 §8.3); valid until the next poll.
        fields: HeaderList<'c>,
        /// No body follows.
        end_stream: bool,
    },
    /// Trailers: the last of the stream from the peer.
    Trailers {
        /// The stream.
        stream: u32,
        /// The fields (no pseudo-header fields).
        fields: HeaderList<'c>,
    },
    /// Body bytes: a slice of the input. Call [`Connection::release`]
    /// when they are consumed so the peer may send more.
    Data {
        /// The stream.
        stream: u32,
        /// The bytes (padding removed); may be empty with `end_stream`.
        data: &'i [u8],
        /// The body is complete.
        end_stream: bool,
    },
    /// The stream was reset: by the peer's RST_STREAM (`by_peer`), or by
    /// us after its error (RST_STREAM already in the output), or because
    /// the peer's GOAWAY dropped it (REFUSED_STREAM, `by_peer`). The
    /// stream is gone.
    Reset {
        /// The stream.
        stream: u32,
        /// Why.
        code: ErrorCode,
        /// Whether the peer reset it.
        by_peer: bool,
    },
    /// The peer opened a send window: retry pending
    /// [`Connection::send_data`] (all streams when `stream` is `None`).
    WindowOpened {
        /// The stream, or `None` for the connection window.
        stream: Option<u32>,
    },
    /// The answer to our [`Connection::ping`].
    PingAck {
        /// The payload we sent.
        payload: [u8; 8],
    },
    /// The peer's settings were applied and acknowledged. Send windows
    /// may have grown: retry pending sends.
    SettingsChanged,
    /// The peer acknowledged our oldest unacknowledged SETTINGS (the one
    /// [`Connection::start`] sent, or one of
    /// [`Connection::send_settings`]; acknowledgments come in order,
    /// §6.5.3): its values are now in effect, as
    /// [`Connection::local_settings`] says.
    SettingsAcked,
    /// The peer is going away: streams above `last_stream_id` it did not
    /// process (they come next as [`Event::Reset`]); open no new ones.
    GoAway {
        /// The last stream the peer will process.
        last_stream_id: u32,
        /// Why.
        code: ErrorCode,
        /// Debug data (a slice of the input).
        debug: &'i [u8],
    },
    /// Both sides ended the stream normally; its record is freed.
    StreamClosed {
        /// The stream.
        stream: u32,
    },
}

/// An event found while reading, before header fields are attached: it
/// borrows only the input, so the connection stays free until the end.
enum Found<'i> {
    Headers {
        stream: u32,
        end_stream: bool,
    },
    Trailers {
        stream: u32,
    },
    Data {
        stream: u32,
        data: &'i [u8],
        end_stream: bool,
    },
    Reset {
        stream: u32,
        code: ErrorCode,
        by_peer: bool,
    },
    WindowOpened {
        stream: Option<u32>,
    },
    PingAck {
        payload: [u8; 8],
    },
    SettingsChanged,
    SettingsAcked,
    GoAway {
        last_stream_id: u32,
        code: ErrorCode,
        debug: &'i [u8],
    },
    StreamClosed {
        stream: u32,
    },
}

/// An event owed to the caller after the one a frame returned (a stream
/// closed by the END_STREAM just reported, streams dropped by GOAWAY).
#[derive(Debug, Clone, Copy)]
enum Deferred {
    StreamClosed(u32),
    Refused(u32),
}

/// What the reader expects next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    /// The client's 24-byte preface (server only).
    Preface,
    /// The peer's first frame, which must be SETTINGS (§3.4).
    FirstSettings,
    /// Any frame.
    Frames,
}

/// Whether our first SETTINGS went out ([`Connection::start`]). Until
/// then a change of settings only edits what `start` will send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OurSettings {
    NotSent,
    Sent,
}

/// A SETTINGS frame of ours the peer has not acknowledged yet: until it
/// does, the peer may still act on the values before it (§6.5.3).
#[derive(Debug, Clone, Copy)]
struct Unacked {
    settings: Settings,
    /// Ticks seen while it waited (for `settings_timeout_ticks`).
    ticks: u32,
}

/// Our SETTINGS frames awaiting acknowledgment at once: more is refused to
/// the caller (Node's `maxOutstandingSettings` default is 10).
const MAX_UNACKED_SETTINGS: usize = 10;

/// A header block whose CONTINUATIONs are still coming (§6.10: nothing
/// else may come in between).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockState {
    Idle,
    Continuing(BlockContext),
}

/// What the HEADERS frame said about the block it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BlockContext {
    stream: u32,
    end_stream: bool,
    /// The priority fields named the stream itself (§5.3.1): a stream
    /// error, applied once the block is decoded (HPACK state must be
    /// kept in step whatever happens to the stream).
    self_dependent: bool,
}

/// How a stream we no longer keep a record of ended, for frames that
/// arrive late.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gone {
    /// We reset it: the peer may not know yet, so its frames are ignored.
    ResetByUs,
    /// The peer reset it (or refused it with GOAWAY): its frames are a
    /// stream error STREAM_CLOSED (§5.1, "closed").
    ResetByPeer,
    /// Both sides sent END_STREAM: frames after that are a connection
    /// error STREAM_CLOSED (§5.1, "closed"), except the WINDOW_UPDATE and
    /// RST_STREAM that may trail the end.
    Ended,
}

/// A short memory of streams that went away: two fixed rings (no
/// allocation; old entries fall out). Streams we reset have their own
/// ring so that ordinary traffic, which closes streams all the time,
/// does not push them out while the peer's in-flight frames for them are
/// still arriving (those must be ignored, not treated as errors).
#[derive(Debug, Clone)]
struct RecentlyClosed {
    reset_by_us: Ring,
    others: Ring,
}

#[derive(Debug, Clone)]
struct Ring {
    ids: [(u32, Gone); 16],
    next: usize,
}

impl Ring {
    fn new() -> Self {
        Ring {
            ids: [(0, Gone::Ended); 16],
            next: 0,
        }
    }

    fn remember(&mut self, id: u32, how: Gone) {
        if let Some(slot) = self.ids.get_mut(self.next) {
            *slot = (id, how);
        }
        self.next = (self.next + 1) % self.ids.len();
    }

    fn find(&self, id: u32) -> Option<Gone> {
        // Stream 0 never goes in, so the empty slots never match.
        self.ids
            .iter()
            .find(|(i, _)| *i == id && id != 0)
            .map(|(_, g)| *g)
    }
}

impl RecentlyClosed {
    fn new() -> Self {
        RecentlyClosed {
            reset_by_us: Ring::new(),
            others: Ring::new(),
        }
    }

    fn remember(&mut self, id: u32, how: Gone) {
        match how {
            Gone::ResetByUs => self.reset_by_us.remember(id, how),
            Gone::ResetByPeer | Gone::Ended => self.others.remember(id, how),
        }
    }

    fn find(&self, id: u32) -> Option<Gone> {
        self.reset_by_us.find(id).or_else(|| self.others.find(id))
    }
}

/// Where an incoming frame's stream id stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lookup {
    Active(usize),
    /// Never used (higher than any opened by its side).
    Idle,
    /// Recently gone, and how.
    Recent(Gone),
    /// Used (or skipped, which closes it, §5.1.1) and forgotten.
    Forgotten,
}

/// Per-tick counters of what floods look like.
#[derive(Debug, Clone, Copy, Default)]
struct Floods {
    resets: u32,
    settings: u32,
    pings: u32,
    empty_data: u32,
}

fn bump(counter: &mut u32, cap: u32, reason: &'static str) -> Result<(), H2Error> {
    *counter = counter.saturating_add(1);
    if *counter > cap {
        return Err(conn(ErrorCode::EnhanceYourCalm, reason));
    }
    Ok(())
}

/// One HTTP/2 connection, either role, without I/O. See the
/// [module docs](super) for the whole picture.
///
/// ```
/// use nodelike::http::h2::{Config, Connection, Event, Role};
/// let mut server = Connection::new(Role::Server, Config::default());
/// let mut out = Vec::new();
/// server.start(&mut out); // our SETTINGS and connection WINDOW_UPDATE
/// let err = server.poll(b"GET / HTTP/1.1\r\n\r\n", &mut out).unwrap_err();
/// assert_eq!(err.code().to_string(), "PROTOCOL_ERROR"); // and a GOAWAY is in `out`
/// ```
pub struct Connection {
    role: Role,
    config: Config,
    reading: Reading,
    /// What we advertised last (acknowledged or not).
    ours: Settings,
    our_settings: OurSettings,
    /// Our settings in effect: the last acknowledged, or before any
    /// acknowledgment the ones `start` announced (the limits we hold the
    /// peer to apply from the start, stricter than §6.5.3 requires; the
    /// receive window and the HPACK table wait for the acknowledgment).
    applied: Settings,
    /// Our SETTINGS frames not yet acknowledged, oldest first.
    unacked: VecDeque<Unacked>,
    /// What the peer advertised.
    peer: Settings,
    /// The stream window in effect for what the peer sends: the RFC's
    /// 65 535 until our SETTINGS is acknowledged, then ours.
    recv_initial: u32,
    encoder: Encoder,
    decoder: Decoder,
    /// The decoder's table size limit (kept here: the decoder does not
    /// say it).
    decoder_limit: u32,
    /// Open and half-closed streams. A Vec searched linearly: at most
    /// max_concurrent_streams entries, and no hashing per frame.
    streams: Vec<Stream>,
    conn_send: Window,
    conn_recv: RecvWindow,
    /// The highest stream id the peer opened (0: none).
    last_peer_stream: u32,
    /// The highest stream id we opened (0: none).
    last_local_stream: u32,
    block_state: BlockState,
    /// A header block gathered across CONTINUATIONs (grows on demand, up
    /// to max_header_block_bytes; a block in one frame is not copied).
    block: Vec<u8>,
    /// The decoded fields of the last header section.
    fields: FieldBuf,
    /// Our encoded header blocks, before framing.
    encoded: Vec<u8>,
    deferred: VecDeque<Deferred>,
    recent: RecentlyClosed,
    floods: Floods,
    goaway_sent: Option<u32>,
    goaway_received: Option<u32>,
    /// Set at the first connection error (or a GOAWAY with an error code
    /// of ours): every later call reports it.
    failed: Option<H2Error>,
}

impl Connection {
    /// A connection in `role`. Out-of-range `config` values are brought
    /// into range (max_frame_size into 16 384..=16 777 215, windows to at
    /// most 2^31 - 1, the connection window to at least 65 535).
    ///
    /// ```
    /// use nodelike::http::h2::{Config, ConnState, Connection, Role};
    /// let c = Connection::new(Role::Client, Config::default());
    /// assert_eq!(c.state(), ConnState::Handshaking);
    /// ```
    pub fn new(role: Role, config: Config) -> Connection {
        let mut config = config;
        config.max_frame_size = config
            .max_frame_size
            .clamp(frame::DEFAULT_MAX_FRAME_SIZE, frame::MAX_MAX_FRAME_SIZE);
        config.initial_window_size = config.initial_window_size.min(MAX_ID);
        config.connection_window_size = config.connection_window_size.clamp(65_535, MAX_ID);
        let ours = Settings {
            header_table_size: config.header_table_size,
            // A client turns push off; a server's value means nothing.
            enable_push: role == Role::Server,
            max_concurrent_streams: Some(config.max_concurrent_streams),
            initial_window_size: config.initial_window_size,
            max_frame_size: config.max_frame_size,
            max_header_list_size: Some(config.max_header_list_size),
        };
        let initial = Settings::default();
        Connection {
            role,
            config,
            reading: match role {
                Role::Server => Reading::Preface,
                Role::Client => Reading::FirstSettings,
            },
            ours,
            our_settings: OurSettings::NotSent,
            applied: ours,
            unacked: VecDeque::new(),
            peer: initial,
            recv_initial: initial.initial_window_size,
            encoder: Encoder::new(),
            // Until our SETTINGS is acknowledged the peer may use the
            // default table size, so accept at least that.
            decoder: Decoder::new(config.header_table_size.max(initial.header_table_size) as usize),
            decoder_limit: config.header_table_size.max(initial.header_table_size),
            streams: Vec::new(),
            conn_send: Window::new(initial.initial_window_size),
            conn_recv: RecvWindow::new(config.connection_window_size),
            last_peer_stream: 0,
            last_local_stream: 0,
            block_state: BlockState::Idle,
            block: Vec::new(),
            fields: FieldBuf::default(),
            encoded: Vec::new(),
            deferred: VecDeque::new(),
            recent: RecentlyClosed::new(),
            floods: Floods::default(),
            goaway_sent: None,
            goaway_received: None,
            failed: None,
        }
    }

    /// Writes what opens the connection: the preface (client), our
    /// SETTINGS, and a WINDOW_UPDATE taking the connection window from
    /// 65 535 to `connection_window_size`. Call once, first.
    ///
    /// ```
    /// use nodelike::http::h2::{Config, Connection, Role};
    /// let mut out = Vec::new();
    /// Connection::new(Role::Client, Config::default()).start(&mut out);
    /// assert!(out.starts_with(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
    /// ```
    pub fn start(&mut self, out: &mut Vec<u8>) {
        if self.our_settings != OurSettings::NotSent {
            return;
        }
        if self.role == Role::Client {
            out.extend_from_slice(PREFACE);
        }
        self.ours.encode(out);
        self.our_settings = OurSettings::Sent;
        self.unacked.push_back(Unacked {
            settings: self.ours,
            ticks: 0,
        });
        let extra = self.config.connection_window_size.saturating_sub(65_535);
        if extra > 0 {
            frame::write_window_update(out, 0, extra);
        }
    }

    /// Reads whole frames from `input` until one makes an event, and
    /// returns it with how many bytes were consumed. `Ok((n, None))`: no
    /// whole frame left; keep `input[n..]` and offer it again with more.
    /// Frames the protocol answers by itself (SETTINGS and PING ACKs,
    /// WINDOW_UPDATEs, RST_STREAM for a stream error) are appended to
    /// `out`. A connection error writes GOAWAY to `out` and returns `Err`
    /// (now and on every later call): flush `out`, then close.
    ///
    /// ```
    /// use nodelike::http::h2::{Config, Connection, Event, Role};
    /// let mut client = Connection::new(Role::Client, Config::default());
    /// let mut server = Connection::new(Role::Server, Config::default());
    /// let mut wire = Vec::new();
    /// client.start(&mut wire);
    /// let id = client.open_stream(&[(&b":method"[..], &b"POST"[..]), (b":scheme", b"http"),
    ///                               (b":path", b"/up")], false, &mut wire).unwrap();
    /// client.send_data(id, b"hello", true, &mut wire).unwrap();
    /// let (mut pos, mut out, mut body) = (0, Vec::new(), Vec::new());
    /// while let (n, Some(event)) = server.poll(&wire[pos..], &mut out).unwrap() {
    ///     pos += n;
    ///     if let Event::Data { data, .. } = event {
    ///         body.extend_from_slice(data);
    ///         server.release(id, data.len(), &mut out);
    ///     }
    /// }
    /// assert_eq!(body, b"hello");
    /// ```
    pub fn poll<'i>(
        &mut self,
        input: &'i [u8],
        out: &mut Vec<u8>,
    ) -> Result<(usize, Option<Event<'i, '_>>), H2Error> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let mut pos = 0;
        loop {
            if let Some(d) = self.deferred.pop_front() {
                let found = match d {
                    Deferred::StreamClosed(stream) => Found::StreamClosed { stream },
                    Deferred::Refused(stream) => Found::Reset {
                        stream,
                        code: ErrorCode::RefusedStream,
                        by_peer: true,
                    },
                };
                return Ok((pos, Some(self.event(found))));
            }
            let rest = input.get(pos..).unwrap_or_default();
            if self.reading == Reading::Preface {
                let n = rest.len().min(PREFACE.len());
                if rest[..n] != PREFACE[..n] {
                    let e = conn(ErrorCode::ProtocolError, "invalid connection preface");
                    return Err(self.fail(e, out));
                }
                if n < PREFACE.len() {
                    return Ok((pos, None));
                }
                pos += n;
                self.reading = Reading::FirstSettings;
                continue;
            }
            let Some(header) = FrameHeader::parse(rest) else {
                return Ok((pos, None));
            };
            if header.len > self.accepted(|s| s.max_frame_size) {
                let e = conn(
                    ErrorCode::FrameSizeError,
                    "frame larger than SETTINGS_MAX_FRAME_SIZE",
                );
                return Err(self.fail(e, out));
            }
            let end = HEADER_LEN + header.len as usize;
            let Some(payload) = rest.get(HEADER_LEN..end) else {
                return Ok((pos, None));
            };
            pos += end;
            let found = match self.on_frame(&header, payload, out) {
                Ok(found) => found,
                Err(H2Error::Stream { id, code, .. }) => match self.stream_error(id, code, out) {
                    Ok(found) => found,
                    Err(e) => return Err(self.fail(e, out)),
                },
                Err(e) => return Err(self.fail(e, out)),
            };
            if let Some(found) = found {
                return Ok((pos, Some(self.event(found))));
            }
        }
    }

    /// Sends a response head (server: 1xx informational heads first if
    /// any, then the final one), or, on either side, a head on a stream
    /// whose head we have not sent yet. With `end_stream`, no body
    /// follows.
    ///
    /// ```
    /// use nodelike::http::h2::{Config, Connection, Role};
    /// let mut client = Connection::new(Role::Client, Config::default());
    /// let mut out = Vec::new();
    /// let id = client.open_stream(&[(&b":method"[..], &b"GET"[..]), (b":scheme", b"http"), (b":path", b"/")],
    ///                             true, &mut out).unwrap();
    /// // The request head is already sent: a second one is refused.
    /// assert!(client.send_headers(id, &[(&b"x"[..], &b"y"[..])], false, &mut out).is_err());
    /// ```
    pub fn send_headers<'a, I>(
        &mut self,
        stream: u32,
        fields: I,
        end_stream: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), H2Error>
    where
        I: IntoIterator,
        I::Item: ToField<'a>,
    {
        let i = self.sendable(stream)?;
        if self.streams[i].send_phase != HeadPhase::AwaitingHead {
            return Err(super::error::stream(
                stream,
                ErrorCode::ProtocolError,
                "head already sent",
            ));
        }
        let mut informational = false;
        let fields = fields.into_iter().map(ToField::to_field).inspect(|f| {
            if f.name == b":status" {
                informational = f.value.first() == Some(&b'1');
            }
        });
        self.encoded.clear();
        self.encoder.encode(fields, &mut self.encoded);
        if informational && end_stream {
            // Written anyway would break the peer's stream: refuse before.
            return Err(super::error::stream(
                stream,
                ErrorCode::ProtocolError,
                "an informational head cannot end the stream",
            ));
        }
        frame::write_header_block(
            out,
            stream,
            &self.encoded,
            end_stream,
            self.peer.max_frame_size,
        );
        if !informational {
            self.streams[i].send_phase = HeadPhase::Body;
        }
        if end_stream {
            self.end_local(i, out);
        }
        Ok(())
    }

    /// Opens a stream (client): sends the request head and returns the new
    /// stream's id. Refused (a stream error naming stream 0, nothing
    /// written) on a server, after a GOAWAY either way, at the peer's
    /// SETTINGS_MAX_CONCURRENT_STREAMS, or when ids run out.
    ///
    /// ```
    /// use nodelike::http::h2::{Config, Connection, Role};
    /// let mut client = Connection::new(Role::Client, Config::default());
    /// let mut out = Vec::new();
    /// client.start(&mut out);
    /// let get = [(&b":method"[..], &b"GET"[..]), (b":scheme", b"http"), (b":path", b"/")];
    /// assert_eq!(client.open_stream(&get, true, &mut out).unwrap(), 1);
    /// assert_eq!(client.open_stream(&get, true, &mut out).unwrap(), 3);
    /// ```
    pub fn open_stream<'a, I>(
        &mut self,
        fields: I,
        end_stream: bool,
        out: &mut Vec<u8>,
    ) -> Result<u32, H2Error>
    where
        I: IntoIterator,
        I::Item: ToField<'a>,
    {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let refuse = |reason| Err(super::error::stream(0, ErrorCode::RefusedStream, reason));
        if self.role != Role::Client {
            return refuse("only a client opens streams");
        }
        if self.goaway_sent.is_some() || self.goaway_received.is_some() {
            return refuse("the connection is going away");
        }
        let limit = self.peer.max_concurrent_streams.unwrap_or(u32::MAX) as usize;
        if self.streams.len() >= limit {
            return refuse("the peer's SETTINGS_MAX_CONCURRENT_STREAMS is reached");
        }
        let id = if self.last_local_stream == 0 {
            1
        } else {
            self.last_local_stream.saturating_add(2)
        };
        if id > MAX_ID {
            return refuse("stream ids are exhausted");
        }
        let mut head_request = false;
        let fields = fields.into_iter().map(ToField::to_field).inspect(|f| {
            if f.name == b":method" {
                head_request = f.value == b"HEAD";
            }
        });
        self.encoded.clear();
        self.encoder.encode(fields, &mut self.encoded);
        frame::write_header_block(out, id, &self.encoded, end_stream, self.peer.max_frame_size);
        self.last_local_stream = id;
        let state = if end_stream {
            StreamState::HalfClosedLocal
        } else {
            StreamState::Open
        };
        let mut s = Stream::new(id, state, self.peer.initial_window_size, self.recv_initial);
        s.send_phase = HeadPhase::Body;
        s.head_request = head_request;
        self.streams.push(s);
        Ok(id)
    }

    /// Sends body bytes, as many as both send windows and the peer's
    /// SETTINGS_MAX_FRAME_SIZE allow (in several frames if need be), and
    /// returns how many were taken. `end_stream` applies only when all of
    /// `data` was taken (an empty `data` with `end_stream` ends the
    /// stream). Keep the rest and retry on [`Event::WindowOpened`] or
    /// [`Event::SettingsChanged`].
    ///
    /// ```
    /// use nodelike::http::h2::{Config, Connection, Role};
    /// let mut client = Connection::new(Role::Client, Config::default());
    /// let mut out = Vec::new();
    /// let id = client.open_stream(&[(&b":method"[..], &b"POST"[..]), (b":scheme", b"http"), (b":path", b"/")],
    ///                             false, &mut out).unwrap();
    /// // The peer's windows start at 65 535 bytes.
    /// assert_eq!(client.send_data(id, &[0; 100_000], true, &mut out).unwrap(), 65_535);
    /// assert_eq!(client.send_data(id, &[0; 10], true, &mut out).unwrap(), 0);
    /// ```
    pub fn send_data(
        &mut self,
        stream: u32,
        data: &[u8],
        end_stream: bool,
        out: &mut Vec<u8>,
    ) -> Result<usize, H2Error> {
        let i = self.sendable(stream)?;
        if self.streams[i].send_phase != HeadPhase::Body {
            return Err(super::error::stream(
                stream,
                ErrorCode::ProtocolError,
                "DATA before the head",
            ));
        }
        let mut sent = 0;
        loop {
            let s = &mut self.streams[i];
            let room = self
                .conn_send
                .available()
                .min(s.send.available())
                .min(self.peer.max_frame_size) as usize;
            let left = data.len() - sent;
            let n = room.min(left);
            let last = n == left;
            if n == 0 && !(last && end_stream) {
                return Ok(sent);
            }
            let fin = last && end_stream;
            frame::write_data(out, stream, &data[sent..sent + n], fin);
            // Cannot fail: n is within both windows.
            let _ = s.send.consume(n as u32);
            let _ = self.conn_send.consume(n as u32);
            sent += n;
            if fin {
                self.end_local(i, out);
            }
            if last {
                return Ok(sent);
            }
        }
    }

    /// Sends trailers, which end the stream.
    ///
    /// ```
    /// use nodelike::http::h2::{Config, Connection, Role};
    /// let mut client = Connection::new(Role::Client, Config::default());
    /// let mut out = Vec::new();
    /// let id = client.open_stream(&[(&b":method"[..], &b"POST"[..]), (b":scheme", b"http"), (b":path", b"/")],
    ///                             false, &mut out).unwrap();
    /// client.send_trailers(id, &[(&b"x-sum"[..], &b"1"[..])], &mut out).unwrap();
    /// assert!(client.send_data(id, b"late", false, &mut out).is_err());
    /// ```
    pub fn send_trailers<'a, I>(
        &mut self,
        stream: u32,
        fields: I,
        out: &mut Vec<u8>,
    ) -> Result<(), H2Error>
    where
        I: IntoIterator,
        I::Item: ToField<'a>,
    {
        let i = self.sendable(stream)?;
        if self.streams[i].send_phase != HeadPhase::Body {
            return Err(super::error::stream(
                stream,
                ErrorCode::ProtocolError,
                "trailers before the head",
            ));
        }
        self.encoded.clear();
        self.encoder
            .encode(fields.into_iter().map(ToField::to_field), &mut self.encoded);
        frame::write_header_block(out, stream, &self.encoded, true, self.peer.max_frame_size);
        self.end_local(i, out);
        Ok(())
    }

    /// Resets a stream (RST_STREAM with `code`) and forgets it; frames the
    /// peer already sent for it are ignored. Nothing happens if the stream
    /// is not open.
    ///
    /// ```
    /// use nodelike::http::h2::{Config, Connection, ErrorCode, Role};
    /// let mut client = Connection::new(Role::Client, Config::default());
    /// let mut out = Vec::new();
    /// let id = client.open_stream(&[(&b":method"[..], &b"GET"[..]), (b":scheme", b"http"), (b":path", b"/")],
    ///                             true, &mut out).unwrap();
    /// client.reset(id, ErrorCode::Cancel, &mut out);
    /// assert!(client.is_idle());
    /// ```
    pub fn reset(&mut self, stream: u32, code: ErrorCode, out: &mut Vec<u8>) {
        if let Some(i) = self.find(stream) {
            frame::write_rst_stream(out, stream, code);
            self.remove(i, Gone::ResetByUs, out);
        }
    }

    /// The application is done with `n` bytes of a stream's DATA: credit
    /// them back to the peer, in WINDOW_UPDATEs batched by half a window.
    /// Not calling this (while a request is paused) is back-pressure: the
    /// peer stops when the window is spent. Bytes of streams that went
    /// away are credited back to the connection by the connection itself.
    ///
    /// ```
    /// use nodelike::http::h2::{Config, Connection, Role};
    /// let mut server = Connection::new(Role::Server, Config::default());
    /// server.release(1, 100, &mut Vec::new()); // no such stream: nothing to do
    /// ```
    pub fn release(&mut self, stream: u32, n: usize, out: &mut Vec<u8>) {
        let Some(i) = self.find(stream) else {
            return;
        };
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        let s = &mut self.streams[i];
        let (taken, increment) = s.recv.release(n, self.recv_initial);
        // A stream the peer has finished needs no more credit.
        if let (Some(inc), true) = (increment, s.state.remote_open()) {
            frame::write_window_update(out, stream, inc);
        }
        self.release_connection(taken, out);
    }

    /// Sends a PING; its answer comes as [`Event::PingAck`].
    ///
    /// ```
    /// use nodelike::http::h2::{Config, Connection, Role};
    /// let mut out = Vec::new();
    /// Connection::new(Role::Client, Config::default()).ping(*b"12345678", &mut out);
    /// assert_eq!(&out[9..], b"12345678");
    /// ```
    pub fn ping(&mut self, payload: [u8; 8], out: &mut Vec<u8>) {
        frame::write_ping(out, false, payload);
    }

    /// Sends GOAWAY naming the highest stream the peer opened as the last
    /// we process. With NO_ERROR it is graceful: open streams finish, new
    /// ones are ignored, and once [`is_idle`](Self::is_idle) the caller
    /// closes. With any other code, or before the handshake is done (there
    /// is nothing to drain), the connection is closed at once: later calls
    /// return an error with `code`.
    ///
    /// ```
    /// use nodelike::http::h2::{Config, ConnState, Connection, ErrorCode, Role};
    /// let mut c = Connection::new(Role::Server, Config::default());
    /// let mut out = Vec::new();
    /// c.goaway(ErrorCode::InternalError, b"bye", &mut out);
    /// assert_eq!(c.state(), ConnState::Closed);
    /// assert_eq!(&out[out.len() - 3..], b"bye");
    /// ```
    pub fn goaway(&mut self, code: ErrorCode, debug: &[u8], out: &mut Vec<u8>) {
        if self.failed.is_some() {
            return;
        }
        frame::write_goaway(out, self.last_peer_stream, code, debug);
        self.goaway_sent = Some(self.last_peer_stream);
        if code != ErrorCode::NoError || self.reading != Reading::Frames {
            self.failed = Some(conn(code, "GOAWAY sent"));
        }
    }

    /// Sends GOAWAY naming `last_stream_id` as the last of the peer's
    /// streams we process, without closing the connection whatever `code`
    /// says (Node's `session.goaway(code, lastStreamID, opaqueData)`):
    /// streams in flight go on, no new ones open (ours are refused, the
    /// peer's above the id ignored). The id is capped at the highest stream
    /// the peer opened and at the id of an earlier GOAWAY (§6.8: it never
    /// grows). Refused, with nothing written, on a failed connection or
    /// when the id names one of our own streams.
    ///
    /// ```
    /// use nodelike::http::h2::{Config, ConnState, Connection, ErrorCode, Role};
    /// let mut client = Connection::new(Role::Client, Config::default());
    /// let mut out = Vec::new();
    /// client.start(&mut out);
    /// assert!(client.send_goaway(ErrorCode::NoError, 1, b"", &mut out).is_err()); // ours
    /// client.send_goaway(ErrorCode::EnhanceYourCalm, 0, b"slow down", &mut out).unwrap();
    /// assert!(matches!(client.state(), ConnState::Handshaking | ConnState::GoingAway { .. }));
    /// ```
    pub fn send_goaway(
        &mut self,
        code: ErrorCode,
        last_stream_id: u32,
        debug: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), H2Error> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        if last_stream_id != 0 && self.is_local(last_stream_id) {
            return Err(conn(
                ErrorCode::ProtocolError,
                "GOAWAY names the last of the peer's streams, not ours",
            ));
        }
        let last = last_stream_id
            .min(self.last_peer_stream)
            .min(self.goaway_sent.unwrap_or(MAX_ID));
        frame::write_goaway(out, last, code, debug);
        self.goaway_sent = Some(last);
        Ok(())
    }

    /// Starts a new flood-counting period and counts time for our
    /// unacknowledged SETTINGS: the I/O layer calls it once a second. When
    /// our oldest SETTINGS has waited `settings_timeout_ticks` ticks, GOAWAY
    /// SETTINGS_TIMEOUT goes to `out` and the connection fails (`Err`, now
    /// and from every later call): flush `out`, then close.
    ///
    /// ```
    /// use nodelike::http::h2::{Config, Connection, ErrorCode, Role};
    /// let mut c = Connection::new(Role::Server, Config { settings_timeout_ticks: 2, ..Config::default() });
    /// let mut out = Vec::new();
    /// c.start(&mut out); // our SETTINGS, never acknowledged
    /// assert!(c.tick(&mut out).is_ok());
    /// assert_eq!(c.tick(&mut out).unwrap_err().code(), ErrorCode::SettingsTimeout);
    /// ```
    pub fn tick(&mut self, out: &mut Vec<u8>) -> Result<(), H2Error> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        self.floods = Floods::default();
        let limit = self.config.settings_timeout_ticks;
        if let Some(oldest) = self.unacked.front_mut() {
            oldest.ticks = oldest.ticks.saturating_add(1);
            if limit != 0 && oldest.ticks >= limit {
                let e = conn(
                    ErrorCode::SettingsTimeout,
                    "SETTINGS not acknowledged in time",
                );
                return Err(self.fail(e, out));
            }
        }
        Ok(())
    }

    /// Changes our settings mid-session: writes a SETTINGS frame with the
    /// values of `update` that differ from what we last announced, and
    /// awaits its acknowledgment. When it comes ([`Event::SettingsAcked`])
    /// the values apply: the receive windows of open streams move by the
    /// change of INITIAL_WINDOW_SIZE, and the stream, frame and header-list
    /// limits we enforce become the new ones. Until then the peer may still
    /// act on the old values, so the larger of old and new is accepted (for
    /// the HPACK table too, RFC 7541 §4.2). Before [`start`](Self::start)
    /// it only changes what `start` sends.
    ///
    /// Refused, with nothing written: values the peer would refuse (as
    /// [`Settings::validate`] says), ENABLE_PUSH on a client (we never
    /// take pushes), 10 SETTINGS already awaiting acknowledgment, or a
    /// failed connection.
    ///
    /// ```
    /// use nodelike::http::h2::{Config, Connection, Event, Role};
    /// let mut client = Connection::new(Role::Client, Config::default());
    /// let mut server = Connection::new(Role::Server, Config::default());
    /// let (mut to_server, mut to_client) = (Vec::new(), Vec::new());
    /// client.start(&mut to_server);
    /// server.start(&mut to_client);
    /// let update = nodelike::http::h2::Settings { max_concurrent_streams: Some(5), ..*client.local_settings() };
    /// client.send_settings(update, &mut to_server).unwrap();
    /// let mut pos = 0;
    /// while let (n, Some(_)) = server.poll(&to_server[pos..], &mut to_client).unwrap() {
    ///     pos += n;
    /// }
    /// // Two acknowledgments: the first SETTINGS, then the update.
    /// let (mut pos, mut acks) = (0, 0);
    /// while let (n, Some(event)) = client.poll(&to_client[pos..], &mut to_server).unwrap() {
    ///     pos += n;
    ///     if matches!(event, Event::SettingsAcked) {
    ///         acks += 1;
    ///     }
    /// }
    /// assert_eq!((acks, client.local_settings().max_concurrent_streams), (2, Some(5)));
    /// ```
    pub fn send_settings(&mut self, update: Settings, out: &mut Vec<u8>) -> Result<(), H2Error> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        update.validate()?;
        if self.role == Role::Client && update.enable_push {
            return Err(conn(
                ErrorCode::ProtocolError,
                "a client does not take server push",
            ));
        }
        if self.our_settings == OurSettings::NotSent {
            self.ours = update;
            self.applied = update;
            self.decoder_limit = update
                .header_table_size
                .max(Settings::default().header_table_size);
            self.decoder.set_max_table_size(self.decoder_limit as usize);
            return Ok(());
        }
        if self.unacked.len() >= MAX_UNACKED_SETTINGS {
            return Err(conn(
                ErrorCode::InternalError,
                "too many SETTINGS awaiting acknowledgment",
            ));
        }
        update.encode_changes(&self.ours, out);
        self.ours = update;
        self.unacked.push_back(Unacked {
            settings: update,
            ticks: 0,
        });
        // A larger table may be used as soon as the peer reads the frame;
        // a smaller one only after its acknowledgment.
        if update.header_table_size > self.decoder_limit {
            self.decoder_limit = update.header_table_size;
            self.decoder.set_max_table_size(self.decoder_limit as usize);
        }
        Ok(())
    }

    /// Our settings in effect: the last acknowledged, or before the first
    /// acknowledgment those [`start`](Self::start) sends (from the
    /// [`Config`]).
    ///
    /// ```
    /// use nodelike::http::h2::{Config, Connection, Role};
    /// let c = Connection::new(Role::Client, Config { max_concurrent_streams: 7, ..Config::default() });
    /// assert_eq!(c.local_settings().max_concurrent_streams, Some(7));
    /// assert!(!c.local_settings().enable_push);
    /// ```
    pub fn local_settings(&self) -> &Settings {
        &self.applied
    }

    /// How many of our SETTINGS frames await acknowledgment.
    ///
    /// ```
    /// use nodelike::http::h2::{Config, Connection, Role};
    /// let mut c = Connection::new(Role::Client, Config::default());
    /// c.start(&mut Vec::new());
    /// assert_eq!(c.settings_unacked(), 1);
    /// ```
    pub fn settings_unacked(&self) -> usize {
        self.unacked.len()
    }

    /// The most permissive value of one of our settings that the peer may
    /// be acting on: the one in effect or any not yet acknowledged.
    fn accepted(&self, value: impl Fn(&Settings) -> u32) -> u32 {
        self.unacked
            .iter()
            .map(|u| value(&u.settings))
            .fold(value(&self.applied), u32::max)
    }

    /// Whether no stream is open (after a graceful GOAWAY: time to close).
    ///
    /// ```
    /// use nodelike::http::h2::{Config, Connection, Role};
    /// assert!(Connection::new(Role::Server, Config::default()).is_idle());
    /// ```
    pub fn is_idle(&self) -> bool {
        self.streams.is_empty()
    }

    /// Where the connection is in its life.
    ///
    /// ```
    /// use nodelike::http::h2::{Config, ConnState, Connection, Role};
    /// assert_eq!(Connection::new(Role::Server, Config::default()).state(), ConnState::Handshaking);
    /// ```
    pub fn state(&self) -> ConnState {
        if self.failed.is_some() {
            ConnState::Closed
        } else if self.reading != Reading::Frames {
            ConnState::Handshaking
        } else if self.goaway_sent.is_some() || self.goaway_received.is_some() {
            ConnState::GoingAway {
                sent: self.goaway_sent,
                received: self.goaway_received,
            }
        } else {
            ConnState::Open
        }
    }

    /// The state of a stream (`Idle` for one never opened, `Closed` for
    /// one that is gone).
    ///
    /// ```
    /// use nodelike::http::h2::{Config, Connection, Role, StreamState};
    /// let mut client = Connection::new(Role::Client, Config::default());
    /// let id = client.open_stream(&[(&b":method"[..], &b"GET"[..]), (b":scheme", b"http"), (b":path", b"/")],
    ///                             true, &mut Vec::new()).unwrap();
    /// assert_eq!(client.stream_state(id), StreamState::HalfClosedLocal);
    /// assert_eq!(client.stream_state(3), StreamState::Idle);
    /// ```
    pub fn stream_state(&self, stream: u32) -> StreamState {
        match self.lookup(stream) {
            Lookup::Active(i) => self.streams[i].state,
            Lookup::Idle => StreamState::Idle,
            Lookup::Recent(_) | Lookup::Forgotten => StreamState::Closed,
        }
    }

    /// The peer's settings as last applied.
    ///
    /// ```
    /// use nodelike::http::h2::{Config, Connection, Role, Settings};
    /// assert_eq!(*Connection::new(Role::Server, Config::default()).peer_settings(), Settings::default());
    /// ```
    pub fn peer_settings(&self) -> &Settings {
        &self.peer
    }

    // ---- reading ----

    fn event<'i>(&self, found: Found<'i>) -> Event<'i, '_> {
        match found {
            Found::Headers { stream, end_stream } => Event::Headers {
                stream,
                fields: self.fields.view(),
                end_stream,
            },
            Found::Trailers { stream } => Event::Trailers {
                stream,
                fields: self.fields.view(),
            },
            Found::Data {
                stream,
                data,
                end_stream,
            } => Event::Data {
                stream,
                data,
                end_stream,
            },
            Found::Reset {
                stream,
                code,
                by_peer,
            } => Event::Reset {
                stream,
                code,
                by_peer,
            },
            Found::WindowOpened { stream } => Event::WindowOpened { stream },
            Found::PingAck { payload } => Event::PingAck { payload },
            Found::SettingsChanged => Event::SettingsChanged,
            Found::SettingsAcked => Event::SettingsAcked,
            Found::GoAway {
                last_stream_id,
                code,
                debug,
            } => Event::GoAway {
                last_stream_id,
                code,
                debug,
            },
            Found::StreamClosed { stream } => Event::StreamClosed { stream },
        }
    }

    /// Records a connection error: GOAWAY goes out, every later call
    /// returns the error.
    fn fail(&mut self, e: H2Error, out: &mut Vec<u8>) -> H2Error {
        frame::write_goaway(out, self.last_peer_stream, e.code(), e.reason().as_bytes());
        self.failed = Some(e);
        e
    }

    /// Handles a stream error: RST_STREAM, and an event when the
    /// application knew the stream. Resets we send count as a flood too
    /// (a peer provoking them costs us work as its own resets do).
    fn stream_error(
        &mut self,
        id: u32,
        code: ErrorCode,
        out: &mut Vec<u8>,
    ) -> Result<Option<Found<'static>>, H2Error> {
        bump(
            &mut self.floods.resets,
            self.config.max_resets_per_tick,
            "too many stream errors",
        )?;
        frame::write_rst_stream(out, id, code);
        match self.find(id) {
            Some(i) => {
                self.remove(i, Gone::ResetByUs, out);
                Ok(Some(Found::Reset {
                    stream: id,
                    code,
                    by_peer: false,
                }))
            }
            None => {
                self.recent.remember(id, Gone::ResetByUs);
                Ok(None)
            }
        }
    }

    fn on_frame<'i>(
        &mut self,
        h: &FrameHeader,
        payload: &'i [u8],
        out: &mut Vec<u8>,
    ) -> Result<Option<Found<'i>>, H2Error> {
        let parsed = frame::parse(h, payload);
        // §6.10: between HEADERS and its last CONTINUATION nothing else,
        // not even an unknown or malformed frame type, may come.
        if let BlockState::Continuing(ctx) = self.block_state {
            if h.kind != frame::TYPE_CONTINUATION || h.stream != ctx.stream {
                return Err(conn(ErrorCode::ProtocolError, "expected CONTINUATION"));
            }
        }
        if self.reading == Reading::FirstSettings {
            if !matches!(parsed, Ok(Frame::Settings { ack: false, .. })) {
                // A malformed SETTINGS keeps its own error; anything else
                // (even a frame with only a stream error) breaks §3.4.
                if let Err(e @ H2Error::Connection { .. }) = parsed {
                    return Err(e);
                }
                return Err(conn(
                    ErrorCode::ProtocolError,
                    "first frame is not SETTINGS",
                ));
            }
            self.reading = Reading::Frames;
        }
        match parsed? {
            Frame::Data {
                stream,
                data,
                flow_len,
                end_stream,
            } => self.on_data(stream, data, flow_len, end_stream, out),
            Frame::Headers {
                stream,
                block,
                priority,
                end_stream,
                end_headers,
            } => {
                let ctx = BlockContext {
                    stream,
                    end_stream,
                    self_dependent: priority.is_some_and(|p| p.dependency == stream),
                };
                if end_headers {
                    // The usual case: decode straight from the input.
                    return self.on_header_block(ctx, block, out);
                }
                if block.len() > self.config.max_header_block_bytes {
                    return Err(conn(ErrorCode::EnhanceYourCalm, "header block too large"));
                }
                self.block.clear();
                self.block.extend_from_slice(block);
                self.block_state = BlockState::Continuing(ctx);
                Ok(None)
            }
            Frame::Continuation {
                block, end_headers, ..
            } => {
                let BlockState::Continuing(ctx) = self.block_state else {
                    return Err(conn(
                        ErrorCode::ProtocolError,
                        "CONTINUATION without HEADERS",
                    ));
                };
                if self.block.len().saturating_add(block.len()) > self.config.max_header_block_bytes
                {
                    return Err(conn(ErrorCode::EnhanceYourCalm, "header block too large"));
                }
                self.block.extend_from_slice(block);
                if !end_headers {
                    return Ok(None);
                }
                self.block_state = BlockState::Idle;
                // Taken out for the call and put back: keeps its capacity.
                let gathered = std::mem::take(&mut self.block);
                let result = self.on_header_block(ctx, &gathered, out);
                self.block = gathered;
                self.block.clear();
                result
            }
            Frame::Priority { stream, priority } => {
                if priority.dependency == stream {
                    return Err(super::error::stream(
                        stream,
                        ErrorCode::ProtocolError,
                        "stream depends on itself",
                    ));
                }
                Ok(None)
            }
            Frame::RstStream { stream, code } => self.on_rst_stream(stream, code, out),
            Frame::Settings { ack, payload } => self.on_settings(ack, payload, out),
            Frame::PushPromise { .. } => Err(conn(
                ErrorCode::ProtocolError,
                match self.role {
                    Role::Server => "PUSH_PROMISE from a client",
                    Role::Client => "PUSH_PROMISE with push disabled",
                },
            )),
            Frame::Ping { ack: true, payload } => Ok(Some(Found::PingAck { payload })),
            Frame::Ping {
                ack: false,
                payload,
            } => {
                bump(
                    &mut self.floods.pings,
                    self.config.max_pings_per_tick,
                    "PING flood",
                )?;
                frame::write_ping(out, true, payload);
                Ok(None)
            }
            Frame::GoAway {
                last_stream_id,
                code,
                debug,
            } => {
                let last = self
                    .goaway_received
                    .map_or(last_stream_id, |l| l.min(last_stream_id));
                self.goaway_received = Some(last);
                // Our streams above `last` were not processed: they are
                // dropped and reported, so the caller may retry them.
                let mut i = 0;
                while i < self.streams.len() {
                    let id = self.streams[i].id;
                    if self.is_local(id) && id > last {
                        self.remove(i, Gone::ResetByPeer, out);
                        self.deferred.push_back(Deferred::Refused(id));
                    } else {
                        i += 1;
                    }
                }
                Ok(Some(Found::GoAway {
                    last_stream_id,
                    code,
                    debug,
                }))
            }
            Frame::WindowUpdate { stream, increment } => self.on_window_update(stream, increment),
            Frame::Unknown => Ok(None),
        }
    }

    fn on_data<'i>(
        &mut self,
        id: u32,
        data: &'i [u8],
        flow_len: u32,
        end_stream: bool,
        out: &mut Vec<u8>,
    ) -> Result<Option<Found<'i>>, H2Error> {
        // The connection window counts every DATA frame, whatever its
        // stream's fate (§6.9).
        if self.conn_recv.receive(flow_len).is_err() {
            return Err(conn(
                ErrorCode::FlowControlError,
                "DATA past the connection window",
            ));
        }
        let i = match self.lookup(id) {
            Lookup::Active(i) => i,
            Lookup::Idle => return Err(conn(ErrorCode::ProtocolError, "DATA on an idle stream")),
            Lookup::Recent(Gone::ResetByUs) => {
                self.release_connection(flow_len, out);
                return Ok(None);
            }
            Lookup::Recent(Gone::Ended) => {
                return Err(conn(ErrorCode::StreamClosed, "DATA on a closed stream"));
            }
            // A stream the peer reset, or one too old to remember how it
            // ended: only that stream is in error.
            Lookup::Recent(Gone::ResetByPeer) | Lookup::Forgotten => {
                self.release_connection(flow_len, out);
                return Err(stream(
                    id,
                    ErrorCode::StreamClosed,
                    "DATA on a closed stream",
                ));
            }
        };
        let s = &mut self.streams[i];
        let problem = if !s.state.remote_open() {
            Some((ErrorCode::StreamClosed, "DATA after END_STREAM"))
        } else if s.recv_phase != HeadPhase::Body {
            Some((ErrorCode::ProtocolError, "DATA before HEADERS"))
        } else if s.recv.receive(flow_len).is_err() {
            Some((ErrorCode::FlowControlError, "DATA past the stream window"))
        } else {
            None
        };
        if let Some((code, reason)) = problem {
            self.release_connection(flow_len, out);
            return Err(stream(id, code, reason));
        }
        // Padding is ours to give back at once; the data waits for the
        // application's release.
        let padding = flow_len.saturating_sub(data.len() as u32);
        if padding > 0 {
            self.release(id, padding as usize, out);
        }
        let s = &mut self.streams[i];
        if let BodyLength::Remaining(left) = s.body_length {
            let left = left.checked_sub(data.len() as u64).ok_or(stream(
                id,
                ErrorCode::ProtocolError,
                "body longer than content-length",
            ))?;
            if end_stream && left != 0 {
                return Err(stream(
                    id,
                    ErrorCode::ProtocolError,
                    "body shorter than content-length",
                ));
            }
            s.body_length = BodyLength::Remaining(left);
        }
        if data.is_empty() && !end_stream {
            bump(
                &mut self.floods.empty_data,
                self.config.max_empty_data_per_tick,
                "empty DATA flood",
            )?;
            return Ok(None);
        }
        if end_stream {
            self.end_remote(i, out);
        }
        Ok(Some(Found::Data {
            stream: id,
            data,
            end_stream,
        }))
    }

    /// Decodes a complete header block, then decides what it means for
    /// its stream. Decoding comes first whatever the stream's fate: the
    /// HPACK table must see every block (§4.3).
    fn on_header_block(
        &mut self,
        ctx: BlockContext,
        block: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<Option<Found<'static>>, H2Error> {
        self.fields.clear();
        let list_limit = self.accepted(|s| s.max_header_list_size.unwrap_or(u32::MAX));
        let fields = &mut self.fields;
        let decoded = self
            .decoder
            .decode(block, list_limit as usize, &mut |name, value| {
                fields.push(name, value)
            });
        let too_large = match decoded {
            Ok(()) => false,
            Err(HpackError::ListTooLarge) => true,
            Err(_) => {
                return Err(conn(
                    ErrorCode::CompressionError,
                    "header block cannot be decoded",
                ))
            }
        };
        let id = ctx.stream;
        let malformed = |reason| stream(id, ErrorCode::ProtocolError, reason);
        match self.lookup(id) {
            Lookup::Active(i) => {
                if !self.streams[i].state.remote_open() {
                    return Err(stream(
                        id,
                        ErrorCode::StreamClosed,
                        "HEADERS after END_STREAM",
                    ));
                }
                if ctx.self_dependent {
                    return Err(malformed("stream depends on itself"));
                }
                if too_large {
                    return Err(malformed(
                        "header list larger than SETTINGS_MAX_HEADER_LIST_SIZE",
                    ));
                }
                match self.streams[i].recv_phase {
                    HeadPhase::AwaitingHead => self.on_response_head(i, ctx, out),
                    HeadPhase::Body => {
                        if !ctx.end_stream {
                            return Err(malformed("trailers without END_STREAM"));
                        }
                        check(self.fields.view(), SectionKind::Trailers).map_err(malformed)?;
                        if matches!(self.streams[i].body_length, BodyLength::Remaining(n) if n > 0)
                        {
                            return Err(malformed("body shorter than content-length"));
                        }
                        self.end_remote(i, out);
                        Ok(Some(Found::Trailers { stream: id }))
                    }
                }
            }
            Lookup::Idle => {
                if self.role == Role::Client || self.is_local(id) {
                    return Err(conn(
                        ErrorCode::ProtocolError,
                        "HEADERS opening a stream the peer may not open",
                    ));
                }
                self.on_request_head(ctx, too_large)
            }
            Lookup::Recent(Gone::ResetByUs) => Ok(None),
            Lookup::Recent(Gone::ResetByPeer) => Err(stream(
                id,
                ErrorCode::StreamClosed,
                "HEADERS on a stream the peer reset",
            )),
            Lookup::Recent(Gone::Ended) => {
                Err(conn(ErrorCode::StreamClosed, "HEADERS on a closed stream"))
            }
            Lookup::Forgotten => Err(conn(ErrorCode::ProtocolError, "stream id not increasing")),
        }
    }

    /// A new stream from a client (server side).
    fn on_request_head(
        &mut self,
        ctx: BlockContext,
        too_large: bool,
    ) -> Result<Option<Found<'static>>, H2Error> {
        let id = ctx.stream;
        self.last_peer_stream = id;
        if self.goaway_sent.is_some_and(|last| id > last) {
            // §6.8: after our GOAWAY, new streams are ignored.
            self.recent.remember(id, Gone::ResetByUs);
            return Ok(None);
        }
        let malformed = |reason| stream(id, ErrorCode::ProtocolError, reason);
        if ctx.self_dependent {
            return Err(malformed("stream depends on itself"));
        }
        if too_large {
            return Err(malformed(
                "header list larger than SETTINGS_MAX_HEADER_LIST_SIZE",
            ));
        }
        let info = check(self.fields.view(), SectionKind::Request).map_err(malformed)?;
        let body_length = match info.content_length {
            Some(n) if ctx.end_stream && n > 0 => {
                return Err(malformed("body shorter than content-length"))
            }
            Some(n) => BodyLength::Remaining(n),
            None => BodyLength::Unchecked,
        };
        let limit = self.accepted(|s| s.max_concurrent_streams.unwrap_or(u32::MAX));
        if self.streams.len() >= limit as usize {
            return Err(stream(
                id,
                ErrorCode::RefusedStream,
                "SETTINGS_MAX_CONCURRENT_STREAMS reached",
            ));
        }
        let state = if ctx.end_stream {
            StreamState::HalfClosedRemote
        } else {
            StreamState::Open
        };
        let mut s = Stream::new(id, state, self.peer.initial_window_size, self.recv_initial);
        s.recv_phase = HeadPhase::Body;
        s.body_length = body_length;
        self.streams.push(s);
        Ok(Some(Found::Headers {
            stream: id,
            end_stream: ctx.end_stream,
        }))
    }

    /// A response head on one of our streams (client side).
    fn on_response_head(
        &mut self,
        i: usize,
        ctx: BlockContext,
        out: &mut Vec<u8>,
    ) -> Result<Option<Found<'static>>, H2Error> {
        let id = ctx.stream;
        let malformed = |reason| stream(id, ErrorCode::ProtocolError, reason);
        let info = check(self.fields.view(), SectionKind::Response).map_err(malformed)?;
        let s = &mut self.streams[i];
        if info.status < 200 {
            if ctx.end_stream {
                return Err(malformed("informational response with END_STREAM"));
            }
            return Ok(Some(Found::Headers {
                stream: id,
                end_stream: false,
            }));
        }
        // A response to HEAD, or a 304, describes a body it does not carry.
        s.body_length = match info.content_length {
            Some(n) if !s.head_request && info.status != 304 => {
                if ctx.end_stream && n > 0 {
                    return Err(malformed("body shorter than content-length"));
                }
                BodyLength::Remaining(n)
            }
            _ => BodyLength::Unchecked,
        };
        s.recv_phase = HeadPhase::Body;
        if ctx.end_stream {
            self.end_remote(i, out);
        }
        Ok(Some(Found::Headers {
            stream: id,
            end_stream: ctx.end_stream,
        }))
    }

    fn on_rst_stream(
        &mut self,
        id: u32,
        code: ErrorCode,
        out: &mut Vec<u8>,
    ) -> Result<Option<Found<'static>>, H2Error> {
        bump(
            &mut self.floods.resets,
            self.config.max_resets_per_tick,
            "RST_STREAM flood",
        )?;
        match self.lookup(id) {
            Lookup::Idle => Err(conn(
                ErrorCode::ProtocolError,
                "RST_STREAM on an idle stream",
            )),
            Lookup::Active(i) => {
                self.remove(i, Gone::ResetByPeer, out);
                Ok(Some(Found::Reset {
                    stream: id,
                    code,
                    by_peer: true,
                }))
            }
            // §5.1: RST_STREAM on a closed stream is ignored.
            Lookup::Recent(_) | Lookup::Forgotten => Ok(None),
        }
    }

    fn on_settings(
        &mut self,
        ack: bool,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<Option<Found<'static>>, H2Error> {
        if ack {
            // §6.5.3: acknowledgments come in the order of our frames; one
            // we did not ask for is ignored (an old peer bug, harmless).
            let Some(acked) = self.unacked.pop_front() else {
                return Ok(None);
            };
            let acked = acked.settings;
            self.applied = acked;
            // Our stream window now applies: open streams move by the
            // difference, as the peer's view of them does (§6.9.2).
            let delta = i64::from(acked.initial_window_size) - i64::from(self.recv_initial);
            for s in &mut self.streams {
                let _ = s.recv.window.adjust(delta);
            }
            self.recv_initial = acked.initial_window_size;
            // RFC 7541 §4.2: the peer may use any size up to one it has
            // not yet acknowledged, so a smaller size waits for its own
            // acknowledgment.
            self.decoder_limit = self.accepted(|s| s.header_table_size);
            self.decoder.set_max_table_size(self.decoder_limit as usize);
            return Ok(Some(Found::SettingsAcked));
        }
        bump(
            &mut self.floods.settings,
            self.config.max_settings_per_tick,
            "SETTINGS flood",
        )?;
        if self.role == Role::Client && super::settings::turns_push_on(payload) {
            return Err(conn(
                ErrorCode::ProtocolError,
                "server set ENABLE_PUSH to 1",
            ));
        }
        let before = self.peer;
        self.peer.apply(payload)?;
        let delta =
            i64::from(self.peer.initial_window_size) - i64::from(before.initial_window_size);
        if delta != 0 {
            for s in &mut self.streams {
                if s.send.adjust(delta).is_err() {
                    return Err(conn(
                        ErrorCode::FlowControlError,
                        "SETTINGS_INITIAL_WINDOW_SIZE overflows a window",
                    ));
                }
            }
        }
        if self.peer.header_table_size != before.header_table_size {
            self.encoder
                .set_max_table_size(self.peer.header_table_size as usize);
        }
        frame::write_settings_ack(out);
        Ok(Some(Found::SettingsChanged))
    }

    fn on_window_update(
        &mut self,
        id: u32,
        increment: u32,
    ) -> Result<Option<Found<'static>>, H2Error> {
        if id == 0 {
            if self.conn_send.grow(increment).is_err() {
                return Err(conn(
                    ErrorCode::FlowControlError,
                    "connection window over 2^31-1",
                ));
            }
            return Ok(Some(Found::WindowOpened { stream: None }));
        }
        match self.lookup(id) {
            Lookup::Idle => Err(conn(
                ErrorCode::ProtocolError,
                "WINDOW_UPDATE on an idle stream",
            )),
            Lookup::Active(i) => {
                let s = &mut self.streams[i];
                if s.send.grow(increment).is_err() {
                    return Err(stream(
                        id,
                        ErrorCode::FlowControlError,
                        "stream window over 2^31-1",
                    ));
                }
                // Nothing to retry once our side is done.
                Ok(s.state
                    .local_open()
                    .then_some(Found::WindowOpened { stream: Some(id) }))
            }
            // §5.1: WINDOW_UPDATE may trail a stream's end; ignored.
            Lookup::Recent(_) | Lookup::Forgotten => Ok(None),
        }
    }

    // ---- streams ----

    /// Whether `id` is of the kind we open (odd for a client, even for a
    /// server, which never opens any).
    fn is_local(&self, id: u32) -> bool {
        (id % 2 == 1) == (self.role == Role::Client)
    }

    fn find(&self, id: u32) -> Option<usize> {
        self.streams.iter().position(|s| s.id == id)
    }

    fn lookup(&self, id: u32) -> Lookup {
        if let Some(i) = self.find(id) {
            return Lookup::Active(i);
        }
        let highest = if self.is_local(id) {
            self.last_local_stream
        } else {
            self.last_peer_stream
        };
        if id > highest {
            return Lookup::Idle;
        }
        self.recent
            .find(id)
            .map_or(Lookup::Forgotten, Lookup::Recent)
    }

    /// The stream's index, if we may still send on it.
    fn sendable(&self, id: u32) -> Result<usize, H2Error> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        match self.find(id) {
            Some(i) if self.streams[i].state.local_open() => Ok(i),
            _ => Err(stream(
                id,
                ErrorCode::StreamClosed,
                "stream not open for sending",
            )),
        }
    }

    /// Our END_STREAM went out (StreamClosed comes at the next poll if
    /// that closed the stream).
    fn end_local(&mut self, i: usize, out: &mut Vec<u8>) {
        let s = &mut self.streams[i];
        s.state = s.state.end_local();
        if s.state == StreamState::Closed {
            let id = s.id;
            self.remove(i, Gone::Ended, out);
            self.deferred.push_back(Deferred::StreamClosed(id));
        }
    }

    /// The peer's END_STREAM came in (the event for it is returned first,
    /// then StreamClosed if that closed the stream).
    fn end_remote(&mut self, i: usize, out: &mut Vec<u8>) {
        let s = &mut self.streams[i];
        s.state = s.state.end_remote();
        if s.state == StreamState::Closed {
            let id = s.id;
            self.remove(i, Gone::Ended, out);
            self.deferred.push_back(Deferred::StreamClosed(id));
        }
    }

    /// Forgets a stream, crediting the connection with what it still held.
    fn remove(&mut self, i: usize, how: Gone, out: &mut Vec<u8>) {
        let held = self.streams.get(i).map_or(0, |s| s.recv.held());
        self.drop_record(i, how);
        self.release_connection(held, out);
    }

    fn drop_record(&mut self, i: usize, how: Gone) {
        if i < self.streams.len() {
            let s = self.streams.swap_remove(i);
            self.recent.remember(s.id, how);
        }
    }

    fn release_connection(&mut self, n: u32, out: &mut Vec<u8>) {
        let (_, increment) = self
            .conn_recv
            .release(n, self.config.connection_window_size);
        if let Some(inc) = increment {
            frame::write_window_update(out, 0, inc);
        }
    }
}

#[cfg(test)]
impl Connection {
    /// The capacities of every growable buffer, for the steady-state test.
    pub(crate) fn capacities(&self) -> [usize; 5] {
        [
            self.streams.capacity(),
            self.block.capacity(),
            self.fields.capacity(),
            self.encoded.capacity(),
            self.deferred.capacity(),
        ]
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role)
            .field("state", &self.state())
            .field("streams", &self.streams.len())
            .finish()
    }
}
