//! Append and replay throughput of the durable stores with full records of realistic entries.
//!
//! ```text
//! cargo run --release -p kanjo-store --example store_throughput -- [--records 40] [--backend both]
//! ```
//! SQLite writes to a fresh directory under the temp dir (or `--data-dir`); PostgreSQL to a fresh
//! `kanjo_test_*` database on `KANJO_TEST_PG_URL` (or a migrated `--pg-url`). Every append is a
//! durable commit, as in the engine. Records are built before timing, so only the store is measured.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use clap::{Parser, ValueEnum};
use kanjo_store::{
    EntryKind, LOG_ENTRIES_PER_RECORD_MAX, LogEntry, LogRecord, StoreTarget, testdb::TestDatabase,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Backend {
    Sqlite,
    Postgres,
    Both,
}

#[derive(Parser, Debug)]
struct Args {
    /// Records to append per store; each holds 8 190 entries.
    #[arg(long, default_value_t = 40)]
    records: u64,
    #[arg(long, value_enum, default_value_t = Backend::Both)]
    backend: Backend,
    /// SQLite data directory (must not hold a log yet); default: a fresh temp directory, removed after.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// A migrated PostgreSQL database with an empty log; default: a fresh test database, dropped after.
    #[arg(long)]
    pg_url: Option<String>,
}

const RIDERS_PER_RECORD: usize = 90; // new rider records mixed into the taps, as in a morning peak
const READ_PAGE_RECORDS: usize = 8;

/// One tap of a bus ride, ~150 bytes of canonical JSON like the engine's events.
fn tap_body(seq: u64, index: usize) -> Vec<u8> {
    let rider = (seq * 7_919 + index as u64 * 104_729) % 250_000;
    let stop = 1_000 + (index * 37) % 640;
    let minute = (index / 60) % 60;
    let second = index % 60;
    format!(
        r#"{{"at":"2026-04-01T07:{minute:02}:{second:02}.{:03}+09:00","device":"bus-{:04}","fare_minor":{},"kind":"tap","rider":"r-{rider:08x}","route":"muroran-{:02}","stop":"{stop}_{:02}"}}"#,
        index % 1_000,
        index % 180,
        180 + (index % 12) * 10,
        index % 23,
        index % 4,
    )
    .into_bytes()
}

fn rider_body(seq: u64, index: usize) -> Vec<u8> {
    format!(
        r#"{{"attributes":{{"age_band":"75+","licence_returned":true,"resident":"muroran"}},"rider":"r-{:08x}","valid_from":"2026-04-01"}}"#,
        (seq * 31 + index as u64) % 250_000
    )
    .into_bytes()
}

fn build_record(seq: u64) -> LogRecord {
    let entries = (0..LOG_ENTRIES_PER_RECORD_MAX)
        .map(|index| {
            if index < RIDERS_PER_RECORD {
                LogEntry {
                    kind: EntryKind::Rider,
                    id: format!("rider-{seq:06}-{index:04}"),
                    body: rider_body(seq, index),
                }
            } else {
                LogEntry {
                    kind: EntryKind::Event,
                    id: format!("tap-{seq:06}-{index:04}"),
                    body: tap_body(seq, index),
                }
            }
        })
        .collect();
    LogRecord {
        seq,
        clock_ns: 1_775_000_000_000_000_000 + seq * 50_000_000,
        entries,
    }
}

fn entry_bytes(record: &LogRecord) -> usize {
    record
        .entries
        .iter()
        .map(|entry| entry.id.len() + entry.body.len())
        .sum()
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    assert!(!sorted.is_empty());
    let rank = ((sorted.len() - 1) as f64 * fraction).round() as usize;
    sorted[rank]
}

fn measure(target: &StoreTarget, records: &[LogRecord]) -> anyhow::Result<()> {
    let mut store = kanjo_store::open(target).context("opening the store")?;
    let backend = store.backend();
    ensure!(store.last_seq()? == 0, "{backend}: the log must be empty");

    let entries: usize = records.iter().map(|record| record.entries.len()).sum();
    let bytes: usize = records.iter().map(entry_bytes).sum();
    let mut latencies = Vec::with_capacity(records.len());
    let started = Instant::now();
    for record in records {
        let append_started = Instant::now();
        store
            .append(record)
            .with_context(|| format!("{backend}: append seq {}", record.seq))?;
        latencies.push(append_started.elapsed());
    }
    let append_s = started.elapsed().as_secs_f64();
    latencies.sort();

    let started = Instant::now();
    let mut replayed = 0usize;
    let mut from_seq = 1;
    loop {
        let page = store.read(from_seq, READ_PAGE_RECORDS)?;
        let Some(last) = page.last() else { break };
        from_seq = last.seq + 1;
        for record in &page {
            ensure!(
                *record == records[(record.seq - 1) as usize],
                "seq {} differs",
                record.seq
            );
        }
        replayed += page
            .iter()
            .map(|record| record.entries.len())
            .sum::<usize>();
    }
    let read_s = started.elapsed().as_secs_f64();
    ensure!(
        replayed == entries,
        "{backend}: replayed {replayed} of {entries} entries"
    );
    let counted = store.count_entries(EntryKind::Event)? + store.count_entries(EntryKind::Rider)?;
    ensure!(
        counted == entries as u64,
        "{backend}: count_entries says {counted}"
    );

    let mb = bytes as f64 / 1e6;
    println!(
        "{backend:>8}: append {} records x {} entries ({:.0} B/entry): {:.2} s, {:>9.0} events/s, {:>6.1} MB/s; \
         per record p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        records.len(),
        LOG_ENTRIES_PER_RECORD_MAX,
        bytes as f64 / entries as f64,
        append_s,
        entries as f64 / append_s,
        mb / append_s,
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies[latencies.len() - 1].as_secs_f64() * 1e3,
    );
    println!(
        "{backend:>8}: replay {replayed} entries: {read_s:.2} s, {:>9.0} events/s, {:>6.1} MB/s",
        replayed as f64 / read_s,
        mb / read_s
    );
    Ok(())
}

fn run_sqlite(args: &Args, records: &[LogRecord]) -> anyhow::Result<()> {
    let (data_dir, temporary) = match &args.data_dir {
        Some(dir) => (dir.clone(), false),
        None => {
            let dir =
                std::env::temp_dir().join(format!("kanjo-store-throughput-{}", std::process::id()));
            (dir, true)
        }
    };
    let result = measure(
        &StoreTarget::Sqlite {
            data_dir: data_dir.clone(),
        },
        records,
    );
    if temporary {
        let _ = std::fs::remove_dir_all(&data_dir);
    }
    result
}

fn run_postgres(args: &Args, records: &[LogRecord]) -> anyhow::Result<()> {
    match &args.pg_url {
        Some(url) => measure(&StoreTarget::Postgres { url: url.clone() }, records),
        None => {
            let db = TestDatabase::create().context("creating a PostgreSQL database to measure")?;
            measure(
                &StoreTarget::Postgres {
                    url: db.url().to_owned(),
                },
                records,
            )
        }
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.records == 0 {
        bail!("--records must be at least 1");
    }
    let records: Vec<LogRecord> = (1..=args.records).map(build_record).collect();
    if matches!(args.backend, Backend::Sqlite | Backend::Both) {
        run_sqlite(&args, &records)?;
    }
    if matches!(args.backend, Backend::Postgres | Backend::Both) {
        run_postgres(&args, &records)?;
    }
    Ok(())
}
