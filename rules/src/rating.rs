//! Rating one resolved ride (`rate`, pure) and applying its effects (`commit`).
//!
//! Order of evaluation (spec/rating.md): the one best `fare_discount` (largest discount after
//! budget limits, earliest rule on a tie), then every `daily_cap` in file order on what is left,
//! then `ride_reward` / `points_per_ride` grants in file order. Neither function allocates
//! except `commit` when a rider's first cap tally or ride counter of a day is created.
//!
//! Invariants (asserted): rider_pays + discount + cap_waived = fare; a budget's use never
//! exceeds its limit.

use hashbrown::HashMap;

use crate::date::LocalDate;
use crate::eligibility::Facts;
use crate::error::RateError;
use crate::ids::{AssetIx, BudgetIx, RiderKey, RuleIx, RuleSet};
use crate::limits::MAX_GRANT_RULES;
use crate::programme::Programme;
use crate::ride::Ride;
use crate::riders::Riders;

/// Units of an asset granted by a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    pub asset: AssetIx,
    pub amount: u64,
    pub rule: RuleIx,
}

/// The grants of one ride, inline, in file order. Capacity `MAX_GRANT_RULES`, which a
/// programme cannot exceed, so a push never fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grants {
    items: [Grant; MAX_GRANT_RULES],
    len: u8,
}

impl Grants {
    pub const EMPTY: Grants = Grants {
        items: [Grant {
            asset: AssetIx(0),
            amount: 0,
            rule: RuleIx(0),
        }; MAX_GRANT_RULES],
        len: 0,
    };

    fn push(&mut self, grant: Grant) {
        let len = usize::from(self.len);
        assert!(
            len < MAX_GRANT_RULES,
            "a programme has at most MAX_GRANT_RULES granting rules"
        );
        self.items[len] = grant;
        self.len += 1;
    }

    pub fn as_slice(&self) -> &[Grant] {
        &self.items[..usize::from(self.len)]
    }
}

impl std::ops::Deref for Grants {
    type Target = [Grant];
    fn deref(&self) -> &[Grant] {
        self.as_slice()
    }
}

/// The outcome of rating one ride.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rating {
    /// Undiscounted fare, yen.
    pub fare: u64,
    pub rider_pays: u64,
    /// Charged to `funded_by`.
    pub discount: u64,
    pub funded_by: Option<BudgetIx>,
    /// Revenue the operator forgoes under daily caps; funded by no one.
    pub cap_waived: u64,
    /// Rules that changed the ride, in file order: the discount, caps that cut, granting rules.
    pub rules: RuleSet,
    /// The discount rule applied, if any (also in `rules`).
    pub discount_rule: Option<RuleIx>,
    pub grants: Grants,
    /// Cap slots (bit = position among the caps) whose day tally this ride adds to: every
    /// cap covering the operator. Read by `commit` only.
    pub(crate) caps_tallied: u64,
    /// `ride_reward` rules that counted this ride. Read by `commit` only.
    pub(crate) rides_counted: RuleSet,
}

/// Caps whose tallies of a known rider's latest day live in `RatingState::latest_day`.
const DENSE_CAP_SLOTS: usize = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct CapKey {
    rider: RiderKey,
    slot: u16,
    day: LocalDate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct CounterKey {
    rider: RiderKey,
    rule: RuleIx,
}

/// A known rider's tallies for the first `DENSE_CAP_SLOTS` caps on their latest rated day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct DayTally {
    day: Option<LocalDate>,
    paid: [u64; DENSE_CAP_SLOTS],
}

/// What carries from one ride to the next: budget use, day tallies, ride counters.
///
/// Day tallies: for a known rider (by registry index) the first caps' tallies of their latest
/// day sit in a dense array, one cache line away, because that is what nearly every ride
/// reads and writes. Everything else (unknown riders, further caps, earlier days, tallies
/// from before a rider was registered) is in `cap_paid`. A (rider, cap, day) tally is in
/// exactly one of the two places.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatingState {
    budget_used: Vec<u64>,
    budget_limit: Vec<u64>,
    latest_day: Vec<DayTally>,
    cap_paid: HashMap<CapKey, u64>,
    ride_counts: HashMap<CounterKey, u64>,
}

impl RatingState {
    pub fn new(programme: &Programme) -> RatingState {
        RatingState {
            budget_used: vec![0; programme.budgets.len()],
            budget_limit: programme.budgets.iter().map(|b| b.limit).collect(),
            latest_day: Vec::new(),
            cap_paid: HashMap::new(),
            ride_counts: HashMap::new(),
        }
    }

    /// Takes a later programme version's budgets: limits as it sets them, added budgets unused.
    /// The version keeps every earlier budget in its place (checked before it is applied), and
    /// no limit goes below what its budget has used.
    pub fn set_budgets(&mut self, programme: &Programme) {
        assert!(programme.budgets.len() >= self.budget_used.len());
        self.budget_used.resize(programme.budgets.len(), 0);
        self.budget_limit = programme.budgets.iter().map(|b| b.limit).collect();
        for (used, limit) in self.budget_used.iter().zip(&self.budget_limit) {
            assert!(used <= limit, "a version lowered a budget below its use");
        }
    }

