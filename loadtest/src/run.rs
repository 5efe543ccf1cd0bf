//! The flow of one `kanjo-load` run: kanjo first, then the naive baseline, on the same seeded
//! workload; setup (riders, ballots, early votes) is loaded but not measured; then the open-loop
//! measurement, the checks, the report and the summary.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use kanjo_core::event::Event;
use kanjo_core::machine::{DeviceKey, Machine};
use kanjo_core::shops::ShopSpec;
use kanjo_store::StoreTarget;
use kanjo_workload::election::Fate;
use kanjo_workload::timetable::muroran_feed_dir;
use kanjo_workload::{
    Commuter, CommuterConfig, Election, ElectionConfig, ElectionRole, RiderRecord, Timetable,
};
use tokio_postgres::NoTls;

use crate::baseline::{Baseline, DEFAULT_PG_URL, check_loopback};
use crate::checks::CheckReport;
use crate::driver::{self, Collected, LoadSpec, Source, StepResult, Verdict};
use crate::http::Http;
use crate::inproc::InProcess;
use crate::rating::Rater;
use crate::summary::{Summary, SystemRun};
use crate::target::{Answer, Target};

/// Each find-max step multiplies the rate by this.
const FIND_MAX_FACTOR: f64 = 2.0;
const KANJO_START_RATE_PER_S: f64 = 25_000.0;
/// A measured run never exceeds this, whatever the flags say: it stops by itself.
const RUN_DURATION_S_MAX: f64 = 3_600.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StoreKind {
    /// The embedded store (SQLite) in --data DIR or a temporary directory.
    Sqlite,
    /// PostgreSQL: --database-url, or a fresh database next to --pg-url.
    Postgres,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TargetKind {
    /// The engine's pipeline in this process.
    Inproc,
    /// A running `kanjo serve` on loopback (--url); checks read its store (--data or --database-url).
    Http,
}

#[derive(Args, Clone, Debug)]
pub struct CommonArgs {
    /// A version that runs in about a minute.
    #[arg(long)]
    pub quick: bool,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Drive kanjo open-loop at this rate (events/s). Without it, --find-max.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Step kanjo's rate up (×2 per step) until p99 passes --p99-bound-ms.
    #[arg(long)]
    pub find_max: bool,
    /// kanjo's first find-max rate.
    #[arg(long, default_value_t = KANJO_START_RATE_PER_S)]
    pub start_rate: f64,
    #[arg(long, default_value_t = 20.0)]
    pub p99_bound_ms: f64,
    /// Most events measured per system.
    #[arg(long)]
    pub max_events: Option<u64>,
    /// Length of a fixed-rate run, or of each find-max step.
    #[arg(long)]
    pub duration_s: Option<f64>,
    /// Events per batch (one HTTP request or one `submit`).
    #[arg(long, default_value_t = 1_000)]
    pub batch: usize,
    /// Parallel submitters to kanjo; events are spread over them by rider.
    #[arg(long, default_value_t = 4)]
    pub lanes: usize,
    #[arg(long, value_enum, default_value_t = TargetKind::Inproc)]
    pub target: TargetKind,
    /// The server for --target http, e.g. http://127.0.0.1:8080 (loopback only).
    #[arg(long)]
    pub url: Option<String>,
    #[arg(long, value_enum, default_value_t = StoreKind::Sqlite)]
    pub store: StoreKind,
    /// Data directory of the embedded store (default: a temporary one, removed after the run).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// kanjo's PostgreSQL store (loopback only); default with --store postgres: a fresh database.
    #[arg(long)]
    pub database_url: Option<String>,
    /// The programme (default: examples/muroran/programme.toml of this repository).
    #[arg(long)]
    pub programme: Option<PathBuf>,
    /// Where the baseline (and a fresh kanjo PostgreSQL store) create their databases.
    #[arg(long, default_value = DEFAULT_PG_URL)]
    pub pg_url: String,
    #[arg(long, default_value_t = 12)]
    pub baseline_connections: usize,
    /// The baseline's first find-max rate.
    #[arg(long, default_value_t = 250.0)]
    pub baseline_start_rate: f64,
    #[arg(long)]
    pub no_baseline: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Where the Markdown report and its SVG plots go.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/reports"))]
    pub report_dir: PathBuf,
    #[arg(long)]
    pub no_report: bool,
    /// Keep the databases and data directory the run created.
    #[arg(long)]
    pub keep: bool,
}

#[derive(Args, Clone, Debug)]
pub struct CommuterArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Multiplies vehicles (each weekday morning trip runs this many times) and riders.
    #[arg(long)]
    pub scale: Option<u32>,
}

