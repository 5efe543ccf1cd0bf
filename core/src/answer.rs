//! What kanjo answers for each event, kept compactly per event id so that the same id again
//! returns the first answer, across restarts (the answers are rebuilt by replaying the log).

use kanjo_ledger::AssetId;
use kanjo_rules::Programme;
use serde_json::{Value, json};

use crate::chart::AssetBook;
use crate::event::{Media, media_name};

mod rejection_code;
mod shop_answers;
pub use rejection_code::RejectionCode;
pub use shop_answers::{AssetAmount, AssetAmounts};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ride(RideOutcome),
    /// A tap-on or tap-off waiting for its other half.
    TapPending,
    /// This tap completed a ride with the tap named in `with`.
    TapPaired {
        ride: RideOutcome,
        with: Box<str>,
    },
    /// A tap that another tap completed later; the ride is answered on that one.
    TapCompletedBy {
        with: Box<str>,
    },
    /// A tap-on with no tap-off in time: charged as the longest ride from its stop.
    TapExpired {
        ride: RideOutcome,
    },
    /// A tap-off nobody tapped on for in time: nothing charged (the rider's tap-on, if any, was).
    TapUnmatched,
    Topup {
        asset: AssetId,
        amount_minor: u64,
    },
    Grant {
        asset: AssetId,
        amount_minor: u64,
        /// A grant of a pass asset issued this pass (issue 13).
        pass: Option<Box<crate::machine::passes::PassGrant>>,
    },
    Redeem {
        asset: AssetId,
        amount_minor: u64,
    },
    /// Paid per asset in payment order, and the shop's fee per asset.
    Purchase {
        paid: AssetAmounts,
        fees: AssetAmounts,
    },
    /// Held per asset in payment order.
    Authorize {
        held: AssetAmounts,
    },
    /// A purchase made of a hold: paid in held order, the fees, and what was let go.
    Capture {
        paid: AssetAmounts,
        fees: AssetAmounts,
        released: AssetAmounts,
    },
    Void {
        released: AssetAmounts,
    },
    /// Given back in reverse paid order, and the fees given back to the shop.
    Refund {
        returned: AssetAmounts,
        fees_returned: AssetAmounts,
    },
    Send {
        asset: AssetId,
        amount_minor: u64,
    },
    /// Coins redeemed for yen at the asset's bank: the redemption record.
    Withdraw(WithdrawOutcome),
    /// Premium vouchers sold.
    VoucherPurchase(VoucherOutcome),
    /// One asset converted to another at the programme's rate.
    Convert(ConvertOutcome),
    Rejected(Rejection),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RideOutcome {
    pub fare: u64,
    pub rider_pays: u64,
    pub discount: u64,
    pub cap_waived: u64,
    /// Index into the programme's budgets.
    pub funded_by: Option<u16>,
    pub media: Media,
    /// The rules that changed the ride, as the rating's rule bit set (file order).
    pub rules: u64,
    pub grants: Box<[GrantOutcome]>,
    /// The `[[passes]]` product that covered the ride.
    pub pass: Option<u16>,
    /// Why the rider's pass did not cover the ride (it was rated normally).
    pub pass_refused: Option<RejectionCode>,
}

/// A redemption record: who gave back how many coins, and what is left in circulation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WithdrawOutcome {
    pub asset: AssetId,
    pub amount_minor: u64,
    /// `rider:{id}` or `shop:{id}`.
    pub holder: Box<str>,
    /// Coins in circulation after the redemption: issued − redeemed.
    pub circulation_minor: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VoucherOutcome {
    pub asset: AssetId,
    pub sets: u32,
    /// Yen the rider paid: price × sets.
    pub paid_minor: u64,
    /// Voucher units received: face × sets.
    pub received_minor: u64,
    /// Yen the premium budget paid: (face − price) × sets.
    pub premium_minor: u64,
    pub media: Media,
    /// Sets this rider has bought of the asset, this purchase included.
    pub sets_bought: u32,
}

/// A conversion: what was taken, what was received, and what stayed (the remainder).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvertOutcome {
    pub from: AssetId,
    pub to: AssetId,
    pub taken_minor: u64,
    pub received_minor: u64,
    /// Of the amount asked: what did not fill a block and stayed in `from`.
    pub remainder_minor: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GrantOutcome {
    pub rule: u16,
    pub asset: AssetId,
    pub amount_minor: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub code: RejectionCode,
    pub message: Box<str>,
}

impl Rejection {
    pub fn new(code: RejectionCode, message: impl Into<Box<str>>) -> Rejection {
        Rejection {
            code,
            message: message.into(),
        }
    }
}

impl Outcome {
    pub fn is_accepted(&self) -> bool {
        !matches!(self, Outcome::Rejected(_))
    }
}

/// Everything needed to turn stored outcomes into JSON.
pub struct AnswerContext<'a> {
    pub programme: &'a Programme,
    pub assets: &'a AssetBook,
}

