//! kanjo-engine: the I/O shell around the pure ledger and rating crates.
//! See ARCHITECTURE.md for the code map.

pub mod answer;
pub mod api;
pub mod body;
pub mod chart;
pub mod demo;
pub mod event;
pub mod machine;
pub mod pipeline;
pub mod recovery;
pub mod report;
pub mod riders;
pub mod store;
pub mod taps;
pub mod workload;