    /// Yen charged to a budget so far. Never more than its limit.
    pub fn budget_used(&self, budget: BudgetIx) -> u64 {
        self.budget_used[budget.index()]
    }

    /// Sets a budget's use, e.g. when the engine restores state from its ledger.
    pub fn set_budget_used(&mut self, budget: BudgetIx, used: u64) {
        assert!(
            used <= self.budget_limit[budget.index()],
            "budget use above its limit"
        );
        self.budget_used[budget.index()] = used;
    }

    #[inline]
    fn budget_remaining(&self, budget: BudgetIx) -> u64 {
        self.budget_limit[budget.index()] - self.budget_used[budget.index()]
    }

    /// What the ride's rider already paid on the ride's local day under the `slot`-th cap.
    #[inline]
    fn paid_on_day(&self, ride: &Ride, rider: RiderKey, slot: u16) -> u64 {
        if usize::from(slot) < DENSE_CAP_SLOTS
            && let Some(tally) = ride.rider.and_then(|ix| self.latest_day.get(ix.index()))
            && tally.day == Some(ride.day)
        {
            return tally.paid[usize::from(slot)];
        }
        self.cap_paid
            .get(&CapKey {
                rider,
                slot,
                day: ride.day,
            })
            .copied()
            .unwrap_or(0)
    }

    /// What a rider paid on the ride's local day under a daily cap rule; 0 for a rule that is
    /// not a daily cap or a ride without rider.
    pub fn paid_today(&self, programme: &Programme, ride: &Ride, rule: RuleIx) -> u64 {
        let (Some(rider), Some(cap)) = (
            ride.rider_key,
            programme.caps.iter().find(|c| c.rule == rule),
        ) else {
            return 0;
        };
        self.paid_on_day(ride, rider, cap.slot)
    }

    /// Rides a `ride_reward` rule has counted for a rider.
    pub fn ride_count(&self, rider: RiderKey, rule: RuleIx) -> u64 {
        self.ride_counts
            .get(&CounterKey { rider, rule })
            .copied()
            .unwrap_or(0)
    }

    /// Drops day tallies before `day`, bounding memory in a long-running engine. Rides dated
    /// before `day` must not be rated afterwards.
    pub fn forget_days_before(&mut self, day: LocalDate) {
        self.cap_paid.retain(|key, _| key.day >= day);
        for tally in &mut self.latest_day {
            if tally.day.is_some_and(|d| d < day) {
                *tally = DayTally::default();
            }
        }
    }

    /// Number of (rider, cap, day) tallies held outside the dense latest-day array.
    pub fn cap_tally_count(&self) -> usize {
        self.cap_paid.len()
    }

    /// Adds `amount` to the tallies of `slots` (bit per cap slot) for the ride's rider and day.
    fn add_paid(&mut self, ride: &Ride, rider: RiderKey, slots: u64, amount: u64) {
        let dense_mask = (1u64 << DENSE_CAP_SLOTS) - 1;
        let mut hashed = slots;
        if slots & dense_mask != 0
            && let Some(ix) = ride.rider
        {
            let ix = ix.index();
            if self.latest_day.len() <= ix {
                self.latest_day.resize(ix + 1, DayTally::default());
            }
            let tally = self.latest_day[ix];
            if tally.day.is_none_or(|day| day < ride.day) {
                // The rider's day moved on: the old day's tallies go to the map, and any
                // tallies of the new day already there (rides before registration) come back.
                let mut next = DayTally {
                    day: Some(ride.day),
                    paid: [0; DENSE_CAP_SLOTS],
                };
                for slot in 0..DENSE_CAP_SLOTS {
                    let slot16 = slot as u16;
                    if let Some(old_day) = tally.day
                        && tally.paid[slot] > 0
                    {
                        *self
                            .cap_paid
                            .entry(CapKey {
                                rider,
                                slot: slot16,
                                day: old_day,
                            })
                            .or_insert(0) += tally.paid[slot];
                    }
                    next.paid[slot] = self
                        .cap_paid
                        .remove(&CapKey {
                            rider,
                            slot: slot16,
                            day: ride.day,
                        })
                        .unwrap_or(0);
                }
                self.latest_day[ix] = next;
            }
            let tally = &mut self.latest_day[ix];
            if tally.day == Some(ride.day) {
                for slot in 0..DENSE_CAP_SLOTS {
                    if slots & (1 << slot) != 0 {
                        tally.paid[slot] += amount;
                    }
                }
                hashed &= !dense_mask;
            }
            // else: a ride dated before the rider's latest day; its tallies are in the map.
        }
        while hashed != 0 {
            let slot = hashed.trailing_zeros() as u16;
            hashed &= hashed - 1;
            *self
                .cap_paid
                .entry(CapKey {
                    rider,
                    slot,
                    day: ride.day,
                })
                .or_insert(0) += amount;
        }
    }
}

