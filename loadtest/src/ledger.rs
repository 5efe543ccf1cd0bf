//! `kanjo-load ledger`: the in-process ledger workload of issue 2 — batches of
//! TRANSFERS_PER_BATCH_MAX transfers over M accounts, uniformly random pairs or (with `--hot`)
//! every transfer crediting one operator account — timed around `create_transfers` only.

use std::time::Instant;

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
    let epoch = Instant::now();
    let now_ns = || u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
    let stats = workload::run(&mut ledger, &mut generator, args.transfers, now_ns);
    ledger
        .check_invariants()
        .context("ledger invariants after the run")?;

    let elapsed_s = stats.apply_ns as f64 / 1e9;
    let transfers_per_sec = if elapsed_s > 0.0 {
        stats.transfers as f64 / elapsed_s
    } else {
        0.0
    };
    Ok(LedgerReport {
        accounts: args.accounts,
        transfers: stats.transfers,
        batches: stats.batches,
        failed: stats.failed,
        hot: args.hot,
        elapsed_ms: elapsed_s * 1e3,
        transfers_per_sec,
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
            "setup_ms": self.setup_ms,
            "digest": self.digest,
        })
    }

    pub fn to_text(&self) -> String {
        format!(
            "ledger {}: {} transfers over {} accounts in {} batches, {} failed; \
             {:.1} ms applying = {:.2} M transfers/s (setup {:.1} ms); digest {}",
            if self.hot { "hot account" } else { "uniform" },
            self.transfers,
            self.accounts,
            self.batches,
            self.failed,
            self.elapsed_ms,
            self.transfers_per_sec / 1e6,
            self.setup_ms,
            self.digest,
        )
    }
}
