//! id → dense index maps: open addressing with linear probing over 8-byte slots, each holding a
//! 32-bit fingerprint of the id's hash and the u32 index of the record in its dense Vec. The id
//! itself is read back from that Vec only when a fingerprint matches, so a remembered id costs
//! 8 bytes per slot at a load factor between 1/4 and 1/2 (16–32 bytes per id), not a second
//! copy of the 16-byte key plus padding. The slot position is derived from the fingerprint, so
//! growing the table never touches the records, and callers can prefetch a slot before they
//! look it up (see `Ledger::create_transfers`).

/// Marks a free slot. Index u32::MAX is never stored (the ledger asserts its counts stay below).
const EMPTY: u64 = u64::MAX;
/// Smallest table (slots).
const SLOTS_MIN: usize = 16;

/// Mixes a 128-bit id into 64 bits with one folded multiply (foldhash's construction: both
/// halves of the 128-bit product, so high bits depend on every input bit); the high 32 bits become
/// the fingerprint and position. Ids whose halves xor to the same word share a hash: that costs
/// probe length, never correctness, since a fingerprint match is confirmed against the stored id.
/// Three of these per transfer, so one multiply instead of two measured ~5-10 % more transfers/s.
#[inline]
pub(crate) fn hash_id(id: u128) -> u64 {
    const K0: u64 = 0x9e37_79b9_7f4a_7c15;
    const K1: u64 = 0xbf58_476d_1ce4_e5b9;
    let lo = id as u64;
    let hi = (id >> 64) as u64;
    fold_multiply(lo ^ hi.rotate_left(32) ^ K0, K1)
}

#[inline]
fn fold_multiply(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

#[inline]
fn fingerprint(hash: u64) -> u32 {
    (hash >> 32) as u32
}

#[derive(Clone, Debug)]
pub(crate) struct IdIndex {
    slots: Vec<u64>,
    /// log2(slots.len()).
    bits: u32,
    len: usize,
}

/// Where a lookup ended: the slot holding the id, or the free slot where it would go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Probe {
    Found { index: u32 },
    Vacant { slot: usize },
}

impl Default for IdIndex {
    fn default() -> IdIndex {
        IdIndex::with_capacity(0)
    }
}

