//! The two tables of RFC 7541 §2.3: the static table of Appendix A (61
//! fixed entries) and the dynamic table each side of a connection keeps
//! in step with the other's.
//!
//! The dynamic table is a FIFO of entries whose size is counted the RFC's
//! way (name + value + 32 bytes, §4.1). Entry bytes live in one arena,
//! `Vec<u8>`, appended at the end; evicting an entry only forgets its
//! record, and the dead prefix of the arena is cut off (one `copy_within`)
//! once the arena has grown to twice the table's size. So the arena holds
//! at most about three times the table's size, its allocation is reused
//! forever after the first few blocks, and each byte is copied at most
//! once more, amortised, by compaction.

use std::collections::VecDeque;

use super::HpackError;

/// How many entries the static table has: dynamic indices start after.
pub(super) const STATIC_LEN: usize = 61;

/// The static table, RFC 7541 Appendix A, as `(name, value)`; HPACK index
/// `i` is `STATIC_TABLE[i - 1]`.
#[rustfmt::skip]
pub(super) const STATIC_TABLE: [(&[u8], &[u8]); STATIC_LEN] = [
    (b":authority", b""),
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"200"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"304"),
    (b":status", b"400"),
    (b":status", b"404"),
    (b":status", b"500"),
    (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"),
    (b"accept-language", b""),
    (b"accept-ranges", b""),
    (b"accept", b""),
    (b"access-control-allow-origin", b""),
    (b"age", b""),
    (b"allow", b""),
    (b"authorization", b""),
    (b"cache-control", b""),
    (b"content-disposition", b""),
    (b"content-encoding", b""),
    (b"content-language", b""),
    (b"content-length", b""),
    (b"content-location", b""),
    (b"content-range", b""),
    (b"content-type", b""),
    (b"cookie", b""),
    (b"date", b""),
    (b"etag", b""),
    (b"expect", b""),
    (b"expires", b""),
    (b"from", b""),
    (b"host", b""),
    (b"if-match", b""),
    (b"if-modified-since", b""),
    (b"if-none-match", b""),
    (b"if-range", b""),
    (b"if-unmodified-since", b""),
    (b"last-modified", b""),
    (b"link", b""),
    (b"location", b""),
    (b"max-forwards", b""),
    (b"proxy-authenticate", b""),
    (b"proxy-authorization", b""),
    (b"range", b""),
    (b"referer", b""),
    (b"refresh", b""),
    (b"retry-after", b""),
    (b"server", b""),
    (b"set-cookie", b""),
    (b"strict-transport-security", b""),
    (b"transfer-encoding", b""),
    (b"user-agent", b""),
    (b"vary", b""),
    (b"via", b""),
    (b"www-authenticate", b""),
];

/// The entry at HPACK index `index` (1-based) of the static table.
pub(super) fn static_entry(index: usize) -> Option<(&'static [u8], &'static [u8])> {
    index
        .checked_sub(1)
        .and_then(|i| STATIC_TABLE.get(i))
        .copied()
}

/// The HPACK indices (first, last) of the static entries named `name`:
/// a `match` the compiler turns into a length switch and a few compares,
/// cheaper than scanning 61 entries for every field encoded.
fn static_name_range(name: &[u8]) -> Option<(usize, usize)> {
    let range = match name {
        b":authority" => (1, 1),
        b":method" => (2, 3),
        b":path" => (4, 5),
        b":scheme" => (6, 7),
        b":status" => (8, 14),
        b"accept-charset" => (15, 15),
        b"accept-encoding" => (16, 16),
        b"accept-language" => (17, 17),
        b"accept-ranges" => (18, 18),
        b"accept" => (19, 19),
        b"access-control-allow-origin" => (20, 20),
        b"age" => (21, 21),
        b"allow" => (22, 22),
        b"authorization" => (23, 23),
        b"cache-control" => (24, 24),
        b"content-disposition" => (25, 25),
        b"content-encoding" => (26, 26),
        b"content-language" => (27, 27),
        b"content-length" => (28, 28),
        b"content-location" => (29, 29),
        b"content-range" => (30, 30),
        b"content-type" => (31, 31),
        b"cookie" => (32, 32),
        b"date" => (33, 33),
        b"etag" => (34, 34),
        b"expect" => (35, 35),
        b"expires" => (36, 36),
        b"from" => (37, 37),
        b"host" => (38, 38),
        b"if-match" => (39, 39),
        b"if-modified-since" => (40, 40),
        b"if-none-match" => (41, 41),
        b"if-range" => (42, 42),
        b"if-unmodified-since" => (43, 43),
        b"last-modified" => (44, 44),
        b"link" => (45, 45),
        b"location" => (46, 46),
        b"max-forwards" => (47, 47),
        b"proxy-authenticate" => (48, 48),
        b"proxy-authorization" => (49, 49),
        b"range" => (50, 50),
        b"referer" => (51, 51),
        b"refresh" => (52, 52),
        b"retry-after" => (53, 53),
        b"server" => (54, 54),
        b"set-cookie" => (55, 55),
        b"strict-transport-security" => (56, 56),
        b"transfer-encoding" => (57, 57),
        b"user-agent" => (58, 58),
        b"vary" => (59, 59),
        b"via" => (60, 60),
        b"www-authenticate" => (61, 61),
        _ => return None,
    };
    Some(range)
}

