//! Premium vouchers (issue 9): a points asset with `[assets.voucher]` terms, sold in sets by
//! `voucher_purchase`.
//!
//! - At genesis the town funds `voucher-budget:{asset}:JPY` from its treasury with the
//!   `premium_budget`.
//! - A purchase is one chain: the rider's yen (wallet `rider:…:JPY`, or cash at the counter,
//!   `voucher-cash:{asset}:JPY`) → `voucher-sales:{asset}:JPY`, price × sets; the premium,
//!   (face − price) × sets, from the voucher budget to the same sales account; and face × sets
//!   units from `issuer:{asset}` to the rider. The sales account so holds the yen of every unit
//!   sold, what the town owes the shops the vouchers are spent at.
//! - Refusals, in this order: `outside_sale_window` (before `sale_starts_at`, or from
//!   `sale_ends_at` on), `limit_reached` (bought + asked > `limit_sets`), `sold_out` (the budget
//!   can't fund every set's premium: no partial sets), `insufficient_funds` (the wallet).
//! - Vouchers are points: they pay at shops in the points' place of the payment order, restricted
//!   by `usable_at` or not.

use hashbrown::HashMap;
use jiff::Timestamp;
use kanjo_ledger::{AccountId, AssetId, Transfer};

use super::{Machine, MachineError, Prepared, transfer_id};
use crate::answer::{Outcome, Rejection, RejectionCode, VoucherOutcome};
use crate::chart::{AccountName, Reason, YEN};
use crate::event::{Media, VoucherPurchase};

/// Sale terms and sets bought, per voucher asset.
#[derive(Default)]
pub(super) struct VoucherBook {
    terms: HashMap<AssetId, Terms>,
    /// Sets bought per (asset, rider): what `limit_sets` is checked against.
    bought: HashMap<(AssetId, Box<str>), u32>,
}

#[derive(Clone, Copy)]
struct Terms {
    price_minor: u64,
    face_minor: u64,
    limit_sets: u32,
    starts: Timestamp,
    ends: Timestamp,
}

/// What one accepted purchase posts, all products of checked terms and sets.
struct Sale {
    asset: AssetId,
    paid_minor: u64,
    premium_minor: u64,
    received_minor: u64,
}

impl Machine {
    /// Genesis: reads every voucher's terms and funds its premium budget from the treasury.
    pub(super) fn open_voucher_budgets(&mut self) -> Result<(), MachineError> {
        let yen = self.assets.yen();
        let treasury = AccountName::Treasury {
            town: self.programme.town_code(),
        }
        .id();
        let vouchers: Vec<(AssetId, String, crate::chart::VoucherSpec)> = self
            .assets
            .iter()
            .filter_map(|(asset, spec)| Some((asset, spec.code.clone(), spec.voucher.clone()?)))
            .collect();
        for (asset, code, spec) in vouchers {
            let (starts, ends) = spec.sale_window().map_err(MachineError::Genesis)?;
            let terms = Terms {
                price_minor: spec.price,
                face_minor: spec.face,
                limit_sets: spec.limit_sets,
                starts,
                ends,
            };
            self.vouchers.terms.insert(asset, terms);
            let clock_ns = self.clock_ns;
            let budget =
                self.open_account(&AccountName::VoucherBudget { asset: &code }, yen, clock_ns);
            if spec.premium_budget == 0 {
                continue;
            }
            let funding = Transfer::new(
                transfer_id(budget, 0),
                treasury,
                budget,
                spec.premium_budget,
                yen,
                Reason::BudgetFunding as u16,
            );
            let failures = self.ledger.create_transfers(&[funding], clock_ns);
            if let Some(failure) = failures.first() {
                return Err(MachineError::Genesis(format!(
                    "funding the premium budget of {code}: {}",
                    failure.result.code()
                )));
            }
        }
        Ok(())
    }

    pub(super) fn apply_voucher_purchase(
        &mut self,
        prepared: &Prepared,
        purchase: &VoucherPurchase,
    ) -> Outcome {
        self.post_voucher_purchase(prepared, purchase)
            .unwrap_or_else(Outcome::Rejected)
    }

