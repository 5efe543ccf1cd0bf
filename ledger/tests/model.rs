//! Model-based property test: random batches of every operation against a small reference
//! model that is obviously correct (plain maps, linear scans, whole-state clones to undo a
//! chain). Results, every account, every transfer and every pending status must match after
//! each batch, and the ledger's invariant check must pass.

#![allow(clippy::needless_range_loop)] // the model indexes batches plainly, on purpose

use std::collections::BTreeMap;

use kanjo_ledger::{
    Account, AccountField, AccountFilter, AccountFlags, AccountId, Asset, AssetId, AssetKind,
    CreateAccountError, CreateTransferError as E, Ledger, OwnerKind, PendingStatus, Transfer,
    TransferField, TransferFlags,
};
use proptest::prelude::*;

const SECOND_NS: u64 = 1_000_000_000;
const CLOCK_START_NS: u64 = 1_000 * SECOND_NS;
/// Account ids 1..=ACCOUNT_ID_MAX exist or may be created; ACCOUNT_ID_MAX + 1 never exists.
const ACCOUNT_ID_MAX: u128 = 8;
/// Transfer ids are drawn from 1..=TRANSFER_ID_MAX so that duplicates are frequent.
const TRANSFER_ID_MAX: u128 = 48;
const ASSETS: [AssetId; 2] = [AssetId(1), AssetId(2)];

fn asset_of(account: AccountId) -> AssetId {
    if account <= 5 { ASSETS[0] } else { ASSETS[1] }
}

// ----- the reference model ----------------------------------------------------------------

#[derive(Clone, Default)]
struct Model {
    accounts: BTreeMap<AccountId, Account>,
    account_order: Vec<AccountId>,
    /// Applied transfers in order, with what was asked for as amount.
    transfers: Vec<(Transfer, u64)>,
    status: BTreeMap<TransferId, PendingStatus>,
    last_timestamp: u64,
}

type TransferId = u128;

impl Model {
    fn find(&self, id: TransferId) -> Option<usize> {
        self.transfers.iter().position(|(t, _)| t.id == id)
    }

    fn create_accounts(
        &mut self,
        batch: &[Account],
        clock_ns: u64,
    ) -> Vec<(u32, CreateAccountError)> {
        let mut results = Vec::new();
        if batch.is_empty() {
            return results;
        }
        let base = clock_ns.max(self.last_timestamp + 1);
        let mut start = 0;
        while start < batch.len() {
            let mut end = start;
            while end < batch.len() && batch[end].flags.contains(AccountFlags::LINKED) {
                end += 1;
            }
            if end == batch.len() {
                for k in start..batch.len() {
                    let e = if k == batch.len() - 1 {
                        CreateAccountError::LinkedEventChainOpen
                    } else {
                        CreateAccountError::LinkedEventFailed
                    };
                    results.push((k as u32, e));
                }
                break;
            }
            let saved = self.clone();
            let mut outcomes = Vec::new();
            let mut failed_at = None;
            for k in start..=end {
                let outcome = self.create_account(&batch[k], base + k as u64);
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
                *self = saved;
            }
            for k in start..=end {
                let outcome = outcomes.get(k - start).copied().flatten();
                let result = match failed_at {
                    Some(f) if f == k => outcome,
                    Some(_) => Some(CreateAccountError::LinkedEventFailed),
                    None if all_exist => outcome,
                    None if rollback => {
                        Some(outcome.unwrap_or(CreateAccountError::LinkedEventFailed))
                    }
                    None => None,
                };
                if let Some(result) = result {
                    results.push((k as u32, result));
                }
            }
            start = end + 1;
        }
        self.last_timestamp = base + batch.len() as u64 - 1;
        results
    }

    fn create_account(&mut self, a: &Account, timestamp: u64) -> Option<CreateAccountError> {
        use CreateAccountError as A;
        if a.id == 0 {
            return Some(A::IdMustNotBeZero);
        }
        let both = AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS
            | AccountFlags::CREDITS_MUST_NOT_EXCEED_DEBITS;
        if a.flags.contains(both) {
            return Some(A::FlagsAreMutuallyExclusive);
        }
        if let Some(e) = self.accounts.get(&a.id) {
            let ignore = AccountFlags::LINKED | AccountFlags::CLOSED;
            if e.asset != a.asset {
                return Some(A::ExistsWithDifferent(AccountField::Asset));
            }
            if e.owner != a.owner {
                return Some(A::ExistsWithDifferent(AccountField::Owner));
            }
            if e.flags.without(ignore) != a.flags.without(ignore) {
                return Some(A::ExistsWithDifferent(AccountField::Flags));
            }
            return Some(A::Exists);
        }
        if !ASSETS.contains(&a.asset) {
            return Some(A::AssetNotFound);
        }
        let mut stored = *a;
        stored.flags = stored.flags.without(AccountFlags::LINKED);
        stored.timestamp = timestamp;
        self.accounts.insert(a.id, stored);
        self.account_order.push(a.id);
        None
    }

