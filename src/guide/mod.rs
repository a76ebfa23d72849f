//! # The guide: how an event-loop runtime works, by running one
//!
//! A path for a Rust programmer who has not used an event loop: each
//! chapter explains one idea, shows it in code that `cargo test` compiles
//! and runs, links the source files that implement it, and ends with an
//! exercise whose answer is a test in `tests/guide_exercises.rs`.
//!
//! 1. [The loop](ch01_the_loop): `run`, timers, `next_tick`, what keeps the
//!    loop alive, and when `run` returns.
//! 2. [Handles](ch02_handles): `Copy` key-and-generation values,
//!    re-entrancy, stale handles, why `close` never fires inline.
//! 3. [A server from scratch](ch03_a_server): `request`, `data`, `end`,
//!    `close`, event by event.
//!
//! Chapters still to come: back-pressure, the parser and strictness,
//! timeouts, the client and the agent, benchmarking against Node, TLS as a
//! transport, and one loop per core behind a load balancer (for now, see
//! `ARCHITECTURE.md`, `SECURITY.md` and `docs/deploy.md`).

#[doc = include_str!("ch01_the_loop.md")]
pub mod ch01_the_loop {}

#[doc = include_str!("ch02_handles.md")]
pub mod ch02_handles {}

#[doc = include_str!("ch03_a_server.md")]
pub mod ch03_a_server {}
