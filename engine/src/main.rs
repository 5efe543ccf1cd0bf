//! `kanjo`: the command line over kanjo-engine. Each subcommand is a few lines over the library.

use std::convert::Infallible;
use std::io::{BufRead, BufWriter, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use kanjo_engine::answer::Outcome;
use kanjo_engine::api::{self, ApiState};
use kanjo_engine::machine::Machine;
use kanjo_engine::pipeline::{Engine, EngineConfig, SUBMISSION_EVENTS_MAX};
use kanjo_engine::recovery::{FailureKind, RECOVERY_TIMEOUT_S_DEFAULT, RECOVERY_TIMEOUT_S_MAX};
use kanjo_engine::report::{self, OperatorDay, TrialBalance};
use kanjo_engine::store::{self, StoreTarget};
use kanjo_engine::verify;

mod finance_cli;
mod keys_cli;
mod qr_cli;

#[derive(Parser)]
#[command(
    name = "kanjo",
    version,
    about = "勘定: fares, benefits, points and entitlements on one double-entry ledger"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP API.
    #[command(after_help = SERVE_AFTER_HELP)]
    Serve(ServeArgs),
    /// Rate events against a programme (pure; writes nothing): the `kanjo rate` contract.
    Rate(RateArgs),
    /// Feed an NDJSON file of events (and optionally riders) through the pipeline.
    Import(ImportArgs),
    /// Apply the PostgreSQL migrations in ops/sql (the embedded store needs none).
    Migrate(StoreArgs),
    /// Show an account's balances, by name (rider:r-001:JPY) or 32-hex id.
    Balance(BalanceArgs),
    /// Statements: the trial balance, the per-operator settlement report, or the shop statement.
    Report(ReportArgs),
    /// Run a morning in Muroran end to end on the embedded store and print the reports.
    Demo(kanjo_engine::demo::DemoArgs),
    /// Recompute the log's hash chain, replay it, and check both against each other and an
    /// expected (published) head; exits 5 on any difference.
    Verify(VerifyArgs),
    /// API keys: create (prints the bearer token once), list, revoke; on the store, or through a
    /// running server with --server.
    Keys(keys_cli::KeysArgs),
    /// Shop payment QR codes: a shop's static EMVCo payload and PNG, and a payload validator.
    Qr(qr_cli::QrArgs),
    /// Programme versions: apply a new programme from an instant on (the books go on).
    #[command(subcommand)]
    Programme(ProgrammeCommand),
    /// Close every open day through a date: subsidy and shop receipts into payables (one logged
    /// command, idempotent per date).
    Settle(finance_cli::SettleArgs),
    /// Record that the bank paid a settlement's payables (--confirm).
    Payout(finance_cli::PayoutArgs),
    /// A party's (or every party's) statement for a settlement: JSON, CSV (with a BOM) or XLSX.
    Statement(finance_cli::StatementArgs),
    /// Compare an outside file (bank statement, IC clearing, operator rides) with the ledger and
    /// log the run; exits 6 when anything is unreconciled.
    Reconcile(ReconcileArgs),
}

#[derive(Subcommand)]
enum ProgrammeCommand {
    /// Validate a new programme completely, keep its source in the store, and log it as the
    /// version in effect from `--effective` (event time) on. Idempotent per file and instant.
    Apply(ProgrammeApplyArgs),
    /// What a new programme changes for riders (writes nothing): fares per origin–destination
    /// pair (count, largest rises and cuts), rules added, removed or changed, budgets.
    Diff {
        /// The programme in effect now.
        old: PathBuf,
        /// The programme to compare it with.
        new: PathBuf,
    },
}

#[derive(Args)]
struct ProgrammeApplyArgs {
    /// The new programme (TOML; its GTFS folders are read now and kept in the store).
    file: PathBuf,
    /// When it takes effect, RFC 3339 with an offset, e.g. 2027-04-01T00:00:00+09:00.
    #[arg(long)]
    effective: jiff::Timestamp,
    #[command(flatten)]
    engine: EngineArgs,
    /// A running kanjo (host:port) to post the version to (`POST /v1/programme`) instead of
    /// writing the store, with a town-admin token in KANJO_TOKEN.
    #[arg(long)]
    server: Option<String>,
}