    fn expire(&mut self, clock_ns: u64) {
        let mut due: Vec<(u64, usize)> = Vec::new();
        for (i, (t, _)) in self.transfers.iter().enumerate() {
            if self.status.get(&t.id) == Some(&PendingStatus::Pending) && t.timeout_seconds > 0 {
                let deadline = t.timestamp + u64::from(t.timeout_seconds) * SECOND_NS;
                if deadline <= clock_ns {
                    due.push((deadline, i));
                }
            }
        }
        due.sort();
        for (_, i) in due {
            let p = self.transfers[i].0;
            self.release(&p, true);
            self.status.insert(p.id, PendingStatus::Expired);
        }
    }

    fn release(&mut self, p: &Transfer, reopen: bool) {
        let dr = self.accounts.get_mut(&p.debit_account_id).expect("exists");
        dr.debits_pending -= p.amount;
        if reopen && p.flags.contains(TransferFlags::CLOSING_DEBIT) {
            dr.flags = dr.flags.without(AccountFlags::CLOSED);
        }
        let cr = self.accounts.get_mut(&p.credit_account_id).expect("exists");
        cr.credits_pending -= p.amount;
        if reopen && p.flags.contains(TransferFlags::CLOSING_CREDIT) {
            cr.flags = cr.flags.without(AccountFlags::CLOSED);
        }
    }

    fn create_transfers(&mut self, batch: &[Transfer], clock_ns: u64) -> Vec<(u32, E)> {
        let mut results = Vec::new();
        self.expire(clock_ns);
        if batch.is_empty() {
            return results;
        }
        let base = clock_ns.max(self.last_timestamp + 1);
        let mut start = 0;
        while start < batch.len() {
            let mut end = start;
            while end < batch.len() && batch[end].flags.contains(TransferFlags::LINKED) {
                end += 1;
            }
            if end == batch.len() {
                for k in start..batch.len() {
                    let e = if k == batch.len() - 1 {
                        E::LinkedEventChainOpen
                    } else {
                        E::LinkedEventFailed
                    };
                    results.push((k as u32, e));
                }
                break;
            }
            let saved = self.clone();
            let mut outcomes = Vec::new();
            let mut failed_at = None;
            for k in start..=end {
                let outcome = self.create_transfer(&batch[k], base + k as u64);
                outcomes.push(outcome);
                if matches!(outcome, Some(e) if e != E::Exists) {
                    failed_at = Some(k);
                    break;
                }
            }
            let exists = outcomes.iter().filter(|o| **o == Some(E::Exists)).count();
            let all_exist = exists == end - start + 1;
            let rollback = failed_at.is_some() || (exists > 0 && !all_exist);
            if rollback {
                *self = saved;
            }
            for k in start..=end {
                let outcome = outcomes.get(k - start).copied().flatten();
                let result = match failed_at {
                    Some(f) if f == k => outcome,
                    Some(_) => Some(E::LinkedEventFailed),
                    None if all_exist => outcome,
                    None if rollback => Some(outcome.unwrap_or(E::LinkedEventFailed)),
                    None => None,
                };
                if let Some(result) = result {
                    results.push((k as u32, result));
                }
            }
            start = end + 1;
        }
        self.last_timestamp = base + batch.len() as u64 - 1;
        results
    }

