//! Ledger invariants: per-asset running totals, and the full O(state) check any caller can run.

use hashbrown::HashMap;
use thiserror::Error;

use crate::account::AccountId;
use crate::asset::AssetId;
use crate::ledger::Ledger;
use crate::transfer::{PendingStatus, TransferFlags, TransferId};

/// Running sums over all accounts of one asset. u128 so that the sum of any number of u64
/// balances cannot overflow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AssetTotals {
    pub debits_posted: u128,
    pub credits_posted: u128,
    pub debits_pending: u128,
    pub credits_pending: u128,
}

/// A broken invariant. Any of these is a bug in the ledger, never a user error.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum InvariantViolation {
    #[error("asset {asset:?}: posted debits {debits} != posted credits {credits}")]
    PostedUnbalanced {
        asset: AssetId,
        debits: u128,
        credits: u128,
    },
    #[error("asset {asset:?}: pending debits {debits} != pending credits {credits}")]
    PendingUnbalanced {
        asset: AssetId,
        debits: u128,
        credits: u128,
    },
    #[error("asset {asset:?}: running total {field} {maintained} != sum over accounts {summed}")]
    TotalsDrift {
        asset: AssetId,
        field: &'static str,
        maintained: u128,
        summed: u128,
    },
    #[error("account {account}: balances break its limit flags")]
    AccountBreaksLimit { account: AccountId },
    #[error("account {account}: asset does not exist")]
    AccountAssetUnknown { account: AccountId },
    #[error(
        "account {account}: pending balance {balance} != sum of its open reservations {reserved}"
    )]
    PendingDrift {
        account: AccountId,
        balance: u64,
        reserved: u128,
    },
    #[error("transfer {transfer}: timestamp not after the previous transfer's")]
    TimestampsNotIncreasing { transfer: TransferId },
    #[error("index {what} is out of step with the stored records")]
    IndexMismatch { what: &'static str },
}

impl Ledger {
    /// Checks every invariant over the whole state (O(accounts + transfers)):
    /// per asset, debits = credits posted and pending and the running totals equal the sums over
    /// accounts; every account respects its limit flags; every account's pending balances equal
    /// the sum of its still-reserved pending transfers; transfer timestamps strictly increase;
    /// the id indexes cover exactly the stored records.
    pub fn check_invariants(&self) -> Result<(), InvariantViolation> {
        let mut summed = vec![AssetTotals::default(); self.assets.len()];
        for account in &self.accounts {
            let Some(&asset_index) = self.asset_index.get(&account.asset) else {
                return Err(InvariantViolation::AccountAssetUnknown {
                    account: account.id,
                });
            };
            let sum = &mut summed[asset_index as usize];
            sum.debits_posted += u128::from(account.debits_posted);
            sum.credits_posted += u128::from(account.credits_posted);
            sum.debits_pending += u128::from(account.debits_pending);
            sum.credits_pending += u128::from(account.credits_pending);
            if !account.within_limits() {
                return Err(InvariantViolation::AccountBreaksLimit {
                    account: account.id,
                });
            }
        }
        for ((asset, maintained), summed) in self.assets.iter().zip(&self.totals).zip(&summed) {
            if maintained.debits_posted != maintained.credits_posted {
                return Err(InvariantViolation::PostedUnbalanced {
                    asset: asset.id,
                    debits: maintained.debits_posted,
                    credits: maintained.credits_posted,
                });
            }
            if maintained.debits_pending != maintained.credits_pending {
                return Err(InvariantViolation::PendingUnbalanced {
                    asset: asset.id,
                    debits: maintained.debits_pending,
                    credits: maintained.credits_pending,
                });
            }
            let fields = [
                (
                    "debits_posted",
                    maintained.debits_posted,
                    summed.debits_posted,
                ),
                (
                    "credits_posted",
                    maintained.credits_posted,
                    summed.credits_posted,
                ),
                (
                    "debits_pending",
                    maintained.debits_pending,
                    summed.debits_pending,
                ),
                (
                    "credits_pending",
                    maintained.credits_pending,
                    summed.credits_pending,
                ),
            ];
            for (field, maintained, summed) in fields {
                if maintained != summed {
                    return Err(InvariantViolation::TotalsDrift {
                        asset: asset.id,
                        field,
                        maintained,
                        summed,
                    });
                }
            }
        }
        self.check_pending_reservations()?;
        let mut previous_timestamp = 0;
        for transfer in &self.transfers {
            if transfer.timestamp <= previous_timestamp {
                return Err(InvariantViolation::TimestampsNotIncreasing {
                    transfer: transfer.id,
                });
            }
            previous_timestamp = transfer.timestamp;
        }
        if self.account_index.len() != self.accounts.len() {
            return Err(InvariantViolation::IndexMismatch { what: "accounts" });
        }
        if self.transfer_index.len() != self.transfers.len() {
            return Err(InvariantViolation::IndexMismatch { what: "transfers" });
        }
        let expiring = self
            .pending
            .iter()
            .filter(|&(&index, &status)| {
                status == PendingStatus::Pending
                    && self.transfers[index as usize].timeout_seconds > 0
            })
            .count();
        if expiring != self.expiry.len() {
            return Err(InvariantViolation::IndexMismatch { what: "expiry" });
        }
        Ok(())
    }

    /// Every account's pending balances equal the sum of its open reservations.
    fn check_pending_reservations(&self) -> Result<(), InvariantViolation> {
        let mut reserved_debits: HashMap<u128, u128> = HashMap::new();
        let mut reserved_credits: HashMap<u128, u128> = HashMap::new();
        for (&index, &status) in &self.pending {
            let transfer = &self.transfers[index as usize];
            if !transfer.flags.contains(TransferFlags::PENDING) {
                return Err(InvariantViolation::IndexMismatch { what: "pending" });
            }
            if status == PendingStatus::Pending {
                *reserved_debits
                    .entry(transfer.debit_account_id)
                    .or_default() += u128::from(transfer.amount);
                *reserved_credits
                    .entry(transfer.credit_account_id)
                    .or_default() += u128::from(transfer.amount);
            }
        }
        for account in &self.accounts {
            let debits = reserved_debits.get(&account.id).copied().unwrap_or(0);
            if debits != u128::from(account.debits_pending) {
                return Err(InvariantViolation::PendingDrift {
                    account: account.id,
                    balance: account.debits_pending,
                    reserved: debits,
                });
            }
            let credits = reserved_credits.get(&account.id).copied().unwrap_or(0);
            if credits != u128::from(account.credits_pending) {
                return Err(InvariantViolation::PendingDrift {
                    account: account.id,
                    balance: account.credits_pending,
                    reserved: credits,
                });
            }
        }
        Ok(())
    }

    /// Debug builds, after every batch: the full check while the state is small enough for it
    /// to stay cheap in tests; above that only the O(assets) totals (always asserted).
    #[cfg(debug_assertions)]
    pub(crate) fn debug_check_after_batch(&self) {
        if self.accounts.len() + self.transfers.len() <= DEBUG_FULL_CHECK_RECORDS_MAX
            && let Err(violation) = self.check_invariants()
        {
            panic!("ledger invariant broken: {violation}");
        }
    }
}

/// Largest state (accounts + transfers) debug builds fully re-check after every batch.
#[cfg(debug_assertions)]
const DEBUG_FULL_CHECK_RECORDS_MAX: usize = 50_000;
