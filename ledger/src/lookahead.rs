//! The lookahead of `create_transfers`: hashes ids and prefetches index slots, then finds account
//! candidates and prefetches their records, a chunk or two ahead of the apply loop, so that the
//! loop mostly hits cache instead of waiting on one miss after another.

use crate::account::{Account, AccountId};
use crate::id_index::{hash_id, prefetch_read};
use crate::ledger::Ledger;
use crate::transfer::Transfer;

/// A transfer's lookups done ahead of applying it: the hash of its id and the indexes of its
/// debit and credit accounts (`NOT_FOUND` if absent). Accounts are never created or removed
/// during a transfer batch, so resolving them up front gives the same answers as in order.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Resolved {
    pub(crate) id_hash: u64,
    pub(crate) debit_hash: u64,
    pub(crate) credit_hash: u64,
    pub(crate) debit: u32,
    pub(crate) credit: u32,
}

/// Marks an account id that resolved to no account.
pub(crate) const NOT_FOUND: u32 = u32::MAX;

/// Transfers `prepare` resolves ahead of the apply loop at a time (and hashes one more ahead).
pub(crate) const PREPARE_CHUNK: usize = 128;

/// The debit and credit account ids of the transfer before `k` (ids no account has at k = 0,
/// so that the first transfer is always looked up).
pub(crate) fn previous_accounts(transfers: &[Transfer], k: usize) -> (AccountId, AccountId) {
    match k.checked_sub(1) {
        Some(previous) => (
            transfers[previous].debit_account_id,
            transfers[previous].credit_account_id,
        ),
        // u128::MAX is never an account id.
        None => (u128::MAX, u128::MAX),
    }
}

/// Prefetches the cache line of an account record that transfers touch (see `Account`).
#[inline]
pub(crate) fn prefetch_account(accounts: &[Account], index: u32) {
    if index != NOT_FOUND {
        let record = accounts.as_ptr().wrapping_add(index as usize);
        prefetch_read(record);
    }
}

impl Ledger {
    /// Looks ahead of the apply loop so that it mostly hits cache instead of waiting on one
    /// miss after another: makes sure transfers `..need` are resolved (accounts looked up, records
    /// prefetched) and, one stage further ahead, hashed (index slots prefetched). Work is done a
    /// `PREPARE_CHUNK` at a time, so the prefetched lines of the stages in flight (a few hundred
    /// KiB) stay in L2 until used.
    #[inline(never)]
    pub(crate) fn prepare(&mut self, transfers: &[Transfer], need: usize) {
        if need <= self.resolved_upto {
            return;
        }
        let len = transfers.len();
        let resolve_to = (need + PREPARE_CHUNK).min(len);
        let hash_to = (resolve_to + PREPARE_CHUNK).min(len);
        let hash_from = self.hashed_upto.min(hash_to);
        // An account named by the previous transfer on the same side (the hot operator account
        // credited by every fare) is neither hashed nor looked up again.
        let (mut previous_debit, mut previous_credit) = previous_accounts(transfers, hash_from);
        for (t, entry) in transfers[hash_from..hash_to]
            .iter()
            .zip(&mut self.resolved[hash_from..hash_to])
        {
            entry.id_hash = hash_id(t.id);
            self.transfer_index.prefetch(entry.id_hash);
            if t.debit_account_id != previous_debit {
                entry.debit_hash = hash_id(t.debit_account_id);
                self.account_index.prefetch(entry.debit_hash);
            }
            if t.credit_account_id != previous_credit {
                entry.credit_hash = hash_id(t.credit_account_id);
                self.account_index.prefetch(entry.credit_hash);
            }
            previous_debit = t.debit_account_id;
            previous_credit = t.credit_account_id;
        }
        self.hashed_upto = self.hashed_upto.max(hash_to);

        // Candidates only: confirming a candidate reads the record, which is what the prefetch
        // is for; `confirmed` does it just before the transfer is applied.
        let accounts = &self.accounts;
        let resolve_from = self.resolved_upto;
        let (mut previous_debit, mut previous_credit) = previous_accounts(transfers, resolve_from);
        let (mut debit, mut credit) = match resolve_from.checked_sub(1) {
            Some(previous) => (
                self.resolved[previous].debit,
                self.resolved[previous].credit,
            ),
            None => (NOT_FOUND, NOT_FOUND),
        };
        for (t, entry) in transfers[resolve_from..resolve_to]
            .iter()
            .zip(&mut self.resolved[resolve_from..resolve_to])
        {
            if t.debit_account_id != previous_debit {
                debit = self
                    .account_index
                    .candidate(entry.debit_hash)
                    .unwrap_or(NOT_FOUND);
                prefetch_account(accounts, debit);
            }
            if t.credit_account_id != previous_credit {
                credit = self
                    .account_index
                    .candidate(entry.credit_hash)
                    .unwrap_or(NOT_FOUND);
                prefetch_account(accounts, credit);
            }
            entry.debit = debit;
            entry.credit = credit;
            previous_debit = t.debit_account_id;
            previous_credit = t.credit_account_id;
        }
        self.resolved_upto = resolve_to;
    }

    /// Transfer `k`'s lookups with its account candidates confirmed: a candidate whose record
    /// has another id (a fingerprint collision, about 2^-32 per probe) is looked up in full.
    #[inline(always)]
    pub(crate) fn confirmed(&self, transfers: &[Transfer], k: usize) -> Resolved {
        let t = &transfers[k];
        let mut resolved = self.resolved[k];
        resolved.debit = self.confirm_account(resolved.debit, t.debit_account_id);
        resolved.credit = self.confirm_account(resolved.credit, t.credit_account_id);
        resolved
    }

    #[inline(always)]
    pub(crate) fn confirm_account(&self, candidate: u32, id: AccountId) -> u32 {
        if candidate == NOT_FOUND || self.accounts[candidate as usize].id == id {
            // NOT_FOUND candidates are certain: the probe met a free slot before any match.
            return candidate;
        }
        self.account_slot(id).unwrap_or(NOT_FOUND)
    }
}
