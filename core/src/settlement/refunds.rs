//! Refunds after close (issue 10). A refund of a purchase whose day a settlement already closed
//! finds the shop's receipts for that day swept into `payable:shop:…`. As an accountant books
//! it: the refund draws on the shop's current receipts first (`shop:{shop}:{asset}`), then on
//! what the town still owes the shop and has not paid (`payable:shop:…` → shop, reason
//! `payable_draw`, oldest unpaid settlement first), and is refused (`refund_exceeds_shop_funds`)
//! only when both together can't cover it. Every leg is in the refund's own linked chain, so
//! nothing goes negative and nothing posts half.
//!
//! The next settlement then shows the refund as a negative adjustment line (`refund`) naming the
//! day of the original purchase, in place of the refund day's share of `shop_net`, and a positive
//! line (`payable_drawn:{settlement}`) for what was already taken from an earlier payable: Σ the
//! party's lines stays what that settlement moves on the ledger.

use serde::Serialize;

use super::{LineKey, SettleBook};

/// Refunds after close a log may hold: each is one accepted refund event, bounded by the
/// machine's own event limits; this bounds the book's memory on its own.
pub const REFUNDS_AFTER_CLOSE_MAX: usize = 1 << 20;

/// What a refund took from one settlement's unpaid payable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Drawn {
    pub settlement: String,
    pub amount_minor: u64,
}

/// A refund of a purchase on a closed day, or one the shop's receipts could not cover alone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RefundAfterClose {
    /// The refund event's id.
    pub refund: String,
    /// `shop:{shop}`.
    pub party: String,
    pub asset: String,
    /// Local `YYYY-MM-DD` of the refund event, and of the purchase it refunds.
    pub refund_day: String,
    pub purchase_day: String,
    /// What left the shop: the refund less the fee given back to it.
    pub net_minor: u64,
    /// The purchase's day was closed when the refund came: its line names that day.
    pub closed: bool,
    /// Oldest settlement first.
    pub drawn: Vec<Drawn>,
}

impl RefundAfterClose {
    /// The day its adjustment lines name.
    fn line_day(&self) -> &str {
        if self.closed {
            &self.purchase_day
        } else {
            &self.refund_day
        }
    }

    /// Its lines, keyed as `unsettled_lines` keys the shop's day nets.
    pub(super) fn lines(&self) -> Vec<(LineKey, i128)> {
        let key = |day: &str, source: String| {
            (
                self.party.clone(),
                self.asset.clone(),
                day.to_owned(),
                source,
            )
        };
        let net = i128::from(self.net_minor);
        let mut lines = Vec::with_capacity(2 + self.drawn.len());
        if self.closed {
            // Out of the refund day's net, into the purchase day's adjustment.
            lines.push((key(&self.refund_day, "shop_net".to_owned()), net));
            lines.push((key(&self.purchase_day, "refund".to_owned()), -net));
        }
        for drawn in &self.drawn {
            let source = format!("payable_drawn:{}", drawn.settlement);
            lines.push((key(self.line_day(), source), i128::from(drawn.amount_minor)));
        }
        lines
    }
}

/// Why a refund can't be covered after close.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Uncovered {
    /// What the refund needs beyond the shop's receipts.
    pub short_minor: u64,
    /// What the shop's settlements still owe it, unpaid.
    pub unpaid_minor: u64,
}

impl SettleBook {
    pub fn refunds_after_close(&self) -> &[RefundAfterClose] {
        &self.refunds
    }

    /// What refunds after close took from a settlement's payable.
    pub fn drawn_minor(&self, settlement: &str, party: &str, asset: &str) -> u64 {
        let Some(index) = self.settlements.iter().position(|s| s.id == settlement) else {
            return 0;
        };
        self.drawn
            .get(&(index, party.to_owned(), asset.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// What of a settlement's payable is still to be paid: payable − paid − drawn by refunds.
    pub fn unpaid_minor(&self, settlement: &str, party: &str, asset: &str) -> u64 {
        self.settlements
            .iter()
            .position(|s| s.id == settlement)
            .map_or(0, |index| self.unpaid_at(index, party, asset))
    }

    fn unpaid_at(&self, index: usize, party: &str, asset: &str) -> u64 {
        let payable = self.settlements[index]
            .payables
            .iter()
            .find(|p| p.party == party && p.asset == asset)
            .map_or(0, |p| p.amount_minor);
        let key = (index, party.to_owned(), asset.to_owned());
        let paid = self.paid.get(&key).copied().unwrap_or(0);
        let drawn = self.drawn.get(&key).copied().unwrap_or(0);
        payable - paid - drawn
    }

    /// Which unpaid payables cover `short_minor`, oldest settlement first: (settlement index,
    /// amount). `Err` when all of them together hold less.
    pub(crate) fn plan_draw(
        &self,
        party: &str,
        asset: &str,
        short_minor: u64,
    ) -> Result<Vec<(usize, u64)>, Uncovered> {
        let mut plan = Vec::new();
        let mut left = short_minor;
        let mut unpaid_total = 0u64;
        for index in 0..self.settlements.len() {
            let unpaid = self.unpaid_at(index, party, asset);
            unpaid_total = unpaid_total.saturating_add(unpaid);
            let take = unpaid.min(left);
            if take > 0 {
                plan.push((index, take));
                left -= take;
            }
        }
        if left > 0 || self.refunds.len() >= REFUNDS_AFTER_CLOSE_MAX {
            return Err(Uncovered {
                short_minor,
                unpaid_minor: unpaid_total,
            });
        }
        Ok(plan)
    }

    /// Keeps an accepted refund after close and what it drew (`plan_draw`'s plan, posted).
    pub(crate) fn record_refund(&mut self, mut entry: RefundAfterClose, plan: &[(usize, u64)]) {
        for &(index, amount) in plan {
            *self
                .drawn
                .entry((index, entry.party.clone(), entry.asset.clone()))
                .or_default() += amount;
            entry.drawn.push(Drawn {
                settlement: self.settlements[index].id.clone(),
                amount_minor: amount,
            });
        }
        self.refunds.push(entry);
    }
}
