//! Refunds after close (issue 10). A refund of a purchase whose day a settlement already closed
//! finds the shop's receipts for that day swept into `payable:shop:…`. As an accountant books
//! it: the refund draws on the shop's current receipts first (`shop:{shop}:{asset}`); what they
//! lack the town advances (`advance:shop:{shop}:{asset}` → shop, reason `refund_advance`), at
//! most what the town still owes the shop unpaid less what it has already advanced, so the
//! advance is always covered by money the town holds for the shop. Beyond that the refund is
//! refused (`refund_exceeds_shop_funds`). Every leg is in the refund's own linked chain, so
//! nothing goes negative and nothing posts half. Payables are never touched: they only go down
//! by payouts.
//!
//! The next settlement then shows the refund as a negative adjustment line (`refund`) naming the
//! day of the original purchase, in place of the refund day's share of `shop_net`, and a
//! `refund_advance` line for what the town advanced: that line's amount moves from the shop's
//! receipts back into the advance account (recovering it) instead of into the payable. A shop
//! with too few receipts to repay it is carried until it has them.

use serde::Serialize;

use super::{LineKey, SettleBook};

/// Refunds after close a log may hold: each is one accepted refund event, bounded by the
/// machine's own event limits; this bounds the book's memory on its own.
pub const REFUNDS_AFTER_CLOSE_MAX: usize = 1 << 20;

/// The line source of a refund advance the settlement recovers.
pub const REFUND_ADVANCE_SOURCE: &str = "refund_advance";

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
    /// What the town advanced because the shop's receipts fell short.
    pub advanced_minor: u64,
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
        let key = |day: &str, source: &str| {
            (
                self.party.clone(),
                self.asset.clone(),
                day.to_owned(),
                source.to_owned(),
            )
        };
        let net = i128::from(self.net_minor);
        let mut lines = Vec::with_capacity(3);
        if self.closed {
            // Out of the refund day's net, into the purchase day's adjustment.
            lines.push((key(&self.refund_day, "shop_net"), net));
            lines.push((key(&self.purchase_day, "refund"), -net));
        }
        if self.advanced_minor > 0 {
            let advanced = i128::from(self.advanced_minor);
            lines.push((key(self.line_day(), REFUND_ADVANCE_SOURCE), advanced));
        }
        lines
    }
}

impl SettleBook {
    pub fn refunds_after_close(&self) -> &[RefundAfterClose] {
        &self.refunds
    }

    /// The refunds after close accepted before a settlement was made (all of them, for an
    /// unknown id): the ones whose lines it could hold.
    pub fn refunds_before(&self, settlement: &str) -> &[RefundAfterClose] {
        let known = self
            .settlements
            .iter()
            .position(|s| s.id == settlement)
            .map_or(self.refunds.len(), |index| self.refunds_at_close[index]);
        &self.refunds[..known]
    }

    /// What of a settlement's payable is still to be paid: payable − paid.
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
        let paid = self
            .paid
            .get(&(index, party.to_owned(), asset.to_owned()))
            .copied()
            .unwrap_or(0);
        payable - paid
    }

    /// Σ what every settlement still owes the party in the asset, unpaid.
    pub fn unpaid_total_minor(&self, party: &str, asset: &str) -> u64 {
        (0..self.settlements.len())
            .map(|index| self.unpaid_at(index, party, asset))
            .fold(0u64, u64::saturating_add)
    }

    /// Whether the book may keep `count` more refunds after close.
    pub(crate) fn has_room_for_refunds(&self, count: usize) -> bool {
        self.refunds.len() + count <= REFUNDS_AFTER_CLOSE_MAX
    }

    /// Keeps an accepted refund after close, for the next settlement's lines.
    pub(crate) fn record_refund(&mut self, entry: RefundAfterClose) {
        assert!(
            self.has_room_for_refunds(1),
            "checked when the refund was planned"
        );
        self.refunds.push(entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_book_has_room_for_refunds_after_close_up_to_its_limit_and_not_beyond() {
        let entry = RefundAfterClose {
            refund: String::new(),
            party: String::new(),
            asset: String::new(),
            refund_day: String::new(),
            purchase_day: String::new(),
            net_minor: 1,
            closed: true,
            advanced_minor: 0,
        };
        let mut book = SettleBook {
            refunds: vec![entry.clone(); REFUNDS_AFTER_CLOSE_MAX - 2],
            ..SettleBook::default()
        };
        assert!(book.has_room_for_refunds(2), "a two-part refund fits");
        assert!(!book.has_room_for_refunds(3));
        book.record_refund(entry.clone());
        book.record_refund(entry);
        assert!(!book.has_room_for_refunds(1), "full");
        assert!(book.has_room_for_refunds(0), "a refund it keeps nothing of");
    }
}
