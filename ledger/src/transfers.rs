//! Applying transfer batches: the batch loop, linked chains and their undo log, the plain-transfer
//! fast path, validation of single-phase and pending transfers, and idempotency (`exists`).

use crate::account::{Account, AccountFlags};
use crate::asset::AssetId;
use crate::errors::{CreateTransferError, CreateTransferResult, TransferField};
use crate::id_index::Probe;
use crate::invariants::AssetTotals;
use crate::ledger::{Ledger, chain_end, push_chain_open};
use crate::lookahead::{NOT_FOUND, Resolved};
use crate::pending::deadline_ns;
use crate::transfer::{PendingStatus, Transfer, TransferFlags};
use crate::{NS_PER_SECOND, TRANSFERS_PER_BATCH_MAX};

pub(crate) type TransferError = CreateTransferError;

/// What a linked chain must undo if a later link fails. Only chains record undo entries: a
/// transfer outside a chain is fully validated before it mutates anything.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Undo {
    Account {
        index: u32,
        prior: Account,
    },
    Totals {
        asset_index: u32,
        prior: AssetTotals,
    },
    TransferInserted,
    PendingResolved {
        pending_index: u32,
        deadline_ns: Option<u64>,
    },
}

impl Ledger {
    /// Applies a batch of transfers; reports failures and `Exists` only. Expires timed-out
    /// pending transfers first (at `clock_ns`).
    pub fn create_transfers(
        &mut self,
        transfers: &[Transfer],
        clock_ns: u64,
    ) -> Vec<CreateTransferResult> {
        let mut results = Vec::new();
        self.create_transfers_into(transfers, clock_ns, &mut results);
        results
    }

    /// `create_transfers` into a caller-owned results buffer (cleared first), so a hot loop
    /// allocates nothing per batch.
    pub fn create_transfers_into(
        &mut self,
        transfers: &[Transfer],
        clock_ns: u64,
        results: &mut Vec<CreateTransferResult>,
    ) {
        results.clear();
        if transfers.len() > TRANSFERS_PER_BATCH_MAX {
            results.extend((0..transfers.len()).map(|index| CreateTransferResult {
                index: index as u32,
                result: TransferError::BatchTooLarge,
            }));
            return;
        }
        self.expire_pending_transfers(clock_ns);
        if transfers.is_empty() {
            return;
        }
        let base = self.batch_timestamp_base(clock_ns, transfers.len());
        self.reserve_transfers(transfers.len());
        self.resolved.clear();
        self.resolved.resize(transfers.len(), Resolved::default());
        self.hashed_upto = 0;
        self.resolved_upto = 0;
        let mut start = 0;
        while start < transfers.len() {
            let transfer = &transfers[start];
            if !transfer.flags.contains(TransferFlags::LINKED) {
                // Fast path: a lone transfer validates fully before mutating, so no undo log.
                if start >= self.resolved_upto {
                    self.prepare(transfers, start + 1);
                }
                let resolved = self.confirmed(transfers, start);
                let timestamp = base + start as u64;
                if self.try_apply_plain(transfer, timestamp, resolved) {
                    start += 1;
                    continue;
                }
                if let Err(result) = self.create_transfer(transfer, timestamp, resolved, false) {
                    results.push(CreateTransferResult {
                        index: start as u32,
                        result,
                    });
                }
                start += 1;
                continue;
            }
            let end = chain_end(transfers.len(), start, |k| {
                transfers[k].flags.contains(TransferFlags::LINKED)
            });
            let Some(end) = end else {
                push_chain_open(
                    results,
                    start,
                    transfers.len(),
                    |index, result| CreateTransferResult { index, result },
                    TransferError::LinkedEventChainOpen,
                    TransferError::LinkedEventFailed,
                );
                break;
            };
            self.prepare(transfers, end + 1);
            self.apply_chain(transfers, start, end, base, results);
            start = end + 1;
        }
        self.last_timestamp = base + transfers.len() as u64 - 1;
        self.assert_totals_balance();
        #[cfg(debug_assertions)]
        self.debug_check_after_batch();
    }