impl AnswerContext<'_> {
    pub fn to_json(&self, id: &str, outcome: &Outcome) -> Value {
        match outcome {
            Outcome::Rejected(rejection) => json!({
                "id": id,
                "status": "rejected",
                "error": { "code": rejection.code.code(), "message": &*rejection.message },
            }),
            Outcome::Ride(ride) => self.ride_json(id, "ride", ride),
            Outcome::TapPending => {
                json!({"id": id, "status": "accepted", "type": "tap", "tap": "pending"})
            }
            Outcome::TapPaired { ride, with } => {
                let mut value = self.ride_json(id, "tap", ride);
                value["tap"] = json!("paired");
                value["paired_with"] = json!(&**with);
                value
            }
            Outcome::TapCompletedBy { with } => json!({
                "id": id, "status": "accepted", "type": "tap", "tap": "paired", "paired_with": &**with,
            }),
            Outcome::TapExpired { ride } => {
                let mut value = self.ride_json(id, "tap", ride);
                value["tap"] = json!("expired_charged_max_fare");
                value
            }
            Outcome::TapUnmatched => {
                json!({"id": id, "status": "accepted", "type": "tap", "tap": "unmatched"})
            }
            Outcome::Topup {
                asset,
                amount_minor,
            } => self.movement_json(id, "topup", *asset, *amount_minor),
            Outcome::Grant {
                asset,
                amount_minor,
                pass,
            } => {
                let mut value = self.movement_json(id, "grant", *asset, *amount_minor);
                if let Some(pass) = pass {
                    value["pass"] = self.pass_json(pass);
                }
                value
            }
            Outcome::Redeem {
                asset,
                amount_minor,
            } => self.movement_json(id, "redeem", *asset, *amount_minor),
            Outcome::Send {
                asset,
                amount_minor,
            } => self.movement_json(id, "send", *asset, *amount_minor),
            Outcome::Withdraw(withdraw) => self.withdraw_json(id, withdraw),
            Outcome::VoucherPurchase(voucher) => self.voucher_json(id, voucher),
            Outcome::Convert(convert) => json!({
                "id": id, "status": "accepted", "type": "convert",
                "from_asset": self.asset_code(convert.from), "to_asset": self.asset_code(convert.to),
                "taken": convert.taken_minor, "received": convert.received_minor,
                "remainder": convert.remainder_minor,
            }),
            Outcome::Purchase { .. }
            | Outcome::Authorize { .. }
            | Outcome::Capture { .. }
            | Outcome::Void { .. }
            | Outcome::Refund { .. } => self.shop_json(id, outcome),
        }
    }

    fn asset_code(&self, asset: AssetId) -> &str {
        self.assets
            .iter()
            .find(|(id, _)| *id == asset)
            .map(|(_, spec)| spec.code.as_str())
            .unwrap_or("?")
    }

    fn movement_json(&self, id: &str, kind: &str, asset: AssetId, amount_minor: u64) -> Value {
        json!({"id": id, "status": "accepted", "type": kind, "asset": self.asset_code(asset), "amount": amount_minor})
    }

    fn withdraw_json(&self, id: &str, withdraw: &WithdrawOutcome) -> Value {
        let bank = self
            .assets
            .spec(withdraw.asset)
            .and_then(|spec| spec.issuing_bank())
            .unwrap_or("?");
        let mut value = self.movement_json(id, "withdraw", withdraw.asset, withdraw.amount_minor);
        value["redemption"] = json!({
            "bank": bank,
            "holder": &*withdraw.holder,
            "amount": withdraw.amount_minor,
            "circulation_after": withdraw.circulation_minor,
        });
        value
    }

    fn voucher_json(&self, id: &str, voucher: &VoucherOutcome) -> Value {
        json!({
            "id": id, "status": "accepted", "type": "voucher_purchase",
            "asset": self.asset_code(voucher.asset), "sets": voucher.sets,
            "yen_paid": voucher.paid_minor, "units_received": voucher.received_minor,
            "premium_funded": voucher.premium_minor, "media": media_name(voucher.media),
            "sets_bought": voucher.sets_bought,
        })
    }

    /// A pass issued: its product, validity (local dates, both included) and limits.
    fn pass_json(&self, pass: &crate::machine::passes::PassGrant) -> Value {
        let product = &self.programme.passes()[usize::from(pass.product)];
        json!({
            "id": product.id,
            "number": pass.pass,
            "valid_from": pass.first_day.to_string(),
            "valid_until": pass.last_day.to_string(),
            "rides_per_day": product.rides_per_day,
            "rides_total": product.rides_total,
            "payment": match pass.flat {
                Some(_) => "flat",
                None => "per_ride",
            },
        })
    }

    fn ride_json(&self, id: &str, kind: &str, ride: &RideOutcome) -> Value {
        let budgets = self.programme.budgets();
        let funded_by = ride
            .funded_by
            .and_then(|index| budgets.get(usize::from(index)))
            .map(|budget| budget.id.as_str());
        let mut rules: Vec<&str> = kanjo_rules::RuleSet(ride.rules)
            .iter()
            .map(|rule| self.programme.rule_id(rule))
            .collect();
        let pass = ride
            .pass
            .and_then(|product| self.programme.passes().get(usize::from(product)))
            .map(|product| product.id.as_str());
        rules.extend(pass);
        let grants: Vec<Value> = ride
            .grants
            .iter()
            .map(|grant| {
                json!({
                    "asset": self.asset_code(grant.asset),
                    "amount": grant.amount_minor,
                    "rule": self.programme.rule_id(kanjo_rules::RuleIx(grant.rule)),
                })
            })
            .collect();
        let mut value = json!({
            "id": id,
            "status": "accepted",
            "type": kind,
            "fare": ride.fare,
            "rider_pays": ride.rider_pays,
            "discount": ride.discount,
            "funded_by": funded_by,
            "cap_waived": ride.cap_waived,
            "rules": rules,
            "grants": grants,
            "media": media_name(ride.media),
        });
        // Only rides that met a pass carry these keys, so other answers stay as they were.
        if let Some(pass) = pass {
            value["pass"] = json!(pass);
        }
        if let Some(refused) = ride.pass_refused {
            value["pass_refused"] = json!(refused.code());
        }
        value
    }
}
