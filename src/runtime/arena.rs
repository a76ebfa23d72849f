//! A generational arena whose freed slots keep their value for reuse.
//!
//! Exchanges (a request and its response) are created for every request; a
//! slab would drop each one and allocate its buffers anew. Here a freed slot
//! keeps its value, buffers and all, and the next `insert` resets and reuses
//! it, so a keep-alive server allocates nothing per request in steady state.
//! The generation makes a handle to a freed slot stale.

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

pub(crate) struct Arena<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    live: usize,
}

impl<T: Default> Arena<T> {
    pub(crate) fn new() -> Self {
        Arena {
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
        }
    }

    /// Takes a slot (a recycled one when there is one) and returns its id and
    /// its value, which the caller must reset.
    pub(crate) fn insert(&mut self) -> (Id, &mut T) {
        self.live += 1;
        let idx = match self.free.pop() {
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

    /// Frees the slot; its value stays for reuse (the caller has already
    /// moved out anything that must be dropped, such as listeners).
    pub(crate) fn remove(&mut self, id: Id) -> bool {
        match self.slots.get_mut(id.idx as usize) {
            Some(s) if s.live && s.gen == id.gen => {
                s.live = false;
                self.free.push(id.idx);
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
}