#[derive(Args, Clone, Debug)]
pub struct ElectionArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Voters in the city (default 1 200 000, Kobe-sized; 100 000 with --quick).
    #[arg(long)]
    pub voters: Option<u64>,
    #[arg(long, default_value_t = 300)]
    pub stations: u32,
    /// kanjo's check-in rate for the compressed day (events/s), unless --find-max.
    #[arg(long, default_value_t = 100_000.0)]
    pub day_rate: f64,
}

/// How one system is measured.
pub(crate) struct Plan {
    find_max: bool,
    rate_per_s: f64,
    duration_s: f64,
    max_events: u64,
    lanes: usize,
}

impl CommonArgs {
    fn step_s(&self) -> f64 {
        self.duration_s
            .unwrap_or(if self.quick { 2.0 } else { 10.0 })
            .min(RUN_DURATION_S_MAX)
    }

    fn max_events(&self) -> u64 {
        self.max_events
            .unwrap_or(if self.quick { 6_000_000 } else { 100_000_000 })
    }

    fn programme(&self) -> PathBuf {
        self.programme.clone().unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../examples/muroran/programme.toml"
            ))
        })
    }

    pub(crate) fn kanjo_plan(&self, fixed_rate: Option<f64>) -> Plan {
        let rate = self.rate.or(fixed_rate);
        Plan {
            find_max: self.find_max || rate.is_none(),
            rate_per_s: if self.find_max {
                self.start_rate
            } else {
                rate.unwrap_or(self.start_rate)
            },
            duration_s: self.step_s(),
            max_events: self.max_events(),
            lanes: self.lanes,
        }
    }

    fn baseline_plan(&self) -> Plan {
        Plan {
            find_max: true,
            rate_per_s: self.baseline_start_rate,
            duration_s: self.step_s(),
            max_events: self.max_events(),
            lanes: self.baseline_connections,
        }
    }
}

/// A store made for this run and removed after it (unless --keep).
pub(crate) struct KanjoStore {
    target: StoreTarget,
    temporary_dir: Option<PathBuf>,
    temporary_db: Option<(tokio_postgres::Config, String)>,
    keep: bool,
}

impl KanjoStore {
    fn create(common: &CommonArgs) -> Result<KanjoStore> {
        let unique = format!(
            "{}_{}",
            std::process::id(),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        );
        match (common.store, &common.database_url) {
            (StoreKind::Sqlite, _) => {
                let (dir, temporary) = match &common.data {
                    Some(dir) => (dir.clone(), None),
                    None => {
                        let dir = std::env::temp_dir().join(format!("kanjo-load-{unique}"));
                        (dir.clone(), Some(dir))
                    }
                };
                Ok(KanjoStore {
                    target: StoreTarget::Sqlite { data_dir: dir },
                    temporary_dir: temporary,
                    temporary_db: None,
                    keep: common.keep,
                })
            }
            (StoreKind::Postgres, Some(url)) => Ok(KanjoStore {
                target: StoreTarget::Postgres { url: url.clone() },
                temporary_dir: None,
                temporary_db: None,
                keep: common.keep,
            }),
            (StoreKind::Postgres, None) => {
                let admin: tokio_postgres::Config =
                    common.pg_url.parse().context("parsing --pg-url")?;
                check_loopback(&admin)?;
                let dbname = format!("kanjo_load_store_{unique}");
                admin_sql(&admin, &format!("CREATE DATABASE {dbname}"))?;
                let mut url = common.pg_url.clone();
                let slash = url.rfind('/').context("--pg-url has no database path")?;
                url.truncate(slash + 1);
                url.push_str(&dbname);
                Ok(KanjoStore {
                    target: StoreTarget::Postgres { url },
                    temporary_dir: None,
                    temporary_db: Some((admin, dbname)),
                    keep: common.keep,
                })
            }
        }
    }
}