    fn exists(&self, t: &Transfer, e: &Transfer, asked: u64) -> E {
        let inherits = e
            .flags
            .intersects(TransferFlags::POST_PENDING | TransferFlags::VOID_PENDING);
        let differs = |given: u128, stored: u128| given != stored && !(inherits && given == 0);
        let field = if t.flags != e.flags {
            TransferField::Flags
        } else if differs(t.debit_account_id, e.debit_account_id) {
            TransferField::DebitAccountId
        } else if differs(t.credit_account_id, e.credit_account_id) {
            TransferField::CreditAccountId
        } else if t.amount != asked {
            TransferField::Amount
        } else if t.pending_id != e.pending_id {
            TransferField::PendingId
        } else if t.user_data_128 != e.user_data_128 {
            TransferField::UserData128
        } else if t.user_data_64 != e.user_data_64 {
            TransferField::UserData64
        } else if t.timeout_seconds != e.timeout_seconds {
            TransferField::TimeoutSeconds
        } else if differs(u128::from(t.asset.0), u128::from(e.asset.0)) {
            TransferField::Asset
        } else if differs(u128::from(t.code), u128::from(e.code)) {
            TransferField::Code
        } else {
            return E::Exists;
        };
        E::ExistsWithDifferent(field)
    }

    fn create_transfer(&mut self, t: &Transfer, ts: u64) -> Option<E> {
        if t.id == 0 {
            return Some(E::IdMustNotBeZero);
        }
        if let Some(i) = self.find(t.id) {
            let (e, asked) = self.transfers[i];
            return Some(self.exists(t, &e, asked));
        }
        if t.flags
            .intersects(TransferFlags::POST_PENDING | TransferFlags::VOID_PENDING)
        {
            return self.post_or_void(t, ts);
        }
        let is_pending = t.flags.contains(TransferFlags::PENDING);
        if t.flags
            .intersects(TransferFlags::CLOSING_DEBIT | TransferFlags::CLOSING_CREDIT)
            && !is_pending
        {
            return Some(E::ClosingTransferMustBePending);
        }
        if t.pending_id != 0 {
            return Some(E::PendingIdMustBeZero);
        }
        if t.timeout_seconds != 0 && !is_pending {
            return Some(E::TimeoutReservedForPendingTransfer);
        }
        if t.debit_account_id == 0 {
            return Some(E::DebitAccountIdMustNotBeZero);
        }
        if t.credit_account_id == 0 {
            return Some(E::CreditAccountIdMustNotBeZero);
        }
        if t.debit_account_id == t.credit_account_id {
            return Some(E::AccountsMustBeDifferent);
        }
        let Some(dr) = self.accounts.get(&t.debit_account_id).copied() else {
            return Some(E::DebitAccountNotFound);
        };
        let Some(cr) = self.accounts.get(&t.credit_account_id).copied() else {
            return Some(E::CreditAccountNotFound);
        };
        if dr.asset != cr.asset {
            return Some(E::AccountsMustHaveSameAsset);
        }
        if t.asset != dr.asset {
            return Some(E::AssetMismatch);
        }
        if dr.flags.contains(AccountFlags::CLOSED) {
            return Some(E::DebitAccountClosed);
        }
        if cr.flags.contains(AccountFlags::CLOSED) {
            return Some(E::CreditAccountClosed);
        }
        // Wide arithmetic: no overflow in the model itself.
        let w = u128::from;
        let mut amount = w(t.amount);
        if t.flags.contains(TransferFlags::BALANCING_DEBIT) {
            let room =
                w(dr.credits_posted).saturating_sub(w(dr.debits_posted) + w(dr.debits_pending));
            amount = amount.min(room);
        }
        if t.flags.contains(TransferFlags::BALANCING_CREDIT) {
            let room =
                w(cr.debits_posted).saturating_sub(w(cr.credits_posted) + w(cr.credits_pending));
            amount = amount.min(room);
        }
        let max = w(u64::MAX);
        if is_pending {
            if w(dr.debits_pending) + amount > max {
                return Some(E::OverflowsDebitsPending);
            }
            if w(cr.credits_pending) + amount > max {
                return Some(E::OverflowsCreditsPending);
            }
        } else {
            if w(dr.debits_posted) + amount > max {
                return Some(E::OverflowsDebitsPosted);
            }
            if w(cr.credits_posted) + amount > max {
                return Some(E::OverflowsCreditsPosted);
            }
        }
        if w(dr.debits_posted) + w(dr.debits_pending) + amount > max {
            return Some(E::OverflowsDebits);
        }
        if w(cr.credits_posted) + w(cr.credits_pending) + amount > max {
            return Some(E::OverflowsCredits);
        }
        if dr
            .flags
            .contains(AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS)
            && w(dr.debits_posted) + w(dr.debits_pending) + amount > w(dr.credits_posted)
        {
            return Some(E::ExceedsCredits);
        }
        if cr
            .flags
            .contains(AccountFlags::CREDITS_MUST_NOT_EXCEED_DEBITS)
            && w(cr.credits_posted) + w(cr.credits_pending) + amount > w(cr.debits_posted)
        {
            return Some(E::ExceedsDebits);
        }
        let amount = u64::try_from(amount).expect("checked above");
        let dr = self.accounts.get_mut(&t.debit_account_id).expect("exists");
        if is_pending {
            dr.debits_pending += amount;
            if t.flags.contains(TransferFlags::CLOSING_DEBIT) {
                dr.flags |= AccountFlags::CLOSED;
            }
        } else {
            dr.debits_posted += amount;
        }
        let cr = self.accounts.get_mut(&t.credit_account_id).expect("exists");
        if is_pending {
            cr.credits_pending += amount;
            if t.flags.contains(TransferFlags::CLOSING_CREDIT) {
                cr.flags |= AccountFlags::CLOSED;
            }
        } else {
            cr.credits_posted += amount;
        }
        self.transfers.push((
            Transfer {
                amount,
                timestamp: ts,
                ..*t
            },
            t.amount,
        ));
        if is_pending {
            self.status.insert(t.id, PendingStatus::Pending);
        }
        None
    }

