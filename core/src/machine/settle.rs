//! The machine's side of settlement and payouts (`crate::settlement`): it keeps the settlement
//! book (replayed state) and posts the chains a settlement or payout decided on. What to post is
//! worked out by `crate::settlement` from the machine's reports; here it only opens the accounts
//! and posts, exactly as planned or not at all.

use kanjo_ledger::{Account, AccountFlags, AccountId, AssetId, CreateTransferError, OwnerKind};
use kanjo_ledger::{Transfer, TransferFlags};

use super::Machine;
use crate::settlement::SettleBook;

/// An account a settlement chain needs, by display name (`payable:shop:s-1:JPY`).
pub struct FinanceAccount {
    pub id: AccountId,
    pub name: String,
    pub asset: AssetId,
    pub owner: OwnerKind,
    pub flags: AccountFlags,
}

impl Machine {
    pub fn settle_book(&self) -> &SettleBook {
        &self.settlements
    }

    pub(crate) fn settle_book_mut(&mut self) -> &mut SettleBook {
        &mut self.settlements
    }

    /// A settlement's period as it was closed (for its statements); `None` before it is made.
    pub fn closed_days(&self, number: u64) -> Option<&crate::report::closed::ClosedDays> {
        self.closed_days.get(&number).map(|days| &**days)
    }

    /// Copies the period's days when a settlement is made (`crate::report::closed`).
    pub(crate) fn keep_closed_days(&mut self, number: u64, previous: Option<&str>, through: &str) {
        let days = crate::report::closed::closed_days(self, previous, through);
        self.closed_days.insert(number, std::sync::Arc::new(days));
    }

    /// Opens the account if the ledger doesn't hold it yet.
    pub(crate) fn open_finance_account(&mut self, account: &FinanceAccount) {
        if self.ledger.account(account.id).is_some() {
            return;
        }
        let new = Account::new(account.id, account.asset, account.owner, account.flags);
        let failures = self.ledger.create_accounts(&[new], self.clock_ns);
        assert!(
            failures.is_empty(),
            "opening {}: {failures:?}",
            account.name
        );
        self.account_names
            .insert(account.id, account.name.clone().into_boxed_str());
    }

    /// Posts `legs` as one linked chain (every leg but the last carries `LINKED`): all or none.
    pub(crate) fn post_finance_chain(
        &mut self,
        legs: &mut [Transfer],
    ) -> Result<(), (usize, CreateTransferError)> {
        let Some(last) = legs.len().checked_sub(1) else {
            return Ok(());
        };
        for (index, leg) in legs.iter_mut().enumerate() {
            if index < last {
                leg.flags |= TransferFlags::LINKED;
            }
        }
        let failures = self.ledger.create_transfers(legs, self.clock_ns);
        match failures
            .iter()
            .find(|failure| failure.result != CreateTransferError::LinkedEventFailed)
            .or(failures.first())
        {
            None => Ok(()),
            Some(failure) => Err((failure.index as usize, failure.result)),
        }
    }
}
