//! A socket record's lifecycle as named states, after hyper's
//! `Reading`/`Writing`/`KA`: where the socket is in its life ([`Life`]),
//! how far the peer's side has gone ([`Reading`]), how far ours has
//! ([`Writing`]), and the two pending things that are not a stage of
//! either (a user's [`Flow`] and an owed [`Drain`]).
//!
//! Each transition is a method here, with the reason it exists; `socket.rs`
//! and `io.rs` call them instead of setting flags. What the old booleans
//! allowed and no socket could mean (lingering while not shut, a truncated
//! stream without an end, `finish` without `end()`, a cause without a
//! destroy) cannot be written down any more.

use super::Cause;

/// Where a socket is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Life {
    /// A connect is under way: nothing is written until it is up (output
    /// queues), and readiness first asks the transport how it went.
    Connecting,
    /// Connected (or accepted): reading and writing as the sides allow.
    Open,
    /// Our side is shut, and we read only to discard until the peer closes
    /// or the linger timer ends it (after a final `Connection: close`
    /// response or a protocol error), so the peer reads our last answer
    /// instead of a reset.
    Lingering,
    /// The descriptor is closed and nothing more happens on it; `close` is
    /// emitted on the next turn, when the record is dropped. Carries why,
    /// for the protocol's `closed`.
    Destroyed(Cause),
}

impl Life {
    pub(super) fn is_destroyed(self) -> bool {
        matches!(self, Life::Destroyed(_))
    }

    pub(super) fn is_connecting(self) -> bool {
        self == Life::Connecting
    }

    /// Whether input still goes to the protocol (a lingering socket's
    /// bytes are read only to be thrown away).
    pub(super) fn delivers_input(self) -> bool {
        matches!(self, Life::Connecting | Life::Open)
    }

    /// The connect finished (either way): the socket is open; a failed one
    /// is destroyed right after by the caller.
    pub(super) fn connected(&mut self) {
        if *self == Life::Connecting {
            *self = Life::Open;
        }
    }

    /// Starts lingering; returns `false` if it already was (the linger
    /// timer is armed once) or is destroyed.
    pub(super) fn start_linger(&mut self) -> bool {
        match *self {
            Life::Connecting | Life::Open => {
                *self = Life::Lingering;
                true
            }
            Life::Lingering | Life::Destroyed(_) => false,
        }
    }

    /// Destroys the socket; returns `false` if it already was (a socket is
    /// destroyed once, and the first cause is the one reported).
    pub(super) fn destroy(&mut self, cause: Cause) -> bool {
        if self.is_destroyed() {
            return false;
        }
        *self = Life::Destroyed(cause);
        true
    }

    /// Why the socket was destroyed (what `closed` is told).
    pub(super) fn cause(self) -> Cause {
        match self {
            Life::Destroyed(cause) => cause,
            // `close` only follows a destroy; a peer going away is the
            // neutral answer should that ever change.
            _ => Cause::Aborted,
        }
    }
}

/// How far the peer's side (our reading) has gone. Only ever moves down
/// the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reading {
    /// The peer may still send.
    Open,
    /// The poller reported the peer's end (or an error) before the EOF was
    /// read: the socket must not carry another exchange, though the EOF
    /// (and maybe bytes before it) is still to be read.
    FinAnnounced,
    /// The EOF was read; the protocol has not been told yet (input held
    /// before it, or the socket is paused). `truncated`: the stream ended
    /// without the transport's end marker (TLS without `close_notify`).
    EofRead { truncated: bool },
    /// The protocol was told of the EOF (Node's `readableEnded`).
    Ended { truncated: bool },
}

impl Reading {
    /// The poller saw the peer's end coming; a later stage already knows.
    pub(super) fn announce_fin(&mut self) {
        if *self == Reading::Open {
            *self = Reading::FinAnnounced;
        }
    }

    /// The EOF was read from the transport.
    pub(super) fn eof_read(&mut self, truncated: bool) {
        if self.may_send() {
            *self = Reading::EofRead { truncated };
        }
    }

