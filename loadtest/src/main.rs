//! `kanjo-load`: see the crate docs (lib.rs) and `kanjo-load --help`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kanjo_loadtest::ledger::LedgerArgs;
use kanjo_loadtest::run::{CommuterArgs, ElectionArgs, run_commuter, run_election};
use kanjo_loadtest::shops::{ShopsArgs, run_shops};
use kanjo_loadtest::summary::Summary;

#[derive(Parser)]
#[command(
    name = "kanjo-load",
    version,
    about = "Peak-commuter and election-day load: kanjo vs a naive PostgreSQL ledger"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The Muroran feed's morning, scaled: taps on real stop sequences, 07:30–08:30 peak.
    Commuter(CommuterArgs),
    /// A city votes: ballots granted, early votes, 07:00–20:00 check-ins, 2 % retries rejected.
    Election(ElectionArgs),
    /// A festival day: 50 000 residents paying at 300 shops with points, SUZU and yen.
    Shops(ShopsArgs),
    /// The in-process ledger benchmark: transfers straight into `kanjo_ledger`, no I/O.
    Ledger(LedgerArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command_line = std::env::args().collect::<Vec<_>>().join(" ");
    let (result, json) = match cli.command {
        Command::Commuter(args) => {
            let json = args.common.json;
            (run_commuter(&args, command_line), json)
        }
        Command::Election(args) => {
            let json = args.common.json;
            (run_election(&args, command_line), json)
        }
        Command::Shops(args) => {
            let json = args.common.json;
            (run_shops(&args, command_line), json)
        }
        Command::Ledger(args) => return run_ledger(&args),
    };
    match result {
        Ok(summary) => finish(&summary, json),
        Err(error) => {
            eprintln!("kanjo-load: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_ledger(args: &LedgerArgs) -> ExitCode {
    match kanjo_loadtest::ledger::run(args) {
        Ok(report) => {
            if args.json {
                println!("{}", report.to_json());
            } else {
                println!("{}", report.to_text());
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("kanjo-load ledger: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn finish(summary: &Summary, json: bool) -> ExitCode {
    if json {
        match serde_json::to_string(summary) {
            Ok(text) => println!("{text}"),
            Err(error) => {
                eprintln!("kanjo-load: {error}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        print!("{}", summary.to_text());
    }
    // A run whose checks fail fails, whatever its speed.
    if summary.correct {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
