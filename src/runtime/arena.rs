//! A generational arena whose freed slots keep their value for reuse.
//!
//! Exchanges (a request and its response) are created for every request; a
//! slab would drop each one and allocate its buffers anew. Here a freed slot
//! keeps its value, buffers and all, and the next `insert` resets and reuses
//! it, so a keep-alive server allocates nothing per request in steady state.
//! The generation makes a handle to a freed slot stale.
//!
//! Only [`WARM_SLOTS`] freed slots keep their values; past that a freed
//! value is dropped (reset to its default) and its slot kept cold. After a
//! flood of thousands of requests with large heads, the memory their
//! buffers held goes back to the allocator instead of staying parked in
//! free slots, while steady-state traffic keeps reusing warm slots and
//! still allocates nothing.

/// A handle to a slot: index and generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Id {
    pub(crate) idx: u32,
    pub(crate) gen: u32,
}

struct Slot<T> {
    gen: u32,
    live: bool,
    value: T,
}

/// How many freed slots keep their values (and buffers) for reuse.
pub(crate) const WARM_SLOTS: usize = 64;

pub(crate) struct Arena<T> {
    slots: Vec<Slot<T>>,
    /// Freed slots whose values keep their buffers: taken first.
    warm: Vec<u32>,
    /// Freed slots whose values were reset to their default.
    cold: Vec<u32>,
    live: usize,
}

impl<T: Default> Arena<T> {
    pub(crate) fn new() -> Self {
        Arena {
            slots: Vec::new(),
            warm: Vec::new(),
            cold: Vec::new(),
            live: 0,
        }
    }

    /// Takes a slot (a recycled one when there is one) and returns its id and
    /// its value, which the caller must reset.
    pub(crate) fn insert(&mut self) -> (Id, &mut T) {
        self.live += 1;
        let idx = match self.warm.pop().or_else(|| self.cold.pop()) {
            Some(i) => i,
            None => {
                self.slots.push(Slot {
                    gen: 0,
                    live: false,
                    value: T::default(),
                });
                (self.slots.len() - 1) as u32
            }
        };
        let slot = &mut self.slots[idx as usize];
        slot.gen = slot.gen.wrapping_add(1);
        slot.live = true;
        (Id { idx, gen: slot.gen }, &mut slot.value)
    }

    pub(crate) fn get(&self, id: Id) -> Option<&T> {
        match self.slots.get(id.idx as usize) {
            Some(s) if s.live && s.gen == id.gen => Some(&s.value),
            _ => None,
        }
    }

    pub(crate) fn get_mut(&mut self, id: Id) -> Option<&mut T> {
        match self.slots.get_mut(id.idx as usize) {
            Some(s) if s.live && s.gen == id.gen => Some(&mut s.value),
            _ => None,
        }
    }

    /// Frees the slot; its value stays for reuse while fewer than
    /// [`WARM_SLOTS`] are kept, and is reset to its default otherwise (the
    /// caller has already moved out anything that must be dropped outside
    /// its borrow, such as listeners).
    pub(crate) fn remove(&mut self, id: Id) -> bool {
        match self.slots.get_mut(id.idx as usize) {
            Some(s) if s.live && s.gen == id.gen => {
                s.live = false;
                if self.warm.len() < WARM_SLOTS {
                    self.warm.push(id.idx);
                } else {
                    s.value = T::default();
                    self.cold.push(id.idx);
                }
                self.live -= 1;
                true
            }
            _ => false,
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.live
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_ids_do_not_reach_a_reused_slot() {
        let mut a: Arena<Vec<u8>> = Arena::new();
        let (first, v) = a.insert();
        v.extend_from_slice(b"abc");
        assert!(a.remove(first));
        let (second, v) = a.insert();
        assert_eq!(first.idx, second.idx);
        assert!(v.capacity() >= 3, "the buffer is kept for reuse");
        assert!(a.get(first).is_none());
        assert!(a.get(second).is_some());
        assert!(!a.remove(first));
        assert_eq!(a.len(), 1);
    }

    #[test]
    fn after_a_flood_only_a_few_freed_values_keep_their_buffers() {
        let mut a: Arena<Vec<u8>> = Arena::new();
        let ids: Vec<Id> = (0..1000)
            .map(|_| {
                let (id, v) = a.insert();
                v.resize(16 * 1024, 0);
                id
            })
            .collect();
        for id in ids {
            a.remove(id);
        }
        let kept: usize = a.slots.iter().map(|s| s.value.capacity()).sum();
        assert_eq!(
            kept,
            WARM_SLOTS * 16 * 1024,
            "only the warm slots keep buffers"
        );
        // Steady traffic afterwards reuses warm slots: no new buffer.
        for _ in 0..10_000 {
            let (id, v) = a.insert();
            assert_eq!(v.capacity(), 16 * 1024, "a warm slot");
            v.clear();
            a.remove(id);
        }
    }
}
