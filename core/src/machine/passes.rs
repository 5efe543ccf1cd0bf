//! Issued passes (issue 13): which rider holds which pass, how often each was used, and what
//! the passes owe each operator. Bounded: at most [`PASSES_MAX`] passes in all and
//! [`PASSES_PER_RIDER_MAX`] per rider. The rules crate decides validity, limits and the choice
//! among several passes (`kanjo_rules::pass`); this book only keeps the counts.
//!
//! A ride is covered in two steps so that nothing changes unless the ride's chain posts:
//! [`PassBook::choose`] (read only) and then [`PassBook::commit_use`].

use std::collections::BTreeMap;

use hashbrown::HashMap;
use kanjo_rules::{
    BudgetIx, HeldPass, LocalDate, OperatorIx, PassPayment, PassRefusal, Programme, RiderIx,
    Riders, choose_pass,
};

use kanjo_ledger::Transfer;

use super::{Machine, Prepared};
use crate::answer::{Outcome, Rejection, RejectionCode, RideOutcome};
use crate::chart::{AccountName, Reason};
use crate::event::Grant;

/// Passes the machine keeps in all (神戸 issued 12 000; a town's whole population fits).
pub const PASSES_MAX: usize = 1 << 20;
/// Passes one rider may hold at once, across products.
pub const PASSES_PER_RIDER_MAX: usize = 16;

/// One issued pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedPass {
    /// Position of the product in the programme's `[[passes]]`.
    pub product: u16,
    pub rider: Box<str>,
    pub issued_on: LocalDate,
    pub first_day: LocalDate,
    pub last_day: LocalDate,
    pub rides_total: u32,
    /// The local date of the last covered ride, and the rides on that date.
    last_ride_day: Option<LocalDate>,
    rides_on_last_day: u32,
}

impl IssuedPass {
    fn held_on(&self, day: LocalDate) -> HeldPass {
        HeldPass {
            first_day: self.first_day,
            last_day: self.last_day,
            rides_today: if self.last_ride_day == Some(day) {
                self.rides_on_last_day
            } else {
                0
            },
            rides_total: self.rides_total,
        }
    }
}

/// Why a pass was not issued.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PassIssueError {
    #[error("no [[passes]] product `{0}`")]
    UnknownPass(String),
    #[error("the rider does not meet the eligibility of pass `{0}` on the issue day")]
    NotEligible(String),
    #[error("the rider already holds {0} of this pass, its per-person limit")]
    PerPerson(u32),
    #[error("all {0} passes of this product are issued")]
    SoldOut(u64),
    #[error("the rider holds {PASSES_PER_RIDER_MAX} passes, the most one rider may hold")]
    RiderFull,
    #[error("the machine holds {PASSES_MAX} passes, the most it keeps")]
    BookFull,
    #[error("the pass's validity falls outside the calendar")]
    BadValidity,
    #[error("no budget for the pass in fiscal year {0}")]
    NoBudget(i32),
}

impl PassIssueError {
    pub fn code(&self) -> RejectionCode {
        match self {
            PassIssueError::UnknownPass(_) => RejectionCode::UnknownPass,
            PassIssueError::NotEligible(_) => RejectionCode::NotEligible,
            PassIssueError::PerPerson(_) | PassIssueError::RiderFull => RejectionCode::LimitReached,
            PassIssueError::SoldOut(_) | PassIssueError::BookFull | PassIssueError::NoBudget(_) => {
                RejectionCode::SoldOut
            }
            PassIssueError::BadValidity => RejectionCode::BadEvent,
        }
    }
}

/// The code an answer carries when a held pass did not cover a ride.
pub fn refusal_code(refusal: PassRefusal) -> RejectionCode {
    match refusal {
        PassRefusal::Expired => RejectionCode::PassExpired,
        PassRefusal::DailyLimit => RejectionCode::PassDailyLimit,
        PassRefusal::UsedUp => RejectionCode::PassUsedUp,
    }
}

/// A pass issued: what the answer carries, and a flat price to post from its budget.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PassIssued {
    /// The pass's number in the book.
    pub pass: u32,
    /// Position of the product in the programme's `[[passes]]`.
    pub product: u16,
    pub first_day: LocalDate,
    pub last_day: LocalDate,
    pub rides_per_day: Option<u32>,
    pub rides_total: Option<u32>,
    /// `flat` products: the price, the budget it comes from and the operator it is owed to.
    pub flat: Option<(u64, BudgetIx, OperatorIx)>,
}

