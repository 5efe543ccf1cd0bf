//! `kanjo demo --month`: November in Muroran end to end. Residents top up at the bank, ride the
//! town bus with IC cards or cash, shop; offline validators upload two days late, across the
//! month end. Then the month is reconciled against the bank's statement, the IC clearing
//! house's file and the operator's own counts, which the demo writes (with four planted
//! discrepancies) into the data directory, and the runs are logged for `/finance`.
//!
//! Before reconciling, the month is closed (`settle` through its last day) and each party's
//! statement is written as JSON and CSV into `{data}/statements/`.
//!
//! The close also writes the 全銀 総合振込 payout file beside the statements. The steps are one
//! function each, in `run`'s order.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, bail};

use crate::answer::Outcome;
use crate::demo::DemoArgs;
use crate::event::{EventKind, Media};
use crate::pipeline::{Engine, EngineConfig, SUBMISSION_EVENTS_MAX};
use crate::reconcile_cli::{self, Reconciled};
use crate::store::StoreTarget;
use crate::workload::month::MONTH_OPERATOR;
use crate::workload::{Month, MonthConfig, Planned};
use kanjo_core::reconcile::{Period, Source};
use kanjo_core::report::statement::{Statement, statement};
use kanjo_core::settlement::payout_file::{payout_file, unpaid_yen};
use kanjo_core::settlement::{FinanceAnswer, FinanceCommand, SettleCommand, Settlement};

/// What the pipeline answered for the month's events.
#[derive(Debug, Default)]
pub struct MonthTally {
    pub events: u64,
    pub accepted: u64,
    /// Refused events: id and code (none are expected).
    pub rejected: Vec<(String, String)>,
}

/// Submits the month's events in upload order, a submission at a time.
pub fn submit_month(engine: &Engine, month: &Month) -> anyhow::Result<MonthTally> {
    let mut tally = MonthTally::default();
    let events = month.events();
    for chunk in events.chunks(SUBMISSION_EVENTS_MAX) {
        for answer in engine.submit(chunk.to_vec())? {
            tally.events += 1;
            match answer.outcome {
                Outcome::Rejected(rejection) => tally
                    .rejected
                    .push((answer.id, rejection.code.code().to_owned())),
                _ => tally.accepted += 1,
            }
        }
    }
    Ok(tally)
}

/// Closes every open day through `last` (the month's last day): one logged command.
pub fn close_month(engine: &Engine, last: jiff::civil::Date) -> anyhow::Result<Settlement> {
    let command = SettleCommand {
        through: last.to_string(),
    };
    command.check()?;
    let mut results = engine
        .submit_finance(vec![FinanceCommand::Settle(command)])?
        .blocking_recv()
        .context("the engine stopped")??;
    match results.pop().context("one answer per command")? {
        Ok(FinanceAnswer::Settled(settlement)) => Ok(settlement),
        Ok(other) => bail!("a settle command answered {other:?}"),
        Err(refusal) => bail!("closing the month: {refusal} ({})", refusal.code()),
    }
}

/// The parties a settlement names (lines or payables), in order.
fn parties(settlement: &Settlement) -> Vec<String> {
    let mut parties: Vec<String> = settlement
        .lines
        .iter()
        .map(|line| line.party.clone())
        .chain(settlement.payables.iter().map(|p| p.party.clone()))
        .collect();
    parties.sort();
    parties.dedup();
    parties
}

/// Each party's statement, made on the machine (checked against the ledger as it is made),
/// written as `{dir}/{settlement}/{party}.json` and `.csv` (`:` in a party becomes `_`).
pub fn write_statements(
    engine: &Engine,
    dir: &Path,
    settlement: &Settlement,
) -> anyhow::Result<Vec<Statement>> {
    let folder = dir.join(&settlement.id);
    std::fs::create_dir_all(&folder).with_context(|| format!("creating {}", folder.display()))?;
    let mut written = Vec::new();
    for party in parties(settlement) {
        let (id, who) = (settlement.id.clone(), party.clone());
        let made = engine
            .query_blocking(move |machine| statement(machine, &id, &who))?
            .with_context(|| format!("the statement of {party}"))?;
        let stem = party.replace(':', "_");
        let json = serde_json::to_string_pretty(&made)? + "\n";
        for (name, text) in [
            (format!("{stem}.json"), json),
            (format!("{stem}.csv"), made.to_csv()),
        ] {
            let path = folder.join(name);
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        }
        written.push(made);
    }
    Ok(written)
}

