//! Accounts: one asset each, balances as debits/credits posted and pending.

use crate::asset::AssetId;

/// 128-bit account id; 0 and `u128::MAX` are invalid.
pub type AccountId = u128;

/// Who owns an account; informational for the ledger, used by reports and rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OwnerKind {
    Rider,
    Operator,
    Shop,
    TownBudget,
    Issuer,
    System,
}

impl OwnerKind {
    pub(crate) fn tag(self) -> u8 {
        match self {
            OwnerKind::Rider => 1,
            OwnerKind::Operator => 2,
            OwnerKind::Shop => 3,
            OwnerKind::TownBudget => 4,
            OwnerKind::Issuer => 5,
            OwnerKind::System => 6,
        }
    }
}

/// Account flags (a bit set).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AccountFlags(pub u16);

impl AccountFlags {
    pub const NONE: AccountFlags = AccountFlags(0);
    /// This account and the next one in the batch are created together or not at all.
    pub const LINKED: AccountFlags = AccountFlags(1 << 0);
    /// debits_posted + debits_pending may never exceed credits_posted (a wallet can't go negative).
    pub const DEBITS_MUST_NOT_EXCEED_CREDITS: AccountFlags = AccountFlags(1 << 1);
    /// credits_posted + credits_pending may never exceed debits_posted.
    pub const CREDITS_MUST_NOT_EXCEED_DEBITS: AccountFlags = AccountFlags(1 << 2);
    /// Keep a per-account index of transfers for `Ledger::account_transfers`.
    pub const HISTORY: AccountFlags = AccountFlags(1 << 3);
    /// No new transfers may touch the account (set by closing transfers, cleared by voiding them).
    pub const CLOSED: AccountFlags = AccountFlags(1 << 4);
    /// Every bit that has a meaning; the others are reserved.
    pub const ALL: AccountFlags = AccountFlags(0b1_1111);

    pub const fn contains(self, other: AccountFlags) -> bool {
        self.0 & other.0 == other.0
    }

    pub const fn union(self, other: AccountFlags) -> AccountFlags {
        AccountFlags(self.0 | other.0)
    }

    pub const fn without(self, other: AccountFlags) -> AccountFlags {
        AccountFlags(self.0 & !other.0)
    }
}

impl std::ops::BitOr for AccountFlags {
    type Output = AccountFlags;
    fn bitor(self, rhs: AccountFlags) -> AccountFlags {
        self.union(rhs)
    }
}

impl std::ops::BitOrAssign for AccountFlags {
    fn bitor_assign(&mut self, rhs: AccountFlags) {
        *self = self.union(rhs);
    }
}

/// An account. On input to `create_accounts` the balances and `timestamp` must be zero.
///
/// Laid out as two cache lines: everything a transfer reads or writes (id, balances, asset,
/// flags) in the first, the rest in the second, so applying a transfer touches one line per
/// account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, align(64))]
pub struct Account {
    pub id: AccountId,
    pub debits_pending: u64,
    pub debits_posted: u64,
    pub credits_pending: u64,
    pub credits_posted: u64,
    pub asset: AssetId,
    pub flags: AccountFlags,
    /// Free for the caller: account type/chart-of-accounts code.
    pub code: u16,
    pub owner: OwnerKind,
    pub user_data_128: u128,
    pub user_data_64: u64,
    /// Ledger-assigned creation time (ns); 0 on input.
    pub timestamp: u64,
}

const _: () = assert!(std::mem::size_of::<Account>() == 128);
const _: () = assert!(std::mem::offset_of!(Account, flags) < 64);

impl Account {
    /// A new account with zero balances, code 0 and no user data.
    pub fn new(id: AccountId, asset: AssetId, owner: OwnerKind, flags: AccountFlags) -> Account {
        Account {
            id,
            asset,
            owner,
            flags,
            code: 0,
            user_data_128: 0,
            user_data_64: 0,
            debits_pending: 0,
            debits_posted: 0,
            credits_pending: 0,
            credits_posted: 0,
            timestamp: 0,
        }
    }

    /// credits_posted - debits_posted: the balance of a liability such as a rider's wallet.
    pub fn credit_balance_posted(&self) -> i128 {
        i128::from(self.credits_posted) - i128::from(self.debits_posted)
    }

    /// debits_posted - credits_posted: the balance of an asset-side account such as a budget.
    pub fn debit_balance_posted(&self) -> i128 {
        i128::from(self.debits_posted) - i128::from(self.credits_posted)
    }

    /// What can still be debited now: credits_posted - debits_posted - debits_pending, floored at
    /// 0 (for a wallet with `DEBITS_MUST_NOT_EXCEED_CREDITS`, the spendable balance).
    pub fn available_debit(&self) -> u64 {
        self.credits_posted
            .saturating_sub(self.debits_posted.saturating_add(self.debits_pending))
    }

    /// What can still be credited now: debits_posted - credits_posted - credits_pending, floored at 0.
    pub fn available_credit(&self) -> u64 {
        self.debits_posted
            .saturating_sub(self.credits_posted.saturating_add(self.credits_pending))
    }

    /// True if the balances respect the account's limit flags.
    pub fn within_limits(&self) -> bool {
        let debits = u128::from(self.debits_posted) + u128::from(self.debits_pending);
        let credits = u128::from(self.credits_posted) + u128::from(self.credits_pending);
        let debits_ok = !self
            .flags
            .contains(AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS)
            || debits <= u128::from(self.credits_posted);
        let credits_ok = !self
            .flags
            .contains(AccountFlags::CREDITS_MUST_NOT_EXCEED_DEBITS)
            || credits <= u128::from(self.debits_posted);
        debits_ok && credits_ok
    }

    pub fn is_closed(&self) -> bool {
        self.flags.contains(AccountFlags::CLOSED)
    }
}