/// A ride covered by a pass: the pass, and for `per_ride` the budget that pays the fare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PassCover {
    pub pass: u32,
    pub product: u16,
    pub per_ride_budget: Option<BudgetIx>,
}

/// Per pass product: passes issued and rides covered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProductTotals {
    pub issued: u64,
    pub rides_covered: u64,
}

#[derive(Clone, Debug, Default)]
pub struct PassBook {
    passes: Vec<IssuedPass>,
    by_rider: HashMap<Box<str>, Vec<u32>>,
    products: Vec<ProductTotals>,
    /// What the passes owe each operator per local day, in yen: per-ride fares on the ride's
    /// day, flat prices on the issue day.
    owed: BTreeMap<(OperatorIx, LocalDate), u64>,
    /// The flat prices alone, on the issue day. Settlement takes only these as `pass` lines:
    /// a per-ride fare is already in the operator's day totals as a subsidy of its budget.
    flat_owed: BTreeMap<(OperatorIx, LocalDate), u64>,
}

impl PassBook {
    pub fn new(programme: &Programme) -> PassBook {
        PassBook {
            products: vec![ProductTotals::default(); programme.passes().len()],
            ..PassBook::default()
        }
    }

    /// Issues one pass of `product_id` to `rider` on local date `day`: [`PassBook::check_issue`]
    /// then [`PassBook::record_issue`].
    pub fn issue(
        &mut self,
        programme: &Programme,
        riders: &Riders,
        product_id: &str,
        rider: &str,
        day: LocalDate,
    ) -> Result<PassIssued, PassIssueError> {
        let issued = self.check_issue(programme, riders, product_id, rider, day)?;
        self.record_issue(rider, day, &issued);
        Ok(issued)
    }

    /// Whether a pass may be issued, and what it would be; changes nothing. Checks in order:
    /// the product, eligibility, the per-person limit, `issue_limit` (`sold_out`), the bounds.
    pub fn check_issue(
        &self,
        programme: &Programme,
        riders: &Riders,
        product_id: &str,
        rider: &str,
        day: LocalDate,
    ) -> Result<PassIssued, PassIssueError> {
        let unknown = || PassIssueError::UnknownPass(product_id.to_string());
        let index = programme
            .passes()
            .iter()
            .position(|p| p.id == product_id)
            .ok_or_else(unknown)?;
        let product = &programme.passes()[index];
        let rider_ix: Option<RiderIx> = riders.get(rider);
        if !product.eligible(riders, rider_ix, day) {
            return Err(PassIssueError::NotEligible(product_id.to_string()));
        }
        let product_ix = u16::try_from(index).expect("bounded by MAX_PASS_PRODUCTS");
        let held = self.by_rider.get(rider).map_or(&[][..], Vec::as_slice);
        let held_of_product = held
            .iter()
            .filter(|&&pass| self.passes[pass as usize].product == product_ix)
            .count();
        if held_of_product >= product.per_person as usize {
            return Err(PassIssueError::PerPerson(product.per_person));
        }
        let totals = &self.products[index];
        if let Some(limit) = product.issue_limit.filter(|&limit| totals.issued >= limit) {
            return Err(PassIssueError::SoldOut(limit));
        }
        if held.len() >= PASSES_PER_RIDER_MAX {
            return Err(PassIssueError::RiderFull);
        }
        if self.passes.len() >= PASSES_MAX {
            return Err(PassIssueError::BookFull);
        }
        let (first_day, last_day) = product
            .validity
            .days(day)
            .ok_or(PassIssueError::BadValidity)?;
        let flat = match product.payment {
            PassPayment::PerRide => None,
            PassPayment::Flat { price_minor } => {
                let budget = product
                    .budget_for(day)
                    .ok_or(PassIssueError::NoBudget(day.fiscal_year()))?;
                Some((price_minor, budget, product.first_operator()))
            }
        };
        Ok(PassIssued {
            pass: u32::try_from(self.passes.len()).expect("bounded by PASSES_MAX"),
            product: product_ix,
            first_day,
            last_day,
            rides_per_day: product.rides_per_day,
            rides_total: product.rides_total,
            flat,
        })
    }

