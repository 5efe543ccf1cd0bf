//! The machine's side of settlement and payouts (`crate::settlement`): it keeps the settlement
//! book (replayed state) and posts the chains a settlement or payout decided on. What to post is
//! worked out by `crate::settlement` from the machine's reports; here it only opens the accounts
//! and posts, exactly as planned or not at all.

use kanjo_ledger::{Account, AccountFlags, AccountId, AssetId, CreateTransferError, OwnerKind};
use kanjo_ledger::{Transfer, TransferFlags};

use super::Machine;
use crate::answer::{Rejection, RejectionCode};
use crate::chart::{AccountName, AssetKindName, Reason};
use crate::settlement::{
    REFUNDS_AFTER_CLOSE_MAX, RefundAfterClose, SettleBook, advance_account, advance_account_id,
};

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

/// One part of a refund as the after-close check sees it: what goes back, the fee the shop gets
/// back, and what of it the town advances (`crate::settlement::refunds`).
pub(super) struct RefundDraw {
    pub asset: AssetId,
    pub asset_code: String,
    pub take: u64,
    pub fee_back: u64,
    /// What the shop's receipts lack: 0 when they cover it.
    pub advance: u64,
    /// The purchase's day was closed when the refund came.
    pub closed: bool,
    /// Kept for the next settlement's lines (`RefundAfterClose`): a yen or points part that is
    /// after close or advanced.
    pub recorded: bool,
}

impl Machine {
    /// Per refund part: what the shop's receipts (with the fee it gets back) can't cover, which
    /// the town advances up to what it still owes the shop unpaid less its earlier advances;
    /// `refund_exceeds_shop_funds` beyond that.
    pub(super) fn plan_refund_draws(
        &self,
        shop: &str,
        parts: &[(AssetId, u64, u64)],
        purchase_day: u64,
    ) -> Result<Vec<RefundDraw>, Rejection> {
        let party = format!("shop:{shop}");
        // Before any settlement (the common case) this reads nothing and allocates nothing.
        let closed = self.settlements.closed_through().is_some_and(|closed| {
            crate::shops::day_of_stamp(purchase_day)
                .is_some_and(|day| day.to_string().as_str() <= closed)
        });
        let mut draws = Vec::with_capacity(parts.len());
        for &(asset, take, fee_back) in parts {
            let asset_code = self
                .assets
                .spec(asset)
                .map_or_else(|| format!("asset-{}", asset.0), |spec| spec.code.clone());
            let account = AccountName::Shop {
                shop,
                asset: &asset_code,
            }
            .id();
            let receipts = self
                .ledger
                .account(account)
                .map_or(0, |account| account.available_debit());
            let advance = take.saturating_sub(receipts.saturating_add(fee_back));
            if advance > 0 {
                let unpaid = self.settlements.unpaid_total_minor(&party, &asset_code);
                let advanced = self
                    .ledger
                    .account(advance_account_id(&party, &asset_code))
                    .map_or(0, |account| account.debits_posted - account.credits_posted);
                let room = unpaid.saturating_sub(advanced);
                if advance > room {
                    return Err(Rejection::new(
                        RejectionCode::RefundExceedsShopFunds,
                        format!(
                            "{party} holds {receipts} {asset_code}; the refund needs {advance} more, and the town can advance at most {room} (owed {unpaid} unpaid, {advanced} already advanced)"
                        ),
                    ));
                }
            }
            let swept = self.assets.get(&asset_code).is_some_and(|(_, spec)| {
                matches!(spec.kind, AssetKindName::Yen | AssetKindName::Points)
            });
            draws.push(RefundDraw {
                asset,
                asset_code,
                take,
                fee_back,
                advance,
                closed,
                recorded: swept && (closed || advance > 0),
            });
        }
        let recorded = draws.iter().filter(|draw| draw.recorded).count();
        if !self.settlements.has_room_for_refunds(recorded) {
            return Err(Rejection::new(
                RejectionCode::LimitReached,
                format!(
                    "the log keeps at most {REFUNDS_AFTER_CLOSE_MAX} refunds after close, and holds them all: refund outside kanjo"
                ),
            ));
        }
        Ok(draws)
    }

    /// Opens the shop's advance account and makes the leg that advances a refund part's
    /// shortfall into the shop's account.
    pub(super) fn advance_leg(
        &mut self,
        shop: &str,
        draw: &RefundDraw,
        shop_account: AccountId,
    ) -> Transfer {
        let account = advance_account(&format!("shop:{shop}"), &draw.asset_code, draw.asset);
        self.open_finance_account(&account);
        Transfer::new(
            0,
            account.id,
            shop_account,
            draw.advance,
            draw.asset,
            Reason::RefundAdvance as u16,
        )
    }

    /// Keeps an accepted refund's parts that came after their purchase's day was closed, or that
    /// the town advanced, for the next settlement's lines.
    pub(super) fn record_refund_draws(
        &mut self,
        refund: &str,
        shop: &str,
        days: (u64, u64),
        draws: Vec<RefundDraw>,
    ) {
        let day = |stamp: u64| {
            crate::shops::day_of_stamp(stamp).map_or_else(|| "?".to_owned(), |d| d.to_string())
        };
        let (purchase_day, refund_day) = (day(days.0), day(days.1));
        for draw in draws.into_iter().filter(|draw| draw.recorded) {
            self.settlements.record_refund(RefundAfterClose {
                refund: refund.to_owned(),
                party: format!("shop:{shop}"),
                asset: draw.asset_code.clone(),
                refund_day: refund_day.clone(),
                purchase_day: purchase_day.clone(),
                net_minor: draw.take.saturating_sub(draw.fee_back),
                closed: draw.closed,
                advanced_minor: draw.advance,
            });
        }
    }
}
