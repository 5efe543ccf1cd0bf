//! The state machine: assets, accounts, transfers, pending reservations and their expiry.

use std::collections::BTreeSet;

use hashbrown::HashMap;

use crate::account::{Account, AccountFlags, AccountId};
use crate::asset::{Asset, AssetId};
use crate::errors::{
    AccountField, AssetField, CreateAccountError, CreateAccountResult, CreateAssetError,
    CreateAssetResult, CreateTransferError, CreateTransferResult, TransferField,
};
use crate::history::AccountFilter;
use crate::id_index::{IdIndex, Probe, hash_id, prefetch_read};
use crate::invariants::AssetTotals;
use crate::memory::advise_huge_pages;
use crate::transfer::{PendingStatus, Transfer, TransferFlags, TransferId};
use crate::{
    ACCOUNTS_PER_BATCH_MAX, ASSET_CODE_LEN_MAX, ASSET_SCALE_MAX, ASSETS_PER_BATCH_MAX,
    NS_PER_SECOND, TRANSFERS_PER_BATCH_MAX,
};

type TransferError = CreateTransferError;

/// Marks an account id that resolved to no account.
const NOT_FOUND: u32 = u32::MAX;

/// A transfer's lookups done ahead of applying it: the hash of its id and the indexes of its
/// debit and credit accounts (`NOT_FOUND` if absent). Accounts are never created or removed
/// during a transfer batch, so resolving them up front gives the same answers as in order.
#[derive(Clone, Copy, Debug, Default)]
struct Resolved {
    id_hash: u64,
    debit_hash: u64,
    credit_hash: u64,
    debit: u32,
    credit: u32,
}

/// What a linked chain must undo if a later link fails. Only chains record undo entries: a
/// transfer outside a chain is fully validated before it mutates anything.
#[derive(Clone, Copy, Debug)]
enum Undo {
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

/// The ledger. See the crate docs.
#[derive(Clone)]
pub struct Ledger {
    pub(crate) assets: Vec<Asset>,
    /// Parallel to `assets`: running per-asset sums of all account balances.
    pub(crate) totals: Vec<AssetTotals>,
    pub(crate) asset_index: HashMap<AssetId, u32>,
    pub(crate) accounts: Vec<Account>,
    pub(crate) account_index: IdIndex,
    /// Every applied transfer, in timestamp order.
    pub(crate) transfers: Vec<Transfer>,
    pub(crate) transfer_index: IdIndex,
    /// Status of every pending transfer, by transfer index.
    pub(crate) pending: HashMap<u32, PendingStatus>,
    /// Pending transfers with a timeout, ordered by (deadline_ns, transfer index).
    pub(crate) expiry: BTreeSet<(u64, u32)>,
    /// The amount asked for, where it differs from the amount stored (balancing clamps, post of
    /// amount 0, void): idempotency compares against what was asked.
    pub(crate) requested_amount: HashMap<u32, u64>,
    /// Transfer indexes per account index, for accounts with the HISTORY flag only.
    pub(crate) history: HashMap<u32, Vec<u32>>,
    /// The last timestamp handed out to any account or transfer.
    pub(crate) last_timestamp: u64,
    undo: Vec<Undo>,
    chain_outcomes: Vec<Option<TransferError>>,
    /// Per transfer of the current batch: its lookups done ahead (see `prepare`). Reused across
    /// batches; at most TRANSFERS_PER_BATCH_MAX entries.
    resolved: Vec<Resolved>,
    hashed_upto: usize,
    resolved_upto: usize,
    /// The last (asset id, asset index) looked up; AssetId(0) never exists.
    asset_cache: (AssetId, u32),
}

impl Default for Ledger {
    fn default() -> Ledger {
        Ledger::new()
    }
}

impl Ledger {
    pub fn new() -> Ledger {
        Ledger::with_capacity(0, 0)
    }