#[derive(Args)]
struct ReconcileArgs {
    #[command(flatten)]
    engine: EngineArgs,
    #[command(flatten)]
    options: kanjo_engine::reconcile_cli::ReconcileOptions,
}

#[derive(Args, Clone)]
struct StoreArgs {
    /// Embedded store directory (SQLite, no server).
    #[arg(long, default_value = "kanjo-data", conflicts_with = "database_url")]
    data: PathBuf,
    /// PostgreSQL instead of the embedded store, e.g. postgres://postgres@127.0.0.1:5432/kanjo
    #[arg(long)]
    database_url: Option<String>,
}

impl StoreArgs {
    fn target(&self) -> StoreTarget {
        match &self.database_url {
            Some(url) => StoreTarget::Postgres { url: url.clone() },
            None => StoreTarget::Sqlite {
                data_dir: self.data.clone(),
            },
        }
    }
}

#[derive(Args, Clone)]
struct EngineArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// The programme (TOML). Remembered by the store, so later commands may leave it out.
    #[arg(long)]
    programme: Option<PathBuf>,
    /// Close a group commit this long after its first event (microseconds).
    #[arg(long, default_value_t = 2_000)]
    batch_wait_us: u64,
    /// Events that may wait in the queue before submitters get "queue full" (HTTP 429).
    #[arg(long, default_value_t = 8 * SUBMISSION_EVENTS_MAX)]
    queue_events_max: usize,
}

impl EngineArgs {
    /// An engine that writes: takes the store's writer lock.
    fn start(&self) -> anyhow::Result<Engine> {
        self.start_with(false, RECOVERY_TIMEOUT_S_DEFAULT)
    }

    /// An engine for reports and balances: replays, writes nothing, works beside a live server.
    fn start_read_only(&self) -> anyhow::Result<Engine> {
        self.start_with(true, RECOVERY_TIMEOUT_S_DEFAULT)
    }

    fn start_with(&self, read_only: bool, recovery_timeout_s: u64) -> anyhow::Result<Engine> {
        let target = self.store.target();
        let programme = self.programme_path(&target)?;
        let mut config = EngineConfig::new(target.clone(), programme.clone());
        config.batch_wait_us = self.batch_wait_us;
        config.queue_events_max = self.queue_events_max;
        config.read_only = read_only;
        config.recovery_timeout = std::time::Duration::from_secs(recovery_timeout_s);
        Engine::start(config).with_context(|| format!("starting kanjo on {}", describe(&target)))
    }

    fn programme_path(&self, target: &StoreTarget) -> anyhow::Result<PathBuf> {
        if let Some(path) = &self.programme {
            return std::fs::canonicalize(path)
                .with_context(|| format!("programme {}", path.display()));
        }
        match kanjo_engine::pipeline::stored_programme_path(target)
            .with_context(|| format!("opening {}", describe(target)))?
        {
            Some(path) => Ok(path),
            None => bail!(
                "{} has no programme yet: pass --programme PROGRAMME.toml",
                describe(target)
            ),
        }
    }
}

fn describe(target: &StoreTarget) -> String {
    match target {
        StoreTarget::Sqlite { data_dir } => format!("the embedded store in {}", data_dir.display()),
        StoreTarget::Postgres { url } => {
            format!("PostgreSQL at {}", kanjo_privacy::redact_database_url(url))
        }
    }
}

/// Exit status of `kanjo serve` when the store failed while serving (see `SERVE_AFTER_HELP`).
const EXIT_STORE_UNREACHABLE: u8 = 3;
const EXIT_STORE_REFUSED: u8 = 4;