/// Days after the month's last day on which the bank pays the payables.
const PAYOUT_DAYS_AFTER_CLOSE: i64 = 10;

/// The 総合振込 file of `settlement` as `{dir}/{settlement}/furikomi.txt`, on a fixed transfer
/// date so the demo's bytes are the same every run; returns a line saying what it pays.
pub fn write_payout_file(
    engine: &Engine,
    dir: &Path,
    settlement: &Settlement,
    transfer_date: jiff::civil::Date,
) -> anyhow::Result<String> {
    let id = settlement.id.clone();
    let date = kanjo_rules::LocalDate::from_jiff(transfer_date);
    let (bytes, unpaid) = engine.query_blocking(move |machine| {
        let bytes = payout_file(machine, &id, date)?;
        Ok::<_, kanjo_core::settlement::payout_file::PayoutFileError>((
            bytes,
            unpaid_yen(machine, &id)?,
        ))
    })??;
    let path = dir.join(&settlement.id).join("furikomi.txt");
    std::fs::write(&path, &bytes).with_context(|| format!("writing {}", path.display()))?;
    let total: u64 = unpaid.iter().map(|payee| payee.amount_yen).sum();
    Ok(format!(
        "全銀 総合振込 (Zengin payout file): {} payees, ¥{total}, transfer date {transfer_date}: {}",
        unpaid.len(),
        path.display()
    ))
}

/// What the close moved: per party and asset, the net payable; and the totals per asset.
pub fn close_summary(settlement: &Settlement, statements: &[Statement]) -> String {
    let mut out = format!(
        "月次締め (month closed): {} through {}, {} parties\n",
        settlement.id,
        settlement.through,
        statements.len()
    );
    let mut totals: BTreeMap<&str, u64> = BTreeMap::new();
    for payable in &settlement.payables {
        let _ = writeln!(
            out,
            "  支払予定 payable  {:<28} {:>12} {}",
            payable.party, payable.amount_minor, payable.asset
        );
        *totals.entry(&payable.asset).or_default() += payable.amount_minor;
    }
    for (asset, total) in &totals {
        let _ = writeln!(out, "  合計 total        {:<28} {total:>12} {asset}", "");
    }
    // Paid by the IC clearing house, not in the Zengin file.
    for receivable in &settlement.receivables {
        let _ = writeln!(
            out,
            "  IC精算受取 IC receivable {:<21} {:>12} {}",
            receivable.party, receivable.amount_minor, receivable.asset
        );
    }
    for carried in &settlement.carried {
        let _ = writeln!(
            out,
            "  繰越 carried      {:<28} {:>12} {} ({})",
            carried.party, carried.amount_minor, carried.asset, carried.reason
        );
    }
    out
}

/// The outside world's files for the demo, from the month's plan: the bank's statement, the IC
/// clearing file and the operator's counts, with one planted discrepancy of each kind the issue
/// names (a missing top-up, a duplicated IC line, a deposit off by ¥10, a day short by one ride).
pub struct OutsideFiles {
    pub bank: String,
    pub ic: String,
    pub operator: String,
}

pub fn outside_files(plan: &[Planned], fare_yen: u64) -> OutsideFiles {
    let mut bank = String::from("date,reference,type,amount\n");
    let mut ic_days: BTreeMap<String, u64> = BTreeMap::new();
    let mut rides: BTreeMap<String, u64> = BTreeMap::new();
    let mut topups = 0usize;
    for planned in plan {
        let day = planned.day.to_string();
        match &planned.event.kind {
            EventKind::Topup(topup) => {
                topups += 1;
                let amount = if topups == 7 {
                    topup.amount_minor - 10
                } else {
                    topup.amount_minor
                };
                if topups != 3 {
                    let _ = writeln!(bank, "{day},{},deposit,{amount}", planned.event.id);
                }
            }
            EventKind::Ride(ride) => {
                *rides.entry(day.clone()).or_default() += 1;
                if ride.media == Media::Ic {
                    *ic_days.entry(day).or_default() += fare_yen;
                }
            }
            _ => {}
        }
    }
    let mut ic = String::from("date,operator,amount_yen\n");
    for (i, (day, amount)) in ic_days.iter().enumerate() {
        let line = format!("{day},{MONTH_OPERATOR},{amount}\n");
        ic.push_str(&line);
        if i == 4 {
            ic.push_str(&line);
        }
    }
    let mut operator = String::from("date,operator,rides,revenue_yen\n");
    for (i, (day, count)) in rides.iter().enumerate() {
        let count = if i == 10 { count - 1 } else { *count };
        let _ = writeln!(
            operator,
            "{day},{MONTH_OPERATOR},{count},{}",
            count * fare_yen
        );
    }
    OutsideFiles { bank, ic, operator }
}

