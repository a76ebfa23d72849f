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
//! when it pops. Stale entries of owners that are gone (closed sockets,
//! cleared user timers) would otherwise stay until due, two minutes for an
//! idle check: under connection churn that is ~120 bytes per closed
//! connection. So when the heap doubles past its size after the last
//! compaction, the loop asks each entry's [`Work::alive`] and drops the
//! dead ones: amortized O(1) per entry, and the heap stays proportional to
//! what is live.

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
    /// Whether it keeps the loop alive (Node's `hasRef()`); see
    /// [`Timers::set_ref`].
    refed: bool,
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

/// The heap is compacted once it holds this many entries, and after that
/// whenever it has doubled since the last compaction.
const COMPACT_FLOOR: usize = 4096;

pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<Entry>>,
    seq: u64,
    /// Removed only through [`remove_user`](Self::remove_user), which
    /// keeps `unrefed` right.
    pub(crate) user: Slab<UserTimer>,
    /// How many user timers are unref'd: the loop's liveness check is a
    /// comparison, not a scan.
    unrefed: usize,
    next_gen: u32,
    compact_at: usize,
}

impl Default for Timers {
    fn default() -> Timers {
        Timers {
            heap: BinaryHeap::new(),
            seq: 0,
            user: Slab::new(),
            unrefed: 0,
            next_gen: 0,
            compact_at: COMPACT_FLOOR,
        }
    }
}

/// The heap's entries, taken out for compaction (see [`Timers::take_if_due_for_compaction`]).
pub(crate) struct Taken(Vec<Reverse<Entry>>);

impl Taken {
    /// Keeps the entries whose owner still waits for them. Called with no
    /// state borrowed: `alive` functions look into their layers.
    pub(crate) fn retain_alive(&mut self) {
        self.0.retain(|Reverse(e)| (e.work.alive)(e.work.ctx));
    }
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
        let key = self.user.insert(UserTimer {
            gen,
            callback,
            refed: true,
        });
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

    /// When the heap has grown past its mark, takes its entries out to be
    /// checked by [`Taken::retain_alive`] and put back with
    /// [`put_back`](Self::put_back).
    pub(crate) fn take_if_due_for_compaction(&mut self) -> Option<Taken> {
        if self.heap.len() < self.compact_at {
            return None;
        }
        Some(Taken(std::mem::take(&mut self.heap).into_vec()))
    }

    /// Puts back what compaction kept (with anything pushed meanwhile), and
    /// sets the next mark at twice what is left.
    pub(crate) fn put_back(&mut self, kept: Taken) {
        log::trace!(
            "timers: compacted to {} entries (+{} new)",
            kept.0.len(),
            self.heap.len()
        );
        let mut heap = BinaryHeap::from(kept.0);
        heap.append(&mut self.heap);
        self.heap = heap;
        self.compact_at = (2 * self.heap.len()).max(COMPACT_FLOOR);
    }

    /// Removes user timer `key` (which must exist).
    pub(crate) fn remove_user(&mut self, key: usize) -> UserTimer {
        let timer = self.user.remove(key);
        if !timer.refed {
            self.unrefed -= 1;
        }
        timer
    }

    /// User timer `key`/`gen`, if it is still set.
    fn user_timer(&mut self, key: usize, gen: u32) -> Option<&mut UserTimer> {
        self.user.get_mut(key).filter(|t| t.gen == gen)
    }

    /// Makes user timer `key`/`gen` keep the loop alive or not (Node's
    /// `ref()`/`unref()`); a timer that ran or was cleared is ignored. An
    /// unref'd timer still fires while something else keeps the loop going.
    pub(crate) fn set_ref(&mut self, key: usize, gen: u32, refed: bool) {
        let Some(t) = self.user_timer(key, gen) else {
            return;
        };
        if t.refed != refed {
            t.refed = refed;
            if refed {
                self.unrefed -= 1;
            } else {
                self.unrefed += 1;
            }
        }
    }

    /// Whether user timer `key`/`gen` is set and keeps the loop alive.
    pub(crate) fn has_ref(&mut self, key: usize, gen: u32) -> bool {
        self.user_timer(key, gen).is_some_and(|t| t.refed)
    }

    /// Whether a ref'd user timer is still pending (it keeps the loop
    /// alive; unref'd ones do not).
    pub(crate) fn has_refed_user_timers(&self) -> bool {
        self.user.len() > self.unrefed
    }

    /// Entries in the heap, live or stale.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.heap.len()
    }
}

