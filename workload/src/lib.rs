//! Deterministic workload generators shared by `kanjo demo` and `kanjo-load`.
//!
//! Each generator is a pure function of its config and seed and streams events one at a time, so a
//! 1.2 M-voter election costs the same memory as a small one. Riders come as records in the riders
//! file format.

pub mod clock;
pub mod commuter;
pub mod election;
pub mod month;
pub mod rider;
pub mod rng;
pub mod shops;
pub mod timetable;
pub mod year;

pub use commuter::{Commuter, CommuterConfig, CommuterEvents};
pub use election::{Election, ElectionConfig, ElectionEvents, ElectionRole, ElectionTotals};
pub use month::{Month, MonthConfig, Planned};
pub use rider::{RiderKind, RiderMix, RiderRecord};
pub use shops::{Festival, FestivalConfig, FestivalEvents, FestivalMix, TokenRole};
pub use timetable::Timetable;
pub use year::{Year, YearConfig};