/// Writes the three files into `dir` and reconciles each; IC and operator over the month.
pub fn reconcile_month(
    engine: &Engine,
    dir: &Path,
    files: &OutsideFiles,
    period: Period,
) -> anyhow::Result<Vec<Reconciled>> {
    let at = jiff::Timestamp::now();
    let runs = [
        (Source::Bank, "bank-statement.csv", &files.bank, None),
        (Source::Ic, "ic-clearing.csv", &files.ic, Some(period)),
        (
            Source::Operator,
            "operator-rides.csv",
            &files.operator,
            Some(period),
        ),
    ];
    let mut done = Vec::new();
    for (source, name, text, period) in runs {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        let id = format!("recon-{}-{}", source.code(), at.strftime("%Y%m%dT%H%M%S"));
        done.push(reconcile_cli::reconcile_file(
            engine,
            source,
            &path,
            period,
            Some(id),
            at,
        )?);
    }
    Ok(done)
}

pub fn run(args: &DemoArgs) -> anyhow::Result<()> {
    let programme = args
        .programme
        .clone()
        .unwrap_or_else(crate::demo::default_programme);
    if args.data.exists() {
        std::fs::remove_dir_all(&args.data)
            .with_context(|| format!("emptying {}", args.data.display()))?;
    }
    println!(
        "kanjo demo --month: November 2026 in 室蘭市 (Muroran), store {}",
        args.data.display()
    );
    let engine = Engine::start(EngineConfig::new(
        StoreTarget::Sqlite {
            data_dir: args.data.clone(),
        },
        &programme,
    ))
    .with_context(|| format!("starting kanjo with {}", programme.display()))?;
    let month = Month::new(MonthConfig::november(args.seed));

    // 1. The month as kanjo receives it (late uploads last).
    let tally = submit_month(&engine, &month)?;
    println!(
        "{} events: {} accepted, {} refused",
        tally.events,
        tally.accepted,
        tally.rejected.len()
    );
    if let Some((id, code)) = tally.rejected.first() {
        bail!("the month's event {id} was refused ({code})");
    }

    // 2. Month-end close through the last day, and each party's statement (JSON, CSV).
    let first = month.config().first_day;
    let last = first + jiff::Span::new().days(i64::from(month.config().days) - 1);
    let settlement = close_month(&engine, last)?;
    let statements_dir = args.data.join("statements");
    let statements = write_statements(&engine, &statements_dir, &settlement)?;
    println!("\n{}", close_summary(&settlement, &statements));
    let workbook = statements_dir.join(&settlement.id).join("statements.xlsx");
    let xlsx = crate::statement_file::to_xlsx(&statements).context("the XLSX statements")?;
    std::fs::write(&workbook, xlsx).with_context(|| format!("writing {}", workbook.display()))?;
    println!(
        "statements (JSON, CSV; XLSX, one sheet per party: {}): {}",
        workbook.display(),
        statements_dir.join(&settlement.id).display()
    );

    // 2b. The 全銀 payout file for what the close made payable, paid ten days after the month.
    let transfer_date = last + jiff::Span::new().days(PAYOUT_DAYS_AFTER_CLOSE);
    let furikomi = write_payout_file(&engine, &statements_dir, &settlement, transfer_date)?;
    println!("{furikomi}");

    // 3. Reconciliation against the outside world's files.
    let period = Period {
        from: kanjo_rules::LocalDate::from_jiff(first),
        to: kanjo_rules::LocalDate::from_jiff(last),
    };
    let files = outside_files(&month.plan(), 100);
    let runs = reconcile_month(&engine, &args.data, &files, period)?;
    for reconciled in &runs {
        println!("\n{}", reconcile_cli::to_text(reconciled));
    }
    engine.shutdown();
    println!(
        "Open the finance page: `kanjo serve --data {}` then http://127.0.0.1:8080/finance",
        args.data.display()
    );
    Ok(())
}
