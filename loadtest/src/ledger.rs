//! `kanjo-load ledger`: the in-process ledger workload of issue 2 — batches of
//! TRANSFERS_PER_BATCH_MAX transfers over M accounts, uniformly random pairs or (with `--hot`)
//! every transfer crediting one operator account — timed around `create_transfers` only.

use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use kanjo_ledger::workload::{self, TransferGenerator};
use serde_json::json;

/// Seed of the workload generator: runs are reproducible (same digest for the same arguments).
const LEDGER_WORKLOAD_SEED: u64 = 0x6b61_6e6a_6f5f_6c64;

#[derive(clap::Args, Debug, Clone)]
pub struct LedgerArgs {
    /// Transfers to apply.
    #[arg(long)]
    pub transfers: u64,
    /// Accounts to create first (at least 2).
    #[arg(long)]
    pub accounts: u64,
    /// Credit every transfer to one hot account instead of uniformly random pairs.
    #[arg(long)]
    pub hot: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LedgerReport {
    pub accounts: u64,
    pub transfers: u64,
    pub batches: u64,
    pub failed: u64,
    pub hot: bool,
    /// Time inside `create_transfers` (generation excluded).
    pub elapsed_ms: f64,
    pub transfers_per_sec: f64,
    /// CPU time this thread spent inside `create_transfers` (0 where the OS does not say):
    /// on a shared machine, wall time also counts time the scheduler gave to others.
    pub cpu_ms: f64,
    pub transfers_per_cpu_sec: f64,
    /// Time to create the accounts.
    pub setup_ms: f64,
    /// `Ledger::digest()` after the run, hex.
    pub digest: String,
}

pub fn run(args: &LedgerArgs) -> anyhow::Result<LedgerReport> {
    ensure!(args.accounts >= 2, "--accounts must be at least 2");
    ensure!(
        args.accounts <= u64::from(u32::MAX - 1),
        "--accounts must fit the ledger's u32 account index"
    );
    ensure!(
        args.transfers <= u64::from(u32::MAX - 1),
        "--transfers must fit the ledger's u32 transfer index"
    );
    let setup_started = Instant::now();
    let mut ledger = workload::setup_ledger(args.accounts, args.transfers);
    let setup_ms = setup_started.elapsed().as_secs_f64() * 1e3;

    let mut generator = TransferGenerator::new(args.accounts, args.hot, LEDGER_WORKLOAD_SEED);
    let mut apply_wall = Duration::ZERO;
    let mut apply_cpu_ns = 0u64;
    let stats = workload::run(&mut ledger, &mut generator, args.transfers, |apply| {
        let cpu_started_ns = thread_cpu_ns();
        let started = Instant::now();
        apply();
        apply_wall += started.elapsed();
        apply_cpu_ns += thread_cpu_ns().saturating_sub(cpu_started_ns);
    });
    ledger
        .check_invariants()
        .context("ledger invariants after the run")?;

    let elapsed_s = apply_wall.as_secs_f64();
    let per_sec = |seconds: f64| {
        if seconds > 0.0 {
            stats.transfers as f64 / seconds
        } else {
            0.0
        }
    };
    let cpu_s = apply_cpu_ns as f64 / 1e9;
    Ok(LedgerReport {
        accounts: args.accounts,
        transfers: stats.transfers,
        batches: stats.batches,
        failed: stats.failed,
        hot: args.hot,
        elapsed_ms: elapsed_s * 1e3,
        transfers_per_sec: per_sec(elapsed_s),
        cpu_ms: cpu_s * 1e3,
        transfers_per_cpu_sec: per_sec(cpu_s),
        setup_ms,
        digest: format!("{:032x}", ledger.digest()),
    })
}

impl LedgerReport {
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "workload": if self.hot { "ledger_hot_account" } else { "ledger_uniform" },
            "accounts": self.accounts,
            "transfers": self.transfers,
            "batches": self.batches,
            "failed": self.failed,
            "hot": self.hot,
            "elapsed_ms": self.elapsed_ms,
            "transfers_per_sec": self.transfers_per_sec,
            "cpu_ms": self.cpu_ms,
            "transfers_per_cpu_sec": self.transfers_per_cpu_sec,
            "setup_ms": self.setup_ms,
            "digest": self.digest,
        })
    }

    pub fn to_text(&self) -> String {
        format!(
            "ledger {}: {} transfers over {} accounts in {} batches, {} failed; \
             {:.1} ms applying = {:.2} M transfers/s; {:.1} ms on CPU = {:.2} M transfers/CPU-s \
             (setup {:.1} ms); digest {}",
            if self.hot { "hot account" } else { "uniform" },
            self.transfers,
            self.accounts,
            self.batches,
            self.failed,
            self.elapsed_ms,
            self.transfers_per_sec / 1e6,
            self.cpu_ms,
            self.transfers_per_cpu_sec / 1e6,
            self.setup_ms,
            self.digest,
        )
    }
}

/// This thread's CPU time in ns, from /proc/thread-self/schedstat (Linux); 0 elsewhere.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}
