//! What the machine checks of a chain before the ledger sees it, when the chain needs accounts
//! the ledger doesn't hold yet: those are opened only for a chain that is known to post, so a
//! rejected event opens no account.

use kanjo_ledger::{
    Account, AccountFlags, AccountId, CreateTransferError, Ledger, Transfer, TransferFlags,
};

use super::LEGS_PER_EVENT_MAX;

/// An account a chain needs that the ledger doesn't hold yet (`Machine::leg_account`).
pub(super) struct NewAccount {
    pub(super) account: Account,
    pub(super) name: Box<str>,
}

/// Checks the legs against the accounts' balance limits in chain order, as the ledger will;
/// accounts still to open start at zero with their name's flags. Err is the first leg that
/// would break a limit, with the ledger's error for it. Overflow is `legs_fit_accounts`' to
/// refuse, before this runs.
pub(super) fn legs_keep_limits(
    ledger: &Ledger,
    legs: &[Transfer],
    opening: &[NewAccount],
) -> Result<(), (usize, CreateTransferError)> {
    debug_assert!(legs.len() <= LEGS_PER_EVENT_MAX);
    let mut balances = ChainBalances {
        ledger,
        opening,
        touched: Vec::with_capacity(2 * legs.len()),
    };
    for (index, leg) in legs.iter().enumerate() {
        if leg.is_post_or_void() {
            balances.settle(leg);
        } else {
            balances.add(leg).map_err(|error| (index, error))?;
        }
    }
    Ok(())
}

/// The accounts a chain touches, as its legs so far leave them.
struct ChainBalances<'a> {
    ledger: &'a Ledger,
    opening: &'a [NewAccount],
    /// At most two per leg, so a scan is cheaper than a map.
    touched: Vec<Account>,
}

impl ChainBalances<'_> {
    /// The account's place in `touched`; None for an account nobody holds or opens (the
    /// ledger's to refuse: it breaks no limit).
    fn slot(&mut self, id: AccountId) -> Option<usize> {
        if let Some(index) = self.touched.iter().position(|account| account.id == id) {
            return Some(index);
        }
        let account = self.ledger.account(id).copied().or_else(|| {
            self.opening
                .iter()
                .find(|new| new.account.id == id)
                .map(|new| new.account)
        })?;
        self.touched.push(account);
        Some(self.touched.len() - 1)
    }

    /// A post or void takes its pending transfer's amount out of pending; a post puts what it
    /// posts (the leg's amount, or all of it when that is 0) into posted. Neither checks a limit.
    fn settle(&mut self, leg: &Transfer) {
        let Some(pending) = self.ledger.transfer(leg.pending_id).copied() else {
            return;
        };
        let posted = match (leg.flags.contains(TransferFlags::POST_PENDING), leg.amount) {
            (false, _) => 0,
            (true, 0) => pending.amount,
            (true, amount) => amount,
        };
        if let Some(dr) = self.slot(pending.debit_account_id) {
            let dr = &mut self.touched[dr];
            dr.debits_pending = dr.debits_pending.saturating_sub(pending.amount);
            dr.debits_posted = dr.debits_posted.saturating_add(posted);
        }
        if let Some(cr) = self.slot(pending.credit_account_id) {
            let cr = &mut self.touched[cr];
            cr.credits_pending = cr.credits_pending.saturating_sub(pending.amount);
            cr.credits_posted = cr.credits_posted.saturating_add(posted);
        }
    }

    /// A new transfer, posted or pending, if it keeps both accounts within their limits.
    fn add(&mut self, leg: &Transfer) -> Result<(), CreateTransferError> {
        // The machine posts no balancing transfers, whose amount the ledger would cut.
        debug_assert!(
            !leg.flags
                .intersects(TransferFlags::BALANCING_DEBIT | TransferFlags::BALANCING_CREDIT)
        );
        let (Some(dr), Some(cr)) = (
            self.slot(leg.debit_account_id),
            self.slot(leg.credit_account_id),
        ) else {
            return Ok(());
        };
        let amount = u128::from(leg.amount);
        let debtor = self.touched[dr];
        if debtor
            .flags
            .contains(AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS)
            && u128::from(debtor.debits_posted) + u128::from(debtor.debits_pending) + amount
                > u128::from(debtor.credits_posted)
        {
            return Err(CreateTransferError::ExceedsCredits);
        }
        let creditor = self.touched[cr];
        if creditor
            .flags
            .contains(AccountFlags::CREDITS_MUST_NOT_EXCEED_DEBITS)
            && u128::from(creditor.credits_posted) + u128::from(creditor.credits_pending) + amount
                > u128::from(creditor.debits_posted)
        {
            return Err(CreateTransferError::ExceedsDebits);
        }
        let pending = leg.flags.contains(TransferFlags::PENDING);
        let debtor = &mut self.touched[dr];
        let debits = if pending {
            &mut debtor.debits_pending
        } else {
            &mut debtor.debits_posted
        };
        *debits = debits.saturating_add(leg.amount);
        let creditor = &mut self.touched[cr];
        let credits = if pending {
            &mut creditor.credits_pending
        } else {
            &mut creditor.credits_posted
        };
        *credits = credits.saturating_add(leg.amount);
        Ok(())
    }
}
