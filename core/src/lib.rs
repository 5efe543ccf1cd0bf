//! kanjo-core: the one deterministic state machine and what it is made of. Events and rider
//! records in, rated and posted as balanced transfer chains on the ledger, answers and reports
//! out. No I/O, no clock, no threads: the engine (`kanjo-engine`) is the shell around it.
//! See ARCHITECTURE.md for the code map.

pub mod answer;
pub mod body;
pub mod breakage;
pub mod chart;
pub mod event;
pub mod expiry;
pub mod limits;
pub mod machine;
pub mod reconcile;
pub mod report;
pub mod riders;
pub mod settlement;
pub mod shops;
pub mod taps;

// A rider id is a reference like any other in an event: the two limits must agree.
const _: () = assert!(event::REFERENCE_BYTES_MAX == kanjo_rules::limits::MAX_RIDER_ID_BYTES);
