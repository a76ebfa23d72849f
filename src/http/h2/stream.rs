//! [`StreamState`], the lifecycle of RFC 9113 §5.1, and the per-stream
//! record the connection keeps while a stream is not closed.
//!
//! The reserved states of §5.1 exist only for server push, which we never
//! do and which clients may not do, so they are not here.

use super::flow::{RecvWindow, Window};

/// Where a stream is in its life (RFC 9113 §5.1), from our side:
/// "local" is what we send, "remote" what the peer sends.
///
/// ```
/// use nodelike::http::h2::StreamState;
/// let s = StreamState::Open.end_remote();
/// assert_eq!(s, StreamState::HalfClosedRemote);
/// assert_eq!(s.end_local(), StreamState::Closed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamState {
    /// Not used yet.
    Idle,
    /// Both sides may send.
    Open,
    /// We sent END_STREAM; the peer may still send.
    HalfClosedLocal,
    /// The peer sent END_STREAM; we may still send.
    HalfClosedRemote,
    /// Both sides are done, or the stream was reset.
    Closed,
}

impl StreamState {
    /// The state after the peer's END_STREAM.
    ///
    /// ```
    /// use nodelike::http::h2::StreamState;
    /// assert_eq!(StreamState::HalfClosedLocal.end_remote(), StreamState::Closed);
    /// ```
    pub fn end_remote(self) -> StreamState {
        match self {
            StreamState::Idle | StreamState::Open => StreamState::HalfClosedRemote,
            _ => StreamState::Closed,
        }
    }

    /// The state after our END_STREAM.
    ///
    /// ```
    /// use nodelike::http::h2::StreamState;
    /// assert_eq!(StreamState::Open.end_local(), StreamState::HalfClosedLocal);
    /// ```
    pub fn end_local(self) -> StreamState {
        match self {
            StreamState::Idle | StreamState::Open => StreamState::HalfClosedLocal,
            _ => StreamState::Closed,
        }
    }

    /// Whether the peer may still send on the stream.
    ///
    /// ```
    /// use nodelike::http::h2::StreamState;
    /// assert!(StreamState::HalfClosedLocal.remote_open());
    /// assert!(!StreamState::HalfClosedRemote.remote_open());
    /// ```
    pub fn remote_open(self) -> bool {
        matches!(self, StreamState::Open | StreamState::HalfClosedLocal)
    }

    /// Whether we may still send on the stream.
    ///
    /// ```
    /// use nodelike::http::h2::StreamState;
    /// assert!(StreamState::HalfClosedRemote.local_open());
    /// assert!(!StreamState::Closed.local_open());
    /// ```
    pub fn local_open(self) -> bool {
        matches!(self, StreamState::Open | StreamState::HalfClosedRemote)
    }
}

/// Which header section comes next from one side of a stream (§8.1: one
/// head, possibly after 1xx informational heads on a response, then data,
/// then optional trailers that end the stream).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeadPhase {
    /// The head (request or final response) has not been seen yet.
    AwaitingHead,
    /// The head is done: DATA, or trailers, may come.
    Body,
}

/// What the peer's body must add up to: content-length against the sum
/// of DATA (§8.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyLength {
    /// No content-length, or one that does not describe the body (a
    /// response to HEAD, a 304).
    Unchecked,
    /// This many bytes are still to come.
    Remaining(u64),
}

/// What the connection keeps per open or half-closed stream: small
/// (40 bytes), so a connection at its stream limit stays small.
#[derive(Debug, Clone)]
pub(crate) struct Stream {
    pub(crate) id: u32,
    pub(crate) state: StreamState,
    /// What we may still send.
    pub(crate) send: Window,
    /// What the peer may still send.
    pub(crate) recv: RecvWindow,
    /// The peer's next header section.
    pub(crate) recv_phase: HeadPhase,
    /// Our next header section.
    pub(crate) send_phase: HeadPhase,
    pub(crate) body_length: BodyLength,
    /// A client stream whose request was HEAD: the response's
    /// content-length says nothing about its (empty) body.
    pub(crate) head_request: bool,
}

impl Stream {
    pub(crate) fn new(id: u32, state: StreamState, send_window: u32, recv_window: u32) -> Stream {
        Stream {
            id,
            state,
            send: Window::new(send_window),
            recv: RecvWindow::new(recv_window),
            recv_phase: HeadPhase::AwaitingHead,
            send_phase: HeadPhase::AwaitingHead,
            body_length: BodyLength::Unchecked,
            head_request: false,
        }
    }
}
