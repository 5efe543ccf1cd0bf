//! Compiled rules: what the rater evaluates per ride. Built once by `programme::compile`.

use crate::eligibility::Eligibility;
use crate::ids::{AssetIx, BudgetIx, RuleIx};

/// The four rule kinds of spec/rating.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    FareDiscount,
    DailyCap,
    RideReward,
    PointsPerRide,
}

impl RuleKind {
    pub fn name(self) -> &'static str {
        match self {
            RuleKind::FareDiscount => "fare_discount",
            RuleKind::DailyCap => "daily_cap",
            RuleKind::RideReward => "ride_reward",
            RuleKind::PointsPerRide => "points_per_ride",
        }
    }
}

/// How a `percent_off` result is rounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    /// Up to a multiple of 10 yen.
    Up10,
    /// Down to a multiple of 10 yen.
    Down10,
    /// Down to the yen.
    Yen,
}

/// What the rider pays under a `fare_discount`, before budget limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Discount {
    Free,
    FixedFare {
        amount: u64,
    },
    /// rider pays fare × pay_numerator / denominator, rounded. `percent = P` gives
    /// pay_numerator / denominator = (100 − P) / 100 with P scaled to an integer.
    PercentOff {
        pay_numerator: u128,
        denominator: u128,
        round: Rounding,
    },
}

impl Discount {
    /// What the rider pays; never more than `fare`.
    #[inline]
    pub(crate) fn rider_pays(self, fare: u64) -> u64 {
        let pays = match self {
            Discount::Free => 0,
            Discount::FixedFare { amount } => amount.min(fare),
            Discount::PercentOff {
                pay_numerator,
                denominator,
                round,
            } => {
                let scaled = u128::from(fare) * pay_numerator;
                let pays = match round {
                    Rounding::Yen => scaled / denominator,
                    Rounding::Down10 => scaled / (denominator * 10) * 10,
                    Rounding::Up10 => scaled.div_ceil(denominator * 10) * 10,
                };
                // Rounding up can pass the fare (fare 5, 10 % off → 10); the fare is the ceiling.
                u64::try_from(pays.min(u128::from(fare))).expect("bounded by a u64 fare")
            }
        };
        debug_assert!(pays <= fare);
        pays
    }
}

/// The budgets a `fare_discount` draws on: one per fiscal year under its `funded_by` id
/// (usually one). A ride in a fiscal year with no budget gets nothing from the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Funding {
    pub by_fiscal_year: Box<[(i32, BudgetIx)]>,
}

#[derive(Debug, Clone)]
pub(crate) struct DiscountRule {
    pub rule: RuleIx,
    pub operators: u64,
    pub eligible: Eligibility,
    pub discount: Discount,
    pub funding: Funding,
}

#[derive(Debug, Clone)]
pub(crate) struct CapRule {
    pub rule: RuleIx,
    /// Position among the programme's caps: the key of its day tallies.
    pub slot: u16,
    pub operators: u64,
    pub eligible: Eligibility,
    pub amount: u64,
}

/// `ride_reward` (with `every`) or `points_per_ride` (without).
#[derive(Debug, Clone)]
pub(crate) struct GrantRule {
    pub rule: RuleIx,
    pub operators: u64,
    pub eligible: Eligibility,
    pub asset: AssetIx,
    pub amount: u64,
    pub every: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn half(round: Rounding) -> Discount {
        Discount::PercentOff {
            pay_numerator: 50,
            denominator: 100,
            round,
        }
    }

    #[test]
    fn percent_off_rounds_as_named() {
        assert_eq!(half(Rounding::Up10).rider_pays(330), 170);
        assert_eq!(half(Rounding::Down10).rider_pays(330), 160);
        assert_eq!(half(Rounding::Yen).rider_pays(331), 165);
        assert_eq!(half(Rounding::Up10).rider_pays(340), 170);
        assert_eq!(half(Rounding::Up10).rider_pays(0), 0);
    }

    #[test]
    fn rounding_up_never_charges_more_than_the_fare() {
        let ten_off = Discount::PercentOff {
            pay_numerator: 90,
            denominator: 100,
            round: Rounding::Up10,
        };
        assert_eq!(ten_off.rider_pays(5), 5);
    }

    #[test]
    fn fixed_fare_is_the_fare_when_lower() {
        assert_eq!(Discount::FixedFare { amount: 200 }.rider_pays(160), 160);
        assert_eq!(Discount::FixedFare { amount: 200 }.rider_pays(280), 200);
    }
}
