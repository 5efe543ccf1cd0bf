//! A ride as read (`RideFields`, strings) and as rated (`Ride`, indices, `Copy`).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::date::LocalDate;
use crate::ids::{OperatorIx, RiderIx, RiderKey};

/// The ride part of an event, as in spec/rating.md. Unknown fields are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RideFields {
    /// RFC 3339.
    pub at: String,
    pub operator: String,
    #[serde(default)]
    pub route: Option<String>,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub rider: Option<String>,
}

/// The ride part of an event with its instant already read and its strings borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RideRef<'a> {
    pub at: Timestamp,
    pub operator: &'a str,
    pub route: Option<&'a str>,
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub rider: Option<&'a str>,
}

/// A resolved ride: everything `rate` needs, without strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ride {
    pub at: Timestamp,
    /// The local date in the programme's time zone (ages, caps, fiscal years).
    pub day: LocalDate,
    pub operator: OperatorIx,
    /// The undiscounted fare in yen, found when the ride was resolved.
    pub fare: u64,
    /// The rider's registry entry; `None` for no rider or a rider not in the registry.
    pub rider: Option<RiderIx>,
    /// Caps and counters are kept per `rider` id, known or not; `None` when the event has
    /// no rider (then it gets neither).
    pub rider_key: Option<RiderKey>,
}
