//! `kanjo settle` and `kanjo payout --confirm` (issue 10): each is one logged command through
//! the pipeline, so it is durable before it is answered and replayed on every start.
//! `kanjo payout` without `--confirm` writes the settlement's Zengin payout file on a read-only
//! engine and logs nothing.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use kanjo_core::settlement::payout_file::paid_in_yen;
use kanjo_core::settlement::{FinanceAnswer, FinanceCommand, PayoutCommand, SettleCommand};
use kanjo_engine::machine::Machine;
use kanjo_engine::pipeline::Engine;

use super::EngineArgs;

#[derive(Args)]
pub struct SettleArgs {
    #[command(flatten)]
    engine: EngineArgs,
    /// Close every open day through this local date (YYYY-MM-DD, the programme's time zone).
    #[arg(long)]
    through: String,
}

#[derive(Args)]
pub struct PayoutArgs {
    #[command(flatten)]
    engine: EngineArgs,
    /// The settlement (settle-YYYY-MM-DD).
    #[arg(long)]
    settlement: String,
    /// Record that the bank paid (what is left of) the payables. Without it, `kanjo payout`
    /// writes the 全銀 総合振込 file of what is unpaid and records nothing.
    #[arg(long)]
    confirm: bool,
    /// 振込指定日 of the file (YYYY-MM-DD); default: tomorrow in the programme's time zone.
    #[arg(long, conflicts_with = "confirm")]
    transfer_date: Option<String>,
    /// Write the file here (replaced whole, never half-written); default: standard output.
    #[arg(long, conflicts_with = "confirm")]
    out: Option<std::path::PathBuf>,
    /// Only this party (operator:{op} or shop:{shop}); absent: every party of the settlement.
    #[arg(long)]
    party: Option<String>,
    /// Only this asset's payable; absent: every payable the Zengin file pays (JPY and town
    /// points, ¥1 a point).
    #[arg(long)]
    asset: Option<String>,
    /// The bank's reference for the transfer.
    #[arg(long)]
    bank_reference: Option<String>,
}

/// Submits one finance command and waits until it is durable.
fn submit(engine: &Engine, command: FinanceCommand) -> anyhow::Result<FinanceAnswer> {
    let mut results = engine
        .submit_finance(vec![command])?
        .blocking_recv()
        .context("the engine stopped")??;
    let result = results.pop().context("one answer per command")?;
    result.map_err(|refusal| anyhow::anyhow!("{} ({})", refusal, refusal.code()))
}

pub fn settle(args: SettleArgs) -> anyhow::Result<ExitCode> {
    let command = SettleCommand {
        through: args.through,
    };
    command.check()?;
    let engine = args.engine.start()?;
    let answer = submit(&engine, FinanceCommand::Settle(command));
    engine.shutdown();
    println!("{}", serde_json::to_string_pretty(&answer?)?);
    Ok(ExitCode::SUCCESS)
}

pub fn payout(args: PayoutArgs) -> anyhow::Result<ExitCode> {
    if !args.confirm {
        return payout_file(args);
    }
    let engine = args.engine.start()?;
    let (settlement, party, asset) = (args.settlement.clone(), args.party.clone(), args.asset);
    // What is still unpaid, per party: read on the machine, then one payout each.
    let owed = engine.query_blocking(move |machine: &Machine| {
        let book = machine.settle_book();
        book.settlement(&settlement).map(|found| {
            found
                .payables
                .iter()
                .filter(|p| match &asset {
                    Some(asset) => p.asset == *asset,
                    None => paid_in_yen(machine, &p.asset),
                })
                .filter(|p| party.as_ref().is_none_or(|x| *x == p.party))
                .map(|p| {
                    let paid = book.paid_minor(&found.id, &p.party, &p.asset);
                    (
                        p.party.clone(),
                        p.asset.clone(),
                        book.unpaid_minor(&found.id, &p.party, &p.asset),
                        paid,
                    )
                })
                .collect::<Vec<_>>()
        })
    })?;
    let Some(owed) = owed else {
        engine.shutdown();
        bail!("no settlement {}", args.settlement);
    };
    let mut records = Vec::new();
    for (party, asset, left, paid) in owed {
        if left == 0 {
            continue;
        }
        let command = PayoutCommand {
            // Deterministic: running the same confirmation twice pays nothing twice.
            id: format!("payout:{}:{party}:{asset}:{paid}", args.settlement),
            settlement: args.settlement.clone(),
            party,
            asset,
            amount_minor: left,
            bank_reference: args.bank_reference.clone(),
        };
        command.check()?;
        match submit(&engine, FinanceCommand::Payout(command)) {
            Ok(answer) => records.push(answer),
            Err(error) => {
                engine.shutdown();
                return Err(error);
            }
        }
    }
    engine.shutdown();
    println!("{}", serde_json::to_string_pretty(&records)?);
    Ok(ExitCode::SUCCESS)
}

