//! A 128-bit digest of the whole ledger state, for replay checks. Not cryptographic: it detects
//! divergence between replicas or replays, it does not resist forgery.

use crate::ledger::Ledger;

/// Two independent 64-bit multiply-xorshift lanes over a stream of u64 words.
struct Digester {
    a: u64,
    b: u64,
}

impl Digester {
    fn new() -> Digester {
        Digester {
            a: 0x6b61_6e6a_6f2d_6c65,
            b: 0x6467_6572_2d76_3031,
        }
    }

    fn word(&mut self, word: u64) {
        self.a = mix(self.a ^ word).wrapping_add(0x9e37_79b9_7f4a_7c15);
        self.b = mix(self.b.rotate_left(23) ^ word.wrapping_mul(0xff51_afd7_ed55_8ccd));
    }

    fn wide(&mut self, word: u128) {
        self.word(word as u64);
        self.word((word >> 64) as u64);
    }

    fn finish(self) -> u128 {
        (u128::from(mix(self.a ^ self.b.rotate_left(32))) << 64) | u128::from(mix(self.b ^ self.a))
    }
}

/// SplitMix64's finaliser.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

impl Ledger {
    /// Digest of assets, accounts, transfers, pending statuses and the clock high-water mark, in
    /// their deterministic orders: identical after replaying the same batches with the same clocks.
    /// O(state).
    pub fn digest(&self) -> u128 {
        let mut d = Digester::new();
        d.word(self.assets.len() as u64);
        for asset in &self.assets {
            d.word(u64::from(asset.id.0));
            d.word(u64::from(asset.kind.tag()) | u64::from(asset.scale) << 8);
            d.word(asset.code.len() as u64);
            for chunk in asset.code.as_bytes().chunks(8) {
                let mut word = [0u8; 8];
                word[..chunk.len()].copy_from_slice(chunk);
                d.word(u64::from_le_bytes(word));
            }
        }
        d.word(self.accounts.len() as u64);
        for account in &self.accounts {
            d.wide(account.id);
            d.word(
                u64::from(account.asset.0)
                    | u64::from(account.owner.tag()) << 32
                    | u64::from(account.flags.0) << 40,
            );
            d.word(u64::from(account.code));
            d.wide(account.user_data_128);
            d.word(account.user_data_64);
            d.word(account.debits_pending);
            d.word(account.debits_posted);
            d.word(account.credits_pending);
            d.word(account.credits_posted);
            d.word(account.timestamp);
        }
        d.word(self.transfers.len() as u64);
        for (index, transfer) in self.transfers.iter().enumerate() {
            d.wide(transfer.id);
            d.wide(transfer.debit_account_id);
            d.wide(transfer.credit_account_id);
            d.word(transfer.amount);
            d.wide(transfer.pending_id);
            d.wide(transfer.user_data_128);
            d.word(transfer.user_data_64);
            d.word(
                u64::from(transfer.timeout_seconds)
                    | u64::from(transfer.code) << 32
                    | u64::from(transfer.flags.0) << 48,
            );
            d.word(u64::from(transfer.asset.0));
            d.word(transfer.timestamp);
            let index = index as u32;
            if let Some(status) = self.pending.get(&index) {
                d.word(1 << 60 | u64::from(status.tag()));
            }
            if let Some(&requested) = self.requested_amount.get(&index) {
                d.word(2 << 60);
                d.word(requested);
            }
        }
        d.word(self.last_timestamp);
        d.finish()
    }
}