impl Drop for KanjoStore {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        if let Some(dir) = &self.temporary_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some((admin, dbname)) = &self.temporary_db
            && let Err(error) = admin_sql(
                admin,
                &format!("DROP DATABASE IF EXISTS {dbname} WITH (FORCE)"),
            )
        {
            eprintln!("kanjo-load: could not drop {dbname}: {error:#}");
        }
    }
}

fn admin_sql(admin: &tokio_postgres::Config, sql: &str) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let (client, connection) = admin
            .connect(NoTls)
            .await
            .context("connecting to PostgreSQL")?;
        let connection = tokio::spawn(connection);
        client
            .batch_execute(sql)
            .await
            .with_context(|| format!("running {sql}"))?;
        drop(client);
        let _ = connection.await;
        anyhow::Ok(())
    })
}

/// kanjo as driven in this run.
// One value per run: its size does not matter.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Kanjo {
    InProcess {
        system: Box<InProcess>,
        store: KanjoStore,
    },
    Http {
        system: Http,
        store: StoreTarget,
    },
}

impl Kanjo {
    /// `expected_events`: the run's events, so the in-process engine sizes its tables up front.
    pub(crate) fn start(common: &CommonArgs, expected_events: usize) -> Result<Kanjo> {
        match common.target {
            TargetKind::Inproc => {
                let store = KanjoStore::create(common)?;
                let system =
                    InProcess::start(store.target.clone(), &common.programme(), expected_events)?;
                Ok(Kanjo::InProcess {
                    system: Box::new(system),
                    store,
                })
            }
            TargetKind::Http => {
                let url = common
                    .url
                    .as_deref()
                    .context("--target http needs --url http://127.0.0.1:PORT")?;
                let store = match (&common.data, &common.database_url) {
                    (Some(dir), None) => StoreTarget::Sqlite {
                        data_dir: dir.clone(),
                    },
                    (None, Some(url)) => StoreTarget::Postgres { url: url.clone() },
                    _ => bail!(
                        "--target http needs the server's store for the checks: --data DIR or --database-url URL"
                    ),
                };
                Ok(Kanjo::Http {
                    system: Http::connect(url)?,
                    store,
                })
            }
        }
    }

    pub(crate) fn target(&self) -> &dyn Target {
        match self {
            Kanjo::InProcess { system, .. } => system.as_ref(),
            Kanjo::Http { system, .. } => system,
        }
    }

    pub(crate) fn register_shops(&self, shops: &[ShopSpec]) -> Result<()> {
        match self {
            Kanjo::InProcess { system, .. } => system.register_shops(shops),
            Kanjo::Http { .. } => bail!("registering shops over HTTP is not supported yet"),
        }
    }

    /// Reads the machine in process (before the checks shut it down).
    pub(crate) fn query<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Machine) -> T + Send + 'static,
    ) -> Result<T> {
        match self {
            Kanjo::InProcess { system, .. } => system.query(read),
            Kanjo::Http { .. } => bail!("reading the machine needs --target inproc"),
        }
    }

    pub(crate) fn register_keys(&self, keys: &[DeviceKey]) -> Result<()> {
        match self {
            Kanjo::InProcess { system, .. } => system.register_keys(keys),
            Kanjo::Http { .. } => bail!("registering device keys over HTTP is not supported yet"),
        }
    }

    pub(crate) fn register_riders(&self, riders: &[RiderRecord]) -> Result<()> {
        match self {
            Kanjo::InProcess { system, .. } => system.register_riders(riders),
            Kanjo::Http { system, .. } => system.register_riders(riders),
        }
    }

    /// The checks; over HTTP they replay the server's store in a second, read-only engine.
    pub(crate) fn check_and_shutdown(
        self,
        common: &CommonArgs,
        acknowledged: &[String],
        redeems: Vec<(String, String)>,
    ) -> Result<CheckReport> {
        match self {
            Kanjo::InProcess { system, store } => {
                let checks = system.check_and_shutdown(acknowledged, redeems);
                drop(store);
                checks
            }
            Kanjo::Http { system, store } => {
                drop(system);
                InProcess::start_read_only(store, &common.programme())?
                    .check_and_shutdown(acknowledged, redeems)
            }
        }
    }
}

