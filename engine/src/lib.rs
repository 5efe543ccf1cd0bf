//! kanjo-engine: the I/O shell around the pure ledger and rating crates.
//! See ARCHITECTURE.md for the code map.

pub mod event;
pub mod store;
pub mod workload;
