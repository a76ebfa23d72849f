//! Timers: one binary heap for user timers and the deadlines of the layers
//! above (idle checks, request deadlines, lingers, accept retries).
//!
//! The heap holds [`Work`]: the runtime does not know what a deadline is
//! for. Layers keep their deadlines lazy, as Node's timer lists are: a
//! socket has at most one live entry; activity only stamps a time, and when
//! the entry comes due the owner checks and, if it was active since, queues
//! a new entry. So a busy connection costs one heap operation per timeout
//! period, not one per request, and no loop turn scans the connections.
//! An entry its owner no longer waits for is *stale*: the owner ignores it
//! when it pops.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use slab::Slab;

use super::work::Work;

/// What a user timer calls.
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

/// One heap entry: due time, insertion order (ties run first-in first-out),
/// and the work.
struct Entry {
    at: Instant,
    seq: u64,
    work: Work,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

#[derive(Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<Entry>>,
    seq: u64,
    pub(crate) user: Slab<UserTimer>,
    next_gen: u32,
}

impl Timers {
    /// Queues `work` to run once `at` has passed.
    pub(crate) fn push(&mut self, at: Instant, work: Work) {
        self.seq += 1;
        self.heap.push(Reverse(Entry {
            at,
            seq: self.seq,
            work,
        }));
    }

    /// Adds a user timer; returns its key and generation.
    pub(crate) fn add_user(&mut self, at: Instant, callback: Callback) -> (usize, u32) {
        self.next_gen = self.next_gen.wrapping_add(1);
        let gen = self.next_gen;
        let key = self.user.insert(UserTimer { gen, callback });
        self.push(at, user_timer_work(key, gen));
        (key, gen)
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse(e)| e.at)
    }

    /// Pops one entry that is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Work> {
        match self.heap.peek() {
            Some(Reverse(e)) if e.at <= now => self.heap.pop().map(|Reverse(e)| e.work),
            _ => None,
        }
    }

    /// Whether any user timer is still pending (it keeps the loop alive).
    pub(crate) fn has_user_timers(&self) -> bool {
        !self.user.is_empty()
    }

    /// Entries in the heap, live or stale.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

/// The heap entry of user timer `key`/`gen`.
pub(crate) fn user_timer_work(key: usize, gen: u32) -> Work {
    Work::new(super::run_user_timer, key as u64 | (u64::from(gen) << 32))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(_ctx: u64) {}

    #[test]
    fn entries_pop_in_time_order_and_ties_in_insertion_order() {
        let mut t = Timers::default();
        let now = Instant::now();
        t.push(now + Duration::from_millis(5), Work::new(mark, 3));
        t.push(now, Work::new(mark, 1));
        t.push(now, Work::new(mark, 2));
        assert_eq!(t.next_deadline(), Some(now));
        let order: Vec<u64> = std::iter::from_fn(|| t.pop_due(now + Duration::from_millis(5)))
            .map(|w| w.ctx)
            .collect();
        assert_eq!(order, [1, 2, 3]);
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn nothing_pops_before_it_is_due() {
        let mut t = Timers::default();
        let now = Instant::now();
        t.push(now + Duration::from_secs(1), Work::new(mark, 7));
        assert!(t.pop_due(now).is_none());
        assert_eq!(
            t.pop_due(now + Duration::from_secs(1)).map(|w| w.ctx),
            Some(7)
        );
    }
}