    /// Records a pass that [`PassBook::check_issue`] allowed (once its chain has posted).
    pub fn record_issue(&mut self, rider: &str, day: LocalDate, issued: &PassIssued) {
        assert_eq!(
            issued.pass as usize,
            self.passes.len(),
            "checked against this book"
        );
        self.passes.push(IssuedPass {
            product: issued.product,
            rider: Box::from(rider),
            issued_on: day,
            first_day: issued.first_day,
            last_day: issued.last_day,
            rides_total: 0,
            last_ride_day: None,
            rides_on_last_day: 0,
        });
        self.by_rider
            .entry(Box::from(rider))
            .or_default()
            .push(issued.pass);
        self.products[usize::from(issued.product)].issued += 1;
        if let Some((price_minor, _, operator)) = issued.flat {
            *self.owed.entry((operator, day)).or_default() += price_minor;
            *self.flat_owed.entry((operator, day)).or_default() += price_minor;
        }
    }

    /// The pass that covers a ride, or why none of the rider's passes for that operator and
    /// route did (`Err(None)`: the rider holds no such pass). Read only.
    pub fn choose(
        &self,
        programme: &Programme,
        rider: &str,
        operator: OperatorIx,
        route: Option<&str>,
        day: LocalDate,
    ) -> Result<PassCover, Option<PassRefusal>> {
        let held = self.by_rider.get(rider).ok_or(None)?;
        let products = programme.passes();
        let candidates = held.iter().filter_map(|&pass| {
            let issued = &self.passes[pass as usize];
            let product = &products[usize::from(issued.product)];
            product
                .covers(operator, route)
                .then(|| (pass, product, issued.held_on(day)))
        });
        let pass = choose_pass(day, candidates)?;
        let product_ix = self.passes[pass as usize].product;
        let product = &products[usize::from(product_ix)];
        let per_ride_budget = match product.payment {
            PassPayment::PerRide => product.budget_for(day),
            PassPayment::Flat { .. } => None,
        };
        Ok(PassCover {
            pass,
            product: product_ix,
            per_ride_budget,
        })
    }

    /// Counts a covered ride once its chain has posted; `fare` is owed to the operator for a
    /// `per_ride` pass.
    pub fn commit_use(
        &mut self,
        cover: &PassCover,
        operator: OperatorIx,
        day: LocalDate,
        fare: u64,
    ) {
        let issued = &mut self.passes[cover.pass as usize];
        debug_assert_eq!(issued.product, cover.product);
        debug_assert!(issued.first_day <= day && day <= issued.last_day);
        if issued.last_ride_day == Some(day) {
            issued.rides_on_last_day += 1;
        } else {
            issued.last_ride_day = Some(day);
            issued.rides_on_last_day = 1;
        }
        issued.rides_total += 1;
        self.products[usize::from(cover.product)].rides_covered += 1;
        if cover.per_ride_budget.is_some() {
            *self.owed.entry((operator, day)).or_default() += fare;
        }
    }

    /// The passes a rider holds, in issue order.
    pub fn of_rider<'a>(&'a self, rider: &str) -> impl Iterator<Item = &'a IssuedPass> + 'a {
        self.by_rider
            .get(rider)
            .into_iter()
            .flatten()
            .map(|&pass| &self.passes[pass as usize])
    }

    /// Per product, in `[[passes]]` order: passes issued and rides covered.
    pub fn product_totals(&self) -> &[ProductTotals] {
        &self.products
    }

    /// What the passes owe each operator per local day, in operator then date order.
    pub fn owed_per_operator_day(&self) -> &BTreeMap<(OperatorIx, LocalDate), u64> {
        &self.owed
    }

    /// What flat passes owe each operator per issue day (a part of `owed_per_operator_day`).
    pub fn flat_owed_per_operator_day(&self) -> &BTreeMap<(OperatorIx, LocalDate), u64> {
        &self.flat_owed
    }

    pub fn len(&self) -> usize {
        self.passes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.passes.is_empty()
    }
}

/// What a pass grant's answer carries besides the asset and amount.
pub type PassGrant = PassIssued;

impl Machine {
    /// The pass product whose entitlement asset is `asset`, if any (load keeps them distinct).
    pub(super) fn pass_product_of(&self, asset: &str) -> Option<String> {
        let product = self.programme.passes().iter().find(|p| p.asset == asset)?;
        Some(product.id.clone())
    }

    /// A `grant` of a pass asset issues one pass: the entitlement moves from its issuer to the
    /// rider and, for a `flat` product, the price from its budget to the operator's subsidy.
    pub(super) fn apply_pass_issue(
        &mut self,
        prepared: &Prepared,
        grant: &Grant,
        product_id: &str,
    ) -> Outcome {
        self.post_pass_issue(prepared, grant, product_id)
            .unwrap_or_else(Outcome::Rejected)
    }