/// The heap entry of user timer `key`/`gen`.
pub(crate) fn user_timer_work(key: usize, gen: u32) -> Work {
    Work::new(super::run_user_timer, key as u64 | (u64::from(gen) << 32))
        .while_alive(super::user_timer_alive)
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

    thread_local! {
        static GONE_BELOW: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }

    /// Owners numbered below the mark are gone.
    fn alive_if_not_gone(ctx: u64) -> bool {
        ctx >= GONE_BELOW.with(|g| g.get())
    }

    fn compact(t: &mut Timers) -> bool {
        match t.take_if_due_for_compaction() {
            Some(mut taken) => {
                taken.retain_alive();
                t.put_back(taken);
                true
            }
            None => false,
        }
    }

    #[test]
    fn churn_leaves_the_heap_proportional_to_what_is_live() {
        // A connection churn: each owner queues a far deadline, then goes
        // away; ten stay. The heap must not keep the dead ones until due.
        let mut t = Timers::default();
        let far = Instant::now() + Duration::from_secs(120);
        let mut most = 0;
        for owner in 0..1_000_000u64 {
            t.push(far, Work::new(mark, owner).while_alive(alive_if_not_gone));
            // Every owner but the newest ten is gone.
            GONE_BELOW.with(|g| g.set(owner.saturating_sub(9)));
            compact(&mut t);
            most = most.max(t.len());
        }
        assert!(most <= 2 * COMPACT_FLOOR, "the heap reached {most} entries");
        // Those still waited for are all there, in order.
        GONE_BELOW.with(|g| g.set(0));
        let left: Vec<u64> = std::iter::from_fn(|| t.pop_due(far))
            .map(|w| w.ctx)
            .collect();
        assert!(
            left.ends_with(&(999_990..1_000_000).collect::<Vec<_>>()),
            "{:?}",
            &left[left.len().saturating_sub(12)..]
        );
    }

    #[test]
    fn work_without_an_owner_check_is_never_dropped() {
        let mut t = Timers::default();
        let now = Instant::now();
        for i in 0..(COMPACT_FLOOR as u64) {
            t.push(now, Work::new(mark, i));
        }
        assert!(compact(&mut t));
        assert_eq!(t.len(), COMPACT_FLOOR);
        assert!(!compact(&mut t), "the next mark is twice as far");
    }

    fn once() -> Callback {
        Callback::Once(Box::new(|| {}))
    }

    #[test]
    fn only_refed_user_timers_keep_the_loop_alive() {
        let mut t = Timers::default();
        let at = Instant::now();
        let (a, a_gen) = t.add_user(at, once());
        let (b, b_gen) = t.add_user(at, once());
        t.set_ref(a, a_gen, false);
        t.set_ref(a, a_gen, false); // twice counts once
        assert!(!t.has_ref(a, a_gen) && t.has_ref(b, b_gen));
        assert!(t.has_refed_user_timers());
        t.set_ref(b, b_gen, false);
        assert!(!t.has_refed_user_timers(), "both unref'd");
        t.set_ref(b, b_gen, true);
        assert!(t.has_refed_user_timers());
        t.remove_user(b);
        assert!(!t.has_refed_user_timers());
        assert!(!t.has_ref(b, b_gen), "a removed timer keeps nothing alive");
        t.set_ref(b, b_gen, true); // ignored
        t.set_ref(a, a_gen.wrapping_add(1), true); // another generation: ignored
        assert!(!t.has_refed_user_timers());
        t.remove_user(a);
        assert_eq!((t.user.len(), t.unrefed), (0, 0));
    }

    #[test]
    fn run_returns_while_an_unrefed_interval_is_pending_and_ref_brings_it_back() {
        use crate::runtime::{clear_interval, run, set_interval, set_timeout, Timer};
        use std::{cell::Cell, rc::Rc};

        let ticks = Rc::new(Cell::new(0u32));
        let stop_at = Rc::new(Cell::new(u32::MAX));
        let me: Rc<Cell<Option<Timer>>> = Rc::new(Cell::new(None));
        let (n, stop, this) = (ticks.clone(), stop_at.clone(), me.clone());
        let interval = set_interval(
            move || {
                n.set(n.get() + 1);
                if n.get() >= stop.get() {
                    clear_interval(this.get().unwrap());
                }
            },
            1,
        )
        .unref();
        me.set(Some(interval));
        assert!(!interval.has_ref());

        // Nothing else keeps the loop alive: run returns at once.
        let started = Instant::now();
        run();
        assert_eq!(ticks.get(), 0);
        assert!(started.elapsed() < Duration::from_secs(1));
        assert!(!interval.has_ref(), "still pending, still unref'd");

        // While a ref'd timeout keeps the loop going, the interval fires.
        set_timeout(|| {}, 30);
        run();
        assert!(ticks.get() >= 1, "the unref'd interval never fired");

        // Ref'd again, it keeps run going until it clears itself.
        stop_at.set(ticks.get() + 3);
        assert!(interval.ref_().has_ref());
        run();
        assert_eq!(ticks.get(), stop_at.get());
        assert!(!interval.has_ref(), "cleared");
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