    /// A ledger with room for `accounts` accounts and `transfers` transfers, allocated and
    /// touched up front (TigerBeetle-style static allocation): while the ledger stays within
    /// these capacities its hot path neither reallocates nor takes page faults. Beyond them it
    /// still works and grows its vectors and indexes as needed.
    pub fn with_capacity(accounts: usize, transfers: usize) -> Ledger {
        let mut ledger = Ledger {
            assets: Vec::new(),
            totals: Vec::new(),
            asset_index: HashMap::new(),
            accounts: Vec::with_capacity(accounts),
            account_index: IdIndex::with_capacity(accounts),
            transfers: Vec::with_capacity(transfers),
            transfer_index: IdIndex::with_capacity(transfers),
            pending: HashMap::new(),
            expiry: BTreeSet::new(),
            requested_amount: HashMap::new(),
            history: HashMap::new(),
            last_timestamp: 0,
            undo: Vec::new(),
            chain_outcomes: Vec::new(),
            resolved: Vec::new(),
            hashed_upto: 0,
            resolved_upto: 0,
            asset_cache: (AssetId(0), 0),
        };
        advise_huge_pages(&ledger.accounts);
        advise_huge_pages(&ledger.transfers);
        prefault(&mut ledger.accounts);
        prefault(&mut ledger.transfers);
        ledger
    }

    /// Makes room for `transfers` more transfers (amortises regrowth outside the hot path).
    pub fn reserve_transfers(&mut self, transfers: usize) {
        self.transfers.reserve(transfers);
        self.transfer_index.reserve(transfers);
    }

    // ----- lookups -------------------------------------------------------------------------

    pub fn assets(&self) -> &[Asset] {
        &self.assets
    }

    pub fn asset(&self, id: AssetId) -> Option<&Asset> {
        self.asset_index
            .get(&id)
            .map(|&index| &self.assets[index as usize])
    }

    pub fn account(&self, id: AccountId) -> Option<&Account> {
        self.account_slot(id)
            .map(|index| &self.accounts[index as usize])
    }

    pub fn transfer(&self, id: TransferId) -> Option<&Transfer> {
        self.transfer_slot(id)
            .map(|index| &self.transfers[index as usize])
    }

    /// The status of a pending transfer; `None` if `id` is unknown or not a pending transfer.
    pub fn pending_status(&self, id: TransferId) -> Option<PendingStatus> {
        let index = self.transfer_slot(id)?;
        self.pending.get(&index).copied()
    }

    /// Accounts in creation order.
    pub fn accounts(&self) -> impl Iterator<Item = &Account> {
        self.accounts.iter()
    }

    /// Transfers in timestamp order.
    pub fn transfers(&self) -> impl Iterator<Item = &Transfer> {
        self.transfers.iter()
    }

    /// Running sums over all accounts of `asset` (zero for an unknown asset).
    pub fn totals(&self, asset: AssetId) -> AssetTotals {
        self.asset_index
            .get(&asset)
            .map(|&index| self.totals[index as usize])
            .unwrap_or_default()
    }

    pub fn transfer_count(&self) -> usize {
        self.transfers.len()
    }

    pub fn account_count(&self) -> usize {
        self.accounts.len()
    }

    /// Pending transfers still holding a reservation.
    pub fn pending_count(&self) -> usize {
        self.pending
            .values()
            .filter(|&&status| status == PendingStatus::Pending)
            .count()
    }

    /// Bytes held by the account and transfer id indexes (not the records themselves).
    pub fn index_memory_bytes(&self) -> usize {
        self.account_index.memory_bytes() + self.transfer_index.memory_bytes()
    }

    /// The last timestamp the ledger assigned (0 before anything was created).
    pub fn last_timestamp(&self) -> u64 {
        self.last_timestamp
    }