    /// Applies the linked chain `transfers[start..=end]` atomically.
    ///
    /// `Exists` inside a chain: if every link exists (a retried chain) each reports `Exists` and
    /// nothing changes; if only some exist the chain is not the one applied before, so it fails:
    /// existing links report `Exists`, the others `LinkedEventFailed`. A link with any other
    /// error fails the chain: it reports its error, every other link `LinkedEventFailed`.
    pub(crate) fn apply_chain(
        &mut self,
        transfers: &[Transfer],
        start: usize,
        end: usize,
        base: u64,
        results: &mut Vec<CreateTransferResult>,
    ) {
        debug_assert!(start < end);
        self.undo.clear();
        let mut outcomes = std::mem::take(&mut self.chain_outcomes);
        outcomes.clear();
        let mut failed_at = None;
        for (k, transfer) in transfers.iter().enumerate().take(end + 1).skip(start) {
            let resolved = self.confirmed(transfers, k);
            let outcome = self
                .create_transfer(transfer, base + k as u64, resolved, true)
                .err();
            outcomes.push(outcome);
            if matches!(outcome, Some(e) if e != TransferError::Exists) {
                failed_at = Some(k);
                break;
            }
        }
        let exists = outcomes
            .iter()
            .filter(|o| **o == Some(TransferError::Exists))
            .count();
        let chain_len = end - start + 1;
        let all_exist = exists == chain_len;
        let rollback = failed_at.is_some() || (exists > 0 && !all_exist);
        if rollback {
            self.rollback_chain();
        }
        for k in start..=end {
            let outcome = outcomes.get(k - start).copied().flatten();
            let result = match failed_at {
                Some(failed) if failed == k => outcome,
                Some(_) => Some(TransferError::LinkedEventFailed),
                None if all_exist => outcome,
                None if rollback => Some(outcome.unwrap_or(TransferError::LinkedEventFailed)),
                None => None,
            };
            if let Some(result) = result {
                results.push(CreateTransferResult {
                    index: k as u32,
                    result,
                });
            }
        }
        self.undo.clear();
        self.chain_outcomes = outcomes;
    }

    pub(crate) fn rollback_chain(&mut self) {
        while let Some(entry) = self.undo.pop() {
            match entry {
                Undo::Account { index, prior } => self.accounts[index as usize] = prior,
                Undo::Totals { asset_index, prior } => self.totals[asset_index as usize] = prior,
                Undo::PendingResolved {
                    pending_index,
                    deadline_ns,
                } => {
                    self.pending.insert(pending_index, PendingStatus::Pending);
                    if let Some(deadline_ns) = deadline_ns {
                        self.expiry.insert((deadline_ns, pending_index));
                    }
                }
                Undo::TransferInserted => self.pop_transfer(),
            }
        }
    }

    pub(crate) fn pop_transfer(&mut self) {
        let transfer = self
            .transfers
            .last()
            .copied()
            .expect("pop_transfer on empty ledger");
        let index = (self.transfers.len() - 1) as u32;
        self.transfer_index.remove(transfer.id, index);
        self.requested_amount.remove(&index);
        if transfer.flags.contains(TransferFlags::PENDING) {
            self.pending.remove(&index);
            if transfer.timeout_seconds > 0 {
                let deadline_ns = deadline_ns(&transfer);
                let removed = self.expiry.remove(&(deadline_ns, index));
                assert!(
                    removed,
                    "a pending transfer with a timeout is in the expiry queue"
                );
            }
        }
        for account_id in [transfer.debit_account_id, transfer.credit_account_id] {
            let account_index = self
                .account_slot(account_id)
                .expect("stored transfer's account exists");
            if let Some(list) = self.history.get_mut(&account_index) {
                let last = list.pop();
                assert_eq!(last, Some(index), "history ends with the popped transfer");
            }
        }
        self.transfers.pop();
    }

