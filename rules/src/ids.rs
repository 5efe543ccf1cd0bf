//! Dense indices into a compiled `Programme` or `Riders`, and the rule bit set.
//!
//! Indices are only meaningful for the programme (or registry) that produced them.

macro_rules! index_type {
    ($(#[$doc:meta])* $name:ident, $repr:ty) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub $repr);

        impl $name {
            /// The position in the owning table.
            #[inline]
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}

index_type!(
    /// An operator (one `[[fare_tables]]` entry), in file order.
    OperatorIx,
    u16
);
index_type!(
    /// A rule, in file order (also its bit in a [`RuleSet`]).
    RuleIx,
    u16
);
index_type!(
    /// A budget (one `[[budgets]]` entry), in file order.
    BudgetIx,
    u16
);
index_type!(
    /// An asset granted by some rule, dense in order of first mention in the file.
    AssetIx,
    u16
);
index_type!(
    /// A rider in a `Riders` registry.
    RiderIx,
    u32
);

/// The key under which daily caps and ride counters are kept: a 128-bit FNV-1a hash of the
/// pseudonymous `rider` id. Unknown riders get caps and counters too, so the key cannot be
/// an index into the registry; a 128-bit hash makes a collision practically impossible while
/// keeping `Ride` `Copy` and free of strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RiderKey(pub u128);

impl RiderKey {
    /// The key of a rider id.
    pub fn of(rider_id: &str) -> RiderKey {
        RiderKey(fnv1a_128(FNV_OFFSET_128, rider_id.as_bytes()))
    }
}

/// FNV-1a's 128-bit offset basis: the state to start `fnv1a_128` from.
pub const FNV_OFFSET_128: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
const FNV_PRIME_128: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;

/// FNV-1a, 128 bits, continuing from `state` (start with `FNV_OFFSET_128`). The workspace's one
/// FNV: rider keys, the programme digest, and wherever a small stable hash is wanted.
pub fn fnv1a_128(mut state: u128, bytes: &[u8]) -> u128 {
    for &byte in bytes {
        state ^= u128::from(byte);
        state = state.wrapping_mul(FNV_PRIME_128);
    }
    state
}

/// A set of rules, iterated in file order. Capacity is `MAX_RULES` (64).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RuleSet(pub u64);

impl RuleSet {
    pub const EMPTY: RuleSet = RuleSet(0);

    #[inline]
    pub fn insert(&mut self, rule: RuleIx) {
        debug_assert!(rule.index() < 64);
        self.0 |= 1u64 << rule.0;
    }

    #[inline]
    pub fn contains(self, rule: RuleIx) -> bool {
        rule.index() < 64 && self.0 & (1u64 << rule.0) != 0
    }

    #[inline]
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    #[inline]
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The rules in file order.
    pub fn iter(self) -> impl Iterator<Item = RuleIx> {
        let mut bits = self.0;
        std::iter::from_fn(move || {
            if bits == 0 {
                return None;
            }
            let rule = bits.trailing_zeros();
            bits &= bits - 1;
            Some(RuleIx(rule as u16))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_set_iterates_in_file_order() {
        let mut set = RuleSet::EMPTY;
        set.insert(RuleIx(9));
        set.insert(RuleIx(0));
        set.insert(RuleIx(63));
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            vec![RuleIx(0), RuleIx(9), RuleIx(63)]
        );
        assert_eq!(set.len(), 3);
        assert!(set.contains(RuleIx(9)) && !set.contains(RuleIx(8)));
    }

    #[test]
    fn rider_keys_differ_for_different_ids_and_match_for_equal_ids() {
        assert_eq!(RiderKey::of("r-001"), RiderKey::of("r-001"));
        assert_ne!(RiderKey::of("r-001"), RiderKey::of("r-002"));
        assert_ne!(RiderKey::of(""), RiderKey::of("\0"));
    }
}