const SERVE_AFTER_HELP: &str = "\
Store failures:
  A commit that fails transiently (a lost database connection, a PostgreSQL restart or
  failover, a busy or failing disk) is retried in the process: kanjo reconnects with backoff
  (50 ms doubling to 2 s), takes the writer lock again, checks that the log ends where it
  expects, finds by seq whether a commit whose outcome was unknown went through, and appends
  what is missing. Meanwhile requests get 503 with Retry-After and GET /healthz says
  \"recovering\"; the requests whose events are being committed wait for their answers.

  If that fails for longer than --recovery-timeout-s, or the store refuses for good (another
  writer appended, a conflicting or corrupt record, a read-only database, a failed fsync),
  kanjo answers every pending request with 503 and exits non-zero. A supervisor (systemd
  Restart=on-failure) restarts it; the restart replays the log, and nothing acknowledged is lost.

Exit status:
  0  stopped by SIGTERM or SIGINT after answering requests in flight
  1  could not start (programme, store unreachable or in use by another writer, replay)
  2  usage error
  3  the store stayed unreachable for longer than --recovery-timeout-s (or a SIGTERM or
     SIGINT came while it was being reconnected: the waiting requests got 503)
  4  the store refused for good (another writer, corrupt or read-only log, failed fsync)";

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    engine: EngineArgs,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// How long a commit that failed transiently is retried before kanjo exits (status 3);
    /// 0 exits at the first failed commit.
    #[arg(
        long,
        default_value_t = RECOVERY_TIMEOUT_S_DEFAULT,
        value_parser = clap::value_parser!(u64).range(0..=RECOVERY_TIMEOUT_S_MAX)
    )]
    recovery_timeout_s: u64,
    /// Serve /metrics without a key (for a scraper that can't send one). By default /metrics
    /// needs a key whose role may read metrics (auditor).
    #[arg(long)]
    metrics_open: bool,
    /// Requests per second one API key may make on average (then 429 with Retry-After).
    #[arg(long, default_value_t = kanjo_engine::api::auth::RATE_PER_SECOND_DEFAULT)]
    rate_per_second: u32,
    /// Requests one API key may send at once above its rate.
    #[arg(long, default_value_t = kanjo_engine::api::auth::RATE_BURST_DEFAULT)]
    rate_burst: u32,
    /// Serve HTTPS with this PEM certificate chain (leaf first); needs --tls-key. Without both,
    /// kanjo serves plain HTTP (put it behind a TLS reverse proxy: README "TLS").
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

#[derive(Args)]
struct RateArgs {
    #[arg(long)]
    programme: PathBuf,
    #[arg(long)]
    riders: PathBuf,
    #[arg(long)]
    events: PathBuf,
}

#[derive(Args)]
struct ImportArgs {
    #[command(flatten)]
    engine: EngineArgs,
    /// NDJSON events.
    file: Option<PathBuf>,
    /// NDJSON rider records, loaded before the events.
    #[arg(long)]
    riders: Option<PathBuf>,
    /// Print every answer (NDJSON: each rider record, then each event) instead of a summary.
    #[arg(long)]
    answers: bool,
}

#[derive(Args)]
struct BalanceArgs {
    #[command(flatten)]
    engine: EngineArgs,
    account: String,
}

#[derive(Args)]
struct VerifyArgs {
    #[command(flatten)]
    engine: EngineArgs,
    /// A published chain head the log must still pass through, as `kanjo report trial-balance`
    /// prints it: SEQ:HEX.
    #[arg(long, value_parser = kanjo_engine::verify::parse_head)]
    expect_head: Option<store::ChainHead>,
}

#[derive(Args)]
struct ReportArgs {
    #[command(subcommand)]
    report: ReportKind,
}

#[derive(Subcommand)]
enum ReportKind {
    /// Per asset: total debits and credits; exits non-zero if they differ.
    TrialBalance(ReportCommon),
    /// Per operator and day: rides, fares, paid by riders, subsidy due per budget, cap waived.
    Operators(ReportCommon),
    /// Per shop, day and asset: sales, fees, refunds and net (店舗 / 日付 / 資産 / 売上 …).
    Shops(ReportCommon),
    /// Per pass product: passes issued and rides covered; what passes owe each operator per day.
    Passes(ReportCommon),
    /// Per day: how much of a points asset will lapse (its last usable day, local time).
    Expiry(ExpiryArgs),
    /// Per fiscal year and asset: points that lapsed to `expired:{asset}` (年度 / 資産 / 失効額).
    Breakage(BreakageArgs),
}