    /// The common case in few instructions: a lone single-phase transfer with no special flag
    /// that passes every check. Returns false, having changed nothing, for anything else; the
    /// caller then runs `create_transfer`, which decides exactly as this does when all checks
    /// pass and also names the error when one fails (the model test holds both to the model).
    #[inline(always)]
    pub(crate) fn try_apply_plain(
        &mut self,
        t: &Transfer,
        timestamp: u64,
        resolved: Resolved,
    ) -> bool {
        if t.flags.0 != 0
            || t.id == 0
            || t.id == u128::MAX
            || t.timestamp != 0
            || t.pending_id != 0
            || t.timeout_seconds != 0
            || resolved.debit == NOT_FOUND
            || resolved.credit == NOT_FOUND
            || resolved.debit == resolved.credit
        {
            return false;
        }
        debug_assert_eq!(self.account_slot(t.debit_account_id), Some(resolved.debit));
        debug_assert_eq!(
            self.account_slot(t.credit_account_id),
            Some(resolved.credit)
        );
        let transfers = &self.transfers;
        let Probe::Vacant { slot: id_slot } =
            self.transfer_index
                .probe(resolved.id_hash, t.id, |index| transfers[index as usize].id)
        else {
            return false;
        };
        let (dr_index, cr_index) = (resolved.debit as usize, resolved.credit as usize);
        let Ok([dr, cr]) = self.accounts.get_disjoint_mut([dr_index, cr_index]) else {
            return false;
        };
        let amount = t.amount;
        let (Some(dr_debits_posted), Some(cr_credits_posted)) = (
            dr.debits_posted.checked_add(amount),
            cr.credits_posted.checked_add(amount),
        ) else {
            return false;
        };
        let (Some(dr_debits), Some(cr_credits)) = (
            dr_debits_posted.checked_add(dr.debits_pending),
            cr_credits_posted.checked_add(cr.credits_pending),
        ) else {
            return false;
        };
        if dr.asset != t.asset
            || cr.asset != t.asset
            || (dr.flags.0 | cr.flags.0) & AccountFlags::CLOSED.0 != 0
            || (dr
                .flags
                .contains(AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS)
                && dr_debits > dr.credits_posted)
            || (cr
                .flags
                .contains(AccountFlags::CREDITS_MUST_NOT_EXCEED_DEBITS)
                && cr_credits > cr.debits_posted)
        {
            return false;
        }
        dr.debits_posted = dr_debits_posted;
        cr.credits_posted = cr_credits_posted;
        debug_assert!(dr.within_limits() && cr.within_limits());
        let history = (dr.flags.0 | cr.flags.0) & AccountFlags::HISTORY.0 != 0;
        let asset_index = self.asset_index_cached(t.asset);
        let totals = &mut self.totals[asset_index as usize];
        totals.debits_posted += u128::from(amount);
        totals.credits_posted += u128::from(amount);

        let index = self.transfers.len() as u32;
        assert!(index < u32::MAX, "transfer index space exhausted");
        debug_assert!(
            self.transfers
                .last()
                .is_none_or(|last| last.timestamp < timestamp)
        );
        self.transfers.push(Transfer { timestamp, ..*t });
        self.transfer_index
            .insert_at(id_slot, resolved.id_hash, index);
        if history {
            self.push_history(index, resolved.debit, resolved.credit);
        }
        true
    }

    /// `asset_slot` for an asset known to exist, remembering the last answer (a batch mostly
    /// moves one asset).
    #[inline(always)]
    pub(crate) fn asset_index_cached(&mut self, asset: AssetId) -> u32 {
        if self.asset_cache.0 == asset {
            return self.asset_cache.1;
        }
        let index = self.asset_slot(asset).expect("an account's asset exists");
        self.asset_cache = (asset, index);
        index
    }