    fn post_or_void(&mut self, t: &Transfer, ts: u64) -> Option<E> {
        let post = t.flags.contains(TransferFlags::POST_PENDING);
        let others = TransferFlags::PENDING
            | TransferFlags::BALANCING_DEBIT
            | TransferFlags::BALANCING_CREDIT
            | TransferFlags::CLOSING_DEBIT
            | TransferFlags::CLOSING_CREDIT;
        if t.flags
            .contains(TransferFlags::POST_PENDING | TransferFlags::VOID_PENDING)
            || t.flags.intersects(others)
        {
            return Some(E::FlagsAreMutuallyExclusive);
        }
        if t.pending_id == 0 {
            return Some(E::PendingIdMustNotBeZero);
        }
        if t.pending_id == t.id {
            return Some(E::PendingIdMustBeDifferent);
        }
        if t.timeout_seconds != 0 {
            return Some(E::TimeoutReservedForPendingTransfer);
        }
        let Some(i) = self.find(t.pending_id) else {
            return Some(E::PendingTransferNotFound);
        };
        let p = self.transfers[i].0;
        if !p.flags.contains(TransferFlags::PENDING) {
            return Some(E::PendingTransferNotPending);
        }
        if t.debit_account_id != 0 && t.debit_account_id != p.debit_account_id {
            return Some(E::PendingTransferHasDifferentDebitAccountId);
        }
        if t.credit_account_id != 0 && t.credit_account_id != p.credit_account_id {
            return Some(E::PendingTransferHasDifferentCreditAccountId);
        }
        if t.asset.0 != 0 && t.asset != p.asset {
            return Some(E::PendingTransferHasDifferentAsset);
        }
        if t.code != 0 && t.code != p.code {
            return Some(E::PendingTransferHasDifferentCode);
        }
        let amount = if post {
            if t.amount > p.amount {
                return Some(E::ExceedsPendingTransferAmount);
            }
            if t.amount == 0 { p.amount } else { t.amount }
        } else {
            if t.amount != 0 && t.amount != p.amount {
                return Some(E::PendingTransferHasDifferentAmount);
            }
            p.amount
        };
        match self.status[&p.id] {
            PendingStatus::Pending => {}
            PendingStatus::Posted => return Some(E::PendingTransferAlreadyPosted),
            PendingStatus::Voided => return Some(E::PendingTransferAlreadyVoided),
            PendingStatus::Expired => return Some(E::PendingTransferExpired),
        }
        if p.timeout_seconds > 0 && p.timestamp + u64::from(p.timeout_seconds) * SECOND_NS <= ts {
            return Some(E::PendingTransferExpired);
        }
        let dr = self.accounts[&p.debit_account_id];
        let cr = self.accounts[&p.credit_account_id];
        if post {
            if dr.flags.contains(AccountFlags::CLOSED)
                && !p.flags.contains(TransferFlags::CLOSING_DEBIT)
            {
                return Some(E::DebitAccountClosed);
            }
            if cr.flags.contains(AccountFlags::CLOSED)
                && !p.flags.contains(TransferFlags::CLOSING_CREDIT)
            {
                return Some(E::CreditAccountClosed);
            }
            if dr.debits_posted.checked_add(amount).is_none() {
                return Some(E::OverflowsDebitsPosted);
            }
            if cr.credits_posted.checked_add(amount).is_none() {
                return Some(E::OverflowsCreditsPosted);
            }
        }
        self.release(&p, !post);
        if post {
            self.accounts
                .get_mut(&p.debit_account_id)
                .expect("exists")
                .debits_posted += amount;
            self.accounts
                .get_mut(&p.credit_account_id)
                .expect("exists")
                .credits_posted += amount;
        }
        self.status.insert(
            p.id,
            if post {
                PendingStatus::Posted
            } else {
                PendingStatus::Voided
            },
        );
        let stored = Transfer {
            debit_account_id: p.debit_account_id,
            credit_account_id: p.credit_account_id,
            asset: p.asset,
            code: p.code,
            amount,
            timestamp: ts,
            ..*t
        };
        self.transfers.push((stored, t.amount));
        None
    }
}