/// What a table holds of a field, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Match {
    /// Name and value: the field is one index.
    Full(usize),
    /// The name only: a literal can name it by this index.
    Name(usize),
    /// Nothing.
    None,
}

/// Looks `name: value` up in the static table (HPACK indices).
pub(super) fn find_static(name: &[u8], value: &[u8]) -> Match {
    let Some((first, last)) = static_name_range(name) else {
        return Match::None;
    };
    for index in first..=last {
        if static_entry(index).is_some_and(|(_, v)| v == value) {
            return Match::Full(index);
        }
    }
    Match::Name(first)
}

/// The RFC 7541 §4.1 size of an entry: its bytes plus 32 for the overhead
/// a real implementation has per entry (saturating: never overflows).
pub(super) fn entry_size(name: &[u8], value: &[u8]) -> usize {
    name.len().saturating_add(value.len()).saturating_add(32)
}

/// One dynamic entry: where its bytes start in the arena (a logical
/// position, see [`DynamicTable::base`]) and how long name and value are.
#[derive(Debug, Clone, Copy)]
struct Entry {
    start: usize,
    name_len: usize,
    value_len: usize,
}

impl Entry {
    fn size(&self) -> usize {
        self.name_len
            .saturating_add(self.value_len)
            .saturating_add(32)
    }
}

/// The dynamic table (RFC 7541 §2.3.2, §4).
#[derive(Debug)]
pub(super) struct DynamicTable {
    /// Entry bytes, name then value, oldest first; a dead prefix of
    /// evicted bytes until the next compaction.
    arena: Vec<u8>,
    /// The logical position of `arena[0]`: entries keep logical starts so
    /// that compaction does not have to rewrite them. Wrapping arithmetic
    /// keeps this right even if positions wrap around `usize`.
    base: usize,
    /// Newest first, so HPACK's dynamic index `62 + k` is `entries[k]`.
    entries: VecDeque<Entry>,
    /// Σ entry sizes (§4.1), never over `capacity`.
    size: usize,
    /// The maximum size (§4.2) now in force.
    capacity: usize,
}

impl DynamicTable {
    /// An empty table of maximum size `capacity`. Allocates nothing yet.
    pub(super) fn new(capacity: usize) -> DynamicTable {
        DynamicTable {
            arena: Vec::new(),
            base: 0,
            entries: VecDeque::new(),
            size: 0,
            capacity,
        }
    }

    /// The maximum size now in force.
    pub(super) fn capacity(&self) -> usize {
        self.capacity
    }

    /// The §4.1 size of what the table holds.
    #[cfg(test)]
    pub(super) fn size(&self) -> usize {
        self.size
    }

    /// How many entries the table holds.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Entry `k` (0 the newest) as `(name, value)`.
    pub(super) fn get(&self, k: usize) -> Option<(&[u8], &[u8])> {
        let entry = self.entries.get(k)?;
        let start = entry.start.wrapping_sub(self.base);
        let name_end = start.checked_add(entry.name_len)?;
        let value_end = name_end.checked_add(entry.value_len)?;
        Some((
            self.arena.get(start..name_end)?,
            self.arena.get(name_end..value_end)?,
        ))
    }

