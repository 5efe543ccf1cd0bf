//! Per-account transfer history, kept only for accounts with `AccountFlags::HISTORY`.

/// Which of an account's transfers `Ledger::account_transfers` returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccountFilter {
    /// Inclusive lower bound on the transfer timestamp (ns).
    pub timestamp_min: u64,
    /// Inclusive upper bound on the transfer timestamp (ns).
    pub timestamp_max: u64,
    /// Most transfers returned.
    pub limit: u32,
    /// Newest first instead of oldest first.
    pub reversed: bool,
    /// Include transfers that debit the account.
    pub debits: bool,
    /// Include transfers that credit the account.
    pub credits: bool,
}

impl Default for AccountFilter {
    /// Every transfer, oldest first, up to `ACCOUNT_FILTER_LIMIT_MAX`.
    fn default() -> AccountFilter {
        AccountFilter {
            timestamp_min: 0,
            timestamp_max: u64::MAX,
            limit: ACCOUNT_FILTER_LIMIT_MAX,
            reversed: false,
            debits: true,
            credits: true,
        }
    }
}

/// Default cap on one history query: one batch's worth.
pub const ACCOUNT_FILTER_LIMIT_MAX: u32 = 8190;