// ----- generated operations ---------------------------------------------------------------

#[derive(Clone, Debug)]
enum Op {
    Accounts(Vec<Account>),
    Transfers(Vec<Transfer>),
    /// Send again the transfers of the k-th earlier `Transfers` step (mod their count).
    Resend(usize),
    Expire,
}

#[derive(Clone, Debug)]
struct Step {
    op: Op,
    /// Clock advance before the step (ms); may be zero, so timestamps collide with the clock.
    advance_ms: u64,
}

fn account_strategy() -> impl Strategy<Value = Account> {
    (
        0..=ACCOUNT_ID_MAX + 1,
        0u8..8,
        any::<bool>(),
        any::<bool>(),
        0u8..10,
    )
        .prop_map(|(id, limit, history, linked, odd)| {
            let mut flags = match limit {
                0..=3 => AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS,
                4 => AccountFlags::CREDITS_MUST_NOT_EXCEED_DEBITS,
                5 => AccountFlags::CLOSED,
                _ => AccountFlags::NONE,
            };
            if history {
                flags |= AccountFlags::HISTORY;
            }
            if linked && odd < 3 {
                flags |= AccountFlags::LINKED;
            }
            let asset = if odd == 9 { AssetId(7) } else { asset_of(id) };
            let owner = if odd == 8 {
                OwnerKind::Shop
            } else {
                OwnerKind::Rider
            };
            Account::new(id, asset, owner, flags)
        })
}

fn amount_strategy() -> impl Strategy<Value = u64> {
    prop_oneof![
        8 => 0u64..60,
        1 => (u64::MAX - 40)..=u64::MAX,
    ]
}

/// Pending transfers take ids 1..=PENDING_ID_MAX and posts/voids name those, so two-phase
/// operations meet often; other transfers take ids up to TRANSFER_ID_MAX (and collide with
/// pending ones now and then).
const PENDING_ID_MAX: u128 = 12;

/// Accounts by asset: 1..=5 hold asset 1, 6..=8 asset 2 (see `asset_of`).
fn pick_account(group: bool, k: u8) -> AccountId {
    if group {
        6 + u128::from(k % 3)
    } else {
        1 + u128::from(k % 5)
    }
}

