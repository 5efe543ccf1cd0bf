//! A tiny deterministic PRNG (SplitMix64) and a stateless mixer, so every run is reproducible by seed.
//!
//! Not cryptographic; only for load shapes and sampling.

/// SplitMix64: one u64 of state, passes BigCrush, and seeding it with any value is fine.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN_GAMMA);
        finalize(self.state)
    }

    /// Uniform in `0..bound` (Lemire's multiply-shift; the bias is below 2^-32 for our bounds).
    pub fn below(&mut self, bound: u64) -> u64 {
        assert!(bound > 0, "an empty range has no member");
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }

    /// Uniform in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        assert!(low <= high);
        low + self.below(high - low + 1)
    }

    /// True with probability `per_mille / 1000`.
    pub fn chance_per_mille(&mut self, per_mille: u32) -> bool {
        assert!(per_mille <= 1000);
        self.below(1000) < u64::from(per_mille)
    }

    /// Uniform in [0, 1), 53 bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A stateless hash of (seed, stream, index): per-item fates computed on demand, so generators never
/// need a table of 1.2 M voters to remember who is who.
pub fn mix(seed: u64, stream: u64, index: u64) -> u64 {
    let first = finalize(seed ^ stream.wrapping_mul(GOLDEN_GAMMA));
    finalize(
        first
            ^ index
                .wrapping_add(GOLDEN_GAMMA)
                .wrapping_mul(0xD6E8_FEB8_6659_FD93),
    )
}

/// Maps a hash to `0..bound` (multiply-shift, as `below`).
pub fn reduce(hash: u64, bound: u64) -> u64 {
    assert!(bound > 0);
    ((u128::from(hash) * u128::from(bound)) >> 64) as u64
}

fn finalize(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_sequence() {
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        assert_ne!(SplitMix64::new(7).next_u64(), SplitMix64::new(8).next_u64());
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut rng = SplitMix64::new(1);
        let mut seen = [0u32; 10];
        for _ in 0..10_000 {
            seen[rng.below(10) as usize] += 1;
        }
        assert!(
            seen.iter().all(|&count| (800..1200).contains(&count)),
            "{seen:?}"
        );
    }

    #[test]
    fn mix_differs_by_stream_and_index() {
        assert_ne!(mix(1, 0, 0), mix(1, 1, 0));
        assert_ne!(mix(1, 0, 0), mix(1, 0, 1));
        assert_eq!(mix(3, 4, 5), mix(3, 4, 5));
    }
}