    /// Sets a new maximum size, evicting the oldest entries until the
    /// table fits (§4.3).
    pub(super) fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity;
        self.evict_to(capacity);
        self.compact_if_needed();
    }

    /// Adds `name: value` at the front, evicting from the back to make
    /// room (§4.4). An entry larger than the maximum size empties the
    /// table and is not added: that is the RFC's rule, not an error.
    pub(super) fn insert(&mut self, name: &[u8], value: &[u8]) {
        if let Some(at) = self.make_room(name.len(), value.len()) {
            self.arena.extend_from_slice(name);
            self.push(at, name.len(), value);
        }
    }

    /// [`DynamicTable::insert`] with the name of entry `k` (0 the newest),
    /// which the insertion itself may evict: §4.4 says the name is read
    /// first, and it is (evicted bytes stay in the arena until compaction,
    /// which only runs once the new entry is in). `k` past the table is
    /// `InvalidIndex`.
    pub(super) fn insert_with_name_of(&mut self, k: usize, value: &[u8]) -> Result<(), HpackError> {
        let invalid = HpackError::InvalidIndex(k.saturating_add(STATIC_LEN + 1));
        let entry = *self.entries.get(k).ok_or(invalid)?;
        let start = entry.start.wrapping_sub(self.base);
        let name = start..start.saturating_add(entry.name_len);
        if name.end > self.arena.len() {
            return Err(invalid);
        }
        if let Some(at) = self.make_room(entry.name_len, value.len()) {
            self.arena.extend_from_within(name);
            self.push(at, entry.name_len, value);
        }
        Ok(())
    }

    /// Evicts for an entry of these lengths and returns the logical
    /// position its bytes will start at, or empties the table and returns
    /// `None` when the entry is larger than the table.
    fn make_room(&mut self, name_len: usize, value_len: usize) -> Option<usize> {
        let size = name_len.saturating_add(value_len).saturating_add(32);
        let Some(room) = self.capacity.checked_sub(size) else {
            self.clear();
            return None;
        };
        self.evict_to(room);
        Some(self.base.wrapping_add(self.arena.len()))
    }

    /// Finishes an insertion whose name bytes are already appended.
    fn push(&mut self, start: usize, name_len: usize, value: &[u8]) {
        self.arena.extend_from_slice(value);
        let entry = Entry {
            start,
            name_len,
            value_len: value.len(),
        };
        self.size = self.size.saturating_add(entry.size());
        self.entries.push_front(entry);
        self.compact_if_needed();
    }

    /// Looks `name: value` up, newest entry first; indices are `k` (0 the
    /// newest), not HPACK indices.
    pub(super) fn find(&self, name: &[u8], value: &[u8]) -> Match {
        let mut by_name = Match::None;
        for k in 0..self.entries.len() {
            let Some((n, v)) = self.get(k) else { break };
            if n == name {
                if v == value {
                    return Match::Full(k);
                }
                if by_name == Match::None {
                    by_name = Match::Name(k);
                }
            }
        }
        by_name
    }

    /// Drops every entry (the arena keeps its allocation).
    fn clear(&mut self) {
        self.entries.clear();
        self.arena.clear();
        self.base = 0;
        self.size = 0;
    }

    /// Evicts the oldest entries until the size is at most `limit`.
    fn evict_to(&mut self, limit: usize) {
        while self.size > limit {
            match self.entries.pop_back() {
                Some(entry) => self.size = self.size.saturating_sub(entry.size()),
                None => self.size = 0,
            }
        }
    }

    /// Cuts the dead prefix off the arena once it has grown to twice the
    /// table's maximum size. Live bytes are at most the maximum size, so
    /// at least that much was appended since the last compaction: copying
    /// costs at most one byte per byte inserted.
    fn compact_if_needed(&mut self) {
        let Some(oldest) = self.entries.back() else {
            self.arena.clear();
            self.base = 0;
            return;
        };
        if self.arena.len() <= self.capacity.saturating_mul(2) {
            return;
        }
        let dead = oldest.start.wrapping_sub(self.base).min(self.arena.len());
        self.arena.copy_within(dead.., 0);
        self.arena.truncate(self.arena.len() - dead);
        self.base = self.base.wrapping_add(dead);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(table: &DynamicTable) -> Vec<(Vec<u8>, Vec<u8>)> {
        (0..table.len())
            .map(|k| {
                let (n, v) = table.get(k).unwrap();
                (n.to_vec(), v.to_vec())
            })
            .collect()
    }

    #[test]
    fn the_static_name_match_agrees_with_the_table() {
        for (i, &(name, value)) in STATIC_TABLE.iter().enumerate() {
            let index = i + 1;
            let (first, last) = static_name_range(name).unwrap();
            assert!(first <= index && index <= last, "{index}");
            for other in first..=last {
                assert_eq!(static_entry(other).unwrap().0, name);
            }
            if first > 1 {
                assert_ne!(static_entry(first - 1).unwrap().0, name);
            }
            // The first entry with this name and value is the full match.
            let want = (1..=STATIC_LEN).find(|&j| static_entry(j) == Some((name, value)));
            assert_eq!(find_static(name, value), Match::Full(want.unwrap()));
        }
        assert_eq!(find_static(b":status", b"201"), Match::Name(8));
        assert_eq!(find_static(b"x-custom", b""), Match::None);
        assert_eq!(static_entry(0), None);
        assert_eq!(static_entry(62), None);
        assert_eq!(static_entry(61), Some((&b"www-authenticate"[..], &b""[..])));
    }

    #[test]
    fn entries_are_sized_and_evicted_oldest_first() {
        // Each entry below is 1 + 1 + 32 = 34 bytes; three fit in 110.
        let mut table = DynamicTable::new(110);
        for name in [b"a", b"b", b"c", b"d"] {
            table.insert(name, b"v");
        }
        assert_eq!(table.size(), 102);
        let names: Vec<Vec<u8>> = entries(&table).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, [b"d".to_vec(), b"c".to_vec(), b"b".to_vec()]);
        table.set_capacity(68);
        assert_eq!(table.len(), 2);
        assert_eq!(table.size(), 68);
        table.set_capacity(0);
        assert_eq!((table.len(), table.size()), (0, 0));
    }

    #[test]
    fn an_entry_larger_than_the_table_empties_it() {
        let mut table = DynamicTable::new(64);
        table.insert(b"a", b"b");
        table.insert(b"name", &[b'x'; 40]);
        assert_eq!((table.len(), table.size()), (0, 0));
        // Exactly the table's size fits.
        table.insert(b"name", &[b'x'; 28]);
        assert_eq!((table.len(), table.size()), (1, 64));
    }

    #[test]
    fn a_name_from_an_entry_the_insertion_evicts_survives() {
        // Room for one entry only: inserting evicts the entry it names.
        let mut table = DynamicTable::new(50);
        table.insert(b"custom-name", b"one");
        table.insert_with_name_of(0, b"two").unwrap();
        assert_eq!(
            entries(&table),
            [(b"custom-name".to_vec(), b"two".to_vec())]
        );
        assert_eq!(
            table.insert_with_name_of(1, b"x"),
            Err(HpackError::InvalidIndex(63))
        );
    }

    #[test]
    fn find_prefers_a_full_match_then_the_newest_name() {
        let mut table = DynamicTable::new(4096);
        table.insert(b"x", b"1");
        table.insert(b"x", b"2");
        table.insert(b"y", b"1");
        assert_eq!(table.find(b"x", b"1"), Match::Full(2));
        assert_eq!(table.find(b"x", b"3"), Match::Name(1));
        assert_eq!(table.find(b"z", b"1"), Match::None);
    }

    #[test]
    fn the_arena_stays_bounded_and_stops_allocating() {
        let mut table = DynamicTable::new(4096);
        let mut value = [b'a'; 100];
        let mut capacity_after_warm_up = 0;
        for i in 0..20_000usize {
            value[i % 100] = b'a' + (i % 26) as u8;
            table.insert(b"x-churn", &value[..i % 100]);
            assert!(table.size() <= 4096);
            assert!(table.arena.len() <= 3 * 4096);
            if i == 1000 {
                capacity_after_warm_up = table.arena.capacity();
            }
            if i > 1000 {
                assert_eq!(table.arena.capacity(), capacity_after_warm_up);
            }
            let (n, v) = table.get(0).unwrap();
            assert_eq!((n, v), (&b"x-churn"[..], &value[..i % 100]));
        }
    }
}
