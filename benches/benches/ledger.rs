//! Ledger batch apply, TRANSFERS_PER_BATCH_MAX (8 190) transfers per batch, issue 2:
//! (a) 1 M accounts, uniformly random pairs; (b) every transfer credits one hot account.
//! Generation is outside the timed region (`iter_custom`).

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kanjo_benches::ledger_workload::{self, TransferGenerator, WORKLOAD_CLOCK_START_NS};
use kanjo_benches::{LEDGER_BENCH_ACCOUNTS, LEDGER_TEST_MODE_ACCOUNTS, bench_mode};
use kanjo_ledger::{Ledger, TRANSFERS_PER_BATCH_MAX};

/// Transfers one ledger takes before the bench starts a fresh one (bounds memory: ~150 B each;
/// the ledger preallocates this capacity, untimed).
const TRANSFERS_PER_LEDGER_MAX: usize = 4 * 1024 * 1024;
/// The same in criterion's test mode, where each bench applies a single batch.
const TRANSFERS_PER_LEDGER_TEST_MODE: usize = 4 * TRANSFERS_PER_BATCH_MAX;
const SEED: u64 = 0x6b61_6e6a_6f5f_6263;

struct Fixture {
    ledger: Ledger,
    generator: TransferGenerator,
    accounts: u64,
    hot: bool,
    transfers_max: usize,
    clock_ns: u64,
}

impl Fixture {
    fn new(accounts: u64, hot: bool, transfers_max: usize) -> Fixture {
        Fixture {
            ledger: ledger_workload::setup_ledger(accounts, transfers_max as u64),
            generator: TransferGenerator::new(accounts, hot, SEED),
            accounts,
            hot,
            transfers_max,
            clock_ns: WORKLOAD_CLOCK_START_NS,
        }
    }

    /// Applies `batches` fresh batches, timing only `create_transfers`.
    fn apply(&mut self, batches: u64) -> Duration {
        let mut batch = Vec::with_capacity(TRANSFERS_PER_BATCH_MAX);
        let mut results = Vec::new();
        let mut elapsed = Duration::ZERO;
        for _ in 0..batches {
            if self.ledger.transfer_count() + TRANSFERS_PER_BATCH_MAX > self.transfers_max {
                *self = Fixture::new(self.accounts, self.hot, self.transfers_max);
            }
            self.generator
                .fill_batch(&mut batch, TRANSFERS_PER_BATCH_MAX);
            self.clock_ns += 1_000_000;
            let started = Instant::now();
            self.ledger
                .create_transfers_into(&batch, self.clock_ns, &mut results);
            elapsed += started.elapsed();
            assert!(results.is_empty(), "workload transfers all succeed");
        }
        elapsed
    }
}

fn ledger_batches(c: &mut Criterion) {
    let (accounts, transfers_max) = if bench_mode() {
        (LEDGER_BENCH_ACCOUNTS, TRANSFERS_PER_LEDGER_MAX)
    } else {
        (LEDGER_TEST_MODE_ACCOUNTS, TRANSFERS_PER_LEDGER_TEST_MODE)
    };
    let mut group = c.benchmark_group("ledger_create_transfers");
    group.throughput(Throughput::Elements(TRANSFERS_PER_BATCH_MAX as u64));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(8));
    for (name, hot) in [("uniform_1m_accounts", false), ("hot_credit_account", true)] {
        let mut fixture = Fixture::new(accounts, hot, transfers_max);
        group.bench_function(name, |b| b.iter_custom(|batches| fixture.apply(batches)));
        fixture
            .ledger
            .check_invariants()
            .expect("invariants hold after the bench");
    }
    group.finish();
}

criterion_group!(benches, ledger_batches);
criterion_main!(benches);