impl IdIndex {
    /// A table that holds `capacity` ids without growing.
    pub(crate) fn with_capacity(capacity: usize) -> IdIndex {
        let slots = slots_for(capacity);
        IdIndex {
            slots: empty_slots(slots),
            bits: slots.trailing_zeros(),
            len: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Bytes the table occupies.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.slots.len() * std::mem::size_of::<u64>()
    }

    #[inline]
    fn home(&self, fingerprint: u32) -> usize {
        // Top bits of the fingerprint; `bits` ≥ 4 and ≤ 32 so the shift is in range.
        (fingerprint >> (32 - self.bits)) as usize
    }

    #[inline]
    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// Hints the CPU to fetch the slot `hash` starts probing at; changes nothing.
    #[inline]
    pub(crate) fn prefetch(&self, hash: u64) {
        let slot = self.home(fingerprint(hash));
        prefetch_read(self.slots.as_ptr().wrapping_add(slot));
    }

    #[inline]
    pub(crate) fn find(&self, id: u128, id_of: impl Fn(u32) -> u128) -> Option<u32> {
        match self.probe(hash_id(id), id, id_of) {
            Probe::Found { index } => Some(index),
            Probe::Vacant { .. } => None,
        }
    }

    #[inline(always)]
    pub(crate) fn probe(&self, hash: u64, id: u128, id_of: impl Fn(u32) -> u128) -> Probe {
        let fingerprint = fingerprint(hash);
        let mask = self.mask();
        let mut slot = self.home(fingerprint);
        loop {
            let entry = self.slots[slot];
            if entry == EMPTY {
                return Probe::Vacant { slot };
            }
            if (entry >> 32) as u32 == fingerprint {
                let index = entry as u32;
                if id_of(index) == id {
                    return Probe::Found { index };
                }
            }
            slot = (slot + 1) & mask;
        }
    }

    /// The index of the first entry whose fingerprint matches `hash`, or `None` if the probe
    /// reaches a free slot first (then the id is certainly absent). Reads only the table, never
    /// the records, so it does not wait on a record's cache miss; a match must be confirmed by
    /// comparing the record's id (see `Ledger::confirm_account`).
    #[inline(always)]
    pub(crate) fn candidate(&self, hash: u64) -> Option<u32> {
        let fingerprint = fingerprint(hash);
        let mask = self.mask();
        let mut slot = self.home(fingerprint);
        loop {
            let entry = self.slots[slot];
            if entry == EMPTY {
                return None;
            }
            if (entry >> 32) as u32 == fingerprint {
                return Some(entry as u32);
            }
            slot = (slot + 1) & mask;
        }
    }

    /// Inserts an id known to be absent, at the vacant slot `probe` returned for it (valid only
    /// if nothing was inserted since the probe).
    #[inline(always)]
    pub(crate) fn insert_at(&mut self, slot: usize, hash: u64, index: u32) {
        debug_assert_eq!(self.slots[slot], EMPTY);
        debug_assert!(index < u32::MAX);
        self.slots[slot] = (u64::from(fingerprint(hash)) << 32) | u64::from(index);
        self.len += 1;
        if self.len * 2 > self.slots.len() {
            self.grow();
        }
    }

    /// Inserts an id known to be absent.
    pub(crate) fn insert_unique(&mut self, id: u128, index: u32, id_of: impl Fn(u32) -> u128) {
        let hash = hash_id(id);
        match self.probe(hash, id, id_of) {
            Probe::Vacant { slot } => self.insert_at(slot, hash, index),
            Probe::Found { .. } => panic!("insert_unique of an id already present"),
        }
    }

    /// Makes room for `additional` more ids without growing during the inserts.
    pub(crate) fn reserve(&mut self, additional: usize) {
        let needed = slots_for(self.len + additional);
        if needed > self.slots.len() {
            self.rebuild(needed);
        }
    }

    #[cold]
    fn grow(&mut self) {
        let slots = self.slots.len() * 2;
        self.rebuild(slots);
    }

    fn rebuild(&mut self, slots: usize) {
        assert!(slots.is_power_of_two() && slots >= SLOTS_MIN);
        assert!(slots <= 1 << 32, "id index limited to 2^32 slots");
        let old = std::mem::replace(&mut self.slots, empty_slots(slots));
        self.bits = slots.trailing_zeros();
        let mask = self.mask();
        for entry in old.into_iter().filter(|&entry| entry != EMPTY) {
            let mut slot = self.home((entry >> 32) as u32);
            while self.slots[slot] != EMPTY {
                slot = (slot + 1) & mask;
            }
            self.slots[slot] = entry;
        }
    }

    /// Removes `id`, which must map to `index` (backward-shift deletion keeps probes short and
    /// needs no tombstones).
    pub(crate) fn remove(&mut self, id: u128, index: u32) {
        let fingerprint = fingerprint(hash_id(id));
        let mask = self.mask();
        let mut hole = self.home(fingerprint);
        let wanted = (u64::from(fingerprint) << 32) | u64::from(index);
        while self.slots[hole] != wanted {
            assert_ne!(
                self.slots[hole], EMPTY,
                "removed ids were inserted at this index"
            );
            hole = (hole + 1) & mask;
        }
        self.slots[hole] = EMPTY;
        self.len -= 1;
        let mut next = hole;
        loop {
            next = (next + 1) & mask;
            let entry = self.slots[next];
            if entry == EMPTY {
                break;
            }
            let home = self.home((entry >> 32) as u32);
            // The entry may move back into the hole unless its home lies cyclically in (hole, next].
            let stays = if hole <= next {
                hole < home && home <= next
            } else {
                hole < home || home <= next
            };
            if !stays {
                self.slots[hole] = entry;
                self.slots[next] = EMPTY;
                hole = next;
            }
        }
    }
}

/// `slots` free slots, on huge pages where the OS agrees (see `memory`).
fn empty_slots(slots: usize) -> Vec<u64> {
    let mut vector = Vec::with_capacity(slots);
    crate::memory::advise_huge_pages(&vector);
    vector.resize(slots, EMPTY);
    vector
}

/// Slots for `capacity` ids at a load factor of at most 1/2.
fn slots_for(capacity: usize) -> usize {
    capacity
        .saturating_mul(2)
        .max(SLOTS_MIN)
        .checked_next_power_of_two()
        .expect("id index capacity fits usize")
}

/// Software prefetch into all cache levels; a no-op on targets without one.
#[inline(always)]
pub(crate) fn prefetch_read<T>(pointer: *const T) {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: prefetch is a hint; it never faults, even for an invalid address, and SSE is
        // part of the x86_64 baseline.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                pointer.cast::<i8>(),
            );
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = pointer;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_inserted_are_found_and_removed_ids_are_not() {
        let ids: Vec<u128> = (0..5_000u128).map(|k| k * 7 + (k << 70) + 1).collect();
        let mut index = IdIndex::default();
        for (k, &id) in ids.iter().enumerate() {
            index.insert_unique(id, k as u32, |i| ids[i as usize]);
        }
        assert_eq!(index.len(), ids.len());
        for (k, &id) in ids.iter().enumerate() {
            assert_eq!(index.find(id, |i| ids[i as usize]), Some(k as u32));
        }
        assert_eq!(index.find(3, |i| ids[i as usize]), None);
        // Remove every third id, newest first, as chain rollbacks do, then check the rest.
        for k in (0..ids.len()).rev().filter(|k| k % 3 == 0) {
            index.remove(ids[k], k as u32);
        }
        for (k, &id) in ids.iter().enumerate() {
            let expected = (k % 3 != 0).then_some(k as u32);
            assert_eq!(index.find(id, |i| ids[i as usize]), expected);
        }
    }