/// The settlement's Zengin payout file, on a read-only engine: every payee checked before a
/// byte is written; a refusal names every bad payee and writes nothing.
fn payout_file(args: PayoutArgs) -> anyhow::Result<ExitCode> {
    use kanjo_core::settlement::payout_file as file;
    let date = args
        .transfer_date
        .as_deref()
        .map(file::parse_transfer_date)
        .transpose()?;
    let engine = args.engine.start_read_only()?;
    let settlement = args.settlement.clone();
    let made = engine.query_blocking(move |machine: &Machine| {
        let date =
            date.unwrap_or_else(|| file::default_transfer_date(machine, jiff::Timestamp::now()));
        file::payout_file(machine, &settlement, date)
    })?;
    engine.shutdown();
    let bytes = made.map_err(|error| anyhow::anyhow!("{error} ({})", error.code()))?;
    match &args.out {
        Some(path) => write_whole(path, &bytes)?,
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(&bytes)?;
            stdout.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes a temporary file beside `path` and renames it over `path`: a reader sees the whole
/// file or none.
fn write_whole(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".partial");
    let temporary = std::path::PathBuf::from(temporary);
    std::fs::write(&temporary, bytes)
        .with_context(|| format!("writing {}", temporary.display()))?;
    std::fs::rename(&temporary, path).with_context(|| format!("writing {}", path.display()))
}

#[derive(Args)]
pub struct StatementArgs {
    #[command(flatten)]
    engine: EngineArgs,
    /// The settlement (settle-YYYY-MM-DD).
    #[arg(long)]
    settlement: String,
    /// operator:{op} or shop:{shop}; absent: every party of the settlement (XLSX: one sheet
    /// each, JSON: an array, CSV: each party's rows in turn under one header).
    #[arg(long)]
    party: Option<String>,
    /// json, csv (UTF-8 with a BOM, CR LF, Japanese labels with English) or xlsx.
    #[arg(long, default_value = "json", value_parser = ["json", "csv", "xlsx"])]
    format: String,
    /// Write the file here instead of stdout. XLSX is binary: without --out it is written to
    /// stdout only when stdout is not a terminal (`> statement.xlsx`).
    #[arg(long)]
    out: Option<std::path::PathBuf>,
}

/// A party's (or every party's) statement on a read-only engine: checked against the ledger
/// when it is made.
pub fn statement(args: StatementArgs) -> anyhow::Result<ExitCode> {
    use std::io::{IsTerminal, Write};

    use kanjo_engine::statement_file::{StatementFormat, render};

    let format: StatementFormat = args.format.parse()?;
    if format == StatementFormat::Xlsx && args.out.is_none() && std::io::stdout().is_terminal() {
        bail!("XLSX is binary: pass --out FILE or redirect stdout to a file");
    }
    let engine = args.engine.start_read_only()?;
    let (settlement, party) = (args.settlement.clone(), args.party.clone());
    let made = engine.query_blocking(move |machine: &Machine| {
        use kanjo_core::report::statement::{statement, statements};
        match &party {
            Some(party) => statement(machine, &settlement, party).map(|one| vec![one]),
            None => statements(machine, &settlement),
        }
    })?;
    engine.shutdown();
    let bytes = render(&made?, format, args.party.is_none())?;
    match &args.out {
        Some(path) => {
            std::fs::write(path, &bytes).with_context(|| format!("write {}", path.display()))?
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(&bytes)?;
            if format == StatementFormat::Json {
                stdout.write_all(b"\n")?;
            }
            stdout.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