    /// The transfers of an account with the HISTORY flag, filtered; empty for other accounts.
    pub fn account_transfers(&self, id: AccountId, filter: &AccountFilter) -> Vec<Transfer> {
        let mut out = Vec::new();
        let Some(account_index) = self.account_slot(id) else {
            return out;
        };
        let Some(list) = self.history.get(&account_index) else {
            return out;
        };
        if filter.timestamp_min > filter.timestamp_max || filter.limit == 0 {
            return out;
        }
        // The list is in transfer index order, which is timestamp order.
        let transfers = &self.transfers;
        let start =
            list.partition_point(|&i| transfers[i as usize].timestamp < filter.timestamp_min);
        let end =
            list.partition_point(|&i| transfers[i as usize].timestamp <= filter.timestamp_max);
        let wanted = |transfer: &Transfer| {
            (filter.debits && transfer.debit_account_id == id)
                || (filter.credits && transfer.credit_account_id == id)
        };
        let window = &list[start..end];
        let limit = filter.limit as usize;
        if filter.reversed {
            out.extend(
                window
                    .iter()
                    .rev()
                    .map(|&i| transfers[i as usize])
                    .filter(wanted)
                    .take(limit),
            );
        } else {
            out.extend(
                window
                    .iter()
                    .map(|&i| transfers[i as usize])
                    .filter(wanted)
                    .take(limit),
            );
        }
        out
    }

    #[inline]
    pub(crate) fn account_slot(&self, id: AccountId) -> Option<u32> {
        let accounts = &self.accounts;
        self.account_index
            .find(id, |index| accounts[index as usize].id)
    }

    #[inline]
    pub(crate) fn transfer_slot(&self, id: TransferId) -> Option<u32> {
        let transfers = &self.transfers;
        self.transfer_index
            .find(id, |index| transfers[index as usize].id)
    }

    #[inline]
    fn asset_slot(&self, id: AssetId) -> Option<u32> {
        // A town has a handful of assets: a scan beats hashing.
        if self.assets.len() <= ASSET_SCAN_MAX {
            return self
                .assets
                .iter()
                .position(|asset| asset.id == id)
                .map(|index| index as u32);
        }
        self.asset_index.get(&id).copied()
    }