#[derive(Args)]
struct BreakageArgs {
    #[command(flatten)]
    common: ReportCommon,
    /// Only this points asset; absent: every asset.
    #[arg(long)]
    asset: Option<String>,
}

#[derive(Args)]
struct ExpiryArgs {
    #[command(flatten)]
    common: ReportCommon,
    /// The points asset.
    #[arg(long)]
    asset: String,
    /// How many days ahead to look (1..=400).
    #[arg(long, default_value_t = 30)]
    within_days: u32,
    /// Look ahead from this instant (RFC 3339); absent: now.
    #[arg(long)]
    from: Option<jiff::Timestamp>,
}

#[derive(Args)]
struct ReportCommon {
    #[command(flatten)]
    engine: EngineArgs,
    /// JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// A read-only report: replays the store, reads the machine once, prints JSON or the table.
/// `read` fails only for a bad argument (an unknown asset), which is the command's error.
fn print_report<T, E>(
    common: &ReportCommon,
    read: impl FnOnce(&Machine) -> Result<T, E> + Send + 'static,
    to_text: impl FnOnce(&T) -> String,
) -> anyhow::Result<ExitCode>
where
    T: serde::Serialize + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    let engine = common.engine.start_read_only()?;
    let report = engine.query_blocking(read)?;
    engine.shutdown();
    let report = report.map_err(|error| anyhow::anyhow!("{error}"))?;
    if common.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", to_text(&report));
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("kanjo: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Rate(args) => {
            let stdout = std::io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            kanjo_rules::rate_files(&args.programme, &args.riders, &args.events, &mut out)
                .with_context(|| format!("rating {}", args.events.display()))?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate(args) => {
            let target = args.target();
            let applied = store::migrate(&target)
                .with_context(|| format!("migrating {}", describe(&target)))?;
            if applied.is_empty() {
                println!("{}: up to date", describe(&target));
            }
            for name in applied {
                println!("applied {name}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve(args) => serve(args),
        Command::Settle(args) => finance_cli::settle(args),
        Command::Payout(args) => finance_cli::payout(args),
        Command::Statement(args) => finance_cli::statement(args),
        Command::Import(args) => import(args),
        Command::Balance(args) => {
            let engine = args.engine.start_read_only()?;
            let Some(id) = api::account_id_from_text(&args.account) else {
                bail!(
                    "{:?} is neither an account name (rider:r-001:JPY) nor a 32-hex-digit id",
                    args.account
                );
            };
            let found =
                engine.query_blocking(move |machine: &Machine| api::account_json(machine, id))?;
            engine.shutdown();
            match found {
                Some(value) => {
                    println!("{}", serde_json::to_string_pretty(&value)?);
                    Ok(ExitCode::SUCCESS)
                }
                None => bail!("no account {}", args.account),
            }
        }
        Command::Report(ReportArgs {
            report: ReportKind::TrialBalance(common),
        }) => {
            let engine = common.engine.start_read_only()?;
            let balance: TrialBalance = engine.query_blocking(report::trial_balance)?;
            let replayed_seq = engine.committed_seq();
            engine.shutdown();
            let head = verify::head_at(&common.engine.store.target(), replayed_seq)?;
            if common.json {
                println!("{}", verify::json_with_head(&balance, &head)?);
            } else {
                print!("{}", balance.to_text());
                println!("{}", verify::head_line(&head));
            }
            Ok(if balance.balanced {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Report(ReportArgs {
            report: ReportKind::Operators(common),
        }) => print_report(
            &common,
            |machine| Ok::<_, Infallible>(report::operator_days(machine)),
            |days: &Vec<OperatorDay>| report::operators_to_text(days),
        ),
        Command::Report(ReportArgs {
            report: ReportKind::Passes(common),
        }) => print_report(
            &common,
            |machine| Ok::<_, Infallible>(kanjo_engine::machine::passes::passes_report(machine)),
            |passes| passes.to_text(),
        ),
        Command::Report(ReportArgs {
            report: ReportKind::Expiry(args),
        }) => {
            let (asset, days) = (args.asset.clone(), args.within_days);
            let from = args.from.unwrap_or_else(jiff::Timestamp::now);
            print_report(
                &args.common,
                move |machine| kanjo_core::expiry::expiry_report(machine, &asset, from, days),
                |report| report.to_text(),
            )
        }
        Command::Report(ReportArgs {
            report: ReportKind::Breakage(args),
        }) => {
            let asset = args.asset.clone();
            print_report(
                &args.common,
                move |machine| kanjo_core::breakage::breakage_report(machine, asset.as_deref()),
                |report| report.to_text(),
            )
        }
        Command::Report(ReportArgs {
            report: ReportKind::Shops(common),
        }) => print_report(
            &common,
            |machine| Ok::<_, Infallible>(report::shop_report(machine)),
            report::shops_to_text,
        ),
        Command::Reconcile(args) => reconcile(&args),
        Command::Demo(args) => kanjo_engine::demo::run(&args).map(|()| ExitCode::SUCCESS),
        Command::Qr(args) => qr_cli::run(args),
        Command::Programme(ProgrammeCommand::Diff { old, new }) => {
            let read = |path: &PathBuf| {
                kanjo_rules::ProgrammeSource::read(path)
                    .with_context(|| format!("reading {}", path.display()))
            };
            let (old_source, old_programme) = read(&old)?;
            let (new_source, new_programme) = read(&new)?;
            let diff = kanjo_rules::diff::ProgrammeDiff::of(
                (&old_source, &old_programme),
                (&new_source, &new_programme),
            );
            print!("{diff}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Programme(ProgrammeCommand::Apply(args)) if args.server.is_some() => {
            let server = args.server.as_deref().unwrap_or_default();
            let answer =
                kanjo_engine::programme_cli::apply_remote(server, &args.file, args.effective)
                    .with_context(|| format!("applying {} on {server}", args.file.display()))?;
            println!(
                "programme version {} ({}, digest {}) takes effect at {}",
                answer.version,
                args.file.display(),
                answer.digest,
                args.effective
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Programme(ProgrammeCommand::Apply(args)) => {
            let target = args.engine.store.target();
            let programme = args.engine.programme_path(&target)?;
            let config = kanjo_engine::pipeline::EngineConfig::new(target.clone(), programme);
            let number = kanjo_engine::programme_cli::apply(config, &args.file, args.effective)
                .with_context(|| format!("applying {}", args.file.display()))?;
            println!(
                "programme version {number} ({}) takes effect at {}",
                args.file.display(),
                args.effective
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys(args) => keys_cli::run(args).map(|()| ExitCode::SUCCESS),
        Command::Verify(args) => {
            let target = args.engine.store.target();
            let programme = args.engine.programme_path(&target)?;
            let verified =
                verify::run(&target, programme, args.expect_head, &mut std::io::stdout())?;
            Ok(match verified {
                Ok(_) => ExitCode::SUCCESS,
                Err(_) => ExitCode::from(verify::EXIT_LOG_DIFFERS),
            })
        }
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .context("installing the Prometheus recorder")?;
    let engine = args.engine.start_with(false, args.recovery_timeout_s)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("kanjo-http")
        .build()
        .context("starting the HTTP runtime")?;
    let mut state = ApiState::new(engine.clone(), Some(metrics));
    state.access.metrics_open = args.metrics_open;
    state.access.rate = match (
        std::num::NonZeroU32::new(args.rate_per_second),
        std::num::NonZeroU32::new(args.rate_burst),
    ) {
        (Some(per_second), Some(burst)) => Some(api::RateLimit { per_second, burst }),
        _ => bail!("--rate-per-second and --rate-burst must be at least 1"),
    };
    if engine.auth().keys_len() == 0 {
        eprintln!(
            "kanjo: warning: no API keys yet, so every /v1 request is refused (401). Stop kanjo \
             and make the first with: kanjo keys create --role town-admin (same --data or \
             --database-url)"
        );
    }
    // Checked before anything listens: a bad certificate or key is a startup error (status 1).
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(kanjo_engine::tls::server_config(cert, key)?),
        _ => None,
    };
    let router = api::router(state);
    let backend = engine.backend();
    let watched = engine.clone();
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        eprintln!(
            "kanjo: serving on {scheme}://{} ({backend} store)",
            listener.local_addr()?
        );
        if let Some(tls) = tls {
            return kanjo_engine::tls::serve(listener, tls, router, stop_serving(watched))
                .await
                .context("serving HTTPS");
        }
        axum::serve(listener, router)
            .with_graceful_shutdown(stop_serving(watched))
            .await
            .context("serving HTTP")
    })?;
    let outcome = engine.clone();
    engine.shutdown();
    let Some(failure) = outcome.failure() else {
        return Ok(ExitCode::SUCCESS);
    };
    let status = match failure.kind {
        FailureKind::Unreachable => EXIT_STORE_UNREACHABLE,
        FailureKind::Refused => EXIT_STORE_REFUSED,
    };
    eprintln!(
        "kanjo: exiting with status {status} so that a supervisor restarts kanjo: {}",
        failure.reason
    );
    Ok(ExitCode::from(status))
}

/// Stops the server on a signal, or once the engine failed (its pending requests were answered
/// 503 by then; axum still sends the answers in flight before it returns).
async fn stop_serving(engine: Engine) {
    tokio::select! {
        () = shutdown_signal() => engine.request_shutdown(),
        failure = engine.failed() => eprintln!(
            "kanjo: the store failed, no longer serving: {}",
            failure.reason
        ),
    }
}

/// SIGINT (a terminal) or SIGTERM (systemd, kill): stop taking requests, answer those in flight.
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    eprintln!("kanjo: shutting down: answering requests in flight, then committing what is queued");
}

fn import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let engine = args.engine.start()?;
    if let Some(path) = &args.riders {
        import_riders(&engine, path, args.answers)?;
    }
    let mut tally = Tally::default();
    if let Some(path) = &args.file {
        let file =
            std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let stdout = std::io::stdout();
        let mut out = BufWriter::new(stdout.lock());
        let mut batch = Vec::new();
        // Each line's answer in input order: `None` is the engine's next answer, `Some` a line
        // refused at parsing (only kept with --answers).
        let mut slots: Vec<Option<serde_json::Value>> = Vec::new();
        for (number, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line =
                line.with_context(|| format!("reading {} line {}", path.display(), number + 1))?;
            if line.trim().is_empty() {
                continue;
            }
            match kanjo_engine::event::Event::parse(&line) {
                Ok(event) => {
                    batch.push(event);
                    slots.push(None);
                }
                Err(error) => {
                    tally.rejected += 1;
                    let answer = serde_json::json!({"id": error.id, "status": "rejected", "error": {"code": kanjo_engine::event::EventError::CODE, "message": error.message}});
                    if args.answers {
                        slots.push(Some(answer));
                    } else {
                        eprintln!("{}:{}: {}", path.display(), number + 1, error.message);
                    }
                }
            }
            if batch.len() == SUBMISSION_EVENTS_MAX || slots.len() >= IMPORT_SLOTS_MAX {
                tally.submit(
                    &engine,
                    std::mem::take(&mut batch),
                    std::mem::take(&mut slots),
                    args.answers.then_some(&mut out as &mut dyn Write),
                )?;
            }
        }
        tally.submit(
            &engine,
            batch,
            slots,
            args.answers.then_some(&mut out as &mut dyn Write),
        )?;
        out.flush()?;
    }
    engine.shutdown();
    if !args.answers {
        println!(
            "imported: {} accepted, {} rejected",
            tally.accepted, tally.rejected
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Rider records, in chunks. With `--answers` one answer per record (NDJSON on stderr, in file
/// order, naming `ignored_fields`: stdout holds one answer per event, the contract of
/// spec/purchases.md); otherwise refusals and dropped field names go to stderr.
fn import_riders(engine: &Engine, path: &Path, answers: bool) -> anyhow::Result<()> {
    use kanjo_engine::riders::{accepted_answer, parse_riders, rejected_answer};
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let items = parse_riders(&text).map_err(anyhow::Error::msg)?;
    let stderr = std::io::stderr();
    let mut out = BufWriter::new(stderr.lock());
    for chunk in items.chunks(SUBMISSION_EVENTS_MAX) {
        let good: Vec<_> = chunk
            .iter()
            .filter_map(|item| item.as_ref().ok())
            .map(|checked| checked.clone().into_entry())
            .collect();
        let results = engine
            .submit_riders(good)?
            .blocking_recv()
            .context("the pipeline ended")??;
        let mut results = results.into_iter();
        for item in chunk {
            let answer = match item {
                Ok(checked) => match results.next().expect("one result per record submitted") {
                    Ok(()) => accepted_answer(&checked.record.rider, &checked.ignored_fields),
                    Err(message) => rejected_answer(Some(&checked.record.rider), &message),
                },
                Err((rider, message)) => rejected_answer(rider.as_deref(), message),
            };
            if answers {
                writeln!(out, "{answer}")?;
            } else if answer["status"] != "accepted" || answer.get("ignored_fields").is_some() {
                writeln!(out, "{}: rider {answer}", path.display())?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

/// Lines (events and refused lines) held for one submission at most, so a file of mostly
/// unparseable lines still prints in bounded memory.
const IMPORT_SLOTS_MAX: usize = 4 * SUBMISSION_EVENTS_MAX;

#[derive(Default)]
struct Tally {
    accepted: u64,
    rejected: u64,
}

impl Tally {
    /// Submits one batch, counts its answers, and prints them when asked to, in input order:
    /// `slots` has one `None` per event of `batch` and the parse refusals between them.
    fn submit(
        &mut self,
        engine: &Engine,
        batch: Vec<kanjo_engine::event::Event>,
        slots: Vec<Option<serde_json::Value>>,
        out: Option<&mut dyn Write>,
    ) -> anyhow::Result<()> {
        // Customer tokens are verified before the pipeline; a refused one is answered in its slot.
        let context = engine.answer_context();
        let checked = kanjo_engine::tokens::check_tokens_blocking(engine, batch)?;
        let mut checked = checked.into_iter();
        let mut batch = Vec::with_capacity(checked.len());
        let slots: Vec<Option<serde_json::Value>> = slots
            .into_iter()
            .map(|slot| match slot {
                Some(refused) => Some(refused),
                None => match checked.next().expect("one check per event") {
                    Ok(event) => {
                        batch.push(event);
                        None
                    }
                    Err(refused) => {
                        self.rejected += 1;
                        let outcome = Outcome::Rejected(refused.rejection);
                        Some(context.to_json(&refused.id, &outcome))
                    }
                },
            })
            .collect();
        let answers = if batch.is_empty() {
            Vec::new()
        } else {
            engine.submit(batch)?
        };
        for answer in &answers {
            if answer.outcome.is_accepted() {
                self.accepted += 1;
            } else {
                self.rejected += 1;
            }
        }
        let Some(out) = out else {
            return Ok(());
        };
        let context = engine.answer_context();
        let mut answers = answers.iter();
        for slot in slots {
            match slot {
                Some(refused) => writeln!(out, "{refused}")?,
                None => {
                    let answer = answers.next().expect("one answer per submitted event");
                    writeln!(out, "{}", context.to_json(&answer.id, &answer.outcome))?;
                }
            }
        }
        assert!(answers.next().is_none(), "every answer has its line");
        Ok(())
    }
}

fn reconcile(args: &ReconcileArgs) -> anyhow::Result<ExitCode> {
    use kanjo_engine::reconcile_cli::{self, EXIT_UNRECONCILED};
    let options = &args.options;
    let engine = args.engine.start()?;
    let result = reconcile_cli::reconcile_file(
        &engine,
        options.source,
        &options.file,
        options.period,
        options.id.clone(),
        jiff::Timestamp::now(),
    );
    engine.shutdown();
    let reconciled = result?;
    if options.json {
        let value = serde_json::json!({
            "run": reconciled.run,
            "exceptions": reconciled.comparison.exceptions,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print!("{}", reconcile_cli::to_text(&reconciled));
    }
    Ok(if reconciled.comparison.is_reconciled() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_UNRECONCILED)
    })
}
