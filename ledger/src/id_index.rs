//! id → dense index maps. The table stores only the u32 index (4 bytes + 1 control byte per
//! slot); the id itself is read back from the dense Vec it indexes, so a remembered id costs no
//! second copy of the 16-byte key.

use hashbrown::HashTable;

/// Mixes a 128-bit id into 64 bits with two folded multiplies: good high bits (hashbrown's tag)
/// and good low bits (its bucket index) for both sequential and random ids.
#[inline]
pub(crate) fn hash_id(id: u128) -> u64 {
    const K0: u64 = 0x9e37_79b9_7f4a_7c15;
    const K1: u64 = 0xbf58_476d_1ce4_e5b9;
    const K2: u64 = 0x94d0_49bb_1331_11eb;
    let lo = id as u64;
    let hi = (id >> 64) as u64;
    let a = fold_multiply(lo ^ K0, K1) ^ hi;
    fold_multiply(a ^ K2, K0)
}

#[inline]
fn fold_multiply(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

#[derive(Default, Clone)]
pub(crate) struct IdIndex {
    table: HashTable<u32>,
}

impl IdIndex {
    pub(crate) fn with_capacity(capacity: usize) -> IdIndex {
        IdIndex {
            table: HashTable::with_capacity(capacity),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    #[inline]
    pub(crate) fn find(&self, id: u128, id_of: impl Fn(u32) -> u128) -> Option<u32> {
        self.find_hashed(hash_id(id), id, id_of)
    }

    #[inline]
    pub(crate) fn find_hashed(
        &self,
        hash: u64,
        id: u128,
        id_of: impl Fn(u32) -> u128,
    ) -> Option<u32> {
        self.table.find(hash, |&index| id_of(index) == id).copied()
    }

    /// Inserts an id known to be absent.
    #[inline]
    pub(crate) fn insert_unique(&mut self, id: u128, index: u32, id_of: impl Fn(u32) -> u128) {
        debug_assert!(self.find(id, &id_of).is_none());
        self.table
            .insert_unique(hash_id(id), index, |&other| hash_id(id_of(other)));
    }

    pub(crate) fn reserve(&mut self, additional: usize, id_of: impl Fn(u32) -> u128) {
        self.table
            .reserve(additional, |&other| hash_id(id_of(other)));
    }

    /// Removes `id`, which must map to `index`.
    pub(crate) fn remove(&mut self, id: u128, index: u32) {
        let entry = self
            .table
            .find_entry(hash_id(id), |&other| other == index)
            .expect("removed ids were inserted at this index");
        entry.remove();
    }
}
