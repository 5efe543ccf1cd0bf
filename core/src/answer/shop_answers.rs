//! Answers to shop payment events, as spec/purchases.md writes them: lists of
//! `{"asset", "amount"}` in the order the payment rules give, with zero amounts left out.

use kanjo_ledger::AssetId;
use serde_json::{Value, json};

use super::{AnswerContext, Outcome};

/// One asset's amount in a payment's breakdown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AssetAmount {
    pub asset: AssetId,
    pub amount_minor: u64,
}

/// A breakdown in rule order; never holds a zero amount.
pub type AssetAmounts = Box<[AssetAmount]>;

impl AnswerContext<'_> {
    /// The JSON of a purchase, authorize, capture, void or refund outcome.
    pub(super) fn shop_json(&self, id: &str, outcome: &Outcome) -> Value {
        let (kind, lists): (&str, Vec<(&str, Value)>) = match outcome {
            Outcome::Purchase { paid, fees } => (
                "purchase",
                vec![
                    ("paid", self.amounts_json(paid)),
                    ("fees", self.amounts_json(fees)),
                    ("net", self.net_json(paid, fees)),
                ],
            ),
            Outcome::Authorize { held } => ("authorize", vec![("held", self.amounts_json(held))]),
            Outcome::Capture {
                paid,
                fees,
                released,
            } => (
                "capture",
                vec![
                    ("paid", self.amounts_json(paid)),
                    ("fees", self.amounts_json(fees)),
                    ("net", self.net_json(paid, fees)),
                    ("released", self.amounts_json(released)),
                ],
            ),
            Outcome::Void { released } => ("void", vec![("released", self.amounts_json(released))]),
            Outcome::Refund {
                returned,
                fees_returned,
            } => (
                "refund",
                vec![
                    ("returned", self.amounts_json(returned)),
                    ("fees_returned", self.amounts_json(fees_returned)),
                ],
            ),
            other => unreachable!("not a shop payment outcome: {other:?}"),
        };
        let mut value = json!({"id": id, "status": "accepted", "type": kind});
        for (key, list) in lists {
            value[key] = list;
        }
        value
    }

    pub fn amounts_json(&self, amounts: &[AssetAmount]) -> Value {
        Value::Array(
            amounts
                .iter()
                .filter(|part| part.amount_minor > 0)
                .map(|part| json!({"asset": self.asset_code(part.asset), "amount": part.amount_minor}))
                .collect(),
        )
    }

    /// What the shop keeps of each part: paid less that asset's fee.
    fn net_json(&self, paid: &[AssetAmount], fees: &[AssetAmount]) -> Value {
        let net: Vec<AssetAmount> = paid
            .iter()
            .map(|part| {
                let fee = fees
                    .iter()
                    .filter(|fee| fee.asset == part.asset)
                    .map(|fee| fee.amount_minor)
                    .sum::<u64>();
                AssetAmount {
                    asset: part.asset,
                    amount_minor: part.amount_minor - fee,
                }
            })
            .collect();
        self.amounts_json(&net)
    }
}