    fn post_voucher_purchase(
        &mut self,
        prepared: &Prepared,
        purchase: &VoucherPurchase,
    ) -> Result<Outcome, Rejection> {
        let (sale, bought) = self.plan_voucher_sale(prepared.event.at, purchase)?;
        let code = purchase.asset.as_str();
        let yen = self.assets.yen();
        self.start_legs();
        let payer = match purchase.media {
            Media::Wallet => AccountName::Rider {
                rider: &purchase.rider,
                asset: YEN,
            }
            .id(),
            // The edge refuses `ic` for a voucher purchase; cash is paid at the counter.
            Media::Cash | Media::Ic => {
                self.leg_account(&AccountName::VoucherCash { asset: code }, yen)
            }
        };
        let sales = self.leg_account(&AccountName::VoucherSales { asset: code }, yen);
        let budget = AccountName::VoucherBudget { asset: code }.id();
        let issuer = self.leg_account(&AccountName::Issuer { asset: code }, sale.asset);
        let holder = self.leg_account(
            &AccountName::Rider {
                rider: &purchase.rider,
                asset: code,
            },
            sale.asset,
        );
        let (sales_before, budget_before) = (self.balance_of(sales), self.balance_of(budget));
        let mut legs = vec![(payer, sales, sale.paid_minor, yen, Reason::VoucherSale)];
        if sale.premium_minor > 0 {
            legs.push((
                budget,
                sales,
                sale.premium_minor,
                yen,
                Reason::VoucherPremium,
            ));
        }
        legs.push((
            issuer,
            holder,
            sale.received_minor,
            sale.asset,
            Reason::VoucherIssue,
        ));
        for (debit, credit, amount, asset, reason) in legs {
            let leg = Transfer::new(0, debit, credit, amount, asset, reason as u16);
            self.legs.push(leg);
        }
        self.post_legs(prepared.id_hash)
            .map_err(|error| self.voucher_post_rejection(&error, purchase))?;
        // The sales account took in price and premium, which is the face value of what was sold.
        assert_eq!(
            self.balance_of(sales),
            sales_before + i128::from(sale.received_minor)
        );
        assert_eq!(
            self.balance_of(budget),
            budget_before - i128::from(sale.premium_minor)
        );
        let sets_bought = bought + purchase.sets;
        self.vouchers.bought.insert(
            (sale.asset, purchase.rider.clone().into_boxed_str()),
            sets_bought,
        );
        Ok(Outcome::VoucherPurchase(VoucherOutcome {
            asset: sale.asset,
            sets: purchase.sets,
            paid_minor: sale.paid_minor,
            received_minor: sale.received_minor,
            premium_minor: sale.premium_minor,
            media: purchase.media,
            sets_bought,
        }))
    }

    /// The sale the purchase would make, and the sets the rider bought before; or why not.
    fn plan_voucher_sale(
        &self,
        at: Timestamp,
        purchase: &VoucherPurchase,
    ) -> Result<(Sale, u32), Rejection> {
        let refuse = |code, message: String| Err(Rejection::new(code, message));
        let Some((asset, _)) = self.assets.get(&purchase.asset) else {
            return refuse(
                RejectionCode::UnknownAsset,
                format!("no asset {:?} in this programme", purchase.asset),
            );
        };
        let Some(terms) = self.vouchers.terms.get(&asset).copied() else {
            return refuse(
                RejectionCode::NotAVoucher,
                format!("{} is not sold as premium vouchers", purchase.asset),
            );
        };
        if at < terms.starts || at >= terms.ends {
            return refuse(
                RejectionCode::OutsideSaleWindow,
                format!(
                    "{} is on sale from {} until (not including) {}",
                    purchase.asset, terms.starts, terms.ends
                ),
            );
        }
        let key = (asset, Box::<str>::from(purchase.rider.as_str()));
        let bought = self.vouchers.bought.get(&key).copied().unwrap_or(0);
        if u64::from(bought) + u64::from(purchase.sets) > u64::from(terms.limit_sets) {
            return refuse(
                RejectionCode::LimitReached,
                format!(
                    "rider {} bought {bought} of {} sets of {}; {} more is past the limit",
                    purchase.rider, terms.limit_sets, purchase.asset, purchase.sets
                ),
            );
        }
        // Within the limit, so face × sets ≤ face × limit_sets ≤ the per-event ceiling.
        let sets = u64::from(purchase.sets);
        let sale = Sale {
            asset,
            paid_minor: terms.price_minor * sets,
            premium_minor: (terms.face_minor - terms.price_minor) * sets,
            received_minor: terms.face_minor * sets,
        };
        let budget = AccountName::VoucherBudget {
            asset: &purchase.asset,
        };
        let left = self.balance_of(budget.id());
        if i128::from(sale.premium_minor) > left {
            return refuse(
                RejectionCode::SoldOut,
                format!(
                    "the premium budget of {} has {left} yen left; {} sets need {}",
                    purchase.asset, purchase.sets, sale.premium_minor
                ),
            );
        }
        if purchase.media == Media::Wallet {
            self.check_wallet_pays(&purchase.rider, sale.paid_minor)?;
        }
        Ok((sale, bought))
    }

    fn check_wallet_pays(&self, rider: &str, paid_minor: u64) -> Result<(), Rejection> {
        let wallet = AccountName::Rider { rider, asset: YEN }.id();
        let available = self
            .ledger
            .account(wallet)
            .map_or(0, |account| account.available_debit());
        if available < paid_minor {
            return Err(Rejection::new(
                RejectionCode::InsufficientFunds,
                format!(
                    "rider {rider}'s wallet holds {available} yen; the vouchers cost {paid_minor}"
                ),
            ));
        }
        Ok(())
    }

    /// An account's posted credits − debits (0 if never opened).
    fn balance_of(&self, account: AccountId) -> i128 {
        self.ledger.account(account).map_or(0, |held| {
            i128::from(held.credits_posted) - i128::from(held.debits_posted)
        })
    }

    fn voucher_post_rejection(
        &self,
        error: &super::PostError,
        purchase: &VoucherPurchase,
    ) -> Rejection {
        let rejection = self.post_rejection(error);
        Rejection::new(
            rejection.code,
            format!(
                "voucher purchase of {}: {}",
                purchase.asset, rejection.message
            ),
        )
    }
}
