//! Workload generators shared by the criterion benchmarks.
//!
//! The ledger workload lives in `kanjo_ledger::workload` so that `kanjo-load` (which must not
//! depend on this crate) runs exactly the same one; it is re-exported here.

pub use kanjo_ledger::workload as ledger_workload;

/// Accounts in the ledger benchmarks (issue 2: one million).
pub const LEDGER_BENCH_ACCOUNTS: u64 = 1_000_000;
/// Accounts when a bench binary runs in criterion's test mode (`cargo test --all-targets`),
/// where each benchmark runs once and only has to prove it works.
pub const LEDGER_TEST_MODE_ACCOUNTS: u64 = 10_000;

/// True when the binary was started by `cargo bench` (criterion passes `--bench`); false in
/// `cargo test`, where setups should stay small.
pub fn bench_mode() -> bool {
    std::env::args().any(|arg| arg == "--bench")
}
