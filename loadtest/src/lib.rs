//! kanjo-load: peak-commuter, election-day and festival-shopping load against kanjo and a naive PostgreSQL ledger,
//! measured in the same run. See `run` for the flow and README.md for how to use it.

pub mod baseline;
pub mod checks;
pub mod driver;
pub mod http;
pub mod inproc;
pub mod ledger;
pub mod rating;
pub mod report;
pub mod run;
pub mod shops;
pub mod summary;
pub mod target;