    /// Slots a lookup of `id` inspects before it finds it.
    fn probe_length(index: &IdIndex, id: u128) -> usize {
        let fingerprint = fingerprint(hash_id(id));
        let mut slot = index.home(fingerprint);
        let mut length = 1;
        while (index.slots[slot] >> 32) as u32 != fingerprint {
            slot = (slot + 1) & index.mask();
            length += 1;
        }
        length
    }

    #[test]
    fn sequential_and_structured_ids_spread_over_the_table() {
        let families: [&dyn Fn(u128) -> u128; 3] = [&|k| k + 1, &|k| (k + 1) << 64, &|k| {
            ((k + 1) << 64) | (k + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        }];
        for family in families {
            let ids: Vec<u128> = (0..100_000u128).map(family).collect();
            let mut index = IdIndex::default();
            for (k, &id) in ids.iter().enumerate() {
                index.insert_unique(id, k as u32, |i| ids[i as usize]);
            }
            let total: usize = ids.iter().map(|&id| probe_length(&index, id)).sum();
            let longest = ids.iter().map(|&id| probe_length(&index, id)).max();
            // Linear probing at load <= 1/2 averages 1.5 probes for a hit with a good hash.
            assert!(total as f64 / ids.len() as f64 <= 2.0, "mean probe {total}");
            assert!(longest.is_some_and(|longest| longest <= 64), "{longest:?}");
        }
    }

    #[test]
    fn reserve_grows_the_table_so_inserts_do_not() {
        let mut index = IdIndex::default();
        index.reserve(1_000);
        let slots = index.memory_bytes();
        let ids: Vec<u128> = (1..=1_000).collect();
        for (k, &id) in ids.iter().enumerate() {
            index.insert_unique(id, k as u32, |i| ids[i as usize]);
        }
        assert_eq!(index.memory_bytes(), slots);
    }
}