/// Loads events as fast as the target takes them (setup: not part of the measurement).
pub(crate) fn setup(
    target: &dyn Target,
    events: &mut (dyn Iterator<Item = Event> + Send),
    lanes: usize,
    batch: usize,
    verdict: &Verdict<'_>,
    collected: &mut Collected,
) -> Result<u64> {
    let spec = LoadSpec {
        rate_per_s: f64::INFINITY,
        batch_events: batch,
        max_events: u64::MAX,
        duration_s: RUN_DURATION_S_MAX,
        lanes,
    };
    let mut source = Source::new(events);
    let step = driver::run_step(target, &mut source, &spec, verdict, collected)?;
    Ok(step.events)
}

pub(crate) fn measure(
    target: &dyn Target,
    events: &mut (dyn Iterator<Item = Event> + Send),
    plan: &Plan,
    common: &CommonArgs,
    verdict: &Verdict<'_>,
    collected: &mut Collected,
) -> Result<Vec<StepResult>> {
    let spec = LoadSpec {
        rate_per_s: plan.rate_per_s,
        batch_events: common.batch,
        max_events: plan.max_events,
        duration_s: plan.duration_s,
        lanes: plan.lanes,
    };
    let mut source = Source::new(events);
    if plan.find_max {
        driver::find_max(
            target,
            &mut source,
            &spec,
            FIND_MAX_FACTOR,
            common.p99_bound_ms,
            verdict,
            collected,
        )
    } else {
        Ok(vec![driver::run_step(
            target,
            &mut source,
            &spec,
            verdict,
            collected,
        )?])
    }
}

/// Folds the problems seen in answers into the store checks.
pub(crate) fn with_answer_checks(mut checks: CheckReport, collected: &Collected) -> CheckReport {
    checks.answers_as_expected = collected.problems.count == 0;
    if collected.problems.count > 0 {
        checks.problems.push(format!(
            "{} answers contradict the workload, e.g. {}",
            collected.problems.count,
            collected.problems.examples.join("; ")
        ));
    }
    checks
}

pub(crate) fn finish(
    scenario: &str,
    common: &CommonArgs,
    command: String,
    kanjo: SystemRun,
    baseline: Option<SystemRun>,
    notes: Vec<String>,
) -> Result<Summary> {
    let mut summary = Summary::new(scenario, command, &kanjo, baseline.as_ref());
    summary.notes = notes;
    if !common.no_report {
        let path = crate::report::write(&common.report_dir, &summary, &kanjo, baseline.as_ref())?;
        summary.report = Some(path.display().to_string());
    }
    Ok(summary)
}

