//! # The guide: how an event-loop runtime works, by running one
//!
//! A path for a Rust programmer who has not used an event loop: each
//! chapter explains one idea, shows it in code that `cargo test` compiles
//! and runs, links the source files that implement it, and ends with an
//! exercise whose answer is a test in `tests/guide_exercises.rs`.
//!
//! 1. [The loop](ch01_the_loop): `run`, timers, `next_tick`, the order of
//!    a turn (I/O before timers), what keeps the loop alive, and when `run`
//!    returns.
//! 2. [Handles](ch02_handles): `Copy` key-and-generation values,
//!    re-entrancy, stale handles, why `close` never fires inline.
//! 3. [A server from scratch](ch03_a_server): `request`, `data`, `end`,
//!    `close`, event by event.
//! 4. [Back-pressure](ch04_back_pressure): `write` returning `false`,
//!    `drain`, `pause`/`resume`, measured.
//! 5. [The parser](ch05_the_parser): sans-IO, and why strictness matters
//!    (a smuggling attempt refused).
//! 6. [Timeouts](ch06_timeouts): headers, request, keep-alive, idle; what
//!    each defends against.
//! 7. [The client and the agent](ch07_the_client): pooling, queueing,
//!    errors, timeouts (`set_timeout`, `set_deadline`), and the guide's
//!    goal, the proxy.
//! 8. [Benchmarking against Node](ch08_benchmarking): how to run it, and
//!    why CPU per request ranks servers.
//! 9. TLS as a transport: `ch09_tls` (built with the `tls` feature, the
//!    default).
//! 10. [One loop per core, and scaling out](ch10_one_loop_per_core): a
//!     `broadcast` that reaches each loop's server (a thread-local),
//!     signals and a graceful stop.
//! 11. [Streams](ch11_streams): the `Readable`/`Writable` contract, `pipe`
//!     (chapter 4's pump, named), `pipeline` and `finished` (a chain that
//!     fails as one), and the worker pool that keeps blocking work off the
//!     loop.
//! 12. [WebSocket](ch12_websocket): the handshake, frames and masking, a
//!     strict receiver, back-pressure, the close handshake and the
//!     heartbeat, compression.
//! 13. HTTP/2: `ch13_http2` (with the `tls` feature, the default): ALPN
//!     and the preface, the sans-IO core,
//!     streams as exchanges behind the same handles, flow control as
//!     back-pressure, and the limits one connection of many streams needs.
//!
//! By the end you can write, from the chapters alone, a streaming proxy like
//! `examples/proxy.rs`: a server (chapter 3) whose handler is a client
//! (chapter 7), with back-pressure both ways (chapter 4); upstream errors
//! answered with 502, or with a cut-short response (`res.destroy()`) once
//! the head went out; timeouts (the server's in chapter 6, the upstream
//! request's in chapter 7); and a graceful stop on SIGTERM (chapter 10).
//! Its answer test checks each of these.

#[doc = include_str!("ch01_the_loop.md")]
pub mod ch01_the_loop {}

#[doc = include_str!("ch02_handles.md")]
pub mod ch02_handles {}

#[doc = include_str!("ch03_a_server.md")]
pub mod ch03_a_server {}

#[doc = include_str!("ch04_back_pressure.md")]
pub mod ch04_back_pressure {}

#[doc = include_str!("ch05_the_parser.md")]
pub mod ch05_the_parser {}

#[doc = include_str!("ch06_timeouts.md")]
pub mod ch06_timeouts {}

#[doc = include_str!("ch07_the_client.md")]
pub mod ch07_the_client {}

#[doc = include_str!("ch08_benchmarking.md")]
pub mod ch08_benchmarking {}

#[cfg(feature = "tls")]
#[doc = include_str!("ch09_tls.md")]
pub mod ch09_tls {}

#[doc = include_str!("ch10_one_loop_per_core.md")]
pub mod ch10_one_loop_per_core {}

#[doc = include_str!("ch11_streams.md")]
pub mod ch11_streams {}

#[doc = include_str!("ch12_websocket.md")]
pub mod ch12_websocket {}

#[cfg(feature = "tls")]
#[doc = include_str!("ch13_http2.md")]
pub mod ch13_http2 {}