/// Rates a resolved ride against the programme and the current state. Pure.
pub fn rate(
    p: &Programme,
    riders: &Riders,
    state: &RatingState,
    ride: &Ride,
) -> Result<Rating, RateError> {
    // A later programme version may have added budgets (never removed or moved one), so the
    // state may hold more budgets than an earlier version names.
    if ride.operator.index() >= p.operators.len() || state.budget_used.len() < p.budgets.len() {
        return Err(RateError::BadEvent(
            "ride or state was built for another programme".into(),
        ));
    }
    let facts = Facts::of(ride.rider.and_then(|ix| riders.attrs(ix)), ride.day);
    let operator_bit = 1u64 << ride.operator.0;
    let fare = ride.fare;
    let mut rules = RuleSet::EMPTY;

    // The largest discount after budget limits; the earliest rule on a tie.
    let fiscal_year = ride.day.fiscal_year();
    let mut best: Option<(RuleIx, u64, BudgetIx)> = None;
    for rule in &p.discounts {
        if rule.operators & operator_bit == 0 || !rule.eligible.holds(&facts) {
            continue;
        }
        let mut discount = fare - rule.discount.rider_pays(fare);
        if discount == 0 {
            continue;
        }
        let years = &rule.funding.by_fiscal_year;
        let Some(&(_, budget)) = years.iter().find(|(year, _)| *year == fiscal_year) else {
            continue; // no budget for this fiscal year: the rule gives nothing
        };
        discount = discount.min(state.budget_remaining(budget));
        if discount > 0 && best.is_none_or(|(_, best_discount, _)| discount > best_discount) {
            best = Some((rule.rule, discount, budget));
        }
    }
    let (discount_rule, discount, funded_by) = match best {
        Some((rule, discount, budget)) => {
            rules.insert(rule);
            (Some(rule), discount, Some(budget))
        }
        None => (None, 0, None),
    };

    // Daily caps cut what is left after the discount.
    let mut rider_pays = fare - discount;
    let mut cap_waived = 0u64;
    let mut caps_tallied = 0u64;
    if let Some(rider) = ride.rider_key {
        for cap in &p.caps {
            if cap.operators & operator_bit == 0 {
                continue;
            }
            caps_tallied |= 1u64 << cap.slot;
            if rider_pays == 0 || !cap.eligible.holds(&facts) {
                continue;
            }
            let allowed = cap
                .amount
                .saturating_sub(state.paid_on_day(ride, rider, cap.slot));
            if rider_pays > allowed {
                cap_waived += rider_pays - allowed;
                rider_pays = allowed;
                rules.insert(cap.rule);
            }
        }
    }

    // Grants, in file order.
    let mut grants = Grants::EMPTY;
    let mut rides_counted = RuleSet::EMPTY;
    for rule in &p.grants {
        if rule.operators & operator_bit == 0 || !rule.eligible.holds(&facts) {
            continue;
        }
        if let Some(every) = rule.every {
            let Some(rider) = ride.rider_key else {
                continue; // counters are per rider id
            };
            rides_counted.insert(rule.rule);
            if !(state.ride_count(rider, rule.rule) + 1).is_multiple_of(every) {
                continue;
            }
        }
        rules.insert(rule.rule);
        grants.push(Grant {
            asset: rule.asset,
            amount: rule.amount,
            rule: rule.rule,
        });
    }

    let rating = Rating {
        fare,
        rider_pays,
        discount,
        funded_by,
        cap_waived,
        rules,
        discount_rule,
        grants,
        caps_tallied,
        rides_counted,
    };
    assert_eq!(
        rating.rider_pays + rating.discount + rating.cap_waived,
        rating.fare
    );
    debug_assert!(funded_by.is_none_or(|b| discount <= state.budget_remaining(b)));
    Ok(rating)
}

/// Applies a rating's effects: budget use, day tallies, ride counters. Call once, right after
/// `rate` on the same state (the engine calls it only once the posting is durable).
pub fn commit(state: &mut RatingState, ride: &Ride, rating: &Rating) {
    if let Some(budget) = rating.funded_by {
        let ix = budget.index();
        let used = state.budget_used[ix] + rating.discount;
        assert!(
            used <= state.budget_limit[ix],
            "budget {ix} would exceed its limit: the rating is stale (rate and commit must alternate)"
        );
        state.budget_used[ix] = used;
    }
    let Some(rider) = ride.rider_key else {
        debug_assert!(rating.caps_tallied == 0 && rating.rides_counted.is_empty());
        return;
    };
    if rating.rider_pays > 0 && rating.caps_tallied != 0 {
        state.add_paid(ride, rider, rating.caps_tallied, rating.rider_pays);
    }
    for rule in rating.rides_counted.iter() {
        *state
            .ride_counts
            .entry(CounterKey { rider, rule })
            .or_insert(0) += 1;
    }
}
