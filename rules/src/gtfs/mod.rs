//! GTFS / GTFS-JP fare tables: `fare_attributes.txt`, `fare_rules.txt` and `stops.txt` loaded
//! into hash maps keyed by interned (route, origin zone, destination zone), so a fare is a few
//! hash lookups, never a scan of the 64 977 Muroran rules.
//!
//! Matching follows spec/rating.md: a rule matches when each of its route/origin/destination
//! fields is empty or equal; the most non-empty fields win, then the lowest price.

pub mod csv;
mod fares;

pub use fares::{GtfsError, GtfsFares, GtfsTexts, NO_ZONE};
