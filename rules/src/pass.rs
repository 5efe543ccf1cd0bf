//! Pass products (`[[passes]]`, issue 13): a right the holder carries, valid between two local
//! dates, on some operators or routes, for a bounded number of rides. Everything here is pure:
//! the machine keeps which passes were issued and how often they were used, and asks these
//! functions whether a pass covers a ride and which of several to use.

use crate::date::LocalDate;
use crate::eligibility::{Eligibility, Facts};
use crate::ids::{BudgetIx, OperatorIx, RiderIx};
use crate::riders::Riders;
use crate::rule::Funding;

/// When an issued pass is valid, in the programme's local dates (both ends included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// `valid_from` .. `valid_until`, whenever the pass was issued.
    Fixed { from: LocalDate, until: LocalDate },
    /// The issue day and the `days - 1` days after it.
    Days(u32),
    /// From the issue day up to the day before the same date `months` later (clamped to the
    /// month's end: issued 31 August, 6 months ends 27 February).
    Months(u32),
}

impl Validity {
    /// The first and last valid day of a pass issued on `issued_on`; `None` when the dates fall
    /// outside the calendar (a programme error that load rules out for sane inputs).
    pub fn days(self, issued_on: LocalDate) -> Option<(LocalDate, LocalDate)> {
        match self {
            Validity::Fixed { from, until } => Some((from, until)),
            Validity::Days(days) => {
                let days = i32::try_from(days).ok()?;
                Some((issued_on, issued_on.add_days(days - 1)?))
            }
            Validity::Months(months) => {
                let start = jiff::civil::Date::new(
                    issued_on.year,
                    i8::try_from(issued_on.month).ok()?,
                    i8::try_from(issued_on.day).ok()?,
                )
                .ok()?;
                let span = jiff::Span::new().try_months(i64::from(months)).ok()?;
                let end = LocalDate::from_jiff(start.checked_add(span).ok()?);
                Some((issued_on, end.add_days(-1)?))
            }
        }
    }
}

/// How the operator is paid for a pass's rides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PassPayment {
    /// Each covered ride's full fare is charged to the budget of the ride's fiscal year.
    PerRide,
    /// `price_minor` yen per pass, charged to the budget of the issue day's fiscal year.
    Flat { price_minor: u64 },
}

/// One compiled `[[passes]]` entry.
#[derive(Debug, Clone)]
pub struct PassProduct {
    pub id: String,
    /// The entitlement asset a `grant` of the pass moves (one unit per pass).
    pub asset: String,
    pub validity: Validity,
    /// Bit set of the operators the pass covers.
    pub(crate) operators: u64,
    pub(crate) first_operator: OperatorIx,
    /// Routes it covers; `None` = every route of those operators.
    pub routes: Option<Box<[String]>>,
    pub rides_per_day: Option<u32>,
    pub rides_total: Option<u32>,
    pub(crate) eligible: Eligibility,
    /// Passes of this product one rider may hold.
    pub per_person: u32,
    pub payment: PassPayment,
    pub(crate) funding: Funding,
    /// Passes that may be issued in all; the next is `sold_out`.
    pub issue_limit: Option<u64>,
}

/// Why a pass the rider holds did not cover a ride (the ride is then rated normally).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PassRefusal {
    /// The ride's local date is before the first or after the last valid day.
    Expired,
    /// The pass's rides for that day are used up.
    DailyLimit,
    /// The pass's rides in total are used up.
    UsedUp,
}

impl PassRefusal {
    /// The answer code.
    pub const fn code(self) -> &'static str {
        match self {
            PassRefusal::Expired => "pass_expired",
            PassRefusal::DailyLimit => "pass_daily_limit",
            PassRefusal::UsedUp => "pass_used_up",
        }
    }
}

/// What the machine keeps for one issued pass, as far as the choice of a pass needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeldPass {
    pub first_day: LocalDate,
    pub last_day: LocalDate,
    /// Rides taken on the ride's local date.
    pub rides_today: u32,
    pub rides_total: u32,
}

impl PassProduct {
    /// The operator and route are ones the pass covers (validity and limits aside).
    pub fn covers(&self, operator: OperatorIx, route: Option<&str>) -> bool {
        self.operators & (1u64 << operator.0) != 0
            && self
                .routes
                .as_deref()
                .is_none_or(|routes| route.is_some_and(|route| routes.iter().any(|r| r == route)))
    }

    /// The rider may be issued this pass on `day` (the `eligible` table, as for rules).
    pub fn eligible(&self, riders: &Riders, rider: Option<RiderIx>, day: LocalDate) -> bool {
        let facts = Facts::of(rider.and_then(|ix| riders.attrs(ix)), day);
        self.eligible.holds(&facts)
    }

    /// The first operator in the pass's `operators`: a `flat` price is owed to it.
    pub fn first_operator(&self) -> OperatorIx {
        debug_assert!(self.operators & (1u64 << self.first_operator.0) != 0);
        self.first_operator
    }

    /// Whether a held pass covers one more ride on `day`.
    pub fn check_use(&self, held: &HeldPass, day: LocalDate) -> Result<(), PassRefusal> {
        debug_assert!(held.first_day <= held.last_day);
        if day < held.first_day || held.last_day < day {
            return Err(PassRefusal::Expired);
        }
        if self
            .rides_total
            .is_some_and(|limit| held.rides_total >= limit)
        {
            return Err(PassRefusal::UsedUp);
        }
        if self
            .rides_per_day
            .is_some_and(|limit| held.rides_today >= limit)
        {
            return Err(PassRefusal::DailyLimit);
        }
        Ok(())
    }

    /// The budget that pays for this pass in the fiscal year of `day`; `None` when the
    /// programme has no budget for that year.
    pub fn budget_for(&self, day: LocalDate) -> Option<BudgetIx> {
        let year = day.fiscal_year();
        self.funding
            .by_fiscal_year
            .iter()
            .find(|(y, _)| *y == year)
            .map(|&(_, budget)| budget)
    }
}

/// Of the passes a rider holds that cover the ride's operator and route, the one to use: the
/// earliest last valid day among those that can take the ride (the first on a tie). When none
/// can, the reason of the one that would have expired first, so the answer can say why.
pub fn choose_pass<'a, K: Copy>(
    day: LocalDate,
    candidates: impl IntoIterator<Item = (K, &'a PassProduct, HeldPass)>,
) -> Result<K, Option<PassRefusal>> {
    let mut usable: Option<(LocalDate, K)> = None;
    let mut refused: Option<(LocalDate, PassRefusal)> = None;
    for (key, product, held) in candidates {
        match product.check_use(&held, day) {
            Ok(()) => {
                if usable.is_none_or(|(last, _)| held.last_day < last) {
                    usable = Some((held.last_day, key));
                }
            }
            Err(why) => {
                if refused.is_none_or(|(last, _)| held.last_day < last) {
                    refused = Some((held.last_day, why));
                }
            }
        }
    }
    match usable {
        Some((_, key)) => Ok(key),
        None => Err(refused.map(|(_, why)| why)),
    }
}