    /// Whether the EOF has been read (there is nothing more to read).
    pub(super) fn eof_seen(self) -> bool {
        matches!(self, Reading::EofRead { .. } | Reading::Ended { .. })
    }

    /// Whether the peer may still send (no EOF read yet).
    pub(super) fn may_send(self) -> bool {
        !self.eof_seen()
    }

    /// Tells the protocol of the EOF, once: returns whether this is the
    /// time (read and not yet delivered).
    pub(super) fn deliver_eof(&mut self) -> bool {
        match *self {
            Reading::EofRead { truncated } => {
                *self = Reading::Ended { truncated };
                true
            }
            _ => false,
        }
    }

    pub(super) fn ended(self) -> bool {
        matches!(self, Reading::Ended { .. })
    }

    pub(super) fn truncated(self) -> bool {
        matches!(
            self,
            Reading::EofRead { truncated: true } | Reading::Ended { truncated: true }
        )
    }
}

/// How far our side (writing) has gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Writing {
    /// Writes are accepted.
    Open,
    /// `end()` was called: writes the protocol makes still queue, and the
    /// FIN goes once everything queued is flushed, then `finish`.
    Ending,
    /// The FIN went without waiting for a flushed `end()` (a linger shut
    /// the side): writes are refused. `finish_owed`: `end()` was called
    /// too, so the next flush still emits `finish`, as Node emits it for
    /// every `end()` whose output is gone.
    Shut { finish_owed: bool },
    /// `end()`'s output went and the FIN with it: `finish` was emitted
    /// (Node's `writableFinished`).
    Finished,
}

impl Writing {
    /// Whether new output may be queued.
    pub(super) fn accepts_writes(self) -> bool {
        matches!(self, Writing::Open | Writing::Ending)
    }

    /// Whether `end()` was called (Node's `write after end` check).
    pub(super) fn end_called(self) -> bool {
        matches!(
            self,
            Writing::Ending | Writing::Finished | Writing::Shut { finish_owed: true }
        )
    }

    /// `end()`: the FIN is owed once the output is flushed.
    pub(super) fn end(&mut self) {
        *self = match *self {
            Writing::Open => Writing::Ending,
            Writing::Shut { .. } => Writing::Shut { finish_owed: true },
            done @ (Writing::Ending | Writing::Finished) => done,
        };
    }

    /// The side shuts now (a linger). Returns whether the FIN must be sent
    /// (it is sent once).
    pub(super) fn shut(&mut self) -> bool {
        let next = match *self {
            Writing::Open => Writing::Shut { finish_owed: false },
            Writing::Ending => Writing::Shut { finish_owed: true },
            Writing::Shut { .. } | Writing::Finished => return false,
        };
        *self = next;
        true
    }

    /// Everything queued was flushed: an `end()` completes. Returns
    /// `(send_fin, emit_finish)`.
    pub(super) fn flushed(&mut self) -> (bool, bool) {
        match *self {
            Writing::Ending => {
                *self = Writing::Finished;
                (true, true)
            }
            Writing::Shut { finish_owed: true } => {
                *self = Writing::Finished;
                (false, true)
            }
            Writing::Open | Writing::Shut { finish_owed: false } | Writing::Finished => {
                (false, false)
            }
        }
    }
}

/// Whether the user paused the socket (`pause()`/`resume()`, or Node's
/// `pauseOnConnect`). Separate from the sides: a paused socket can have
/// read its EOF, which waits for `resume()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Flowing,
    Paused,
}

/// Whether a `drain` is owed: a write went over the high-water mark, so
/// `drain` follows once the output has gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Drain {
    NotOwed,
    Owed,
}

impl Drain {
    /// Takes the owed `drain`: returns whether one was owed.
    pub(super) fn take(&mut self) -> bool {
        std::mem::replace(self, Drain::NotOwed) == Drain::Owed
    }
}