fn transfer_strategy() -> impl Strategy<Value = Transfer> {
    (
        (1..=TRANSFER_ID_MAX, 1..=PENDING_ID_MAX, any::<bool>()),
        (any::<u8>(), any::<u8>(), 0u8..40),
        amount_strategy(),
        0u8..18,
        0u32..4,
        0u8..7,
        0u8..20,
    )
        .prop_map(
            |(
                (id, pending_id, group),
                (dr, cr, odd_account),
                amount,
                kind,
                timeout,
                linked,
                noise,
            )| {
                let mut debit = pick_account(group, dr);
                let mut credit = pick_account(group, cr);
                match odd_account {
                    0 => debit = 0,
                    1 => credit = 0,
                    2 => debit = ACCOUNT_ID_MAX + 1,
                    3 => credit = ACCOUNT_ID_MAX + 1,
                    4 => credit = pick_account(!group, cr),
                    _ => {}
                }
                let asset = if noise == 19 {
                    ASSETS[1]
                } else {
                    asset_of(debit)
                };
                let mut t =
                    Transfer::new(id, debit, credit, amount, asset, 1 + u16::from(noise % 2));
                t.flags = match kind {
                    0..=5 => TransferFlags::NONE,
                    6..=8 => TransferFlags::PENDING,
                    9 => TransferFlags::BALANCING_DEBIT,
                    10 => TransferFlags::BALANCING_CREDIT | TransferFlags::PENDING,
                    11 => TransferFlags::PENDING | TransferFlags::CLOSING_DEBIT,
                    12 => TransferFlags::PENDING | TransferFlags::CLOSING_CREDIT,
                    13 | 14 => TransferFlags::POST_PENDING,
                    15 => TransferFlags::VOID_PENDING,
                    16 => TransferFlags::CLOSING_DEBIT,
                    _ => match noise % 3 {
                        0 => TransferFlags::POST_PENDING | TransferFlags::VOID_PENDING,
                        1 => TransferFlags::POST_PENDING | TransferFlags::PENDING,
                        _ => TransferFlags::VOID_PENDING | TransferFlags::BALANCING_DEBIT,
                    },
                };
                if t.flags.contains(TransferFlags::PENDING) {
                    t.timeout_seconds = timeout;
                    t.id = pending_id;
                }
                if t.is_post_or_void() {
                    t.pending_id = pending_id;
                    t.amount = amount % 40;
                    if noise == 0 {
                        t.timeout_seconds = 1;
                    }
                    // Mostly inherit the pending transfer's fields; sometimes name (maybe wrong) ones.
                    if noise < 15 {
                        t.debit_account_id = 0;
                        t.credit_account_id = 0;
                        t.asset = AssetId(0);
                        t.code = 0;
                    }
                } else if id > PENDING_ID_MAX && noise == 1 {
                    t.timeout_seconds = 2;
                }
                if noise == 5 {
                    t.user_data_128 = 77;
                }
                if noise == 6 {
                    t.id = 0;
                }
                if linked == 0 {
                    t.flags |= TransferFlags::LINKED;
                }
                t
            },
        )
}

fn step_strategy() -> impl Strategy<Value = Step> {
    let op = prop_oneof![
        1 => prop::collection::vec(account_strategy(), 0..4).prop_map(Op::Accounts),
        8 => prop::collection::vec(transfer_strategy(), 0..10).prop_map(Op::Transfers),
        2 => any::<usize>().prop_map(Op::Resend),
        1 => Just(Op::Expire),
    ];
    (op, prop_oneof![0u64..3, 0u64..2_500]).prop_map(|(op, advance_ms)| Step { op, advance_ms })
}

/// The starting state: both assets, accounts 1..=ACCOUNT_ID_MAX with mixed flags, issuers
/// (accounts 1 and 6, no limits) funding the others.
fn setup() -> (Ledger, Model, Vec<Account>) {
    let mut ledger = Ledger::new();
    assert!(
        ledger
            .create_assets(&[
                Asset::new(ASSETS[0].0, "JPY", AssetKind::Yen, 0),
                Asset::new(ASSETS[1].0, "PT", AssetKind::Points, 0),
            ])
            .is_empty()
    );
    let accounts: Vec<Account> = (1..=ACCOUNT_ID_MAX)
        .filter(|id| id % 4 != 0) // 4 and 8 are left for generated creation
        .map(|id| {
            let flags = match id {
                1 | 6 => AccountFlags::NONE,
                3 => AccountFlags::CREDITS_MUST_NOT_EXCEED_DEBITS,
                _ => AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS | AccountFlags::HISTORY,
            };
            Account::new(id, asset_of(id), OwnerKind::Rider, flags)
        })
        .collect();
    (ledger, Model::default(), accounts)
}

