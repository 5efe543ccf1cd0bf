//! `kanjo reconcile --source bank|ic|operator --file F [--period FROM..TO]`: reads an outside
//! file (ops/formats/), compares it with kanjo's own items on the machine thread, prints matched,
//! missing on either side, amounts or counts that differ and duplicates, and logs the run
//! (`EntryKind::Reconciliation`) so that `GET /v1/reconciliations` and `/finance` show it and a
//! clerk can resolve its exceptions.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, bail};
use kanjo_core::reconcile::{
    Comparison, ExceptionKind, Period, RUN_ID_BYTES_MAX, ReconRun, RunHeader, Source, compare,
    kanjo, read_rows,
};

use crate::pipeline::{Engine, ReconRecord};

/// Exit status of `kanjo reconcile` when anything is unreconciled.
pub const EXIT_UNRECONCILED: u8 = 6;

#[derive(clap::Args, Clone, Debug)]
pub struct ReconcileOptions {
    /// bank (deposits and withdrawals), ic (the clearing house's daily file) or operator (its
    /// own daily rides and revenue).
    #[arg(long, value_parser = parse_source)]
    pub source: Source,
    /// The file, in the format of ops/formats/.
    #[arg(long)]
    pub file: std::path::PathBuf,
    /// Only these local days, both included: FROM..TO (2026-11-01..2026-11-30).
    #[arg(long, value_parser = Period::parse)]
    pub period: Option<Period>,
    /// The run's id; default `recon-{source}-{time}`. The same id and result again is one run.
    #[arg(long)]
    pub id: Option<String>,
    /// JSON instead of the table.
    #[arg(long)]
    pub json: bool,
}

fn parse_source(text: &str) -> Result<Source, String> {
    Source::parse(text).ok_or_else(|| format!("{text:?}: bank, ic or operator"))
}

/// A run's result: the stored run and the whole comparison (which may hold more exceptions than
/// the run stores).
pub struct Reconciled {
    pub run: ReconRun,
    pub comparison: Comparison,
}

/// Reads `file`, compares it with the machine, and logs the run. `at` is the shell's clock.
pub fn reconcile_file(
    engine: &Engine,
    source: Source,
    file: &Path,
    period: Option<Period>,
    id: Option<String>,
    at: jiff::Timestamp,
) -> anyhow::Result<Reconciled> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let name = file
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    reconcile_text(engine, source, &name, &text, period, id, at)
}

/// `reconcile_file` on text already read (the demo writes its files in memory too).
pub fn reconcile_text(
    engine: &Engine,
    source: Source,
    file_name: &str,
    text: &str,
    period: Option<Period>,
    id: Option<String>,
    at: jiff::Timestamp,
) -> anyhow::Result<Reconciled> {
    let (rows, outside) = read_rows(source, text, period)
        .with_context(|| format!("{file_name} ({} format)", source.code()))?;
    let expected =
        engine.query_blocking(move |machine| kanjo::expected(machine, source, period))?;
    let comparison = compare(&expected, &rows);
    let at_text = at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let id = id.unwrap_or_else(|| {
        // Letters between the digit runs: no run of 12 digits (which would read as a My Number).
        format!(
            "recon-{}-{}Z{:03}",
            source.code(),
            at.strftime("%Y%m%dT%H%M%S"),
            at.subsec_millisecond()
        )
    });
    if id.len() > RUN_ID_BYTES_MAX {
        bail!("a run id holds at most {RUN_ID_BYTES_MAX} bytes");
    }
    let header = RunHeader {
        id,
        source,
        file: file_name.chars().take(64).collect(),
        period,
        at: at_text,
    };
    let run = ReconRun::new(header, rows.len() as u64, outside, &comparison);
    run.check()?;
    engine.submit_recon_blocking(ReconRecord::Run(run.clone()))??;
    Ok(Reconciled { run, comparison })
}

/// The table a clerk reads: counts per kind, then every exception with its reference.
pub fn to_text(reconciled: &Reconciled) -> String {
    let run = &reconciled.run;
    let comparison = &reconciled.comparison;
    let mut out = String::new();
    let period = run
        .period
        .map(|p| format!("{}..{}", p.from, p.to))
        .unwrap_or_else(|| "全期間 (all)".into());
    let _ = writeln!(
        out,
        "照合 reconciliation {}: {} ({}) {} 期間 {period}",
        run.id,
        run.source.label_ja(),
        run.source.code(),
        run.file
    );
    let _ = writeln!(out, "  一致 matched            {:>8}", comparison.matched);
    for kind in ExceptionKind::ALL {
        let _ = writeln!(
            out,
            "  {:<22} {:>8}   ({})",
            kind.label_ja(),
            comparison.count(kind),
            kind.code()
        );
    }
    if run.outside_period > 0 {
        let _ = writeln!(out, "  期間外 outside period   {:>8}", run.outside_period);
    }
    for e in &comparison.exceptions {
        let amount = |v: Option<u64>| v.map_or("-".to_owned(), |v| format!("¥{v}"));
        let count = |v: Option<u64>| v.map_or("-".to_owned(), |v| v.to_string());
        let _ = writeln!(
            out,
            "  #{:<4} {:<16} {}  勘定 kanjo {} {}件  ファイル file {} {}件{}",
            e.n,
            e.kind.code(),
            e.reference,
            amount(e.kanjo_amount_yen),
            count(e.kanjo_count),
            amount(e.file_amount_yen),
            count(e.file_count),
            e.line.map_or(String::new(), |l| format!("  (line {l})"))
        );
    }
    let stored = run.exceptions.len() as u64;
    if stored < run.exceptions_total {
        let _ = writeln!(
            out,
            "  the run stores the first {stored} of {} exceptions; fix the cause and run again",
            run.exceptions_total
        );
    }
    out
}
