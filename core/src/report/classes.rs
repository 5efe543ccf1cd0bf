//! Rides by rider class and by fare rule, for statements (issue 10).
//!
//! The machine adds every ride it posts to its operator's local day, keyed by how the ride was
//! rated ([`RatedBy`]): the programme version in effect at the ride's time, the rider class and
//! the rules that changed the ride. Names are resolved only when a report is made, so the hot
//! path allocates nothing.
//!
//! - **Rider class** (乗客区分) is what a clerk recognises on a subsidy claim: the fare discount
//!   that priced the ride (its rule id, e.g. `senior-free`: residents of 75 and over), the pass
//!   product that covered it (`pass:pupil-6m`), or `general` (一般: nobody's discount, anonymous
//!   riders and cash included).
//! - **Fare rule** (適用規則) is the set of fare rules that changed the fare: the discount and any
//!   daily cap that cut it, in programme order joined by `+` (`resident-200+day-cap`), the pass
//!   product, or `none` (割引なし). Grant-only rules (points, rewards) don't change the fare and
//!   are left out.
//!
//! Each ride lands in exactly one class and one rule set, so both breakdowns sum to the day's
//! rides, fares, rider payments, discounts and caps waived.

use std::collections::BTreeMap;

use kanjo_rules::{Programme, RuleIx, RuleKind, RuleSet};
use serde::Serialize;

use crate::answer::RideOutcome;
use crate::machine::Machine;

/// What a group of rides came to. Yen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RideSums {
    pub rides: u64,
    pub fares: u64,
    pub rider_pays: u64,
    pub discount: u64,
    pub cap_waived: u64,
}

impl RideSums {
    pub fn add_ride(&mut self, ride: &RideOutcome) {
        self.rides += 1;
        self.fares += ride.fare;
        self.rider_pays += ride.rider_pays;
        self.discount += ride.discount;
        self.cap_waived += ride.cap_waived;
    }

    pub fn add(&mut self, other: &RideSums) {
        self.rides += other.rides;
        self.fares += other.fares;
        self.rider_pays += other.rider_pays;
        self.discount += other.discount;
        self.cap_waived += other.cap_waived;
    }
}

/// The rider class, as indices into the rating programme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RideClass {
    General,
    /// A `fare_discount` rule's index.
    Discount(u16),
    /// A `[[passes]]` product's index.
    Pass(u16),
}

/// How one ride was rated: the key of a day's breakdown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RatedBy {
    /// The programme version in effect at the ride's time (rule indices are that version's).
    pub version: u32,
    pub class: RideClass,
    /// The rating's rule bit set (every rule that changed the ride).
    pub rules: u64,
}

impl RatedBy {
    /// The key of a rated ride: its class is its discount rule when it had one.
    pub fn of(version: u32, ride: &RideOutcome, discount_rule: Option<RuleIx>) -> RatedBy {
        let class = match (ride.pass, discount_rule) {
            (Some(product), _) => RideClass::Pass(product),
            (None, Some(rule)) => RideClass::Discount(rule.0),
            (None, None) => RideClass::General,
        };
        RatedBy {
            version,
            class,
            rules: ride.rules,
        }
    }
}

/// One (operator, day, class, rule set) of rides, names resolved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RatedRow {
    pub operator: String,
    pub date: String,
    /// `general`, a discount rule id, or `pass:{product}`.
    pub class: String,
    /// Fare rules joined by `+`, `pass:{product}`, or `none`.
    pub rule: String,
    #[serde(flatten)]
    pub sums: RideSums,
}

pub const CLASS_GENERAL: &str = "general";
pub const RULE_NONE: &str = "none";

/// A clerk's label for a class or rule key: Japanese for the two built-in ones.
pub fn label(key: &str) -> String {
    match key {
        CLASS_GENERAL => "一般 (general)".to_owned(),
        RULE_NONE => "割引なし (no fare rule)".to_owned(),
        other => other.to_owned(),
    }
}

fn pass_name(programme: &Programme, product: u16) -> String {
    programme
        .passes()
        .get(usize::from(product))
        .map_or_else(|| format!("pass:#{product}"), |p| format!("pass:{}", p.id))
}

fn class_name(programme: &Programme, class: RideClass) -> String {
    match class {
        RideClass::General => CLASS_GENERAL.to_owned(),
        RideClass::Discount(rule) => programme.rule_id(RuleIx(rule)).to_owned(),
        RideClass::Pass(product) => pass_name(programme, product),
    }
}

fn rule_name(programme: &Programme, rated: &RatedBy) -> String {
    if let RideClass::Pass(product) = rated.class {
        return pass_name(programme, product);
    }
    let fare_rules: Vec<&str> = RuleSet(rated.rules)
        .iter()
        .filter(|rule| {
            matches!(
                programme.rule_kind(*rule),
                RuleKind::FareDiscount | RuleKind::DailyCap
            )
        })
        .map(|rule| programme.rule_id(rule))
        .collect();
    if fare_rules.is_empty() {
        RULE_NONE.to_owned()
    } else {
        fare_rules.join("+")
    }
}

/// Every operator day's rides by class and rule set, names resolved with the programme version
/// that rated them; only days `keep` accepts (local `YYYY-MM-DD`).
pub fn rated_rows(machine: &Machine, keep: impl Fn(&str) -> bool) -> Vec<RatedRow> {
    let programme = machine.programme();
    let versions = machine.versions();
    let mut rows: BTreeMap<(String, String, String, String), RideSums> = BTreeMap::new();
    for ((operator, day), totals) in machine.operator_day_totals() {
        let date = day.to_string();
        if !keep(&date) {
            continue;
        }
        let code = programme.operator_code(*operator);
        for (rated, sums) in &totals.by_rating {
            let rating_programme = versions
                .iter()
                .find(|version| version.number == rated.version)
                .map_or(programme, |version| &version.programme);
            let key = (
                code.to_owned(),
                date.clone(),
                class_name(rating_programme, rated.class),
                rule_name(rating_programme, rated),
            );
            rows.entry(key).or_default().add(sums);
        }
    }
    rows.into_iter()
        .map(|((operator, date, class, rule), sums)| RatedRow {
            operator,
            date,
            class,
            rule,
            sums,
        })
        .collect()
}

/// Rows grouped by class or by rule: (key, Σ), in key order.
pub fn group(rows: &[RatedRow], by_rule: bool) -> Vec<(String, RideSums)> {
    let mut grouped: BTreeMap<&str, RideSums> = BTreeMap::new();
    for row in rows {
        let key = if by_rule { &row.rule } else { &row.class };
        grouped.entry(key).or_default().add(&row.sums);
    }
    grouped
        .into_iter()
        .map(|(key, sums)| (key.to_owned(), sums))
        .collect()
}
