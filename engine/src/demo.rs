//! `kanjo demo`: a morning in Muroran, end to end on the embedded store.
//!
//! It issues riders, generates the morning's taps and rides from the feed's real trips
//! (`stop_times.txt`), with top-ups for wallet riders, health-point grants, and an election
//! check-in with a duplicate and a second attempt at another station; runs everything through
//! the pipeline into a fresh SQLite store; and prints the operator report and the trial balance.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use jiff::civil::date;

use crate::answer::Outcome;
use crate::event::{Event, EventKind, Grant};
use crate::machine::Machine;
use crate::pipeline::{Engine, EngineConfig, SUBMISSION_EVENTS_MAX};
use crate::report;
use crate::riders::{CheckedRider, check_rider_value};
use crate::store::StoreTarget;
use crate::workload::{Commuter, CommuterConfig, Election, ElectionConfig, Timetable};

#[derive(clap::Args, Clone, Debug)]
pub struct DemoArgs {
    /// Embedded store directory; the demo empties it first.
    #[arg(long, default_value = "kanjo-data/demo")]
    pub data: PathBuf,
    /// The programme; the default is the repository's Muroran programme.
    #[arg(long)]
    pub programme: Option<PathBuf>,
    /// Multiplies the feed's vehicles and the rider pool.
    #[arg(long, default_value_t = 1)]
    pub scale: u32,
    /// Voters in the demo election.
    #[arg(long, default_value_t = 2_000)]
    pub voters: u64,
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

/// The repository's demo programme, found from the working directory or from this crate.
fn default_programme() -> PathBuf {
    let relative = Path::new("examples/muroran/programme.toml");
    if relative.exists() {
        return relative.to_path_buf();
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/muroran/programme.toml")
}

pub fn run(args: &DemoArgs) -> anyhow::Result<()> {
    let programme = args.programme.clone().unwrap_or_else(default_programme);
    if args.data.exists() {
        std::fs::remove_dir_all(&args.data)
            .with_context(|| format!("emptying {}", args.data.display()))?;
    }
    let started = Instant::now();
    println!(
        "kanjo demo: a weekday morning in 室蘭市 (Muroran), store {}",
        args.data.display()
    );
    let engine = Engine::start(EngineConfig::new(
        StoreTarget::Sqlite {
            data_dir: args.data.clone(),
        },
        &programme,
    ))
    .with_context(|| format!("starting kanjo with {}", programme.display()))?;

    let timetable = Arc::new(
        Timetable::load(&crate::workload::timetable::muroran_feed_dir(), "weekday")
            .context("loading the Muroran timetable (stop_times.txt)")?,
    );
    let mut commuter_config = CommuterConfig::new(args.seed, args.scale);
    commuter_config.id_prefix = "am-".into();
    let commuter = Commuter::new(commuter_config, timetable);
    let mut election_config = ElectionConfig::new(args.seed, args.voters, 12);
    election_config.id_prefix = "vote-".into();
    let election = Election::new(election_config);

    // 1. Riders: verified once with the My Number Card; kanjo keeps only pseudonymous ids and dated attributes.
    let riders: Vec<serde_json::Value> = commuter
        .riders()
        .chain(election.voters())
        .map(|record| serde_json::to_value(record).context("a generated rider record"))
        .collect::<anyhow::Result<_>>()?;
    let bar = progress(riders.len() as u64, "riders");
    for chunk in riders.chunks(SUBMISSION_EVENTS_MAX) {
        let records = chunk
            .iter()
            .map(|value| {
                check_rider_value(value)
                    .map(CheckedRider::into_entry)
                    .map_err(|(rider, message)| anyhow::anyhow!("rider {rider:?}: {message}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let results = engine
            .submit_riders(records)?
            .blocking_recv()
            .context("the pipeline ended")??;
        if let Some(error) = results.iter().find_map(|result| result.as_ref().err()) {
            bail!("a demo rider was refused: {error}");
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish();

    // 2. The morning: top-ups, taps paired into rides, rides; then health points and the election.
    let mut tally = Tally::default();
    let bar = progress(0, "taps, rides and top-ups");
    submit_stream(&engine, commuter.events(), &bar, &mut tally)?;
    bar.finish();
    let health_points = (0..commuter.rider_count()).step_by(7).map(|rider| Event {
        id: format!("health-{rider}"),
        at: jiff::Timestamp::from_second(1_795_654_800).expect("a fixed instant"), // 2026-11-26 10:00 JST
        kind: EventKind::Grant(Grant {
            rider: commuter.rider_id(rider),
            asset: "muro-pt".into(),
            amount_minor: 50,
            place: None,
        }),
    });
    let bar = progress(0, "health-point grants");
    submit_stream(&engine, health_points, &bar, &mut tally)?;
    bar.finish();
    let bar = progress(
        election.totals().events(),
        "election: ballots and check-ins",
    );
    submit_stream(&engine, election.events(), &bar, &mut tally)?;
    bar.finish();

    // 3. One voter, shown in full: the same check-in sent again, then an attempt at another station.
    election_walkthrough(&engine, &election)?;

    let elapsed = started.elapsed();
    println!(
        "\n{} events in {:.1} s: {} accepted, {} rejected ({} declined wallets, {} repeat check-ins refused)",
        tally.events,
        elapsed.as_secs_f64(),
        tally.accepted,
        tally.rejected,
        tally.insufficient_funds,
        tally.already_redeemed
    );

    let (days, balance, taps_waiting) = engine.query_blocking(|machine: &Machine| {
        (
            report::operator_days(machine),
            report::trial_balance(machine),
            machine.pending_taps(),
        )
    })?;
    println!(
        "\nOperator report (per operator and day; yen)\n{}",
        report::operators_to_text(&days)
    );
    println!("taps still waiting for their other half: {taps_waiting}");
    println!("\nTrial balance\n{}", balance.to_text());
    engine.shutdown();
    if !balance.balanced {
        bail!("the trial balance does not hold");
    }
    println!(
        "The store is in {}: try `kanjo report operators --data {}`.",
        args.data.display(),
        args.data.display()
    );
    Ok(())
}

fn progress(total: u64, what: &'static str) -> ProgressBar {
    let bar = if total == 0 {
        ProgressBar::new_spinner()
    } else {
        ProgressBar::new(total)
    };
    let style = if total == 0 {
        ProgressStyle::with_template("  {spinner} {msg}: {pos} events ({per_sec})")
    } else {
        ProgressStyle::with_template("  [{bar:40}] {pos}/{len} {msg} ({per_sec})")
    };
    if let Ok(style) = style {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what);
    bar
}

#[derive(Default)]
struct Tally {
    events: u64,
    accepted: u64,
    rejected: u64,
    insufficient_funds: u64,
    already_redeemed: u64,
}

fn submit_stream(
    engine: &Engine,
    events: impl Iterator<Item = Event>,
    bar: &ProgressBar,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    let mut batch = Vec::with_capacity(SUBMISSION_EVENTS_MAX);
    let mut events = events.peekable();
    while events.peek().is_some() {
        batch.extend(events.by_ref().take(SUBMISSION_EVENTS_MAX));
        let count = batch.len() as u64;
        for answer in engine.submit(std::mem::take(&mut batch))? {
            tally.events += 1;
            match &answer.outcome {
                Outcome::Rejected(rejection) => {
                    tally.rejected += 1;
                    match rejection.code.code() {
                        "insufficient_funds" => tally.insufficient_funds += 1,
                        "already_redeemed" => tally.already_redeemed += 1,
                        _ => {}
                    }
                }
                _ => tally.accepted += 1,
            }
        }
        bar.inc(count);
    }
    Ok(())
}

fn election_walkthrough(engine: &Engine, election: &Election) -> anyhow::Result<()> {
    let voter = (0..election.config().voters)
        .find(|voter| {
            matches!(
                election.fate(*voter),
                crate::workload::election::Fate::Abstains
            )
        })
        .context("the demo election has nobody voting on the day")?;
    let rider = election.voter_id(voter);
    let home = Election::station_name(election.home_station(voter));
    let elsewhere =
        Election::station_name((election.home_station(voter) + 1) % election.config().stations);
    let at = jiff::tz::offset(9)
        .to_timestamp(date(2026, 12, 13).at(19, 55, 0, 0))
        .context("a fixed local time")?;
    let check_in = |id: &str, place: &str| {
        Event::parse(
            &serde_json::json!({"id": id, "type": "redeem", "at": at.to_string(), "rider": rider, "asset": "ballot-2026", "place": place})
                .to_string(),
        )
    };
    let events = vec![
        check_in("walkthrough-1", &home).map_err(anyhow::Error::msg)?,
        check_in("walkthrough-1", &home).map_err(anyhow::Error::msg)?,
        check_in("walkthrough-2", &elsewhere).map_err(anyhow::Error::msg)?,
    ];
    let answers = engine.submit(events)?;
    let context = engine.answer_context();
    println!(
        "\nElection check-in of voter {rider} (who had not voted yet; the ballot was granted this morning):"
    );
    for (what, answer) in [
        "check-in at home station",
        "the same check-in again",
        "a second check-in elsewhere",
    ]
    .iter()
    .zip(&answers)
    {
        println!(
            "  {what:<30} → {}",
            context.to_json(&answer.id, &answer.outcome)
        );
    }
    Ok(())
}