pub fn run_commuter(args: &CommuterArgs, command: String) -> Result<Summary> {
    let common = &args.common;
    let scale = args.scale.unwrap_or(if common.quick { 60 } else { 300 });
    let timetable = Arc::new(
        Timetable::load(&muroran_feed_dir(), "weekday").context("loading the Muroran timetable")?,
    );
    let commuter = Commuter::new(CommuterConfig::new(common.seed, scale), timetable);
    let riders: Vec<RiderRecord> = commuter.riders().collect();
    let no_verdict = |_: &Event, _: &Answer| None;

    let kanjo = {
        // Tables grow on demand here: the morning's size is not known before it is generated.
        let system = Kanjo::start(common, 0)?;
        let setup_start = Instant::now();
        system.register_riders(&riders)?;
        let setup_s = setup_start.elapsed().as_secs_f64();
        let mut collected = Collected::default();
        let mut events = commuter.events();
        let steps = measure(
            system.target(),
            &mut events,
            &common.kanjo_plan(None),
            common,
            &no_verdict,
            &mut collected,
        )?;
        let (target, store_name) = (system.target().name(), system.target().store());
        let checks = system.check_and_shutdown(common, &collected.acknowledged_ids, Vec::new())?;
        SystemRun {
            target,
            store: store_name,
            setup_events: riders.len() as u64,
            setup_s,
            steps,
            checks: with_answer_checks(checks, &collected),
            p99_bound_ms: common.p99_bound_ms,
        }
    };

    let baseline = if common.no_baseline {
        None
    } else {
        let system = Baseline::create(
            &common.pg_url,
            common.baseline_connections,
            Arc::new(Rater::load(&common.programme())?),
            common.keep,
        )?;
        let setup_start = Instant::now();
        system.register_riders(&riders)?;
        let setup_s = setup_start.elapsed().as_secs_f64();
        let mut collected = Collected::default();
        let mut events = commuter.events();
        let steps = measure(
            &system,
            &mut events,
            &common.baseline_plan(),
            common,
            &no_verdict,
            &mut collected,
        )?;
        let checks = system.check(&collected.acknowledged_ids)?;
        Some(SystemRun {
            target: system.name(),
            store: system.store(),
            setup_events: riders.len() as u64,
            setup_s,
            steps,
            checks: with_answer_checks(checks, &collected),
            p99_bound_ms: common.p99_bound_ms,
        })
    };
    let notes = vec![
        format!(
            "Workload: Muroran weekday trips departing 05:00–12:00 × scale {scale} = {} vehicles, {} riders (seed {}).",
            commuter.vehicle_count(),
            commuter.rider_count(),
            common.seed
        ),
        "The generator and both systems share this machine's cores; generation runs one batch queue ahead.".to_owned(),
        "The baseline rates with kanjo-rules on the same programme (the same rating code as kanjo), reading each rider's record from its riders table; a missing tap-off is not charged there.".to_owned(),
    ];
    finish("commuter", common, command, kanjo, baseline, notes)
}