    pub(crate) fn create_transfer(
        &mut self,
        t: &Transfer,
        timestamp: u64,
        resolved: Resolved,
        in_chain: bool,
    ) -> Result<(), TransferError> {
        use TransferError as E;
        if t.flags.0 & !TransferFlags::ALL.0 != 0 {
            return Err(E::ReservedFlag);
        }
        if t.id == 0 {
            return Err(E::IdMustNotBeZero);
        }
        if t.id == u128::MAX {
            return Err(E::IdMustNotBeIntMax);
        }
        if t.timestamp != 0 {
            return Err(E::TimestampMustBeZero);
        }
        let transfers = &self.transfers;
        let id_slot = match self
            .transfer_index
            .probe(resolved.id_hash, t.id, |index| transfers[index as usize].id)
        {
            Probe::Found { index } => return Err(self.exists_result(t, index)),
            Probe::Vacant { slot } => slot,
        };
        if t.is_post_or_void() {
            return self.post_or_void_pending(t, timestamp, resolved.id_hash, id_slot, in_chain);
        }
        if t.flags
            .intersects(TransferFlags::CLOSING_DEBIT | TransferFlags::CLOSING_CREDIT)
            && !t.flags.contains(TransferFlags::PENDING)
        {
            return Err(E::ClosingTransferMustBePending);
        }
        if t.pending_id != 0 {
            return Err(E::PendingIdMustBeZero);
        }
        if t.timeout_seconds != 0 && !t.flags.contains(TransferFlags::PENDING) {
            return Err(E::TimeoutReservedForPendingTransfer);
        }
        if t.debit_account_id == 0 {
            return Err(E::DebitAccountIdMustNotBeZero);
        }
        if t.credit_account_id == 0 {
            return Err(E::CreditAccountIdMustNotBeZero);
        }
        if t.debit_account_id == t.credit_account_id {
            return Err(E::AccountsMustBeDifferent);
        }
        let dr_index = resolved.debit;
        debug_assert_eq!(
            self.account_slot(t.debit_account_id).unwrap_or(NOT_FOUND),
            dr_index
        );
        if dr_index == NOT_FOUND {
            return Err(E::DebitAccountNotFound);
        }
        let cr_index = resolved.credit;
        debug_assert_eq!(
            self.account_slot(t.credit_account_id).unwrap_or(NOT_FOUND),
            cr_index
        );
        if cr_index == NOT_FOUND {
            return Err(E::CreditAccountNotFound);
        }
        debug_assert_eq!(self.account_slot(t.debit_account_id), Some(dr_index));
        debug_assert_eq!(self.account_slot(t.credit_account_id), Some(cr_index));
        let dr = self.accounts[dr_index as usize];
        let cr = self.accounts[cr_index as usize];
        if dr.asset != cr.asset {
            return Err(E::AccountsMustHaveSameAsset);
        }
        if t.asset != dr.asset {
            return Err(E::AssetMismatch);
        }
        if dr.is_closed() {
            return Err(E::DebitAccountClosed);
        }
        if cr.is_closed() {
            return Err(E::CreditAccountClosed);
        }
        let mut amount = t.amount;
        if t.flags.contains(TransferFlags::BALANCING_DEBIT) {
            amount = amount.min(dr.available_debit());
        }
        if t.flags.contains(TransferFlags::BALANCING_CREDIT) {
            amount = amount.min(cr.available_credit());
        }
        let pending = t.flags.contains(TransferFlags::PENDING);
        if pending {
            if dr.debits_pending.checked_add(amount).is_none() {
                return Err(E::OverflowsDebitsPending);
            }
            if cr.credits_pending.checked_add(amount).is_none() {
                return Err(E::OverflowsCreditsPending);
            }
        } else {
            if dr.debits_posted.checked_add(amount).is_none() {
                return Err(E::OverflowsDebitsPosted);
            }
            if cr.credits_posted.checked_add(amount).is_none() {
                return Err(E::OverflowsCreditsPosted);
            }
        }
        let dr_debits = dr.debits_posted.checked_add(dr.debits_pending);
        if dr_debits.and_then(|d| d.checked_add(amount)).is_none() {
            return Err(E::OverflowsDebits);
        }
        let cr_credits = cr.credits_posted.checked_add(cr.credits_pending);
        if cr_credits.and_then(|c| c.checked_add(amount)).is_none() {
            return Err(E::OverflowsCredits);
        }
        if pending
            && t.timeout_seconds > 0
            && timestamp
                .checked_add(u64::from(t.timeout_seconds) * NS_PER_SECOND)
                .is_none()
        {
            return Err(E::OverflowsTimeout);
        }
        if dr
            .flags
            .contains(AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS)
            && dr.debits_posted + dr.debits_pending + amount > dr.credits_posted
        {
            return Err(E::ExceedsCredits);
        }
        if cr
            .flags
            .contains(AccountFlags::CREDITS_MUST_NOT_EXCEED_DEBITS)
            && cr.credits_posted + cr.credits_pending + amount > cr.debits_posted
        {
            return Err(E::ExceedsDebits);
        }

        // Valid: mutate.
        let asset_index = self.asset_index_cached(dr.asset);
        if in_chain {
            self.undo.push(Undo::Account {
                index: dr_index,
                prior: dr,
            });
            self.undo.push(Undo::Account {
                index: cr_index,
                prior: cr,
            });
            self.undo.push(Undo::Totals {
                asset_index,
                prior: self.totals[asset_index as usize],
            });
        }
        let totals = &mut self.totals[asset_index as usize];
        if pending {
            self.accounts[dr_index as usize].debits_pending += amount;
            self.accounts[cr_index as usize].credits_pending += amount;
            totals.debits_pending += u128::from(amount);
            totals.credits_pending += u128::from(amount);
            if t.flags.contains(TransferFlags::CLOSING_DEBIT) {
                self.accounts[dr_index as usize].flags |= AccountFlags::CLOSED;
            }
            if t.flags.contains(TransferFlags::CLOSING_CREDIT) {
                self.accounts[cr_index as usize].flags |= AccountFlags::CLOSED;
            }
        } else {
            self.accounts[dr_index as usize].debits_posted += amount;
            self.accounts[cr_index as usize].credits_posted += amount;
            totals.debits_posted += u128::from(amount);
            totals.credits_posted += u128::from(amount);
        }
        debug_assert!(self.accounts[dr_index as usize].within_limits());
        debug_assert!(self.accounts[cr_index as usize].within_limits());

        let stored = Transfer {
            amount,
            timestamp,
            ..*t
        };
        let index = self.push_transfer(
            stored,
            t.amount,
            (resolved.id_hash, id_slot),
            dr_index,
            cr_index,
            in_chain,
        );
        if pending {
            self.pending.insert(index, PendingStatus::Pending);
            if t.timeout_seconds > 0 {
                self.expiry.insert((deadline_ns(&stored), index));
            }
        }
        Ok(())
    }