    fn post_pass_issue(
        &mut self,
        prepared: &Prepared,
        grant: &Grant,
        product_id: &str,
    ) -> Result<Outcome, Rejection> {
        let Some((asset, _)) = self.assets.get(&grant.asset) else {
            return Err(Rejection::new(
                RejectionCode::UnknownAsset,
                format!("pass asset {:?} has no [[assets]] entry", grant.asset),
            ));
        };
        if grant.amount_minor != 1 {
            return Err(Rejection::new(
                RejectionCode::OnePerPerson,
                "a pass is granted one at a time (amount 1)",
            ));
        }
        let day = self.programme.local_date(prepared.event.at);
        let issued = self
            .passes
            .check_issue(&self.programme, &self.riders, product_id, &grant.rider, day)
            .map_err(|error| Rejection::new(error.code(), error.to_string()))?;
        if let Some((price_minor, budget, _)) = issued.flat
            && self.budget_left(budget) < price_minor
        {
            return Err(Rejection::new(
                RejectionCode::SoldOut,
                format!("the budget can't pay the pass's price of {price_minor} yen"),
            ));
        }
        self.start_legs();
        let issuer = self.leg_account(
            &AccountName::Issuer {
                asset: &grant.asset,
            },
            asset,
        );
        let holder = self.leg_account(
            &AccountName::Rider {
                rider: &grant.rider,
                asset: &grant.asset,
            },
            asset,
        );
        self.legs.push(Transfer::new(
            0,
            issuer,
            holder,
            1,
            asset,
            Reason::Grant as u16,
        ));
        if let Some((price_minor, budget, operator)) = issued.flat.filter(|flat| flat.0 > 0) {
            let operator = self.programme.operator_code(operator);
            self.legs.push(Transfer::new(
                0,
                self.budget_accounts[budget.index()],
                AccountName::OperatorSubsidy { operator }.id(),
                price_minor,
                self.assets.yen(),
                Reason::Subsidy as u16,
            ));
        }
        self.post_legs(prepared.id_hash)
            .map_err(|error| self.post_rejection(&error))?;
        if let Some((price_minor, budget, _)) = issued.flat {
            self.charge_budget(budget, price_minor);
        }
        self.passes.record_issue(&grant.rider, day, &issued);
        Ok(Outcome::Grant {
            asset,
            amount_minor: 1,
            pass: Some(Box::new(issued)),
        })
    }

    /// The pass that covers this ride, or why the rider's passes did not (`Err(None)`: none
    /// applies, including a `per_ride` pass with no budget in the ride's fiscal year).
    pub(super) fn pass_for_ride(
        &self,
        rider: Option<&str>,
        route: Option<&str>,
        ride: &kanjo_rules::Ride,
    ) -> Result<PassCover, Option<PassRefusal>> {
        let rider = rider.ok_or(None)?;
        if self.passes.is_empty() {
            return Err(None);
        }
        let cover = self
            .passes
            .choose(&self.programme, rider, ride.operator, route, ride.day)?;
        let product = &self.programme.passes()[usize::from(cover.product)];
        // A per-ride pass needs its budget for the year to pay the whole fare; otherwise it
        // does not apply and the ride is rated normally.
        let funded = match cover.per_ride_budget {
            Some(budget) => self.budget_left(budget) >= ride.fare,
            None => product.payment != PassPayment::PerRide,
        };
        if !funded {
            return Err(None);
        }
        Ok(cover)
    }

    /// What is left of a budget; rating and passes draw on the same `RatingState` count, so
    /// neither can overspend what the other used.
    fn budget_left(&self, budget: BudgetIx) -> u64 {
        self.programme.budget(budget).limit - self.rating.budget_used(budget)
    }

    fn charge_budget(&mut self, budget: BudgetIx, amount: u64) {
        let used = self.rating.budget_used(budget) + amount;
        self.rating.set_budget_used(budget, used);
    }

