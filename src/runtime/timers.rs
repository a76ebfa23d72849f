//! Timers: one binary heap for user timers and connection deadlines.
//!
//! Connection idle timeouts are lazy (as Node's timer lists are): a socket
//! has at most one heap entry; activity only stamps `last_active`, and when
//! the entry comes due the socket is checked and, if it was active since, the
//! entry is pushed again for `last_active + timeout`. So a busy connection
//! costs one heap operation per timeout period, not one per request, and no
//! loop turn ever scans the connections.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use slab::Slab;

use crate::net::SockId;

/// What a heap entry is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Due {
    /// A user timer (slab key, generation).
    User(usize, u32),
    /// A socket's idle timeout check, for the deadline it was queued for
    /// (an entry whose deadline the socket no longer waits for is stale).
    SocketIdle(SockId, Instant),
    /// A request check on a server connection, for the deadline it was
    /// queued for (stale when the connection no longer waits for it).
    RequestDeadline(SockId, Instant),
    /// A lingering socket's last chance to see the peer's FIN.
    Linger(SockId),
    /// Retry `accept` on a server after running out of file descriptors.
    AcceptRetry(usize, u32),
}

pub(crate) enum Callback {
    Once(Box<dyn FnOnce()>),
    Repeat(Box<dyn FnMut()>, Duration),
    /// Taken out while it runs.
    Running,
}

pub(crate) struct UserTimer {
    pub(crate) gen: u32,
    pub(crate) callback: Callback,
}

#[derive(Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(Instant, u64, Due)>>,
    seq: u64,
    pub(crate) user: Slab<UserTimer>,
    next_gen: u32,
}

impl Timers {
    pub(crate) fn push(&mut self, at: Instant, due: Due) {
        self.seq += 1;
        self.heap.push(Reverse((at, self.seq, due)));
    }

    pub(crate) fn add_user(&mut self, at: Instant, callback: Callback) -> (usize, u32) {
        self.next_gen = self.next_gen.wrapping_add(1);
        let gen = self.next_gen;
        let key = self.user.insert(UserTimer { gen, callback });
        self.push(at, Due::User(key, gen));
        (key, gen)
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Pops one entry that is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Due> {
        match self.heap.peek() {
            Some(Reverse((at, _, _))) if *at <= now => self.heap.pop().map(|Reverse((_, _, d))| d),
            _ => None,
        }
    }

    /// Whether any user timer is still pending (it keeps the loop alive).
    pub(crate) fn has_user_timers(&self) -> bool {
        !self.user.is_empty()
    }
}