    /// Stores an applied transfer; `(id_hash, id_slot)` is the vacant index slot its id probed to.
    #[inline(always)]
    pub(crate) fn push_transfer(
        &mut self,
        stored: Transfer,
        requested_amount: u64,
        (id_hash, id_slot): (u64, usize),
        dr_index: u32,
        cr_index: u32,
        in_chain: bool,
    ) -> u32 {
        let index = u32::try_from(self.transfers.len()).expect("transfer count fits u32");
        assert!(index < u32::MAX, "transfer index space exhausted");
        debug_assert!(
            self.transfers
                .last()
                .is_none_or(|last| last.timestamp < stored.timestamp)
        );
        self.transfers.push(stored);
        self.transfer_index.insert_at(id_slot, id_hash, index);
        if requested_amount != stored.amount {
            self.requested_amount.insert(index, requested_amount);
        }
        self.push_history(index, dr_index, cr_index);
        if in_chain {
            self.undo.push(Undo::TransferInserted);
        }
        index
    }

    /// Appends transfer `index` to the history of whichever of its accounts keep one.
    pub(crate) fn push_history(&mut self, index: u32, dr_index: u32, cr_index: u32) {
        for account_index in [dr_index, cr_index] {
            if self.accounts[account_index as usize]
                .flags
                .contains(AccountFlags::HISTORY)
            {
                self.history
                    .get_mut(&account_index)
                    .expect("accounts with HISTORY have a list")
                    .push(index);
            }
        }
    }

    /// The result for a transfer whose id is already stored at `index`: `Exists` if every
    /// field matches what was asked the first time, else the first differing field. On
    /// post/void transfers a zero account id, asset or code means "the pending transfer's".
    pub(crate) fn exists_result(&self, t: &Transfer, index: u32) -> TransferError {
        let e = &self.transfers[index as usize];
        let requested_amount = self
            .requested_amount
            .get(&index)
            .copied()
            .unwrap_or(e.amount);
        let inherits = e.is_post_or_void();
        let differs_u128 = |given: u128, stored: u128| given != stored && !(inherits && given == 0);
        let field = if t.flags.0 != e.flags.0 {
            Some(TransferField::Flags)
        } else if differs_u128(t.debit_account_id, e.debit_account_id) {
            Some(TransferField::DebitAccountId)
        } else if differs_u128(t.credit_account_id, e.credit_account_id) {
            Some(TransferField::CreditAccountId)
        } else if t.amount != requested_amount {
            Some(TransferField::Amount)
        } else if t.pending_id != e.pending_id {
            Some(TransferField::PendingId)
        } else if t.user_data_128 != e.user_data_128 {
            Some(TransferField::UserData128)
        } else if t.user_data_64 != e.user_data_64 {
            Some(TransferField::UserData64)
        } else if t.timeout_seconds != e.timeout_seconds {
            Some(TransferField::TimeoutSeconds)
        } else if t.asset != e.asset && !(inherits && t.asset.0 == 0) {
            Some(TransferField::Asset)
        } else if t.code != e.code && !(inherits && t.code == 0) {
            Some(TransferField::Code)
        } else {
            None
        };
        field.map_or(TransferError::Exists, TransferError::ExistsWithDifferent)
    }

    /// O(assets), every build: per asset, debits equal credits (posted and pending).
    pub(crate) fn assert_totals_balance(&self) {
        for (asset, totals) in self.assets.iter().zip(&self.totals) {
            assert_eq!(
                totals.debits_posted, totals.credits_posted,
                "asset {:?}: posted debits and credits differ",
                asset.id
            );
            assert_eq!(
                totals.debits_pending, totals.credits_pending,
                "asset {:?}: pending debits and credits differ",
                asset.id
            );
        }
    }
}