pub fn run_election(args: &ElectionArgs, command: String) -> Result<Summary> {
    let common = &args.common;
    let voters = args
        .voters
        .unwrap_or(if common.quick { 100_000 } else { 1_200_000 });
    let election = Election::new(ElectionConfig::new(common.seed, voters, args.stations));
    let totals = election.totals();
    let verdict = |event: &Event, answer: &Answer| -> Option<String> {
        match election.role_of(&event.id)? {
            ElectionRole::Retry if answer.accepted => Some(format!(
                "retry {} was accepted: a voter checked in twice",
                event.id
            )),
            ElectionRole::Retry if answer.code.as_deref() != Some("already_redeemed") => {
                Some(format!(
                    "retry {} rejected with {:?}, not already_redeemed",
                    event.id, answer.code
                ))
            }
            ElectionRole::Retry => None,
            _ if !answer.accepted => Some(format!("{} was rejected ({:?})", event.id, answer.code)),
            _ => None,
        }
    };
    let is_setup = |event: &Event| {
        matches!(
            election.role_of(&event.id),
            Some(ElectionRole::Grant | ElectionRole::EarlyVote)
        )
    };
    let redeems_of = |ids: &[String]| -> Vec<(String, String)> {
        ids.iter()
            .filter(|id| {
                matches!(
                    election.role_of(id),
                    Some(ElectionRole::EarlyVote | ElectionRole::CheckIn | ElectionRole::Retry)
                )
            })
            .filter_map(|id| {
                let voter: u64 = id
                    .get(election.config().id_prefix.len() + 1..)?
                    .parse()
                    .ok()?;
                Some((id.clone(), election.voter_id(voter)))
            })
            .collect()
    };
    let day_plan = |plan: Plan| Plan {
        // The whole day, compressed: bounded by the day's events, not by a step length.
        duration_s: if plan.find_max {
            plan.duration_s
        } else {
            common.duration_s.unwrap_or(RUN_DURATION_S_MAX)
        },
        max_events: plan.max_events.min(totals.check_ins + totals.retries),
        ..plan
    };

    let kanjo = {
        let system = Kanjo::start(
            common,
            usize::try_from(totals.events()).unwrap_or(usize::MAX),
        )?;
        let mut collected = Collected::default();
        let mut stream = election.events().peekable();
        let setup_start = Instant::now();
        let mut setup_events = std::iter::from_fn(|| stream.next_if(is_setup));
        let setup_count = setup(
            system.target(),
            &mut setup_events,
            common.lanes,
            common.batch,
            &verdict,
            &mut collected,
        )?;
        let setup_s = setup_start.elapsed().as_secs_f64();
        let plan = day_plan(common.kanjo_plan(Some(args.day_rate)));
        let steps = measure(
            system.target(),
            &mut stream,
            &plan,
            common,
            &verdict,
            &mut collected,
        )?;
        let (target, store_name) = (system.target().name(), system.target().store());
        let redeems = redeems_of(&collected.acknowledged_ids);
        let checks = system.check_and_shutdown(common, &collected.acknowledged_ids, redeems)?;
        SystemRun {
            target,
            store: store_name,
            setup_events: setup_count,
            setup_s,
            steps,
            checks: with_answer_checks(checks, &collected),
            p99_bound_ms: common.p99_bound_ms,
        }
    };

    let baseline = if common.no_baseline {
        None
    } else {
        let system = Baseline::create(
            &common.pg_url,
            common.baseline_connections,
            Arc::new(Rater::load(&common.programme())?),
            common.keep,
        )?;
        let mut collected = Collected::default();
        let setup_start = Instant::now();
        let mut stream = election.events().peekable();
        let mut grants = Vec::new();
        while let Some(event) =
            stream.next_if(|event| election.role_of(&event.id) == Some(ElectionRole::Grant))
        {
            grants.push(event);
        }
        let answers = system.bulk_grants(&grants)?;
        collected
            .acknowledged_ids
            .extend(answers.into_iter().map(|answer| answer.id));
        let mut early = std::iter::from_fn(|| stream.next_if(is_setup));
        let early_count = setup(
            &system,
            &mut early,
            common.baseline_connections,
            common.batch,
            &verdict,
            &mut collected,
        )?;
        let setup_s = setup_start.elapsed().as_secs_f64();
        let steps = measure(
            &system,
            &mut stream,
            &day_plan(common.baseline_plan()),
            common,
            &verdict,
            &mut collected,
        )?;
        let mut checks = system.check(&collected.acknowledged_ids)?;
        if checks.no_double_redemption && collected.problems.count > 0 {
            checks.no_double_redemption = !collected
                .problems
                .examples
                .iter()
                .any(|p| p.contains("checked in twice"));
        }
        Some(SystemRun {
            target: system.name(),
            store: system.store(),
            setup_events: grants.len() as u64 + early_count,
            setup_s,
            steps,
            checks: with_answer_checks(checks, &collected),
            p99_bound_ms: common.p99_bound_ms,
        })
    };
    let turnout = (0..voters.min(10_000))
        .filter(|&voter| election.fate(voter) != Fate::Abstains)
        .count();
    let notes = vec![
        format!(
            "Workload: {voters} voters at {} stations (seed {}): {} ballots granted and {} early votes loaded as setup; the polling day has {} check-ins and {} retries at another station, all of which must be rejected. Turnout in the first 10 000 voters: {turnout}.",
            args.stations, common.seed, totals.grants, totals.early_votes, totals.check_ins, totals.retries
        ),
        "The baseline's ballots are loaded in bulk (one transaction per 10 000); its early votes and polling day go one transaction per event.".to_owned(),
    ];
    finish("election", common, command, kanjo, baseline, notes)
}