    /// Looks ahead of the apply loop so that it mostly hits cache instead of waiting on one
    /// miss after another: makes sure transfers `..need` are resolved (accounts looked up, records
    /// prefetched) and, one stage further ahead, hashed (index slots prefetched). Work is done a
    /// `PREPARE_CHUNK` at a time, so the prefetched lines of the stages in flight (a few hundred
    /// KiB) stay in L2 until used.
    #[inline(never)]
    fn prepare(&mut self, transfers: &[Transfer], need: usize) {
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

    /// First timestamp of a batch of `count` events, which get `base + 0 .. base + count - 1`.
    fn batch_timestamp_base(&self, clock_ns: u64, count: usize) -> u64 {
        let base = clock_ns.max(self.last_timestamp + 1);
        assert!(
            base.checked_add(count as u64).is_some(),
            "timestamps exhausted"
        );
        base
    }

    // ----- assets ----------------------------------------------------------------------------

    /// Creates assets; reports failures and `Exists` only.
    pub fn create_assets(&mut self, assets: &[Asset]) -> Vec<CreateAssetResult> {
        let mut results = Vec::new();
        if assets.len() > ASSETS_PER_BATCH_MAX {
            results.extend((0..assets.len()).map(|index| CreateAssetResult {
                index: index as u32,
                result: CreateAssetError::BatchTooLarge,
            }));
            return results;
        }
        for (index, asset) in assets.iter().enumerate() {
            if let Err(result) = self.create_asset(asset) {
                results.push(CreateAssetResult {
                    index: index as u32,
                    result,
                });
            }
        }
        results
    }

    fn create_asset(&mut self, asset: &Asset) -> Result<(), CreateAssetError> {
        if asset.id.0 == 0 {
            return Err(CreateAssetError::IdMustNotBeZero);
        }
        if asset.code.is_empty() {
            return Err(CreateAssetError::CodeMustNotBeEmpty);
        }
        if asset.code.len() > ASSET_CODE_LEN_MAX {
            return Err(CreateAssetError::CodeTooLong);
        }
        if asset.scale > ASSET_SCALE_MAX {
            return Err(CreateAssetError::ScaleTooLarge);
        }
        if let Some(index) = self.asset_slot(asset.id) {
            let existing = &self.assets[index as usize];
            if existing.code != asset.code {
                return Err(CreateAssetError::ExistsWithDifferent(AssetField::Code));
            }
            if existing.kind != asset.kind {
                return Err(CreateAssetError::ExistsWithDifferent(AssetField::Kind));
            }
            if existing.scale != asset.scale {
                return Err(CreateAssetError::ExistsWithDifferent(AssetField::Scale));
            }
            return Err(CreateAssetError::Exists);
        }
        if self
            .assets
            .iter()
            .any(|existing| existing.code == asset.code)
        {
            return Err(CreateAssetError::CodeAlreadyUsed);
        }
        let index = u32::try_from(self.assets.len()).expect("asset count fits u32");
        self.assets.push(asset.clone());
        self.totals.push(AssetTotals::default());
        self.asset_index.insert(asset.id, index);
        Ok(())
    }

    // ----- accounts --------------------------------------------------------------------------

    /// Creates accounts; reports failures and `Exists` only. Linked accounts are created
    /// together or not at all.
    pub fn create_accounts(
        &mut self,
        accounts: &[Account],
        clock_ns: u64,
    ) -> Vec<CreateAccountResult> {
        let mut results = Vec::new();
        if accounts.len() > ACCOUNTS_PER_BATCH_MAX {
            results.extend((0..accounts.len()).map(|index| CreateAccountResult {
                index: index as u32,
                result: CreateAccountError::BatchTooLarge,
            }));
            return results;
        }
        if accounts.is_empty() {
            return results;
        }
        let base = self.batch_timestamp_base(clock_ns, accounts.len());
        let mut outcomes: Vec<Option<CreateAccountError>> = Vec::new();
        let mut start = 0;
        while start < accounts.len() {
            let end = chain_end(accounts.len(), start, |k| {
                accounts[k].flags.contains(AccountFlags::LINKED)
            });
            let Some(end) = end else {
                push_chain_open(
                    &mut results,
                    start,
                    accounts.len(),
                    |index, result| CreateAccountResult { index, result },
                    CreateAccountError::LinkedEventChainOpen,
                    CreateAccountError::LinkedEventFailed,
                );
                break;
            };
            let accounts_before = self.accounts.len();
            outcomes.clear();
            let mut failed_at = None;
            for (k, account) in accounts.iter().enumerate().take(end + 1).skip(start) {
                let outcome = self.create_account(account, base + k as u64).err();
                outcomes.push(outcome);
                if matches!(outcome, Some(e) if e != CreateAccountError::Exists) {
                    failed_at = Some(k);
                    break;
                }
            }
            let exists = outcomes
                .iter()
                .filter(|o| **o == Some(CreateAccountError::Exists))
                .count();
            let all_exist = exists == end - start + 1;
            let rollback = failed_at.is_some() || (exists > 0 && !all_exist);
            if rollback {
                while self.accounts.len() > accounts_before {
                    self.pop_account();
                }
            }
            // Same reporting rules as linked transfers (see `apply_chain`).
            for k in start..=end {
                let outcome = outcomes.get(k - start).copied().flatten();
                let result = match failed_at {
                    Some(failed) if failed == k => outcome,
                    Some(_) => Some(CreateAccountError::LinkedEventFailed),
                    None if all_exist => outcome,
                    None if rollback => {
                        Some(outcome.unwrap_or(CreateAccountError::LinkedEventFailed))
                    }
                    None => None,
                };
                if let Some(result) = result {
                    results.push(CreateAccountResult {
                        index: k as u32,
                        result,
                    });
                }
            }
            start = end + 1;
        }
        self.last_timestamp = base + accounts.len() as u64 - 1;
        self.assert_totals_balance();
        #[cfg(debug_assertions)]
        self.debug_check_after_batch();
        results
    }

    fn create_account(&mut self, a: &Account, timestamp: u64) -> Result<(), CreateAccountError> {
        use CreateAccountError as E;
        if a.flags.0 & !AccountFlags::ALL.0 != 0 {
            return Err(E::ReservedFlag);
        }
        if a.id == 0 {
            return Err(E::IdMustNotBeZero);
        }
        if a.id == u128::MAX {
            return Err(E::IdMustNotBeIntMax);
        }
        if a.timestamp != 0 {
            return Err(E::TimestampMustBeZero);
        }
        if a.flags.contains(
            AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS
                | AccountFlags::CREDITS_MUST_NOT_EXCEED_DEBITS,
        ) {
            return Err(E::FlagsAreMutuallyExclusive);
        }
        if a.debits_pending != 0 {
            return Err(E::DebitsPendingMustBeZero);
        }
        if a.debits_posted != 0 {
            return Err(E::DebitsPostedMustBeZero);
        }
        if a.credits_pending != 0 {
            return Err(E::CreditsPendingMustBeZero);
        }
        if a.credits_posted != 0 {
            return Err(E::CreditsPostedMustBeZero);
        }
        if let Some(index) = self.account_slot(a.id) {
            let e = &self.accounts[index as usize];
            // LINKED is about the batch and CLOSED changes with closing transfers: neither is
            // part of the account's identity.
            let identity = AccountFlags::LINKED | AccountFlags::CLOSED;
            let different = if e.asset != a.asset {
                Some(AccountField::Asset)
            } else if e.owner != a.owner {
                Some(AccountField::Owner)
            } else if e.flags.without(identity) != a.flags.without(identity) {
                Some(AccountField::Flags)
            } else if e.code != a.code {
                Some(AccountField::Code)
            } else if e.user_data_128 != a.user_data_128 {
                Some(AccountField::UserData128)
            } else if e.user_data_64 != a.user_data_64 {
                Some(AccountField::UserData64)
            } else {
                None
            };
            return Err(different.map_or(E::Exists, E::ExistsWithDifferent));
        }
        if self.asset_slot(a.asset).is_none() {
            return Err(E::AssetNotFound);
        }
        let index = u32::try_from(self.accounts.len()).expect("account count fits u32");
        assert!(index < u32::MAX, "account index space exhausted");
        let mut stored = *a;
        stored.flags = stored.flags.without(AccountFlags::LINKED);
        stored.timestamp = timestamp;
        self.accounts.push(stored);
        let accounts = &self.accounts;
        self.account_index
            .insert_unique(a.id, index, |i| accounts[i as usize].id);
        if stored.flags.contains(AccountFlags::HISTORY) {
            self.history.insert(index, Vec::new());
        }
        Ok(())
    }

    fn pop_account(&mut self) {
        let account = self
            .accounts
            .last()
            .copied()
            .expect("pop_account on empty ledger");
        let index = (self.accounts.len() - 1) as u32;
        assert_eq!(account.debits_posted | account.credits_posted, 0);
        self.account_index.remove(account.id, index);
        self.history.remove(&index);
        self.accounts.pop();
    }

    // ----- transfers -------------------------------------------------------------------------

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
    fn apply_chain(
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

    fn rollback_chain(&mut self) {
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

    fn pop_transfer(&mut self) {
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
    fn try_apply_plain(&mut self, t: &Transfer, timestamp: u64, resolved: Resolved) -> bool {
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

    /// Transfer `k`'s lookups with its account candidates confirmed: a candidate whose record
    /// has another id (a fingerprint collision, about 2^-32 per probe) is looked up in full.
    #[inline(always)]
    fn confirmed(&self, transfers: &[Transfer], k: usize) -> Resolved {
        let t = &transfers[k];
        let mut resolved = self.resolved[k];
        resolved.debit = self.confirm_account(resolved.debit, t.debit_account_id);
        resolved.credit = self.confirm_account(resolved.credit, t.credit_account_id);
        resolved
    }

    #[inline(always)]
    fn confirm_account(&self, candidate: u32, id: AccountId) -> u32 {
        if candidate == NOT_FOUND || self.accounts[candidate as usize].id == id {
            // NOT_FOUND candidates are certain: the probe met a free slot before any match.
            return candidate;
        }
        self.account_slot(id).unwrap_or(NOT_FOUND)
    }

    /// `asset_slot` for an asset known to exist, remembering the last answer (a batch mostly
    /// moves one asset).
    #[inline(always)]
    fn asset_index_cached(&mut self, asset: AssetId) -> u32 {
        if self.asset_cache.0 == asset {
            return self.asset_cache.1;
        }
        let index = self.asset_slot(asset).expect("an account's asset exists");
        self.asset_cache = (asset, index);
        index
    }

    fn create_transfer(
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

    fn post_or_void_pending(
        &mut self,
        t: &Transfer,
        timestamp: u64,
        id_hash: u64,
        id_slot: usize,
        in_chain: bool,
    ) -> Result<(), TransferError> {
        use TransferError as E;
        let post = t.flags.contains(TransferFlags::POST_PENDING);
        let exclusive = TransferFlags::PENDING
            | TransferFlags::BALANCING_DEBIT
            | TransferFlags::BALANCING_CREDIT
            | TransferFlags::CLOSING_DEBIT
            | TransferFlags::CLOSING_CREDIT;
        if t.flags
            .contains(TransferFlags::POST_PENDING | TransferFlags::VOID_PENDING)
            || t.flags.intersects(exclusive)
        {
            return Err(E::FlagsAreMutuallyExclusive);
        }
        if t.pending_id == 0 {
            return Err(E::PendingIdMustNotBeZero);
        }
        if t.pending_id == t.id {
            return Err(E::PendingIdMustBeDifferent);
        }
        if t.timeout_seconds != 0 {
            return Err(E::TimeoutReservedForPendingTransfer);
        }
        let pending_index = self
            .transfer_slot(t.pending_id)
            .ok_or(E::PendingTransferNotFound)?;
        let p = self.transfers[pending_index as usize];
        if !p.flags.contains(TransferFlags::PENDING) {
            return Err(E::PendingTransferNotPending);
        }
        if t.debit_account_id != 0 && t.debit_account_id != p.debit_account_id {
            return Err(E::PendingTransferHasDifferentDebitAccountId);
        }
        if t.credit_account_id != 0 && t.credit_account_id != p.credit_account_id {
            return Err(E::PendingTransferHasDifferentCreditAccountId);
        }
        if t.asset.0 != 0 && t.asset != p.asset {
            return Err(E::PendingTransferHasDifferentAsset);
        }
        if t.code != 0 && t.code != p.code {
            return Err(E::PendingTransferHasDifferentCode);
        }
        let amount = if post {
            if t.amount > p.amount {
                return Err(E::ExceedsPendingTransferAmount);
            }
            if t.amount == 0 { p.amount } else { t.amount }
        } else {
            if t.amount != 0 && t.amount != p.amount {
                return Err(E::PendingTransferHasDifferentAmount);
            }
            p.amount
        };
        match self.pending.get(&pending_index) {
            Some(PendingStatus::Pending) => {}
            Some(PendingStatus::Posted) => return Err(E::PendingTransferAlreadyPosted),
            Some(PendingStatus::Voided) => return Err(E::PendingTransferAlreadyVoided),
            Some(PendingStatus::Expired) => return Err(E::PendingTransferExpired),
            None => unreachable!("every pending transfer has a status"),
        }
        let deadline = (p.timeout_seconds > 0).then(|| deadline_ns(&p));
        if deadline.is_some_and(|deadline_ns| deadline_ns <= timestamp) {
            return Err(E::PendingTransferExpired);
        }
        let dr_index = self
            .account_slot(p.debit_account_id)
            .expect("a pending transfer's accounts exist");
        let cr_index = self
            .account_slot(p.credit_account_id)
            .expect("a pending transfer's accounts exist");
        let dr = self.accounts[dr_index as usize];
        let cr = self.accounts[cr_index as usize];
        if post {
            if dr.is_closed() && !p.flags.contains(TransferFlags::CLOSING_DEBIT) {
                return Err(E::DebitAccountClosed);
            }
            if cr.is_closed() && !p.flags.contains(TransferFlags::CLOSING_CREDIT) {
                return Err(E::CreditAccountClosed);
            }
            if dr.debits_posted.checked_add(amount).is_none() {
                return Err(E::OverflowsDebitsPosted);
            }
            if cr.credits_posted.checked_add(amount).is_none() {
                return Err(E::OverflowsCreditsPosted);
            }
        }

        // Valid: mutate.
        let asset_index = self
            .asset_slot(p.asset)
            .expect("a pending transfer's asset exists");
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
            self.undo.push(Undo::PendingResolved {
                pending_index,
                deadline_ns: deadline,
            });
        }
        self.release_reservation(&p, dr_index, cr_index, asset_index, !post);
        if post {
            self.accounts[dr_index as usize].debits_posted += amount;
            self.accounts[cr_index as usize].credits_posted += amount;
            let totals = &mut self.totals[asset_index as usize];
            totals.debits_posted += u128::from(amount);
            totals.credits_posted += u128::from(amount);
        }
        let status = if post {
            PendingStatus::Posted
        } else {
            PendingStatus::Voided
        };
        self.pending.insert(pending_index, status);
        if let Some(deadline_ns) = deadline {
            let removed = self.expiry.remove(&(deadline_ns, pending_index));
            assert!(
                removed,
                "a pending transfer with a timeout is in the expiry queue"
            );
        }
        let stored = Transfer {
            debit_account_id: p.debit_account_id,
            credit_account_id: p.credit_account_id,
            asset: p.asset,
            code: p.code,
            amount,
            timestamp,
            ..*t
        };
        self.push_transfer(
            stored,
            t.amount,
            (id_hash, id_slot),
            dr_index,
            cr_index,
            in_chain,
        );
        Ok(())
    }

    /// Releases pending transfer `p`'s reservation; `reopen` clears the CLOSED flag its
    /// closing flags set (void and expiry reopen, post does not).
    fn release_reservation(
        &mut self,
        p: &Transfer,
        dr_index: u32,
        cr_index: u32,
        asset_index: u32,
        reopen: bool,
    ) {
        let dr = &mut self.accounts[dr_index as usize];
        dr.debits_pending = dr
            .debits_pending
            .checked_sub(p.amount)
            .expect("a reservation is held until released");
        if reopen && p.flags.contains(TransferFlags::CLOSING_DEBIT) {
            dr.flags = dr.flags.without(AccountFlags::CLOSED);
        }
        let cr = &mut self.accounts[cr_index as usize];
        cr.credits_pending = cr
            .credits_pending
            .checked_sub(p.amount)
            .expect("a reservation is held until released");
        if reopen && p.flags.contains(TransferFlags::CLOSING_CREDIT) {
            cr.flags = cr.flags.without(AccountFlags::CLOSED);
        }
        let totals = &mut self.totals[asset_index as usize];
        totals.debits_pending -= u128::from(p.amount);
        totals.credits_pending -= u128::from(p.amount);
    }

    /// Stores an applied transfer; `(id_hash, id_slot)` is the vacant index slot its id probed to.
    #[inline(always)]
    fn push_transfer(
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
    fn push_history(&mut self, index: u32, dr_index: u32, cr_index: u32) {
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
    fn exists_result(&self, t: &Transfer, index: u32) -> TransferError {
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

    // ----- expiry ----------------------------------------------------------------------------

    /// Expires every pending transfer whose deadline is at or before `clock_ns`, oldest deadline
    /// first, releasing its reservation (and reopening accounts it closed). Returns how many.
    pub fn expire_pending_transfers(&mut self, clock_ns: u64) -> usize {
        let mut expired = 0;
        while let Some(&(deadline_ns, pending_index)) = self.expiry.first() {
            if deadline_ns > clock_ns {
                break;
            }
            self.expiry.pop_first();
            let p = self.transfers[pending_index as usize];
            let dr_index = self
                .account_slot(p.debit_account_id)
                .expect("a pending transfer's accounts exist");
            let cr_index = self
                .account_slot(p.credit_account_id)
                .expect("a pending transfer's accounts exist");
            let asset_index = self
                .asset_slot(p.asset)
                .expect("a pending transfer's asset exists");
            let status = self.pending.insert(pending_index, PendingStatus::Expired);
            assert_eq!(
                status,
                Some(PendingStatus::Pending),
                "only reserved transfers expire"
            );
            self.release_reservation(&p, dr_index, cr_index, asset_index, true);
            expired += 1;
        }
        if expired > 0 {
            self.assert_totals_balance();
        }
        expired
    }

    /// O(assets), every build: per asset, debits equal credits (posted and pending).
    fn assert_totals_balance(&self) {
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

/// Transfers `prepare` resolves ahead of the apply loop at a time (and hashes one more ahead).
const PREPARE_CHUNK: usize = 128;

/// The debit and credit account ids of the transfer before `k` (ids no account has at k = 0,
/// so that the first transfer is always looked up).
fn previous_accounts(transfers: &[Transfer], k: usize) -> (AccountId, AccountId) {
    match k.checked_sub(1) {
        Some(previous) => (
            transfers[previous].debit_account_id,
            transfers[previous].credit_account_id,
        ),
        // u128::MAX is never an account id.
        None => (u128::MAX, u128::MAX),
    }
}

/// Prefetches both cache lines of an account record (a 96-byte Account spans two lines unless it
/// happens to be aligned).
#[inline]
fn prefetch_account(accounts: &[Account], index: u32) {
    if index != NOT_FOUND {
        let record = accounts.as_ptr().wrapping_add(index as usize);
        prefetch_read(record);
        prefetch_read(record.wrapping_add(1).cast::<u8>().wrapping_sub(1));
    }
}

/// Touches every page of `vector`'s spare capacity so that the OS maps it now rather than on
/// first use in the hot path. Writes zeroed values into the spare slots; `len` is unchanged.
fn prefault<T: Copy>(vector: &mut Vec<T>) {
    const PAGE_BYTES: usize = 4096;
    let step = (PAGE_BYTES / std::mem::size_of::<T>().max(1)).max(1);
    for slot in vector.spare_capacity_mut().iter_mut().step_by(step) {
        *slot = std::mem::MaybeUninit::zeroed();
    }
}

/// Up to this many assets `asset_slot` scans instead of hashing.
const ASSET_SCAN_MAX: usize = 8;

/// The pending transfer's deadline: its timestamp plus its timeout.
pub(crate) fn deadline_ns(p: &Transfer) -> u64 {
    debug_assert!(p.timeout_seconds > 0);
    p.timestamp + u64::from(p.timeout_seconds) * NS_PER_SECOND
}

/// The last index of the linked chain starting at `start`, or `None` if the batch ends while
/// the chain is still open.
fn chain_end(len: usize, start: usize, linked: impl Fn(usize) -> bool) -> Option<usize> {
    let mut k = start;
    while k < len && linked(k) {
        k += 1;
    }
    (k < len).then_some(k)
}

fn push_chain_open<R, E: Copy>(
    results: &mut Vec<R>,
    start: usize,
    len: usize,
    make: impl Fn(u32, E) -> R,
    chain_open: E,
    linked_failed: E,
) {
    for k in start..len {
        let result = if k == len - 1 {
            chain_open
        } else {
            linked_failed
        };
        results.push(make(k as u32, result));
    }
}
