//! Two-phase transfers after the first phase: posting and voiding a pending transfer, releasing
//! reservations, and expiring pending transfers whose timeout passed.

use crate::NS_PER_SECOND;
use crate::account::AccountFlags;
use crate::ledger::Ledger;
use crate::transfer::{PendingStatus, Transfer, TransferFlags};
use crate::transfers::{TransferError, Undo};

/// The pending transfer's deadline: its timestamp plus its timeout.
pub(crate) fn deadline_ns(p: &Transfer) -> u64 {
    debug_assert!(p.timeout_seconds > 0);
    p.timestamp + u64::from(p.timeout_seconds) * NS_PER_SECOND
}

impl Ledger {
    pub(crate) fn post_or_void_pending(
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
    pub(crate) fn release_reservation(
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
}
