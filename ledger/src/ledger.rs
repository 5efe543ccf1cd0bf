//! The state machine: assets, accounts, transfers, pending reservations and their expiry.

use std::collections::BTreeSet;

use hashbrown::HashMap;

use crate::account::{Account, AccountFlags, AccountId};
use crate::asset::{Asset, AssetId};
use crate::errors::{
    AccountField, AssetField, CreateAccountError, CreateAccountResult, CreateAssetError,
    CreateAssetResult,
};
use crate::history::AccountFilter;
use crate::id_index::IdIndex;
use crate::invariants::AssetTotals;
use crate::lookahead::Resolved;
use crate::memory::advise_huge_pages;
use crate::transfer::{PendingStatus, Transfer, TransferId};
use crate::transfers::{TransferError, Undo};
use crate::{ACCOUNTS_PER_BATCH_MAX, ASSET_CODE_LEN_MAX, ASSET_SCALE_MAX, ASSETS_PER_BATCH_MAX};

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
    pub(crate) undo: Vec<Undo>,
    pub(crate) chain_outcomes: Vec<Option<TransferError>>,
    /// Per transfer of the current batch: its lookups done ahead (see `prepare`). Reused across
    /// batches; at most TRANSFERS_PER_BATCH_MAX entries.
    pub(crate) resolved: Vec<Resolved>,
    pub(crate) hashed_upto: usize,
    pub(crate) resolved_upto: usize,
    /// The last (asset id, asset index) looked up; AssetId(0) never exists.
    pub(crate) asset_cache: (AssetId, u32),
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
    pub(crate) fn asset_slot(&self, id: AssetId) -> Option<u32> {
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

    /// First timestamp of a batch of `count` events, which get `base + 0 .. base + count - 1`.
    pub(crate) fn batch_timestamp_base(&self, clock_ns: u64, count: usize) -> u64 {
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
}

/// Touches every page of `vector`'s spare capacity so that the OS maps it now rather than on
/// first use in the hot path. Writes zeroed values into the spare slots; `len` is unchanged.
pub(crate) fn prefault<T: Copy>(vector: &mut Vec<T>) {
    const PAGE_BYTES: usize = 4096;
    let step = (PAGE_BYTES / std::mem::size_of::<T>().max(1)).max(1);
    for slot in vector.spare_capacity_mut().iter_mut().step_by(step) {
        *slot = std::mem::MaybeUninit::zeroed();
    }
}

/// Up to this many assets `asset_slot` scans instead of hashing.
const ASSET_SCAN_MAX: usize = 8;

/// The last index of the linked chain starting at `start`, or `None` if the batch ends while
/// the chain is still open.
pub(crate) fn chain_end(len: usize, start: usize, linked: impl Fn(usize) -> bool) -> Option<usize> {
    let mut k = start;
    while k < len && linked(k) {
        k += 1;
    }
    (k < len).then_some(k)
}

pub(crate) fn push_chain_open<R, E: Copy>(
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
