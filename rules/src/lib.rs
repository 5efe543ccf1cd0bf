//! kanjo-rules: attribute-based fare rating over GTFS-JP fare tables.
//!
//! A town's programme (spec/rating.md) is compiled once by [`Programme::load`]: fare tables
//! become hash maps, rules become lists of integer comparisons. A ride is resolved once from
//! strings to indices ([`Programme::resolve_ride`]); then [`rate`] (pure) and [`commit`]
//! (apply budget use, day tallies, ride counters) run without parsing or allocating.
//! [`rate_files`] is the whole `kanjo rate` command.
//!
//! Pure: no clock, no network; the only I/O is reading the programme, GTFS and NDJSON files.
//! Money is integer yen (`u64`); percentages are exact fractions, rounded as the rule says.
//! See `ARCHITECTURE-rules.md` for the module map and invariants.

pub mod date;
pub mod diff;
pub mod eligibility;
pub mod error;
pub mod files;
pub mod gtfs;
pub mod ids;
pub mod limits;
pub mod municipality;
pub mod output;
pub mod pass;
pub mod programme;
pub mod rating;
pub mod ride;
pub mod riders;
pub mod rule;

pub use date::LocalDate;
pub use error::{RateError, RateFilesError};
pub use files::{EventRun, rate_files, rate_files_reporting, read_riders};
pub use ids::{AssetIx, BudgetIx, OperatorIx, RiderIx, RiderKey, RuleIx, RuleSet};
pub use jiff::Timestamp;
pub use pass::{HeldPass, PassPayment, PassProduct, PassRefusal, Validity, choose_pass};
pub use programme::{Budget, FareSource, Programme, ProgrammeError, ProgrammeSource};
pub use rating::{Grant, Grants, Rating, RatingState, commit, rate};
pub use ride::{Ride, RideFields, RideRef};
pub use riders::{RiderError, RiderRecord, Riders};
pub use rule::{Rounding, RuleKind};

/// A compiled programme is shared across rating threads.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Programme>();
    assert_send_sync::<Riders>();
    assert_send_sync::<RatingState>();
};