fn compare(ledger: &Ledger, model: &Model) -> Result<(), TestCaseError> {
    if let Err(violation) = ledger.check_invariants() {
        return Err(TestCaseError::fail(format!("invariant: {violation}")));
    }
    let ledger_accounts: Vec<Account> = ledger.accounts().copied().collect();
    let model_accounts: Vec<Account> = model
        .account_order
        .iter()
        .map(|id| model.accounts[id])
        .collect();
    prop_assert_eq!(ledger_accounts, model_accounts);
    let ledger_transfers: Vec<Transfer> = ledger.transfers().copied().collect();
    let model_transfers: Vec<Transfer> = model.transfers.iter().map(|(t, _)| *t).collect();
    prop_assert_eq!(ledger_transfers, model_transfers);
    for id in 1..=TRANSFER_ID_MAX {
        prop_assert_eq!(
            ledger.pending_status(id),
            model.status.get(&id).copied(),
            "status of {}",
            id
        );
    }
    // History: every transfer touching an account with HISTORY, oldest first.
    for account in model.accounts.values() {
        let got: Vec<u128> = ledger
            .account_transfers(account.id, &AccountFilter::default())
            .iter()
            .map(|t| t.id)
            .collect();
        let want: Vec<u128> = if account.flags.contains(AccountFlags::HISTORY) {
            model
                .transfers
                .iter()
                .filter(|(t, _)| {
                    t.debit_account_id == account.id || t.credit_account_id == account.id
                })
                .map(|(t, _)| t.id)
                .collect()
        } else {
            Vec::new()
        };
        prop_assert_eq!(got, want, "history of {}", account.id);
    }
    for asset in ASSETS {
        let totals = ledger.totals(asset);
        let sum = |f: fn(&Account) -> u64| -> u128 {
            model
                .accounts
                .values()
                .filter(|a| a.asset == asset)
                .map(|a| u128::from(f(a)))
                .sum()
        };
        prop_assert_eq!(totals.debits_posted, sum(|a| a.debits_posted));
        prop_assert_eq!(totals.credits_pending, sum(|a| a.credits_pending));
    }
    Ok(())
}

fn run_steps(steps: &[Step]) -> Result<u128, TestCaseError> {
    let (mut ledger, mut model, accounts) = setup();
    let mut clock_ns = CLOCK_START_NS;
    let got = ledger.create_accounts(&accounts, clock_ns);
    let want = model.create_accounts(&accounts, clock_ns);
    prop_assert_eq!(
        got.iter().map(|r| (r.index, r.result)).collect::<Vec<_>>(),
        want
    );
    // Fund the wallets so limits are sometimes met and sometimes not.
    let funding: Vec<Transfer> = [(1, 2, 50), (1, 5, 30), (6, 7, 40)]
        .iter()
        .enumerate()
        .map(|(i, &(dr, cr, amount))| {
            Transfer::new(1_000 + i as u128, dr, cr, amount, asset_of(dr), 9)
        })
        .collect();
    let got = ledger.create_transfers(&funding, clock_ns);
    prop_assert!(got.is_empty());
    model.create_transfers(&funding, clock_ns);
    compare(&ledger, &model)?;

    let mut sent: Vec<&Vec<Transfer>> = Vec::new();
    for step in steps {
        clock_ns += step.advance_ms * 1_000_000;
        let resend = match &step.op {
            Op::Resend(k) if !sent.is_empty() => Some(sent[k % sent.len()]),
            _ => None,
        };
        if let Op::Transfers(batch) = &step.op {
            sent.push(batch);
        }
        match &step.op {
            Op::Resend(_) => {
                let batch = resend.map(|b| b.as_slice()).unwrap_or(&[]);
                let got = ledger.create_transfers(batch, clock_ns);
                let want = model.create_transfers(batch, clock_ns);
                prop_assert_eq!(
                    got.iter().map(|r| (r.index, r.result)).collect::<Vec<_>>(),
                    want
                );
            }
            Op::Accounts(batch) => {
                let got = ledger.create_accounts(batch, clock_ns);
                let want = model.create_accounts(batch, clock_ns);
                prop_assert_eq!(
                    got.iter().map(|r| (r.index, r.result)).collect::<Vec<_>>(),
                    want
                );
            }
            Op::Transfers(batch) => {
                let got = ledger.create_transfers(batch, clock_ns);
                let want = model.create_transfers(batch, clock_ns);
                prop_assert_eq!(
                    got.iter().map(|r| (r.index, r.result)).collect::<Vec<_>>(),
                    want
                );
            }
            Op::Expire => {
                let before = model
                    .status
                    .values()
                    .filter(|s| **s == PendingStatus::Expired)
                    .count();
                model.expire(clock_ns);
                let after = model
                    .status
                    .values()
                    .filter(|s| **s == PendingStatus::Expired)
                    .count();
                prop_assert_eq!(ledger.expire_pending_transfers(clock_ns), after - before);
            }
        }
        compare(&ledger, &model)?;
    }
    Ok(ledger.digest())
}

proptest! {
    // 10 000 cases in CI: the ledger is run against the model after every batch.
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn ledger_matches_the_reference_model_and_replays_to_the_same_digest(
        steps in prop::collection::vec(step_strategy(), 1..16)
    ) {
        let first = run_steps(&steps)?;
        let replay = run_steps(&steps)?;
        prop_assert_eq!(first, replay);
    }
}