    /// Posts a ride a pass covers: the rider pays nothing; a `per_ride` pass's budget pays the
    /// operator the fare (a `flat` pass was paid at issue). Rules, caps and grants do not apply.
    pub(super) fn post_pass_ride(
        &mut self,
        id_hash: u128,
        operator_code: &str,
        media: crate::event::Media,
        ride: &kanjo_rules::Ride,
        cover: PassCover,
    ) -> Result<RideOutcome, Rejection> {
        self.start_legs();
        if let Some(budget) = cover.per_ride_budget.filter(|_| ride.fare > 0) {
            self.legs.push(Transfer::new(
                0,
                self.budget_accounts[budget.index()],
                AccountName::OperatorSubsidy {
                    operator: operator_code,
                }
                .id(),
                ride.fare,
                self.assets.yen(),
                Reason::Subsidy as u16,
            ));
        }
        self.post_legs(id_hash)
            .map_err(|error| self.post_rejection(&error))?;
        if let Some(budget) = cover.per_ride_budget {
            self.charge_budget(budget, ride.fare);
        }
        self.passes
            .commit_use(&cover, ride.operator, ride.day, ride.fare);
        let per_ride = cover.per_ride_budget.is_some();
        Ok(RideOutcome {
            fare: ride.fare,
            rider_pays: 0,
            discount: if per_ride { ride.fare } else { 0 },
            cap_waived: 0,
            funded_by: cover.per_ride_budget.map(|budget| budget.index() as u16),
            media,
            rules: 0,
            grants: Box::default(),
            pass: Some(cover.product),
            pass_refused: None,
        })
    }

    /// The passes the machine has issued.
    pub fn passes(&self) -> &PassBook {
        &self.passes
    }
}

impl Machine {
    /// `GET /v1/riders/{id}/passes`: the rider's passes in issue order, with their validity,
    /// limits and use so far (an empty list for a rider with none).
    pub fn rider_passes_json(&self, rider: &str) -> serde_json::Value {
        let products = self.programme.passes();
        let passes: Vec<serde_json::Value> = self
            .passes
            .of_rider(rider)
            .map(|pass| {
                let product = &products[usize::from(pass.product)];
                serde_json::json!({
                    "id": product.id,
                    "asset": product.asset,
                    "issued_on": pass.issued_on.to_string(),
                    "valid_from": pass.first_day.to_string(),
                    "valid_until": pass.last_day.to_string(),
                    "rides_per_day": product.rides_per_day,
                    "rides_total": product.rides_total,
                    "rides_used": pass.rides_total,
                })
            })
            .collect();
        serde_json::json!({ "rider": rider, "passes": passes })
    }
}

/// `kanjo report passes`: per pass product, passes issued and rides covered; and what the
/// passes owe each operator per local day (per-ride fares, flat prices on the issue day).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PassesReport {
    pub products: Vec<PassProductLine>,
    pub owed: Vec<PassOwedLine>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PassProductLine {
    pub pass: String,
    pub payment: &'static str,
    pub issued: u64,
    pub issue_limit: Option<u64>,
    pub rides_covered: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PassOwedLine {
    pub operator: String,
    pub date: String,
    pub owed: u64,
}

pub fn passes_report(machine: &Machine) -> PassesReport {
    let programme = machine.programme();
    let book = machine.passes();
    let products = programme
        .passes()
        .iter()
        .zip(book.product_totals())
        .map(|(product, totals)| PassProductLine {
            pass: product.id.clone(),
            payment: match product.payment {
                PassPayment::PerRide => "per_ride",
                PassPayment::Flat { .. } => "flat",
            },
            issued: totals.issued,
            issue_limit: product.issue_limit,
            rides_covered: totals.rides_covered,
        })
        .collect();
    let owed = book
        .owed_per_operator_day()
        .iter()
        .map(|(&(operator, day), &owed)| PassOwedLine {
            operator: programme.operator_code(operator).to_owned(),
            date: day.to_string(),
            owed,
        })
        .collect();
    PassesReport { products, owed }
}

impl PassesReport {
    /// Two tables for the clerk: 定期券 (passes) and 事業者への支払 (owed to operators).
    pub fn to_text(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "定期券 pass       {:<10} {:>10} {:>10} {:>12}",
            "payment", "issued", "limit", "rides"
        );
        for line in &self.products {
            let limit = line.issue_limit.map_or("-".to_string(), |l| l.to_string());
            let _ = writeln!(
                out,
                "{:<18} {:<10} {:>10} {:>10} {:>12}",
                line.pass, line.payment, line.issued, limit, line.rides_covered
            );
        }
        let _ = writeln!(
            out,
            "\n事業者への支払 operator  {:<10} {:>12}",
            "date", "owed (円)"
        );
        for line in &self.owed {
            let _ = writeln!(
                out,
                "{:<24} {:<10} {:>12}",
                line.operator, line.date, line.owed
            );
        }
        out
    }
}
