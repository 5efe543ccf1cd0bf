//! What a settlement's period looked like when it was closed, kept for its statements.
//!
//! A statement shows the period's days (rides, fares, purchases) next to the settlement's lines.
//! An event that arrives late for a closed day changes the machine's day totals, but it belongs
//! to the next settlement (as an adjustment line naming its day), so a closed statement must not
//! show it: the days are copied when the settlement is made. The copy is a few rows per party
//! and day of one period; settlements are bounded by `SETTLEMENTS_MAX`.

use serde::Serialize;

use crate::machine::Machine;
use crate::report::classes::{RatedRow, rated_rows};
use crate::report::shops::ShopDay;
use crate::report::{OperatorDay, operator_days, shop_report};

/// The period's days as the settlement saw them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ClosedDays {
    pub operator_days: Vec<OperatorDay>,
    /// Rides per operator, day, rider class and fare rules.
    pub rated: Vec<RatedRow>,
    pub shop_days: Vec<ShopDay>,
}

/// The days after `previous_through` through `through` (local `YYYY-MM-DD`).
pub fn closed_days(machine: &Machine, previous_through: Option<&str>, through: &str) -> ClosedDays {
    let after = previous_through.unwrap_or("");
    let in_period = |day: &str| day > after && day <= through;
    ClosedDays {
        operator_days: operator_days(machine)
            .into_iter()
            .filter(|day| in_period(&day.date))
            .collect(),
        rated: rated_rows(machine, in_period),
        shop_days: shop_report(machine)
            .days
            .into_iter()
            .filter(|day| in_period(&day.date))
            .collect(),
    }
}
