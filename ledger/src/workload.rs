//! Deterministic synthetic workloads for benchmarks and load tests (not used by the ledger
//! itself): M accounts of one asset and batches of transfers between uniformly random pairs, or
//! from random riders to one hot operator account.

use rand_xoshiro::SplitMix64;
use rand_xoshiro::rand_core::{RngCore, SeedableRng};

use crate::account::{Account, AccountFlags, AccountId, OwnerKind};
use crate::asset::{Asset, AssetId, AssetKind};
use crate::errors::CreateTransferResult;
use crate::ledger::Ledger;
use crate::transfer::Transfer;
use crate::{ACCOUNTS_PER_BATCH_MAX, TRANSFERS_PER_BATCH_MAX};

/// The one asset workload accounts hold.
pub const WORKLOAD_ASSET: AssetId = AssetId(1);
/// Largest transfer amount the generator draws (minor units).
pub const WORKLOAD_AMOUNT_MAX: u64 = 1_000;
/// Clock of the first workload batch (2026-01-01T00:00:00Z in ns).
pub const WORKLOAD_CLOCK_START_NS: u64 = 1_767_225_600_000_000_000;
/// Clock advance between workload batches.
pub const WORKLOAD_CLOCK_STEP_NS: u64 = 1_000_000;

/// Uniform in `0..bound` from the workspace's one seeded generator, `rand_xoshiro`'s SplitMix64
/// (Lemire's multiply-shift; the bias is below 2^-32 for our bounds).
fn below(rng: &mut SplitMix64, bound: u64) -> u64 {
    assert!(bound > 0);
    ((u128::from(rng.next_u64()) * u128::from(bound)) >> 64) as u64
}

/// The id of workload account `k` (0-based): spread over the high half too, like real 128-bit ids.
pub fn account_id(k: u64) -> AccountId {
    (u128::from(k + 1) << 64) | u128::from((k + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

/// A ledger holding the workload asset and `accounts` accounts (ids `account_id(0..accounts)`,
/// no limit flags so every generated transfer succeeds), with room for `transfers` transfers.
pub fn setup_ledger(accounts: u64, transfers: u64) -> Ledger {
    assert!(accounts >= 2, "a workload needs at least two accounts");
    let mut ledger = Ledger::with_capacity(
        usize::try_from(accounts).expect("account count fits usize"),
        usize::try_from(transfers).expect("transfer count fits usize"),
    );
    let created = ledger.create_assets(&[Asset::new(WORKLOAD_ASSET.0, "JPY", AssetKind::Yen, 0)]);
    assert!(
        created.is_empty(),
        "fresh ledger accepts the workload asset"
    );
    let mut batch = Vec::with_capacity(ACCOUNTS_PER_BATCH_MAX);
    let mut k = 0;
    while k < accounts {
        batch.clear();
        while batch.len() < ACCOUNTS_PER_BATCH_MAX && k < accounts {
            let owner = if k == 0 {
                OwnerKind::Operator
            } else {
                OwnerKind::Rider
            };
            batch.push(Account::new(
                account_id(k),
                WORKLOAD_ASSET,
                owner,
                AccountFlags::NONE,
            ));
            k += 1;
        }
        let failed = ledger.create_accounts(&batch, WORKLOAD_CLOCK_START_NS);
        assert!(failed.is_empty(), "workload accounts are valid and new");
    }
    ledger
}

/// Generates workload transfers. Uniform: debit and credit uniformly random distinct accounts.
/// Hot: every transfer credits account 0 (one operator) from a random other account.
#[derive(Clone, Debug)]
pub struct TransferGenerator {
    rng: SplitMix64,
    accounts: u64,
    hot: bool,
    next_id: u128,
}

impl TransferGenerator {
    pub fn new(accounts: u64, hot: bool, seed: u64) -> TransferGenerator {
        assert!(accounts >= 2, "a workload needs at least two accounts");
        TransferGenerator {
            rng: SplitMix64::seed_from_u64(seed),
            accounts,
            hot,
            next_id: 1,
        }
    }

    /// Replaces `batch` with the next `count` transfers (`count` ≤ TRANSFERS_PER_BATCH_MAX).
    pub fn fill_batch(&mut self, batch: &mut Vec<Transfer>, count: usize) {
        assert!(count <= TRANSFERS_PER_BATCH_MAX);
        batch.clear();
        for _ in 0..count {
            let (debit, credit) = if self.hot {
                (1 + below(&mut self.rng, self.accounts - 1), 0)
            } else {
                let debit = below(&mut self.rng, self.accounts);
                // Uniform over the other accounts.
                let mut credit = below(&mut self.rng, self.accounts - 1);
                if credit >= debit {
                    credit += 1;
                }
                (debit, credit)
            };
            let amount = 1 + below(&mut self.rng, WORKLOAD_AMOUNT_MAX);
            let id = self.next_id;
            self.next_id += 1;
            let mut transfer = Transfer::new(
                id,
                account_id(debit),
                account_id(credit),
                amount,
                WORKLOAD_ASSET,
                1,
            );
            transfer.user_data_64 = id as u64;
            batch.push(transfer);
        }
    }
}

/// What `run` did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkloadStats {
    pub transfers: u64,
    pub batches: u64,
    pub failed: u64,
}

/// Applies `transfers` generated transfers in full batches. Each `create_transfers` call runs
/// inside `timed`, so the caller measures exactly the apply (wall clock, CPU time, ...) and not
/// the generation; the ledger itself reads no clock.
pub fn run(
    ledger: &mut Ledger,
    generator: &mut TransferGenerator,
    transfers: u64,
    mut timed: impl FnMut(&mut dyn FnMut()),
) -> WorkloadStats {
    let mut stats = WorkloadStats::default();
    let mut batch = Vec::with_capacity(TRANSFERS_PER_BATCH_MAX);
    let mut results: Vec<CreateTransferResult> = Vec::new();
    let mut clock_ns = WORKLOAD_CLOCK_START_NS;
    while stats.transfers < transfers {
        let count = (transfers - stats.transfers).min(TRANSFERS_PER_BATCH_MAX as u64) as usize;
        generator.fill_batch(&mut batch, count);
        clock_ns += WORKLOAD_CLOCK_STEP_NS;
        timed(&mut || ledger.create_transfers_into(&batch, clock_ns, &mut results));
        stats.failed += results.len() as u64;
        stats.transfers += count as u64;
        stats.batches += 1;
    }
    stats
}
